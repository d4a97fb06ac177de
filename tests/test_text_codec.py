"""The bytes codec: round trips, lane layouts, and bit-identical encode/decode probabilities."""

from __future__ import annotations

import copy
import io
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from arzip import engine, zoo
from arzip.codecs.text import codec as text_codec
from arzip.codecs.text.codec import BytesCodec, choose_lanes, lane_lengths
from arzip.codecs.text.exact_model import ExactByteTransformer
from arzip.codecs.text.exact_model import calibrate as text_calibrate
from arzip.codecs.text.model import ByteTransformer, TextModelConfig


def load_codec(model_path: str) -> BytesCodec:
    return engine.load_codec("bytes", zoo.find_model(model_path))


def round_trip(codec: BytesCodec, data: bytes) -> bytes:
    lanes, payload, _ = codec.encode_block(data)
    return codec.decode_block(payload, len(data), lanes)


def sample_text(n: int) -> bytes:
    words = "the quick brown fox jumps over a lazy dog; naïve café — 数据 压缩".split()
    rng = np.random.default_rng(7)
    text = " ".join(words[i] for i in rng.integers(0, len(words), size=n // 3))
    return text.encode()[:n]


@pytest.mark.parametrize("data", [b"", b"x", bytes(range(256)), os.urandom(2000),
                                  sample_text(5000)], ids=["empty", "1", "256", "random", "utf8"])
def test_block_round_trip(tiny_model, data):
    assert round_trip(load_codec(tiny_model), data) == data


@pytest.mark.parametrize("choose", [choose_lanes, text_codec.choose_cm_lanes])
def test_lane_layout_covers_block(choose):
    for n in (0, 1, 5, 1023, 1024, 1025, 10**6):
        lanes = choose(n)
        lengths = lane_lengths(n, lanes)
        assert lengths.sum() == n and lengths.max() - lengths.min() <= 1
        assert 1 <= lanes <= text_codec.MAX_LANES


@pytest.mark.parametrize("min_lane", [1 << 20, 700, 64])
def test_one_lane_and_many_lanes(tiny_model, monkeypatch, min_lane):
    monkeypatch.setattr(text_codec, "MIN_LANE_BYTES", min_lane)
    data = sample_text(6000)
    codec = load_codec(tiny_model)
    lanes, payload, _ = codec.encode_block(data)
    assert lanes == choose_lanes(len(data))
    assert codec.decode_block(payload, len(data), lanes) == data


def test_encode_and_decode_probabilities_are_bit_identical(tiny_model, monkeypatch):
    monkeypatch.setattr(text_codec, "MIN_LANE_BYTES", 300)
    seen: dict[str, list[np.ndarray]] = {"enc": [], "dec": []}
    enc_cls, dec_cls = text_codec.CategoricalEncoder, text_codec.CategoricalDecoder

    class RecordingEncoder(enc_cls):
        def encode(self, symbols, probs):
            seen["enc"].append(probs.copy())
            super().encode(symbols, probs)

    class RecordingDecoder(dec_cls):
        def decode(self, probs):
            seen["dec"].append(probs.copy())
            return super().decode(probs)

    monkeypatch.setattr(text_codec, "CategoricalEncoder", RecordingEncoder)
    monkeypatch.setattr(text_codec.BytesCodec, "decoder_factory", RecordingDecoder)
    data = sample_text(3001)
    codec = load_codec(tiny_model)
    assert round_trip(codec, data) == data
    assert len(seen["enc"]) == len(seen["dec"]) > 0
    for a, b in zip(seen["enc"], seen["dec"], strict=True):
        assert a.dtype == b.dtype == np.float64
        assert np.array_equal(a.view(np.uint64), b.view(np.uint64))


def stepped_logits(model: ByteTransformer, tokens: torch.Tensor) -> torch.Tensor:
    cache = model.new_cache(tokens.shape[0])
    return torch.stack([model.step(tokens[:, t], t, cache) for t in range(tokens.shape[1])], 1)


def test_cached_steps_match_full_forward():
    torch.manual_seed(3)
    model = ByteTransformer(TextModelConfig(n_layer=2, n_head=2, d_model=32, d_ff=64,
                                            context=16)).eval()
    tokens = torch.randint(0, 256, (3, 16))
    with torch.no_grad():
        assert torch.allclose(stepped_logits(model, tokens), model(tokens), atol=1e-4)


def test_exact_network_chunks_and_steps_agree_and_follow_the_float_network():
    """The encoder's passes (any chunking, lane groups) and the decoder's steps give the
    same integer frequencies; they follow the float network's distribution closely."""
    torch.manual_seed(5)
    model = ByteTransformer(TextModelConfig(n_layer=2, n_head=2, d_model=32, d_ff=64,
                                            context=16)).eval()
    tokens = torch.randint(0, 256, (5, 70))
    exact = ExactByteTransformer(model, text_calibrate(model, tokens))
    whole, _ = exact.forward(tokens.numpy())
    parts, past = [], None
    for start in range(0, 70, 13):
        freqs, past = exact.forward(tokens.numpy()[:, start:start + 13], start, past)
        parts.append(freqs)
    cache = exact.new_cache(5, 70)
    steps = np.stack([exact.step(tokens.numpy()[:, t], t, cache) for t in range(70)], 1)
    assert np.array_equal(np.concatenate(parts, 1), whole) and np.array_equal(steps, whole)
    # the compiled step (lanes 0-1 and 2-4 apart, as two threads run them) and the numpy one
    assert exact.packed is not None
    slow, cache, split = copy.copy(exact), exact.new_cache(5, 70), []
    slow.packed = None
    for t in range(70):
        column = tokens.numpy()[:, t]
        split.append(np.concatenate([exact.step(column[:2], t, cache, 0),
                                     slow.step(column[2:], t, cache, 2)]))
    assert np.array_equal(np.stack(split, 1), whole)
    with torch.no_grad():
        reference = torch.softmax(stepped_logits(model, tokens), -1).numpy()
    probs = whole / whole.sum(-1, keepdims=True)
    assert np.abs(probs - reference).max() < 0.05


def test_sliding_window_sees_the_last_context_bytes():
    # one layer: a step past the window attends exactly to the last `context` bytes, and
    # rotary positions are relative, so it equals a fresh forward over that window
    torch.manual_seed(4)
    model = ByteTransformer(TextModelConfig(n_layer=1, n_head=2, d_model=32, d_ff=64,
                                            context=16)).eval()
    tokens = torch.randint(0, 256, (3, 40))
    stepped = stepped_logits(model, tokens)
    with torch.no_grad():
        for t in (16, 25, 39):
            window = model(tokens[:, t - 15: t + 1])[:, -1]
            assert torch.allclose(stepped[:, t], window, atol=1e-4)


def compress_bytes(data: bytes, model: str) -> bytes:
    out = io.BytesIO()
    engine.compress_stream(io.BytesIO(data), out, model)
    return out.getvalue()


def test_thread_count_does_not_change_output(tiny_model):
    data = sample_text(40_000)  # two lane groups
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        two = compress_bytes(data, tiny_model)
        torch.set_num_threads(1)
        one = compress_bytes(data, tiny_model)
    finally:
        torch.set_num_threads(before)
    assert one == two


SCRIPT = """
import io, sys, torch
from arzip import engine
torch.set_num_threads(int(sys.argv[2]))
data = sys.stdin.buffer.read()
if sys.argv[3] == "c":
    engine.compress_stream(io.BytesIO(data), sys.stdout.buffer, sys.argv[1])
else:
    engine.decompress_stream(io.BytesIO(data), sys.stdout.buffer.write, sys.argv[1])
"""


def run_process(model: str, threads: int, mode: str, data: bytes) -> bytes:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return subprocess.run([sys.executable, "-c", SCRIPT, model, str(threads), mode], input=data,
                          capture_output=True, check=True, env=env).stdout


def test_separate_processes_agree(tiny_model):
    data = sample_text(40_000)  # enough lanes for the network's two parallel groups
    a = run_process(tiny_model, 1, "c", data)
    b = run_process(tiny_model, 2, "c", data)
    assert a == b == compress_bytes(data, tiny_model)
    assert run_process(tiny_model, 2, "d", a) == data


def test_megabyte_round_trip_across_blocks(tiny_model):
    rng = np.random.default_rng(1)
    text = sample_text(200_000)
    data = (text * 6)[:1_000_000] + rng.integers(0, 256, 49_575, dtype=np.uint8).tobytes()
    assert len(data) == 1_048_576 + 999
    packed = compress_bytes(data, tiny_model)
    out = io.BytesIO()
    stats = engine.decompress_stream(io.BytesIO(packed), out.write, tiny_model)
    assert out.getvalue() == data and stats.methods and sum(stats.methods.values()) == 2


REPEATS = (sample_text(1500) + b" -- " + bytes(range(40))) * 4  # long matches across lanes


@pytest.mark.parametrize("min_lane", [1 << 20, 700, 64])
@pytest.mark.parametrize("data", [b"", b"x", bytes(range(256)), os.urandom(3000), REPEATS],
                         ids=["empty", "1", "256", "random", "repeats"])
def test_cm_block_round_trip(tiny_model, monkeypatch, min_lane, data):
    """Block method 5 (context mixing with the network's bit probabilities) in one lane and
    in many: a match may point into another lane only where that lane is already decoded."""
    monkeypatch.setattr(text_codec, "MIN_LANE_BYTES", min_lane)
    monkeypatch.setattr(text_codec, "CM_LANE_BYTES", min_lane)
    codec = load_codec(tiny_model)
    bits = np.zeros(len(data))
    lanes, payload, ideal = codec.encode_cm_block(data, bits_out=bits)
    assert lanes == text_codec.choose_cm_lanes(len(data))
    assert codec.decode_cm_block(payload, len(data), lanes) == data
    assert ideal == pytest.approx(bits.sum()) and ideal - 8 <= 8 * len(payload) <= ideal + 40
    for threads in (1, 2):  # one thread, and two: 16 lanes decode in pipelined halves
        monkeypatch.setattr(text_codec, "threads", lambda threads=threads: threads)
        assert codec.decode_cm_block(payload, len(data), lanes) == data


def test_cm_network_input_helps(tiny_model):
    """The network's bit probabilities are a real input: coding without them differs."""
    from arzip.codecs.text import cm

    data = sample_text(4000)
    codec = load_codec(tiny_model)
    lanes, payload, _ = codec.encode_cm_block(data)
    alone = cm.LaneCoder(len(data), lanes)
    alone.data[:] = np.frombuffer(data, dtype=np.uint8)
    alone.code(0, alone.steps)
    assert alone.finish() != payload


def test_cm_output_overflow_is_reported():
    """A payload that would outgrow its buffer makes finish() say None (the block is then
    stored), never writes past the buffer."""
    from arzip.codecs.text import cm

    data = os.urandom(4000)
    coder = cm.LaneCoder(len(data), 4)
    coder.data[:] = np.frombuffer(data, dtype=np.uint8)
    coder.out = np.zeros(600, dtype=np.uint8)
    coder.code(0, coder.steps)
    assert coder.finish() is None
