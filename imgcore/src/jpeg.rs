//! JPEG: a pure-Rust header reader (probe, limits) and mozjpeg/libjpeg-turbo decode with DCT
//! scaling and encode. libjpeg's fatal errors and the warnings that mean "the data ended" or
//! "the data is corrupt" unwind out of the C code and are caught here as typed errors.

use crate::format::ImageFormat;
use crate::{Error, Result};
use image::{DynamicImage, GrayImage, RgbImage};
use std::panic::{catch_unwind, AssertUnwindSafe};

const FMT: ImageFormat = ImageFormat::Jpeg;

/// What the header says, read without touching entropy-coded data.
#[derive(Debug, Clone, Default)]
pub(crate) struct JpegHeader {
    pub width: u32,
    pub height: u32,
    pub components: u8,
    pub precision: u8,
    pub progressive: bool,
    /// The first scan codes fewer components than the frame has (a legal baseline layout,
    /// "non-interleaved"): like a progressive file, libjpeg then buffers the coefficients
    /// of the whole image before it outputs a row (its `has_multiple_scans`).
    pub multi_scan: bool,
    /// (h, v) sampling factors per component.
    pub sampling: Vec<(u8, u8)>,
    pub exif: Option<Vec<u8>>,
    pub icc: Option<Vec<u8>>,
    /// Adobe APP14 transform byte, when the marker is present.
    pub adobe_transform: Option<u8>,
}

impl JpegHeader {
    /// Whether libjpeg will buffer whole-image coefficients (progressive or multi-scan).
    pub fn buffers_coefficients(&self) -> bool {
        self.progressive || self.multi_scan
    }

    /// Bytes of pixel memory libjpeg needs at a decode scale of `num/8`, including the
    /// full-size coefficient buffer a progressive or multi-scan file needs whatever the
    /// scale.
    pub fn decode_bytes(&self, num: u32) -> u64 {
        let (w, h) = scaled_size(self.width, self.height, num);
        let out_channels = if self.components == 1 { 1 } else { 3 };
        let mut total = u64::from(w) * u64::from(h) * out_channels;
        if self.components == 4 {
            total += u64::from(w) * u64::from(h) * 4; // CMYK staging buffer
        }
        if self.buffers_coefficients() {
            let hmax = self.sampling.iter().map(|s| s.0).max().unwrap_or(1).max(1) as u64;
            let vmax = self.sampling.iter().map(|s| s.1).max().unwrap_or(1).max(1) as u64;
            for &(hs, vs) in &self.sampling {
                let cw = (u64::from(self.width) * u64::from(hs)).div_ceil(hmax);
                let ch = (u64::from(self.height) * u64::from(vs)).div_ceil(vmax);
                // 64 coefficients of 2 bytes per 8x8 block
                total += cw.div_ceil(8) * ch.div_ceil(8) * 128;
            }
        }
        total
    }
}

/// libjpeg's output size at scale `num/8`.
pub(crate) fn scaled_size(w: u32, h: u32, num: u32) -> (u32, u32) {
    let f = |v: u32| ((u64::from(v) * u64::from(num)).div_ceil(8)).max(1) as u32;
    (f(w), f(h))
}

fn truncated(reason: &str) -> Error {
    Error::Truncated {
        format: FMT,
        reason: reason.into(),
    }
}

