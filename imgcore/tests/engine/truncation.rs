//! Every fixture cut at many offsets gives a typed error, never a panic.

use imgcore::{ErrorKind, Plan};

/// Offsets to cut at: every byte of the first 64, then ~60 spread over the rest, then
/// every one of the last 16.
fn cuts(len: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..len.min(64)).collect();
    let step = (len / 60).max(1);
    v.extend((64..len).step_by(step));
    v.extend(len.saturating_sub(16)..len);
    v.sort_unstable();
    v.dedup();
    v
}

#[test]
fn truncated_fixtures_fail_cleanly() {
    let plan = Plan::parse("32").unwrap();
    for (name, bytes) in super::good_fixtures() {
        let is_animated = name.starts_with("animated");
        for cut in cuts(bytes.len()) {
            let r = std::panic::catch_unwind(|| imgcore::render(&bytes[..cut], &plan));
            let r = r.unwrap_or_else(|_| panic!("{name} cut at {cut}: panicked"));
            match r {
                Err(e) => {
                    // Any typed kind is acceptable except a spec error.
                    assert_ne!(e.kind(), ErrorKind::InvalidSpec, "{name} cut at {cut}: {e}");
                }
                Ok(_) => {
                    // Only data after the image itself may be missing: the trailer, or
                    // later frames of an animation.
                    let tail = bytes.len() - cut;
                    assert!(
                        is_animated || tail <= 16,
                        "{name} cut at {cut} of {} rendered without error",
                        bytes.len()
                    );
                }
            }
        }
    }
}

#[test]
fn truncated_jpeg_and_png_say_truncated() {
    for name in ["photo.jpg", "progressive.jpg", "rgba.png"] {
        let bytes = super::fixture(name);
        let e =
            imgcore::render(&bytes[..bytes.len() / 2], &Plan::parse("32").unwrap()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Truncated, "{name}: {e}");
    }
}

#[test]
fn bit_flips_never_panic() {
    let plan = Plan::parse("24").unwrap();
    for (name, bytes) in super::good_fixtures() {
        let mut seed = 0x9E37_79B9u32;
        for _ in 0..40 {
            let mut b = bytes.clone();
            for _ in 0..4 {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let i = seed as usize % b.len();
                b[i] ^= 1 << (seed % 8);
            }
            let r = std::panic::catch_unwind(|| imgcore::render(&b, &plan));
            assert!(r.is_ok(), "{name}: a bit-flipped copy panicked");
        }
    }
}
