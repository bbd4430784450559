//! Encoders: JPEG (mozjpeg, libjpeg-turbo settings), PNG (image/png), WebP (libwebp),
//! AVIF (rav1e, or libaom with the `aom` feature, in `avif_enc`).

use crate::format::ImageFormat;
use crate::spec::OutputSpec;
use crate::{Error, Result};
use image::{DynamicImage, ImageEncoder};

/// Composite an image with alpha over white and drop the alpha channel (for JPEG).
fn flatten_on_white(img: DynamicImage) -> DynamicImage {
    fn over_white(c: u8, a: u8) -> u8 {
        let (c, a) = (u32::from(c), u32::from(a));
        ((c * a + 255 * (255 - a) + 127) / 255) as u8
    }
    match img {
        DynamicImage::ImageLumaA8(b) => {
            let (w, h) = b.dimensions();
            let px = b.pixels().map(|p| over_white(p.0[0], p.0[1])).collect();
            DynamicImage::ImageLuma8(image::GrayImage::from_raw(w, h, px).expect("sizes match"))
        }
        DynamicImage::ImageRgba8(b) => {
            let (w, h) = b.dimensions();
            let mut px = Vec::with_capacity((w as usize) * (h as usize) * 3);
            for p in b.pixels() {
                let a = p.0[3];
                px.extend([
                    over_white(p.0[0], a),
                    over_white(p.0[1], a),
                    over_white(p.0[2], a),
                ]);
            }
            DynamicImage::ImageRgb8(image::RgbImage::from_raw(w, h, px).expect("sizes match"))
        }
        other => other,
    }
}

/// Reduce 16-bit and float images to 8 bits, keeping gray and alpha.
pub(crate) fn to_8bit(img: DynamicImage) -> DynamicImage {
    match img {
        DynamicImage::ImageLuma16(_) => DynamicImage::ImageLuma8(img.to_luma8()),
        DynamicImage::ImageLumaA16(_) => DynamicImage::ImageLumaA8(img.to_luma_alpha8()),
        DynamicImage::ImageRgb16(_) | DynamicImage::ImageRgb32F(_) => {
            DynamicImage::ImageRgb8(img.to_rgb8())
        }
        DynamicImage::ImageRgba16(_) | DynamicImage::ImageRgba32F(_) => {
            DynamicImage::ImageRgba8(img.to_rgba8())
        }
        other => other,
    }
}

/// Whether this engine's encoder for `format` can embed an ICC profile (JPEG APP2, PNG
/// iCCP, WebP ICCP chunk). AVIF cannot: its container writer has no `colr` ICC box.
pub(crate) fn carries_icc(format: ImageFormat) -> bool {
    matches!(
        format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP
    )
}

/// Whether the output of `img` as `format` is a grey image (JPEG and PNG keep grey
/// without alpha as grey; PNG keeps grey+alpha too; WebP and AVIF are always RGB).
pub(crate) fn writes_gray(img: &DynamicImage, format: ImageFormat) -> bool {
    use DynamicImage as D;
    match format {
        ImageFormat::Jpeg => matches!(img, D::ImageLuma8(_) | D::ImageLuma16(_)),
        ImageFormat::Png => matches!(
            img,
            D::ImageLuma8(_) | D::ImageLuma16(_) | D::ImageLumaA8(_) | D::ImageLumaA16(_)
        ),
        _ => false,
    }
}

/// Rebuild a simple WebP file (`VP8 `, `VP8L`, or `VP8X` + `ALPH` + `VP8 `, as libwebp's
/// simple encoder writes it) as an extended one carrying an ICC profile and/or EXIF, per
/// the WebP container specification: `VP8X` with the ICC/EXIF/alpha flags and the canvas
/// size, `ICCP` before the image chunks, `EXIF` after them.
pub(crate) fn webp_with_metadata(
    simple: &[u8],
    width: u32,
    height: u32,
    alpha: bool,
    icc: Option<&[u8]>,
    exif: Option<&[u8]>,
) -> Option<Vec<u8>> {
    if icc.is_none() && exif.is_none() {
        return Some(simple.to_vec());
    }
    if simple.get(0..4)? != b"RIFF" || simple.get(8..12)? != b"WEBP" {
        return None;
    }
    fn chunk(out: &mut Vec<u8>, id: &[u8], data: &[u8]) -> Option<()> {
        out.extend_from_slice(id);
        out.extend_from_slice(&u32::try_from(data.len()).ok()?.to_le_bytes());
        out.extend_from_slice(data);
        if data.len() % 2 == 1 {
            out.push(0);
        }
        Some(())
    }
    let mut flags = 0u8;
    if icc.is_some() {
        flags |= 0x20;
    }
    if alpha {
        flags |= 0x10;
    }
    if exif.is_some() {
        flags |= 0x08;
    }
    let mut vp8x = [0u8; 10];
    vp8x[0] = flags;
    vp8x[4..7].copy_from_slice(&(width.checked_sub(1)?).to_le_bytes()[..3]);
    vp8x[7..10].copy_from_slice(&(height.checked_sub(1)?).to_le_bytes()[..3]);
    let mut body = b"WEBP".to_vec();
    chunk(&mut body, b"VP8X", &vp8x)?;
    if let Some(icc) = icc {
        chunk(&mut body, b"ICCP", icc)?;
    }
    // Copy the image chunks (everything but an existing VP8X) as they are.
    let mut i = 12usize;
    while i + 8 <= simple.len() {
        let id = &simple[i..i + 4];
        let len = u32::from_le_bytes(simple[i + 4..i + 8].try_into().ok()?) as usize;
        let end = (i + 8).checked_add(len)?;
        let data = simple.get(i + 8..end)?;
        if id != b"VP8X" {
            chunk(&mut body, id, data)?;
        }
        i = end + (len & 1);
    }
    if let Some(exif) = exif {
        chunk(&mut body, b"EXIF", exif)?;
    }
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&u32::try_from(body.len()).ok()?.to_le_bytes());
    out.extend_from_slice(&body);
    Some(out)
}

