"""The PixelCNN and its logistic mixture in exact integer arithmetic (what coding runs).

`model.py` defines and trains the float network; this module runs the same function with
integers wherever sums are taken (`arzip.exact`), so probabilities are the same bits on
every machine and in every batch layout:

- inputs are the 15 causal pixel taps as integers 2v - 255 (and 255 for "inside"), at
  scale 1/255, exactly the float model's [-1, 1] values;
- the residual stream h is an integer multiple of 2^-resid_bits (|h| < 2^14); elu(h) is a
  12-bit table over h's integers, elu of each convolution's output a 12-bit table at 1/64
  steps, sigmoid of the gates a table at 1/256 steps (2^16); weights are 12-bit integers per
  output row, and every matrix product is an exact integer sum;
- the mixture: component weights from an exp table over the logits (1/64 nat), inverse
  scales from an exp table over the log-scales (1/256), R->G->B coefficients from a tanh
  table, and each component's CDF at the 255 bin edges from a sigmoid table (1/2048 steps,
  2^24): the distribution of a subpixel is an integer frequency per value.

`image_params` computes every pixel of an image at once (the encoder's parallel pass); the
decoder computes the same integers step by step (`wavefront.Wavefront`).
"""

from __future__ import annotations

from fractions import Fraction
from types import SimpleNamespace
from typing import TYPE_CHECKING

import numpy as np

from arzip import exact, kernels

from .config import BLOCK_TAPS, EMBED_TAPS, LOG_SCALE_MIN, ImageModelConfig

if TYPE_CHECKING:  # coding needs no torch: only calibration and the float model do
    import torch

    from .model import PixelCNN

RESID_LIMIT = 1 << 20
ELU_H_STEP = 4096  # elu(h): a table at 1/4096 steps over the residual's range
ACT = 8191  # activations between layers: 14-bit integers
W_BITS = 16  # weights: 16-bit integers per output row (12 bits cost 1.5 % on some images)
PIXEL_SCALE = 255  # input integers: 2v - 255 for v in 0..255, 255 for "inside"
ELU_STEP, ELU_RANGE = 1024, 32  # elu of a convolution's output: 1/1024 steps over ±32
GATE_STEP, GATE_RANGE, GATE_BITS = 4096, 24, 24  # sigmoid of the gates: 1/4096 over ±24
MIX_STEP, MIX_NATS, MIX_BITS = 64, 24, 16  # mixture weights: exp table over logit gaps
SCALE_STEP = 256  # inverse scales: exp(-log_scale) at 1/256 steps over [-7, 8]
SCALE_LO, SCALE_HI = int(LOG_SCALE_MIN) * SCALE_STEP, 8 * SCALE_STEP
SCALE_BITS = 40
COEFF_STEP, COEFF_RANGE, COEFF_BITS = 4096, 16, 24  # 1/256 steps cost 0.5 % on some images
CDF_STEP, CDF_RANGE, CDF_BITS = 2048, 24, 24
FLOOR_SHIFT = 20  # every value gets 2^-20 of the total (it stays codable)
# bin edges on the [-1, 1] scale between the 256 values
EDGES = (np.arange(255, dtype=np.float64) + 0.5) / 127.5 - 1.0
_TAP_ROWS = np.array([dr for dr, _ in EMBED_TAPS])
_TAP_COLS = np.array([dc for _, dc in EMBED_TAPS])


def _f64(t: torch.Tensor | np.ndarray) -> np.ndarray:
    """A weight as float64 (from a tensor of the float model, or an array of its file)."""
    if hasattr(t, "detach"):
        t = t.detach().cpu().numpy()
    return np.asarray(t, dtype=np.float64)


def weights_view(config: dict, state: dict) -> SimpleNamespace:
    """An exported state dict (arrays or tensors) with the float model's attribute names
    (embed.weight, convs[i].bias, ...): what `ExactPixelCNN` reads, without torch."""
    cfg = ImageModelConfig(**config)

    def layer(name: str) -> SimpleNamespace:
        return SimpleNamespace(weight=state[f"{name}.weight"], bias=state[f"{name}.bias"])

    return SimpleNamespace(
        cfg=cfg, embed=layer("embed"), head=layer("head"),
        skip=layer("skip") if cfg.linear_skip else None,
        convs=[layer(f"convs.{i}") for i in range(cfg.layers)],
        gates=[layer(f"gates.{i}") for i in range(cfg.layers)])


