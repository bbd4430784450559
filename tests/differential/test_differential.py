"""imgtool against libvips (and Pillow with LittleCMS, and other projects' own decodes)
on real-world files it did not make. See cases.toml for the expectations and oracle.py for
how each side is rendered and scored.

Needs: the corpus (`bash scripts/corpus.sh`), `vipsthumbnail` (Debian libvips-tools), the
imgtool binary (target/debug/imgtool or $IMGTOOL_BIN), and the packages pinned in
scripts/test.sh. The README's test command provides all of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from pathlib import Path

import pytest

import oracle

HERE = Path(__file__).resolve().parent
CORPUS = Path(os.environ.get("IMGTOOL_CORPUS", oracle.ROOT / ".cache" / "corpus"))
CASES = tomllib.loads((HERE / "cases.toml").read_text())
DEFAULTS = CASES["defaults"]
LISTED = CASES.get("files", {})
FILES = [line.split(maxsplit=1)[1] for line in (HERE / "SHA256SUMS").read_text().splitlines()]
RESULTS: list[str] = []


DIRS = CASES.get("dirs", {})


def case(name: str) -> dict:
    """Defaults, then the file's folder's (`[dirs.heic]`), then the file's own entries."""
    folder = DIRS.get(name.split("/", 1)[0], {})
    return {**DEFAULTS, **folder, **LISTED.get(name, {})}


RENDERED = [f for f in FILES if case(f).get("role") not in ("reference", "data")]


def test_the_corpus_is_there_and_every_exception_is_explained():
    missing = [f for f in FILES if not (CORPUS / f).is_file()]
    assert not missing, f"corpus incomplete ({len(missing)} missing): run bash scripts/corpus.sh"
    unknown = sorted(set(LISTED) - set(FILES))
    assert not unknown, f"cases.toml names files not in SHA256SUMS: {unknown}"
    for folder, d in DIRS.items():
        assert len(d.get("reason", "")) > 20, f"[dirs.{folder}] needs a reason"
    for name in RENDERED:
        c = case(name)
        base = {**DEFAULTS, **DIRS.get(name.split("/", 1)[0], {})}
        special = (c["reference"] != base["reference"] or c["min_score"] < DEFAULTS["min_score"]
                   or "error" in c)
        if special:
            assert len(c.get("reason", "")) > 20, f"{name}: an exception needs a reason"
    assert oracle.imgtool_binary().is_file(), f"no imgtool binary at {oracle.imgtool_binary()}"


def imgtool_error_kind(src: Path, tmp: Path) -> tuple[int, str, str]:
    r = subprocess.run(
        [str(oracle.imgtool_binary()), "resize", str(src), "--out", str(tmp / "out"),
         "--size", "256x256", "--format", "png", "--json", "--quiet"],
        capture_output=True, text=True,
    )
    report = json.loads(r.stdout)["inputs"][0]
    return r.returncode, report.get("error_kind") or "", report.get("error") or ""


@pytest.mark.parametrize("name", RENDERED)
def test_file(name: str, tmp_path: Path):
    c = case(name)
    src = CORPUS / name
    if "error" in c:
        code, kind, message = imgtool_error_kind(src, tmp_path)
        RESULTS.append(f"| `{name}` | error | `{kind}`: {message[:90]} |")
        assert code == 1 and kind == c["error"], f"{name}: exit {code}, {kind}: {message}"
        return
    ours = oracle.run_imgtool(src, tmp_path)
    ref_kind = c["reference"]
    if ref_kind == "vips":
        ref = oracle.run_vips(src, tmp_path)
    elif ref_kind == "pillow":
        ref = oracle.run_pillow(src, tmp_path, ours.size)
    elif ref_kind == "libheif":
        ref = oracle.run_libheif(src, tmp_path)
    elif ref_kind.startswith("file:"):
        path = CORPUS / ref_kind.removeprefix("file:")
        from PIL import Image
        with Image.open(path) as im:
            ref = oracle.Thumb(path, im.size)
    else:
        raise AssertionError(f"{name}: unknown reference {ref_kind}")
    assert ours.size == ref.size, f"{name}: imgtool {ours.size}, {ref_kind} {ref.size}"
    s = oracle.score(ref.path, ours.path)
    RESULTS.append(f"| `{name}` | {ref_kind} | {s:.1f} (floor {c['min_score']:g}) |")
    assert s >= c["min_score"], f"{name}: SSIMULACRA2 {s:.1f} against {ref_kind}, floor {c['min_score']}"


