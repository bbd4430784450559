//! Output specifications and their compact text syntax, shared by the CLI and the Lambda.
//!
//! # Syntax
//!
//! A list of tokens separated by commas or whitespace. A *size* token starts a new output;
//! *option* tokens apply to every size of the group they follow. A `;` ends a group, so
//! options after it never reach back:
//!
//! - sizes: `800` (width), `800x600` (box), `x600` (height), `orig` (source size);
//! - fit: `inside` (default), `cover`, `fill`, `exact`;
//! - gravity (for `cover` and `exact`): `center` (default), `north`, `south`, `east`, `west`,
//!   `northeast`, `northwest`, `southeast`, `southwest`;
//! - format: `jpeg`/`jpg`, `png`, `webp`, `avif`, `same` (default);
//! - quality: `q1` … `q100`; filter: `lanczos3` (default), `catmullrom`, `mitchell`,
//!   `bilinear`, `hamming`, `box`, `nearest`;
//! - flags: `upscale`, `progressive`, `lossless`, `keep` (keep metadata), `speed1`…`speed10` (AVIF),
//!   `small` (JPEG: mozjpeg's trellis quantisation and scan optimisation), `anim` (keep an
//!   animated GIF, WebP or JPEG XL animated, as an animated WebP), `yuv444` (AVIF: chroma at
//!   full resolution), `aom` (AVIF: libaom instead of rav1e, in builds with the `aom` feature).
//!
//! So `1600,800,200,webp,q75` is three WebP outputs at quality 75, and
//! `800x600,cover,webp,q75,200x200,cover,png` is one WebP and one PNG output.
//!
//! ```
//! let specs = imgcore::OutputSpec::parse_list("1600,800,200,webp,q75").unwrap();
//! assert_eq!(specs.len(), 3);
//! assert_eq!(specs[2].width, Some(200));
//! assert_eq!(specs[2].quality, Some(75));
//! ```

use crate::format::OutputFormat;
use crate::{Error, Result};
use serde::Serialize;

/// The largest width or height an output box may ask for: 65,535 (the default input
/// limit). Checked in [`OutputSpec::validate`]; a format that holds less (JPEG 65,500,
/// WebP 16,383) gets the output fitted within its own limit.
pub const MAX_OUTPUT_SIDE: u32 = 65_535;

/// The largest area an output box may ask for, in pixels: 100,000,000 (100 MP, at most
/// 800 MB for a 16-bit RGBA canvas). Checked in [`OutputSpec::validate`]; an `inside` box
/// given by one side is checked once the source size is known, against the same figure.
pub const MAX_OUTPUT_PIXELS: u64 = 100_000_000;

/// How the image is fitted into the requested box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Fit {
    /// Keep the aspect ratio; the output fits inside the box (one side may be smaller).
    #[default]
    Inside,
    /// Keep the aspect ratio; the output covers the box exactly, the overflow is cropped
    /// at the [`Gravity`].
    Cover,
    /// Stretch to the box; the aspect ratio is not kept.
    Fill,
    /// Keep the aspect ratio, fit inside the box and pad to exactly the box size
    /// (transparent where the format has alpha, white for JPEG), placed by [`Gravity`].
    Exact,
}

impl Fit {
    /// Parse `inside`, `cover`, `fill` or `exact` (also `contain` for `inside`).
    pub fn from_name(s: &str) -> Option<Fit> {
        Some(match s {
            "inside" | "contain" => Fit::Inside,
            "cover" | "crop" => Fit::Cover,
            "fill" | "stretch" => Fit::Fill,
            "exact" | "pad" => Fit::Exact,
            _ => return None,
        })
    }
}

/// Where the kept part of the image sits when cropping (`cover`) or padding (`exact`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Gravity {
    /// Centre.
    #[default]
    Center,
    /// Top edge.
    North,
    /// Bottom edge.
    South,
    /// Right edge.
    East,
    /// Left edge.
    West,
    /// Top-right corner.
    NorthEast,
    /// Top-left corner.
    NorthWest,
    /// Bottom-right corner.
    SouthEast,
    /// Bottom-left corner.
    SouthWest,
}

impl Gravity {
    /// Parse a gravity name (`center`/`centre`, `north`, … `southwest`).
    pub fn from_name(s: &str) -> Option<Gravity> {
        Some(match s {
            "center" | "centre" => Gravity::Center,
            "north" | "top" => Gravity::North,
            "south" | "bottom" => Gravity::South,
            "east" | "right" => Gravity::East,
            "west" | "left" => Gravity::West,
            "northeast" => Gravity::NorthEast,
            "northwest" => Gravity::NorthWest,
            "southeast" => Gravity::SouthEast,
            "southwest" => Gravity::SouthWest,
            _ => return None,
        })
    }

