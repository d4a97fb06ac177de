"""The exact-arithmetic primitives: tables against float references (stated bounds),
integer products that no batch split or thread count changes, compiled loops without
fused multiply-adds, and the integer Laplace coder."""

from __future__ import annotations

import copy
import io
import math
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import numba
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from arzip import coding, engine, exact, kernels, mixing, zoo

GOLDEN = Path(__file__).resolve().parent / "golden"


def test_tables_match_float_references():
    """Every table entry is the float function rounded to its resolution (the tables are
    built with integers; libm is only the reference here)."""
    u = np.arange(-2048, 2049) / 256
    assert np.array_equal(exact.exp_table(Fraction(1, 64), 1400, 16),
                          np.rint(65536 * np.exp(-np.arange(1400) / 64)))
    assert np.abs(exact.sigmoid_table(Fraction(1, 256), 2048, 24)
                  - 2 ** 24 / (1 + np.exp(-u))).max() <= 0.5 + 1e-6
    assert np.abs(exact.tanh_table(Fraction(1, 256), 2048, 15) - 2 ** 15 * np.tanh(u)).max() <= 1
    elu = np.where(u > 0, u, np.expm1(u))
    assert np.abs(exact.elu_table(Fraction(1, 256), 2048, 12) - 4096 * elu).max() <= 0.5 + 1e-6
    gelu = torch.nn.functional.gelu(torch.tensor(u)).numpy()
    assert np.abs(exact.gelu_table(Fraction(1, 256), 2048, 12) - 4096 * gelu).max() <= 0.5 + 1e-6
    assert np.array_equal(exact.ln_table(5000, 16)[1:], np.rint(65536 * np.log(np.arange(1, 5001))))
    cos, sin = exact.rotary_table(300, 16, 14)
    angles = np.arange(300)[:, None] * 10000.0 ** (-np.arange(0, 16, 2) / 16)
    assert np.array_equal(cos, np.rint(16384 * np.cos(angles)))
    assert np.array_equal(sin, np.rint(16384 * np.sin(angles)))
    reference = 2 ** 30 * np.exp(np.arange(-700, 701) / 100)
    assert np.abs(exact.exp_range_table(Fraction(1, 100), -700, 700, 30) - reference
                  ).max() <= 0.5 + 1e-12 * reference.max()


def test_exact_log_and_exp_bounds():
    rng = np.random.default_rng(0)
    for x in np.exp(rng.uniform(-20, 20, 2000)):
        assert abs(kernels.ln(x, exact.log_table()) - math.log(x)) < 1.3e-4
    for y in rng.uniform(-20, 20, 2000):
        assert abs(kernels.exp(y, exact.exp2_table()) / math.exp(y) - 1) < 1.8e-4


@pytest.mark.parametrize("x_max,bits", [(127, 8), (2047, 12), (8191, 16), (1 << 20, 16)])
def test_integer_products_are_exact_and_bounded(x_max, bits):
    rng = np.random.default_rng(1)
    weight = rng.normal(0, 1, (40, 300))
    layer = exact.IntLinear(weight, x_max, bits)
    x = rng.integers(-x_max, x_max + 1, (17, 300)).astype(np.float64)
    x[0] = x_max  # the worst case
    reference = x.astype(object) @ np.round(layer.weight_t.astype(np.float64)).astype(object)
    assert np.array_equal(layer.acc(x), reference.astype(np.float64))
    assert layer.bound < (exact.F32_EXACT if layer.dtype == np.float32 else exact.F64_EXACT) \
        or len(layer.blocks) > 1
    assert np.abs(layer.weight_t.T * layer.scale[:, None] - weight).max() <= layer.scale.max()
    for cut in (1, 150, 299):  # a split input's two partial products add up to the whole
        parts = layer.acc_part(x[:, :cut], 0, cut) + layer.acc_part(x[:, cut:], cut, 300)
        assert np.array_equal(parts, reference.astype(np.float64))


