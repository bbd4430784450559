//! The shrink-on-load experiment: for each photo, render 720 and 256 px PNGs with each
//! candidate margin and with a full decode (the reference), and record the CPU time of each
//! render. Scores are computed by `benches/shrink/score.py` (SSIMULACRA2 against the
//! reference); this program writes the images and a CSV of timings.
//!
//! `cargo run --release -p imgcore --example shrink_rule -- OUT_DIR PHOTO...`
//!
//! With `--workloads W1.jpg W2.jpg` instead of photos, it prints the median CPU time of the
//! benchmark workloads' plans (W1: 720 px JPEG q80; W2: 1600/800/200 px JPEG q80) under
//! each margin, in process, as a before/after of the rule.

use imgcore::{OutputFormat, OutputSpec, Plan};
use std::path::{Path, PathBuf};

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn median_cpu_ms(bytes: &[u8], plan: &Plan, rounds: usize) -> (f64, u8) {
    let _ = imgcore::render(bytes, plan).unwrap();
    let mut times = Vec::new();
    let mut shrink = 0;
    for _ in 0..rounds {
        let t0 = cpu_seconds();
        shrink = imgcore::render(bytes, plan).unwrap().decode_shrink;
        times.push(cpu_seconds() - t0);
    }
    times.sort_by(f64::total_cmp);
    (times[rounds / 2] * 1000.0, shrink)
}

fn workloads(w1: &Path, w2: &Path) {
    println!("| workload | margin | decode scale | CPU ms (median of 15) |\n|---|---|---|---|");
    for (name, path, spec) in [
        ("W1", w1, "720,jpeg,q80"),
        ("W2", w2, "1600,800,200,jpeg,q80"),
    ] {
        let bytes = std::fs::read(path).unwrap();
        for margin in [1.0, 1.5, 2.0] {
            let mut plan = Plan::parse(spec).unwrap();
            plan.thumbhash = false;
            plan.shrink_margin = margin;
            let (ms, shrink) = median_cpu_ms(&bytes, &plan, 15);
            println!("| {name} | {margin} | 1/{shrink} | {ms:.1} |");
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let first = args.next().expect("OUT_DIR or --workloads");
    if first == "--workloads" {
        let w1 = PathBuf::from(args.next().expect("W1.jpg"));
        let w2 = PathBuf::from(args.next().expect("W2.jpg"));
        return workloads(&w1, &w2);
    }
    let out = PathBuf::from(first);
    let photos: Vec<PathBuf> = args.map(PathBuf::from).collect();
    std::fs::create_dir_all(&out).unwrap();
    let margins: [(&str, Option<f64>); 5] = [
        ("full", None),
        ("m1.0", Some(1.0)),
        ("m1.25", Some(1.25)),
        ("m1.5", Some(1.5)),
        ("m2.0", Some(2.0)),
    ];
    let mut csv = String::from("photo,width,rule,decode_shrink,cpu_ms\n");
    for photo in &photos {
        let bytes = std::fs::read(photo).unwrap();
        let stem = Path::new(photo)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .to_string();
        for width in [720u32, 256] {
            for (name, margin) in margins {
                let spec = OutputSpec {
                    width: Some(width),
                    height: Some(width),
                    format: OutputFormat::Png,
                    ..Default::default()
                };
                let mut plan = Plan::new(vec![spec]);
                plan.thumbhash = false;
                match margin {
                    Some(m) => plan.shrink_margin = m,
                    None => plan.shrink_on_load = false,
                }
                // Median of 5 timed renders, after one warm-up.
                let _ = imgcore::render(&bytes, &plan).unwrap();
                let mut times = Vec::new();
                let mut last = None;
                for _ in 0..5 {
                    let t0 = cpu_seconds();
                    let r = imgcore::render(&bytes, &plan).unwrap();
                    times.push(cpu_seconds() - t0);
                    last = Some(r);
                }
                times.sort_by(f64::total_cmp);
                let r = last.unwrap();
                let file = out.join(format!("{stem}.{width}.{name}.png"));
                std::fs::write(&file, &r.renditions[0].bytes).unwrap();
                csv.push_str(&format!(
                    "{stem},{width},{name},{},{:.1}\n",
                    r.decode_shrink,
                    times[2] * 1000.0
                ));
            }
        }
        eprintln!("{stem} done");
    }
    std::fs::write(out.join("timings.csv"), csv).unwrap();
}
