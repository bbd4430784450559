//! Alpha is premultiplied while resampling; 16-bit sources keep their precision.

use super::{fixture, render_one};
use image::GenericImageView;

fn dark_fringe_pixels(img: &image::RgbaImage) -> usize {
    img.pixels()
        .filter(|p| p.0[3] >= 32 && (p.0[0] < 235 || p.0[1] > 20 || p.0[2] > 20))
        .count()
}

#[test]
fn red_on_transparent_black_keeps_no_dark_edges() {
    let bytes = fixture("alpha-premultiplied-edge.png");
    for spec in [
        "23,png",
        "37,webp,lossless",
        "10,png,mitchell",
        "50x20,fill,png",
    ] {
        let (_, img) = render_one(&bytes, spec);
        let rgba = img.to_rgba8();
        assert!(
            rgba.pixels().any(|p| p.0[3] > 0 && p.0[3] < 255),
            "{spec}: expected partial alpha"
        );
        assert_eq!(dark_fringe_pixels(&rgba), 0, "{spec}: dark fringe");
    }
}

#[test]
fn the_fringe_check_catches_a_resize_without_premultiplication() {
    // The same fixture resized with alpha ignored must show the fringe, or the test above
    // proves nothing.
    use fast_image_resize as fr;
    let src = image::load_from_memory(&fixture("alpha-premultiplied-edge.png")).unwrap();
    let mut dst = image::DynamicImage::new_rgba8(23, 23);
    fr::Resizer::new()
        .resize(&src, &mut dst, &fr::ResizeOptions::new().use_alpha(false))
        .unwrap();
    assert!(dark_fringe_pixels(&dst.to_rgba8()) > 0);
}

#[test]
fn sixteen_bit_gradient_stays_sixteen_bit_without_banding() {
    let bytes = fixture("gray-16bit.png");
    let (r, img) = render_one(&bytes, "300,png");
    assert_eq!(
        imgcore::probe(&r.renditions[0].bytes).unwrap().bit_depth,
        16
    );
    let g = img.to_luma16();
    let mut levels: Vec<u16> = (0..g.width()).map(|x| g.get_pixel(x, 4).0[0]).collect();
    // Monotonic (no banding steps backwards) and far more than 256 levels.
    assert!(levels.windows(2).all(|w| w[1] >= w[0]), "not monotonic");
    levels.dedup();
    assert!(levels.len() > 280, "only {} distinct levels", levels.len());
}

#[test]
fn sixteen_bit_to_jpeg_is_eight_bit() {
    let (r, img) = render_one(&fixture("rgba-16bit.png"), "32,jpeg");
    assert_eq!(imgcore::probe(&r.renditions[0].bytes).unwrap().bit_depth, 8);
    assert_eq!(img.dimensions(), (32, 24));
}

#[test]
fn jpeg_output_of_transparent_input_is_flattened_on_white() {
    let (_, img) = render_one(&fixture("palette-trns.png"), "orig,jpeg,q95");
    // The last palette entry (columns 24..32) is fully transparent: it must come out white.
    let p = img.get_pixel(28, 16).0;
    assert!(p[0] > 240 && p[1] > 240 && p[2] > 240, "{p:?}");
}
