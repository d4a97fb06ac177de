"""Entropy coding: the only module that touches constriction.

A range coder (a queue: encoder and decoder both run in natural order) codes each symbol
with a 256-way (or n-way) categorical built by constriction with `perfect=False`, which
also guarantees every symbol a nonzero probability, or (16-bit audio) with a Laplace
distribution quantized to the integers (`exact.laplace_row`: integer frequencies of coarse
bins around the mean, then the offset in the bin uniformly, escapes uniformly over the
16-bit range). Every distribution reaches constriction as integers, or as floats computed
exactly from integers, so its quantisation sees the same inputs on every machine; the
parametric models whose CDF constriction evaluates with the platform's libm are not used.
Compressed words are stored as little-endian uint32. Nothing here prints (stdout may carry
compressed data).
"""

from __future__ import annotations

import constriction
import numpy as np

from . import exact, kernels
from .errors import FormatError

Categorical = constriction.stream.model.Categorical  # submodules are attributes only
RangeEncoder = constriction.stream.queue.RangeEncoder
RangeDecoder = constriction.stream.queue.RangeDecoder
_CATEGORICAL = Categorical(perfect=False)
_UNIFORM = constriction.stream.model.Uniform()
PCM16_MIN, PCM16_MAX = -32768, 32767
_ESCAPE_SIZE = 1 << 16