    /// The position as fractions `(x, y)` of the free space: 0 = left/top, 1 = right/bottom.
    pub fn fractions(self) -> (f64, f64) {
        match self {
            Gravity::Center => (0.5, 0.5),
            Gravity::North => (0.5, 0.0),
            Gravity::South => (0.5, 1.0),
            Gravity::East => (1.0, 0.5),
            Gravity::West => (0.0, 0.5),
            Gravity::NorthEast => (1.0, 0.0),
            Gravity::NorthWest => (0.0, 0.0),
            Gravity::SouthEast => (1.0, 1.0),
            Gravity::SouthWest => (0.0, 1.0),
        }
    }
}

/// The AV1 encoder behind AVIF output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum AvifEncoder {
    /// rav1e (Rust), in every build with the `avif` feature. `q` maps to its quantizer as
    /// ravif 0.13's did. Default.
    #[default]
    Rav1e,
    /// libaom (C, built from source by cmake) in its all-intra mode, only in builds with the
    /// `aom` feature. With libaom 3.12 or later (this workspace links 3.14.1) it encodes with
    /// `tune=iq`, and `q` maps to its quantizer so that a `q` scores about as with rav1e; at
    /// its default speed 6 it writes about 12 % fewer bytes than rav1e at speed 9 at equal
    /// SSIMULACRA2 for about 0.8× the CPU, at speed 5 about 20 % fewer (fewer than sharp's
    /// libaom) for about 2.4× (BENCHMARKS.md, "At equal quality", workload A). With an older
    /// libaom: libaom's default tuning and libavif's `q` map (a `q` scores higher than with
    /// rav1e), about 2 % fewer bytes than rav1e at speed 6.
    Aom,
}

/// The resampling filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Filter {
    /// Lanczos, 3 lobes: sharpest, the default.
    #[default]
    Lanczos3,
    /// Catmull-Rom bicubic.
    CatmullRom,
    /// Mitchell–Netravali bicubic (softer).
    Mitchell,
    /// Bilinear (fast).
    Bilinear,
    /// Hamming (bilinear speed, bicubic-like quality when shrinking).
    Hamming,
    /// Box (area average).
    Box,
    /// Nearest neighbour (pixel art; no filtering).
    Nearest,
}

impl Filter {
    /// Parse a filter name.
    pub fn from_name(s: &str) -> Option<Filter> {
        Some(match s {
            "lanczos3" | "lanczos" => Filter::Lanczos3,
            "catmullrom" | "cubic" => Filter::CatmullRom,
            "mitchell" => Filter::Mitchell,
            "bilinear" | "linear" => Filter::Bilinear,
            "hamming" => Filter::Hamming,
            "box" => Filter::Box,
            "nearest" => Filter::Nearest,
            _ => return None,
        })
    }
}

