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

from dataclasses import dataclass, field

import numpy as np
from bumps import lsqerror
from bumps.fitproblem import Fitness, FitProblem
from bumps.fitters import fit
from bumps.parameter import Parameter
from sasmodels.resolution import Pinhole1D

from ..errors import InputError
from ..inference.invert import (
    Inversion,
    check_curve,
    nnls_scale_background,
    take_points,
    unused_bad_points,
)
from ..physics import kernels as physics
from .parametrisations import HistogramDistribution, Schulz3Distribution, fitted_mixture


@dataclass
class Refinement(Inversion):
    """An :class:`Inversion` refined by a bumps fit, with its fit quality and uncertainties."""

    chi2_reduced: float = np.nan
    q_fit: np.ndarray = field(default_factory=lambda: np.empty(0))
    intensity_fit: np.ndarray = field(default_factory=lambda: np.empty(0))
    scale: float = np.nan
    background: float = np.nan
    method: str = ""
    parametrization: str = ""
    parameters: dict = field(default_factory=dict)          # name -> (value, 1-sigma)
    number_band: np.ndarray | None = None                   # (2, n_r): 16th/84th percentile per bin
    volume_band: np.ndarray | None = None
    mean_radius_number_sigma: float = np.nan
    mean_radius_volume_sigma: float = np.nan
    start: Inversion | None = None

    def to_dict(self) -> dict:
        d = super().to_dict()
        d["refinement"] = {
            "method": self.method, "parametrization": self.parametrization,
            "chi2_reduced": self.chi2_reduced, "scale": self.scale, "background": self.background,
            "mean_radius_number_sigma": self.mean_radius_number_sigma,
            "mean_radius_volume_sigma": self.mean_radius_volume_sigma,
            "parameters": {k: {"value": v, "sigma": s} for k, (v, s) in self.parameters.items()},
            "number_band": None if self.number_band is None else self.number_band.tolist(),
            "volume_band": None if self.volume_band is None else self.volume_band.tolist(),
            "network": None if self.start is None else {
                "number_distribution": self.start.number_distribution.tolist(),
                "mean_radius_number": self.start.mean_radius_number,
                "mean_radius_volume": self.start.mean_radius_volume},
        }
        return d


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
           seed: int = 0) -> Refinement:
    """Fit sasmodels' sphere@hardsphere to (q, intensity, dI) starting from the network's ``start``.

    q in 1/A, dI > 0 (None: 1 % of I is assumed), dq the 1-sigma Gaussian q resolution (sasmodels
    Pinhole1D, sasdata's dx).  ``method``: any bumps fitter id ("lm", "dream", "amoeba", ...).
    Uncertainties: LM, covariance from the Jacobian at the optimum, propagated by sampling;
    DREAM, percentiles of the posterior draws.
    """
    q = np.asarray(q, float)
    intensity = np.asarray(intensity, float)
    di = 0.01 * intensity if dI is None else np.asarray(dI, float)
    dq = None if dq is None else np.asarray(dq, float)
    keep, note = unused_bad_points(q, intensity, start.q_range)  # points the fit never uses may be <= 0
    if keep is not None:
        q, intensity, di, dq = q[keep], intensity[keep], take_points(di, keep), take_points(dq, keep)
    check_curve(q, intensity, di)
    sel = (q >= start.q_range[0] * (1 - 1e-9)) & (q <= start.q_range[1] * (1 + 1e-9))
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
    labels = problem.labels()
    draws = posterior_draws(problem, result, method, samples, seed)
    res = _make_result(fitness, start, method, parametrization, labels, result, draws)
    res.notes.extend(n for n in [*start.notes, note] if n and n not in res.notes)
    return res


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


def _make_result(fitness, start, method, parametrization, labels, result, draws) -> Refinement:
    problem_x = np.asarray(result.x)
    r = start.radius
    number = fitness.dist.weights()
    vol = physics.number_to_volume(number, r)
    # distributions for every draw, then restore the best fit
    prob = FitProblem(fitness)
    nums = []
    for p in draws:
        prob.setp(p)
        nums.append(fitness.dist.weights())
    prob.setp(problem_x)
    nums = np.array(nums)
    vols = physics.number_to_volume(nums, r)
    band_n = np.percentile(nums, [16, 84], axis=0)
    band_v = np.percentile(vols, [16, 84], axis=0)
    mn, mv = physics.mean_radius(nums, r), physics.mean_radius(vols, r)
    sd = np.std(draws, axis=0)
    params = {lab: (float(x), float(s)) for lab, x, s in zip(labels, problem_x, sd, strict=True)}
    return Refinement(
        radius=r, number_distribution=number, volume_distribution=vol,
        mean_radius_number=float(number @ r), mean_radius_volume=float(vol @ r),
        volume_fraction=float(fitness.phi.value), model=start.model, q_data=start.q_data,
        intensity_data=start.intensity_data, di_data=start.di_data, q_range=start.q_range,
        chi2_reduced=fitness.chi2_reduced(), q_fit=fitness.q, intensity_fit=fitness.theory(),
        scale=float(fitness.scale.value), background=float(fitness.background.value), method=method,
        parametrization=parametrization, parameters=params, number_band=band_n, volume_band=band_v,
        mean_radius_number_sigma=float(np.std(mn)), mean_radius_volume_sigma=float(np.std(mv)), start=start)
