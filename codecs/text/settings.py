"""The bytes codec's coder settings, as a new encoder writes them into the header.

Known without the model and without torch: a file whose blocks are all stored or
classical never loads either (`engine` asks each codec's `settings` module first).
"""

from __future__ import annotations

from dataclasses import asdict

from .mixer import MixerConfig

MIN_LANE_BYTES = 512  # small blocks get fewer lanes; measured: lanes cost the mixer little
MAX_LANES = 512


def coder_settings(mixer: MixerConfig | None = None) -> dict:
    """What a decoder needs besides the model (stored in the .arz header)."""
    return {"type": "range", "model": "categorical", "words": "u32le",
            "min_lane_bytes": MIN_LANE_BYTES, "max_lanes": MAX_LANES,
            "mixer": asdict(mixer or MixerConfig())}