/// One output to make from the input.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct OutputSpec {
    /// Box width in pixels. `None`: derived from `height` (or the source width when both are
    /// `None`). Default: `None`.
    pub width: Option<u32>,
    /// Box height in pixels. `None`: derived from `width`. Default: `None`.
    pub height: Option<u32>,
    /// How the image fits the box. Default: [`Fit::Inside`].
    pub fit: Fit,
    /// Crop or pad position for `cover`/`exact`. Default: [`Gravity::Center`].
    pub gravity: Gravity,
    /// Output format. Default: [`OutputFormat::Same`].
    pub format: OutputFormat,
    /// Quality 1–100 for JPEG, WebP and AVIF. `None`: 80 for JPEG and WebP, 60 for AVIF.
    pub quality: Option<u8>,
    /// Resampling filter. Default: [`Filter::Lanczos3`].
    pub filter: Filter,
    /// Allow outputs larger than the source. Default: `false` (never upscale).
    pub upscale: bool,
    /// Keep metadata: the source ICC profile is embedded and pixels stay in it (no sRGB
    /// conversion); for JPEG output the EXIF block is copied with its orientation reset to 1.
    /// Default: `false` (pixels converted to sRGB, EXIF/GPS/XMP/ICC dropped).
    pub keep_metadata: bool,
    /// Progressive JPEG. Default: `false` (baseline, optimised Huffman tables).
    pub progressive: bool,
    /// Lossless WebP. Default: `false`.
    pub lossless: bool,
    /// Smaller JPEG for more CPU: mozjpeg's compression tools (trellis quantisation,
    /// progressive scans chosen per image, its own quantisation tables) instead of
    /// libjpeg-turbo's fast baseline coding. The output is progressive. Default: `false`.
    pub small: bool,
    /// Keep an animation: an animated GIF, WebP or JPEG XL source renders every frame (same resize,
    /// frame delays and loop count kept) into an animated WebP. The output format must be
    /// `webp` or `same`; a still source renders as without it. Default: `false` (the first
    /// frame only).
    pub anim: bool,
    /// AVIF encoder speed, the encoder's own presets: rav1e's 1 (slow, small) to 10 (fast),
    /// libaom's `cpu-used` 1 to 9. `None` is the encoder's default
    /// ([`OutputSpec::effective_avif_speed`]): 9 for rav1e, 6 for libaom (whose speed 9 writes
    /// about 15 % more bytes than rav1e's). With rav1e, speed 8 writes about 6 % fewer bytes at
    /// equal SSIMULACRA2 for 1.1–1.3× the CPU (BENCHMARKS.md, "AVIF encoder settings"); speed 1
    /// costs about 25× speed 9 (README). Default: `None`.
    pub avif_speed: Option<u8>,
    /// AVIF with chroma at full resolution (4:4:4) below quality 90 too (from 90 it always
    /// is), instead of half width and height (4:2:0). For line art, text and flat graphics,
    /// where halved chroma blurs coloured edges; photos take more bytes and CPU for the same
    /// score. Spec flag `yuv444`; the format must be `avif`. Default: `false`.
    pub full_chroma: bool,
    /// The AV1 encoder for AVIF output. Spec flag `aom` picks libaom; the format must be
    /// `avif` and the build must have the `aom` feature. Default: [`AvifEncoder::Rav1e`].
    pub avif_encoder: AvifEncoder,
    /// PNG compression: 0 = fastest … 2 = best. Default: 0 (fast filters and deflate).
    pub png_compression: u8,
}

impl Default for OutputSpec {
    fn default() -> Self {
        OutputSpec {
            width: None,
            height: None,
            fit: Fit::Inside,
            gravity: Gravity::Center,
            format: OutputFormat::Same,
            quality: None,
            filter: Filter::Lanczos3,
            upscale: false,
            keep_metadata: false,
            progressive: false,
            lossless: false,
            small: false,
            anim: false,
            avif_speed: None,
            full_chroma: false,
            avif_encoder: AvifEncoder::Rav1e,
            png_compression: 0,
        }
    }
}

impl OutputSpec {
    /// An `inside` output `width` pixels wide (height follows the aspect ratio).
    pub fn width(width: u32) -> Self {
        OutputSpec {
            width: Some(width),
            ..Default::default()
        }
    }

    /// An output of exactly `width`×`height`, cropped to fill (`cover`).
    pub fn cover(width: u32, height: u32) -> Self {
        OutputSpec {
            width: Some(width),
            height: Some(height),
            fit: Fit::Cover,
            ..Default::default()
        }
    }

    /// Set the format (builder style).
    pub fn with_format(mut self, format: OutputFormat) -> Self {
        self.format = format;
        self
    }

    /// Set the quality (builder style).
    pub fn with_quality(mut self, quality: u8) -> Self {
        self.quality = Some(quality);
        self
    }

    /// The quality used for a format when `quality` is `None`.
    pub fn effective_quality(&self, format: crate::ImageFormat) -> u8 {
        self.quality.unwrap_or(match format {
            crate::ImageFormat::Avif => 60,
            _ => 80,
        })
    }

    /// The AVIF encoder speed used when `avif_speed` is `None`: 9 for rav1e, 6 for libaom.
    pub fn effective_avif_speed(&self) -> u8 {
        self.avif_speed.unwrap_or(match self.avif_encoder {
            AvifEncoder::Rav1e => 9,
            AvifEncoder::Aom => 6,
        })
    }

