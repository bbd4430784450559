//! What HEIC and AVIF (both HEIF files) share once their pictures are decoded: the
//! `irot`/`imir` properties as an EXIF orientation, a profile for an `nclx` colour
//! description, the documented HDR (PQ, HLG) to SDR mapping, and the box-filter reduction
//! a grid image is decoded through tile by tile.

use image::DynamicImage;
use rayon::prelude::*;

/// The HDR transfer functions mapped to SDR on decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hdr {
    Pq,
    Hlg,
}

/// EXIF orientation as a matrix taking stored (x, y) to displayed (x, y), up to translation.
const ORIENTATIONS: [[i8; 4]; 8] = [
    [1, 0, 0, 1],   // 1: as stored
    [-1, 0, 0, 1],  // 2: mirrored left-right
    [-1, 0, 0, -1], // 3: rotated 180°
    [1, 0, 0, -1],  // 4: mirrored top-bottom
    [0, 1, 1, 0],   // 5: transposed
    [0, -1, 1, 0],  // 6: rotated 90° clockwise
    [0, -1, -1, 0], // 7: transversed
    [0, 1, -1, 0],  // 8: rotated 90° anticlockwise
];

fn mul(a: [i8; 4], b: [i8; 4]) -> [i8; 4] {
    [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
    ]
}

/// One `irot` or `imir` property of a HEIF item (HEIC or AVIF).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// `irot`: this many 90° anticlockwise turns.
    Rotate90Ccw(u8),
    /// `imir` with axis 0: top and bottom exchanged.
    FlipTopBottom,
    /// `imir` with axis 1: left and right exchanged.
    FlipLeftRight,
}

/// The EXIF orientation equal to `irot`/`imir` properties applied in order.
pub(crate) fn orientation_of(transforms: &[Step]) -> u8 {
    let m = orientation_matrix(transforms);
    ORIENTATIONS
        .iter()
        .position(|o| *o == m)
        .map_or(1, |i| i as u8 + 1)
}

fn orientation_matrix(transforms: &[Step]) -> [i8; 4] {
    let mut m = ORIENTATIONS[0];
    for t in transforms {
        let step = match *t {
            Step::Rotate90Ccw(turns) => {
                let mut r = ORIENTATIONS[0];
                for _ in 0..turns % 4 {
                    r = mul(ORIENTATIONS[7], r);
                }
                r
            }
            Step::FlipTopBottom => ORIENTATIONS[3],
            Step::FlipLeftRight => ORIENTATIONS[1],
        };
        m = mul(step, m);
    }
    m
}

/// A profile for the pixels of a file without an ICC profile, from its `nclx` (or VUI)
/// description; `None` when they are sRGB (or unlabelled, read as sRGB as libheif does).
pub(crate) fn nclx_profile(
    color_primaries: u16,
    transfer_characteristics: u16,
    hdr: Option<Hdr>,
) -> Option<Vec<u8>> {
    use moxcms::TransferCharacteristics as T;
    use moxcms::{CicpColorPrimaries, CicpProfile, ColorProfile, MatrixCoefficients};
    let primaries = CicpColorPrimaries::try_from(u8::try_from(color_primaries).ok()?).ok()?;
    let transfer = match hdr {
        Some(_) => T::Linear,
        None => match transfer_characteristics {
            // BT.709, BT.601, BT.2020 and sRGB curves are displayed as sRGB.
            1 | 6 | 13 | 14 | 15 => T::Srgb,
            other => T::try_from(u8::try_from(other).ok()?).ok()?,
        },
    };
    if matches!(
        primaries,
        CicpColorPrimaries::Bt709 | CicpColorPrimaries::Unspecified
    ) && transfer == T::Srgb
    {
        return None;
    }
    let p = ColorProfile::new_from_cicp(CicpProfile {
        color_primaries: primaries,
        transfer_characteristics: transfer,
        matrix_coefficients: MatrixCoefficients::Bt709,
        full_range: true,
    });
    p.red_trc.as_ref()?;
    let mut icc = p.encode().ok()?;
    // Keep the pipeline from taking it for sRGB by name: describe what it is.
    if icc.len() < 128 {
        return None;
    }
    icc.shrink_to_fit();
    Some(icc)
}

