#!/usr/bin/env python3
"""Side-by-side timing of whole processes: imgtool against vipsthumbnail, sharp, Pillow and
ImageMagick, on the same inputs, making the same outputs, on the same machine, in one run.

Each workload runs every tool once per round, rounds interleaved (after one warm-up round),
and reports medians of wall time, CPU time (user+sys of the process and all its threads and
children) and peak RSS, measured with os.wait4; and the last round's output bytes and mean
SSIMULACRA2 against quality.py's reference (when run under the peers' venv). Output dimensions are compared with
imgtool's before any figure is printed; a tool that fails a workload is reported as such.

Usage:
  bash benches/peers/setup.sh            # installs the peers (idempotent)
  cargo build --release -p imgtool
  benches/peers/.venv/bin/python benches/peers/compare.py [--rounds 5] [--only W1,W5] [--tools imgtool,vipsthumbnail]

Inputs come from ../shared/corpus (see its SOURCES.md); missing ones are generated with vips
(a noisy image of the same size). W5's 50 images are made from the W1 photo (alternately
mirrored, JPEG quality 85-94). W7 and W8 take files of the differential corpus
(`bash scripts/corpus.sh` fetches it into .cache/corpus): pillow-heif's pug.heic, a 12 MP
iPhone grid (4032x3024, 48 tiles, Display P3), and Pillow's 42-frame iss634.gif, enlarged
3x by libvips to 735x735 for a 320 px output. W9 is W7's picture re-encoded as AVIF by
libvips's heifsave (libheif + libaom, Q60, effort 4) on the first run. A tool that cannot do a workload (sharp's
prebuilt libvips has no HEVC decoder; the Pillow script makes no animations) is reported as
failed, with its reason.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
EXT = {"jpeg": "jpg", "png": "png", "webp": "webp"}
DIFF_CORPUS = ROOT / ".cache" / "corpus"


def run(cmd, cwd=None):
    """Run cmd; return (wall s, cpu s, peak RSS KiB, error or None)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    err = p.stderr.read().decode(errors="replace")
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    lines = err.strip().splitlines() or [f"exit {code}"]
    # The message, not a stack trace's last frame (node prints the error before the trace).
    message = next((l for l in lines if "Error" in l), lines[-1]).strip()
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, (None if code == 0 else message[:120])


def vips_make(out, w, h, scratch):
    v = scratch / "noise.v"
    subprocess.check_call(["vips", "gaussnoise", str(v), str(w), str(h), "--sigma", "40", "--mean", "128"])
    subprocess.check_call(["vips", "bandjoin", f"{v} {v} {v}", str(scratch / "n3.v")])
    subprocess.check_call(["vips", "jpegsave", str(scratch / "n3.v"), str(out), "--Q", "90"])


def corpus_or_generated(name, w, h, scratch):
    p = CORPUS / name
    if p.exists():
        return p
    out = scratch / f"generated-{w}x{h}.jpg"
    if not out.exists():
        vips_make(out, w, h, scratch)
    return out


def batch_inputs(w1, scratch):
    d = scratch / "w5"
    d.mkdir(exist_ok=True)
    files = []
    for i in range(50):
        out = d / f"img{i:02d}.jpg"
        if not out.exists():
            src = str(w1)
            if i % 2:
                subprocess.check_call(["vips", "flip", src, str(scratch / "f.v"), "horizontal"])
                src = str(scratch / "f.v")
            subprocess.check_call(["vips", "jpegsave", src, str(out), "--Q", str(85 + i % 10), "--strip"])
        files.append(out)
    return files


def dims(path):
    w = subprocess.check_output(["vipsheader", "-f", "width", str(path)]).strip()
    h = subprocess.check_output(["vipsheader", "-f", "height", str(path)]).strip()
    return int(w), int(h)


