"""Training data and objective of the audio model (used by `arzip train audio`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch import nn

from .lpc import analyse
from .model import AudioModelConfig, WaveNet, rate_code, sequence_bits

DEFAULT_MODEL_CONFIG = {"channels": 64, "layers": 9, "head": 128, "taps": 16}
CROP = 2048  # frames per training sequence; every sequence starts cold, as a coded lane does
BATCH_SIZE = 8
SCHEDULE = {"lr": 2e-3, "min_lr": 5e-5, "warmup": 100}  # TrainConfig fields for this model
AUDIO_SUFFIXES = {".wav", ".flac", ".aif", ".aiff"}


def load_pcm16(path: Path) -> tuple[np.ndarray, int] | None:
    """(frames, channels) int16 samples and the rate of a 16-bit file, else None."""
    info = sf.info(str(path))
    if info.subtype != "PCM_16":
        return None
    samples, rate = sf.read(str(path), dtype="int16", always_2d=True)
    return samples, rate


def as_pairs(samples: np.ndarray) -> list[np.ndarray]:
    """A (frames, channels) signal as mono or stereo streams of (frames, 1 or 2)."""
    return [samples[:, c:c + 2] for c in range(0, samples.shape[1], 2)]


class AudioCorpus:
    """The 16-bit files below a folder, grouped by their top-level set (sets named alike
    up to a '_', such as the music_* sets, are one group); every group is drawn equally
    often, and within a group every frame equally likely."""

    def __init__(self, root: Path) -> None:
        root = Path(root)
        self.sets: dict[str, list[tuple[np.ndarray, int]]] = {}
        for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES):
            loaded = load_pcm16(path)
            if loaded is None or len(loaded[0]) < 2:
                continue
            parts = path.relative_to(root).parts
            group = parts[0].split("_")[0] if len(parts) > 1 else ""
            for stream in as_pairs(loaded[0]):
                self.sets.setdefault(group, []).append((stream, loaded[1]))
        if not self.sets:
            raise ValueError(f"no 16-bit audio below {root}")
        self.weights = {g: np.array([len(s) for s, _ in v], dtype=np.float64)
                        for g, v in self.sets.items()}

    def batch(self, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        """(frames, classical predictions, scales (B, CROP, 2), stereo flags (B,),
        rate codes (B,))."""
        x = np.zeros((BATCH_SIZE, CROP, 2), dtype=np.float32)
        stereo = np.zeros(BATCH_SIZE, dtype=np.float32)
        rate = np.zeros(BATCH_SIZE, dtype=np.float32)
        groups = sorted(self.sets)
        for row in range(BATCH_SIZE):
            group = groups[int(rng.integers(len(groups)))]
            w = self.weights[group]
            stream, sr = self.sets[group][int(rng.choice(len(w), p=w / w.sum()))]
            start = int(rng.integers(0, max(1, len(stream) - CROP + 1)))
            piece = stream[start:start + CROP]
            x[row, :len(piece), :piece.shape[1]] = piece
            if rng.random() < 0.5:  # polarity is arbitrary
                x[row] = np.minimum(-x[row], 32767.0)
            stereo[row] = float(piece.shape[1] == 2)
            rate[row] = rate_code(sr)
        return (torch.from_numpy(x), *classical(x), torch.from_numpy(stereo),
                torch.from_numpy(rate))


def classical(x: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """The classical predictions and scales (B, T, 2) of frames x (B, T, 2)."""
    b, t, _ = x.shape
    rows = x.transpose(0, 2, 1).reshape(2 * b, t).astype(np.float64)
    prediction, scale = analyse(rows)
    shape = lambda a: torch.from_numpy(  # noqa: E731
        a.reshape(b, 2, t).transpose(0, 2, 1).astype(np.float32).copy())
    return shape(prediction), shape(scale)


def sample_loss(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Mean bits per sample of a batch."""
    x, prediction, scale, stereo, rate = batch
    bits = sequence_bits(model, x, prediction, scale, stereo, rate)
    samples = x.shape[1] * (1.0 + stereo).sum()
    return bits.sum() / samples


