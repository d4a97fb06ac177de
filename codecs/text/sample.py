"""Text samples: a decode of random bits with one lane (see `arzip.sampling`)."""

from __future__ import annotations

from collections.abc import Callable

WORDS_PER_BYTE = 24 / 32  # a categorical symbol takes at most 24 bits of the stream


def words_for(n: int) -> int:
    return int(n * WORDS_PER_BYTE) + 8


def sample(codec, bits: Callable[[int], bytes], length: int = 400, prompt: bytes = b"",
           network_only: bool = False, progress=None) -> bytes:  # noqa: ANN001
    """`prompt` followed by `length` sampled bytes. The prompt's bytes are fed, not
    decoded, so the network and (unless `network_only`) the adaptive mixer learn from it."""
    n = len(prompt) + length
    return codec.decode_block(bits(words_for(n)), n, 1, progress, prefix=prompt,
                              network_only=network_only)
