"""Backward-adaptive linear prediction: the classical half of the audio model (numpy only).

Every HOP samples, each signal's predictor coefficients are re-estimated from the WINDOW
samples before that point (Hann window, autocorrelation by FFT, a little white-noise correction,
Levinson-Durbin), so a decoder derives them from samples it already has and nothing is
transmitted. The prediction of sample t is the coefficients' dot product with samples
t-1 ... t-ORDER; a running mean of the absolute prediction error gives the local scale.
The network (model.py) refines both.

The same arithmetic runs in two forms: `analyse` for whole training sequences, and
`BackwardLPC` one step at a time for coding. Coding needs only that the encoder and the
decoder run `BackwardLPC` identically (float64 numpy, same shapes, elementwise operations
and fixed-order sums), not that it matches `analyse` to the last bit.
"""

from __future__ import annotations

import numpy as np

ORDER = 32
WINDOW = 512
HOP = 32
SCALE_DECAY = 0.9  # running mean of |error|: m <- d m + (1 - d) |e|
SCALE_INIT = 16.0
SCALE_FLOOR = 0.1  # keeps log-scales finite in digital silence
_HANN = np.hanning(WINDOW)
_NOISE_FLOOR = 1.0001  # white-noise correction of r[0]


def coefficients(past: np.ndarray) -> np.ndarray:
    """Predictor coefficients (N, ORDER) from the last WINDOW samples (N, WINDOW) of N signals."""
    spectrum = np.fft.rfft(past * _HANN, n=2 * WINDOW, axis=1)
    r = np.fft.irfft(spectrum.real ** 2 + spectrum.imag ** 2, n=2 * WINDOW, axis=1)[:, :ORDER + 1]
    r[:, 0] = r[:, 0] * _NOISE_FLOOR + 1e-3
    a = np.zeros((len(r), ORDER))
    err = r[:, 0].copy()
    for i in range(ORDER):
        acc = r[:, i + 1] - (a[:, :i] * r[:, i:0:-1]).sum(axis=1)
        k = acc / err
        previous = a[:, :i].copy()
        a[:, :i] = previous - k[:, None] * previous[:, ::-1]
        a[:, i] = k
        err = err * (1.0 - k * k)
    return a


def analyse(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and scales (both (N, T)) of signals x (N, T), zeros before the start."""
    n, length = x.shape
    padded = np.concatenate([np.zeros((n, WINDOW)), x], axis=1)
    starts = np.arange(0, length, HOP)
    windows = padded[:, starts[:, None] + np.arange(WINDOW)[None]]  # (N, S, WINDOW)
    a = coefficients(windows.reshape(-1, WINDOW)).reshape(n, len(starts), ORDER)
    taps = np.lib.stride_tricks.sliding_window_view(padded[:, WINDOW - ORDER:-1], ORDER, axis=1)
    prediction = (taps[:, :, ::-1] * np.repeat(a, HOP, axis=1)[:, :length]).sum(axis=2)
    error = np.abs(x - prediction)
    scale = np.empty_like(error)
    m = np.full(n, SCALE_INIT)
    for t in range(length):
        scale[:, t] = m
        m = np.maximum(SCALE_DECAY * m + (1.0 - SCALE_DECAY) * error[:, t], SCALE_FLOOR)
    return prediction, scale


class BackwardLPC:
    """`analyse` one step at a time for N signals coded in lockstep."""

    def __init__(self, n: int, capacity: int = 4096) -> None:
        self.buffer = np.zeros((n, WINDOW + capacity))
        self.pos = WINDOW  # where sample t goes; samples before the start are zeros
        self.a = np.zeros((n, ORDER))
        self.scale = np.full(n, SCALE_INIT)
        self.t = 0

    def predict(self) -> np.ndarray:
        """Predictions (N,) of sample t (and the coefficients' update every HOP steps)."""
        if self.t % HOP == 0:
            past = self.buffer[:, self.pos - WINDOW:self.pos]
            self.a = np.ascontiguousarray(coefficients(past)[:, ::-1])  # oldest tap first
        return (self.buffer[:, self.pos - ORDER:self.pos] * self.a).sum(axis=1)

    def push(self, x: np.ndarray, prediction: np.ndarray) -> None:
        """Append sample t (N,) whose prediction was `prediction`."""
        if self.pos == self.buffer.shape[1]:
            self.buffer[:, :WINDOW] = self.buffer[:, -WINDOW:]
            self.pos = WINDOW
        self.buffer[:, self.pos] = x
        self.pos += 1
        self.scale = np.maximum(SCALE_DECAY * self.scale
                                + (1.0 - SCALE_DECAY) * np.abs(x - prediction), SCALE_FLOOR)
        self.t += 1
