"""`small` (mozjpeg's trellis quantisation and scan optimisation) against the default JPEG
encoding, on the corpus photos at 720 px: bytes, and SSIMULACRA2 against imgtool's lossless
(PNG) render of the same size, for `small` at two qualities and the default at q80.

    bash scripts/corpus.sh && cargo build -p imgtool --release
    .venv-test/bin/python benches/small_jpeg.py [target/release/imgtool]
"""

import pathlib
import statistics
import subprocess
import sys
import tempfile

from ssimulacra2 import compute_ssimulacra2

IMGTOOL = sys.argv[1] if len(sys.argv) > 1 else "target/release/imgtool"
PHOTOS = sorted(p for p in pathlib.Path(".cache/corpus/photos").glob("*.jpg")
                if "short" not in p.name)
SPECS = ["720,png", "720,jpeg,q80", "720,jpeg,q80,small", "720,jpeg,q85,small"]


def render(src: pathlib.Path, spec: str, tmp: pathlib.Path) -> pathlib.Path:
    out = tmp / src.stem / spec.replace(",", "_")
    subprocess.run([IMGTOOL, "resize", str(src), "--out", str(out), "--spec", spec,
                    "--quiet", "--force"], check=True)
    return next(out.iterdir())


def main() -> None:
    ratios: dict[str, list[float]] = {s: [] for s in SPECS[2:]}
    diffs: dict[str, list[float]] = {s: [] for s in SPECS[2:]}
    with tempfile.TemporaryDirectory() as t:
        tmp = pathlib.Path(t)
        for p in PHOTOS:
            ref, base = render(p, SPECS[0], tmp), render(p, SPECS[1], tmp)
            base_score = compute_ssimulacra2(str(ref), str(base))
            line = [f"{p.name}: q80 {base.stat().st_size} B {base_score:.1f}"]
            for s in SPECS[2:]:
                f = render(p, s, tmp)
                score = compute_ssimulacra2(str(ref), str(f))
                ratios[s].append(f.stat().st_size / base.stat().st_size)
                diffs[s].append(score - base_score)
                line.append(f"{s.split(',', 2)[2]} {f.stat().st_size} B {score:.1f}")
            print("; ".join(line))
    for s in SPECS[2:]:
        print(f"{s}: median bytes {statistics.median(ratios[s]):.3f} of q80's, "
              f"median score {statistics.median(diffs[s]):+.2f} ({len(PHOTOS)} photos)")


if __name__ == "__main__":
    main()
