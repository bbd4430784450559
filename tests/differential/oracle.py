"""Render one corpus file through imgtool and through the reference decoders, and score
the difference with SSIMULACRA2.

References:
- libvips (`vipsthumbnail`, Debian libvips-tools): `--export-profile srgb`, with
  `--import-profile srgb` for untagged RGB and `--import-profile cmyk` for untagged CMYK
  (without it, untagged RGB is darkened); untagged grey gets no profile.
- Pillow with LittleCMS (`ImageCms`): EXIF orientation applied, the embedded profile
  converted to sRGB, Lanczos resize to the same size. The second reference for files where
  libvips is wrong.

Scores are SSIMULACRA2 (the `ssimulacra2` package) of imgtool's thumbnail against the
reference thumbnail: 100 is identical, ~90 is "visually lossless", ~70 "high quality".
Images with alpha are composited on a dark and a light grey and the worse score is kept,
as SSIMULACRA2's own tool does (the package's loader drops alpha without compositing, so
the compositing happens here).
"""

from __future__ import annotations

import io
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps
from ssimulacra2 import compute_ssimulacra2

ROOT = Path(__file__).resolve().parents[2]
BOX = 256


def imgtool_binary() -> Path:
    explicit = os.environ.get("IMGTOOL_BIN")
    if explicit:
        return Path(explicit)
    return ROOT / "target" / "debug" / "imgtool"


@dataclass
class Thumb:
    path: Path
    size: tuple[int, int]


def run_imgtool(src: Path, out_dir: Path, box: int = BOX) -> Thumb:
    out = out_dir / "imgtool"
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(imgtool_binary()), "resize", str(src), "--out", str(out),
         "--size", f"{box}x{box}", "--format", "png", "--name", "thumb{index}.png",
         "--quiet", "--force"],
        check=True, capture_output=True, text=True,
    )
    path = out / "thumb1.png"
    with Image.open(path) as im:
        return Thumb(path, im.size)


def source_kind(src: Path) -> tuple[str, bool]:
    """(colour kind, tagged): 'cmyk', 'gray' or 'rgb' as libvips reads the file, and
    whether an ICC profile is embedded."""
    try:
        with Image.open(src) as im:
            tagged = bool(im.info.get("icc_profile"))
    except Exception:  # a format Pillow does not read (JPEG XL): ask libvips
        fields = subprocess.run(["vipsheader", "-a", str(src)], check=True,
                                capture_output=True, text=True).stdout
        tagged = "icc-profile-data" in fields
    # libvips's own reading of the colour space (Pillow opens 16-bit grey + alpha as RGBA).
    interpretation = subprocess.run(
        ["vipsheader", "-f", "interpretation", str(src)],
        check=True, capture_output=True, text=True,
    ).stdout.strip().lower()  # e.g. "((VipsInterpretation) VIPS_INTERPRETATION_GREY16)"
    interpretation = interpretation.rsplit("vips_interpretation_", 1)[-1].rstrip(")")
    if interpretation == "cmyk":
        return "cmyk", tagged
    if interpretation in ("b_w", "grey16"):
        return "gray", tagged
    return "rgb", tagged


def run_vips(src: Path, out_dir: Path, box: int = BOX, rotate: bool = True) -> Thumb:
    out = out_dir / "vips.png"
    kind, tagged = source_kind(src)
    out_dir.mkdir(parents=True, exist_ok=True)
    args = ["vipsthumbnail", str(src), "--size", f"{box}x{box}>", "-o", str(out)]
    if not rotate:
        args.append("--no-rotate")
    if tagged or kind != "gray":
        # Untagged grey gets no profile at all: with --export-profile, libvips would
        # convert it through its own grey profile and change the tones.
        args += ["--export-profile", "srgb"]
    if not tagged and kind in ("rgb", "cmyk"):
        args += ["--import-profile", "srgb" if kind == "rgb" else "cmyk"]
    subprocess.run(args, check=True, capture_output=True, text=True)
    with Image.open(out) as im:
        return Thumb(out, im.size)


