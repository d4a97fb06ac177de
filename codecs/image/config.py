"""The image model's architecture: its taps, wavefront slope and config (no torch).

What coding needs of the model without the float network (`model.py`): the exact network
(`exact_model`) and the wavefront (`wavefront`) are built from these and the weights.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

SLOPE = 2  # wavefront: pixel (r, c) is computed at step c + SLOPE * r
EMBED_TAPS = [(0, -3), (0, -2), (0, -1),
              (-1, -3), (-1, -2), (-1, -1), (-1, 0), (-1, 1),
              (-2, -3), (-2, -2), (-2, -1), (-2, 0), (-2, 1), (-2, 2), (-2, 3)]
BLOCK_TAPS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 0)]
IN_CHANNELS = 4  # R, G, B in [-1, 1] and a ones channel
LOG_SCALE_MIN = -7.0


@dataclass
class ImageModelConfig:
    """Architecture of the image model."""

    channels: int = 64
    layers: int = 6
    mixtures: int = 5
    linear_skip: bool = True  # means += a linear predictor over the embed's pixel taps

    def to_dict(self) -> dict:
        return asdict(self)
