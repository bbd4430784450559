//! The whole pipeline with a small fixed plan and low limits, so that a memory blow-up
//! (anything past the limits) shows as an out-of-memory finding under `-rss_limit_mb`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn plan() -> &'static imgcore::Plan {
    static PLAN: OnceLock<imgcore::Plan> = OnceLock::new();
    PLAN.get_or_init(|| {
        imgcore::Plan::parse("64x64,cover,png;32,jpeg;24,webp,anim")
            .expect("plan")
            .with_limits(imgcore::Limits {
                max_input_bytes: 1 << 20,
                max_width: 4096,
                max_height: 4096,
                max_pixels: 4_000_000,
                max_frames: 64,
                max_animation_pixels: 64 << 20,
                max_decoded_bytes: 64 << 20,
            })
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = imgcore::render(data, plan()) {
        assert_eq!(r.renditions.len(), 3);
        let (cover, narrow) = (&r.renditions[0], &r.renditions[1]);
        // `anim`: every frame of an animated GIF/WebP, at most 24 wide.
        assert!(r.renditions[2].width >= 1 && r.renditions[2].width <= 24);
        // `64x64,cover` never upscales: at most 64×64. `32`: at most 32 wide, and no
        // taller than the source (a tall image stays tall).
        assert!(cover.width >= 1 && cover.height >= 1);
        assert!(cover.width <= 64 && cover.height <= 64);
        assert!(narrow.width >= 1 && narrow.width <= 32);
        assert!(narrow.height >= 1 && narrow.height <= r.source.height);
        assert!(r.renditions.iter().all(|x| !x.bytes.is_empty()));
    }
});
