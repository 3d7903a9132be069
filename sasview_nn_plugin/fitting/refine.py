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

:func:`network_start` starts a bumps fit of sasmodels ``Experiment``s (``sphere@hardsphere`` or the
SasView plugin model ``nn_spheres_hs``) from the network: the first step of the ``nn-lm`` and
``nn-dream`` fitters (:mod:`.fitter`) and of SasView's "Neural-network start" action.  It lives here,
not in :mod:`.fitter`, so that using it registers no bumps fitter.
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
    invert,
    nnls_scale_background,
    take_points,
    unused_bad_points,
)
from ..physics import distributions
from ..physics import kernels as physics
from ..physics.grids import RadiusGrid

SMOOTHNESS_SIGMA = 0.3  # prior: 1-sigma second difference of log-amplitude between knots
ANCHOR_SIGMA = 3.0      # prior: 1-sigma log-correction of the network's distribution at each knot


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


# -- parametrisations -----------------------------------------------------------------------------

class HistogramDistribution:
    """The network's distribution times a smooth correction: w = w_net * exp(theta(R)), theta
    interpolated linearly between K knots, theta = 0 at the start (so the fit starts exactly at the
    network's answer and moves only as far as the data ask)."""

    name = "histogram"

    def __init__(self, radius: np.ndarray, start: np.ndarray, n_knots: int = 24):
        self.radius = radius
        self.knots = np.linspace(radius[0], radius[-1], n_knots)
        # floor at 1e-4 of the peak so the correction can also put mass where the network put ~none
        self.base = np.maximum(start, 1e-4 * start.max())
        self.base /= self.base.sum()
        self.pars = [Parameter(0.0, name=f"log_w{k}").range(-25.0, 25.0) for k in range(n_knots)]

    def parameters(self) -> dict:
        return {p.name: p for p in self.pars}

    def weights(self) -> np.ndarray:
        theta = np.array([p.value for p in self.pars])
        w = self.base * np.exp(np.interp(self.radius, self.knots, theta) - theta.max())
        return w / w.sum()

    def prior_residuals(self) -> np.ndarray:
        theta = np.array([p.value for p in self.pars])
        return np.concatenate([np.diff(theta, 2) / SMOOTHNESS_SIGMA, theta / ANCHOR_SIGMA])


class Schulz3Distribution:
    """Volume-weighted mixture of up to three Schulz components (sasmodels' Schulz, pd = sigma/mean)."""

    name = "schulz3"

    def __init__(self, radius: np.ndarray, start: np.ndarray, n_components: int = 3):
        self.radius = radius
        self.grid = RadiusGrid(radius[0], radius[-1], len(radius))
        means, pds, fracs = _modes(radius, physics.number_to_volume(start, radius), n_components)
        lo, hi = radius[0] * 0.8, radius[-1] * 1.1
        self.pars = []
        for k, (m, p, f) in enumerate(zip(means, pds, fracs, strict=True)):
            self.pars += [Parameter(m, name=f"mean{k}").range(lo, hi),
                          Parameter(p, name=f"pd{k}").range(0.01, 0.6),
                          Parameter(f, name=f"weight{k}").range(0.0, 1.0)]

    def parameters(self) -> dict:
        return {p.name: p for p in self.pars}

    def weights(self) -> np.ndarray:
        v = np.zeros(len(self.radius))
        vals = [p.value for p in self.pars]
        for k in range(0, len(vals), 3):
            m, p, f = vals[k:k + 3]
            mass = np.diff(distributions.schulz_cdf(self.grid.edges, m, p))
            if f > 0 and mass.sum() > 1e-12:  # a component pushed off the grid contributes nothing
                v += f * physics.number_to_volume(mass / mass.sum(), self.radius)
        if v.sum() <= 0:
            v[:] = 1.0
        return physics.volume_to_number(v, self.radius)

    def prior_residuals(self) -> np.ndarray:
        return np.empty(0)

    def drop_empty(self, threshold: float = 0.02) -> None:
        """Fix components holding < threshold of the volume at weight 0: their mean and width are
        undetermined and would only blur the uncertainties."""
        active = []
        largest = max(range(0, len(self.pars), 3), key=lambda k: self.pars[k + 2].value)
        for k in range(0, len(self.pars), 3):
            if self.pars[k + 2].value < threshold and k != largest:
                self.pars[k + 2].value = 0.0
                for p in self.pars[k:k + 3]:
                    p.fixed = True
            else:
                active.append(k)
                self.pars[k + 2].fixed = False
        # the mixture is normalised, so one weight is redundant with the others: fix the largest
        ref = max(active, key=lambda k: self.pars[k + 2].value)
        self.pars[ref + 2].fixed = True


