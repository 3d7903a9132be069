"""The model curve of a result: ``sphere@hardsphere`` of its distribution as the check computes it (numpy), smeared
as the data are, scale and background (and a low-q power law) fitted."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.validation import relative_sigma
from ..inference.quality_model import nnls_columns, smeared_intensity, smeared_power_law
from ..inference.result import Inversion


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
    """``sphere@hardsphere`` I(q) of ``result``'s distribution (numpy: the check's model), smeared as its data are
    (pinhole dq, or the slit length), with the low-q power law its check fitted, at its data's q (or ``q``: the
    unsmeared theory there, a slit kept; a pinhole's dq is known only at the data's points).

    The network is blind to absolute scale, so scale, a flat background (and the power law's amplitude) are
    fitted to the data inside the result's q range by weighted least squares (scale >= 0; the background as the
    check holds it: :func:`..inference.quality_model.nnls_columns`; weights 1/dI, or 1/level without dI:
    ``data.validation.relative_sigma``), at the result's volume fraction.  (A fit's own curve is ``result.fit.q``,
    ``result.fit.intensity``.)
    """
    q_data, (lo, hi) = result.q_data, result.q_range
    sel = (q_data >= lo * (1 - 1e-9)) & (q_data <= hi * (1 + 1e-9))
    di = None if result.di_data is None else result.di_data[sel]
    dq = None if result.curve.dq is None else np.asarray(result.curve.dq, float)
    quality = result.quality
    model = _Model(result.radius, result.number_distribution, result.volume_fraction,
                   result.curve.one_slit_length("model_curve"),
                   None if quality is None or quality.power_law is None else quality.power_law[0])
    coef, chi2 = model.fit(q_data[sel], result.intensity_data[sel], di, None if dq is None else dq[sel])
    q_out, dq_out = (q_data, dq) if q is None else (np.asarray(q, float), None)
    return ModelCurve(q_out, model.columns(q_out, dq_out) @ coef, float(coef[0]), float(coef[1]), chi2,
                      "relative" if di is None else "dI")


@dataclass(frozen=True)
class _Model:
    """The check's model of a distribution (number weights over radius, A; phi), its slit length (1/A) and
    low-q power law exponent, as NNLS columns: spheres, flat background, power law."""

    radius: np.ndarray
    number: np.ndarray
    phi: float
    slit_length: float | None = None
    power_law: float | None = None

    def columns(self, q: np.ndarray, dq: np.ndarray | None) -> np.ndarray:
        cols = [smeared_intensity(q, dq, self.radius, self.number, self.phi, self.slit_length), np.ones_like(q)]
        if self.power_law is not None:
            cols.append(smeared_power_law(q, dq, self.power_law, self.slit_length))
        return np.stack(cols, axis=1)

    def fit(self, q, intensity, di, dq) -> tuple[np.ndarray, float]:
        """(NNLS coefficients, chi2 per degree of freedom: relative to the curve's level without dI)."""
        cols = self.columns(q, dq)
        sigma = relative_sigma(intensity) if di is None else np.asarray(di, float)
        coef = nnls_columns(cols, intensity, sigma)
        z = (cols @ coef - intensity) / sigma
        return coef, float(z @ z / max(1, len(q) - cols.shape[1]))
