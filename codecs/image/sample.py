"""Image samples: a decode of random bits over the wavefront (see `arzip.sampling`)."""

from __future__ import annotations

import copy
import io
from collections.abc import Callable

from PIL import Image

from .codec import block_subpixel_count, pixels_from_blocks


def sample(codec, bits: Callable[[int], bytes], width: int = 64, height: int = 64,
           progress=None) -> bytes:  # noqa: ANN001
    """A sampled RGB image as PNG bytes: the network and the residual mixture through the
    range-coder path (the context mixing of format 9 learns from an image being coded,
    which a sample does not have yet, and its coder cannot be tempered)."""
    codec = copy.copy(codec)
    codec.cm = None
    info = {"height": height, "width": width, "channels": 3}

    def payloads():
        for steps in codec.blocks(height, width, 3):
            count = block_subpixel_count(steps, height, width, 3)
            yield bits(count * 3 // 4 + 8), count  # at most 24 bits per subpixel

    blocks = list(codec.decode(info, payloads(), progress))
    out = io.BytesIO()
    Image.fromarray(pixels_from_blocks(blocks, height, width, 3), "RGB").save(out, "PNG")
    return out.getvalue()
