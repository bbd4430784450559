//! `imgtool`: thumbnails from the command line. Thin glue over `imgcore`.

mod inputs;
mod naming;
mod presets;
mod report;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use imgcore::{Filter, Fit, Gravity, ImageInfo, OutputFormat, OutputSpec, Plan};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use inputs::{Input, Source};
use rayon::prelude::*;
use report::{InputReport, OutputFile, Report, Summary};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Parser)]
#[command(name = "imgtool", version, about = "Fast, safe thumbnails.", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make resized copies of images (files, folders, or - for standard input).
    #[command(after_help = "Examples:\n  \
        imgtool resize photo.jpg --out thumbs --width 1600,800,200\n  \
        imgtool resize photos/ --out thumbs --width 400 --format webp --format jpeg\n  \
        imgtool resize photos/ --out thumbs --include '*.jpg' --exclude 'raw/**' --size 200x200 --fit cover\n  \
        imgtool resize photo.jpg --out thumbs --spec '800x600,cover,webp,q75;200,jpeg'\n  \
        imgtool resize photos/ --out thumbs --preset web            (presets from ./imgtool.toml)\n  \
        cat photo.jpg | imgtool resize - --out - --width 320 --format webp > small.webp\n\n\
        Exit codes: 0 all inputs done, 1 some inputs failed, 2 usage or configuration error.")]
    Resize(Box<ResizeArgs>),
    /// Describe images from their headers, without decoding pixels.
    Info {
        /// Image files.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Print one JSON array instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
struct ResizeArgs {
    /// Image files, folders (searched recursively) or - for standard input.
    #[arg(required = true)]
    inputs: Vec<String>,
    /// Output folder (created when missing; folders of inputs are mirrored under it), or -
    /// for standard output when there is one input and one output.
    #[arg(short, long)]
    out: PathBuf,
    /// Widths, comma-separated (e.g. 1600,800,200).
    #[arg(short, long, value_delimiter = ',')]
    width: Vec<u32>,
    /// Height: the box height with --width, or a height-only output.
    #[arg(long)]
    height: Option<u32>,
    /// Boxes WxH, comma-separated (e.g. 200x200,400x300).
    #[arg(long, value_delimiter = ',')]
    size: Vec<String>,
    /// How the image fits the box.
    #[arg(long, value_enum, default_value_t = FitArg::Inside)]
    fit: FitArg,
    /// Where to crop (cover) or place (exact).
    #[arg(long, value_enum, default_value_t = GravityArg::Center)]
    gravity: GravityArg,
    /// Output format; give several for several outputs per size.
    #[arg(short, long, value_enum)]
    format: Vec<FormatArg>,
    /// Quality, 1-100 (default: 80 for JPEG and WebP, 60 for AVIF).
    #[arg(short, long, value_parser = clap::value_parser!(u8).range(1..=100))]
    quality: Option<u8>,
    /// Resampling filter.
    #[arg(long, value_enum, default_value_t = FilterArg::Lanczos3)]
    filter: FilterArg,
    /// Keep the ICC profile (unconverted) and, for JPEG, EXIF (orientation reset).
    #[arg(long)]
    keep_metadata: bool,
    /// Keep animations: an animated GIF or WebP becomes an animated WebP (every frame,
    /// delays and loop count kept). Output format webp (or the default, same).
    #[arg(long)]
    anim: bool,
    /// Outputs in the spec syntax (as the Lambda's RENDITIONS), e.g. '800x600,cover,webp;200,jpeg'.
    #[arg(long, conflicts_with_all = ["width", "height", "size", "preset"])]
    spec: Option<String>,
    /// A named spec from the presets file.
    #[arg(long, conflicts_with_all = ["width", "height", "size"])]
    preset: Option<String>,
    /// Presets file (TOML, a [presets] table of name = "spec"). Default: ./imgtool.toml.
    #[arg(long)]
    presets: Option<PathBuf>,
    /// Output file name template: {stem} {srcext} {w} {h} {ext} {format} {index}.
    #[arg(long, default_value = "{stem}-{w}.{ext}")]
    name: String,
    /// Only files whose path inside a given folder matches (glob; repeatable).
    #[arg(long)]
    include: Vec<String>,
    /// Skip files whose path inside a given folder matches (glob; repeatable).
    #[arg(long)]
    exclude: Vec<String>,
    /// Images processed at once. Default: all cores.
    #[arg(short, long)]
    jobs: Option<usize>,
    /// Re-make outputs even when they are newer than their input.
    #[arg(long)]
    force: bool,
    /// Print one JSON report on standard output.
    #[arg(long)]
    json: bool,
    /// No progress bar and no summary line.
    #[arg(long)]
    quiet: bool,
    /// Largest source accepted, in pixels (width x height). Default: 300000000.
    #[arg(long)]
    max_pixels: Option<u64>,
    /// Largest pixel memory one image may use (decoded image, decoder buffers, outputs),
    /// e.g. 256M or 1G. Larger images fail with limit_exceeded before decoding. Default: 1G.
    #[arg(long, value_parser = parse_size)]
    max_memory: Option<u64>,
}

fn parse_size(s: &str) -> std::result::Result<u64, String> {
    imgcore::parse_byte_size(s)
        .ok_or_else(|| format!("`{s}` is not a size (e.g. 256M, 1G, 1048576)"))
}

macro_rules! value_enum {
    ($name:ident => $target:ty { $($variant:ident => $value:expr),+ $(,)? }) => {
        #[derive(Clone, Copy, ValueEnum)]
        enum $name { $($variant),+ }
        impl From<$name> for $target {
            fn from(v: $name) -> $target {
                match v { $($name::$variant => $value),+ }
            }
        }
    };
}

value_enum!(FitArg => Fit { Inside => Fit::Inside, Cover => Fit::Cover, Fill => Fit::Fill, Exact => Fit::Exact });
value_enum!(GravityArg => Gravity {
    Center => Gravity::Center, North => Gravity::North, South => Gravity::South, East => Gravity::East,
    West => Gravity::West, Northeast => Gravity::NorthEast, Northwest => Gravity::NorthWest,
    Southeast => Gravity::SouthEast, Southwest => Gravity::SouthWest,
});
value_enum!(FormatArg => OutputFormat {
    Jpeg => OutputFormat::Jpeg, Png => OutputFormat::Png, Webp => OutputFormat::WebP,
    Avif => OutputFormat::Avif, Same => OutputFormat::Same,
});
value_enum!(FilterArg => Filter {
    Lanczos3 => Filter::Lanczos3, Catmullrom => Filter::CatmullRom, Mitchell => Filter::Mitchell,
    Bilinear => Filter::Bilinear, Hamming => Filter::Hamming, Box => Filter::Box, Nearest => Filter::Nearest,
});

const EXIT_SOME_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;

/// A usage or configuration error (exit code 2).
#[derive(Debug)]
struct Usage(anyhow::Error);
impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}
impl std::error::Error for Usage {}

