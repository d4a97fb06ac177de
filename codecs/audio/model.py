"""WaveNet for 16-bit PCM over a backward-adaptive linear predictor (nn.Module only).

A frame is one sample of each of up to two channels (a mono signal, or a stereo pair).
The classical half (`lpc.py`) gives every sample a prediction p and a scale m (the running
mean absolute error) from past samples only. The network (van den Oord et al. 2016) reads
the features of past frames (companded samples, companded prediction errors e = x - p,
log-scales) through a causal input convolution and gated residual layers with dilations
1, 2, 4, ..., and its skip outputs feed a small head. The head does not output a
distribution over 65,536 values: per channel it outputs a gain on p, coefficients over the
last `taps` prediction errors of both channels, and a log-factor on m, which give the mean
and scale of a Laplace distribution quantized to the integers (`laplace_bits`;
constriction's QuantizedLaplace when coding). The second channel of a stereo frame also
sees the first channel's current error. With the head's last layer at zero the model is
exactly the classical predictor, which is where training starts.

`forward` computes every frame of whole signals at once (training); `WaveNetStep`
(stepper.py) computes the same function one frame at a time with Fast-WaveNet queues.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

FEATURES = 8  # per frame: 2 x companded sample, 2 x companded error, 2 x log-scale, stereo, rate
COMPAND = 1.0 / math.log1p(32768.0)
LOG_SCALE_MIN, LOG_SCALE_MAX = -3.0, 11.0
SAMPLE_MIN, SAMPLE_MAX = -32768, 32767


@dataclass
class AudioModelConfig:
    """Architecture of the audio model."""

    channels: int = 64  # residual channels of every layer
    layers: int = 9  # dilations 1, 2, 4, ..., 2**(layers - 1)
    head: int = 128
    taps: int = 16  # prediction-error taps per channel

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def receptive_field(self) -> int:
        return 2 + 2 ** self.layers - 1

    @property
    def outputs(self) -> int:
        # channel 0: own taps, cross taps, gain, log-scale; channel 1: one more cross tap
        return (2 * self.taps + 2) + (2 * self.taps + 3)


def rate_code(sample_rate: int) -> float:
    """The sample rate as the model sees it: log2(rate / 16 kHz)."""
    return math.log2(max(sample_rate, 1) / 16000.0)


def compand(v: torch.Tensor) -> torch.Tensor:
    return torch.sign(v) * torch.log1p(torch.abs(v)) * COMPAND


def frame_features(x: torch.Tensor, error: torch.Tensor, log_scale: torch.Tensor,
                   stereo: torch.Tensor, rate: torch.Tensor) -> torch.Tensor:
    """Features (..., FEATURES) of frames: samples, errors and log-scales (..., 2);
    `stereo` and `rate` broadcast against x[..., 0] (1.0 for a stereo pair, the rate code)."""
    return torch.cat([compand(torch.cat([x, error], dim=-1)), log_scale * 0.125,
                      stereo.unsqueeze(-1).expand_as(x[..., :1]),
                      rate.unsqueeze(-1).expand_as(x[..., :1])], dim=-1)


class WaveNet(nn.Module):
    """Causal WaveNet: frames before t -> predictor coefficients and scales at t."""

    def __init__(self, cfg: AudioModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.channels
        self.inp = nn.Linear(2 * FEATURES, c)  # frames t-2, t-1
        self.dilated = nn.ModuleList(nn.Linear(2 * c, 2 * c) for _ in range(cfg.layers))
        self.residual = nn.ModuleList(nn.Linear(c, c, bias=False) for _ in range(cfg.layers - 1))
        self.skip = nn.Linear(cfg.layers * c, c)
        self.hidden = nn.Linear(c, cfg.head)
        self.out = nn.Linear(cfg.head, cfg.outputs)
        nn.init.zeros_(self.out.weight)  # start as the classical predictor
        nn.init.zeros_(self.out.bias)

    @staticmethod
    def gate(z: torch.Tensor) -> torch.Tensor:
        """The gated unit tanh(a) * 2 sigmoid(2b), written as t_a * (1 + t_b) with t = tanh(z):
        one tanh and one addcmul per step."""
        t = torch.tanh(z)
        a, b = t.chunk(2, dim=-1)
        return torch.addcmul(a, a, b)

    def forward(self, x: torch.Tensor, error: torch.Tensor, log_scale: torch.Tensor,
                stereo: torch.Tensor, rate: torch.Tensor) -> torch.Tensor:
        """Head outputs (B, T, outputs) for frames x (B, T, 2) with their prediction errors
        and log-scales: position t sees frames < t."""
        f = frame_features(x, error, log_scale, stereo[:, None].expand(x.shape[:2]),
                           rate[:, None].expand(x.shape[:2]))
        f = F.pad(f, (0, 0, 2, 0))
        h = self.inp(torch.cat([f[:, :-2], f[:, 1:-1]], dim=-1))  # (B, T, C)
        gates = []
        for i, layer in enumerate(self.dilated):
            d = 2 ** i
            past = F.pad(h, (0, 0, d, 0))[:, :-d]
            g = self.gate(layer(torch.cat([past, h], dim=-1)))
            gates.append(g)
            if i < len(self.residual):
                h = h + self.residual[i](g)
        return self.head(torch.cat(gates, dim=-1))

    def head(self, gates: torch.Tensor) -> torch.Tensor:
        return self.out(F.relu(self.hidden(F.relu(self.skip(gates)))))

    def predictions(self, out: torch.Tensor, channel: int, errors: torch.Tensor,
                    prediction: torch.Tensor, log_scale: torch.Tensor,
                    current_error0: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and scale of `channel` from head outputs, the past `taps` prediction errors
        (`errors` (..., 2, taps), newest first), the classical prediction and log-scale
        (..., 2) and, for channel 1, the current error of channel 0."""
        t = self.cfg.taps
        o = out[..., :2 * t + 2] if channel == 0 else out[..., 2 * t + 2:]
        taps = (errors if channel == 0 else errors.flip(-2)).flatten(-2)  # own, then cross
        mean = prediction[..., channel] * (1.0 + o[..., -2]) + (o[..., :2 * t] * taps).sum(-1)
        if channel == 1:
            mean = mean + o[..., 2 * t] * current_error0
        mean = mean.clamp(SAMPLE_MIN - 1024.0, SAMPLE_MAX + 1024.0)
        log_b = (log_scale[..., channel] + o[..., -1]).clamp(LOG_SCALE_MIN, LOG_SCALE_MAX)
        return mean, torch.exp(log_b)


