//! The pipeline: open → limits → decode once (JPEG at a DCT scale) → per output, in
//! parallel: crop/resize → orient → sRGB → pad → encode.

use crate::color::ToSrgb;
use crate::encode::{self, Embed};
use crate::format::ImageFormat;
use crate::geometry::{self, Geometry, Rect};
use crate::probe::{self, ImageInfo, Opened, Source};
use crate::spec::{Filter, OutputSpec};
use crate::{Error, Limits, Result};
use fast_image_resize as fr;
use image::DynamicImage;
use rayon::prelude::*;
use serde::Serialize;

/// What to make from one input.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The outputs, in order. Default: empty (at least one is required).
    pub outputs: Vec<OutputSpec>,
    /// Input limits. Default: [`Limits::default()`].
    pub limits: Limits,
    /// Decode JPEGs at the smallest DCT scale (1/8, 1/4, 1/2) that still covers the
    /// largest output. Default: `true`.
    pub shrink_on_load: bool,
    /// How many times the largest output the DCT-scaled decode must be, per axis, so the
    /// final Lanczos resample always has room to filter. Default: `2.0` (libvips's rule;
    /// sharp's amounts to 1.125–1.5 depending on the scale). Measured on 13 real photos
    /// against a full decode (SSIMULACRA2, `benches/shrink/`, BENCHMARKS.md): at 720 px,
    /// mean 96.2 and worst 90.7 with 2.0, against 93.9 / 81.2 with 1.5 and 88.8 / 72.5
    /// with 1.0, for 10 % more CPU than 1.0 (2 % more than 1.5); at 256 px 7 % more. A
    /// photo just under twice an output (2725 px to 720) pays most: a full decode instead
    /// of 1/2, 41 % more CPU. `1.0` only asks the decode to cover the output (fastest,
    /// visibly softer).
    pub shrink_margin: f64,
    /// Compute a thumbhash and the average colour from the smallest output. Default: `true`.
    pub thumbhash: bool,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            outputs: Vec::new(),
            limits: Limits::default(),
            shrink_on_load: true,
            shrink_margin: 2.0,
            thumbhash: true,
        }
    }
}

impl Plan {
    /// A plan for these outputs with default settings.
    pub fn new(outputs: Vec<OutputSpec>) -> Self {
        Plan {
            outputs,
            ..Default::default()
        }
    }

    /// A plan from the compact spec syntax, e.g. `"1600,800,200,webp,q75"`.
    pub fn parse(spec: &str) -> Result<Self> {
        Ok(Plan::new(OutputSpec::parse_list(spec)?))
    }

    /// Set the limits (builder style).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// One encoded output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rendition {
    /// The spec it was made from, in the compact syntax.
    pub spec: String,
    /// Output width.
    pub width: u32,
    /// Output height.
    pub height: u32,
    /// Output format.
    pub format: ImageFormat,
    /// MIME type, e.g. `image/webp`.
    pub mime_type: &'static str,
    /// Encoded size in bytes.
    pub size: usize,
    /// The spec asked for more than the output format can hold (WebP: 16,383 px per side),
    /// so the output was fitted within the format's limit, keeping its aspect ratio.
    pub fitted_to_format: bool,
    /// The encoded file.
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// The result of [`render`]: the source's description and one rendition per spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rendered {
    /// The source, as its header describes it.
    pub source: ImageInfo,
    /// One per [`Plan::outputs`], in the same order.
    pub renditions: Vec<Rendition>,
    /// Base64 thumbhash of the smallest rendition (a ~25-byte placeholder image).
    pub thumbhash: Option<String>,
    /// Average colour of the smallest rendition (alpha-weighted), as `#rrggbb`.
    pub average_color: Option<String>,
    /// How much smaller than the source the decode was, per axis: the JPEG DCT scale
    /// denominator, or the box-filter factor of a HEIC grid decoded tile by tile (1, 2, 4
    /// or 8; 1 for other formats).
    pub decode_shrink: u8,
}

