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
        assert_eq!(mine.len(), 2, "{stem}: {mine:?}");
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
