#!/usr/bin/env python3
"""Side-by-side timing of whole processes: imgtool against vipsthumbnail on the same inputs.

Each workload runs every tool once per round, rounds interleaved, and reports medians of
wall time, CPU time (user+sys, all threads) and peak RSS, measured with os.wait4 on the
child. Output sizes are checked to match between tools before any figure is printed.

Usage: python3 benches/peers/compare.py [--rounds 7] [--imgtool target/release/imgtool]
Inputs come from ../shared/corpus (see its SOURCES.md); a synthetic JPEG of the same size
is generated with vips when a corpus file is absent.
"""
import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"


def run(cmd):
    """Run cmd; return (wall s, cpu s, peak RSS KiB)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"command failed: {' '.join(cmd)}\n{err}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


def input_file(name, w, h, scratch):
    p = CORPUS / name
    if p.exists():
        return p
    out = scratch / f"generated-{w}x{h}.jpg"
    if not out.exists():
        # A photo-like synthetic image of the same size (noise over a gradient).
        subprocess.check_call(["vips", "gaussnoise", str(scratch / "n.v"), str(w), str(h), "--sigma", "40", "--mean", "128"])
        subprocess.check_call(["vips", "bandjoin", f"{scratch / 'n.v'} {scratch / 'n.v'} {scratch / 'n.v'}", str(scratch / "n3.v")])
        subprocess.check_call(["vips", "jpegsave", str(scratch / "n3.v"), f"{out}", "--Q", "90"])
    return out


def dims(path):
    out = subprocess.check_output(["vipsheader", "-f", "width", str(path)]).strip()
    h = subprocess.check_output(["vipsheader", "-f", "height", str(path)]).strip()
    return int(out), int(h)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--imgtool", default=str(ROOT / "target" / "release" / "imgtool"))
    a = ap.parse_args()
    if not shutil.which("vipsthumbnail"):
        sys.exit("vipsthumbnail is missing: apt-get install libvips-tools")
    scratch = Path(tempfile.mkdtemp(prefix="imgtool-peers-"))
    w1 = input_file("2569067123_aca715a2ee_o.jpg", 2725, 2225, scratch)
    w2 = input_file("synthetic-4000x3000-q90.jpg", 4000, 3000, scratch)
    giant = input_file("giant-image.jpg", 20000, 14000, scratch)
    o = scratch / "out"

    def imgtool(inp, widths, tag):
        d = o / f"imgtool-{tag}"
        return ([[a.imgtool, "resize", str(inp), "--out", str(d), "--width", ",".join(map(str, widths)), "--format", "jpeg", "--quality", "80"]],
                [d / f"{inp.stem}-{w}.jpg" for w in widths])

    def vips(inp, widths, tag):
        d = o / f"vips-{tag}"
        d.mkdir(parents=True, exist_ok=True)
        cmds, outs = [], []
        for w in widths:
            out = d / f"{inp.stem}-{w}.jpg"
            # -s W: width W for a landscape image; strip metadata as imgtool does.
            cmds.append(["vipsthumbnail", str(inp), "-s", f"{w}x", "-o", f"{out}[Q=80,strip]"])
            outs.append(out)
        return cmds, outs

    workloads = [
        ("W1 2725x2225 JPEG -> 720 px JPEG q80", w1, [720]),
        ("W2 4000x3000 JPEG -> 1600/800/200 px JPEG q80", w2, [1600, 800, 200]),
        ("W6 20000x14000 JPEG -> 200 px JPEG q80", giant, [200]),
    ]
    tools = {"imgtool": imgtool, "vipsthumbnail": vips}
    rows = []
    for title, inp, widths in workloads:
        tag = title.split()[0]
        samples = {t: [] for t in tools}
        outputs = {}
        for r in range(a.rounds + 1):  # round 0 warms the page cache
            for t, f in tools.items():
                cmds, outs = f(inp, widths, tag)
                outputs[t] = outs
                wall = cpu = 0.0
                rss = 0
                for c in cmds:
                    w, cp, m = run(c)
                    wall, cpu, rss = wall + w, cpu + cp, max(rss, m)
                if r:
                    samples[t].append((wall, cpu, rss))
        got = {t: [dims(p) for p in outs] for t, outs in outputs.items()}
        if got["imgtool"] != got["vipsthumbnail"]:
            sys.exit(f"{title}: output sizes differ: {got}")
        med = {t: tuple(statistics.median(s[i] for s in samples[t]) for i in range(3)) for t in tools}
        rows.append((title, med, got["imgtool"]))

    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"vipsthumbnail: {subprocess.check_output(['vipsthumbnail', '--version']).decode().strip()}")
    print(f"imgtool: {subprocess.check_output([a.imgtool, '--version']).decode().strip()}")
    print(f"Rounds: {a.rounds} (medians), interleaved, after one warm-up round\n")
    print("| workload | outputs | tool | wall ms | CPU ms | peak RSS MB |")
    print("|---|---|---|---:|---:|---:|")
    for title, med, sizes in rows:
        for t in tools:
            wall, cpu, rss = med[t]
            print(f"| {title} | {' '.join(f'{w}x{h}' for w, h in sizes)} | {t} | {wall*1000:.0f} | {cpu*1000:.0f} | {rss/1024:.1f} |")
    print("\n| workload | CPU imgtool/vips | wall imgtool/vips | RSS imgtool/vips |")
    print("|---|---:|---:|---:|")
    for title, med, _ in rows:
        i, v = med["imgtool"], med["vipsthumbnail"]
        print(f"| {title} | {i[1]/v[1]:.2f} | {i[0]/v[0]:.2f} | {i[2]/v[2]:.2f} |")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
