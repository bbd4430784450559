//! Colour: CMYK to RGB, and ICC profiles to sRGB (moxcms).

use image::DynamicImage;
use moxcms::{ColorProfile, DataColorSpace, Layout, ProfileText, TransformOptions};
use std::sync::Arc;

/// CMYK (or YCCK already turned into CMYK by libjpeg) to RGB. Adobe's files store the inks
/// inverted (0 = full ink); `inverted` says so (the Adobe APP14 marker is present).
pub(crate) fn cmyk_to_rgb(cmyk: &[u8], inverted: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(cmyk.len() / 4 * 3);
    for px in cmyk.chunks_exact(4) {
        let (c, m, y, k) = if inverted {
            (px[0], px[1], px[2], px[3])
        } else {
            (255 - px[0], 255 - px[1], 255 - px[2], 255 - px[3])
        };
        // Here c/m/y/k are the "paper left" amounts: 255 = no ink.
        let k = u16::from(k);
        for v in [c, m, y] {
            out.push(((u16::from(v) * k + 127) / 255) as u8);
        }
    }
    out
}

/// CMYK (or YCCK) pixels to sRGB through the file's own CMYK ICC profile, as LittleCMS
/// would. `None` when `icc` is not a CMYK profile moxcms can build a transform from; the
/// caller then uses [`cmyk_to_rgb`]. `inverted` as there: Adobe files store 255 − ink, the
/// profile wants ink amounts (0 = none).
pub(crate) fn cmyk_profile_to_srgb(cmyk: &[u8], icc: &[u8], inverted: bool) -> Option<Vec<u8>> {
    let src = ColorProfile::new_from_slice(icc).ok()?;
    if src.color_space != DataColorSpace::Cmyk {
        return None;
    }
    // moxcms renders a LUT-based CMYK profile through its colorimetric table (A2B1), as
    // LittleCMS does at relative colorimetric intent (libvips's default intent).
    let t = src
        .create_transform_8bit(
            Layout::Rgba,
            &ColorProfile::new_srgb(),
            Layout::Rgb,
            TransformOptions::default(),
        )
        .ok()?;
    let mut out = vec![0u8; cmyk.len() / 4 * 3];
    const ROW: usize = 16 * 1024; // pixels per chunk: bounds the inverted copy
    let mut ink = vec![0u8; ROW * 4];
    for (src_px, dst_px) in cmyk.chunks(ROW * 4).zip(out.chunks_mut(ROW * 3)) {
        let ink = &mut ink[..src_px.len()];
        if inverted {
            for (d, s) in ink.iter_mut().zip(src_px) {
                *d = 255 - s;
            }
        } else {
            ink.copy_from_slice(src_px);
        }
        t.transform(ink, dst_px).ok()?;
    }
    Some(out)
}

fn text(t: &ProfileText) -> Option<String> {
    match t {
        ProfileText::PlainString(s) => Some(s.clone()),
        ProfileText::Localizable(v) => v
            .iter()
            .find(|l| l.language == "en")
            .or(v.first())
            .map(|l| l.value.clone()),
        ProfileText::Description(d) => Some(d.ascii_string.clone()),
    }
    .map(|s| s.trim_matches(char::from(0)).trim().to_string())
    .filter(|s| !s.is_empty())
}

/// The profile's description (e.g. "Display P3"), if it parses and has one.
pub(crate) fn icc_description(icc: &[u8]) -> Option<String> {
    ColorProfile::new_from_slice(icc)
        .ok()
        .and_then(|p| p.description.as_ref().and_then(text))
}

/// A ready conversion from an embedded RGB profile to sRGB.
#[derive(Clone)]
pub(crate) struct ToSrgb {
    rgb8: Arc<moxcms::Transform8BitExecutor>,
    rgba8: Arc<moxcms::Transform8BitExecutor>,
    rgb16: Arc<moxcms::Transform16BitExecutor>,
    rgba16: Arc<moxcms::Transform16BitExecutor>,
}

