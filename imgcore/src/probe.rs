//! Header-only inspection: what an image is, without decoding its pixels.

use crate::format::ImageFormat;
use crate::jpeg::{self, JpegHeader};
use crate::{Error, Limits, Result};
use image::ImageDecoder;
use serde::Serialize;
use std::io::Cursor;

/// How the source stores colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ColorModel {
    /// One channel.
    Gray,
    /// Red, green, blue (palette images count as RGB).
    Rgb,
    /// Cyan, magenta, yellow, black (JPEG CMYK or YCCK).
    Cmyk,
}

/// What a header says about an image. Dimensions are as displayed (after EXIF orientation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageInfo {
    /// Container format, from the magic bytes.
    pub format: ImageFormat,
    /// Displayed width (stored height for orientations 5–8).
    pub width: u32,
    /// Displayed height.
    pub height: u32,
    /// EXIF orientation, 1–8 (1 when absent).
    pub orientation: u8,
    /// Whether there is an alpha channel.
    pub has_alpha: bool,
    /// Bits per channel (8 or 16).
    pub bit_depth: u8,
    /// Colour model of the stored pixels.
    pub color_model: ColorModel,
    /// Description of the embedded ICC profile, if any (`"Display P3"`, …).
    pub icc_profile: Option<String>,
    /// Frames in the file (animated GIF/WebP); the first is rendered, or all with `anim`.
    pub frames: u32,
    /// Progressive (JPEG) or interlaced (PNG, GIF) storage.
    pub progressive: bool,
    /// Size of the input in bytes.
    pub bytes: u64,
}

/// Read the header of `bytes` and describe the image, decoding no pixels.
///
/// Default [`Limits`] are checked (dimensions, frames); use [`probe_with_limits`] to choose.
pub fn probe(bytes: &[u8]) -> Result<ImageInfo> {
    probe_with_limits(bytes, &Limits::default())
}

/// [`probe`] with explicit limits.
pub fn probe_with_limits(bytes: &[u8], limits: &Limits) -> Result<ImageInfo> {
    Ok(open(bytes, limits)?.info)
}

/// Everything learnt from the header, plus what decode needs.
pub(crate) struct Opened<'a> {
    pub info: ImageInfo,
    pub stored_width: u32,
    pub stored_height: u32,
    pub icc: Option<Vec<u8>>,
    pub exif: Option<Vec<u8>>,
    pub source: Source<'a>,
    /// The decoder applies `info.orientation` itself (JPEG XL): the stored size is the
    /// displayed one and the pipeline must not rotate again.
    pub decoder_orients: bool,
}

pub(crate) enum Source<'a> {
    Jpeg(JpegHeader),
    #[cfg(feature = "heic")]
    Heic(Box<crate::heic::HeicHeader>),
    #[cfg(feature = "avif")]
    Avif(Box<crate::avif::AvifHeader>),
    Other(Box<dyn ImageDecoder + 'a>),
}

pub(crate) fn sniff(bytes: &[u8]) -> Result<ImageFormat> {
    if bytes.is_empty() {
        return Err(Error::Unsupported("the input is empty (0 bytes)".into()));
    }
    let format = ImageFormat::sniff(bytes).ok_or_else(|| {
        Error::Unsupported(
            "not a recognised image (no JPEG, PNG, WebP, GIF, TIFF, BMP, JPEG XL, AVIF or HEIC signature)"
                .into(),
        )
    })?;
    if !format.can_decode() {
        return Err(Error::Unsupported(format!(
            "{} input is recognised but not decoded by this build",
            format.name().to_uppercase()
        )));
    }
    Ok(format)
}

/// Bits per channel of a decoder's colour type.
fn bits_per_channel(ct: image::ColorType) -> u8 {
    (ct.bits_per_pixel() / u16::from(ct.channel_count())) as u8
}

