#!/usr/bin/env bash
# Sourced by the set-up scripts: installs what building the codecs needs from Debian when it
# is missing, and fails loudly if it cannot: nasm (the SIMD in mozjpeg, rav1e and dav1d),
# meson and ninja (libdav1d-sys builds the AV1 decoder dav1d from its vendored source).
need=()
command -v nasm >/dev/null || need+=(nasm)
command -v meson >/dev/null || need+=(meson)
command -v ninja >/dev/null || need+=(ninja-build)
if [ "${#need[@]}" -gt 0 ]; then
  echo "==> installing ${need[*]} (Debian)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
for tool in nasm meson ninja; do
  command -v "$tool" >/dev/null || { echo "$tool is required to build the codecs" >&2; exit 1; }
done
