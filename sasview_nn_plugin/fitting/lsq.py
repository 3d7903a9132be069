"""Fast least squares on a :class:`~.fitness.SphereHSFitness`: bounded Levenberg-Marquardt-type trust-region
steps (scipy's ``least_squares``, ``trf``) with a Jacobian from one batched evaluation of the fitness.

bumps' own LM (``MPFit``) is pure Python (its QR loops alone cost ~0.15 s a fit) and differentiates one
parameter at a time; here the forward differences of all parameters are one call of
:meth:`~.fitness.SphereHSFitness.batch_residuals`, so a fit of the 27-parameter histogram costs ~20-60 ms.
The residuals (data, the distribution's prior, the volume fraction's prior) and bounds are the bumps
problem's own, so the optimum is the same one; bumps' other fitters (DREAM, amoeba, ...) run on the same
Fitness through ``bumps.fitters.fit``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from .fitness import DQ_SCALE_TOLERANCE

REL_STEP = 1e-6  # forward-difference step, in units of each parameter's typical size


@dataclass(frozen=True, eq=False)
class LsqResult:
    x: np.ndarray          # best parameters (in ``labels`` order)
    jac: np.ndarray        # (n_residuals, n_parameters) Jacobian there
    residuals: np.ndarray  # the residuals there
    nfev: int              # batched evaluations (each row of a batch counts one)
    success: bool


class BatchProblem:
    """The free parameters of a fitness (``labels`` with bounds and typical sizes) and its residuals."""

    def __init__(self, fitness, labels):
        self.fitness = fitness
        self.labels = list(labels)
        pars = fitness.parameters()
        self.pars = [pars[name] for name in self.labels]
        self.lo = np.array([p.bounds[0] for p in self.pars], float)
        self.hi = np.array([p.bounds[1] for p in self.pars], float)
        self.x0 = np.array([p.value for p in self.pars], float)
        self.typical = np.array([_typical(name, v, lo, hi) for name, v, lo, hi
                                 in zip(self.labels, self.x0, self.lo, self.hi, strict=True)])
        self.nfev = 0

    def residuals(self, points) -> np.ndarray:
        points = np.atleast_2d(points)
        self.nfev += len(points)
        return self.fitness.batch_residuals(self.labels, points)

    def jacobian(self, x, r0=None) -> np.ndarray:
        """Forward differences (backward where a step would leave the bounds), one batched call."""
        h = REL_STEP * self.typical
        h = np.where(x + h > self.hi, -h, h)
        pts = np.vstack([x, x + np.diag(h)]) if r0 is None else x + np.diag(h)
        r = self.residuals(pts)
        if r0 is None:
            r0, r = r[0], r[1:]
        return ((r - r0) / h[:, None]).T

    def set(self, x) -> None:
        """Set the fitness's parameters to ``x`` (and clear its cache)."""
        for p, v in zip(self.pars, x, strict=True):
            p.value = float(v)
        self.fitness.update()


def _typical(name: str, value: float, lo: float, hi: float) -> float:
    """A parameter's typical size, for steps and scaling."""
    if name.startswith("log_w") or name.startswith("weight"):
        return 1.0
    if name.startswith("pd"):
        return 0.1
    if name == "background":
        return max(abs(value), 1e-3 * hi, 1e-30)
    return max(abs(value), 1e-30)


def solve(problem: BatchProblem, max_nfev: int = 60, x0=None) -> LsqResult:
    """Minimise the sum of squared residuals within the bounds from ``x0`` (default: the current values)."""
    x0 = np.clip(problem.x0 if x0 is None else np.asarray(x0, float), problem.lo, problem.hi)
    cache: dict = {}

    def fun(x):
        r = problem.residuals(x)[0]
        cache["x"], cache["r"] = x.copy(), r
        return r

    def jac(x):
        r0 = cache["r"] if "x" in cache and np.array_equal(cache["x"], x) else None
        return problem.jacobian(x, r0)

    # keep x0 strictly inside bounds for trf (it requires lo < x0 < hi for bounded parameters)
    span = problem.hi - problem.lo
    x0 = np.clip(x0, problem.lo + 1e-10 * span, problem.hi - 1e-10 * span)
    res = least_squares(fun, x0, jac=jac, bounds=(problem.lo, problem.hi), method="trf",
                        x_scale=problem.typical, max_nfev=max_nfev, xtol=1e-8, ftol=1e-8, gtol=1e-8)
    problem.set(res.x)
    return LsqResult(res.x, res.jac, res.fun, problem.nfev, bool(res.success))


