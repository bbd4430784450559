//! Limits are checked from the header, before pixels are allocated.

use super::fixture;
use imgcore::{Error, ErrorKind, Limits, Plan};

fn plan_with(limits: Limits) -> Plan {
    Plan::parse("100").unwrap().with_limits(limits)
}

#[test]
fn jpeg_bomb_is_refused_with_its_numbers() {
    let bytes = fixture("bad/bomb-64250x64250.jpg");
    assert!(bytes.len() < 2048);
    match imgcore::render(&bytes, &Plan::parse("100").unwrap()) {
        Err(Error::LimitExceeded {
            what,
            actual,
            limit,
        }) => {
            assert_eq!(what, "pixels");
            assert_eq!(actual, 64250 * 64250);
            assert_eq!(limit, Limits::default().max_pixels);
        }
        other => panic!("expected a pixel limit error, got {other:?}"),
    }
}

#[test]
fn each_limit_is_enforced() {
    let photo = fixture("photo.jpg"); // 320x213
    let d = Limits::default();
    let cases = [
        (
            Limits {
                max_input_bytes: 1000,
                ..d
            },
            "input bytes",
        ),
        (
            Limits {
                max_width: 300,
                ..d
            },
            "width",
        ),
        (
            Limits {
                max_height: 200,
                ..d
            },
            "height",
        ),
        (
            Limits {
                max_pixels: 320 * 213 - 1,
                ..d
            },
            "pixels",
        ),
        (
            Limits {
                max_decoded_bytes: 1000,
                ..d
            },
            "decoded bytes",
        ),
    ];
    for (limits, want) in cases {
        match imgcore::render(&photo, &plan_with(limits)) {
            Err(Error::LimitExceeded { what, .. }) => assert_eq!(what, want),
            other => panic!("{want}: got {other:?}"),
        }
    }
    // At the limit is fine.
    let exact = Limits {
        max_width: 320,
        max_height: 213,
        max_pixels: 320 * 213,
        ..d
    };
    assert!(imgcore::render(&photo, &plan_with(exact)).is_ok());
}

#[test]
fn frame_limit_counts_gif_frames() {
    let gif = fixture("animated-3-frames.gif");
    assert_eq!(imgcore::probe(&gif).unwrap().frames, 3);
    let e = imgcore::render(
        &gif,
        &plan_with(Limits {
            max_frames: 2,
            ..Limits::default()
        }),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded);
    assert!(e.to_string().contains("frames is 3"), "{e}");
}

#[test]
fn shrink_on_load_makes_a_big_jpeg_fit_a_small_budget() {
    // 2400x1600 RGB needs 11.5 MB at full size; at 1/4 (twice the output) it needs 0.7 MB,
    // plus 0.4 MB for the output and the resizer's buffer.
    let big = super::photo_jpeg(2400, 1600, 80);
    let tight = Limits {
        max_decoded_bytes: 2 << 20,
        ..Limits::default()
    };
    let r = imgcore::render(&big, &Plan::parse("200").unwrap().with_limits(tight)).unwrap();
    assert_eq!(r.decode_shrink, 4);
    let mut no_shrink = Plan::parse("200").unwrap().with_limits(tight);
    no_shrink.shrink_on_load = false;
    assert_eq!(
        imgcore::render(&big, &no_shrink).unwrap_err().kind(),
        ErrorKind::LimitExceeded
    );
}

#[test]
fn png_bomb_header_is_refused_before_decoding() {
    let e = imgcore::probe(&fixture("bad/bomb-100000x100000.png")).unwrap_err();
    assert!(
        matches!(
            e,
            Error::LimitExceeded {
                what: "width",
                actual: 100_000,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn memory_is_estimated_from_the_header_alone_even_from_a_prefix() {
    let plan = Plan::parse("1600,800,200,webp").unwrap();
    // A file's first 4 KiB give the same estimate as the whole file for formats whose
    // header comes first.
    for name in [
        "photo.jpg",
        "progressive.jpg",
        "rgba.png",
        "interlaced.png",
        "lossy.webp",
        "lossless.webp",
        "rgb.bmp",
    ] {
        let bytes = crate::fixture(name);
        let whole = imgcore::estimate_memory(&bytes, &plan).unwrap();
        let prefix = imgcore::estimate_memory(&bytes[..bytes.len().min(4096)], &plan)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(whole, prefix, "{name}");
        assert!(whole.decode > 0 && whole.encode > 0, "{name}: {whole:?}");
    }
    // A GIF's frames are counted through the whole file: a prefix is not enough.
    let gif = crate::fixture("static.gif");
    assert!(imgcore::estimate_memory(&gif, &plan).is_ok());
    assert!(imgcore::estimate_memory(&gif[..gif.len() / 2], &plan).is_err());
    // Coefficient buffers of a progressive or multi-scan JPEG dominate: 128 bytes per block
    // and component, so a 6000x6000 three-component file needs at least 3 x 562,500 x 128.
    let interleaved = imgcore::synth::jpeg(6000, 6000, 3, imgcore::synth::Layout::Interleaved);
    let progressive = imgcore::synth::jpeg(6000, 6000, 3, imgcore::synth::Layout::Progressive);
    let a = imgcore::estimate_memory(&interleaved, &plan).unwrap();
    let b = imgcore::estimate_memory(&progressive, &plan).unwrap();
    assert_eq!(
        b.decode - a.decode,
        3 * 562_500 * 128,
        "interleaved {a:?} vs progressive {b:?}"
    );
    // The estimate is an upper bound of what render's own limit check accepts: an image
    // that render refuses is refused here too, before any pixel is decoded.
    let tight = plan.clone().with_limits(imgcore::Limits {
        max_decoded_bytes: b.decode - 1,
        ..Default::default()
    });
    assert_eq!(
        imgcore::estimate_memory(&progressive, &tight)
            .unwrap_err()
            .kind(),
        imgcore::ErrorKind::LimitExceeded
    );
    assert_eq!(
        imgcore::render(&progressive, &tight).unwrap_err().kind(),
        imgcore::ErrorKind::LimitExceeded
    );
    let fits = plan.with_limits(imgcore::Limits {
        max_decoded_bytes: b.decode,
        ..Default::default()
    });
    assert!(imgcore::render(&progressive, &fits).is_ok());
    // Bombs are refused from their header.
    for name in ["bad/bomb-64250x64250.jpg", "bad/bomb-40000x30000.png"] {
        let e = imgcore::estimate_memory(&crate::fixture(name), &Plan::default()).unwrap_err();
        assert_eq!(e.kind(), imgcore::ErrorKind::LimitExceeded, "{name}");
    }
}
