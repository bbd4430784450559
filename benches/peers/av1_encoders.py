#!/usr/bin/env python3
"""AV1 encoders on the same pixels: imgtool's rav1e and libaom paths against SVT-AV1's own
command-line encoder (Debian's svt-av1, which imgtool does not link), on workload A's five
photos at 800 px.

Every encoder gets the same picture: imgtool's 800 px render of each photo, written as an
8-bit PNG (z0). imgtool encodes that PNG at its own size (`orig,avif`); SVT-AV1 encodes the
same pixels converted to YCbCr 4:2:0 (BT.601, full range, 2x2 mean chroma, as imgtool's
`yuv` crate does) in a .y4m. Both outputs are decoded to .y4m (libavif's avifdec for
imgtool's AVIF, dav1d for SVT-AV1's IVF) and turned back into RGB by the same code (chroma
repeated, not interpolated), then scored with SSIMULACRA2 against quality.py's reference
(Pillow's full decode + Lanczos3). Bytes are the AV1 data alone: the AVIF `mdat` payload, the
IVF frame payload, so the container is not counted for either. CPU is the whole process's
(imgtool decodes a small PNG first; SVT-AV1 reads the .y4m), one thread asked of each
(imgtool encodes one image per thread; SVT-AV1 `--lp 1`), one timed round.

Usage (after quality.py's set-up):
  apt-get install svt-av1 dav1d libavif-bin
  bash scripts/libaom.sh && cargo build --release -p imgtool --features aom
  benches/peers/.venv/bin/python benches/peers/av1_encoders.py > report.md
"""
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402
import quality  # noqa: E402  (reference, score_one, monotone, interp, bd_rate)

ROOT = compare.ROOT
IMGTOOL = ROOT / "target" / "release" / "imgtool"


def rgb_to_y4m(png: Path, out: Path):
    rgb = np.asarray(Image.open(png).convert("RGB"), dtype=np.float64)
    h, w, _ = rgb.shape
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128 + (b - y) / 1.772
    cr = 128 + (r - y) / 1.402
    # SVT-AV1 takes even sizes only: odd sides are padded by repeating the last row or column
    # (the decode is cropped back before scoring).
    hp, wp = h + h % 2, w + w % 2

    def pad(c):
        return np.pad(c, ((0, hp - h), (0, wp - w)), mode="edge")

    def half(c):
        c = pad(c)
        return (c[0::2, 0::2] + c[1::2, 0::2] + c[0::2, 1::2] + c[1::2, 1::2]) / 4

    planes = [np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in (pad(y), half(cb), half(cr))]
    with open(out, "wb") as f:
        f.write(f"YUV4MPEG2 W{wp} H{hp} F1:1 Ip A1:1 C420jpeg XCOLORRANGE=FULL\n".encode())
        f.write(b"FRAME\n")
        for p in planes:
            f.write(p.tobytes())


def y4m_to_png(y4m: Path, out: Path, size):
    data = y4m.read_bytes()
    head, _, rest = data.partition(b"\n")
    fields = {t[:1]: t[1:] for t in head.split()[1:]}
    w, h = int(fields[b"W"]), int(fields[b"H"])
    cs = fields.get(b"C", b"420jpeg")
    frame = rest[rest.index(b"\n") + 1:]
    if not cs.startswith(b"420"):
        sys.exit(f"{y4m}: {cs.decode()} (only 4:2:0 here)")
    cw, ch = (w + 1) // 2, (h + 1) // 2
    y = np.frombuffer(frame, np.uint8, w * h).reshape(h, w).astype(np.float64)
    u = np.frombuffer(frame, np.uint8, cw * ch, w * h).reshape(ch, cw).astype(np.float64)
    v = np.frombuffer(frame, np.uint8, cw * ch, w * h + cw * ch).reshape(ch, cw).astype(np.float64)
    u = u.repeat(2, 0).repeat(2, 1)[:h, :w] - 128
    v = v.repeat(2, 0).repeat(2, 1)[:h, :w] - 128
    if b"XCOLORRANGE=LIMITED" in head:
        sys.exit(f"{y4m}: limited range")
    r = y + 1.402 * v
    g = y - 0.344136 * u - 0.714136 * v
    b = y + 1.772 * u
    rgb = np.clip(np.rint(np.stack([r, g, b], -1)), 0, 255).astype(np.uint8)
    Image.fromarray(rgb[:size[1], :size[0]]).save(out)


def mdat_payload(avif: Path) -> int:
    data = avif.read_bytes()
    at = 0
    while at + 8 <= len(data):
        size = int.from_bytes(data[at:at + 4], "big")
        kind = data[at + 4:at + 8]
        head = 8
        if size == 1:
            size, head = int.from_bytes(data[at + 8:at + 16], "big"), 16
        elif size == 0:
            size = len(data) - at
        if kind == b"mdat":
            return size - head
        at += size
    sys.exit(f"{avif}: no mdat")


