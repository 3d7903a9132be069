"""Volume fraction estimated from the curve (``invert(..., volume_fraction=None)``): numpy + h5py only.

phi is scanned over the model's training range (:func:`~.quality.training_of`) on ``N_SCAN`` values; the
network runs for all of them in one batched forward pass (a mapped window, :mod:`.window`: one mapped
inversion per value) and each candidate is scored by the forward-model check :func:`~.quality.assess`:
the total chi2 with dI, without dI the misfit rms (as a chi2 scaled so that its minimum is a reduced chi2
of 1).  A parabola through the best value and its neighbours refines it; the 1-sigma is where the total
chi2 rises by 1, widened by sqrt(max(1, chi2_reduced)) so that an imperfect model curve widens it, and
combined in quadrature with the network's own bias, SYSTEMATIC_SIGMA (measured in docs/domain.md: errors up
to 0.011 on Schulz curves where the statistical part alone says 1e-4 to 5e-4).  The network's candidates miss
the data by amounts its own errors set, so their profile is rugged: the sigma is widened to half the span of the
candidates the misfit does not exclude (:func:`undecided_span`; the whole-curve model's polished profile too, with
a smaller factor), and :func:`~.invert.invert` flags an estimate whose sigma exceeds 0.05 (docs/domain.md).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from .quality import training_of

N_SCAN = 17  # phi values scanned (0.031 apart over the shipped model's 0-0.5)
SYSTEMATIC_SIGMA = 0.01  # the estimate's bias from the network (docs/domain.md table), added in quadrature
PROFILE_EXCESS = 2.0     # the windowed network's candidates: those within max(1, chi2_red) + this x the best one's
#                          chi2 beyond its noise are not excluded (the network's misfit, not noise, ranks them)


def scan_values(nn) -> np.ndarray:
    """The volume fractions scanned: N_SCAN over the model's training range."""
    lo, hi = training_of(nn).phi_range
    return np.linspace(lo, hi, N_SCAN)


def score_of(quality, with_di: bool) -> tuple[float, float]:
    """(score, chi2_reduced) of one candidate's :class:`~.quality.Quality` (None: not scored): the total chi2
    with dI; without dI the misfit rms and the number of points (:func:`estimate_volume_fraction` rescales)."""
    if quality is None:
        return math.inf, math.nan
    if with_di:
        chi2 = quality.chi2_reduced
        ok = chi2 is not None and math.isfinite(chi2)
        return (chi2 * max(quality.n_points - 2, 1), chi2) if ok else (math.inf, math.nan)
    rms = quality.residual_rms
    return (rms, float(quality.n_points)) if math.isfinite(rms) else (math.inf, math.nan)