def solve_resolution_by_bic(fitness, labels) -> tuple[list[str], LsqResult, float | None]:
    """:func:`solve` where the fitness's resolution factor ``dq_scale`` is free: first with it held at 1 (dq as
    given); it is freed only when that lowers the cost (chi2 plus every prior's residuals, dq_scale's log-normal
    one included) by more than ln(n) for the n data points (BIC, one parameter more), else held at 1 again
    (``fitness.hold_dq_scale``).  The drop is first predicted at the held optimum (the score test: the
    Gauss-Newton drop along dq_scale's Jacobian column with the other parameters re-optimised, one batched
    evaluation); only a predicted drop above ln(n) runs the free fit from there, which must then reach it and
    move dq_scale by more than a factor 1.1 either way (:func:`dq_scale_moved`; within a given dq's accuracy, a free
    width takes up the distribution's misfit: a narrow peak's, measured).
    Returns (labels fitted, result, the cost's drop: predicted, or reached where the free fit ran; None when
    dq_scale was not free).  Why: with dq right, a free width trades against the distribution's width (W1
    worse on average, docs/refine.md); with dq wrong by 1.5x the drop is ~40 on 240 points."""
    labels = list(labels)
    if "dq_scale" not in labels:
        return labels, solve(BatchProblem(fitness, labels)), None
    held_labels = [name for name in labels if name != "dq_scale"]
    fitness.dq_scale.value = 1.0
    held_problem = BatchProblem(fitness, held_labels)
    held = solve(held_problem)
    j = labels.index("dq_scale")
    h = REL_STEP
    x = np.insert(held.x, j, 1.0 + h)
    col = (BatchProblem(fitness, labels).residuals(x)[0] - held.residuals) / h
    col = col - held.jac @ np.linalg.lstsq(held.jac, col, rcond=None)[0]  # the others re-optimised
    drop = float((col @ held.residuals) ** 2 / max(col @ col, 1e-300))
    threshold = math.log(len(fitness.q))
    if drop > threshold:
        held_problem.set(held.x)
        free = solve(BatchProblem(fitness, labels))  # from the held optimum
        drop = float(held.residuals @ held.residuals - free.residuals @ free.residuals)
        if drop > threshold and dq_scale_moved(fitness.dq_scale.value):
            return labels, free, drop
    n_prior = fitness.dq_scale_prior(1.0).shape[1]   # 1, or 0 without a prior (dq_scale_sigma = inf)
    fitness.hold_dq_scale()
    held_problem.set(held.x)
    # the held fit's residuals end with dq_scale's prior row (ln 1 = 0), if any, which a held fitness no longer has
    n = len(held.residuals) - n_prior
    return held_labels, LsqResult(held.x, held.jac[:n], held.residuals[:n], held.nfev, held.success), drop


def dq_scale_moved(dq_scale: float) -> bool:
    """Whether a fitted resolution factor lies beyond a factor exp(:data:`~.fitness.DQ_SCALE_TOLERANCE`) = 1.1 of 1,
    either way (1.1 and 1/1.1 alike)."""
    return abs(math.log(dq_scale)) > DQ_SCALE_TOLERANCE


def chi2_reduced(fitness, jac: np.ndarray) -> float:
    """chi2 of the data over its degrees of freedom n - n_eff, n_eff = tr((J^T J)^-1 J_d^T J_d) the effective
    number of parameters of the regularised fit (J: all residuals' Jacobian, J_d: the data rows): a prior
    makes a parameter count less than one, so counting every knot as a whole parameter overstates chi2_red
    (by ~13 % for the 27-parameter histogram on 240 points)."""
    r = (fitness.theory() - fitness.data) / fitness.di
    n = len(r)
    jd = jac[:n]
    n_eff = float(np.trace(np.linalg.pinv(jac.T @ jac) @ (jd.T @ jd)))
    return float(r @ r / max(1.0, n - n_eff))
