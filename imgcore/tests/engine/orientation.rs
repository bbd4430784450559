//! EXIF orientation 1–8: every file shows the same picture, and crops follow it.

use super::{close, fixture, render_one, rgb_at};

const RED: [u8; 3] = [255, 0, 0];
const GREEN: [u8; 3] = [0, 255, 0];
const BLUE: [u8; 3] = [0, 0, 255];
const YELLOW: [u8; 3] = [255, 255, 0];

#[test]
fn all_eight_orientations_display_upright() {
    for o in 1..=8 {
        let bytes = fixture(&format!("orientation-{o}.jpg"));
        let info = imgcore::probe(&bytes).unwrap();
        assert_eq!(info.orientation, o);
        assert_eq!(
            (info.width, info.height),
            (48, 32),
            "orientation {o}: displayed size"
        );
        let (r, img) = render_one(&bytes, "orig,png");
        assert_eq!((r.renditions[0].width, r.renditions[0].height), (48, 32));
        for ((x, y), want) in [
            ((12, 8), RED),
            ((36, 8), GREEN),
            ((12, 24), BLUE),
            ((36, 24), YELLOW),
        ] {
            let got = rgb_at(&img, x, y);
            assert!(
                close(got, want, 40),
                "orientation {o} at ({x},{y}): {got:?}, want {want:?}"
            );
        }
    }
}

#[test]
fn cover_crop_gravity_follows_the_displayed_image() {
    for o in 1..=8 {
        let bytes = fixture(&format!("orientation-{o}.jpg"));
        // West crop of the displayed 48x32 picture to 16x32 keeps the red/blue half.
        let (_, img) = render_one(&bytes, "16x32,cover,west,png");
        assert_eq!((img.width(), img.height()), (16, 32));
        assert!(
            close(rgb_at(&img, 4, 6), RED, 40),
            "orientation {o}: {:?}",
            rgb_at(&img, 4, 6)
        );
        assert!(
            close(rgb_at(&img, 4, 26), BLUE, 40),
            "orientation {o}: {:?}",
            rgb_at(&img, 4, 26)
        );
        let (_, img) = render_one(&bytes, "16x32,cover,east,png");
        assert!(
            close(rgb_at(&img, 12, 6), GREEN, 40),
            "orientation {o}: {:?}",
            rgb_at(&img, 12, 6)
        );
        assert!(
            close(rgb_at(&img, 12, 26), YELLOW, 40),
            "orientation {o}: {:?}",
            rgb_at(&img, 12, 26)
        );
    }
}

#[test]
fn resized_orientation_keeps_displayed_aspect() {
    for o in 1..=8 {
        let (r, img) = render_one(&fixture(&format!("orientation-{o}.jpg")), "24,png");
        assert_eq!(
            (r.renditions[0].width, r.renditions[0].height),
            (24, 16),
            "orientation {o}"
        );
        assert!(close(rgb_at(&img, 3, 3), RED, 50), "orientation {o}");
        assert!(close(rgb_at(&img, 20, 12), YELLOW, 50), "orientation {o}");
    }
}

#[test]
fn a_tiff_is_turned_by_its_own_orientation_tag() {
    // 4x2, left half red, right half blue, stored with Orientation 6 (turn 90° clockwise):
    // displayed 2x4, red on top.
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut enc = tiff::encoder::TiffEncoder::new(&mut buf).unwrap();
        let mut img = enc
            .new_image::<tiff::encoder::colortype::RGB8>(4, 2)
            .unwrap();
        img.encoder()
            .write_tag(tiff::tags::Tag::Orientation, 6u16)
            .unwrap();
        let px: Vec<u8> = (0..2)
            .flat_map(|_| (0..4).flat_map(|x| if x < 2 { [255, 0, 0] } else { [0, 0, 255] }))
            .collect();
        img.write_data(&px).unwrap();
    }
    let bytes = buf.into_inner();
    let info = imgcore::probe(&bytes).unwrap();
    assert_eq!((info.orientation, info.width, info.height), (6, 2, 4));
    let (r, img) = crate::render_one(&bytes, "orig,png");
    assert_eq!((r.renditions[0].width, r.renditions[0].height), (2, 4));
    let rgb = img.to_rgb8();
    assert_eq!(rgb.get_pixel(0, 0).0, [255, 0, 0]);
    assert_eq!(rgb.get_pixel(1, 3).0, [0, 0, 255]);
}
