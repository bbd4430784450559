//! HEIC/HEIF input (HEVC images) through heic-decoder, a pure-Rust decoder (no C code, no
//! `unsafe`), pinned to one version because the tile-by-tile path below uses its unstable
//! `internals` API.
//!
//! - **Header first.** Size, tiles, bit depth, alpha and colour come from the container and
//!   the parameter sets; limits are checked on them before any pixel buffer exists.
//! - **Geometry.** The container's `irot`/`imir` boxes are the image's orientation (HEIF
//!   says they are; an EXIF Orientation tag inside a HEIC is ignored, as libheif does). They
//!   are turned into the equivalent EXIF orientation and applied by the pipeline after the
//!   resize, like a JPEG's, so only output pixels are rotated. A clean aperture (`clap`)
//!   is applied by the decoder (then the decoder also rotates).
//! - **Grid images, tile by tile.** A grid (what phones write: 512×512 tiles) whose outputs
//!   all need less than half its size is decoded one tile at a time, a few in parallel; each
//!   tile is reduced by an exact box filter by 2, 4 or 8 into a small canvas, which the
//!   resampler then takes to each output. The reduced image stays at least twice
//!   `shrink_margin` times each output (a box filter lets more aliasing through than
//!   JPEG's DCT scaling: at JPEG's margin, 2.0, xiaomi.heic scored 88.6 against libheif's
//!   full decode, at 4.0 89.9, decoded whole 95.5; pug.heic 95.7 either way). Peak memory is the small canvas plus a few tiles, not the whole picture.
//!   Everything else is decoded whole.
//! - **Samples.** 8-bit images decode to 8-bit RGB(A); 10- and 12-bit ones to 16-bit RGB(A),
//!   kept until the resize. Alpha comes from the auxiliary alpha image (premultiplied
//!   alpha, `prem`, is undone). Monochrome images stay grey.
//! - **Colour.** An ICC profile (`colr`/`prof`) goes with the pixels to the pipeline, which
//!   converts to sRGB like any other tagged input. Without one, the `nclx` description (or
//!   the stream's VUI) gives the YCbCr matrix and range, and its primaries and transfer
//!   become a profile when they are not sRGB's (Display P3, BT.2020). **HDR** (PQ or HLG
//!   transfer) is mapped to SDR this way: samples are turned into light with the PQ EOTF
//!   (HLG: its inverse OETF and the BT.2100 OOTF for a 1,000 cd/m² display), divided by
//!   203 cd/m² (BT.2408's HDR reference white, which becomes sRGB white), clipped at 1,
//!   converted from the file's primaries (BT.2020, Display P3) to BT.709's, clipped, and
//!   encoded with the sRGB curve (other primaries: through a linear profile made for
//!   them). Highlights above reference white clip; there is no tone curve.

use crate::format::ImageFormat;
use crate::{Error, Result};
use heic_decoder::hevc::nal::{parse_nal_header, NAL_SPS};
use heic_decoder::hevc::params::{parse_sps, Sps};
use heic_decoder::isobmff::{self, Transform};
use heic_decoder::{ChromaSampling, ColorInfo, DecodedImage, HeifError};
use image::{DynamicImage, ImageBuffer};

use crate::heif::{
    assemble, box_reduce, grey_if, hdr_to_sdr, nclx_profile, orientation_of, to_bt709, Hdr, Step,
};

const FMT: ImageFormat = ImageFormat::Heic;

