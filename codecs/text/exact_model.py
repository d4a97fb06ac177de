"""The byte Transformer in exact integer arithmetic (what coding runs; `model.py` trains).

Every quantity is an integer (held in float64/float32 arrays) where sums are taken, so
the same bytes come out on any machine, in any batch layout (`arzip.exact`):

- the residual stream is an integer multiple of 2^-resid_bits, clipped to ±2^14;
- every LayerNorm output, query/key/value, attention output and GELU output is int8 at a
  calibrated scale (`calibrate`, stored in the model file); weights are int8 per output
  row; matrix products are exact integer sums;
- rotary positions rotate int8 queries and keys by integer cos/sin tables (2^14) and
  round them back to integers (|q|, |k| <= 180), so attention scores are exact integer dot
  products in float32; softmax weights come from an integer exp table (1/64-nat steps,
  at most 2^10, so weighted sums of int8 values over 128 keys stay below 2^24), and the
  attention output is their ratio to the weights' sum;
- GELU is an integer table (1/128 steps) and the output distribution an integer exp table
  over the logits at 1/64-nat steps: `freqs` are integer frequencies per byte.

`forward` computes whole sequences at once (the encoder's one parallel pass, tests),
`step` one position for a batch of lanes with a ring-buffer cache (the decoder). Both give
the same integers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np
import torch
from numba import njit

from arzip import exact, jitcache, kernels

from .model import ByteTransformer

jitcache.depends(__file__, kernels)  # the step kernel inlines the core's kernels

RESID_LIMIT = 1 << 14  # |residual| in units of 2^-resid_bits
Q8 = 127
ROT_BITS = 14
ATT_STEPS = 64  # exp table steps per nat (attention)
ATT_BITS = 10  # attention weights 0 .. 2^10: 2^10 x 127 x 128 keys < 2^24
ATT_MASKED = float(-(1 << 23))  # score of a key outside the window
OUT_STEPS = 64  # exp table steps per nat (output distribution)
OUT_NATS = 24
FREQ_BITS = 16  # the output table: 2^16 exp(-d)
GELU_STEP, GELU_LOW, GELU_HIGH = 128, 8, 48  # GELU table: 1/128 steps over [-8, 48]
QUERY_CHUNK = 32  # the encoder's attention: queries scored together


def calibrate(model: ByteTransformer, tokens: torch.Tensor) -> dict:
    """Activation peaks (the largest |value| of each quantised tensor, and of the residual
    stream) of the float model on `tokens` (B, T), to store with the model: the exact
    network's scales follow from them (`ExactByteTransformer`)."""
    peaks: dict[str, float] = {}

    def peak(name: str, value: torch.Tensor) -> None:
        peaks[name] = max(peaks.get(name, 0.0), float(value.detach().abs().max()))

    def split(i: int, out: torch.Tensor, d: int, hd: int) -> None:
        peak(f"{i}.q", out[..., :d])
        peak(f"{i}.k", out[..., d:d + hd])
        peak(f"{i}.v", out[..., d + hd:])

    hooks = []
    for i, block in enumerate(model.blocks):
        d, hd = model.cfg.d_model, model.cfg.d_model // model.cfg.n_head
        hooks += [
            block.ln1.register_forward_hook(lambda m, a, o, i=i: peak(f"{i}.ln1", o)),
            block.ln2.register_forward_hook(lambda m, a, o, i=i: peak(f"{i}.ln2", o)),
            block.qkv.register_forward_hook(lambda m, a, o, i=i, d=d, hd=hd: split(i, o, d, hd)),
            block.proj.register_forward_pre_hook(lambda m, a, i=i: peak(f"{i}.att", a[0])),
            block.out.register_forward_pre_hook(lambda m, a, i=i: peak(f"{i}.gelu", a[0])),
            block.register_forward_hook(lambda m, a, o: peak("resid", o)),
        ]
    hooks.append(model.ln_f.register_forward_hook(lambda m, a, o: peak("ln_f", o)))
    hooks.append(model.embed.register_forward_hook(lambda m, a, o: peak("resid", o)))
    try:
        with torch.no_grad():
            model.eval()(tokens)
    finally:
        for h in hooks:
            h.remove()
    return peaks


