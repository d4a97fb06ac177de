"""Bundle a trained checkpoint as a default model: weights, manifest entry and model card.

    python tools/ship_model.py ~/.cache/arzip/train/text.pt --name text-byte-small@1 \
        [--bench bench/results/text.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from arzip import zoo

MODELS = Path(__file__).resolve().parents[1] / "codecs" / "models"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--name", default="text-byte-small@1")
    parser.add_argument("--codec", default="bytes")
    parser.add_argument("--bench", type=Path, help="benchmark JSON with the dev figures")
    args = parser.parse_args()
    state = torch.load(args.checkpoint, weights_only=False)
    stem = args.name.replace("@", "-")
    weights = MODELS / f"{stem}.pt"
    digest = zoo.export_model(weights, args.name, args.codec, state["model_config"],
                              state["model"])
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
    lines = [f"# Model card: {args.name}", "",
             f"- codec: `{args.codec}`; file `{weights.name}`, sha256 `{digest}`",
             f"- architecture: causal byte Transformer, multi-query attention, rotary "
             f"positions, sliding-window KV cache; config `{json.dumps(state['model_config'])}`",
             f"- parameters: {params:,} (float32, {weights.stat().st_size:,} bytes on disk)",
             "- training data: `shared/data/text/train` (all sets; sampling weights in "
             "`codecs/text/training.py`), random windows of `context` bytes, batch 64",
             f"- training: {state['step']} steps of AdamW (lr {train_cfg['lr']}, cosine to "
             f"{train_cfg['min_lr']}, seed {train_cfg['seed']}) on 2 CPU cores",
             "- reproduce: `arzip train text --dev ../shared/data/text/dev/canterbury "
             f"--steps {state['step']}` then `python tools/ship_model.py <checkpoint>`"]
    if history:
        last = history[-1]
        lines.append(f"- dev (canterbury, cold 128-byte windows, network alone): "
                     f"{last['dev_bits']:.3f} bits/byte at step {last['step']}")
    if args.bench and args.bench.exists():
        totals = json.loads(args.bench.read_text())["totals"]
        a, x = totals["arzip"], totals["xz -9e"]
        lines.append(f"- coded size on the dev benchmark (network + context mixer, real .arz "
                     f"files): {a['bits_per_byte']:.3f} bits/byte vs xz -9e "
                     f"{x['bits_per_byte']:.3f}; see README")
    (MODELS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print(f"bundled {args.name}: {weights} sha256 {digest}")


if __name__ == "__main__":
    main()
