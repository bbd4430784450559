//! JPEG XL input through jxl-oxide (pure Rust), as an `image` decoder so that the rest of
//! the pipeline (limits, resize, encode) treats it like any other format.
//!
//! - Colour: an image stored in XYB (lossy JPEG XL) or in an enumerated colour space is
//!   rendered to sRGB by jxl-oxide; HDR ones (PQ, HLG) are tone-mapped to SDR by its own
//!   operator on the way. An image stored in the space of an embedded ICC profile (lossless
//!   JPEG XL keeps the original's) comes out in that space with the profile, and the
//!   pipeline converts it like any other tagged input (moxcms).
//! - The codestream's orientation is applied by the decoder: dimensions are as displayed,
//!   and the pipeline must not rotate again (an `Exif` box is not read: the codestream's
//!   field is authoritative for JPEG XL).
//! - Samples are 8-bit when the image is 8-bit or less, else 16-bit.
//! - Animations: the first keyframe is the image; with `anim`, every keyframe as the
//!   decoder composes it, with its duration converted from ticks to milliseconds and the
//!   header's loop count ([`animation`]).
//! - Every allocation of the decoder is counted against the memory limit (jxl-oxide's
//!   `AllocTracker`): past it, decoding fails instead of allocating.

use crate::format::ImageFormat;
use crate::{Error, Result};
use image::{ColorType, DynamicImage, ImageBuffer, ImageDecoder, ImageResult};
use jxl_oxide::{AllocTracker, EnumColourEncoding, JxlImage, PixelFormat, RenderingIntent};

const FMT: ImageFormat = ImageFormat::Jxl;

/// A JPEG XL image with its header read.
pub(crate) struct JxlDecoder {
    image: JxlImage,
    color: ColorType,
    /// The embedded ICC profile, as found (for its description).
    pub original_icc: Option<Vec<u8>>,
    /// The profile of the pixels handed over, when they are not sRGB.
    pub pixels_icc: Option<Vec<u8>>,
    /// Codestream orientation, 1–8 (already applied to the pixels).
    pub orientation: u8,
    /// Keyframes in the file (an animation has more than one).
    pub frames: u32,
}

fn error(e: impl std::fmt::Display) -> Error {
    let reason = e.to_string();
    let lower = reason.to_ascii_lowercase();
    if lower.contains("eof")
        || lower.contains("end of")
        || lower.contains("not loaded")
        || lower.contains("more data")
        || lower.contains("incomplete")
    {
        Error::Truncated {
            format: FMT,
            reason,
        }
    } else if lower.contains("allocation") || lower.contains("out of memory") {
        Error::DecoderLimit(format!("JPEG XL: {reason}"))
    } else {
        Error::corrupt(FMT, reason)
    }
}

impl JxlDecoder {
    /// Read the header (and the ICC profile) of `bytes`; `max_memory` bounds what the
    /// decoder may allocate, now and when rendering.
    pub(crate) fn new(bytes: &[u8], max_memory: u64) -> Result<Self> {
        crate::jpeg::guarded(FMT, false, || {
            let tracker =
                AllocTracker::with_limit(usize::try_from(max_memory).unwrap_or(usize::MAX));
            let mut image = JxlImage::builder()
                .alloc_tracker(tracker)
                .read(std::io::Cursor::new(bytes))
                .map_err(error)?;
            if !image.is_loading_done() || image.num_loaded_keyframes() == 0 {
                return Err(Error::Truncated {
                    format: FMT,
                    reason: "the file ends before the first frame".into(),
                });
            }
            let original_icc = image.original_icc().map(<[u8]>::to_vec);
            let orientation = u8::try_from(image.image_header().metadata.orientation)
                .ok()
                .filter(|o| (1..=8).contains(o))
                .unwrap_or(1);
            let frames = u32::try_from(image.num_loaded_keyframes()).unwrap_or(u32::MAX);
            let pixels_icc = original_icc
                .clone()
                .filter(|_| !image.image_header().metadata.xyb_encoded);
            if pixels_icc.is_none() {
                image.set_cms(jxl_oxide::Moxcms);
                image.request_color_encoding(EnumColourEncoding::srgb(RenderingIntent::Relative));
            }
            let deep = image.image_header().metadata.bit_depth.bits_per_sample() > 8;
            let color = match (image.pixel_format(), deep) {
                (PixelFormat::Gray, false) => ColorType::L8,
                (PixelFormat::Gray, true) => ColorType::L16,
                (PixelFormat::Graya, false) => ColorType::La8,
                (PixelFormat::Graya, true) => ColorType::La16,
                (PixelFormat::Rgb, false) => ColorType::Rgb8,
                (PixelFormat::Rgb, true) => ColorType::Rgb16,
                (PixelFormat::Rgba, false) => ColorType::Rgba8,
                (PixelFormat::Rgba, true) => ColorType::Rgba16,
                (other, _) => {
                    return Err(Error::Unsupported(format!(
                        "JPEG XL with {other:?} pixels (CMYK) is not decoded by this build"
                    )))
                }
            };
            Ok(JxlDecoder {
                image,
                color,
                original_icc,
                pixels_icc,
                orientation,
                frames,
            })
        })
    }
}