def _f64(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float64).numpy()


class _Norm:
    """LayerNorm of the integer residual (units 2^-bits) to int8 at `out_scale`."""

    def __init__(self, ln: torch.nn.LayerNorm, resid_scale: float, out_scale: float) -> None:
        d = ln.normalized_shape[0]
        self.d = d
        self.gain = _f64(ln.weight) * math.sqrt(d) / out_scale
        self.bias = _f64(ln.bias) / out_scale
        self.eps = float(ln.eps) * d ** 3 / resid_scale ** 2

    def __call__(self, r: np.ndarray) -> np.ndarray:
        flat = np.ascontiguousarray(r).reshape(-1, self.d)
        out = np.empty(flat.shape)
        kernels.layer_norm(flat, self.eps, self.gain, self.bias, float(Q8), out)
        return out.reshape(r.shape)


class _Linear:
    """int8 input at `in_scale` -> real-valued output (float64), exactly per element."""

    def __init__(self, layer: torch.nn.Linear, in_scale: float, x_max: int = Q8) -> None:
        self.int = exact.IntLinear(_f64(layer.weight), x_max)
        self.factor = self.int.scale * in_scale
        self.bias = _f64(layer.bias) if layer.bias is not None else 0.0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.int.acc(x) * self.factor + self.bias


