"""Time one step of the exact audio network (`ExactWaveNet.step`, what the decoder runs
per frame) for several lane counts, in this process, one thread. Usage:

    python bench/bench_audio_step.py [--lanes 1 2 4 8 16 28] [--steps 500] [--repeat 3]

Prints microseconds per step (the best of --repeat runs: this machine's timings vary from
run to run) and the network's multiply-adds per second. Up to KERNEL_LANES lanes a step is
the compiled kernel (`_step`), above it matrix products over the lanes.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from arzip import engine, zoo  # noqa: E402
from arzip.codecs.audio.exact_model import KERNEL_LANES  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanes", type=int, nargs="+", default=[1, 2, 4, 8, 16, 28])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    net = engine.load_codec("audio", zoo.default_model("audio")).model
    table = net._packed[0]
    macs = int((table[:, 1] * table[:, 2]).sum())  # per lane and step
    print(f"{zoo.default_model('audio').name}: {macs} multiply-adds per lane and step; "
          f"kernel up to {KERNEL_LANES} lanes")
    rng = np.random.default_rng(0)
    for lanes in args.lanes:
        state = net.new_state(lanes)
        state["inputs"][:] = rng.integers(-50, 50, state["inputs"].shape)
        net.step(state)  # compile
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            for t in range(args.steps):
                state["t"] = t
                net.step(state)
            best = min(best, (time.perf_counter() - start) / args.steps)
        print(f"{lanes:4d} lanes: {best * 1e6:8.1f} us/step, "
              f"{lanes * macs / best / 1e9:5.2f} G multiply-adds/s")


if __name__ == "__main__":
    main()
