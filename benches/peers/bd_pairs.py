"""BD-rates between any two tools of one workload, from quality.py's --json output (whose
tables give each tool against imgtool only).

Usage:
  benches/peers/.venv/bin/python benches/peers/bd_pairs.py target/quality.json A \
      "imgtool aom5" sharp vipsthumbnail
prints the first tool's BD-rate against each of the others (negative: fewer bytes at equal
score), over the score range both sweeps cover, computed as quality.py computes its own.
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality  # noqa: E402


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    path, workload, tool, *others = sys.argv[1:]
    rows = json.loads(Path(path).read_text())["results"][workload]
    curve = {t: quality.as_curve(r) for t, r in rows.items()}
    for other in others:
        r = quality.bd_rate(curve[other], curve[tool])
        if r is None:
            print(f"{tool} vs {other}: sweeps do not overlap")
        else:
            print(f"{tool} vs {other}: {r[0]:+.1f} % (scores {r[1]:.1f}-{r[2]:.1f})")


if __name__ == "__main__":
    main()