/// Metadata to embed when the spec keeps it.
pub(crate) struct Embed<'a> {
    pub icc: Option<&'a [u8]>,
    pub exif: Option<&'a [u8]>,
}

/// Encode `img` as `format` with the spec's settings.
pub(crate) fn encode(
    img: DynamicImage,
    format: ImageFormat,
    spec: &OutputSpec,
    embed: &Embed,
) -> Result<Vec<u8>> {
    let quality = spec.effective_quality(format);
    match format {
        ImageFormat::Jpeg => {
            let img = flatten_on_white(to_8bit(img));
            let gray = matches!(img, DynamicImage::ImageLuma8(_));
            let img = if gray || matches!(img, DynamicImage::ImageRgb8(_)) {
                img
            } else {
                DynamicImage::ImageRgb8(img.to_rgb8())
            };
            crate::jpeg::encode(
                img.as_bytes(),
                img.width(),
                img.height(),
                gray,
                &crate::jpeg::JpegSettings {
                    quality,
                    progressive: spec.progressive,
                    small: spec.small,
                    icc: embed.icc,
                    exif: embed.exif,
                },
            )
        }
        ImageFormat::Png => {
            use image::codecs::png::{CompressionType, FilterType, PngEncoder};
            let img = match img {
                DynamicImage::ImageRgb32F(_) => DynamicImage::ImageRgb16(img.to_rgb16()),
                DynamicImage::ImageRgba32F(_) => DynamicImage::ImageRgba16(img.to_rgba16()),
                other => other,
            };
            let (ct, ft) = match spec.png_compression {
                0 => (CompressionType::Fast, FilterType::Adaptive),
                1 => (CompressionType::Default, FilterType::Adaptive),
                _ => (CompressionType::Best, FilterType::Adaptive),
            };
            let mut out = Vec::new();
            let mut enc = PngEncoder::new_with_quality(&mut out, ct, ft);
            if let Some(icc) = embed.icc {
                let _ = enc.set_icc_profile(icc.to_vec()); // unsupported → written without
            }
            enc.write_image(
                img.as_bytes(),
                img.width(),
                img.height(),
                img.color().into(),
            )
            .map_err(|e| Error::encode(format, e.to_string()))?;
            Ok(out)
        }
        ImageFormat::WebP => {
            let img = to_8bit(img);
            let img = if img.color().has_alpha() {
                DynamicImage::ImageRgba8(img.into_rgba8())
            } else {
                DynamicImage::ImageRgb8(img.into_rgb8())
            };
            let (w, h) = (img.width(), img.height());
            if w > 16383 || h > 16383 {
                return Err(Error::encode(
                    format,
                    format!("{w}x{h} is larger than WebP's 16383x16383"),
                ));
            }
            let enc = if img.color().has_alpha() {
                webp::Encoder::from_rgba(img.as_bytes(), w, h)
            } else {
                webp::Encoder::from_rgb(img.as_bytes(), w, h)
            };
            let mem = enc
                .encode_simple(spec.lossless, f32::from(quality))
                .map_err(|e| Error::encode(format, format!("{e:?}")))?;
            webp_with_metadata(&mem, w, h, img.color().has_alpha(), embed.icc, embed.exif)
                .ok_or_else(|| Error::encode(format, "cannot add metadata chunks"))
        }
        ImageFormat::Avif => encode_avif(
            img,
            quality,
            spec.effective_avif_speed(),
            spec.full_chroma,
            spec.avif_encoder,
        ),
        other => Err(Error::encode(other, "not an output format")),
    }
}

#[cfg(feature = "avif")]
pub(crate) fn encode_avif(
    img: DynamicImage,
    quality: u8,
    speed: u8,
    full_chroma: bool,
    encoder: crate::AvifEncoder,
) -> Result<Vec<u8>> {
    use crate::avif_enc::{encode, Chroma};
    // 4:4:4 from q90, as for JPEG (and libvips's AVIF); not measured for AVIF: the quality
    // sweeps stop at q80.
    let chroma = if full_chroma || quality >= 90 {
        Chroma::Full
    } else {
        Chroma::Half
    };
    encode(to_8bit(img), quality, speed, chroma, encoder)
}

#[cfg(not(feature = "avif"))]
fn encode_avif(
    _img: DynamicImage,
    _quality: u8,
    _speed: u8,
    _full: bool,
    _encoder: crate::AvifEncoder,
) -> Result<Vec<u8>> {
    Err(Error::encode(
        ImageFormat::Avif,
        "this build has no AVIF encoder (feature `avif`)",
    ))
}