fn usage<T>(r: Result<T>) -> Result<T> {
    r.map_err(|e| Usage(e).into())
}

fn parse_box(s: &str) -> Result<(u32, u32)> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .with_context(|| format!("--size `{s}` is not WxH"))?;
    Ok((
        w.trim().parse().with_context(|| format!("--size `{s}`"))?,
        h.trim().parse().with_context(|| format!("--size `{s}`"))?,
    ))
}

fn specs(a: &ResizeArgs) -> Result<Vec<OutputSpec>> {
    if let Some(s) = &a.spec {
        return Ok(OutputSpec::parse_list(s)?);
    }
    if let Some(name) = &a.preset {
        let path = a
            .presets
            .clone()
            .or_else(presets::default_path)
            .context("--preset needs a presets file: ./imgtool.toml or --presets FILE")?;
        return Ok(OutputSpec::parse_list(&presets::load(&path, name)?)?);
    }
    let formats: Vec<OutputFormat> = if a.format.is_empty() {
        vec![OutputFormat::Same]
    } else {
        a.format.iter().map(|&f| f.into()).collect()
    };
    let mut boxes: Vec<(Option<u32>, Option<u32>)> =
        a.width.iter().map(|&w| (Some(w), a.height)).collect();
    for s in &a.size {
        let (w, h) = parse_box(s)?;
        boxes.push((Some(w), Some(h)));
    }
    if boxes.is_empty() {
        boxes.push((None, a.height));
    }
    let mut v = Vec::new();
    for (width, height) in boxes {
        for &format in &formats {
            let s = OutputSpec {
                width,
                height,
                fit: a.fit.into(),
                gravity: a.gravity.into(),
                format,
                quality: a.quality,
                filter: a.filter.into(),
                keep_metadata: a.keep_metadata,
                // Only WebP (or `same`) outputs animate; the others take the first frame.
                anim: a.anim && matches!(format, OutputFormat::WebP | OutputFormat::Same),
                ..Default::default()
            };
            s.validate()?;
            v.push(s);
        }
    }
    Ok(v)
}