/// Render every output of `plan` from `bytes`, decoding the input once.
///
/// Work runs in two phases: every output is resized from the decoded image, the decoded
/// image is dropped, then every output is encoded. In each phase the largest output goes
/// first, alone, and the rest side by side. Peak memory for one image is therefore about
/// `input + max(decoded + resize(L) + Σ resized so far, Σ resized + encoder(L))`, where
/// `decoded = w/d × h/d × channels` bytes at the chosen DCT denominator `d` (plus
/// `2 × w × h × components` for the coefficients of a progressive or multi-scan JPEG, and
/// the other decoders' own buffers), a resize holds a temporary of
/// `out_w × crop_h/d × channels` for its horizontal pass, and a JPEG encoder holds 4 bytes
/// per output pixel and component of coefficients. Everything but the encoders and the
/// input is checked against [`Limits::max_decoded_bytes`] before decoding.
pub fn render(bytes: &[u8], plan: &Plan) -> Result<Rendered> {
    if plan.outputs.is_empty() {
        return Err(Error::InvalidSpec("the plan has no outputs".into()));
    }
    for s in &plan.outputs {
        s.validate()?;
    }
    let opened = probe::open(bytes, &plan.limits)?;
    let info = opened.info.clone();
    let fitted = fit_all(&info, plan);
    let geoms: Vec<Geometry> = fitted.iter().map(|(g, _)| *g).collect();
    for (g, s) in geoms.iter().zip(&plan.outputs) {
        let (w, h) = g.output_size();
        let area = u64::from(w) * u64::from(h);
        if area > crate::spec::MAX_OUTPUT_PIXELS {
            return Err(Error::InvalidSpec(format!(
                "`{}` makes a {w}x{h} output from this source ({area} pixels), more than \
                 the maximum, {} pixels",
                s.to_spec_string(),
                crate::spec::MAX_OUTPUT_PIXELS
            )));
        }
    }

    let animated: Vec<usize> = (0..plan.outputs.len())
        .filter(|&i| crate::anim::applies(&plan.outputs[i], &info))
        .collect();
    if !animated.is_empty() {
        return render_with_animations(bytes, plan, opened, &fitted, &animated);
    }

    // A decoder that orients its output (JPEG XL) leaves nothing for the pipeline to do.
    let pipeline_orientation = if opened.decoder_orients {
        1
    } else {
        info.orientation
    };
    let (decoded, shrink) = decode(bytes, opened_parts(opened), &geoms, plan)?;
    let Decoded {
        image,
        stored_width,
        stored_height,
        icc,
        exif,
    } = decoded;
    let to_srgb = icc.as_deref().and_then(ToSrgb::new);
    let ctx = Ctx {
        stored: (stored_width, stored_height),
        orientation: pipeline_orientation,
        to_srgb: to_srgb.as_ref(),
        input_format: info.format,
    };
    // The thumbhash comes from the smallest output: only its pixels are kept past encoding.
    let area = |i: &usize| {
        let (w, h) = geoms[*i].output_size();
        u64::from(w) * u64::from(h)
    };
    let smallest = (0..geoms.len()).min_by_key(area).filter(|_| plan.thumbhash);
    let largest = (0..geoms.len()).max_by_key(area).unwrap_or(0);

    // Two phases, so that the decoded image is gone before any encoder allocates (mozjpeg's
    // Huffman optimisation holds every coefficient of its output; libwebp and rav1e keep
    // their own copies): first every output is resized, then the decoded image is dropped
    // and the outputs are encoded.
    let indices: Vec<(usize, ())> = (0..geoms.len()).map(|i| (i, ())).collect();
    let resized = largest_first(indices, largest, |i, ()| {
        resize_one(&image, &ctx, &plan.outputs[i], &geoms[i])
    })?;
    drop(image);
    let embed = Embedded::new(icc.as_deref(), exif.as_deref());
    let mut made = largest_first(resized, largest, |i, (img, format)| {
        let r = encode_one(img, format, &plan.outputs[i], &embed, smallest == Some(i));
        r.map(|(mut rendition, px)| {
            rendition.fitted_to_format = fitted[i].1;
            (rendition, px)
        })
    })?;
    made.sort_by_key(|(i, _)| *i);
    let made: Vec<(Rendition, Option<DynamicImage>)> = made.into_iter().map(|(_, r)| r).collect();

    let (mut thumbhash, mut average_color) = (None, None);
    if let Some(small) = made.iter().find_map(|(_, px)| px.as_ref()) {
        let (t, c) = crate::thumb::hash_and_average(small);
        thumbhash = Some(t);
        average_color = Some(c);
    }
    Ok(Rendered {
        source: info,
        renditions: made.into_iter().map(|(r, _)| r).collect(),
        thumbhash,
        average_color,
        decode_shrink: shrink,
    })
}

