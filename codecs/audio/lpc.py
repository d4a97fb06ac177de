"""Backward-adaptive linear prediction: the classical half of the audio model (exact).

Every HOP samples, each signal's predictor coefficients are re-estimated from the WINDOW
samples before that point (an integer Hann window, the autocorrelation in integers, a
little white-noise correction, Levinson-Durbin in float64), so a decoder derives them from
samples it already has and nothing is transmitted. The prediction of sample t is the
coefficients' dot product with samples t-1 ... t-ORDER; a running mean of the absolute
prediction error gives the local scale. The network (model.py) refines both.

Exact on every machine (`arzip.exact`'s rule): the windowed samples are integers and
their autocorrelation an exact integer sum; Levinson-Durbin, the prediction and the scale
use float64 +, -, *, / one at a time in the order written (compiled by numba without
fast-math: no reordering, no fused multiply-add). The same functions run in two forms:
`analyse` for whole sequences (training, the encoder) and `BackwardLPC` one step at a time
(the decoder); they give identical bits.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import njit

from arzip import exact

ORDER = 32
WINDOW = 512
HOP = 32
SCALE_DECAY = 0.9  # running mean of |error|: m <- d m + (1 - d) |e|
SCALE_INIT = 16.0
SCALE_FLOOR = 0.1  # keeps log-scales finite in digital silence
WINDOW_BITS = 15
_NOISE_FLOOR = 1.0001  # white-noise correction of r[0]


@functools.cache
def hann() -> np.ndarray:
    """The integer Hann window: round(2^15 (1 - cos(2 pi n / (WINDOW - 1))) / 2)."""
    cos, _ = exact.periodic_cos_sin(WINDOW - 1, WINDOW, 30)
    return ((1 << 30) - cos + (1 << 15)) >> 16  # (2^30 - 2^30 cos) / 2^16, rounded


@njit(cache=True, nogil=True)
def _coefficients(past: np.ndarray, window: np.ndarray, out: np.ndarray) -> None:
    """Predictor coefficients out (ORDER,), oldest tap first, from past (WINDOW,) samples."""
    n = past.shape[0]
    xw = np.empty(n, dtype=np.int64)
    for i in range(n):
        xw[i] = (np.int64(past[i]) * window[i]) >> WINDOW_BITS
    r = np.empty(ORDER + 1)
    for k in range(ORDER + 1):
        acc = np.int64(0)
        for i in range(n - k):
            acc += xw[i] * xw[i + k]
        r[k] = float(acc)
    r[0] = r[0] * _NOISE_FLOOR + 1e-3
    a = np.zeros(ORDER)
    previous = np.zeros(ORDER)
    err = r[0]
    for i in range(ORDER):
        acc = r[i + 1]
        for j in range(i):
            acc -= a[j] * r[i - j]
        k = acc / err
        for j in range(i):
            previous[j] = a[j]
        for j in range(i):
            a[j] = previous[j] - k * previous[i - 1 - j]
        a[i] = k
        err = err * (1.0 - k * k)
    for j in range(ORDER):
        out[j] = a[ORDER - 1 - j]


@njit(cache=True, nogil=True)
def _predict(history: np.ndarray, a: np.ndarray) -> float:
    """a's dot product with the last ORDER samples of history (oldest first), in order."""
    total = 0.0
    base = history.shape[0] - ORDER
    for j in range(ORDER):
        total += a[j] * history[base + j]
    return total


@njit(cache=True, nogil=True)
def _scale(scale: float, x: float, prediction: float) -> float:
    m = SCALE_DECAY * scale + (1.0 - SCALE_DECAY) * abs(x - prediction)
    return m if m > SCALE_FLOOR else SCALE_FLOOR