/// Walk the marker segments up to the first scan.
pub(crate) fn read_header(b: &[u8]) -> Result<JpegHeader> {
    let mut hdr = JpegHeader::default();
    let mut icc_chunks: Vec<(u8, &[u8])> = Vec::new();
    let mut saw_sof = false;
    let mut i = 2usize;
    loop {
        // Find the next marker, skipping fill bytes.
        while i < b.len() && b[i] != 0xFF {
            i += 1; // tolerate garbage between segments, as libjpeg does (with a warning)
        }
        while i < b.len() && b[i] == 0xFF {
            i += 1;
        }
        let Some(&m) = b.get(i) else {
            return Err(truncated("the header ends before the first scan"));
        };
        i += 1;
        match m {
            0x01 | 0xD0..=0xD7 => continue,
            0xD9 => return Err(Error::corrupt(FMT, "end of image before any scan")),
            _ => {}
        }
        let Some(len_bytes) = b.get(i..i + 2) else {
            return Err(truncated("the header ends inside a marker"));
        };
        let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        if len < 2 {
            return Err(Error::corrupt(
                FMT,
                format!("marker 0x{m:02X} has length {len}"),
            ));
        }
        let Some(seg) = b.get(i + 2..i + len) else {
            return Err(truncated("the header ends inside a marker segment"));
        };
        i += len;
        match m {
            0xC0..=0xCF if !matches!(m, 0xC4 | 0xC8 | 0xCC) => {
                if seg.len() < 6 {
                    return Err(Error::corrupt(FMT, "frame header too short"));
                }
                hdr.precision = seg[0];
                hdr.height = u16::from_be_bytes([seg[1], seg[2]]).into();
                hdr.width = u16::from_be_bytes([seg[3], seg[4]]).into();
                hdr.components = seg[5];
                hdr.progressive = matches!(m, 0xC2 | 0xC6 | 0xCA | 0xCE);
                if matches!(m, 0xC3 | 0xC7 | 0xCB | 0xCF) {
                    return Err(Error::Unsupported("lossless JPEG".into()));
                }
                if hdr.precision != 8 {
                    return Err(Error::Unsupported(format!("{}-bit JPEG", hdr.precision)));
                }
                if hdr.width == 0 || hdr.height == 0 {
                    return Err(Error::corrupt(
                        FMT,
                        format!("frame size {}x{}", hdr.width, hdr.height),
                    ));
                }
                if !matches!(hdr.components, 1 | 3 | 4) {
                    return Err(Error::Unsupported(format!(
                        "JPEG with {} components",
                        hdr.components
                    )));
                }
                let need = 6 + 3 * usize::from(hdr.components);
                if seg.len() < need {
                    return Err(Error::corrupt(
                        FMT,
                        "frame header too short for its components",
                    ));
                }
                hdr.sampling = (0..usize::from(hdr.components))
                    .map(|c| {
                        let s = seg[6 + 3 * c + 1];
                        ((s >> 4).max(1), (s & 0x0F).max(1))
                    })
                    .collect();
                saw_sof = true;
            }
            0xDA => {
                if !saw_sof {
                    return Err(Error::corrupt(FMT, "scan before frame header"));
                }
                let in_scan = *seg
                    .first()
                    .ok_or_else(|| Error::corrupt(FMT, "empty scan header"))?;
                hdr.multi_scan = in_scan < hdr.components;
                break;
            }
            0xE1 if seg.starts_with(b"Exif\0\0") && hdr.exif.is_none() => {
                hdr.exif = Some(seg[6..].to_vec());
            }
            0xE2 if seg.starts_with(b"ICC_PROFILE\0") && seg.len() >= 14 => {
                icc_chunks.push((seg[12], &seg[14..]));
            }
            0xEE if seg.starts_with(b"Adobe") && seg.len() >= 12 => {
                hdr.adobe_transform = Some(seg[11]);
            }
            _ => {}
        }
    }
    if !icc_chunks.is_empty() {
        icc_chunks.sort_by_key(|c| c.0);
        hdr.icc = Some(
            icc_chunks
                .iter()
                .flat_map(|c| c.1.iter().copied())
                .collect(),
        );
    }
    Ok(hdr)
}

struct JpegFailure {
    message: String,
    truncated: bool,
}