def _as_probs(probs: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(probs, dtype=np.float64)


class _Encoder:
    """A range encoder whose payload is its compressed words as little-endian uint32."""

    def __init__(self) -> None:
        self._encoder = RangeEncoder()

    def finish(self) -> bytes:
        """The payload: compressed words as little-endian uint32."""
        return self._encoder.get_compressed().astype("<u4").tobytes()


class _Decoder:
    """A range decoder over a payload written by an `_Encoder`; corrupt data -> FormatError."""

    def __init__(self, payload: bytes) -> None:
        if len(payload) % 4:
            raise FormatError("corrupted payload: length is not a whole number of words")
        self._decoder = RangeDecoder(np.frombuffer(payload, dtype="<u4").astype(np.uint32))

    def _decode(self, model, *params: np.ndarray) -> np.ndarray:
        try:
            return np.asarray(self._decoder.decode(model, *params), dtype=np.int64)
        except Exception as exc:  # constriction raises on inconsistent data
            raise FormatError(f"corrupted payload: {exc}") from None


class CategoricalEncoder(_Encoder):
    """Range-codes batches of symbols, each under its own probability row."""

    def encode(self, symbols: np.ndarray, probs: np.ndarray) -> None:
        """Append `symbols` (B,) coded with probabilities `probs` (B, K)."""
        if len(symbols):
            self._encoder.encode(np.ascontiguousarray(symbols, dtype=np.int32), _CATEGORICAL,
                                 _as_probs(probs))


def encode_categorical(symbols: np.ndarray, probs: np.ndarray) -> bytes:
    """Range-code `symbols` (N,) under per-symbol probabilities (N, K) in one call."""
    encoder = CategoricalEncoder()
    encoder.encode(symbols, probs)
    return encoder.finish()


class CategoricalDecoder(_Decoder):
    """Decodes a payload written by `encode_categorical`, a batch of symbols at a time."""

    def decode(self, probs: np.ndarray) -> np.ndarray:
        """Decode one symbol for each row of `probs` (B, K)."""
        return self._decode(_CATEGORICAL, _as_probs(probs))


def _ans_source(payload: bytes):
    """An ANS decoder over any words (the last made nonzero, as ANS data must end): unlike
    a range decoder, which can reject a random stream, every word sequence decodes."""
    words = np.frombuffer(payload, dtype="<u4").astype(np.uint32)
    if not len(words):
        words = np.ones(1, dtype=np.uint32)
    words[-1] |= 1
    return constriction.stream.stack.AnsCoder(words)


class CategoricalSampler(CategoricalDecoder):
    """`CategoricalDecoder` reading random words (sampling: a decode of random bits)."""

    def __init__(self, payload: bytes) -> None:
        self._decoder = _ans_source(payload)


def ideal_bits(symbols: np.ndarray, probs: np.ndarray) -> float:
    """Information content in bits of `symbols` under normalised `probs` (for reports)."""
    return float(ideal_bits_each(symbols, probs).sum())


def ideal_bits_each(symbols: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """`ideal_bits` of every symbol (for likelihood maps)."""
    return -np.log2(probs[np.arange(len(symbols)), symbols] / probs.sum(axis=1))


class _LaplaceRows:
    """Rows of `exact.laplace_row` (float64 integers): the table shipped with arzip, else
    built on first use and kept."""

    def __init__(self) -> None:
        count = exact.LAPLACE_SCALES * exact.LAPLACE_FRACTIONS
        shipped = exact.shipped_laplace_rows()
        self.rows = np.zeros((count, exact.LAPLACE_BINS)) if shipped is None else shipped
        self.built = np.full(count, shipped is not None)
        self.shift = np.array([exact.laplace_shift(j) for j in range(exact.LAPLACE_SCALES)])

    def __call__(self, index: np.ndarray, fraction: np.ndarray) -> np.ndarray:
        return self.rows[self.build(index, fraction)]

    def build(self, index: np.ndarray, fraction: np.ndarray) -> np.ndarray:
        """The rows' keys (indices into `rows`), after building those not built yet."""
        key = index * exact.LAPLACE_FRACTIONS + fraction
        missing = ~self.built[key]
        if missing.any():
            for k in np.unique(key[missing]):
                self.rows[k] = exact.laplace_row(*divmod(int(k), exact.LAPLACE_FRACTIONS))
                self.built[k] = True
        return key


_ROWS: _LaplaceRows | None = None


def _laplace_rows() -> _LaplaceRows:
    global _ROWS
    if _ROWS is None:
        _ROWS = _LaplaceRows()
    return _ROWS


def laplace_rows() -> _LaplaceRows:
    """Every `exact.laplace_row` as float64 integers (`.rows`, keyed by scale index x
    LAPLACE_FRACTIONS + fraction; `.build` makes those not built yet), and each scale
    index's bin shift (`.shift`): what a codec's own coder of the same Laplace reads."""
    return _laplace_rows()


def _laplace_coarse(symbols: np.ndarray, base: np.ndarray, shift: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Coarse symbols (escape 0, bins, escape last) and offsets within the bins."""
    residual = symbols - base
    q = residual >> shift
    coarse = np.clip(q + exact.LAPLACE_WINDOW + 1, 0, exact.LAPLACE_BINS - 1)
    return coarse, residual - (q << shift)


def _escaped(coarse: np.ndarray) -> np.ndarray:
    return (coarse == 0) | (coarse == exact.LAPLACE_BINS - 1)


class LaplaceEncoder(_Encoder):
    """Range-codes batches of 16-bit samples, each under its own quantized Laplace given
    by exact parameters: base = floor(mean), scale index, mean fraction (`exact`)."""

    def encode(self, symbols: np.ndarray, base: np.ndarray, index: np.ndarray,
               fraction: np.ndarray) -> None:
        """Append `symbols` (B,) in [-32768, 32767]: the coarse bins of all, then the
        offsets within bins wider than 1, then the escaped values, each in order."""
        if not len(symbols):
            return
        table = _laplace_rows()
        shift = table.shift[index]
        coarse, offset = _laplace_coarse(symbols, base, shift)
        self._encoder.encode(coarse.astype(np.int32), _CATEGORICAL, table(index, fraction))
        escaped = _escaped(coarse)
        inside = ~escaped & (shift > 0)
        if inside.any():
            self._encoder.encode(offset[inside].astype(np.int32), _UNIFORM,
                                 (1 << shift[inside]).astype(np.int32))
        if escaped.any():
            values = (symbols[escaped] - PCM16_MIN).astype(np.int32)
            self._encoder.encode(values, _UNIFORM, np.full(len(values), _ESCAPE_SIZE, np.int32))


    def encode_batches(self, symbols: np.ndarray, base: np.ndarray, index: np.ndarray,
                       fraction: np.ndarray, ends: np.ndarray) -> None:
        """`encode` of consecutive non-empty batches symbols[ends[i - 1]:ends[i]] (a
        decoder's steps; ends strictly increasing, the last len(symbols)) with as few coder
        calls as the same stream allows: the coarse bins of batches that have no offsets
        or escapes are coded in one call with those of the next batch."""
        if not len(symbols):
            return
        table = _laplace_rows()
        shift = table.shift[index]
        coarse, _ = _laplace_coarse(symbols, base, shift)
        extra = _escaped(coarse) | (shift > 0)  # symbols with a second part (an offset)
        ends = np.asarray(ends)
        seconds = np.diff(np.concatenate([[0], np.cumsum(extra)[ends - 1]]))  # per batch
        start = 0
        for end in ends[seconds > 0]:  # up to a batch with second parts: one `encode`
            self.encode(symbols[start:end], base[start:end], index[start:end], fraction[start:end])
            start = end
        if start < len(symbols):  # the batches after the last with a second part
            self._encoder.encode(coarse[start:].astype(np.int32), _CATEGORICAL,
                                 table(index[start:], fraction[start:]))


class LaplaceDecoder(_Decoder):
    """Decodes a payload written by `LaplaceEncoder`, a batch of samples at a time."""

    def decode(self, base: np.ndarray, index: np.ndarray, fraction: np.ndarray) -> np.ndarray:
        """Decode one sample for each (base, scale index, fraction)."""
        table, n = _laplace_rows(), len(base)
        rows, shift = np.empty((n, exact.LAPLACE_BINS)), np.empty(n, np.int64)
        if not kernels.gather_rows(table.rows, table.built, table.shift, index, fraction,
                                   exact.LAPLACE_FRACTIONS, rows, shift):  # build them first
            rows, shift = table(index, fraction), table.shift[index]
        coarse = self._decode(_CATEGORICAL, rows)
        values, widths = np.empty(n, np.int64), np.empty(n, np.int32)
        offsets, escapes = kernels.laplace_values(coarse, base, shift, exact.LAPLACE_WINDOW,
                                                  exact.LAPLACE_BINS, values, widths)
        if offsets == n:  # every value has an offset in its bin
            values += self._decode(_UNIFORM, widths)
        elif offsets:
            inside = widths > 0
            values[inside] += self._decode(_UNIFORM, widths[inside])
        if escapes:
            escaped = widths < 0
            values[escaped] = self._decode(_UNIFORM, np.full(escapes, _ESCAPE_SIZE,
                                                             np.int32)) + PCM16_MIN
        return self._in_range(values)

    def _in_range(self, values: np.ndarray) -> np.ndarray:
        if not kernels.within(values, PCM16_MIN, PCM16_MAX):
            raise FormatError("corrupted payload: a decoded sample is out of range")
        return values


def laplace_bits_each(symbols: np.ndarray, base: np.ndarray, index: np.ndarray,
                      fraction: np.ndarray) -> np.ndarray:
    """Ideal bits of every sample under the exact quantized Laplace (for reports)."""
    table = _laplace_rows()
    shift = table.shift[index]
    coarse, _ = _laplace_coarse(symbols, base, shift)
    key = table.build(index, fraction)  # one entry of each row, not the rows (memory)
    p = table.rows[key, coarse] / table.rows.sum(1)[key]  # rows not built: never read
    escaped = _escaped(coarse)
    return -np.log2(p) + np.where(escaped, 16.0, shift)


class LaplaceSampler(LaplaceDecoder):
    """`LaplaceDecoder` reading random words (sampling: a decode of random bits); the
    model's mass beyond the 16-bit range (which real data never reaches) goes to its ends."""

    def __init__(self, payload: bytes) -> None:
        self._decoder = _ans_source(payload)

    def _in_range(self, values: np.ndarray) -> np.ndarray:
        return np.clip(values, PCM16_MIN, PCM16_MAX)
