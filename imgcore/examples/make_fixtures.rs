//! Writes the test fixtures in `fixtures/`: small images whose names say what they test.
//!
//! Run from the workspace root: `cargo run -p imgcore --example make_fixtures -- fixtures`.
//! The output is deterministic; `tests/engine/fixtures.rs` checks the committed files match.

use image::codecs::gif::GifEncoder;
use image::{
    DynamicImage, Frame, GrayImage, ImageBuffer, ImageEncoder, Luma, LumaA, Rgb, RgbImage, Rgba,
    RgbaImage,
};
use imgcore::synth::png_chunk;
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

/// The box `kind` in `file` (found by name; the first one), header included.
fn find_box<'a>(file: &'a [u8], kind: &[u8; 4]) -> &'a [u8] {
    let at = file.windows(4).position(|w| w == kind).expect("box") - 4;
    let size = u32::from_be_bytes(file[at..at + 4].try_into().unwrap()) as usize;
    &file[at..at + size]
}

/// A box: size, type, body.
fn bmff(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    b.extend(kind);
    b.extend(body);
    b
}

/// A full box: version and flags before the body.
fn full_box(kind: &[u8; 4], version: u8, flags: u32, body: &[u8]) -> Vec<u8> {
    let mut b = vec![version];
    b.extend(&flags.to_be_bytes()[1..]);
    b.extend(body);
    bmff(kind, &b)
}