/// [`render`] when some outputs keep an animation (`anim` on an animated GIF, WebP or JPEG XL): those
/// are made frame by frame ([`crate::anim`]); the others from one decode of the first frame,
/// as usual. The thumbhash comes from a still output when there is one, else from the first
/// frame of the smallest animated output.
fn render_with_animations(
    bytes: &[u8],
    plan: &Plan,
    opened: Opened<'_>,
    fitted: &[(Geometry, bool)],
    animated: &[usize],
) -> Result<Rendered> {
    let info = opened.info.clone();
    let geoms: Vec<Geometry> = animated.iter().map(|&i| fitted[i].0).collect();
    crate::anim::check_limits(&info, &geoms, &plan.limits)?;
    // JPEG XL frames come from its decoder already in sRGB.
    let to_srgb = match info.format {
        ImageFormat::Jxl => None,
        _ => opened.icc.as_deref().and_then(ToSrgb::new),
    };
    let ctx = Ctx {
        stored: (opened.stored_width, opened.stored_height),
        orientation: if opened.decoder_orients {
            1
        } else {
            info.orientation
        },
        to_srgb: to_srgb.as_ref(),
        input_format: info.format,
    };
    drop(opened);
    let specs: Vec<(&OutputSpec, &Geometry)> = animated
        .iter()
        .map(|&i| (&plan.outputs[i], &fitted[i].0))
        .collect();
    let made = crate::jpeg::guarded(info.format, false, || {
        crate::anim::render(bytes, &info, &ctx, &specs, &plan.limits)
    })?;

    let mut slots: Vec<Option<Rendition>> = vec![None; plan.outputs.len()];
    let still: Vec<usize> = (0..plan.outputs.len())
        .filter(|i| !animated.contains(i))
        .collect();
    let (mut thumbhash, mut average_color, mut shrink) = (None, None, 1);
    if !still.is_empty() {
        let sub = Plan {
            outputs: still.iter().map(|&i| plan.outputs[i].clone()).collect(),
            ..plan.clone()
        };
        let r = render(bytes, &sub)?;
        for (&i, rendition) in still.iter().zip(r.renditions) {
            slots[i] = Some(rendition);
        }
        (thumbhash, average_color, shrink) = (r.thumbhash, r.average_color, r.decode_shrink);
    }
    let smallest = made
        .iter()
        .enumerate()
        .min_by_key(|(_, (r, _))| u64::from(r.width) * u64::from(r.height))
        .map(|(k, _)| k);
    for (k, (&i, (mut rendition, first))) in animated.iter().zip(made).enumerate() {
        rendition.fitted_to_format = fitted[i].1;
        slots[i] = Some(rendition);
        if plan.thumbhash && thumbhash.is_none() && smallest == Some(k) {
            let (t, c) = crate::thumb::hash_and_average(&first);
            thumbhash = Some(t);
            average_color = Some(c);
        }
    }
    Ok(Rendered {
        source: info,
        renditions: slots.into_iter().flatten().collect(),
        thumbhash,
        average_color,
        decode_shrink: shrink,
    })
}

struct Parts<'a> {
    /// Interlaced storage (PNG Adam7).
    interlaced: bool,
    /// EXIF orientation 5-8: stored axes are the displayed ones swapped.
    swaps_axes: bool,
    stored_width: u32,
    stored_height: u32,
    format: ImageFormat,
    icc: Option<Vec<u8>>,
    exif: Option<Vec<u8>>,
    source: Source<'a>,
}