def history_windows(x: torch.Tensor, taps: int) -> torch.Tensor:
    """(B, T, 2, taps): for every frame t, samples t-1 ... t-taps (zeros before the start)."""
    padded = F.pad(x.transpose(1, 2), (taps, 0))  # (B, 2, T + taps)
    windows = padded.unfold(2, taps, 1)[:, :, :-1]  # (B, 2, T, taps): t-taps .. t-1
    return windows.flip(-1).permute(0, 2, 1, 3)


def laplace_bits(x: torch.Tensor, mean: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Bits of integers `x` under a Laplace(mean, scale) quantized to unit bins."""
    d = torch.abs(x - mean)
    near = torch.where(d < 0.5, d, torch.zeros_like(d))  # keeps the unused branch finite
    inner = torch.log1p(-torch.exp(-0.5 / scale) * torch.cosh(near / scale))
    outer = math.log(0.5) - (d - 0.5) / scale + torch.log(-torch.expm1(-1.0 / scale))
    log_p = torch.where(d < 0.5, inner, outer)
    return -log_p.clamp(min=-60.0) / math.log(2.0)


def sequence_bits(model: WaveNet, x: torch.Tensor, prediction: torch.Tensor,
                  scale: torch.Tensor, stereo: torch.Tensor, rate: torch.Tensor) -> torch.Tensor:
    """Bits (B, T, 2) of every sample of frames x (B, T, 2) given the classical
    predictions and scales (B, T, 2); channel 1 bits are zero for mono signals."""
    error, log_scale = x - prediction, torch.log(scale)
    out = model(x, error, log_scale, stereo, rate)
    hist = history_windows(error, model.cfg.taps)
    m0, s0 = model.predictions(out, 0, hist, prediction, log_scale)
    m1, s1 = model.predictions(out, 1, hist, prediction, log_scale, error[..., 0])
    b0 = laplace_bits(x[..., 0], m0, s0)
    b1 = laplace_bits(x[..., 1], m1, s1) * stereo[:, None]
    return torch.stack([b0, b1], dim=-1)