/// A 2x2 grid AVIF: four 64x64 tiles (ravif, 8-bit 4:4:4), red, green, blue and white in
/// raster order, making a 120x100 image (the right column and bottom row overhang, as
/// MIAF allows). `dimg` lists the first `listed` tiles: fewer than 4 is a missing tile.
fn avif_grid(listed: usize) -> Vec<u8> {
    let colours = [
        [230u8, 40, 40],
        [40, 200, 60],
        [40, 60, 220],
        [245, 245, 245],
    ];
    let tiles: Vec<Vec<u8>> = colours
        .iter()
        .map(|&[r, g, b]| {
            let px = vec![ravif::RGB8::new(r, g, b); 64 * 64];
            ravif::Encoder::new()
                .with_quality(90.0)
                .with_speed(10)
                .with_num_threads(Some(1))
                .encode_rgb(ravif::Img::new(&px[..], 64, 64))
                .expect("avif")
                .avif_file
        })
        .collect();
    let av1c = find_box(&tiles[0], b"av1C").to_vec();
    let coded: Vec<Vec<u8>> = tiles
        .iter()
        .map(|t| find_box(t, b"mdat")[8..].to_vec())
        .collect();
    // Item 1 is the grid (its descriptor: version 0, 16-bit sizes, 2 rows, 2 columns,
    // 120x100), items 2-5 the tiles.
    let mut descriptor = vec![0u8, 0, 1, 1];
    descriptor.extend(120u16.to_be_bytes());
    descriptor.extend(100u16.to_be_bytes());
    let mut payloads = vec![descriptor];
    payloads.extend(coded);
    let ftyp = bmff(b"ftyp", b"avif\0\0\0\0mif1miafavif");
    let meta = |mdat_at: u32| -> Vec<u8> {
        let hdlr = full_box(b"hdlr", 0, 0, b"\0\0\0\0pict\0\0\0\0\0\0\0\0\0\0\0\0\0");
        let pitm = full_box(b"pitm", 0, 0, &1u16.to_be_bytes());
        // iloc v0: 4-byte offsets and lengths, no base offset; one extent an item.
        let mut iloc = vec![0x44, 0x00];
        iloc.extend((payloads.len() as u16).to_be_bytes());
        let mut at = mdat_at + 8;
        for (i, p) in payloads.iter().enumerate() {
            iloc.extend((i as u16 + 1).to_be_bytes());
            iloc.extend([0, 0, 0, 1]);
            iloc.extend(at.to_be_bytes());
            iloc.extend((p.len() as u32).to_be_bytes());
            at += p.len() as u32;
        }
        let iloc = full_box(b"iloc", 0, 0, &iloc);
        let mut iinf = (payloads.len() as u16).to_be_bytes().to_vec();
        for i in 0..payloads.len() {
            let mut infe = (i as u16 + 1).to_be_bytes().to_vec();
            infe.extend([0, 0]);
            infe.extend(if i == 0 { b"grid" } else { b"av01" });
            infe.push(0);
            // Tiles are hidden: only the grid is an image to show.
            iinf.extend(full_box(b"infe", 2, u32::from(i > 0), &infe));
        }
        let iinf = full_box(b"iinf", 0, 0, &iinf);
        let mut dimg = 1u16.to_be_bytes().to_vec();
        dimg.extend((listed as u16).to_be_bytes());
        for t in 0..listed {
            dimg.extend((t as u16 + 2).to_be_bytes());
        }
        let iref = full_box(b"iref", 0, 0, &bmff(b"dimg", &dimg));
        let ispe = |w: u32, h: u32| {
            let mut b = w.to_be_bytes().to_vec();
            b.extend(h.to_be_bytes());
            full_box(b"ispe", 0, 0, &b)
        };
        let ipco = bmff(
            b"ipco",
            &[ispe(120, 100), ispe(64, 64), av1c.clone()].concat(),
        );
        // ipma: the grid has property 1; each tile 2 and (essential) 3.
        let mut ipma = (payloads.len() as u32).to_be_bytes().to_vec();
        ipma.extend([0, 1, 1, 1]);
        for i in 1..payloads.len() {
            ipma.extend((i as u16 + 1).to_be_bytes());
            ipma.extend([2, 2, 0x83]);
        }
        let iprp = bmff(b"iprp", &[ipco, full_box(b"ipma", 0, 0, &ipma)].concat());
        full_box(
            b"meta",
            0,
            0,
            &[hdlr, pitm, iloc, iinf, iref, iprp].concat(),
        )
    };
    let mdat_at = (ftyp.len() + meta(0).len()) as u32;
    [ftyp, meta(mdat_at), bmff(b"mdat", &payloads.concat())].concat()
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
    put("interlaced.png", {
        let img = quadrants(37, 23);
        imgcore::synth::interlaced_png(37, 23, |x, y| img.get_pixel(x, y).0)
    });
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

    // The smallest image, in every format.
    let dot = DynamicImage::ImageRgb8(RgbImage::from_pixel(1, 1, Rgb([200, 30, 30])));
    put("one-pixel.jpg", jpeg(&dot, 90.0, false, &[], None));
    put("one-pixel.png", png(&dot, None));
    put("one-pixel.gif", gif(&[dot.to_rgba8()]));
    put("one-pixel.bmp", encode_with(&dot, image::ImageFormat::Bmp));
    put(
        "one-pixel.tiff",
        encode_with(&dot, image::ImageFormat::Tiff),
    );
    put("one-pixel.webp", webp(&dot, true));
    // A JPEG whose name says PNG: the format comes from the bytes.
    put("jpeg-named-as.png", photo_jpg.clone());

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
    put("avif-8x8.avif", avif_tiny());
    // A tiled AVIF, and the same with one of its four tiles not listed.
    put("avif-grid-2x2.avif", avif_grid(4));
    put("bad/avif-grid-missing-tile.avif", avif_grid(3));
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

// ---- Adversarial input (fixtures/bad/): headers that lie, metadata that attacks. ----

/// A PNG chunk: length, type, data, CRC.
/// Split a PNG into (signature + IHDR, chunks up to IEND, IEND).
fn png_split(bytes: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    (
        bytes[..33].to_vec(),
        bytes[33..bytes.len() - 12].to_vec(),
        bytes[bytes.len() - 12..].to_vec(),
    )
}

/// A small PNG with `extra` chunks inserted between IHDR and the image data.
fn png_with_chunks(extra: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let base = png(&DynamicImage::ImageRgb8(photo(16, 12)), None);
    let (head, body, end) = png_split(&base);
    let mut out = head;
    extra(&mut out);
    out.extend(body);
    out.extend(end);
    out
}

/// zlib-compressed `n` zero bytes at deflate's best ratio (~1:1000), made without
/// holding `n` bytes: one MiB of zeros is deflated with a full flush (which leaves the
/// stream byte-aligned and the dictionary reset), and that block is repeated.
fn zeros_zlib(n: usize) -> Vec<u8> {
    use miniz_oxide::deflate::core::{
        compress, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush,
    };
    let block = |len: usize| {
        let mut d = CompressorOxide::new(create_comp_flags_from_zip_params(9, -15, 0));
        let mut out = vec![0u8; 64 << 10];
        let (_, used, written) = compress(&mut d, &vec![0u8; len], &mut out, TDEFLFlush::Full);
        assert_eq!(used, len, "deflate took all the input");
        out.truncate(written);
        out
    };
    const MIB: usize = 1 << 20;
    let mut z = vec![0x78, 0xDA];
    let whole = block(MIB);
    for _ in 0..n / MIB {
        z.extend(&whole);
    }
    if !n.is_multiple_of(MIB) {
        z.extend(block(n % MIB));
    }
    z.extend([0x03, 0x00]); // an empty final block
    let adler = (((n % 65521) as u32) << 16) | 1; // Adler-32 of n zeros
    z.extend(adler.to_be_bytes());
    z
}

/// A valid 65535×65535 1-bit grey PNG (all black): 4.3 gigapixels, 537 MB of scanlines
/// (each a filter byte 0 and 8192 zero bytes) in half a megabyte.
pub fn png_65535_1bit() -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(65535u32.to_be_bytes());
    ihdr.extend(65535u32.to_be_bytes());
    ihdr.extend([1, 0, 0, 0, 0]); // 1-bit grey, deflate, adaptive filtering, not interlaced
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(
        &mut out,
        b"IDAT",
        &zeros_zlib(65535 * (1 + 65535usize.div_ceil(8))),
    );
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// Set the width and height of an image file at fixed offsets.
fn patch(mut bytes: Vec<u8>, at: &[(usize, &[u8])]) -> Vec<u8> {
    for (i, v) in at {
        bytes[*i..*i + v.len()].copy_from_slice(v);
    }
    bytes
}

/// A GIF whose screen and first frame claim `w`×`h` but hold one pixel's data.
fn gif_claiming(w: u16, h: u16) -> Vec<u8> {
    let mut out = b"GIF89a".to_vec();
    out.extend(w.to_le_bytes());
    out.extend(h.to_le_bytes());
    out.extend([0x80, 0, 0]); // global colour table of 2 entries
    out.extend([0, 0, 0, 255, 255, 255]);
    out.push(0x2C); // image descriptor
    out.extend([0, 0, 0, 0]);
    out.extend(w.to_le_bytes());
    out.extend(h.to_le_bytes());
    out.push(0);
    out.extend([2, 2, 0x4C, 0x01, 0]); // LZW: min code size 2, one block, end
    out.push(0x3B);
    out
}

/// A TIFF written by `image`, with its ImageWidth/ImageLength tags patched.
fn tiff_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut b = encode_with(
        &DynamicImage::ImageRgb8(RgbImage::from_pixel(8, 8, Rgb([9, 9, 9]))),
        image::ImageFormat::Tiff,
    );
    assert_eq!(&b[..4], b"II*\0", "little-endian TIFF");
    let ifd = u32::from_le_bytes(b[4..8].try_into().expect("4")) as usize;
    let n = usize::from(u16::from_le_bytes([b[ifd], b[ifd + 1]]));
    for k in 0..n {
        let e = ifd + 2 + 12 * k;
        let tag = u16::from_le_bytes([b[e], b[e + 1]]);
        let value = match tag {
            256 => w,
            257 => h,
            _ => continue,
        };
        b[e + 2..e + 4].copy_from_slice(&4u16.to_le_bytes()); // LONG
        b[e + 4..e + 8].copy_from_slice(&1u32.to_le_bytes());
        b[e + 8..e + 12].copy_from_slice(&value.to_le_bytes());
    }
    b
}

