//! Output names from a template such as `{stem}-{w}x{h}.{ext}`.

use anyhow::{bail, Result};
use std::path::{Component, Path, PathBuf};

/// Values a template can use.
pub struct Fields<'a> {
    /// Input file stem.
    pub stem: &'a str,
    /// Input extension.
    pub src_ext: &'a str,
    /// Output width.
    pub w: u32,
    /// Output height.
    pub h: u32,
    /// Output extension (`jpg`, `png`, `webp`, `avif`).
    pub ext: &'a str,
    /// Output format name (`jpeg`, …).
    pub format: &'a str,
    /// The output's position in the spec list, from 1.
    pub index: usize,
}

/// The placeholders a template may use.
pub const PLACEHOLDERS: &[&str] = &["stem", "srcext", "w", "h", "ext", "format", "index"];

/// Check a template before any work starts.
pub fn validate(template: &str) -> Result<()> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            bail!("--name `{template}`: `{{` without `}}`");
        };
        let key = &rest[open + 1..open + close];
        if !PLACEHOLDERS.contains(&key) {
            bail!(
                "--name `{template}`: unknown placeholder {{{key}}} (use {})",
                PLACEHOLDERS
                    .iter()
                    .map(|p| format!("{{{p}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        rest = &rest[open + close + 1..];
    }
    if !template.contains("{w}") && !template.contains("{index}") && !template.contains("{h}") {
        bail!("--name `{template}` needs {{w}}, {{h}} or {{index}}, or outputs of one input would overwrite each other");
    }
    Ok(())
}

/// Render the template. Path separators coming from values are replaced, so a name never
/// leaves its folder.
pub fn render(template: &str, f: &Fields) -> String {
    let clean = |s: &str| s.replace(['/', '\\'], "_");
    template
        .replace("{stem}", &clean(f.stem))
        .replace("{srcext}", &clean(f.src_ext))
        .replace("{w}", &f.w.to_string())
        .replace("{h}", &f.h.to_string())
        .replace("{ext}", f.ext)
        .replace("{format}", f.format)
        .replace("{index}", &f.index.to_string())
}

/// `out/rel_dir/name`, refusing anything that would land outside `out`.
pub fn output_path(out: &Path, rel_dir: &Path, name: &str) -> Result<PathBuf> {
    let rel = rel_dir.join(name);
    for c in rel.components() {
        match c {
            Component::Normal(_) => {}
            Component::CurDir => {}
            _ => bail!(
                "output name `{}` would leave the output folder",
                rel.display()
            ),
        }
    }
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        bail!("output name `{name}` is not a file name");
    }
    Ok(out.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f<'a>(stem: &'a str) -> Fields<'a> {
        Fields {
            stem,
            src_ext: "jpg",
            w: 800,
            h: 600,
            ext: "webp",
            format: "webp",
            index: 2,
        }
    }

    #[test]
    fn renders_placeholders() {
        assert_eq!(
            render("{stem}-{w}x{h}.{ext}", &f("cat")),
            "cat-800x600.webp"
        );
        assert_eq!(
            render("{index}_{format}_{srcext}.{ext}", &f("cat")),
            "2_webp_jpg.webp"
        );
    }

    #[test]
    fn values_cannot_add_folders() {
        assert_eq!(
            render("{stem}-{w}.{ext}", &f("../../etc/passwd")),
            ".._.._etc_passwd-800.webp"
        );
        let p = output_path(
            Path::new("out"),
            Path::new(""),
            &render("{stem}-{w}.{ext}", &f("../x")),
        )
        .unwrap();
        assert_eq!(p, Path::new("out/.._x-800.webp"));
        assert!(output_path(Path::new("out"), Path::new(".."), "a.jpg").is_err());
        assert!(output_path(Path::new("out"), Path::new(""), "..").is_err());
    }

    #[test]
    fn validates_templates() {
        assert!(validate("{stem}-{w}.{ext}").is_ok());
        assert!(validate("{stem}.{ext}").is_err());
        assert!(validate("{stem}-{width}.{ext}").is_err());
        assert!(validate("{stem-{w}").is_err());
    }
}