    /// Check the values make sense, and that the box is within [`MAX_OUTPUT_SIDE`] and
    /// [`MAX_OUTPUT_PIXELS`].
    pub fn validate(&self) -> Result<()> {
        if self.width == Some(0) || self.height == Some(0) {
            return Err(Error::InvalidSpec(
                "width and height must be at least 1".into(),
            ));
        }
        for side in [self.width, self.height].into_iter().flatten() {
            if side > MAX_OUTPUT_SIDE {
                return Err(Error::InvalidSpec(format!(
                    "an output side of {side} px is larger than the maximum, {MAX_OUTPUT_SIDE}"
                )));
            }
        }
        if let (Some(w), Some(h)) = (self.width, self.height) {
            let area = u64::from(w) * u64::from(h);
            if area > MAX_OUTPUT_PIXELS {
                return Err(Error::InvalidSpec(format!(
                    "an output box of {w}x{h} ({area} pixels) is larger than the maximum, \
                     {MAX_OUTPUT_PIXELS} pixels"
                )));
            }
        }
        if let Some(q) = self.quality {
            if !(1..=100).contains(&q) {
                return Err(Error::InvalidSpec(format!("quality {q} is not in 1..=100")));
            }
        }
        if let Some(speed) = self.avif_speed {
            if !(1..=10).contains(&speed) {
                return Err(Error::InvalidSpec(format!(
                    "AVIF speed {speed} is not in 1..=10"
                )));
            }
        }
        if self.anim && !matches!(self.format, OutputFormat::WebP | OutputFormat::Same) {
            return Err(Error::InvalidSpec(format!(
                "`anim` makes an animated WebP: the format must be webp or same, not {}",
                self.format.name()
            )));
        }
        if self.full_chroma && self.format != OutputFormat::Avif {
            return Err(Error::InvalidSpec(format!(
                "`yuv444` sets AVIF's chroma: the format must be avif, not {}",
                self.format.name()
            )));
        }
        if self.avif_encoder == AvifEncoder::Aom {
            if self.format != OutputFormat::Avif {
                return Err(Error::InvalidSpec(format!(
                    "`aom` picks AVIF's encoder: the format must be avif, not {}",
                    self.format.name()
                )));
            }
            if !cfg!(feature = "aom") {
                return Err(Error::InvalidSpec(
                    "`aom`: this build has no libaom (cargo feature `aom` of imgcore)".into(),
                ));
            }
            if let Some(speed @ 10..) = self.avif_speed {
                return Err(Error::InvalidSpec(format!(
                    "libaom's speeds are 1..=9, not {speed}"
                )));
            }
        }
        if self.png_compression > 2 {
            return Err(Error::InvalidSpec(format!(
                "PNG compression {} is not in 0..=2",
                self.png_compression
            )));
        }
        if matches!(self.fit, Fit::Cover | Fit::Exact | Fit::Fill)
            && (self.width.is_none() || self.height.is_none())
        {
            return Err(Error::InvalidSpec(format!(
                "fit {:?} needs both a width and a height (e.g. 800x600)",
                self.fit
            )));
        }
        Ok(())
    }

    /// Parse a list in the compact syntax (see the [module docs](self)).
    pub fn parse_list(text: &str) -> Result<Vec<OutputSpec>> {
        let mut done = Vec::new();
        for segment in text.split(';') {
            if !segment.trim().is_empty() {
                done.extend(Self::parse_segment(segment)?);
            }
        }
        if done.is_empty() {
            return Err(Error::InvalidSpec("no output size given".into()));
        }
        for spec in &done {
            spec.validate()?;
        }
        Ok(done)
    }

    fn parse_segment(text: &str) -> Result<Vec<OutputSpec>> {
        let mut done: Vec<OutputSpec> = Vec::new();
        // Sizes of the current group, and whether options have been seen after them.
        let mut group: Vec<OutputSpec> = Vec::new();
        let mut group_has_options = false;
        let tokens = text
            .split(|c: char| c == ',' || c.is_whitespace())
            .map(str::trim)
            .filter(|t| !t.is_empty());
        for raw in tokens {
            let tok = raw.to_ascii_lowercase();
            if let Some((w, h)) = parse_size(&tok)? {
                if group_has_options {
                    done.append(&mut group);
                    group_has_options = false;
                }
                group.push(OutputSpec {
                    width: w,
                    height: h,
                    ..Default::default()
                });
                continue;
            }
            if group.is_empty() {
                return Err(Error::InvalidSpec(format!(
                    "option `{raw}` comes before any size (start with a size like 800 or 800x600)"
                )));
            }
            group_has_options = true;
            for spec in &mut group {
                apply_option(spec, &tok, raw)?;
            }
        }
        done.append(&mut group);
        Ok(done)
    }