/// RIFF/WebP container around `chunks` (each already framed).
fn webp_riff(chunks: &[u8]) -> Vec<u8> {
    let mut out = b"RIFF".to_vec();
    out.extend(((chunks.len() + 4) as u32).to_le_bytes());
    out.extend(b"WEBP");
    out.extend(chunks);
    out
}

fn riff_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend(kind);
    out.extend((data.len() as u32).to_le_bytes());
    out.extend(data);
    if !data.len().is_multiple_of(2) {
        out.push(0);
    }
}

/// The VP8L chunk payload of a 1×1 lossless WebP.
fn vp8l_one_pixel() -> Vec<u8> {
    let file = webp(
        &DynamicImage::ImageRgb8(RgbImage::from_pixel(1, 1, Rgb([200, 30, 30]))),
        true,
    );
    assert_eq!(&file[12..16], b"VP8L");
    let len = u32::from_le_bytes(file[16..20].try_into().expect("4")) as usize;
    file[20..20 + len].to_vec()
}

/// A lossless WebP whose VP8L header claims `w`×`h` (each at most 16384).
fn webp_vp8l_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut p = vp8l_one_pixel();
    let bits = u32::from_le_bytes(p[1..5].try_into().expect("4"));
    let bits = (bits & !0x0FFF_FFFF) | (w - 1) | ((h - 1) << 14);
    p[1..5].copy_from_slice(&bits.to_le_bytes());
    let mut c = Vec::new();
    riff_chunk(&mut c, b"VP8L", &p);
    webp_riff(&c)
}

