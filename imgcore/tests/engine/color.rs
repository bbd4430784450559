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