fn opened_parts(o: Opened<'_>) -> Parts<'_> {
    Parts {
        interlaced: o.info.progressive,
        swaps_axes: !o.decoder_orients && geometry::swaps_axes(o.info.orientation),
        stored_width: o.stored_width,
        stored_height: o.stored_height,
        format: o.info.format,
        icc: o.icc,
        exif: o.exif,
        source: o.source,
    }
}

/// What the `image` decoders hold besides the decoded image (`decoded` bytes), per
/// format, as measured with the memory tests (README, "Memory"): GIF decodes a frame
/// of palette indices and an RGBA frame, then composes it into the canvas; WebP
/// decodes into its own ARGB (lossless) or YUV (lossy) planes before converting; TIFF
/// assembles strips or tiles into a buffer of its own; Adam7 PNG keeps pass rows; JPEG XL
/// renders into f32 planes.
fn decoder_buffers(format: ImageFormat, pixels: u64, interlaced: bool, decoded: u64) -> u64 {
    match format {
        ImageFormat::Gif => pixels * 5,
        // jxl-oxide renders into f32 planes (up to four channels), and 16-bit output goes
        // through a buffer of its own.
        ImageFormat::Jxl => pixels * 16 + decoded,
        ImageFormat::WebP => pixels * 4,
        ImageFormat::Tiff => decoded,
        ImageFormat::Png if interlaced => decoded,
        _ => 0,
    }
}

struct Decoded {
    image: DynamicImage,
    stored_width: u32,
    stored_height: u32,
    icc: Option<Vec<u8>>,
    exif: Option<Vec<u8>>,
}

/// The size of the output `spec` makes from a source described by `info`, as [`render`]
/// makes it (fitted within the output format's limit).
pub fn output_size(info: &ImageInfo, spec: &OutputSpec) -> (u32, u32) {
    let format = spec.format.resolve(info.format);
    fit_geometry(info.width, info.height, spec, format)
        .0
        .output_size()
}

/// The largest side `format` can store.
fn format_max_side(format: ImageFormat) -> u32 {
    match format {
        ImageFormat::WebP => 16_383,
        ImageFormat::Jpeg => 65_500, // libjpeg's JPEG_MAX_DIMENSION
        _ => crate::spec::MAX_OUTPUT_SIDE,
    }
}

/// The geometry of `spec`, fitted within the output format's size limit (keeping the
/// aspect ratio of the output box); the flag says whether it had to be.
/// Every output's geometry for a source described by `info`, each fitted within its
/// format's limit (and whether that fitting changed it).
fn fit_all(info: &ImageInfo, plan: &Plan) -> Vec<(Geometry, bool)> {
    plan.outputs
        .iter()
        .map(|s| fit_geometry(info.width, info.height, s, s.format.resolve(info.format)))
        .collect()
}

fn fit_geometry(sw: u32, sh: u32, spec: &OutputSpec, format: ImageFormat) -> (Geometry, bool) {
    let g = geometry::compute(sw, sh, spec);
    let (w, h) = g.output_size();
    let limit = format_max_side(format);
    if w <= limit && h <= limit {
        return (g, false);
    }
    let f = f64::from(limit) / f64::from(w.max(h));
    let side = |v: u32| ((f64::from(v) * f).floor() as u32).clamp(1, limit);
    let smaller = OutputSpec {
        width: Some(side(w)),
        height: Some(side(h)),
        ..spec.clone()
    };
    let g = geometry::compute(sw, sh, &smaller);
    (g, true)
}

/// Bytes the outputs need on top of the decoded image: every resized output (held until
/// encoding) at `bytes_per_pixel`, plus the resizer's horizontal-pass buffer for the widest
/// output (`out_w × decoded_h`). Counted against [`Limits::max_decoded_bytes`] with the
/// decoder's own buffers, so a huge output box cannot pass where a huge input would not.
fn working_bytes(
    geoms: &[Geometry],
    swaps_axes: bool,
    decoded_height: u32,
    bytes_per_pixel: u64,
) -> u64 {
    let outputs: u64 = geoms
        .iter()
        .map(|g| {
            let (w, h) = g.output_size();
            u64::from(w) * u64::from(h)
        })
        .fold(0u64, u64::saturating_add);
    // The horizontal pass runs in stored orientation: for orientations 5-8 it is the
    // output's height wide.
    let widest = geoms
        .iter()
        .map(|g| if swaps_axes { g.height } else { g.width })
        .max()
        .unwrap_or(0);
    let temp = u64::from(widest) * u64::from(decoded_height);
    outputs.saturating_add(temp).saturating_mul(bytes_per_pixel)
}

/// The smallest DCT scale numerator (of 8) whose decode covers `need × margin`.
pub(crate) fn choose_jpeg_scale(need: f64, margin: f64) -> u8 {
    let want = need * margin.max(0.0);
    [1u8, 2, 4]
        .into_iter()
        .find(|&n| f64::from(n) / 8.0 >= want)
        .unwrap_or(8)
}

/// The bytes a decode of `p` holds at its peak (decoded pixels, the decoder's own buffers,
/// the resized outputs and the resizer's temporary), and the JPEG DCT scale numerator it
/// decodes at (8 for other formats). This is what [`Limits::max_decoded_bytes`] is checked
/// against.
fn needed_bytes(p: &Parts<'_>, geoms: &[Geometry], plan: &Plan) -> (u64, u8) {
    match &p.source {
        Source::Jpeg(hdr) => {
            let need = geoms.iter().map(Geometry::scale).fold(0.0f64, f64::max);
            let num = if plan.shrink_on_load {
                choose_jpeg_scale(need, plan.shrink_margin)
            } else {
                8
            };
            let (_, dh) = crate::jpeg::scaled_size(hdr.width, hdr.height, u32::from(num));
            let bytes = hdr
                .decode_bytes(u32::from(num))
                .saturating_add(working_bytes(geoms, p.swaps_axes, dh, 4));
            (bytes, num)
        }
        #[cfg(feature = "heic")]
        Source::Heic(hdr) => {
            let need = geoms.iter().map(Geometry::scale).fold(0.0f64, f64::max);
            let f = if plan.shrink_on_load {
                hdr.tile_shrink(need, plan.shrink_margin)
            } else {
                1
            };
            let (dw, dh) = (p.stored_width.div_ceil(f), p.stored_height.div_ceil(f));
            let bpp = hdr.bytes_per_pixel();
            let decoded = u64::from(dw) * u64::from(dh) * bpp;
            let bytes = decoded
                .saturating_add(hdr.decoder_bytes(f))
                .saturating_add(working_bytes(geoms, p.swaps_axes, dh, 4 * (bpp / 3).max(1)));
            (bytes, (8 / f) as u8)
        }
        #[cfg(feature = "avif")]
        Source::Avif(hdr) => {
            let need = geoms.iter().map(Geometry::scale).fold(0.0f64, f64::max);
            let f = if plan.shrink_on_load {
                hdr.tile_shrink(need, plan.shrink_margin)
            } else {
                1
            };
            let (dw, dh) = (p.stored_width.div_ceil(f), p.stored_height.div_ceil(f));
            let bpp = hdr.bytes_per_pixel();
            let decoded = u64::from(dw) * u64::from(dh) * bpp;
            let bytes = decoded
                .saturating_add(hdr.decoder_bytes(f))
                .saturating_add(working_bytes(geoms, p.swaps_axes, dh, 4 * (bpp / 3).max(1)));
            (bytes, (8 / f) as u8)
        }
        Source::Other(dec) => {
            let pixels = u64::from(p.stored_width) * u64::from(p.stored_height);
            let ct = dec.color_type();
            let need = pixels * u64::from(ct.bytes_per_pixel());
            // Resized outputs: four channels at the decoded sample size.
            let output_bpp = 4 * u64::from(ct.bytes_per_pixel() / ct.channel_count());
            let bytes = need
                .saturating_add(decoder_buffers(p.format, pixels, p.interlaced, need))
                .saturating_add(working_bytes(
                    geoms,
                    p.swaps_axes,
                    p.stored_height,
                    output_bpp,
                ));
            (bytes, 8)
        }
    }
}

/// Encoders' own buffers, which [`Limits::max_decoded_bytes`] does not count: a JPEG
/// encoder holds 4 bytes per output pixel and component of coefficients (mozjpeg's
/// Huffman optimisation), WebP and AVIF encoders a few copies of the output. Outputs
/// after the largest are encoded side by side, so all are counted.
fn encoder_bytes(geoms: &[Geometry], plan: &Plan, input: ImageFormat) -> u64 {
    geoms
        .iter()
        .zip(&plan.outputs)
        .map(|(g, s)| {
            let (w, h) = g.output_size();
            let per_pixel = match s.format.resolve(input) {
                ImageFormat::Jpeg => 12,
                _ => 16,
            };
            u64::from(w) * u64::from(h) * per_pixel
        })
        .fold(0u64, u64::saturating_add)
}

/// What rendering `bytes` with `plan` is predicted to hold in memory at its peak, from
/// the header alone (no pixel is decoded). See [`estimate_memory`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryEstimate {
    /// Decoded pixels, decoder buffers, resized outputs and the resizer's temporary: the
    /// figure checked against [`Limits::max_decoded_bytes`].
    pub decode: u64,
    /// The encoders' own buffers (not counted by the limit).
    pub encode: u64,
}

