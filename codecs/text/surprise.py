"""The bytes likelihood map: an HTML page with the text, every character coloured by the
bits the model spent on it (hover for its bits)."""

from __future__ import annotations

import html

import numpy as np

from arzip.plots import heat_colors

ROW = "byte"
SUFFIX = ".html"
LEVELS = 16  # colour classes from 0 to MAX_BITS bits/byte
MAX_BITS = 8.0
PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; background: #fafafa; }}
.text {{ font-family: monospace; white-space: pre-wrap; line-height: 1.45;
         background: #fff; padding: 1em; border: 1px solid #ddd; }}
.gap {{ color: #888; font-style: italic; margin: .6em 0; }}
.text i {{ font-style: normal; }}
.legend span {{ display: inline-block; padding: 0 .45em; font-family: monospace; }}
{classes}
</style></head><body>
<h2>{title}</h2>
<p>{summary}</p>
<p class="legend">bits/byte of each character (its bytes' average): {legend}</p>
<div class="text">{body}</div>
</body></html>
"""


def _classes() -> str:
    colours = heat_colors(np.arange(LEVELS) + 0.5, LEVELS)
    rules = []
    for level, (r, g, b) in enumerate(colours):
        ink = "#000" if level >= LEVELS // 2 else "#fff"
        rules.append(f".c{level} {{ background: rgb({r},{g},{b}); color: {ink}; }}")
    return "\n".join(rules)


def _legend() -> str:
    step = MAX_BITS / LEVELS
    return "".join(f'<span class="c{level}">{level * step:g}</span>'
                   for level in range(0, LEVELS, 2)) + f" … {MAX_BITS:g}+"


def _characters(data: bytes) -> list[tuple[str, int]]:
    """(shown text, byte length) of each character: UTF-8 where it decodes, \\xNN else."""
    out: list[tuple[str, int]] = []
    for ch in data.decode("utf-8", errors="surrogateescape"):
        if ch == "\n" and out and out[-1] == ("\\r", 1):  # CR LF: one line break
            out[-1] = ("\n", 2)
        elif ch == "\r":
            out.append(("\\r", 1))
        elif "\udc80" <= ch <= "\udcff":
            out.append((f"\\x{ord(ch) - 0xDC00:02x}", 1))
        elif ch.isprintable() or ch in "\n\t":
            out.append((ch, len(ch.encode("utf-8"))))
        else:
            out.append((f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}",
                        len(ch.encode("utf-8"))))
    return out


def _segment_html(data: bytes, bits: np.ndarray) -> str:
    parts, pos = [], 0
    for shown, size in _characters(data):
        spent = float(bits[pos:pos + size].sum())
        level = min(LEVELS - 1, int(spent / size / MAX_BITS * LEVELS))
        parts.append(f"<i class=c{level} title={spent:.2f}>{html.escape(shown)}</i>")
        pos += size
    return "".join(parts)


def render(evaluation, path: str) -> str:
    """Write the page; returns what it shows in words."""
    data, bits = evaluation.values.tobytes(), evaluation.bits
    body, last = [], 0
    for start, stop in evaluation.segments:
        if start > last:
            body.append(f'<div class="gap">[{start - last:,} bytes not sampled]</div>')
        body.append(_segment_html(data[start:stop], bits[start:stop]))
        last = stop
    if last < len(data):
        body.append(f'<div class="gap">[{len(data) - last:,} bytes not sampled]</div>')
    summary = (f"model {html.escape(evaluation.model)}: "
               f"{evaluation.per_symbol(evaluation.nll_bits):.3f} bits/byte "
               f"(coded {evaluation.per_symbol(evaluation.coded_bits):.3f}, order-0 entropy "
               f"{evaluation.per_symbol(evaluation.order0_bits):.3f}); "
               f"{html.escape(evaluation.sampling)}")
    title = html.escape(f"Where the bits go: {evaluation.file or 'input'}")
    with open(path, "w", encoding="utf-8") as f:
        f.write(PAGE.format(title=title, summary=summary, legend=_legend(),
                            classes=_classes(), body="".join(body)))
    return f"HTML page, {LEVELS} colour levels from 0 to {MAX_BITS:g}+ bits/byte"
