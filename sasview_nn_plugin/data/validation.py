"""Validation in one place: the checks every curve and every volume fraction pass before the physics
sees them.  Each failure is one :class:`~sasview_nn_plugin.errors.InputError` naming the problem and
the fix (parameters in backticks, which the CLI turns into flags).  Pure numpy; the valid case costs a
few array reductions.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from ..physics.kernels import PHI_MAX

DEFAULT_RELATIVE_DI = 0.01   # the uncertainty assumed for a curve given without dI: 1 % of I
Q_RANGE_TOLERANCE = 1e-9     # relative: a point this close to the ends of a q range is inside it
# I and dI above this are no intensity in 1/cm, and their squares (the fits' variances, 1/dI^2 weights) overflow
MAX_VALUE = 1e150


def check_prior_sigma(value, parameter: str, held: str) -> float:
    """A prior's 1-sigma as a float >= 0 (0: ``held``; inf: no prior), else InputError naming ``parameter``."""
    try:
        sigma = float(value)
    except (TypeError, ValueError):
        sigma = math.nan
    if not sigma >= 0:  # nan fails too
        raise InputError(f"`{parameter}` must be >= 0 (0: {held}; inf: no prior), got {value}", parameter=parameter)
    return sigma


def check_count(value, parameter: str, minimum: int = 1) -> int:
    """An integer >= ``minimum`` (a count: draws, steps), else InputError naming ``parameter``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InputError(f"`{parameter}` must be an integer >= {minimum}, got {value!r}", parameter=parameter)
    return int(value)


def check_choice(value, choices, parameter: str) -> str:
    """``value`` if it is one of ``choices``, else InputError naming ``parameter`` and listing them."""
    if not isinstance(value, str) or value not in choices:
        raise InputError(f"unknown `{parameter}` {value!r}; choose one of {', '.join(choices)}", parameter=parameter)
    return value


def check_q_range(q_range, parameter: str = "q_range") -> tuple[float, float]:
    """(q_min, q_max) in 1/A as two finite floats with 0 <= q_min < q_max, else InputError naming ``parameter``."""
    try:
        lo, hi = (float(x) for x in q_range)
    except (TypeError, ValueError):
        lo = hi = math.nan
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo < hi):
        raise InputError(f"`{parameter}` must be two numbers q_min < q_max in 1/A (q_min >= 0), got {q_range!r}",
                         parameter=parameter)
    return lo, hi


def check_dq(dq, q: np.ndarray) -> np.ndarray | None:
    """dq (1/A, 1-sigma per point) as a float array of q's shape, or None (not given, or 0 everywhere: no
    resolution); InputError if not finite and >= 0.  invert's and refine's rule."""
    if dq is None:
        return None
    dq = np.asarray(dq, dtype=float)
    if dq.shape != q.shape:
        raise InputError(f"dq must have one value per q point (got {dq.shape}, q {q.shape})", parameter="dq")
    if not (np.isfinite(dq).all() and dq.min() >= 0):
        raise InputError("dq (the q resolution, 1/A) has NaN/inf or negative values; fix or omit it", parameter="dq")
    return dq if dq.max() > 0 else None


def check_resolution(value, q: np.ndarray, parameter: str) -> np.ndarray | None:
    """A per-point resolution width (1/A: a slit's length or width) as a float array of q's shape, or None (not
    given, or 0 everywhere); a scalar applies to every point.  InputError naming ``parameter`` unless finite and
    >= 0."""
    if value is None:
        return None
    try:
        a = np.array(np.broadcast_to(np.asarray(value, dtype=float), np.shape(q)))
    except (TypeError, ValueError):
        raise InputError(f"`{parameter}` must be one number or one per q point (1/A), got shape {np.shape(value)} "
                         f"for {np.shape(q)} q points", parameter=parameter) from None
    if not (np.isfinite(a).all() and (a.size == 0 or a.min() >= 0)):
        raise InputError(f"`{parameter}` (1/A) has NaN/inf or negative values; fix or omit it", parameter=parameter)
    return a if a.size and a.max() > 0 else None


def check_volume_fraction(volume_fraction, parameter: str = "volume_fraction") -> float:
    """The volume fraction of a sample as a float in [0, 0.74) (close packing), else InputError; 0 means dilute
    (no structure factor)."""
    try:
        phi = float(volume_fraction)
    except (TypeError, ValueError):
        phi = math.nan
    if not 0 <= phi < PHI_MAX:
        raise InputError(f"volume fraction must be in [0, {PHI_MAX}) (0: dilute; got {volume_fraction}); "
                         f"give the sample's particle volume fraction as `{parameter}`", parameter=parameter)
    return phi


def in_q_range(q: np.ndarray, q_range: tuple[float, float]) -> np.ndarray:
    """Mask of the points of ``q`` (1/A) inside ``q_range`` (ends included, to Q_RANGE_TOLERANCE)."""
    lo, hi = q_range
    return (q >= lo * (1 - Q_RANGE_TOLERANCE)) & (q <= hi * (1 + Q_RANGE_TOLERANCE))


def relative_sigma(intensity: np.ndarray) -> np.ndarray:
    """The local level of a curve (its units), the noise scale of relative weights when the data carry no dI:
    |I| with every valley filled to the lower of its two rims (the smaller of the running maxima from either
    end).  Weights 1/I^2 would let the near-zero minima of a monodisperse curve decide every fit (issue 26); a
    monotone curve is its own level.  Curves along the last axis; floored at 1e-300 (all-zero data)."""
    a = np.abs(np.asarray(intensity, float))
    if a.size == 0:
        return a
    level = np.minimum(np.maximum.accumulate(a, axis=-1), np.flip(np.maximum.accumulate(np.flip(a, -1), axis=-1), -1))
    return np.maximum(level, 1e-300)


def uncertainty_or_default(intensity: np.ndarray, di) -> np.ndarray:
    """dI as given, or DEFAULT_RELATIVE_DI of the curve's local level (:func:`relative_sigma`) when the data
    carry none."""
    return DEFAULT_RELATIVE_DI * relative_sigma(intensity) if di is None else np.asarray(di, float)


def unused_bad_points(q: np.ndarray, intensity: np.ndarray,
                      q_range: tuple[float, float]) -> tuple[np.ndarray | None, str | None]:
    """(keep, note): the mask of points to keep when some outside ``q_range`` (1/A) have intensity <= 0,
    NaN/inf or above :data:`MAX_VALUE`, which the model never uses, and one line saying what was dropped; (None, None)
    if none.

    Such points inside the range are kept for :func:`check_curve` to refuse; so are malformed arrays.
    The valid case costs two reductions.
    """
    if q.ndim != 1 or intensity.shape != q.shape or len(q) < 2 or (intensity.min() > 0
                                                                    and intensity.max() <= MAX_VALUE):
        return None, None
    lo, hi = q_range
    with np.errstate(invalid="ignore"):
        drop = ~((intensity > 0) & (intensity <= MAX_VALUE)) & ~in_q_range(q, q_range)
    if not drop.any():
        return None, None
    at = q[drop]
    return ~drop, (f"dropped {int(drop.sum())} points with intensity <= 0, NaN/inf or > {MAX_VALUE:g} at q = "
                   f"{at.min():.4g}-{at.max():.4g} 1/A, outside the model's q range {lo:.4g}-{hi:.4g} 1/A "
                   "(the network reads only that range; the points are not fitted either)")


def drop_unused_bad_points(q: np.ndarray, intensity: np.ndarray, di: np.ndarray | None, q_range: tuple[float, float],
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, str | None]:
    """(q, intensity, di, note) without the points :func:`unused_bad_points` drops (note None: none dropped)."""
    keep, note = unused_bad_points(q, intensity, q_range)
    if keep is None:
        return q, intensity, di, None
    return q[keep], intensity[keep], take_points(di, keep), note


def take_points(x: np.ndarray | None, keep: np.ndarray | None) -> np.ndarray | None:
    """``x[keep]`` for a per-point array (dI, dq) of the mask's length; anything else unchanged."""
    if x is None or keep is None or np.shape(x) != keep.shape:
        return x
    return np.asarray(x)[keep]


def check_curve(q: np.ndarray, intensity: np.ndarray, di: np.ndarray | None, q_known_good: bool = False,
                allow_non_positive: bool = False) -> None:
    """Raise InputError naming the first problem with a curve (and how to fix it).

    The common, valid case costs a handful of array reductions; messages are built on failure only.
    ``q_known_good`` skips the q checks (q equals a model grid); ``allow_non_positive`` accepts I <= 0 (data for
    a reader that masks them, the whole-curve model), |I| still bounded.
    """
    if q.ndim != 1 or intensity.shape != q.shape or len(q) < 2:
        raise InputError("q and intensity must be 1-D arrays of the same length >= 2 "
                         f"(got {q.shape}, {intensity.shape})", parameter=None)
    for name, x in ((("intensity", intensity),) if q_known_good else (("q", q), ("intensity", intensity))):
        if not np.isfinite(x).all():
            bad = ~np.isfinite(x)
            raise InputError(f"{name} has {bad.sum()} NaN/inf values (first at point {np.argmax(bad)}); remove them",
                             parameter=name)
    if not q_known_good and q[0] <= 0:
        raise InputError("q must be positive; remove q <= 0 points", parameter="q")
    dq = None if q_known_good else q[1:] - q[:-1]
    if dq is not None and dq.min() <= 0:
        if np.any(dq == 0):
            raise InputError(f"q has duplicate values (e.g. q = {q[1:][dq == 0][0]:.6g}); merge or remove them",
                             parameter="q")
        raise InputError("q is not sorted in ascending order; sort the points by q", parameter="q")
    if not allow_non_positive and intensity.min() <= 0:
        k = int(np.argmax(intensity <= 0))
        raise InputError(f"intensity has {int(np.sum(intensity <= 0))} non-positive values (first at q = "
                         f"{q[k]:.4g}); the inversion works on log I: subtract less background or cut the q range",
                         parameter="intensity")
    if (top := np.abs(intensity).max()) > MAX_VALUE:
        raise InputError(f"intensity has values above {MAX_VALUE:g} (max {top:.3g}): no intensity in 1/cm; "
                         "check the columns and units, or rescale I and dI", parameter="intensity")
    if di is not None:
        if di.shape != q.shape or not np.isfinite(di.sum()) or di.min() <= 0:
            raise InputError("dI must be finite and > 0 at every point; fix or drop the uncertainty column "
                             "(without dI all points are weighted equally)", parameter="di")
        if di.max() > MAX_VALUE:
            raise InputError(f"dI has values above {MAX_VALUE:g} (max {di.max():.3g}): their squares overflow; "
                             "check the columns and units, or rescale I and dI", parameter="di")