def fitted_mixture(radius: np.ndarray, number_distribution: np.ndarray,
                   max_components: int = 3) -> Schulz3Distribution:
    """The Schulz mixture (1 to ``max_components`` components) that summarises a histogram.

    Mixtures of 1, 2, ... components are fitted (bumps LM) to the histogram's cumulative volume
    distribution; the first whose cumulative distribution stays within RMS 1 % of the histogram's
    is kept (else the best fit), so a unimodal histogram is not split into near-identical
    components, which would leave the data fit degenerate.
    """
    best = None
    for n in range(1, max_components + 1):
        dist = Schulz3Distribution(radius, number_distribution, n)
        # the mixture is normalised, so one weight is redundant: a free one makes LM's Jacobian singular
        largest = max(range(0, len(dist.pars), 3), key=lambda k: dist.pars[k + 2].value)
        dist.pars[largest + 2].fixed = True
        rms = np.sqrt(_fit_to_histogram(dist, number_distribution) / len(radius))
        if best is None or rms < best[0]:
            best = (rms, dist)
        if rms <= 0.01:
            break
    dist = best[1]
    dist.drop_empty()
    return dist


def schulz3_components(radius: np.ndarray, number_distribution: np.ndarray,
                       max_components: int = 3) -> list[tuple[float, float, float]]:
    """A number distribution over ``radius`` (A) as [(mean A, pd = sigma/mean, volume share)] of the
    Schulz components of :func:`fitted_mixture`."""
    vals = [p.value for p in fitted_mixture(radius, number_distribution, max_components).pars]
    comps = [tuple(vals[k:k + 3]) for k in range(0, len(vals), 3) if vals[k + 2] > 0]
    total = sum(c[2] for c in comps)
    return [(float(m), float(p), float(f / total)) for m, p, f in comps]


