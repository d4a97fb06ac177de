"""Print the README's result tables (Markdown) from the JSON `arzip bench --json` wrote
(and `arzip likelihood --json` outputs next to it).

    python bench/report.py bench/results/dev.json [--readme README.md]

With --readme, the tables between <!-- results:NAME --> markers in the README are replaced
(--only NAME ...: just those sections, e.g. when one kind was re-run).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from pathlib import Path

ENGLISH = ("alice29.txt", "asyoulik.txt", "lcet10.txt", "plrabn12.txt")
SPEECH = ("cmu_arctic", "fsdd_yweweler")
LIKELIHOOD = ("likelihood_text.json", "likelihood_image.json", "likelihood_audio.json")


def bits(rows: list[dict]) -> float | None:
    """Total file bits / symbols of correctly decoded rows."""
    good = [r for r in rows if r["ok"]]
    symbols = sum(r["symbols"] for r in good)
    return 8 * sum(r["bytes"] for r in good) / symbols if symbols else None


def rows_of(result: dict, kind: str, codec: str | None = None, keep=lambda r: True) -> list:
    return [r for r in result["files"] if r["kind"] == kind
            and (codec is None or r["codec"] == codec) and keep(r)]


def folder(row: dict) -> str:
    return Path(row["file"]).parent.name


def measured_on(result: dict) -> None:
    m = result["machine"]
    print(f"Measured on {m['cpu']}, {m['cores']} cores ({result['jobs']} file(s) at a time, "
          f"each codec run single-threaded), Python {m['python']}, torch {m['torch']}, "
          f"arzip {result['arzip']}; paths: {', '.join(result['paths'])}.\n")


def kind_table(result: dict, kind: str) -> None:
    unit, totals = result["units"][kind], result["totals"][kind]
    arz = totals["arzip"]["bits_per_symbol"]
    print(f"| codec | bits/{unit} | % of raw | size × arzip | encode k{unit}s/s | "
          f"decode k{unit}s/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for codec, t in totals.items():
        name = f"**arzip** ({t['model']})" if codec == "arzip" else codec
        failed = f" ({t['failed']} failed)" if t["failed"] else ""
        b = t["bits_per_symbol"]
        print(f"| {name}{failed} | {_f(b, 3)} | {_f(t['percent_of_raw'], 2)} | "
              f"{_f(b / arz if b and arz else None, 3)} | "
              f"{_f(_k(t['encode_symbols_per_s']), 1)} | {_f(_k(t['decode_symbols_per_s']), 1)} |")
    for codec, why in result["skipped"].get(kind, {}).items():
        print(f"| {codec}: not measured ({why}) | | | | | |")
    a = totals["arzip"]
    if a.get("model_nll_bits"):
        print(f"\nFiles with model-coded data ({a['model_coded_files']} of {a['files']}): NLL "
              f"{a['model_nll_bits']:.0f} bits, coded {a['model_coded_bits']} bits "
              f"({100 * (a['model_coded_bits'] / a['model_nll_bits'] - 1):+.3f}%).")


def folder_table(result: dict, kind: str) -> None:
    codecs, unit = list(result["totals"][kind]), result["units"][kind]
    print(f"\n| folder | files | {unit}s | " + " | ".join(codecs)
          + f" | arzip encode / decode k{unit}s/s |")
    print("|---|---:|---:|" + "---:|" * len(codecs) + "---:|")
    for name in sorted({folder(r) for r in rows_of(result, kind)}):
        here = rows_of(result, kind, "arzip", lambda r, n=name: folder(r) == n)
        cells = [_f(bits(rows_of(result, kind, c, lambda r, n=name: folder(r) == n)), 3)
                 for c in codecs]
        symbols = sum(r["symbols"] for r in here)
        enc, dec = (sum(r[k] for r in here) for k in ("encode_s", "decode_s"))
        print(f"| {name} | {len(here)} | {symbols:,} | " + " | ".join(cells)
              + f" | {symbols / enc / 1000:.1f} / {symbols / dec / 1000:.1f} |")


def subset_line(result: dict, kind: str, label: str, keep, reference: str) -> None:
    codecs = list(result["totals"][kind])
    values = {c: bits(rows_of(result, kind, c, keep)) for c in codecs}
    ref = next(c for c in codecs if c.startswith(reference))
    if values["arzip"] is None or values[ref] is None:
        return
    print(f"\n{label}: " + ", ".join(f"{c} {_f(v, 3)}" for c, v in values.items())
          + f" bits/{result['units'][kind]}; arzip = {values['arzip'] / values[ref]:.3f} × "
            f"{ref}.")


def per_file_table(result: dict, kind: str) -> None:
    codecs = list(result["totals"][kind])
    print("\n| file | bytes | " + " | ".join(codecs) + " |")
    print("|---|---:|" + "---:|" * len(codecs))
    for file in dict.fromkeys(r["file"] for r in rows_of(result, kind)):
        mine = {r["codec"]: r for r in rows_of(result, kind)
                if r["file"] == file}
        print(f"| {Path(file).name} | {mine['arzip']['original_bytes']:,} | "
              + " | ".join(_f(bits([mine[c]]), 3) for c in codecs) + " |")


def likelihood_table(folder_path: Path) -> None:
    found = [folder_path / name for name in LIKELIHOOD if (folder_path / name).exists()]
    if not found:
        return
    print("\n| file | model | unit | NLL bits/symbol | coded | overhead | order-0 entropy |")
    print("|---|---|---|---:|---:|---:|---:|")
    for path in found:
        for r in json.loads(path.read_text()):
            print(f"| {Path(r['file']).name} | {r['model']} | {r['unit']} | "
                  f"{r['nll_bits_per_symbol']:.4f} | {r['coded_bits_per_symbol']:.4f} | "
                  f"{r['overhead_percent']:+.3f}% | {r['order0_bits_per_symbol']:.4f} |")


def _k(value: float | None) -> float | None:
    return None if value is None else value / 1000


def _f(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def sections(path: Path) -> dict[str, str]:
    """The Markdown of each README section: header, one per kind, likelihood."""
    result = json.loads(path.read_text())
    out = {}

    def capture(name: str, *calls) -> None:
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            for call in calls:
                call()
        out[name] = buffer.getvalue().strip("\n")

    capture("header", lambda: measured_on(result))
    for kind in result["totals"]:
        calls = [lambda k=kind: kind_table(result, k), lambda k=kind: folder_table(result, k)]
        if kind == "bytes":
            calls += [lambda: subset_line(result, "bytes", f"English texts ({', '.join(ENGLISH)})",
                                          lambda r: Path(r["file"]).name in ENGLISH, "xz"),
                      lambda: per_file_table(result, "bytes")]
        if kind == "audio":
            calls.append(lambda: subset_line(result, "audio", f"Speech ({' + '.join(SPEECH)})",
                                             lambda r: folder(r) in SPEECH, "flac"))
        capture(kind, *calls)
    capture("likelihood", lambda: likelihood_table(path.parent))
    return out


def update_readme(readme: Path, parts: dict[str, str]) -> None:
    """Replace the text between <!-- results:NAME --> and <!-- /results:NAME --> markers."""
    text = readme.read_text()
    for name, body in parts.items():
        start, end = f"<!-- results:{name} -->", f"<!-- /results:{name} -->"
        if start in text and end in text:
            head, rest = text.split(start, 1)
            text = f"{head}{start}\n{body}\n{end}{rest.split(end, 1)[1]}"
    readme.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("result", type=Path, help="JSON written by arzip bench --json")
    parser.add_argument("--readme", type=Path, help="also update the README's result tables")
    parser.add_argument("--only", nargs="+", metavar="SECTION",
                        help="only these sections (header, bytes, image, audio, likelihood)")
    args = parser.parse_args()
    parts = sections(args.result)
    if args.only:
        parts = {name: body for name, body in parts.items() if name in args.only}
    print("\n\n".join(parts.values()))
    if args.readme:
        update_readme(args.readme, parts)


if __name__ == "__main__":
    main()
