#!/usr/bin/env bash
# The main job on the bundled images: `imgtool resize` over fixtures/ (the deliberately bad
# files in fixtures/bad are left out), writing 1600/800/200 px WebP renditions to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-build-tools.sh
cargo run --release --locked -p imgtool -- resize fixtures --exclude 'bad/**' --out out --width 1600,800,200 --format webp "$@"
