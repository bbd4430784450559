//! Hostile input from `fixtures/bad/` (made by the fixture generator): every file ends in
//! renditions or the expected typed error, never a panic. Time and memory per file are
//! measured by `scripts/adversarial.sh`, not asserted here.

use super::generator;

use imgcore::{ErrorKind, Limits, Plan};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    Renders,
    Fails(ErrorKind),
}
use Outcome::*;

const CASES: &[(&str, Outcome)] = &[
    // Headers claiming at least 10^9 pixels: refused from the header, before any buffer.
    ("bomb-40000x30000.png", Fails(ErrorKind::LimitExceeded)),
    ("bomb-40000x30000.jpg", Fails(ErrorKind::LimitExceeded)),
    ("bomb-40000x30000.gif", Fails(ErrorKind::LimitExceeded)),
    ("bomb-40000x30000.bmp", Fails(ErrorKind::LimitExceeded)),
    ("bomb-40000x30000.tiff", Fails(ErrorKind::LimitExceeded)),
    (
        "bomb-40000x30000-vp8x.webp",
        Fails(ErrorKind::LimitExceeded),
    ),
    ("bomb-64250x64250.jpg", Fails(ErrorKind::LimitExceeded)),
    ("bomb-100000x100000.png", Fails(ErrorKind::LimitExceeded)),
    // 268 Mpx claimed by 38 bytes: inside the pixel limit, so the decoder runs and finds
    // the bitstream does not hold that image.
    ("bomb-16384x16384-vp8l.webp", Fails(ErrorKind::Corrupt)),
    // A genuine 4.3-gigapixel image is over the pixel limit too.
    (
        "blank-65535x65535-1bit.png",
        Fails(ErrorKind::LimitExceeded),
    ),
    // Chunk and zlib bombs.
    ("png-5000-text-chunks.png", Renders),
    ("png-iccp-zlib-bomb.png", Renders),
    ("png-ztxt-zlib-bomb.png", Renders),
    ("png-idat-zlib-bomb.png", Renders),
    ("png-chunk-claims-2gb.png", Fails(ErrorKind::Truncated)),
    // Hostile metadata is ignored; the pixels are fine.
    ("exif-ifd-loop.jpg", Renders),
    ("exif-64k-noise.jpg", Renders),
    ("icc-noise.jpg", Renders),
    ("icc-chunks-missing-and-repeated.jpg", Renders),
    ("png-iccp-noise.png", Renders),
    // Thousands of frames: over the default frame limit.
    ("frames-5000.gif", Fails(ErrorKind::LimitExceeded)),
    ("frames-3000.webp", Fails(ErrorKind::LimitExceeded)),
];

fn outcome(bytes: &[u8], plan: &Plan, what: &str) -> Outcome {
    match std::panic::catch_unwind(|| imgcore::render(bytes, plan)) {
        Err(_) => panic!("{what}: panicked"),
        Ok(Ok(r)) => {
            for x in &r.renditions {
                assert!(!x.bytes.is_empty(), "{what}");
                let back = image::load_from_memory(&x.bytes).expect("output decodes");
                assert_eq!((back.width(), back.height()), (x.width, x.height), "{what}");
            }
            Renders
        }
        Ok(Err(e)) => {
            assert!(!e.to_string().is_empty());
            Fails(e.kind())
        }
    }
}

fn plan() -> Plan {
    Plan::parse("200,jpeg;64x64,cover,png").unwrap()
}

#[test]
fn every_adversarial_fixture_ends_as_expected() {
    let plan = plan();
    for (name, expected) in CASES {
        let bytes = super::fixture(&format!("bad/{name}"));
        assert_eq!(outcome(&bytes, &plan, name), *expected, "{name}");
    }
}

#[test]
fn the_table_covers_every_generated_adversarial_fixture() {
    for (rel, _) in generator::adversarial() {
        let name = rel
            .strip_prefix("bad")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            CASES.iter().any(|(n, _)| *n == name),
            "{name} has no expected outcome"
        );
    }
}

