//! Output formats, many sizes from one decode, and shrink-on-load quality.

use super::{fixture, photo_jpeg};
use imgcore::{ImageFormat, Plan};

#[test]
fn each_format_writes_what_it_says() {
    let bytes = fixture("rgba.png");
    let r = imgcore::render(
        &bytes,
        &Plan::parse("60,jpeg,60,png,60,webp,60,webp,lossless,60,avif,speed10,60,same").unwrap(),
    )
    .unwrap();
    let formats: Vec<_> = r
        .renditions
        .iter()
        .map(|x| ImageFormat::sniff(&x.bytes))
        .collect();
    use ImageFormat::*;
    assert_eq!(
        formats,
        vec![
            Some(Jpeg),
            Some(Png),
            Some(WebP),
            Some(WebP),
            Some(Avif),
            Some(Png)
        ]
    );
    for x in &r.renditions {
        assert_eq!(x.size, x.bytes.len());
        assert_eq!(x.mime_type, x.format.mime_type());
        assert_eq!((x.width, x.height), (60, 45));
    }
}

#[test]
fn quality_changes_size() {
    let bytes = photo_jpeg(800, 600, 92);
    let r = imgcore::render(
        &bytes,
        &Plan::parse("400,jpeg,q30,400,jpeg,q90,400,webp,q30,400,webp,q90").unwrap(),
    )
    .unwrap();
    assert!(r.renditions[0].size < r.renditions[1].size);
    assert!(r.renditions[2].size < r.renditions[3].size);
}

#[test]
fn progressive_jpeg_output_is_progressive() {
    let r = imgcore::render(
        &fixture("photo.jpg"),
        &Plan::parse("100,jpeg,progressive,100,jpeg").unwrap(),
    )
    .unwrap();
    assert!(imgcore::probe(&r.renditions[0].bytes).unwrap().progressive);
    assert!(!imgcore::probe(&r.renditions[1].bytes).unwrap().progressive);
}

#[test]
fn many_sizes_from_one_decode_pick_the_dct_scale_of_the_largest() {
    let bytes = photo_jpeg(1600, 1200, 85);
    let cases = [
        ("800,400,100", 2),
        ("400,100", 4),
        ("200", 8),
        ("1000", 1),
        ("100x100,cover", 8),
    ];
    for (spec, shrink) in cases {
        let r = imgcore::render(&bytes, &Plan::parse(spec).unwrap()).unwrap();
        assert_eq!(r.decode_shrink, shrink, "{spec}");
        let first = &r.renditions[0];
        let w: u32 = spec.split([',', 'x']).next().unwrap().parse().unwrap();
        assert_eq!(first.width, w, "{spec}");
    }
}

fn psnr(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    let mse: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        / a.as_raw().len() as f64;
    10.0 * (255.0f64 * 255.0 / mse.max(1e-9)).log10()
}

#[test]
fn shrink_on_load_stays_close_to_a_full_decode() {
    let bytes = photo_jpeg(2000, 1500, 90);
    for spec in ["250,png", "500,png", "900,png"] {
        let fast = imgcore::render(&bytes, &Plan::parse(spec).unwrap()).unwrap();
        let mut full_plan = Plan::parse(spec).unwrap();
        full_plan.shrink_on_load = false;
        let full = imgcore::render(&bytes, &full_plan).unwrap();
        assert!(fast.decode_shrink > 1, "{spec}");
        assert_eq!(full.decode_shrink, 1);
        let a = image::load_from_memory(&fast.renditions[0].bytes)
            .unwrap()
            .to_rgb8();
        let b = image::load_from_memory(&full.renditions[0].bytes)
            .unwrap()
            .to_rgb8();
        let p = psnr(&a, &b);
        assert!(
            p > 32.0,
            "{spec}: PSNR {p:.1} dB between shrink-on-load and full decode"
        );
    }
}

#[test]
fn upscale_only_when_asked() {
    let bytes = fixture("gray.png"); // 40x30
    let r = imgcore::render(&bytes, &Plan::parse("100,png,100,png,upscale").unwrap()).unwrap();
    assert_eq!((r.renditions[0].width, r.renditions[0].height), (40, 30));
    assert_eq!((r.renditions[1].width, r.renditions[1].height), (100, 75));
}

#[test]
fn every_filter_runs() {
    let bytes = fixture("photo.jpg");
    for f in [
        "lanczos3",
        "catmullrom",
        "mitchell",
        "bilinear",
        "hamming",
        "box",
        "nearest",
    ] {
        let r = imgcore::render(&bytes, &Plan::parse(&format!("77,png,{f}")).unwrap()).unwrap();
        assert_eq!(r.renditions[0].width, 77, "{f}");
    }
}

#[test]
fn gif_renders_its_first_frame() {
    let (r, img) = super::render_one(&fixture("animated-3-frames.gif"), "orig,png");
    assert_eq!(r.source.frames, 3);
    let p = super::rgb_at(&img, 5, 5);
    assert_eq!(p, [255, 0, 0], "first frame is red");
}

#[test]
fn interlaced_png_decodes_to_the_same_picture() {
    let bytes = fixture("interlaced.png");
    let info = imgcore::probe(&bytes).unwrap();
    assert!(info.progressive, "Adam7 is reported as progressive storage");
    let (_, img) = super::render_one(&bytes, "orig,png");
    assert_eq!((img.width(), img.height()), (37, 23));
    let want = [
        ((5, 5), [255, 0, 0]),
        ((30, 5), [0, 255, 0]),
        ((5, 18), [0, 0, 255]),
        ((30, 18), [255, 255, 0]),
    ];
    for ((x, y), c) in want {
        assert_eq!(super::rgb_at(&img, x, y), c, "({x},{y})");
    }
}
