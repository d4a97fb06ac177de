"""The shared training loop: progress, checkpoints, exact resume, export."""

from __future__ import annotations

from pathlib import Path

import torch
from click.testing import CliRunner

from arzip import zoo
from arzip.cli import main
from arzip.codecs.text.training import train_text_model
from arzip.train import TrainConfig

TINY = {"n_layer": 1, "n_head": 2, "d_model": 32, "d_ff": 64, "context": 16}


def make_corpus(root: Path) -> Path:
    (root / "prose").mkdir(parents=True)
    (root / "prose" / "a.txt").write_bytes(b"the cat sat on the mat. " * 200)
    (root / "prose" / "b.txt").write_bytes(bytes(range(256)) * 8)
    return root


def run(tmp_path: Path, ckpt: str, **cfg) -> dict:
    config = TrainConfig(**{"steps": 8, "warmup": 2, "eval_every": 4, "checkpoint_every": 2,
                            "threads": 1, **cfg})
    return train_text_model(make_corpus(tmp_path / "data") if not (tmp_path / "data").exists()
                            else tmp_path / "data", tmp_path / "data", tmp_path / ckpt,
                            config, TINY)


def test_training_reduces_loss_and_resumes_exactly(tmp_path):
    straight = run(tmp_path, "a.pt")
    assert straight["step"] == 8 and len(straight["history"]) == 2
    assert straight["history"][-1]["dev_bits"] < 8.0
    first = run(tmp_path, "b.pt", stop_at=4)
    assert first["step"] == 4
    resumed = run(tmp_path, "b.pt")
    assert resumed["step"] == 8
    for name, value in straight["model"].items():
        assert torch.equal(value, resumed["model"][name]), name


def test_cli_train_exports_a_loadable_model(tmp_path):
    data = make_corpus(tmp_path / "corpus")
    out = tmp_path / "model.pt"
    result = CliRunner().invoke(main, [
        "train", "text", "--data", str(data), "--steps", "3",
        "--checkpoint", str(tmp_path / "ckpt.pt"), "--export", str(out), "--name", "mine@1"])
    assert result.exit_code == 0, result.output
    info = zoo.find_model(str(out))
    assert info.name == "mine@1" and zoo.load_weights(info)["codec"] == "bytes"


def test_audio_training_runs_resumes_and_exports(tmp_path):
    import numpy as np
    import soundfile as sf

    from arzip.codecs.audio.training import train_audio_model

    rng = np.random.default_rng(0)
    for name, rate, channels in (("speech", 8000, 1), ("music", 44100, 2)):
        (tmp_path / "audio" / name).mkdir(parents=True)
        t = np.arange(6000)[:, None] + np.arange(channels)[None]
        x = 3000 * np.sin(t / 7.0) + rng.normal(0, 50, t.shape)
        sf.write(tmp_path / "audio" / name / "a.flac", np.round(x).astype(np.int16), rate)
    tiny = {"channels": 8, "layers": 3, "head": 8, "taps": 4}
    config = TrainConfig(steps=4, warmup=1, eval_every=2, checkpoint_every=1, threads=1)
    first = train_audio_model(tmp_path / "audio", tmp_path / "audio", tmp_path / "a.pt",
                              TrainConfig(**{**config.__dict__, "stop_at": 2}), tiny)
    assert first["step"] == 2
    state = train_audio_model(tmp_path / "audio", tmp_path / "audio", tmp_path / "a.pt",
                              config, tiny)
    assert state["step"] == 4 and len(state["history"]) == 2
    assert all(np.isfinite(h["dev_bits"]) for h in state["history"])
    digest = zoo.export_model(tmp_path / "audio.pt", "mine-audio@1", "audio",
                              state["model_config"], state["model"])
    assert len(digest) == 64 and zoo.load_weights(zoo.find_model(str(tmp_path / "audio.pt")))


def test_training_starts_from_an_exported_model(tmp_path):
    """--init: a new run starts from an exported model's weights (resuming the shipped
    model across sessions); a config that differs is refused."""
    import pytest

    trained = run(tmp_path, "a.pt")
    digest_path = tmp_path / "start.pt"
    zoo.export_model(digest_path, "start@1", "bytes", trained["model_config"], trained["model"])
    warm = run(tmp_path, "b.pt", init=str(digest_path), steps=1, lr=1e-9, warmup=1)
    for name, value in trained["model"].items():
        assert torch.allclose(value, warm["model"][name], atol=1e-6), name
    zoo.export_model(digest_path, "start@1", "bytes", dict(trained["model_config"], d_ff=32),
                     trained["model"])
    with pytest.raises(ValueError, match="model config differs"):
        run(tmp_path, "c.pt", init=str(digest_path))
