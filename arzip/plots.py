"""Pictures of benchmark and likelihood results: a colour scale for heat maps (numpy
only) and the `arzip bench --plot` figure (matplotlib, an optional dependency)."""

from __future__ import annotations

import numpy as np

from .errors import ArzipError

# a perceptually ordered dark -> bright scale (anchors of an inferno-like map)
ANCHORS = np.array([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]],
                   dtype=np.float64)
MISSING = (128, 128, 128)


def heat_colors(values: np.ndarray, vmax: float) -> np.ndarray:
    """RGB uint8 colours (..., 3) of `values` on a scale 0..vmax; NaN -> grey."""
    x = np.clip(np.nan_to_num(values, nan=0.0) / max(vmax, 1e-12), 0.0, 1.0)
    pos = x * (len(ANCHORS) - 1)
    low = np.minimum(pos.astype(int), len(ANCHORS) - 2)
    frac = (pos - low)[..., None]
    rgb = ANCHORS[low] * (1 - frac) + ANCHORS[low + 1] * frac
    rgb[np.isnan(values)] = MISSING
    return np.round(rgb).astype(np.uint8)


def pyplot():
    """matplotlib.pyplot on a file backend, or a clear error if it is not installed."""
    try:
        import matplotlib  # noqa: PLC0415 - optional dependency
    except ImportError:
        raise ArzipError("plots need matplotlib: pip install 'arzip[bench]' "
                         "(or pip install matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def bench_figure(summary: dict[str, dict[str, dict]], units: dict[str, str], path: str) -> None:
    """Bits/symbol of every codec per kind (bars) and size against encode speed (scatter)."""
    plt = pyplot()
    kinds = list(summary)
    fig = plt.figure(figsize=(4.2 * max(2, len(kinds)), 8.5), layout="constrained")
    grid = fig.add_gridspec(2, len(kinds))
    for i, kind in enumerate(kinds):
        ax = fig.add_subplot(grid[0, i])
        names = [c for c, t in summary[kind].items() if t["bits_per_symbol"] is not None]
        values = [summary[kind][c]["bits_per_symbol"] for c in names]
        colours = ["tab:red" if c == "arzip" else "tab:blue" for c in names]
        bars = ax.barh(range(len(names)), values, color=colours, height=0.6)
        ax.bar_label(bars, fmt="%.3f", padding=2, fontsize=8)
        ax.set_yticks(range(len(names)), [_short(c) for c in names], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(f"bits/{units[kind]} (lower is better)")
        ax.set_xlim(0, max(values, default=1) * 1.25)
        ax.set_title(f"{kind}: {next(iter(summary[kind].values()))['files']} file(s)")
    ax = fig.add_subplot(grid[1, :])
    points = [(kind, codec, t["encode_symbols_per_s"], t["percent_of_raw"])
              for kind in kinds for codec, t in summary[kind].items()
              if t["encode_symbols_per_s"]]
    speeds = np.log10([p[2] for p in points]) if points else np.zeros(1)
    sizes = np.array([p[3] for p in points] or [0.0])
    placed: list[tuple[float, float]] = []  # (log speed, size) of labels above their point
    for (kind, codec, speed, size), position in zip(points, speeds, strict=False):
        marker = "osD^v"[kinds.index(kind) % 5]
        ax.scatter(speed, size, marker=marker, s=40,
                   color="tab:red" if codec == "arzip" else "tab:blue")
        # labels of the rightmost points go to their left, inside the axes; a label that
        # would overlap one already above a nearby point goes below its own point
        right = position > speeds.min() + 0.75 * (speeds.max() - speeds.min())
        crowded = any(abs(position - x) < 0.5 and abs(size - y) < 0.05 * np.ptp(sizes) + 1e-9
                      for x, y in placed)
        if not crowded:
            placed.append((position, size))
        ax.annotate(f"{_short(codec)} ({kind})", (speed, size), fontsize=7,
                    xytext=(-4 if right else 4, -10 if crowded else 3),
                    textcoords="offset points", ha="right" if right else "left")
    ax.set_xscale("log")
    ax.margins(x=0.08, y=0.08)
    ax.set_xlabel("encode speed (symbols/s, log scale; symbols = bytes, subpixels, samples)")
    ax.set_ylabel("compressed size (% of raw)")
    ax.set_title("size against speed (arzip in red)")
    ax.grid(True, which="both", alpha=0.3)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _short(codec: str) -> str:
    return codec if len(codec) <= 28 else codec[:27] + "…"