impl ToSrgb {
    /// `None` when no conversion is needed or possible: no profile, an sRGB profile, a
    /// non-RGB profile (gray, CMYK: handled elsewhere), or a profile that does not parse
    /// (then the pixels are taken as sRGB, which is what browsers do).
    pub(crate) fn new(icc: &[u8]) -> Option<ToSrgb> {
        let mut src = ColorProfile::new_from_slice(icc).ok()?;
        // A v4.4 profile may carry both tone curves and a `cicp` tag. LittleCMS (and so
        // libvips and Pillow) transform through the curves and matrix; so does this
        // engine, for the same pixels as theirs.
        src.cicp = None;
        if src.color_space != DataColorSpace::Rgb {
            return None;
        }
        if src
            .description
            .as_ref()
            .and_then(text)
            .is_some_and(|d| d.to_ascii_lowercase().contains("srgb"))
        {
            return None;
        }
        let dst = ColorProfile::new_srgb();
        let o = TransformOptions {
            allow_use_cicp_transfer: false,
            ..TransformOptions::default()
        };
        Some(ToSrgb {
            rgb8: src
                .create_transform_8bit(Layout::Rgb, &dst, Layout::Rgb, o)
                .ok()?,
            rgba8: src
                .create_transform_8bit(Layout::Rgba, &dst, Layout::Rgba, o)
                .ok()?,
            rgb16: src
                .create_transform_16bit(Layout::Rgb, &dst, Layout::Rgb, o)
                .ok()?,
            rgba16: src
                .create_transform_16bit(Layout::Rgba, &dst, Layout::Rgba, o)
                .ok()?,
        })
    }

    /// Convert an RGB(A) image in place; gray images are left as they are.
    pub(crate) fn apply(&self, img: &mut DynamicImage) {
        fn run<V: Copy + Default>(
            t: &Arc<dyn moxcms::TransformExecutor<V> + Send + Sync>,
            px: &mut [V],
        ) {
            let src = px.to_vec();
            // A failing transform (never seen: lengths match by construction) leaves the
            // pixels unconverted rather than failing the whole render.
            let _ = t.transform(&src, px);
        }
        match img {
            DynamicImage::ImageRgb8(b) => run(&self.rgb8, b),
            DynamicImage::ImageRgba8(b) => run(&self.rgba8, b),
            DynamicImage::ImageRgb16(b) => run(&self.rgb16, b),
            DynamicImage::ImageRgba16(b) => run(&self.rgba16, b),
            _ => {}
        }
    }
}

/// Turn premultiplied ("associated") alpha into straight alpha, in place: a TIFF with
/// ExtraSamples = 1 stores colour already multiplied by alpha, the rest of the pipeline
/// works on straight alpha (and premultiplies itself for resampling).
pub(crate) fn unpremultiply(img: &mut DynamicImage) {
    fn run<const N: usize>(px: &mut [u16], max: u32) {
        for p in px.chunks_exact_mut(N) {
            let a = u32::from(p[N - 1]);
            if a == 0 || a == max {
                continue;
            }
            for c in &mut p[..N - 1] {
                *c = ((u32::from(*c) * max + a / 2) / a).min(max) as u16;
            }
        }
    }
    fn run8<const N: usize>(px: &mut [u8]) {
        for p in px.chunks_exact_mut(N) {
            let a = u32::from(p[N - 1]);
            if a == 0 || a == 255 {
                continue;
            }
            for c in &mut p[..N - 1] {
                *c = ((u32::from(*c) * 255 + a / 2) / a).min(255) as u8;
            }
        }
    }
    match img {
        DynamicImage::ImageRgba8(b) => run8::<4>(b),
        DynamicImage::ImageLumaA8(b) => run8::<2>(b),
        DynamicImage::ImageRgba16(b) => run::<4>(b, 65535),
        DynamicImage::ImageLumaA16(b) => run::<2>(b, 65535),
        _ => {}
    }
}
