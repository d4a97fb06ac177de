"""Training data and objective of the byte model (used by `arzip train text`)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .model import ByteTransformer

# Relative sampling weight of each training set (by folder name); unknown folders get 1.0.
# English prose and code are weighted up because they are what users mostly compress.
SET_WEIGHTS = {
    "canterbury_large": 2.0,
    "gutenberg_and_pd_multilingual": 2.0,
    "tinyshakespeare": 1.0,
    "common_licenses": 0.5,
    "code_python_stdlib": 1.5,
    "code_c_headers": 1.0,
    "dcc_multilingual": 0.5,
}
BOS = 0  # every lane starts by feeding this byte


class ByteCorpus:
    """All files below a folder as byte arrays, sampled as random windows."""

    def __init__(self, root: Path, weights: dict[str, float] | None = None) -> None:
        weights = SET_WEIGHTS if weights is None else weights
        self.files, probs = [], []
        for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
            data = np.frombuffer(path.read_bytes(), dtype=np.uint8)
            if len(data) < 2:
                continue
            top = path.relative_to(root).parts[0]
            self.files.append(data)
            probs.append(len(data) * weights.get(top, 1.0))
        if not self.files:
            raise ValueError(f"no training files below {root}")
        self.probs = np.asarray(probs) / sum(probs)

    def total_bytes(self) -> int:
        return sum(len(f) for f in self.files)

    def sample(self, rng: np.random.Generator, batch: int, length: int) -> torch.Tensor:
        """(batch, length + 1) windows; a quarter start at a lane start (BOS first)."""
        out = np.zeros((batch, length + 1), dtype=np.int64)
        for row, idx in enumerate(rng.choice(len(self.files), size=batch, p=self.probs)):
            data = self.files[idx]
            start = int(rng.integers(0, max(1, len(data) - length)))
            window = data[start:start + length + 1]
            out[row, :len(window)] = window
            if rng.random() < 0.25:
                out[row, 0] = BOS
        return torch.from_numpy(out)


def next_byte_loss(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Mean cross-entropy in bits per byte of predicting window[1:] from window[:-1]."""
    (window,) = batch
    logits = model(window[:, :-1])
    return F.cross_entropy(logits.reshape(-1, 256), window[:, 1:].reshape(-1)) / math.log(2)


@torch.no_grad()
def window_bits(model: ByteTransformer, data: bytes, length: int, max_windows: int = 64) -> float:
    """Bits/byte of `data` cut into consecutive windows (each starting from BOS)."""
    arr = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
    n = min(max_windows, len(arr) // length)
    if n == 0:
        return float("nan")
    x = torch.from_numpy(arr[: n * length].reshape(n, length))
    inp = torch.cat([torch.full((n, 1), BOS), x[:, :-1]], dim=1)
    logits = model(inp)
    return (F.cross_entropy(logits.reshape(-1, 256), x.reshape(-1)) / math.log(2)).item()


def dev_evaluator(root: Path, length: int):
    """Mean window bits/byte over the files below `root` (a quick proxy for coded size)."""
    files = [p.read_bytes() for p in sorted(Path(root).rglob("*")) if p.is_file()]
    files = [f for f in files if len(f) >= length]

    def evaluate(model: nn.Module) -> float:
        return float(np.mean([window_bits(model, f, length) for f in files]))

    return evaluate


DEFAULT_MODEL_CONFIG = {"n_layer": 4, "n_head": 4, "d_model": 128, "d_ff": 384, "context": 128}
BATCH_SIZE = 64


def train_text_model(train_dir: Path, dev_dir: Path | None, checkpoint: Path,
                     train_config, model_config: dict | None = None) -> dict:
    """Train (or resume) the default byte model; returns the final checkpoint dict."""
    from arzip.train import train

    from .model import TextModelConfig

    cfg = TextModelConfig(**(model_config or DEFAULT_MODEL_CONFIG))
    torch.manual_seed(train_config.seed)
    model = ByteTransformer(cfg)
    corpus = ByteCorpus(train_dir)
    evaluate = dev_evaluator(dev_dir, cfg.context) if dev_dir else (lambda m: float("nan"))
    return train(model, lambda rng: (corpus.sample(rng, BATCH_SIZE, cfg.context),),
                 next_byte_loss, evaluate, train_config, checkpoint, cfg.to_dict())


CALIBRATION_WINDOWS = 256


def calibration(model: ByteTransformer, data_dir: Path | None, seed: int = 0) -> dict:
    """Activation scales of the exact network, from random windows of the training data
    (random bytes when there is none): stored in the exported model file."""
    from .exact_model import calibrate

    length = model.cfg.context
    rng = np.random.default_rng(seed)
    if data_dir is not None and Path(data_dir).is_dir():
        tokens = ByteCorpus(Path(data_dir)).sample(rng, CALIBRATION_WINDOWS, length)[:, :-1]
    else:
        tokens = torch.from_numpy(rng.integers(0, 256, (CALIBRATION_WINDOWS, length)))
    return calibrate(model, tokens)


def build_model(config: dict) -> ByteTransformer:
    """A model of this codec's architecture for `config` (weights not loaded)."""
    from .model import TextModelConfig

    return ByteTransformer(TextModelConfig(**config))
