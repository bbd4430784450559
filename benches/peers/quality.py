#!/usr/bin/env python3
"""Speed at equal quality: imgtool against its peers, at each tool's own quality settings,
compared where their outputs score the same.

For every workload, tool and quality setting: the CPU of the whole process (median of the
timed rounds, rounds interleaved across tools as in compare.py), the bytes of all outputs,
and their SSIMULACRA2 score (mean over the outputs) against a reference none of the tools
made: Pillow's full decode of the source (no shrink-on-load; EXIF orientation applied; an
embedded ICC profile converted to sRGB by LittleCMS) resized to the same size with Lanczos3.
From each tool's sweep, bytes and CPU are interpolated (piecewise linearly, log bytes) at
two scores per workload, chosen inside the range every tool's sweep reaches, and a BD-rate-style figure (the mean bytes difference over the score range
both tools cover) is computed against imgtool. A plot of bytes and CPU against score is
written beside the tables.

Peak memory is not reported here: this script's own imports set a floor under every child's
ru_maxrss; compare.py reports it.

Usage:
  bash benches/peers/setup.sh && bash scripts/corpus.sh
  bash scripts/libaom.sh && cargo build --release -p imgtool --features aom
      (without `aom`, the libaom rows fail)
  benches/peers/.venv/bin/python benches/peers/quality.py [--rounds 3] [--only P,L,A,Z]
      [--plot benches/peers/equal-quality.png] > report.md

Workloads:
  P  the differential corpus's 20 photos (6-24 MP: 12 camera originals with their EXIF, from 11
     cameras and phones, and 8 photographers' pictures from Debian's lomiri-wallpapers, without
     EXIF) -> 720 and 256 px JPEG
  L  the Lambda's default job: a 12 MP photo (one of the wallpapers) -> 1600/800/200 px WebP
  A  5 of the photos -> 800 px AVIF (imgtool at its default, rav1e speed 9, and at 8 and 10,
     and with libaom at speeds 6 and 5; sharp at its default effort 4 and at effort 2)
  Z  W3's 2048x1536 RGBA PNG -> 256 px PNG, every tool at zlib level 6 (lossless: one point)
"""
import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402  (the timing, corpus and CPU helpers)

sys.path.insert(0, str(compare.ROOT / "tests" / "differential"))
from oracle import run_pillow, score  # noqa: E402  (the Pillow oracle; SSIMULACRA2, alpha on two backgrounds)

HERE = compare.HERE
ROOT = compare.ROOT
EXT = {"jpeg": "jpg", "png": "png", "webp": "webp", "avif": "avif"}
PHOTOS = ROOT / ".cache" / "corpus" / "photos"
# Workload A's photos (av1_encoders.py takes the same five).
AVIF_PHOTOS = [PHOTOS / n for n in ("Bridge_by_Sander_Klootwijk.jpg", "Dragonfly_by_Bolly.jpg",
                                    "Wine_by_Jakkub_Mede.jpg", "free_by_Peter_Nerlich.jpg",
                                    "iphone-6-plus-orientation-6.jpg")]
Image.MAX_IMAGE_PIXELS = None
try:  # HEIC sources (compare.py's W7) for the reference
    import pillow_heif
    pillow_heif.register_heif_opener()
except ImportError:
    pass


# --- the tools: (inputs, widths, fmt, q, out) -> (commands, outputs, environment) -----------
def imgtool(binary, flags="", env=None):
    def f(inputs, widths, fmt, q, out):
        extra = f",{flags}" if flags else ""
        qual = "" if fmt == "png" else f",q{q}"
        spec = ";".join(f"{w},{fmt}{qual}{extra}" for w in widths)
        cmd = [binary, "resize", *map(str, inputs), "--out", str(out), "--spec", spec, "--quiet", "--force"]
        return [cmd], env
    return f


def vips(inputs, widths, fmt, q, out):
    opts = "[compression=6,strip]" if fmt == "png" else f"[Q={q},strip]"
    return [["vipsthumbnail", *map(str, inputs), "-s", f"{w}x", "-o", f"{out}/%s-{w}.{EXT[fmt]}{opts}"] for w in widths], None


def sharp(env=None):
    def f(inputs, widths, fmt, q, out):
        cmd = ["node", str(HERE / "sharp_resize.js"), str(out), fmt, str(q), ",".join(map(str, widths)), *map(str, inputs)]
        return [cmd], {"SHARP_PNG_LEVEL": "6", **(env or {})}
    return f


