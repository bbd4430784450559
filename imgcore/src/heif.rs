//! What HEIC and AVIF (both HEIF files) share once their pictures are decoded: the
//! `irot`/`imir` properties as an EXIF orientation, a profile for an `nclx` colour
//! description, and the documented HDR (PQ, HLG) to SDR mapping.

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