impl MemoryEstimate {
    /// Both parts (the encoders run after the decoded image is dropped, so this is an
    /// upper bound of the peak, not the peak itself).
    pub fn total(&self) -> u64 {
        self.decode.saturating_add(self.encode)
    }
}

/// Predict the memory a [`render`] of `bytes` with `plan` needs, reading only the header.
///
/// Works on a prefix of the file when the header is in it (JPEG, PNG, WebP and BMP headers
/// are at the start). A prefix of a GIF (whose frames are counted through the file) or a
/// TIFF (whose first directory may be anywhere) can fail with
/// [`ErrorKind::Truncated`](crate::ErrorKind) or `Corrupt`: estimate from the whole file. The same limits as
/// [`render`] are checked: an image over [`Limits::max_decoded_bytes`] or
/// [`Limits::max_pixels`] is an error here too, before anything is decoded. The figure
/// does not include `bytes` itself.
pub fn estimate_memory(bytes: &[u8], plan: &Plan) -> Result<MemoryEstimate> {
    for s in &plan.outputs {
        s.validate()?;
    }
    let opened = probe::open(bytes, &plan.limits)?;
    let info = opened.info.clone();
    let geoms: Vec<Geometry> = fit_all(&info, plan).into_iter().map(|(g, _)| g).collect();
    let animated: Vec<Geometry> = plan
        .outputs
        .iter()
        .zip(&geoms)
        .filter(|(s, _)| crate::anim::applies(s, &info))
        .map(|(_, g)| *g)
        .collect();
    let parts = opened_parts(opened);
    let (mut decode, _) = needed_bytes(&parts, &geoms, plan);
    if !animated.is_empty() {
        // Frame by frame, before the still outputs' decode: the larger of the two.
        decode = decode.max(crate::anim::needed_bytes(&info, &animated));
    }
    Limits::check("decoded bytes", decode, plan.limits.max_decoded_bytes)?;
    Ok(MemoryEstimate {
        decode,
        encode: encoder_bytes(&geoms, plan, info.format),
    })
}

