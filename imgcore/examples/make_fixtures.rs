//! Writes the test fixtures in `fixtures/`: small images whose names say what they test.
//!
//! Run from the workspace root: `cargo run -p imgcore --example make_fixtures -- fixtures`.
//! The output is deterministic; `tests/engine/fixtures.rs` checks the committed files match.

use image::codecs::gif::GifEncoder;
use image::{
    DynamicImage, Frame, GrayImage, ImageBuffer, ImageEncoder, Luma, LumaA, Rgb, RgbImage, Rgba,
    RgbaImage,
};
use std::path::{Path, PathBuf};

/// A deterministic pseudo-random generator (xorshift), for texture.
struct Noise(u32);
impl Noise {
    fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}

/// A photo-like RGB image: smooth gradients, fine detail and a little noise.
pub fn photo(w: u32, h: u32) -> RgbImage {
    let mut n = Noise(0x1234_5678);
    RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let ripple = ((fx * 40.0).sin() * (fy * 30.0).cos() * 24.0) as i32;
        let grain = (n.next() % 17) as i32 - 8;
        let c = |v: f32| (v as i32 + ripple + grain).clamp(0, 255) as u8;
        Rgb([
            c(40.0 + 200.0 * fx),
            c(60.0 + 150.0 * fy),
            c(200.0 - 150.0 * fx * fy),
        ])
    })
}

/// The orientation test pattern as it should be displayed: red, green, blue, yellow quadrants
/// (top-left, top-right, bottom-left, bottom-right).
pub fn quadrants(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| match (x < w / 2, y < h / 2) {
        (true, true) => Rgb([255, 0, 0]),
        (false, true) => Rgb([0, 255, 0]),
        (true, false) => Rgb([0, 0, 255]),
        (false, false) => Rgb([255, 255, 0]),
    })
}

fn jpeg(
    img: &DynamicImage,
    quality: f32,
    progressive: bool,
    app: &[(u8, Vec<u8>)],
    icc: Option<&[u8]>,
) -> Vec<u8> {
    let (cs, bytes) = match img {
        DynamicImage::ImageLuma8(b) => (mozjpeg::ColorSpace::JCS_GRAYSCALE, b.as_raw().clone()),
        other => (mozjpeg::ColorSpace::JCS_RGB, other.to_rgb8().into_raw()),
    };
    let mut c = mozjpeg::Compress::new(cs);
    c.set_fastest_defaults();
    c.set_size(img.width() as usize, img.height() as usize);
    c.set_quality(quality);
    c.set_optimize_coding(true);
    if progressive {
        c.set_progressive_mode();
    }
    let mut s = c.start_compress(Vec::new()).expect("start");
    for (n, data) in app {
        s.write_marker(mozjpeg::Marker::APP(*n), data);
    }
    if let Some(icc) = icc {
        s.write_icc_profile(icc);
    }
    s.write_scanlines(&bytes).expect("scanlines");
    s.finish().expect("finish")
}

/// An EXIF block (with the `Exif\0\0` prefix) holding only an orientation tag.
fn exif_orientation(o: u16) -> Vec<u8> {
    let mut v = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
    v.extend([0, 1]); // one entry
    v.extend([0x01, 0x12, 0, 3, 0, 0, 0, 1]); // Orientation, SHORT, count 1
    v.extend(o.to_be_bytes());
    v.extend([0, 0]);
    v.extend([0, 0, 0, 0]); // no next IFD
    v
}

fn png(img: &DynamicImage, icc: Option<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = image::codecs::png::PngEncoder::new(&mut out);
    if let Some(icc) = icc {
        enc.set_icc_profile(icc).expect("png icc");
    }
    enc.write_image(
        img.as_bytes(),
        img.width(),
        img.height(),
        img.color().into(),
    )
    .expect("png");
    out
}

fn encode_with(img: &DynamicImage, fmt: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, fmt).expect("encode");
    out.into_inner()
}

fn palette_png() -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut e = png::Encoder::new(&mut out, 32, 32);
        e.set_color(png::ColorType::Indexed);
        e.set_depth(png::BitDepth::Eight);
        e.set_palette(vec![255, 0, 0, 0, 128, 0, 0, 0, 255, 250, 250, 250]);
        e.set_trns(vec![255, 255, 255, 0]);
        let mut w = e.write_header().expect("header");
        let data: Vec<u8> = (0..32 * 32).map(|i| ((i % 32) / 8) as u8).collect();
        w.write_image_data(&data).expect("data");
    }
    out
}

