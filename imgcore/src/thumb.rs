//! Thumbhash, average colour and padding.

use crate::geometry::{Pad, Rect};
use crate::spec::Filter;
use base64::Engine;
use image::{DynamicImage, GenericImage, Rgba};

/// Base64 thumbhash and `#rrggbb` average colour of `img` (downscaled to at most 100×100
/// first: thumbhash's limit).
pub(crate) fn hash_and_average(img: &DynamicImage) -> (String, String) {
    let rgba = DynamicImage::ImageRgba8(img.to_rgba8());
    let (w, h) = (rgba.width(), rgba.height());
    let s = (100.0 / f64::from(w.max(h))).min(1.0);
    let (tw, th) = (
        ((f64::from(w) * s).round() as u32).clamp(1, 100),
        ((f64::from(h) * s).round() as u32).clamp(1, 100),
    );
    let small = crate::render::resize(
        &rgba,
        Rect {
            left: 0.0,
            top: 0.0,
            width: f64::from(w),
            height: f64::from(h),
        },
        tw,
        th,
        Filter::Box,
    )
    .unwrap_or(rgba);
    let px = small.as_bytes();
    let hash = thumbhash::rgba_to_thumb_hash(small.width() as usize, small.height() as usize, px);
    let (mut r, mut g, mut b, mut a) = (0u64, 0u64, 0u64, 0u64);
    for p in px.chunks_exact(4) {
        let al = u64::from(p[3]);
        r += u64::from(p[0]) * al;
        g += u64::from(p[1]) * al;
        b += u64::from(p[2]) * al;
        a += al;
    }
    let avg = |v: u64| (v + a / 2).checked_div(a).map_or(0, |x| x as u8);
    (
        base64::engine::general_purpose::STANDARD.encode(hash),
        format!("#{:02x}{:02x}{:02x}", avg(r), avg(g), avg(b)),
    )
}

/// Place `img` on a canvas (transparent when `alpha`, else white).
pub(crate) fn pad(img: &DynamicImage, p: Pad, alpha: bool) -> DynamicImage {
    let wide = matches!(
        img,
        DynamicImage::ImageLuma16(_)
            | DynamicImage::ImageLumaA16(_)
            | DynamicImage::ImageRgb16(_)
            | DynamicImage::ImageRgba16(_)
    );
    let mut canvas = match (alpha, wide) {
        (true, false) => DynamicImage::new_rgba8(p.canvas_width, p.canvas_height),
        (true, true) => DynamicImage::new_rgba16(p.canvas_width, p.canvas_height),
        (false, false) => DynamicImage::new_rgb8(p.canvas_width, p.canvas_height),
        (false, true) => DynamicImage::new_rgb16(p.canvas_width, p.canvas_height),
    };
    if !alpha {
        for y in 0..p.canvas_height {
            for x in 0..p.canvas_width {
                canvas.put_pixel(x, y, Rgba([255, 255, 255, 255]));
            }
        }
    }
    let src = match &canvas {
        DynamicImage::ImageRgba8(_) => DynamicImage::ImageRgba8(img.to_rgba8()),
        DynamicImage::ImageRgba16(_) => DynamicImage::ImageRgba16(img.to_rgba16()),
        DynamicImage::ImageRgb16(_) => DynamicImage::ImageRgb16(img.to_rgb16()),
        _ => DynamicImage::ImageRgb8(img.to_rgb8()),
    };
    // copy_from only fails when the image does not fit; geometry guarantees it does.
    let _ = canvas.copy_from(&src, p.left, p.top);
    canvas
}
