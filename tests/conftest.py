"""Shared fixtures: a tiny randomly initialised byte model (fast, for coder/format logic)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from arzip import zoo
from arzip.codecs.audio.model import AudioModelConfig, WaveNet
from arzip.codecs.audio.training import calibration as audio_calibration
from arzip.codecs.image.model import ImageModelConfig, PixelCNN
from arzip.codecs.image.training import calibration as image_calibration
from arzip.codecs.text.exact_model import calibrate as text_calibrate
from arzip.codecs.text.model import ByteTransformer, TextModelConfig

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TINY_CONFIG = TextModelConfig(n_layer=1, n_head=2, d_model=32, d_ff=64, context=16)
TINY_IMAGE_CONFIG = ImageModelConfig(channels=8, layers=2, mixtures=3)
TINY_AUDIO_CONFIG = AudioModelConfig(channels=8, layers=3, head=8, taps=4)


def make_tiny_model(path: Path, seed: int = 0, name: str = "tiny-test@1") -> Path:
    torch.manual_seed(seed)
    model = ByteTransformer(TINY_CONFIG)
    quant = text_calibrate(model, torch.randint(0, 256, (8, TINY_CONFIG.context)))
    zoo.export_model(path, name, "bytes", TINY_CONFIG.to_dict(), model.state_dict(), quant)
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    """Path of an exported tiny random model (pass it as --model / model_spec)."""
    return str(make_tiny_model(tmp_path_factory.mktemp("models") / "tiny.pt"))


@pytest.fixture(scope="session")
def other_tiny_model(tmp_path_factory) -> str:
    """A second tiny model with different weights (the 'wrong model' case)."""
    return str(make_tiny_model(tmp_path_factory.mktemp("models2") / "tiny.pt", seed=1))


@pytest.fixture(scope="session")
def tiny_image_model(tmp_path_factory) -> str:
    """Path of an exported tiny random image model."""
    torch.manual_seed(0)
    model = PixelCNN(TINY_IMAGE_CONFIG)
    path = tmp_path_factory.mktemp("image_models") / "tiny-image.pt"
    zoo.export_model(path, "tiny-image@1", "image", TINY_IMAGE_CONFIG.to_dict(),
                     model.state_dict(), image_calibration(model, None))
    return str(path)


def make_tiny_audio_model(path: Path, seed: int = 0) -> Path:
    """A tiny random WaveNet whose head depends on the signal (its output layer is not
    left at the zero initialisation)."""
    torch.manual_seed(seed)
    model = WaveNet(TINY_AUDIO_CONFIG)
    with torch.no_grad():
        model.out.weight.normal_(0.0, 0.02)
    zoo.export_model(path, f"tiny-audio-{seed}@1", "audio", TINY_AUDIO_CONFIG.to_dict(),
                     model.state_dict(), audio_calibration(model, None))
    return path


@pytest.fixture(scope="session")
def tiny_audio_model(tmp_path_factory) -> str:
    """Path of an exported tiny random audio model."""
    return str(make_tiny_audio_model(tmp_path_factory.mktemp("audio_models") / "tiny.pt"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED
