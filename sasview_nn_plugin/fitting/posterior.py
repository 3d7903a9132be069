"""Uncertainty of a refinement: the Laplace (LM covariance) posterior over all fitted parameters, calibrated,
and DREAM started from it; both summarised as intervals of the mean radii and the volume fraction and as a
band on the cumulative number distribution.

Fast path (:func:`laplace_draws`): the covariance (J^T J)^-1 of every free parameter (distribution, scale,
background, volume fraction) from the Jacobian of all residuals (data and priors) at the optimum, inflated
by ``max(1, chi2_red)``, sampled and pushed through the distribution: each draw is a distribution, a phi,
a scale.  DREAM (:func:`dream_draws`): bumps' DREAM on the same posterior, in coordinates whitened by the
Laplace covariance, on the few directions the data inform or the Gaussian misses (the rest, the prior's
Gaussian, importance-sampled), its population drawn from the Laplace one and a batched likelihood (one pass
per generation); its Gelman-Rubin R-hat is reported.

Summaries (:func:`summarise`): percentiles of the draws (16/84 and 2.5/97.5) of ``mean_radius_number``,
``mean_radius_volume``, ``volume_fraction`` and of the cumulative number distribution per bin, their distance
from the best fit calibrated by the model's factors and :func:`observability_factor` (docs/refine.md).
"""

from __future__ import annotations

import math

import numpy as np

from ..inference.result import Uncertainty
from ..physics import kernels as physics

# Calibration (docs/refine.md): each interval's distance from the best fit is multiplied by the model's factors
# (68 %, 95 %) and by the observability factor max(1, (x / (q_max <R>n))^power): sizes the data resolve poorly
# (q_max R below ~pi) are where the network's prior, which the Laplace posterior takes for granted, is least right.
# The factors belong to the model they were fitted for: benchmarks/fit_calibration.py --write puts them in its
# file (inference.modelfile.CALIBRATION); a model without them gives uncalibrated intervals (factors 1, said so).
UNCALIBRATED = {"factors": {name: [1.0, 1.0] for name in
                            ("mean_radius_number", "mean_radius_volume", "volume_fraction", "cumulative")},
                "observability": {"x": 0.0, "power": 0.0}}
PERCENTILES = (2.5, 16.0, 84.0, 97.5)


def laplace_cov(jac: np.ndarray, chi2_red: float) -> tuple[np.ndarray, float]:
    """(covariance, inflation) of the parameters from the Jacobian of all residuals at the optimum."""
    cov = np.linalg.pinv(jac.T @ jac)
    inflation = max(1.0, float(chi2_red))
    return cov * inflation, inflation


def log_evidence_gain(cost: float, jac: np.ndarray, cost_held: float, jac_held: np.ndarray,
                      prior_precision: np.ndarray) -> float:
    """Laplace log evidence of a model with extra parameters (Gaussian prior of precision ``prior_precision``)
    over the same model with them held at their prior mean: -(cost - cost_held) / 2 (costs: sums of squared
    residuals, priors included, at each optimum) minus the Occam factor, (log det(J^T J) - log det(J_held^T
    J_held) - log det(prior_precision)) / 2.  Parameters common to both (flat priors) cancel to first order."""
    logdet = lambda m: float(np.linalg.slogdet(m)[1])  # noqa: E731
    return float(-0.5 * (cost - cost_held) - 0.5 * (logdet(jac.T @ jac) - logdet(jac_held.T @ jac_held)
                                                    - logdet(prior_precision)))


def laplace_draws(x: np.ndarray, cov: np.ndarray, lo: np.ndarray, hi: np.ndarray, samples: int,
                  seed: int) -> np.ndarray:
    """(samples, n) Gaussian draws around ``x``, clipped to the bounds; the first row is ``x`` itself."""
    rng = np.random.default_rng(seed)
    pts = rng.multivariate_normal(x, cov, size=samples, check_valid="ignore", method="eigh")
    pts[0] = x
    return np.clip(pts, lo, hi)


def draw_quantities(fitness, labels, draws) -> dict[str, np.ndarray]:
    """Per draw: number and volume distributions, their mean radii, phi, cumulative number distribution."""
    values = fitness.values(labels, draws)
    nums = fitness.dist.batch_weights(values)
    r = fitness.dist.radius
    vols = physics.number_to_volume(nums, r)
    return {"number": nums, "volume": vols, "mean_radius_number": nums @ r, "mean_radius_volume": vols @ r,
            "volume_fraction": values["volume_fraction"], "cumulative": np.cumsum(nums, axis=-1)}


def observability_factor(q_max: float, radius_number: float, calibration: dict | None = None) -> float:
    """The intervals' factor for sizes the window resolves poorly: max(1, (x / (q_max <R>n))^power), x and power
    the calibration's ``observability`` (None: uncalibrated, 1)."""
    obs = (calibration or UNCALIBRATED)["observability"]
    x = float(q_max) * float(radius_number)
    return max(1.0, (obs["x"] / x) ** obs["power"]) if x > 0 and obs["x"] > 0 else 1.0


def _widen(p: np.ndarray, centre, factors: tuple[float, float]) -> np.ndarray:
    """Percentiles (2.5, 16, 84, 97.5): their distance from ``centre`` times ``factors`` (68 %, 95 %); an
    interval always contains the best fit (a percentile on the wrong side of it is mirrored)."""
    f68, f95 = factors
    return np.stack([centre - f95 * np.abs(centre - p[0]), centre - f68 * np.abs(centre - p[1]),
                     centre + f68 * np.abs(p[2] - centre), centre + f95 * np.abs(p[3] - centre)])


def summarise(q: dict[str, np.ndarray], best: dict[str, float], source: str, inflation: float,
              q_max: float, diagnostics: dict | None = None, calibration: dict | None = None) -> Uncertainty:
    """The :class:`Uncertainty` of draws' quantities ``q`` (:func:`draw_quantities`) around the ``best`` fit,
    calibrated by ``calibration`` (the model's factors and :func:`observability_factor` at ``q_max``, 1/A); None:
    uncalibrated (the Laplace or DREAM percentiles as they are; ``Uncertainty.calibration`` None says so)."""
    factors = (calibration or UNCALIBRATED)["factors"]
    obs = observability_factor(q_max, best["mean_radius_number"], calibration)
    intervals = {}
    for name in ("mean_radius_number", "mean_radius_volume", "volume_fraction"):
        p = np.percentile(q[name], PERCENTILES)
        f68, f95 = factors[name]
        intervals[name] = tuple(float(v) for v in _widen(p, float(best[name]), (f68 * obs, f95 * obs)))
    f68, f95 = factors["cumulative"]
    cum = np.clip(_widen(np.percentile(q["cumulative"], PERCENTILES, axis=0), best["cumulative"],
                         (f68 * obs, f95 * obs)), 0.0, 1.0)
    sig = {name: (intervals[name][2] - intervals[name][1]) / 2 for name in intervals}
    return Uncertainty(np.percentile(q["number"], [16, 84], axis=0), np.percentile(q["volume"], [16, 84], axis=0),
                       float(sig["mean_radius_number"]), float(sig["mean_radius_volume"]),
                       intervals=intervals, cumulative_band=cum, source=source, inflation=float(inflation),
                       diagnostics={**(diagnostics or {}), "observability_factor": obs}, calibration=calibration)


# -- DREAM from the fast posterior --------------------------------------------------------------------

INFORMED = 0.01  # a direction is DREAM's when the data hold at least this share of its precision at the optimum,
QUADRATIC = 0.25  # or when -log posterior 2 sigma along it differs from the Gaussian's 2 by more than this


def informed_basis(jac_data: np.ndarray, cov: np.ndarray, temperature: float) -> tuple[np.ndarray, np.ndarray]:
    """(B, lam): x = x0 + B u' maps coordinates in which the Laplace posterior is N(0, I) and the data's part of
    the Hessian is diagonal, lam (descending, in [0, 1]: the data's share of each direction's precision, the
    rest is the prior's).  ``jac_data``: the Jacobian of the data residuals alone; ``cov`` the (inflated)
    Laplace covariance, ``temperature`` its inflation."""
    evals, vecs = np.linalg.eigh(0.5 * (cov + cov.T))
    a = vecs * np.sqrt(np.clip(evals, 1e-300, None))
    jd = jac_data @ a
    lam, v = np.linalg.eigh(jd.T @ jd / temperature)
    order = np.argsort(lam)[::-1]
    return a @ v[:, order], np.clip(lam[order], 0.0, None)


class _WhitenedModel:
    """bumps' DREAM model protocol (labels, bounds, map) in whitened coordinates u, x = x0 + B u: the posterior
    is ~N(0, I) there, which DREAM's differential-evolution moves mix fast.  Points outside the parameters' own
    bounds have zero posterior."""

    def __init__(self, nllf, x0, b, lo, hi, width: float):
        self.nllf, self.x0, self.b, self.lo, self.hi = nllf, x0, b, lo, hi
        self.labels = [f"u{k}" for k in range(b.shape[1])]
        self.bounds = np.array([np.full(b.shape[1], -width), np.full(b.shape[1], width)])

    def to_x(self, u: np.ndarray) -> np.ndarray:
        return self.x0 + np.atleast_2d(u) @ self.b.T

    def logp(self, x: np.ndarray) -> np.ndarray:
        inside = np.all((x >= self.lo) & (x <= self.hi), axis=1)
        logp = np.full(len(x), -1e300)
        if inside.any():
            logp[inside] = -self.nllf(x[inside])
        return logp

    def map(self, pop) -> np.ndarray:
        return self.logp(self.to_x(np.asarray(pop, float)))


