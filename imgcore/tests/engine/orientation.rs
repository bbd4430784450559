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
