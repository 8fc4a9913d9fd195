"""PNG plots of results (matplotlib, imported only when a plot is asked for)."""

from __future__ import annotations

import io
import math
import os
import textwrap
from typing import TYPE_CHECKING

import numpy as np

from .atomic import write_atomic
from .compare import Comparison

if TYPE_CHECKING:
    from .follow import Track
    from .performance import Performance
    from .scoring import Score


def figure_png(fig: object, dpi: int) -> bytes:
    """Lay a matplotlib figure out and render it as PNG bytes."""
    fig.tight_layout()  # type: ignore[attr-defined]
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)  # type: ignore[attr-defined]
    return buf.getvalue()


def comparison_png(comparison: Comparison, dpi: int = 110) -> bytes:
    """Three panels over A's time: the alignment path (B time against A time), B's local
    tempo against A's [%], and each beat's timing deviation [ms]. Returns PNG bytes."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    c = comparison
    al = c.alignment
    fig, (ax_path, ax_tempo, ax_dev) = plt.subplots(
        3, 1, figsize=(10, 9), sharex=True, gridspec_kw={"height_ratios": [1.4, 1, 1]}
    )
    try:
        ax_path.plot(al.a_t, al.b_t, color="C0", lw=1.2, label="alignment path")
        a0, a1 = float(al.a_t[0]), float(al.a_t[-1])
        if c.beats:
            bt = np.array([b.a_t for b in c.beats])
            bb = np.array([b.b_t for b in c.beats])
            steady = bb - np.array([b.dev_ms for b in c.beats]) / 1000.0
            ax_path.plot(bt, steady, color="0.5", ls="--", lw=1, label=f"steady at ratio {c.tempo_ratio:.3f}")
            ax_path.plot(bt, bb, "o", color="C1", ms=3, label="A's beats")
        ax_path.set_ylabel("B time [s]")
        pct = (c.tempo_ratio - 1.0) * 100.0
        names = textwrap.shorten(f"B = {c.b_name}  against  A = {c.a_name}", 110)
        word = "faster" if pct > 0 else "slower"
        ax_path.set_title(f"{names}\nB {abs(pct):.1f} % {word} overall (tempo ratio {c.tempo_ratio:.3f})", fontsize=10)
        ax_path.legend(loc="upper left", fontsize=8)
        ax_path.grid(alpha=0.3)

        pct = (c.tempo_curve - 1.0) * 100.0
        ax_tempo.plot(c.tempo_a_t, pct, color="C2", lw=1.2, label=f"local (smoothed over {c.smooth_s:.1f} s of A)")
        ax_tempo.axhline((c.tempo_ratio - 1.0) * 100.0, color="0.4", ls="--", lw=1, label="overall")
        ax_tempo.axhline(0.0, color="0.8", lw=0.8)
        for p in c.passages:
            ax_tempo.axvspan(p.a_start, p.a_end, color="C3", alpha=0.12)
            ax_tempo.text(
                p.a_start,
                0.02,
                f" bar{'s' if p.first_bar != p.last_bar else ''} {p.bars}",
                transform=ax_tempo.get_xaxis_transform(),
                va="bottom",
                fontsize=7,
            )
        for k, p in enumerate(c.pauses):  # a pause is a moment of A, left out of the curve
            ax_tempo.axvline(
                p.a_t, color="C1", lw=1.5, ls=":", label=f"B pauses ({p.seconds:.1f} s)" if k == 0 else None
            )
        ax_tempo.set_ylabel("B tempo vs A [%]\n(> 0: B faster)")
        ax_tempo.legend(loc="upper right", fontsize=8)
        ax_tempo.grid(alpha=0.3)

        if c.beats:
            bt = np.array([b.a_t for b in c.beats])
            dev = np.array([b.dev_ms for b in c.beats])
            width = 0.8 * float(np.median(np.diff(bt))) if len(bt) > 1 else 0.2
            ax_dev.bar(bt, dev, width=width, color=np.where(dev > 0, "C3", "C0"), align="center")
            for bar in c.bars:
                ax_dev.axvline(bar.a_start, color="0.85", lw=0.6, zorder=0)
        else:
            ax_dev.text(0.5, 0.5, "no beats in A", transform=ax_dev.transAxes, ha="center")
        ax_dev.axhline(0.0, color="0.5", lw=0.8)
        ax_dev.set_ylabel("beat deviation [ms]\n(> 0: B late)")
        ax_dev.set_xlabel("A time [s]")
        ax_dev.set_xlim(a0, a1)
        ax_dev.grid(alpha=0.3, axis="y")
        return figure_png(fig, dpi)
    finally:
        plt.close(fig)


def write_comparison_png(comparison: Comparison, path: str | os.PathLike, dpi: int = 110) -> None:
    """Render :func:`comparison_png` and write it atomically."""
    write_atomic(path, comparison_png(comparison, dpi))


def score_png(score: Score, dpi: int = 110) -> bytes:
    """Timing error per beat (coloured by grade, steadiness as dots, the tolerance band) and
    the take's local tempo against the reference, over take time; pitch per beat when
    measured. Returns PNG bytes."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from .scoring.maths import grade

    c = score.comparison
    has_pitch = any(math.isfinite(b.cents) for b in score.beats)
    rows = 3 if has_pitch else 2
    fig, axes = plt.subplots(rows, 1, figsize=(10, 3 + 2.6 * rows), sharex=True)
    ax_err, ax_tempo = axes[0], axes[1]
    colours = {"green": "#2ca02c", "yellow": "#e6b800", "red": "#d62728", "none": "0.6"}
    try:
        tol = score.tolerance_ms
        take_t = np.array([b.take_t for b in score.beats])
        if len(take_t):
            err = np.array([b.error_ms for b in score.beats])
            steady = np.array([b.steadiness_ms for b in score.beats])
            width = 0.7 * float(np.median(np.diff(take_t))) if len(take_t) > 1 else 0.2
            ax_err.bar(take_t, err, width=width, color=[colours[grade(e, tol)] for e in err], label="error_ms")
            ax_err.plot(take_t, steady, "o", color="0.15", ms=2.5, label="steadiness_ms (own local tempo)")
            for bar in score.bars:
                ax_err.axvline(bar.take_t, color="0.88", lw=0.6, zorder=0)
        else:
            ax_err.text(0.5, 0.5, "no reference beats inside the take", transform=ax_err.transAxes, ha="center")
        ax_err.axhspan(-tol, tol, color="#2ca02c", alpha=0.08, zorder=0)
        ax_err.axhline(0.0, color="0.5", lw=0.8)
        ax_err.set_ylabel("timing error [ms]\n(< 0: early)")
        ax_err.set_title(f"{score.take_name} against {score.ref_name}: {score.sentence()}", fontsize=8, wrap=True)
        if len(take_t):
            ax_err.legend(loc="best", fontsize=8, framealpha=0.7)
        ax_err.grid(alpha=0.3, axis="y")

        curve_t = np.asarray(c.alignment.b_at(c.tempo_a_t), float)
        ax_tempo.plot(curve_t, (c.tempo_curve - 1.0) * 100.0, color="C0", lw=1.2, label="take (smoothed)")
        ax_tempo.axhline((score.tempo_ratio - 1.0) * 100.0, color="0.4", ls="--", lw=1, label="take overall")
        ax_tempo.axhline(0.0, color="0.75", lw=1, label="reference")
        ax_tempo.set_ylabel("tempo vs reference [%]\n(> 0: faster)")
        ax_tempo.legend(loc="upper right", fontsize=8)
        ax_tempo.grid(alpha=0.3)

        for k, p in enumerate(c.pauses):  # shown as pauses: the tempo curve leaves them out
            for ax in axes:
                label = "pause" if k == 0 and ax is ax_tempo else None
                ax.axvspan(p.b_start, p.b_end, color="C1", alpha=0.15, label=label)
        if c.pauses:
            ax_tempo.legend(loc="upper right", fontsize=8)
        if has_pitch:
            ax_pitch = axes[2]
            cents = np.array([b.cents for b in score.beats])
            ax_pitch.plot(take_t, cents, "o-", color="C4", ms=3, lw=0.8)
            ax_pitch.axhline(0.0, color="0.5", lw=0.8)
            ax_pitch.set_ylabel("pitch vs reference\n[cents]")
            ax_pitch.grid(alpha=0.3)
        axes[-1].set_xlabel(f"{score.take_name} (take) time [s]")
        return figure_png(fig, dpi)
    finally:
        plt.close(fig)


