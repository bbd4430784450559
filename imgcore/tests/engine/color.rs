//! CMYK JPEGs and embedded ICC profiles end up as the right sRGB colours.

use super::{close, fixture, render_one, rgb_at};

#[test]
fn adobe_cmyk_jpeg_has_the_right_colours() {
    let bytes = fixture("cmyk-adobe.jpg");
    assert_eq!(
        imgcore::probe(&bytes).unwrap().color_model,
        imgcore::ColorModel::Cmyk
    );
    let (_, img) = render_one(&bytes, "orig,png");
    for ((x, y), want) in [
        ((8, 8), [255, 0, 0]),
        ((24, 8), [0, 255, 0]),
        ((8, 24), [0, 0, 255]),
        ((24, 24), [255, 255, 255]),
    ] {
        let got = rgb_at(&img, x, y);
        assert!(
            close(got, want, 12),
            "({x},{y}): {got:?}, want {want:?} (inverted CMYK?)"
        );
    }
}

#[test]
fn display_p3_and_adobe_rgb_are_converted_to_srgb() {
    for name in ["display-p3-red.jpg", "adobe-rgb-red.png"] {
        let bytes = fixture(name);
        assert!(
            imgcore::probe(&bytes).unwrap().icc_profile.is_some(),
            "{name}"
        );
        let (r, img) = render_one(&bytes, "16,png");
        let got = rgb_at(&img, 8, 8);
        assert!(
            close(got, [255, 0, 0], 10),
            "{name}: {got:?} should be sRGB red"
        );
        assert_eq!(
            imgcore::probe(&r.renditions[0].bytes).unwrap().icc_profile,
            None
        );
    }
}

#[test]
fn outputs_carry_no_profile_unless_kept() {
    let bytes = fixture("display-p3-red.jpg");
    let plan = imgcore::Plan::parse("16,jpeg,16,jpeg,keep").unwrap();
    let r = imgcore::render(&bytes, &plan).unwrap();
    let plain = imgcore::probe(&r.renditions[0].bytes).unwrap();
    let kept = imgcore::probe(&r.renditions[1].bytes).unwrap();
    assert_eq!(plain.icc_profile, None);
    assert_eq!(kept.icc_profile.as_deref(), Some("Display P3"));
    // Kept: the pixels stay in P3 (234, 51, 35), not converted.
    let img = image::load_from_memory(&r.renditions[1].bytes).unwrap();
    let got = rgb_at(&img, 8, 8);
    assert!(close(got, [234, 51, 35], 10), "{got:?}");
}

#[test]
fn average_colour_and_thumbhash() {
    let (r, _) = render_one(&fixture("display-p3-red.jpg"), "8,png");
    let c = r.average_color.unwrap();
    let v = u32::from_str_radix(&c[1..], 16).unwrap();
    assert!(c.starts_with('#') && c.len() == 7);
    assert!(
        (v >> 16) >= 245 && ((v >> 8) & 0xff) <= 10 && (v & 0xff) <= 10,
        "{c}"
    );
    use base64::Engine;
    let hash = base64::engine::general_purpose::STANDARD
        .decode(r.thumbhash.unwrap())
        .unwrap();
    assert!((5..=40).contains(&hash.len()));
}

#[test]
fn keep_embeds_the_profile_in_webp_and_png_and_converts_avif() {
    let bytes = fixture("display-p3-red.jpg");
    let plan = imgcore::Plan::parse("16,webp,keep;16,png,keep;16,webp").unwrap();
    let r = imgcore::render(&bytes, &plan).unwrap();
    for (i, kept) in [(0, true), (1, true), (2, false)] {
        let out = &r.renditions[i];
        let profile = imgcore::probe(&out.bytes).unwrap().icc_profile;
        let want_profile = kept.then_some("Display P3");
        assert_eq!(profile.as_deref(), want_profile, "{}", out.spec);
        let img = image::load_from_memory(&out.bytes).unwrap();
        let got = rgb_at(&img, 8, 8);
        // With the profile, the pixels stay in P3 (234, 51, 35); without, sRGB red.
        let want = if kept { [234, 51, 35] } else { [255, 0, 0] };
        assert!(close(got, want, 14), "{}: {got:?}", out.spec);
    }
    // AVIF cannot carry the profile: with `keep` it is converted to sRGB, the same file as
    // without `keep`.
    let avif = imgcore::Plan::parse("16,avif,keep,speed10;16,avif,speed10").unwrap();
    let r = imgcore::render(&bytes, &avif).unwrap();
    assert_eq!(r.renditions[0].bytes, r.renditions[1].bytes);
}

#[test]
fn a_cmyk_profile_is_never_embedded_in_an_rgb_output() {
    // The CMYK fixture with a (made-up but parseable) CMYK profile spliced in as APP2.
    let mut bytes = fixture("cmyk-adobe.jpg");
    let icc = cmyk_icc();
    let mut app2 = vec![0xFF, 0xE2];
    app2.extend(u16::try_from(2 + 14 + icc.len()).unwrap().to_be_bytes());
    app2.extend(b"ICC_PROFILE\0\x01\x01");
    app2.extend(&icc);
    bytes.splice(2..2, app2);
    let r = imgcore::render(&bytes, &imgcore::Plan::parse("16,jpeg,keep").unwrap()).unwrap();
    let out = &r.renditions[0].bytes;
    assert_eq!(
        imgcore::probe(out).unwrap().color_model,
        imgcore::ColorModel::Rgb
    );
    let has_icc = out.windows(12).any(|w| w == b"ICC_PROFILE\0");
    assert!(!has_icc, "a CMYK profile was embedded in an RGB JPEG");
    // The same check finds an RGB profile that is kept: it can fail.
    let p3 = imgcore::render(
        &fixture("display-p3-red.jpg"),
        &imgcore::Plan::parse("16,jpeg,keep").unwrap(),
    )
    .unwrap();
    assert!(p3.renditions[0]
        .bytes
        .windows(12)
        .any(|w| w == b"ICC_PROFILE\0"));
}

/// A minimal ICC header that says "CMYK data, Lab PCS" (no tags): enough for the
/// engine to know the profile's colour space.
fn cmyk_icc() -> Vec<u8> {
    let mut p = vec![0u8; 132];
    p[0..4].copy_from_slice(&132u32.to_be_bytes());
    p[8] = 2; // version 2
    p[12..16].copy_from_slice(b"prtr");
    p[16..20].copy_from_slice(b"CMYK");
    p[20..24].copy_from_slice(b"Lab ");
    p[36..40].copy_from_slice(b"acsp");
    p
}