/// The colour model of a decoder's colour type.
fn color_model(ct: image::ColorType) -> ColorModel {
    if ct.has_color() {
        ColorModel::Rgb
    } else {
        ColorModel::Gray
    }
}

fn orientation_from_exif(exif: Option<&[u8]>) -> u8 {
    exif.map_or(1, crate::ifd::exif_orientation)
}

/// An EXIF block as a TIFF structure: without the `Exif\0\0` prefix that some writers
/// leave in WebP and PNG chunks, and `None` when it is not a TIFF structure at all.
fn clean_exif(exif: Vec<u8>) -> Option<Vec<u8>> {
    crate::ifd::Tiff::new(&exif)?;
    let body = crate::ifd::strip_exif_prefix(&exif);
    Some(if body.len() == exif.len() {
        exif
    } else {
        body.to_vec()
    })
}

pub(crate) fn image_limits(limits: &Limits) -> image::Limits {
    let mut l = image::Limits::default();
    l.max_image_width = Some(limits.max_width);
    l.max_image_height = Some(limits.max_height);
    l.max_alloc = Some(limits.max_decoded_bytes.saturating_add(16 << 20));
    l
}

fn decoder<'a, R: std::io::BufRead + std::io::Seek + 'a>(
    r: R,
    format: ImageFormat,
    fmt: image::ImageFormat,
    limits: &Limits,
) -> Result<Box<dyn ImageDecoder + 'a>> {
    let mut reader = image::ImageReader::with_format(r, fmt);
    reader.limits(image_limits(limits));
    let dec = reader
        .into_decoder()
        .map_err(|e| Error::from_image(format, e))?;
    Ok(Box::new(dec))
}

