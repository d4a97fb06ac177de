"""Per-file adaptation of the audio model's distributions (numpy float64 only).

The network is trained once; a file has its own spectrum, stereo image and noise level.
A cascade stage learns them while coding, as the adaptive filters of classical lossless
audio coders do: per lane and channel, a sign-error NLMS filter over the network's last
`taps` prediction errors of both channels (and, for channel 1, channel 0's current
error) corrects the mean, and a running mean of |error| / scale corrects the scale.
Encoder and decoder run it identically (same lanes, same order, elementwise operations
and fixed-shape sums), after each coded sample.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

SCALE_MIN = 0.05


@dataclass
class AdaptiveConfig:
    """Settings of the cascade stage (recorded in the .arz header)."""

    taps: int = 8  # chosen on training clips (bench: 8/16/32 taps, steps 0.001-0.008)
    rate: float = 0.004  # NLMS step
    scale_decay: float = 0.98
    ratio_max: float = 50.0  # a single outlier moves the scale factor at most this much
    shared: bool = False  # one filter per channel for all lanes of a block (mean update)

    def to_dict(self) -> dict:
        return asdict(self)


class Cascade:
    """Adaptive corrections for `lanes` lanes of 2 channels."""

    def __init__(self, cfg: AdaptiveConfig, lanes: int) -> None:
        self.cfg = cfg
        self.errors = np.zeros((lanes, 2, cfg.taps))  # network errors, newest first
        self.weights = np.zeros((1 if cfg.shared else lanes, 2, 2 * cfg.taps + 1))
        self.ratio = np.ones((lanes, 2))
        self.current = np.zeros(lanes)  # channel 0's network error at this frame
        self._inputs: np.ndarray | None = None

    def adjust(self, channel: int, means: np.ndarray, scales: np.ndarray, lanes: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        """Corrected (means, scales) of `channel` for the given lanes."""
        own, other = self.errors[lanes, channel], self.errors[lanes, 1 - channel]
        current = self.current[lanes, None] if channel else np.zeros((len(lanes), 1))
        self._inputs = np.concatenate([own, other, current], axis=1)
        weights = self.weights[0, channel] if self.cfg.shared else self.weights[lanes, channel]
        correction = (weights * self._inputs).sum(axis=1)
        return means + correction, np.maximum(scales * self.ratio[lanes, channel], SCALE_MIN)

    def update(self, channel: int, values: np.ndarray, net_means: np.ndarray,
               means: np.ndarray, scales: np.ndarray, lanes: np.ndarray) -> None:
        """Learn from the coded `values` of `channel` (`means`, `scales`: what `adjust`
        returned; `net_means`: the network's)."""
        cfg, inputs = self.cfg, self._inputs
        error = values - means
        norm = 1e-3 + np.sqrt((inputs * inputs).sum(axis=1) / inputs.shape[1])
        step = (cfg.rate * np.sign(error) / norm)[:, None] * inputs
        if cfg.shared:
            self.weights[0, channel] += step.mean(axis=0)
        else:
            self.weights[lanes, channel] += step
        ratio = np.minimum(np.abs(error) / scales, cfg.ratio_max)
        self.ratio[lanes, channel] = (cfg.scale_decay * self.ratio[lanes, channel]
                                      + (1.0 - cfg.scale_decay) * ratio)
        net_error = values - net_means
        if channel == 0:
            self.current[lanes] = net_error
        history = self.errors[lanes, channel]
        self.errors[lanes, channel] = np.concatenate([net_error[:, None], history[:, :-1]], 1)
