//! Criterion benches for imgcore: decode (full vs DCT-scaled), resize per filter, encode per
//! format, and whole renders for W1 and W2. Inputs come from `../shared/corpus` when it is
//! there, else they are generated (same sizes, synthetic content).
//!
//! Run: `cargo bench -p imgtool-benches` (add `-- W1` to filter).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fast_image_resize as fr;
use image::DynamicImage;
use std::hint::black_box;
use std::path::Path;

fn corpus(name: &str) -> Option<Vec<u8>> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus")
        .join(name);
    std::fs::read(p).ok()
}

fn synthetic_jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let r = ((fx * 90.0).sin() * (fy * 70.0).cos() * 40.0) as i32;
        let c = |v: f32| (v as i32 + r + ((x * 7 + y * 13) % 11) as i32).clamp(0, 255) as u8;
        image::Rgb([
            c(30.0 + 200.0 * fx),
            c(50.0 + 160.0 * fy),
            c(210.0 - 160.0 * fx * fy),
        ])
    });
    let mut c = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
    c.set_fastest_defaults();
    c.set_size(w as usize, h as usize);
    c.set_quality(90.0);
    let mut s = c.start_compress(Vec::new()).expect("jpeg");
    s.write_scanlines(img.as_raw()).expect("jpeg");
    s.finish().expect("jpeg")
}

/// W1: sharp's benchmark photo (2725x2225). W2: a 4000x3000 photo.
fn inputs() -> [(&'static str, Vec<u8>); 2] {
    [
        (
            "W1",
            corpus("2569067123_aca715a2ee_o.jpg").unwrap_or_else(|| synthetic_jpeg(2725, 2225)),
        ),
        (
            "W2",
            corpus("synthetic-4000x3000-q90.jpg").unwrap_or_else(|| synthetic_jpeg(4000, 3000)),
        ),
    ]
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    g.sample_size(20);
    let (_, w1) = &inputs()[0];
    for num in [8u8, 4, 2, 1] {
        g.bench_with_input(
            BenchmarkId::new("mozjpeg_scale", format!("{num}/8")),
            &num,
            |b, &num| {
                b.iter(|| {
                    let mut d = mozjpeg::Decompress::new_mem(w1).expect("header");
                    d.scale(num);
                    let mut s = d.rgb().expect("start");
                    let px: Vec<u8> = s.read_scanlines().expect("pixels");
                    s.finish().expect("finish");
                    black_box(px)
                })
            },
        );
    }
    g.finish();
}

fn resize(c: &mut Criterion) {
    let mut g = c.benchmark_group("resize_4000x3000_to_800");
    g.sample_size(20);
    let src = DynamicImage::ImageRgb8(image::RgbImage::from_fn(4000, 3000, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 239) as u8])
    }));
    g.throughput(Throughput::Elements(4000 * 3000));
    let filters = [
        ("lanczos3", fr::FilterType::Lanczos3),
        ("catmullrom", fr::FilterType::CatmullRom),
        ("mitchell", fr::FilterType::Mitchell),
        ("bilinear", fr::FilterType::Bilinear),
        ("box", fr::FilterType::Box),
    ];
    let mut dst = DynamicImage::new_rgb8(800, 600);
    let mut resizer = fr::Resizer::new();
    for (name, f) in filters {
        let opts = fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(f));
        g.bench_function(name, |b| {
            b.iter(|| resizer.resize(&src, &mut dst, &opts).expect("resize"))
        });
    }
    g.finish();
}

/// Re-encode an 800 px PNG at its own size in each format: PNG decode plus the encoder.
fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("png800_reencode");
    g.sample_size(10);
    let (_, w1) = &inputs()[0];
    let plan = imgcore::Plan::parse("800,png").expect("plan");
    let png = imgcore::render(w1, &plan)
        .expect("render")
        .renditions
        .remove(0)
        .bytes;
    for spec in [
        "orig,jpeg,q80",
        "orig,png",
        "orig,webp,q80",
        "orig,avif,q60,speed8",
    ] {
        let plan = imgcore::Plan::parse(spec).expect("plan");
        g.bench_function(spec, |b| {
            b.iter(|| imgcore::render(black_box(&png), &plan).expect("render"))
        });
    }
    g.finish();
}

fn render(c: &mut Criterion) {
    let mut g = c.benchmark_group("render");
    g.sample_size(10);
    let [(_, w1), (_, w2)] = inputs();
    let p1 = imgcore::Plan::parse("720,jpeg,q80").expect("plan");
    g.bench_function("W1_720_jpeg", |b| {
        b.iter(|| imgcore::render(black_box(&w1), &p1).expect("render"))
    });
    let p2 = imgcore::Plan::parse("1600,800,200,jpeg,q80").expect("plan");
    g.bench_function("W2_1600_800_200_jpeg", |b| {
        b.iter(|| imgcore::render(black_box(&w2), &p2).expect("render"))
    });
    let mut p2_full = p2.clone();
    p2_full.shrink_on_load = false;
    g.bench_function("W2_no_shrink_on_load", |b| {
        b.iter(|| imgcore::render(black_box(&w2), &p2_full).expect("render"))
    });
    g.finish();
}

criterion_group!(benches, decode, resize, encode, render);
criterion_main!(benches);
