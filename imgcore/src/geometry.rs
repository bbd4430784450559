//! Output sizes and crop boxes: pure arithmetic, no pixels.
//!
//! # Rounding rule
//!
//! The scale factor `s` is computed in `f64` from the box and the (oriented) source size.
//! A side that the box constrains gets exactly the box's value; the other side is
//! `round(source × s)` (half away from zero), at least 1 and never more than the box.
//! Without `upscale`, `s` is capped at 1.

use crate::spec::{Fit, OutputSpec};

/// A rectangle in source pixels (fractional, as resamplers take it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    /// Left edge.
    pub left: f64,
    /// Top edge.
    pub top: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

/// Where the resized image goes on a padded canvas (`Fit::Exact`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pad {
    /// Canvas width.
    pub canvas_width: u32,
    /// Canvas height.
    pub canvas_height: u32,
    /// Left offset of the image on the canvas.
    pub left: u32,
    /// Top offset of the image on the canvas.
    pub top: u32,
}

/// The geometry of one output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geometry {
    /// Width of the resized image (before padding).
    pub width: u32,
    /// Height of the resized image (before padding).
    pub height: u32,
    /// The part of the source that is resized into `width`×`height`.
    pub crop: Rect,
    /// Padding, for `Fit::Exact`.
    pub pad: Option<Pad>,
}

impl Geometry {
    /// The final output size (canvas size when padded).
    pub fn output_size(&self) -> (u32, u32) {
        match self.pad {
            Some(p) => (p.canvas_width, p.canvas_height),
            None => (self.width, self.height),
        }
    }

    /// Output pixels per source pixel, the larger of the two axes.
    pub fn scale(&self) -> f64 {
        (f64::from(self.width) / self.crop.width).max(f64::from(self.height) / self.crop.height)
    }
}

fn side(src: u32, s: f64, limit: Option<u32>) -> u32 {
    let v = (f64::from(src) * s).round();
    let v = if v.is_finite() {
        v.clamp(1.0, u32::MAX as f64) as u32
    } else {
        1
    };
    match limit {
        Some(l) => v.min(l.max(1)),
        None => v,
    }
}

fn full(sw: u32, sh: u32) -> Rect {
    Rect {
        left: 0.0,
        top: 0.0,
        width: f64::from(sw),
        height: f64::from(sh),
    }
}

/// Fit `sw`×`sh` inside the spec's box. Returns the resized size.
fn inside(sw: u32, sh: u32, bw: Option<u32>, bh: Option<u32>, upscale: bool) -> (u32, u32) {
    let (fw, fh) = (f64::from(sw), f64::from(sh));
    let s = match (bw, bh) {
        (Some(w), Some(h)) => (f64::from(w) / fw).min(f64::from(h) / fh),
        (Some(w), None) => f64::from(w) / fw,
        (None, Some(h)) => f64::from(h) / fh,
        (None, None) => 1.0,
    };
    let capped = !upscale && s > 1.0;
    let s = if capped { 1.0 } else { s };
    if capped {
        return (sw, sh);
    }
    // The binding side gets the box value exactly.
    let w_binds = bw.is_some_and(|w| (f64::from(w) / fw - s).abs() <= f64::EPSILON * 4.0);
    let h_binds = bh.is_some_and(|h| (f64::from(h) / fh - s).abs() <= f64::EPSILON * 4.0);
    let w = if w_binds {
        bw.unwrap_or(1)
    } else {
        side(sw, s, bw)
    };
    let h = if h_binds {
        bh.unwrap_or(1)
    } else {
        side(sh, s, bh)
    };
    (w, h)
}

/// Compute the geometry of `spec` for a source of `sw`×`sh` pixels (after orientation).
/// The spec must be valid ([`OutputSpec::validate`]); `sw` and `sh` must be at least 1.
pub fn compute(sw: u32, sh: u32, spec: &OutputSpec) -> Geometry {
    let (sw, sh) = (sw.max(1), sh.max(1));
    let (fw, fh) = (f64::from(sw), f64::from(sh));
    let (gx, gy) = spec.gravity.fractions();
    match (spec.fit, spec.width, spec.height) {
        (Fit::Cover, Some(bw), Some(bh)) => {
            let mut s = (f64::from(bw) / fw).max(f64::from(bh) / fh);
            let (mut w, mut h) = (bw, bh);
            if !spec.upscale && s > 1.0 {
                s = 1.0;
                w = bw.min(sw);
                h = bh.min(sh);
            }
            let cw = (f64::from(w) / s).min(fw);
            let ch = (f64::from(h) / s).min(fh);
            Geometry {
                width: w,
                height: h,
                crop: Rect {
                    left: (fw - cw) * gx,
                    top: (fh - ch) * gy,
                    width: cw,
                    height: ch,
                },
                pad: None,
            }
        }
        (Fit::Fill, Some(bw), Some(bh)) => {
            let (w, h) = if spec.upscale {
                (bw, bh)
            } else {
                (bw.min(sw), bh.min(sh))
            };
            Geometry {
                width: w,
                height: h,
                crop: full(sw, sh),
                pad: None,
            }
        }
        (Fit::Exact, Some(bw), Some(bh)) => {
            let (w, h) = inside(sw, sh, Some(bw), Some(bh), spec.upscale);
            let (w, h) = (w.min(bw), h.min(bh));
            let left = (f64::from(bw - w) * gx).round() as u32;
            let top = (f64::from(bh - h) * gy).round() as u32;
            Geometry {
                width: w,
                height: h,
                crop: full(sw, sh),
                pad: Some(Pad {
                    canvas_width: bw,
                    canvas_height: bh,
                    left,
                    top,
                }),
            }
        }
        _ => {
            let (w, h) = inside(sw, sh, spec.width, spec.height, spec.upscale);
            Geometry {
                width: w,
                height: h,
                crop: full(sw, sh),
                pad: None,
            }
        }
    }
}