pub(crate) fn open<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Opened<'a>> {
    limits.check_input(bytes.len())?;
    let format = sniff(bytes)?;
    if format == ImageFormat::Jpeg {
        let hdr = jpeg::read_header(bytes)?;
        limits.check_header(hdr.width, hdr.height, 1)?;
        let orientation = orientation_from_exif(hdr.exif.as_deref());
        let (w, h) = oriented(hdr.width, hdr.height, orientation);
        let info = ImageInfo {
            format,
            width: w,
            height: h,
            orientation,
            has_alpha: false,
            bit_depth: 8,
            color_model: match hdr.components {
                1 => ColorModel::Gray,
                4 => ColorModel::Cmyk,
                _ => ColorModel::Rgb,
            },
            icc_profile: hdr.icc.as_deref().and_then(crate::color::icc_description),
            frames: 1,
            progressive: hdr.progressive,
            bytes: bytes.len() as u64,
        };
        return Ok(Opened {
            info,
            stored_width: hdr.width,
            stored_height: hdr.height,
            icc: hdr.icc.clone(),
            exif: hdr.exif.clone(),
            source: Source::Jpeg(hdr),
            decoder_orients: false,
        });
    }

    // Frame counts and container facts the generic decoders do not report.
    let (frames, progressive) = match format {
        ImageFormat::Gif => crate::container::gif_frames(bytes)?,
        ImageFormat::WebP => (crate::container::webp_frames(bytes)?, false),
        ImageFormat::Png => (1, bytes.get(28) == Some(&1)),
        _ => (1, false),
    };
    #[cfg(feature = "jxl")]
    if format == ImageFormat::Jxl {
        return open_jxl(bytes, limits);
    }
    #[cfg(feature = "heic")]
    if format == ImageFormat::Heic {
        return open_heic(bytes, limits);
    }
    #[cfg(feature = "avif")]
    if format == ImageFormat::Avif {
        return open_avif(bytes, limits);
    }
    let fmt = match format {
        ImageFormat::Png => image::ImageFormat::Png,
        ImageFormat::Gif => image::ImageFormat::Gif,
        ImageFormat::WebP => image::ImageFormat::WebP,
        ImageFormat::Tiff => image::ImageFormat::Tiff,
        ImageFormat::Bmp => image::ImageFormat::Bmp,
        other => return Err(Error::Unsupported(format!("{other} input"))),
    };
    if format == ImageFormat::Png {
        crate::container::png_check_ihdr(bytes)?;
        crate::container::png_check_plte(bytes)?;
    }
    if format == ImageFormat::Tiff {
        if let Some(why) = crate::ifd::tiff_unreadable(bytes) {
            return Err(Error::Unsupported(format!(
                "{why} is not decoded by this build"
            )));
        }
    }
    // Dimensions first, from fixed header offsets, so limits hold before any decoder state
    // is built.
    if let Some((w, h)) = crate::container::declared_size(format, bytes) {
        limits.check_header(w, h, frames)?;
    }
    let mut dec = match (format == ImageFormat::Png)
        .then(|| crate::container::png_bad_iccp(bytes))
        .flatten()
    {
        // A profile that inflates past the cap (or not at all) is dropped, not decoded.
        Some(cut) => {
            let mut owned = Vec::with_capacity(bytes.len() - cut.len());
            owned.extend_from_slice(&bytes[..cut.start]);
            owned.extend_from_slice(&bytes[cut.end..]);
            decoder(Cursor::new(owned), format, fmt, limits)?
        }
        None => decoder(Cursor::new(bytes), format, fmt, limits)
            .map_err(|e| with_tiff_layout(e, format, bytes))?,
    };
    let (sw, sh) = dec.dimensions();
    if sw == 0 || sh == 0 {
        return Err(Error::corrupt(format, format!("image size {sw}x{sh}")));
    }
    limits.check_header(sw, sh, frames)?;
    let icc = dec.icc_profile().ok().flatten().filter(|p| !p.is_empty());
    let exif = dec.exif_metadata().ok().flatten().and_then(clean_exif);
    // A TIFF keeps Orientation in its own first IFD (the `image` TIFF decoder reports no
    // EXIF block); every other format in its EXIF block.
    let orientation = if format == ImageFormat::Tiff {
        crate::ifd::exif_orientation(bytes)
    } else {
        orientation_from_exif(exif.as_deref())
    };
    let ct = dec.color_type();
    let (w, h) = oriented(sw, sh, orientation);
    let info = ImageInfo {
        format,
        width: w,
        height: h,
        orientation,
        has_alpha: ct.has_alpha(),
        bit_depth: bits_per_channel(ct),
        color_model: color_model(ct),
        icc_profile: icc.as_deref().and_then(crate::color::icc_description),
        frames,
        progressive,
        bytes: bytes.len() as u64,
    };
    Ok(Opened {
        info,
        stored_width: sw,
        stored_height: sh,
        icc,
        exif,
        source: Source::Other(dec),
        decoder_orients: false,
    })
}

/// JPEG XL: the header through jxl-oxide; limits checked before any frame is rendered.
#[cfg(feature = "jxl")]
fn open_jxl<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Opened<'a>> {
    let dec = crate::jxl::JxlDecoder::new(bytes, limits.max_decoded_bytes)?;
    let (w, h) = dec.dimensions();
    if w == 0 || h == 0 {
        return Err(Error::corrupt(
            ImageFormat::Jxl,
            format!("image size {w}x{h}"),
        ));
    }
    limits.check_header(w, h, dec.frames)?;
    let ct = dec.color_type();
    let info = ImageInfo {
        format: ImageFormat::Jxl,
        width: w,
        height: h,
        orientation: dec.orientation,
        has_alpha: ct.has_alpha(),
        bit_depth: bits_per_channel(ct),
        color_model: color_model(ct),
        icc_profile: dec
            .original_icc
            .as_deref()
            .and_then(crate::color::icc_description),
        frames: dec.frames,
        progressive: false,
        bytes: bytes.len() as u64,
    };
    Ok(Opened {
        info,
        stored_width: w,
        stored_height: h,
        // sRGB pixels, or the embedded profile's (converted by the pipeline).
        icc: dec.pixels_icc.clone(),
        exif: None,
        source: Source::Other(Box::new(dec)),
        decoder_orients: true,
    })
}

