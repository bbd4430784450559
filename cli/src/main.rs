//! `imgtool`: thumbnails from the command line. Thin glue over `imgcore`.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use imgcore::{Fit, Gravity, OutputFormat, OutputSpec, Plan};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "imgtool", version, about = "Fast, safe thumbnails.", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make resized copies of images.
    #[command(after_help = "Examples:\n  \
        imgtool resize photo.jpg --out thumbs --width 1600,800,200\n  \
        imgtool resize *.png --out out --width 400 --height 400 --fit cover --format webp\n  \
        imgtool resize photo.jpg --out out --spec '800x600,cover,webp,q75,200,jpeg'")]
    Resize(ResizeArgs),
    /// Describe images from their headers, without decoding pixels.
    Info {
        /// Image files.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
}

#[derive(clap::Args)]
struct ResizeArgs {
    /// Image files.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output folder (created when missing).
    #[arg(short, long)]
    out: PathBuf,
    /// Widths, comma-separated (e.g. 1600,800,200).
    #[arg(short, long, value_delimiter = ',')]
    width: Vec<u32>,
    /// Height of the box (with one width) or of a height-only output.
    #[arg(long)]
    height: Option<u32>,
    /// How the image fits the box.
    #[arg(long, value_enum, default_value_t = FitArg::Inside)]
    fit: FitArg,
    /// Where to crop (cover) or place (exact).
    #[arg(long, value_enum, default_value_t = GravityArg::Center)]
    gravity: GravityArg,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = FormatArg::Same)]
    format: FormatArg,
    /// Quality, 1-100 (default: 80 for JPEG and WebP, 60 for AVIF).
    #[arg(short, long, value_parser = clap::value_parser!(u8).range(1..=100))]
    quality: Option<u8>,
    /// Outputs in the spec syntax instead of --width/--height/... (e.g. '800x600,cover,webp').
    #[arg(long, conflicts_with_all = ["width", "height"])]
    spec: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum FitArg {
    Inside,
    Cover,
    Fill,
    Exact,
}

