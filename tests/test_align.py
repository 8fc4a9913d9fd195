"""Offline alignment: the banded kernel against dtw-python on the same costs, textbook
paths, coarse-to-fine agreement with the full matrix, open ends, linear memory, and
the checking wrapper's refusals."""

from __future__ import annotations

from dataclasses import replace as dataclasses_replace

import dtw
import numpy as np
import pytest
from scipy.spatial.distance import cdist

from matcher import ParameterError
from matcher.align import (
    BANDED_PATTERNS,
    Alignment,
    AlignParams,
    AlignWeights,
    align_vectors,
    chroma_onsets,
    feature_vectors,
    monotone_map,
)
from matcher.align_kernels import band_dtw, pool, project_band

FS = 0.016


def full_band(n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(n, np.int64), np.full(n, m, np.int64)


def warped_walk(rng: np.random.Generator, n: int, d: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A smooth random feature sequence X and Y = X read along a known smooth warp; also the
    warp itself (for each Y frame, its fractional X frame)."""
    steps = rng.normal(0, 1, (n, d))
    X = np.cumsum(steps, axis=0)
    X = np.vstack([np.convolve(col, np.ones(5) / 5, mode="same") for col in X.T]).T
    m = int(n * 0.8)
    u = np.linspace(0, 1, m)
    warp = (n - 1) * (u + 0.08 * np.sin(2 * np.pi * u))  # monotone: derivative 1 + 0.5 cos > 0
    Y = np.vstack([np.interp(warp, np.arange(n), col) for col in X.T]).T
    return X.astype(np.float32), Y.astype(np.float32), warp


# -- the kernel against dtw-python -----------------------------------------------------


@pytest.mark.parametrize("pattern", sorted(BANDED_PATTERNS))
def test_full_band_equals_dtw_python(rng: np.random.Generator, pattern: str) -> None:
    X = rng.normal(size=(37, 5)).astype(np.float32)
    Y = rng.normal(size=(29, 5)).astype(np.float32)
    lo, hi = full_band(len(X), len(Y))
    pi, pj, cost, cells = band_dtw(X, Y, lo, hi, *BANDED_PATTERNS[pattern], False, False)
    ref = dtw.dtw(cdist(X.astype(np.float64), Y.astype(np.float64)), step_pattern=pattern)
    assert cells == len(X) * len(Y)
    assert cost == pytest.approx(ref.distance, rel=1e-6)
    np.testing.assert_array_equal(pi, ref.index1)
    np.testing.assert_array_equal(pj, ref.index2)


def test_textbook_path_and_zero_cost() -> None:
    X = np.array([[0.0], [1.0], [2.0], [3.0]], np.float32)
    Y = np.array([[0.0], [0.0], [1.0], [2.0], [2.0], [3.0]], np.float32)
    lo, hi = full_band(4, 6)
    pi, pj, cost, _ = band_dtw(X, Y, lo, hi, 1.0, 1.0, 1.0, False, False)
    assert cost == 0.0
    assert list(zip(pi.tolist(), pj.tolist(), strict=True)) == [(0, 0), (0, 1), (1, 2), (2, 3), (2, 4), (3, 5)]


def test_open_begin_and_end_find_the_excerpt(rng: np.random.Generator) -> None:
    X, _, _ = warped_walk(rng, 300)
    Y = X[100:220]  # B is an excerpt of A
    for method in ("dtw", "banded"):
        al = align_vectors(
            X, Y, FS, AlignParams(method=method, open_begin=True, open_end=True, coarse_cells=2000, radius=8)
        )
        assert abs(al.a_frames[0] - 100) <= 1, method
        assert abs(al.a_frames[-1] - 219) <= 1, method
        assert al.b_frames[0] == 0 and al.b_frames[-1] == len(Y) - 1


def test_closed_ends_span_both_sequences(rng: np.random.Generator) -> None:
    X, Y, _ = warped_walk(rng, 200)
    al = align_vectors(X, Y, FS, AlignParams(method="banded", coarse_cells=1000))
    assert (al.a_frames[0], al.b_frames[0]) == (0, 0)
    assert (al.a_frames[-1], al.b_frames[-1]) == (len(X) - 1, len(Y) - 1)
    assert np.all(np.diff(al.a_frames) >= 0) and np.all(np.diff(al.b_frames) >= 0)
    assert np.all(np.diff(al.a_frames) + np.diff(al.b_frames) >= 1)


# -- coarse to fine ----------------------------------------------------------------------


def test_banded_agrees_with_full_matrix(rng: np.random.Generator) -> None:
    X, Y, warp = warped_walk(rng, 1500)
    full = align_vectors(X, Y, FS, AlignParams(method="dtw"))
    banded = align_vectors(X, Y, FS, AlignParams(method="banded", coarse_cells=10_000, radius=16))
    assert banded.method == "banded" and full.method == "dtw"
    assert banded.cells < full.cells / 10
    grid = np.arange(len(Y)) * FS
    diff = np.abs(banded.a_at(grid) - full.a_at(grid)) / FS
    assert np.mean(diff <= 1.0) >= 0.99
    # and both recover the known warp
    assert np.median(np.abs(banded.a_at(grid) / FS - warp)) < 1.0


def test_banded_memory_grows_linearly(rng: np.random.Generator) -> None:
    cells = []
    for n in (1000, 4000):
        X, Y, _ = warped_walk(rng, n)
        cells.append(align_vectors(X, Y, FS, AlignParams(method="banded", coarse_cells=20_000, radius=16)).cells)
    assert cells[1] <= 4.6 * cells[0]  # 4x the frames: about 4x the band, never 16x


def test_project_band_covers_the_coarse_path_and_stays_monotone() -> None:
    ci = np.array([0, 1, 1, 2, 3, 4])
    cj = np.array([0, 0, 1, 2, 3, 4])
    lo, hi = project_band(ci, cj, 2, 10, 10, 1)
    for i, j in zip(ci, cj, strict=True):
        for r in range(2 * i, 2 * i + 2):
            assert lo[r] <= 2 * j and hi[r] >= 2 * j + 2
    assert np.all(np.diff(lo) >= 0) and np.all(np.diff(hi) >= 0)
    assert lo[0] == 0 and hi[-1] == 10


def test_pool_means_groups() -> None:
    X = np.arange(10, dtype=np.float32).reshape(5, 2)
    np.testing.assert_allclose(pool(X, 2), [[1, 2], [5, 6], [8, 9]])


# -- the time map ------------------------------------------------------------------------


def test_monotone_map_takes_run_midpoints() -> None:
    a, b = monotone_map(np.array([0, 1, 2, 3, 3, 3, 4]), np.array([0, 0, 0, 1, 2, 3, 4]), 1.0)
    # B frame 0 holds while A runs 0..2: one point at A 1; A frame 3 holds while B runs 1..3: B 2
    np.testing.assert_allclose(a, [1, 3, 4])
    np.testing.assert_allclose(b, [0, 2, 4])


def test_alignment_maps_both_ways(rng: np.random.Generator) -> None:
    X, Y, _ = warped_walk(rng, 300)
    al = align_vectors(X, Y, FS)
    assert isinstance(al, Alignment) and "Alignment(" in repr(al)
    assert np.all(np.diff(al.a_t) > 0) and np.all(np.diff(al.b_t) > 0)
    t = float(al.a_t[len(al.a_t) // 2])
    assert al.a_at(al.b_at(t)) == pytest.approx(t, abs=1e-9)
    d = al.to_dict()
    assert set(d) >= {"method", "path", "cost", "cells"} and len(d["path"]) == len(al.a_t)


# -- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"method": "fast"},
        {"method": "banded", "step_pattern": "asymmetric"},
        {"radius": 0},
        {"memory_mb": 0},
        {"window_s": -1.0},
        {"onset_anchors": 0.0},
        {"chroma_onsets": 0.0},
    ],
)
def test_bad_params_are_refused(kwargs: dict) -> None:
    with pytest.raises(ParameterError):
        AlignParams(**kwargs)


def test_bad_weights_are_refused() -> None:
    with pytest.raises(ParameterError, match="all zero"):
        AlignWeights(flux=0, chroma=0, pitch=0)
    with pytest.raises(ParameterError, match="chroma"):
        AlignWeights(chroma=-1)


def test_bad_vectors_are_refused(rng: np.random.Generator) -> None:
    X = rng.normal(size=(20, 4)).astype(np.float32)
    with pytest.raises(ParameterError, match="equal widths"):
        align_vectors(X, X[:, :3], FS)
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ParameterError, match="NaN"):
        align_vectors(X, bad, FS)
    with pytest.raises(ParameterError, match="at least 2 frames"):
        align_vectors(X, X[:1], FS)
    with pytest.raises(ParameterError, match="budget"):
        align_vectors(X, X, FS, AlignParams(method="dtw", memory_mb=1e-6))
    with pytest.raises(ParameterError, match="step pattern"):
        align_vectors(X, X, FS, AlignParams(method="dtw", step_pattern="nonsense"))


# -- onset anchors -------------------------------------------------------------------------


def unpitched_frames(flux: np.ndarray, chroma: np.ndarray, db: float = -20.0):
    """Frames of the given flux [shape=(n, 84)] and chroma [shape=(n, 12)], every frame
    ``db`` [dBFS] loud and unvoiced."""
    from matcher import Frames

    n = len(flux)
    flux = flux.astype(np.float32)
    return Frames(
        midi=np.full(n, np.nan, np.float32),
        confidence=np.zeros(n, np.float32),
        db=np.full(n, db, np.float32),
        onset=flux.mean(axis=1),
        flux=flux,
        chroma=chroma.astype(np.float32),
    )


def frames_with_onsets(n: int, peaks: dict[int, float], rng: np.random.Generator):
    """Frames whose flux norm is low noise except at ``peaks`` {frame: height}."""
    flux = np.abs(rng.normal(0, 0.01, (n, 84))).astype(np.float32)
    for k, height in peaks.items():
        flux[k] += height / np.sqrt(84)
    return unpitched_frames(flux, np.zeros((n, 12)))


def identity_alignment(n: int) -> Alignment:
    k = np.arange(n)
    a_t, b_t = monotone_map(k, k, FS)
    return Alignment(k, k, a_t, b_t, FS, 0.0, "dtw", n * n)


def test_onset_anchors_interpolate_between_onsets(rng: np.random.Generator) -> None:
    from matcher.align import onset_anchored

    n = 300
    a = frames_with_onsets(n, {50: 10.0, 250: 10.0}, rng)
    al = identity_alignment(n)
    al = dataclasses_replace(al, b_t=al.b_t + 0.002 * np.sin(al.a_t * 40))  # a wiggly path between onsets
    out = onset_anchored(al, a, a, -50.0, 1.0, None)
    assert len(out.a_t) <= 6  # both ends and the onsets
    grid = np.arange(60, 240) * FS
    linear = np.interp(grid, [50 * FS, 250 * FS], [al.b_at(50 * FS), al.b_at(250 * FS)])
    assert np.abs(al.b_at(grid) - linear).max() > 1e-3  # the path wiggles between the onsets
    assert np.abs(out.b_at(grid) - linear).max() < 1e-4  # the anchored map does not


def test_an_onset_only_one_recording_has_is_no_anchor(rng: np.random.Generator) -> None:
    from matcher.align import onset_anchored

    n = 300
    a = frames_with_onsets(n, {50: 10.0, 250: 10.0}, rng)
    b = frames_with_onsets(n, {50: 10.0, 150: 10.0, 250: 10.0}, rng)  # B's noise burst at 150
    al = identity_alignment(n)
    al = dataclasses_replace(al, b_t=al.b_t + 0.002 * np.sin(al.a_t * 40))
    out = onset_anchored(al, a, b, -50.0, 1.0, None)
    inner = out.b_t[1:-1]
    assert np.min(np.abs(inner - 50 * FS)) < 2 * FS and np.min(np.abs(inner - 250 * FS)) < 2 * FS
    assert np.min(np.abs(inner - 150 * FS)) > 20 * FS  # B's lone peak is not kept
    both = onset_anchored(al, b, b, -50.0, 1.0, None)  # where both have it, it is
    assert np.min(np.abs(both.b_t - 150 * FS)) < 2 * FS


def test_kept_at_keeps_the_path_at_given_times_and_is_linear_between() -> None:
    from matcher.align import kept_at

    al = identity_alignment(300)
    al = dataclasses_replace(al, b_t=al.b_t + 0.02 * np.sin(al.a_t * 40))  # a wiggly path
    points = np.array([100 * FS, 50 * FS, 100 * FS, 250 * FS, 400 * FS])  # unsorted, repeated, one beyond
    out = kept_at(al, points)
    np.testing.assert_allclose(out.a_t, [0.0, 50 * FS, 100 * FS, 250 * FS, al.a_t[-1]])
    np.testing.assert_allclose(out.b_t, al.b_at(out.a_t))
    assert np.all(np.diff(out.b_t) > 0)
    grid = np.arange(110, 240) * FS
    linear = np.interp(grid, [100 * FS, 250 * FS], [al.b_at(100 * FS), al.b_at(250 * FS)])
    assert np.abs(al.b_at(grid) - linear).max() > 1e-2
    assert np.abs(out.b_at(grid) - linear).max() < 1e-9


def test_a_spread_chord_meets_the_other_in_the_middle(rng: np.random.Generator) -> None:
    from matcher.align import onset_anchored

    n = 400
    # A plays the melody 80 ms (5 frames) before the accompaniment; B plays both at frame 200
    a = frames_with_onsets(n, {100: 8.0, 195: 12.0, 200: 6.0, 300: 8.0}, rng)
    b = frames_with_onsets(n, {100: 8.0, 195: 14.0, 300: 8.0}, rng)
    al = identity_alignment(n)  # the path pairs B's chord with A's louder first onset
    out = onset_anchored(al, a, b, -50.0, 1.0, 2.0)
    assert out.a_at(195 * FS) == pytest.approx(197.5 * FS)
    plain = onset_anchored(al, a, b, -50.0, 1.0, None)
    assert plain.a_at(195 * FS) == pytest.approx(195 * FS)
    # two peaks 2 frames apart are one onset detected twice, not a spread chord
    a2 = frames_with_onsets(n, {100: 8.0, 195: 12.0, 197: 11.0, 300: 8.0}, rng)
    assert onset_anchored(al, a2, b, -50.0, 1.0, 2.0).a_at(195 * FS) == pytest.approx(195 * FS)


def test_noise_flux_is_taken_off_before_the_alignment(yin_config, yin_model) -> None:
    """A file's steady noise makes flux in every band; the aligner learns it from the
    quietest frames and takes it off, so a noisy take's vectors come closer to the clean ones."""
    from matcher import extract
    from matcher.align import feature_vectors
    from matcher.features.vectors import cost_vectors, flux_scale, noise_flux
    from matcher.synth import TempoMap, melody, render

    notes = melody(8, 4, seed=3)
    tempo = TempoMap((0.0, 32.0), (100.0, 100.0))
    clean = extract([render(notes, tempo, yin_config.sr)], yin_config, yin_model)
    noisy = extract([render(notes, tempo, yin_config.sr, noise_db=10.0, seed=1)], yin_config, yin_model)
    gate, weights = yin_config.gate_db, AlignWeights()
    assert noise_flux(clean, gate).max() < 0.1  # between a clean recording's notes: no rises
    noise = noise_flux(noisy, gate)
    # White noise 10 dB down: a band wanders by dBs from frame to frame, by less under the
    # front end's noise floor (Config.noise_floor; measured 0.48 with it, 1.29 without).
    assert noise.min() > 0.3
    n, bands = min(len(clean), len(noisy)), clean.flux.shape[1]
    target = feature_vectors(clean, weights, gate)[:n, :bands]
    plain = cost_vectors(noisy, weights, flux_scale(noisy, gate))[:n, :bands]
    taken_off = feature_vectors(noisy, weights, gate)[:n, :bands]
    assert np.allclose(taken_off, cost_vectors(noisy, weights, flux_scale(noisy, gate, noise), noise)[:n, :bands])
    assert np.linalg.norm(taken_off - target) < 0.95 * np.linalg.norm(plain - target)


def test_onset_peaks_stand_out_of_a_held_notes_own_flux(yin_config, yin_model) -> None:
    """A held note with breath noise and a slight tremolo makes flux peaks all along;
    only the next note's onset stands out of them (practice's missed-note evidence)."""
    from matcher import extract
    from matcher.align import onset_peaks

    sr, fs = yin_config.sr, yin_config.frame_seconds
    t = np.arange(2 * sr) / sr
    tremolo = 1.0 + 0.1 * np.sin(2 * np.pi * 6.0 * t)
    held = 0.2 * np.sin(2 * np.pi * 523.25 * t) * tremolo + np.random.default_rng(1).normal(0, 0.05, len(t))
    struck = 0.5 * np.sin(2 * np.pi * 659.26 * t[:sr]) * np.exp(-t[:sr] / 0.5)
    frames = extract([np.concatenate([held, struck]).astype(np.float32)], yin_config, yin_model)

    def peaks(background: int) -> np.ndarray:
        found = onset_peaks(frames, yin_config.gate_db, 1.0, background_frames=background) * fs
        return found[(found > 0.2) & (found < 2.2)]

    everywhere = peaks(0)
    assert np.sum(everywhere < 1.9) > 5 and np.min(np.abs(everywhere - 2.0)) < 0.05
    standing_out = peaks(round(0.25 / fs))
    assert len(standing_out) == 1 and abs(standing_out[0] - 2.0) < 0.05


def test_a_quieter_take_is_aligned_as_at_the_references_level(yin_config, yin_model) -> None:
    """The gate and the chroma's fade are absolute [dBFS]: of two recordings, the quieter
    one is brought up to the louder one's loud level first, so a take recorded 20 dB
    quieter gives the vectors and the map of the same take at full level."""
    from matcher import extract
    from matcher.align import align_frames, feature_vectors, level_matched
    from matcher.features.level import loud_level
    from matcher.synth import TempoMap, melody, render

    notes = melody(8, 4, seed=5)
    ref = extract([render(notes, TempoMap((0.0, 32.0), (100.0, 100.0)), yin_config.sr)], yin_config, yin_model)
    take_audio = render(notes, TempoMap((0.0, 16.0, 32.0), (90.0, 115.0, 95.0)), yin_config.sr, timbre=1)
    full = extract([take_audio], yin_config, yin_model)
    quiet = extract([take_audio * np.float32(0.1)], yin_config, yin_model)
    gate, weights = yin_config.gate_db, AlignWeights()
    same_full, raised = level_matched(full, quiet)
    assert same_full is full  # the louder one stays as it is
    # (within a fraction of a dB: decays under digital silence's level count once moved up)
    assert loud_level(raised.db) == pytest.approx(loud_level(full.db), abs=0.25)
    # Not raised, the quiet take's soft frames fade out of the chroma.
    target = feature_vectors(full, weights, gate)
    unraised = np.linalg.norm(feature_vectors(quiet, weights, gate) - target)
    assert np.linalg.norm(feature_vectors(raised, weights, gate) - target) < 0.05 * unraised
    a_full, a_quiet = align_frames(ref, full, yin_config), align_frames(ref, quiet, yin_config)
    probe = np.linspace(1.0, a_full.a_t[-1] - 1.0, 200)
    assert np.max(np.abs(a_quiet.b_at(probe) - a_full.b_at(probe))) < 2 * yin_config.frame_seconds


# -- chroma onsets ---------------------------------------------------------------------------


def frames_with_chroma(chroma: np.ndarray, db: float = -20.0):
    return unpitched_frames(np.zeros((len(chroma), 84)), chroma, db)


def test_chroma_onsets_name_the_pitch_class_that_begins_and_fade_after_it() -> None:
    chroma = np.zeros((100, 12))
    chroma[:, 0] = 1.0  # C held throughout
    chroma[50:, 4] = 1.0  # E joins at frame 50
    onsets = chroma_onsets(frames_with_chroma(chroma), gate_db=-60.0)
    assert onsets.shape == (100, 12)
    assert np.argmax(onsets[50]) == 4
    assert np.all(onsets[:, 0] == 0.0)  # the held C never rises
    # held for a few frames, fading, then gone
    assert onsets[50, 4] > onsets[51, 4] > onsets[52, 4] > onsets[53, 4] > 0.0
    assert onsets[54, 4] == 0.0
    assert np.all(onsets[1:50] == 0.0)


def test_chroma_onsets_of_a_silent_recording_are_zero() -> None:
    onsets = chroma_onsets(frames_with_chroma(np.zeros((30, 12)), db=-100.0), gate_db=-60.0)
    assert np.all(onsets == 0.0)


def test_feature_vectors_carry_chroma_onsets_only_when_weighted(rng: np.random.Generator) -> None:
    frames = frames_with_chroma(rng.random((40, 12)))
    plain = feature_vectors(frames, AlignWeights(), -60.0)
    both = feature_vectors(frames, AlignWeights(), -60.0, chroma_onset_weight=2.0)
    assert both.shape == (40, plain.shape[1] + 12)
    np.testing.assert_array_equal(both[:, : plain.shape[1]], plain)
    np.testing.assert_allclose(both[:, plain.shape[1] :], 2.0 * chroma_onsets(frames, -60.0), rtol=1e-6)
