"""JSON lines of positions, formatted column-wise in numpy: byte for byte what
``Position.to_json`` writes (``json.dumps`` of ``round(v, 4)``, NaN as ``null``).

Each line is laid out in a fixed-width byte matrix (constant text, then per number a sign,
ten integer digits, a point and four decimals) with a mask of the bytes that are kept;
the kept bytes in row order are the text. ``repr(round(v, 4))`` is the integer
``k = round(v * 10**4)`` written with its decimals' trailing zeros dropped (one kept),
which holds for |v| < 1e10 (fewer than 16 significant digits, no exponent); values near a
rounding tie, where ``v * 10**4`` in floating point may round the other way than Python's
exact ``round``, and larger ones are formatted by Python.
"""

from __future__ import annotations

import math

import numpy as np

_DIGITS = 10  # integer digits of a number's field
_FIELD = 1 + _DIGITS + 1 + 4  # sign, digits, point, decimals
_POW10 = 10 ** np.arange(_DIGITS - 1, -1, -1, dtype=np.int64)


def float_text(v: float) -> str:
    """``json.dumps(round(v, 4))``, ``null`` for NaN and infinities (the slow path)."""
    return repr(round(v, 4)) if math.isfinite(v) else "null"


def _number_field(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bytes [n, _FIELD], kept [n, _FIELD], slow [n]) of rounded numbers."""
    x = np.asarray(values, np.float64)
    n = len(x)
    with np.errstate(invalid="ignore", over="ignore"):
        s = x * 1e4
        finite = np.isfinite(s)
        frac = s - np.floor(s)
        slow = finite & ((np.abs(s) >= 1e14) | (np.abs(frac - 0.5) <= 1e-12 * (1.0 + np.abs(s))))
        k = np.where(finite & ~slow, np.rint(s), 0.0)
    ak = np.abs(k).astype(np.int64)
    whole, dec = ak // 10000, ak % 10000
    out = np.empty((n, _FIELD), np.uint8)
    keep = np.zeros((n, _FIELD), bool)
    out[:, 0] = ord("-")
    keep[:, 0] = np.signbit(k) & finite
    digits = (whole[:, None] // _POW10) % 10
    out[:, 1 : 1 + _DIGITS] = digits + ord("0")
    keep[:, 1 : 1 + _DIGITS] = whole[:, None] >= _POW10
    keep[:, _DIGITS] = True  # the units digit, 0 too
    out[:, 1 + _DIGITS] = ord(".")
    keep[:, 1 + _DIGITS] = True
    decimals = (dec[:, None] // np.array([1000, 100, 10, 1])) % 10
    out[:, 2 + _DIGITS :] = decimals + ord("0")
    # Decimals up to the last non-zero one; at least one.
    last = np.where(decimals[:, ::-1] != 0, np.arange(4, 0, -1), 0).max(axis=1)
    keep[:, 2 + _DIGITS :] = np.arange(4) < np.maximum(last, 1)[:, None]
    nulls = ~finite
    if nulls.any():
        keep[nulls] = False
        out[nulls, 1:5] = np.frombuffer(b"null", np.uint8)
        keep[nulls, 1:5] = True
    return out, keep, slow


def _text_field(options: list[bytes], choice: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(o) for o in options)
    table = np.zeros((len(options), width), np.uint8)
    mask = np.zeros((len(options), width), bool)
    for i, o in enumerate(options):
        table[i, : len(o)] = np.frombuffer(o, np.uint8)
        mask[i, : len(o)] = True
    return table[choice], mask[choice]


def jsonl(names: list[str], numbers: list[np.ndarray], state: list[str], lost: np.ndarray, frame: np.ndarray) -> str:
    """Lines ``{"<name>": <number>, ..., "state": "<state[lost]>", "frame": <int>}`` as
    ``json.dumps`` of the rounded values writes them, each ending with a newline.

    names, numbers : the float fields in order (each array [shape=(n,)])
    state : the state's text for lost False and True
    lost : bool [shape=(n,)]
    frame : int [shape=(n,)], >= 0
    """
    n = len(lost)
    if n == 0:
        return ""
    frame = np.asarray(frame, np.int64)
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    slow = np.zeros(n, bool)
    for i, (name, values) in enumerate(zip(names, numbers, strict=True)):
        head = ("{" if i == 0 else ", ") + f'"{name}": '
        parts.append(_text_field([head.encode()], np.zeros(n, np.intp)))
        out, keep, s = _number_field(values)
        parts.append((out, keep))
        slow |= s
    choices = [f', "state": "{text}", "frame": '.encode() for text in state]
    parts.append(_text_field(choices, np.asarray(lost, np.intp)))
    slow |= (frame < 0) | (frame >= 10**_DIGITS)
    f = np.clip(frame, 0, None)
    digits = (f[:, None] // _POW10) % 10
    fkeep = f[:, None] >= _POW10
    fkeep[:, -1] = True
    parts.append(((digits + ord("0")).astype(np.uint8), fkeep))
    parts.append(_text_field([b"}\n"], np.zeros(n, np.intp)))
    data = np.concatenate([p[0] for p in parts], axis=1)
    mask = np.concatenate([p[1] for p in parts], axis=1)
    text = data[mask].tobytes().decode("ascii")
    if not slow.any():
        return text
    # Rare rows near a rounding tie (or out of range): Python writes them.
    lines = text.splitlines(keepends=True)
    for r in np.flatnonzero(slow).tolist():
        fields = "".join(
            ("{" if i == 0 else ", ") + f'"{name}": {float_text(float(values[r]))}'
            for i, (name, values) in enumerate(zip(names, numbers, strict=True))
        )
        lines[r] = f'{fields}, "state": "{state[int(lost[r])]}", "frame": {int(frame[r])}}}\n'
    return "".join(lines)


__all__ = ["float_text", "jsonl"]
