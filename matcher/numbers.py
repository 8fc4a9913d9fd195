"""Numbers for JSON: rounded, NaN as null (JSON has no NaN), whole beats as integers."""

from __future__ import annotations

import math


def rounded(x: float | None, digits: int) -> float | None:
    """``x`` rounded to ``digits``, or None for None and NaN/inf."""
    return None if x is None or not math.isfinite(x) else round(float(x), digits)


def beat_number(x: float) -> float | int:
    """A beat number: an int when whole (``3``), else rounded to 4 digits (``3.5``)."""
    return int(x) if float(x).is_integer() else round(float(x), 4)


__all__ = ["beat_number", "rounded"]
