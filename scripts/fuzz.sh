#!/usr/bin/env bash
# Fuzz one target of fuzz/ (probe, render or spec) for a number of seconds.
#
#   bash scripts/fuzz.sh render 3600
#
# Needs rustup (a nightly toolchain is installed if missing) and installs cargo-fuzz (pinned)
# when absent. The working corpus is fuzz/corpus/TARGET (kept between runs, not committed);
# the fixtures are read as seeds and never written to. A finding stops the run, lands in
# fuzz/artifacts/TARGET/ and the exit code is non-zero; reproduce it with
# `cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/<file>`, then commit the input under
# fixtures/ with a test. ASan's own overhead is ~550 MB of RSS, hence the 1024 MB limit: a
# decoder that goes past the targets' low image limits shows up as an out-of-memory finding.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?usage: scripts/fuzz.sh probe|render|spec SECONDS}"
seconds="${2:-600}"
case "$target" in probe | render | spec) ;; *) echo "unknown target $target" >&2; exit 2 ;; esac
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --version 0.13.2 --locked
mkdir -p "fuzz/corpus/$target"
seeds=(fixtures)
if [ "$target" = spec ]; then
  seeds=()
  i=0
  for s in "1600,800,200,webp,q75" "400x300,cover,north,avif,q60;64,png,lanczos3" \
    "1200,jpeg,q82,keep;800x800,inside,same" "32x32,fill,webp;2000x10,exact,southwest,box;orig,progressive,upscale"; do
    printf '%s' "$s" >"fuzz/corpus/spec/seed-$i"
    i=$((i + 1))
  done
fi
exec cargo +nightly fuzz run -O "$target" "fuzz/corpus/$target" ${seeds[@]+"${seeds[@]}"} -- \
  -rss_limit_mb=1024 -max_total_time="$seconds" -timeout=10 -print_final_stats=1
