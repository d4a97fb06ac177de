"""Binary context mixing for bytes: the text codec's context models (numba).

Each byte is coded as 8 binary decisions, most significant bit first. The context models
(orders 1-4 and 6 of the preceding bytes, a sparse context, a word context, order 0 and a
match model for long repeats) each give the probability of the next bit from statistics
learned on this input only; the core mixing primitives (`arzip.mixing`) combine them: a
mixer selected by the partial byte, then two APM stages. This module holds only the
contexts; it is the context-mixing half of the text codec v2 (the network's bit
probabilities join the mixer as one more input).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from arzip import jitcache
from arzip import mixing as M

jitcache.depends(__file__, M)

ORDERS = 9  # hashed context models: orders 1, 2, 3, 4, 5, 6, 8, sparse, word
INPUTS = ORDERS + 3  # + order 0, match model, bias
MATCH_MIN = 6  # bytes hashed to find a match
MATCH_LIMIT = 63


@njit(cache=True, nogil=True, inline="always")
def _hash(a, b):
    h = (a * np.uint64(0x9E3779B97F4A7C15)) ^ (b + np.uint64(0x632BE59BD9B4E019))
    h ^= h >> np.uint64(29)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    return h ^ (h >> np.uint64(32))


@njit(cache=True, nogil=True)
def _run(data, n, decode, payload, out, state, prob, count, p0, n0, mprob, mcount, weights,
         apm1, apm2, match_table, rate, limit):
    """Code n bytes (encode: data -> out; decode: payload -> data) with the model state
    given (fresh arrays). Returns the coder state's byte count."""
    mask = np.uint64(prob.shape[1] - 1)
    hashes = np.zeros(ORDERS, dtype=np.uint64)
    idx = np.zeros(ORDERS, dtype=np.int64)
    inputs = np.zeros(INPUTS, dtype=np.int64)
    c4 = np.uint64(0)  # the last 8 bytes, newest lowest
    word = np.uint64(0)
    prev_word = np.uint64(0)
    match_ptr = 0
    match_len = 0
    for i in range(n):
        # contexts of this byte
        hashes[0] = _hash(np.uint64(1), c4 & np.uint64(0xFF))
        hashes[1] = _hash(np.uint64(2), c4 & np.uint64(0xFFFF))
        hashes[2] = _hash(np.uint64(3), c4 & np.uint64(0xFFFFFF))
        hashes[3] = _hash(np.uint64(4), c4 & np.uint64(0xFFFFFFFF))
        hashes[4] = _hash(np.uint64(5), c4 & np.uint64(0xFFFFFFFFFF))
        hashes[5] = _hash(np.uint64(6), c4 & np.uint64(0xFFFFFFFFFFFF))
        hashes[6] = _hash(np.uint64(8), c4)
        hashes[7] = _hash(np.uint64(7), c4 & np.uint64(0xFFFF00FF00))
        hashes[8] = _hash(word + np.uint64(8), prev_word)
        expected = -1
        if match_len > 0:
            expected = np.int64(data[match_ptr])
        c0 = 1
        for bit_index in range(8):
            for k in range(ORDERS):
                j = np.int64(_hash(hashes[k], np.uint64(c0)) & mask)
                idx[k] = j
                inputs[k] = M.stretch(prob[k, j]) if count[k, j] else 0
            inputs[ORDERS] = M.stretch(p0[c0])
            mctx = -1
            predicted = 0
            if expected >= 0 and ((expected + 256) >> (8 - bit_index)) == c0:
                predicted = (expected >> (7 - bit_index)) & 1
                mctx = 2 * min(match_len, MATCH_LIMIT) + predicted
                st = M.stretch(mprob[mctx])
                inputs[ORDERS + 1] = st if predicted else -st
            else:
                inputs[ORDERS + 1] = 0
            inputs[ORDERS + 2] = 256
            mbucket = 0 if match_len == 0 else (1 if match_len < 16 else (2 if match_len < 32
                                                                           else 3))
            row = c0 * 4 + mbucket
            row2 = 256 * 4 + bit_index * 4 + mbucket
            pa, da = M.mix(weights, row, inputs, INPUTS)
            pb, db = M.mix(weights, row2, inputs, INPUTS)
            pm = M.squash((da + db) >> 1)
            q1, lo1, w1 = M.apm_p(apm1, c0, pm)
            actx = c0 | (np.int64(c4 & np.uint64(0xFF)) << 8)
            q2, lo2, w2 = M.apm_p(apm2, actx, pm)
            p = (2 * pm + q1 + q2 + 2) >> 2
            if p < 1:
                p = 1
            elif p > M.PROB_ONE - 1:
                p = M.PROB_ONE - 1
            if decode:
                bit = M.decode_bit(state, payload, p)
            else:
                bit = (np.int64(data[i]) >> (7 - bit_index)) & 1
                M.encode_bit(state, out, bit, p)
            # learn
            M.mix_update(weights, row, inputs, INPUTS, pa, bit, rate)
            M.mix_update(weights, row2, inputs, INPUTS, pb, bit, rate)
            M.apm_update(apm1, c0, lo1, w1, bit, 7)
            M.apm_update(apm2, actx, lo2, w2, bit, 7)
            for k in range(ORDERS):
                M.counter_update(prob[k], count[k], idx[k], bit, limit)
            M.counter_update(p0, n0, c0, bit, limit)
            if mctx >= 0:
                M.counter_update(mprob, mcount, mctx, 1 if bit == predicted else 0, 1023)
            c0 = (c0 << 1) | bit
        byte = c0 & 0xFF
        if decode:
            data[i] = byte
        c4 = (c4 << np.uint64(8)) | np.uint64(byte)
        lower = byte | 32 if 65 <= byte <= 90 else byte
        if 97 <= lower <= 122 or byte >= 128:
            word = _hash(word, np.uint64(lower))
        elif word != 0:
            prev_word = word
            word = np.uint64(0)
        # match model: follow the match, or look for a new one
        if match_len > 0 and expected == byte:
            match_len += 1
            match_ptr += 1
        else:
            match_len = 0
        if i + 1 >= MATCH_MIN:
            h = np.int64(_hash(np.uint64(9), c4 & np.uint64(0xFFFFFFFFFFFF)) & np.uint64(
                (1 << 20) - 1))
            if match_len == 0:
                candidate = match_table[h]
                if candidate > 0:
                    match_ptr = candidate
                    match_len = 1
            match_table[h] = i + 1
    if decode:
        return state[3]
    M.encode_flush(state, out)
    return state[2]


