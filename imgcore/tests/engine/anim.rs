//! `anim`: animated GIF/WebP kept animated, as an animated WebP.

use super::fixture;
use image::AnimationDecoder;
use imgcore::{ErrorKind, ImageFormat, Limits, Plan};

fn webp_frames(bytes: &[u8]) -> Vec<image::Frame> {
    let d = image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(bytes)).unwrap();
    d.into_frames().collect::<Result<_, _>>().unwrap()
}

#[test]
fn an_animated_gif_becomes_an_animated_webp_with_every_frame() {
    let gif = fixture("animated-3-frames.gif");
    let source: Vec<image::Frame> = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(&gif))
        .unwrap()
        .into_frames()
        .collect::<Result<_, _>>()
        .unwrap();
    let r = imgcore::render(&gif, &Plan::parse("24,webp,anim,lossless").unwrap()).unwrap();
    assert_eq!(r.source.frames, 3);
    let out = &r.renditions[0];
    assert_eq!(
        (out.format, out.width, out.height),
        (ImageFormat::WebP, 24, 16)
    );
    assert_eq!(imgcore::probe(&out.bytes).unwrap().frames, 3);
    let frames = webp_frames(&out.bytes);
    assert_eq!(frames.len(), source.len());
    for (i, (ours, src)) in frames.iter().zip(&source).enumerate() {
        assert_eq!(ours.delay(), src.delay(), "frame {i}");
        // Same size, lossless: the composed frames come back, within one level: image-webp's
        // compositor rounds blended frames by one (libwebp, through Pillow, decodes this
        // file's frames exactly equal to the GIF's).
        let worst = ours
            .buffer()
            .as_raw()
            .iter()
            .zip(src.buffer().as_raw())
            .map(|(a, b)| a.abs_diff(*b))
            .max();
        assert!(worst <= Some(1), "frame {i}: off by {worst:?}");
    }
    assert!(r.thumbhash.is_some());
}

#[test]
fn without_anim_or_on_a_still_source_the_output_is_a_still_image() {
    let gif = fixture("animated-3-frames.gif");
    let r = imgcore::render(&gif, &Plan::parse("24,webp").unwrap()).unwrap();
    assert_eq!(imgcore::probe(&r.renditions[0].bytes).unwrap().frames, 1);
    let png = fixture("rgba.png");
    let r = imgcore::render(&png, &Plan::parse("24,anim").unwrap()).unwrap();
    assert_eq!(r.renditions[0].format, ImageFormat::Png);
}

#[test]
fn animated_and_still_outputs_mix_in_one_plan() {
    let gif = fixture("animated-3-frames.gif");
    let r = imgcore::render(&gif, &Plan::parse("12,png;24,webp,anim;8,jpeg").unwrap()).unwrap();
    let got: Vec<(ImageFormat, u32, u32)> = r
        .renditions
        .iter()
        .map(|x| (x.format, x.width, imgcore::probe(&x.bytes).unwrap().frames))
        .collect();
    assert_eq!(
        got,
        vec![
            (ImageFormat::Png, 12, 1),
            (ImageFormat::WebP, 24, 3),
            (ImageFormat::Jpeg, 8, 1)
        ]
    );
}

#[test]
fn anim_needs_a_webp_output() {
    let e = imgcore::OutputSpec::parse_list("200,jpeg,anim").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidSpec, "{e}");
}

#[test]
fn frames_times_pixels_are_limited_from_the_header() {
    let gif = fixture("animated-3-frames.gif");
    let tight = Limits {
        max_animation_pixels: 3 * 24 * 16 - 1,
        ..Limits::default()
    };
    let e = imgcore::render(
        &gif,
        &Plan::parse("24,webp,anim").unwrap().with_limits(tight),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{e}");
    assert!(e.to_string().contains("frames x pixels"), "{e}");
    // Without `anim`, the same limits render the first frame.
    imgcore::render(&gif, &Plan::parse("24,webp").unwrap().with_limits(tight)).unwrap();
}
