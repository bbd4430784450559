"""Score the shrink-on-load experiment: SSIMULACRA2 of each rule's output against the
full-decode Lanczos3 reference, beside the render's CPU time; prints markdown tables.

  cargo run --release -p imgcore --example shrink_rule -- OUT PHOTO...
  python3 benches/shrink/score.py OUT
"""

import csv
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "differential"))
from oracle import score  # noqa: E402

out = Path(sys.argv[1])
rows = list(csv.DictReader(open(out / "timings.csv")))
rules = [r for r in dict.fromkeys(row["rule"] for row in rows) if r != "full"]
by = {(r["photo"], r["width"], r["rule"]): r for r in rows}
photos = list(dict.fromkeys(r["photo"] for r in rows))
for width in ("720", "256"):
    print(f"\n### {width} px: SSIMULACRA2 vs full decode (decode scale 1/d), CPU ms\n")
    print("| photo | " + " | ".join(rules) + " | full decode CPU |")
    print("|---|" + "---|" * (len(rules) + 1))
    per_rule = {r: [] for r in rules}
    cpu = {r: [] for r in rules + ["full"]}
    for p in photos:
        ref = out / f"{p}.{width}.full.png"
        cells = []
        for rule in rules:
            row = by[(p, width, rule)]
            s = score(ref, out / f"{p}.{width}.{rule}.png")
            per_rule[rule].append(s)
            cpu[rule].append(float(row["cpu_ms"]))
            cells.append(f"{s:.1f} (1/{row['decode_shrink']}, {float(row['cpu_ms']):.0f})")
        cpu["full"].append(float(by[(p, width, "full")]["cpu_ms"]))
        print(f"| {p} | " + " | ".join(cells) + f" | {cpu['full'][-1]:.0f} |")
    print("| **mean score / min score / total CPU ms** | " + " | ".join(
        f"{statistics.mean(per_rule[r]):.1f} / {min(per_rule[r]):.1f} / {sum(cpu[r]):.0f}"
        for r in rules) + f" | {sum(cpu['full']):.0f} |")