#[test]
fn bombs_are_refused_for_their_pixel_count() {
    for name in CASES
        .iter()
        .map(|c| c.0)
        .filter(|n| n.starts_with("bomb-40000x30000"))
    {
        let e = imgcore::probe(&super::fixture(&format!("bad/{name}"))).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("pixels") && msg.contains("1200000000"),
            "{name}: {msg}"
        );
    }
}

#[test]
fn the_gigapixel_png_is_what_it_claims() {
    let bytes = super::fixture("bad/blank-65535x65535-1bit.png");
    let unlimited = imgcore::probe_with_limits(&bytes, &Limits::unlimited()).unwrap();
    assert_eq!((unlimited.width, unlimited.height), (65535, 65535));
    let e = imgcore::probe(&bytes).unwrap_err();
    assert!(e.to_string().contains("pixels"), "{e}");
}

#[test]
fn many_frames_render_their_first_frame_when_the_limit_allows() {
    let roomy = Limits {
        max_frames: 10_000,
        ..Limits::default()
    };
    for (name, frames) in [("frames-5000.gif", 5000), ("frames-3000.webp", 3000)] {
        let bytes = super::fixture(&format!("bad/{name}"));
        let info = imgcore::probe_with_limits(&bytes, &roomy).unwrap();
        assert_eq!(info.frames, frames, "{name}");
        let r = imgcore::render(&bytes, &plan().with_limits(roomy)).unwrap();
        assert_eq!(
            (r.renditions[0].width, r.renditions[0].height),
            (1, 1),
            "{name}"
        );
    }
}

#[test]
fn an_icc_zlib_bomb_is_dropped_and_the_image_renders() {
    // The profile inflates to 256 MB: past the cap, so it is cut out before decoding.
    let bytes = super::fixture("bad/png-iccp-zlib-bomb.png");
    let (info, peak) = super::peak_during(|| imgcore::probe(&bytes));
    let info = info.unwrap();
    // At most the 16.7 MB profile cap while checking it (546 MB when the PNG decoder was
    // left to inflate it).
    assert!(peak < 24 << 20, "probe held {peak} bytes at once");
    assert_eq!(info.icc_profile, None);
    assert_eq!((info.width, info.height), (16, 12));
    // Under a 64 MB decode budget: the PNG decoder, given the chunk, would refuse the
    // file (it inflates the profile whole); without it the image renders.
    let tight = Limits {
        max_decoded_bytes: 64 << 20,
        ..Limits::default()
    };
    let r = imgcore::render(&bytes, &plan().with_limits(tight)).unwrap();
    assert_eq!(r.renditions.len(), 2);
    // A profile that inflates within the cap is still read (and named).
    let ok = super::fixture("adobe-rgb-red.png");
    assert!(imgcore::probe(&ok).unwrap().icc_profile.is_some());
}

#[test]
fn hostile_exif_leaves_the_image_upright() {
    let bytes = super::fixture("bad/exif-ifd-loop.jpg");
    let info = imgcore::probe(&bytes).unwrap();
    assert_eq!(info.orientation, 1);
    assert_eq!((info.width, info.height), (24, 16));
}

#[test]
fn too_large_to_commit_cases_built_in_memory() {
    let plan = plan();
    // 16 MB of noise as an ICC profile in 255 APP2 segments: rendered, profile ignored.
    let icc = generator::jpeg_huge_icc();
    assert!(icc.len() > 16_000_000);
    assert_eq!(outcome(&icc, &plan, "icc-16mb-noise.jpg"), Renders);
    // 200,000 text chunks before the image data.
    let chunks = generator::png_many_chunks(200_000);
    assert_eq!(
        outcome(&chunks, &plan, "png-200000-text-chunks.png"),
        Renders
    );
}