/// What the header of a HEIF file says, and how it will be decoded.
#[derive(Debug, Clone)]
pub(crate) struct HeicHeader {
    /// Width and height as coded (grid assembled, conformance window cropped), before
    /// `clap`/`irot`/`imir`; after `clap` when the decoder applies the transforms.
    pub stored_width: u32,
    pub stored_height: u32,
    /// The EXIF orientation equivalent to the `irot`/`imir` boxes (1 when there are none,
    /// or when the decoder applies them itself: see `decoder_orients`).
    pub orientation: u8,
    /// A clean aperture is present: the decoder applies every transform.
    pub decoder_orients: bool,
    /// Bits per luma sample (8, 10, 12).
    pub bit_depth: u32,
    /// There is an auxiliary alpha image.
    pub alpha: bool,
    /// Monochrome (4:0:0).
    pub mono: bool,
    /// `(tile width, tile height, columns, rows)` of a grid image.
    pub grid: Option<(u32, u32, u32, u32)>,
    /// The ICC profile the decoded pixels are in (the file's, or one made from `nclx`).
    pub icc: Option<Vec<u8>>,
    /// The file's own ICC profile (for its description).
    pub original_icc: Option<Vec<u8>>,
    /// HDR transfer (PQ or HLG): pixels are mapped to SDR on decode.
    pub hdr: Option<Hdr>,
    /// For HDR with known primaries: the linear matrix to BT.709/sRGB primaries (the
    /// decode then gives sRGB); without it, linear light in the file's primaries with a
    /// profile made for them.
    pub hdr_matrix: Option<[[f32; 3]; 3]>,
    /// Frames of an image sequence (1 for a still image; only the first is decoded).
    pub frames: u32,
    /// Coded pixels of every colour picture (all tiles), before any crop.
    pub coded_pixels: u64,
    /// Coded pixels of the largest single picture (tile).
    pub largest_coded: u64,
    /// Coded pixels of the alpha picture(s).
    pub alpha_pixels: u64,
    /// The EXIF block, from its TIFF header (its Orientation is not used).
    pub exif: Option<Vec<u8>>,
}

/// heic-decoder's error, typed.
fn error(e: HeifError) -> Error {
    match e {
        HeifError::Truncated { .. } => Error::Truncated {
            format: FMT,
            reason: e.to_string(),
        },
        HeifError::Unsupported(why) => Error::Unsupported(format!("HEIF: {why}")),
        HeifError::LimitExceeded(why) => Error::DecoderLimit(format!("HEIF: {why}")),
        HeifError::NotHeif(why) => Error::corrupt(FMT, format!("not a HEIF image: {why}")),
        other => Error::corrupt(FMT, other.to_string()),
    }
}

/// The sequence parameter set of one coded image.
fn sps_of(image: &isobmff::ResolvedImage) -> Result<Sps> {
    for nal in image.hevc_config.nalus_of_type(NAL_SPS) {
        let (header, payload) = parse_nal_header(nal).map_err(error)?;
        if header.nal_unit_type == NAL_SPS && header.nuh_layer_id == 0 {
            let rbsp = heic_decoder::bitreader::strip_emulation_prevention(payload);
            return parse_sps(&rbsp).map_err(error);
        }
    }
    Err(Error::corrupt(FMT, "no sequence parameter set in hvcC"))
}

/// Coded size of one image after its conformance window.
fn cropped_size(sps: &Sps) -> Result<(u32, u32)> {
    let [l, r, t, b] = sps.conformance_window;
    let w = sps.pic_width_in_luma_samples.checked_sub(l + r);
    let h = sps.pic_height_in_luma_samples.checked_sub(t + b);
    match (w, h) {
        (Some(w), Some(h)) if w > 0 && h > 0 => Ok((w, h)),
        _ => Err(Error::corrupt(
            FMT,
            "conformance window exceeds the picture",
        )),
    }
}

/// heic-decoder's `irot`/`imir` transforms, in order (`clap` is applied by the decoder).
fn steps(transforms: &[Transform]) -> Vec<Step> {
    transforms
        .iter()
        .filter_map(|t| match *t {
            Transform::Rotate90Ccw(n) => Some(Step::Rotate90Ccw(n)),
            Transform::MirrorVertical => Some(Step::FlipTopBottom),
            Transform::MirrorHorizontal => Some(Step::FlipLeftRight),
            Transform::CleanAperture(_) => None,
        })
        .collect()
}

