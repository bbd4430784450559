//! AV1 still pictures through libaom (feature `aom`) in its all-intra mode, with libaom's
//! defaults for that mode but for the settings below: the planes in, the key frame's OBUs out,
//! as `avif_enc`'s rav1e path gives them. Single-threaded, as the rav1e path is: the engine
//! renders sizes and files in parallel.

use crate::avif_enc::Plane;
use crate::error::{Error, Result};
use crate::format::ImageFormat;
use libaom_sys as aom;
use rav1e::prelude::ChromaSampling;
use std::os::raw::{c_int, c_uint};

const FMT: ImageFormat = ImageFormat::Avif;

/// `AOM_TUNE_IQ` of libaom's `aomcx.h` (3.12 and later; libaom-sys's bindings are 3.11's):
/// the still-image tuning made with SSIMULACRA 2 as a guide and checked by eye. It turns on
/// quantisation matrices, variance-boost delta-q, chroma delta-q and stronger CDEF among
/// others; at speed 6 it writes 12 % fewer bytes than rav1e at speed 9 and 7–9 % fewer than
/// libaom's other tunings for the same SSIMULACRA2 (BENCHMARKS.md, "AVIF encoder settings").
const AOM_TUNE_IQ: c_int = 10;

/// The linked libaom's version as (major, minor, patch).
fn linked_version() -> (u32, u32, u32) {
    // SAFETY: returns a constant compiled into the library.
    let v = unsafe { aom::aom_codec_version() } as u32;
    ((v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff)
}

/// The libaom this build links, as `3.14.1`: the one `scripts/libaom.sh` builds (the
/// workspace's `.cargo/config.toml` points libaom-sys at it), or libaom-sys's own 3.11 in a
/// build outside the workspace.
pub fn version() -> String {
    let (major, minor, patch) = linked_version();
    format!("{major}.{minor}.{patch}")
}

/// Whether the linked libaom has `tune=iq` (3.12 and later), which this path then uses.
pub(crate) fn has_tune_iq() -> bool {
    linked_version() >= (3, 12, 0)
}

/// (quality, quantizer) points for `tune=iq`, measured with libaom 3.14.1 at speed 6 on
/// workload A of BENCHMARKS.md: at each quality from 25 to 95, the quantizer at which
/// libaom's mean SSIMULACRA2 meets rav1e's at the same quality, rounded (BENCHMARKS.md,
/// "libaom 3.14.1 and `tune=iq`", has the sweep); the ends are fixed at 0 → 63 and 100 → 0.
/// (libaom 3.12 and 3.13 tune a little differently, so the match is looser there.)
const TUNE_IQ_QUANTIZERS: [(u32, u32); 9] = [
    (0, 63),
    (25, 53),
    (40, 48),
    (60, 41),
    (80, 35),
    (85, 28),
    (90, 17),
    (95, 8),
    (100, 0),
];

/// The quantizer (0–63) for a quality of 0–100. With `tune=iq`, piecewise linear through
/// [`TUNE_IQ_QUANTIZERS`], so that picking the encoder changes the bytes and the CPU, not
/// the quality. Without it (libaom before 3.12), libavif's linear map, under which a `q`
/// scores higher than with rav1e.
fn quantizer(quality: u8, tune_iq: bool) -> c_uint {
    let q = u32::from(quality.min(100));
    if !tune_iq {
        return ((100 - q) * 63 + 50) / 100;
    }
    let at = TUNE_IQ_QUANTIZERS
        .windows(2)
        .find(|w| q <= w[1].0)
        .unwrap_or(&TUNE_IQ_QUANTIZERS[TUNE_IQ_QUANTIZERS.len() - 2..]); // never: it ends at 100
    let ((q0, p0), (q1, p1)) = (at[0], at[1]);
    // p falls from p0 to p1 as q rises from q0 to q1; rounded to the nearest.
    p0 - ((p0 - p1) * (q - q0) + (q1 - q0) / 2) / (q1 - q0)
}

/// Encodes one frame of `width`×`height`: Y, Cb and Cr in `sampling` (4:2:0 or 4:4:4), or
/// one plane for `Cs400`, coded as monochrome AV1. `speed` is libaom's `cpu-used` (at most
/// 9 in all-intra mode).
pub(crate) fn encode_frame(
    width: usize,
    height: usize,
    planes: &[Plane<'_>],
    sampling: ChromaSampling,
    quality: u8,
    speed: u8,
) -> Result<Vec<u8>> {
    let tune_iq = has_tune_iq();
    encode_tuned(
        width,
        height,
        planes,
        sampling,
        quantizer(quality, tune_iq),
        speed,
        tune_iq,
    )
}

/// [`encode_frame`] at quantizer `q`, with `tune=iq` or libaom's default tuning.
fn encode_tuned(
    width: usize,
    height: usize,
    planes: &[Plane<'_>],
    sampling: ChromaSampling,
    q: c_uint,
    speed: u8,
    tune_iq: bool,
) -> Result<Vec<u8>> {
    let fail = |what: &str, code: aom::aom_codec_err_t| {
        Error::encode(FMT, format!("libaom: {what} failed (error {code})"))
    };
    // With libaom's own message, once there is a context to hold one.
    let fail_in = |ctx: &aom::aom_codec_ctx_t, what: &str, code: aom::aom_codec_err_t| {
        // SAFETY: `ctx` is an initialised context; the detail, when there is one, is a
        // NUL-terminated string it owns, copied here before any other call.
        let detail = unsafe {
            let d = aom::aom_codec_error_detail(ctx);
            (!d.is_null()).then(|| std::ffi::CStr::from_ptr(d).to_string_lossy().into_owned())
        };
        Error::encode(
            FMT,
            format!(
                "libaom: {what} failed (error {code}){}",
                detail.map(|d| format!(": {d}")).unwrap_or_default()
            ),
        )
    };
    // The planes' sizes were checked by the caller (`avif_enc::encode_frame`).
    let monochrome = sampling == ChromaSampling::Cs400;
    // 4:2:0 and monochrome go in an I420 image (profile 0), 4:4:4 in an I444 one (profile 1).
    let i420 = sampling != ChromaSampling::Cs444;
    let fmt = if i420 {
        aom::AOM_IMG_FMT_I420
    } else {
        aom::AOM_IMG_FMT_I444
    };
    // SAFETY: the configuration and context are plain C structs that libaom initialises; the
    // image it allocates is written within its planes' strides and sizes and freed on every
    // path; the context is destroyed on every path after a successful init.
    unsafe {
        let iface = aom::aom_codec_av1_cx();
        let mut cfg: aom::aom_codec_enc_cfg = std::mem::zeroed();
        let r = aom::aom_codec_enc_config_default(iface, &mut cfg, aom::AOM_USAGE_ALL_INTRA);
        if r != aom::AOM_CODEC_OK {
            return Err(fail("config", r));
        }
        cfg.g_w = width as c_uint;
        cfg.g_h = height as c_uint;
        cfg.g_threads = 1;
        cfg.g_limit = 1;
        cfg.g_lag_in_frames = 0;
        cfg.g_profile = if i420 { 0 } else { 1 };
        cfg.g_bit_depth = aom::AOM_BITS_8;
        cfg.g_input_bit_depth = 8;
        cfg.rc_end_usage = aom::AOM_Q;
        cfg.rc_min_quantizer = q;
        cfg.rc_max_quantizer = q;
        cfg.kf_mode = aom::AOM_KF_DISABLED;
        cfg.kf_max_dist = 0;
        cfg.monochrome = c_uint::from(monochrome);
        let mut ctx: aom::aom_codec_ctx_t = std::mem::zeroed();
        let r = aom::aom_codec_enc_init_ver(
            &mut ctx,
            iface,
            &cfg,
            0,
            aom::AOM_ENCODER_ABI_VERSION as c_int,
        );
        if r != aom::AOM_CODEC_OK {
            return Err(fail("init", r));
        }
        let result = (|| {
            let controls: [(aom::aome_enc_control_id, c_int); 6] = [
                (aom::AOME_SET_CPUUSED, c_int::from(speed.min(9))),
                (aom::AOME_SET_CQ_LEVEL, q as c_int),
                (aom::AV1E_SET_COLOR_RANGE, 1),
                (aom::AV1E_SET_COLOR_PRIMARIES, 1),
                (aom::AV1E_SET_TRANSFER_CHARACTERISTICS, 13),
                (aom::AV1E_SET_MATRIX_COEFFICIENTS, 6),
            ];
            // libaom's filter-intra tool stays on (its default): the arm64 package test
            // tells libaom's files from rav1e's by `enable_filter_intra` in the sequence header.
            let tuning = tune_iq.then_some((aom::AOME_SET_TUNING, AOM_TUNE_IQ));
            for (id, v) in controls.into_iter().chain(tuning) {
                let r = aom::aom_codec_control(&mut ctx, id as c_int, v);
                if r != aom::AOM_CODEC_OK {
                    return Err(fail_in(&ctx, "control", r));
                }
            }
            let img = aom::aom_img_alloc(
                std::ptr::null_mut(),
                fmt,
                width as c_uint,
                height as c_uint,
                16,
            );
            if img.is_null() {
                return Err(Error::encode(FMT, "libaom: image allocation failed"));
            }
            // The given planes at their own (checked) sizes; for a monochrome frame, the
            // unused chroma planes of the I420 image are mid-grey.
            for p in 0..3 {
                let dst_stride = (*img).stride[p] as usize;
                let dst = (*img).planes[p];
                match planes.get(p) {
                    Some(src) => {
                        for y in 0..src.height {
                            let row = &src.data[y * src.stride..][..src.width];
                            std::ptr::copy_nonoverlapping(
                                row.as_ptr(),
                                dst.add(y * dst_stride),
                                row.len(),
                            );
                        }
                    }
                    None => {
                        for y in 0..height.div_ceil(2) {
                            std::ptr::write_bytes(dst.add(y * dst_stride), 128, width.div_ceil(2));
                        }
                    }
                }
            }
            (*img).range = aom::AOM_CR_FULL_RANGE;
            (*img).monochrome = c_int::from(monochrome);
            let r = aom::aom_codec_encode(&mut ctx, img, 0, 1, 0);
            aom::aom_img_free(img);
            if r != aom::AOM_CODEC_OK {
                return Err(fail_in(&ctx, "encode", r));
            }
            let mut out = Vec::new();
            for flush in [false, true] {
                if flush {
                    let r = aom::aom_codec_encode(&mut ctx, std::ptr::null(), 0, 0, 0);
                    if r != aom::AOM_CODEC_OK {
                        return Err(fail_in(&ctx, "flush", r));
                    }
                }
                let mut iter: aom::aom_codec_iter_t = std::ptr::null();
                loop {
                    let pkt = aom::aom_codec_get_cx_data(&mut ctx, &mut iter);
                    if pkt.is_null() {
                        break;
                    }
                    if (*pkt).kind == aom::AOM_CODEC_CX_FRAME_PKT {
                        let f = (*pkt).data.frame;
                        if f.sz > 0 && !f.buf.is_null() {
                            out.extend_from_slice(std::slice::from_raw_parts(
                                f.buf as *const u8,
                                f.sz,
                            ));
                        }
                    }
                }
            }
            if out.is_empty() {
                return Err(Error::encode(FMT, "libaom returned no frame"));
            }
            unconstrained_level(&mut out)?;
            Ok(out)
        })();
        aom::aom_codec_destroy(&mut ctx);
        result
    }
}

/// Sets the sequence header's level to 31 ("no level constraints"), the value rav1e writes
/// and avif-serialize puts in the `av1C` box, which must agree with the header (AVIF §2.2.1).
/// libaom picks a level from the frame size instead (2.0 for a thumbnail, 3.0 at 800 px).
/// `obus` is libaom's output: a temporal delimiter, the sequence header (with
/// `reduced_still_picture_header`, as for every single-frame all-intra encode) and the frame.
fn unconstrained_level(obus: &mut [u8]) -> Result<()> {
    let bad = |why: &str| Error::encode(FMT, format!("libaom's output: {why}"));
    let mut at = 0;
    while at < obus.len() {
        let header = obus[at];
        let obu_type = (header >> 3) & 0x0f;
        let extension = header & 0x04 != 0;
        if header & 0x02 == 0 {
            return Err(bad("an OBU without a size field"));
        }
        let mut p = at + 1 + usize::from(extension);
        // The payload size, LEB128.
        let mut size = 0usize;
        for i in 0..8 {
            let byte = *obus.get(p).ok_or_else(|| bad("a truncated OBU header"))?;
            p += 1;
            size |= usize::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                break;
            }
        }
        let end = p
            .checked_add(size)
            .filter(|&e| e <= obus.len())
            .ok_or_else(|| bad("an OBU longer than the data"))?;
        if obu_type == 1 {
            if size < 2 {
                return Err(bad("a short sequence header"));
            }
            // seq_profile (3 bits), still_picture (1), reduced_still_picture_header (1),
            // seq_level_idx[0] (5: the last 3 bits of this byte, the first 2 of the next).
            if obus[p] & 0x08 == 0 {
                return Err(bad(
                    "a sequence header that is not a reduced still picture one",
                ));
            }
            obus[p] |= 0x07;
            obus[p + 1] |= 0xc0;
            return Ok(());
        }
        at = end;
    }
    Err(bad("no sequence header"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tune_iq_quantizer_map_falls_as_quality_rises_and_meets_its_end_points() {
        for tune_iq in [false, true] {
            assert_eq!(quantizer(0, tune_iq), 63);
            assert_eq!(quantizer(100, tune_iq), 0);
            assert_eq!(quantizer(255, tune_iq), 0, "q is clamped to 100");
            let all: Vec<c_uint> = (0..=100).map(|q| quantizer(q, tune_iq)).collect();
            assert!(all.windows(2).all(|w| w[0] >= w[1]), "{all:?}");
        }
        // The measured points are met exactly, and between them the map is linear.
        for (q, p) in TUNE_IQ_QUANTIZERS {
            assert_eq!(quantizer(q as u8, true), p);
        }
        assert_eq!(quantizer(50, true), 44); // 48 − 3.5, the step rounded to 4
        assert_eq!(quantizer(70, true), 38);
        // tune=iq spends more bytes at a quantizer, so its map sits above libavif's (but
        // where both round to the same step near the ends).
        assert!((0..=100).all(|q| quantizer(q, true) >= quantizer(q, false)));
        assert!((10..=95).all(|q| quantizer(q, true) > quantizer(q, false)));
    }

    /// A 64×64 4:2:0 frame with edges and texture, for encodes that must differ.
    fn frame() -> (Vec<u8>, Vec<u8>) {
        let luma = (0..64 * 64)
            .map(|i| {
                let (x, y) = (i % 64, i / 64);
                let hash = (x * 7919 + y * 104_729) % 61;
                ((x * 3 + y * 2) % 200 + hash) as u8
            })
            .collect();
        let chroma = (0..32 * 32).map(|i| (100 + (i % 32) * 2) as u8).collect();
        (luma, chroma)
    }

    fn encode(tune_iq: bool) -> Vec<u8> {
        let (luma, chroma) = frame();
        let planes = [
            Plane {
                data: &luma,
                stride: 64,
                width: 64,
                height: 64,
            },
            Plane {
                data: &chroma,
                stride: 32,
                width: 32,
                height: 32,
            },
            Plane {
                data: &chroma,
                stride: 32,
                width: 32,
                height: 32,
            },
        ];
        encode_tuned(64, 64, &planes, ChromaSampling::Cs420, 40, 6, tune_iq).unwrap()
    }

    /// The libaom version scripts/libaom.sh builds (its `AOM_VERSION=` line).
    fn pinned_version() -> &'static str {
        include_str!("../../scripts/libaom.sh")
            .lines()
            .find_map(|l| l.strip_prefix("AOM_VERSION="))
            .expect("scripts/libaom.sh pins AOM_VERSION")
    }

    #[test]
    fn the_build_links_the_libaom_its_scripts_pinned() {
        // A build that fell back to libaom-sys's own 3.11 (no .cargo/config.toml) would lose
        // tune=iq silently; so would a pin that moved without the config's path (which
        // libaom.sh checks before it builds).
        assert_eq!(version(), pinned_version());
        assert!(has_tune_iq());
    }

    #[test]
    fn tune_iq_changes_the_encode() {
        // Same quantizer, same frame: only the tuning differs, so the bytes must too (a
        // control libaom ignored would give the same bytes).
        assert_ne!(encode(true), encode(false));
    }
}