def ivf_payload(ivf: Path) -> int:
    data = ivf.read_bytes()
    at, total = int.from_bytes(data[6:8], "little"), 0
    while at + 12 <= len(data):
        n = int.from_bytes(data[at:at + 4], "little")
        total += n
        at += 12 + n
    return total


def main():
    if not shutil.which("SvtAv1EncApp") or not shutil.which("dav1d") or not shutil.which("avifdec"):
        sys.exit("needs SvtAv1EncApp (svt-av1), dav1d and avifdec (libavif-bin)")
    srcs = quality.AVIF_PHOTOS
    cache = ROOT / "target" / "peers-inputs" / "references"
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="av1-", dir=ROOT / "target"))
    renders = []
    for src in srcs:
        d = work / "render"
        _, _, _, err = compare.run([str(IMGTOOL), "resize", str(src), "--out", str(d), "--spec", "800,png",
                                    "--quiet"])
        if err:
            sys.exit(f"imgtool: {err}")
        png = d / f"{src.stem}-800.png"
        y4m = work / f"{src.stem}.y4m"
        rgb_to_y4m(png, y4m)
        renders.append((src, png, y4m))

    settings = {
        "imgtool rav1e speed 9 (default)": ("imgtool", "", [40, 50, 60, 70, 80]),
        "imgtool libaom speed 6 (`aom`)": ("imgtool", "aom,", [40, 50, 60, 70, 80]),
        "imgtool libaom speed 5 (`aom,speed5`)": ("imgtool", "aom,speed5,", [40, 50, 60, 70, 80]),
        **{f"SVT-AV1 1.4 preset {p}": ("svt", str(p), [20, 26, 32, 38, 44, 50]) for p in (10, 8, 6, 4)},
    }
    results = {}
    for name, (kind, arg, qs) in settings.items():
        pts = []
        for q in qs:
            cpu = size = 0
            scores = []
            for src, png, y4m in renders:
                dec = work / "dec.y4m"
                if kind == "imgtool":
                    d = work / "out"
                    shutil.rmtree(d, ignore_errors=True)
                    _, c, _, err = compare.run([str(IMGTOOL), "resize", str(png), "--out", str(d), "--spec",
                                                f"orig,avif,{arg}q{q}", "--quiet"])
                    if err:
                        sys.exit(f"{name}: {err}")
                    (out,) = d.glob("*.avif")
                    size += mdat_payload(out)
                    subprocess.run(["avifdec", str(out), str(dec)], check=True, capture_output=True)
                else:
                    ivf = work / "o.ivf"
                    _, c, _, err = compare.run(["SvtAv1EncApp", "-i", str(y4m), "-b", str(ivf), "--preset", arg,
                                                "--crf", str(q), "--lp", "1", "--color-range", "1",
                                                "--keyint", "-1", "--progress", "0"])
                    if err:
                        sys.exit(f"{name}: {err}")
                    size += ivf_payload(ivf)
                    subprocess.run(["dav1d", "-i", str(ivf), "-o", str(dec), "-q"], check=True,
                                   capture_output=True)
                cpu += c
                back = work / "back.png"
                with Image.open(png) as im:
                    y4m_to_png(dec, back, im.size)
                scores.append(quality.score_one((src, back, cache)))
            pts.append((q, sum(scores) / len(scores), size, cpu))
            print(f"  {name} q{q}: {pts[-1][1]:.1f}, {size/1000:.1f} KB, {cpu*1000:.0f} ms", file=sys.stderr)
        results[name] = pts

    print(f"Machine: {compare.cpu_model()}. Five photos (workload A) at 800 px; bytes are AV1 data only; "
          "CPU is the five processes' user+sys, one round.\n")
    print("| encoder | setting | score | KB | CPU ms |")
    print("|---|---:|---:|---:|---:|")
    for name, pts in results.items():
        for q, s, b, c in pts:
            print(f"| {name} | {'crf ' if name.startswith('SVT') else 'q'}{q} | {s:.1f} | {b/1000:.1f} | {c*1000:.0f} |")
    ref = quality.monotone([(s, b, c) for _, s, b, c in results["imgtool rav1e speed 9 (default)"]])
    print("\n| encoder | KB @70 | CPU ms @70 | KB @75 | CPU ms @75 | BD-rate vs rav1e speed 9 (score range) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, pts in results.items():
        curve = quality.monotone([(s, b, c) for _, s, b, c in pts])
        cells = quality.cells_at(curve, (70, 75))
        bd = quality.bd_rate(ref, curve) if name != "imgtool rav1e speed 9 (default)" else None
        bds = "-" if bd is None else f"{bd[0]:+.1f} % ({bd[1]:.1f}-{bd[2]:.1f})"
        print(f"| {name} | {' | '.join(cells)} | {bds} |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
