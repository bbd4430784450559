//! Header probing: any bytes end in `Ok` or a typed error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = imgcore_fuzz_limits();
    if let Ok(info) = imgcore::probe_with_limits(data, &limits) {
        // What probe accepts is inside the limits it was given.
        assert!(info.width >= 1 && info.height >= 1);
        assert!(info.width <= limits.max_width && info.height <= limits.max_height);
        assert!(u64::from(info.width) * u64::from(info.height) <= limits.max_pixels);
    }
});

fn imgcore_fuzz_limits() -> imgcore::Limits {
    imgcore::Limits {
        max_width: 4096,
        max_height: 4096,
        max_pixels: 4_000_000,
        max_frames: 64,
        max_animation_pixels: 64 << 20,
        max_decoded_bytes: 64 << 20,
        ..imgcore::Limits::default()
    }
}
