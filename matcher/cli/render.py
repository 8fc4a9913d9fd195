"""How results look on a terminal: tables, one-line summaries and the live display (rich)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .common import err, out

if TYPE_CHECKING:
    from ..follow import Position
    from ..performance import Performance


def print_live_stats(result: Any, hop_s: float, console: Console) -> None:
    lat, proc = result.latency, result.processing
    if lat["n"]:
        console.print(
            f"latency, block arrival to position: median {lat['median_ms']:.2f} ms, p99 {lat['p99_ms']:.2f} ms, "
            f"max {lat['max_ms']:.2f} ms (at {lat['max_at_s']:.1f} s) over {lat['n']} blocks, "
            f"{lat['over_hop']} longer than the {hop_s * 1000:.0f} ms hop; "
            f"processing: median {proc['median_ms']:.2f} ms, p99 {proc['p99_ms']:.2f} ms"
        )
    else:
        console.print("latency: no block produced a position")
    buffering = "" if result.input_latency_ms is None else f", device buffering {result.input_latency_ms:.1f} ms"
    name = escape(result.device.name) if result.device else "stream"
    console.print(
        f"input: {name} at {result.samplerate} Hz, {result.channels} ch, {result.seconds:.1f} s{buffering}; "
        f"overflows {result.overflows}, dropped blocks {result.dropped_blocks}"
    )


class LiveDisplay:
    """One rich line, refreshed a few times a second: bar, beat, tempo, confidence."""

    def __init__(self, reference: Performance) -> None:
        from rich.live import Live

        self.reference = reference
        self.live = Live(console=err, refresh_per_second=8, transient=False)

    def __enter__(self) -> LiveDisplay:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(*exc)

    def update(self, pos: Position | None, note: str = "") -> None:
        if pos is None:  # a microphone before its first frame
            self.live.update(f"listening…  {note}")
            return
        share = min(1.0, pos.ref_t / max(self.reference.duration, 1e-9))
        width = 30
        bar = "█" * int(share * width) + "·" * (width - int(share * width))
        words = "steady" if abs(pos.tempo_dev_pct) < 3 else ("rushing" if pos.tempo_dev_pct > 0 else "dragging")
        where = f"bar {int(pos.bar)} beat {int((pos.bar % 1) * self.reference.beats.beats_per_bar) + 1}"
        if pos.bar != pos.bar:  # no beats: NaN
            where = f"{pos.ref_t:6.2f} s"
        self.live.update(
            f"{bar} {where}  {pos.ref_t:6.2f} s  tempo {pos.tempo_dev_pct:+5.1f} % ({words})  "
            f"conf {pos.confidence:.2f}  {pos.state}" + (f"  {note}" if note else "")
        )


def print_follow_summary(s: dict[str, Any]) -> None:
    if not s.get("frames"):
        out.print("nothing to follow: the take produced no frames")
        return
    out.print(
        f"followed {s['take_seconds']:.1f} s of take up to {s['ref_reached_s']:.1f} s of reference; "
        f"following {100 * s['following_share']:.0f} % of the time"
    )
    if s.get("pauses"):
        times = "once" if s["pauses"] == 1 else f"{s['pauses']} times"
        out.print(f"paused {times}, {s['paused_s']:.1f} s in all (pauses are not counted as tempo)")
    if "mean_tempo_dev_pct" in s:
        out.print(f"mean tempo deviation {s['mean_tempo_dev_pct']:+.1f} % (take against reference)")
        for name in ("fastest", "slowest"):
            f = s[name]
            where = f"bar {f['bar']}" if f["bar"] is not None else f"{f['ref_t']:.1f} s"
            out.print(f"{name}: {f['tempo_dev_pct']:+.1f} % at {where} (take {f['t']:.1f} s)")


def print_comparison(result: Any) -> None:
    """A table per bar (the passages only, for long pieces) and the summary sentence."""
    rows = result.bars if len(result.bars) <= 40 else [b for b in result.bars if any(
        p.first_bar <= b.bar <= p.last_bar for p in result.passages)]  # fmt: skip
    if rows:
        title = "bars" if len(rows) == len(result.bars) else f"bars where they differ most (of {len(result.bars)})"
        table = Table("bar", "A start", "B start", "B tempo vs A", "max beat dev", "pitch", title=title)
        marked = {b for p in result.passages for b in range(p.first_bar, p.last_bar + 1)}
        for bar in rows:
            tempo = "" if bar.tempo_dev_pct != bar.tempo_dev_pct else f"{bar.tempo_dev_pct + 0.0:+.1f} %"
            cents = "" if bar.cents != bar.cents else f"{round(bar.cents) + 0:+d} ct"
            style = "bold" if bar.bar in marked else None
            table.add_row(
                str(bar.bar), f"{bar.a_start:.2f} s", f"{bar.b_start:.2f} s", tempo, f"{bar.max_dev_ms:.0f} ms", cents,
                style=style,
            )  # fmt: skip
        out.print(table)
    out.print(escape(result.summary()))


_GRADE_STYLE = {"green": "green", "yellow": "yellow", "red": "red", "none": "dim"}


def print_score(result: Any, console: Console) -> None:
    """A table per bar, each beat's error coloured green/yellow/red, and the sentence."""
    from ..scoring import grade

    tol = result.tolerance_ms
    bars = result.bars
    title = f"timing per bar (error ms per beat: green within ±{tol:g}, yellow within ±{2 * tol:g}, red beyond)"
    if len(bars) > 80:  # a long piece: the bars with a beat outside the tolerance
        bars = tuple(b for b in bars if b.within < 1.0)
        title += f"; {len(bars)} of {len(result.bars)} bars with a beat outside ±{tol:g} ms"
    if bars:
        table = Table("bar", "take", "beats: error ms", "mean", "max |steadiness|", "pitch", title=title)
        by_bar: dict[int, list[Any]] = {}
        for b in result.beats:
            by_bar.setdefault(b.bar, []).append(b)
        for bar in bars:
            cells = " ".join(
                f"[{_GRADE_STYLE[grade(b.error_ms, tol)]}]{b.error_ms + 0.0:+.0f}[/]" for b in by_bar.get(bar.bar, [])
            )
            s = bar.max_abs_steadiness_ms
            steady = "" if s != s else f"{s:.0f}"
            cents = "" if bar.cents != bar.cents else f"{round(bar.cents) + 0:+d} ct"
            style = _GRADE_STYLE[grade(bar.mean_abs_error_ms, tol)]
            table.add_row(
                str(bar.bar), f"{bar.take_t:.2f} s", cells, f"[{style}]{bar.mean_error_ms + 0.0:+.0f}[/]", steady, cents
            )
        console.print(table)
    console.print(escape(result.sentence()))


def print_score_practice(result: Any, console: Console) -> None:
    """A take against a score: one row per score onset that was not played in time
    (missed, unclear, or off by more than the tolerance), coloured, then the sentence."""
    from ..scoring import grade

    tol = result.tolerance_ms
    rows = [n for n in result.notes if n.status != "played" or n.timing_ms is None or abs(n.timing_ms) > tol]
    if rows:
        title = f"score onsets not played within ±{tol:g} ms ({len(rows)} of {len(result.notes)})"
        table = Table("bar", "beat", "notes", "take", "status", "timing ms", "cents", title=title)
        for n in rows:
            bar = n.bar if n.pass_ == 1 else f"{n.bar} (pass {n.pass_})"
            timing = "" if n.timing_ms is None else f"[{_GRADE_STYLE[grade(n.timing_ms, tol)]}]{n.timing_ms:+.0f}[/]"
            cents = "" if n.cents is None else f"{n.cents:+.0f}"
            table.add_row(escape(bar), f"{n.beat:.2f}", escape(n.notes), f"{n.take_t:.2f} s", n.status, timing, cents)
        console.print(table)
    console.print(escape(result.sentence()))