def pillow(inputs, widths, fmt, q, out):
    cmd = [str(HERE / ".venv" / "bin" / "python"), str(HERE / "pillow_resize.py"), str(out), fmt, str(q), ",".join(map(str, widths)), *map(str, inputs)]
    return [cmd], {"PILLOW_PNG_LEVEL": "6"}


def magick(inputs, widths, fmt, q, out):
    # ImageMagick's PNG "quality" is two digits: zlib level, then filter (5 = adaptive).
    qual = ["-quality", "65"] if fmt == "png" else ["-quality", str(q)]
    cmds = []
    for inp in inputs:
        cmd = ["convert", str(inp), "-auto-orient"]
        for w in widths[:-1]:
            cmd += ["(", "+clone", "-resize", f"{w}x", *qual, "-strip", "-write", str(out / f"{inp.stem}-{w}.{EXT[fmt]}"), "+delete", ")"]
        cmd += ["-resize", f"{widths[-1]}x", *qual, "-strip", str(out / f"{inp.stem}-{widths[-1]}.{EXT[fmt]}")]
        cmds.append(cmd)
    return cmds, None


def output_paths(out, inputs, widths, fmt):
    """The files a tool writes into `out`, input by input, width by width."""
    return [out / f"{p.stem}-{w}.{EXT[fmt]}" for p in inputs for w in widths]


def run_env(cmd, env):
    if not env:
        return compare.run(cmd)
    return compare.run(["env", *(f"{k}={v}" for k, v in env.items()), *cmd])


# --- the reference -------------------------------------------------------------------------
REFERENCE_VERSION = 2  # bump when the reference changes: cached files are keyed by it


def reference(src: Path, size, cache: Path) -> Path:
    """The differential suite's Pillow oracle (full decode, EXIF orientation, ICC to sRGB by
    LittleCMS, CMYK and 16-bit grey handled, Lanczos3 to exactly `size`), cached as PNG
    under a key of the source's name, size and mtime and the reference's version."""
    st = src.stat()
    out = cache / f"{src.stem}-{st.st_size}-{st.st_mtime_ns}-v{REFERENCE_VERSION}-{size[0]}x{size[1]}.png"
    if out.exists():
        return out
    with tempfile.TemporaryDirectory(dir=cache) as t:
        made = run_pillow(src, Path(t), tuple(size)).path
        os.replace(made, out)  # atomic: an interrupted run leaves no half-written reference
    return out


def score_one(job):
    src, cand, cache = job
    with Image.open(cand) as im:
        size = im.size
    return float(score(reference(src, size, cache), cand))


# --- sweeps --------------------------------------------------------------------------------
def measure(tools, inputs, widths, fmt, q, rounds, scratch, warm):
    """Run every tool `rounds` times (after a warm-up round when warm); keep the last
    round's outputs. Returns {tool: (cpu s median, wall s median, peak RSS KiB, outdir)} and
    {tool: error}."""
    samples = {t: [] for t in tools}
    errors, last = {}, {}
    for r in range(rounds + (1 if warm else 0)):
        for t, f in tools.items():
            if t in errors:
                continue
            out = Path(tempfile.mkdtemp(prefix=f"{t}-q{q}-", dir=scratch))
            cmds, env = f(inputs, widths, fmt, q, out)
            wall = cpu = 0.0
            rss = 0
            for c in cmds:
                w_, c_, m_, err = run_env(c, env)
                if err:
                    errors[t] = err
                    break
                wall, cpu, rss = wall + w_, cpu + c_, max(rss, m_)
            missing = [o for o in output_paths(out, inputs, widths, fmt) if not o.exists()]
            if t not in errors and missing:
                errors[t] = f"missing output {missing[0].name}"
            if t in errors:
                shutil.rmtree(out, ignore_errors=True)
                continue
            if warm and r == 0:
                shutil.rmtree(out, ignore_errors=True)
                continue
            samples[t].append((cpu, wall, rss))
            if t in last:
                shutil.rmtree(last[t], ignore_errors=True)
            last[t] = out
    med = {}
    for t in tools:
        if t in errors or not samples[t]:
            continue
        med[t] = (statistics.median(s[0] for s in samples[t]), statistics.median(s[1] for s in samples[t]),
                  max(s[2] for s in samples[t]), last[t])
    # Equal output sizes or no figures: a smaller output would score well and cost fewer bytes.
    sizes = {}
    for t, m in med.items():
        sizes[t] = []
        for o in output_paths(m[3], inputs, widths, fmt):
            with Image.open(o) as im:
                sizes[t].append(im.size)
    # The box sets the width; the height is the source's aspect ratio rounded, and tools round
    # differently (sharp makes one 256 px output 383 px tall where imgtool, libvips and Pillow
    # make 384). One pixel of height is allowed: each output is scored against a reference of
    # its own size, and the bytes differ by about 1/400.
    ref = sizes.get("imgtool")
    for t in list(med):
        if ref is None or sizes[t] == ref:
            continue
        # Every tool's list has one size per expected output (a missing file was refused above).
        off = [(a, b) for a, b in zip(sizes[t], ref) if a != b]
        if all(a[0] == b[0] and abs(a[1] - b[1]) <= 1 for a, b in off):
            print(f"  note: {t}: {len(off)} of {len(ref)} outputs 1 px off imgtool's height, "
                  f"e.g. {off[0][0]} vs {off[0][1]}", file=sys.stderr)
            continue
        errors[t] = f"output sizes differ from imgtool's: {off[0][0]} vs {off[0][1]}"
        shutil.rmtree(med.pop(t)[3], ignore_errors=True)
    return med, errors


