"""The WaveNet and its head in exact arithmetic (what coding runs; `model.py` trains).

Integers wherever sums are taken (`arzip.exact`), so every machine and every batch layout
computes the same bits:

- frame features (companded samples and prediction errors, log-scales, stereo flag, rate)
  are integers at 2^-12, from the exact natural log (`kernels.ln`);
- the residual stream is an integer multiple of 2^-resid_bits (|h| < 2^20), weights are
  16-bit integers per output row, gates are tanh from an integer table (1/1024 steps)
  multiplied as t_a (1 + t_b) and kept as integers at 2^-13, the skip and hidden layers'
  ReLU outputs are 13-bit integers at calibrated scales: every matrix product is an exact
  integer sum in float64;
- the head's outputs give each sample's mean and log-scale through sums taken in a fixed
  order (`distribution`, compiled by numba without fast-math), and the scale through the
  exact exponential (`kernels.exp`).

`forward` runs whole sequences (the encoder's parallel pass, tests); `step` one frame of a
batch of lanes with Fast-WaveNet queues (the decoder). Both give the same integers.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch
from numba import njit

from arzip import exact, jitcache, kernels

from .model import FEATURES, LOG_SCALE_MAX, LOG_SCALE_MIN, SAMPLE_MAX, SAMPLE_MIN, WaveNet

jitcache.depends(__file__, kernels)  # the step kernel inlines the core's products

FEATURE_BITS = 12
FEATURE_MAX = 1 << 15  # |feature integers| (rate codes up to 8)
RESID_LIMIT = 1 << 20
GATE_BITS = 13  # gate outputs t_a (1 + t_b) in (-2, 2) as integers at 2^-13
TANH_STEP, TANH_RANGE = 1024, 10
ACT = 8191  # ReLU outputs of the skip and hidden layers
W_BITS = 16
MEAN_MIN, MEAN_MAX = SAMPLE_MIN - 1024.0, SAMPLE_MAX + 1024.0
COMPAND = 1.0 / (exact.ln_fixed(32769, 60) / 2.0 ** 60)  # 1 / log1p(32768), as in training


def _f64(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float64).numpy()


def calibrate(model: WaveNet, x: torch.Tensor, prediction: torch.Tensor, scale: torch.Tensor,
              stereo: torch.Tensor, rate: torch.Tensor) -> dict:
    """Activation peaks of the float model on frames x (B, T, 2) with their classical
    predictions and scales (B, T, 2): of the residual stream and of the skip and hidden
    layers' ReLU outputs, to store with the model (`ExactWaveNet` derives its scales)."""
    import torch.nn.functional as F

    from .model import frame_features

    with torch.no_grad():
        f = frame_features(x, x - prediction, torch.log(scale), stereo[:, None].expand(x.shape[:2]),
                           rate[:, None].expand(x.shape[:2]))
        f = F.pad(f, (0, 0, 2, 0))
        h = model.inp(torch.cat([f[:, :-2], f[:, 1:-1]], dim=-1))
        resid, gates = float(h.abs().max()), []
        for i, layer in enumerate(model.dilated):
            d = 2 ** i
            g = model.gate(layer(torch.cat([F.pad(h, (0, 0, d, 0))[:, :-d], h], dim=-1)))
            gates.append(g)
            if i < len(model.residual):
                h = h + model.residual[i](g)
                resid = max(resid, float(h.abs().max()))
        skip = F.relu(model.skip(torch.cat(gates, dim=-1)))
        hidden = F.relu(model.hidden(skip))
    return {"resid": resid, "skip": float(skip.max()), "hidden": float(hidden.max())}


class _Linear:
    """Integer input (|x| <= x_max) at `in_scale` -> real output (float64) per element."""

    def __init__(self, layer: torch.nn.Linear, in_scale: float, x_max: int) -> None:
        self.int = exact.IntLinear(_f64(layer.weight), x_max, W_BITS)
        self.factor = self.int.scale * in_scale
        self.bias = _f64(layer.bias) if layer.bias is not None else np.zeros(len(self.factor))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.int.acc(x) * self.factor + self.bias


@njit(cache=True, nogil=True)
def _compand(v: float, log_table: np.ndarray) -> float:
    if v == 0.0:
        return 0.0
    c = kernels.ln(1.0 + abs(v), log_table) * COMPAND
    return c if v > 0 else -c


