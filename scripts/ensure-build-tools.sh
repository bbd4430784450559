#!/usr/bin/env bash
# Sourced by the set-up scripts: installs what building the codecs needs (nasm: the SIMD in
# mozjpeg and rav1e) from Debian when it is missing, and fails loudly if it cannot.
if ! command -v nasm >/dev/null; then
  echo "==> installing nasm (Debian)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nasm >/dev/null
fi
command -v nasm >/dev/null || { echo "nasm is required to build the SIMD codecs" >&2; exit 1; }
