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


def measured_on(result: dict, unit: str, extra: str = "") -> None:
    """The machine, parallelism, folders and skipped codecs of a benchmark run."""
    m = result["machine"]
    print(f"Measured on {m['cpu']}, {m['cores']} cores ({result['jobs']} {unit}(s) at a time, "
          f"each codec run single-threaded), Python {m['python']}, torch {m['torch']}; "
          f"folders: {', '.join(result['folders'])}.{extra}\n")
    if result["skipped"]:
        print("Not installed here, so not measured: " + ", ".join(
            f"{k} ({v})" for k, v in result["skipped"].items()) + ".\n")


def image_report(result: dict) -> None:
    """Tables for bench_image.py results: totals, per folder, model NLL vs coded bits."""
    measured_on(result, "image")
    totals = result["totals"]
    print("| codec | bits/subpixel | encode s/image | decode s/image |")
    print("|---|---:|---:|---:|")
    for name, t in totals.items():
        failed = f" ({t['failed']} failed)" if t["failed"] else ""
        print(f"| {name}{failed} | {t['bits_per_subpixel']:.3f} | "
              f"{t['encode_s_per_image']:.2f} | {t['decode_s_per_image']:.2f} |")
    folders = sorted({str(Path(r["file"]).parent) for r in result["files"]})
    print("\n| folder | images | " + " | ".join(totals) + " |")
    print("|---|---:|" + "---:|" * len(totals))
    for folder in folders:
        cells = []
        for name in totals:
            rows = [r for r in result["files"] if r["codec"] == name
                    and str(Path(r["file"]).parent) == folder]
            bits = 8 * sum(r["bytes"] for r in rows) / sum(r["subpixels"] for r in rows)
            cells.append(f"{bits:.3f}")
        count = len([r for r in result["files"] if r["codec"] == "arzip"
                     and str(Path(r["file"]).parent) == folder])
        print(f"| {Path(folder).name} | {count} | " + " | ".join(cells) + " |")
    a = totals["arzip"]
    if "model_nll_bits" in a:
        print(f"\nModel-coded images ({a['model_coded_files']}): NLL {a['model_nll_bits']:.0f} "
              f"bits, coded {a['model_coded_bits']} bits "
              f"(+{100 * (a['model_coded_bits'] / a['model_nll_bits'] - 1):.3f}%).")


SPEECH = ("cmu_arctic", "fsdd_yweweler")


def audio_report(result: dict) -> None:
    """Tables for bench_audio.py results: per folder bits/sample and speed, speech subset."""
    measured_on(result, "file", f" FLAC: {result['flac']}.")
    totals = result["totals"]
    codecs = list(totals["total"])
    print("| set | samples | " + " | ".join(codecs) + " | arzip enc / dec kS/s |")
    print("|---|---:|" + "---:|" * len(codecs) + "---:|")
    for group, t in totals.items():
        a = t["arzip"]
        print(f"| {group} | {a['samples']:,} | "
              + " | ".join(f"{t[c]['bits_per_sample']:.3f}" for c in codecs)
              + f" | {a['encode_samples_per_s'] / 1000:.1f} / "
                f"{a['decode_samples_per_s'] / 1000:.1f} |")
    rows = [r for r in result["files"] if Path(r["file"]).parent.name in SPEECH]
    bits = {c: 8 * sum(r["bytes"] for r in rows if r["codec"] == c)
            / sum(r["samples"] for r in rows if r["codec"] == c) for c in codecs}
    flac = next(c for c in codecs if c.startswith("flac"))
    print(f"\nSpeech ({' + '.join(SPEECH)}): " + ", ".join(f"{c} {b:.3f}" for c, b in bits.items())
          + f" bits/sample; arzip = {bits['arzip'] / bits[flac]:.3f} x FLAC.")
    for group in totals:
        if group != "total":
            mine = totals[group]
            ratio = mine["arzip"]["bits_per_sample"] / mine[flac]["bits_per_sample"]
            print(f"- {group}: arzip = {ratio:.3f} x FLAC")
    a = totals["total"]["arzip"]
    print(f"\nModel-coded files ({a['model_coded_files']}): NLL {a['model_nll_bits']:.0f} bits, "
          f"coded {a['model_coded_bits']} bits "
          f"({100 * (a['model_coded_bits'] / a['model_nll_bits'] - 1):+.3f}%); "
          f"x real time: encode {a['encode_x_realtime']:.2f}, decode {a['decode_x_realtime']:.2f}.")


def main() -> None:
    result = json.loads(Path(sys.argv[1]).read_text())
    if "bits_per_sample" in next(iter(result["totals"].get("total", {"x": {}}).values())):
        audio_report(result)
        return
    if "bits_per_subpixel" in next(iter(result["totals"].values())):
        image_report(result)
        return
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
