"""Refinement of a network guess with bumps: least squares (LM) or Bayesian (DREAM) fits of
sasmodels' ``sphere@hardsphere`` to the data, started from the network's distribution.

The model curve is :func:`physics.intensity` on the sasmodels ``sphere``-kernel basis (equal to
``sphere@hardsphere`` with an array distribution to 1e-10), smeared with sasmodels' ``Pinhole1D``
when the data carry dq.  The optimisers are bumps' own (``bumps.fitters.fit``).

Parametrisations of the number distribution over the model's radius bins:
- ``histogram``: log-amplitudes at K knots (default 24, i.e. coarsened ~4x), linear interpolation
  in log space between them (positive, smooth at the knot scale), with a Gaussian smoothness prior
  on second differences of the log-amplitudes (see docs/refine.md for the rule).
- ``schulz3``: a volume-weighted mixture of up to three Schulz components (mean, pd, weight each),
  fitted first to the network's histogram, then to the data.
Scale and a flat background are always fitted; the volume fraction only with ``fit_volume_fraction``.
:class:`SphereHSFitness` is a bumps ``Fitness`` that caches its theory until ``update()`` (as sasmodels'
``bumps_model.Experiment`` does).

The parametrisations are in :mod:`.parametrisations`; the network start of plain sasmodels fits
(nn-lm, SasView's "Neural-network start") in :mod:`.start`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from bumps import lsqerror
from bumps.fitproblem import Fitness, FitProblem
from bumps.fitters import fit
from bumps.parameter import Parameter
from sasmodels.resolution import Pinhole1D

from ..data.validation import check_curve, in_q_range, take_points, uncertainty_or_default, unused_bad_points
from ..errors import InputError
from ..inference.quality import nnls_scale_background
from ..inference.result import Distribution, Fit, Inversion, Uncertainty
from ..physics import kernels as physics
from .parametrisations import HistogramDistribution, Schulz3Distribution, fitted_mixture

# -- the bumps Fitness ----------------------------------------------------------------------------

class SphereHSFitness(Fitness):
    """bumps Fitness: sphere@hardsphere with a parametrised number distribution, scale, background.

    The theory is computed once per parameter set: cached until bumps calls ``update()`` after
    changing parameters (``FitProblem.setp``), like sasmodels' ``bumps_model.Experiment``.  Set
    parameter values directly only with an ``update()`` after.  bumps' defaults stand for the rest
    of the protocol (``save``/``plot`` do nothing; ``resynth_data`` is not supported).
    """

    # bumps 1.x's Fitness is a field-less dataclass: its generated __eq__ makes every instance of a
    # subclass equal to every other, and unhashable.  A fitness is an identity object.
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __init__(self, q, intensity, di, dist, phi: float, fit_phi: bool = False, dq=None,
                 scale0: float = 1.0, background0: float = 0.0):
        self.q, self.data, self.di = q, intensity, di
        self.dist = dist
        if dq is not None:
            res = Pinhole1D(q, dq)
            q_calc, self.resolution = res.q_calc, res.weight_matrix
        else:
            q_calc, self.resolution = q, None
        self.basis = physics.sphere_basis(q_calc, dist.radius)
        top = float(np.max(intensity))
        self.scale = Parameter(scale0, name="scale").range(0.0, max(scale0, 1e-30) * 1e3)
        self.background = Parameter(background0, name="background").range(0.0, top)
        self.phi = Parameter(phi, name="volume_fraction")
        if fit_phi:
            self.phi.range(0.01, physics.PHI_MAX - 0.01)
        self._cache: dict[str, np.ndarray] = {}

    def parameters(self) -> dict:
        return {"scale": self.scale, "background": self.background, "volume_fraction": self.phi,
                **self.dist.parameters()}

    def update(self) -> None:
        """Parameters changed: the cached theory is stale."""
        self._cache.clear()

    def numpoints(self) -> int:
        return len(self.q)

    def shape(self, weights: np.ndarray | None = None) -> np.ndarray:
        """Model curve at scale 1, background 0 (smeared if the data have dq); not cached."""
        w = self.dist.weights() if weights is None else weights
        i = physics.intensity(self.basis, w, self.phi.value)
        return i if self.resolution is None else i @ self.resolution

    def theory(self) -> np.ndarray:
        if "theory" not in self._cache:
            self._cache["theory"] = self.scale.value * self.shape() + self.background.value
        return self._cache["theory"]

    def residuals(self) -> np.ndarray:
        data = (self.theory() - self.data) / self.di
        return np.concatenate([data, self.dist.prior_residuals()])

    def nllf(self) -> float:
        return 0.5 * float(np.sum(self.residuals() ** 2))

    def chi2_reduced(self) -> float:
        r = (self.theory() - self.data) / self.di
        n_free = sum(1 for p in self.parameters().values() if not p.fixed)
        return float(np.sum(r**2) / max(1, len(r) - n_free))


def refine(q, intensity, dI, start: Inversion, *, method: str = "lm", dq=None, parametrization: str = "histogram",
           fit_volume_fraction: bool = False, steps: int | None = None, samples: int = 300,
           seed: int = 0) -> Inversion:
    """Fit sasmodels' sphere@hardsphere to (q, intensity, dI) starting from the network's ``start``.

    Returns ``start`` with the fitted distribution and its ``fit`` and ``uncertainty`` parts (notes: the
    start's, and the points left out).

    q in 1/A, dI > 0 (None: 1 % of I is assumed), dq the 1-sigma Gaussian q resolution (sasmodels
    Pinhole1D, sasdata's dx).  ``method``: any bumps fitter id ("lm", "dream", "amoeba", ...).
    Uncertainties: LM, covariance from the Jacobian at the optimum, propagated by sampling;
    DREAM, percentiles of the posterior draws.
    """
    q = np.asarray(q, float)
    intensity = np.asarray(intensity, float)
    di = uncertainty_or_default(intensity, dI)
    dq = None if dq is None else np.asarray(dq, float)
    keep, note = unused_bad_points(q, intensity, start.q_range)  # points the fit never uses may be <= 0
    if keep is not None:
        q, intensity, di, dq = q[keep], intensity[keep], take_points(di, keep), take_points(dq, keep)
    check_curve(q, intensity, di)
    sel = in_q_range(q, start.q_range)
    if sel.sum() < 10:
        raise InputError("fewer than 10 data points inside the model's q range; cannot refine")
    q, intensity, di = q[sel], intensity[sel], di[sel]
    dq = None if dq is None else dq[sel]
    if dq is not None and (not np.all(np.isfinite(dq)) or np.any(dq <= 0)):
        raise InputError("dq must be finite and > 0 at every point (or omitted)")
    kinds = {"histogram": HistogramDistribution, "schulz3": Schulz3Distribution}
    if parametrization not in kinds:
        raise InputError(f"unknown parametrization {parametrization!r}; choose histogram or schulz3")
    if parametrization == "schulz3":  # as few components as describe the network's histogram
        dist = fitted_mixture(start.radius, start.number_distribution)
    else:
        dist = kinds[parametrization](start.radius, start.number_distribution)
    fitness = SphereHSFitness(q, intensity, di, dist, start.volume_fraction, fit_volume_fraction, dq)
    s0, b0 = nnls_scale_background(fitness.shape(), intensity, di)
    s0 = max(s0, 1e-30)
    fitness.scale.value, fitness.background.value = s0, b0
    fitness.scale.range(0.0, s0 * 1e3)
    fitness.update()
    problem = FitProblem(fitness)
    options = {"steps": steps} if steps else {}
    if method == "dream":
        options.setdefault("steps", 200)
        options.update(samples=max(10000, samples * 20), burn=options["steps"])
    result = fit(problem, method=method, **options)
    problem.setp(result.x)
    draws = posterior_draws(problem, result, method, samples, seed)
    return _make_result(fitness, start, method, parametrization, problem.labels(), result, draws,
                        fit_volume_fraction, note)


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


def _make_result(fitness, start, method, parametrization, labels, result, draws, fit_phi, note) -> Inversion:
    problem_x = np.asarray(result.x)
    r = start.radius
    number = fitness.dist.weights()
    # distributions for every draw, then restore the best fit
    prob = FitProblem(fitness)
    nums = []
    for p in draws:
        prob.setp(p)
        nums.append(fitness.dist.weights())
    prob.setp(problem_x)
    nums = np.array(nums)
    vols = physics.number_to_volume(nums, r)
    mn, mv = physics.mean_radius(nums, r), physics.mean_radius(vols, r)
    uncertainty = Uncertainty(np.percentile(nums, [16, 84], axis=0), np.percentile(vols, [16, 84], axis=0),
                              float(np.std(mn)), float(np.std(mv)))
    part = Fit(method, parametrization, fit_parameters(labels, problem_x, draws), fitness.chi2_reduced(), fitness.q,
               fitness.theory(), float(fitness.scale.value), float(fitness.background.value),
               volume_fraction=float(fitness.phi.value) if fit_phi else None)
    return fitted_result(start, Distribution(r, number), part, uncertainty, (note,))


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