fn decode(bytes: &[u8], p: Parts<'_>, geoms: &[Geometry], plan: &Plan) -> Result<(Decoded, u8)> {
    let limits = &plan.limits;
    let format = p.format;
    let (need, num) = needed_bytes(&p, geoms, plan);
    Limits::check("decoded bytes", need, limits.max_decoded_bytes)?;
    let (image, shrink) = match p.source {
        Source::Jpeg(hdr) => (
            crate::jpeg::decode(bytes, &hdr, num, limits.max_decoded_bytes)?,
            8 / num,
        ),
        #[cfg(feature = "heic")]
        Source::Heic(hdr) => {
            let f = 8 / u32::from(num);
            (hdr.decode(bytes, f)?, f as u8)
        }
        #[cfg(feature = "avif")]
        Source::Avif(hdr) => {
            let f = 8 / u32::from(num);
            (hdr.decode(limits.max_pixels, f)?, f as u8)
        }
        Source::Other(dec) => {
            let img = crate::jpeg::guarded(format, false, || {
                DynamicImage::from_decoder(dec).map_err(|e| {
                    probe::with_tiff_layout(Error::from_image(format, e), format, bytes)
                })
            })?;
            let mut img = match img {
                DynamicImage::ImageRgb32F(_) => DynamicImage::ImageRgb16(img.to_rgb16()),
                DynamicImage::ImageRgba32F(_) => DynamicImage::ImageRgba16(img.to_rgba16()),
                other => other,
            };
            if format == ImageFormat::Tiff
                && img.color().has_alpha()
                && crate::ifd::tiff_extra_samples(bytes) == Some(1)
            {
                crate::color::unpremultiply(&mut img);
            }
            (img, 1)
        }
    };
    Ok((
        Decoded {
            image,
            stored_width: p.stored_width,
            stored_height: p.stored_height,
            icc: p.icc,
            exif: p.exif,
        },
        shrink,
    ))
}

