"""Fast-WaveNet decoding: the model one frame at a time over a batch of lanes.

Each dilated layer keeps a queue of its last `dilation` inputs per lane (Paine et al.
2016, "Fast Wavenet Generation"), so a step computes one new frame per layer for every
lane at once, with the same start (zeros before the first frame) as `WaveNet.forward`;
the classical predictor runs alongside (`lpc.BackwardLPC`, one signal per lane and
channel). The encoder and the decoder both go through `WaveNetStep`, with the same lanes
and shapes, so their probabilities are bit-identical.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .lpc import BackwardLPC
from .model import FEATURES, WaveNet, frame_features


class WaveNetStep:
    """The state of `lanes` signals (frames of 2 channels) being coded in lockstep."""

    def __init__(self, model: WaveNet, stereo: torch.Tensor, rate: torch.Tensor) -> None:
        self.model, cfg = model, model.cfg
        lanes = len(stereo)
        self.stereo, self.rate = stereo.float(), rate.float()
        self.inputs = torch.zeros(lanes, 2 * FEATURES)  # features of frames t-2, t-1
        self.queues = [torch.zeros(2 ** i, lanes, cfg.channels) for i in range(cfg.layers)]
        self.errors = torch.zeros(lanes, 2, cfg.taps)  # errors t-1, t-2, ... per channel
        self.lpc = BackwardLPC(2 * lanes)  # rows: lane 0 ch 0, lane 0 ch 1, lane 1 ch 0, ...
        self.t = 0
        self._weights = [(layer.weight.t().contiguous(), layer.bias) for layer in model.dilated]
        self._residual = [r.weight.t().contiguous() for r in model.residual]
        self._head = [(layer.weight.t().contiguous(), layer.bias)
                      for layer in (model.skip, model.hidden, model.out)]
        self._out: torch.Tensor | None = None

    def outputs(self) -> None:
        """Run the network and the classical predictor for frame t (from frames < t)."""
        m = self.model
        h = F.linear(self.inputs, m.inp.weight, m.inp.bias)
        gates = []
        for i, (w, b) in enumerate(self._weights):
            queue = self.queues[i][self.t % (2 ** i)]
            z = torch.addmm(b, torch.cat([queue, h], dim=1), w)
            queue.copy_(h)  # h of frame t, read again at frame t + 2**i
            g = m.gate(z)
            gates.append(g)
            if i < len(self._residual):
                h = torch.addmm(h, g, self._residual[i])
        u = torch.cat(gates, dim=1)  # the head, as WaveNet.head, without module calls
        for i, (w, b) in enumerate(self._head):
            u = torch.addmm(b, torch.relu(u) if i else u, w)
        self._out = u
        self.prediction = self.lpc.predict().reshape(-1, 2)  # float64 (lanes, 2)
        self.log_scale = np.log(self.lpc.scale).reshape(-1, 2)
        self._prediction = torch.from_numpy(self.prediction.astype(np.float32))
        self._log_scale = torch.from_numpy(self.log_scale.astype(np.float32))

    def distribution(self, channel: int, current0: torch.Tensor | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, scale) per lane of `channel` at frame t; channel 1 needs channel 0's
        current samples (lanes,)."""
        assert self._out is not None, "outputs() first"
        error0 = None if current0 is None else current0 - self._prediction[:, 0]
        return self.model.predictions(self._out, channel, self.errors, self._prediction,
                                      self._log_scale, error0)

    def push(self, frame: torch.Tensor) -> None:
        """Append frame t (lanes, 2) of integer-valued samples and move to t + 1."""
        error = frame - self._prediction
        f = frame_features(frame, error, self._log_scale, self.stereo, self.rate)
        self.inputs = torch.cat([self.inputs[:, FEATURES:], f], dim=1)
        self.errors = torch.cat([error[:, :, None], self.errors[:, :, :-1]], dim=2)
        self.lpc.push(frame.numpy().astype(np.float64).reshape(-1), self.prediction.reshape(-1))
        self.t += 1
        self._out = None
