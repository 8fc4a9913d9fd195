"""The words of a score: one sentence of facts for people (no advice)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .maths import NOTE_MENTION_CENTS, TREND_MIN_PCT

if TYPE_CHECKING:
    from .results import Score


def sentence(score: Score) -> str:
    """What the score found, in one sentence: the share of beats in time, the passages
    rushed or dragged, the tempo against the reference and its trend, and the pitch."""
    s, tol = score.summary, score.tolerance_ms
    if not score.beats:
        return f"No beat of {score.ref_name} falls inside {score.take_name}: nothing to score."
    parts = [
        f"{100 * s['within_tolerance']:.0f} % of {s['beats']} beats within ±{tol:g} ms "
        f"(mean error {s['mean_abs_error_ms']:.0f} ms)"
    ]
    for p in s["passages"]:
        word = "rushed" if p["mean_error_ms"] < 0 else "dragged"
        where = f"bar {p['first_bar']}" if p["first_bar"] == p["last_bar"] else f"bars {p['bars']}"
        parts.append(f"{where} {word} by {abs(p['mean_error_ms']):.0f} ms on average")
    ratio = score.tempo_ratio
    if score.meta.get("tempo") == "given":
        pace = f"errors measured at {100 * ratio:.0f} % of the reference's tempo"
    elif not math.isfinite(ratio):
        pace = ""
    elif abs(ratio - 1) < 0.005:
        pace = "the same tempo as the reference overall"
    else:
        pace = f"{abs(ratio - 1) * 100:.0f} % {'faster' if ratio > 1 else 'slower'} than the reference overall"
    trend = s["trend"]
    if trend["tempo_change_pct"] is not None:
        change = trend["tempo_change_pct"]
        if trend["label"] == "steady":
            text = f"tempo steady over the take (within {TREND_MIN_PCT:g} %)"
        else:
            text = f"tempo {'rose' if change > 0 else 'fell'} {abs(change):.0f} % over the take"
        parts.append(f"{text}, {pace}" if pace else text)
    elif pace:
        parts.append(pace)
    pitch = s["pitch"]
    if pitch is not None:
        c = pitch["median_cents"]
        side = "sharp" if c > 0 else "flat"
        text = "pitch within 1 cent (median)" if abs(c) < 1 else f"pitch {abs(c):.0f} cents {side} (median)"
        notes = [n for n in pitch["out_of_tune"] if abs(n["cents"]) >= NOTE_MENTION_CENTS]
        if notes:
            n = notes[0]
            where = f"bar {n['bar']}" if n["bar"] is not None else f"{n['take_t']:.1f} s"
            text += f", most out of tune {n['note']} in {where} ({n['cents']:+.0f} cents)"
        parts.append(text)
    return "; ".join(parts) + "."


__all__ = ["sentence"]
