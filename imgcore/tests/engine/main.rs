//! imgcore integration tests: one binary, topic modules, shared helpers.

mod alpha_and_depth;
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
