"""The core context-mixing primitives (arzip.mixing) and the text codec's context models:
integer tables, the binary arithmetic coder, counters, mixer, APM, and CM round trips."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from numba import njit

from arzip import mixing as M
from arzip.codecs.text import cm


def test_squash_and_stretch_are_monotone_inverse_tables():
    assert M.SQUASH.dtype == np.int32 and len(M.SQUASH) == 2 * M.ST_MAX + 1
    assert np.all(np.diff(M.SQUASH) >= 0) and M.SQUASH[0] >= 1
    assert M.SQUASH[-1] <= M.PROB_ONE - 1 and M.SQUASH[M.ST_MAX] == M.PROB_ONE // 2
    assert np.all(np.diff(M.STRETCH) >= 0)
    assert len(M.STRETCH) == M.PROB_ONE
    for x in range(-1500, 1501, 7):  # where the table is not flat, stretch inverts squash
        assert abs(int(M.STRETCH[M.SQUASH[x + M.ST_MAX]]) - x) <= 1
    # values are the logistic function (the tables are exact; this checks the meaning)
    for x in (-1000, -256, 0, 300, 1200):
        assert abs(M.SQUASH[x + M.ST_MAX] / M.PROB_ONE - 1 / (1 + math.exp(-x / 256))) < 1e-4


@njit(cache=True)
def _code(bits, probs, out):
    state = M.encoder_state()
    for i in range(bits.shape[0]):
        M.encode_bit(state, out, bits[i], probs[i])
    M.encode_flush(state, out)
    return state[2]


@njit(cache=True)
def _decode(data, probs, n):
    state = M.decoder_state(data)
    bits = np.zeros(n, dtype=np.int64)
    for i in range(n):
        bits[i] = M.decode_bit(state, data, probs[i])
    return bits


@pytest.mark.parametrize("seed", range(5))
def test_the_arithmetic_coder_round_trips_at_the_ideal_cost(seed):
    rng = np.random.default_rng(seed)
    n = 200_000
    probs = rng.integers(1, M.PROB_ONE, n)
    if seed == 0:
        probs[::3] = 1  # extreme probabilities, both ways
        probs[1::3] = M.PROB_ONE - 1
    bits = (rng.random(n) < probs / M.PROB_ONE).astype(np.int64)
    out = np.zeros(n // 4 + 64, dtype=np.uint8)
    size = _code(bits, probs, out)
    assert np.array_equal(_decode(out[:size].copy(), probs, n), bits)
    p1 = probs / M.PROB_ONE
    ideal = -np.sum(np.where(bits == 1, np.log2(p1), np.log2(1 - p1))) / 8
    assert size <= ideal * 1.001 + 8


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 8, 13, 40, 200])
def test_the_flush_is_short_and_any_flush_decodes(n):
    """The encoder ends on at most one byte and never on 255 (the decoder reads 255 past
    the end); the 4-byte flush of older encoders (padding with 255) decodes the same."""
    rng = np.random.default_rng(n)
    for trial in range(200):
        probs = rng.integers(1, M.PROB_ONE, n)
        if trial % 3 == 0:
            probs[:] = rng.choice([1, 2, M.PROB_ONE - 2, M.PROB_ONE - 1], n)
        bits = (rng.random(n) < probs / M.PROB_ONE).astype(np.int64)
        out = np.zeros(n + 8, dtype=np.uint8)
        state = M.encoder_state()
        _code_part(state, out, bits, probs)
        before = int(state[2])
        M.encode_flush(state, out)
        payload = out[:state[2]].copy()
        assert len(payload) <= before + 1 and (len(payload) == 0 or payload[-1] != 255)
        for padded in (payload, np.concatenate([payload, np.full(3, 255, np.uint8)])):
            assert np.array_equal(_decode(padded, probs, n), bits)


@njit(cache=True)
def _code_part(state, out, bits, probs):
    for i in range(bits.shape[0]):
        M.encode_bit(state, out, bits[i], probs[i])


def test_a_bit_stream_grows_across_calls_and_round_trips():
    """BitStream: the encoder's buffer grows between kernel calls (reserve) without
    losing written bytes; its payload decodes to the same bits."""
    rng = np.random.default_rng(9)
    probs = rng.integers(1, M.PROB_ONE, 30_000)
    bits = (rng.random(len(probs)) < probs / M.PROB_ONE).astype(np.int64)
    stream = M.BitStream(size=16)
    for part in np.array_split(np.arange(len(bits)), 7):
        stream.reserve(2 * len(part) + 8)  # at most 16 bits per decision
        _code_part(stream.state, stream.out, bits[part], probs[part])
    payload = stream.finish()
    reader = M.BitStream(payload)
    assert reader.data.tobytes() == payload
    assert np.array_equal(_decode(reader.data.copy(), probs, len(bits)), bits)


def test_counters_learn_a_frequency_and_the_mixer_trusts_the_good_input():
    prob, count = M.counters(1)
    rng = np.random.default_rng(0)
    for bit in (rng.random(5000) < 0.8):
        _counter_step(prob, count, int(bit))
    assert abs(prob[0] / M.PROB_ONE - 0.8) < 0.05
    weights = M.mixer(1, 3)
    costs = _mixer_run(weights, 20000)
    entropy = -(0.9 * math.log2(0.9) + 0.1 * math.log2(0.1))  # input 0 is right 9 in 10
    assert costs[1] < 1.05 * 10000 * entropy  # the second half: near the best possible
    assert weights[0, 0] > 4 * abs(weights[0, 1])  # input 0 is the informative one


def test_centred_counters_follow_the_plain_ones():
    """A table of centred counters starts all zeros (1/2) and takes the same steps as
    plain counters: only where the probability is stored differs."""
    prob, count = M.counters(4)
    table = M.centred_counters((4, 2))
    assert not table.any() and table.dtype == np.int16
    rng = np.random.default_rng(1)
    for slot, bit in zip(rng.integers(0, 4, 3000), rng.random(3000) < 0.9, strict=True):
        _counter_step_at(prob, count, int(slot), int(bit), 0)
        _counter_step_at(table[:, 0], table[:, 1], int(slot), int(bit), M.HALF)
    assert np.array_equal(table[:, 0].astype(np.int64) + M.HALF, prob)
    assert np.array_equal(table[:, 1], count)
    assert prob.max() > 0.85 * M.PROB_ONE  # they learned something


@njit(cache=True)
def _counter_step(prob, count, bit):
    M.counter_update(prob, count, 0, bit, 255)


@njit(cache=True)
def _counter_step_at(prob, count, i, bit, offset):
    M.counter_update(prob, count, i, bit, 255, offset)


@njit(cache=True)
def _mixer_run(weights, n):
    """Input 0 predicts the bit (a stretched 0.9/0.1), input 1 is noise, 2 a bias."""
    inputs = np.zeros(3, dtype=np.int64)
    costs = np.zeros(2)
    seed = 12345
    for i in range(n):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        bit = (seed >> 16) & 1
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        noise = (seed >> 16) & 1
        inputs[0] = 563 if bit else -563
        if (seed >> 8) % 10 == 0:  # input 0 is wrong one time in ten
            inputs[0] = -inputs[0]
        inputs[1] = 563 if noise else -563
        inputs[2] = 256
        p, _ = M.mix(weights, 0, inputs, 3)
        q = p / 65536.0
        costs[i * 2 // n] += -np.log2(q if bit else 1 - q)
        M.mix_update(weights, 0, inputs, 3, p, bit, 8)
    return costs


def test_a_fresh_apm_is_close_to_the_identity():
    table = M.apm(1)
    for p in (300, 5000, 32768, 60000, 65000):
        q, _, _ = _apm(table, p)
        assert abs(q - p) < 0.02 * M.PROB_ONE


@njit(cache=True)
def _apm(table, p):
    return M.apm_p(table, 0, p)


TEXT = b"".join(b"%d: the context mixer learns from the file as it is coded.\n" % (i % 37)
                for i in range(2000))


@pytest.mark.parametrize("data", [b"", b"x", bytes(range(256)), os.urandom(5000), TEXT,
                                  bytes(3000), TEXT[:999] + os.urandom(500) + TEXT[:5000]])
def test_context_mixing_round_trips(data):
    payload = cm.encode(data, log2_slots=16)
    assert cm.decode(payload, len(data), log2_slots=16) == data


def test_context_mixing_learns_repetitive_text_and_is_deterministic():
    payload = cm.encode(TEXT, log2_slots=16)
    assert len(payload) < 0.05 * len(TEXT)
    assert cm.encode(TEXT, log2_slots=16) == payload
    random = os.urandom(20000)
    assert len(cm.encode(random, log2_slots=16)) < 20000 * 1.03  # the mixer learns to doubt


@njit(cache=True)
def _ols_run(taps, targets, n, lam, delta, every):
    """Feed (taps, target) rows to a fresh OLS predictor; its predictions before each
    update, and its final weights."""
    cov, rhs, w = np.zeros((n, n)), np.zeros(n), np.zeros(n)
    chol, x = np.zeros((n, n)), np.zeros(2 * n)
    out = np.zeros(len(targets))
    for i in range(len(targets)):
        x[:n] = taps[i]
        out[i] = M.ols_predict(w, x, n)
        M.ols_update(cov, rhs, w, chol, x, n, targets[i], lam, delta, (i + 1) % every == 0)
    return out, w


def test_least_squares_learns_a_linear_rule_and_is_deterministic():
    rng = np.random.default_rng(5)
    taps = rng.integers(0, 256, (3000, 5)).astype(np.float64)
    truth = np.array([0.5, 0.25, -0.125, 0.375, 0.0])
    targets = taps @ truth + rng.normal(0, 1, 3000)
    predictions, w = _ols_run(taps, targets, 5, 0.998, 0.001, 4)
    assert np.abs(w - truth).max() < 0.01  # the rule, from noisy samples
    late = np.abs(predictions[1000:] - targets[1000:]).mean()
    assert late < 1.0 < np.abs(predictions[:3] - targets[:3]).mean()  # it learned
    again, w2 = _ols_run(taps, targets, 5, 0.998, 0.001, 4)
    assert np.array_equal(again, predictions) and np.array_equal(w2, w)
    # all-zero taps without a ridge: no positive pivot, the weights stay as they were
    _, w0 = _ols_run(np.zeros((10, 3)), np.ones(10), 3, 0.998, 0.0, 1)
    assert not w0.any()