def estimate_volume_fraction(phis: np.ndarray, scored: list[tuple[float, float]], with_di: bool,
                             excess: float = 0.0, systematic: float = SYSTEMATIC_SIGMA,
                             scan: str | None = None) -> tuple[float, float, str]:
    """(phi, 1-sigma, note) from the candidates' :func:`score_of` over ``phis``: see the module docstring.
    ``excess`` > 0 (unpolished candidates): the sigma is widened to half the span of the candidates within
    max(1, chi2_red) + ``excess`` x the best one's chi2 beyond its degrees of freedom (:func:`undecided_span`).
    ``systematic``: the estimator's own error, in quadrature (the windowed network's :data:`SYSTEMATIC_SIGMA`);
    ``scan``: how the note describes the values scanned (default: their range)."""
    lo, hi = float(phis[0]), float(phis[-1])
    score = np.array([s for s, _ in scored], dtype=float)
    red = np.array([r for _, r in scored], dtype=float)
    di = True if with_di else None
    if not np.isfinite(score).any():
        raise InputError("the volume fraction cannot be estimated: no candidate curve could be scored; "
                         "give `volume_fraction`", parameter="volume_fraction")
    if di is None:  # misfit rms -> a chi2 whose minimum is n - 2 (reduced chi2 1: the misfit taken as the noise)
        k0 = int(np.argmin(score))
        dof = max(red[k0] - 2, 1)
        score = dof * (score / score[k0]) ** 2
        red = np.ones_like(score)
    k = int(np.argmin(score))
    step = phis[1] - phis[0]
    edge = k == 0 or k == len(phis) - 1
    sigma = math.inf
    phi = float(phis[k])
    if not edge and np.isfinite(score[k - 1:k + 2]).all():
        ym, y0, yp = score[k - 1:k + 2]
        curv = (yp - 2 * y0 + ym) / step**2  # d2 chi2 / d phi2
        if curv > 0:
            phi = float(phis[k] + step * 0.5 * (ym - yp) / (yp - 2 * y0 + ym))
            sigma = math.hypot(math.sqrt(2.0 / curv) * math.sqrt(max(1.0, float(red[k]))), systematic)
    elif k == 0 and lo == 0.0 and np.isfinite(score[:2]).all() and score[1] > score[0]:
        # dilute: the physical edge; a one-sided sigma from chi2(phi) ~ chi2(0) + c phi^2 through the first step
        curv = 2 * (score[1] - score[0]) / step**2
        sigma = math.hypot(math.sqrt(2.0 / curv) * math.sqrt(max(1.0, float(red[0]))), systematic)
    what = "forward-model chi2" if di is not None else "forward-model misfit rms (no dI: misfit taken as the noise)"
    scan = f"{lo:.3g}-{hi:.3g}" if scan is None else scan
    note = f"volume fraction estimated from the curve: {phi:.3g} +- {sigma:.2g} (scan {scan}, {what})"
    if edge and not (k == 0 and lo == 0.0):  # phi = 0 (dilute) is the physical edge, nothing lies beyond it
        note += "; the best value is at the edge of the scan (the model's training range): phi may lie outside it"
    return (phi, *widened(sigma, note, phis, score, red, excess)) if excess > 0 else (phi, sigma, note)


def undecided_span(phis: np.ndarray, score: np.ndarray, red: np.ndarray, excess: float, jitter: float = 0.0,
                   ) -> tuple[float, float]:
    """(lowest, highest) phi whose candidate's chi2 ``score`` lies within max(1, chi2_red) + ``excess`` x E +
    ``jitter`` x sqrt(2 dof) of the best, E = the best candidate's chi2 beyond its degrees of freedom dof (score /
    chi2_red).  The windowed network's answers at neighbouring phi miss the data by amounts its own errors set, not
    the noise: where the best misses by E, others within a multiple of E are not excluded (bench_domain seed 21: the
    parabola's sigma covered 49 %, fitted here to ~70 %; docs/domain.md).  ``jitter``: the polished answers' chi2
    moves with phi by a fraction of its own noise sqrt(2 dof) even where the fit is at the noise (E ~ 0), so a flat
    profile's best point is chance (the whole-curve model's :data:`~.invert_wide.PHI_JITTER`)."""
    ok = np.isfinite(score)
    k = int(np.argmin(np.where(ok, score, np.inf)))
    r = float(red[k]) if math.isfinite(red[k]) and red[k] > 0 else 1.0
    beyond = max(float(score[k]) * (1.0 - 1.0 / r), 0.0)
    noise = jitter * math.sqrt(2.0 * float(score[k]) / r)
    inside = np.asarray(phis)[ok & (score - score[k] <= max(1.0, r) + excess * beyond + noise)]
    return float(inside.min()), float(inside.max())


def widened(sigma: float, note: str, phis: np.ndarray, score: np.ndarray, red: np.ndarray, excess: float,
            jitter: float = 0.0) -> tuple[float, str]:
    """(sigma, note) widened to half the :func:`undecided_span` of the candidates (phi, chi2 ``score``, chi2_red
    ``red``) where that is wider: in quadrature with the profile's own sigma."""
    lo, hi = undecided_span(np.asarray(phis, float), np.asarray(score, float), np.asarray(red, float), excess,
                            jitter)
    if not math.isfinite(sigma) or (hi - lo) / 2 <= sigma:
        return sigma, note
    wide = math.hypot(sigma, (hi - lo) / 2)
    return wide, (f"{note}; sigma widened to {wide:.2g}: the answers at phi {lo:.3g}-{hi:.3g} miss the data by little "
                  "more than the best one does")
