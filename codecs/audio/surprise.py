"""The audio likelihood map: a plot of the signal and of its bits/sample over time."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from arzip.plots import pyplot

ROW = "frame"
SUFFIX = ".png"
POINTS = 2000  # windows along the time axis


def render(evaluation, path: str) -> str:
    """Write the plot (PNG); returns what it shows in words."""
    plt = pyplot()
    samples, bits = evaluation.values.astype(np.float64), evaluation.bits.astype(np.float64)
    frames, channels = samples.shape
    rate = int(evaluation.info.get("rate", 0)) or 1
    window = max(1, -(-frames // POINTS))
    count = -(-frames // window)
    pad = count * window - frames

    def windows(x: np.ndarray) -> np.ndarray:
        return np.pad(x, ((0, pad), (0, 0)), constant_values=np.nan).reshape(
            count, window, channels)

    t = (np.arange(count) * window + window / 2) / rate
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 6), sharex=True, layout="constrained")
    peaks = windows(samples)
    with warnings.catch_warnings():  # all-NaN windows (not sampled) are meant to be gaps
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanmin(peaks, axis=1), np.nanmax(peaks, axis=1)
        per_window = np.nanmean(windows(bits).reshape(count, -1), axis=1)
    for c in range(channels):
        top.fill_between(t, low[:, c], high[:, c], alpha=0.5, lw=0, label=f"channel {c}")
    top.set_ylabel("sample value")
    top.legend(loc="upper right", fontsize=8)
    bottom.plot(t, per_window, lw=0.8, color="tab:red")
    bottom.set_ylabel("bits/sample")
    bottom.set_xlabel("time (s)")
    bottom.grid(True, alpha=0.3)
    mean = evaluation.per_symbol(evaluation.nll_bits)
    top.set_title(f"{Path(evaluation.file).name or 'audio'}: {mean:.3f} bits/sample under "
                  f"{evaluation.model}\n{evaluation.sampling}", fontsize=9)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return (f"bits/sample over time in windows of {window} frames "
            f"({1000 * window / rate:.1f} ms)")

