"""Peak memory of the image codec on large images (each measurement is a child process,
read with os.wait4's ru_maxrss).

The test image is a dev photo mirrored to the requested size, or (SOURCE a folder) a
mosaic of the folder's photos, 512x512 tiles, each photo flipped in turn as the tiles
repeat (no tile repeats exactly, so WebP's matches cannot make it small and the model
codes it), saved as PNG.
- `--full WxH`: `arzip compress` then `arzip decompress` end to end.
- `--phases WxH`: for sizes whose end-to-end run takes too long here: `arzip compress`
  killed after `--seconds` (file analysis, zlib-parameter search, model loading and the
  wavefront's steady state are all reached by then), and the decoder's last stage
  (reassembling the pixels from step order and rebuilding the PNG) on its own.

    python bench/bench_image_memory.py IMAGE --full 1024x768 --phases 6000x4000
    python bench/bench_image_memory.py ../shared/data/image/dev --full 6000x4000 \
        --out bench/results/image_memory_mosaic.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

DECODER_END = """
import sys, numpy as np
from pathlib import Path
from arzip.codecs.image import formats
from arzip.codecs.image.codec import ImageCodec
from arzip.codecs.image.wavefront import active_rows, step_count
data = Path(sys.argv[1]).read_bytes()
found = ImageCodec.analyze(data)
h, w, c = found.pixels.shape
blocks, chunk = [], []
for t in range(step_count(h, w)):  # the decoder's blocks: subpixels in step order
    lo, hi = active_rows(t, h, w)
    if hi >= lo:
        rows = np.arange(lo, hi + 1)
        chunk.append(found.pixels[rows, t - 2 * rows].tobytes())
blocks = [b"".join(chunk)]
info, side = found.info, found.side
del found, data, chunk
assert b"".join(ImageCodec.restore(info, side, blocks)) == Path(sys.argv[1]).read_bytes()
"""


def run_measured(args: list[str], seconds: float = 0) -> tuple[float, float, bool]:
    """(peak RSS in MB, seconds, finished) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(args)
    finished = True
    if seconds:
        try:
            proc.wait(seconds)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            finished = False
    _, status, usage = os.wait4(proc.pid, 0)
    if finished and os.waitstatus_to_exitcode(status):
        raise SystemExit(f"failed: {' '.join(args)}")
    return usage.ru_maxrss / 1024, time.perf_counter() - start, finished


def make_mosaic(folder: Path, width: int, height: int, path: Path, tile: int = 512) -> None:
    photos = sorted(p for p in folder.rglob("*.png"))
    out = np.zeros((height, width, 3), dtype=np.uint8)
    k = 0
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            photo = np.asarray(Image.open(photos[k % len(photos)]).convert("RGB"))[:tile, :tile]
            turn = k // len(photos)  # 0: as it is, 1: mirrored, 2: upside down, ...
            photo = photo[:, ::-1] if turn % 2 else photo
            photo = photo[::-1] if turn // 2 % 2 else photo
            part = out[top:top + tile, left:left + tile]
            part[:photo.shape[0], :photo.shape[1]] = photo[:part.shape[0], :part.shape[1]]
            k += 1
    Image.fromarray(out).save(path)


def make_image(source: Path, width: int, height: int, path: Path) -> None:
    if source.is_dir():
        make_mosaic(source, width, height, path)
        return
    base = np.asarray(Image.open(source).convert("RGB"))
    tile = np.concatenate([base, base[:, ::-1]], 1)
    tile = np.concatenate([tile, tile[::-1]], 0)
    reps = (-(-height // tile.shape[0]), -(-width // tile.shape[1]), 1)
    Image.fromarray(np.tile(tile, reps)[:height, :width]).save(path)


def size(text: str) -> tuple[int, int]:
    w, h = text.lower().split("x")
    return int(w), int(h)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("source", type=Path)
    parser.add_argument("--full", type=size, nargs="*", default=[])
    parser.add_argument("--phases", type=size, nargs="*", default=[])
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--model", help="model spec (default: the bundled image model)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/image_memory.json"))
    args = parser.parse_args()
    arzip = [sys.executable, "-m", "arzip.cli"]
    model = ["-m", args.model] if args.model else []
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for (w, h), mode in [(s, "full") for s in args.full] + [(s, "phases")
                                                                for s in args.phases]:
            src = Path(tmp) / f"{w}x{h}.png"
            make_image(args.source, w, h, src)
            row = {"size": f"{w}x{h}", "mode": mode, "png_bytes": src.stat().st_size}
            if mode == "full":
                row["compress_peak_mb"], row["compress_s"], _ = run_measured(
                    arzip + ["compress", "-q", "-f", *model, str(src)])
                row["decompress_peak_mb"], row["decompress_s"], _ = run_measured(
                    arzip + ["decompress", "-q", "-f", *model, "-o", f"{src}.out", f"{src}.arz"])
                assert Path(f"{src}.out").read_bytes() == src.read_bytes()
                info = json.loads(subprocess.run(arzip + ["info", "--json", f"{src}.arz"],
                                                 capture_output=True, check=True).stdout)
                row["archive_bytes"] = Path(f"{src}.arz").stat().st_size
                row["blocks"] = dict(Counter(b["method"] for b in info["blocks"]))
                row["bits_per_subpixel"] = info.get("bits_per_subpixel")
            else:
                row["compress_peak_mb"], row["compress_s"], done = run_measured(
                    arzip + ["compress", "-q", "-f", *model, str(src)], args.seconds)
                row["compress_finished"] = done
                row["decoder_end_peak_mb"], row["decoder_end_s"], _ = run_measured(
                    [sys.executable, "-c", DECODER_END, str(src)])
            rows.append(row)
            print(json.dumps(row), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "cpu_count": os.cpu_count(),
                                    "method": "os.wait4 ru_maxrss of each child"}, indent=1))


if __name__ == "__main__":
    main()
