"""Plain-text report tables for the tools (fixed-width columns, one row per line)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .metrics import TOLERANCES_MS


def fmt_pct(x: float | None, digits: int = 0) -> str:
    """``12%``; an em dash for None or NaN."""
    return "—" if x is None or x != x else f"{x:.{digits}f}%"


def fmt_s(x: float) -> str:
    """``1.23 s``; ``never`` for infinity, an em dash for NaN."""
    if x != x:
        return "—"
    return "never" if x == float("inf") else f"{x:.2f} s"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], widths: Sequence[int], indent: int = 2) -> str:
    """Rows of cells right-aligned in ``widths`` (the first column left-aligned).

    Cells are formatted with ``str`` unless they already are strings; floats with one
    decimal.
    """
    if len(header) != len(widths):
        raise ValueError(f"{len(header)} headers for {len(widths)} widths")

    def line(cells: Sequence[Any]) -> str:
        out = []
        for k, (cell, w) in enumerate(zip(cells, widths, strict=True)):
            text = cell if isinstance(cell, str) else f"{cell:.1f}" if isinstance(cell, float) else str(cell)
            out.append(f"{text:<{w}}" if k == 0 else f"{text:>{w}}")
        return " " * indent + "".join(out)

    return "\n".join([line(header), *(line(r) for r in rows)])


def accuracy_table(
    results: dict[str, dict[str, dict[str, Any]]], tolerances_ms: tuple[int, ...] = TOLERANCES_MS
) -> str:
    """{set: {method: :func:`matcher.evaluation.metrics.summarize` figures}} as one table per set."""
    header = ["method", *(f"≤{t} ms" for t in tolerances_ms), "mean ms", "median", "n"]
    widths = [24, *(8 if k == 0 else 9 for k in range(len(tolerances_ms))), 9, 8, 5]
    parts = []
    for set_name, methods in results.items():
        rows = [
            [method, *(fmt_pct(r[f"within_{t}"], 1) for t in tolerances_ms), r["mean_ms"], r["median_ms"], r["n"]]
            for method, r in methods.items()
        ]
        parts.append(f"\n{set_name}\n" + table(header, rows, widths))
    return "\n".join(parts)


def pair_line(set_name: str, name: str, figures: dict[str, Any]) -> str:
    """One pair's shares within 50/100/200 ms and median error on a line."""
    shares = "".join(f"{figures[f'within_{t}']:6.1f}%" for t in TOLERANCES_MS)
    return f"{set_name:<18}{name:<26}{shares}  median {figures['median_ms']:.1f} ms"


def methods_table(res: dict[str, Any], frames: bool = False) -> str:
    """:func:`matcher.evaluation.runs.evaluate_pairs` results as one table per set (rows: methods)."""
    header = [
        "method",
        "≤50 ms",
        "≤100 ms",
        "≤200 ms",
        "mean ms",
        "median",
        *(["frames/s"] if frames else []),
        "s/pair",
    ]
    widths = [16, 8, 9, 9, 9, 8, *([9] if frames else []), 8]
    parts = []
    for set_name, by_method in res["sets"].items():
        n = next(iter(by_method.values()))["n"] if by_method else 0
        rows = []
        for m, r in by_method.items():
            fps = ([f"{r['frames_per_s']:.0f}" if r.get("frames_per_s") else "offline"]) if frames else []
            shares = [fmt_pct(r[f"within_{t}"], 1) for t in TOLERANCES_MS]
            rows.append([m, *shares, r["mean_ms"], r["median_ms"], *fps, r["seconds_per_pair"]])
        parts.append(f"\n{set_name} (n = {n} beats)\n" + table(header, rows, widths))
    return "\n".join(parts)


def per_pair_table(rows: list[dict[str, Any]]) -> str:
    """Each pair's shares within 50 / 100 / 200 ms, one column per method."""
    pairs = list(dict.fromkeys(r["pair"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    lines = ["\nper pair (≤50 / ≤100 / ≤200 ms)", f"  {'pair':<10}" + "".join(f"{m:>22}" for m in methods)]
    for pair in pairs:
        cells = []
        for m in methods:
            r = next(x for x in rows if x["pair"] == pair and x["method"] == m)
            cells.append(f"{r['within_50']:5.0f}/{r['within_100']:4.0f}/{r['within_200']:4.0f}")
        lines.append(f"  {pair:<10}" + "".join(f"{c:>22}" for c in cells))
    return "\n".join(lines)


def jump_table(title: str, rows: dict[str, dict[str, Any]]) -> str:
    """:func:`matcher.evaluation.jump_runs.tables` rows of one set (kinds, "jumps", "all") as a table.

    Columns: scenarios, share re-locked within 2 s, median re-lock time [s], never
    re-locked, share locatable, share re-locked when locatable, largest pause drift [ms],
    pauses held, beats within N ms edited / unedited [%], beats.
    """
    head = f"  {'kind':<10}{'n':>4}{'≤2 s':>8}{'median':>9}{'never':>6}{'loc':>6}{'≤2 s|loc':>10}"
    head += f"{'drift max':>11}{'held':>7}"
    lines = [f"\n{title}", head + "".join(f"{f'≤{m} edit/base':>17}" for m in TOLERANCES_MS) + f"{'beats':>7}"]
    for kind, r in rows.items():
        drift = "—" if r["max_pause_drift_ms"] is None else f"{r['max_pause_drift_ms']:.0f} ms"
        held = "—" if r["pauses_held_pct"] is None else f"{r['pauses_held_pct']:.0f}%"
        line = (
            f"  {kind:<10}{r['scenarios']:>4}{r['relocked_within_goal_pct']:>7.0f}%{fmt_s(r['median_relock_s']):>9}"
            f"{r['never_relocked']:>6}{fmt_pct(r['locatable_pct']):>6}{fmt_pct(r['relocked_when_locatable_pct']):>10}"
            f"{drift:>11}{held:>7}"
        )
        line += "".join(f"{r[f'within_{m}']:>9.1f}/{r[f'base_within_{m}']:>5.1f}%" for m in TOLERANCES_MS)
        lines.append(line + f"{r['beats']:>7}")
    return "\n".join(lines)