def test_int8_products_are_checked_and_fall_back_to_the_float_path(monkeypatch):
    """int8 x int8 layers run as torch's int8 product only behind Freivalds' check: the
    same integers (and dtype) as the float path at the extremes; a product that is wrong
    in one entry (as some CPUs' kernels are) is caught, recomputed by the float path, and
    the int8 path stays off; a torch without the kernel falls back too."""
    rng = np.random.default_rng(11)
    layer = exact.IntLinear(rng.normal(0, 1, (200, 384)), 127)
    assert layer.int8 and layer.check_bits >= 16
    x = rng.integers(-127, 128, (3, 70, 384)).astype(np.float64)
    x[0, 0], x[0, 1] = 127, -127  # the worst cases
    monkeypatch.setitem(exact.INT8_PRODUCTS, "on", True)
    monkeypatch.setattr(exact, "INT8_MIN_SIZE", 1)
    calls = []
    real = torch._int_mm

    def counted(a, b):
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(torch, "_int_mm", counted)
    fast = layer.acc(x)
    assert calls and exact.INT8_PRODUCTS["on"]
    reference = x.reshape(-1, 384).astype(np.int64) @ layer.weight_t.astype(np.int64)
    assert fast.dtype == np.float32 and np.array_equal(fast.reshape(-1, 200), reference)

    for seed in range(200):  # two threads reaching a fresh layer's first product at once
        fresh = exact.IntLinear(np.random.default_rng(seed).normal(0, 1, (200, 384)), 127)
        with ThreadPoolExecutor(2) as pool:
            halves = list(pool.map(fresh.acc, [x[:1], x[1:]]))
        assert np.array_equal(np.concatenate(halves), fresh.acc(x))

    def off_by_one(a, b):  # one wrong sum, as a saturating kernel gives
        out = real(a, b)
        out[5, 7] += 1
        return out

    monkeypatch.setattr(torch, "_int_mm", off_by_one)
    assert np.array_equal(layer.acc(x), fast) and not exact.INT8_PRODUCTS["on"]
    monkeypatch.setitem(exact.INT8_PRODUCTS, "on", True)
    monkeypatch.setattr(torch, "_int_mm", lambda *a: (_ for _ in ()).throw(RuntimeError))
    assert np.array_equal(layer.acc(x), fast) and not exact.INT8_PRODUCTS["on"]
    assert not exact.IntLinear(rng.normal(0, 1, (8, 16)), 8191, 16).int8


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 70), st.integers(0, 2 ** 31 - 1))
def test_batch_splits_and_threads_do_not_change_one_output(rows, seed):
    rng = np.random.default_rng(seed)
    layer = exact.IntLinear(rng.normal(0, 1, (33, 320)), 8191, 16)
    x = rng.integers(-8191, 8192, (rows, 320)).astype(np.float64)
    whole = layer.acc(x)
    cut = int(rng.integers(0, rows + 1))
    parts = np.concatenate([layer.acc(x[:cut]), layer.acc(x[cut:])])
    with ThreadPoolExecutor(2) as pool:
        threaded = np.concatenate(list(pool.map(layer.acc, [x[:cut], x[cut:]])))
    singles = np.stack([layer.acc(row[None])[0] for row in x])
    assert np.array_equal(whole, parts) and np.array_equal(whole, threaded)
    assert np.array_equal(whole, singles)


def _float_kernels():
    from arzip.codecs.audio import adaptive, codec, exact_model, lpc
    from arzip.codecs.image import adaptive as image_adaptive
    from arzip.codecs.image import cm as image_cm

    return [image_adaptive._mix, image_adaptive._update, image_cm._code, mixing.ols_update,
            codec._channel_params, codec._channel_learn, kernels.logistic_mixture_pmf,
            kernels.gated_residual, kernels.affine_lookup, kernels.laplace_params,
            lpc._analyse, adaptive._run_all, adaptive._run_all2, adaptive._adjust2,
            adaptive._update2, exact_model.distribution, exact_model.frame_features,
            exact_model._gates_of, exact_model._add_residual, exact_model._relu_quant_of,
            kernels.attend_step, kernels.rotate_heads, kernels.window_weights,
            kernels.weighted_mean]


def test_compiled_loops_have_no_fused_multiply_add():
    """numba compiles without fast-math: no FMA instruction may appear in the machine
    code of the float kernels (an FMA rounds once where the written code rounds twice)."""
    for name in ("gradient.png.v3.arz", "gradient.png.v13.arz", "stereo.wav.v3.arz",
                 "stereo.wav.v6.arz", "stereo.wav.v14.arz", "text.txt.v7.arz"):  # compiles
        engine.decompress_stream(io.BytesIO((GOLDEN / name).read_bytes()), None)
    engine.compress_stream(io.BytesIO((GOLDEN / "text.txt").read_bytes()), io.BytesIO())
    from arzip.codecs.audio import adaptive

    shape = (2, 5, 2)  # cascade 1's encoder loop (this arzip writes cascade 3)
    adaptive.run_all(adaptive.AdaptiveConfig(), np.array([5, 4]), np.array([True, False]),
                     np.ones(shape), np.zeros(shape), np.ones(shape))
    text = engine.load_codec("bytes", zoo.default_model("bytes")).model
    text = copy.copy(text)
    text.packed = None  # the numpy step (its attention kernel; the compiled step inlines
    text.step(np.array([65, 66]), 0, text.new_cache(2, 4))  # it next to exact products)
    for kernel in _float_kernels():
        if not kernel.signatures:  # the encoder's whole-lane loops
            engine.compress_stream(io.BytesIO((GOLDEN / "stereo.wav").read_bytes()), io.BytesIO())
        assert kernel.signatures, kernel.__name__
        fresh = numba.njit(nogil=True)(kernel.py_func)  # cached code cannot be inspected
        for signature in kernel.signatures:
            fresh.compile(signature)
            asm = fresh.inspect_asm(signature)
            multiplies = any(m in asm for m in ("mulsd", "mulpd", "mulss", "mulps"))
            assert "ret" in asm and multiplies, kernel
            assert "vfmadd" not in asm and "vfmsub" not in asm and "vfnmadd" not in asm, kernel


