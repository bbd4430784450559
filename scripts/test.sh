#!/usr/bin/env bash
# The test command: installs what the tests need (pinned), builds the arm64 Lambda package,
# starts the local AWS API server (moto) on a free loopback port, runs every test of the
# workspace, lints the SAM template, and stops the server. Safe to run again: installs are skipped when already present.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION=5.2.5
CARGO_LAMBDA_VERSION=1.9.2
CFN_LINT_VERSION=1.58.0
CHECKOV_VERSION=3.3.30
# The differential suite's reference and metric (tests/differential).
PY_DIFF="Pillow==13.0.0 numpy==2.4.6 scipy==1.17.1 ssimulacra2==0.3.0 pytest==9.2.0 pillow-heif==1.8.1"
VIPS_SERIES=8.14 # Debian 12's libvips-tools; the reference the suite's floors were set with
VENV=.venv-test

source scripts/ensure-build-tools.sh # and apt_install
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv

stamp="$VENV/.installed-$MOTO_VERSION-$CARGO_LAMBDA_VERSION-$CFN_LINT_VERSION-$CHECKOV_VERSION-$(echo "$PY_DIFF" | tr ' =' '_-')"
if [ ! -f "$stamp" ]; then
  echo "==> installing moto[server]==$MOTO_VERSION cargo-lambda==$CARGO_LAMBDA_VERSION cfn-lint==$CFN_LINT_VERSION $PY_DIFF into $VENV"
  python3 -m venv "$VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install -q --disable-pip-version-check \
    "moto[server]==$MOTO_VERSION" "cargo-lambda==$CARGO_LAMBDA_VERSION" "cfn-lint==$CFN_LINT_VERSION" $PY_DIFF
  # checkov pins its own dependencies, some older than moto's: a virtualenv of its own.
  python3 -m venv "$VENV/checkov"
  "$VENV/checkov/bin/pip" install -q --disable-pip-version-check "checkov==$CHECKOV_VERSION"
  touch "$stamp"
fi
command -v vipsthumbnail >/dev/null || apt_install libvips-tools
# libheif's own decoder (libheif + libde265): the HEIC suite's reference.
command -v heif-convert >/dev/null || apt_install libheif-examples
if ! command -v avifenc >/dev/null || ! command -v avifdec >/dev/null || ! command -v cjxl >/dev/null; then
  # Encoders the format tests make files with at test time: libavif's avifenc (0.11,
  # libaom; AVIF grids) and libjxl's cjxl (0.7; JPEG XL orientation and animation); and
  # libavif's avifdec, which reads imgtool's AVIF output back.
  apt_install libavif-bin libjxl-tools
fi
case "$(vips --version)" in
  "vips-$VIPS_SERIES".*) ;;
  *) echo "the differential suite's floors were set with libvips $VIPS_SERIES; found $(vips --version)" >&2; exit 1 ;;
esac
bash scripts/corpus.sh
export PATH="$PWD/$VENV/bin:$PATH"

# Build everything once (one profile for all tests), before the server starts.
echo "==> building tests"
cargo test --workspace --locked --no-run
# The emulator test runs `cargo run --bin bootstrap` (cargo lambda watch), which resolves
# features for that package alone: build that binary now so the first invoke starts at once.
cargo build -p imgtool-lambda --bin bootstrap --locked
# imgcore's AVIF tests once more with libaom built in (feature `aom`): they run every case
# through both encoders, with the pinned libaom that scripts/libaom.sh builds.
bash scripts/libaom.sh
cargo test -p imgcore --features aom --locked --lib --no-run
# The differential suite's imgtool, with libaom (the step before the suite only puts it back
# in target/debug, where `cargo test` puts the build without the feature).
cargo build -p imgtool --features aom --locked
# The deployable arm64 package (with libaom), built and checked by package.sh; a Lambda test
# runs it under qemu-user against the runtime API emulator and the local server.
bash scripts/package.sh
command -v qemu-aarch64 >/dev/null || apt_install qemu-user

source scripts/moto.sh

echo "==> cargo test"
cargo test --workspace --locked
echo "==> imgcore with libaom (feature aom)"
cargo test -p imgcore --features aom --locked --lib

echo "==> differential suite: imgtool against libvips and Pillow on the real-world corpus"
# The suite's imgtool has libaom too, so its AVIF output cases run through both encoders.
cargo build -p imgtool --features aom --locked
IMGTOOL_BIN="$PWD/target/debug/imgtool" IMGTOOL_EXPECT_AOM=1 "$VENV/bin/python" -m pytest \
  tests/differential -q -p no:cacheprovider

echo "==> cfn-lint template.yaml"
cfn-lint template.yaml
echo "==> checkov template.yaml (skipped checks and their reasons: .checkov.yaml)"
"$VENV/checkov/bin/checkov" -f template.yaml --framework cloudformation --compact --quiet \
  --skip-download --config-file .checkov.yaml
echo "==> all tests passed"
