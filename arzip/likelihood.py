"""`arzip likelihood`: a model's negative log-likelihood of a file next to the bits the
range coder really wrote for it, with the order-0 entropy (the file's own symbol
histogram) as a baseline, and every symbol's bits for a map of where they went.

The symbols are coded by the codec's own encoder (the code path of `arzip compress`), so
the NLL is the ideal bits of the very probabilities that were coded and the coded bits are
the real payloads. A file with more than `max_symbols` symbols is sampled: evenly spaced
segments along its first axis (bytes, image rows, audio frames), each coded from a fresh
start as if it were a file of its own. This module knows no modality.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import engine, zoo
from .errors import ArzipError
from .parallel import one_blas_thread
from .registry import SNIFF_BYTES, codec_class, codec_module, detect

MAX_SYMBOLS = 1 << 20
SEGMENTS = 8
MIN_SEGMENT_ROWS = 64
Progress = Callable[[int], None]


@dataclass
class Evaluation:
    """One model's bits on one file."""

    file: str
    model: str
    codec: str
    unit: str  # "byte", "subpixel", "sample"
    total_symbols: int  # in the file
    symbols: int  # evaluated (all, or the sampled segments)
    nll_bits: float  # model's ideal bits of the evaluated symbols
    coded_bits: int  # payload bits the range coder wrote for them
    order0_bits: float  # their count x the entropy of their histogram
    segments: list[tuple[int, int]]  # evaluated [start, stop) along the first axis
    sampling: str  # how the symbols were chosen, in words
    values: np.ndarray = field(repr=False)  # the file's symbols
    bits: np.ndarray = field(repr=False)  # bits of each symbol (NaN where not sampled)
    info: dict = field(default_factory=dict)  # the codec's header info (size, rate, ...)

    @property
    def overhead_bits(self) -> float:
        """What the coder wrote beyond the model's ideal."""
        return self.coded_bits - self.nll_bits

    @property
    def overhead_percent(self) -> float:
        return 100 * self.overhead_bits / self.nll_bits if self.nll_bits else 0.0

    def per_symbol(self, bits: float) -> float:
        return bits / self.symbols if self.symbols else 0.0

    def summary(self) -> dict:
        """The numbers, JSON-ready."""
        return {"file": self.file, "model": self.model, "codec": self.codec, "unit": self.unit,
                "total_symbols": self.total_symbols, "symbols": self.symbols,
                "sampling": self.sampling, "segments": self.segments,
                "nll_bits": self.nll_bits, "coded_bits": self.coded_bits,
                "overhead_bits": self.overhead_bits, "overhead_percent": self.overhead_percent,
                "order0_bits": self.order0_bits,
                "nll_bits_per_symbol": self.per_symbol(self.nll_bits),
                "coded_bits_per_symbol": self.per_symbol(self.coded_bits),
                "order0_bits_per_symbol": self.per_symbol(self.order0_bits)}


def sample_segments(rows: int, row_symbols: int, max_symbols: int) -> list[tuple[int, int]]:
    """[start, stop) row ranges: all rows, or up to SEGMENTS evenly spaced segments of equal
    length (at least MIN_SEGMENT_ROWS rows each) holding at most `max_symbols` symbols."""
    if rows * row_symbols <= max_symbols:
        return [(0, rows)]
    budget = max(1, max_symbols // max(1, row_symbols))
    count = max(1, min(SEGMENTS, budget // MIN_SEGMENT_ROWS))
    length = max(1, budget // count)
    if count == 1:
        start = (rows - length) // 2
        return [(start, start + length)]
    starts = np.round(np.linspace(0, rows - length, count)).astype(int)
    return [(int(s), int(s) + length) for s in starts]


def order0_bits(values: np.ndarray) -> float:
    """Bits of `values` under their own histogram (count x entropy)."""
    if not values.size:
        return 0.0
    _, counts = np.unique(values, return_counts=True)
    p = counts / values.size
    return float(-(counts * np.log2(p)).sum())


def _content(kind: str, data: bytes, model: zoo.ModelInfo | None
             ) -> tuple[str, np.ndarray, dict]:
    """(codec id, symbols, header info) of the file as the model's codec sees it."""
    if engine.structured(kind):
        parsed = codec_class(kind).analyze(data)
        if parsed is not None:
            return kind, np.asarray(parsed.symbols), dict(parsed.info)
        if model is not None:
            raise ArzipError(f"model {model.name} codes {kind} files, and this is not one "
                             f"it can read")
        kind = "bytes"
    return kind, np.frombuffer(data, dtype=np.uint8), {}


@one_blas_thread()
def evaluate(data: bytes, model_spec: str | None = None, max_symbols: int = MAX_SYMBOLS,
             file: str = "", progress: Progress | None = None) -> Evaluation:
    """Code `data` (or a sample of it) with a model and measure every symbol's bits;
    `progress` gets the number of symbols coded so far."""
    model = zoo.find_model(model_spec) if model_spec else None
    kind = model.codec if model else detect(bytes(data[:SNIFF_BYTES]))
    kind, values, info = _content(kind, data, model)
    model = model or zoo.default_model(kind)
    codec = engine.load_codec(kind, model)
    rows = values.shape[0]
    row_symbols = int(np.prod(values.shape[1:], dtype=np.int64))
    segments = sample_segments(rows, row_symbols, max_symbols)
    bits = np.full(values.shape, np.nan, dtype=np.float32)
    nll, coded, done = 0.0, 0, 0
    for start, stop in segments:
        report = (lambda k, before=done: progress(before + k)) if progress else None
        for payload, ideal in _code(codec, engine.structured(kind), values[start:stop], info,
                                    bits[start:stop], report):
            nll += ideal
            coded += 8 * len(payload)
        done += (stop - start) * row_symbols
    sampled = np.concatenate([values[a:b].ravel() for a, b in segments]) if rows else values
    count = int(sampled.size)
    return Evaluation(
        file=file, model=model.name, codec=kind, unit=codec_module(kind, "baselines").UNIT,
        total_symbols=int(values.size), symbols=count, nll_bits=nll, coded_bits=coded,
        order0_bits=order0_bits(sampled), segments=segments,
        sampling=_sampling_words(segments, count, values.size,
                                 codec_module(kind, "surprise").ROW),
        values=values, bits=bits, info=info)


def _code(codec, structured: bool, values: np.ndarray, info: dict, bits: np.ndarray,
          progress: Progress | None):
    """(payload, ideal bits) of each block the codec writes for `values`."""
    if structured:
        for _, payload, ideal, *_ in codec.encode(values, progress, info=info, bits_out=bits):
            if payload is None:
                raise ArzipError(f"the {codec.codec_id} model does not code this file's "
                                 "samples (its blocks are stored classically)")
            yield payload, ideal
        return
    data = values.tobytes()
    for start in range(0, max(1, len(data)), engine.BLOCK_SIZE):
        block = data[start:start + engine.BLOCK_SIZE]
        report = (lambda k, before=start: progress(before + k)) if progress else None
        _, payload, ideal = codec.encode_cm_block(block, report, bits[start:start + len(block)])
        yield payload or b"", ideal


def _sampling_words(segments: list[tuple[int, int]], count: int, total: int, row: str) -> str:
    if count == total:
        return "whole file"
    length = segments[0][1] - segments[0][0]
    return (f"sampled: {len(segments)} evenly spaced segment(s) of {length:,} {row}s "
            f"({count:,} of {total:,} symbols, {100 * count / total:.1f}%), each coded from "
            f"a fresh start")