def interp(points, x):
    """points: [(score, value)], sorted by score; value at score x (None outside)."""
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x0 <= x <= x1 and x1 > x0:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    if points and abs(points[-1][0] - x) < 1e-9:
        return points[-1][1]
    return None


def monotone(curve):
    """A sweep as (score, bytes, cpu) sorted by score, keeping only points that score
    higher than every cheaper setting (a sweep whose score falls as q rises is trimmed)."""
    pts = sorted(curve, key=lambda p: p[1])  # by bytes
    kept, best = [], -math.inf
    for s, b, c in pts:
        if s > best:
            kept.append((s, b, c))
            best = s
    return kept


def as_curve(rows):
    """A sweep's result rows (q, score, bytes, cpu, wall, rss) as a monotone (score, bytes,
    cpu) curve."""
    return monotone([(s, b, c) for _q, s, b, c, _w, _r in rows])


def cells_at(curve, targets):
    """KB and CPU ms at each target score, interpolated on the curve ("-" outside it)."""
    cells = []
    for x in targets:
        lb = interp([(p[0], math.log(p[1])) for p in curve], x)
        cpu = interp([(p[0], p[2]) for p in curve], x)
        cells += ["-" if lb is None else f"{math.exp(lb)/1000:.1f}", "-" if cpu is None else f"{cpu*1000:.0f}"]
    return cells