fn read_input(input: &Input) -> Result<Vec<u8>> {
    match &input.source {
        Source::File(p) => std::fs::read(p).with_context(|| format!("cannot read {}", p.display())),
        Source::Stdin => {
            let mut b = Vec::new();
            std::io::stdin()
                .read_to_end(&mut b)
                .context("cannot read standard input")?;
            Ok(b)
        }
    }
}

fn mtime(p: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// Write `bytes` to `path` atomically: a temporary file in the same folder, then a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // Created with mode 0666 less the umask (0644 under the usual 022), as any file the
    // user writes; the rename keeps it.
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::Permissions::from_mode(0o666)
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".imgtool-").suffix(".part");
    #[cfg(unix)]
    builder.permissions(mode);
    let mut tmp = builder
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

struct Job<'a> {
    plan: &'a Plan,
    out: &'a Path,
    template: &'a str,
    force: bool,
    to_stdout: bool,
}

/// The names of every output of `input`, from the header (no decoding), in spec order.
fn planned_paths(
    job: &Job,
    input: &Input,
    stem: &str,
    info: &ImageInfo,
) -> Result<Vec<(PathBuf, u32, u32, imgcore::ImageFormat)>> {
    job.plan
        .outputs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (w, h) = imgcore::output_size(info, s);
            let fmt = s.format.resolve(info.format);
            let name = naming::render(
                job.template,
                &naming::Fields {
                    stem,
                    src_ext: &input.src_ext,
                    w,
                    h,
                    ext: fmt.extension(),
                    format: fmt.name(),
                    index: i + 1,
                },
            );
            Ok((
                naming::output_path(job.out, &input.rel_dir, &name)?,
                w,
                h,
                fmt,
            ))
        })
        .collect()
}

