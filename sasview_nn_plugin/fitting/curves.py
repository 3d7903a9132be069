"""The model curve of a result: sasmodels ``sphere@hardsphere`` of its distribution, scale and background fitted."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.validation import relative_sigma
from ..inference.quality import nnls_scale_background
from ..inference.result import Inversion
from ..physics import kernels as physics


@dataclass(frozen=True, eq=False)
class ModelCurve:
    """The sasmodels curve of a distribution on the data's q, with scale and background fitted."""

    q: np.ndarray
    intensity: np.ndarray
    scale: float
    background: float
    chi2_reduced: float        # with dI; without dI, the mean squared relative residual
    weighting: str             # "dI" or "relative" (no dI given: every point weighted by 1/I)


def model_curve(result: Inversion, q: np.ndarray | None = None) -> ModelCurve:
    """sasmodels ``sphere@hardsphere`` I(q) of ``result``'s distribution at its data's q (or ``q``).

    The network is blind to absolute scale, so scale and a flat background are fitted to the data
    inside the model's q range by weighted non-negative least squares (weights 1/dI, or 1/I without
    dI), at the result's volume fraction.  (A fit's own curve is ``result.fit.q``, ``result.fit.intensity``.)
    """
    result.curve.refuse_slit("model_curve")
    q_data, (lo, hi) = result.q_data, result.q_range
    sel = (q_data >= lo * (1 - 1e-9)) & (q_data <= hi * (1 + 1e-9))
    di = None if result.di_data is None else result.di_data[sel]
    return fit_scale_background(q_data if q is None else q, q_data[sel], result.intensity_data[sel], di,
                                result.radius, result.number_distribution, result.volume_fraction)


def fit_scale_background(q_out, q, intensity, di, radius, weights, phi) -> ModelCurve:
    """Curve of ``weights`` at ``q_out`` with scale and background fitted (NNLS) to (q, intensity, di)."""
    basis = physics.sphere_basis(np.asarray(q, float), radius)
    shape = physics.intensity(basis, weights, phi)
    sigma = relative_sigma(intensity) if di is None else np.asarray(di, float)
    scale, bkg = nnls_scale_background(shape, intensity, sigma)
    chi2 = float(np.sum(((scale * shape + bkg - intensity) / sigma) ** 2) / max(1, len(q) - 2))
    if q_out is not q:
        shape = physics.intensity(physics.sphere_basis(np.asarray(q_out, float), radius), weights, phi)
    return ModelCurve(np.asarray(q_out, float), scale * shape + bkg, float(scale), float(bkg), chi2,
                      "relative" if di is None else "dI")
