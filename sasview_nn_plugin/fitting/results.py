"""What every fit of this package returns: its parameters with their spreads, its uncertainty draws, and the
:class:`~..inference.result.Inversion` built from a start and a fit (used by :mod:`.refine` and :mod:`.parametric`)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from bumps import lsqerror

from ..inference.result import Distribution, Fit, Inversion, Uncertainty

__all__ = ["posterior_draws", "fit_parameters", "fitted_result"]


def posterior_draws(problem, result, method: str, samples: int, seed: int) -> np.ndarray:
    """(n, n_parameters) parameter vectors for the uncertainty of a bumps fit of ``problem``.

    ``result``: what ``bumps.fitters.fit`` returned.  DREAM (``method == "dream"``): up to ``samples``
    of its posterior draws, chosen with ``seed``.  Otherwise the Gaussian approximation of the
    posterior at ``result.x`` (covariance from the Jacobian), ``samples`` draws clipped to the bounds.
    """
    if method == "dream" and getattr(result, "state", None) is not None:
        pts = result.state.draw().points
        rng = np.random.default_rng(seed)
        return pts[rng.choice(len(pts), size=min(samples, len(pts)), replace=False)]
    x = np.asarray(result.x)
    jac = lsqerror.jacobian(problem, x)
    cov = np.linalg.pinv(jac.T @ jac)
    rng = np.random.default_rng(seed)
    pts = rng.multivariate_normal(x, cov, size=samples, check_valid="ignore", method="eigh")
    lo, hi = problem.bounds()
    return np.clip(pts, lo, hi)


def fit_parameters(labels, best, draws) -> dict[str, tuple[float, float]]:
    """name -> (best value, standard deviation over the uncertainty draws) of a bumps fit."""
    return {lab: (float(x), float(s)) for lab, x, s in zip(labels, best, np.std(draws, axis=0), strict=True)}


def fitted_result(start: Inversion, distribution: Distribution, fit: Fit, uncertainty: Uncertainty | None,
                  notes=()) -> Inversion:
    """The result of a fit started from ``start``: its data, model, q range and volume fraction used, the
    fitted ``distribution``, the ``fit`` part (its ``start``: the start's distribution) and the ``uncertainty``
    (a quality check of the start does not carry over); notes: the start's, then ``notes`` (None and repeats
    left out).  Both fits (:func:`refine`, :func:`.parametric.fit_sphere_hs`) build their result here."""
    notes = tuple(dict.fromkeys(n for n in (*start.notes, *notes) if n))
    return replace(start, distribution=distribution, fit=replace(fit, start=start.distribution),
                   uncertainty=uncertainty, check=None, notes=notes)

