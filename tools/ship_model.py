"""Bundle a trained model as a default model: weights, calibration, manifest entry and card.

    python tools/ship_model.py ~/.cache/arzip/train/text.pt --name text-byte-small@3 \
        [--bench bench/results/dev.json]

SOURCE is a training checkpoint or an exported model file (or a bundled model's id). The
exact-arithmetic activation scales are calibrated on the training data (`--data`) by the
codec's training module and stored in the shipped file.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from arzip import zoo

MODELS = Path(__file__).resolve().parents[1] / "codecs" / "models"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CARDS = {  # codec -> (kind for `arzip train`, architecture, training data, dev monitor)
    "bytes": ("text", "causal byte Transformer, multi-query attention, rotary positions, "
              "sliding-window KV cache",
              "`shared/data/text/train` (all sets; sampling weights in "
              "`codecs/text/training.py`), random windows of `context` bytes, batch 64",
              "unweighted mean over the dev files of cold windows, network alone; binary "
              "files dominate", "bits/byte"),
    "image": ("image", "PixelCNN++-style: causal 3x7 pixel embedding, gated residual blocks "
              "of down/down-right-shifted convolutions, discretized mixture of logistics "
              "with the linear R->G->B dependence, plus a linear predictor path to the means "
              "(initialised as classical predictors); wavefront-cached decoding",
              "`shared/data/image/train`: random 64x64 crops of the 128x128 crops (batch 12) "
              "and the 32x32 thumbnails as whole tiles (batch 48), pixels equally weighted, "
              "random left-right flips",
              "mean estimated bits/subpixel of the whole-image network over centre 256x256 "
              "crops of 6 dev images", "bits/subpixel"),
    "audio": ("audio", "WaveNet (gated residual layers, dilations 1..256, skip head) over a "
              "backward-adaptive order-32 linear predictor: per sample a gain on the "
              "prediction, taps over past prediction errors of both channels and a "
              "log-factor on the running error scale give a quantized Laplace; stereo "
              "channel 1 conditioned on channel 0; Fast-WaveNet cached decoding",
              "`shared/data/audio/train` (16-bit FLAC: speech at 8/16 kHz, 44.1 kHz "
              "instrument samples, the music_* sets of instrument and vocal phrases and "
              "mixes, noise): random 2048-frame crops from cold starts, batch 8, each group "
              "of sets (named alike up to a '_') drawn equally often, random polarity",
              "estimated bits/sample of the whole-signal network over the first 4 s of 4 "
              "files of each dev set", "bits/sample"),
}


EXACT = {  # codec -> how coding runs the network (exact arithmetic)
    "bytes": "int8 weights per output row, int8 activations (LayerNorm outputs, queries, "
             "keys, values, attention and GELU outputs) at calibrated scales, an integer "
             "residual stream (2^-8 units), integer LayerNorm, rotary and exp/GELU tables",
    "image": "16-bit weights per output row, 13-bit activations at calibrated scales, an "
             "integer residual stream, ELU/sigmoid/tanh/exp tables; the logistic mixture as "
             "integer frequencies (sigmoid table at 1/2048 steps, 2^24)",
    "audio": "16-bit weights per output row, an integer residual stream, tanh gates from a "
             "table kept at 2^-13, 13-bit ReLU outputs at calibrated scales, integer frame "
             "features (exact log); the integer linear predictor and Laplace rows of the "
             "codec",
}


def network_alone(state: dict, dev: Path) -> list[str]:
    """Per-file bits/byte of the network alone on consecutive cold windows."""
    from arzip.codecs.text.model import ByteTransformer, TextModelConfig
    from arzip.codecs.text.training import window_bits

    cfg = TextModelConfig(**state["model_config"])
    model = ByteTransformer(cfg)
    model.load_state_dict(state["model"])
    model.eval()
    lines = ["", f"Network alone on `{dev}` (first ≤ 64 windows of {cfg.context} bytes, "
             "each from a cold start; the codec adds the context mixer on top):", "",
             "| file | bits/byte |", "|---|---:|"]
    for path in sorted(p for p in dev.rglob("*") if p.is_file()):
        lines.append(f"| {path.name} | {window_bits(model, path.read_bytes(), cfg.context):.3f} |")
    return lines


def load_source(source: str) -> dict:
    """A checkpoint-like dict (model, model_config, step, history, train_config) from a
    training checkpoint, an exported model file or a bundled model id."""
    path = Path(source)
    if not path.is_file():
        exported = zoo.load_weights(zoo.find_model(source))
    else:
        exported = torch.load(path, weights_only=False)
    if "state_dict" not in exported:
        return exported  # a training checkpoint
    return {"model": exported["state_dict"], "model_config": exported["config"], "step": 0,
            "history": [], "train_config": {}}


def calibration(codec: str, state: dict, data: Path) -> dict:
    """The codec's activation scales of the exact network for these weights."""
    import importlib

    from arzip.cli import TRAIN_KINDS

    kind = CARDS[codec][0]
    _, _, _, function = TRAIN_KINDS[kind]
    training = importlib.import_module(f"arzip.codecs.{function.partition(':')[0]}")
    model = training.build_model(state["model_config"])
    model.load_state_dict(state["model"])
    return training.calibration(model.eval(), data)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint", help="training checkpoint, exported model or model id")
    parser.add_argument("--data", type=Path, help="training folder for the calibration")
    parser.add_argument("--name", default="text-byte-small@3")
    parser.add_argument("--minutes", type=float, help="wall time the training took")
    parser.add_argument("--codec", default="bytes")
    parser.add_argument("--bench", type=Path, help="benchmark JSON with the dev figures")
    parser.add_argument("--dev", type=Path, help="dev folder: network-alone bits per file")
    parser.add_argument("--reproduce", help="the training commands, when not a single run")
    args = parser.parse_args()
    state = load_source(args.checkpoint)
    stem = args.name.replace("@", "-")
    weights = MODELS / f"{stem}.pt"
    quant = calibration(args.codec, state, args.data or DATA / CARDS[args.codec][0] / "train")
    digest = zoo.export_model(weights, args.name, args.codec, state["model_config"],
                              state["model"], quant)
    params = sum(v.numel() for v in state["model"].values())
    manifest_path = MODELS / "models.json"
    manifest = json.loads(manifest_path.read_text())
    for entry in manifest.values():
        if entry["codec"] == args.codec:
            entry["default"] = False
    manifest[args.name] = {"codec": args.codec, "file": weights.name, "sha256": digest,
                           "config": state["model_config"], "card": f"{stem}.md",
                           "default": True}
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    history = state["history"]
    train_cfg = state["train_config"]
    kind, architecture, data, monitor, unit = CARDS[args.codec]
    dev = "../shared/data/text/dev/canterbury" if kind == "text" else f"../shared/data/{kind}/dev"
    took = f", {args.minutes:.0f} minutes" if args.minutes else ""
    lines = [f"# Model card: {args.name}", "",
             f"- codec: `{args.codec}`; file `{weights.name}`, sha256 `{digest}`",
             f"- architecture: {architecture}; config `{json.dumps(state['model_config'])}`",
             f"- parameters: {params:,} (float32, {weights.stat().st_size:,} bytes on disk)",
             f"- training data: {data}",
             (f"- training: {state['step']} steps of AdamW (lr {train_cfg['lr']}, cosine to "
              f"{train_cfg['min_lr']}, seed {train_cfg['seed']}) on 2 CPU cores{took}"
              if train_cfg else f"- training: the float weights of `{args.checkpoint}`"),
             f"- exact arithmetic (coding): {EXACT[args.codec]}; activation peaks calibrated "
             "on the training data by `calibration` in the codec's training module and "
             "stored in the file (`exact_model.py` of the codec)",
             "- reproduce: " + (args.reproduce or f"`arzip train {kind} --dev {dev} "
                                 f"--steps {state['step']}`")
             + f", then `python tools/ship_model.py <checkpoint> --codec {args.codec} "
               f"--name {args.name}`"]
    if history and not math.isnan(history[-1]["dev_bits"]):  # trained with --dev
        last = history[-1]
        lines.append(f"- training-time dev monitor ({monitor}): {last['dev_bits']:.3f} "
                     f"{unit} at step {last['step']}")
    if args.bench and args.bench.exists():  # a JSON written by `arzip bench --json`
        result = json.loads(args.bench.read_text())
        totals, unit = result["totals"][args.codec], result["units"][args.codec]
        lines.append(f"- coded size on the dev benchmark (real .arz files, bits/{unit}): "
                     + ", ".join(f"{name} {t['bits_per_symbol']:.3f}"
                                 for name, t in totals.items() if t["bits_per_symbol"])
                     + "; see README")
    if args.dev:
        lines += network_alone(state, args.dev)
    (MODELS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print(f"bundled {args.name}: {weights} sha256 {digest}")


if __name__ == "__main__":
    main()
