r"""The flags of the quality check that judge what an answer means, beside how well it fits (issue 26):

- ``check-failed``: a statistic of the check is not a finite number (NaN/inf: e.g. one point with dI = 1e-200
  makes every weight sum infinite); such a check passes nothing.
- ``no-particle-signal``: the sphere term is not significant against a flat background alone.  The test is an
  F statistic with one degree of freedom for the sphere curve's scale: F = (chi2_bg - chi2_fit) /
  (chi2_fit / (N - 2)), chi2_bg the weighted sum of squares of the background-only fit (the weighted mean),
  chi2_fit the sphere + background fit's; the noise level is the fit's own residual, so the rule holds with
  under- or over-stated dI and without dI (weights 1/I^2).  Flagged below :data:`NO_SIGNAL_F` (5 sigma).
- ``mass-outside-observable``: more than :data:`OUTSIDE_MASS` of the answer lies outside its own observable
  radius range, the number distribution below it or the volume distribution above it (the weights of the edge
  flags), or no radius is observable at this noise (a NaN range).  A bound set by the window rule (pi/q_max,
  pi/q_min) is widened by :data:`OUTSIDE_MARGIN` = pi/2 for the flag; one the noise rule narrowed by
  :data:`NOISE_MARGIN` = sqrt(pi/2) (that rule is a direct test, but of 5 % of the volume at R, while the flag
  asks about the bulk of the answer, which shows far more strongly: SasView's AOT core curve, 26.7 A in the
  reference fit, has the noise rule's bound at 30.4 A, and with no margin the right answer, 28.6 A, was flagged;
  3 A spheres on 0.008-0.3 1/A read 10.6 A against a bound of 16.7 A, flagged either way).
  Why the margin: below 2/q_max (q R < 2 at every
  point, the Guinier regime, where only a radius of gyration is measured) answers go wrong (shipped model, 1 %
  noise: 60 and 100 A spheres on 0.004-0.012 1/A read 108 and 134 A; 4 A on 0.008-0.3 1/A reads 5.6 A), above it
  they hold (16-30 A on the model's own window within 2 %; 150 A on 0.004-0.012 1/A; 8 A on the lab window 4 %).

``approximate`` is a mark, not a flag: a network answer that is close but not a fit.  dI given: chi2_red above
:data:`~.quality.POOR_FIT_CHI2` while its misfit stays under ``poor-fit``'s 4 %.  Without dI, where the noise is
unknown: residual signs in long runs (z below -RUNS_Z) and a misfit rms above :data:`APPROX_MISFIT` (the runs
test alone marks answers within 0.2 % on 1000 points: z -4.5 to -7.5 where chi2_red is 1.3 with dI).  Such an
answer is not "trusted" (``Quality.verdict``) and ``refine`` takes it to the noise; ``--strict`` does not count
it, since it is the right distribution to within the network's own accuracy (docs/domain.md).  The whole-curve
model's polished answers are fits: one marked approximate becomes ``poor-fit`` where no distribution of spheres
reaches chi2_red 3 either (:func:`.invert_wide.unexplained_by_spheres`, non-negative least squares over the
answer's radii).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

NO_SIGNAL_F = 25.0       # F of the sphere term against background alone below this -> "no-particle-signal"
APPROX_MISFIT = 0.02     # without dI: misfit rms above this (and runs z below -RUNS_Z) -> "approximate"
OUTSIDE_MARGIN = math.pi / 2   # the observable range widened by this factor on each side for that flag ...
NOISE_MARGIN = math.sqrt(OUTSIDE_MARGIN)   # ... or by this where the noise rule narrowed it
BLOCK_Z = 3.0            # dI given: a block's residual within this many of its noise sigmas is no misfit
OUTSIDE_MASS = 0.5       # share of the answer outside its observable radius range above this -> flagged


def block_misfit(resid: np.ndarray, data: np.ndarray, di: np.ndarray | None, level: np.ndarray,
                 starts: np.ndarray | int) -> np.ndarray:
    """The relative misfit of each block of points (last axis; blocks begin at ``starts``, or ``starts`` nearly equal
    blocks as :func:`~.quality_model.block_means` cuts them): the block's residual
    sum over its data sum.  dI given: only the residual beyond :data:`BLOCK_Z` of the block's noise counts (the
    noise explains the rest: a background-subtracted block near zero is no misfit), over the data sum but at least
    that noise; a block whose data sum is zero within :data:`BLOCK_Z` of its noise has no relative misfit (0: there
    is nothing to be relative to; chi2 still weighs its points.  SasView's AOT core curve, read right, was flagged
    ``shape-outside-training`` by two such blocks of over-subtracted points).  No dI: over the sum of the curve's
    ``level`` (data.validation.relative_sigma)."""
    if isinstance(starts, int):
        n = resid.shape[-1]
        starts = np.linspace(0, n, max(1, min(starts, n)) + 1).astype(int)[:-1]
    r = np.add.reduceat(resid, starts, axis=-1)
    if di is None:
        return r / np.add.reduceat(level, starts, axis=-1)
    noise = np.sqrt(np.add.reduceat(di * di, starts, axis=-1))
    r = np.sign(r) * np.maximum(np.abs(r) - BLOCK_Z * noise, 0.0)
    total = np.abs(np.add.reduceat(data, starts, axis=-1))
    return np.where(total < BLOCK_Z * noise, 0.0, r / np.maximum(total, noise))


def all_finite(values) -> bool:
    """Whether every number of ``values`` (None skipped) is finite."""
    return all(v is None or math.isfinite(v) for v in values)


def particle_signal(rss: float, rss_bg: float, n: int) -> float:
    """The F statistic of the sphere term (module docstring): (rss_bg - rss) / (rss / (n - 2)); inf for a
    perfect fit of a curve that is not flat, 0 when the background alone fits as well."""
    gain = rss_bg - rss
    if not rss > 0:
        return math.inf if gain > 0 else 0.0
    return max(gain, 0.0) / (rss / max(n - 2, 1))


def outside_observable(radius: np.ndarray, number: np.ndarray, observable: tuple[float, float],
                       window: tuple[float, float]) -> bool:
    """Whether more than :data:`OUTSIDE_MASS` of the number distribution lies below ``observable`` (A), or of the
    volume distribution above it; a bound equal to the window rule's (``window``, A) widened by OUTSIDE_MARGIN,
    one the noise rule narrowed by NOISE_MARGIN.  True when the range is NaN (no radius observable)."""
    lo, hi = observable
    lo = lo / (OUTSIDE_MARGIN if lo <= window[0] * (1 + 1e-6) else NOISE_MARGIN)
    hi = hi * (OUTSIDE_MARGIN if hi >= window[1] * (1 - 1e-6) else NOISE_MARGIN)
    if not (lo <= hi):
        return True
    w = np.asarray(number, dtype=float)
    total = w.sum()
    if not total > 0:
        return False
    vol = w * radius**3
    below = float(w[radius < lo].sum() / total)
    above = float(vol[radius > hi].sum() / vol.sum())
    return below > OUTSIDE_MASS or above > OUTSIDE_MASS


def judge(flags: list[str], finite: bool, signal: float, outside: bool) -> list[str]:
    """``flags`` with this module's flags added (in :data:`~.quality.FLAGS` order after the fit's own)."""
    if not finite:
        flags.append("check-failed")
    if signal < NO_SIGNAL_F:
        flags.append("no-particle-signal")
    if outside:
        flags.append("mass-outside-observable")
    return flags


def is_approximate(flags, chi2: float | None, runs_z: float, misfit: float, poor_chi2: float,
                   runs_limit: float) -> bool:
    """The ``approximate`` mark (module docstring): not a fit to the noise, yet not flagged a poor fit."""
    if "poor-fit" in flags or "structured-residuals" in flags or "check-failed" in flags:
        return False
    if chi2 is not None:
        return chi2 > poor_chi2
    return runs_z < -runs_limit and misfit > APPROX_MISFIT


def of_fit(qual, chi2: float, scale: float, background: float, extra: tuple[str, ...] = (), poor_chi2: float = 3.0):
    """A fitted result's check (``refine``, parametric fits): ``qual`` (the fitted distribution's
    :func:`~.quality.assess`) with the fit's own chi2_red, scale and background; ``poor-fit`` whenever chi2_red >
    ``poor_chi2`` (:data:`~.quality.POOR_FIT_CHI2`), ``check-failed`` where those numbers are not finite, ``extra``
    flags appended; never ``approximate`` (a fit above ``poor_chi2`` is a poor fit)."""
    flags = list(qual.flags)
    if chi2 > poor_chi2 and "poor-fit" not in flags:
        flags.insert(0, "poor-fit")
    flags += extra
    if not all_finite((chi2, scale, background)) and "check-failed" not in flags:
        flags.append("check-failed")
    return replace(qual, chi2_reduced=chi2, scale=scale, background=background, flags=tuple(flags), approximate=False)


def json_number(x):
    """x as JSON: None where it is None or not finite (JSON has no NaN or Infinity)."""
    return None if x is None or not math.isfinite(x) else float(x)
