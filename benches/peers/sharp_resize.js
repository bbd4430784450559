// sharp doing what `imgtool resize` does: one process, every input, every width.
// Usage: node sharp_resize.js OUTDIR FORMAT QUALITY WIDTHS INPUT...
// (WIDTHS comma-separated; FORMAT jpeg|png|webp|avif; outputs OUTDIR/<stem>-<w>.<ext>)
// Environment: SHARP_ANIMATED=1 keeps every frame (sharp's `animated` input option);
// SHARP_MOZJPEG=1 sets `mozjpeg: true` on JPEG output (trellis quantisation and the other
// mozjpeg size tools); SHARP_AVIF_EFFORT=N sets AVIF's `effort` (0-9, sharp's default 4);
// SHARP_PNG_LEVEL=N sets PNG's zlib `compressionLevel` (sharp's
// default is 6).
const sharp = require("sharp");
const path = require("path");
const [outDir, format, quality, widths, ...inputs] = process.argv.slice(2);
const ext = { jpeg: "jpg", png: "png", webp: "webp", avif: "avif" }[format];
sharp.cache(false);
function encode(p) {
  if (format === "png") {
    const level = process.env.SHARP_PNG_LEVEL;
    return p.png(level === undefined ? {} : { compressionLevel: Number(level) });
  }
  const options = { quality: Number(quality) };
  if (format === "jpeg" && process.env.SHARP_MOZJPEG === "1") options.mozjpeg = true;
  if (format === "avif" && process.env.SHARP_AVIF_EFFORT !== undefined) {
    options.effort = Number(process.env.SHARP_AVIF_EFFORT);
  }
  return p[format](options);
}
async function one(input) {
  const stem = path.basename(input, path.extname(input));
  const animated = process.env.SHARP_ANIMATED === "1";
  // autoOrient: EXIF orientation applied, as imgtool, vipsthumbnail and ImageMagick's -auto-orient do.
  const src = sharp(input, { limitInputPixels: false, animated, autoOrient: true });
  await Promise.all(
    widths.split(",").map((w) => {
      const p = src.clone().resize({ width: Number(w), withoutEnlargement: true });
      return encode(p).toFile(path.join(outDir, `${stem}-${w}.${ext}`));
    })
  );
}
Promise.all(inputs.map(one)).catch((e) => {
  console.error(e);
  process.exit(1);
});