@njit(cache=True, nogil=True)
def _analyse(x: np.ndarray, window: np.ndarray, prediction: np.ndarray,
             scale: np.ndarray) -> None:
    n, length = x.shape
    a = np.zeros(ORDER)
    padded = np.zeros(WINDOW + length)
    for s in range(n):
        padded[:WINDOW] = 0.0
        padded[WINDOW:] = x[s]
        m = SCALE_INIT
        for t in range(length):
            if t % HOP == 0:
                _coefficients(padded[t:t + WINDOW], window, a)
            p = _predict(padded[t:t + WINDOW], a)
            prediction[s, t] = p
            scale[s, t] = m
            m = _scale(m, padded[WINDOW + t], p)


def analyse(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and scales (both (N, T)) of integer signals x (N, T), zeros before
    the start: what `BackwardLPC` gives step by step."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    prediction, scale = np.empty_like(x), np.empty_like(x)
    _analyse(x, hann(), prediction, scale)
    return prediction, scale


@njit(cache=True, nogil=True)
def _step_predict(buffer: np.ndarray, pos: int, t: int, window: np.ndarray, a: np.ndarray,
                  out: np.ndarray) -> None:
    for s in range(buffer.shape[0]):
        if t % HOP == 0:
            _coefficients(buffer[s, pos - WINDOW:pos], window, a[s])
        out[s] = _predict(buffer[s, pos - WINDOW:pos], a[s])


@njit(cache=True, nogil=True)
def _step_push(buffer: np.ndarray, pos: int, x: np.ndarray, prediction: np.ndarray,
               scale: np.ndarray) -> None:
    for s in range(buffer.shape[0]):
        buffer[s, pos] = x[s]
        scale[s] = _scale(scale[s], x[s], prediction[s])


@njit(cache=True, nogil=True)
def _step_advance(buffer: np.ndarray, pos: int, t: int, window: np.ndarray, a: np.ndarray,
                  x: np.ndarray, prediction: np.ndarray, scale: np.ndarray,
                  out: np.ndarray) -> None:
    """`_step_push` of sample t at pos, then `_step_predict` of sample t + 1 into out."""
    _step_push(buffer, pos, x, prediction, scale)
    _step_predict(buffer, pos + 1, t + 1, window, a, out)


class BackwardLPC:
    """`analyse` one step at a time for N signals coded in lockstep."""

    def __init__(self, n: int, capacity: int = 4096) -> None:
        self.buffer = np.zeros((n, WINDOW + capacity))
        self.pos = WINDOW  # where sample t goes; samples before the start are zeros
        self.a = np.zeros((n, ORDER))
        self.scale = np.full(n, SCALE_INIT)
        self.t = 0
        self._window = hann()

    def predict(self) -> np.ndarray:
        """Predictions (N,) of sample t (and the coefficients' update every HOP steps)."""
        out = np.empty(len(self.buffer))
        _step_predict(self.buffer, self.pos, self.t, self._window, self.a, out)
        return out

    def push(self, x: np.ndarray, prediction: np.ndarray) -> None:
        """Append integer samples t (N,) whose prediction was `prediction`."""
        self._room()
        _step_push(self.buffer, self.pos, np.asarray(x, dtype=np.float64), prediction,
                   self.scale)
        self.pos += 1
        self.t += 1

    def advance(self, x: np.ndarray, prediction: np.ndarray) -> np.ndarray:
        """`push` then `predict` (one compiled call): the predictions of sample t + 1."""
        self._room()
        out = np.empty(len(self.buffer))
        _step_advance(self.buffer, self.pos, self.t, self._window, self.a,
                      np.asarray(x, dtype=np.float64), prediction, self.scale, out)
        self.pos += 1
        self.t += 1
        return out

    def _room(self) -> None:
        self.pos = int(make_room(self.buffer, self.pos))


@njit(cache=True, nogil=True)
def make_room(buffer: np.ndarray, pos: int) -> int:
    """Room for one more sample at `pos` of a full buffer: the last WINDOW samples move to
    the front; returns the position the next sample goes to."""
    if pos == buffer.shape[1]:
        buffer[:, :WINDOW] = buffer[:, buffer.shape[1] - WINDOW:]
        return WINDOW
    return pos
