"""Per-image adaptation: the network's distribution mixed with adaptive residual statistics.

A small network trained once cannot know each image's noise level, tails and repeated
structures. For every subpixel this module takes the network's pmf, its mode m, a
confidence bucket b = min(B-1, floor(-log2 pmf[m])) and an error bucket e of |x - m| at
the pixel to the left (same channel; error feedback as in CALIC), and keeps, per
context (channel, b, e), counts of the residual x - m seen so far in this image. The coded
distribution is

    w[c] * network + (1 - w[c]) * counts[c][x - m] (normalised over x in 0..255)

with the weight w[c] learned online by gradient steps on the coded log-loss. Counts are
halved when a context reaches `count_limit`, so the statistics follow the image.

Exact on every machine: counts are integers (units of 1/32 of an observation), so their
sums are exact in any order; the weights' gradient is rounded to an integer multiple of
2^-16 per symbol before it is summed per context; everything else is float64 +, -, *, /
applied elementwise in a fixed order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

_VALUES = np.arange(256)
COUNT_UNIT = 32  # an observation adds 32 to its count; the prior is 1 (1/32 observation)
GRAD_BITS = 16


@dataclass
class AdaptiveConfig:
    """Settings of the residual mixer (stored in the .arz header)."""

    buckets: int = 8
    prior: int = 1  # initial count of every residual, in units of 1/COUNT_UNIT
    lr: float = 0.05  # step size of the mixing weights
    weight_init: float = 0.9  # initial weight of the network
    weight_min: float = 0.05
    weight_max: float = 0.999
    count_limit: int = 8192  # halve a context's counts beyond this many observations
    error_edges: tuple[int, ...] = (1, 3, 7)  # |left residual| buckets: 0, 1-2, 3-6, 7+


@njit(cache=True, nogil=True)
def _mix(freqs, left_error, channel, buckets, halvings, edges, counts, weights, probs, stats,
         mixed, context, mode):  # noqa: ANN001
    """`ResidualMixer.mix` row by row: the network's probabilities, the context (confidence
    bucket by the halvings of pmf[mode] above 1, |left residual| bucket), the context's
    residual counts around the mode, and their mixture."""
    for i in range(freqs.shape[0]):
        total, best = 0.0, 0
        for x in range(256):
            total += freqs[i, x]  # exact: integers
            if freqs[i, x] > freqs[i, best]:
                best = x
        for x in range(256):
            probs[i, x] = freqs[i, x] / total
        bucket = 0  # halvings strictly below -p[mode] (searchsorted, side left)
        for h in halvings:
            if h < -probs[i, best]:
                bucket += 1
        error = 0
        for e in edges:
            if left_error[i] >= e:
                error += 1
        c = (channel * buckets + bucket) * (edges.shape[0] + 1) + error
        context[i], mode[i] = c, best
        count = 0.0
        for x in range(256):
            count += counts[c, 255 - best + x]  # exact: integers
        w = weights[c]
        share = (1.0 - w) / count
        for x in range(256):
            stats[i, x] = counts[c, 255 - best + x] * share
            mixed[i, x] = probs[i, x] * w + stats[i, x]


@njit(cache=True, nogil=True)
def _update(symbols, context, mode, net, stats, mixed, weights, counts, observed, grad, seen,
            lr, weight_min, weight_max, count_limit):  # noqa: ANN001
    """`ResidualMixer.update`: each context's weight takes the mean of its symbols' log-loss
    gradients (each rounded to a multiple of 2^-GRAD_BITS, so the sums are exact integers),
    the residual counts grow, and a context beyond `count_limit` observations is halved."""
    for i in range(symbols.shape[0]):
        s, c = symbols[i], context[i]
        b = stats[i, s] / (1.0 - weights[c])  # the statistics' own probability
        grad[c] += np.rint((net[i, s] - b) / mixed[i, s] * (1 << GRAD_BITS))
        seen[c] += 1
    for i in range(symbols.shape[0]):
        counts[context[i], symbols[i] - mode[i] + 255] += COUNT_UNIT
    for c in range(weights.shape[0]):
        step = lr * (grad[c] * 2.0 ** -GRAD_BITS) / max(seen[c], 1)
        weights[c] = min(max(weights[c] + step, weight_min), weight_max)
        observed[c] += seen[c]
        if observed[c] > count_limit:
            for x in range(counts.shape[1]):
                counts[c, x] = (counts[c, x] + 1) >> 1
            observed[c] //= 2


class ResidualMixer:
    """Adaptive residual statistics for one image, mixed with the network's pmf."""

    def __init__(self, cfg: AdaptiveConfig, height: int) -> None:
        self.cfg = cfg
        self.edges = np.asarray(cfg.error_edges, dtype=np.int64)
        self.left_error = np.zeros((height, 3), dtype=np.int64)  # per row: last |x - m|
        contexts = 3 * cfg.buckets * (len(self.edges) + 1)
        self.counts = np.full((contexts, 511), int(cfg.prior), dtype=np.int64)
        # -0.5**1 .. -0.5**(B-1), ascending: searchsorted(-p) counts the halvings p is below
        self.halvings = -(0.5 ** np.arange(1, cfg.buckets))
        self.observed = np.zeros(contexts, dtype=np.int64)  # observations since a halving
        self.weights = np.full(contexts, cfg.weight_init)
        self._last: tuple = ()

    def mix(self, channel: int, freqs: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The coded (n, 256) distribution for the network's integer frequencies `freqs`
        (n, 256) of the pixels in `rows`."""
        n = len(freqs)
        probs, stats, mixed = np.empty((n, 256)), np.empty((n, 256)), np.empty((n, 256))
        context, mode = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
        _mix(np.ascontiguousarray(freqs, dtype=np.float64), self.left_error[rows, channel],
             channel, self.cfg.buckets, self.halvings, self.edges, self.counts, self.weights,
             probs, stats, mixed, context, mode)
        self._last = (channel, rows, context, mode, probs, stats, mixed)
        return mixed

    def update(self, symbols: np.ndarray) -> None:
        """Learn from the symbols just coded with the last `mix`."""
        channel, pixel_rows, context, mode, net, stats, mixed = self._last
        cfg = self.cfg
        _update(np.ascontiguousarray(symbols, dtype=np.int64), context, mode, net, stats,
                mixed, self.weights, self.counts, self.observed,
                np.zeros(len(self.weights)), np.zeros(len(self.weights), dtype=np.int64),
                float(cfg.lr), float(cfg.weight_min), float(cfg.weight_max),
                int(cfg.count_limit))
        self.left_error[pixel_rows, channel] = np.abs(symbols - mode)
