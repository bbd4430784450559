//! Animated outputs (`anim`): every frame of an animated GIF, WebP or JPEG XL, composed onto
//! the canvas by the decoders (so GIF disposal, WebP and JPEG XL blending are applied), resized
//! once with the output's geometry and resampler, and encoded frame by frame by libwebp's
//! animation encoder (`WebPAnimEncoder`, which finds the changed rectangle of each frame
//! and chooses blending and disposal again for the output).
//!
//! - Timing: each frame keeps its delay (in milliseconds, as the source says; GIF delays of
//!   0 or 10 ms are kept, not raised to the 100 ms browsers show them at).
//! - Loop count: a GIF's NETSCAPE2.0 count of repeats plus one (WebP counts plays, as
//!   libwebp's gif2webp converts it; 0 = forever in both; a GIF without one plays once), a
//!   WebP's ANIM count and a JPEG XL's `num_loops` as they are.
//! - Memory: two canvases and the frame being decoded, the resized frame, and the
//!   encoder's own state (a few frames of the output size); never all frames. The work,
//!   frames × canvas pixels, is bounded by [`Limits::max_animation_pixels`] from the header.
//! - Metadata (`keep`) is not copied into animated output; pixels are converted to sRGB.

use crate::format::ImageFormat;
use crate::geometry::Geometry;
use crate::probe::ImageInfo;
use crate::render::{Ctx, Rendition};
use crate::spec::OutputSpec;
use crate::{Error, Limits, Result};
use image::{AnimationDecoder, DynamicImage, Frame};
use std::io::Cursor;

/// Whether `spec` on a source described by `info` makes an animation.
pub(crate) fn applies(spec: &OutputSpec, info: &ImageInfo) -> bool {
    spec.anim
        && info.frames > 1
        && match info.format {
            ImageFormat::Gif | ImageFormat::WebP => true,
            #[cfg(feature = "jxl")]
            ImageFormat::Jxl => true,
            _ => false,
        }
}

/// The loop count of an animated GIF or WebP: 0 = forever.
pub(crate) fn loop_count(format: ImageFormat, b: &[u8]) -> u16 {
    match format {
        ImageFormat::WebP => {
            let mut i = 12usize;
            while i + 8 <= b.len() {
                let len = u32::from_le_bytes([b[i + 4], b[i + 5], b[i + 6], b[i + 7]]) as usize;
                if &b[i..i + 4] == b"ANIM" {
                    return b
                        .get(i + 12..i + 14)
                        .map_or(0, |v| u16::from_le_bytes([v[0], v[1]]));
                }
                i = i
                    .saturating_add(8)
                    .saturating_add(len)
                    .saturating_add(len & 1);
            }
            0
        }
        ImageFormat::Gif => {
            // The application extension sits between the header and the first image.
            let mut i = 13usize;
            if let Some(&flags) = b.get(10) {
                if flags & 0x80 != 0 {
                    i += 3 << ((flags & 7) + 1);
                }
            }
            while let Some(&block) = b.get(i) {
                if block != 0x21 {
                    break;
                }
                let label = b.get(i + 1).copied();
                let first = i + 2;
                if label == Some(0xFF)
                    && b.get(first) == Some(&11)
                    && b.get(first + 1..first + 12) == Some(b"NETSCAPE2.0".as_slice())
                {
                    if let Some(sub) = b.get(first + 12..first + 16) {
                        if sub[0] == 3 && sub[1] == 1 {
                            // GIF counts repeats after the first play, WebP plays (as
                            // libwebp's gif2webp converts it); 0 is forever in both.
                            let n = u16::from_le_bytes([sub[2], sub[3]]);
                            return if n == 0 { 0 } else { n.saturating_add(1) };
                        }
                    }
                }
                // Skip this extension's sub-blocks.
                let mut j = first;
                loop {
                    match b.get(j) {
                        Some(0) => {
                            i = j + 1;
                            break;
                        }
                        Some(&n) => j += 1 + usize::from(n),
                        None => return 1,
                    }
                }
            }
            1
        }
        _ => 0,
    }
}

