//! imgcore integration tests: one binary, topic modules, shared helpers.

mod adversarial;

/// The fixture generator (the `make_fixtures` example), shared by the tests that check it.
#[allow(dead_code)]
#[path = "../../examples/make_fixtures.rs"]
pub mod generator;

mod alpha_and_depth;
mod anim;
mod color;
mod fixtures;
mod geometry_props;
mod limits;
mod orientation;
mod outputs;
mod truncation;

use image::{DynamicImage, GenericImageView};
use std::path::{Path, PathBuf};

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

pub fn fixture(name: &str) -> Vec<u8> {
    let p = fixtures_dir().join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The good fixtures: every image file directly in `fixtures/`.
pub fn good_fixtures() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures/")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .filter(|(n, _)| !n.starts_with('.') && !n.ends_with(".md"))
        .collect();
    v.sort();
    assert!(
        v.len() >= 25,
        "expected the generated fixtures, found {}",
        v.len()
    );
    v
}

/// Render and decode the first rendition back to pixels.
pub fn render_one(bytes: &[u8], spec: &str) -> (imgcore::Rendered, DynamicImage) {
    let plan = imgcore::Plan::parse(spec).expect("spec");
    let r = imgcore::render(bytes, &plan).unwrap_or_else(|e| panic!("render {spec}: {e}"));
    let img = image::load_from_memory(&r.renditions[0].bytes).expect("decode output");
    (r, img)
}

pub fn rgb_at(img: &DynamicImage, x: u32, y: u32) -> [u8; 3] {
    let p = img.get_pixel(x, y).0;
    [p[0], p[1], p[2]]
}

pub fn close(a: [u8; 3], b: [u8; 3], tol: u8) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= tol)
}

/// A photo-like JPEG made on the fly, for tests that need a larger source.
pub fn photo_jpeg(w: u32, h: u32, quality: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let ripple = ((fx * 60.0).sin() * (fy * 45.0).cos() * 30.0) as i32;
        let c = |v: f32| (v as i32 + ripple).clamp(0, 255) as u8;
        image::Rgb([
            c(30.0 + 200.0 * fx),
            c(50.0 + 160.0 * fy),
            c(210.0 - 160.0 * fx * fy),
        ])
    });
    let mut c = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
    c.set_fastest_defaults();
    c.set_size(w as usize, h as usize);
    c.set_quality(f32::from(quality));
    let mut s = c.start_compress(Vec::new()).expect("jpeg");
    s.write_scanlines(img.as_raw()).expect("jpeg");
    s.finish().expect("jpeg")
}

/// Heap accounting for the calling thread, to show that hostile input stays within a
/// bounded allocation (a count of bytes, not a timing).
mod heap {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    struct Counting;

    thread_local! {
        static LIVE: Cell<isize> = const { Cell::new(0) };
        static PEAK: Cell<isize> = const { Cell::new(0) };
    }

    fn add(n: isize) {
        let _ = LIVE.try_with(|l| {
            let v = l.get() + n;
            l.set(v);
            let _ = PEAK.try_with(|p| p.set(p.get().max(v)));
        });
    }

    // SAFETY: every call is forwarded to the system allocator unchanged; the counters are
    // plain thread-local cells that never allocate.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            add(l.size() as isize);
            unsafe { System.alloc(l) }
        }
        unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
            add(l.size() as isize);
            unsafe { System.alloc_zeroed(l) }
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            add(-(l.size() as isize));
            unsafe { System.dealloc(p, l) }
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
            add(new as isize - l.size() as isize);
            unsafe { System.realloc(p, l, new) }
        }
    }

    #[global_allocator]
    static A: Counting = Counting;

    /// Run `f` and return its result with the most heap it held at once on this thread.
    pub fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
        let base = LIVE.with(Cell::get);
        PEAK.with(|p| p.set(base));
        let r = f();
        let peak = PEAK.with(Cell::get) - base;
        (r, peak.max(0) as usize)
    }
}
pub use heap::peak_during;
