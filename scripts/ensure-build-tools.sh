#!/usr/bin/env bash
# Sourced by the set-up scripts: installs what building the codecs needs from Debian when it
# is missing, and fails loudly if it cannot: nasm (the SIMD in mozjpeg, rav1e, dav1d and
# libaom), meson and ninja (libdav1d-sys builds the AV1 decoder dav1d from its vendored source)
# and cmake with make and a C++ compiler (libaom-sys builds libaom, the optional second AVIF
# encoder, from its source; its cmake project declares C++).

# apt_install PACKAGE...: installs Debian packages, as root or through sudo (apt-get update
# once per script). The set-up scripts that source this file use it too.
apt_install() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "==> installing $* (Debian)"
  if [ -z "${apt_updated:-}" ]; then $sudo apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

need=()
command -v nasm >/dev/null || need+=(nasm)
command -v meson >/dev/null || need+=(meson)
command -v ninja >/dev/null || need+=(ninja-build)
command -v cmake >/dev/null || need+=(cmake)
command -v make >/dev/null || need+=(make)
command -v c++ >/dev/null || need+=(g++)
[ "${#need[@]}" -eq 0 ] || apt_install "${need[@]}"
for tool in nasm meson ninja cmake make c++; do
  command -v "$tool" >/dev/null || { echo "$tool is required to build the codecs" >&2; exit 1; }
done