@njit(cache=True, nogil=True)
def frame_features(x: np.ndarray, prediction: np.ndarray, scale: np.ndarray,
                   stereo: np.ndarray, rate: np.ndarray, log_table: np.ndarray,
                   out: np.ndarray) -> None:
    """Integer features out (n, 8) of frames x (n, 2) (integer samples) with their
    classical predictions and scales (n, 2), stereo flags and rate codes (n,): companded
    samples, companded errors, log-scales / 8, stereo, rate; all times 2^12, rounded."""
    one = float(1 << FEATURE_BITS)
    for i in range(x.shape[0]):
        for c in range(2):
            out[i, c] = np.rint(_compand(x[i, c], log_table) * one)
            out[i, 2 + c] = np.rint(_compand(x[i, c] - prediction[i, c], log_table) * one)
            out[i, 4 + c] = np.rint(kernels.ln(scale[i, c], log_table) * 0.125 * one)
        out[i, 6] = np.rint(stereo[i] * one)
        out[i, 7] = np.rint(rate[i] * one)


@njit(cache=True, nogil=True)
def _push_frame(x: np.ndarray, prediction: np.ndarray, scale: np.ndarray, stereo: np.ndarray,
                rate: np.ndarray, log_table: np.ndarray, inputs: np.ndarray) -> None:
    """inputs (n, 2 FEATURES) = (the newer half, the features of frames x) in place."""
    n = x.shape[0]
    features = np.empty((n, FEATURES))
    frame_features(x, prediction, scale, stereo, rate, log_table, features)
    for i in range(n):
        for j in range(FEATURES):
            inputs[i, j] = inputs[i, FEATURES + j]
            inputs[i, FEATURES + j] = features[i, j]


@njit(cache=True, nogil=True)
def _gates_of(acc: np.ndarray, factor: np.ndarray, bias: np.ndarray, table: np.ndarray,
              out: np.ndarray) -> None:
    """out[i, j] = rint(t_a (1 + t_b) 2^13), t = tanh(z) from the table, of z = acc * factor
    + bias (n, 2C) (a dilated layer's `_Linear` output, one rounding per operation)."""
    centre = (table.shape[0] - 1) // 2
    n, c = out.shape
    for i in range(n):
        for j in range(c):
            za = acc[i, j] * factor[j] + bias[j]
            zb = acc[i, j + c] * factor[j + c] + bias[j + c]
            ua = min(max(np.rint(za * TANH_STEP), -centre), centre)
            ub = min(max(np.rint(zb * TANH_STEP), -centre), centre)
            ta = table[int(ua) + centre]
            tb = table[int(ub) + centre]
            out[i, j] = np.rint(ta * (1.0 + tb) * (1 << GATE_BITS))


@njit(cache=True, nogil=True)
def _add_residual(acc: np.ndarray, factor: np.ndarray, bias: np.ndarray, inv_scale: float,
                  limit: float, h: np.ndarray) -> None:
    """h = clip(h + clip(rint((acc * factor + bias) * inv_scale), ±limit), ±limit) in place
    (a residual layer's output requantised and added, as `forward` did in numpy)."""
    n, c = h.shape
    for i in range(n):
        for j in range(c):
            v = np.rint((acc[i, j] * factor[j] + bias[j]) * inv_scale)
            v = min(max(v, -limit), limit)
            h[i, j] = min(max(h[i, j] + v, -limit), limit)


@njit(cache=True, nogil=True)
def _relu_quant_of(acc: np.ndarray, factor: np.ndarray, bias: np.ndarray, inv_scale: float,
                   out: np.ndarray) -> None:
    """out = clip(rint(y * inv_scale), 0, ACT) of y = acc * factor + bias (a `_Linear`
    output, one rounding per operation)."""
    n, m = out.shape
    for i in range(n):
        for j in range(m):
            v = np.rint((acc[i, j] * factor[j] + bias[j]) * inv_scale)
            out[i, j] = min(max(v, 0.0), float(ACT))


