//! The memory rule, measured on the real binary: one render's peak RSS stays under
//! `--max-memory` + the input's size + a fixed overhead, for every decoder mode that
//! buffers a whole image; what would need more is refused from the header.

use imgcore::synth::{jpeg, Layout};
use std::path::Path;
use std::process::{Command, Stdio};

/// The fixed part of the rule: the binary, its libraries, thread stacks, allocator slack
/// and the encoders' state for thumbnail-sized outputs. Measured at 20-40 MB (README,
/// "Memory"); the bound checked leaves room for allocator variation between machines.
const OVERHEAD: u64 = 64 << 20;

struct Run {
    code: i32,
    /// The input's error message, when it failed.
    error: String,
    peak_rss: u64,
}

/// Run `imgtool resize … --json` and read its peak RSS from its own report (`VmHWM`, the
/// kernel's high-water mark of the process's memory): a measurement, not a timer.
/// (`wait4`'s `ru_maxrss` would not do: Linux carries the spawning test process's peak
/// across `exec` into it.)
fn resize(input: &Path, out: &Path, extra: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_imgtool"))
        .arg("resize")
        .arg(input)
        .arg("--out")
        .arg(out)
        .args(["--width", "200", "--format", "jpeg", "--quiet", "--json"])
        .args(extra)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    Run {
        code: output.status.code().unwrap_or(-1),
        error: report["inputs"][0]["error"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        peak_rss: report["summary"]["peak_rss_bytes"]
            .as_u64()
            .expect("peak_rss_bytes"),
    }
}

const MIB: u64 = 1 << 20;

/// `bytes` written as `name` in a fresh temporary folder (kept alive by the guard).
fn input_file(name: &str, bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join(name);
    std::fs::write(&input, bytes).unwrap();
    (dir, input)
}

/// The run was refused for `cause` before anything image-sized existed: its peak RSS is
/// within the input and the fixed overhead.
fn refused_from_the_header(what: &str, run: &Run, cause: &str, input_len: usize) {
    assert_eq!(run.code, 1, "{what}: {}", run.error);
    assert!(
        run.error.contains(cause),
        "{what}: refused for the wrong reason: {}",
        run.error
    );
    assert!(
        run.peak_rss <= input_len as u64 + OVERHEAD,
        "{what}: refusing took {} MiB",
        run.peak_rss / MIB
    );
}

/// A mode rendered within `--max-memory`, and refused with a limit below its need.
fn within_bound(name: &str, bytes: &[u8], max_memory_mib: u64, too_small_mib: u64) {
    let (dir, input) = input_file(name, bytes);
    let out = dir.path().join("out");
    let max = format!("{max_memory_mib}M");
    let run = resize(&input, &out, &["--max-memory", &max]);
    assert_eq!(run.code, 0, "{name}: {}", run.error);
    let bound = max_memory_mib * MIB + bytes.len() as u64 + OVERHEAD;
    assert!(
        run.peak_rss <= bound,
        "{name}: peak RSS {} MiB is over the bound {} MiB",
        run.peak_rss / MIB,
        bound / MIB
    );
    eprintln!(
        "{name}: peak RSS {:.1} MiB with --max-memory {max}",
        run.peak_rss as f64 / MIB as f64
    );
    let small = format!("{too_small_mib}M");
    let run = resize(&input, &out, &["--max-memory", &small, "--force"]);
    refused_from_the_header(name, &run, "decoded bytes", bytes.len());
}

#[test]
fn huge_jpegs_that_buffer_coefficients_are_refused_from_the_header() {
    // 17000x17000, three components: 3.4 MB on disk, 1.73 GB of coefficients in libjpeg.
    for layout in [Layout::NonInterleaved, Layout::Progressive] {
        let bytes = jpeg(17000, 17000, 3, layout);
        let (dir, input) = input_file("huge.jpg", &bytes);
        let run = resize(&input, &dir.path().join("out"), &[]);
        let what = format!("{layout:?}");
        refused_from_the_header(&what, &run, "limits: decoded bytes", bytes.len());
    }
}

#[test]
fn the_same_frame_in_one_interleaved_scan_decodes_in_a_few_megabytes() {
    let bytes = jpeg(17000, 17000, 3, Layout::Interleaved);
    let (dir, input) = input_file("interleaved.jpg", &bytes);
    let run = resize(&input, &dir.path().join("out"), &["--max-memory", "64M"]);
    assert_eq!(run.code, 0, "{}", run.error);
    eprintln!(
        "interleaved.jpg: peak RSS {:.1} MiB with --max-memory 64M",
        run.peak_rss as f64 / MIB as f64
    );
    assert!(
        run.peak_rss <= 64 * MIB + bytes.len() as u64 + OVERHEAD,
        "peak RSS {} MiB",
        run.peak_rss / MIB
    );
}

#[test]
fn non_interleaved_baseline_jpeg_stays_within_the_bound() {
    // 6000x6000: 211 MiB of coefficients, 3 MiB of pixels at 1/8.
    within_bound(
        "non-interleaved.jpg",
        &jpeg(6000, 6000, 3, Layout::NonInterleaved),
        256,
        128,
    );
}

#[test]
fn progressive_jpeg_stays_within_the_bound() {
    within_bound(
        "progressive.jpg",
        &jpeg(6000, 6000, 3, Layout::Progressive),
        256,
        128,
    );
}

fn encoded(img: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn noise_rgb(w: u32, h: u32) -> image::DynamicImage {
    // Smooth gradients: cheap to compress, not constant (so no decoder shortcut applies).
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 239) as u8])
    }))
}

