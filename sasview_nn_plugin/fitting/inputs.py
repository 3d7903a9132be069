"""What a refinement takes, checked on entry: the data (a result's own curve, or data and a start), the fitter
id, and the prior of the volume fraction; the points fitted and the start's training domain."""

from __future__ import annotations

import numpy as np

from ..data import validation
from ..data.curve import Curve, as_curve
from ..data.validation import check_curve, in_q_range, uncertainty_or_default, unused_bad_points
from ..errors import InputError, ModelFileError
from ..inference.quality import Training, training_of
from ..inference.result import Inversion

VOLUME_FRACTION_REL_SIGMA = 0.10  # a given volume fraction: 1-sigma 10 % of its value
PARAMETRIZATIONS = ("histogram", "schulz3")


def volume_fraction_prior_sigma(start: Inversion, volume_fraction_sigma: float | None = None,
                                fit_volume_fraction: bool = True) -> float:
    """The 1-sigma of the volume fraction's prior in a refinement of ``start`` (0: held fixed, inf: flat).

    ``volume_fraction_sigma`` given: that; else the estimate's sigma when ``start`` estimated it
    (``start.volume_fraction_sigma``); else :data:`VOLUME_FRACTION_REL_SIGMA` of the given value.  A dilute
    start (phi = 0: the sphere curve alone, no S(q)) is held there: the curve is not continuous in phi at 0."""
    if not fit_volume_fraction or not float(start.volume_fraction_used) > 0:
        return 0.0
    if volume_fraction_sigma is not None:
        return validation.check_prior_sigma(volume_fraction_sigma, "volume_fraction_sigma", "phi held fixed")
    if start.volume_fraction_sigma is not None:
        return float(start.volume_fraction_sigma)
    return VOLUME_FRACTION_REL_SIGMA * float(start.volume_fraction_used)


def methods() -> tuple[str, ...]:
    from bumps.fitters import FIT_AVAILABLE_IDS

    return tuple(dict.fromkeys(("lm", "dream", *FIT_AVAILABLE_IDS)))


def curve_and_start(q, intensity, dI, start, dq) -> tuple[Curve, Inversion, bool]:
    """(curve, start, checked): ``refine(result)`` (its curve, checked by invert) or data and a start (checked here)."""
    if isinstance(q, Inversion):
        if intensity is not None or dI is not None or start is not None or dq is not None:
            raise InputError("refine(result) fits the result's own data (result.curve, with its dI and dq); pass "
                             "either the result alone or the data and the `start`", parameter="start")
        if q.curve is None:
            raise InputError("this result keeps no data; pass the data and the `start`", parameter="start")
        return q.curve, q, True
    if isinstance(q, Curve) and start is None and dI is None and isinstance(intensity, Inversion):
        q, intensity, start = q, None, intensity   # refine(curve, start)
    if not isinstance(start, Inversion):
        raise InputError(f"`start` must be an Inversion (what invert returns), got {type(start).__name__}",
                         parameter="start")
    curve = as_curve(q, intensity, dI, dq)
    return (curve if curve.q_range is None else curve.within(curve.q_range)), start, False


def data_points(curve: Curve, checked: bool, start: Inversion):
    """(q, intensity, di, dq) of every point, and a note on the points left out; dq: per point (pinhole), or the
    curve's slit length (a float, 1/A) where it is slit-smeared.  A curve ``checked`` by invert is
    taken as it is; other data are checked here by invert's rule: bad points outside the model's own window
    dropped (what the forward-model check sees), inside refused.  dI None: 1 % of I; dq at least sasmodels'
    smallest width (a 0 width: that point unsmeared)."""
    note = None
    if not checked:
        keep, note = unused_bad_points(curve.q, curve.intensity, training(start).q_range)
        if keep is not None:
            curve = curve.take(keep)
        check_curve(curve.q, curve.intensity, curve.di)
    dq = curve.dq
    if dq is not None:
        from sasmodels.resolution import MINIMUM_RESOLUTION

        dq = np.maximum(dq, MINIMUM_RESOLUTION)
    elif curve.slit_length is not None:   # slit-smeared: the one slit length (1/A) in dq's place (a float)
        dq = curve.one_slit_length("refine")
    return (curve.q, curve.intensity, uncertainty_or_default(curve.intensity, curve.di), dq), note


def points(whole, q_range) -> tuple:
    """(q, intensity, di, dq) of the points fitted: inside ``q_range`` (1/A), or all of them (None)."""
    q, intensity, di, dq = whole
    if q_range is None:
        if len(q) < 10:
            raise InputError(f"only {len(q)} data points; cannot refine (at least 10)", parameter=None)
        return whole
    lo, hi = q_range   # validated by _refine (or the start's window)
    sel = in_q_range(q, (lo, hi))
    if sel.sum() < 10:
        raise InputError(f"fewer than 10 data points inside q_range {lo:.4g}-{hi:.4g} 1/A; cannot refine: "
                         "widen it, or leave it out (every point)", parameter="q_range")
    return q[sel], intensity[sel], di[sel], dq if dq is None or np.ndim(dq) == 0 else dq[sel]


def training(start: Inversion) -> Training:
    """The training domain the start's check used (else its model's, else the default)."""
    if isinstance(start.training, Training):
        return start.training
    try:
        from ..inference.modelfile import load_model

        return training_of(load_model(start.model))
    except ModelFileError:  # a start not from a loadable model (a hand-made start, a model file gone)
        return Training(q_range=tuple(start.q_range), radius_range=(float(start.radius[0]), float(start.radius[-1])))


def calibration(start: Inversion) -> dict | None:
    """The interval calibration of the model the start came from (``start.calibration``, set by invert from the
    model file: :func:`~..inference.modelfile.calibration_of`); None: uncalibrated (a model without one, a
    parametric or hand-made start)."""
    return start.calibration