/// Read the container and the parameter sets: no pixel is decoded.
pub(crate) fn read_header(bytes: &[u8]) -> Result<(HeicHeader, u32, u32)> {
    let parsed = isobmff::parse(bytes).map_err(error)?;
    let info = heic_decoder::probe(bytes).map_err(error)?;
    let first = parsed
        .images
        .first()
        .ok_or_else(|| Error::corrupt(FMT, "no coded image"))?;
    let sps = sps_of(first)?;
    let grid = match parsed.grid {
        Some(g) => {
            if parsed.images.len() != (g.rows as usize) * (g.columns as usize) {
                return Err(Error::corrupt(
                    FMT,
                    format!(
                        "the grid has {}x{} cells but {} tiles",
                        g.columns,
                        g.rows,
                        parsed.images.len()
                    ),
                ));
            }
            let (tw, th) = cropped_size(&sps)?;
            if u64::from(tw) * u64::from(g.columns) < u64::from(g.output_width)
                || u64::from(th) * u64::from(g.rows) < u64::from(g.output_height)
            {
                return Err(Error::corrupt(FMT, "grid tiles do not cover the image"));
            }
            // No row or column of tiles wholly outside the image (work for nothing).
            if u64::from(tw) * u64::from(g.columns - 1) >= u64::from(g.output_width)
                || u64::from(th) * u64::from(g.rows - 1) >= u64::from(g.output_height)
            {
                return Err(Error::corrupt(FMT, "grid tiles lie outside the image"));
            }
            Some((tw, th, g.columns, g.rows))
        }
        None => None,
    };
    let has_clap = parsed
        .transforms
        .iter()
        .any(|t| matches!(t, Transform::CleanAperture(_)));
    let (orientation, stored) = if has_clap {
        (1, (info.width, info.height))
    } else {
        (
            orientation_of(&steps(&parsed.transforms)),
            (info.coded_width, info.coded_height),
        )
    };
    let to_u32 = |v: usize| u32::try_from(v).map_err(|_| Error::corrupt(FMT, "image size"));
    let (stored_width, stored_height) = (to_u32(stored.0)?, to_u32(stored.1)?);
    let (width, height) = (to_u32(info.width)?, to_u32(info.height)?);
    let color = parsed.metadata.color_info.or(sps.color_info);
    let hdr = match (&parsed.metadata.icc_profile, color) {
        (None, Some(c)) if c.transfer_characteristics == 16 => Some(Hdr::Pq),
        (None, Some(c)) if c.transfer_characteristics == 18 => Some(Hdr::Hlg),
        _ => None,
    };
    let hdr_matrix = color.and_then(|c| to_bt709(c.color_primaries));
    let icc = match (&parsed.metadata.icc_profile, color) {
        (Some(p), _) => Some(p.clone()),
        // HDR with BT.2020, P3 or BT.709 primaries: mapped straight to sRGB on decode.
        (None, Some(_)) if hdr.is_some() && hdr_matrix.is_some() => None,
        (None, Some(c)) => nclx_profile(c.color_primaries, c.transfer_characteristics, hdr),
        (None, None) => None,
    };
    let frames = parsed.sequence.map_or(1, |s| s.sample_count.max(1));
    // What the decoder allocates: every coded picture at its full coded size (the
    // conformance window and `clap` crop only after decoding), tiles of one size.
    let coded = |image: &isobmff::ResolvedImage| -> Result<u64> {
        let sps = sps_of(image)?;
        if let Some((tw, th, _, _)) = grid {
            if cropped_size(&sps)? != (tw, th) {
                return Err(Error::corrupt(FMT, "grid tiles of different sizes"));
            }
        }
        Ok(u64::from(sps.pic_width_in_luma_samples) * u64::from(sps.pic_height_in_luma_samples))
    };
    let mut coded_pixels = 0u64;
    let mut largest_coded = 0u64;
    for image in &parsed.images {
        let n = coded(image)?;
        coded_pixels = coded_pixels.saturating_add(n);
        largest_coded = largest_coded.max(n);
    }
    let mut alpha_pixels = 0u64;
    if let Some(a) = &parsed.alpha {
        for image in &a.image.images {
            let sps = sps_of(image)?;
            let n = u64::from(sps.pic_width_in_luma_samples)
                * u64::from(sps.pic_height_in_luma_samples);
            alpha_pixels = alpha_pixels.saturating_add(n);
        }
    }
    Ok((
        HeicHeader {
            stored_width,
            stored_height,
            orientation,
            decoder_orients: has_clap,
            bit_depth: info.bit_depth_luma,
            alpha: info.alpha_bit_depth.is_some(),
            mono: info.chroma_format_idc == 0,
            grid,
            icc,
            original_icc: parsed.metadata.icc_profile.clone(),
            hdr,
            hdr_matrix: hdr_matrix.filter(|_| hdr.is_some()),
            frames,
            coded_pixels,
            largest_coded,
            alpha_pixels,
            exif: parsed.metadata.exif.clone(),
        },
        width,
        height,
    ))
}

