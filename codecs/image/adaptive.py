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

Arithmetic is float64 numpy (+ - * / only, no transcendental functions) run in one thread
in a fixed order, so encoder and decoder compute the same floats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_VALUES = np.arange(256)


@dataclass
class AdaptiveConfig:
    """Settings of the residual mixer (stored in the .arz header)."""

    buckets: int = 8
    prior: float = 0.03  # initial count of every residual
    lr: float = 0.05  # step size of the mixing weights
    weight_init: float = 0.9  # initial weight of the network
    weight_min: float = 0.05
    weight_max: float = 0.999
    count_limit: float = 8192.0  # halve a context's counts beyond this total
    error_edges: tuple[int, ...] = (1, 3, 7)  # |left residual| buckets: 0, 1-2, 3-6, 7+


class ResidualMixer:
    """Adaptive residual statistics for one image, mixed with the network's pmf."""

    def __init__(self, cfg: AdaptiveConfig, height: int) -> None:
        self.cfg = cfg
        self.edges = np.asarray(cfg.error_edges, dtype=np.int64)
        self.left_error = np.zeros((height, 3), dtype=np.int64)  # per row: last |x - m|
        contexts = 3 * cfg.buckets * (len(self.edges) + 1)
        self.counts = np.full((contexts, 511), cfg.prior)
        self.windows = np.lib.stride_tricks.sliding_window_view(self.counts, 256, axis=1)
        # -0.5**1 .. -0.5**(B-1), ascending: searchsorted(-p) counts the halvings p is below
        self.halvings = -(0.5 ** np.arange(1, cfg.buckets))
        self.totals = self.counts.sum(1)
        self.weights = np.full(contexts, cfg.weight_init)
        self._last: tuple = ()

    def mix(self, channel: int, probs: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The coded (n, 256) distribution for network probabilities `probs` (n, 256) of
        the pixels in `rows` (they must sum to about 1: they are not renormalised)."""
        mode = probs.argmax(1)
        # confidence bucket without logarithms: the number of halvings of pmf[mode] above 1
        bucket = np.searchsorted(self.halvings, -probs[np.arange(len(probs)), mode])
        error = np.searchsorted(self.edges, self.left_error[rows, channel], side="right")
        context = (channel * self.cfg.buckets + bucket) * (len(self.edges) + 1) + error
        # counts of the residual x - mode for every x: a 256-wide window of the context's row
        stats = self.windows[context, 255 - mode]
        w = self.weights[context]
        share = (1.0 - w) / stats.sum(1)
        stats *= share[:, None]  # now (1 - w) * normalised statistics
        mixed = probs * w[:, None]
        mixed += stats
        self._last = (channel, rows, context, mode, probs, stats, mixed)
        return mixed

    def update(self, symbols: np.ndarray) -> None:
        """Learn from the symbols just coded with the last `mix`."""
        channel, pixel_rows, context, mode, net, stats, mixed = self._last
        rows = np.arange(len(symbols))
        a, p = net[rows, symbols], mixed[rows, symbols]
        b = stats[rows, symbols] / (1.0 - self.weights[context])  # the statistics' own p
        size = len(self.weights)
        grad = np.bincount(context, (a - b) / p, minlength=size)
        seen = np.bincount(context, minlength=size)
        self.weights = np.clip(self.weights + self.cfg.lr * grad / np.maximum(seen, 1),
                               self.cfg.weight_min, self.cfg.weight_max)
        np.add.at(self.counts, (context, symbols - mode + 255), 1.0)
        self.left_error[pixel_rows, channel] = np.abs(symbols - mode)
        self.totals += seen
        full = self.totals > self.cfg.count_limit
        if full.any():
            self.counts[full] *= 0.5
            self.totals[full] = self.counts[full].sum(1)
