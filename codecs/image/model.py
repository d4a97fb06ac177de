"""PixelCNN++-style image model with a wavefront step for cached decoding (nn.Module only).

The network sees whole previous pixels (raster order) and outputs, for every pixel, a
discretized mixture of logistics over its three subpixels with the linear R→G→B dependence
of PixelCNN++ (Salimans et al. 2017).

Layers:
- `embed`: a causal 3×7 patch convolution over the pixels (RGB in [-1, 1] plus a ones
  channel that marks the image's inside): row r cols c-3..c-1, row r-1 cols c-3..c+1,
  row r-2 cols c-3..c+3. It never sees pixel (r, c) itself.
- `blocks`: gated residual blocks. Each convolves elu(h) with a down-shifted 1×3 kernel on
  the row above (c-1..c+1) plus a down-right-shifted 1×2 kernel on the current row
  (c-1, c), then a 1×1 layer produces a, b and h ← h + a·σ(b). No blind spot: every layer
  widens the causal cone by one pixel left, up and up-right.
- `head`: elu → 1×1 → mixture parameters (10 per component).

Every input of pixel (r, c) lies at a raster position decoded at a wavefront step
t' = c' + 2r' < t = c + 2r, so all pixels with the same t are computed in one batch
(`WavefrontState.step`); `forward` computes the same function over whole images for
training.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# the architecture (config.py: coding reads it without torch), re-exported here
from .config import (  # noqa: F401
    BLOCK_TAPS,
    EMBED_TAPS,
    IN_CHANNELS,
    LOG_SCALE_MIN,
    SLOPE,
    ImageModelConfig,
)

# initial linear predictors (weights of L, U, UL) of the mixture components
PREDICTORS = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (1.0, 1.0, -1.0), (0.5, 0.5, 0.0),
              (0.75, 0.75, -0.5)]


def _kernel_mask(taps: list[tuple[int, int]], rows: int, left: int, cols: int) -> torch.Tensor:
    mask = torch.zeros(rows, cols)
    for dr, dc in taps:
        mask[rows - 1 + dr, left + dc] = 1.0
    return mask


class PixelCNN(nn.Module):
    """Pixels (B, 3, H, W) in [-1, 1] -> mixture parameters (B, 10K, H, W)."""

    def __init__(self, cfg: ImageModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c, k = cfg.channels, cfg.mixtures
        self.embed = nn.Conv2d(IN_CHANNELS, c, (3, 7))
        self.convs = nn.ModuleList(nn.Conv2d(c, c, (2, 3)) for _ in range(cfg.layers))
        self.gates = nn.ModuleList(nn.Conv2d(c, 2 * c, 1) for _ in range(cfg.layers))
        self.head = nn.Conv2d(c, 10 * k, 1)
        # a direct linear path from the causal pixels to the means (3 colours x K)
        self.skip = nn.Conv2d(IN_CHANNELS, 3 * k, (3, 7)) if cfg.linear_skip else None
        self._init_output()

    def _init_output(self) -> None:
        """Start from classical predictors instead of uniform noise: component k predicts
        its colour from the left (L), upper (U) and upper-left (UL) pixels like
        L, U, L+U-UL, (L+U)/2, ... and every scale starts near 6 pixel values."""
        k = self.cfg.mixtures
        with torch.no_grad():
            self.head.weight.zero_()  # the network starts as a pure correction of zero
            self.head.bias.zero_()
            self.head.bias[4 * k:7 * k] = math.log(6 / 127.5)
            if self.skip is None:
                return
            self.skip.weight.zero_()
            self.skip.bias.zero_()
            for comp in range(k):
                weights = PREDICTORS[comp % len(PREDICTORS)]
                for colour in range(3):
                    for (dr, dc), w in zip([(0, -1), (-1, 0), (-1, -1)], weights, strict=True):
                        self.skip.weight[colour * k + comp, colour, 2 + dr, 3 + dc] = w
        self.register_buffer("embed_mask", _kernel_mask(EMBED_TAPS, 3, 3, 7), persistent=False)
        self.register_buffer("block_mask", _kernel_mask(BLOCK_TAPS, 2, 1, 3), persistent=False)

    # ---- whole-image form (training, likelihood estimates) ----
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ones = torch.ones_like(x[:, :1])
        inp = F.pad(torch.cat([x, ones], 1), (3, 3, 2, 0))
        h = F.conv2d(inp, self.embed.weight * self.embed_mask, self.embed.bias)
        skip = (F.conv2d(inp, self.skip.weight * self.embed_mask, self.skip.bias)
                if self.skip is not None else None)
        for conv, gate in zip(self.convs, self.gates, strict=True):
            z = F.conv2d(F.pad(F.elu(h), (1, 1, 1, 0)), conv.weight * self.block_mask, conv.bias)
            a, b = gate(F.elu(z)).chunk(2, 1)
            h = h + a * torch.sigmoid(b)
        return self.add_skip(self.head(F.elu(h)), skip, 1)

    def add_skip(self, params: torch.Tensor, skip: torch.Tensor | None,
                 dim: int) -> torch.Tensor:
        """Add the linear predictor to the means (parameters K..4K along `dim`)."""
        if skip is None:
            return params
        k = self.cfg.mixtures
        logits, means, rest = params.split([k, 3 * k, 6 * k], dim)
        return torch.cat([logits, means + skip, rest], dim)

    # ---- per-pixel matrices for the wavefront step ----
    def step_weights(self) -> dict:
        """The convolutions as matrices over gathered taps (same order as the *_TAPS lists)."""
        def taps_matrix(weight: torch.Tensor, taps, rows: int, left: int) -> torch.Tensor:
            return torch.cat([weight[:, :, rows - 1 + dr, left + dc] for dr, dc in taps], 1)

        return {
            "embed": (taps_matrix(self.embed.weight, EMBED_TAPS, 3, 3).contiguous(),
                      self.embed.bias),
            "convs": [(taps_matrix(cv.weight, BLOCK_TAPS, 2, 1).contiguous(), cv.bias)
                      for cv in self.convs],
            "gates": [(g.weight[:, :, 0, 0].contiguous(), g.bias) for g in self.gates],
            "head": (self.head.weight[:, :, 0, 0].contiguous(), self.head.bias),
            "skip": (None if self.skip is None else
                     (taps_matrix(self.skip.weight, EMBED_TAPS, 3, 3).contiguous(),
                      self.skip.bias)),
        }


def split_params(params: torch.Tensor, mixtures: int) -> tuple[torch.Tensor, ...]:
    """(..., 10K) -> logits (..., K), means, log-scales, coeffs (..., 3, K)."""
    k = mixtures
    logits = params[..., :k]
    rest = params[..., k:].unflatten(-1, (3, 3, k))
    means, log_scales = rest[..., 0, :, :], rest[..., 1, :, :].clamp(min=LOG_SCALE_MIN)
    coeffs = torch.tanh(rest[..., 2, :, :])
    return logits, means, log_scales, coeffs


def channel_means(means: torch.Tensor, coeffs: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Means of R, G, B given the pixel's earlier subpixels x (..., 3) in [-1, 1]."""
    r, g = x[..., 0:1], x[..., 1:2]
    m_g = means[..., 1, :] + coeffs[..., 0, :] * r
    m_b = means[..., 2, :] + coeffs[..., 1, :] * r + coeffs[..., 2, :] * g
    return torch.stack([means[..., 0, :], m_g, m_b], -2)


