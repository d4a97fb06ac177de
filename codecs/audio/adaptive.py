"""Per-file adaptation of the audio model's distributions (exact, compiled by numba).

The network is trained once; a file has its own spectrum, stereo image and noise level.
A cascade stage learns them while coding, as the adaptive filters of classical lossless
audio coders do: per lane and channel, a sign-error NLMS filter over the network's last
`taps` prediction errors of both channels (and, for channel 1, channel 0's current
error) corrects the mean, and a running mean of |error| / scale corrects the scale.
Encoder and decoder run the same compiled loops, float64 +, -, *, /, sqrt one at a time in
the order written (numba without fast-math), so every machine computes the same bits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numba import njit

SCALE_MIN = 0.05
MEAN_MIN, MEAN_MAX = -40000.0, 40000.0


@dataclass
class AdaptiveConfig:
    """Settings of the cascade stage (recorded in the .arz header)."""

    taps: int = 8  # chosen on training clips (bench: 8/16/32 taps, steps 0.001-0.008)
    rate: float = 0.004  # NLMS step
    scale_decay: float = 0.98
    ratio_max: float = 50.0  # a single outlier moves the scale factor at most this much
    shared: bool = False  # one filter per channel for all lanes (not supported: False)

    def to_dict(self) -> dict:
        return asdict(self)


@njit(cache=True, nogil=True)
def _adjust(errors: np.ndarray, weights: np.ndarray, ratio: np.ndarray, current: np.ndarray,
            channel: int, lanes: np.ndarray, means: np.ndarray, scales: np.ndarray,
            inputs: np.ndarray) -> None:
    taps = errors.shape[2]
    for n in range(lanes.shape[0]):
        lane = lanes[n]
        for k in range(taps):
            inputs[n, k] = errors[lane, channel, k]
            inputs[n, taps + k] = errors[lane, 1 - channel, k]
        inputs[n, 2 * taps] = current[lane] if channel == 1 else 0.0
        correction = 0.0
        for k in range(2 * taps + 1):
            correction += weights[lane, channel, k] * inputs[n, k]
        m = means[n] + correction
        means[n] = MEAN_MIN if m < MEAN_MIN else (MEAN_MAX if m > MEAN_MAX else m)
        s = scales[n] * ratio[lane, channel]
        scales[n] = s if s > SCALE_MIN else SCALE_MIN


@njit(cache=True, nogil=True)
def _update(errors: np.ndarray, weights: np.ndarray, ratio: np.ndarray, current: np.ndarray,
            channel: int, lanes: np.ndarray, values: np.ndarray, net_means: np.ndarray,
            means: np.ndarray, scales: np.ndarray, inputs: np.ndarray, rate: float,
            decay: float, ratio_max: float) -> None:
    taps = errors.shape[2]
    width = 2 * taps + 1
    for n in range(lanes.shape[0]):
        lane = lanes[n]
        error = values[n] - means[n]
        energy = 0.0
        for k in range(width):
            energy += inputs[n, k] * inputs[n, k]
        norm = 1e-3 + np.sqrt(energy / width)
        sign = 1.0 if error > 0 else (-1.0 if error < 0 else 0.0)
        step = rate * sign / norm
        for k in range(width):
            weights[lane, channel, k] += step * inputs[n, k]
        r = abs(error) / scales[n]
        if r > ratio_max:
            r = ratio_max
        ratio[lane, channel] = decay * ratio[lane, channel] + (1.0 - decay) * r
        net_error = values[n] - net_means[n]
        if channel == 0:
            current[lane] = net_error
        for k in range(taps - 1, 0, -1):
            errors[lane, channel, k] = errors[lane, channel, k - 1]
        errors[lane, channel, 0] = net_error


class Cascade:
    """Adaptive corrections for `lanes` lanes of 2 channels."""

    def __init__(self, cfg: AdaptiveConfig, lanes: int) -> None:
        if cfg.shared:
            raise ValueError("a shared adaptive filter is not supported")
        self.cfg = cfg
        self.errors = np.zeros((lanes, 2, cfg.taps))  # network errors, newest first
        self.weights = np.zeros((lanes, 2, 2 * cfg.taps + 1))
        self.ratio = np.ones((lanes, 2))
        self.current = np.zeros(lanes)  # channel 0's network error at this frame
        self._inputs = np.zeros((0, 2 * cfg.taps + 1))

    def adjust(self, channel: int, means: np.ndarray, scales: np.ndarray, lanes: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        """Corrected (means, scales) of `channel` for the given lanes (means clipped to
        ±40000)."""
        means, scales = means.astype(np.float64), scales.astype(np.float64)
        self._inputs = np.empty((len(lanes), 2 * self.cfg.taps + 1))
        _adjust(self.errors, self.weights, self.ratio, self.current, channel,
                lanes.astype(np.int64), means, scales, self._inputs)
        return means, scales

    def update(self, channel: int, values: np.ndarray, net_means: np.ndarray,
               means: np.ndarray, scales: np.ndarray, lanes: np.ndarray) -> None:
        """Learn from the coded `values` of `channel` (`means`, `scales`: what `adjust`
        returned; `net_means`: the network's)."""
        cfg = self.cfg
        _update(self.errors, self.weights, self.ratio, self.current, channel,
                lanes.astype(np.int64), values.astype(np.float64), net_means, means, scales,
                self._inputs, cfg.rate, cfg.scale_decay, cfg.ratio_max)


@njit(cache=True, nogil=True)
def _run_all(errors: np.ndarray, weights: np.ndarray, ratio: np.ndarray, current: np.ndarray,
             length: np.ndarray, stereo: np.ndarray, values: np.ndarray, net_means: np.ndarray,
             net_scales: np.ndarray, rate: float, decay: float, ratio_max: float,
             means: np.ndarray, scales: np.ndarray) -> None:
    """`Cascade.adjust` and `update` for every step and channel of known samples, in the
    decoder's order: per step, channel 0 of the running lanes, then channel 1 of the
    running stereo lanes. values, net_* and the outputs are (lanes, steps, 2)."""
    lanes, steps = values.shape[0], values.shape[1]
    width = 2 * errors.shape[2] + 1
    for t in range(steps):
        for channel in range(2):
            count = 0
            for lane in range(lanes):
                if length[lane] > t and (channel == 0 or stereo[lane]):
                    count += 1
            active = np.empty(count, dtype=np.int64)
            count = 0
            for lane in range(lanes):
                if length[lane] > t and (channel == 0 or stereo[lane]):
                    active[count] = lane
                    count += 1
            m = np.empty(count)
            s = np.empty(count)
            v = np.empty(count)
            nm = np.empty(count)
            for n in range(count):
                m[n] = net_means[active[n], t, channel]
                s[n] = net_scales[active[n], t, channel]
                v[n] = values[active[n], t, channel]
                nm[n] = m[n]
            inputs = np.empty((count, width))
            _adjust(errors, weights, ratio, current, channel, active, m, s, inputs)
            _update(errors, weights, ratio, current, channel, active, v, nm, m, s, inputs,
                    rate, decay, ratio_max)
            for n in range(count):
                means[active[n], t, channel] = m[n]
                scales[active[n], t, channel] = s[n]


def run_all(cfg: AdaptiveConfig, length: np.ndarray, stereo: np.ndarray, values: np.ndarray,
            net_means: np.ndarray, net_scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The corrected (means, scales) (lanes, steps, 2) of every known sample, computed as
    a `Cascade` would while coding them step by step."""
    state = Cascade(cfg, len(length))
    means, scales = np.zeros(values.shape), np.ones(values.shape)
    _run_all(state.errors, state.weights, state.ratio, state.current, length.astype(np.int64),
             stereo.astype(np.bool_), values.astype(np.float64), net_means, net_scales,
             cfg.rate, cfg.scale_decay, cfg.ratio_max, means, scales)
    return means, scales
