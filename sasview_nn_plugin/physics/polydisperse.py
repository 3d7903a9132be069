r"""sasmodels' polydisperse sphere with a structure factor, and its ``fractal`` model, in numpy: what sasmodels 1.1
computes for ``sphere``, ``sphere@hardsphere`` and ``sphere@stickyhardsphere`` with a Schulz radius dispersion
(``radius_pd``, ``radius_pd_n``, ``radius_pd_nsigma``), ``radius_effective_mode=1`` and ``structure_factor_mode=0``
(decoupling), and for ``fractal``, each for many parameter sets at once (a fit's Jacobian is one call).

The dispersion (``sasmodels.weights.SchulzDispersion``): n radii evenly over c +- nsigma sigma (c the mean radius,
sigma = pd c), those below 1e-8 A dropped, each weighted by the Schulz density

    w(x) = exp(z ln z + (z - 1) ln(x/c) - z x/c - ln c - ln Gamma(z)),   z = 1/pd^2

normalised to sum 1, and, as sasmodels' kernel loop does, only points with w > ``cutoff`` summed (``DirectModel``
passes 1e-5, a direct ``call_kernel`` 0).  With <.> the w-weighted mean over those points:

    I(q) = scale phi <F2(q)> / <V> S(q; <R>, phi) + background             (sphere@S; R_eff = <R>, mode 1)
    I(q) = scale <F2(q)> / <V> + background                                (sphere alone)
    F2(q; R) = 1e-4 (drho V Phi(q R))^2,  V = 4/3 pi R^3                   (:func:`.scattering.sphere_form`)

``fractal`` (``fractal.c``), building blocks of radius R0, no dispersion:

    I(q) = scale 1e-4 phi V drho^2 Phi(q R0)^2 S_fractal(q; R0, D, xi) + background   (:func:`.structure.fractal_sq`)

Units: q in 1/A, radii and lengths in A, SLDs in 1e-6/A^2, I in 1/cm.  Tested equal to sasmodels
(tests/test_physics_review_models.py).
"""

from __future__ import annotations

import math

import numpy as np

from .scattering import DEFAULT_SLD, DEFAULT_SLD_SOLVENT, hardsphere_sq, sphere_form
from .structure import fractal_sq, sticky_hardsphere_sq

STRUCTURE_FACTORS = (None, "hardsphere", "stickyhardsphere")
FRACTAL_SLD, FRACTAL_SLD_SOLVENT = 2.0, 6.4   # sasmodels fractal's defaults, 1e-6/A^2