pub(crate) struct Ctx<'a> {
    pub(crate) stored: (u32, u32),
    pub(crate) orientation: u8,
    pub(crate) to_srgb: Option<&'a ToSrgb>,
    pub(crate) input_format: ImageFormat,
}

/// Run `f` on the largest item alone (its resize or encode is itself parallel), then on the
/// rest side by side: the peak holds the largest's buffers or the others', not all at once.
fn largest_first<T: Send, R: Send>(
    mut items: Vec<(usize, T)>,
    largest: usize,
    f: impl Fn(usize, T) -> Result<R> + Sync,
) -> Result<Vec<(usize, R)>> {
    let mut out = Vec::with_capacity(items.len());
    if let Some(pos) = items.iter().position(|(i, _)| *i == largest) {
        let (i, t) = items.swap_remove(pos);
        out.push((i, f(i, t)?));
    }
    let rest: Vec<(usize, R)> = items
        .into_par_iter()
        .map(|(i, t)| f(i, t).map(|r| (i, r)))
        .collect::<Result<_>>()?;
    out.extend(rest);
    Ok(out)
}

/// The metadata an output embeds when its spec keeps it: the source's ICC profile as is
/// and its EXIF with the orientation reset (the pixels are already upright).
struct Embedded<'a> {
    icc: Option<&'a [u8]>,
    exif: Option<Vec<u8>>,
}

impl<'a> Embedded<'a> {
    fn new(icc: Option<&'a [u8]>, exif: Option<&[u8]>) -> Self {
        let exif = exif.map(|e| {
            let mut clean = e.to_vec();
            crate::ifd::reset_exif_orientation(&mut clean);
            clean
        });
        Embedded { icc, exif }
    }

    /// What `spec` embeds in an output of `format` whose pixels are `gray` or RGB. A profile
    /// goes only where its colour space matches the pixels: a CMYK profile describes the
    /// source's inks, not the RGB made from them, and a grey profile cannot describe RGB.
    fn for_spec(&self, spec: &OutputSpec, format: ImageFormat, gray: bool) -> Embed<'_> {
        if spec.keep_metadata {
            let fits = |icc: &&[u8]| match icc.get(16..20) {
                Some(b"RGB ") => !gray,
                Some(b"GRAY") => gray,
                _ => false,
            };
            Embed {
                icc: self
                    .icc
                    .filter(|_| encode::carries_icc(format))
                    .filter(fits),
                exif: self.exif.as_deref(),
            }
        } else {
            Embed {
                icc: None,
                exif: None,
            }
        }
    }
}

fn resize_alg(f: Filter) -> fr::ResizeAlg {
    use fr::FilterType as T;
    match f {
        Filter::Nearest => fr::ResizeAlg::Nearest,
        Filter::Box => fr::ResizeAlg::Convolution(T::Box),
        Filter::Bilinear => fr::ResizeAlg::Convolution(T::Bilinear),
        Filter::Hamming => fr::ResizeAlg::Convolution(T::Hamming),
        Filter::CatmullRom => fr::ResizeAlg::Convolution(T::CatmullRom),
        Filter::Mitchell => fr::ResizeAlg::Convolution(T::Mitchell),
        Filter::Lanczos3 => fr::ResizeAlg::Convolution(T::Lanczos3),
    }
}

