#!/usr/bin/env bash
# Builds the deployable Lambda package (arm64, provided.al2023) on an x86_64 Debian machine:
# cargo-lambda cross-compiles with zig (both pinned, from PyPI, in their own virtualenv),
# with the `aom` feature (AVIF through libaom too: scripts/libaom.sh cross-builds libaom
# 3.14.1 for aarch64 first); then the result is checked: an AArch64 ELF, linked only against
# libraries Amazon Linux 2023 has, needing glibc 2.34 at most, with the pinned libaom in it.
# Prints the sizes of the binary and the zip.
# Safe to run again: installs are skipped when already present.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LAMBDA_VERSION=1.9.2
ZIG_VERSION=0.13.0 # the zig series cargo-lambda 1.9 is known to work with
VENV=.venv-package
TARGET_TRIPLE=aarch64-unknown-linux-gnu
MAX_GLIBC=2.34 # glibc of Amazon Linux 2023 (provided.al2023)
# Libraries a Rust binary may link that provided.al2023 is known to have; any other fails.
ALLOWED_LIBS="libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1 libgcc_s.so.1 ld-linux-aarch64.so.1"

fail() { echo "error: $*" >&2; exit 1; }

if ! command -v cargo >/dev/null || ! command -v rustup >/dev/null; then
  fail "cargo and rustup are required (install Rust with rustup: https://rustup.rs)"
fi
source scripts/ensure-build-tools.sh # and apt_install
# Build scripts and proc macros run on this machine and are linked by the host's cc.
command -v cc >/dev/null || apt_install gcc libc6-dev
command -v readelf >/dev/null || apt_install binutils
# dav1d (AVIF input) is built by meson with the cross file libdav1d-sys ships, which names
# Debian's aarch64 cross compiler.
command -v aarch64-linux-gnu-gcc >/dev/null || apt_install gcc-aarch64-linux-gnu
# libaom's cmake project wants a C++ compiler too (its encoder is C and NEON intrinsics).
command -v aarch64-linux-gnu-g++ >/dev/null || apt_install g++-aarch64-linux-gnu
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv

stamp="$VENV/.installed-cargo-lambda-$CARGO_LAMBDA_VERSION-ziglang-$ZIG_VERSION"
if [ ! -f "$stamp" ]; then
  echo "==> installing cargo-lambda==$CARGO_LAMBDA_VERSION ziglang==$ZIG_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check \
    "cargo-lambda==$CARGO_LAMBDA_VERSION" "ziglang==$ZIG_VERSION"
  touch "$stamp"
fi
# cargo finds `cargo-lambda` on PATH, and cargo-lambda runs zig as `python3 -m ziglang`
# with the first python3 on PATH: the virtualenv's.
export PATH="$PWD/$VENV/bin:$PATH"
zig_found="$(python3 -m ziglang version)" || fail "zig (PyPI ziglang) does not run from $VENV"
echo "==> cargo-lambda $(cargo lambda --version | awk '{print $2}'), zig $zig_found"

echo "==> rustup target add $TARGET_TRIPLE"
rustup target add "$TARGET_TRIPLE"

bash scripts/libaom.sh "$TARGET_TRIPLE"
aom_version="$(sed -n 's/^AOM_VERSION=//p' scripts/libaom.sh)"
aom_prefix="$PWD/target/libaom-$aom_version-$TARGET_TRIPLE"
# These win over .cargo/config.toml's, which name the host's build.
export LIB_AOM_STATIC_LIB_PATH="$aom_prefix/lib" LIB_AOM_INCLUDE_PATH="$aom_prefix/include" \
  LIB_AOM_PKG_CONFIG_PATH="$aom_prefix/lib/pkgconfig"

echo "==> cargo lambda build --release --arm64 --features aom (imgtool-lambda, bin bootstrap)"
cargo lambda build --release --arm64 --locked --output-format zip \
  -p imgtool-lambda --features aom --bin bootstrap

# cargo-lambda writes to <target dir>/lambda/<bin>/ (CARGO_TARGET_DIR and .cargo/config
# can move the target dir; cargo metadata knows where it is).
target_dir="$(cargo metadata --format-version 1 --no-deps --locked |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
zip="$target_dir/lambda/bootstrap/bootstrap.zip"
[ -f "$zip" ] || fail "$zip was not produced"
# With --output-format zip only the zip is written: check the binary it holds.
bin="$target_dir/lambda/bootstrap/bootstrap"
# With its mode from the zip (executable), as Lambda unpacks it.
python3 - "$zip" "$bin" <<'EOF' || fail "cannot extract bootstrap from $zip"
import os, shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("bootstrap") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
    os.chmod(sys.argv[2], (z.getinfo("bootstrap").external_attr >> 16) & 0o777)
EOF

echo "==> checking $bin"
machine="$(readelf -h "$bin" | sed -n 's/^ *Machine: *//p')"
[ "$machine" = "AArch64" ] || fail "$bin is built for '$machine', not AArch64"

needed="$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
for lib in $needed; do
  case " $ALLOWED_LIBS " in
    *" $lib "*) ;;
    *) fail "$bin needs $lib, which is not among the libraries provided.al2023 is known to have ($ALLOWED_LIBS)" ;;
  esac
done

# libaom is linked statically: its version string is in the binary, and no other libaom's.
aom_found="$({ grep -aoE 'AOMedia Project AV1 Encoder v[0-9]+\.[0-9]+\.[0-9]+' "$bin" || true; } | sort -u | tr '\n' ' ')"
[ "$aom_found" = "AOMedia Project AV1 Encoder v$aom_version " ] ||
  fail "$bin should link libaom $aom_version alone; it holds: ${aom_found:-no libaom}"

glibc="$(readelf -V "$bin" | { grep -o 'GLIBC_[0-9][0-9.]*' || true; } | sed 's/GLIBC_//' | sort -uV | tail -n 1)"
[ -n "$glibc" ] || fail "$bin requires no GLIBC_ symbol versions: not a glibc binary?"
if [ "$(printf '%s\n%s\n' "$glibc" "$MAX_GLIBC" | sort -V | tail -n 1)" != "$MAX_GLIBC" ]; then
  fail "$bin needs glibc $glibc; provided.al2023 has $MAX_GLIBC"
fi

# The zip must hold one executable named bootstrap at its root.
python3 - "$zip" <<'EOF' || fail "$zip does not hold an executable bootstrap at its root"
import sys, zipfile
entries = zipfile.ZipFile(sys.argv[1]).infolist()
ok = [e.filename for e in entries] == ["bootstrap"] and (entries[0].external_attr >> 16) & 0o111
sys.exit(0 if ok else 1)
EOF

size() {
  local bytes
  bytes="$(stat -c %s "$1")"
  awk -v b="$bytes" 'BEGIN { printf "%d bytes (%.1f MiB)", b, b / 1048576 }'
}
echo "==> AArch64 ELF; needs $(echo "$needed" | tr '\n' ' ')and glibc $glibc (at most $MAX_GLIBC); libaom $aom_version"
echo "==> binary: $bin: $(size "$bin")"
echo "==> zip:    $zip: $(size "$zip")"
