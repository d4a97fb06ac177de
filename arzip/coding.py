"""Entropy coding: the only module that touches constriction.

A range coder (a queue: encoder and decoder both run in natural order) codes each symbol
with a 256-way (or n-way) categorical built by constriction with `perfect=False`, which
also guarantees every symbol a nonzero probability, or (16-bit audio) with constriction's
Laplace distribution quantized to the integers of [-32768, 32767], given per symbol by a
mean and a scale. Compressed words are stored as
little-endian uint32. Nothing here prints (stdout may carry compressed data).
"""

from __future__ import annotations

import constriction
import numpy as np

from .errors import FormatError

Categorical = constriction.stream.model.Categorical  # submodules are attributes only
RangeEncoder = constriction.stream.queue.RangeEncoder
RangeDecoder = constriction.stream.queue.RangeDecoder
_CATEGORICAL = Categorical(perfect=False)
PCM16_MIN, PCM16_MAX = -32768, 32767
_LAPLACE = constriction.stream.model.QuantizedLaplace(PCM16_MIN, PCM16_MAX)


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


def ideal_bits(symbols: np.ndarray, probs: np.ndarray) -> float:
    """Information content in bits of `symbols` under normalised `probs` (for reports)."""
    return float(ideal_bits_each(symbols, probs).sum())


def ideal_bits_each(symbols: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """`ideal_bits` of every symbol (for likelihood maps)."""
    return -np.log2(probs[np.arange(len(symbols)), symbols] / probs.sum(axis=1))


def _as_params(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float64)


class LaplaceEncoder(_Encoder):
    """Range-codes batches of 16-bit samples, each under its own quantized Laplace."""

    def encode(self, symbols: np.ndarray, means: np.ndarray, scales: np.ndarray) -> None:
        """Append `symbols` (B,) in [-32768, 32767] with Laplace(means, scales > 0) (B,)."""
        if len(symbols):
            self._encoder.encode(np.ascontiguousarray(symbols, dtype=np.int32), _LAPLACE,
                                 _as_params(means), _as_params(scales))


class LaplaceDecoder(_Decoder):
    """Decodes a payload written by `LaplaceEncoder`, a batch of samples at a time."""

    def decode(self, means: np.ndarray, scales: np.ndarray) -> np.ndarray:
        """Decode one sample for each (mean, scale)."""
        return self._decode(_LAPLACE, _as_params(means), _as_params(scales))


def laplace_bits(symbols: np.ndarray, means: np.ndarray, scales: np.ndarray) -> float:
    """Information content in bits of integer `symbols` under Laplace(means, scales)
    quantized to unit bins (the unquantized-coder ideal, for reports)."""
    return float(laplace_bits_each(symbols, means, scales).sum())


def laplace_bits_each(symbols: np.ndarray, means: np.ndarray, scales: np.ndarray
                      ) -> np.ndarray:
    """`laplace_bits` of every symbol (for likelihood maps)."""
    x, mu, b = (np.asarray(a, dtype=np.float64) for a in (symbols, means, scales))
    d = np.abs(x - mu)
    near = np.minimum(d, 0.5)
    inner = np.log1p(-np.exp(-0.5 / b) * np.cosh(near / b))
    outer = np.log(0.5) - (np.maximum(d, 0.5) - 0.5) / b + np.log(-np.expm1(-1.0 / b))
    log_p = np.where(d < 0.5, inner, outer)
    return -np.maximum(log_p, -60.0) / np.log(2.0)
