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
        // The decode is at least twice the largest output (Plan::shrink_margin = 2).
        ("800,400,100", 1),
        ("400,100", 2),
        ("200", 4),
        ("100", 8),
        ("1000", 1),
        ("100x100,cover", 4),
    ];
    for (spec, shrink) in cases {
        let r = imgcore::render(&bytes, &Plan::parse(spec).unwrap()).unwrap();
        assert_eq!(r.decode_shrink, shrink, "{spec}");
        let first = &r.renditions[0];
        let w: u32 = spec.split([',', 'x']).next().unwrap().parse().unwrap();
        assert_eq!(first.width, w, "{spec}");
    }
}

/// `small` (mozjpeg's trellis quantisation and scan optimisation) writes fewer bytes for
/// about the same fidelity to the lossless render at the same quality setting.
#[test]
fn small_jpeg_is_smaller_at_about_the_same_fidelity() {
    let bytes = photo_jpeg(1600, 1200, 95);
    let r = imgcore::render(
        &bytes,
        &Plan::parse("720,jpeg,q80,small;720,jpeg,q80;720,png").unwrap(),
    )
    .unwrap();
    let px = |i: usize| {
        image::load_from_memory(&r.renditions[i].bytes)
            .unwrap()
            .to_rgb8()
    };
    let (small, plain, reference) = (px(0), px(1), px(2));
    let (ps, pp) = (psnr(&small, &reference), psnr(&plain, &reference));
    let (bs, bp) = (r.renditions[0].size, r.renditions[1].size);
    eprintln!("small: {bs} B, {ps:.2} dB; plain: {bp} B, {pp:.2} dB");
    assert!((bs as f64) < bp as f64 * 0.95, "small {bs} B, plain {bp} B");
    assert!(ps > pp - 1.0, "small {ps:.2} dB, plain {pp:.2} dB");
    assert!(imgcore::probe(&r.renditions[0].bytes).unwrap().progressive);
    assert_eq!(r.renditions[0].spec, "720,jpeg,q80,small");
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
    for spec in ["200,png", "250,png", "450,png"] {
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
            p > 36.0,
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

#[test]
fn output_boxes_have_an_upper_bound() {
    for spec in ["99999x99999,exact", "70000", "x70000", "20000x20000,cover"] {
        let err = imgcore::Plan::parse(spec)
            .and_then(|p| imgcore::render(&fixture("photo.jpg"), &p).map(|_| ()))
            .unwrap_err();
        assert_eq!(err.kind(), imgcore::ErrorKind::InvalidSpec, "{spec}: {err}");
    }
}

#[test]
fn an_output_too_tall_for_webp_is_fitted_not_failed() {
    // A valid 1x65535 GIF: its WebP rendition cannot be 65535 tall.
    let mut gif = Vec::new();
    {
        let mut enc = gif::Encoder::new(&mut gif, 1, 65535, &[0, 0, 0, 255, 255, 255]).unwrap();
        let frame = gif::Frame {
            width: 1,
            height: 65535,
            buffer: std::borrow::Cow::Owned((0..65535u32).map(|i| (i % 2) as u8).collect()),
            ..gif::Frame::default()
        };
        enc.write_frame(&frame).unwrap();
    }
    let r = imgcore::render(&gif, &imgcore::Plan::parse("1600,webp;1600,png").unwrap()).unwrap();
    let webp = &r.renditions[0];
    assert_eq!((webp.width, webp.height), (1, 16383));
    assert!(webp.fitted_to_format);
    let png = &r.renditions[1];
    assert_eq!((png.width, png.height), (1, 65535));
    assert!(!png.fitted_to_format);
    let info = imgcore::probe(&webp.bytes).unwrap();
    assert_eq!((info.width, info.height), (1, 16383));
    let info = imgcore::Plan::parse("1600,webp").unwrap();
    let source = imgcore::probe(&gif).unwrap();
    assert_eq!(imgcore::output_size(&source, &info.outputs[0]), (1, 16383));
}

#[test]
fn the_shrink_rule_leaves_the_final_resample_room() {
    // The cases that were decoded too small: 2268 px to 256 px (decoded at 1/8: 284 px)
    // and 6000 px to 720 px (1/8: 750 px). Each axis of the decode must now be at least
    // twice the output.
    for (w, h, out) in [
        (2268u16, 1512u16, 256u32),
        (6000, 4000, 720),
        (2725, 2225, 720),
    ] {
        let jpeg = imgcore::synth::jpeg(w, h, 3, imgcore::synth::Layout::Interleaved);
        let r = imgcore::render(&jpeg, &imgcore::Plan::parse(&out.to_string()).unwrap()).unwrap();
        let d = u32::from(r.decode_shrink);
        assert!(
            u32::from(w).div_ceil(d) >= 2 * out,
            "{w}x{h} -> {out}: decoded at 1/{d}"
        );
        // ...and no larger than it needs to be.
        if d < 8 {
            assert!(
                u32::from(w).div_ceil(2 * d) < 2 * out,
                "{w} -> {out}: 1/{d} is too big"
            );
        }
    }
}