fn process(job: &Job, input: &Input, stem: &str) -> InputReport {
    let display = input.display();
    // Test builds only: a way to make one file of a batch panic, to check the batch goes on.
    #[cfg(debug_assertions)]
    if std::env::var_os("IMGTOOL_TEST_PANIC_ON")
        .is_some_and(|n| display.ends_with(&*n.to_string_lossy()))
    {
        panic!("test panic requested for {display}");
    }
    let fail = |kind: &str, e: anyhow::Error, base: InputReport| InputReport {
        status: "failed",
        error_kind: Some(kind.to_string()),
        error: Some(format!("{e:#}")),
        ..base
    };
    let bytes = match read_input(input) {
        Ok(b) => b,
        Err(e) => return fail("io", e, InputReport::new(display, "failed")),
    };
    let info = match imgcore::probe_with_limits(&bytes, &job.plan.limits) {
        Ok(i) => i,
        Err(e) => {
            return fail(
                e.kind().as_str(),
                e.into(),
                InputReport::new(display, "failed"),
            )
        }
    };
    let base = InputReport::new(display.clone(), "done").with_source(&info);
    let planned = match planned_paths(job, input, stem, &info) {
        Ok(p) => p,
        Err(e) => return fail("name", e, base),
    };
    // Outputs that share a name must be the same image (a source smaller than two requested
    // widths gives two identical outputs): that one is written once.
    for (i, a) in planned.iter().enumerate() {
        if let Some(b) = planned[..i].iter().find(|b| b.0 == a.0) {
            if (b.1, b.2, b.3) != (a.1, a.2, a.3) && !job.to_stdout {
                return fail("name", anyhow::anyhow!("two different outputs would both be named {}: use {{w}}x{{h}}, {{format}} or {{index}} in --name", a.0.display()), base);
            }
        }
    }
    // Up to date: every output exists and is newer than the input.
    if !job.force && !job.to_stdout {
        if let Source::File(src) = &input.source {
            let src_time = mtime(src);
            if planned
                .iter()
                .all(|(p, ..)| matches!((mtime(p), src_time), (Some(o), Some(s)) if o >= s))
            {
                let renditions = planned
                    .iter()
                    .map(|(p, w, h, f)| OutputFile {
                        path: p.display().to_string(),
                        width: *w,
                        height: *h,
                        format: f.name(),
                        bytes: std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
                        fitted_to_format: false,
                    })
                    .collect();
                return InputReport {
                    status: "skipped",
                    renditions,
                    ..base
                };
            }
        }
    }
    let done = match imgcore::render(&bytes, job.plan) {
        Ok(d) => d,
        Err(e) => return fail(e.kind().as_str(), e.into(), base),
    };
    let mut renditions = Vec::new();
    for (i, ((path, ..), r)) in planned.iter().zip(&done.renditions).enumerate() {
        let written_before = planned[..i].iter().any(|p| &p.0 == path);
        let shown = if written_before && !job.to_stdout {
            path.display().to_string()
        } else if job.to_stdout {
            let mut out = std::io::stdout().lock();
            if let Err(e) = out.write_all(&r.bytes).and_then(|_| out.flush()) {
                return fail(
                    "io",
                    anyhow::Error::new(e).context("cannot write to standard output"),
                    base,
                );
            }
            "-".to_string()
        } else {
            if let Err(e) = write_atomic(path, &r.bytes) {
                return fail("io", e, base);
            }
            path.display().to_string()
        };
        renditions.push(OutputFile {
            path: shown,
            width: r.width,
            height: r.height,
            format: r.format.name(),
            bytes: r.size as u64,
            fitted_to_format: r.fitted_to_format,
        });
    }
    InputReport {
        renditions,
        thumbhash: done.thumbhash,
        color: done.average_color,
        ..base
    }
}

/// [`process`], with a panic (a bug: the engine returns typed errors) turned into that
/// input's failure, so the rest of the batch goes on.
fn process_guarded(job: &Job, input: &Input, stem: &str) -> InputReport {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| process(job, input, stem)))
        .unwrap_or_else(|payload| {
            let what = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            InputReport {
                status: "failed",
                error_kind: Some("internal".to_string()),
                error: Some(format!("internal error while processing this file: {what}")),
                ..InputReport::new(input.display(), "failed")
            }
        })
}

/// Stems, made unique within the run: when two inputs of one output folder share a stem
/// (`gray.jpg` and `gray.png`), their whole file names are used.
fn stems(inputs: &[Input]) -> Vec<String> {
    inputs
        .iter()
        .map(|i| {
            let clash = inputs
                .iter()
                .filter(|o| o.rel_dir == i.rel_dir && o.stem == i.stem)
                .count()
                > 1;
            if clash && !i.src_ext.is_empty() {
                format!("{}.{}", i.stem, i.src_ext)
            } else {
                i.stem.clone()
            }
        })
        .collect()
}