/// Map a rectangle given in displayed (oriented) coordinates to stored coordinates, for an
/// image stored as `stored_w`×`stored_h` with EXIF orientation `orientation` (1–8).
pub fn display_rect_to_stored(r: Rect, stored_w: f64, stored_h: f64, orientation: u8) -> Rect {
    let (sw, sh) = (stored_w, stored_h);
    let (x, y, w, h) = (r.left, r.top, r.width, r.height);
    let (l, t, ww, hh) = match orientation {
        2 => (sw - x - w, y, w, h),
        3 => (sw - x - w, sh - y - h, w, h),
        4 => (x, sh - y - h, w, h),
        5 => (y, x, h, w),
        6 => (y, sh - x - w, h, w),
        7 => (sw - y - h, sh - x - w, h, w),
        8 => (sw - y - h, x, h, w),
        _ => (x, y, w, h),
    };
    Rect {
        left: l.max(0.0),
        top: t.max(0.0),
        width: ww.min(sw - l.max(0.0)).max(f64::MIN_POSITIVE),
        height: hh.min(sh - t.max(0.0)).max(f64::MIN_POSITIVE),
    }
}

/// Whether an EXIF orientation swaps width and height.
pub fn swaps_axes(orientation: u8) -> bool {
    (5..=8).contains(&orientation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Gravity;

    fn spec(w: Option<u32>, h: Option<u32>, fit: Fit) -> OutputSpec {
        OutputSpec {
            width: w,
            height: h,
            fit,
            ..Default::default()
        }
    }

    #[test]
    fn w1_rounding() {
        // 2725x2225 -> 720 wide: 2225 * 720/2725 = 587.89 -> 588
        let g = compute(2725, 2225, &spec(Some(720), None, Fit::Inside));
        assert_eq!((g.width, g.height), (720, 588));
    }

    #[test]
    fn no_upscale_by_default() {
        let g = compute(100, 50, &spec(Some(400), None, Fit::Inside));
        assert_eq!((g.width, g.height), (100, 50));
        let mut s = spec(Some(400), None, Fit::Inside);
        s.upscale = true;
        let g = compute(100, 50, &s);
        assert_eq!((g.width, g.height), (400, 200));
    }

    #[test]
    fn cover_crops_by_gravity() {
        let mut s = spec(Some(100), Some(100), Fit::Cover);
        let g = compute(400, 200, &s);
        assert_eq!((g.width, g.height), (100, 100));
        assert_eq!(
            g.crop,
            Rect {
                left: 100.0,
                top: 0.0,
                width: 200.0,
                height: 200.0
            }
        );
        s.gravity = Gravity::West;
        assert_eq!(compute(400, 200, &s).crop.left, 0.0);
        s.gravity = Gravity::East;
        assert_eq!(compute(400, 200, &s).crop.left, 200.0);
    }

    #[test]
    fn exact_pads() {
        let g = compute(400, 200, &spec(Some(100), Some(100), Fit::Exact));
        assert_eq!((g.width, g.height), (100, 50));
        assert_eq!(
            g.pad,
            Some(Pad {
                canvas_width: 100,
                canvas_height: 100,
                left: 0,
                top: 25
            })
        );
    }

    #[test]
    fn orientation_rect_mapping_round_trips_corners() {
        // stored 40x20; a 1x1 rect at display (0,0) must map to the stored pixel that
        // the orientation moves to the top-left corner.
        let expect = [
            (1, (0.0, 0.0)),
            (2, (39.0, 0.0)),
            (3, (39.0, 19.0)),
            (4, (0.0, 19.0)),
            (5, (0.0, 0.0)),
            (6, (0.0, 19.0)),
            (7, (39.0, 19.0)),
            (8, (39.0, 0.0)),
        ];
        for (o, (l, t)) in expect {
            let r = display_rect_to_stored(
                Rect {
                    left: 0.0,
                    top: 0.0,
                    width: 1.0,
                    height: 1.0,
                },
                40.0,
                20.0,
                o,
            );
            assert_eq!((r.left, r.top), (l, t), "orientation {o}");
        }
    }
}
