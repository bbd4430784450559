//! Turning command-line inputs (files, folders, `-`) into a list of images to process.

use anyhow::{bail, Context, Result};
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::path::{Path, PathBuf};

/// Where an input's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file.
    File(PathBuf),
    /// Standard input.
    Stdin,
}

/// One image to process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// Where to read it.
    pub source: Source,
    /// Its folder relative to the folder it was found in (empty for files named directly),
    /// mirrored under the output folder.
    pub rel_dir: PathBuf,
    /// File stem used in output names.
    pub stem: String,
    /// Original extension (without the dot), for `{srcext}`.
    pub src_ext: String,
}

impl Input {
    /// How the input is named in messages and reports.
    pub fn display(&self) -> String {
        match &self.source {
            Source::File(p) => p.display().to_string(),
            Source::Stdin => "-".into(),
        }
    }
}

/// Extensions picked up from folders when no `--include` is given (case-insensitive).
const IMAGE_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "jpe", "jfif", "png", "webp", "gif", "tif", "tiff", "bmp", "avif", "avifs",
    "heic", "heif", "hif", "jxl",
];

fn globset(patterns: &[String]) -> Result<Option<GlobSet>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(Glob::new(p).with_context(|| format!("invalid glob `{p}`"))?);
        // `*.jpg` should also match inside sub-folders.
        if !p.contains('/') {
            b.add(Glob::new(&format!("**/{p}")).with_context(|| format!("invalid glob `{p}`"))?);
        }
    }
    Ok(Some(b.build()?))
}

fn stem_and_ext(p: &Path) -> (String, String) {
    let stem = p
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    let ext = p
        .extension()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    (stem, ext)
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_string_lossy().starts_with('.')
}

/// Expand `args` into inputs: files as given, folders recursively (hidden entries skipped,
/// `include`/`exclude` globs matched against the path inside the folder), `-` for stdin.
pub fn expand(args: &[String], include: &[String], exclude: &[String]) -> Result<Vec<Input>> {
    let inc = globset(include)?;
    let exc = globset(exclude)?;
    let mut out = Vec::new();
    let mut stdin_seen = false;
    for a in args {
        if a == "-" {
            if stdin_seen {
                bail!("`-` (standard input) is given twice");
            }
            stdin_seen = true;
            out.push(Input {
                source: Source::Stdin,
                rel_dir: PathBuf::new(),
                stem: "stdin".into(),
                src_ext: String::new(),
            });
            continue;
        }
        let path = PathBuf::from(a);
        let meta = std::fs::metadata(&path).with_context(|| format!("cannot read {a}"))?;
        if meta.is_file() {
            let (stem, src_ext) = stem_and_ext(&path);
            out.push(Input {
                source: Source::File(path),
                rel_dir: PathBuf::new(),
                stem,
                src_ext,
            });
            continue;
        }
        let walker = walkdir::WalkDir::new(&path)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !is_hidden(e.file_name()));
        for entry in walker {
            let entry = entry.with_context(|| format!("cannot read the folder {a}"))?;
            if !entry.file_type().is_file() {
                continue;
            }
            let rel = entry
                .path()
                .strip_prefix(&path)
                .unwrap_or(entry.path())
                .to_path_buf();
            let wanted = match &inc {
                Some(g) => g.is_match(&rel),
                None => rel
                    .extension()
                    .map(|e| e.to_string_lossy().to_ascii_lowercase())
                    .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str())),
            };
            if !wanted || exc.as_ref().is_some_and(|g| g.is_match(&rel)) {
                continue;
            }
            let (stem, src_ext) = stem_and_ext(&rel);
            out.push(Input {
                source: Source::File(entry.path().to_path_buf()),
                rel_dir: rel.parent().map(Path::to_path_buf).unwrap_or_default(),
                stem,
                src_ext,
            });
        }
    }
    Ok(out)
}