def schulz_mesh(radius, radius_pd, n: int = 35, nsigma: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """(points, weights), each of shape P + (n,), of sasmodels' Schulz dispersion about mean radii ``radius`` (A)
    with relative widths ``radius_pd`` (broadcast, shape P): the Schulz density at the points, normalised to sum 1
    (``sasmodels.weights.get_weights``); points sasmodels drops (below 1e-8 A) carry weight 0.  A width of 0 (or
    n < 2) is the mean alone, weight 1."""
    c, pd = np.broadcast_arrays(np.asarray(radius, dtype=float), np.asarray(radius_pd, dtype=float))
    c, pd = c[..., None], pd[..., None]
    sigma = pd * c
    x = c + np.linspace(-nsigma, nsigma, int(n)) * sigma if n >= 2 else np.broadcast_to(c, c.shape).copy()
    kept = x >= 1e-8
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = (c / sigma) ** 2
        lgz = np.vectorize(lambda v: math.lgamma(v) if v > 0 and math.isfinite(v) else math.nan, otypes=[float])(z)
        ratio = np.where(kept, x, c) / c
        w = np.exp(z * np.log(z) + (z - 1) * np.log(ratio) - ratio * z - np.log(c) - lgz)
    mono = (sigma == 0) | (n < 2)
    w = np.where(kept, w, 0.0)
    if np.any(mono):
        first = np.arange(x.shape[-1]) == 0
        x = np.where(mono, np.where(first, c, 1.0), x)
        w = np.where(mono, np.where(first, 1.0, 0.0), w)
    total = w.sum(axis=-1, keepdims=True)
    return np.where(kept | mono, x, 1.0), w / np.where(total > 0, total, 1.0)


def sphere_intensity(q: np.ndarray, radius, radius_pd, volume_fraction=None, structure: str | None = None,
                     structure_pars: dict | None = None, *, radius_pd_n: int = 35, radius_pd_nsigma: float = 3.0,
                     cutoff: float = 0.0, scale=1.0, background=0.0, sld: float = DEFAULT_SLD,
                     sld_solvent: float = DEFAULT_SLD_SOLVENT) -> np.ndarray:
    """I(q) (1/cm) of sasmodels ``sphere`` (``structure`` None) or ``sphere@<structure>`` (``hardsphere``,
    ``stickyhardsphere``; ``radius_effective_mode=1``, ``structure_factor_mode=0``) with Schulz radii (module
    docstring).  ``q`` (n_q,) in 1/A; ``radius`` (mean, A), ``radius_pd``, ``volume_fraction``, ``scale``,
    ``background`` and the values of ``structure_pars`` (stickyhardsphere: ``perturb``, ``stickiness``) broadcast
    (shape P); the result has shape P + (n_q,).  ``cutoff``: the (normalised) dispersion weight a point must exceed."""
    if structure not in STRUCTURE_FACTORS:
        raise ValueError(f"structure must be one of {STRUCTURE_FACTORS} (got {structure!r})")
    q = np.asarray(q, dtype=float)
    x, w = schulz_mesh(radius, radius_pd, radius_pd_n, radius_pd_nsigma)
    w = np.where(w > cutoff, w, 0.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        total = w.sum(axis=-1)
        total = np.where(total == 0, 1.0, total)                    # sasmodels: nothing summed -> I = 0 / 0
        volume = 4.0 / 3.0 * math.pi * x**3
        f2 = 1e-4 * ((sld - sld_solvent) * volume[..., None] * sphere_form(x[..., None] * q)) ** 2
        mean_f2 = np.einsum("...r,...rq->...q", w, f2) / total[..., None]
        mean_v = (w * volume).sum(axis=-1) / total
        if structure is None:
            shape = mean_f2 / mean_v[..., None]
        else:
            r_eff = (w * x).sum(axis=-1) / total
            phi = np.asarray(volume_fraction, dtype=float)
            sq = hardsphere_sq(q, r_eff, phi) if structure == "hardsphere" else \
                sticky_hardsphere_sq(q, r_eff, phi, **(structure_pars or {}))
            shape = (phi / mean_v)[..., None] * mean_f2 * sq
    return np.asarray(scale, dtype=float)[..., None] * shape + np.asarray(background, dtype=float)[..., None]


def fractal_intensity(q: np.ndarray, radius, fractal_dim, cor_length, volume_fraction=0.05, *, scale=1.0,
                      background=0.0, sld_block: float = FRACTAL_SLD,
                      sld_solvent: float = FRACTAL_SLD_SOLVENT) -> np.ndarray:
    """I(q) (1/cm) of sasmodels ``fractal`` (module docstring): ``q`` (n_q,) in 1/A; building-block ``radius`` and
    ``cor_length`` in A, ``fractal_dim``, ``volume_fraction``, ``scale``, ``background`` broadcast (shape P); the
    result has shape P + (n_q,)."""
    q = np.asarray(q, dtype=float)
    r0 = np.asarray(radius, dtype=float)
    sq = fractal_sq(q, r0, fractal_dim, cor_length)
    volume = (4.0 / 3.0 * math.pi * r0**3)[..., None]
    amplitude = volume * (sld_block - sld_solvent) * sphere_form(r0[..., None] * q)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        shape = 1e-4 * np.asarray(volume_fraction, dtype=float)[..., None] * sq * amplitude * amplitude / volume
    return np.asarray(scale, dtype=float)[..., None] * shape + np.asarray(background, dtype=float)[..., None]