def calibrate(model: PixelCNN, x: torch.Tensor) -> dict:
    """Activation peaks (largest |value| of every quantised activation, and of the residual
    stream) of the float model on images x (B, 3, H, W) in [-1, 1], to store with the
    model: the exact network's scales follow from them (`ExactPixelCNN`)."""
    import torch
    import torch.nn.functional as F

    peaks: dict[str, float] = {}

    def peak(name: str, value: torch.Tensor) -> None:
        peaks[name] = max(peaks.get(name, 0.0), float(value.abs().max()))

    with torch.no_grad():
        ones = torch.ones_like(x[:, :1])
        inp = F.pad(torch.cat([x, ones], 1), (3, 3, 2, 0))
        h = F.conv2d(inp, model.embed.weight * model.embed_mask, model.embed.bias)
        resid = float(h.abs().max())
        for i, (conv, gate) in enumerate(zip(model.convs, model.gates, strict=True)):
            e = F.elu(h)
            peak(f"{i}.elu", e)
            z = F.elu(F.conv2d(F.pad(e, (1, 1, 1, 0)), conv.weight * model.block_mask,
                               conv.bias))
            peak(f"{i}.z", z)
            a, b = gate(z).chunk(2, 1)
            h = h + a * torch.sigmoid(b)
            resid = max(resid, float(h.abs().max()))
        peak("head", F.elu(h))
    peaks["resid"] = resid
    return peaks


class _Linear:
    """Integer input (|x| <= x_max) at `in_scale` -> real output (float64) per element."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, in_scale: float,
                 x_max: int | None = None) -> None:
        self.int = exact.IntLinear(weight, ACT if x_max is None else x_max, W_BITS)
        self.factor = self.int.scale * in_scale
        self.bias = bias

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.int.acc(x) * self.factor + self.bias


def _taps(weight: torch.Tensor, mask_taps: list, rows: int, left: int) -> np.ndarray:
    """A masked convolution's weight (out, in, kh, kw) as a matrix over gathered taps."""
    return np.concatenate([_f64(weight[:, :, rows - 1 + dr, left + dc]) for dr, dc in mask_taps],
                          1)


