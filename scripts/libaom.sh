#!/usr/bin/env bash
# Builds libaom 3.14.1 (static, encoder only) from Debian's copy of its release tarball,
# pinned by sha256, into target/libaom-3.14.1, where .cargo/config.toml points libaom-sys
# (LIB_AOM_*) for builds with the `aom` feature. Run it once before such a build; it does
# nothing when the library is there. libaom 3.14 has the still-image tuning `tune=iq`
# (3.12 and later) that imgcore's libaom path uses. Needs python3 (the download), cmake, make,
# a C++ compiler and nasm (scripts/ensure-build-tools.sh).
#
#   bash scripts/libaom.sh                            # for this machine
#   bash scripts/libaom.sh aarch64-unknown-linux-gnu  # for the Lambda's arm64 package
#
# The second cross-compiles with Debian's aarch64-linux-gnu-gcc/g++ and libaom's own cmake
# toolchain file into target/libaom-3.14.1-aarch64-unknown-linux-gnu; scripts/package.sh
# points LIB_AOM_* there for its build (the shell's variables win over .cargo/config.toml's).
set -euo pipefail
AOM_VERSION=3.14.1
AOM_SHA256=4ef9882eda023582499511b845f4d4368a34c9886f545a7eea4ca20799d3c161
# Debian's pool keeps a tarball while a Debian suite (here: unstable) carries that version;
# snapshot.debian.org keeps it for good (the second address; this build machine reaches only
# the first). The sha256 pin checks whichever answers.
AOM_URLS=(
  "http://deb.debian.org/debian/pool/main/a/aom/aom_${AOM_VERSION}.orig.tar.xz"
  "https://snapshot.debian.org/archive/debian/20261201T000000Z/pool/main/a/aom/aom_${AOM_VERSION}.orig.tar.xz"
)
root="$(cd "$(dirname "$0")/.." && pwd)"
prefix="$root/target/libaom-$AOM_VERSION"
toolchain="" # libaom's cmake toolchain file for a cross build, in its source tree
case "${1:-}" in
  "") ;;
  aarch64-unknown-linux-gnu)
    prefix="$prefix-$1"
    toolchain=cmake/toolchains/arm64-linux-gcc.cmake # NEON: no assembler needed
    for tool in aarch64-linux-gnu-gcc aarch64-linux-gnu-g++; do
      command -v "$tool" >/dev/null || {
        echo "libaom.sh: $tool is missing (Debian: gcc-aarch64-linux-gnu g++-aarch64-linux-gnu)" >&2
        exit 1
      }
    done
    ;;
  *)
    echo "libaom.sh: no cross build for '$1' (known: aarch64-unknown-linux-gnu)" >&2
    exit 2
    ;;
esac
grep -q "target/libaom-$AOM_VERSION/lib\"" "$root/.cargo/config.toml" || {
  echo "libaom.sh: .cargo/config.toml does not point at libaom $AOM_VERSION" >&2
  exit 1
}
[ -f "$prefix/lib/libaom.a" ] && exit 0

echo "==> building libaom $AOM_VERSION (static, encoder only) into $prefix"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 - "$work/aom.tar.xz" "${AOM_URLS[@]}" <<'PY'
import sys, urllib.request
for url in sys.argv[2:]:
    try:
        with urllib.request.urlopen(url, timeout=120) as r:
            data = r.read()
    except OSError as e:
        print(f"libaom.sh: {url}: {e}", file=sys.stderr)
        continue
    open(sys.argv[1], "wb").write(data)
    break
else:
    sys.exit("libaom.sh: no address gave the tarball")
PY
echo "$AOM_SHA256  $work/aom.tar.xz" | sha256sum -c --quiet -
tar -xJf "$work/aom.tar.xz" -C "$work"
# libaom-sys's own switches, but for the decoder, which imgcore does not use; position-
# independent code, as Rust links PIE executables.
cross=()
[ -z "$toolchain" ] || cross=(-DCMAKE_TOOLCHAIN_FILE="$work/$toolchain")
cmake -S "$work" -B "$work/_build" ${cross[@]+"${cross[@]}"} -DCMAKE_BUILD_TYPE=Release -DCONFIG_PIC=1 \
  -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib \
  -DENABLE_DOCS=0 -DENABLE_EXAMPLES=0 -DENABLE_TESTDATA=0 -DENABLE_TESTS=0 -DENABLE_TOOLS=0 \
  -DCONFIG_AV1_DECODER=0 >"$work/cmake.log" 2>&1 || { tail -n 30 "$work/cmake.log" >&2; exit 1; }
cmake --build "$work/_build" -j "$(nproc)" >"$work/build.log" 2>&1 \
  || { tail -n 30 "$work/build.log" >&2; exit 1; }
# Installed beside its final place, which only a whole install takes (aom.pc names the final one).
rm -rf "$prefix.partial"
cmake --install "$work/_build" --prefix "$prefix.partial" >/dev/null
rm -rf "$prefix"
mv "$prefix.partial" "$prefix"