    /// The spec written back in the compact syntax (round-trips through [`parse_list`](Self::parse_list)).
    pub fn to_spec_string(&self) -> String {
        let mut parts = vec![match (self.width, self.height) {
            (Some(w), Some(h)) => format!("{w}x{h}"),
            (Some(w), None) => format!("{w}"),
            (None, Some(h)) => format!("x{h}"),
            (None, None) => "orig".to_string(),
        }];
        let d = OutputSpec::default();
        if self.fit != d.fit {
            parts.push(format!("{:?}", self.fit).to_ascii_lowercase());
        }
        if self.gravity != d.gravity {
            parts.push(format!("{:?}", self.gravity).to_ascii_lowercase());
        }
        if self.format != d.format {
            parts.push(self.format.name().into());
        }
        if let Some(q) = self.quality {
            parts.push(format!("q{q}"));
        }
        if self.filter != d.filter {
            parts.push(format!("{:?}", self.filter).to_ascii_lowercase());
        }
        for (flag, name) in [
            (self.upscale, "upscale"),
            (self.keep_metadata, "keep"),
            (self.progressive, "progressive"),
            (self.lossless, "lossless"),
            (self.small, "small"),
            (self.anim, "anim"),
            (self.full_chroma, "yuv444"),
            (self.avif_encoder == AvifEncoder::Aom, "aom"),
        ] {
            if flag {
                parts.push(name.into());
            }
        }
        if let Some(speed) = self.avif_speed {
            parts.push(format!("speed{speed}"));
        }
        if self.png_compression != d.png_compression {
            parts.push(format!("z{}", self.png_compression));
        }
        parts.join(",")
    }
}

impl std::str::FromStr for OutputSpec {
    type Err = Error;
    /// Parse exactly one output spec, e.g. `800x600,cover,webp,q75`.
    fn from_str(s: &str) -> Result<Self> {
        let mut list = OutputSpec::parse_list(s)?;
        if list.len() != 1 {
            return Err(Error::InvalidSpec(format!(
                "`{s}` describes {} outputs, expected one",
                list.len()
            )));
        }
        Ok(list.remove(0))
    }
}

type Size = (Option<u32>, Option<u32>);

fn parse_dim(s: &str, whole: &str) -> Result<u32> {
    s.parse::<u32>()
        .map_err(|_| Error::InvalidSpec(format!("`{whole}` is not a size")))
}

fn parse_size(tok: &str) -> Result<Option<Size>> {
    if tok == "orig" || tok == "original" {
        return Ok(Some((None, None)));
    }
    let first = tok.chars().next().unwrap_or(' ');
    if let Some(h) = tok.strip_prefix('x') {
        if !h.is_empty() && h.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Some((None, Some(parse_dim(h, tok)?))));
        }
        return Ok(None);
    }
    if !first.is_ascii_digit() {
        return Ok(None);
    }
    match tok.split_once('x') {
        Some((w, h)) => Ok(Some((Some(parse_dim(w, tok)?), Some(parse_dim(h, tok)?)))),
        None => Ok(Some((Some(parse_dim(tok, tok)?), None))),
    }
}

fn number_after(tok: &str, prefix: &str) -> Option<Result<u8>> {
    let rest = tok.strip_prefix(prefix)?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        rest.parse::<u8>()
            .map_err(|_| Error::InvalidSpec(format!("`{tok}`: number out of range"))),
    )
}

