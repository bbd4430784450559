//! AVIF output: 8-bit RGB(A) → YCbCr (BT.601, full range) → an AV1 still picture from rav1e
//! (or libaom, `aom_enc`, with the `aom` feature) → AVIF box structure (avif-serialize).
//!
//! The colour planes are 4:2:0 below quality 90, as libvips writes AVIF (and imgcore JPEG):
//! on photos, at equal SSIMULACRA2, they take fewer bytes and less CPU than 4:4:4
//! (BENCHMARKS.md, "AVIF encoder settings"). From quality 90, and with the `yuv444` flag for
//! line art and text, where halved chroma smears coloured edges, they are 4:4:4. Alpha, when
//! some pixel is not opaque, is a second, monochrome AV1 image.

use crate::error::{Error, Result};
use crate::format::ImageFormat;
use crate::spec::AvifEncoder;
use image::DynamicImage;
use rav1e::prelude::{
    ChromaSamplePosition, ChromaSampling, ColorDescription, ColorPrimaries, Config, EncoderConfig,
    EncoderStatus, FrameType, MatrixCoefficients, PixelRange, Rational, SpeedSettings,
    TransferCharacteristics, Tune,
};
use yuv::{
    YuvChromaSubsampling, YuvConversionMode, YuvPlanarImageMut, YuvRange, YuvStandardMatrix,
};

const FMT: ImageFormat = ImageFormat::Avif;

/// How the colour planes are sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chroma {
    /// Chroma at half the width and half the height (AV1 profile 0).
    Half,
    /// Chroma at full resolution (AV1 profile 1).
    Full,
}

/// The quantizer (0–255) for a quality of 0–100, on the scale ravif 0.13 used, so a `q` given
/// before this encoder replaced ravif keeps its meaning: linear from 255 at q 0 to 191 at q 25,
/// half as steep from there to q 82, then steeper again towards 0 at q 100.
fn quantizer(quality: u8) -> usize {
    let q = f32::from(quality.min(100)) / 100.0;
    let fraction = if q >= 0.82 {
        2.6 * (1.0 - q)
    } else if q > 0.25 {
        0.875 - 0.5 * q
    } else {
        1.0 - q
    };
    (fraction * 255.0).round().clamp(0.0, 255.0) as usize
}

/// rav1e's preset for `speed`, trimmed for one intra-only frame: no lookahead, no reference
/// search, no scene detection.
fn speed_settings(speed: u8) -> SpeedSettings {
    let mut s = SpeedSettings::from_preset(speed);
    s.multiref = false;
    s.rdo_lookahead_frames = 1;
    s.scene_detection_mode = rav1e::prelude::SceneDetectionSpeed::None;
    s.motion.include_near_mvs = false;
    s
}

fn config(
    width: usize,
    height: usize,
    quality: u8,
    speed: u8,
    sampling: ChromaSampling,
    colour: Option<ColorDescription>,
) -> Config {
    let q = quantizer(quality);
    Config::new()
        .with_encoder_config(EncoderConfig {
            width,
            height,
            time_base: Rational::new(1, 1),
            sample_aspect_ratio: Rational::new(1, 1),
            bit_depth: 8,
            chroma_sampling: sampling,
            chroma_sample_position: ChromaSamplePosition::Unknown,
            // Full range for colour and alpha (as avif-serialize's boxes say).
            pixel_range: PixelRange::Full,
            color_description: colour,
            mastering_display: None,
            content_light: None,
            level_idx: None,
            enable_timing_info: false,
            still_picture: true,
            error_resilient: false,
            switch_frame_interval: 0,
            min_key_frame_interval: 0,
            max_key_frame_interval: 0,
            reservoir_frame_delay: None,
            low_latency: false,
            quantizer: q,
            min_quantizer: q as u8,
            bitrate: 0,
            tune: Tune::Psychovisual,
            film_grain_params: None,
            tile_cols: 0,
            tile_rows: 0,
            tiles: 1,
            speed_settings: speed_settings(speed),
        })
        // One thread per image: the engine already renders sizes and files in parallel.
        .with_threads(1)
}

/// One plane of samples: `height` rows of `width` bytes, `stride` bytes apart.
pub(crate) struct Plane<'a> {
    pub data: &'a [u8],
    pub stride: usize,
    pub width: usize,
    pub height: usize,
}

