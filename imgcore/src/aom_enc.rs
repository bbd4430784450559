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

/// libavif's map from quality (0–100) to libaom's quantizer (0–63), so that `q` means with
/// this encoder what it means to avifenc and to libvips and sharp through libheif.
fn quantizer(quality: u8) -> c_uint {
    ((100 - u32::from(quality.min(100))) * 63 + 50) / 100
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
    let q = quantizer(quality);
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
            for (id, v) in controls {
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
