"""Training data and objective of the image model (used by `arzip train image`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from .model import ImageModelConfig, PixelCNN, dmol_bits

DEFAULT_MODEL_CONFIG = {"channels": 64, "layers": 6, "mixtures": 5}
CROP = 64  # training crops (pixels per side)
BATCH_SIZE = 12
TILE = 32  # images smaller than CROP (the 32x32 thumbnails) are trained as whole tiles
SCHEDULE = {"lr": 2e-3, "min_lr": 5e-5, "warmup": 100}  # TrainConfig fields for this model
IMAGE_SUFFIXES = {".png", ".ppm", ".pgm", ".bmp", ".tif", ".tiff"}


def load_rgb(path: Path) -> np.ndarray:
    """An image file as an (H, W, 3) uint8 array."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def to_unit(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 (B, H, W, 3) -> float (B, 3, H, W) in [-1, 1]."""
    return pixels.permute(0, 3, 1, 2).float() / 127.5 - 1.0


class ImageCorpus:
    """All images below a folder, sampled as random crops (small images padded by reflection)."""

    def __init__(self, root: Path) -> None:
        paths = sorted(p for p in Path(root).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise ValueError(f"no training images below {root}")
        images = [load_rgb(p) for p in paths]
        self.large = [im for im in images if min(im.shape[:2]) >= CROP]
        self.small = [im for im in images if min(im.shape[:2]) < CROP]
        area = [sum(im.shape[0] * im.shape[1] for im in group)
                for group in (self.large, self.small)]
        self.small_share = area[1] / sum(area)  # every pixel equally likely to be trained on

    def batch(self, rng: np.random.Generator) -> torch.Tensor:
        """A training batch: CROP crops of the large images or TILE crops of the small ones."""
        if self.small and rng.random() < self.small_share:
            return self.sample(rng, self.small, BATCH_SIZE * (CROP // TILE) ** 2, TILE)
        return self.sample(rng, self.large, BATCH_SIZE, CROP)

    @staticmethod
    def sample(rng: np.random.Generator, images: list[np.ndarray], batch: int,
               crop: int) -> torch.Tensor:
        """(batch, crop, crop, 3) uint8 crops, randomly flipped left-right."""
        out = np.zeros((batch, crop, crop, 3), dtype=np.uint8)
        areas = np.array([im.shape[0] * im.shape[1] for im in images], dtype=np.float64)
        for row, idx in enumerate(rng.choice(len(images), size=batch, p=areas / areas.sum())):
            im = images[idx]
            h, w = im.shape[:2]
            if h < crop or w < crop:
                im = np.pad(im, ((0, max(0, crop - h)), (0, max(0, crop - w)), (0, 0)),
                            mode="reflect" if min(h, w) > 1 else "edge")
                h, w = im.shape[:2]
            y, x = int(rng.integers(0, h - crop + 1)), int(rng.integers(0, w - crop + 1))
            patch = im[y:y + crop, x:x + crop]
            out[row] = patch[:, ::-1] if rng.random() < 0.5 else patch
        return torch.from_numpy(out)


def pixel_loss(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Mean bits per subpixel of a batch of uint8 crops."""
    (pixels,) = batch
    x = to_unit(pixels)
    return dmol_bits(model(x), x, model.cfg.mixtures).mean()


@torch.no_grad()
def image_bits(model: PixelCNN, pixels: np.ndarray, tile: int = 256) -> float:
    """Estimated bits/subpixel of one (H, W, 3) image from the whole-image form, in row bands."""
    x = to_unit(torch.from_numpy(np.ascontiguousarray(pixels))[None])
    total, margin = 0.0, model.cfg.layers + 3
    for top in range(0, x.shape[2], tile):
        lo = max(0, top - margin)  # the rows above give the band its real context
        band = x[:, :, lo:top + tile]
        bits = dmol_bits(model(band), band, model.cfg.mixtures)[:, :, top - lo:]
        total += float(bits.sum())
    return total / pixels.size


def dev_evaluator(root: Path, max_images: int = 6, size: int = 256):
    """Mean estimated bits/subpixel over centre crops of a few dev images (a quick proxy)."""
    paths = sorted(p for p in Path(root).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    step = max(1, len(paths) // max_images)
    crops = []
    for path in paths[::step][:max_images]:
        im = load_rgb(path)
        h, w = im.shape[:2]
        y, x = max(0, (h - size) // 2), max(0, (w - size) // 2)
        crops.append(im[y:y + size, x:x + size])

    def evaluate(model: nn.Module) -> float:
        return float(np.mean([image_bits(model, c) for c in crops]))

    return evaluate


def train_image_model(train_dir: Path, dev_dir: Path | None, checkpoint: Path,
                      train_config, model_config: dict | None = None) -> dict:
    """Train (or resume) the default image model; returns the final checkpoint dict."""
    from arzip.train import train

    cfg = ImageModelConfig(**(model_config or DEFAULT_MODEL_CONFIG))
    torch.manual_seed(train_config.seed)
    model = PixelCNN(cfg)
    corpus = ImageCorpus(train_dir)
    evaluate = dev_evaluator(dev_dir) if dev_dir else (lambda m: float("nan"))
    return train(model, lambda rng: (corpus.batch(rng),),
                 pixel_loss, evaluate, train_config, checkpoint, cfg.to_dict())


CALIBRATION_CROPS = 32


def calibration(model: PixelCNN, data_dir: Path | None, seed: int = 0) -> dict:
    """Activation scales of the exact network, from random crops of the training images
    (random pixels when there are none): stored in the exported model file."""
    from .exact_model import calibrate

    rng = np.random.default_rng(seed)
    if data_dir is not None and Path(data_dir).is_dir():
        corpus = ImageCorpus(Path(data_dir))
        pixels = corpus.sample(rng, corpus.large or corpus.small, CALIBRATION_CROPS, CROP)
    else:
        pixels = torch.from_numpy(rng.integers(0, 256, (CALIBRATION_CROPS, CROP, CROP, 3),
                                               dtype=np.uint8))
    return calibrate(model, to_unit(pixels))


def build_model(config: dict) -> PixelCNN:
    """A model of this codec's architecture for `config` (weights not loaded)."""
    from .model import ImageModelConfig

    return PixelCNN(ImageModelConfig(**config))