impl HeicHeader {
    /// Bytes per decoded pixel (RGB(A), 8 or 16 bits; grey counts as RGB while converting).
    pub(crate) fn bytes_per_pixel(&self) -> u64 {
        let channels = if self.alpha { 4 } else { 3 };
        channels
            * if self.bit_depth > 8 || self.hdr.is_some() {
                2
            } else {
                1
            }
    }

    /// The box-filter factor a tile-by-tile decode uses when the largest output needs
    /// `need` of the full size (1 = decode whole): 2, 4 or 8 when the image is a grid
    /// without alpha whose tiles divide by it.
    pub(crate) fn tile_shrink(&self, need: f64, margin: f64) -> u32 {
        let Some((tw, th, _, _)) = self.grid else {
            return 1;
        };
        if self.alpha || self.decoder_orients {
            return 1;
        }
        crate::heif::tile_shrink(tw, th, need, margin)
    }

    /// What decoding holds at its peak, besides the decoded image it returns: the planar
    /// samples (i32, the tiles and the assembled picture of a whole decode) and the RGB
    /// conversion; for a tile-by-tile decode, the tiles in flight and the sum canvas.
    pub(crate) fn decoder_bytes(&self, shrink: u32) -> u64 {
        let threads = rayon::current_num_threads().max(1) as u64;
        // A coded picture: i32 Y + Cb + Cr (4:4:4 at worst, 12 bytes a pixel), then the
        // cropped copy and its RGB16 conversion (6-8 bytes).
        const PICTURE: u64 = 12 + 12 + 8;
        if shrink > 1 && self.grid.is_some() {
            let small = u64::from(self.stored_width.div_ceil(shrink))
                * u64::from(self.stored_height.div_ceil(shrink));
            return (self.largest_coded * PICTURE).saturating_mul(threads) + small * 6;
        }
        // Whole: every tile held (planes), the assembled canvas (planes), the RGB output of
        // the conversion; the alpha picture(s) likewise.
        let canvas = u64::from(self.stored_width) * u64::from(self.stored_height);
        self.coded_pixels
            .saturating_mul(12)
            .saturating_add(canvas.saturating_mul(12 + 8))
            .saturating_add(self.alpha_pixels.saturating_mul(4 + 4 + 2))
    }

