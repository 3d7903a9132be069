r"""Two more structure factors in numpy, ports of sasmodels' C kernels (sasmodels 1.1): Baxter's sticky hard spheres
and Teixeira's fractal aggregate.  The Percus-Yevick hard-sphere S(q) is :func:`.scattering.hardsphere_sq`.

Sticky hard spheres (``stickyhardsphere.c``; Menon, Manohar & Rao, J. Chem. Phys. 95 (1991) 9186): a hard sphere of
diameter sigma = 2 R_eff with a square well of relative width ``perturb`` (tau in the paper, epsilon the stickiness):

    eta = phi / (1 - perturb)^3,   a = sigma / (1 - perturb),   lambda the smaller root of
    (eta/6) lambda^2 - (stickiness + eta/(1 - eta)) lambda + (1 + eta/2)/(1 - eta)^2 = 0,
    mu = lambda eta (1 - eta),  alpha = (1 + 2 eta - mu)/(1 - eta)^2,  beta = (mu - 3 eta)/(2 (1 - eta)^2),
    k = q a:  A = 1 + 12 eta (alpha (sin k - k cos k)/k^3 + beta (1 - cos k)/k^2 - lambda sin k/(12 k)),
              B = 12 eta (alpha (1/(2k) - sin k/k^2 + (1 - cos k)/k^3) + beta (1/k - sin k/k^2)
                          - lambda/12 (1 - cos k)/k),
    S(q) = 1 / (A^2 + B^2)

and, as the kernel does, S = -1 (all q) where lambda is complex or mu > 1 + 2 eta (unphysical parameters).

Fractal aggregate (``lib/fractal_sq.c``; Teixeira, J. Appl. Cryst. 21 (1988) 781, eq. 15), building blocks of radius
R0, fractal dimension D, correlation length xi:

    S(q) = 1 + Gamma(D + 1)/(D - 1) sin((D - 1) arctan(q xi)) (q R0)^-D (1 + 1/(q xi)^2)^((1 - D)/2)

(D = 1: 1 + arctan(q xi)/(q R0); D = 0: 2; q = 0: 1 + (xi/R0)^D Gamma(D + 1)).

Units: q in 1/A, radii and lengths in A; S(q) dimensionless.  Parameters broadcast against each other (shape P),
the result has shape P + (n_q,).  Each is tested equal to sasmodels' kernel (tests/test_physics_review_models.py).
"""

from __future__ import annotations

import math

import numpy as np


def _columns(*values) -> list[np.ndarray]:
    """The parameters broadcast against each other, each with a trailing axis for q."""
    return [v[..., None] for v in np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in values))]


def sticky_hardsphere_sq(q: np.ndarray, radius_effective, volume_fraction, perturb, stickiness) -> np.ndarray:
    """Baxter sticky-hard-sphere S(q) (module docstring), sasmodels ``stickyhardsphere``: ``q`` (n_q,) in 1/A,
    ``radius_effective`` in A, ``volume_fraction``, ``perturb`` (the well's relative width, 0.01-0.1) and
    ``stickiness`` (dimensionless) broadcast; the result has their shape + (n_q,), -1 where unphysical."""
    q = np.asarray(q, dtype=float)
    r, phi, eps, tau = _columns(radius_effective, volume_fraction, perturb, stickiness)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        onemineps = 1.0 - eps
        eta = phi / onemineps / onemineps / onemineps
        aa = 2.0 * r / onemineps
        etam1 = 1.0 - eta
        etam1sq = etam1 * etam1
        qa = eta / 6.0
        qb = tau + eta / etam1
        qc = (1.0 + eta / 2.0) / etam1sq
        radic = qb * qb - 2.0 * qa * qc
        root = np.sqrt(np.where(radic < 0, 0.0, radic))
        lam = np.minimum((qb - root) / qa, (qb + root) / qa)   # the smaller root (the larger is unphysical)
        mu = lam * eta * etam1
        unphysical = (radic < 0) | (mu > 1.0 + 2.0 * eta)
        alpha = (1.0 + 2.0 * eta - mu) / etam1sq
        beta = (mu - 3.0 * eta) / (2.0 * etam1sq)
        kk = q * aa
        k2 = kk * kk
        k3 = kk * k2
        ds, dc = np.sin(kk), np.cos(kk)
        aq = 1.0 + 12.0 * eta * (((ds - kk * dc) * alpha) / k3 + (beta * (1.0 - dc)) / k2 - (lam * ds) / (12.0 * kk))
        bq = 12.0 * eta * (alpha * (0.5 / kk - ds / k2 + (1.0 - dc) / k3) + beta * (1.0 / kk - ds / k2)
                           - (lam / 12.0) * ((1.0 - dc) / kk))
        sq = 1.0 / (aq * aq + bq * bq)
    return np.where(unphysical, -1.0, sq)


def _gamma(x: np.ndarray) -> np.ndarray:
    """Gamma(x) element by element (math.gamma; inf at its poles)."""
    def one(v: float) -> float:
        try:
            return math.gamma(v)
        except (ValueError, OverflowError):
            return math.inf
    return np.vectorize(one, otypes=[float])(x)


def fractal_sq(q: np.ndarray, radius, fractal_dim, cor_length) -> np.ndarray:
    """Teixeira's fractal-aggregate S(q) (module docstring), sasmodels ``fractal_sq``: ``q`` (n_q,) in 1/A, building
    block ``radius`` R0 and ``cor_length`` xi in A, ``fractal_dim`` D (> 0) broadcast; the result has their shape +
    (n_q,)."""
    q = np.asarray(q, dtype=float)
    r0, d, xi = _columns(radius, fractal_dim, cor_length)
    g = _gamma(d + 1.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        dm1 = d - 1.0
        t1 = g / dm1 * np.sin(dm1 * np.arctan(q * xi))
        t2 = (q * r0) ** -d
        t3 = (1.0 + 1.0 / (q * xi) ** 2) ** (-0.5 * dm1)
        term = t1 * t2 * t3
        term = np.where(d == 1.0, np.arctan(q * xi) / (q * r0), term)
        term = np.where(d == 0.0, 1.0, term)
        term = np.where(q == 0.0, (xi / r0) ** d * g, term)
    return 1.0 + term
