"""Audio samples: a decode of random bits, one mono channel (see `arzip.sampling`)."""

from __future__ import annotations

import copy
import io
from collections.abc import Callable

import numpy as np
import soundfile as sf


def sample(codec, bits: Callable[[int], bytes], seconds: float = 2.0, rate: int = 16000,
           progress=None) -> bytes:  # noqa: ANN001
    """Sampled 16-bit mono audio as WAV bytes, through the range-coder path (the context
    mixing of format 10 learns from a signal being coded, and its coder cannot be
    tempered)."""
    codec = copy.copy(codec)
    codec.cm = None
    frames = int(round(seconds * rate))
    info = {"frames": frames, "channels": 1, "rate": rate}

    def payloads():
        for block in codec.blocks(frames):
            # a sample takes at most 24 (coarse) + 16 (offset or escape) bits of the stream
            yield bits(2 * len(block) + 8), 2 * len(block)

    raw = b"".join(codec.decode(info, payloads(), progress))
    out = io.BytesIO()
    sf.write(out, np.frombuffer(raw, dtype="<i2"), rate, format="WAV", subtype="PCM_16")
    return out.getvalue()
