"""Per-file adaptation of the audio model's distributions (exact, compiled by numba).

The network is trained once; a file has its own spectrum, stereo image and noise level.
Cascade stages learn them while coding, as the adaptive filters of classical lossless
audio coders (Monkey's Audio, OptimFROG) do, per lane and channel:

- cascade 1 (formats 3-5): a sign-error NLMS filter over the network's last `taps`
  prediction errors of both channels (and, for channel 1, channel 0's current error)
  corrects the mean;
- cascade 2 (format 6 on): a long sign-error NLMS filter over the last `long_taps`
  network errors of its own channel, then a short one over the last `taps` errors left
  by the long one and `cross` of the other channel's (for channel 1: channel 0's current
  one first); each learns from its own remaining error. Measured on training clips (lanes
  of 2048 frames): 128 + (16 + 4) taps gave -0.58 % bits on music, -0.33 % on 16 kHz
  speech and -0.26 % on 8 kHz digits against cascade 1;

- cascade 3 (format 14 on): cascade 2, then least-squares stages (`ols`, each [own taps,
  cross taps, forgetting]): each predicts what the mean so far leaves of the sample from
  that mean, the channel's last `own` samples and `cross` of the other channel's (for
  channel 1: channel 0's current one first) with the shared online least-squares solver
  (`arzip.mixing.ols_update`), and adds its prediction scaled by a gate in [0, 1]: the
  running least-squares fit of the remaining error on the stage's own past predictions
  (so a stage that has not yet learned, or predicts worse than nothing, adds nothing).
  Measured on training files (ideal bits of the context mixing): stages [16, 16, 0.998]
  and [8, 2, 0.98] gave -0.56 % on 8 kHz digits, -0.45 % on 16 kHz speech, -0.48 % on
  stereo noise, -0.39 % on mono music (76 files), and -1.1 to -2.1 % on stereo music (14
  files: the other channel's current sample); 4 or 8 cross taps instead of 16: -1.06 /
  -1.24 % on the stereo music; one stage alone about -0.3 % on mono; without the gate
  the stage made short files worse (+1.5 %);

and in all a running mean of |error| / scale corrects the scale. Encoder and decoder run
the same compiled loops (`_adjust2`/`_update2` serve both), float64 +, -, *, /, sqrt one
at a time in the order written (numba without fast-math), so every machine computes the
same bits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from numba import njit

from arzip import jitcache, mixing
from arzip.mixing import ols_predict, ols_update

jitcache.depends(__file__, mixing)  # the least-squares solver is compiled into the kernels

SCALE_MIN = 0.05
MEAN_MIN, MEAN_MAX = -40000.0, 40000.0
# cascade 3's least-squares stages: ridge added to the covariance when solving, samples
# between solves, forgetting of the gate's sums (chosen on training clips)
OLS_RIDGE, OLS_SOLVE_EVERY, OLS_GATE_DECAY = 0.001, 16, 0.98
MAX_OLS_STAGES, MAX_OLS_TAPS = 4, 64


@dataclass
class AdaptiveConfig:
    """Settings of the cascade stage (recorded in the .arz header)."""

    taps: int = 8  # chosen on training clips (bench: 8/16/32 taps, steps 0.001-0.008)
    rate: float = 0.004  # NLMS step
    scale_decay: float = 0.98
    ratio_max: float = 50.0  # a single outlier moves the scale factor at most this much
    shared: bool = False  # one filter per channel for all lanes (not supported: False)
    cascade: int = 1  # 1: the stage of formats 3-5 (these defaults); 2: see the module
    long_taps: int = 0  # cascade 2: the long stage
    long_rate: float = 0.0
    cross: int = 0  # cascade 2: the short stage's taps of the other channel
    ols: list = field(default_factory=list)  # cascade 3: [own, cross, forgetting] a stage

    @classmethod
    def current(cls) -> AdaptiveConfig:
        """What this arzip writes: cascade 3 (chosen on training clips)."""
        return cls(taps=16, rate=0.002, cascade=3, long_taps=128, long_rate=0.0004, cross=4,
                   ols=[[16, 16, 0.998], [8, 2, 0.98]])

    def to_dict(self) -> dict:
        out = asdict(self)
        if not self.ols:  # the headers of cascades 1 and 2 as formats 3-13 wrote them
            del out["ols"]
        return out


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


def check(cfg: AdaptiveConfig) -> AdaptiveConfig:
    """`cfg` if this arzip runs it (settings read from a header), else ValueError."""
    if cfg.shared:
        raise ValueError("a shared adaptive filter is not supported")
    if cfg.cascade not in (1, 2, 3) or not 1 <= cfg.taps <= 256:
        raise ValueError(f"adaptive cascade {cfg.cascade}, taps {cfg.taps}")
    if cfg.cascade >= 2 and not (0 <= cfg.long_taps <= 4096 and 0 <= cfg.cross <= 256):
        raise ValueError(f"adaptive long taps {cfg.long_taps}, cross {cfg.cross}")
    stages = cfg.ols
    if (not isinstance(stages, list) or (cfg.cascade == 3) != bool(stages)
            or len(stages) > MAX_OLS_STAGES or not all(map(_valid_stage, stages))):
        raise ValueError(f"adaptive least-squares stages {stages!r}")
    return cfg


def _valid_stage(stage: object) -> bool:
    """Whether a header's least-squares stage is [own taps, cross taps, forgetting] in
    the bounds this arzip runs."""
    return (isinstance(stage, list) and len(stage) == 3
            and all(type(v) is int and 0 <= v <= MAX_OLS_TAPS for v in stage[:2])
            and isinstance(stage[2], float) and 0.0 < stage[2] <= 1.0)


class Cascade:
    """Adaptive corrections for `lanes` lanes of 2 channels."""

    def __init__(self, cfg: AdaptiveConfig, lanes: int) -> None:
        self.cfg = check(cfg)
        self.ratio = np.ones((lanes, 2))
        self.current = np.zeros(lanes)  # channel 0's error at this frame (for channel 1)
        if cfg.cascade == 1:
            self.errors = np.zeros((lanes, 2, cfg.taps))  # network errors, newest first
            self.weights = np.zeros((lanes, 2, 2 * cfg.taps + 1))
            self._inputs = np.zeros((0, 2 * cfg.taps + 1))
            return
        # cascades 2 and 3: histories as doubled rings (a window is one slice) and
        # weights; the decoder runs `_adjust2`/`_update2` on them from its compiled step
        # (`arrays`)
        self.long_history = np.zeros((lanes, 2, 2 * max(cfg.long_taps, 1)))
        self.long_weights = np.zeros((lanes, 2, cfg.long_taps))
        ring = max(cfg.taps, cfg.cross, 1)
        self.short_history = np.zeros((lanes, 2, 2 * ring))
        self.short_weights = np.zeros((lanes, 2, cfg.taps + cfg.cross))
        self.t = np.zeros((lanes, 2), dtype=np.int64)  # frames each lane's channel has seen
        # cascade 3's least-squares stages (none: cascade 2): per stage, lane and channel
        # the solver's covariance, right-hand side, weights, factor and features
        stages = cfg.ols
        self.ols_taps = np.array([[own, cross] for own, cross, _ in stages],
                                 dtype=np.int64).reshape(-1, 2)
        self.ols_forget = np.array([forget for _, _, forget in stages], dtype=np.float64)
        n = 1 + int(self.ols_taps.sum(1).max()) if stages else 1
        shape = (len(stages), lanes, 2)
        self.ols_cov, self.ols_chol = np.zeros(shape + (n, n)), np.zeros(shape + (n, n))
        self.ols_rhs, self.ols_weights = np.zeros(shape + (n,)), np.zeros(shape + (n,))
        self.ols_x = np.zeros(shape + (2 * n,))  # features, then the solver's scratch
        self.ols_gate = np.zeros(shape + (2,))  # sums of error x prediction, prediction^2
        ring = int(self.ols_taps.max()) if stages else 1
        self.samples = np.zeros((lanes, 2, 2 * max(ring, 1)))  # the coded samples, a ring

    @property
    def width(self) -> int:
        """Columns of `_adjust2`'s `predictions`: the two filters', then each
        least-squares stage's mean before it and its prediction."""
        return 2 + 2 * len(self.cfg.ols)

    def arrays(self) -> tuple:
        """Cascade 2's or 3's state in `_adjust2`'s and `_update2`'s argument order (for
        a decoder that calls them from its own compiled step)."""
        return (self.long_history, self.long_weights, self.short_history, self.short_weights,
                self.ratio, self.current, self.t, self.ols_taps, self.ols_forget,
                self.ols_cov, self.ols_rhs, self.ols_weights, self.ols_chol, self.ols_x,
                self.ols_gate, self.samples)

    def adjust(self, channel: int, means: np.ndarray, scales: np.ndarray, lanes: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        """Cascade 1's corrected (means, scales) of `channel` for the given lanes (means
        clipped to ±40000)."""
        assert self.cfg.cascade == 1, "cascade 2 runs from `arrays()`"
        means, scales = means.astype(np.float64), scales.astype(np.float64)  # copies
        lanes = np.asarray(lanes, dtype=np.int64)
        self._inputs = np.empty((len(lanes), 2 * self.cfg.taps + 1))
        _adjust(self.errors, self.weights, self.ratio, self.current, channel, lanes, means,
                scales, self._inputs)
        return means, scales

    def update(self, channel: int, values: np.ndarray, net_means: np.ndarray,
               means: np.ndarray, scales: np.ndarray, lanes: np.ndarray) -> None:
        """Cascade 1 learns from the coded `values` of `channel` (`means`, `scales`: what
        `adjust` returned; `net_means`: the network's)."""
        cfg = self.cfg
        values, lanes = values.astype(np.float64), np.asarray(lanes, dtype=np.int64)
        _update(self.errors, self.weights, self.ratio, self.current, channel, lanes, values,
                net_means, means, scales, self._inputs, cfg.rate, cfg.scale_decay,
                cfg.ratio_max)


@njit(cache=True, nogil=True)
def _adjust2(h1: np.ndarray, w1: np.ndarray, h2: np.ndarray, w2: np.ndarray,
             ratio: np.ndarray, current: np.ndarray, seen: np.ndarray,
             ols_taps: np.ndarray, ols_forget: np.ndarray, cov: np.ndarray, rhs: np.ndarray,
             ow: np.ndarray, chol: np.ndarray, ox: np.ndarray, gate: np.ndarray,
             samples: np.ndarray, channel: int,
             lanes: np.ndarray, taps: int, means: np.ndarray, scales: np.ndarray,
             in1: np.ndarray, in2: np.ndarray, predictions: np.ndarray) -> None:
    """Cascade 2's or 3's corrected (means, scales) (n,) of `channel` for `lanes` from
    the network's (in place); keeps each lane's inputs and the stages' predictions for
    `_update2`. Rings: h[..., i] = h[..., i + N] = the value of frame i mod N."""
    long_taps, short = w1.shape[2], w2.shape[2]
    cross = short - taps
    n1, n2 = h1.shape[2] // 2, h2.shape[2] // 2
    other = 1 - channel
    for n in range(lanes.shape[0]):
        lane = lanes[n]
        t = seen[lane, channel]
        b1, b2 = (t - 1) % n1 + n1, (t - 1) % n2 + n2  # where frame t - 1 is
        for j in range(long_taps):
            in1[n, j] = h1[lane, channel, b1 - j] if t - 1 - j >= 0 else 0.0
        for j in range(taps):
            in2[n, j] = h2[lane, channel, b2 - j] if t - 1 - j >= 0 else 0.0
        if channel == 1:  # channel 0's error at t, then at t - 1 ...
            if cross > 0:
                in2[n, taps] = current[lane]
            for j in range(1, cross):
                in2[n, taps + j] = h2[lane, other, b2 - j + 1] if t - j >= 0 else 0.0
        else:  # channel 1's errors at t - 1 ...
            for j in range(cross):
                in2[n, taps + j] = h2[lane, other, b2 - j] if t - 1 - j >= 0 else 0.0
        p1 = 0.0
        for j in range(long_taps):
            p1 += w1[lane, channel, j] * in1[n, j]
        p2 = 0.0
        for j in range(short):
            p2 += w2[lane, channel, j] * in2[n, j]
        predictions[n, 0] = p1
        predictions[n, 1] = p2
        m = means[n] + p1
        m = m + p2
        m = _clip_mean(m)
        for stage in range(ols_taps.shape[0]):
            own = ols_taps[stage, 0]
            across = _ols_cross(ols_taps, stage, seen, lane, channel)
            x = _ols_features(ox[stage, lane, channel], samples, lane, channel, t, m, own,
                              across)
            p = ols_predict(ow[stage, lane, channel], x, 1 + own + across)
            predictions[n, 2 + 2 * stage] = m
            predictions[n, 3 + 2 * stage] = p
            g = gate[stage, lane, channel, 0] / (gate[stage, lane, channel, 1] + 1.0)
            g = 0.0 if g < 0.0 else (1.0 if g > 1.0 else g)
            m = _clip_mean(m + g * p)
        means[n] = m
        s = scales[n] * ratio[lane, channel]
        scales[n] = s if s > SCALE_MIN else SCALE_MIN


@njit(cache=True, nogil=True, inline="always")
def _clip_mean(m: float) -> float:
    return MEAN_MIN if m < MEAN_MIN else (MEAN_MAX if m > MEAN_MAX else m)


@njit(cache=True, nogil=True)
def _ols_cross(ols_taps: np.ndarray, stage: int, seen: np.ndarray, lane: int,
               channel: int) -> int:
    """The other channel's taps a stage uses: none for a mono lane (channel 1 never
    coded; its features would all be 0, so leaving them out changes no bit, only the work;
    at frame 0 a stereo lane's are 0 as well)."""
    return ols_taps[stage, 1] if channel == 1 or seen[lane, 1] > 0 else 0


@njit(cache=True, nogil=True)
def _ols_features(x: np.ndarray, samples: np.ndarray, lane: int, channel: int, t: int,
                  mean: float, own: int, cross: int) -> np.ndarray:
    """A least-squares stage's features of frame t into x: the mean so far, the
    channel's last `own` samples, then `cross` of the other channel's (for channel 1:
    channel 0's at t first; 0 before the lane's start)."""
    r = samples.shape[2] // 2
    b = (t - 1) % r + r  # where frame t - 1 is
    x[0] = mean
    for j in range(own):
        x[1 + j] = samples[lane, channel, b - j] if t - 1 - j >= 0 else 0.0
    k = 1 + own
    if channel == 1:
        b0 = t % r + r  # where frame t is
        for j in range(cross):
            x[k + j] = samples[lane, 0, b0 - j] if t - j >= 0 else 0.0
    else:
        for j in range(cross):
            x[k + j] = samples[lane, 1, b - j] if t - 1 - j >= 0 else 0.0
    return x


@njit(cache=True, nogil=True)
def _sign_nlms(weights: np.ndarray, inputs: np.ndarray, error: float, rate: float) -> None:
    """weights += rate sign(error) / (1e-3 + rms(inputs)) inputs (in this order)."""
    width = inputs.shape[0]
    if width == 0:
        return
    energy = 0.0
    for j in range(width):
        energy += inputs[j] * inputs[j]
    sign = 1.0 if error > 0 else (-1.0 if error < 0 else 0.0)
    step = rate * sign / (1e-3 + np.sqrt(energy / width))
    for j in range(width):
        weights[j] += step * inputs[j]


@njit(cache=True, nogil=True)
def _update2(h1: np.ndarray, w1: np.ndarray, h2: np.ndarray, w2: np.ndarray,
             ratio: np.ndarray, current: np.ndarray, seen: np.ndarray,
             ols_taps: np.ndarray, ols_forget: np.ndarray, cov: np.ndarray, rhs: np.ndarray,
             ow: np.ndarray, chol: np.ndarray, ox: np.ndarray, gate: np.ndarray,
             samples: np.ndarray, channel: int,
             lanes: np.ndarray, values: np.ndarray, net_means: np.ndarray, means: np.ndarray,
             scales: np.ndarray, in1: np.ndarray, in2: np.ndarray, predictions: np.ndarray,
             rate1: float, rate2: float, decay: float, ratio_max: float) -> None:
    """Cascade 2 or 3 learns from the coded `values` (n,) of `channel` (`means`,
    `scales`: what `_adjust2` gave; `net_means`: the network's): each filter from its own
    remaining error, then the scale ratio, then each least-squares stage (and its gate)
    from what the mean before it left; the histories move on by one frame."""
    n1, n2 = h1.shape[2] // 2, h2.shape[2] // 2
    r = samples.shape[2] // 2
    for n in range(lanes.shape[0]):
        lane = lanes[n]
        t = seen[lane, channel]
        v = values[n]
        u0 = v - net_means[n]  # the network's error
        u1 = u0 - predictions[n, 0]  # left by the long stage
        e2 = u1 - predictions[n, 1]  # left by the short stage
        _sign_nlms(w1[lane, channel], in1[n], u1, rate1)
        _sign_nlms(w2[lane, channel], in2[n], e2, rate2)
        if n1 > 0 and w1.shape[2] > 0:
            h1[lane, channel, t % n1] = u0
            h1[lane, channel, t % n1 + n1] = u0
        h2[lane, channel, t % n2] = u1
        h2[lane, channel, t % n2 + n2] = u1
        if channel == 0:
            current[lane] = u1
        q = abs(v - means[n]) / scales[n]
        if q > ratio_max:
            q = ratio_max
        ratio[lane, channel] = decay * ratio[lane, channel] + (1.0 - decay) * q
        for stage in range(ols_taps.shape[0]):  # its features are still in ox
            error = v - predictions[n, 2 + 2 * stage]
            p = predictions[n, 3 + 2 * stage]
            g = gate[stage, lane, channel]
            g[0] = OLS_GATE_DECAY * g[0] + error * p
            g[1] = OLS_GATE_DECAY * g[1] + p * p
            ols_update(cov[stage, lane, channel], rhs[stage, lane, channel],
                       ow[stage, lane, channel], chol[stage, lane, channel],
                       ox[stage, lane, channel],
                       1 + ols_taps[stage, 0] + _ols_cross(ols_taps, stage, seen, lane, channel),
                       error,
                       ols_forget[stage], OLS_RIDGE,
                       t % OLS_SOLVE_EVERY == OLS_SOLVE_EVERY - 1)
        samples[lane, channel, t % r] = v
        samples[lane, channel, t % r + r] = v
        seen[lane, channel] = t + 1


@njit(cache=True, nogil=True)
def _gather(length: np.ndarray, stereo: np.ndarray, t: int, channel: int, values: np.ndarray,
            net_means: np.ndarray, net_scales: np.ndarray) -> tuple:
    """For step t of `channel` in the decoder's order: (the lanes that code it, ascending;
    their network means (to be corrected), scales, values, and the network means kept)."""
    lanes = length.shape[0]
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
    m, s, v, nm = np.empty(count), np.empty(count), np.empty(count), np.empty(count)
    for n in range(count):
        m[n] = net_means[active[n], t, channel]
        s[n] = net_scales[active[n], t, channel]
        v[n] = values[active[n], t, channel]
        nm[n] = m[n]
    return active, m, s, v, nm


@njit(cache=True, nogil=True)
def _scatter(active: np.ndarray, t: int, channel: int, m: np.ndarray, s: np.ndarray,
             means: np.ndarray, scales: np.ndarray) -> None:
    """The corrected (m, s) of `_gather`'s lanes into (lanes, steps, 2) means and scales."""
    for n in range(active.shape[0]):
        means[active[n], t, channel] = m[n]
        scales[active[n], t, channel] = s[n]


@njit(cache=True, nogil=True)
def _run_all(errors: np.ndarray, weights: np.ndarray, ratio: np.ndarray, current: np.ndarray,
             length: np.ndarray, stereo: np.ndarray, values: np.ndarray, net_means: np.ndarray,
             net_scales: np.ndarray, rate: float, decay: float, ratio_max: float,
             means: np.ndarray, scales: np.ndarray) -> None:
    """`Cascade.adjust` and `update` for every step and channel of known samples, in the
    decoder's order: per step, channel 0 of the running lanes, then channel 1 of the
    running stereo lanes. values, net_* and the outputs are (lanes, steps, 2)."""
    width = 2 * errors.shape[2] + 1
    for t in range(values.shape[1]):
        for channel in range(2):
            active, m, s, v, nm = _gather(length, stereo, t, channel, values, net_means,
                                          net_scales)
            inputs = np.empty((len(active), width))
            _adjust(errors, weights, ratio, current, channel, active, m, s, inputs)
            _update(errors, weights, ratio, current, channel, active, v, nm, m, s, inputs,
                    rate, decay, ratio_max)
            _scatter(active, t, channel, m, s, means, scales)


@njit(cache=True, nogil=True)
def _run_all2(h1: np.ndarray, w1: np.ndarray, h2: np.ndarray, w2: np.ndarray,
              ratio: np.ndarray, current: np.ndarray, seen: np.ndarray,
              ols_taps: np.ndarray, ols_forget: np.ndarray, cov: np.ndarray,
              rhs: np.ndarray, ow: np.ndarray, chol: np.ndarray, ox: np.ndarray,
              gate: np.ndarray, samples: np.ndarray, taps: int,
              length: np.ndarray, stereo: np.ndarray, values: np.ndarray,
              net_means: np.ndarray, net_scales: np.ndarray, rate1: float, rate2: float,
              decay: float, ratio_max: float, means: np.ndarray, scales: np.ndarray) -> None:
    """`_run_all` for cascades 2 and 3: `_adjust2` and `_update2` for every step and
    channel of known samples, in the decoder's order."""
    for t in range(values.shape[1]):
        for channel in range(2):
            active, m, s, v, nm = _gather(length, stereo, t, channel, values, net_means,
                                          net_scales)
            count = len(active)
            in1, in2 = np.empty((count, w1.shape[2])), np.empty((count, w2.shape[2]))
            predictions = np.empty((count, 2 + 2 * ols_taps.shape[0]))
            _adjust2(h1, w1, h2, w2, ratio, current, seen, ols_taps, ols_forget, cov, rhs,
                     ow, chol, ox, gate, samples, channel, active, taps, m, s, in1, in2,
                     predictions)
            _update2(h1, w1, h2, w2, ratio, current, seen, ols_taps, ols_forget, cov, rhs,
                     ow, chol, ox, gate, samples, channel, active, v, nm, m, s, in1, in2,
                     predictions, rate1, rate2, decay, ratio_max)
            _scatter(active, t, channel, m, s, means, scales)


def run_all(cfg: AdaptiveConfig, length: np.ndarray, stereo: np.ndarray, values: np.ndarray,
            net_means: np.ndarray, net_scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The corrected (means, scales) (lanes, steps, 2) of every known sample, computed as
    a `Cascade` would while coding them step by step."""
    state = Cascade(cfg, len(length))
    means, scales = np.zeros(values.shape), np.ones(values.shape)
    length, stereo = length.astype(np.int64), stereo.astype(np.bool_)
    values = values.astype(np.float64)
    if cfg.cascade == 1:
        _run_all(state.errors, state.weights, state.ratio, state.current, length, stereo,
                 values, net_means, net_scales, cfg.rate, cfg.scale_decay, cfg.ratio_max,
                 means, scales)
    else:
        _run_all2(*state.arrays(), cfg.taps, length, stereo, values, net_means, net_scales,
                  cfg.long_rate, cfg.rate, cfg.scale_decay, cfg.ratio_max, means, scales)
    return means, scales
