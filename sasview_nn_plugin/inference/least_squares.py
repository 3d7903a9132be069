r"""A small bounded Levenberg-Marquardt least-squares fit in numpy, for the few-parameter fits of the review of other
explanations (:mod:`.alternatives`), and non-negative least squares (:func:`nnls`, Lawson-Hanson) for the best
fit any sphere distribution reaches (:func:`.polish.best_spheres_chi2`): the inference path imports no scipy.

Minimises sum r(x)^2 over the box [lower, upper].  Each iteration takes the Jacobian by forward differences (step
``rel_step`` max(1, |x_i|), backward where the forward step would leave the box: scipy's ``2-point`` rule) in one
batched call of the residuals, then solves (J^T J + lambda diag(J^T J)) dx = -J^T r on the parameters not held at a
bound by the gradient, clips the step into the box and keeps it where the cost falls (lambda / 5), else tries again
with lambda x 4.  It stops after ``max_evaluations`` trial evaluations (the Jacobians' are not counted, as scipy's
``max_nfev`` does not count them), or where a step changes the cost by less than ``ftol`` relative or moves x by
less than ``xtol`` relative.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

LAMBDA_START, LAMBDA_DOWN, LAMBDA_UP = 1e-3, 5.0, 4.0


@dataclass(frozen=True, eq=False)
class BoundedFit:
    x: np.ndarray          # best parameters found
    cost: float            # sum of squared residuals there
    nfev: int              # trial evaluations (Jacobian evaluations not counted)


def _jacobian(residuals, x, r, lower, upper, rel_step) -> np.ndarray:
    """(n_residuals, n_parameters) forward differences, backward where the forward step leaves the box."""
    h = rel_step * np.maximum(1.0, np.abs(x))
    h = np.where(x + h > upper, -h, h)
    rows = residuals(x + np.diag(h))
    return ((rows - r) / h[:, None]).T


def _step(jac, r, x, lam, lower, upper) -> np.ndarray:
    """The damped Gauss-Newton step over the parameters the gradient does not hold at a bound."""
    g = jac.T @ r
    free = ~(((x <= lower) & (g > 0)) | ((x >= upper) & (g < 0)))
    a = jac[:, free].T @ jac[:, free]
    d = np.maximum(np.diag(a), 1e-12 * max(float(np.max(np.diag(a), initial=0.0)), 1e-300))
    dx = np.zeros_like(x)
    try:
        dx[free] = np.linalg.solve(a + lam * np.diag(d), -g[free])
    except np.linalg.LinAlgError:
        dx[free] = np.linalg.lstsq(a + lam * np.diag(d), -g[free], rcond=None)[0]
    return dx


def bounded_least_squares(residuals: Callable[[np.ndarray], np.ndarray], x0, lower, upper, *,
                          max_evaluations: int = 25, rel_step: float = 1e-3, ftol: float = 1e-8,
                          xtol: float = 1e-8) -> BoundedFit:
    """Minimise sum(residuals(x)^2) for x in [``lower``, ``upper``] from ``x0`` (clipped into the box).
    ``residuals`` takes points (P, n_parameters) and gives (P, n_residuals), one row per point."""
    lower, upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    x = np.clip(np.asarray(x0, dtype=float), lower, upper)
    r = residuals(x[None, :])[0]
    cost, nfev, lam = float(r @ r), 1, LAMBDA_START
    while nfev < max_evaluations and np.isfinite(cost) and cost > 0:
        jac = _jacobian(residuals, x, r, lower, upper, rel_step)
        improved = False
        while nfev < max_evaluations:
            trial = np.clip(x + _step(jac, r, x, lam, lower, upper), lower, upper)
            if np.array_equal(trial, x):      # held at its bounds, or a step below rounding: nowhere to go
                break
            r_trial = residuals(trial[None, :])[0]
            nfev += 1
            cost_trial = float(r_trial @ r_trial)
            if np.isfinite(cost_trial) and cost_trial < cost:
                small = cost - cost_trial <= ftol * cost or \
                    np.all(np.abs(trial - x) <= xtol * np.maximum(1.0, np.abs(x)))
                x, r, cost, improved = trial, r_trial, cost_trial, True
                lam = max(lam / LAMBDA_DOWN, 1e-12)
                break
            lam *= LAMBDA_UP
            if lam > 1e12:
                break
        if not improved or small:
            break
    return BoundedFit(x, cost, nfev)


def nnls(a: np.ndarray, b: np.ndarray, max_iterations: int | None = None) -> np.ndarray:
    """argmin_x>=0 |a x - b|^2 by Lawson and Hanson's active-set method (Solving Least Squares Problems, 1974,
    ch. 23; scipy.optimize.nnls's algorithm): columns join the passive (free) set by the largest gradient; a
    least-squares step that turns one negative is cut back to the boundary and that column leaves.  ``a`` (m, n)
    with columns of comparable norm (scale them first)."""
    m, n = a.shape
    tol = 10 * np.finfo(float).eps * max(m, n) * float(np.abs(a).sum(axis=0).max(initial=0.0))
    passive = np.zeros(n, bool)
    x = np.zeros(n)
    w = a.T @ b
    for _ in range(max_iterations or 3 * n):
        free = ~passive & (w > tol)
        if not free.any():
            break
        passive[int(np.argmax(np.where(free, w, -np.inf)))] = True
        while True:
            s = np.zeros(n)
            s[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
            if s[passive].min() > 0:
                break
            neg = passive & (s <= 0)
            alpha = float(np.min(x[neg] / (x[neg] - s[neg])))
            x = x + alpha * (s - x)
            passive &= x > tol
            if not passive.any():
                s = np.zeros(n)
                break
        x = s
        w = a.T @ (b - a @ x)
    return x


def weighted_nnls(cols: np.ndarray, data: np.ndarray, sigma: np.ndarray) -> tuple[float, np.ndarray]:
    """(chi2, x): argmin_x>=0 sum(((cols x - data) / sigma)^2) over the columns of ``cols`` (n, k), by :func:`nnls`
    on the weighted columns scaled to unit norm (a column of zeros is held at 0); ``x`` in the columns' own units."""
    a = np.asarray(cols, float) / np.asarray(sigma, float)[:, None]
    b = np.asarray(data, float) / sigma
    norm = np.linalg.norm(a, axis=0)
    keep = norm > 0
    x = np.zeros(a.shape[1])
    x[keep] = nnls(a[:, keep] / norm[keep], b) / norm[keep]
    r = a @ x - b
    return float(r @ r), x
