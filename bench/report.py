"""Print the README's result tables (Markdown) from the JSON the benchmarks wrote.

    python bench/report.py bench/results/text.json [bench/results/memory.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ENGLISH = ("alice29.txt", "asyoulik.txt", "lcet10.txt", "plrabn12.txt")


def totals_table(result: dict) -> list[str]:
    lines = ["| codec | bits/byte | × xz -9e | encode KB/s | decode KB/s |",
             "|---|---:|---:|---:|---:|"]
    xz = result["totals"]["xz -9e"]["bits_per_byte"]
    for name, t in result["totals"].items():
        lines.append(f"| {name} | {t['bits_per_byte']:.3f} | {t['bits_per_byte'] / xz:.3f} | "
                     f"{t['encode_kb_s']:.1f} | {t['decode_kb_s']:.1f} |")
    return lines


def subset_bits(result: dict, names: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for codec in result["totals"]:
        rows = [r for r in result["files"] if r["codec"] == codec
                and Path(r["file"]).name in names]
        out[codec] = 8 * sum(r["bytes"] for r in rows) / max(1, sum(r["original"] for r in rows))
    return out


def per_file_table(result: dict) -> list[str]:
    codecs = list(result["totals"])
    lines = ["| file | bytes | " + " | ".join(codecs) + " |",
             "|---|---:|" + "---:|" * len(codecs)]
    files = sorted({r["file"] for r in result["files"]})
    for f in files:
        rows = {r["codec"]: r for r in result["files"] if r["file"] == f}
        cells = [f"{8 * rows[c]['bytes'] / max(1, rows[c]['original']):.3f}" for c in codecs]
        lines.append(f"| {Path(f).name} | {rows[codecs[0]]['original']} | "
                     + " | ".join(cells) + " |")
    return lines


def main() -> None:
    result = json.loads(Path(sys.argv[1]).read_text())
    m = result["machine"]
    print(f"Measured on {m['cpu']}, {m['cores']} cores, Python {m['python']}, "
          f"torch {m['torch']}; folders: {', '.join(result['folders'])}.\n")
    print("\n".join(totals_table(result)))
    for folder in result["folders"]:
        names = tuple(Path(r["file"]).name for r in result["files"]
                      if r["codec"] == "arzip" and Path(r["file"]).parent == Path(folder))
        bits = subset_bits(result, names)
        print(f"\n`{Path(folder).name}` alone: " + ", ".join(
            f"{c} {b:.3f}" for c, b in bits.items())
            + f" bits/byte (arzip × xz -9e = {bits['arzip'] / bits['xz -9e']:.3f}).")
    english = subset_bits(result, ENGLISH)
    print(f"\nEnglish texts ({', '.join(ENGLISH)}) together: arzip "
          f"{english['arzip']:.3f} bits/byte, xz -9e {english['xz -9e']:.3f} "
          f"(× {english['arzip'] / english['xz -9e']:.3f}).\n")
    a = result["totals"]["arzip"]
    if "model_nll_bits" in a:
        overhead = 100 * (a["model_coded_bits"] / a["model_nll_bits"] - 1)
        print(f"Model-coded blocks: NLL {a['model_nll_bits']:.0f} bits, coded "
              f"{a['model_coded_bits']} bits (+{overhead:.3f}%).\n")
    print("\n".join(per_file_table(result)))
    if len(sys.argv) > 2:
        mem = json.loads(Path(sys.argv[2]).read_text())
        print("\n| input | compress peak RSS | decompress peak RSS | compress s | decompress s |")
        print("|---:|---:|---:|---:|---:|")
        for r in mem["rows"]:
            print(f"| {r['input_mb']} MB | {r['compress_peak_mb']:.0f} MB | "
                  f"{r['decompress_peak_mb']:.0f} MB | {r['compress_s']:.0f} | "
                  f"{r['decompress_s']:.0f} |")


if __name__ == "__main__":
    main()