/// Bytes an animated render holds besides the input: the decoder's canvases (the image
/// being composed, the previous one, the frame) and, per output, the resized frame and the
/// encoder's frames (libwebp keeps the previous canvas, the candidate sub-frames and their
/// encodings: about eight of the output's size).
pub(crate) fn needed_bytes(info: &ImageInfo, geoms: &[Geometry]) -> u64 {
    let canvas = u64::from(info.width) * u64::from(info.height) * 4;
    let outputs: u64 = geoms
        .iter()
        .map(|g| {
            let (w, h) = g.output_size();
            u64::from(w) * u64::from(h) * 4 * 9
        })
        .sum();
    canvas * 3 + outputs
}

/// Check the work and memory an animated render of `info` needs, from the header.
pub(crate) fn check_limits(info: &ImageInfo, geoms: &[Geometry], limits: &Limits) -> Result<()> {
    let work = u64::from(info.frames) * u64::from(info.width) * u64::from(info.height);
    Limits::check("frames x pixels", work, limits.max_animation_pixels)?;
    Limits::check(
        "decoded bytes",
        needed_bytes(info, geoms),
        limits.max_decoded_bytes,
    )
}

/// An animation's frames, composed, in order.
pub(crate) type Frames<'a> = Box<dyn Iterator<Item = image::ImageResult<Frame>> + 'a>;

fn frames<'a>(bytes: &'a [u8], format: ImageFormat, limits: &Limits) -> Result<Frames<'a>> {
    let l = crate::probe::image_limits(limits);
    let err = |e| Error::from_image(format, e);
    Ok(match format {
        ImageFormat::Gif => {
            let mut d = image::codecs::gif::GifDecoder::new(Cursor::new(bytes)).map_err(err)?;
            image::ImageDecoder::set_limits(&mut d, l).map_err(err)?;
            Box::new(d.into_frames())
        }
        ImageFormat::WebP => {
            let mut d = image::codecs::webp::WebPDecoder::new(Cursor::new(bytes)).map_err(err)?;
            image::ImageDecoder::set_limits(&mut d, l).map_err(err)?;
            Box::new(d.into_frames())
        }
        other => return Err(Error::Unsupported(format!("{other} animation"))),
    })
}