@njit(cache=True, nogil=True)
def distribution(out: np.ndarray, channel: int, errors: np.ndarray, prediction: np.ndarray,
                 log_scale: np.ndarray, error0: np.ndarray, exp_table: np.ndarray,
                 mean: np.ndarray, scale: np.ndarray) -> None:
    """Mean and scale (n,) of `channel` from head outputs out (n, O), the past prediction
    errors (n, 2, taps) (newest first), the classical predictions and log-scales (n, 2) and,
    for channel 1, channel 0's current errors (n,) (as `WaveNet.predictions`, summed in
    this fixed order)."""
    taps = errors.shape[2]
    base = 0 if channel == 0 else 2 * taps + 2
    own, cross = channel, 1 - channel
    for i in range(out.shape[0]):
        total = 0.0
        for k in range(taps):
            total += out[i, base + k] * errors[i, own, k]
        for k in range(taps):
            total += out[i, base + taps + k] * errors[i, cross, k]
        m = prediction[i, channel] * (1.0 + out[i, base + 2 * taps + channel]) + total
        if channel == 1:
            m += out[i, base + 2 * taps] * error0[i]
        mean[i] = min(max(m, MEAN_MIN), MEAN_MAX)
        lb = log_scale[i, channel] + out[i, base + 2 * taps + 1 + channel]
        lb = min(max(lb, LOG_SCALE_MIN), LOG_SCALE_MAX)
        scale[i] = kernels.exp(lb, exp_table)


@njit(cache=True, nogil=True)
def log_scales(scale: np.ndarray, log_table: np.ndarray, out: np.ndarray) -> None:
    """out = ln(scale) elementwise (n, 2), by the exact log."""
    for i in range(scale.shape[0]):
        for c in range(scale.shape[1]):
            out[i, c] = kernels.ln(scale[i, c], log_table)


@njit(cache=True, nogil=True, fastmath={"contract"})
def _accumulate(weights: np.ndarray, at: int, n_in: int, n_out: int, x: np.ndarray, n: int,
                out: np.ndarray) -> None:
    """out[:n, :n_out] = x[:n, :n_in] @ W for integer x and W (in, out) at weights[at:]:
    every product and partial sum is an integer below 2^53, so fused multiply-adds and any
    summation order give the exact sums `IntLinear.acc` gives. Each weight row is read once
    for the n rows, the output loop innermost (SIMD): the faster order for one or two rows."""
    for i in range(n):
        for j in range(n_out):
            out[i, j] = 0.0
    for k in range(n_in):
        w = weights[at + k * n_out:at + (k + 1) * n_out]  # 16-bit integers, exact in float32
        for i in range(n):
            xk = x[i, k]
            for j in range(n_out):
                out[i, j] += xk * np.float64(w[j])


@njit(cache=True, nogil=True)
def _accumulate_t(weights: np.ndarray, at: int, n_in: int, n_out: int, x: np.ndarray,
                  n: int, out: np.ndarray) -> None:
    """`_accumulate` with W stored transposed (out, in) at weights[at:]: every partial sum
    is an integer below 2^53, so any summation order (`kernels.int_products`' vectorised
    dot products, four outputs of two rows at a time with the sums in registers) gives
    the exact sums `IntLinear.acc` gives: the faster order from three rows on (a whole
    step of 4 lanes 1.26x, of 8-16 lanes 1.6x; of 2 lanes 0.97x)."""
    kernels.int_products(x, n, weights[at:at + n_in * n_out].reshape(n_out, n_in), out)


@njit(cache=True, nogil=True)
def _affine(layers: np.ndarray, weights: np.ndarray, weights_t: np.ndarray,
            factors: np.ndarray, layer: int, x: np.ndarray, n: int, out: np.ndarray) -> None:
    """out[:n, :n_out] = acc * factor + bias of packed layer `layer` (`_pack`) on integer
    rows x[:n, :n_in] (`_accumulate`), scaled as `_Linear` does: one rounding per
    operation (no fused multiply-add here)."""
    at, n_in, n_out, fb = layers[layer, 0], layers[layer, 1], layers[layer, 2], layers[layer, 3]
    if n >= 3:
        _accumulate_t(weights_t, at, n_in, n_out, x, n, out)
    else:
        _accumulate(weights, at, n_in, n_out, x, n, out)
    for i in range(n):
        for j in range(n_out):
            out[i, j] = out[i, j] * factors[0, fb + j] + factors[1, fb + j]


STEP_GROUP = 8  # lanes the step kernel runs together (one pass over the weights)
KERNEL_LANES = 16  # up to this many lanes a step runs in the kernel, more as matrix products