#[cold]
fn message(cinfo: &mut mozjpeg_sys::jpeg_common_struct) -> String {
    // SAFETY: `err` is the error manager libjpeg was created with; format_message writes at
    // most 80 bytes (JMSG_LENGTH_MAX) into the buffer.
    unsafe {
        let Some(err) = cinfo.err.as_ref() else {
            return "libjpeg error".into();
        };
        let code = err.msg_code;
        match err.format_message {
            Some(fmt) => {
                let mut buf = [0u8; 80];
                let f = std::mem::transmute::<
                    unsafe extern "C-unwind" fn(&mut mozjpeg_sys::jpeg_common_struct, &[u8; 80]),
                    unsafe extern "C-unwind" fn(
                        &mut mozjpeg_sys::jpeg_common_struct,
                        &mut [u8; 80],
                    ),
                >(fmt);
                f(cinfo, &mut buf);
                let end = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
                String::from_utf8_lossy(&buf[..end]).into_owned()
            }
            None => format!("libjpeg error code {code}"),
        }
    }
}

extern "C-unwind" fn on_error_exit(cinfo: &mut mozjpeg_sys::jpeg_common_struct) {
    let message = message(cinfo);
    std::panic::resume_unwind(Box::new(JpegFailure {
        message,
        truncated: false,
    }));
}

thread_local! {
    /// The cap on libjpeg's own large allocations for the decode running on this thread
    /// (0: none). Set by [`decode`] around its call into libjpeg.
    static MAX_MEMORY: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

extern "C-unwind" fn on_message(
    cinfo: &mut mozjpeg_sys::jpeg_common_struct,
    level: std::os::raw::c_int,
) {
    if level >= 0 {
        // Trace messages. The first (start of image) comes from jpeg_read_header before
        // libjpeg allocates any image-sized buffer: this is where the memory cap is set,
        // since the `mozjpeg` crate does not expose the decompressor's memory manager.
        // With a cap, libjpeg's jmemnobs answers a whole-image buffer that does not fit
        // with JERR_NO_BACKING_STORE (a clean error) instead of allocating it.
        let cap = MAX_MEMORY.with(std::cell::Cell::get);
        // SAFETY: `mem` is set by jpeg_create_decompress before any message is emitted.
        if let Some(mem) = unsafe { cinfo.mem.as_mut() } {
            if cap > 0 && mem.max_memory_to_use as usize != cap {
                mem.max_memory_to_use = cap.try_into().unwrap_or(std::ffi::c_long::MAX);
            }
        }
        return;
    }
    // SAFETY: as in `message`.
    let code = unsafe { cinfo.err.as_ref().map_or(0, |e| e.msg_code) };
    let truncated = code == mozjpeg_sys::JWRN_JPEG_EOF || code == mozjpeg_sys::JWRN_HIT_MARKER;
    let corrupt = code == mozjpeg_sys::JWRN_MUST_RESYNC || code == mozjpeg_sys::JWRN_HUFF_BAD_CODE;
    if truncated || corrupt {
        let message = message(cinfo);
        std::panic::resume_unwind(Box::new(JpegFailure { message, truncated }));
    }
    // Other warnings (extraneous bytes between markers, bogus ICC, …) are tolerated: the
    // pixels are still right.
}

fn strict_error_mgr() -> mozjpeg_sys::jpeg_error_mgr {
    // SAFETY: jpeg_std_error fully initialises the zeroed struct.
    unsafe {
        let mut err: mozjpeg_sys::jpeg_error_mgr = std::mem::zeroed();
        mozjpeg_sys::jpeg_std_error(&mut err);
        err.error_exit = Some(on_error_exit);
        err.emit_message = Some(on_message);
        err
    }
}

/// Run libjpeg code, turning its unwinds (and any other panic) into typed errors.
pub(crate) fn guarded<T>(
    format: ImageFormat,
    encode: bool,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let (reason, is_truncated) = if let Some(j) = payload.downcast_ref::<JpegFailure>() {
                (j.message.clone(), j.truncated)
            } else if let Some(s) = payload.downcast_ref::<String>() {
                (s.clone(), false)
            } else if let Some(s) = payload.downcast_ref::<&str>() {
                ((*s).to_string(), false)
            } else {
                ("decoder panicked".to_string(), false)
            };
            Err(if encode {
                Error::encode(format, reason)
            } else if is_truncated {
                Error::Truncated { format, reason }
            } else {
                Error::corrupt(format, reason)
            })
        }
    }
}

