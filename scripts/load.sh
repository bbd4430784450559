#!/usr/bin/env bash
# Load run: N objects (default 1000) through the real handler against a local S3/DynamoDB
# server; checks every record and rendition, prints throughput and peak memory.
#   bash scripts/load.sh [N]
# Needs the test tools (`bash scripts/test.sh` installs them into .venv-test).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-test
[ -x "$VENV/bin/moto_server" ] || { echo "run bash scripts/test.sh once first (it installs moto)" >&2; exit 2; }
cargo build --locked -q -p imgtool-lambda --example load
source scripts/moto.sh
export AWS_ENDPOINT_URL="$IMGTOOL_TEST_AWS_ENDPOINT"
/usr/bin/time -f "load process: %e s wall, %U s user, %S s sys, %M KB peak RSS" \
  target/debug/examples/load "${1:-1000}"
