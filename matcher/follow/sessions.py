"""Many live sessions of one reference, served together: one machine, many players.

A live session is a feature stream without a pitch model (``FeatureStream(config,
NoPitch)``) feeding a :class:`~matcher.follow.Follower`. Served one by one, each session
pays numpy's per-call overhead on every hop for a frame or two of work. A
:class:`SessionGroup` computes the new frames of all its sessions in one vectorised
pass (one FFT and one product per filterbank for every session's frames), then runs
each session's follower kernel on its own rows. The reference's arrays, the
filterbanks and the compiled kernels are shared; a session owns its sample buffer and
its follower's band-sized state. Positions are those each session would get alone.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np

from ..features import Frames
from ..features.spectral import SpectralStream, spectral_arrays, spectral_tables
from ..reference import Reference
from .costs import CostWeights
from .follower import Follower, FollowParams, Track, take_inputs
from .prepared import PreparedReference


class SessionGroup:
    """Live sessions following one reference, served together.

    Parameters
    ----------
    reference : Reference
    params : FollowParams, optional
    weights : CostWeights, optional
        As for :class:`~matcher.follow.Follower`; the same for every session.

    Examples
    --------
    >>> group = SessionGroup(reference)
    >>> a, b = group.add(), group.add()
    >>> tracks = group.push({a: block_a, b: block_b})   # each block: mono float32 at config.sr
    >>> tail = group.finish(a)                           # end of a's input: its last frames
    """

    def __init__(
        self, reference: Reference, params: FollowParams | None = None, weights: CostWeights | None = None
    ) -> None:
        self.reference = reference
        self.config = reference.config
        self.params = params or FollowParams.for_reference(reference)
        self.weights = weights or CostWeights()
        self.prepared = PreparedReference.build(reference, self.weights, self.params)
        self.tables = spectral_tables(self.config)
        self._sessions: dict[int, tuple[SpectralStream, Follower]] = {}
        self._ids = itertools.count()

    def __len__(self) -> int:
        return len(self._sessions)

    def __repr__(self) -> str:
        return f"SessionGroup({self.reference.name!r}, sessions={len(self)})"

    def add(self) -> int:
        """A new session; its id."""
        session = next(self._ids)
        # Without a pitch model a settled frame lies n_ahead samples behind the newest audio.
        follower = Follower(
            self.reference, self.params, self.weights, lookahead_samples=self.config.n_ahead, prepared=self.prepared
        )
        self._sessions[session] = (SpectralStream(self.config), follower)
        return session

    def remove(self, session: int) -> None:
        """Forget a session (KeyError if unknown)."""
        del self._sessions[session]

    def follower(self, session: int) -> Follower:
        """The session's follower (to seek it, read its state)."""
        return self._sessions[session][1]

    def push(self, blocks: Mapping[int, np.ndarray]) -> dict[int, Track]:
        """Add each named session's new samples (mono float32 at ``config.sr``); the
        positions of the frames that settled, for the sessions that have any."""
        ready = []
        for session, block in blocks.items():
            stream, _ = self._sessions[session]
            stream.buffer.append(np.asarray(block, np.float32))
            windows = stream.ready_windows()
            if windows is not None:
                ready.append((session, windows))
        return self._follow(ready)

    def finish(self, session: int) -> Track:
        """End of a session's input: the positions of its last frames (the stream pads
        with zeros, as a file's end does); the session is removed."""
        stream, follower = self._sessions[session]
        windows = stream.ready_windows(final=True)
        tracks = self._follow([(session, windows)] if windows is not None else [])
        self.remove(session)
        return tracks.get(session) or follower.steps(Frames.empty(self.config.n_bands))

    def _follow(self, ready: list[tuple[int, np.ndarray]]) -> dict[int, Track]:
        if not ready:
            return {}
        # Every session's new frames in one set of arrays, a session's rows after another's.
        spec = spectral_arrays(self.tables, [(self._sessions[session][0], w) for session, w in ready])
        # Room noise judged for every session's frames at once; each session's kernel
        # brings its levels to the reference's and fades its chroma.
        n = len(spec["db"])
        # No pitch model: every frame unvoiced, as FeatureStream(config, NoPitch) gives it.
        frames = Frames(midi=np.full(n, np.nan, np.float32), confidence=np.zeros(n, np.float32), **spec)
        vectors, db, noise = take_inputs(frames, self.weights)
        tracks, first = {}, 0
        for session, windows in ready:
            rows = slice(first, first + len(windows))
            first += len(windows)
            tracks[session] = self._sessions[session][1].steps_vectors(
                np.ascontiguousarray(vectors[rows]), db[rows], noise[rows]
            )
        return tracks