#[test]
fn interlaced_and_plain_png_stay_within_the_bound() {
    // 8000x6000 RGB: 137 MiB decoded.
    let png = encoded(noise_rgb(8000, 6000), image::ImageFormat::Png);
    within_bound("big.png", &png, 192, 96);
    let interlaced = imgcore::synth::interlaced_png(8000, 6000, |x, y| {
        [(x % 251) as u8, (y % 241) as u8, ((x + y) % 239) as u8]
    });
    within_bound("big-interlaced.png", &interlaced, 320, 192);
}

#[test]
fn gif_canvas_and_frame_stay_within_the_bound() {
    // 6000x4000: 92 MiB RGBA canvas plus the frame the decoder composes from.
    let (w, h) = (6000u16, 4000u16);
    let palette: Vec<u8> = (0..=255u8).flat_map(|i| [i, 255 - i, i / 2]).collect();
    let mut gif = Vec::new();
    {
        let mut enc = gif::Encoder::new(&mut gif, w, h, &palette).unwrap();
        let pixels: Vec<u8> = (0..u32::from(h))
            .flat_map(|y| (0..u32::from(w)).map(move |x| ((x / 16 + y / 16) % 256) as u8))
            .collect();
        let frame = gif::Frame {
            width: w,
            height: h,
            buffer: std::borrow::Cow::Owned(pixels),
            ..gif::Frame::default()
        };
        enc.write_frame(&frame).unwrap();
    }
    within_bound("big.gif", &gif, 256, 96);
}

#[test]
fn webp_stays_within_the_bound() {
    // 8000x6000 lossless RGB: 137 MiB decoded, 183 MiB of ARGB in the decoder.
    let webp = encoded(noise_rgb(8000, 6000), image::ImageFormat::WebP);
    within_bound("big.webp", &webp, 384, 192);
}

#[test]
fn tiff_strips_stay_within_the_bound() {
    // 4000x3000 RGB, uncompressed strips: 34 MiB decoded, as much again in the decoder
    // (and 34 MB of input).
    let tiff = encoded(noise_rgb(4000, 3000), image::ImageFormat::Tiff);
    within_bound("big.tiff", &tiff, 96, 48);
}

#[test]
fn tiled_tiff_stays_within_the_bound() {
    // 4000x3000 RGB in 256x256 uncompressed tiles: 34 MiB decoded (and 37 MB of input).
    let tiff = imgcore::synth::tiled_tiff(4000, 3000, 256, |x, y| {
        [(x % 251) as u8, (y % 241) as u8, ((x + y) % 239) as u8]
    });
    within_bound("tiled.tiff", &tiff, 96, 48);
}

#[test]
fn sixteen_bit_png_stays_within_the_bound() {
    // 6000x4000 RGB, 16 bits a sample: 137 MiB decoded.
    let img = image::DynamicImage::ImageRgb16(image::ImageBuffer::from_fn(6000, 4000, |x, y| {
        image::Rgb([(x * 11) as u16, (y * 13) as u16, ((x + y) * 7) as u16])
    }));
    within_bound(
        "big-16bit.png",
        &encoded(img, image::ImageFormat::Png),
        192,
        96,
    );
}

#[test]
fn animated_gif_renders_its_first_frame_within_the_bound() {
    // Three 4000x3000 frames: the first is decoded (46 MiB canvas + its frame).
    let (w, h) = (4000u16, 3000u16);
    let palette: Vec<u8> = (0..=255u8).flat_map(|i| [i, i / 2, 255 - i]).collect();
    let mut gif = Vec::new();
    {
        let mut enc = gif::Encoder::new(&mut gif, w, h, &palette).unwrap();
        for k in 0..3u32 {
            let pixels: Vec<u8> = (0..u32::from(h))
                .flat_map(|y| (0..u32::from(w)).map(move |x| ((x / 8 + y / 8 + k) % 256) as u8))
                .collect();
            let frame = gif::Frame {
                width: w,
                height: h,
                buffer: std::borrow::Cow::Owned(pixels),
                ..gif::Frame::default()
            };
            enc.write_frame(&frame).unwrap();
        }
    }
    within_bound("animated.gif", &gif, 160, 64);
}
