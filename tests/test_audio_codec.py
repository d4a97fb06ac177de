"""The audio codec: cached steps == whole-signal network, bit-identical probabilities,
sample-exact round trips of every supported layout and signal, byte-exact WAV/AIFF, FLAC
with its metadata, and clean fallbacks and errors for everything else."""

from __future__ import annotations

import dataclasses
import io
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch
from roundtrip import compress, decompress

from arzip import container, engine, zoo
from arzip.codecs.audio import formats, lpc
from arzip.codecs.audio.adaptive import AdaptiveConfig
from arzip.codecs.audio.codec import (
    CHUNK,
    MAX_CHUNK,
    MIN_LANES,
    MIN_WIDE_LANES,
    WIDE_CHUNK,
    AudioCodec,
    block_lanes,
    lane_chunk,
)
from arzip.codecs.audio.exact_model import ExactWaveNet
from arzip.codecs.audio.model import AudioModelConfig, WaveNet
from arzip.codecs.audio.training import calibration, classical
from arzip.errors import ArzipError

RNG = np.random.default_rng(7)


def signal(kind: str, frames: int, channels: int) -> np.ndarray:
    """Test signals (frames, channels) int16."""
    t = np.arange(frames)[:, None] + np.arange(channels)[None] * 3
    if kind == "silence":
        x = np.zeros((frames, channels))
    elif kind == "square":  # full scale
        x = np.where((t // 20) % 2, 32767, -32768)
    elif kind == "noise":  # white, full scale
        x = RNG.integers(-32768, 32768, (frames, channels))
    elif kind == "clipped":
        x = np.clip(60000 * np.sin(t / 15.0), -32768, 32767)
    elif kind == "dc":
        x = 12000 + 300 * np.sin(t / 7.0) + RNG.normal(0, 4, (frames, channels))
    else:  # "speechy": a decaying tone in noise
        x = 3000 * np.sin(t / 9.0) * np.exp(-t / 4000.0) + RNG.normal(0, 30, (frames, channels))
    return np.round(x).astype(np.int16)


def audio_file(samples: np.ndarray, rate: int, fmt: str = "WAV", subtype: str = "PCM_16",
               **kw) -> bytes:
    out = io.BytesIO()
    sf.write(out, samples, rate, format=fmt, subtype=subtype, **kw)
    return out.getvalue()


def random_wavenet(seed: int = 1) -> WaveNet:
    torch.manual_seed(seed)
    model = WaveNet(AudioModelConfig(channels=12, layers=4, head=16, taps=6)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.1)
    return model


def exact_wavenet(model: WaveNet) -> ExactWaveNet:
    return ExactWaveNet(model, calibration(model, None))


def test_cached_steps_equal_the_whole_signal_network():
    """The decoder's frame-by-frame network (Fast-WaveNet queues) gives the encoder's
    whole-lane integers exactly, and the whole-lane form follows the float network."""
    model = random_wavenet()
    exact = exact_wavenet(model)
    x = torch.from_numpy(signal("speechy", 200, 2).astype(np.float32))[None].repeat(3, 1, 1)
    x[1, :, 1] = 0
    x[2] = torch.round(x[2] * 0.01)
    stereo, rate = torch.tensor([1.0, 0.0, 1.0]), torch.tensor([0.0, -1.0, 1.46])
    prediction, scale = classical(x.numpy())
    b, t = x.shape[:2]
    features = exact.features(x.numpy().reshape(-1, 2).astype(np.float64),
                              prediction.numpy().reshape(-1, 2).astype(np.float64),
                              scale.numpy().reshape(-1, 2).astype(np.float64),
                              stereo.numpy().repeat(t), rate.numpy().repeat(t)).reshape(b, t, -1)
    whole = exact.forward(features, frames_per_call=64)  # lanes in several groups
    state = exact.new_state(b)
    for i in range(t):
        assert np.array_equal(exact.step(state), whole[:, i])  # the compiled step
        exact.push(state, features[:, i])
    state = exact.new_state(b)
    for i in range(t):  # the step as matrix products (many lanes), by slices
        assert np.array_equal(np.concatenate([exact._step_batched(state, 0, 2),
                                              exact._step_batched(state, 2, 3)]), whole[:, i])
        exact.push(state, features[:, i])
    with torch.no_grad():
        out = model(x, x - prediction, torch.log(scale), stereo, rate).numpy()
    assert np.abs(whole - out).max() < 0.02 * np.abs(out).max()


def test_network_is_causal():
    model = random_wavenet()
    x = torch.from_numpy(signal("noise", 300, 2).astype(np.float32))[None]
    y = x.clone()
    y[0, 150:] = 0
    with torch.no_grad():
        a, b = (model(v, v * 0.5, torch.ones_like(v), torch.ones(1), torch.zeros(1))
                for v in (x, y))
    assert torch.equal(a[0, :151], b[0, :151]) and not torch.equal(a[0, 151:], b[0, 151:])


def test_classical_predictor_steps_equal_the_whole_signal_form():
    x = signal("speechy", 3000, 2).T.astype(np.float64)
    prediction, scale = lpc.analyse(x)
    state = lpc.BackwardLPC(2, capacity=700)  # wraps its buffer several times
    for t in range(x.shape[1]):
        p = state.predict()
        assert np.array_equal(p, prediction[:, t]) and np.array_equal(state.scale, scale[:, t])
        state.push(x[:, t], p)


def test_classical_predictor_predicts_a_tone():
    x = np.round(8000 * np.sin(np.arange(4000) / 11.0))[None]
    prediction, _ = lpc.analyse(x)
    assert np.abs(x - prediction)[0, 1000:].mean() < 20.0  # vs ~500 for "repeat the last"


@pytest.mark.parametrize("frames,channels,chunk", [(1, 1, 4), (10, 2, 3), (1000, 3, 64),
                                                   (257, 8, 256), (5, 1, 100)])
def test_lanes_cover_every_sample_once(frames, channels, chunk):
    lanes = block_lanes(frames, channels, chunk)
    seen = np.zeros((frames, channels), dtype=int)
    for c, st, s, n in zip(lanes.channel, lanes.stereo, lanes.start, lanes.length,
                            strict=True):
        seen[s:s + n, c] += 1
        if st:
            seen[s:s + n, c + 1] += 1
    assert (seen == 1).all() and lanes.steps <= max(chunk, -(-frames // max(1, frames // chunk)))


@pytest.mark.parametrize("cm,cascade,network", [(None, 3, True), (1, 3, True), (1, 2, True),
                                                (1, 3, False)])
def test_encode_and_decode_probabilities_are_bit_identical(tiny_audio_model, monkeypatch, cm,
                                                           cascade, network):
    """The exact coding parameters of every sample, recorded on both sides, are equal: the
    encoder's whole-lane pass and the decoder's frame-by-frame one agree (with the range
    coder of formats 3-9 and with format 10's context mixing, whose statistics run on
    across a block's lanes; with format 14's cascade 3 and the cascade 2 before it; with
    the network and, format 14's block method STAGES, without it)."""
    codec = engine.load_codec("audio", zoo.find_model(tiny_audio_model))
    codec.block_frames, codec.chunk, codec.cm = 300, 70, cm
    if not network:  # every block without the network (and no probe: one coding a block)
        codec.network_gain = 1.0
        codec._network_may_pay = lambda *args: False
    if cascade == 2:
        codec.adaptive = dataclasses.replace(codec.adaptive, cascade=2, ols=[])
    samples = signal("speechy", 700, 3)
    seen: dict[str, list] = {"enc": [], "dec": []}
    from arzip.codecs.audio import cm as audio_cm
    from arzip.codecs.audio import codec as audio_codec

    enc_cls, dec_cls = audio_codec.LaplaceEncoder, audio_codec.LaplaceDecoder

    class RecordingEncoder(enc_cls):
        def encode(self, symbols, *params):
            seen["enc"].extend(zip(*(p.tolist() for p in params), strict=True))
            super().encode(symbols, *params)

    class RecordingDecoder(dec_cls):
        def decode(self, *params):
            seen["dec"].extend(zip(*(p.tolist() for p in params), strict=True))
            return super().decode(*params)

    class RecordingCM(audio_cm.AudioCM):
        def encode(self, symbols, *params):
            seen["enc"].extend(zip(*(p.tolist() for p in params[:3]), strict=True))
            return super().encode(symbols, *params)

        def decode(self, *params):
            seen["dec"].extend(zip(*(p.tolist() for p in params[:3]), strict=True))
            return super().decode(*params)

    monkeypatch.setattr(audio_codec, "LaplaceEncoder", RecordingEncoder)
    monkeypatch.setattr(audio_codec.AudioCodec, "decoder_factory", RecordingDecoder)
    monkeypatch.setattr(audio_cm, "AudioCM", RecordingCM)
    # the step-by-step loop, which calls the coder from Python (the compiled loop of a few
    # lanes decodes the same samples: test_few_lanes_decode_in_one_compiled_loop)
    monkeypatch.setattr(audio_codec, "KERNEL_LANES", 0)
    info = {"frames": 700, "channels": 3, "rate": 22050}
    blocks = list(codec.encode(samples, info=info))
    assert {m for *_, m in blocks} == {container.Method.MODEL if network
                                       else container.Method.STAGES}
    raws = list(codec.decode(info, iter((p, len(r), m) for r, p, _, m in blocks)))
    assert len(blocks) == 3 and raws == [r for r, *_ in blocks]
    assert seen["enc"] == seen["dec"] and len(seen["enc"]) == 700 * 3
    assert np.frombuffer(b"".join(raws), "<i2").reshape(700, 3).tolist() == samples.tolist()


def test_context_mixing_learns_the_shape_of_the_residuals(tiny_audio_model):
    """Format 10's coder starts as the quantized Laplace and learns from the signal: on
    Gaussian noise (not Laplace-shaped) it codes smaller than the range coder, and its
    coded size stays within a few bytes of its ideal bits."""
    codec = engine.load_codec("audio", zoo.find_model(tiny_audio_model))
    rng = np.random.default_rng(5)
    samples = np.round(rng.normal(0, 300, (30000, 1))).astype(np.int16)
    info = {"frames": 30000, "channels": 1, "rate": 16000}
    sizes = {}
    for cm in (None, 1):
        codec.cm = cm
        (raw, payload, bits, _), = codec.encode(samples, info=info)
        assert abs(8 * len(payload) - bits) < 0.001 * bits + 64
        assert list(codec.decode(info, iter([(payload, len(raw))]))) == [raw]
        sizes[cm] = len(payload)
    assert sizes[1] < 0.995 * sizes[None]


def test_least_squares_stages_learn_a_resonance_and_cost_nothing_on_noise(tiny_audio_model):
    """Format 14's cascade 3 adds least-squares stages to cascade 2: a resonance driven by
    small noise (a linear recurrence the stages can learn) codes clearly smaller, and white
    noise (nothing to learn) codes no larger than a fraction of a percent: the gate keeps
    a stage that predicts nothing from adding its noise."""
    codec = engine.load_codec("audio", zoo.find_model(tiny_audio_model))
    rng = np.random.default_rng(9)
    drive, ar = rng.laplace(0, 20, 12000), np.zeros(12000)
    for i in range(3, 12000):
        ar[i] = 2.2 * ar[i - 1] - 1.8 * ar[i - 2] + 0.5 * ar[i - 3] + drive[i]
    noise = rng.normal(0, 300, 12000)
    info = {"frames": 12000, "channels": 1, "rate": 16000}
    for wave, most in ((ar, 0.99), (noise, 1.003)):
        samples = np.clip(np.round(wave), -32768, 32767).astype(np.int16)[:, None]
        sizes = {}
        for cascade in (2, 3):
            codec.adaptive = dataclasses.replace(
                AdaptiveConfig.current(), cascade=cascade,
                ols=AdaptiveConfig.current().ols if cascade == 3 else [])
            (raw, payload, _, _), = codec.encode(samples, info=info)
            assert list(codec.decode(info, iter([(payload, len(raw))]))) == [raw]
            sizes[cascade] = len(payload)
        assert sizes[3] < most * sizes[2], sizes


@pytest.mark.parametrize("cascade", [2, 3])
def test_the_cascade_writes_every_input_it_reads(cascade):
    """`_adjust2`'s per-step scratch (filter inputs, predictions) is written before it is
    read, for every lane: the same means and scales whether it starts as zeros or as NaN
    (the encoder allocates it uninitialised each step, the decoder keeps it)."""
    from arzip.codecs.audio import adaptive

    cfg = dataclasses.replace(AdaptiveConfig.current(), cascade=cascade,
                              ols=AdaptiveConfig.current().ols if cascade == 3 else [])
    rng = np.random.default_rng(4)
    lanes, steps = 3, 60
    values = np.round(rng.normal(0, 500, (steps, lanes, 2)))
    results = []
    for fill in (0.0, np.nan):
        state = adaptive.Cascade(cfg, lanes)
        width = (lanes, cfg.long_taps), (lanes, cfg.taps + cfg.cross), (lanes, state.width)
        in1, in2, predictions = (np.full(shape, fill) for shape in width)
        active = np.arange(lanes)
        out = []
        for t in range(steps):
            for channel in (0, 1):
                means, scales = values[t, :, channel] * 0.5, np.full(lanes, 40.0)
                adaptive._adjust2(*state.arrays(), channel, active, cfg.taps, means, scales,
                                  in1, in2, predictions)
                adaptive._update2(*state.arrays(), channel, active, values[t, :, channel],
                                  values[t, :, channel] * 0.5, means, scales, in1, in2,
                                  predictions, cfg.long_rate, cfg.rate, cfg.scale_decay,
                                  cfg.ratio_max)
                out.append(np.concatenate([means, scales]))
        results.append(np.array(out))
    assert np.isfinite(results[0]).all() and np.array_equal(results[0], results[1])


def test_a_block_the_network_does_not_pay_for_is_coded_without_it(tiny_audio_model,
                                                                   monkeypatch):
    """Format 14: the encoder codes a block by the classical stages alone (method STAGES)
    where the network does not make it at least NETWORK_MIN_GAIN smaller; that block
    decodes without a single step of the network, and `arzip info` names it."""
    from arzip.codecs.audio import codec as audio_codec
    from arzip.codecs.audio import exact_model

    data = audio_file(signal("speechy", 40000, 2), 16000)  # 20 lanes: the probe runs
    monkeypatch.setattr(audio_codec, "NETWORK_MIN_GAIN", 1.0)  # the network never pays
    packed, stats = compress(data, tiny_audio_model)
    assert stats.methods.get("stages") == 1 and not stats.methods.get("model")
    src = io.BytesIO(packed)
    version, methods = container.read_header(src).version, []
    while isinstance(record := container.read_record(src, version), container.Block):
        methods.append(record.method)
    assert container.Method.STAGES in methods and container.Method.MODEL not in methods

    def no_network(*args):
        raise AssertionError("the network ran")

    monkeypatch.setattr(exact_model.ExactWaveNet, "step", no_network)
    monkeypatch.setattr(audio_codec, "_step", no_network)  # (the compiled loop's: unused)
    for lanes in (audio_codec.KERNEL_LANES, 0):  # the compiled loop, the Python one
        monkeypatch.setattr(audio_codec, "KERNEL_LANES", lanes)
        assert decompress(packed, tiny_audio_model) == data
    monkeypatch.setattr(audio_codec, "NETWORK_MIN_GAIN", -1.0)  # the network always kept
    packed, stats = compress(data, tiny_audio_model)
    assert stats.methods.get("model") == 1 and not stats.methods.get("stages")


def test_long_files_get_longer_lanes(tiny_audio_model):
    """Short files keep lanes of CHUNK frames (decoding speed); a file long enough for
    MIN_LANES lanes of twice that gets them (fewer cold starts), up to WIDE_CHUNK, and
    MAX_CHUNK only with MIN_WIDE_LANES lanes; recorded in its header."""
    assert lane_chunk(3000) == lane_chunk(MIN_LANES * 2 * CHUNK - 1) == CHUNK
    assert lane_chunk(MIN_LANES * 2 * CHUNK) == 2 * CHUNK
    assert lane_chunk(MIN_LANES * WIDE_CHUNK) == WIDE_CHUNK
    assert lane_chunk(MIN_WIDE_LANES * 2 * WIDE_CHUNK - 1) == WIDE_CHUNK
    assert lane_chunk(MIN_WIDE_LANES * 2 * WIDE_CHUNK) == 2 * WIDE_CHUNK
    assert lane_chunk(1 << 40) == MAX_CHUNK == 2 * WIDE_CHUNK
    data = audio_file(signal("speechy", MIN_LANES * 2 * CHUNK, 1), 16000)
    packed, _ = compress(data, tiny_audio_model)
    assert container.read_header(io.BytesIO(packed)).coder["chunk"] == 2 * CHUNK
    assert decompress(packed, tiny_audio_model) == data


def test_coded_bits_are_close_to_the_ideal_bits(tiny_audio_model):
    data = audio_file(signal("speechy", 20000, 1), 16000)
    packed, stats = compress(data, tiny_audio_model)
    # the ideal is of the exact frequencies; the coder quantises them to 2^-24
    assert abs(stats.model_coded_bits - stats.model_bits) <= 0.005 * stats.model_bits + 64


KINDS = ["silence", "square", "noise", "clipped", "dc", "speechy"]


def model_blocks(stats) -> int:
    """Blocks the model coded: with its network (model) or its stages alone (stages)."""
    return stats.methods.get("model", 0) + stats.methods.get("stages", 0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("channels,rate,frames", [(1, 8000, 999), (2, 44100, 1001)])
def test_wav_round_trip_is_byte_exact(tiny_audio_model, kind, channels, rate, frames):
    data = audio_file(signal(kind, frames, channels), rate)
    packed, stats = compress(data, tiny_audio_model)
    assert stats.codec == "audio" and model_blocks(stats) == 1
    assert decompress(packed, tiny_audio_model) == data


@pytest.mark.parametrize("frames,channels",
                         [(0, 1), (1, 1), (1, 2), (2, 3), (3, 1), (3, 2), (33, 6)])
def test_tiny_and_multichannel_files(tiny_audio_model, frames, channels):
    """Also lanes shorter than a dilation but longer than half of it (3 frames: the tiny
    model's last layer looks 4 frames back; the shipped model's 256)."""
    data = audio_file(signal("speechy", frames, channels), 16000)
    packed, stats = compress(data, tiny_audio_model)
    assert stats.codec == "audio" and decompress(packed, tiny_audio_model) == data


def riff(chunks: list[tuple[bytes, bytes]], trailing: bytes = b"") -> bytes:
    body = b"".join(cid + struct.pack("<I", len(p)) + p + b"\0" * (len(p) & 1)
                    for cid, p in chunks)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body + trailing


def test_wav_unknown_chunks_and_extensible_format_are_kept(tiny_audio_model):
    samples = signal("speechy", 301, 2)
    fmt = struct.pack("<HHIIHHHHI", 0xFFFE, 2, 16000, 64000, 4, 16, 22, 16, 3) + \
        struct.pack("<H", 1) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    data = riff([(b"fmt ", fmt), (b"LIST", b"INFOISFT\x05\x00\x00\x00arzip\x00"),
                 (b"junk", b"odd"), (b"data", samples.astype("<i2").tobytes()),
                 (b"cue ", b"\x01\x02\x03")], trailing=b"trailing bytes")
    found = formats.analyze(data)
    assert found is not None and found.samples.tolist() == samples.tolist()
    packed, stats = compress(data, tiny_audio_model)
    assert stats.codec == "audio" and decompress(packed, tiny_audio_model) == data


def test_a_canonical_wav_header_is_not_stored(tiny_audio_model):
    data = audio_file(signal("speechy", 100, 2), 8000)
    found = formats.analyze(data)
    assert found.side == b"" and found.info["layout"] == "canonical"
    assert formats.rebuild(found.info, found.side, found.samples) == data
    odd = data[:4] + (int.from_bytes(data[4:8], "little") + 1).to_bytes(4, "little") + data[8:]
    assert formats.analyze(odd).side == odd[:44]  # any other header is kept as it is


def test_aiff_round_trip_is_byte_exact(tiny_audio_model):
    data = audio_file(signal("speechy", 1234, 2), 22050, "AIFF")
    found = formats.analyze(data)
    assert found is not None and found.info["rate"] == 22050 and found.info["byteorder"] == "big"
    packed, _ = compress(data, tiny_audio_model)
    assert decompress(packed, tiny_audio_model) == data


def test_flac_is_sample_exact_with_its_metadata(tiny_audio_model):
    samples = signal("speechy", 5000, 2)
    out = io.BytesIO()
    with sf.SoundFile(out, "w", 16000, 2, "PCM_16", format="FLAC") as f:
        f.title, f.artist = "A test", "arzip"
        f.write(samples)
    data = out.getvalue()
    packed, stats = compress(data, tiny_audio_model)
    assert stats.codec == "audio"
    back = decompress(packed, tiny_audio_model)
    assert back[:4] == b"fLaC"
    with sf.SoundFile(io.BytesIO(back)) as f:
        assert (f.title, f.artist, f.samplerate) == ("A test", "arzip", 16000)
        assert f.read(dtype="int16").tolist() == samples.tolist()


def samples24(frames: int, channels: int) -> np.ndarray:
    """24-bit test samples (int32), reaching both ends of the range."""
    t = np.arange(frames)[:, None] + 5 * np.arange(channels)[None]
    x = 3e6 * np.sin(t / 11.0) + np.random.default_rng(2).normal(0, 3000, (frames, channels))
    x[:2] = [[-(1 << 23)] * channels, [(1 << 23) - 1] * channels]
    return np.round(x).astype(np.int32)


@pytest.mark.parametrize("fmt", ["WAV", "AIFF", "FLAC"])
@pytest.mark.parametrize("fallback", [False, True])
def test_24_bit_files_are_stored_as_flac_blocks(tiny_audio_model, fmt, fallback, monkeypatch):
    samples = samples24(7001, 2)
    data = audio_file(samples << 8, 48000, fmt, subtype="PCM_24")
    found = formats.analyze(data)
    assert found.info["bits"] == 24 and found.samples.tolist() == samples.tolist()
    load = engine.load_codec

    def blocks_of_3000(*args, **kwargs):
        codec = load(*args, **kwargs)
        codec.block_frames = 3000
        return codec

    monkeypatch.setattr(engine, "load_codec", blocks_of_3000)
    packed, stats = compress(data, tiny_audio_model, fallback=fallback)
    monkeypatch.undo()
    back = decompress(packed, tiny_audio_model)
    if stats.codec == "bytes":  # a FLAC input is about as small as its FLAC blocks
        assert fmt == "FLAC" and fallback and back == data
        return
    assert stats.codec == "audio" and stats.methods["flac"] == 3 and model_blocks(stats) == 0
    if fmt == "FLAC":  # sample-exact
        with sf.SoundFile(io.BytesIO(back)) as f:
            assert f.subtype == "PCM_24" and (f.read(dtype="int32") >> 8).tolist() == \
                samples.tolist()
    else:
        assert back == data
    assert formats.unpack(formats.pack(samples, 24), 2, 24).tolist() == samples.tolist()


def test_a_model_block_in_a_24_bit_file_is_refused(tiny_audio_model):
    data = audio_file(samples24(500, 1) << 8, 8000, subtype="PCM_24")
    packed, _ = compress(data, tiny_audio_model)
    at, record = flac_block_of(packed)
    bad = packed[:at] + container.pack_block(container.Block(
        container.Method.MODEL, record.raw_len, 1, record.raw_crc, record.payload)) + \
        packed[at + len(container.pack_block(record)):]
    with pytest.raises(ArzipError, match="24-bit"):
        decompress(bad, tiny_audio_model)


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_32", "FLOAT"])
def test_other_sample_types_are_stored_losslessly(tiny_audio_model, subtype):
    """8-bit, 32-bit and float WAV: the classical methods of the bytes path (documented)."""
    out = io.BytesIO()
    sf.write(out, signal("speechy", 900, 1).astype(np.float64) / 32768, 8000, format="WAV",
             subtype=subtype)
    data = out.getvalue()
    packed, stats = compress(data, tiny_audio_model, fallback=True)
    assert stats.codec == "bytes" and "model" not in stats.methods
    assert decompress(packed) == data


def test_riff_that_is_not_wav_keeps_the_byte_model(tiny_model, tiny_audio_model):
    data = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"not audio at all, " * 20
    packed, stats = compress(data, None, fallback=True)
    assert stats.codec == "bytes" and decompress(packed) == data


def test_larger_than_the_file_falls_back_to_classical(tiny_audio_model):
    data = audio_file(signal("noise", 3000, 1), 8000)
    packed, stats = compress(data, tiny_audio_model, fallback=True)
    assert len(packed) < len(data) + 200 and decompress(packed, tiny_audio_model) == data


def low_bits(frames: int, channels: int) -> np.ndarray:
    """8-bit audio stored as 16-bit (multiples of 256): FLAC's wasted-bits detection codes
    it in about half the bits the model spends."""
    return signal("speechy", frames, channels) // 256 * 256


def test_a_block_flac_codes_smaller_is_stored_as_flac(tiny_audio_model):
    samples = low_bits(6000, 2)
    data = audio_file(samples, 16000)
    packed, stats = compress(data, tiny_audio_model, fallback=True)
    assert stats.codec == "audio" and stats.methods.get("flac") == 1
    assert model_blocks(stats) == 0 and stats.decisions[0].startswith("flac ")
    assert "model " in stats.decisions[0]  # what the model would have taken
    flac = formats.flac_block(samples)
    assert len(packed) <= len(flac) + 300  # the container's framing, not more
    assert decompress(packed, tiny_audio_model) == data
    model_only, _ = compress(data, tiny_audio_model)  # no fallback: the model's blocks
    assert len(model_only) > len(packed) and decompress(model_only, tiny_audio_model) == data


def resonance(frames: int, seed: int = 3) -> np.ndarray:
    """A resonance driven by Laplace noise (frames, 1): the shipped model codes it smaller
    than FLAC."""
    drive, x = np.random.default_rng(seed).laplace(0, 60, frames), np.zeros(frames)
    for i in range(2, frames):
        x[i] = 1.6 * x[i - 1] - 0.8 * x[i - 2] + drive[i]
    return np.round(x).astype(np.int16)[:, None]


def test_model_and_flac_blocks_mix_in_one_file(monkeypatch):
    """The shipped model (a random one loses to FLAC everywhere)."""
    samples = np.concatenate([resonance(3000), low_bits(3000, 1)])
    data = audio_file(samples, 8000)
    load = engine.load_codec

    def blocks_of_3000(*args, **kwargs):  # the header records the block size for decoding
        codec = load(*args, **kwargs)
        codec.block_frames = 3000
        return codec

    monkeypatch.setattr(engine, "load_codec", blocks_of_3000)
    packed, stats = compress(data, None, fallback=True)
    assert model_blocks(stats) == 1 and stats.methods["flac"] == 1
    monkeypatch.undo()
    assert decompress(packed) == data


def flac_block_of(packed: bytes) -> tuple[int, container.Block]:
    """(offset, record) of the first FLAC block of an archive."""
    src = io.BytesIO(packed)
    header = container.read_header(src)
    while True:
        at = src.tell()
        record = container.read_record(src, header.version)
        if isinstance(record, container.Block) and record.method == container.Method.FLAC:
            return at, record


def test_damaged_flac_blocks_fail_cleanly(tiny_audio_model):
    data = audio_file(low_bits(4000, 1), 8000)
    packed, _ = compress(data, tiny_audio_model, fallback=True)
    at, record = flac_block_of(packed)
    end = at + len(container.pack_block(record))
    for payload in (record.payload[:len(record.payload) // 2], b"not flac" * 9,
                    formats.flac_block(low_bits(3999, 1)), formats.flac_block(low_bits(4000, 2)),
                    record.payload[:-40] + bytes(40)):
        # a valid record around a wrong payload: only decoding can tell
        bad = packed[:at] + container.pack_block(container.Block(
            container.Method.FLAC, record.raw_len, 0, record.raw_crc, payload)) + packed[end:]
        with pytest.raises(ArzipError):
            decompress(bad, tiny_audio_model)


def test_a_flac_block_needs_format_6(tiny_audio_model):
    data = audio_file(low_bits(4000, 1), 8000)
    packed, _ = compress(data, tiny_audio_model, fallback=True)
    src = io.BytesIO(packed)
    header = container.read_header(src)
    records = []
    while not isinstance(record := container.read_record(src, header.version), container.End):
        records.append(record)
    header.version = 5  # whose structured files always have a side-data block
    if records[0].method not in (container.Method.STORED, container.Method.ZLIB):
        records.insert(0, container.Block(container.Method.STORED, 0, 0, 0, b""))
    old = (container.pack_header(header)
           + b"".join(container.pack_block(b, 5) for b in records)
           + container.pack_end(record, 5))
    with pytest.raises(ArzipError, match="unexpected block"):
        decompress(old, tiny_audio_model)


def test_corruption_gives_a_clean_error(tiny_audio_model):
    data = audio_file(signal("speechy", 3000, 2), 16000)
    packed, _ = compress(data, tiny_audio_model)
    for pos in (len(packed) // 2, len(packed) - 60):
        bad = bytearray(packed)
        bad[pos] ^= 0x55
        with pytest.raises(ArzipError):
            decompress(bytes(bad), tiny_audio_model)
    with pytest.raises(ArzipError):
        decompress(packed[:len(packed) // 2], tiny_audio_model)


def test_wrong_audio_model_is_refused(tiny_audio_model, tmp_path):
    from conftest import make_tiny_audio_model

    other = make_tiny_audio_model(tmp_path / "other.pt", seed=5)
    packed, _ = compress(audio_file(signal("speechy", 500, 1), 8000), tiny_audio_model)
    with pytest.raises(ArzipError):
        decompress(packed, str(other))


def test_thread_setting_does_not_change_the_payload(tiny_audio_model):
    data = audio_file(signal("speechy", 2000, 2), 44100)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        two, _ = compress(data, tiny_audio_model)
        torch.set_num_threads(1)
        one, _ = compress(data, tiny_audio_model)
    finally:
        torch.set_num_threads(before)
    assert one == two


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "arzip.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})})


def test_cli_round_trip_in_separate_processes(tmp_path):
    """Compress and decompress in two processes with different thread settings (the
    shipped model, on a signal it codes smaller than FLAC)."""
    path = tmp_path / "voice.wav"
    path.write_bytes(audio_file(resonance(4000), 16000))
    done = run_cli("compress", "-q", str(path), env={"OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    packed = tmp_path / "voice.wav.arz"
    info = run_cli("info", str(packed))
    assert "wav, 4000 frames x 1 channels of 16-bit samples at 16000 Hz" in info.stdout
    assert "byte-exact" in info.stdout and "bits/sample" in info.stdout
    assert "'model': 1" in info.stdout or "'stages': 1" in info.stdout
    out = tmp_path / "back.wav"
    done = run_cli("decompress", "-q", "-o", str(out), str(packed),
                   env={"OMP_NUM_THREADS": "2"})
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == path.read_bytes()
    bad = bytearray(packed.read_bytes())
    bad[-60] ^= 0xFF
    (tmp_path / "bad.wav.arz").write_bytes(bytes(bad))
    done = run_cli("decompress", str(tmp_path / "bad.wav.arz"))
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bad.wav").exists()


def test_codec_rejects_a_corrupted_audio_shape():
    from arzip.codecs.audio.codec import audio_shape

    for info in ({}, {"frames": -1, "channels": 1, "rate": 8000},
                 {"frames": 10, "channels": 0, "rate": 8000},
                 {"frames": 10, "channels": 99, "rate": 8000}):
        with pytest.raises(ArzipError):
            audio_shape(info)
    assert isinstance(AudioCodec.known_format(b"RIFF\0\0\0\0WAVE"), bool)


@pytest.mark.parametrize("frames", [0, 1, 700])
def test_a_file_without_side_data_has_no_side_record(tiny_audio_model, frames):
    """Format 11: a canonical WAV's side data is empty and gets no record: the archive is
    the header, the model blocks (none for an empty file) and the trailer."""
    data = audio_file(low_bits(frames, 1) if frames else np.zeros((0, 1), np.int16), 8000)
    packed, stats = compress(data, tiny_audio_model)
    src = io.BytesIO(packed)
    header = container.read_header(src)
    records = []
    while not isinstance(record := container.read_record(src, header.version),
                         container.End):
        records.append(record)
    assert stats.codec == "audio" and "side" not in stats.methods
    assert len(records) == (1 if frames else 0) and all(
        r.method in (container.Method.MODEL, container.Method.STAGES) for r in records)
    assert decompress(packed, tiny_audio_model) == data


@pytest.mark.parametrize("channels,frames", [(1, 3000), (2, 5000), (3, 2500)])
def test_few_lanes_decode_in_one_compiled_loop(tiny_audio_model, monkeypatch, channels,
                                               frames):
    """A block of at most KERNEL_LANES lanes decodes in `_decode_steps` (every step in one
    compiled loop), lanes of unequal length and a third channel included; the Python loop
    decodes the same payload to the same samples."""
    from arzip.codecs.audio import codec as audio_codec

    data = audio_file(signal("speechy", frames, channels), 8000)
    packed, stats = compress(data, tiny_audio_model)
    assert model_blocks(stats) == 1
    calls = []
    run = audio_codec._decode_fused
    monkeypatch.setattr(audio_codec, "_decode_fused",
                        lambda *args: (calls.append(1), run(*args))[1])
    assert decompress(packed, tiny_audio_model) == data and calls
    monkeypatch.setattr(audio_codec, "KERNEL_LANES", 0)  # the step-by-step Python loop
    calls.clear()
    assert decompress(packed, tiny_audio_model) == data and not calls
