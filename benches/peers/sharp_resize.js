// sharp doing what `imgtool resize` does: one process, every input, every width.
// Usage: node sharp_resize.js OUTDIR FORMAT QUALITY WIDTHS INPUT...
// (WIDTHS comma-separated; FORMAT jpeg|png|webp; outputs OUTDIR/<stem>-<w>.<ext>)
const sharp = require("sharp");
const path = require("path");
const [outDir, format, quality, widths, ...inputs] = process.argv.slice(2);
const ext = { jpeg: "jpg", png: "png", webp: "webp" }[format];
sharp.cache(false);
async function one(input) {
  const stem = path.basename(input, path.extname(input));
  // SHARP_ANIMATED=1: every frame (sharp's `animated` input option).
  const animated = process.env.SHARP_ANIMATED === "1";
  const src = sharp(input, { limitInputPixels: false, animated });
  await Promise.all(
    widths.split(",").map((w) => {
      let p = src.clone().resize({ width: Number(w), withoutEnlargement: true });
      p = format === "png" ? p.png() : p[format]({ quality: Number(quality) });
      return p.toFile(path.join(outDir, `${stem}-${w}.${ext}`));
    })
  );
}
Promise.all(inputs.map(one)).catch((e) => {
  console.error(e);
  process.exit(1);
});
