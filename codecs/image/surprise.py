"""The image likelihood map: a heat map PNG of the bits of every pixel, the size of the
image (grey where the pixels were not sampled)."""

from __future__ import annotations

import numpy as np
from PIL import Image, PngImagePlugin

from arzip.plots import heat_colors

ROW = "image row"
SUFFIX = ".png"


def render(evaluation, path: str) -> str:
    """Write the map; returns its colour scale in words."""
    per_pixel = evaluation.bits.sum(axis=2)  # NaN stays NaN where not sampled
    finite = per_pixel[np.isfinite(per_pixel)]
    vmax = float(np.percentile(finite, 99)) if finite.size else 1.0
    scale = (f"bits/pixel heat map {per_pixel.shape[1]}x{per_pixel.shape[0]}: dark 0 -> "
             f"bright {vmax:.2f} bits/pixel (99th percentile and above), grey = not sampled")
    meta = PngImagePlugin.PngInfo()
    meta.add_text("Description", f"{scale}; model {evaluation.model}; {evaluation.sampling}")
    Image.fromarray(heat_colors(per_pixel, vmax), "RGB").save(path, "PNG", pnginfo=meta)
    return scale
