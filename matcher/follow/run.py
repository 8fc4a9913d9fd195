"""Run a follower over a source of audio blocks: the loop shared by file and live input."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..features import FeatureStream, NoPitch
from ..reference import Reference
from .costs import CostWeights
from .follower import Follower, FollowParams, Track
from .tempo import pause_spans, paused_frames, tempo_mask


def follow_blocks(
    reference: Reference,
    blocks: Iterable[np.ndarray],
    params: FollowParams | None = None,
    weights: CostWeights | None = None,
    on_track: Callable[[Track], None] | None = None,
) -> Track:
    """Follow mono float32 blocks at the reference's rate; every frame's position
    (kept in 32-bit numbers, :meth:`Track.compact`).

    ``on_track`` sees each new run of positions as soon as it exists (live display,
    JSON lines). The take's pitch is not computed: the follower's cost does not use it
    (``CostWeights.pitch == 0``), so it need not wait for a pitch model's look-ahead.
    """
    weights = weights or CostWeights()
    config = reference.config
    if weights.pitch > 0:
        from ..features.pitch import load_pitch_model

        stream = FeatureStream(config, load_pitch_model(config, reference.meta.get("pitch_model") or None))
    else:
        stream = FeatureStream(config, NoPitch(config))
    follower = Follower(reference, params, weights, lookahead_samples=stream.lookahead_samples)
    parts: list[Track] = []
    recent: list[Track] = []  # live input brings a frame or two per block: merged in runs of 256

    def feed(frames: Any) -> None:
        if len(frames):
            track = follower.steps(frames)
            recent.append(track)
            if len(recent) >= 256:  # a 1-frame Track costs ~1 kB, merged 29 B a frame
                parts.append(Track.concat(recent).compact())
                recent.clear()
            if on_track is not None:
                on_track(track)

    for block in blocks:
        feed(stream.push(block))
    feed(stream.flush())
    parts.extend(recent)
    if not parts:
        return follower.steps(stream.flush()).compact()  # empty track
    return Track.concat(parts).compact()


def summarize(track: Track, reference: Reference, smooth_s: float = 2.0) -> dict[str, Any]:
    """Closing figures of a followed take: mean tempo deviation and where it was
    fastest/slowest, over the frames whose tempo is playing tempo (pauses, and the
    follower's settling after them, left out: :func:`matcher.follow.tempo.tempo_mask`),
    and the pauses apart (``pauses``, ``paused_s`` [s])."""
    if len(track) == 0:
        return {"frames": 0}
    rate = reference.config.frame_rate
    k = max(1, min(int(smooth_s * rate), len(track)))  # mode='same' returns the longer of the two
    following = ~track.lost
    counts = tempo_mask(track, reference.config.frame_seconds)
    # Smoothed over counted frames only, so a pause's held tempo does not leak into its neighbours.
    kernel = np.ones(k) / k
    weight = np.convolve(counts.astype(np.float64), kernel, mode="same")
    summed = np.convolve(np.where(counts, track.tempo_ratio, 0.0), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        tempo = np.where(weight > 0, summed / weight, np.nan)
    tempo_f = np.where(counts, tempo, np.nan)
    spans = pause_spans(track, reference.config.frame_seconds)
    out: dict[str, Any] = {
        "frames": len(track),
        "take_seconds": round(float(track.t[-1]), 3),
        "ref_reached_s": round(float(track.ref_t[-1]), 3),
        "following_share": round(float(following.mean()), 4),
        "mean_tempo_ratio": round(float(np.nanmean(tempo_f)), 4) if counts.any() else None,
        "pauses": len(spans),
        "paused_s": round(float(paused_frames(track, reference.config.frame_seconds).sum()) / rate, 3),
    }
    if counts.any():
        out["mean_tempo_dev_pct"] = round((out["mean_tempo_ratio"] - 1.0) * 100.0, 2)
        for name, idx in (("fastest", int(np.nanargmax(tempo_f))), ("slowest", int(np.nanargmin(tempo_f)))):
            out[name] = {
                "t": round(float(track.t[idx]), 2),
                "ref_t": round(float(track.ref_t[idx]), 2),
                "bar": None if np.isnan(track.bar[idx]) else int(np.floor(track.bar[idx])),
                "tempo_dev_pct": round(float((tempo[idx] - 1.0) * 100.0), 1),
            }
    return out


def positions_jsonl(track: Track, reference: Reference) -> str:
    """The positions as JSON lines (``follow --jsonl``, the browser's WebSocket); against a
    score each line also carries ``"score"``: the bar as printed, the pass of a repeat,
    the beat in bar and the nearest score note."""
    text = track.to_jsonl()
    if reference.score is None or not text:
        return text
    import json

    from ..notation import score_position

    return "".join(
        f'{line[:-1]}, "score": {json.dumps(score_position(reference.score, float(t)).to_dict())}}}\n'
        for line, t in zip(text.splitlines(), track.ref_t.tolist(), strict=True)
    )