def dmol_bits(params: torch.Tensor, x: torch.Tensor, mixtures: int,
              channels: int = 3) -> torch.Tensor:
    """Bits of every subpixel: params (B, 10K, H, W), x (B, 3, H, W) in [-1, 1] -> (B, C, H, W).

    The probability of value v is Σ_k π_k [σ((v + ½ - μ_k)/s_k) - σ((v - ½ - μ_k)/s_k)]
    on the 0..255 grid scaled to [-1, 1], with the lowest and highest bins open-ended.
    """
    p = params.permute(0, 2, 3, 1)
    xs = x.permute(0, 2, 3, 1)
    logits, means, log_scales, coeffs = split_params(p, mixtures)
    mu = channel_means(means, coeffs, xs)
    v = xs.unsqueeze(-1)
    inv = torch.exp(-log_scales)
    plus, minus = inv * (v + 1 / 255 - mu), inv * (v - 1 / 255 - mu)
    log_cdf_plus = plus - F.softplus(plus)
    log_one_minus_cdf_min = -F.softplus(minus)
    delta = (torch.sigmoid(plus) - torch.sigmoid(minus)).clamp(min=1e-12)
    mid = minus + 0.5 * (plus - minus)
    log_pdf_mid = mid - log_scales - 2 * F.softplus(mid) + math.log(2 / 255)
    log_delta = torch.where(delta > 1e-5, delta.log(), log_pdf_mid)
    log_p = torch.where(v < -0.999, log_cdf_plus,
                        torch.where(v > 0.999, log_one_minus_cdf_min, log_delta))
    log_mix = torch.log_softmax(logits, -1).unsqueeze(-2)
    log_px = torch.logsumexp(log_p[..., :channels, :] + log_mix, -1)
    return (-log_px / math.log(2)).permute(0, 3, 1, 2)