def test_the_cmyk_sample_matches_its_rgb_original(tmp_path: Path):
    """The second check of pil_sample_cmyk.jpg: imgtool's RGB from the CMYK file against
    the RGB original of the same picture (two separate JPEG encodings, so not identical:
    Pillow's CMYK decode scores the same 77.5; libvips's, through its press profile, 32.9)."""
    ours = oracle.run_imgtool(CORPUS / "jpeg/pil_sample_cmyk.jpg", tmp_path / "cmyk")
    rgb = oracle.run_imgtool(CORPUS / "jpeg/pil_sample_rgb.jpg", tmp_path / "rgb")
    s = oracle.score(rgb.path, ours.path)
    RESULTS.append(f"| `jpeg/pil_sample_cmyk.jpg` | file:jpeg/pil_sample_rgb.jpg | {s:.1f} (floor 75) |")
    assert s >= 75.0, s


def with_icc(jpeg: bytes, icc: bytes) -> bytes:
    """The JPEG with `icc` spliced in after SOI as APP2 ICC_PROFILE segments (the
    entropy-coded data stays the other encoder's)."""
    chunk = 65519
    parts = [icc[i:i + chunk] for i in range(0, len(icc), chunk)]
    segments = b""
    for n, part in enumerate(parts, 1):
        body = b"ICC_PROFILE\0" + bytes([n, len(parts)]) + part
        segments += b"\xff\xe2" + (len(body) + 2).to_bytes(2, "big") + body
    return jpeg[:2] + segments + jpeg[2:]


def test_a_cmyk_jpeg_is_converted_through_its_own_profile(tmp_path: Path):
    """Go's CMYK sample with Ghostscript's SWOP profile embedded: imgtool must follow the
    profile as LittleCMS does (Pillow), not the plain inversion it uses for untagged CMYK.
    Compared at relative colorimetric intent (libvips's default): the colour engine
    (moxcms) uses the profile's colorimetric table; LittleCMS's perceptual table (Pillow's
    default intent) renders this profile 6-15 levels darker (SSIMULACRA2 72)."""
    tagged = tmp_path / "cmyk-swop.jpg"
    tagged.write_bytes(with_icc((CORPUS / "jpeg/video-001.cmyk.jpeg").read_bytes(),
                                (CORPUS / "icc/default_cmyk.icc").read_bytes()))
    ours = oracle.run_imgtool(tagged, tmp_path / "tagged")
    ref = oracle.run_pillow(tagged, tmp_path / "pillow", ours.size, intent=1)
    plain = oracle.run_imgtool(CORPUS / "jpeg/video-001.cmyk.jpeg", tmp_path / "plain")
    s = oracle.score(ref.path, ours.path)
    without = oracle.score(ref.path, plain.path)
    RESULTS.append(f"| `jpeg/video-001.cmyk.jpeg` + `icc/default_cmyk.icc` | pillow, relative colorimetric | {s:.1f} "
                   f"(floor 90; the untagged decode scores {without:.1f}) |")
    assert s >= 90.0, f"SSIMULACRA2 {s:.1f} against Pillow+LittleCMS"
    assert without < s - 10.0, f"the profile made no difference ({without:.1f} vs {s:.1f})"


def test_a_v4_profile_with_cicp_follows_its_curves(tmp_path: Path):
    """hdr_room.png: 16-bit, ICC v4.4 with both tone curves and a cicp tag. LittleCMS (and
    so libvips and Pillow) use the curves; so must imgtool (it once followed cicp and came
    out darker: median grey 48 against 65)."""
    src = CORPUS / "png/hdr_room.png"
    ours = oracle.run_imgtool(src, tmp_path)
    ref = oracle.run_vips(src, tmp_path)
    a, b = oracle.median_grey(ours.path), oracle.median_grey(ref.path)
    assert abs(a - b) <= 2.0, f"median grey {a} vs libvips {b}"


@pytest.fixture(scope="session", autouse=True)
def report_scores():
    yield
    if RESULTS:
        out = oracle.ROOT / "target" / "differential-scores.md"
        out.parent.mkdir(exist_ok=True)
        out.write_text("| file | reference | SSIMULACRA2 / outcome |\n|---|---|---|\n"
                       + "\n".join(sorted(RESULTS)) + "\n")
        print(f"\nper-file scores written to {out}")
