"""numba kernels of the offline aligner. Only arrays and numbers go in and out; the
checking wrappers live in :mod:`matcher.align`.

The one dynamic-programming kernel, :func:`band_dtw`, fills only the cells of a band
given per row as a column range ``[lo[i], hi[i])``. A full matrix is the band
``lo = 0, hi = m``; the coarse-to-fine aligner (:func:`matcher.align.align_vectors`)
passes the band projected from the path one level coarser. Accumulated costs live in
two row buffers, step directions in one byte per band cell, and local distances are
computed on the fly: memory is ``O(cells in the band)`` bytes, never ``n * m`` floats.

Salvador & Chan (2007), "FastDTW: Toward accurate dynamic time warping in linear time
and space", Intelligent Data Analysis 11(5); Müller, Mattes & Kurth (2006), "An
efficient multiscale approach to audio synchronization", ISMIR.
"""

from __future__ import annotations

import numpy as np
from numba import njit

INF = np.inf

# Step codes kept per band cell.
STEP_DIAG, STEP_VERT, STEP_HORIZ, STEP_START = 0, 1, 2, 3


@njit(cache=True, fastmath=False)
def _dist(X, Y, i, j):
    """Euclidean distance of rows ``X[i]`` and ``Y[j]`` (float64)."""
    s = 0.0
    for k in range(X.shape[1]):
        d = np.float64(X[i, k]) - np.float64(Y[j, k])
        s += d * d
    return np.sqrt(s)


@njit(cache=True)
def band_dtw(X, Y, lo, hi, w_diag, w_vert, w_horiz, open_begin, open_end):
    """DTW of ``X`` (rows, n) against ``Y`` (columns, m) inside a band.

    Steps: diagonal ``(i-1, j-1)``, vertical ``(i-1, j)`` (X advances alone) and
    horizontal ``(i, j-1)`` (Y advances alone), each adding its weight times the local
    distance. ``open_begin``: a path may start at any ``(i, 0)``; ``open_end``: it may end
    at any ``(i, m-1)``; otherwise it runs from ``(0, 0)`` to ``(n-1, m-1)``.

    Returns ``(path_i, path_j, cost, cells)``; an empty path when the band holds no
    connected path.
    """
    n = X.shape[0]
    m = Y.shape[0]
    width = hi - lo
    offsets = np.zeros(n + 1, np.int64)
    for i in range(n):
        offsets[i + 1] = offsets[i] + width[i]
    cells = offsets[n]
    steps = np.empty(cells, np.int8)
    max_w = 1
    for i in range(n):
        if width[i] > max_w:
            max_w = width[i]
    prev = np.full(max_w, INF)
    cur = np.full(max_w, INF)
    best_end = INF
    end_row = -1
    for i in range(n):
        a = lo[i]
        b = hi[i]
        pa = lo[i - 1] if i > 0 else 0
        pb = hi[i - 1] if i > 0 else 0
        base = offsets[i]
        for j in range(a, b):
            d = _dist(X, Y, i, j)
            best = INF
            step = -1
            if i > 0 and j > 0 and pa <= j - 1 < pb:
                c = prev[j - 1 - pa] + w_diag * d
                if c < best:
                    best = c
                    step = STEP_DIAG
            if i > 0 and pa <= j < pb:
                c = prev[j - pa] + w_vert * d
                if c < best:
                    best = c
                    step = STEP_VERT
            if j > a:
                c = cur[j - 1 - a] + w_horiz * d
                if c < best:
                    best = c
                    step = STEP_HORIZ
            if j == 0 and (i == 0 or open_begin) and d <= best:
                best = d
                step = STEP_START
            cur[j - a] = best
            steps[base + j - a] = step
        if b == m and (open_end or i == n - 1):
            c = cur[m - 1 - a]
            if c < best_end or (i == n - 1 and not open_end):
                best_end = c
                end_row = i
        tmp = prev
        prev = cur
        cur = tmp
    if end_row < 0 or best_end == INF:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), INF, cells
    path_i = np.empty(n + m, np.int64)
    path_j = np.empty(n + m, np.int64)
    k = 0
    i = end_row
    j = m - 1
    while True:
        path_i[k] = i
        path_j[k] = j
        k += 1
        step = steps[offsets[i] + j - lo[i]]
        if step == STEP_START:
            break
        if step == STEP_DIAG:
            i -= 1
            j -= 1
        elif step == STEP_VERT:
            i -= 1
        elif step == STEP_HORIZ:
            j -= 1
        else:  # unreachable cell: cannot happen on a finite-cost path
            return np.zeros(0, np.int64), np.zeros(0, np.int64), INF, cells
    return path_i[:k][::-1].copy(), path_j[:k][::-1].copy(), best_end, cells


@njit(cache=True)
def project_band(path_i, path_j, factor, n, m, radius):
    """Column range ``[lo, hi)`` per fine row from a path one level coarser.

    Each coarse cell ``(ci, cj)`` covers the fine block ``ci*factor ..`` x ``cj*factor ..``;
    the covered cells are then dilated by ``radius`` fine frames in every direction.
    Rows the coarse path does not reach (before an open begin, after an open end) get
    the ``radius`` columns next to the nearest end of the path.
    """
    lo = np.full(n, m, np.int64)
    hi = np.zeros(n, np.int64)
    for k in range(len(path_i)):
        r0 = path_i[k] * factor
        r1 = min(r0 + factor, n)
        c0 = path_j[k] * factor
        c1 = min(c0 + factor, m)
        for r in range(r0, r1):
            if c0 < lo[r]:
                lo[r] = c0
            if c1 > hi[r]:
                hi[r] = c1
    first = -1
    last = -1
    for r in range(n):
        if hi[r] > 0:
            if first < 0:
                first = r
            last = r
    for r in range(0, first):
        lo[r] = 0
        hi[r] = 1
    for r in range(last + 1, n):
        lo[r] = m - 1
        hi[r] = m
    # Square dilation by radius: running min of lo / max of hi over rows r-radius..r+radius.
    out_lo = np.empty(n, np.int64)
    out_hi = np.empty(n, np.int64)
    for r in range(n):
        a = max(0, r - radius)
        b = min(n, r + radius + 1)
        mn = lo[a]
        mx = hi[b - 1]  # hi and lo are non-decreasing along a monotone path
        for q in range(a, b):
            if lo[q] < mn:
                mn = lo[q]
            if hi[q] > mx:
                mx = hi[q]
        out_lo[r] = max(0, mn - radius)
        out_hi[r] = min(m, mx + radius)
    # Keep the band connected and monotone.
    for r in range(1, n):
        if out_lo[r] < out_lo[r - 1]:
            out_lo[r] = out_lo[r - 1]
        if out_hi[r] < out_hi[r - 1]:
            out_hi[r] = out_hi[r - 1]
    for r in range(1, n):
        if out_lo[r] > out_hi[r - 1]:
            out_lo[r] = out_hi[r - 1]
    return out_lo, out_hi


@njit(cache=True)
def pool(X, factor):
    """Mean of every ``factor`` consecutive rows (the last group may be shorter)."""
    n = X.shape[0]
    nc = (n + factor - 1) // factor
    out = np.zeros((nc, X.shape[1]), np.float32)
    for c in range(nc):
        r0 = c * factor
        r1 = min(r0 + factor, n)
        for r in range(r0, r1):
            for k in range(X.shape[1]):
                out[c, k] += X[r, k]
        for k in range(X.shape[1]):
            out[c, k] /= r1 - r0
    return out
