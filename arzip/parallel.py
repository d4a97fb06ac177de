"""How many threads a codec may use for one file (the exact arithmetic makes any split
give the same bits): ARZIP_THREADS, else up to 2 of the machine's cores. `arzip bench -j N`
with N > 1 runs each file with 1 (the files themselves run in parallel)."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from threadpoolctl import threadpool_limits

MAX_DEFAULT = 2
BLAS_ENV = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")
_blas: dict = {"depth": 0, "limiter": None, "torch": None}
_blas_lock = threading.Lock()
_beside: dict[str, ThreadPoolExecutor] = {}
_beside_lock = threading.Lock()


def threads() -> int:
    """The number of threads one file's coding may use."""
    try:
        return max(1, int(os.environ["ARZIP_THREADS"]))
    except (KeyError, ValueError):
        return max(1, min(MAX_DEFAULT, os.cpu_count() or 1))


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Numpy's BLAS runs one thread while arzip codes, then returns to its setting.

    Coding makes many small matrix products, split over arzip's own threads; a BLAS that
    starts a thread per core for each of them only spins (measured: lcet10.txt compressed
    with two threads in 28.5-30.7 s with OpenBLAS's default, 18.8-22.8 s with one).
    Results never depend on it (exact arithmetic). Left alone when the user set one of
    BLAS_ENV. Nests, and holds from the first entry to the last exit of any thread."""
    if any(name in os.environ for name in BLAS_ENV):
        yield
        return
    with _blas_lock:
        if _blas["depth"] == 0:
            _blas["limiter"] = threadpool_limits(limits=1, user_api="blas")
        _blas["depth"] += 1
    hold_torch()
    try:
        yield
    finally:
        with _blas_lock:
            _blas["depth"] -= 1
            if _blas["depth"] == 0:
                _blas["limiter"].restore_original_limits()
                _blas["limiter"] = None
                if _blas["torch"] is not None:
                    sys.modules["torch"].set_num_threads(_blas["torch"])
                    _blas["torch"] = None


def hold_torch() -> None:
    """Inside `one_blas_thread`: torch's own thread pool to one thread as well, restored
    on the context's last exit (torch may load after the context was entered, so the
    users of torch's kernels call this before them). Its int8 product otherwise starts a
    thread per core for each call: two single-threaded files compressed at once ran at
    17-19 KB/s each instead of 32-41."""
    with _blas_lock:
        if _blas["depth"] and _blas["torch"] is None and "torch" in sys.modules:
            torch = sys.modules["torch"]
            _blas["torch"] = torch.get_num_threads()
            torch.set_num_threads(1)


def done(value: Any) -> Future:
    """A future that already holds `value` (work that ran here, in this thread)."""
    future: Future = Future()
    future.set_result(value)
    return future


def beside(fn: Callable[..., Any], *args: Any) -> Future:
    """fn(*args) in one helper thread when coding may use two (else here, now): for work
    that releases the GIL, such as xz beside the model's probe."""
    if threads() < 2:
        return done(fn(*args))
    with _beside_lock:
        if "pool" not in _beside:
            _beside["pool"] = ThreadPoolExecutor(1, thread_name_prefix="arzip-beside")
    return _beside["pool"].submit(fn, *args)


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

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """fn(*args) in the helper thread (here, now, without one)."""
        return done(fn(*args)) if self.pool is None else self.pool.submit(fn, *args)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()

    def __enter__(self) -> Splitter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
