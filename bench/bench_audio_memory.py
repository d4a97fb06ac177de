"""Memory of the audio codec on a long file: peak resident memory of `arzip compress` and
`arzip decompress` in a child process, sampled every 0.2 s from /proc.

Anonymous memory (RssAnon) is what the process holds; file-backed pages (RssFile: the
memory-mapped input, the libraries) are page cache the kernel reclaims under pressure.
A generated 48 kHz stereo WAV of --minutes is compressed for at most --seconds (the
lane schedule and memory are the same for every block after the first), and a second
file of --decode-minutes is compressed and decompressed in full. Usage:

    python bench/bench_audio_memory.py [--minutes 60] [--seconds 120] [--decode-minutes 0.5]
        [--out bench/results/audio_memory.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

from arzip.benchmark import machine

RATE = 48000


def write_wav(path: Path, minutes: float) -> int:
    """A stereo 'speechy' WAV (tones in noise), written a minute at a time; returns bytes."""
    rng = np.random.default_rng(0)
    frames = int(minutes * 60 * RATE)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        for start in range(0, frames, 60 * RATE):
            t = np.arange(start, min(frames, start + 60 * RATE))
            tone = 4000 * np.sin(t / 9.0) * (1 + np.sin(t / 24000.0))
            x = np.stack([tone, 0.8 * tone], 1) + rng.normal(0, 40, (len(t), 2))
            w.writeframes(np.clip(np.round(x), -32768, 32767).astype("<i2").tobytes())
    return path.stat().st_size


def peak_memory(args: list[str], seconds: float) -> dict:
    """Run a command, sampling its memory; stop it after `seconds` (0: run to the end)."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = {"rss_anon_mb": 0.0, "rss_file_mb": 0.0, "vm_hwm_mb": 0.0}
    start = time.time()
    while proc.poll() is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text().splitlines()
        except OSError:
            break
        fields = {key: value.split()[0] for key, _, value in
                  (line.partition(":") for line in status) if value.split()}
        for key, name in (("RssAnon", "rss_anon_mb"), ("RssFile", "rss_file_mb"),
                          ("VmHWM", "vm_hwm_mb")):
            if key in fields:
                peak[name] = max(peak[name], int(fields[key]) / 1024)
        if seconds and time.time() - start > seconds:
            proc.kill()
            proc.wait()
            peak["stopped_after_s"] = seconds
            break
        time.sleep(0.2)
    peak["returncode"] = proc.returncode
    peak["wall_s"] = time.time() - start
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--decode-minutes", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=Path("bench/results/audio_memory.json"))
    args = parser.parse_args()
    cli = [sys.executable, "-m", "arzip.cli"]
    result = {"machine": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        long = Path(tmp) / "long.wav"
        size = write_wav(long, args.minutes)
        result["compress_long"] = {"minutes": args.minutes, "file_mb": size / 2 ** 20,
                                   **peak_memory([*cli, "compress", "-q", str(long)],
                                                 args.seconds)}
        long.unlink()
        short = Path(tmp) / "short.wav"
        size = write_wav(short, args.decode_minutes)
        compress = peak_memory([*cli, "compress", "-q", str(short)], 0)
        decompress = peak_memory([*cli, "decompress", "-q", "-o", str(Path(tmp) / "back.wav"),
                                  str(short) + ".arz"], 0)
        same = (Path(tmp) / "back.wav").read_bytes() == short.read_bytes()
        result["full_round_trip"] = {"minutes": args.decode_minutes, "file_mb": size / 2 ** 20,
                                     "compress": compress, "decompress": decompress,
                                     "byte_exact": same}
    print(json.dumps(result, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