@njit(cache=True, nogil=True)
def _step(layers: np.ndarray, weights: np.ndarray, weights_t: np.ndarray, factors: np.ndarray,
          inputs: np.ndarray,
          queues: np.ndarray, t: int, lo: int, hi: int, dilated: int, residuals: int,
          scales: np.ndarray, tanh: np.ndarray, out: np.ndarray) -> None:
    """`ExactWaveNet.step` for lanes lo..hi-1 into out (hi - lo, O), every operation as
    there (`_affine` for the layers), STEP_GROUP lanes at a time. Packed layers (`_pack`):
    the input layer, the dilated ones, the residual ones, skip, hidden, out. queues
    (sum 2^i slots x lanes, C): layer i's ring of h at rows ((2^i - 1) + slot) lanes +
    lane. scales: 1 / the residual scale, 1 / the skip scale, 1 / the hidden scale."""
    lanes, c, g = inputs.shape[0], queues.shape[1], STEP_GROUP
    inv_resid, inv_skip, inv_hidden = scales[0], scales[1], scales[2]
    limit = float(RESID_LIMIT - 1)
    centre = (tanh.shape[0] - 1) // 2
    wide = layers[:, 2].max()
    x = np.empty((g, inputs.shape[1]))
    h = np.empty((g, c))
    both = np.empty((g, 2 * c))
    z = np.empty((g, 2 * c))
    r = np.empty((g, c))
    gates = np.empty((g, dilated * c))
    gate = np.empty((g, c))
    y = np.empty((g, wide))
    q = np.empty((g, wide))
    skip = 1 + dilated + residuals
    for first in range(lo, hi, g):
        n = min(g, hi - first)
        for i in range(n):
            x[i] = inputs[first + i]
        _affine(layers, weights, weights_t, factors, 0, x, n, y)
        for i in range(n):
            for j in range(c):
                h[i, j] = min(max(np.rint(y[i, j] * inv_resid), -limit), limit)
        for d in range(dilated):
            for i in range(n):
                row = ((1 << d) - 1 + t % (1 << d)) * lanes + first + i
                for j in range(c):
                    both[i, j] = queues[row, j]
                    both[i, c + j] = h[i, j]
                    queues[row, j] = h[i, j]  # h of frame t, read again at frame t + 2**d
            _affine(layers, weights, weights_t, factors, 1 + d, both, n, z)
            for i in range(n):
                for j in range(c):
                    ua = min(max(np.rint(z[i, j] * TANH_STEP), -centre), centre)
                    ub = min(max(np.rint(z[i, j + c] * TANH_STEP), -centre), centre)
                    ta, tb = tanh[int(ua) + centre], tanh[int(ub) + centre]
                    gate[i, j] = np.rint(ta * (1.0 + tb) * (1 << GATE_BITS))
                    gates[i, d * c + j] = gate[i, j]
            if d < residuals:
                _affine(layers, weights, weights_t, factors, 1 + dilated + d, gate, n, r)
                for i in range(n):
                    for j in range(c):
                        v = min(max(np.rint(r[i, j] * inv_resid), -limit), limit)
                        h[i, j] = min(max(h[i, j] + v, -limit), limit)
        _affine(layers, weights, weights_t, factors, skip, gates, n, y)
        for i in range(n):
            for j in range(layers[skip, 2]):
                q[i, j] = min(max(np.rint(y[i, j] * inv_skip), 0.0), float(ACT))
        _affine(layers, weights, weights_t, factors, skip + 1, q, n, y)
        for i in range(n):
            for j in range(layers[skip + 1, 2]):
                q[i, j] = min(max(np.rint(y[i, j] * inv_hidden), 0.0), float(ACT))
        _affine(layers, weights, weights_t, factors, skip + 2, q, n, y)
        for i in range(n):
            for j in range(out.shape[1]):
                out[first - lo + i, j] = y[i, j]