def run_libheif(src: Path, out_dir: Path, box: int = BOX) -> Thumb:
    """libheif's full decode (`heif-convert`: libheif 1.15 with libde265, Debian 12) of the
    primary image, written to PNG with its ICC profile, then thumbnailed by libvips like any
    other PNG. libvips's own heifload is not used: vipsthumbnail takes a HEIC's embedded
    thumbnail when it is large enough, so its output is a decode of a different, smaller
    picture."""
    full_dir = out_dir / "libheif"
    full_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["heif-convert", "--quiet", str(src), str(full_dir / "full.png")],
                   check=True, capture_output=True, text=True)
    written = sorted(full_dir.glob("full*.png"))
    if len(written) > 1:
        # One PNG per top-level image, in item order: take the primary's.
        listing = subprocess.run(["heif-info", str(src)], capture_output=True, text=True).stdout
        images = [line for line in listing.splitlines() if line.startswith("image:")]
        primary = next(i for i, line in enumerate(images) if line.endswith("primary"))
        written = [full_dir / f"full-{primary + 1}.png"]
    # heif-convert has applied irot/imir and copies the EXIF block as it is: its
    # Orientation tag must not turn the picture again.
    return run_vips(written[0], out_dir, box, rotate=False)


def run_pillow(src: Path, out_dir: Path, size: tuple[int, int], intent: int = 0) -> Thumb:
    """Pillow + LittleCMS at exactly `size` (imgtool's output size); `intent` is the ICC
    rendering intent (0 perceptual, Pillow's default; 1 relative colorimetric)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / "pillow.png"
    with Image.open(src) as im:
        im.seek(0)
        im = ImageOps.exif_transpose(im)
        icc = im.info.get("icc_profile")
        has_alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
        if icc and im.mode in ("RGB", "RGBA", "CMYK"):
            src_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            mode = {"RGBA": "RGBA", "CMYK": "RGB"}.get(im.mode, "RGB")
            im = ImageCms.profileToProfile(im, src_profile, ImageCms.createProfile("sRGB"),
                                           renderingIntent=intent, outputMode=mode)
        if im.mode in ("I;16", "I;16B", "I;16L", "I"):
            grey = np.asarray(im, dtype=np.float64) / 257.0
            im = Image.fromarray(np.clip(np.round(grey), 0, 255).astype(np.uint8), "L")
        im = im.convert("RGBA" if has_alpha else "RGB")
        im = im.resize(size, Image.Resampling.LANCZOS, reducing_gap=None)
        im.save(out)
    return Thumb(out, size)


def load_rgba(path: Path) -> np.ndarray:
    """An image as float RGBA in 0..1. 16-bit grey PNGs (Pillow mode I;16 or I) are scaled
    from 0..65535: Pillow's own convert() would clip them instead."""
    with Image.open(path) as im:
        if im.mode in ("I;16", "I;16B", "I;16L", "I"):
            grey = np.asarray(im, dtype=np.float64) / 65535.0
            rgba = np.ones(grey.shape + (4,))
            rgba[:, :, :3] = grey[:, :, None]
            return rgba
        return np.asarray(im.convert("RGBA"), dtype=np.float64) / 255.0


def _flatten(path: Path, background: float, out: Path) -> Path:
    rgba = load_rgba(path)
    alpha = rgba[:, :, 3:4]
    rgb = rgba[:, :, :3] * alpha + background * (1.0 - alpha)
    Image.fromarray(np.round(rgb * 255.0).astype(np.uint8), "RGB").save(out)
    return out


def score(reference: Path, candidate: Path) -> float:
    """SSIMULACRA2 of `candidate` against `reference`; with alpha, the worse of two
    composites (on 10 % and 90 % grey)."""
    with Image.open(reference) as a, Image.open(candidate) as b:
        alpha = "A" in a.getbands() or "A" in b.getbands() or "transparency" in a.info
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        if not alpha:
            return float(compute_ssimulacra2(str(_flatten(reference, 0.5, t / "r.png")),
                                             str(_flatten(candidate, 0.5, t / "c.png"))))
        scores = []
        for bg in (0.1, 0.9):
            r = _flatten(reference, bg, t / f"r{bg}.png")
            c = _flatten(candidate, bg, t / f"c{bg}.png")
            scores.append(float(compute_ssimulacra2(str(r), str(c))))
        return min(scores)


def median_grey(path: Path) -> float:
    """Median of the mean of R, G and B, in 0..255 (alpha ignored)."""
    return float(np.median(load_rgba(path)[:, :, :3].mean(axis=2)) * 255.0)
