"""Where an image's bits come from: each image coded four ways by the image codec.

- network alone: the ideal bits of the exact network's integer frequencies (what a range
  coder of its distribution would write, to within its overhead);
- network + residual mixture: format 8's coder (the range coder over the network's
  distribution mixed with the image's adaptive residual statistics), real coded bytes;
- context models alone: the default context mixing with a uniform distribution in place
  of the network's and of the residual mixture's (so no model input carries the network;
  the models learned from the image, and the mixers, APMs and coder, as they are), real
  coded bytes;
- both: the default coder, real coded bytes.

Bits per subpixel of the model blocks (no container framing or side data), per folder.

    python bench/bench_image_ablation.py ../shared/data/image/dev --every 3 -j 2 \
        --out bench/results/image_ablation.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from itertools import zip_longest
from pathlib import Path

import numpy as np

COLUMNS = ("network", "network_residual", "context_models", "both")


def network_bits(codec, pixels: np.ndarray, band: int = 32) -> float:
    """Ideal bits of the exact network's frequencies for the (H, W, 3) pixels."""
    from arzip.codecs.image.exact_model import ExactMixture
    from arzip.coding import ideal_bits_each

    params = codec.model.image_params(pixels)
    k, total = codec.model.mixtures, 0.0
    for top in range(0, pixels.shape[0], band):
        p = params[top:top + band].reshape(-1, params.shape[-1])
        x = pixels[top:top + band].reshape(-1, 3)
        mixture = ExactMixture(p, k)
        for c in range(3):
            total += float(ideal_bits_each(x[:, c].astype(np.int64), mixture.pmf(c, x)).sum())
    return total


def coded_bits(codec, pixels: np.ndarray) -> float:
    """Real coded bits of the image's model blocks."""
    return 8.0 * sum(len(payload) for _, payload, _ in codec.encode(pixels))


def one(path: str, model: str) -> dict:
    os.environ.setdefault("ARZIP_THREADS", "1")
    from arzip import engine, zoo
    from arzip.codecs.image import codec as image_codec
    from arzip.codecs.image.codec import ImageCodec

    found = ImageCodec.analyze(Path(path).read_bytes())
    pixels = found.pixels
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    codec = engine.load_codec("image", zoo.find_model(model))
    start = time.perf_counter()
    row = {"file": path, "subpixels": int(pixels.size),
           "network": network_bits(codec, pixels)}
    default_cm = codec.cm
    codec.cm = None
    row["network_residual"] = coded_bits(codec, pixels)
    codec.cm = default_cm
    row["both"] = coded_bits(codec, pixels)
    block = image_codec._CMBlock

    class Uniform(block):  # the coder sees no network: uniform distributions instead
        def __call__(self, channel, freqs, probs, rows, cols, pixel):
            n = len(rows)
            return super().__call__(channel, np.ones((n, 256), dtype=np.int64),
                                    np.full((n, 256), 1.0 / 256), rows, cols, pixel)

    image_codec._CMBlock = Uniform
    try:
        row["context_models"] = coded_bits(codec, pixels)
    finally:
        image_codec._CMBlock = block
    row["seconds"] = time.perf_counter() - start
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--every", type=int, default=1, help="every Nth image (sorted)")
    parser.add_argument("-j", type=int, default=1, help="images coded at once")
    parser.add_argument("--out", type=Path, default=Path("bench/results/image_ablation.json"))
    parser.add_argument("--model", help="model id (default: the bundled image model)")
    args = parser.parse_args()
    if args.model is None:
        from arzip import zoo

        args.model = zoo.default_model("image").name
    files = sorted(str(p) for p in args.folder.rglob("*.png"))[::args.every]
    by_folder: dict = {}
    for f in files:
        by_folder.setdefault(Path(f).parent, []).append(f)
    # the folders in turn, so that a run cut short still covers each of them
    files = [f for group in zip_longest(*by_folder.values()) for f in group if f]
    with ProcessPoolExecutor(args.j) as pool:
        rows = []
        for row in pool.map(partial(one, model=args.model), files):
            rows.append(row)
            print(json.dumps({k: (round(v / row["subpixels"], 4) if k in COLUMNS else v)
                              for k, v in row.items()}), flush=True)
            write(args, rows)  # after every image: a run cut short keeps what it measured


def write(args: argparse.Namespace, rows: list[dict]) -> None:
    folders: dict = {}
    for row in rows:
        folders.setdefault(Path(row["file"]).parent.name, []).append(row)
    folders["all"] = rows
    summary = {name: {c: sum(r[c] for r in rs) / sum(r["subpixels"] for r in rs)
                      for c in COLUMNS} | {"files": len(rs)}
               for name, rs in folders.items()}
    out = {"summary_bits_per_subpixel": summary, "rows": rows, "files": len(rows),
           "model": args.model, "every": args.every,
           "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