def test_the_shipped_laplace_rows_are_laplace_row():
    """arzip/tables/ holds every row of `exact.laplace_row` (tools/make_tables.py); the
    coder reads them from there instead of building them in each process."""
    shipped = exact.shipped_laplace_rows()
    assert shipped is not None and shipped.shape == (
        exact.LAPLACE_SCALES * exact.LAPLACE_FRACTIONS, exact.LAPLACE_BINS)
    for key, row in enumerate(shipped):
        assert np.array_equal(row, exact.laplace_row(*divmod(key, exact.LAPLACE_FRACTIONS)))


def test_laplace_rows_match_the_float_laplace():
    for j, fraction in ((0, 0), (37, 7), (64, 15), (130, 3), (exact.LAPLACE_SCALES - 1, 9)):
        row = exact.laplace_row(j, fraction)
        b, width = 0.05 * 2 ** (j / 8), 2 ** exact.laplace_shift(j)
        z = np.arange(-exact.LAPLACE_WINDOW, exact.LAPLACE_WINDOW + 2) * width - 0.5 - (
            2 * fraction + 1) / 32
        cdf = np.where(z < 0, 0.5 * np.exp(np.minimum(z, 0) / b),
                       1 - 0.5 * np.exp(-np.maximum(z, 0) / b))
        mass = np.concatenate([[cdf[0]], np.diff(cdf), [1 - cdf[-1]]])
        assert np.abs(row - (mass * 2 ** 24 + 1)).max() <= 1 and row.min() >= 1
        assert exact.laplace_shift(j) == max(0, math.floor(math.log2(b)) - 2)


def test_laplace_coder_round_trips_every_range():
    rng = np.random.default_rng(3)
    n = 4000
    means = rng.uniform(-33000, 33000, n)
    scales = np.exp(rng.uniform(-4, 11, n))
    x = np.clip(np.rint(means + rng.laplace(0, scales)), -32768, 32767).astype(np.int64)
    x[:4] = [-32768, 32767, 0, -1]  # the ends, and escapes far from the mean
    means[:2] = [30000.0, -30000.0]
    from arzip.codecs.audio.codec import laplace_params

    params = laplace_params(means, scales)
    encoder = coding.LaplaceEncoder()
    encoder.encode(x, *params)
    payload = encoder.finish()
    assert np.array_equal(coding.LaplaceDecoder(payload).decode(*params), x)
    ideal = coding.laplace_bits_each(x, *params).sum()
    assert abs(8 * len(payload) - ideal) < 0.002 * ideal + 64


def test_laplace_batches_code_the_stream_of_one_call_per_batch():
    """`encode_batches` merges coder calls but writes what batch-by-batch `encode` writes,
    and the decoder reads it batch by batch."""
    rng = np.random.default_rng(4)
    n = 3000
    means = rng.uniform(-3000, 3000, n)
    # mostly narrow bins (no offsets: merged calls), some wide ones (offsets)
    scales = np.exp(np.where(rng.random(n) < 0.97, rng.uniform(-3, 1.5, n), rng.uniform(2, 9, n)))
    x = np.clip(np.rint(means + rng.laplace(0, scales)), -32768, 32767).astype(np.int64)
    x[rng.integers(0, n, 5)] = 32767  # escapes
    from arzip.codecs.audio.codec import laplace_params

    params = laplace_params(means, scales)
    ends = np.unique(np.concatenate([rng.integers(1, n, 400), [n]]))
    one, merged = coding.LaplaceEncoder(), coding.LaplaceEncoder()
    for a, b in zip(np.concatenate([[0], ends[:-1]]), ends, strict=True):
        one.encode(x[a:b], *(p[a:b] for p in params))
    merged.encode_batches(x, *params, ends)
    payload = merged.finish()
    assert payload == one.finish()
    decoder = coding.LaplaceDecoder(payload)
    back = [decoder.decode(*(p[a:b] for p in params))
            for a, b in zip(np.concatenate([[0], ends[:-1]]), ends, strict=True)]
    assert np.array_equal(np.concatenate(back), x)


def test_the_audio_step_kernels_sums_are_the_exact_matrix_product():
    """`_accumulate` may fuse and reorder (fast-math 'contract'): its products and sums are
    integers below 2^53, so it must still equal the exact matrix product at the bounds."""
    from arzip.codecs.audio import exact_model

    rng = np.random.default_rng(5)
    n_in, n_out, rows = 576, 128, 8
    w = rng.choice([-32767, 32767, -1, 0, 1], (n_in, n_out)).astype(np.float32)
    x = rng.choice([-(1 << 20) + 1, (1 << 20) - 1, 0, 7], (rows, n_in)).astype(np.float64)
    out = np.empty((rows, n_out))
    exact_model._accumulate(w.ravel(), 0, n_in, n_out, x, rows, out)
    expected = (x.astype(object) @ w.astype(np.int64).astype(object)).astype(np.float64)
    assert np.array_equal(out, expected)