fn apply_option(spec: &mut OutputSpec, tok: &str, raw: &str) -> Result<()> {
    if let Some(fit) = Fit::from_name(tok) {
        spec.fit = fit;
    } else if let Some(g) = Gravity::from_name(tok) {
        spec.gravity = g;
    } else if let Some(f) = OutputFormat::from_name(tok) {
        spec.format = f;
    } else if let Some(f) = Filter::from_name(tok) {
        spec.filter = f;
    } else if let Some(q) = number_after(tok, "q") {
        spec.quality = Some(q?);
    } else if let Some(s) = number_after(tok, "speed") {
        spec.avif_speed = Some(s?);
    } else if let Some(z) = number_after(tok, "z") {
        spec.png_compression = z?;
    } else {
        match tok {
            "upscale" | "enlarge" => spec.upscale = true,
            "keep" | "keep-metadata" | "keepmetadata" => spec.keep_metadata = true,
            "progressive" | "interlace" => spec.progressive = true,
            "lossless" => spec.lossless = true,
            "small" => spec.small = true,
            "anim" | "animated" => spec.anim = true,
            "yuv444" => spec.full_chroma = true,
            "aom" => spec.avif_encoder = AvifEncoder::Aom,
            _ => {
                return Err(Error::InvalidSpec(format!(
                    "unknown option `{raw}` (expected a size, fit, gravity, format, qN, filter or flag)"
                )))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_share_trailing_options() {
        let v = OutputSpec::parse_list("800x600,cover,webp,q75,200x200,cover,png").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].format, OutputFormat::WebP);
        assert_eq!(v[0].quality, Some(75));
        assert_eq!(v[0].fit, Fit::Cover);
        assert_eq!(v[1].format, OutputFormat::Png);
        assert_eq!(v[1].quality, None);
        assert_eq!((v[1].width, v[1].height), (Some(200), Some(200)));
    }

    #[test]
    fn plain_width_list() {
        let v = OutputSpec::parse_list("1600, 800 200").unwrap();
        let w: Vec<_> = v.iter().map(|s| s.width).collect();
        assert_eq!(w, vec![Some(1600), Some(800), Some(200)]);
        assert!(v.iter().all(|s| s.fit == Fit::Inside && s.height.is_none()));
    }

    #[test]
    fn semicolon_ends_a_group() {
        let v = OutputSpec::parse_list("40;24x24,cover,png").unwrap();
        assert_eq!(v[0].fit, Fit::Inside);
        assert_eq!(v[0].format, OutputFormat::Same);
        assert_eq!(v[1].fit, Fit::Cover);
    }

    #[test]
    fn height_only_and_orig() {
        let v = OutputSpec::parse_list("x300,orig,png").unwrap();
        assert_eq!((v[0].width, v[0].height), (None, Some(300)));
        assert_eq!((v[1].width, v[1].height), (None, None));
    }

    #[test]
    fn errors_are_specific() {
        for bad in [
            "",
            "webp",
            "800,q0",
            "800,q101",
            "800,wat",
            "0x10",
            "800,cover",
            "12ax4",
            "800,q999",
            "99999999999",
            "800,jpeg,yuv444",
        ] {
            let e = OutputSpec::parse_list(bad).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidSpec, "{bad}: {e}");
        }
    }

    #[test]
    fn yuv444_sets_full_chroma_for_avif_only() {
        for (s, full) in [("800,avif", false), ("800,avif,yuv444", true)] {
            let spec: OutputSpec = s.parse().unwrap();
            assert_eq!(spec.full_chroma, full, "{s}");
        }
        // `same` never becomes AVIF (AVIF input gives WebP), so the flag would be lost.
        for s in ["800,yuv444", "800,same,yuv444", "800,webp,yuv444"] {
            let e = OutputSpec::parse_list(s).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidSpec, "{s}: {e}");
        }
    }

    #[test]
    fn aom_picks_libaom_for_avif_in_builds_that_have_it() {
        assert_eq!(OutputSpec::default().avif_encoder, AvifEncoder::Rav1e);
        let parsed = OutputSpec::parse_list("800,avif,aom,speed6");
        if cfg!(feature = "aom") {
            let spec = &parsed.unwrap()[0];
            assert_eq!(spec.avif_encoder, AvifEncoder::Aom);
            assert_eq!(spec.avif_speed, Some(6));
            assert_eq!(spec.to_spec_string(), "800,avif,aom,speed6");
            // Without a speed, libaom's default is its own.
            let spec = &OutputSpec::parse_list("800,avif,aom").unwrap()[0];
            assert_eq!((spec.avif_speed, spec.effective_avif_speed()), (None, 6));
            assert_eq!(spec.to_spec_string(), "800,avif,aom");
        } else {
            let e = parsed.unwrap_err();
            assert!(e.to_string().contains("feature `aom`"), "{e}");
        }
        // Another format, or a speed libaom's all-intra mode does not have, is refused.
        for s in ["800,aom", "800,webp,aom", "800,avif,aom,speed10"] {
            let e = OutputSpec::parse_list(s).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidSpec, "{s}: {e}");
        }
    }

    #[test]
    fn round_trips() {
        for s in [
            "800x600,cover,north,webp,q75",
            "1600",
            "x300,png,z2",
            "400x400,exact,avif,speed6,keep",
            "800,avif,yuv444",
        ] {
            let spec: OutputSpec = s.parse().unwrap();
            let again: OutputSpec = spec.to_spec_string().parse().unwrap();
            assert_eq!(spec, again, "{s}");
        }
    }
}