def write_score_png(score: Score, path: str | os.PathLike, dpi: int = 110) -> None:
    """Render :func:`score_png` and write it atomically."""
    write_atomic(path, score_png(score, dpi))


def follow_png(track: Track, reference: Performance, dpi: int = 110) -> bytes:
    """Two panels over take time: the followed reference position [s], and the take's
    tempo against the reference per bar [%] with pauses shaded and left out of the tempo
    (:func:`matcher.follow.bar_tempo`): a pause shows as a pause, not as slow playing.
    Returns PNG bytes."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from .follow import bar_tempo, followed_tempo, pause_spans

    frame_s = reference.config.frame_seconds
    fig, (ax_pos, ax_tempo) = plt.subplots(2, 1, figsize=(10, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1.6]})
    try:
        ax_pos.plot(track.t, track.ref_t, color="C0", lw=1.2, label="followed position")
        ax_pos.set_ylabel("reference time [s]")
        ax_pos.set_title(f"following {reference.name}", fontsize=10)
        pct = (followed_tempo(track, frame_s) - 1.0) * 100.0
        ax_tempo.plot(track.t, pct, color="0.6", lw=0.8, label="follower's tempo")
        bars = [b for b in bar_tempo(track, reference) if np.isfinite(b.tempo_ratio)]
        if bars:
            ax_tempo.hlines(
                [b.tempo_dev_pct for b in bars], [b.take_start for b in bars], [b.take_end for b in bars],
                color="C2", lw=2.5, label="per bar (pauses left out)",
            )  # fmt: skip
        for k, (start, end) in enumerate(pause_spans(track, frame_s)):
            for ax in (ax_pos, ax_tempo):
                ax.axvspan(start, end, color="C1", alpha=0.15, label="pause" if k == 0 and ax is ax_tempo else None)
        ax_tempo.axhline(0.0, color="0.8", lw=0.8)
        ax_tempo.set_ylabel("tempo vs reference [%]\n(> 0: faster)")
        ax_tempo.set_xlabel("take time [s]")
        ax_tempo.legend(loc="upper left", fontsize=8)
        ax_pos.legend(loc="upper left", fontsize=8)
        for ax in (ax_pos, ax_tempo):
            ax.grid(alpha=0.3)
        return figure_png(fig, dpi)
    finally:
        plt.close(fig)


def write_follow_png(track: Track, reference: Performance, path: str | os.PathLike, dpi: int = 110) -> None:
    """Render :func:`follow_png` and write it atomically."""
    write_atomic(path, follow_png(track, reference, dpi))