/// An animated JPEG XL for [`crate::anim`]: its loop count (0 = forever) and each
/// keyframe, composed by the decoder (blending and reference frames applied), oriented,
/// in sRGB, as RGBA8 with its delay.
pub(crate) fn animation(
    bytes: &[u8],
    max_memory: u64,
) -> Result<(u16, crate::anim::Frames<'static>)> {
    let mut d = JxlDecoder::new(bytes, max_memory)?;
    let mut image = d.image;
    if d.pixels_icc.take().is_some() {
        image.set_cms(jxl_oxide::Moxcms);
        image.request_color_encoding(EnumColourEncoding::srgb(RenderingIntent::Relative));
    }
    let anim = image.image_header().metadata.animation.as_ref();
    let loops = anim.map_or(0, |a| u16::try_from(a.num_loops).unwrap_or(u16::MAX));
    // Ticks per second: numerator / denominator.
    let (tps_num, tps_den) = anim.map_or((1000, 1), |a| (a.tps_numerator, a.tps_denominator));
    // The channels the frames are written with, after the sRGB request (a grey image with
    // a profile may become RGB).
    let channels = match image.pixel_format() {
        PixelFormat::Gray => 1,
        PixelFormat::Graya => 2,
        PixelFormat::Rgb => 3,
        PixelFormat::Rgba => 4,
        other => {
            return Err(Error::Unsupported(format!(
                "JPEG XL with {other:?} pixels (CMYK) is not decoded by this build"
            )))
        }
    };
    let (w, h) = (image.width(), image.height());
    let n = image.num_loaded_keyframes();
    let to_image = |e: Error| {
        image::ImageError::Decoding(image::error::DecodingError::new(
            image::error::ImageFormatHint::Name("JPEG XL".into()),
            e.to_string(),
        ))
    };
    Ok((
        loops,
        Box::new((0..n).map(move |i| {
            let render = image.render_frame(i).map_err(|e| to_image(error(e)))?;
            let mut buf = vec![0u8; w as usize * h as usize * channels];
            let written = render.stream().write_to_buffer(&mut buf);
            if written != buf.len() {
                return Err(to_image(Error::corrupt(FMT, "a frame of another size")));
            }
            let rgba = match channels {
                1 => DynamicImage::ImageLuma8(ImageBuffer::from_raw(w, h, buf).unwrap_or_default()),
                2 => {
                    DynamicImage::ImageLumaA8(ImageBuffer::from_raw(w, h, buf).unwrap_or_default())
                }
                3 => DynamicImage::ImageRgb8(ImageBuffer::from_raw(w, h, buf).unwrap_or_default()),
                _ => DynamicImage::ImageRgba8(ImageBuffer::from_raw(w, h, buf).unwrap_or_default()),
            }
            .into_rgba8();
            // Ticks to milliseconds, as a ratio.
            let ms_num = u64::from(render.duration()) * 1000 * u64::from(tps_den);
            let ms_den = u64::from(tps_num.max(1));
            let delay = image::Delay::from_numer_denom_ms(
                u32::try_from(ms_num / ms_den).unwrap_or(u32::MAX),
                1,
            );
            Ok(image::Frame::from_parts(rgba, 0, 0, delay))
        })),
    ))
}

impl ImageDecoder for JxlDecoder {
    fn dimensions(&self) -> (u32, u32) {
        (self.image.width(), self.image.height())
    }

    fn color_type(&self) -> ColorType {
        self.color
    }

    fn icc_profile(&mut self) -> ImageResult<Option<Vec<u8>>> {
        Ok(self.pixels_icc.clone())
    }

    fn read_image(self, buf: &mut [u8]) -> ImageResult<()> {
        let to_image = |e: Error| {
            image::ImageError::Decoding(image::error::DecodingError::new(
                image::error::ImageFormatHint::Name("JPEG XL".into()),
                e.to_string(),
            ))
        };
        let render = self.image.render_frame(0).map_err(|e| to_image(error(e)))?;
        let mut stream = render.stream();
        let samples = buf.len() / usize::from(self.color.bytes_per_pixel())
            * usize::from(self.color.channel_count());
        let written = if self.color.bytes_per_pixel() / self.color.channel_count() == 2 {
            let mut wide = vec![0u16; samples];
            let n = stream.write_to_buffer(&mut wide);
            for (dst, v) in buf.chunks_exact_mut(2).zip(&wide) {
                dst.copy_from_slice(&v.to_ne_bytes());
            }
            n
        } else {
            stream.write_to_buffer(buf)
        };
        if written != samples {
            return Err(to_image(Error::corrupt(
                FMT,
                format!("the decoder wrote {written} of {samples} samples"),
            )));
        }
        Ok(())
    }

    fn read_image_boxed(self: Box<Self>, buf: &mut [u8]) -> ImageResult<()> {
        (*self).read_image(buf)
    }
}
