//! Full-scale JPEG decode to RGB: libjpeg-turbo (through the `mozjpeg` crate, as imgcore
//! decodes) against zune-jpeg, plus libjpeg-turbo at 1/2 scale for scale. One thread; the
//! figure is the best of 3 runs of `N` decodes, in ms per decode. Also prints how far the two
//! full decodes' pixels are apart (they upsample chroma slightly differently).
//!
//! `cargo run --release -p imgtool-benches --bin jpeg_decoders -- 20 a.jpg b.jpg`

use std::time::Instant;

type Decode = fn(&[u8]) -> (usize, usize, Vec<u8>);

fn turbo(bytes: &[u8], scale: u8) -> (usize, usize, Vec<u8>) {
    let mut d = mozjpeg::Decompress::new_mem(bytes).expect("libjpeg-turbo: header");
    d.scale(scale);
    let mut d = d.rgb().expect("libjpeg-turbo: start");
    let (w, h) = (d.width(), d.height());
    // One flat buffer, as imgcore reads it.
    let px: Vec<u8> = d.read_scanlines().expect("libjpeg-turbo: scanlines");
    d.finish().expect("libjpeg-turbo: finish");
    (w, h, px)
}

fn turbo_full(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    turbo(bytes, 8)
}

fn turbo_half(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    turbo(bytes, 4)
}

fn zune(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    use zune_core::{bytestream::ZCursor, colorspace::ColorSpace, options::DecoderOptions};
    let opts = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut d = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), opts);
    let px = d.decode().expect("zune-jpeg: decode");
    let (w, h) = d.dimensions().expect("zune-jpeg: dimensions");
    (w, h, px)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u32 = args
        .next()
        .and_then(|a| a.parse().ok())
        .expect("usage: jpeg_decoders N FILE...");
    for path in args {
        let bytes = std::fs::read(&path).expect("read");
        println!("{path}");
        for (name, f) in [
            ("libjpeg-turbo, full", turbo_full as Decode),
            ("libjpeg-turbo, 1/2", turbo_half),
            ("zune-jpeg, full", zune),
        ] {
            let (w, h, _) = f(&bytes);
            let best = (0..3)
                .map(|_| {
                    let t = Instant::now();
                    for _ in 0..n {
                        std::hint::black_box(f(&bytes));
                    }
                    t.elapsed().as_secs_f64() * 1000.0 / f64::from(n)
                })
                .fold(f64::MAX, f64::min);
            println!("  {name}: {best:.1} ms ({w}x{h})");
        }
        let (a, b) = (turbo_full(&bytes).2, zune(&bytes).2);
        let mean = a
            .iter()
            .zip(&b)
            .map(|(x, y)| f64::from(x.abs_diff(*y)))
            .sum::<f64>()
            / a.len() as f64;
        let max = a
            .iter()
            .zip(&b)
            .map(|(x, y)| x.abs_diff(*y))
            .max()
            .unwrap_or(0);
        println!("  full decodes apart: mean |difference| {mean:.3}, largest {max} (of 255)");
    }
}
