"""The classical competitors of the image codec for `arzip bench`: PNG optimised (Pillow's
optimize, and optipng -o5 when installed), WebP lossless (method 6, exact), JPEG-XL
lossless (cjxl/djxl -d 0 -e 7, when installed). A decoded image counts when its pixels
equal the original's (palette images compared as their colours)."""

from __future__ import annotations

import io
import shutil

import numpy as np
from PIL import Image

from arzip.benchmark import Contender, Content, run_tool

UNIT = "subpixel"
COMPARE_AS = {"1": "L", "P": "RGBA", "PA": "RGBA"}  # modes compared after conversion
BAND_BITS = {"I;16": 16, "I;16B": 16, "I;16L": 16, "I": 32, "F": 32}


def _open(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return im


def _pixels(im: Image.Image, mode: str) -> np.ndarray:
    """The pixels in the mode the original is compared in."""
    target = COMPARE_AS.get(mode, mode)
    return np.asarray(im if im.mode == target else im.convert(target))


def content(data: bytes) -> Content | None:
    """Height x width x bands subpixels; None if Pillow cannot read the file."""
    try:
        im = _open(data)
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        return None
    symbols = im.width * im.height * len(im.getbands())
    return Content(symbols=symbols, raw_bits=symbols * BAND_BITS.get(im.mode, 8),
                   value=_pixels(im, im.mode), meta={"mode": im.mode, "image": im})


def _pillow(name: str, fmt: str, **options) -> Contender:
    def encode(_: bytes, c: Content) -> bytes:
        out = io.BytesIO()
        c.meta["image"].save(out, fmt, **options)
        return out.getvalue()
    return Contender(name, encode, lambda blob, c: _pixels(_open(blob), c.meta["mode"]))


def _tool(name: str, encoder: list[str], decoder: list[str] | None, suffix: str) -> Contender:
    """A command-line codec: {inp} is a PNG of the image, {out} its encoding; `decoder`
    turns {inp} back into the PNG {out} (None: the encoding is read by Pillow)."""
    def encode(_: bytes, c: Content) -> bytes:
        png = io.BytesIO()
        c.meta["image"].save(png, "PNG")
        return run_tool(encoder, png.getvalue(), ".png", suffix)

    def decode(blob: bytes, c: Content) -> np.ndarray:
        png = blob if decoder is None else run_tool(decoder, blob, suffix, ".png")
        return _pixels(_open(png), c.meta["mode"])
    return Contender(name, encode, decode)


def contenders() -> tuple[list[Contender], dict[str, str]]:
    """(the available classical codecs, {codec: why it is skipped})."""
    found = [_pillow("png (Pillow optimize)", "PNG", optimize=True),
             _pillow("webp lossless -m 6", "WEBP", lossless=True, quality=100, method=6,
                     exact=True)]
    skipped = {}
    if shutil.which("optipng"):
        found.append(_tool("optipng -o5", ["optipng", "-quiet", "-o5", "{inp}", "-out",
                                           "{out}"], None, ".png"))
    else:
        skipped["optipng -o5"] = "optipng is not installed"
    if shutil.which("cjxl") and shutil.which("djxl"):
        found.append(_tool("jpeg-xl -d 0 -e 7",
                           ["cjxl", "{inp}", "{out}", "-d", "0", "-e", "7", "--quiet"],
                           ["djxl", "{inp}", "{out}", "--quiet"], ".jxl"))
    else:
        skipped["jpeg-xl -d 0 -e 7"] = "cjxl/djxl (libjxl tools) are not installed"
    return found, skipped