/// Render the animated outputs `specs` (with their geometries) of `bytes`; returns each
/// rendition and the first resized frame of each (for the thumbhash). Run it under
/// `jpeg::guarded`, as every decode.
pub(crate) fn render(
    bytes: &[u8],
    info: &ImageInfo,
    ctx: &Ctx<'_>,
    specs: &[(&OutputSpec, &Geometry)],
    limits: &Limits,
) -> Result<Vec<(Rendition, DynamicImage)>> {
    // No profile travels with animated output: pixels are always converted to sRGB.
    let plain: Vec<OutputSpec> = specs
        .iter()
        .map(|(s, _)| OutputSpec {
            keep_metadata: false,
            ..(*s).clone()
        })
        .collect();
    let (loops, frames) = match info.format {
        #[cfg(feature = "jxl")]
        ImageFormat::Jxl => crate::jxl::animation(bytes, limits.max_decoded_bytes)?,
        format => (loop_count(format, bytes), frames(bytes, format, limits)?),
    };
    let mut encoders = specs
        .iter()
        .map(|(spec, g)| {
            let (w, h) = g.output_size();
            let q = spec.effective_quality(ImageFormat::WebP);
            AnimWriter::new(w, h, f32::from(q), spec.lossless, loops)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut first: Vec<Option<DynamicImage>> = vec![None; specs.len()];
    let mut ts: i64 = 0;
    let mut count = 0u32;
    for frame in frames {
        let frame = frame.map_err(|e| Error::from_image(info.format, e))?;
        count += 1;
        if count > limits.max_frames {
            return Err(Error::LimitExceeded {
                what: "frames",
                actual: u64::from(count),
                limit: u64::from(limits.max_frames),
            });
        }
        let (n, d) = frame.delay().numer_denom_ms();
        let delay = i64::from(n) / i64::from(d.max(1));
        let canvas = DynamicImage::ImageRgba8(frame.into_buffer());
        let stamp = i32::try_from(ts)
            .map_err(|_| Error::corrupt(info.format, "the animation is longer than 24 days"))?;
        for (i, ((spec, (_, g)), enc)) in
            plain.iter().zip(specs).zip(encoders.iter_mut()).enumerate()
        {
            let (img, _) = crate::render::resize_one(&canvas, ctx, spec, g)?;
            let rgba = img.into_rgba8();
            enc.add(&rgba, stamp)?;
            if first[i].is_none() {
                first[i] = Some(DynamicImage::ImageRgba8(rgba));
            }
        }
        ts += delay;
    }
    if count == 0 {
        return Err(Error::corrupt(info.format, "no frame could be decoded"));
    }
    let end = i32::try_from(ts).unwrap_or(i32::MAX);
    let mut out = Vec::with_capacity(specs.len());
    for (((spec, g), enc), px) in specs.iter().zip(encoders).zip(first) {
        let bytes = enc.finish(end)?;
        let (w, h) = g.output_size();
        out.push((
            Rendition {
                spec: spec.to_spec_string(),
                width: w,
                height: h,
                format: ImageFormat::WebP,
                mime_type: ImageFormat::WebP.mime_type(),
                size: bytes.len(),
                fitted_to_format: false,
                bytes,
            },
            px.unwrap_or_else(|| DynamicImage::new_rgba8(w, h)),
        ));
    }
    Ok(out)
}

/// libwebp's animation encoder, fed one frame at a time.
struct AnimWriter {
    enc: *mut libwebp_sys::WebPAnimEncoder,
    config: libwebp_sys::WebPConfig,
    width: u32,
    height: u32,
}

// The encoder is used from one thread at a time (owned, not shared).
unsafe impl Send for AnimWriter {}

fn encode_error(what: impl std::fmt::Display) -> Error {
    Error::encode(ImageFormat::WebP, format!("animation: {what}"))
}

impl AnimWriter {
    fn new(width: u32, height: u32, quality: f32, lossless: bool, loops: u16) -> Result<Self> {
        use libwebp_sys as w;
        if width > 16383 || height > 16383 {
            return Err(encode_error(format!(
                "{width}x{height} is larger than WebP's 16383x16383"
            )));
        }
        let mut config =
            w::WebPConfig::new_with_preset(w::WebPPreset::WEBP_PRESET_DEFAULT, quality)
                .map_err(|_| encode_error("libwebp rejected the configuration"))?;
        config.lossless = i32::from(lossless);
        // SAFETY: the options struct is plain data, initialised by libwebp before use; the
        // encoder pointer is checked and owned by the returned value (freed in Drop).
        unsafe {
            let mut opts = std::mem::MaybeUninit::<w::WebPAnimEncoderOptions>::zeroed();
            if w::WebPAnimEncoderOptionsInitInternal(opts.as_mut_ptr(), w::WebPGetMuxABIVersion())
                == 0
            {
                return Err(encode_error("libwebp options version mismatch"));
            }
            let mut opts = opts.assume_init();
            opts.anim_params.loop_count = i32::from(loops);
            opts.anim_params.bgcolor = 0x0000_0000; // transparent
            let enc = w::WebPAnimEncoderNewInternal(
                width as i32,
                height as i32,
                &opts,
                w::WebPGetMuxABIVersion(),
            );
            if enc.is_null() {
                return Err(encode_error("libwebp could not create the encoder"));
            }
            Ok(AnimWriter {
                enc,
                config,
                width,
                height,
            })
        }
    }

    /// Add one frame (RGBA, the output's size) shown from `timestamp` ms.
    fn add(&mut self, rgba: &image::RgbaImage, timestamp: i32) -> Result<()> {
        use libwebp_sys as w;
        if rgba.dimensions() != (self.width, self.height) {
            return Err(encode_error("a frame of another size"));
        }
        let mut pic = w::WebPPicture::new().map_err(|_| encode_error("picture init"))?;
        pic.use_argb = 1;
        pic.width = self.width as i32;
        pic.height = self.height as i32;
        // SAFETY: `pic` is initialised; ImportRGBA copies `rgba` (stride width*4) into its own
        // buffer, freed by WebPPictureFree below whatever the outcome.
        unsafe {
            let ok = w::WebPPictureImportRGBA(&mut pic, rgba.as_ptr(), (self.width * 4) as i32);
            if ok == 0 {
                w::WebPPictureFree(&mut pic);
                return Err(encode_error("out of memory importing a frame"));
            }
            let ok = w::WebPAnimEncoderAdd(self.enc, &mut pic, timestamp, &self.config);
            w::WebPPictureFree(&mut pic);
            if ok == 0 {
                return Err(encode_error(self.last_error()));
            }
        }
        Ok(())
    }

    fn last_error(&self) -> String {
        // SAFETY: the encoder is live; libwebp returns a static or encoder-owned C string.
        unsafe {
            let p = libwebp_sys::WebPAnimEncoderGetError(self.enc);
            if p.is_null() {
                "unknown error".into()
            } else {
                std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        }
    }

    /// Close the animation at `end` ms (the last frame's end) and assemble the file.
    fn finish(self, end: i32) -> Result<Vec<u8>> {
        use libwebp_sys as w;
        // SAFETY: a null frame with the end time flushes the encoder; the assembled data is
        // copied out and freed with WebPDataClear.
        unsafe {
            if w::WebPAnimEncoderAdd(self.enc, std::ptr::null_mut(), end, std::ptr::null()) == 0 {
                return Err(encode_error(self.last_error()));
            }
            let mut data = std::mem::MaybeUninit::<w::WebPData>::zeroed().assume_init();
            if w::WebPAnimEncoderAssemble(self.enc, &mut data) == 0 {
                return Err(encode_error(self.last_error()));
            }
            let out = std::slice::from_raw_parts(data.bytes, data.size).to_vec();
            w::WebPDataClear(&mut data);
            Ok(out)
        }
    }
}

impl Drop for AnimWriter {
    fn drop(&mut self) {
        // SAFETY: created by WebPAnimEncoderNewInternal, deleted once.
        unsafe { libwebp_sys::WebPAnimEncoderDelete(self.enc) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gif_loop_counts_come_from_the_netscape_extension() {
        let mut gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00".to_vec();
        assert_eq!(
            loop_count(ImageFormat::Gif, &gif),
            1,
            "no extension: plays once"
        );
        gif.extend_from_slice(b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x05\x00\x00");
        assert_eq!(loop_count(ImageFormat::Gif, &gif), 6, "5 repeats: 6 plays");
        let forever = [&gif[..13], b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"].concat();
        assert_eq!(loop_count(ImageFormat::Gif, &forever), 0);
        // A comment extension first, then the loop.
        let after = [&gif[..13], b"\x21\xfe\x02hi\x00", &gif[13..]].concat();
        assert_eq!(loop_count(ImageFormat::Gif, &after), 6);
    }

    #[test]
    fn webp_loop_count_comes_from_the_anim_chunk() {
        let mut w = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\x02\0\0\0\0\0\0\0\0\0".to_vec();
        w.extend_from_slice(b"ANIM\x06\0\0\0\xff\xff\xff\xff\x03\x00");
        assert_eq!(loop_count(ImageFormat::WebP, &w), 3);
    }
}