def _model(log2_slots: int) -> tuple:
    prob, count = M.counters(ORDERS << log2_slots)
    p0, n0 = M.counters(256)
    mprob, mcount = M.counters(2 * (MATCH_LIMIT + 1))
    return (prob.reshape(ORDERS, -1), count.reshape(ORDERS, -1), p0, n0, mprob, mcount,
            M.mixer(256 * 4 + 8 * 4, INPUTS), M.apm(256), M.apm(65536),
            np.zeros(1 << 20, dtype=np.int64))


def encode(data: bytes, log2_slots: int = 22, rate: int = 8, limit: int = 255) -> bytes:
    src = np.frombuffer(data, dtype=np.uint8).copy()  # one array type for both directions
    out = np.zeros(len(data) + len(data) // 2 + 64, dtype=np.uint8)
    size = _run(src, len(src), False, out, out, M.encoder_state(), *_model(log2_slots),
                rate, limit)
    return out[:size].tobytes()


def decode(payload: bytes, n: int, log2_slots: int = 22, rate: int = 8,
           limit: int = 255) -> bytes:
    data = np.zeros(n, dtype=np.uint8)
    src = np.frombuffer(payload, dtype=np.uint8).copy()
    _run(data, n, True, src, data, M.decoder_state(src), *_model(log2_slots), rate, limit)
    return data.tobytes()
