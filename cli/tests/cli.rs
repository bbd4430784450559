//! The `imgtool` binary as a user runs it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn imgtool() -> Command {
    Command::new(env!("CARGO_BIN_EXE_imgtool"))
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn good_fixtures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

#[test]
fn resize_works_on_every_fixture() {
    let out = tempfile::tempdir().unwrap();
    let inputs = good_fixtures();
    let st = imgtool()
        .arg("resize")
        .args(&inputs)
        .args(["--out"])
        .arg(out.path())
        .args(["--width", "100,40", "--format", "webp"])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let written: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for input in &inputs {
        let stem = input.file_stem().unwrap().to_string_lossy();
        let shared = inputs
            .iter()
            .filter(|p| p.file_stem().unwrap().to_string_lossy() == stem)
            .count()
            > 1;
        let stem = if shared {
            input.file_name().unwrap().to_string_lossy()
        } else {
            stem
        };
        let width = imgcore::probe(&std::fs::read(input).unwrap())
            .unwrap()
            .width;
        let mine: Vec<&String> = written
            .iter()
            .filter(|n| {
                n.strip_prefix(&format!("{stem}-"))
                    .and_then(|r| r.strip_suffix(".webp"))
                    .is_some_and(|r| {
                        !r.is_empty()
                            && r.chars()
                                .all(|c| c.is_ascii_digit() || c == 'x' || c == '-')
                    })
            })
            .collect();
        assert_eq!(
            mine.len(),
            if width > 40 { 2 } else { 1 },
            "{stem}: {mine:?}"
        );
        for n in mine {
            let bytes = std::fs::read(out.path().join(n)).unwrap();
            let info = imgcore::probe(&bytes).unwrap();
            assert_eq!(info.format, imgcore::ImageFormat::WebP);
            assert!(
                info.width == 100.min(width) || info.width == 40.min(width),
                "{n}: {}",
                info.width
            );
        }
    }
}

#[test]
fn one_bad_file_fails_the_batch_but_not_the_others() {
    let out = tempfile::tempdir().unwrap();
    let st = imgtool()
        .arg("resize")
        .arg(fixtures().join("photo.jpg"))
        .arg(fixtures().join("bad/truncated.jpg"))
        .arg("--out")
        .arg(out.path())
        .args(["--width", "64"])
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(1));
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(
        err.contains("truncated.jpg") && err.contains("truncated jpeg data"),
        "{err}"
    );
    assert!(out.path().join("photo-64.jpg").exists());
}

