#!/usr/bin/env bash
# Time and peak memory of the release imgtool on every hostile fixture, one process each:
# fixtures/bad/ plus the cases too large to commit (written to target/adversarial/).
# Prints a markdown table. Exit code 1 if any run crashed (signal or exit code other than
# 0/1) or went over the memory bound (ADVERSARIAL_MAX_RSS_MB, default 256).
#
#   bash scripts/adversarial.sh
set -euo pipefail
cd "$(dirname "$0")/.."
max_mb="${ADVERSARIAL_MAX_RSS_MB:-256}"
cargo build --release --locked -p imgtool -q
cargo run --release --locked -q -p imgcore --example make_fixtures -- --large target/adversarial >/dev/null
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
bad=0
echo "| input | bytes | exit | seconds | peak RSS MB | result |"
echo "|---|---:|---:|---:|---:|---|"
for f in fixtures/bad/* target/adversarial/*; do
  set +e
  /usr/bin/time -f "%e %M" -o "$out/time" target/release/imgtool resize "$f" \
    --out "$out/o" --width 200 --format jpeg --quiet --force 2>"$out/err" >/dev/null
  code=$?
  set -e
  read -r secs kb < <(tail -n 1 "$out/time") || true
  kb="${kb:-0}"
  mb=$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }')
  msg=$(grep -v '^[0-9]\+ succeeded' "$out/err" | head -n 1 | sed "s|$f: ||; s/|/\\\\|/g" | cut -c1-110 || true)
  [ "$code" = 0 ] && msg="rendered"
  echo "| ${f#*/} | $(stat -c %s "$f") | $code | $secs | $mb | $msg |"
  if [ "$code" -gt 1 ] || [ "$kb" -gt $((max_mb * 1024)) ]; then bad=1; fi
  rm -rf "$out/o"
done
exit "$bad"
