"""The cached wavefront schedule of the image model, and the subpixel distributions.

Pixel (r, c) is computed at step t = c + 2r. All its inputs were computed at steps t-1,
t-2 or t-3, so each layer keeps only the last four steps of its activations, one row of
the image per slot: memory is O(height × channels), whatever the width. At each step the
active pixels form one contiguous range of rows, so every neighbour lookup is a slice.
Encoder and decoder both call `params` and `PixelMixture.pmf` with the same shapes in the
same order, so they compute bit-identical probabilities.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .model import EMBED_TAPS, SLOPE, PixelCNN, split_params

# bin edges on the [-1, 1] scale; the outer ones are infinite so the CDF runs from 0 to 1
_EDGES = torch.cat([torch.tensor([-float("inf")]),
                    torch.arange(255, dtype=torch.float32).add(0.5).div(127.5).sub(1.0),
                    torch.tensor([float("inf")])])
_TAP_ROWS = np.array([dr for dr, _ in EMBED_TAPS])
_TAP_COLS = np.array([dc for _, dc in EMBED_TAPS])
_PAD_TOP, _PAD_SIDE = 2, 3
PMF_FLOOR = 1e-6  # every value stays codable with a finite, well-defined cost


def step_count(height: int, width: int) -> int:
    """Number of wavefront steps of an image."""
    return width + SLOPE * (height - 1) if height and width else 0


def active_rows(t: int, height: int, width: int) -> tuple[int, int]:
    """First and last row whose pixel is computed at step t."""
    hi = min(height - 1, t // SLOPE)
    lo = max(0, -(-(t - width + 1) // SLOPE))
    return lo, hi


class Wavefront:
    """Incremental evaluation of a PixelCNN over one image, step by step."""

    def __init__(self, model: PixelCNN, height: int, width: int) -> None:
        self.height, self.width = height, width
        self.weights = model.step_weights()
        self.add_skip = model.add_skip
        self.mixtures = model.cfg.mixtures
        channels = model.cfg.channels
        # decoded pixels, padded so every embed tap is an in-bounds index
        self.pixels = np.zeros((height + _PAD_TOP, width + 2 * _PAD_SIDE, 3), dtype=np.uint8)
        self.caches = [torch.zeros(4, height + 1, channels) for _ in range(model.cfg.layers)]
        self.done = 0  # subpixels set so far

    def positions(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and columns of the pixels computed at step t."""
        lo, hi = active_rows(t, self.height, self.width)
        rows = np.arange(lo, hi + 1)
        return rows, t - SLOPE * rows

    def set_pixels(self, rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> None:
        """Record the decoded (n, 3) pixels of a step."""
        self.pixels[rows + _PAD_TOP, cols + _PAD_SIDE] = values

    def _embed_input(self, rows: np.ndarray, cols: np.ndarray) -> torch.Tensor:
        tr = rows[:, None] + _TAP_ROWS
        tc = cols[:, None] + _TAP_COLS
        inside = torch.from_numpy((tr >= 0) & (tc >= 0) & (tc < self.width)).unsqueeze(-1)
        values = torch.from_numpy(self.pixels[tr + _PAD_TOP, tc + _PAD_SIDE]).float()
        unit = (values / 127.5 - 1.0) * inside
        return torch.cat([unit, inside.float()], -1).flatten(1)

    def params(self, t: int, rows: np.ndarray, cols: np.ndarray) -> torch.Tensor:
        """Mixture parameters (n, 10K) of the pixels of step t (`positions(t)`), whose
        inputs must be set."""
        lo, hi = int(rows[0]), int(rows[-1])
        w = self.weights
        pixel_taps = self._embed_input(rows, cols)
        h = F.linear(pixel_taps, *w["embed"])
        skip = F.linear(pixel_taps, *w["skip"]) if w["skip"] is not None else None
        now, prev1, prev2, prev3 = t % 4, (t - 1) % 4, (t - 2) % 4, (t - 3) % 4
        for cache, conv, gate in zip(self.caches, w["convs"], w["gates"], strict=True):
            e = F.elu(h)
            cache[now, lo + 1:hi + 2] = e
            cache[now, lo] = 0.0  # row lo-1 is idle at this step
            if hi + 2 <= self.height:
                cache[now, hi + 2] = 0.0  # so is row hi+1
            taps = torch.cat([cache[prev3, lo:hi + 1], cache[prev2, lo:hi + 1],
                              cache[prev1, lo:hi + 1], cache[prev1, lo + 1:hi + 2], e], 1)
            a, b = F.linear(F.elu(F.linear(taps, *conv)), *gate).chunk(2, 1)
            h = h + a * torch.sigmoid(b)
        return self.add_skip(F.linear(F.elu(h), *w["head"]), skip, 1)


class PixelMixture:
    """The discretized logistic mixture of a run of pixels, subpixel by subpixel."""

    def __init__(self, params: torch.Tensor, mixtures: int) -> None:
        logits, means, log_scales, coeffs = split_params(params, mixtures)
        self.weights = torch.softmax(logits, -1).unsqueeze(1)  # (n, 1, K)
        inv = torch.exp(-log_scales)  # (n, 3, K)
        self.inv = inv.unsqueeze(-1)  # (n, 3, K, 1)
        self.offset = -(means * inv)  # -mu/s before the R->G->B terms
        self.coeff_inv = coeffs * inv[:, (1, 2, 2)]  # alpha/s_G, beta/s_B, gamma/s_B

    def pmf(self, channel: int, earlier: np.ndarray) -> np.ndarray:
        """(n, 256) probabilities of subpixel `channel` given the pixel's earlier ones.

        `earlier` (n, >= channel) holds the already coded subpixels as uint8; the CDF of
        the mixture is evaluated at the 255 inner bin edges (and at ±inf), so the end bins
        are open.
        """
        offset = self.offset[:, channel]
        if channel:
            prev = torch.from_numpy(earlier[:, :channel].astype(np.float32)) / 127.5 - 1.0
            if channel == 1:
                offset = offset - self.coeff_inv[:, 0] * prev[:, :1]
            else:
                offset = (offset - self.coeff_inv[:, 1] * prev[:, :1]
                          - self.coeff_inv[:, 2] * prev[:, 1:])
        cdf_k = torch.addcmul(offset.unsqueeze(-1), self.inv[:, channel], _EDGES).sigmoid_()
        cdf = torch.bmm(self.weights, cdf_k).squeeze(1)  # (n, 257), from 0 to 1
        pmf = torch.sub(cdf[:, 1:], cdf[:, :-1])
        return pmf.clamp_(min=0.0).add_(PMF_FLOOR).numpy().astype(np.float64)
