"""Frames: the per-frame feature arrays everything downstream works on."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass(frozen=True)
class Frames:
    """A run of consecutive feature frames on the configuration's grid.

    Frame ``k`` is centred on sample ``k * hop`` of the (model-rate) audio.

    Attributes
    ----------
    midi : np.ndarray [shape=(n,), float32]
        Pitch in semitones (MIDI note number); NaN where the frame is unvoiced.
    confidence : np.ndarray [shape=(n,), float32]
        Voicing confidence in [0, 1]; 0 where the frame is below the level gate.
    db : np.ndarray [shape=(n,), float32]
        Frame level [dBFS] (mean power of the analysis window).
    onset : np.ndarray [shape=(n,), float32]
        Onset strength: mean over bands of ``flux`` [dB per frame].
    flux : np.ndarray [shape=(n, n_bands), float32]
        Positive difference of log mel-band energies from the previous frame [dB].
    chroma : np.ndarray [shape=(n, 12), float32]
        Chroma energy (not normalised); all zeros when the configuration has no chroma.
    """

    midi: np.ndarray
    confidence: np.ndarray
    db: np.ndarray
    onset: np.ndarray
    flux: np.ndarray
    chroma: np.ndarray

    def __len__(self) -> int:
        return len(self.midi)

    def __repr__(self) -> str:
        voiced = int(np.count_nonzero(~np.isnan(self.midi)))
        return f"Frames(n={len(self)}, voiced={voiced}, bands={self.flux.shape[1]})"

    @property
    def voiced(self) -> np.ndarray:
        return ~np.isnan(self.midi)

    def __getitem__(self, index: slice) -> Frames:
        return Frames(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays by name (for ``np.savez``)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Frames:
        return cls(**{f.name: np.asarray(arrays[f.name]) for f in fields(cls)})

    @classmethod
    def empty(cls, n_bands: int) -> Frames:
        one = np.zeros(0, np.float32)
        return cls(one, one, one, one, np.zeros((0, n_bands), np.float32), np.zeros((0, 12), np.float32))

    @classmethod
    def concat(cls, parts: list[Frames], n_bands: int) -> Frames:
        if not parts:
            return cls.empty(n_bands)
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})