def _modes(radius, vol, n):
    """Up to n (mean, pd, volume fraction) starting components from the largest peaks of vol."""
    smooth = np.convolve(vol, np.ones(5) / 5, mode="same")
    peaks = [i for i in range(1, len(smooth) - 1) if smooth[i] >= smooth[i - 1] and smooth[i] > smooth[i + 1]]
    peaks = sorted(peaks, key=lambda i: -smooth[i])[:n] or [int(np.argmax(smooth))]
    peaks.sort()
    # split the radius axis at the minima between peaks; moments of each part
    bounds = [0] + [p + int(np.argmin(smooth[p:q])) for p, q in zip(peaks[:-1], peaks[1:], strict=True)] + [len(radius)]
    means, pds, fracs = [], [], []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        w = vol[a:b]
        f = w.sum()
        m = (w @ radius[a:b]) / f if f > 0 else radius[(a + b) // 2]
        sd = np.sqrt(max((w @ (radius[a:b] - m) ** 2) / f, 0.0)) if f > 0 else 0.1 * m
        means.append(float(m))
        pds.append(float(np.clip(sd / m, 0.02, 0.5)))
        fracs.append(float(f))
    while len(means) < n:  # unused components start empty
        means.append(float(radius[len(radius) // 2]))
        pds.append(0.1)
        fracs.append(0.0)
    total = sum(fracs) or 1.0
    return means, pds, [f / total for f in fracs]


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


class _CumulativeVolumeTarget(Fitness):
    """bumps Fitness: a mixture's cumulative volume distribution against a histogram's (1 % per bin)."""

    def __init__(self, dist, target: np.ndarray):
        self.dist = dist
        self.target = np.cumsum(physics.number_to_volume(target, dist.radius))

    def parameters(self) -> dict:
        return self.dist.parameters()

    def numpoints(self) -> int:
        return len(self.target)

    def residuals(self) -> np.ndarray:
        return (np.cumsum(physics.number_to_volume(self.dist.weights(), self.dist.radius)) - self.target) / 0.01

    def nllf(self) -> float:
        return 0.5 * float(np.sum(self.residuals() ** 2))


def _fit_to_histogram(dist, target: np.ndarray) -> float:
    """Fit the mixture to the network's histogram (volume-weighted, W1-like residuals) with bumps LM.

    Returns the residual sum of squares of the cumulative volume distributions."""
    target_fit = _CumulativeVolumeTarget(dist, target)
    problem = FitProblem(target_fit)
    problem.setp(fit(problem, method="lm").x)
    return float(np.sum((target_fit.residuals() * 0.01) ** 2))


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


# -- the network start of sasmodels fits (nn-lm / nn-dream, SasView's "Neural-network start") -------

SUPPORTED = ("sasmodels Experiments on sphere@hardsphere (schulz, lognormal or gaussian radius dispersion) "
             "or on the nn_spheres_hs plugin model")
PLUGIN = "nn_spheres_hs"


def fitted_points(exp) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(q, I, dI) of the points a sasmodels ``Experiment`` fits, where its ``theory()`` is evaluated.

    From the Experiment's public surface: ``resolution.q``, ``Iq`` and ``dIq`` (the 1D points inside
    its q range; ``sasview.fitness.SasFitnessView`` offers the same).  dI is None when the data carry
    no uncertainties (all zero)."""
    if getattr(exp, "data_type", "Iq") != "Iq":
        raise ValueError(f"nn-lm needs 1D I(q) data, not {exp.data_type!r}; supported: {SUPPORTED}")
    q, y, dy = exp.resolution.q, exp.Iq, exp.dIq
    dy = None if dy is None or not np.any(dy) else np.asarray(dy, float)
    return np.asarray(q, float), np.asarray(y, float), dy


def _experiments(problem):
    models = list(getattr(problem, "models", [])) or [getattr(problem, "fitness", None)]
    out = []
    for m in models:
        sasmodel = getattr(getattr(m, "model", None), "sasmodel", None)
        info = getattr(sasmodel, "info", None)
        if info is None or info.id not in ("sphere@hardsphere", PLUGIN):
            name = getattr(info, "id", type(m).__name__)
            raise ValueError(f"nn-lm cannot map a fit of {name!r}; supported: {SUPPORTED}")
        out.append(m)
    return out


def _set(par, value):
    if not par.fixed:
        lo, hi = par.bounds if hasattr(par, "bounds") and par.bounds is not None else (-np.inf, np.inf)
        par.value = float(np.clip(value, lo, hi))


def network_start(problem, model=None) -> None:
    """Set the size-distribution parameters and scale of each supported Experiment of a bumps
    ``FitProblem`` from the network (``model``: an NNModel, a model name or file; None: the shipped one).

    Each Experiment's points with finite I > 0 are inverted at the model's ``volfraction``; only free
    parameters are set (within their bounds).  ``sphere@hardsphere``: ``radius`` and ``radius_pd``
    from the network's distribution; ``nn_spheres_hs``: its 1-3 Schulz components
    (:func:`schulz3_components`); then the scale by one linear least-squares step.
    """
    for exp in _experiments(problem):
        m = exp.model
        plugin = m.sasmodel.info.id == PLUGIN
        kind = None if plugin else str(getattr(m, "radius_pd_type", "gaussian"))
        if not plugin:
            if kind == "array":
                raise ValueError("nn-lm cannot start an 'array' radius dispersion: its weights are data, not fit "
                                 "parameters; use sasview_nn_plugin.fitting.refine.refine (histogram) or the "
                                 "nn_spheres_hs "
                                 f"model instead. Supported: {SUPPORTED}")
            if kind not in ("schulz", "lognormal", "gaussian"):
                raise ValueError(f"nn-lm cannot map radius dispersion {kind!r}; supported: {SUPPORTED}")
        q, y, dy = fitted_points(exp)
        keep = np.isfinite(y) & (y > 0)
        q, y, dy = q[keep], y[keep], None if dy is None else dy[keep]
        res = invert(q, y, dy, volume_fraction=float(m.volfraction.value), model=model)
        if plugin:
            _set_plugin_components(m, res)
        else:
            _set_dispersion(m, res, kind)
        # scale: one linear least-squares step at the new shape
        problem.setp(problem.getp())
        bkg = float(m.background.value)
        shape = (np.asarray(exp.theory()) - bkg)[keep]
        s, _ = nnls_scale_background(shape, y - bkg, dy if dy is not None else y)
        if s > 0:
            _set(m.scale, m.scale.value * s)
    problem.setp(problem.getp())


def _set_dispersion(m, res, kind: str) -> None:
    """radius and radius_pd of sphere@hardsphere from the network's number distribution."""
    w, r = res.number_distribution, res.radius
    if kind == "lognormal":  # sasmodels: radius is the median, pd the sigma of ln R
        mu = w @ np.log(r)
        centre, width = np.exp(mu), np.sqrt(w @ (np.log(r) - mu) ** 2)
    else:  # schulz and gaussian: pd = sigma / mean
        centre = w @ r
        width = np.sqrt(w @ (r - centre) ** 2) / centre
    _set(m.radius, centre)
    _set(m.radius_pd, max(width, 0.01))


def _set_plugin_components(m, res) -> None:
    """radiusK, pdK, fractionK of nn_spheres_hs from the network's distribution (1-3 Schulz components)."""
    comps = schulz3_components(res.radius, res.number_distribution)
    for k in range(3):
        mean, pd, share = comps[k] if k < len(comps) else (None, None, 0.0)
        if mean is not None:
            _set(getattr(m, f"radius{k + 1}"), mean)
            _set(getattr(m, f"pd{k + 1}"), pd)
        _set(getattr(m, f"fraction{k + 1}"), share)