/// An Adam7-interlaced RGB PNG, built by hand (the encoders used here write only
/// non-interlaced files): each pass's scanlines with filter 0, deflated together.
fn interlaced_png(img: &RgbImage) -> Vec<u8> {
    const PASSES: [(u32, u32, u32, u32); 7] = [
        (0, 0, 8, 8),
        (4, 0, 8, 8),
        (0, 4, 4, 8),
        (2, 0, 4, 4),
        (0, 2, 2, 4),
        (1, 0, 2, 2),
        (0, 1, 1, 2),
    ];
    let (w, h) = img.dimensions();
    let mut raw = Vec::new();
    for (x0, y0, dx, dy) in PASSES {
        if x0 >= w || y0 >= h {
            continue;
        }
        for y in (y0..h).step_by(dy as usize) {
            raw.push(0); // filter: none
            for x in (x0..w).step_by(dx as usize) {
                raw.extend_from_slice(&img.get_pixel(x, y).0);
            }
        }
    }
    let chunk = |out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]| {
        out.extend((data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend(kind);
        out.extend(data);
        let crc = crc32fast::hash(&out[start..]);
        out.extend(crc.to_be_bytes());
    };
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 1]); // 8-bit RGB, deflate, adaptive filtering, Adam7
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &fdeflate::compress_to_vec(&raw));
    chunk(&mut out, b"IEND", &[]);
    out
}