def bd_rate(ref, test):
    """Mean log-bytes difference of test against ref over the score range both cover,
    piecewise linear; as a percentage (negative: test is smaller)."""
    lo = max(ref[0][0], test[0][0])
    hi = min(ref[-1][0], test[-1][0])
    if hi <= lo:
        return None
    n = 200
    acc = 0.0
    log_ref = [(p[0], math.log(p[1])) for p in ref]
    log_test = [(p[0], math.log(p[1])) for p in test]
    for i in range(n + 1):
        s = lo + (hi - lo) * i / n
        a = interp(log_ref, s)
        b = interp(log_test, s)
        if a is None or b is None:
            return None
        acc += (b - a) * (0.5 if i in (0, n) else 1.0)
    return (math.exp(acc / n) - 1.0) * 100.0, lo, hi


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--imgtool", default=str(ROOT / "target" / "release" / "imgtool"))
    ap.add_argument("--only", default="P,L,A,Z")
    ap.add_argument("--plot", default=str(HERE / "equal-quality.png"))
    ap.add_argument("--qualities", default="", help="override every lossy sweep, e.g. 60,80 (a quick check)")
    ap.add_argument("--json", default="", help="also write the raw figures here")
    a = ap.parse_args()
    scratch = ROOT / "target" / "peers-quality"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    cache = ROOT / "target" / "peers-inputs" / "references"
    cache.mkdir(parents=True, exist_ok=True)

    photos = sorted(PHOTOS.glob("*.jpg"))
    if len(photos) < 20:
        sys.exit("needs the differential corpus's photos: bash scripts/corpus.sh")
    lam = PHOTOS / "sunset_by_Aitzol_Berasategi.jpg"  # 4272x2848, 12.2 MP
    avif_in = AVIF_PHOTOS
    png = compare.CORPUS / "alpha-premultiply-2048x1536-paper.png"
    it = a.imgtool
    base = {"imgtool": imgtool(it), "vipsthumbnail": vips, "sharp": sharp(), "Pillow": pillow, "ImageMagick": magick}
    workloads = [
        ("P", f"{len(photos)} photos (12 camera originals) -> 720 + 256 px JPEG", photos, [720, 256], "jpeg",
         {**base, "imgtool small": imgtool(it, "small"), "sharp mozjpeg": sharp({"SHARP_MOZJPEG": "1"})},
         [50, 60, 70, 80, 90], [65, 75]),
        ("L", "Lambda default job: 12 MP JPEG -> 1600/800/200 px WebP", [lam], [1600, 800, 200], "webp", base,
         [50, 60, 70, 80, 90], [60, 70]),
        ("A", f"{len(avif_in)} photos -> 800 px AVIF", avif_in, [800], "avif",
         {"imgtool": imgtool(it), "imgtool speed8": imgtool(it, "speed8"), "imgtool speed10": imgtool(it, "speed10"),
          "imgtool yuv444": imgtool(it, "yuv444"), "imgtool aom6": imgtool(it, "aom,speed6"),
          "imgtool aom5": imgtool(it, "aom,speed5"), "vipsthumbnail": vips, "sharp": sharp(),
          "sharp effort2": sharp({"SHARP_AVIF_EFFORT": "2"}), "Pillow": pillow},
         [40, 50, 60, 70, 80], [70, 75]),
        ("Z", "2048x1536 RGBA PNG -> 256 px PNG, zlib level 6 for all", [png], [256], "png",
         {"imgtool": imgtool(it, "z1"), "vipsthumbnail": vips, "sharp": sharp(), "Pillow": pillow, "ImageMagick": magick},
         [0], []),
    ]
    if a.qualities:
        qs = [int(q) for q in a.qualities.split(",")]
        workloads = [(*w[:6], qs if w[4] != "png" else w[6], w[7]) for w in workloads]
    keep = set(a.only.split(","))
    workloads = [w for w in workloads if w[0] in keep]

    results = {}  # wid -> tool -> [(q, score, bytes, cpu, wall, rss)]
    failures = {}
    pending = []  # (wid, tool, q, [(src, candidate)])
    for wid, title, inputs, widths, fmt, tools, qs, _ in workloads:
        print(f"{wid}: {title}", file=sys.stderr)
        results[wid] = {t: [] for t in tools}
        failures[wid] = {}
        for i, q in enumerate(qs):
            live = {t: f for t, f in tools.items() if t not in failures[wid]}
            med, errors = measure(live, inputs, widths, fmt, q, a.rounds, scratch, warm=(i == 0))
            failures[wid].update(errors)
            for t, (cpu, wall, rss, out) in med.items():
                sources = [p for p in inputs for _ in widths]
                files = list(zip(sources, output_paths(out, inputs, widths, fmt)))
                size = sum(f.stat().st_size for _, f in files)
                results[wid][t].append([q, None, size, cpu, wall, rss])
                pending.append((wid, t, len(results[wid][t]) - 1, files))
            print(f"  q{q}: " + ", ".join(f"{t} {m[0]*1000:.0f} ms" for t, m in med.items()), file=sys.stderr)

    # Scores after all timing (two processes, nothing else running).
    jobs = [(src, cand, cache) for _, _, _, files in pending for src, cand in files]
    # References first, one process, so that two workers never write the same one.
    for src, cand, _ in jobs:
        with Image.open(cand) as im:
            reference(src, im.size, cache)
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        scores = list(pool.map(score_one, jobs, chunksize=4))
    k = 0
    for wid, t, idx, files in pending:
        s = scores[k:k + len(files)]
        k += len(files)
        results[wid][t][idx][1] = statistics.mean(s)
    shutil.rmtree(scratch, ignore_errors=True)

    if a.json:
        Path(a.json).write_text(json.dumps({"results": results, "failures": failures}, indent=1))
    print(f"Machine: {compare.cpu_model()}, {os.cpu_count()} cores. Rounds: {a.rounds} (CPU medians), "
          f"interleaved, one warm-up round per workload. Score: SSIMULACRA2, mean over the outputs, against "
          f"Pillow's full decode + Lanczos3.\n")
    for wid, title, inputs, widths, fmt, tools, qs, targets in workloads:
        print(f"### {wid}: {title}\n")
        print("| tool | q | score | KB | CPU ms | wall ms |")
        print("|---|---:|---:|---:|---:|---:|")
        for t in tools:
            if t in failures[wid] and not results[wid][t]:
                print(f"| {t} | | failed: {failures[wid][t]} | | | |")
                continue
            for q, s, b, cpu, wall, _ in results[wid][t]:
                print(f"| {t} | {q if fmt != 'png' else 'z6'} | {s:.1f} | {b/1000:.1f} | {cpu*1000:.0f} | {wall*1000:.0f} |")
        print()
        if len(qs) < 2:
            continue
        curves = {t: as_curve(r) for t, r in results[wid].items() if len(r) >= 2}
        if "imgtool" not in curves:
            continue
        ref = curves["imgtool"]
        head = " | ".join(f"KB @{x:g} | CPU ms @{x:g}" for x in targets)
        print(f"At equal score ({wid}; interpolated from each tool's sweep; ratios are imgtool / tool):\n")
        print(f"| tool | {head} | bytes ratio @{targets[-1]:g} | CPU ratio @{targets[-1]:g} | BD-rate vs imgtool (score range) |")
        print("|---|" + "---:|" * (2 * len(targets) + 3))
        for t, c in curves.items():
            cells = cells_at(c, targets)
            x = targets[-1]
            lb_i, lb_t = interp([(p[0], math.log(p[1])) for p in ref], x), interp([(p[0], math.log(p[1])) for p in c], x)
            c_i, c_t = interp([(p[0], p[2]) for p in ref], x), interp([(p[0], p[2]) for p in c], x)
            br = "-" if None in (lb_i, lb_t) else f"{math.exp(lb_i - lb_t):.2f}"
            cr = "-" if None in (c_i, c_t) else f"{c_i / c_t:.2f}"
            bd = bd_rate(ref, c) if t != "imgtool" else None
            bds = "-" if bd is None else f"{bd[0]:+.1f} % ({bd[1]:.1f}-{bd[2]:.1f})"
            print(f"| {t} | {' | '.join(cells)} | {br} | {cr} | {bds} |")
        print()
        print("BD-rate: how many more bytes (positive) or fewer (negative) the tool spends than imgtool "
              "for the same score, averaged over the score range both sweeps cover.\n")
    if a.plot:
        plot(workloads, results, a.plot)
        shown = Path(a.plot).resolve()
        print(f"Plot: `{shown.relative_to(ROOT) if shown.is_relative_to(ROOT) else shown}`")