/// Linear RGB in the primaries of H.273 code `primaries` to linear BT.709 (sRGB) RGB.
#[allow(clippy::excessive_precision)] // six decimals, as the matrices are usually printed
pub(crate) fn to_bt709(primaries: u16) -> Option<[[f32; 3]; 3]> {
    match primaries {
        1 | 2 => Some([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
        // BT.2020 / BT.2100.
        9 => Some([
            [1.660_491, -0.587_641, -0.072_850],
            [-0.124_550, 1.132_900, -0.008_349],
            [-0.018_151, -0.100_579, 1.118_730],
        ]),
        // Display P3 (SMPTE EG 432-1, D65).
        12 => Some([
            [1.224_940, -0.224_940, 0.0],
            [-0.042_057, 1.042_057, 0.0],
            [-0.019_638, -0.078_636, 1.098_274],
        ]),
        _ => None,
    }
}

/// HDR samples (16-bit, PQ or HLG) to SDR: light relative to 203 cd/m² reference white,
/// clipped to 1; then, with `matrix`, converted to BT.709 primaries, clipped, and encoded
/// with the sRGB curve (16-bit sRGB out); without it, left linear (16-bit) for the profile
/// made for the file's primaries.
pub(crate) fn hdr_to_sdr(
    img: DynamicImage,
    hdr: Hdr,
    matrix: Option<[[f32; 3]; 3]>,
) -> DynamicImage {
    // Code value to relative linear light: a table over the 16-bit codes, once per image.
    let light: Vec<f32> = (0..=u16::MAX)
        .map(|v| {
            let e = f64::from(v) / 65535.0;
            let nits = match hdr {
                Hdr::Pq => pq_eotf(e),
                // Per channel (the OOTF's luminance term is taken as the channel's own
                // value): a display of 1,000 cd/m², system gamma 1.2.
                Hdr::Hlg => 1000.0 * hlg_inverse_oetf(e).powf(1.2),
            };
            (nits / 203.0).clamp(0.0, 1.0) as f32
        })
        .collect();
    let srgb = |v: f32| -> u16 {
        let v = v.clamp(0.0, 1.0);
        let e = if v <= 0.003_130_8 {
            v * 12.92
        } else {
            1.055 * v.powf(1.0 / 2.4) - 0.055
        };
        (e * 65535.0).round() as u16
    };
    let map = |px: &mut [u16], channels: usize| {
        px.par_chunks_mut(channels * 4096).for_each(|run| {
            for p in run.chunks_exact_mut(channels) {
                let rgb = [
                    light[usize::from(p[0])],
                    light[usize::from(p[1])],
                    light[usize::from(p[2])],
                ];
                match matrix {
                    Some(m) => {
                        for (c, row) in p.iter_mut().zip(m) {
                            *c = srgb(row[0] * rgb[0] + row[1] * rgb[1] + row[2] * rgb[2]);
                        }
                    }
                    None => {
                        for (c, v) in p.iter_mut().zip(rgb) {
                            *c = (v * 65535.0).round() as u16;
                        }
                    }
                }
            }
        });
    };
    match img {
        DynamicImage::ImageRgba16(mut b) => {
            map(&mut b, 4);
            DynamicImage::ImageRgba16(b)
        }
        other => {
            let mut b = other.to_rgb16();
            map(&mut b, 3);
            DynamicImage::ImageRgb16(b)
        }
    }
}

/// SMPTE ST 2084: a signal in [0, 1] to cd/m².
fn pq_eotf(e: f64) -> f64 {
    const M1: f64 = 2610.0 / 16384.0;
    const M2: f64 = 2523.0 / 4096.0 * 128.0;
    const C1: f64 = 3424.0 / 4096.0;
    const C2: f64 = 2413.0 / 4096.0 * 32.0;
    const C3: f64 = 2392.0 / 4096.0 * 32.0;
    let p = e.powf(1.0 / M2);
    10000.0 * ((p - C1).max(0.0) / (C2 - C3 * p)).powf(1.0 / M1)
}

/// ARIB STD-B67 (BT.2100 HLG): a signal in [0, 1] to scene light in [0, 1].
#[allow(clippy::excessive_precision)] // the constants as BT.2100 prints them
fn hlg_inverse_oetf(e: f64) -> f64 {
    const A: f64 = 0.178_832_77;
    const B: f64 = 1.0 - 4.0 * A;
    const C: f64 = 0.559_910_73;
    if e <= 0.5 {
        e * e / 3.0
    } else {
        (((e - C) / A).exp() + B) / 12.0
    }
}

/// The box-filter factor a tile-by-tile grid decode uses when the largest output needs
/// `need` of the full size (1 = decode whole): 2, 4 or 8, dividing both tile sides.
/// A box filter lets through more than a DCT-domain scale: twice JPEG's margin (measured
/// against libheif's full decode, README "HEIC").
pub(crate) fn tile_shrink(tile_width: u32, tile_height: u32, need: f64, margin: f64) -> u32 {
    let n = crate::render::choose_jpeg_scale(need, margin * 2.0);
    let mut f = 8 / u32::from(n);
    while f > 1 && !(tile_width.is_multiple_of(f) && tile_height.is_multiple_of(f)) {
        f /= 2;
    }
    f
}

/// One grid tile reduced by a box filter: the tile's RGB samples (`tw` pixels a row), of
/// which the top-left `cw` x `ch` lie inside the image, each output pixel the rounded mean
/// of up to `f` x `f` of them. Returns the block's width, height and RGB samples.
pub(crate) fn box_reduce(
    samples: &[u16],
    tw: u32,
    cw: u32,
    ch: u32,
    f: u32,
) -> (u32, u32, Vec<u16>) {
    if f <= 1 {
        let mut block = Vec::with_capacity(cw as usize * ch as usize * 3);
        for y in 0..ch {
            let at = y as usize * tw as usize * 3;
            block.extend_from_slice(&samples[at..at + cw as usize * 3]);
        }
        return (cw, ch, block);
    }
    let (bw, bh) = (cw.div_ceil(f), ch.div_ceil(f));
    let mut block = vec![0u16; bw as usize * bh as usize * 3];
    let mut sums = vec![0u32; bw as usize * 3];
    for by in 0..bh {
        sums.iter_mut().for_each(|s| *s = 0);
        let rows = (by * f)..((by + 1) * f).min(ch);
        let n_rows = rows.len() as u32;
        for y in rows {
            let at = y as usize * tw as usize * 3;
            let row = &samples[at..at + cw as usize * 3];
            for (x, px) in row.chunks_exact(3).enumerate() {
                let b = (x as u32 / f * 3) as usize;
                sums[b] += u32::from(px[0]);
                sums[b + 1] += u32::from(px[1]);
                sums[b + 2] += u32::from(px[2]);
            }
        }
        for bx in 0..bw {
            let n = n_rows * (((bx + 1) * f).min(cw) - bx * f);
            for c in 0..3 {
                let s = sums[(bx * 3 + c) as usize];
                block[(by as usize * bw as usize + bx as usize) * 3 + c as usize] =
                    ((s + n / 2) / n) as u16;
            }
        }
    }
    (bw, bh, block)
}

/// A grid tile's block: its place in the canvas, width, height and RGB samples.
pub(crate) type Block = (u32, u32, u32, u32, Vec<u16>);

/// Assemble `count` tiles, each made by `tile` (decoded, cropped to the image and reduced),
/// into a `width` x `height` RGB image: as many tiles at once as there are threads, so what
/// is held is that many tiles and the canvas, never the whole grid at full size.
pub(crate) fn assemble(
    format: crate::ImageFormat,
    width: u32,
    height: u32,
    count: usize,
    deep: bool,
    tile: impl Fn(usize) -> crate::Result<Block> + Sync,
) -> crate::Result<DynamicImage> {
    let mut canvas = Canvas::new(width, height);
    let batch = rayon::current_num_threads().max(1);
    let indices: Vec<usize> = (0..count).collect();
    for chunk in indices.chunks(batch) {
        let blocks: Vec<Block> = chunk
            .par_iter()
            .map(|&i| tile(i))
            .collect::<crate::Result<_>>()?;
        for (bx, by, bw, bh, block) in blocks {
            canvas.paste(bx, by, bw, bh, &block);
        }
    }
    canvas
        .into_image(deep)
        .ok_or_else(|| crate::Error::corrupt(format, "canvas size"))
}

/// An RGB image of a monochrome picture back to one channel (`grey`; HDR pictures are mapped
/// per RGB channel and stay RGB).
pub(crate) fn grey_if(img: DynamicImage, grey: bool, deep: bool) -> DynamicImage {
    match (grey, deep) {
        (false, _) => img,
        (true, true) => DynamicImage::ImageLuma16(img.to_luma16()),
        (true, false) => DynamicImage::ImageLuma8(img.to_luma8()),
    }
}

/// A reduced grid being assembled: RGB samples, `width` pixels a row.
struct Canvas {
    width: u32,
    height: u32,
    samples: Vec<u16>,
}

impl Canvas {
    fn new(width: u32, height: u32) -> Self {
        Canvas {
            width,
            height,
            samples: vec![0; width as usize * height as usize * 3],
        }
    }

    /// Copy a block (from [`box_reduce`]) to `(x, y)`, clipped to the canvas.
    fn paste(&mut self, x: u32, y: u32, bw: u32, bh: u32, block: &[u16]) {
        let w = bw.min(self.width.saturating_sub(x)) as usize * 3;
        for row in 0..bh.min(self.height.saturating_sub(y)) {
            let dst = ((y + row) as usize * self.width as usize + x as usize) * 3;
            let src = row as usize * bw as usize * 3;
            self.samples[dst..dst + w].copy_from_slice(&block[src..src + w]);
        }
    }

    /// The canvas as an image: 16-bit RGB when `deep`, else 8-bit (samples hold 8-bit values).
    fn into_image(self, deep: bool) -> Option<DynamicImage> {
        let (w, h) = (self.width, self.height);
        Some(if deep {
            DynamicImage::ImageRgb16(image::ImageBuffer::from_raw(w, h, self.samples)?)
        } else {
            let bytes: Vec<u8> = self.samples.into_iter().map(|v| v as u8).collect();
            DynamicImage::ImageRgb8(image::ImageBuffer::from_raw(w, h, bytes)?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn irot_and_imir_become_the_equal_exif_orientation() {
        use Step::*;
        assert_eq!(orientation_of(&[]), 1);
        // One anticlockwise quarter turn to display = EXIF 8; three = EXIF 6.
        assert_eq!(orientation_of(&[Rotate90Ccw(1)]), 8);
        assert_eq!(orientation_of(&[Rotate90Ccw(2)]), 3);
        assert_eq!(orientation_of(&[Rotate90Ccw(3)]), 6);
        assert_eq!(orientation_of(&[FlipLeftRight]), 2);
        assert_eq!(orientation_of(&[FlipTopBottom]), 4);
        // Rotate, then mirror: what pillow-heif writes for EXIF 5 and 7.
        assert_eq!(orientation_of(&[Rotate90Ccw(3), FlipLeftRight]), 5);
        assert_eq!(orientation_of(&[Rotate90Ccw(1), FlipLeftRight]), 7);
        // Every composition lands on one of the eight.
        for t in 0..4 {
            for m in [None, Some(FlipTopBottom), Some(FlipLeftRight)] {
                let mut list = vec![Rotate90Ccw(t)];
                list.extend(m);
                assert!(
                    ORIENTATIONS.contains(&orientation_matrix(&list)),
                    "{list:?}"
                );
            }
        }
    }

    #[test]
    #[allow(clippy::excessive_precision)]
    fn pq_reference_white_is_sdr_white() {
        // 203 cd/m² in PQ is a signal of about 0.5807.
        let e = 0.580_7;
        assert!((pq_eotf(e) - 203.0).abs() < 1.0, "{}", pq_eotf(e));
        assert!((pq_eotf(1.0) - 10000.0).abs() < 1e-6);
        assert_eq!(pq_eotf(0.0), 0.0);
        // HLG: 0.5 is the knee, 1.0 the peak of scene light.
        assert!((hlg_inverse_oetf(0.5) - 1.0 / 12.0).abs() < 1e-12);
        assert!((hlg_inverse_oetf(1.0) - 1.0).abs() < 1e-6);
    }
}
