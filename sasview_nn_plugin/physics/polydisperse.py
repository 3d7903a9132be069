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
    F2(q; R) = 1e-4 (drho V Phi(q R))^2 = 1e-4 (4 pi drho)^2 (sin u - u cos u)^2 / q^6,  u = q R,  V = 4/3 pi R^3

(Phi below u = 0.1 from sasmodels' Taylor series; the mesh's radii are evenly spaced, so their sines at one q come
by angle addition, :func:`_sin_minus_u_cos`.)

``fractal`` (``fractal.c``), building blocks of radius R0, no dispersion:

    I(q) = scale 1e-4 phi V drho^2 Phi(q R0)^2 S_fractal(q; R0, D, xi) + background   (:func:`.structure.fractal_sq`)

Units: q in 1/A, radii and lengths in A, SLDs in 1e-6/A^2, I in 1/cm.  Tested equal to sasmodels
(tests/test_physics_review_models.py: 1e-12 relative, 1.7e-6 with the hard-sphere S(q), 1.2e-9 the fractal).
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


def schulz_sphere_average(q: np.ndarray, radius, radius_pd, *, radius_pd_n: int = 35, radius_pd_nsigma: float = 3.0,
                          cutoff: float = 0.0, sld: float = DEFAULT_SLD,
                          sld_solvent: float = DEFAULT_SLD_SOLVENT) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(<F2(q)> (P + (n_q,), 1/cm A^3), <V> (P, A^3), <R> (P, A)) over sasmodels' Schulz dispersion about mean radii
    ``radius`` (A) with relative widths ``radius_pd`` (broadcast, shape P), points of weight <= ``cutoff`` left
    out: the form-factor part of :func:`sphere_intensity` (module docstring), which depends on no other parameter."""
    q = np.asarray(q, dtype=float)
    x, w = schulz_mesh(radius, radius_pd, radius_pd_n, radius_pd_nsigma)
    w = np.where(w > cutoff, w, 0.0)
    c, pd = np.broadcast_arrays(np.asarray(radius, dtype=float), np.asarray(radius_pd, dtype=float))
    first = c - radius_pd_nsigma * pd * c                           # the mesh before sasmodels drops points
    step = 2 * radius_pd_nsigma * pd * c / (int(radius_pd_n) - 1) if radius_pd_n >= 2 else 0 * c
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        total = w.sum(axis=-1)
        total = np.where(total == 0, 1.0, total)                    # sasmodels: nothing summed -> I = 0 / 0
        d = _sin_minus_u_cos(q, first, step, x.shape[-1])
        d *= d
        # V Phi(q R) = 4 pi (sin u - u cos u) / q^3: F2 = 1e-4 (drho 4 pi)^2 (sin u - u cos u)^2 / q^6
        mean_f2 = np.einsum("...r,...rq->...q", w, d) * (1e-4 * (4.0 * math.pi * (sld - sld_solvent)) ** 2 / q**6)
        volume = 4.0 / 3.0 * math.pi * x**3
        return mean_f2 / total[..., None], (w * volume).sum(axis=-1) / total, (w * x).sum(axis=-1) / total


def _sin_minus_u_cos(q: np.ndarray, first, step, n: int) -> np.ndarray:
    """sin u - u cos u = u^3 Phi(u) / 3 for u = q x_k on evenly spaced radii x_k = first + k step (A, shape P; k < n):
    shape P + (n, n_q).  Below u = 0.1 from sasmodels' Taylor series of Phi (``sas_3j1x_x``); above, the sines and
    cosines of the n angles per q by angle addition, exp(i q (first + m a step)) exp(i q b step) for k = m a + b
    (m = ceil(sqrt(n))): 2 sqrt(n) complex exponentials per q in place of n sines and n cosines (error ~1e-15
    absolute in each, 3e-13 relative in the result at u = 0.1, less above)."""
    first, step = (np.asarray(v, dtype=float)[..., None, None] for v in (first, step))
    m = math.ceil(math.sqrt(n))
    blocks = -(-n // m)
    hi = np.exp(1j * q * (first + (m * np.arange(blocks))[:, None] * step))        # P + (blocks, n_q)
    lo = np.exp(1j * q * (np.arange(m)[:, None] * step))                            # P + (m, n_q)
    e = (hi[..., :, None, :] * lo[..., None, :, :]).reshape(*hi.shape[:-2], blocks * m, len(q))[..., :n, :]
    u = (first + np.arange(n)[:, None] * step) * q
    out = e.real * u
    np.subtract(e.imag, out, out=out)
    small = np.abs(u) < 0.1
    cols = np.flatnonzero(small.reshape(-1, len(q)).any(axis=0))     # the low q columns, few
    if len(cols):
        us = u[..., cols]
        u2 = us * us
        taylor = us * u2 / 3.0 * (1.0 + u2 * (-3.0 / 30.0 + u2 * (3.0 / 840.0 + u2 * (-3.0 / 45360.0))))
        out[..., cols] = np.where(small[..., cols], taylor, out[..., cols])
    return out


def sphere_with_structure(q: np.ndarray, mean_f2: np.ndarray, mean_volume, mean_radius, volume_fraction=None,
                          structure: str | None = None, structure_pars: dict | None = None) -> np.ndarray:
    """sasmodels' ``sphere`` (``structure`` None: <F2>/<V>) or ``sphere@<structure>`` (phi <F2>/<V> S(q; <R>, phi))
    at scale 1 and background 0 from :func:`schulz_sphere_average`'s parts (shape P + (n_q,), P, P); ``q`` (n_q,)
    in 1/A, ``volume_fraction`` and the values of ``structure_pars`` broadcast against P."""
    if structure not in STRUCTURE_FACTORS:
        raise ValueError(f"structure must be one of {STRUCTURE_FACTORS} (got {structure!r})")
    q = np.asarray(q, dtype=float)
    mean_volume = np.asarray(mean_volume, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if structure is None:
            return mean_f2 / mean_volume[..., None]
        phi = np.asarray(volume_fraction, dtype=float)
        sq = hardsphere_sq(q, mean_radius, phi) if structure == "hardsphere" else \
            sticky_hardsphere_sq(q, mean_radius, phi, **(structure_pars or {}))
        return (phi / mean_volume)[..., None] * mean_f2 * sq


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
    parts = schulz_sphere_average(q, radius, radius_pd, radius_pd_n=radius_pd_n, radius_pd_nsigma=radius_pd_nsigma,
                                  cutoff=cutoff, sld=sld, sld_solvent=sld_solvent)
    shape = sphere_with_structure(q, *parts, volume_fraction, structure, structure_pars)
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