def plot(workloads, results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    lossy = [w for w in workloads if len(w[6]) > 1]
    if not lossy:
        return
    colours = {"imgtool": "tab:blue", "vipsthumbnail": "tab:orange", "sharp": "tab:green", "Pillow": "tab:red",
               "ImageMagick": "tab:purple"}
    variant = {"small": ("o", "--"), "mozjpeg": ("s", "--"), "speed10": ("^", ":"), "speed8": ("v", "--"),
               "effort2": ("^", ":"), "yuv444": ("D", "-."), "aom6": ("s", "-."), "aom5": ("P", "-.")}
    fig, axes = plt.subplots(2, len(lossy), figsize=(5.2 * len(lossy), 8), squeeze=False)
    for col, (wid, title, *_rest) in enumerate(lossy):
        top, bottom = axes[0][col], axes[1][col]
        for t, r in results[wid].items():
            if not r:
                continue
            r = sorted(r, key=lambda p: p[1])
            name, _, flags = t.partition(" ")
            marker, line = variant.get(flags, ("o", "--")) if flags else ("o", "-")
            style = dict(color=colours.get(name, "tab:gray"), linestyle=line, marker=marker, ms=3, label=t)
            top.plot([p[1] for p in r], [p[2] / 1000 for p in r], **style)
            bottom.plot([p[1] for p in r], [p[3] * 1000 for p in r], **style)
        top.set_title(f"{wid}: {title}", fontsize=9)
        top.set_ylabel("output KB (all outputs)")
        top.set_yscale("log")
        bottom.set_ylabel("CPU ms (whole process)")
        bottom.set_yscale("log")
        for ax in (top, bottom):
            ax.set_xlabel("SSIMULACRA2 (mean), higher is better")
            ax.grid(True, which="both", alpha=0.3)
        top.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    main()