    /// Decode, whole or tile by tile (`shrink` from [`HeicHeader::tile_shrink`]).
    pub(crate) fn decode(&self, bytes: &[u8], shrink: u32) -> Result<DynamicImage> {
        crate::jpeg::guarded(FMT, false, || {
            let img = if shrink > 1 {
                self.decode_tiles(bytes, shrink)?
            } else {
                let options = heic_decoder::DecodeOptions {
                    apply_transforms: self.decoder_orients,
                };
                let d = heic_decoder::decode_with(bytes, &options).map_err(error)?;
                let (w, h) = (d.width as u32, d.height as u32);
                if (w, h) != (self.stored_width, self.stored_height) {
                    return Err(Error::corrupt(
                        FMT,
                        format!(
                            "decoded {w}x{h}, the header says {}x{}",
                            self.stored_width, self.stored_height
                        ),
                    ));
                }
                self.to_image(&d, w, h)?
            };
            Ok(match self.hdr {
                Some(hdr) => hdr_to_sdr(img, hdr, self.hdr_matrix),
                None => img,
            })
        })
    }

    /// Planar YCbCr (+ alpha) to an RGB(A) or grey image.
    fn to_image(&self, d: &DecodedImage, w: u32, h: u32) -> Result<DynamicImage> {
        let deep = self.bit_depth > 8 || self.hdr.is_some();
        let bad = |_| Error::corrupt(FMT, "decoded samples do not fill the image");
        let mut img = if d.alpha.is_some() {
            if deep {
                let rgba = d.to_rgba16().map_err(error)?;
                DynamicImage::ImageRgba16(
                    ImageBuffer::from_raw(w, h, rgba.data)
                        .ok_or(())
                        .map_err(bad)?,
                )
            } else {
                let rgba = d.to_rgba8().map_err(error)?;
                DynamicImage::ImageRgba8(
                    ImageBuffer::from_raw(w, h, rgba.data)
                        .ok_or(())
                        .map_err(bad)?,
                )
            }
        } else if deep {
            let rgb = d.to_rgb16().map_err(error)?;
            DynamicImage::ImageRgb16(
                ImageBuffer::from_raw(w, h, rgb.data)
                    .ok_or(())
                    .map_err(bad)?,
            )
        } else {
            let rgb = d.to_rgb8().map_err(error)?;
            DynamicImage::ImageRgb8(
                ImageBuffer::from_raw(w, h, rgb.data)
                    .ok_or(())
                    .map_err(bad)?,
            )
        };
        if d.alpha.as_ref().is_some_and(|a| a.premultiplied) {
            crate::color::unpremultiply(&mut img);
        }
        Ok(if d.alpha.is_none() {
            self.grey_if_mono(img, deep)
        } else {
            img
        })
    }

    /// Monochrome pictures (converted to equal R, G and B) back to one channel; HDR ones
    /// stay RGB (they are mapped per channel afterwards).
    fn grey_if_mono(&self, img: DynamicImage, deep: bool) -> DynamicImage {
        grey_if(img, self.mono && self.hdr.is_none(), deep)
    }

    /// A grid decoded one tile at a time, each reduced by `f` (box filter) into the canvas.
    fn decode_tiles(&self, bytes: &[u8], f: u32) -> Result<DynamicImage> {
        let parsed = isobmff::parse(bytes).map_err(error)?;
        let (tw, th, columns, _) = self.grid.ok_or_else(|| Error::corrupt(FMT, "not a grid"))?;
        let (w, h) = (self.stored_width, self.stored_height);
        let (sw, sh) = (w.div_ceil(f), h.div_ceil(f));
        let deep = self.bit_depth > 8 || self.hdr.is_some();
        let color = parsed.metadata.color_info;
        // Each tile gives its reduced block: (x, y, width, height, RGB samples as u16).
        let tile = |index: usize| -> Result<(u32, u32, u32, u32, Vec<u16>)> {
            let image = &parsed.images[index];
            let d = decode_tile(image, color)?;
            let x0 = (index as u32 % columns) * tw;
            let y0 = (index as u32 / columns) * th;
            if d.width as u32 != tw || d.height as u32 != th {
                return Err(Error::corrupt(FMT, "grid tiles of different sizes"));
            }
            // The part of the tile inside the image.
            let cw = tw.min(w.saturating_sub(x0));
            let ch = th.min(h.saturating_sub(y0));
            if cw == 0 || ch == 0 {
                return Ok((x0 / f, y0 / f, 0, 0, Vec::new()));
            }
            let samples: Vec<u16> = if deep {
                d.to_rgb16().map_err(error)?.data
            } else {
                d.to_rgb8()
                    .map_err(error)?
                    .data
                    .into_iter()
                    .map(u16::from)
                    .collect()
            };
            let (bw, bh, block) = box_reduce(&samples, tw, cw, ch, f);
            Ok((x0 / f, y0 / f, bw, bh, block))
        };
        let img = assemble(FMT, sw, sh, parsed.images.len(), deep, tile)?;
        Ok(self.grey_if_mono(img, deep))
    }
}