#[test]
fn one_pixel_images_render_in_every_format() {
    for ext in ["jpg", "png", "gif", "bmp", "tiff", "webp"] {
        let bytes = super::fixture(&format!("one-pixel.{ext}"));
        for spec in [
            "200",
            "64x64,cover",
            "10x20,fill",
            "1,webp",
            "5x5,exact,avif",
        ] {
            let plan = Plan::parse(spec).unwrap();
            let r = imgcore::render(&bytes, &plan).unwrap_or_else(|e| panic!("{ext} {spec}: {e}"));
            let x = &r.renditions[0];
            assert!(x.width >= 1 && x.height >= 1, "{ext} {spec}");
            assert!(r.thumbhash.is_some(), "{ext} {spec}");
        }
    }
}

#[test]
fn a_file_whose_name_lies_is_read_by_its_bytes() {
    let bytes = super::fixture("jpeg-named-as.png");
    assert_eq!(
        imgcore::probe(&bytes).unwrap().format,
        imgcore::ImageFormat::Jpeg
    );
    let r = imgcore::render(&bytes, &Plan::parse("100").unwrap()).unwrap();
    assert_eq!(
        r.renditions[0].format,
        imgcore::ImageFormat::Jpeg,
        "format same as input"
    );
}

#[test]
fn zero_bytes_is_unsupported_not_a_crash() {
    let e = imgcore::render(&[], &plan()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    let e = imgcore::probe(&[]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
}

/// Inputs the fuzzer found (fixtures/fuzz/), each with what it showed.
#[test]
fn fuzz_findings_stay_fixed() {
    // A valid 22×106 lossy WebP: `32` keeps it 22 wide and 106 tall (no upscaling), which
    // the fuzz target's first size check wrongly refused; the engine was right.
    let bytes = super::fixture("fuzz/render-webp-22x106.webp");
    let plan = Plan::parse("64x64,cover,png;32,jpeg").unwrap();
    let r = imgcore::render(&bytes, &plan).unwrap();
    assert_eq!((r.source.width, r.source.height), (22, 106));
    let sizes: Vec<_> = r.renditions.iter().map(|x| (x.width, x.height)).collect();
    assert_eq!(sizes, [(22, 64), (22, 106)]);
    // A PNG whose PLTE is 28 bytes (9⅓ entries): png 0.18 panicked building its palette
    // table (caught, but a panic); the chunk walk in front of it calls the file corrupt.
    let bytes = super::fixture("fuzz/render-png-plte-28-bytes.png");
    let e = imgcore::render(&bytes, &plan).unwrap_err();
    assert_eq!(e.kind(), imgcore::ErrorKind::Corrupt, "{e}");
    assert!(e.to_string().contains("PLTE chunk is 28 bytes"), "{e}");
    // A 249-byte AVIF whose `hdlr` box claims 4 GB: mp4parse reserved that much before
    // reading; the box walk in front of it calls the file corrupt.
    if cfg!(feature = "avif") {
        let bytes = super::fixture("fuzz/render-avif-hdlr-4gb.avif");
        let e = imgcore::render(&bytes, &plan).unwrap_err();
        assert_eq!(e.kind(), imgcore::ErrorKind::Corrupt, "{e}");
    }
}

#[test]
fn a_png_signature_before_garbage_is_corrupt_not_a_huge_image() {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend((0..64u8).map(|i| i.wrapping_mul(97).wrapping_add(13)));
    let err = imgcore::probe(&bytes).unwrap_err();
    assert_eq!(err.kind(), imgcore::ErrorKind::Corrupt, "{err}");
    // A real IHDR with a broken CRC is corrupt too, whatever size it claims.
    let mut png = crate::fixture("rgba.png");
    png[29] ^= 0xFF;
    let err = imgcore::probe(&png).unwrap_err();
    assert_eq!(err.kind(), imgcore::ErrorKind::Corrupt, "{err}");
}