#[test]
fn usage_errors_exit_2() {
    let out = tempfile::tempdir().unwrap();
    let st = imgtool()
        .arg("resize")
        .arg(fixtures().join("photo.jpg"))
        .arg("--out")
        .arg(out.path())
        .args(["--width", "64", "--fit", "cover"])
        .output()
        .unwrap();
    assert_eq!(
        st.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let st = imgtool().args(["resize", "x.jpg"]).output().unwrap();
    assert_eq!(st.status.code(), Some(2));
}

#[test]
fn cover_and_spec_options() {
    let out = tempfile::tempdir().unwrap();
    let st = imgtool()
        .arg("resize")
        .arg(fixtures().join("orientation-6.jpg"))
        .arg("--out")
        .arg(out.path())
        .args(["--spec", "20x20,cover,png;30,jpeg"])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let png = std::fs::read(out.path().join("orientation-6-20.png")).unwrap();
    let i = imgcore::probe(&png).unwrap();
    assert_eq!((i.width, i.height), (20, 20));
    let jpg = std::fs::read(out.path().join("orientation-6-30.jpg")).unwrap();
    let i = imgcore::probe(&jpg).unwrap();
    assert_eq!((i.width, i.height, i.orientation), (30, 20, 1));
}

#[test]
fn info_reads_headers() {
    let st = imgtool()
        .arg("info")
        .arg(fixtures().join("orientation-6.jpg"))
        .output()
        .unwrap();
    assert!(st.status.success());
    let text = String::from_utf8_lossy(&st.stdout);
    assert!(text.contains("jpeg 48x32 orientation 6"), "{text}");
}

fn run(args: &[&str], cwd: Option<&Path>) -> std::process::Output {
    let mut c = imgtool();
    c.args(args);
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    c.output().unwrap()
}

/// A folder tree with nested, hidden, non-image and oddly named files.
fn tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let put = |rel: &str, src: &str| {
        let p = d.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::copy(fixtures().join(src), p).unwrap();
    };
    put("a.jpg", "photo.jpg");
    put("sub/b c.png", "rgba.png");
    put("sub/deeper/café 写真.webp", "lossy.webp");
    put("raw/skip.jpg", "photo.jpg");
    put(".hidden/x.jpg", "photo.jpg");
    put("sub/.dot.jpg", "photo.jpg");
    std::fs::write(d.path().join("notes.txt"), "not an image").unwrap();
    d
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = walk(dir)
        .into_iter()
        .map(|p| {
            p.strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn folders_are_mirrored_with_globs_and_hidden_files_skipped() {
    let src = tree();
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    let st = run(
        &[
            "resize",
            src.path().to_str().unwrap(),
            "--out",
            o,
            "--width",
            "50",
            "--exclude",
            "raw/**",
        ],
        None,
    );
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert_eq!(
        files_under(out.path()),
        vec!["a-50.jpg", "sub/b c-50.png", "sub/deeper/café 写真-50.webp"]
    );

    let out2 = tempfile::tempdir().unwrap();
    let st = run(
        &[
            "resize",
            src.path().to_str().unwrap(),
            "--out",
            out2.path().to_str().unwrap(),
            "--width",
            "50",
            "--include",
            "*.png",
        ],
        None,
    );
    assert!(st.status.success());
    assert_eq!(files_under(out2.path()), vec!["sub/b c-50.png"]);
}

#[test]
fn stdin_to_stdout() {
    let mut child = imgtool()
        .args([
            "resize", "-", "--out", "-", "--width", "40", "--format", "webp",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let input = std::fs::read(fixtures().join("photo.jpg")).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        use std::io::Write;
        stdin.write_all(&input).unwrap();
    });
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info = imgcore::probe(&out.stdout).unwrap();
    assert_eq!((info.format, info.width), (imgcore::ImageFormat::WebP, 40));
    // stdout takes exactly one output.
    let st = run(&["resize", "-", "--out", "-", "--width", "40,20"], None);
    assert_eq!(st.status.code(), Some(2));
}

#[test]
fn presets_use_the_spec_syntax() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("imgtool.toml"),
        "[presets]\nweb = \"60,webp;30x30,cover,png\"\nbad = \"60,wat\"\n",
    )
    .unwrap();
    let photo = fixtures().join("photo.jpg");
    let st = run(
        &[
            "resize",
            photo.to_str().unwrap(),
            "--out",
            "o",
            "--preset",
            "web",
            "--name",
            "{stem}-{w}x{h}.{ext}",
        ],
        Some(dir.path()),
    );
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert_eq!(
        files_under(&dir.path().join("o")),
        vec!["photo-30x30.png", "photo-60x40.webp"]
    );
    let st = run(
        &[
            "resize",
            photo.to_str().unwrap(),
            "--out",
            "o",
            "--preset",
            "nope",
        ],
        Some(dir.path()),
    );
    assert_eq!(st.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&st.stderr).contains("it has: bad, web"));
    let st = run(
        &[
            "resize",
            photo.to_str().unwrap(),
            "--out",
            "o",
            "--preset",
            "bad",
        ],
        Some(dir.path()),
    );
    assert_eq!(st.status.code(), Some(2));
}

#[test]
fn json_report_has_the_record_fields() {
    let out = tempfile::tempdir().unwrap();
    let st = imgtool()
        .arg("resize")
        .arg(fixtures().join("orientation-6.jpg"))
        .arg(fixtures().join("bad/not-an-image.jpg"))
        .arg("--out")
        .arg(out.path())
        .args(["--width", "24", "--json"])
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    let good = &v["inputs"][0];
    assert_eq!(good["status"], "done");
    assert_eq!(
        (
            good["width"].as_u64(),
            good["height"].as_u64(),
            good["orientation"].as_u64()
        ),
        (Some(48), Some(32), Some(6))
    );
    assert_eq!(good["format"], "jpeg");
    assert!(good["thumbhash"].is_string() && good["color"].as_str().unwrap().starts_with('#'));
    assert_eq!(good["renditions"][0]["width"], 24);
    assert_eq!(good["renditions"][0]["height"], 16);
    assert!(good["renditions"][0]["bytes"].as_u64().unwrap() > 0);
    let bad = &v["inputs"][1];
    assert_eq!(
        (bad["status"].as_str(), bad["error_kind"].as_str()),
        (Some("failed"), Some("unsupported"))
    );
    assert_eq!(
        (
            v["summary"]["succeeded"].as_u64(),
            v["summary"]["failed"].as_u64()
        ),
        (Some(1), Some(1))
    );
}