def dream_draws(fitness, problem, labels, x: np.ndarray, cov: np.ndarray, jac: np.ndarray, *,
                temperature: float = 1.0, steps: int = 2000, burn: int = 200, pop: int = 4, samples: int = 400,
                seed: int = 0) -> tuple[np.ndarray, dict]:
    """(samples, n) posterior draws of bumps' DREAM started from and preconditioned by N(x, cov); diagnostics.

    The posterior is the Laplace path's own: the fit's residuals, the log-likelihood divided by
    ``temperature`` (the inflation max(1, chi2_red)).  Coordinates (:func:`informed_basis`, from ``jac`` the
    Jacobian of all residuals at ``x``, data rows first): the Laplace posterior is N(0, I) and the data's
    Hessian diagonal.  DREAM runs on the k directions the data inform (they hold >= :data:`INFORMED` of the
    precision; 5-8 of the histogram's 27) or where the posterior is not that Gaussian (-log p 2 sigma out on
    either side off by more than :data:`QUADRATIC`: the histogram's tails, where the weights go as exp(theta)),
    ``pop`` chains per direction drawn from N(0, I), ``burn`` generations then ``steps`` kept; the likelihood
    of a generation is one batched evaluation.  The other directions are the prior's Gaussian: drawn from
    N(0, I) beside every DREAM draw, each pair weighted by the full posterior over that proposal (importance
    sampling), then ``samples`` drawn by weight; ``importance_ess`` (the weights' effective sample size over
    their number, 1 when the rest is exactly Gaussian) says how good the split is.
    Diagnostics: Gelman-Rubin R-hat (max over DREAM's directions, bumps' ``gelman`` over the part of the good
    chains bumps keeps, ``trim_portion``), bumps' own convergence test (``bumps_converged``: its burn-point KS
    test found a stationary part), the directions DREAM sampled, generations, chains and draws.
    """
    import contextlib
    import io
    import warnings

    from bumps.dream.core import Dream
    from bumps.dream.gelman import gelman

    lo, hi = (np.asarray(b, float) for b in problem.bounds())
    order = [problem.labels().index(name) for name in labels]  # the problem's bounds in our order
    lo, hi = lo[order], hi[order]
    x = np.asarray(x, float)
    n = len(x)

    def nllf(points):
        r = fitness.batch_residuals(labels, points)
        return 0.5 * np.einsum("ij,ij->i", r, r) / temperature

    basis, lam = informed_basis(jac[: len(fitness.q)], cov, temperature)
    # the directions of the prior's that are not Gaussian 2 sigma out (the histogram's tails: exp(theta)) join DREAM's
    probe = np.clip(x + 2.0 * np.concatenate([basis.T, -basis.T]), lo, hi)
    step = (nllf(probe) - nllf(x[None])[0]).reshape(2, n)
    dream_dir = (lam >= INFORMED) | np.any(np.abs(step - 2.0) > QUADRATIC, axis=0)
    basis = np.concatenate([basis[:, dream_dir], basis[:, ~dream_dir]], axis=1)
    k = max(1, int(dream_dir.sum()))
    n_chains = max(pop * k, 16)
    model = _WhitenedModel(nllf, x, basis[:, :k], lo, hi, width=10.0)
    rng = np.random.default_rng(seed)
    population = np.clip(rng.standard_normal((n_chains, k)), -3, 3)
    population[0] = 0.0
    state = np.random.get_state()
    np.random.seed(seed)  # DREAM draws from numpy's global generator
    try:
        sampler = Dream(model=model, population=population[None], draws=n_chains * steps, burn=n_chains * burn,
                        thinning=1, outlier_test="iqr", DE_noise=1e-6,
                        monitor=lambda *_: True)  # bumps' console monitor would print to stdout
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            mc = sampler.sample()  # (bumps' outlier test prints; its convergence test warns)
            mc.portion = mc.trim_portion()  # as bumps' DreamFit: the converged part of the chains
            mc.mark_outliers()
    finally:
        np.random.set_state(state)
    rhat = gelman(mc.traces()[1], portion=1.0)  # over the kept part of the good chains
    drawn = mc.draw()
    pick = rng.choice(len(drawn.points), size=min(4 * samples, len(drawn.points)), replace=False)
    u_i, logp_i = drawn.points[pick], drawn.logp[pick]
    pts, ess = model.to_x(u_i), 1.0
    if k < n:  # the prior's directions: proposed from N(0, I), weighted by the full posterior
        u_r = rng.standard_normal((len(u_i), n - k))
        pts = np.clip(pts + u_r @ basis[:, k:].T, lo, hi)  # (a parameter at its bound: the prior's moves of it clipped)
        logw = model.logp(pts) - logp_i + 0.5 * np.einsum("ij,ij->i", u_r, u_r)
        weight = np.exp(logw - np.max(logw))
        weight /= weight.sum()
        ess = float(1.0 / np.sum(weight**2) / len(weight))
        pts = pts[rng.choice(len(pts), size=samples, p=weight)]
    else:
        pts = pts[:samples]
    diag = {"gelman_rubin_max": float(np.max(rhat)) if np.size(rhat) else math.nan,
            "bumps_converged": not any("converge" in str(w.message) for w in caught),
            "dream_dimensions": k, "parameters": n, "importance_ess": ess,
            "generations": int(mc.generation), "chains": int(n_chains), "draws": int(len(drawn.points))}
    return pts, diag
