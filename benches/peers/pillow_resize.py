"""Pillow doing what `imgtool resize` does, the way Pillow users do it: open, let the JPEG
decoder shrink on load (draft), resize with LANCZOS, save. One process, inputs in turn.
Usage: python pillow_resize.py OUTDIR FORMAT QUALITY WIDTHS INPUT...
"""
import os
import sys

from PIL import Image

Image.MAX_IMAGE_PIXELS = None  # the giant-image workload is 280 MP
out_dir, fmt, quality, widths, *inputs = sys.argv[1:]
ext = {"jpeg": "jpg", "png": "png", "webp": "webp"}[fmt]
widths = [int(w) for w in widths.split(",")]
for path in inputs:
    stem = os.path.splitext(os.path.basename(path))[0]
    with Image.open(path) as im:
        w0, h0 = im.size
        big = max(widths)
        target = (big, max(1, round(h0 * big / w0)))
        if im.format == "JPEG":
            im.draft(im.mode, target)  # DCT scaling to at least the largest output
        im.load()
        for w in widths:
            h = max(1, round(h0 * w / w0))
            out = im.resize((w, h), Image.LANCZOS, reducing_gap=None)
            opts = {"optimize": False} if fmt == "png" else {"quality": int(quality)}
            out.save(os.path.join(out_dir, f"{stem}-{w}.{ext}"), **opts)
