//! Presets: named output lists in a TOML file, in the same spec syntax the Lambda reads from
//! `RENDITIONS`:
//!
//! ```toml
//! [presets]
//! web = "1600,800,200,webp,q75"
//! avatar = "256x256,cover,jpeg,q85;64x64,cover,png"
//! ```

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(serde::Deserialize)]
struct File {
    #[serde(default)]
    presets: BTreeMap<String, String>,
}

/// The presets file used when `--presets` is not given: `./imgtool.toml` when it exists.
pub fn default_path() -> Option<PathBuf> {
    let p = PathBuf::from("imgtool.toml");
    p.is_file().then_some(p)
}

/// The spec of preset `name` in `path`, checked.
pub fn load(path: &Path, name: &str) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the presets file {}", path.display()))?;
    let file: File = toml::from_str(&text)
        .with_context(|| format!("{} is not a valid presets file", path.display()))?;
    let Some(spec) = file.presets.get(name) else {
        let known: Vec<&str> = file.presets.keys().map(String::as_str).collect();
        bail!(
            "no preset `{name}` in {} (it has: {})",
            path.display(),
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        );
    };
    imgcore::OutputSpec::parse_list(spec)
        .with_context(|| format!("preset `{name}` in {}", path.display()))?;
    Ok(spec.clone())
}
