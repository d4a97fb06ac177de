"""How many threads a codec may use for one file (the exact arithmetic makes any split
give the same bits): ARZIP_THREADS, else up to 2 of the machine's cores. `arzip bench -j N`
with N > 1 runs each file with 1 (the files themselves run in parallel)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

MAX_DEFAULT = 2


def threads() -> int:
    """The number of threads one file's coding may use."""
    try:
        return max(1, int(os.environ["ARZIP_THREADS"]))
    except (KeyError, ValueError):
        return max(1, min(MAX_DEFAULT, os.cpu_count() or 1))


class Splitter:
    """Runs a function on consecutive slices of a batch in this thread and a helper
    thread (when threads() > 1), for batches of at least `minimum` items."""

    def __init__(self, minimum: int = 32) -> None:
        self.minimum = minimum
        self.pool = ThreadPoolExecutor(1) if threads() > 1 else None

    def __call__(self, fn: Callable[[slice], Any], size: int) -> Sequence[Any]:
        if self.pool is None or size < self.minimum:
            return [fn(slice(0, size))]
        half = size // 2
        other = self.pool.submit(fn, slice(half, size))
        return [fn(slice(0, half)), other.result()]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()

    def __enter__(self) -> Splitter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
