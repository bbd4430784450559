#!/usr/bin/env bash
# The test command: installs what the tests need (pinned), starts the local AWS API server
# (moto) on a free loopback port, runs every test of the workspace, lints the SAM template,
# and stops the server. Safe to run again: installs are skipped when already present.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION=5.2.5
CARGO_LAMBDA_VERSION=1.9.2
CFN_LINT_VERSION=1.58.0
VENV=.venv-test

source scripts/ensure-build-tools.sh
python3 -c 'import venv, ensurepip' 2>/dev/null || {
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
}

stamp="$VENV/.installed-$MOTO_VERSION-$CARGO_LAMBDA_VERSION-$CFN_LINT_VERSION"
if [ ! -f "$stamp" ]; then
  echo "==> installing moto[server]==$MOTO_VERSION cargo-lambda==$CARGO_LAMBDA_VERSION cfn-lint==$CFN_LINT_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check \
    "moto[server]==$MOTO_VERSION" "cargo-lambda==$CARGO_LAMBDA_VERSION" "cfn-lint==$CFN_LINT_VERSION"
  touch "$stamp"
fi
export PATH="$PWD/$VENV/bin:$PATH"

# Build everything once (one profile for all tests), before the server starts.
echo "==> building tests"
cargo test --workspace --locked --no-run
# The emulator test runs `cargo run --bin bootstrap` (cargo lambda watch), which resolves
# features for that package alone: build that binary now so the first invoke starts at once.
cargo build -p imgtool-lambda --bin bootstrap --locked

source scripts/moto.sh

echo "==> cargo test"
cargo test --workspace --locked

if [ -f template.yaml ]; then
  echo "==> cfn-lint template.yaml"
  cfn-lint template.yaml
fi
echo "==> all tests passed"