#[test]
fn up_to_date_outputs_are_skipped_unless_forced_and_writes_are_atomic() {
    let out = tempfile::tempdir().unwrap();
    let photo = fixtures().join("photo.jpg");
    let args = |extra: &[&str]| {
        let mut v = vec![
            "resize",
            photo.to_str().unwrap(),
            "--out",
            out.path().to_str().unwrap(),
            "--width",
            "64",
            "--json",
        ];
        v.extend_from_slice(extra);
        v.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let status = |a: Vec<String>| {
        let st = imgtool().args(a).output().unwrap();
        assert!(st.status.success());
        let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
        v["inputs"][0]["status"].as_str().unwrap().to_string()
    };
    assert_eq!(status(args(&[])), "done");
    assert_eq!(status(args(&[])), "skipped");
    assert_eq!(status(args(&["--force"])), "done");
    // No temporary files are left behind.
    assert_eq!(files_under(out.path()), vec!["photo-64.jpg"]);
}

#[test]
fn name_templates_and_hostile_names() {
    let dir = tempfile::tempdir().unwrap();
    let evil = dir.path().join("..evil name.jpg");
    std::fs::copy(fixtures().join("photo.jpg"), &evil).unwrap();
    let out = dir.path().join("out");
    let st = imgtool()
        .arg("resize")
        .arg(&evil)
        .arg("--out")
        .arg(&out)
        .args([
            "--width",
            "32",
            "--format",
            "png",
            "--format",
            "webp",
            "--name",
            "{index}-{stem}.{format}.{ext}",
        ])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert_eq!(
        files_under(&out),
        vec!["1-..evil name.png.png", "2-..evil name.webp.webp"]
    );
    // Templates that would overwrite or that name unknown fields are refused up front.
    for bad in ["{stem}.{ext}", "{stem}-{width}.{ext}"] {
        let st = imgtool()
            .arg("resize")
            .arg(&evil)
            .arg("--out")
            .arg(&out)
            .args(["--width", "32", "--name", bad])
            .output()
            .unwrap();
        assert_eq!(st.status.code(), Some(2), "{bad}");
    }
}

#[test]
fn info_json() {
    let st = imgtool()
        .args(["info", "--json"])
        .arg(fixtures().join("animated-3-frames.gif"))
        .output()
        .unwrap();
    assert!(st.status.success());
    let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(v[0]["info"]["frames"], 3);
    assert_eq!(v[0]["info"]["format"], "gif");
}

#[test]
fn written_files_are_readable_like_any_file_the_user_writes() {
    use std::os::unix::fs::PermissionsExt;
    let out = tempfile::tempdir().unwrap();
    // Under umask 022 (set for the child only, through the shell) outputs are 0644; under
    // 077 they are 0600: the mode comes from the umask, not from the temporary file.
    for (umask, want) in [("022", 0o644), ("077", 0o600)] {
        let dir = out.path().join(umask);
        let st = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "umask {umask} && exec \"$0\" resize \"$1\" --out \"$2\" --width 20 --quiet"
            ))
            .arg(env!("CARGO_BIN_EXE_imgtool"))
            .arg(fixtures().join("photo.jpg"))
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        let file = walk(&dir).into_iter().find(|p| p.is_file()).unwrap();
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, want, "umask {umask}: {}", file.display());
    }
}

#[test]
fn a_panic_in_one_file_fails_that_file_and_the_batch_goes_on() {
    let out = tempfile::tempdir().unwrap();
    let st = imgtool()
        .env("IMGTOOL_TEST_PANIC_ON", "gray.png")
        .arg("resize")
        .arg(fixtures().join("photo.jpg"))
        .arg(fixtures().join("gray.png"))
        .arg(fixtures().join("rgba.png"))
        .arg("--out")
        .arg(out.path())
        .args(["--width", "20", "--json", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    let inputs = report["inputs"].as_array().unwrap();
    let by_name = |n: &str| {
        inputs
            .iter()
            .find(|i| i["input"].as_str().unwrap().ends_with(n))
            .unwrap()
    };
    assert_eq!(by_name("gray.png")["status"], "failed");
    assert_eq!(by_name("gray.png")["error_kind"], "internal");
    assert_eq!(by_name("photo.jpg")["status"], "done");
    assert_eq!(by_name("rgba.png")["status"], "done");
    assert_eq!(report["summary"]["succeeded"], 2);
}

#[test]
fn limits_from_the_command_line() {
    let out = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        imgtool()
            .arg("resize")
            .arg(fixtures().join("photo.jpg"))
            .arg("--out")
            .arg(out.path())
            .args(["--width", "20", "--json", "--quiet", "--force"])
            .args(extra)
            .output()
            .unwrap()
    };
    let refused = |extra: &[&str], which: &str| {
        let st = run(extra);
        assert_eq!(st.status.code(), Some(1), "{extra:?}");
        let report: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
        assert_eq!(report["inputs"][0]["error_kind"], "limit_exceeded");
        let message = report["inputs"][0]["error"].as_str().unwrap();
        assert!(message.contains(which), "{extra:?}: {message}");
    };
    refused(&["--max-pixels", "100"], "pixels");
    refused(&["--max-memory", "1K"], "decoded bytes");
    let st = run(&["--max-memory", "64M", "--max-pixels", "1000000000"]);
    assert_eq!(
        st.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let st = run(&["--max-memory", "lots"]);
    assert_eq!(st.status.code(), Some(2));
}