/// Resize `src` (the part `crop` of it, in its own pixels) to `w`×`h`.
pub(crate) fn resize(
    src: &DynamicImage,
    crop: Rect,
    w: u32,
    h: u32,
    filter: Filter,
) -> Result<DynamicImage> {
    let whole = crop.left == 0.0
        && crop.top == 0.0
        && crop.width == f64::from(src.width())
        && crop.height == f64::from(src.height());
    if whole && (w, h) == (src.width(), src.height()) {
        return Ok(src.clone());
    }
    let mut dst = DynamicImage::new(w, h, src.color());
    let opts = fr::ResizeOptions::new()
        .resize_alg(resize_alg(filter))
        .crop(crop.left, crop.top, crop.width, crop.height);
    fr::Resizer::new()
        .resize(src, &mut dst, &opts)
        .map_err(|e| Error::InvalidSpec(format!("resize failed: {e}")))?;
    Ok(dst)
}

/// Crop, resize, orient, convert and pad one output; returns its pixels and format.
pub(crate) fn resize_one(
    src: &DynamicImage,
    ctx: &Ctx<'_>,
    spec: &OutputSpec,
    g: &Geometry,
) -> Result<(DynamicImage, ImageFormat)> {
    let (sw, sh) = (f64::from(ctx.stored.0), f64::from(ctx.stored.1));
    // The crop in full-size stored pixels, then in decoded (maybe DCT-scaled) pixels.
    let stored_crop = geometry::display_rect_to_stored(g.crop, sw, sh, ctx.orientation);
    let (kx, ky) = (f64::from(src.width()) / sw, f64::from(src.height()) / sh);
    let crop = Rect {
        left: stored_crop.left * kx,
        top: stored_crop.top * ky,
        width: (stored_crop.width * kx).min(f64::from(src.width()) - stored_crop.left * kx),
        height: (stored_crop.height * ky).min(f64::from(src.height()) - stored_crop.top * ky),
    };
    let (tw, th) = if geometry::swaps_axes(ctx.orientation) {
        (g.height, g.width)
    } else {
        (g.width, g.height)
    };
    let mut img = resize(src, crop, tw, th, spec.filter)?;
    if ctx.orientation != 1 {
        if let Some(o) = image::metadata::Orientation::from_exif(ctx.orientation) {
            img.apply_orientation(o);
        }
    }
    let format = spec.format.resolve(ctx.input_format);
    // Pixels stay in the source's space only when the profile goes with them: `keep` on a
    // format that can carry an ICC profile. AVIF output (no ICC in this encoder's
    // container) is converted to sRGB even with `keep`.
    let profile_travels = spec.keep_metadata && crate::encode::carries_icc(format);
    if !profile_travels {
        if let Some(t) = ctx.to_srgb {
            t.apply(&mut img);
        }
    }
    let img = match g.pad {
        Some(p) => crate::thumb::pad(&img, p, format != ImageFormat::Jpeg),
        None => img,
    };
    Ok((img, format))
}

/// Encode one output; keeps a copy of its pixels when they are needed for the thumbhash.
fn encode_one(
    img: DynamicImage,
    format: ImageFormat,
    spec: &OutputSpec,
    embed: &Embedded<'_>,
    keep_pixels: bool,
) -> Result<(Rendition, Option<DynamicImage>)> {
    let (w, h) = (img.width(), img.height());
    let kept = keep_pixels.then(|| img.clone());
    let gray = encode::writes_gray(&img, format);
    let bytes = encode::encode(img, format, spec, &embed.for_spec(spec, format, gray))?;
    Ok((
        Rendition {
            spec: spec.to_spec_string(),
            width: w,
            height: h,
            format,
            mime_type: format.mime_type(),
            size: bytes.len(),
            fitted_to_format: false,
            bytes,
        },
        kept,
    ))
}