def cpu_model():
    """The CPU's model name and its widest x86 SIMD (the ratios move with both)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or "unknown CPU"
    field = {k.strip(): v.strip() for k, _, v in (l.partition(":") for l in lines) if v}
    flags = field.get("flags", "").split()
    simd = next((f for f in ("avx512f", "avx2", "sse4_2") if f in flags), None)
    name = field.get("model name", "unknown CPU")
    return f"{name} ({simd})" if simd else name


# Each tool: (inputs, widths, fmt, quality, outdir) -> (commands, expected output paths)
def t_imgtool(binary):
    def f(inputs, widths, fmt, q, out, anim=False):
        cmd = [binary, "resize", *map(str, inputs), "--out", str(out), "--width", ",".join(map(str, widths)), "--format", fmt, "--quiet", "--force"]
        if fmt != "png":
            cmd += ["--quality", str(q)]
        if anim:
            cmd.append("--anim")
        return [cmd], [out / f"{p.stem}-{w}.{EXT[fmt]}" for p in inputs for w in widths]
    return f


def t_vips(inputs, widths, fmt, q, out, anim=False):
    opts = "[strip]" if fmt == "png" else f"[Q={q},strip]"
    names = [f"{p}[n=-1]" if anim else str(p) for p in inputs]
    cmds = [["vipsthumbnail", *names, "-s", f"{w}x", "-o", f"{out}/%s-{w}.{EXT[fmt]}{opts}"] for w in widths]
    return cmds, [out / f"{p.stem}-{w}.{EXT[fmt]}" for p in inputs for w in widths]


def t_sharp(inputs, widths, fmt, q, out, anim=False):
    script = "sharp_resize.js"
    cmd = ["env", f"SHARP_ANIMATED={int(anim)}", "node", str(HERE / script), str(out), fmt, str(q), ",".join(map(str, widths)), *map(str, inputs)]
    return [cmd], [out / f"{p.stem}-{w}.{EXT[fmt]}" for p in inputs for w in widths]


def t_pillow(inputs, widths, fmt, q, out, anim=False):
    if anim:
        return None, "pillow_resize.py makes no animations"
    cmd = [str(HERE / ".venv" / "bin" / "python"), str(HERE / "pillow_resize.py"), str(out), fmt, str(q), ",".join(map(str, widths)), *map(str, inputs)]
    return [cmd], [out / f"{p.stem}-{w}.{EXT[fmt]}" for p in inputs for w in widths]


def t_magick(inputs, widths, fmt, q, out, anim=False):
    qual = [] if fmt == "png" else ["-quality", str(q)]
    if anim:
        (inp,), (w,) = inputs, widths
        o = out / f"{inp.stem}-{w}.{EXT[fmt]}"
        return [["convert", str(inp), "-coalesce", "-resize", f"{w}x", *qual, "-strip", str(o)]], [o]
    if len(inputs) > 1:
        # mogrify: one process over the folder, ImageMagick's own batch tool (OpenMP threads).
        (w,) = widths
        cmd = ["mogrify", "-path", str(out), "-format", EXT[fmt], "-auto-orient", "-resize", f"{w}x", *qual, "-strip", *map(str, inputs)]
        return [cmd], [out / f"{p.stem}.{EXT[fmt]}" for p in inputs]
    (inp,) = inputs
    cmd = ["convert", str(inp), "-auto-orient"]
    outs = []
    for w in widths[:-1]:
        o = out / f"{inp.stem}-{w}.{EXT[fmt]}"
        cmd += ["(", "+clone", "-resize", f"{w}x", *qual, "-strip", "-write", str(o), "+delete", ")"]
        outs.append(o)
    o = out / f"{inp.stem}-{widths[-1]}.{EXT[fmt]}"
    cmd += ["-resize", f"{widths[-1]}x", *qual, "-strip", str(o)]
    return [cmd], outs + [o]


def make_scorer():
    """Mean SSIMULACRA2 of (source, output) pairs against quality.py's reference (Pillow's
    full decode + Lanczos3; an animation's first frame), or None without the scoring
    packages (run under benches/peers/.venv/bin/python, which setup.sh equips)."""
    try:
        import quality
    except ImportError as e:
        print(f"scores not computed ({e}): run with benches/peers/.venv/bin/python", file=sys.stderr)
        return None
    cache = ROOT / "target" / "peers-inputs" / "references"
    cache.mkdir(parents=True, exist_ok=True)

    def f(pairs):
        try:
            return statistics.mean(quality.score_one((src, out, cache)) for src, out in pairs)
        except Exception as e:  # noqa: BLE001 - one unscorable output must not lose the run
            print(f"not scored: {pairs[0][1].name}: {e}", file=sys.stderr)
            return None
    return f


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--imgtool", default=str(ROOT / "target" / "release" / "imgtool"))
    ap.add_argument("--only", default="", help="comma-separated workload ids, e.g. W1,W5")
    ap.add_argument("--tools", default="imgtool,vipsthumbnail,sharp,pillow,imagemagick")
    a = ap.parse_args()
    all_tools = {"imgtool": t_imgtool(a.imgtool), "vipsthumbnail": t_vips, "sharp": t_sharp, "pillow": t_pillow, "imagemagick": t_magick}
    tools = {k: all_tools[k] for k in a.tools.split(",")}
    scratch = ROOT / "target" / "peers-inputs"
    scratch.mkdir(parents=True, exist_ok=True)
    w1 = corpus_or_generated("2569067123_aca715a2ee_o.jpg", 2725, 2225, scratch)
    w2 = corpus_or_generated("synthetic-4000x3000-q90.jpg", 4000, 3000, scratch)
    png = CORPUS / "alpha-premultiply-2048x1536-paper.png"
    if not png.exists():
        png = scratch / "generated-2048x1536.png"
        if not png.exists():
            subprocess.check_call(["vips", "black", str(scratch / "b.v"), "2048", "1536", "--bands", "4"])
            subprocess.check_call(["vips", "pngsave", str(scratch / "b.v"), str(png)])
    giant = corpus_or_generated("giant-image.jpg", 20000, 14000, scratch)
    heic = DIFF_CORPUS / "heic" / "pug.heic"
    gif = scratch / "iss634-x3.gif"
    if not gif.exists() and (DIFF_CORPUS / "gif" / "iss634.gif").exists():
        subprocess.check_call(["vips", "resize", f"{DIFF_CORPUS / 'gif' / 'iss634.gif'}[n=-1]", str(gif), "3"])
    avif = scratch / "pug-av1.avif"
    if not avif.exists() and heic.exists():
        # The same 12 MP iPhone picture as W7, re-encoded as AVIF by libvips (libheif + libaom).
        subprocess.check_call(["vips", "heifsave", str(heic), str(avif), "--compression", "av1",
                               "--Q", "60", "--effort", "4"])
    workloads = [
        ("W1", "2725x2225 JPEG -> 720 px JPEG q80", [w1], [720], "jpeg"),
        ("W2", "4000x3000 JPEG -> 1600/800/200 px JPEG q80", [w2], [1600, 800, 200], "jpeg"),
        ("W3", "2048x1536 RGBA PNG -> 256 px PNG", [png], [256], "png"),
        ("W4", "4000x3000 JPEG -> 400 px WebP q80", [w2], [400], "webp"),
        ("W5", "50 x 2725x2225 JPEG -> 720 px JPEG q80", batch_inputs(w1, scratch), [720], "jpeg"),
        ("W6", "20000x14000 JPEG -> 200 px JPEG q80", [giant], [200], "jpeg"),
        ("W7", "12 MP HEIC (iPhone grid) -> 1600/800/200 px WebP q80", [heic], [1600, 800, 200], "webp"),
        ("W8", "735x735 42-frame GIF -> 320 px animated WebP q80", [gif], [320], "webp", True),
        ("W9", "12 MP AVIF (W7's picture, libaom) -> 1600/800/200 px WebP q80", [avif], [1600, 800, 200], "webp"),
    ]
    workloads = [w if len(w) == 6 else (*w, False) for w in workloads]
    workloads = [w for w in workloads if all(Path(i).exists() for i in w[2]) or print(f"{w[0]}: input missing (bash scripts/corpus.sh)")]
    if a.only:
        keep = set(a.only.split(","))
        workloads = [w for w in workloads if w[0] in keep]
    results = []
    for wid, title, inputs, widths, fmt, anim in workloads:
        samples = {t: [] for t in tools}
        errors = {}
        outputs = {}
        kept = {}
        for r in range(a.rounds + 1):
            for t, f in tools.items():
                if t in errors:
                    continue
                out = Path(tempfile.mkdtemp(prefix=f"{wid}-{t}-", dir=scratch))
                cmds, outs = f(inputs, widths, fmt, 80, out, anim)
                if cmds is None:
                    errors[t] = outs
                    shutil.rmtree(out, ignore_errors=True)
                    continue
                wall = cpu = 0.0
                rss = 0
                for c in cmds:
                    w_, c_, m_, err = run(c)
                    if err:
                        errors[t] = err
                        break
                    wall, cpu, rss = wall + w_, cpu + c_, max(rss, m_)
                if t not in errors:
                    missing = [o for o in outs if not o.exists()]
                    if missing:
                        errors[t] = f"missing output {missing[0].name}"
                    else:
                        outputs[t] = sorted(dims(o) for o in outs)
                        if r:
                            samples[t].append((wall, cpu, rss))
                        if r == a.rounds:  # the last round's outputs are kept for scoring
                            per = len(outs) // len(inputs)
                            kept[t] = (out, [(inputs[i // per], o) for i, o in enumerate(outs)])
                            continue
                shutil.rmtree(out, ignore_errors=True)
        ref = outputs.get("imgtool")
        for t, got in outputs.items():
            if ref is not None and got != ref and t not in errors:
                errors[t] = f"output sizes differ from imgtool's: {got[:3]} vs {ref[:3]}"
        med = {t: tuple(statistics.median(s[i] for s in samples[t]) for i in range(3)) for t in tools if samples[t] and t not in errors}
        # An animation is not scored: its first frame alone says little (test_anim.py compares
        # every frame against libvips).
        results.append((wid, title, len(inputs), med, errors, kept, anim))

    # Scores after every timing: the scoring imports (numpy, Pillow) would otherwise raise
    # the peak RSS every later child inherits from this process.
    scorer = make_scorer()
    for i, (wid, title, n, med, errors, kept, anim) in enumerate(results):
        quality = {}
        for t, (out, pairs) in kept.items():
            size = sum(o.stat().st_size for _, o in pairs)
            quality[t] = (size, scorer(pairs) if scorer and t not in errors and not anim else None)
            shutil.rmtree(out, ignore_errors=True)
        results[i] = (wid, title, n, med, errors, quality)

    def version(cmd):
        try:
            return subprocess.check_output(cmd, stderr=subprocess.STDOUT).decode().strip().splitlines()[0]
        except Exception as e:  # noqa: BLE001 - report, do not fail
            return f"unavailable ({e})"

    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, {cpu_model()}, {platform.platform()}")
    print(f"Versions: {version([a.imgtool, '--version'])}; {version(['vipsthumbnail', '--version'])}; "
          f"sharp {json.loads((HERE / 'node_modules/sharp/package.json').read_text())['version'] if (HERE / 'node_modules/sharp').exists() else 'missing'} "
          f"(libvips {version(['node', '-p', 'require(' + repr(str(HERE / 'node_modules/sharp')) + ').versions.vips'])}); "
          f"Pillow {version([str(HERE / '.venv/bin/python'), '-c', 'import PIL; print(PIL.__version__)'])}; "
          f"{version(['convert', '-version'])}")
    print(f"Rounds: {a.rounds} (medians), interleaved, after one warm-up round\n")
    print("| workload | tool | wall ms | CPU ms | peak RSS MB | images/s | output KB | score |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for wid, title, n, med, errors, quality in results:
        for t in tools:
            if t in med:
                wall, cpu, rss = med[t]
                kb, sc = quality.get(t, (0, None))
                sc = "n/a" if sc is None else f"{sc:.1f}"
                print(f"| {wid} {title} | {t} | {wall*1000:.0f} | {cpu*1000:.0f} | {rss/1024:.1f} | {n/wall:.1f} | {kb/1000:.1f} | {sc} |")
            else:
                print(f"| {wid} {title} | {t} | failed: {errors.get(t, 'no samples')} | | | | | |")
    peers = [t for t in tools if t != "imgtool"]
    print("\nRatios imgtool / peer (below 1 means imgtool uses less):\n")
    print("| workload | peer | CPU | wall | peak RSS |")
    print("|---|---|---:|---:|---:|")
    for wid, title, n, med, errors, _ in results:
        if "imgtool" not in med:
            continue
        i = med["imgtool"]
        for p in peers:
            if p in med:
                v = med[p]
                print(f"| {wid} | {p} | {i[1]/v[1]:.2f} | {i[0]/v[0]:.2f} | {i[2]/v[2]:.2f} |")


if __name__ == "__main__":
    main()