/// Patch the width and height of a PNG's IHDR (fixing its CRC).
fn png_claiming(mut bytes: Vec<u8>, w: u32, h: u32) -> Vec<u8> {
    bytes[16..20].copy_from_slice(&w.to_be_bytes());
    bytes[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32fast::hash(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

/// Patch the frame size in a JPEG's SOF marker.
fn jpeg_claiming(mut bytes: Vec<u8>, w: u16, h: u16) -> Vec<u8> {
    let mut i = 2;
    while i + 9 < bytes.len() {
        let m = bytes[i + 1];
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        if (0xC0..=0xC2).contains(&m) {
            bytes[i + 5..i + 7].copy_from_slice(&h.to_be_bytes());
            bytes[i + 7..i + 9].copy_from_slice(&w.to_be_bytes());
            return bytes;
        }
        i += 2 + len;
    }
    panic!("no SOF marker");
}

fn cmyk_adobe_jpeg() -> Vec<u8> {
    // Quadrants red, green, blue, white in CMYK, stored inverted (0 = full ink) as Adobe
    // Photoshop writes them; libjpeg adds the Adobe APP14 marker for CMYK.
    let (w, h) = (32usize, 32usize);
    let mut px = Vec::with_capacity(w * h * 4);
    for y in 0..h {
        for x in 0..w {
            // ink amounts c, m, y, k
            let ink: [u8; 4] = match (x < w / 2, y < h / 2) {
                (true, true) => [0, 255, 255, 0],  // red
                (false, true) => [255, 0, 255, 0], // green
                (true, false) => [255, 255, 0, 0], // blue
                (false, false) => [0, 0, 0, 0],    // white (paper)
            };
            px.extend(ink.map(|v| 255 - v));
        }
    }
    let mut c = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_CMYK);
    c.set_fastest_defaults();
    c.set_size(w, h);
    c.set_quality(95.0);
    let mut s = c.start_compress(Vec::new()).expect("start");
    s.write_scanlines(&px).expect("scanlines");
    s.finish().expect("finish")
}

fn webp(img: &DynamicImage, lossless: bool) -> Vec<u8> {
    let e = match img {
        DynamicImage::ImageRgba8(b) => webp::Encoder::from_rgba(b.as_raw(), b.width(), b.height()),
        DynamicImage::ImageRgb8(b) => webp::Encoder::from_rgb(b.as_raw(), b.width(), b.height()),
        _ => unreachable!("fixture images are 8-bit RGB(A)"),
    };
    e.encode_simple(lossless, 80.0).expect("webp").to_vec()
}

fn gif(frames: &[RgbaImage]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut e = GifEncoder::new(&mut out);
        e.set_repeat(image::codecs::gif::Repeat::Infinite)
            .expect("repeat");
        for f in frames {
            e.encode_frame(Frame::new(f.clone())).expect("frame");
        }
    }
    out
}

fn avif_tiny() -> Vec<u8> {
    let px: Vec<ravif::RGB8> = (0..64).map(|i| ravif::RGB8::new(i * 4, 100, 200)).collect();
    ravif::Encoder::new()
        .with_speed(10)
        .with_num_threads(Some(1))
        .encode_rgb(ravif::Img::new(&px[..], 8, 8))
        .expect("avif")
        .avif_file
}

/// Clear the creation date in an ICC header (bytes 24..36) so the output is reproducible.
fn undated(mut icc: Vec<u8>) -> Vec<u8> {
    icc[24..36].fill(0);
    icc
}

/// Every fixture: (relative path, bytes).
pub fn all() -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    let mut put = |name: &str, bytes: Vec<u8>| v.push((PathBuf::from(name), bytes));

    let photo = DynamicImage::ImageRgb8(photo(320, 213));
    let photo_jpg = jpeg(&photo, 90.0, false, &[], None);
    put("photo.jpg", photo_jpg.clone());
    put("progressive.jpg", jpeg(&photo, 85.0, true, &[], None));
    put(
        "gray.jpg",
        jpeg(
            &DynamicImage::ImageLuma8(photo.to_luma8()),
            90.0,
            false,
            &[],
            None,
        ),
    );
    put("cmyk-adobe.jpg", cmyk_adobe_jpeg());

    // Orientation: the stored pixels are the displayed pattern put through the inverse of
    // each orientation, so a correct reader always shows `quadrants`.
    let display = DynamicImage::ImageRgb8(quadrants(48, 32));
    for o in 1..=8u8 {
        let orient = image::metadata::Orientation::from_exif(o).expect("1..=8");
        let candidates = [
            display.clone(),
            display.fliph(),
            display.rotate180(),
            display.flipv(),
            display.rotate90().fliph(),
            display.rotate270(),
            display.rotate270().fliph(),
            display.rotate90(),
        ];
        let stored = candidates
            .into_iter()
            .find(|c| {
                let mut t = c.clone();
                t.apply_orientation(orient);
                t == display
            })
            .expect("an inverse exists");
        let bytes = jpeg(
            &stored,
            95.0,
            false,
            &[(1, exif_orientation(o.into()))],
            None,
        );
        put(&format!("orientation-{o}.jpg"), bytes);
    }

    // Colour: sRGB red (255,0,0) expressed in Display P3 is about (234,51,35), and in
    // Adobe RGB (1998) about (219,0,0). A correct conversion brings both back to red.
    let p3 = undated(
        moxcms::ColorProfile::new_display_p3()
            .encode()
            .expect("p3 icc"),
    );
    let adobe = undated(
        moxcms::ColorProfile::new_adobe_rgb()
            .encode()
            .expect("adobe icc"),
    );
    let p3_red = DynamicImage::ImageRgb8(RgbImage::from_pixel(32, 32, Rgb([234, 51, 35])));
    put(
        "display-p3-red.jpg",
        jpeg(&p3_red, 95.0, false, &[], Some(&p3)),
    );
    let adobe_red = DynamicImage::ImageRgb8(RgbImage::from_pixel(32, 32, Rgb([219, 0, 0])));
    put("adobe-rgb-red.png", png(&adobe_red, Some(adobe)));

    // Alpha: opaque red blocks on fully transparent *black*. Resizing without
    // premultiplied alpha bleeds the black into the edges.
    let edge = RgbaImage::from_fn(64, 64, |x, y| {
        if ((x / 4) + (y / 4)) % 2 == 0 {
            Rgba([255, 0, 0, 255])
        } else {
            Rgba([0, 0, 0, 0])
        }
    });
    put(
        "alpha-premultiplied-edge.png",
        png(&DynamicImage::ImageRgba8(edge.clone()), None),
    );

    let gray16: ImageBuffer<Luma<u16>, Vec<u16>> =
        ImageBuffer::from_fn(512, 16, |x, _| Luma([(x * 65535 / 511) as u16]));
    put(
        "gray-16bit.png",
        png(&DynamicImage::ImageLuma16(gray16), None),
    );
    let rgba16: ImageBuffer<Rgba<u16>, Vec<u16>> = ImageBuffer::from_fn(64, 48, |x, y| {
        Rgba([
            (x * 1000) as u16,
            (y * 1300) as u16,
            30000,
            65535 - (x * 500) as u16,
        ])
    });
    put(
        "rgba-16bit.png",
        png(&DynamicImage::ImageRgba16(rgba16), None),
    );
    let la: ImageBuffer<LumaA<u8>, Vec<u8>> =
        ImageBuffer::from_fn(40, 30, |x, y| LumaA([(x * 6) as u8, (y * 8) as u8]));
    put("gray-alpha.png", png(&DynamicImage::ImageLumaA8(la), None));
    put(
        "gray.png",
        png(
            &DynamicImage::ImageLuma8(GrayImage::from_fn(40, 30, |x, y| Luma([(x + y * 3) as u8]))),
            None,
        ),
    );
    put("palette-trns.png", palette_png());
    put("interlaced.png", interlaced_png(&quadrants(37, 23)));
    let rgba_photo = DynamicImage::ImageRgba8(RgbaImage::from_fn(120, 90, |x, y| {
        let p = photo.as_rgb8().expect("rgb").get_pixel(x * 2, y * 2).0;
        Rgba([p[0], p[1], p[2], (x * 2).min(255) as u8])
    }));
    put("rgba.png", png(&rgba_photo, None));

    let small_photo = DynamicImage::ImageRgb8(image::imageops::thumbnail(
        photo.as_rgb8().expect("rgb"),
        160,
        106,
    ));
    put("lossy.webp", webp(&small_photo, false));
    put("lossless.webp", webp(&small_photo, true));
    put("alpha.webp", webp(&rgba_photo, false));

    let frames: Vec<RgbaImage> = [
        Rgba([255, 0, 0, 255]),
        Rgba([0, 255, 0, 255]),
        Rgba([0, 0, 255, 255]),
    ]
    .into_iter()
    .map(|c| RgbaImage::from_pixel(24, 16, c))
    .collect();
    put("animated-3-frames.gif", gif(&frames));
    put("static.gif", gif(&[rgba_photo.to_rgba8()]));
    put(
        "rgb.tiff",
        encode_with(&small_photo, image::ImageFormat::Tiff),
    );
    put(
        "rgb.bmp",
        encode_with(&small_photo, image::ImageFormat::Bmp),
    );

    // Bad input, each named after what is wrong with it.
    put(
        "bad/truncated.jpg",
        photo_jpg[..photo_jpg.len() * 6 / 10].to_vec(),
    );
    let rgba_png = png(&rgba_photo, None);
    put("bad/truncated.png", rgba_png[..rgba_png.len() / 2].to_vec());
    put("bad/empty.jpg", Vec::new());
    put(
        "bad/not-an-image.jpg",
        b"<html><body>Not Found</body></html>\n".to_vec(),
    );
    let mut heic = vec![0, 0, 0, 24];
    heic.extend(b"ftypheic\0\0\0\0mif1heic");
    heic.extend([0u8; 64]);
    put("bad/heic-renamed.jpg", heic);
    put("bad/unsupported.avif", avif_tiny());
    let tiny = jpeg(
        &DynamicImage::ImageRgb8(RgbImage::from_pixel(8, 8, Rgb([9, 9, 9]))),
        50.0,
        false,
        &[],
        None,
    );
    put(
        "bad/bomb-64250x64250.jpg",
        jpeg_claiming(tiny, 64250, 64250),
    );
    let tiny_png = png(
        &DynamicImage::ImageRgb8(RgbImage::from_pixel(8, 8, Rgb([9, 9, 9]))),
        None,
    );
    put(
        "bad/bomb-100000x100000.png",
        png_claiming(tiny_png, 100_000, 100_000),
    );
    v
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "fixtures".into());
    let dir = Path::new(&dir);
    for (rel, bytes) in all() {
        let path = dir.join(&rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, &bytes).expect("write");
        println!("{:>8}  {}", bytes.len(), path.display());
    }
}