/// Decode one coded image (a grid tile) to planar samples, its conformance window cropped.
fn decode_tile(image: &isobmff::ResolvedImage, color: Option<ColorInfo>) -> Result<DecodedImage> {
    let (sps, pic) = heic_decoder::decode_one_image(image).map_err(error)?;
    let (sub_x, sub_y) = match sps.chroma_format_idc {
        1 => (2usize, 2usize),
        2 => (2, 1),
        _ => (1, 1),
    };
    let [l, _, t, _] = sps.conformance_window.map(|v| v as usize);
    let (w, h) = cropped_size(&sps)?;
    let (w, h) = (w as usize, h as usize);
    let crop = |plane: heic_decoder::hevc::ctu::Plane,
                sx: usize,
                sy: usize|
     -> Result<(Vec<i32>, usize, usize)> {
        let (pw, ph) = (plane.width, plane.height);
        let samples = plane.into_samples();
        let (cw, ch) = (w.div_ceil(sx), h.div_ceil(sy));
        let (x0, y0) = (l / sx, t / sy);
        if x0 == 0 && y0 == 0 && cw == pw && ch == ph {
            return Ok((samples, cw, ch));
        }
        let mut out = Vec::with_capacity(cw * ch);
        for y in y0..y0 + ch {
            let row = samples
                .get(y * pw + x0..y * pw + x0 + cw)
                .ok_or_else(|| Error::corrupt(FMT, "conformance window outside the tile"))?;
            out.extend_from_slice(row);
        }
        Ok((out, cw, ch))
    };
    let mono = sps.chroma_format_idc == 0;
    let (y, _, _) = crop(pic.y, 1, 1)?;
    let (cb, cb_width, cb_height) = if mono {
        (Vec::new(), 0, 0)
    } else {
        crop(pic.cb, sub_x, sub_y)?
    };
    let (cr, _, _) = if mono {
        (Vec::new(), 0, 0)
    } else {
        crop(pic.cr, sub_x, sub_y)?
    };
    // H.265's inferred 4:2:0 chroma location is type 0 (left, vertically centred).
    let (origin_x, origin_y) = if sps.chroma_format_idc == 1 {
        match sps.chroma_location.unwrap_or(0) {
            1 => (0.5, 0.5),
            2 => (0.0, 0.0),
            3 => (0.5, 0.0),
            4 => (0.0, 1.0),
            5 => (0.5, 1.0),
            _ => (0.0, 0.5),
        }
    } else {
        (0.0, 0.0)
    };
    let shift = |v: f32, crop: usize, sub: usize| v - (crop % sub) as f32;
    Ok(DecodedImage {
        alpha: None,
        width: w,
        height: h,
        bit_depth_luma: sps.bit_depth_luma,
        bit_depth_chroma: sps.bit_depth_chroma,
        chroma_format_idc: sps.chroma_format_idc,
        color_info: color.or(sps.color_info),
        chroma_sampling: ChromaSampling {
            sub_x: sub_x as u32,
            sub_y: sub_y as u32,
            origin_x: shift(origin_x, l, sub_x),
            origin_y: shift(origin_y, t, sub_y),
        },
        y,
        cb,
        cr,
        cb_width,
        cb_height,
        metadata: isobmff::Metadata::default(),
    })
}