def _pack(linears: list) -> tuple[np.ndarray, ...]:
    """(table (L, 4): weight offset, inputs, outputs, factor offset; the weights (in, out)
    of every layer flat, and again as (out, in); factors (2, sum outputs): factor and
    bias) for `_step`."""
    table, weights, transposed, factors, at, fb = [], [], [], [], 0, 0
    for layer in linears:
        w = np.asarray(layer.int.weight_t)
        if (layer.int.dtype is not np.float64 or len(layer.int.blocks) != 1
                or np.abs(w).max(initial=0) >= 1 << 24):
            raise ValueError("the step kernel takes float64 layers of 16-bit weights")
        table.append((at, w.shape[0], w.shape[1], fb))
        weights.append(w.ravel())
        transposed.append(w.T.ravel())
        factors.append(np.stack([np.broadcast_to(layer.factor, w.shape[1]),
                                 np.broadcast_to(layer.bias, w.shape[1])]))
        at, fb = at + w.size, fb + w.shape[1]
    return (np.array(table, dtype=np.int64), np.concatenate(weights).astype(np.float32),
            np.concatenate(transposed).astype(np.float64),
            np.ascontiguousarray(np.concatenate(factors, 1), dtype=np.float64))


class ExactWaveNet:
    """`WaveNet` with integer activations: head outputs (…, O) per frame."""

    def __init__(self, model: WaveNet, peaks: dict) -> None:
        cfg = self.cfg = model.cfg
        self.channels, self.layers = cfg.channels, cfg.layers
        self.resid_scale = 2.0 ** -exact.headroom_bits(peaks["resid"], RESID_LIMIT)
        scales = {k: max(float(peaks[k]), 1e-6) / ACT for k in ("skip", "hidden")}
        gate_scale = 2.0 ** -GATE_BITS
        self.inp = _Linear(model.inp, 2.0 ** -FEATURE_BITS, FEATURE_MAX)
        self.dilated = [_Linear(layer, self.resid_scale, RESID_LIMIT) for layer in model.dilated]
        self.residual = [_Linear(layer, gate_scale, 2 << GATE_BITS) for layer in model.residual]
        self.skip = _Linear(model.skip, gate_scale, 2 << GATE_BITS)
        self.hidden = _Linear(model.hidden, float(scales["skip"]), ACT)
        self.out = _Linear(model.out, float(scales["hidden"]), ACT)
        self.inv_skip, self.inv_hidden = 1.0 / scales["skip"], 1.0 / scales["hidden"]
        self.tanh = exact.tanh_table(Fraction(1, TANH_STEP), TANH_STEP * TANH_RANGE, 30
                                     ) / float(1 << 30)
        self.log_table, self.exp_table = exact.log_table(), exact.exp2_table()
        self._packed = _pack([self.inp, *self.dilated, *self.residual, self.skip, self.hidden,
                              self.out])
        self._scales = np.array([1.0 / self.resid_scale, self.inv_skip, self.inv_hidden])
        self.head_width = int(self._packed[0][-1, 2])  # the network's outputs per lane

    def _resid(self, real: np.ndarray) -> np.ndarray:
        return exact.requant(real, 1.0 / self.resid_scale, RESID_LIMIT - 1)

    def _gate(self, i: int, both: np.ndarray) -> np.ndarray:
        """Gates (n, C) of dilated layer i from [h of frame t - 2^i, h of frame t] (n, 2C)."""
        layer = self.dilated[i]
        g = np.empty((len(both), self.channels))
        _gates_of(layer.int.acc(both), layer.factor, layer.bias, self.tanh, g)
        return g

    def _head(self, gates: np.ndarray) -> np.ndarray:
        q = gates
        for layer, inv in ((self.skip, self.inv_skip), (self.hidden, self.inv_hidden)):
            y = q
            q = np.empty((len(y), len(layer.factor)))
            _relu_quant_of(layer.int.acc(y), layer.factor, layer.bias, inv, q)
        return self.out(q)

    def features(self, x: np.ndarray, prediction: np.ndarray, scale: np.ndarray,
                 stereo: np.ndarray, rate: np.ndarray) -> np.ndarray:
        """Integer features (n, 8) of frames (see `frame_features`)."""
        out = np.empty((len(x), FEATURES))
        frame_features(np.ascontiguousarray(x, dtype=np.float64), prediction, scale,
                       np.ascontiguousarray(stereo, dtype=np.float64),
                       np.ascontiguousarray(rate, dtype=np.float64), self.log_table, out)
        return out

    # ---- whole sequences (the encoder) ----
    def forward(self, features: np.ndarray, frames_per_call: int = 1 << 14) -> np.ndarray:
        """Head outputs (B, T, O) from integer frame features (B, T, 8): frame t sees the
        features of frames t-2 and t-1 (zeros before the start). Lanes run in groups of
        about `frames_per_call` frames (bounded temporaries)."""
        b, t, _ = features.shape
        group = max(1, frames_per_call // max(t, 1))
        if b > group:
            return np.concatenate([self.forward(features[i:i + group], frames_per_call)
                                   for i in range(0, b, group)])
        f = np.concatenate([np.zeros((b, 2, FEATURES)), features], axis=1)
        h = self._resid(self.inp(np.concatenate([f[:, :-2], f[:, 1:-1]], -1).reshape(b * t, -1)))
        h = h.reshape(b, t, -1)
        gates, c = [], self.channels
        both = np.empty((b, t, 2 * c))  # [h of frame t - 2^i (zeros before 0), h of frame t]
        for i in range(self.layers):
            d = 2 ** i
            both[:, :d, :c] = 0.0
            if d < t:
                both[:, d:, :c] = h[:, :t - d]
            both[..., c:] = h
            g = self._gate(i, both.reshape(b * t, -1))
            gates.append(g)
            if i < len(self.residual):
                layer = self.residual[i]
                h = np.ascontiguousarray(h)  # updated in place (`both` holds copies)
                _add_residual(layer.int.acc(g), layer.factor, layer.bias,
                              1.0 / self.resid_scale, float(RESID_LIMIT - 1),
                              h.reshape(b * t, -1))
        return self._head(np.concatenate(gates, -1)).reshape(b, t, -1)

    # ---- one frame per lane (the decoder) ----
    def new_state(self, lanes: int) -> dict:
        """Empty Fast-WaveNet queues and inputs for `lanes` lanes (layer i's ring of 2^i
        frames at rows (2^i - 1) lanes ... of one array)."""
        return {"t": 0, "inputs": np.zeros((lanes, 2 * FEATURES)),
                "queues": np.zeros((((1 << self.layers) - 1) * lanes, self.channels))}

    def step(self, state: dict, lanes: slice = slice(None)) -> np.ndarray:
        """Head outputs (lanes, O) of frame t from the features of frames t-2, t-1 (of the
        given lanes only: lanes are independent, so slices may run in parallel threads).
        A few lanes run in one compiled call (`_step`), many as matrix products; both give
        `forward`'s numbers (exact integer sums)."""
        lo, hi, _ = lanes.indices(len(state["inputs"]))
        if hi - lo > KERNEL_LANES:
            return self._step_batched(state, lo, hi)
        out = np.empty((max(hi - lo, 0), self.head_width))
        _step(*self._packed, state["inputs"], state["queues"], state["t"], lo, hi, self.layers,
              len(self.residual), self._scales, self.tanh, out)
        return out

    def _step_batched(self, state: dict, lo: int, hi: int) -> np.ndarray:
        """`step` of lanes lo..hi-1 as matrix products over the lanes."""
        lanes = len(state["inputs"])
        h = self._resid(self.inp(state["inputs"][lo:hi]))
        gates = []
        for i in range(self.layers):
            row = ((1 << i) - 1 + state["t"] % (1 << i)) * lanes
            queue = state["queues"][row + lo:row + hi]
            g = self._gate(i, np.concatenate([queue, h], -1))
            queue[:] = h  # h of frame t, read again at frame t + 2**i
            gates.append(g)
            if i < len(self.residual):
                h = np.clip(h + self._resid(self.residual[i](g)), -(RESID_LIMIT - 1),
                            RESID_LIMIT - 1)
        return self._head(np.concatenate(gates, -1))

    def push(self, state: dict, features: np.ndarray) -> None:
        """Append the integer features (lanes, 8) of frame t and move to t + 1."""
        state["inputs"] = np.concatenate([state["inputs"][:, FEATURES:], features], 1)
        state["t"] += 1

    def push_frame(self, state: dict, x: np.ndarray, prediction: np.ndarray,
                   scale: np.ndarray, stereo: np.ndarray, rate: np.ndarray) -> None:
        """`push` of the features of frame t (`features`' arguments, float64 arrays), in
        one compiled call."""
        _push_frame(x, prediction, scale, stereo, rate, self.log_table, state["inputs"])
        state["t"] += 1
