//! The committed fixtures are what the committed generator makes.

use super::generator;

#[test]
fn committed_fixtures_match_the_generator() {
    let dir = super::fixtures_dir();
    for (rel, bytes) in generator::all().into_iter().chain(generator::adversarial()) {
        let committed =
            std::fs::read(dir.join(&rel)).unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
        let lossless = matches!(
            rel.extension().and_then(|e| e.to_str()),
            Some("png" | "gif" | "tiff" | "bmp")
        ) || rel.starts_with("bad");
        if lossless {
            assert_eq!(
                committed,
                bytes,
                "{} differs from the generator's output",
                rel.display()
            );
        } else {
            // Lossy encoders may pick other SIMD paths on other CPUs: compare the header.
            assert_eq!(
                imgcore::probe(&committed)
                    .map(|i| (i.width, i.height, i.format))
                    .ok(),
                imgcore::probe(&bytes)
                    .map(|i| (i.width, i.height, i.format))
                    .ok(),
                "{}",
                rel.display()
            );
        }
    }
}

#[test]
fn every_good_fixture_renders_in_every_output_format() {
    for (name, bytes) in super::good_fixtures() {
        let info = imgcore::probe(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let plan = imgcore::Plan::parse("40;24x24,cover,png;16x16,exact,webp;20,jpeg,q70").unwrap();
        let r = imgcore::render(&bytes, &plan).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.renditions.len(), 4, "{name}");
        assert_eq!(r.source, info, "{name}: render and probe disagree");
        for rend in &r.renditions {
            let out = imgcore::probe(&rend.bytes)
                .unwrap_or_else(|e| panic!("{name} -> {}: {e}", rend.spec));
            assert_eq!(out.format, rend.format, "{name}");
            assert_eq!(
                (out.width, out.height),
                (rend.width, rend.height),
                "{name} {}",
                rend.spec
            );
            assert_eq!(out.orientation, 1, "{name}: outputs carry no orientation");
            assert!(rend.width <= 40 && rend.height <= 40);
        }
        assert_eq!(
            (r.renditions[1].width, r.renditions[1].height),
            (24.min(info.width), 24.min(info.height)),
            "{name}"
        );
        assert_eq!(
            (r.renditions[2].width, r.renditions[2].height),
            (16, 16),
            "{name}: exact pads to the box"
        );
        assert!(r.thumbhash.is_some() && r.average_color.is_some(), "{name}");
    }
}

#[test]
fn bad_fixtures_fail_with_the_right_kind() {
    use imgcore::ErrorKind::*;
    let cases = [
        ("bad/truncated.jpg", Truncated),
        ("bad/truncated.png", Truncated),
        ("bad/empty.jpg", Unsupported),
        ("bad/not-an-image.jpg", Unsupported),
        // An ftyp box naming HEIC and nothing after it: known by its bytes (not its name),
        // then a container without a meta box.
        (
            "bad/heic-renamed.jpg",
            if cfg!(feature = "heic") {
                Corrupt
            } else {
                Unsupported
            },
        ),
        // A 2x2 grid AVIF whose `dimg` lists three tiles.
        (
            "bad/avif-grid-missing-tile.avif",
            if cfg!(feature = "avif") {
                Corrupt
            } else {
                Unsupported
            },
        ),
        ("bad/bomb-64250x64250.jpg", LimitExceeded),
        ("bad/bomb-100000x100000.png", LimitExceeded),
    ];
    let plan = imgcore::Plan::parse("100").unwrap();
    for (name, kind) in cases {
        let e = imgcore::render(&super::fixture(name), &plan).expect_err(name);
        assert_eq!(e.kind(), kind, "{name}: {e}");
        assert!(!e.to_string().is_empty());
    }
}

/// The 2x2 grid AVIF (tiles red, green, blue, white; 64 px tiles cropped to 120x100) is
/// assembled in raster order, whole and tile by tile reduced.
#[cfg(feature = "avif")]
#[test]
fn a_grid_avif_is_assembled_from_its_tiles() {
    let bytes = super::fixture("avif-grid-2x2.avif");
    let info = imgcore::probe(&bytes).unwrap();
    assert_eq!((info.width, info.height), (120, 100));
    let quadrants = [
        ([230, 40, 40], (0.25, 0.3)),
        ([40, 200, 60], (0.8, 0.3)),
        ([40, 60, 220], (0.25, 0.85)),
        ([245, 245, 245], (0.8, 0.85)),
    ];
    // Whole (the output is the image's size, or shrink-on-load off) and reduced (a 12 px
    // output: tiles decoded one at a time and box-filtered by 2).
    for (spec, shrink_on_load) in [
        ("120x100,exact,png", true),
        ("12,png", true),
        ("12,png", false),
    ] {
        let plan = imgcore::Plan {
            shrink_on_load,
            ..imgcore::Plan::parse(spec).unwrap()
        };
        let r = imgcore::render(&bytes, &plan).unwrap();
        let img = image::load_from_memory(&r.renditions[0].bytes).unwrap();
        let (w, h) = (r.renditions[0].width, r.renditions[0].height);
        assert_eq!(
            (w, h),
            if spec.starts_with("120") {
                (120, 100)
            } else {
                (12, 10)
            }
        );
        // The reduced path is the one taken for the small output with shrink-on-load on.
        let reduced = shrink_on_load && w == 12;
        assert_eq!(r.decode_shrink, if reduced { 2 } else { 1 }, "{spec}");
        for (colour, (fx, fy)) in quadrants {
            let (x, y) = ((fx * w as f32) as u32, (fy * h as f32) as u32);
            let got = super::rgb_at(&img, x, y);
            assert!(
                super::close(got, colour, 12),
                "{spec} (shrink-on-load {shrink_on_load}) at ({x}, {y}): {got:?} vs {colour:?}"
            );
        }
    }
}
