//! Property tests for sizes and crops.

use imgcore::geometry::{compute, display_rect_to_stored, Rect};
use imgcore::{Fit, Gravity, OutputSpec};
use proptest::prelude::*;

fn fit() -> impl Strategy<Value = Fit> {
    prop_oneof![
        Just(Fit::Inside),
        Just(Fit::Cover),
        Just(Fit::Fill),
        Just(Fit::Exact)
    ]
}

fn gravity() -> impl Strategy<Value = Gravity> {
    prop_oneof![
        Just(Gravity::Center),
        Just(Gravity::North),
        Just(Gravity::SouthEast),
        Just(Gravity::West)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn sizes_respect_the_box(sw in 1u32..20_000, sh in 1u32..20_000, bw in 1u32..5_000, bh in 1u32..5_000,
                             fit in fit(), gravity in gravity(), upscale: bool, only_width: bool) {
        let both = !matches!(fit, Fit::Inside) || !only_width;
        let spec = OutputSpec { width: Some(bw), height: both.then_some(bh), fit, gravity, upscale, ..Default::default() };
        let g = compute(sw, sh, &spec);
        let (ow, oh) = g.output_size();
        prop_assert!(g.width >= 1 && g.height >= 1);
        prop_assert!(ow <= bw.max(1) || (fit == Fit::Inside && !both && ow <= bw));
        if both { prop_assert!(oh <= bh); }
        if !upscale {
            prop_assert!(g.width <= sw && g.height <= sh, "upscaled without asking");
        }
        match fit {
            Fit::Cover | Fit::Fill if upscale => prop_assert_eq!((ow, oh), (bw, bh)),
            Fit::Exact => prop_assert_eq!((ow, oh), (bw, bh)),
            _ => {}
        }
        // The crop lies inside the source.
        let c = g.crop;
        prop_assert!(c.left >= 0.0 && c.top >= 0.0);
        prop_assert!(c.left + c.width <= f64::from(sw) + 1e-6);
        prop_assert!(c.top + c.height <= f64::from(sh) + 1e-6);
        // Aspect ratio is kept (within rounding) by every fit but fill.
        if fit != Fit::Fill {
            let want = c.width / c.height;
            let got = f64::from(g.width) / f64::from(g.height);
            let tol = 1.0 / f64::from(g.width.min(g.height)) * want.max(1.0 / want) * 1.01 + 1e-9;
            prop_assert!((got / want - 1.0).abs() <= tol.max(0.02) || g.width == 1 || g.height == 1,
                "aspect {got} vs {want}");
        }
        if let Some(p) = g.pad {
            prop_assert!(p.left + g.width <= p.canvas_width && p.top + g.height <= p.canvas_height);
        }
    }

    #[test]
    fn inside_binding_side_is_exact(sw in 1u32..20_000, sh in 1u32..20_000, bw in 1u32..5_000) {
        prop_assume!(bw <= sw);
        let g = compute(sw, sh, &OutputSpec::width(bw));
        prop_assert_eq!(g.width, bw);
        let expect = ((f64::from(sh) * f64::from(bw) / f64::from(sw)).round() as u32).max(1);
        prop_assert_eq!(g.height, expect);
    }

    #[test]
    fn rect_mapping_stays_inside_and_keeps_area(o in 1u8..=8, sw in 2u32..500, sh in 2u32..500,
                                                fx in 0.0f64..1.0, fy in 0.0f64..1.0, fw in 0.01f64..1.0, fh in 0.01f64..1.0) {
        let swap = (5..=8).contains(&o);
        let (dw, dh) = if swap { (sh, sw) } else { (sw, sh) };
        // A rectangle inside the displayed image (the function's contract): the left/top
        // edge leaves at least 1% of each side, the size is a fraction of what is left.
        let (left, top) = (fx * 0.99 * f64::from(dw), fy * 0.99 * f64::from(dh));
        let r = Rect { left, top, width: fw * (f64::from(dw) - left), height: fh * (f64::from(dh) - top) };
        let m = display_rect_to_stored(r, f64::from(sw), f64::from(sh), o);
        prop_assert!(m.left >= 0.0 && m.top >= 0.0);
        prop_assert!(m.left + m.width <= f64::from(sw) + 1e-6 && m.top + m.height <= f64::from(sh) + 1e-6);
        prop_assert!(((m.width * m.height) - (r.width * r.height)).abs() < 1e-6 * (1.0 + r.width * r.height));
    }
}
