"""Pillow doing what `imgtool resize` does, the way Pillow users do it: open, let the JPEG
decoder shrink on load (draft), resize with LANCZOS, save. One process, inputs in turn.
Usage: python pillow_resize.py OUTDIR FORMAT QUALITY WIDTHS INPUT...
FORMAT is jpeg, png, webp or avif (Pillow's own AVIF plugin, its default speed). PILLOW_PNG_LEVEL=N
sets PNG's zlib level (Pillow's default is 6).
"""
import os
import sys

from PIL import Image, ImageOps

Image.MAX_IMAGE_PIXELS = None  # the giant-image workload is 280 MP
out_dir, fmt, quality, widths, *inputs = sys.argv[1:]
ext = {"jpeg": "jpg", "png": "png", "webp": "webp", "avif": "avif"}[fmt]
png_level = os.environ.get("PILLOW_PNG_LEVEL")
widths = [int(w) for w in widths.split(",")]
for path in inputs:
    stem = os.path.splitext(os.path.basename(path))[0]
    with Image.open(path) as im:
        w0, h0 = im.size
        turned = im.getexif().get(0x0112, 1) in (5, 6, 7, 8)  # output width is along h0
        big = max(widths)
        if turned:
            target = (max(1, round(w0 * big / h0)), big)
        else:
            target = (big, max(1, round(h0 * big / w0)))
        if im.format == "JPEG":
            im.draft(im.mode, target)  # DCT scaling to at least the largest output
        im.load()
        im = ImageOps.exif_transpose(im)  # EXIF orientation, as the other tools apply it
        w0, h0 = im.size
        for w in widths:
            h = max(1, round(h0 * w / w0))
            out = im.resize((w, h), Image.LANCZOS, reducing_gap=None)
            if fmt == "png":
                opts = {"optimize": False}
                if png_level is not None:
                    opts["compress_level"] = int(png_level)
            else:
                opts = {"quality": int(quality)}
            out.save(os.path.join(out_dir, f"{stem}-{w}.{ext}"), **opts)