class ExactPixelCNN:
    """`PixelCNN` with integer activations: mixture parameters (n, 10K) per pixel."""

    def __init__(self, model: PixelCNN | SimpleNamespace, peaks: dict) -> None:
        """From the float model, or an exported file's `weights_view`, and the
        calibrated activation peaks."""
        cfg = self.cfg = model.cfg
        self.mixtures, self.channels = cfg.mixtures, cfg.channels
        self.layers = cfg.layers
        scales = {k: max(float(v), 1e-6) / ACT for k, v in peaks.items()}
        bits = exact.headroom_bits(peaks["resid"], RESID_LIMIT)
        self.resid_scale = 2.0 ** -bits
        unit = 1.0 / PIXEL_SCALE
        self.embed = _Linear(_taps(model.embed.weight, EMBED_TAPS, 3, 3),
                             _f64(model.embed.bias), unit, PIXEL_SCALE)
        self.skip = (None if model.skip is None else
                     _Linear(_taps(model.skip.weight, EMBED_TAPS, 3, 3), _f64(model.skip.bias),
                             unit, PIXEL_SCALE))
        # elu(h) as int8 per layer (and for the head): a table over h's integers
        self.elu_h_range = (RESID_LIMIT >> bits) + 1
        self.elu_h_index = ELU_H_STEP * self.resid_scale  # h's integers -> table steps
        elu_h = exact.elu_table(Fraction(1, ELU_H_STEP), ELU_H_STEP * self.elu_h_range, 24
                                ) / float(1 << 24)
        self.elu_h = [exact.requant(elu_h, 1.0 / scales[f"{i}.elu"], ACT).astype(np.float32)
                      for i in range(self.layers)]
        self.elu_head = exact.requant(elu_h, 1.0 / scales["head"], ACT).astype(np.float32)
        elu_z = exact.elu_table(Fraction(1, ELU_STEP), ELU_STEP * ELU_RANGE, 24) / float(1 << 24)
        self.convs, self.gates, self.elu_z = [], [], []
        for i, (conv, gate) in enumerate(zip(model.convs, model.gates, strict=True)):
            self.convs.append(_Linear(_taps(conv.weight, BLOCK_TAPS, 2, 1), _f64(conv.bias),
                                      scales[f"{i}.elu"]))
            self.elu_z.append(exact.requant(elu_z, 1.0 / scales[f"{i}.z"], ACT).astype(np.float32))
            self.gates.append(_Linear(_f64(gate.weight[:, :, 0, 0]), _f64(gate.bias),
                                      scales[f"{i}.z"]))
        # float32 holds these integers / 2^24 exactly (and halves the table's cache lines)
        self.sigmoid = (exact.sigmoid_table(Fraction(1, GATE_STEP), GATE_STEP * GATE_RANGE,
                                            GATE_BITS) / float(1 << GATE_BITS)).astype(np.float32)
        self.head = _Linear(_f64(model.head.weight[:, :, 0, 0]), _f64(model.head.bias),
                            scales["head"])

    # ---- the layers, for any batch of pixels ----
    def lookup_elu(self, table: np.ndarray, h: np.ndarray) -> np.ndarray:
        """Integer elu(h) (float32) from the integer residual h (n, C) (float64 integers)."""
        flat = np.ascontiguousarray(h).reshape(-1, h.shape[-1])
        out = np.empty(flat.shape, dtype=np.float32)
        kernels.scaled_lookup(flat, self.elu_h_index, table, out)
        return out.reshape(h.shape)

    def embed_taps(self, values: np.ndarray, inside: np.ndarray) -> np.ndarray:
        """Input integers (n, 60) from tap pixels (n, 15, 3) uint8 and inside flags (n, 15)."""
        unit = (values.astype(np.float32) * 2.0 - 255.0) * inside[..., None]
        return np.concatenate([unit, inside[..., None] * np.float32(PIXEL_SCALE)], -1
                              ).reshape(len(values), -1)

    def first(self, taps: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The integer residual after the embedding, and the linear path to the means."""
        h = exact.requant(self.embed(taps), 1.0 / self.resid_scale, RESID_LIMIT - 1)
        return h, (self.skip(taps) if self.skip is not None else None)

    def block(self, i: int, taps: np.ndarray, h: np.ndarray,
              earlier: np.ndarray | None = None) -> np.ndarray:
        """Layer i: 12-bit elu(h) taps (n, 5C) and the residual h (n, C) -> the new h; or,
        with `earlier` (the accumulators of the first 4C taps, `block_earlier`), taps
        (n, C) holding only the last: this step's own elu(h)."""
        conv, gate = self.convs[i], self.gates[i]
        ez = np.empty((len(h), self.channels), dtype=np.float32)
        acc = (conv.int.acc(taps) if earlier is None
               else earlier + conv.int.acc_part(taps, 4 * self.channels, 5 * self.channels))
        kernels.affine_lookup(acc, conv.factor, conv.bias, float(ELU_STEP), self.elu_z[i], ez)
        h = np.array(h, dtype=np.float64)  # a new array: the caller's h is left as it was
        kernels.gated_residual(gate.int.acc(ez), gate.factor, gate.bias, float(GATE_STEP),
                               self.sigmoid, 1.0 / self.resid_scale, RESID_LIMIT - 1.0, h)
        return h

    def block_earlier(self, i: int, taps: np.ndarray) -> np.ndarray:
        """Layer i's accumulators of its first 4C taps (n, 4C): the activations of earlier
        wavefront steps, known before this step's pixels (`block`'s `earlier`)."""
        return self.convs[i].int.acc_part(taps, 0, 4 * self.channels)

    def last(self, h: np.ndarray, skip: np.ndarray | None) -> np.ndarray:
        """Mixture parameters (n, 10K) from the final residual."""
        params = self.head(self.lookup_elu(self.elu_head, h))
        if skip is not None:
            k = self.mixtures
            params[:, k:4 * k] += skip
        return params

    # ---- a whole image at once (the encoder) ----
    def image_params(self, pixels: np.ndarray, band: int = 32) -> np.ndarray:
        """Parameters (H, W, 10K) of every pixel of an (H, W, 3) uint8 image."""
        height, width = pixels.shape[:2]
        padded = np.zeros((height + 2, width + 6, 3), dtype=np.uint8)
        padded[2:, 3:width + 3] = pixels
        rows = np.arange(height)[:, None, None] + _TAP_ROWS
        cols = np.arange(width)[None, :, None] + _TAP_COLS
        c = self.channels
        h = np.zeros((height, width, c))
        skip = None
        for top in range(0, height, band):
            r = rows[top:top + band]
            inside = ((r >= 0) & (cols >= 0) & (cols < width)).astype(np.float32)
            values = padded[r + 2, cols + 3]  # (b, W, 15, 3)
            n = values.shape[0] * width
            taps = self.embed_taps(values.reshape(n, 15, 3), inside.reshape(n, 15))
            hb, sb = self.first(taps)
            h[top:top + band] = hb.reshape(-1, width, c)
            if sb is not None:
                if skip is None:
                    skip = np.zeros((height, width, sb.shape[-1]))
                skip[top:top + band] = sb.reshape(-1, width, sb.shape[-1])
        for i in range(self.layers):
            e = np.zeros((height + 1, width + 2, c), dtype=np.float32)  # zero pad: up, sides
            e[1:, 1:width + 1] = self.lookup_elu(self.elu_h[i], h)
            for top in range(0, height, band):
                stop = min(height, top + band)
                taps = np.concatenate([e[top + 1 + dr:stop + 1 + dr, 1 + dc:width + 1 + dc]
                                       for dr, dc in BLOCK_TAPS], -1)
                hb = h[top:stop].reshape(-1, c)
                h[top:stop] = self.block(i, taps.reshape(-1, len(BLOCK_TAPS) * c), hb
                                         ).reshape(-1, width, c)
        flat_skip = None if skip is None else skip.reshape(-1, skip.shape[-1])
        out = self.last(h.reshape(-1, c), flat_skip)
        return out.reshape(height, width, -1)


class ExactMixture:
    """The discretized logistic mixture of a run of pixels as integer frequencies."""

    def __init__(self, params: np.ndarray, mixtures: int) -> None:
        k = mixtures
        tables = _mixture_tables()
        logits = params[:, :k]
        rest = params[:, k:].reshape(len(params), 3, 3, k)
        means, log_scales, coeffs = rest[:, 0], rest[:, 1], rest[:, 2]
        gap = np.rint((logits.max(1, keepdims=True) - logits) * MIX_STEP)
        self.weights = tables["mix"][np.minimum(gap, len(tables["mix"]) - 1).astype(np.int64)]
        self.total = self.weights.sum(1) * float(1 << CDF_BITS)  # exact integers
        idx = np.clip(np.rint(log_scales * SCALE_STEP), SCALE_LO, SCALE_HI).astype(np.int64)
        self.inv = tables["inv_scale"][idx - SCALE_LO]  # (n, 3, K) exp(-log_scale)
        idx = np.clip(np.rint(coeffs * COEFF_STEP), -COEFF_STEP * COEFF_RANGE,
                      COEFF_STEP * COEFF_RANGE).astype(np.int64)
        self.coeffs = tables["tanh"][idx + COEFF_STEP * COEFF_RANGE]  # (n, 3, K)
        self.means = means
        self.sigmoid = tables["cdf"]

    def pmf(self, channel: int, earlier: np.ndarray) -> np.ndarray:
        """Integer frequencies (n, 256) of subpixel `channel` given the pixel's earlier
        subpixels (n, >= channel) uint8; the end bins are open."""
        mean = self.means[:, channel]
        if channel:
            prev = (earlier[:, :channel].astype(np.float64) * 2.0 - 255.0) / 255.0
            if channel == 1:
                mean = mean + self.coeffs[:, 0] * prev[:, :1]
            else:
                mean = mean + self.coeffs[:, 1] * prev[:, :1] + self.coeffs[:, 2] * prev[:, 1:2]
        out = np.empty((len(mean), 256))
        kernels.logistic_mixture_pmf(EDGES, np.ascontiguousarray(mean),
                                     np.ascontiguousarray(self.inv[:, channel]), self.weights,
                                     np.floor(self.total / (1 << FLOOR_SHIFT)), self.sigmoid,
                                     float(CDF_STEP), out)
        return out


_TABLES: dict = {}


def _mixture_tables() -> dict:
    """The mixture's integer tables (as float64 values), built once."""
    if not _TABLES:
        _TABLES["mix"] = exact.exp_table(Fraction(1, MIX_STEP), MIX_STEP * MIX_NATS, MIX_BITS
                                         ).astype(np.float64)
        inv_scale = exact.exp_range_table(Fraction(1, SCALE_STEP), -SCALE_HI, -SCALE_LO,
                                          SCALE_BITS)
        _TABLES["inv_scale"] = inv_scale[::-1] / 2.0 ** SCALE_BITS
        _TABLES["tanh"] = exact.tanh_table(Fraction(1, COEFF_STEP), COEFF_STEP * COEFF_RANGE,
                                           COEFF_BITS) / 2.0 ** COEFF_BITS
        _TABLES["cdf"] = exact.sigmoid_table(Fraction(1, CDF_STEP), CDF_STEP * CDF_RANGE,
                                             CDF_BITS).astype(np.float32)  # exact: <= 2^24
    return _TABLES