fn io_err(e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        truncated(&e.to_string())
    } else {
        Error::corrupt(FMT, e.to_string())
    }
}

/// Read every scanline of a started decompression: (width, height, samples).
fn read_all<R>(mut s: mozjpeg::decompress::DecompressStarted<R>) -> Result<(u32, u32, Vec<u8>)> {
    let (w, h) = (s.width() as u32, s.height() as u32);
    let px: Vec<u8> = s.read_scanlines().map_err(io_err)?;
    s.finish().map_err(io_err)?;
    Ok((w, h, px))
}

/// Decode at scale `num/8` (1, 2, 4 or 8). Gray stays gray; CMYK/YCCK become RGB.
/// libjpeg's whole-image buffers are capped at `max_memory` bytes: past it the decode
/// fails with [`Error::DecoderLimit`] instead of allocating.
pub(crate) fn decode(
    bytes: &[u8],
    hdr: &JpegHeader,
    num: u8,
    max_memory: u64,
) -> Result<DynamicImage> {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            MAX_MEMORY.with(|m| m.set(0));
        }
    }
    MAX_MEMORY.with(|m| m.set(usize::try_from(max_memory).unwrap_or(usize::MAX)));
    let _reset = Reset;
    let r = decode_inner(bytes, hdr, num);
    match r {
        Err(Error::Corrupt { reason, .. }) if reason.contains("Backing store not supported") => {
            Err(Error::DecoderLimit(format!(
                "JPEG: libjpeg needs more than the {max_memory} bytes allowed for its \
                 whole-image buffers"
            )))
        }
        // JERR_OUT_OF_MEMORY: malloc itself failed (a process memory limit below the
        // configured one). The image is not corrupt; there was not enough memory.
        Err(Error::Corrupt { reason, .. }) if reason.contains("Insufficient memory") => Err(
            Error::OutOfMemory(format!("libjpeg's allocation failed ({reason})")),
        ),
        other => other,
    }
}

fn decode_inner(bytes: &[u8], hdr: &JpegHeader, num: u8) -> Result<DynamicImage> {
    guarded(FMT, false, || {
        let mut d = mozjpeg::Decompress::with_err(strict_error_mgr())
            .from_mem(bytes)
            .map_err(io_err)?;
        d.scale(num);
        let img = match hdr.components {
            1 => {
                let (w, h, px) = read_all(d.grayscale().map_err(io_err)?)?;
                DynamicImage::ImageLuma8(
                    GrayImage::from_raw(w, h, px).ok_or_else(|| truncated("short image"))?,
                )
            }
            4 => {
                let (w, h, px) = read_all(
                    d.to_colorspace(mozjpeg::ColorSpace::JCS_CMYK)
                        .map_err(io_err)?,
                )?;
                let inverted = hdr.adobe_transform.is_some();
                let rgb = hdr
                    .icc
                    .as_deref()
                    .and_then(|icc| crate::color::cmyk_profile_to_srgb(&px, icc, inverted))
                    .unwrap_or_else(|| crate::color::cmyk_to_rgb(&px, inverted));
                DynamicImage::ImageRgb8(
                    RgbImage::from_raw(w, h, rgb).ok_or_else(|| truncated("short image"))?,
                )
            }
            _ => {
                let (w, h, px) = read_all(d.rgb().map_err(io_err)?)?;
                DynamicImage::ImageRgb8(
                    RgbImage::from_raw(w, h, px).ok_or_else(|| truncated("short image"))?,
                )
            }
        };
        Ok(img)
    })
}

/// Encoder settings for [`encode`].
pub(crate) struct JpegSettings<'a> {
    pub quality: u8,
    pub progressive: bool,
    /// mozjpeg's size tools (trellis quantisation, optimised progressive scans).
    pub small: bool,
    pub icc: Option<&'a [u8]>,
    pub exif: Option<&'a [u8]>,
}

