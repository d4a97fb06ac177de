"""Where the audio codec's bits come from: the real coded size of every file of a folder
(model blocks only, no FLAC fallback) under the classical stages alone (the network's
head at zero: the linear predictor, then the adaptive cascade 3), the network alone (no
adaptive stage: cascade 2 with its rates at zero), the network with cascade 2 (formats
10-13) and with cascade 3 (format 14, the default), all coded by the context mixing;
every file at the lane length it gets; FLAC -8 (libsndfile) beside them. Per top-level
set. Usage:

    python bench/bench_audio_ablation.py ../shared/data/audio/dev [--out FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from arzip import zoo
from arzip.benchmark import machine
from arzip.codecs.audio import formats
from arzip.codecs.audio.adaptive import AdaptiveConfig
from arzip.codecs.audio.cm import VARIANT
from arzip.codecs.audio.codec import AudioCodec

CURRENT = AdaptiveConfig.current()
CASCADE_2 = dataclasses.replace(CURRENT, cascade=2, ols=[])
NO_CASCADE = dataclasses.replace(CASCADE_2, rate=0.0, long_rate=0.0, scale_decay=1.0)
CONFIGS = {  # name: (head at zero, adaptive settings, context-mixing variant)
    "classical stages alone": (True, CURRENT, VARIANT),
    "network alone": (False, NO_CASCADE, VARIANT),
    "network + cascade 2 (formats 10-13)": (False, CASCADE_2, VARIANT),
    "network + cascade 3 (format 14, default)": (False, CURRENT, VARIANT),
}


def codec_for(head_at_zero: bool, adaptive: AdaptiveConfig, cm: int | None) -> AudioCodec:
    exported = zoo.load_weights(zoo.default_model("audio"))
    if head_at_zero:  # the model then *is* the classical predictor
        exported = dict(exported, state_dict={
            k: (torch.zeros_like(v) if k.startswith("out.") else v)
            for k, v in exported["state_dict"].items()})
    codec = AudioCodec.from_weights(exported)
    codec.adaptive, codec.cm = adaptive, cm
    return codec


def flac_bytes(samples: np.ndarray, rate: int) -> int:
    out = io.BytesIO()
    sf.write(out, samples, rate, format="FLAC", subtype="PCM_16", compression_level=1.0)
    return len(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path, default=Path("bench/results/audio_ablation.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    codecs = {name: codec_for(*spec) for name, spec in CONFIGS.items()}
    sets: dict[str, dict] = {}
    for path in sorted(args.folder.rglob("*.wav")):
        found = formats.analyze(path.read_bytes())
        if found is None:
            continue
        group = sets.setdefault(path.relative_to(args.folder).parts[0],
                                {"files": 0, "samples": 0, "flac_bytes": 0, "seconds": {},
                                 **{name: 0 for name in CONFIGS}})
        group["files"] += 1
        group["samples"] += int(found.samples.size)
        group["flac_bytes"] += flac_bytes(found.samples, found.info["rate"])
        for name, codec in codecs.items():
            start = time.perf_counter()
            chosen = codec.for_file(found.info)  # the lane length a file gets
            chosen.network_gain = None  # every block as the configuration says
            group[name] += sum(len(p) for _, p, *_ in chosen.encode(found.samples,
                                                                   info=found.info))
            group["seconds"][name] = group["seconds"].get(name, 0.0) + (
                time.perf_counter() - start)
    report = {"machine": machine(), "folder": str(args.folder), "sets": sets}
    for name, group in sets.items():
        cells = [f"{k} {8 * group[k] / group['samples']:.3f}" for k in CONFIGS]
        print(f"{name}: " + ", ".join(cells)
              + f", flac -8 {8 * group['flac_bytes'] / group['samples']:.3f} bits/sample")
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
