//! The `--json` report: one document for the whole run. Per input it carries the fields of
//! the Lambda's metadata record (status, source facts, thumbhash, colour, renditions, error).

use serde::Serialize;

/// One output file.
#[derive(Debug, Serialize)]
pub struct OutputFile {
    /// Where it was written (`-` for standard output).
    pub path: String,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Format name.
    pub format: &'static str,
    /// Size in bytes.
    pub bytes: u64,
    /// The spec asked for more than the format can hold (WebP: 16,383 px a side), so the
    /// output was fitted within the format's limit.
    pub fitted_to_format: bool,
}

/// What happened to one input.
#[derive(Debug, Serialize)]
pub struct InputReport {
    /// The input as given.
    pub input: String,
    /// `done`, `failed` or `skipped` (outputs newer than the input).
    pub status: &'static str,
    /// Source format.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<&'static str>,
    /// Displayed width.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Displayed height.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// EXIF orientation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orientation: Option<u8>,
    /// Alpha channel present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_alpha: Option<bool>,
    /// ICC profile description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icc_profile: Option<String>,
    /// Source size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Thumbhash (base64).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbhash: Option<String>,
    /// Average colour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// Outputs written (or found up to date).
    pub renditions: Vec<OutputFile>,
    /// For `failed`: the error kind (`corrupt`, `unsupported`, `io`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<String>,
    /// For `failed`: the message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl InputReport {
    /// A report with only the input and status set.
    pub fn new(input: String, status: &'static str) -> Self {
        InputReport {
            input,
            status,
            format: None,
            width: None,
            height: None,
            orientation: None,
            has_alpha: None,
            icc_profile: None,
            size: None,
            thumbhash: None,
            color: None,
            renditions: Vec::new(),
            error_kind: None,
            error: None,
        }
    }

    /// Fill the source facts from a probe.
    pub fn with_source(mut self, i: &imgcore::ImageInfo) -> Self {
        self.format = Some(i.format.name());
        self.width = Some(i.width);
        self.height = Some(i.height);
        self.orientation = Some(i.orientation);
        self.has_alpha = Some(i.has_alpha);
        self.icc_profile = i.icc_profile.clone();
        self.size = Some(i.bytes);
        self
    }
}

/// Totals of a run.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Inputs rendered.
    pub succeeded: usize,
    /// Inputs that failed.
    pub failed: usize,
    /// Inputs whose outputs were already up to date.
    pub skipped: usize,
    /// Wall time of the run in seconds.
    pub seconds: f64,
    /// Peak resident memory of this run in bytes (the process's high-water mark, `VmHWM`;
    /// Linux only, `null` elsewhere): what a machine or a Lambda function must give it.
    pub peak_rss_bytes: Option<u64>,
}

/// This process's peak resident set size, from `/proc/self/status` (`VmHWM`). Unlike
/// `getrusage`'s `ru_maxrss`, it starts afresh at `exec`, so it is this program's own.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kb.checked_mul(1024)
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// imgtool version.
    pub version: &'static str,
    /// Per input, in input order.
    pub inputs: Vec<InputReport>,
    /// Totals.
    pub summary: Summary,
}