fn run_resize(a: ResizeArgs) -> Result<ExitCode> {
    let started = Instant::now();
    usage(naming::validate(&a.name))?;
    let mut plan = Plan::new(usage(specs(&a))?);
    if let Some(p) = a.max_pixels {
        plan.limits.max_pixels = p;
    }
    if let Some(m) = a.max_memory {
        plan.limits.max_decoded_bytes = m;
    }
    // The placeholder hash is only reported in --json; without it, no one reads it.
    plan.thumbhash = a.json;
    let inputs = usage(inputs::expand(&a.inputs, &a.include, &a.exclude))?;
    let to_stdout = a.out == Path::new("-");
    if to_stdout && (inputs.len() != 1 || plan.outputs.len() != 1) {
        return usage(Err(anyhow::anyhow!(
            "--out - writes one image to standard output: give one input and one output size"
        )));
    }
    if to_stdout && a.json {
        return usage(Err(anyhow::anyhow!(
            "--json and --out - both use standard output"
        )));
    }
    if inputs.is_empty() {
        return usage(Err(anyhow::anyhow!(
            "no images found in {}",
            a.inputs.join(", ")
        )));
    }
    if !to_stdout {
        std::fs::create_dir_all(&a.out)
            .with_context(|| format!("cannot create {}", a.out.display()))?;
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.jobs.unwrap_or(0))
        .build()
        .context("cannot start worker threads")?;
    let bar = if a.quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let b =
            ProgressBar::with_draw_target(Some(inputs.len() as u64), ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template(
                "{bar:30} {pos}/{len} files  {per_sec}  ETA {eta}  {wide_msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    };
    let job = Job {
        plan: &plan,
        out: &a.out,
        template: &a.name,
        force: a.force,
        to_stdout,
    };
    let names = stems(&inputs);
    let reports: Vec<InputReport> = pool.install(|| {
        inputs
            .par_iter()
            .zip(names.par_iter())
            .map(|(input, stem)| {
                let r = process_guarded(&job, input, stem);
                if r.status == "failed" {
                    bar.suspend(|| {
                        eprintln!(
                            "error: {}: {}",
                            r.input,
                            r.error.as_deref().unwrap_or("failed")
                        )
                    });
                }
                bar.inc(1);
                r
            })
            .collect()
    });
    bar.finish_and_clear();
    let count = |s: &str| reports.iter().filter(|r| r.status == s).count();
    let summary = Summary {
        succeeded: count("done"),
        failed: count("failed"),
        skipped: count("skipped"),
        seconds: started.elapsed().as_secs_f64(),
        peak_rss_bytes: report::peak_rss_bytes(),
    };
    let failed = summary.failed;
    if !a.quiet {
        eprintln!(
            "{} succeeded, {} failed, {} skipped in {:.2} s",
            summary.succeeded, summary.failed, summary.skipped, summary.seconds
        );
    }
    if a.json {
        let report = Report {
            version: env!("CARGO_PKG_VERSION"),
            inputs: reports,
            summary,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if !to_stdout && !a.quiet && std::io::stdout().is_terminal() {
        for r in reports.iter().filter(|r| r.status == "done") {
            for o in &r.renditions {
                println!("{} -> {}", r.input, o.path);
            }
        }
    }
    Ok(if failed > 0 {
        ExitCode::from(EXIT_SOME_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

fn run_info(inputs: &[PathBuf], json: bool) -> Result<ExitCode> {
    let mut failed = false;
    let mut out = Vec::new();
    for input in inputs {
        let r = std::fs::read(input)
            .with_context(|| format!("cannot read {}", input.display()))
            .and_then(|b| imgcore::probe(&b).map_err(anyhow::Error::from));
        match r {
            Ok(i) if json => {
                out.push(serde_json::json!({"path": input.display().to_string(), "info": i}))
            }
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
                if json {
                    out.push(serde_json::json!({"path": input.display().to_string(), "error": format!("{e:#}")}));
                }
                eprintln!("error: {}: {e:#}", input.display());
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(if failed {
        ExitCode::from(EXIT_SOME_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

fn main() -> ExitCode {
    imgcore::tune_allocator();
    let cli = Cli::parse();
    let r = match cli.command {
        Command::Resize(a) => run_resize(*a),
        Command::Info { inputs, json } => run_info(&inputs, json),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<Usage>().is_some() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::from(EXIT_SOME_FAILED)
            }
        }
    }
}