/// Encode 8-bit gray or RGB pixels.
pub(crate) fn encode(
    pixels: &[u8],
    width: u32,
    height: u32,
    gray: bool,
    s: &JpegSettings,
) -> Result<Vec<u8>> {
    guarded(FMT, true, || {
        let cs = if gray {
            mozjpeg::ColorSpace::JCS_GRAYSCALE
        } else {
            mozjpeg::ColorSpace::JCS_RGB
        };
        let mut c = mozjpeg::Compress::new(cs);
        if !s.small {
            // libjpeg-turbo's defaults: fast baseline coding (no trellis), optimised Huffman
            // tables. Without this, mozjpeg's own defaults (`small`): trellis quantisation,
            // progressive scans optimised per image, its quantisation tables.
            c.set_fastest_defaults();
        }
        c.set_size(width as usize, height as usize);
        c.set_quality(f32::from(s.quality));
        c.set_optimize_coding(true);
        if s.progressive {
            c.set_progressive_mode();
        }
        if !gray {
            // 4:2:0 below q90, 4:4:4 at q90 and above (small text and sharp colour edges).
            let sub = if s.quality < 90 { 2 } else { 1 };
            c.set_chroma_sampling_pixel_sizes((sub, sub), (sub, sub));
        }
        let capacity = (pixels.len() / 8).max(4096);
        let mut out = c
            .start_compress(Vec::with_capacity(capacity))
            .map_err(|e| Error::encode(FMT, e.to_string()))?;
        if let Some(exif) = s.exif {
            let mut app1 = Vec::with_capacity(exif.len() + 6);
            app1.extend_from_slice(b"Exif\0\0");
            app1.extend_from_slice(exif);
            if app1.len() <= 65533 {
                out.write_marker(mozjpeg::Marker::APP(1), &app1);
            }
        }
        if let Some(icc) = s.icc.filter(|i| !i.is_empty() && i.len() < 255 * 65519) {
            out.write_icc_profile(icc);
        }
        out.write_scanlines(pixels)
            .map_err(|e| Error::encode(FMT, e.to_string()))?;
        out.finish().map_err(|e| Error::encode(FMT, e.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{jpeg as synth, Layout};

    #[test]
    fn the_header_walk_sees_every_layout_that_buffers_coefficients() {
        let coefficients = 128 * 128 * 3 * 128; // 1024x1024: 128x128 blocks, 3 components
        for (layout, buffers) in [
            (Layout::Interleaved, false),
            (Layout::NonInterleaved, true),
            (Layout::Progressive, true),
        ] {
            let hdr = read_header(&synth(1024, 1024, 3, layout)).unwrap();
            assert_eq!(hdr.buffers_coefficients(), buffers, "{layout:?}");
            let at_eighth = hdr.decode_bytes(1);
            assert_eq!(
                at_eighth >= coefficients,
                buffers,
                "{layout:?}: {at_eighth}"
            );
        }
    }

    #[test]
    fn libjpeg_allocations_are_capped_with_a_clean_error() {
        for layout in [Layout::NonInterleaved, Layout::Progressive] {
            let bytes = synth(1024, 1024, 3, layout);
            let hdr = read_header(&bytes).unwrap();
            // The coefficients alone need 6 MiB: a 1 MiB cap must refuse, not allocate.
            let err = decode(&bytes, &hdr, 1, 1 << 20).unwrap_err();
            assert!(matches!(err, Error::DecoderLimit(_)), "{layout:?}: {err:?}");
            // With room, the same file decodes (a flat mid-grey picture).
            let img = decode(&bytes, &hdr, 1, 64 << 20).unwrap();
            assert_eq!((img.width(), img.height()), (128, 128));
            assert!(img.to_rgb8().pixels().all(|p| p.0 == [128, 128, 128]));
        }
        // The cap does not outlive the call: the next decode on this thread is unlimited.
        assert_eq!(MAX_MEMORY.with(std::cell::Cell::get), 0);
    }
}