/// Encodes one frame of `width`×`height` with `encoder`: Y, Cb and Cr (`sampling` 4:2:0 or
/// 4:4:4, with `colour` signalled) or one monochrome plane (`Cs400`, for alpha). Returns the
/// AV1 key frame's OBUs.
#[allow(clippy::too_many_arguments)]
fn encode_frame(
    encoder: AvifEncoder,
    width: usize,
    height: usize,
    planes: &[Plane<'_>],
    sampling: ChromaSampling,
    colour: Option<ColorDescription>,
    quality: u8,
    speed: u8,
) -> Result<Vec<u8>> {
    // Each plane must hold its rows: luma at full size, chroma at half or full size.
    let (cw, ch) = match sampling {
        ChromaSampling::Cs444 => (width, height),
        _ => (width.div_ceil(2), height.div_ceil(2)),
    };
    let expected: &[(usize, usize)] = match sampling {
        ChromaSampling::Cs400 => &[(width, height)],
        _ => &[(width, height), (cw, ch), (cw, ch)],
    };
    let fits = planes.len() == expected.len()
        && planes.iter().zip(expected).all(|(p, &(w, h))| {
            (p.width, p.height) == (w, h)
                && p.stride >= w
                && h > 0
                && p.data.len() >= (h - 1) * p.stride + w
        });
    if !fits {
        return Err(Error::encode(FMT, "the planes do not match the frame"));
    }
    match encoder {
        AvifEncoder::Rav1e => {
            let cfg = config(width, height, quality, speed, sampling, colour);
            rav1e_frame(&cfg, planes)
        }
        #[cfg(feature = "aom")]
        AvifEncoder::Aom => {
            crate::aom_enc::encode_frame(width, height, planes, sampling, quality, speed)
        }
        #[cfg(not(feature = "aom"))]
        AvifEncoder::Aom => Err(Error::encode(
            FMT,
            "this build has no libaom (cargo feature `aom`)",
        )),
    }
}

/// rav1e: the key frame's OBUs for one frame of `planes`.
fn rav1e_frame(cfg: &Config, planes: &[Plane<'_>]) -> Result<Vec<u8>> {
    let fail = |e: &dyn std::fmt::Display| Error::encode(FMT, format!("AV1 encoder: {e}"));
    let mut ctx: rav1e::Context<u8> = cfg.new_context().map_err(|e| fail(&e))?;
    let mut frame = ctx.new_frame();
    for (dst, src) in frame.planes.iter_mut().zip(planes) {
        dst.copy_from_raw_u8(src.data, src.stride, 1);
    }
    ctx.send_frame(frame).map_err(|e| fail(&e))?;
    ctx.flush();
    let mut out = Vec::new();
    loop {
        match ctx.receive_packet() {
            Ok(packet) if packet.frame_type == FrameType::KEY => {
                out.extend_from_slice(&packet.data)
            }
            Ok(_) => {}
            Err(EncoderStatus::Encoded) => {}
            Err(EncoderStatus::LimitReached) => break,
            Err(e) => return Err(fail(&e)),
        }
    }
    if out.is_empty() {
        return Err(Error::encode(FMT, "AV1 encoder returned no key frame"));
    }
    Ok(out)
}

/// Gives fully transparent pixels a colour from the visible ones near them: the
/// alpha-weighted mean of the visible pixels in their 2×2 block or, in a block with none, the
/// mean of the neighbouring blocks' (8-neighbourhood) means. Their colour is never seen, but
/// 4:2:0 averages chroma over the block, and decoders that upsample chroma bilinearly
/// (libavif, browsers) blend in the next block's too: left black (as padding and the
/// premultiplied resize leave them), they would pull the visible edge pixels' chroma
/// towards grey.
fn fill_transparent(rgba: &mut image::RgbaImage) {
    let (w, h) = rgba.dimensions();
    let (bw, bh) = (w.div_ceil(2) as usize, h.div_ceil(2) as usize);
    let block = |bx: u32, by: u32| {
        [(0, 0), (1, 0), (0, 1), (1, 1)]
            .map(|(dx, dy)| (bx * 2 + dx, by * 2 + dy))
            .into_iter()
            .filter(move |&(x, y)| x < w && y < h)
    };
    // Pass 1: each block's alpha-weighted mean colour, where it has a visible pixel.
    let mut means: Vec<Option<[u8; 3]>> = vec![None; bw * bh];
    for by in 0..bh as u32 {
        for bx in 0..bw as u32 {
            let (mut sum, mut weight) = ([0u32; 3], 0u32);
            for (x, y) in block(bx, by) {
                let p = rgba.get_pixel(x, y).0;
                for c in 0..3 {
                    sum[c] += u32::from(p[c]) * u32::from(p[3]);
                }
                weight += u32::from(p[3]);
            }
            if weight > 0 {
                means[by as usize * bw + bx as usize] =
                    Some(sum.map(|v| ((v + weight / 2) / weight) as u8));
            }
        }
    }
    // Pass 2: the colour for each block's transparent pixels.
    for by in 0..bh {
        for bx in 0..bw {
            let fill = means[by * bw + bx].or_else(|| {
                let (mut sum, mut n) = ([0u32; 3], 0u32);
                for ny in by.saturating_sub(1)..(by + 2).min(bh) {
                    for nx in bx.saturating_sub(1)..(bx + 2).min(bw) {
                        if let Some(m) = means[ny * bw + nx] {
                            for c in 0..3 {
                                sum[c] += u32::from(m[c]);
                            }
                            n += 1;
                        }
                    }
                }
                (n > 0).then(|| sum.map(|v| ((v + n / 2) / n) as u8))
            });
            let Some(fill) = fill else { continue };
            for (x, y) in block(bx as u32, by as u32) {
                let p = rgba.get_pixel_mut(x, y);
                if p.0[3] == 0 {
                    p.0 = [fill[0], fill[1], fill[2], 0];
                }
            }
        }
    }
}

/// Encodes `img` (any layout; converted to 8-bit RGB or RGBA) as an AVIF still image. An
/// alpha channel in which every pixel is opaque is not written.
pub(crate) fn encode(
    img: DynamicImage,
    quality: u8,
    speed: u8,
    chroma: Chroma,
    encoder: AvifEncoder,
) -> Result<Vec<u8>> {
    let (w, h) = (img.width(), img.height());
    let (wu, hu) = (w as usize, h as usize);
    let (sub, sampling) = match chroma {
        Chroma::Half => (YuvChromaSubsampling::Yuv420, ChromaSampling::Cs420),
        Chroma::Full => (YuvChromaSubsampling::Yuv444, ChromaSampling::Cs444),
    };
    // The interleaved pixels, their row stride, the matching converter and the alpha plane.
    let (pixels, stride, convert, alpha) = if img.color().has_alpha() {
        let mut rgba = img.into_rgba8();
        let opaque = rgba.pixels().all(|p| p.0[3] == 255);
        if !opaque {
            fill_transparent(&mut rgba);
        }
        let alpha: Option<Vec<u8>> = (!opaque).then(|| rgba.pixels().map(|p| p.0[3]).collect());
        let convert = match chroma {
            Chroma::Half => yuv::rgba_to_yuv420,
            Chroma::Full => yuv::rgba_to_yuv444,
        };
        (rgba.into_raw(), w * 4, convert, alpha)
    } else {
        let convert = match chroma {
            Chroma::Half => yuv::rgb_to_yuv420,
            Chroma::Full => yuv::rgb_to_yuv444,
        };
        (img.into_rgb8().into_raw(), w * 3, convert, None)
    };
    let mut planes = YuvPlanarImageMut::<u8>::alloc(w, h, sub);
    convert(
        &mut planes,
        &pixels,
        stride,
        YuvRange::Full,
        YuvStandardMatrix::Bt601,
        YuvConversionMode::Balanced,
    )
    .map_err(|e| Error::encode(FMT, format!("YCbCr conversion: {e}")))?;
    drop(pixels);

    let (cw, ch) = match chroma {
        Chroma::Half => (wu.div_ceil(2), hu.div_ceil(2)),
        Chroma::Full => (wu, hu),
    };
    let colour = encode_frame(
        encoder,
        wu,
        hu,
        &[
            Plane {
                data: planes.y_plane.borrow(),
                stride: planes.y_stride as usize,
                width: wu,
                height: hu,
            },
            Plane {
                data: planes.u_plane.borrow(),
                stride: planes.u_stride as usize,
                width: cw,
                height: ch,
            },
            Plane {
                data: planes.v_plane.borrow(),
                stride: planes.v_stride as usize,
                width: cw,
                height: ch,
            },
        ],
        sampling,
        Some(ColorDescription {
            color_primaries: ColorPrimaries::BT709,
            transfer_characteristics: TransferCharacteristics::SRGB,
            matrix_coefficients: MatrixCoefficients::BT601,
        }),
        quality,
        speed,
    )?;
    drop(planes);
    let alpha = match alpha {
        Some(a) => Some(encode_frame(
            encoder,
            wu,
            hu,
            &[Plane {
                data: &a,
                stride: wu,
                width: wu,
                height: hu,
            }],
            ChromaSampling::Cs400,
            None,
            quality,
            speed,
        )?),
        None => None,
    };

    let mut avif = avif_serialize::Aviffy::new();
    avif.set_matrix_coefficients(avif_serialize::constants::MatrixCoefficients::Bt601)
        .set_full_color_range(true);
    if chroma == Chroma::Half {
        // 4:2:0 is AV1's Main profile (0); 4:4:4 is High (1), avif-serialize's default.
        avif.set_chroma_subsampling((true, true)).set_seq_profile(0);
    }
    Ok(avif.to_vec(&colour, alpha.as_deref(), w, h, 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quantizer_scale_falls_as_quality_rises_and_meets_its_end_points() {
        assert_eq!(quantizer(0), 255);
        assert_eq!(quantizer(100), 0);
        let all: Vec<usize> = (0..=100).map(quantizer).collect();
        assert!(all.windows(2).all(|p| p[0] >= p[1]), "{all:?}");
        // The three pieces meet without a jump larger than one step of the steep piece.
        assert!(quantizer(25).abs_diff(quantizer(26)) <= 3);
        assert!(quantizer(81).abs_diff(quantizer(82)) <= 7);
    }

    #[test]
    fn transparent_pixels_keep_a_bilinear_420_decode_of_the_visible_edge_in_colour() {
        // A visible red rectangle whose sides all fall between 2x2 blocks (columns 4-11,
        // rows 4-7): no block mixes visible and transparent pixels, so only the neighbour fill
        // keeps bilinear chroma upsampling from greying the edge (the `yuv` crate's upsampler
        // blends across the right and bottom sides, libavif's across all four).
        let (w, h) = (16u32, 12u32);
        let red = [200u8, 0, 40];
        let mut img = image::RgbaImage::from_fn(w, h, |x, y| {
            if (4..12).contains(&x) && (4..8).contains(&y) {
                image::Rgba([red[0], red[1], red[2], 255])
            } else {
                image::Rgba([0, 0, 0, 0])
            }
        });
        let worst_edge = |img: &image::RgbaImage| {
            let mut planes = YuvPlanarImageMut::<u8>::alloc(w, h, YuvChromaSubsampling::Yuv420);
            let (range, matrix, mode) = (
                YuvRange::Full,
                YuvStandardMatrix::Bt601,
                YuvConversionMode::Balanced,
            );
            yuv::rgba_to_yuv420(&mut planes, img.as_raw(), w * 4, range, matrix, mode).unwrap();
            let mut rgb = vec![0u8; (w * h * 3) as usize];
            yuv::yuv420_to_rgb_bilinear(&planes.to_fixed(), &mut rgb, w * 3, range, matrix)
                .unwrap();
            // The visible rectangle's perimeter.
            let edge = (4..8)
                .flat_map(|y| [(4, y), (11, y)])
                .chain((4..12).flat_map(|x| [(x, 4), (x, 7)]));
            let mut worst = 0u8;
            for (x, y) in edge {
                let at = ((y * w + x) * 3) as usize;
                for c in 0..3 {
                    worst = worst.max(rgb[at + c].abs_diff(red[c]));
                }
            }
            worst
        };
        let unfilled = worst_edge(&img);
        fill_transparent(&mut img);
        let filled = worst_edge(&img);
        assert!(
            unfilled > 20,
            "the black should grey the edge unfilled: {unfilled}"
        );
        assert!(filled <= 4, "edge off by {filled} after the fill");
        // Transparent pixels stay transparent; blocks far from any visible pixel stay as
        // they were.
        assert_eq!(
            img.pixels().filter(|p| p.0[3] == 0).count(),
            (w * h - 8 * 4) as usize
        );
        assert_eq!(img.get_pixel(0, 0).0, [0, 0, 0, 0]);
        assert_eq!(img.get_pixel(3, 4).0, [red[0], red[1], red[2], 0]);
        assert_eq!(img.get_pixel(12, 8).0, [red[0], red[1], red[2], 0]);
    }
}