@torch.no_grad()
def signal_bits(model: WaveNet, samples: np.ndarray, rate: int, chunk: int = 16384) -> float:
    """Estimated bits of a (frames, channels) int16 signal, coded as chunks from cold."""
    total = 0.0
    for stream in as_pairs(samples):
        x = np.zeros((len(stream), 2), dtype=np.float32)
        x[:, :stream.shape[1]] = stream
        stereo = torch.tensor([float(stream.shape[1] == 2)])
        for start in range(0, len(x), chunk):
            piece = x[start:start + chunk][None]
            total += float(sequence_bits(model, torch.from_numpy(piece), *classical(piece), stereo,
                                         torch.tensor([rate_code(rate)])).sum())
    return total


def sample_clips(root: Path, per_set: int, seconds: float
                 ) -> list[tuple[str, np.ndarray, int]]:
    """(set, first `seconds` of samples, rate) of `per_set` evenly spaced 16-bit files of
    each set (folder) below root."""
    clips = []
    for folder in sorted(p for p in Path(root).iterdir() if p.is_dir()):
        paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
        for path in paths[::max(1, len(paths) // per_set)][:per_set]:
            loaded = load_pcm16(path)
            if loaded is not None:
                clips.append((folder.name, loaded[0][:int(seconds * loaded[1])], loaded[1]))
    return clips


def dev_evaluator(root: Path, seconds: float = 4.0, per_set: int = 4):
    """Estimated bits/sample over the first seconds of a few files of each dev set."""
    clips = sample_clips(root, per_set, seconds)

    def evaluate(model: nn.Module) -> float:
        bits = sum(signal_bits(model, s, r) for _, s, r in clips)
        return bits / sum(s.size for _, s, _ in clips)

    return evaluate


def train_audio_model(train_dir: Path, dev_dir: Path | None, checkpoint: Path,
                      train_config, model_config: dict | None = None) -> dict:
    """Train (or resume) the default audio model; returns the final checkpoint dict."""
    from arzip.train import train

    cfg = AudioModelConfig(**(model_config or DEFAULT_MODEL_CONFIG))
    torch.manual_seed(train_config.seed)
    model = WaveNet(cfg)
    corpus = AudioCorpus(train_dir)
    evaluate = dev_evaluator(dev_dir) if dev_dir else (lambda m: float("nan"))
    return train(model, corpus.batch, sample_loss, evaluate, train_config, checkpoint,
                 cfg.to_dict())


def build_model(config: dict) -> WaveNet:
    """A model of this codec's architecture for `config` (weights not loaded)."""
    from .model import AudioModelConfig

    return WaveNet(AudioModelConfig(**config))


CALIBRATION_BATCHES = 4


def calibration(model: WaveNet, data_dir: Path | None, seed: int = 0) -> dict:
    """Activation scales of the exact network, from random crops of the training audio
    (random-walk signals when there is none): stored in the exported model file."""
    from .exact_model import calibrate

    rng = np.random.default_rng(seed)
    if data_dir is not None and Path(data_dir).is_dir():
        corpus = AudioCorpus(Path(data_dir))
        batches = [corpus.batch(rng) for _ in range(CALIBRATION_BATCHES)]
        batch = [torch.cat([b[i] for b in batches]) for i in range(5)]
    else:
        walk = np.cumsum(rng.normal(0, 300, (BATCH_SIZE, CROP, 2)), axis=1)
        x = np.clip(np.round(walk), -32768, 32767).astype(np.float32)
        batch = [torch.from_numpy(x), *classical(x), torch.ones(BATCH_SIZE),
                 torch.zeros(BATCH_SIZE)]
    return calibrate(model.eval(), *batch)
