#!/usr/bin/env bash
# Installs the peers for compare.py, idempotently, from the registries:
# Debian libvips-tools (vipsthumbnail) and imagemagick, Pillow into benches/peers/.venv,
# sharp into benches/peers/node_modules (versions pinned here and in package.json); and for
# quality.py's scores and plot, ssimulacra2, numpy, scipy and matplotlib into the same venv.
set -euo pipefail
cd "$(dirname "$0")"
PILLOW_VERSION=13.0.0
SCORING="numpy==2.4.6 scipy==1.17.1 ssimulacra2==0.3.0 matplotlib==3.11.2 pillow-heif==1.8.1"
missing=()
command -v vipsthumbnail >/dev/null || missing+=(libvips-tools)
command -v convert >/dev/null && convert -version 2>/dev/null | grep -q ImageMagick || missing+=(imagemagick)
command -v node >/dev/null || missing+=(nodejs npm)
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import PIL, sys; sys.exit(PIL.__version__ != '$PILLOW_VERSION')" 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check "pillow==$PILLOW_VERSION"
fi
if ! .venv/bin/python -c "import ssimulacra2, matplotlib, scipy, pillow_heif" 2>/dev/null; then
  # shellcheck disable=SC2086
  .venv/bin/pip install -q --disable-pip-version-check $SCORING
fi
if [ ! -d node_modules/sharp ]; then
  npm install --no-audit --no-fund --silent
fi
echo "peers ready: $(vipsthumbnail --version), $(convert -version | head -1 | cut -d' ' -f2-3), Pillow $(.venv/bin/python -c 'import PIL; print(PIL.__version__)'), sharp $(node -p "require('./node_modules/sharp/package.json').version" 2>/dev/null || node -p "JSON.parse(require('fs').readFileSync('node_modules/sharp/package.json')).version") (libvips $(node -p "require('sharp').versions.vips"))"