impl From<FitArg> for Fit {
    fn from(f: FitArg) -> Fit {
        match f {
            FitArg::Inside => Fit::Inside,
            FitArg::Cover => Fit::Cover,
            FitArg::Fill => Fit::Fill,
            FitArg::Exact => Fit::Exact,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum GravityArg {
    Center,
    North,
    South,
    East,
    West,
    Northeast,
    Northwest,
    Southeast,
    Southwest,
}

impl From<GravityArg> for Gravity {
    fn from(g: GravityArg) -> Gravity {
        match g {
            GravityArg::Center => Gravity::Center,
            GravityArg::North => Gravity::North,
            GravityArg::South => Gravity::South,
            GravityArg::East => Gravity::East,
            GravityArg::West => Gravity::West,
            GravityArg::Northeast => Gravity::NorthEast,
            GravityArg::Northwest => Gravity::NorthWest,
            GravityArg::Southeast => Gravity::SouthEast,
            GravityArg::Southwest => Gravity::SouthWest,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Jpeg,
    Png,
    Webp,
    Avif,
    Same,
}

impl From<FormatArg> for OutputFormat {
    fn from(f: FormatArg) -> OutputFormat {
        match f {
            FormatArg::Jpeg => OutputFormat::Jpeg,
            FormatArg::Png => OutputFormat::Png,
            FormatArg::Webp => OutputFormat::WebP,
            FormatArg::Avif => OutputFormat::Avif,
            FormatArg::Same => OutputFormat::Same,
        }
    }
}

/// Exit codes.
const EXIT_SOME_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;

fn specs(a: &ResizeArgs) -> Result<Vec<OutputSpec>> {
    if let Some(s) = &a.spec {
        return Ok(OutputSpec::parse_list(s)?);
    }
    let base = OutputSpec {
        fit: a.fit.into(),
        gravity: a.gravity.into(),
        format: a.format.into(),
        quality: a.quality,
        ..Default::default()
    };
    let v: Vec<OutputSpec> = if a.width.is_empty() {
        vec![OutputSpec {
            height: a.height,
            ..base
        }]
    } else {
        a.width
            .iter()
            .map(|&w| OutputSpec {
                width: Some(w),
                height: a.height,
                ..base.clone()
            })
            .collect()
    };
    for s in &v {
        s.validate()?;
    }
    Ok(v)
}

/// `DIR/<stem>-<width>.<ext>`; `-<w>x<h>` when two outputs of one input would share a name,
/// and `-<w>x<h>-<n>` (the output's position) when even that is shared.
fn output_names(stem: &str, r: &imgcore::Rendered) -> Vec<String> {
    let names = |f: &dyn Fn(usize, &imgcore::Rendition) -> String| -> Vec<String> {
        r.renditions
            .iter()
            .enumerate()
            .map(|(i, x)| f(i, x))
            .collect()
    };
    let short = names(&|_, x| format!("{stem}-{}.{}", x.width, x.format.extension()));
    let long = names(&|_, x| format!("{stem}-{}x{}.{}", x.width, x.height, x.format.extension()));
    let indexed = names(&|i, x| {
        format!(
            "{stem}-{}x{}-{}.{}",
            x.width,
            x.height,
            i + 1,
            x.format.extension()
        )
    });
    let unique = |v: &[String], i: usize| v.iter().filter(|n| **n == v[i]).count() == 1;
    (0..r.renditions.len())
        .map(|i| {
            if unique(&short, i) {
                short[i].clone()
            } else if unique(&long, i) {
                long[i].clone()
            } else {
                indexed[i].clone()
            }
        })
        .collect()
}

/// The name outputs of `input` start with: its stem, or its whole file name when another
/// input of the same run has the same stem (`gray.jpg` and `gray.png`).
fn output_stem(input: &Path, all: &[PathBuf]) -> String {
    let stem = |p: &Path| {
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into())
    };
    let mine = stem(input);
    let shared = all.iter().filter(|p| stem(p) == mine).count() > 1;
    match (shared, input.file_name()) {
        (true, Some(name)) => name.to_string_lossy().into_owned(),
        _ => mine,
    }
}

fn resize_one(input: &Path, stem: &str, out: &Path, plan: &Plan) -> Result<Vec<PathBuf>> {
    let bytes = std::fs::read(input).with_context(|| format!("cannot read {}", input.display()))?;
    let done = imgcore::render(&bytes, plan).with_context(|| format!("{}", input.display()))?;
    let mut written = Vec::new();
    for (name, r) in output_names(stem, &done).into_iter().zip(&done.renditions) {
        let path = out.join(name);
        std::fs::write(&path, &r.bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

fn run_resize(a: ResizeArgs) -> Result<ExitCode> {
    let plan = Plan::new(specs(&a).map_err(Usage)?);
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let results: Vec<(PathBuf, Result<Vec<PathBuf>>)> = a
        .inputs
        .par_iter()
        .map(|i| {
            (
                i.clone(),
                resize_one(i, &output_stem(i, &a.inputs), &a.out, &plan),
            )
        })
        .collect();
    let mut failed = 0;
    for (input, r) in &results {
        match r {
            Ok(paths) => {
                for p in paths {
                    println!("{} -> {}", input.display(), p.display());
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {}", chain(e));
            }
        }
    }
    Ok(if failed > 0 {
        ExitCode::from(EXIT_SOME_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

fn run_info(inputs: &[PathBuf]) -> Result<ExitCode> {
    let mut failed = false;
    for input in inputs {
        let r = std::fs::read(input)
            .with_context(|| format!("cannot read {}", input.display()))
            .and_then(|b| imgcore::probe(&b).with_context(|| input.display().to_string()));
        match r {
            Ok(i) => println!(
                "{}: {} {}x{} orientation {} {}-bit{}{}{}",
                input.display(),
                i.format,
                i.width,
                i.height,
                i.orientation,
                i.bit_depth,
                if i.has_alpha { " alpha" } else { "" },
                i.icc_profile
                    .map(|p| format!(" icc \"{p}\""))
                    .unwrap_or_default(),
                if i.frames > 1 {
                    format!(" {} frames", i.frames)
                } else {
                    String::new()
                },
            ),
            Err(e) => {
                failed = true;
                eprintln!("error: {}", chain(&e));
            }
        }
    }
    Ok(if failed {
        ExitCode::from(EXIT_SOME_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// A usage or configuration error (exit code 2).
#[derive(Debug)]
struct Usage(anyhow::Error);
impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
impl std::error::Error for Usage {}

fn chain(e: &anyhow::Error) -> String {
    e.chain()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.command {
        Command::Resize(a) => run_resize(a),
        Command::Info { inputs } => run_info(&inputs),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", chain(&e));
            if e.downcast_ref::<Usage>().is_some() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::from(EXIT_SOME_FAILED)
            }
        }
    }
}
