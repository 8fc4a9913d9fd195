"""PNG plots of results (matplotlib, imported only when a plot is asked for)."""

from __future__ import annotations

import io
import os
import textwrap

import numpy as np

from .compare import Comparison, write_atomic


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