/// HEIC/HEIF: the container and parameter sets; limits checked before any tile is decoded.
#[cfg(feature = "heic")]
fn open_heic<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Opened<'a>> {
    let (hdr, w, h) =
        crate::jpeg::guarded(ImageFormat::Heic, false, || crate::heic::read_header(bytes))?;
    // One frame is decoded, whatever a sequence holds.
    limits.check_header(hdr.stored_width, hdr.stored_height, 1)?;
    Limits::check(
        "coded pixels",
        hdr.coded_pixels,
        limits.max_pixels.saturating_mul(2),
    )?;
    let info = ImageInfo {
        format: ImageFormat::Heic,
        width: w,
        height: h,
        orientation: hdr.orientation,
        has_alpha: hdr.alpha,
        bit_depth: if hdr.bit_depth > 8 { 16 } else { 8 },
        color_model: if hdr.mono && hdr.hdr.is_none() {
            ColorModel::Gray
        } else {
            ColorModel::Rgb
        },
        icc_profile: hdr
            .original_icc
            .as_deref()
            .and_then(crate::color::icc_description),
        frames: hdr.frames,
        progressive: false,
        bytes: bytes.len() as u64,
    };
    Ok(Opened {
        info,
        stored_width: hdr.stored_width,
        stored_height: hdr.stored_height,
        icc: hdr.icc.clone(),
        exif: hdr.exif.clone(),
        decoder_orients: hdr.decoder_orients,
        source: Source::Heic(Box::new(hdr)),
    })
}

/// AVIF: the container and the AV1 sequence headers; limits checked before decoding.
#[cfg(feature = "avif")]
fn open_avif<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Opened<'a>> {
    let hdr = crate::jpeg::guarded(ImageFormat::Avif, false, || crate::avif::read_header(bytes))?;
    // One frame is decoded, whatever a sequence holds.
    limits.check_header(hdr.width, hdr.height, 1)?;
    let (w, h) = oriented(hdr.width, hdr.height, hdr.orientation);
    let info = ImageInfo {
        format: ImageFormat::Avif,
        width: w,
        height: h,
        orientation: hdr.orientation,
        has_alpha: hdr.alpha,
        bit_depth: if hdr.bit_depth > 8 { 16 } else { 8 },
        color_model: if hdr.layout == crate::avif::Layout::Mono && hdr.hdr.is_none() && !hdr.alpha {
            ColorModel::Gray
        } else {
            ColorModel::Rgb
        },
        icc_profile: hdr
            .original_icc
            .as_deref()
            .and_then(crate::color::icc_description),
        frames: hdr.frames,
        progressive: false,
        bytes: bytes.len() as u64,
    };
    Ok(Opened {
        info,
        stored_width: hdr.width,
        stored_height: hdr.height,
        icc: hdr.icc.clone(),
        exif: None,
        decoder_orients: false,
        source: Source::Avif(Box::new(hdr)),
    })
}

/// Add the TIFF's layout to an `unsupported` error, so the message says what the file
/// is (e.g. "JPEG YCbCr, tiled, 3 samples per pixel") rather than only what failed.
pub(crate) fn with_tiff_layout(e: Error, format: ImageFormat, bytes: &[u8]) -> Error {
    match (format, e) {
        (ImageFormat::Tiff, Error::Unsupported(m)) => match crate::ifd::tiff_layout(bytes) {
            Some(layout) => Error::Unsupported(format!("{m} (this TIFF is {layout})")),
            None => Error::Unsupported(m),
        },
        (_, e) => e,
    }
}

pub(crate) fn oriented(w: u32, h: u32, orientation: u8) -> (u32, u32) {
    if crate::geometry::swaps_axes(orientation) {
        (h, w)
    } else {
        (w, h)
    }
}