def _gelu_values() -> np.ndarray:
    """gelu(k / GELU_STEP) for k = -GELU_STEP GELU_LOW .. GELU_STEP GELU_HIGH (float64 of
    the integer table at 2^-16)."""
    lo, hi = GELU_STEP * GELU_LOW, GELU_STEP * GELU_HIGH
    table = exact.gelu_table(Fraction(1, GELU_STEP), hi, 16)
    return table[len(table) // 2 - lo:] / 65536.0


@njit(cache=True, nogil=True, inline="always")
def _as_f32(x: np.ndarray, out: np.ndarray) -> None:
    """out[:, :d] = x (n, d): integers, exact in float32."""
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[i, j] = np.float32(x[i, j])


@njit(cache=True, nogil=True)
def _step_lanes(p: tuple, tokens: np.ndarray, lo: int, cos: np.ndarray, sin: np.ndarray,
                keys_k: np.ndarray, keys_v: np.ndarray, slot: int, seen: int,
                freqs: np.ndarray) -> None:
    """`ExactByteTransformer.step` of lanes lo .. lo + len(tokens) - 1 in one compiled call
    (packed by `_pack_step`; keys_k/keys_v (layers, lanes, ...) the whole cache): every
    operation as the numpy path runs it (the same kernels; the products by
    `kernels.int_products`, exact in any order), so the same integers, without a Python
    call per layer. Releases the GIL: two threads step two halves of the lanes at once."""
    (embed, gains, biases, eps, w_qkv, f_qkv, b_qkv, m_qkv, w_proj, f_proj, b_proj, w_fc,
     g_scale, g_offset, gelu, w_out, f_out, b_out, w_head, f_head, b_head, score, att_scale,
     att_exp, out_exp, ints, reals) = p
    heads, g_low, g_high = ints[0], ints[1], ints[2]
    shift, resid_mult, resid_limit, q8, out_steps = reals[0], reals[1], reals[2], reals[3], \
        reals[4]
    n, d, layers = tokens.shape[0], embed.shape[1], w_qkv.shape[0]
    n_qkv, n_fc, n_out = w_qkv.shape[1], w_fc.shape[1], w_head.shape[0]
    r = np.empty((n, d))
    for i in range(n):
        for j in range(d):
            r[i, j] = embed[tokens[i], j]
    x = np.empty((n, d))
    x32 = np.empty((n, d), dtype=np.float32)
    acc = np.empty((n, max(n_qkv, n_fc, n_out, d)), dtype=np.float32)
    qkv = np.empty((n, n_qkv))
    att = np.empty((n, d), dtype=np.float32)
    h = np.empty((n, n_fc), dtype=np.float32)
    for layer in range(layers):
        kernels.layer_norm(r, eps[2 * layer], gains[2 * layer], biases[2 * layer], q8, x)
        _as_f32(x, x32)
        kernels.int_products(x32, n, w_qkv[layer], acc)
        kernels.requant(acc[:, :n_qkv], f_qkv[layer], b_qkv[layer], m_qkv[layer], q8, qkv)
        for b in range(n):
            kernels.attend_lane(qkv[b], heads, cos, sin, shift, keys_k[layer, lo + b],
                                keys_v[layer, lo + b], slot, seen, score[layer], att_exp,
                                att_scale[layer], q8, att[b])
        kernels.int_products(att, n, w_proj[layer], acc)
        kernels.residual_add(r, acc[:, :d], f_proj[layer], b_proj[layer], resid_mult,
                             resid_limit)
        kernels.layer_norm(r, eps[2 * layer + 1], gains[2 * layer + 1],
                           biases[2 * layer + 1], q8, x)
        _as_f32(x, x32)
        kernels.int_products(x32, n, w_fc[layer], acc)
        kernels.index_lookup(acc[:, :n_fc], g_scale[layer], g_offset[layer], g_low, g_high,
                             gelu[layer], h)
        kernels.int_products(h, n, w_out[layer], acc)
        kernels.residual_add(r, acc[:, :d], f_out[layer], b_out[layer], resid_mult,
                             resid_limit)
    kernels.layer_norm(r, eps[2 * layers], gains[2 * layers], biases[2 * layers], q8, x)
    _as_f32(x, x32)
    kernels.int_products(x32, n, w_head, acc)
    kernels.gap_lookup(acc[:, :n_out], f_head, b_head, out_steps, out_exp, freqs)


class ExactByteTransformer:
    """`ByteTransformer` with integer activations: frequencies (…, 256) per position."""

    def __init__(self, model: ByteTransformer, peaks: dict) -> None:
        cfg = self.cfg = model.cfg
        self.n_head, self.head_dim, self.window = cfg.n_head, cfg.d_model // cfg.n_head, cfg.context
        # int8 scales from the calibrated peaks; the residual's resolution a power of two
        scales = {k: max(float(v), 1e-6) / Q8 for k, v in peaks.items()}
        self.resid_scale = 2.0 ** -exact.headroom_bits(peaks["resid"], RESID_LIMIT)
        self.embed = exact.requant(_f64(model.embed.weight), 1.0 / self.resid_scale, RESID_LIMIT)
        if self.window * Q8 << ATT_BITS >= exact.F32_EXACT:
            raise ValueError(f"attention window {self.window} too long for exact float32 sums")
        gelu = _gelu_values()
        self.blocks = []
        for i, block in enumerate(model.blocks):
            d, hd = cfg.d_model, self.head_dim
            s = {k: float(scales[f"{i}.{k}"]) for k in ("ln1", "q", "k", "v", "att", "ln2", "gelu")}
            qkv = _Linear(block.qkv, s["ln1"])
            self.blocks.append({
                "ln1": _Norm(block.ln1, self.resid_scale, s["ln1"]),
                "qkv": qkv,
                "qkv_scale": np.concatenate([np.full(d, 1 / s["q"]), np.full(hd, 1 / s["k"]),
                                             np.full(hd, 1 / s["v"])]),
                # softmax index per unit of the integer score: s_q s_k 2^-2ROT / sqrt(hd)
                "score": np.float32(s["q"] * s["k"] / math.sqrt(hd) * ATT_STEPS),
                "att": np.float32(s["v"] / s["att"]),
                "proj": _Linear(block.proj, s["att"]),
                "ln2": _Norm(block.ln2, self.resid_scale, s["ln2"]),
                "fc": _Linear(block.fc, s["ln2"]),
                # fc output -> GELU table index, and the table's int8 values at s_gelu
                "gelu_index": (np.float64(GELU_STEP) * _Linear(block.fc, s["ln2"]).factor,
                               GELU_STEP * _f64(block.fc.bias)),
                "gelu": exact.requant(gelu / s["gelu"], 1.0, Q8).astype(np.float32),
                "out": _Linear(block.out, s["gelu"]),
            })
        self.ln_f = _Norm(model.ln_f, self.resid_scale, float(scales["ln_f"]))
        self.head = _Linear(model.head, float(scales["ln_f"]))
        att = exact.exp_table(Fraction(1, ATT_STEPS), 16 * ATT_STEPS, ATT_BITS)
        self.att_exp = np.append(att[att > 0], 0).astype(np.float32)  # ends in one 0 entry
        self.out_exp = exact.exp_table(Fraction(1, OUT_STEPS), OUT_STEPS * OUT_NATS, FREQ_BITS)
        self._rot: tuple[np.ndarray, np.ndarray] | None = None
        self.packed = self._pack_step()

    def _pack_step(self) -> tuple | None:
        """The arrays `_step_lanes` reads (the blocks' stacked), or None where a layer's
        products do not run as one float32 block (then `step` takes the numpy path)."""
        linears = [b[k] for b in self.blocks for k in ("qkv", "proj", "fc", "out")]
        if any(lin.int.dtype is not np.float32 or len(lin.int.blocks) != 1
               for lin in [*linears, self.head]):
            return None

        def rows(layer: _Linear) -> np.ndarray:  # (out, in): `kernels.int_products`' layout
            return np.ascontiguousarray(layer.int.weight_t.T)

        def stack(get: Callable[[dict], np.ndarray]) -> np.ndarray:
            return np.ascontiguousarray(np.stack([get(b) for b in self.blocks]))

        norms = [n for b in self.blocks for n in (b["ln1"], b["ln2"])] + [self.ln_f]
        return (np.ascontiguousarray(self.embed), np.stack([n.gain for n in norms]),
                np.stack([n.bias for n in norms]), np.array([n.eps for n in norms]),
                stack(lambda b: rows(b["qkv"])), stack(lambda b: b["qkv"].factor),
                stack(lambda b: b["qkv"].bias), stack(lambda b: b["qkv_scale"]),
                stack(lambda b: rows(b["proj"])), stack(lambda b: b["proj"].factor),
                stack(lambda b: b["proj"].bias),
                stack(lambda b: rows(b["fc"])), stack(lambda b: b["gelu_index"][0]),
                stack(lambda b: b["gelu_index"][1]), stack(lambda b: b["gelu"]),
                stack(lambda b: rows(b["out"])), stack(lambda b: b["out"].factor),
                stack(lambda b: b["out"].bias),
                rows(self.head), self.head.factor, self.head.bias,
                np.array([b["score"] for b in self.blocks], dtype=np.float32),
                np.array([b["att"] for b in self.blocks], dtype=np.float32),
                self.att_exp, self.out_exp,
                np.array([self.n_head, GELU_STEP * GELU_LOW, GELU_STEP * GELU_HIGH]),
                np.array([2.0 ** -ROT_BITS, 1.0 / self.resid_scale, float(RESID_LIMIT),
                          float(Q8), float(OUT_STEPS)]))

    # ---- shared pieces ----
    def _rotary(self, positions: int) -> tuple[np.ndarray, np.ndarray]:
        if self._rot is None or len(self._rot[0]) < positions:
            size = 1 << max(8, (positions - 1).bit_length())
            cos, sin = exact.rotary_table(size, self.head_dim, ROT_BITS)
            self._rot = cos.astype(np.float64), sin.astype(np.float64)
        return self._rot

    def _rotate(self, x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
        """Rotate channel pairs of int8 x (lanes, steps, heads, hd) by the integer tables'
        rows (steps, hd/2) and round back to x's scale: float32 integers, |value| <= 180."""
        out = np.empty(x.shape, dtype=np.float32)
        kernels.rotate_heads(np.ascontiguousarray(x), cos, sin, 2.0 ** -ROT_BITS, out)
        return out

    def _add(self, r: np.ndarray, layer: _Linear, x: np.ndarray) -> np.ndarray:
        """r + the layer's output on x, requantised to the residual's integers (in place)."""
        acc = layer.int.acc(x.reshape(-1, x.shape[-1]))
        kernels.residual_add(r.reshape(-1, r.shape[-1]), acc, layer.factor, layer.bias,
                             1.0 / self.resid_scale, float(RESID_LIMIT))
        return r

    def _mlp(self, b: dict, r: np.ndarray) -> np.ndarray:
        x = b["ln2"](r)
        acc = b["fc"].int.acc(x.reshape(-1, x.shape[-1]))
        scale, offset = b["gelu_index"]
        h = np.empty(acc.shape, dtype=np.float32)
        kernels.index_lookup(acc, scale, offset, GELU_STEP * GELU_LOW, GELU_STEP * GELU_HIGH,
                             b["gelu"], h)
        return self._add(r, b["out"], h)

    def _qkv_rows(self, b: dict, r: np.ndarray) -> np.ndarray:
        """Queries, key and value (rows, d + 2 hd) of the residual rows r, int8 (float64)."""
        x = b["ln1"](r)
        acc = b["qkv"].int.acc(x.reshape(-1, x.shape[-1]))
        qkv = np.empty(acc.shape)
        kernels.requant(acc, b["qkv"].factor, b["qkv"].bias, b["qkv_scale"], float(Q8), qkv)
        return qkv

    def _qkv(self, b: dict, r: np.ndarray) -> tuple[np.ndarray, ...]:
        d, hd = self.cfg.d_model, self.head_dim
        qkv = self._qkv_rows(b, r).reshape(*r.shape[:-1], -1)
        return qkv[..., :d], qkv[..., d:d + hd], qkv[..., d + hd:]

    def freqs(self, r: np.ndarray) -> np.ndarray:
        """Integer frequencies (..., 256) of the next byte from the last residual."""
        x = self.ln_f(r)
        acc = self.head.int.acc(x.reshape(-1, x.shape[-1]))
        out = np.empty(acc.shape, dtype=np.int64)
        kernels.gap_lookup(acc, self.head.factor, self.head.bias, float(OUT_STEPS),
                           self.out_exp, out)
        return out.reshape(*r.shape[:-1], -1)

    # ---- whole sequences (the encoder's parallel pass) ----
    def _attend(self, b: dict, q: np.ndarray, k: np.ndarray, v: np.ndarray,
                first: int) -> np.ndarray:
        """Attention of rotated queries q (B, T, H, hd) over keys k (B, hd, P + T) and
        values v (B, P + T, hd + 1; the last column ones), query t's own key at index
        first + t: QUERY_CHUNK queries at a time, their scores and the weighted sums
        (with the weights' sum in the last column) exact float32 products of integers
        below 2^24 (any BLAS, any order), the integer softmax and the ratio compiled."""
        lanes, steps, h, hd = q.shape
        rows = q.reshape(lanes, steps * h, hd)
        out = np.empty((lanes, steps * h, hd), dtype=np.float32)
        for start in range(0, steps, QUERY_CHUNK):
            stop = min(steps, start + QUERY_CHUNK)
            lo, hi = max(0, first + start + 1 - self.window), first + stop
            scores = np.matmul(rows[:, start * h:stop * h], k[:, :, lo:hi])
            weights = np.empty(scores.shape, dtype=np.float32)
            kernels.window_weights(scores, first + start, lo, self.window, h, b["score"],
                                   self.att_exp, weights)
            num = np.matmul(weights, v[:, lo:hi])
            kernels.weighted_mean(num, b["att"], float(Q8), out[:, start * h:stop * h])
        return out.reshape(lanes, steps, h * hd)

    def forward(self, tokens: np.ndarray, position: int = 0,
                past: list | None = None) -> tuple[np.ndarray, list]:
        """Frequencies (B, T, 256) of the byte after every position of tokens (B, T), the
        first at `position`; `past` holds the rotated keys and values of the window before
        it (from the previous call), and the new one is returned with the frequencies."""
        tokens = np.asarray(tokens, dtype=np.int64)
        lanes, steps = tokens.shape
        h, hd = self.n_head, self.head_dim
        cos_t, sin_t = self._rotary(position + steps)
        cos, sin = cos_t[position:position + steps], sin_t[position:position + steps]
        r = self.embed[tokens]  # (B, T, d)
        empty = (np.zeros((lanes, hd, 0), np.float32), np.zeros((lanes, 0, hd + 1), np.float32))
        past = past or [empty] * len(self.blocks)
        new_past = []
        for b, (pk, pv) in zip(self.blocks, past, strict=True):
            q, k, v = self._qkv(b, r)
            q = self._rotate(q.reshape(lanes, steps, h, hd), cos, sin)  # (B, T, H, hd)
            k = self._rotate(k[:, :, None], cos, sin)[:, :, 0].transpose(0, 2, 1)
            k = np.concatenate([pk, k], 2)  # (B, hd, P + T) from position - P
            ones = np.ones((lanes, steps, 1), np.float32)
            v = np.concatenate([pv, np.concatenate([v.astype(np.float32), ones], 2)], 1)
            r = self._mlp(b, self._add(r, b["proj"], self._attend(b, q, k, v, pk.shape[2])))
            keep = min(self.window - 1, k.shape[2])
            new_past.append((k[..., k.shape[2] - keep:], v[:, v.shape[1] - keep:]))
        return self.freqs(r), new_past

    # ---- one position per lane (the decoder) ----
    def new_cache(self, lanes: int, max_steps: int) -> dict:
        """An empty ring-buffer cache for `lanes` lanes of at most `max_steps` positions:
        keys and values (layers, lanes, hd, window) each."""
        self._rotary(max(max_steps, 1))
        shape = (len(self.blocks), lanes, self.head_dim, self.window)
        return {"k": np.zeros(shape, np.float32), "v": np.zeros(shape, np.float32)}

    def step(self, tokens: np.ndarray, position: int, cache: dict, lo: int = 0) -> np.ndarray:
        """Frequencies (B, 256) after feeding tokens (B,) of lanes lo .. lo + B - 1 of the
        cache at `position` (slices of the lanes may run in parallel threads)."""
        lanes = len(tokens)
        cos_t, sin_t = self._rotary(position + 1)
        cos, sin = cos_t[position], sin_t[position]
        slot = position % self.window
        tokens = np.asarray(tokens, dtype=np.int64)
        if self.packed is not None:  # the whole step in one compiled call
            freqs = np.empty((lanes, self.cfg.vocab_size), dtype=np.int64)
            _step_lanes(self.packed, tokens, lo, cos, sin, cache["k"], cache["v"], slot,
                        position + 1, freqs)
            return freqs
        r = self.embed[tokens]  # (B, d)
        att = np.empty((lanes, self.cfg.d_model), dtype=np.float32)
        for b, ck, cv in zip(self.blocks, cache["k"][:, lo:lo + lanes],
                             cache["v"][:, lo:lo + lanes], strict=True):
            # rotate, cache, score, integer softmax and weighted mean in one compiled call
            # (the same integers as `forward`'s batched path)
            kernels.attend_step(self._qkv_rows(b, r), self.n_head, cos, sin, 2.0 ** -ROT_BITS,
                                ck, cv, slot, position + 1, b["score"], self.att_exp, b["att"],
                                float(Q8), att)
            r = self._mlp(b, self._add(r, b["proj"], att))
        return self.freqs(r)