/// An extended WebP whose VP8X canvas claims `w`×`h` around a 1×1 image.
fn webp_vp8x_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut x = vec![0u8; 4];
    x.extend(&(w - 1).to_le_bytes()[..3]);
    x.extend(&(h - 1).to_le_bytes()[..3]);
    let mut c = Vec::new();
    riff_chunk(&mut c, b"VP8X", &x);
    riff_chunk(&mut c, b"VP8L", &vp8l_one_pixel());
    webp_riff(&c)
}

/// An animated WebP of `n` 1×1 frames.
fn webp_frames(n: usize) -> Vec<u8> {
    let px = vp8l_one_pixel();
    let mut c = Vec::new();
    riff_chunk(&mut c, b"VP8X", &[0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // animation + alpha, 1×1
    riff_chunk(&mut c, b"ANIM", &[0, 0, 0, 0, 0, 0]);
    for _ in 0..n {
        let mut f = vec![0u8; 6]; // offset 0,0
        f.extend([0, 0, 0, 0, 0, 0]); // 1×1 (minus one)
        f.extend([10, 0, 0, 0]); // 10 ms, no blend/dispose flags
        riff_chunk(&mut f, b"VP8L", &px);
        riff_chunk(&mut c, b"ANMF", &f);
    }
    webp_riff(&c)
}

/// An animated GIF of `n` 1×1 frames.
fn gif_frames(n: usize) -> Vec<u8> {
    let mut out = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff".to_vec();
    for i in 0..n {
        out.extend([0x21, 0xF9, 4, 0, 2, 0, 0, 0]); // 20 ms per frame
        out.extend([0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0]);
        out.extend([2, 2, if i % 2 == 0 { 0x4C } else { 0x44 }, 0x01, 0]);
    }
    out.push(0x3B);
    out
}

/// A JPEG with an APP segment of `payload` (after the `Exif\0\0` or ICC prefix given).
fn jpeg_with_app(app: &[(u8, Vec<u8>)]) -> Vec<u8> {
    jpeg(
        &DynamicImage::ImageRgb8(photo(24, 16)),
        85.0,
        false,
        app,
        None,
    )
}

/// EXIF whose IFD0 points back at itself and whose Orientation claims a billion values.
fn exif_loop() -> Vec<u8> {
    let mut v = b"Exif\0\0II\x2a\0\x08\0\0\0".to_vec();
    v.extend([2, 0]); // two entries
    v.extend([0x12, 0x01, 3, 0, 0, 0, 0, 0x40]); // Orientation, SHORT, count 2^30 ...
    v.extend([0x10, 0, 0, 0]); // ... at offset 16
    v.extend([0x69, 0x87, 4, 0, 1, 0, 0, 0, 8, 0, 0, 0]); // Exif IFD pointer -> IFD0 again
    v.extend([8, 0, 0, 0]); // next IFD: IFD0 again
    v
}

/// Pseudo-random bytes.
fn garbage(n: usize, seed: u32) -> Vec<u8> {
    let mut r = Noise(seed);
    (0..n).map(|_| r.next() as u8).collect()
}

/// One APP2 ICC_PROFILE segment: chunk `seq` of `count`.
fn icc_segment(seq: u8, count: u8, data: &[u8]) -> (u8, Vec<u8>) {
    let mut v = b"ICC_PROFILE\0".to_vec();
    v.extend([seq, count]);
    v.extend(data);
    (2, v)
}

/// A JPEG carrying a 16 MB ICC profile of noise in 255 APP2 segments (the format's largest).
pub fn jpeg_huge_icc() -> Vec<u8> {
    let segs: Vec<_> = (1..=255u8)
        .map(|i| icc_segment(i, 255, &garbage(65519, u32::from(i))))
        .collect();
    jpeg_with_app(&segs)
}

/// A PNG with `n` tEXt chunks before its image data.
pub fn png_many_chunks(n: usize) -> Vec<u8> {
    png_with_chunks(|out| {
        for i in 0..n {
            png_chunk(out, b"tEXt", format!("k\0{i}").as_bytes());
        }
    })
}

/// Every adversarial fixture: (path under fixtures/, bytes). Small enough to commit.
pub fn adversarial() -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    let mut put =
        |name: &str, bytes: Vec<u8>| v.push((PathBuf::from(format!("bad/{name}")), bytes));
    let tiny = || DynamicImage::ImageRgb8(RgbImage::from_pixel(8, 8, Rgb([9, 9, 9])));

    // Dimension bombs: at least 10^9 pixels claimed, a few bytes of data.
    put(
        "bomb-40000x30000.png",
        png_claiming(png(&tiny(), None), 40000, 30000),
    );
    put(
        "bomb-40000x30000.jpg",
        jpeg_claiming(jpeg(&tiny(), 50.0, false, &[], None), 40000, 30000),
    );
    put("bomb-40000x30000.gif", gif_claiming(40000, 30000));
    let bmp = encode_with(&tiny(), image::ImageFormat::Bmp);
    put(
        "bomb-40000x30000.bmp",
        patch(
            bmp,
            &[(18, &40000i32.to_le_bytes()), (22, &30000i32.to_le_bytes())],
        ),
    );
    put("bomb-40000x30000.tiff", tiff_claiming(40000, 30000));
    put(
        "bomb-40000x30000-vp8x.webp",
        webp_vp8x_claiming(40000, 30000),
    );
    // The largest a lossless WebP can claim: 268 Mpx, 1 GiB of RGBA, under the pixel limit.
    put(
        "bomb-16384x16384-vp8l.webp",
        webp_vp8l_claiming(16384, 16384),
    );
    put("blank-65535x65535-1bit.png", png_65535_1bit());

    // PNG chunk and zlib bombs.
    put("png-5000-text-chunks.png", png_many_chunks(5000));
    for (name, kind) in [("iccp", b"iCCP"), ("ztxt", b"zTXt")] {
        put(
            &format!("png-{name}-zlib-bomb.png"),
            png_with_chunks(|out| {
                let mut d = b"bomb\0\0".to_vec();
                d.extend(zeros_zlib(256 << 20));
                png_chunk(out, kind, &d);
            }),
        );
    }
    let mut idat_bomb = png_split(&png(&tiny(), None)).0;
    // The right scanlines for 8×8 RGB (8 × 25 bytes), then 256 MB more zeros in one stream.
    png_chunk(&mut idat_bomb, b"IDAT", &zeros_zlib(8 * 25 + (256 << 20)));
    png_chunk(&mut idat_bomb, b"IEND", &[]);
    put("png-idat-zlib-bomb.png", idat_bomb);
    put(
        "png-chunk-claims-2gb.png",
        png_with_chunks(|out| {
            out.extend(0x7FFF_FFF0u32.to_be_bytes());
            out.extend(b"tEXt");
            out.extend(b"k\0v");
        }),
    );

    // Hostile metadata.
    put("exif-ifd-loop.jpg", jpeg_with_app(&[(1, exif_loop())]));
    let mut exif_noise = b"Exif\0\0".to_vec();
    exif_noise.extend(garbage(65000, 7));
    put("exif-64k-noise.jpg", jpeg_with_app(&[(1, exif_noise)]));
    put(
        "icc-noise.jpg",
        jpeg_with_app(&[icc_segment(1, 1, &garbage(60000, 11))]),
    );
    put(
        "icc-chunks-missing-and-repeated.jpg",
        jpeg_with_app(&[
            icc_segment(3, 2, &garbage(100, 1)),
            icc_segment(1, 2, &garbage(100, 2)),
            icc_segment(1, 2, &garbage(100, 3)),
            icc_segment(0, 0, &garbage(100, 4)),
        ]),
    );
    put(
        "png-iccp-noise.png",
        png_with_chunks(|out| {
            let mut d = b"noise\0\0".to_vec();
            d.extend(fdeflate::compress_to_vec(&garbage(5000, 5)));
            png_chunk(out, b"iCCP", &d);
        }),
    );

    // Thousands of frames.
    put("frames-5000.gif", gif_frames(5000));
    put("frames-3000.webp", webp_frames(3000));
    v
}

/// Fixtures too large to commit, written by `make_fixtures -- --large DIR` for the
/// memory and time script (`scripts/adversarial.sh`); tests build them in memory.
pub fn large() -> Vec<(PathBuf, Vec<u8>)> {
    vec![
        (PathBuf::from("icc-16mb-noise.jpg"), jpeg_huge_icc()),
        (
            PathBuf::from("png-200000-text-chunks.png"),
            png_many_chunks(200_000),
        ),
    ]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let first = args.next().unwrap_or_else(|| "fixtures".into());
    let (dir, files) = if first == "--large" {
        (args.next().expect("--large DIR"), large())
    } else {
        let mut all = all();
        all.extend(adversarial());
        (first, all)
    };
    let dir = Path::new(&dir);
    for (rel, bytes) in files {
        let path = dir.join(&rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, &bytes).expect("write");
        println!("{:>8}  {}", bytes.len(), path.display());
    }
}
