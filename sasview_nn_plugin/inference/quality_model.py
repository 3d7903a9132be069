"""The forward model of the quality check in numpy: sasmodels ``sphere@hardsphere`` (analytic sphere <F^2>
times the Percus-Yevick S(q)), smeared with pinhole resolution, the non-negative scale/background fit, and the
residual statistics (runs test, block means).

The straightforward forms, re-exported by :mod:`.quality` (``from ..inference.quality import
nnls_scale_background`` keeps working); :mod:`.quality_fast` computes the same from per-grid caches.
Units: q in 1/A, radius in A, SLD in 1e-6/A^2, intensity in 1/cm.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from ..physics.kernels import DEFAULT_SLD, DEFAULT_SLD_SOLVENT, dilute_as_one, hardsphere_sq
from ..physics.slit import slit_resolution
from .resolution import smearing

_CACHE: dict = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 16


def sphere_f2(q: np.ndarray, radius: np.ndarray, sld: float = DEFAULT_SLD,
              sld_solvent: float = DEFAULT_SLD_SOLVENT) -> tuple[np.ndarray, np.ndarray]:
    """(F2 (n_r, n_q) in 1/cm * A^3 per particle, V (n_r,) in A^3): sasmodels ``sphere``'s <F^2>, analytic.

    F2 = 1e-4 (drho V 3 (sin x - x cos x)/x^3)^2 with x = q R (Taylor series below x = 0.01).  Cached
    (read-only arrays) per (q, radius, SLDs): a run's curves usually share grids.
    """
    q = np.ascontiguousarray(q, dtype=float)
    radius = np.ascontiguousarray(radius, dtype=float)
    key = (q.tobytes(), radius.tobytes(), float(sld), float(sld_solvent))
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    x = radius[:, None] * q
    with np.errstate(divide="ignore", invalid="ignore"):
        j = 3.0 * (np.sin(x) - x * np.cos(x)) / x**3
    small = x < 0.01
    if small.any():
        x2 = x[small] ** 2
        j[small] = 1.0 + x2 * (-0.1 + x2 / 280.0)
    volume = 4.0 / 3.0 * math.pi * radius**3
    f2 = 1e-4 * ((sld - sld_solvent) * volume[:, None] * j) ** 2
    f2.setflags(write=False)
    volume.setflags(write=False)
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = (f2, volume)
    return f2, volume


def model_intensity(q, radius, number, volume_fraction: float, sld: float = DEFAULT_SLD,
                    sld_solvent: float = DEFAULT_SLD_SOLVENT) -> np.ndarray:
    """I(q) in 1/cm of sasmodels ``sphere@hardsphere`` at scale 1, background 0, in numpy.

    ``number``: number weights (any positive sum) at ``radius`` (A); decoupling (structure_factor_mode 0),
    R_eff = the number-mean radius (radius_effective_mode 1): I = phi <F^2> / <V> * S_PY(q; R_eff, phi).
    """
    q = np.asarray(q, dtype=float)
    radius = np.asarray(radius, dtype=float)
    w = np.asarray(number, dtype=float)
    f2, volume = sphere_f2(q, radius, sld, sld_solvent)
    r_eff = float(w @ radius) / float(w.sum())
    prefactor = float(dilute_as_one(volume_fraction))  # phi = 0: dilute, sasmodels `sphere`
    return (prefactor / float(w @ volume)) * (w @ f2) * structure_factor(q, r_eff, volume_fraction)


def py_coefficients(phi):
    """Percus-Yevick's A, B, G of ``hardsphere.c`` (Kinning & Thomas) for volume fraction(s) phi."""
    d = 1.0 / (1.0 - phi) ** 2
    a = ((1.0 + 2.0 * phi) * d) ** 2
    b = -6.0 * phi * ((1.0 + 0.5 * phi) * d) ** 2
    return a, b, 0.5 * phi * a


def structure_factor(q: np.ndarray, radius_effective: float, volume_fraction: float) -> np.ndarray:
    """Percus-Yevick S(q) for one R_eff (A) and phi: :func:`..physics.kernels.hardsphere_sq`'s formula for
    X = 2 q R_eff >= 0.05 in a few scalar-coefficient array passes (~10x faster for one curve; tested equal
    to 1e-12); smaller X goes to hardsphere_sq (its Taylor branch)."""
    r, phi = float(radius_effective), float(volume_fraction)
    x = (2.0 * abs(r)) * q
    if not (x[0] >= 0.05 and phi >= 0):
        return hardsphere_sq(q, r, phi)
    a, b, g = py_coefficients(phi)
    u = 1.0 / x
    u2 = u * u
    t = (24.0 * g) * u2
    ff = np.sin(x) * u * ((a + 2.0 * b + 4.0 * g) - t)
    ff += np.cos(x) * (u2 * ((2.0 * b + 12.0 * g) - t) - (a + b + g))
    ff += u2 * (t - 2.0 * b)
    return 1.0 / (1.0 + (24.0 * phi) * u2 * ff)


def nnls_scale_background(shape: np.ndarray, data: np.ndarray, sigma: np.ndarray) -> tuple[float, float]:
    """Non-negative (scale, background) minimising sum(((scale * shape + background - data) / sigma)^2).

    Closed form for two unknowns (the unconstrained optimum, else the best of the two edges), no scipy.
    """
    w = 1.0 / sigma**2
    sw, sm, sd = w.sum(), w @ shape, w @ data
    smm, smd = (w * shape) @ shape, (w * shape) @ data
    det = smm * sw - sm * sm
    if det > 0:
        a = (smd * sw - sm * sd) / det
        b = (smm * sd - sm * smd) / det
        if a >= 0 and b >= 0:
            return float(a), float(b)
    cands = [(max(smd / smm, 0.0) if smm > 0 else 0.0, 0.0), (0.0, max(sd / sw, 0.0))]

    def cost(p):
        r = (p[0] * shape + p[1] - data) / sigma
        return r @ r
    a, b = min(cands, key=cost)
    return float(a), float(b)


def nnls_columns(cols: np.ndarray, data: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Non-negative least squares over a few columns (n, k): argmin_x>=0 |(cols x - data) / sigma|^2, by
    eliminating the negative ones (exact for the k <= 5 of the check and the polish)."""
    w = 1.0 / sigma
    a, b = cols * w[:, None], data * w
    free = np.ones(cols.shape[1], bool)
    x = np.zeros(cols.shape[1])
    for _ in range(cols.shape[1]):
        x = np.zeros(cols.shape[1])
        x[free] = np.linalg.lstsq(a[:, free], b, rcond=None)[0]
        if np.all(x >= 0):
            return x
        free &= x > 0
        if not free.any():
            break
    return np.maximum(x, 0)


def smeared_power_law(q, dq, exponent: float, slit_length: float | None = None) -> np.ndarray:
    """q^-exponent (q in 1/A) smeared as :func:`smeared_intensity` smears: the low-q upturn of aggregates."""
    if slit_length:
        x, w = slit_resolution(q, slit_length)
        return x ** -exponent @ w
    if dq is None:
        return np.asarray(q, float) ** -exponent
    x, w = smearing(q, dq)
    return w @ x ** -exponent


def smeared_intensity(q, dq, radius, number, volume_fraction: float, slit_length: float | None = None) -> np.ndarray:
    """:func:`model_intensity` smeared with pinhole resolution dq (1/A per point; None: unsmeared) or with a slit
    length (1/A; :mod:`..physics.slit`, sasmodels' Slit1D)."""
    if slit_length:
        x, w = slit_resolution(q, slit_length)
        return model_intensity(x, radius, number, volume_fraction) @ w
    if dq is None:
        return model_intensity(q, radius, number, volume_fraction)
    x, w = smearing(q, dq)
    return w @ model_intensity(x, radius, number, volume_fraction)


# -- statistics ---------------------------------------------------------------------------------------

def runs_z(residual: np.ndarray) -> float:
    """Wald-Wolfowitz runs-test z of the residuals' signs: ~N(0, 1) for independent noise, very negative
    when the residuals come in long same-sign stretches (a systematic misfit)."""
    pos = residual > 0
    n = len(pos)
    n1 = int(np.count_nonzero(pos))
    n2 = n - n1
    if n1 == 0 or n2 == 0:
        return -math.sqrt(n)  # one run: as structured as it gets
    runs = 1 + int(np.count_nonzero(pos[1:] != pos[:-1]))
    mu = 2.0 * n1 * n2 / n + 1.0
    var = (mu - 1.0) * (mu - 2.0) / (n - 1.0)
    return float((runs - mu) / math.sqrt(var)) if var > 0 else 0.0


def block_means(x: np.ndarray, blocks: int) -> np.ndarray:
    """Means of ``x`` over ``blocks`` contiguous, nearly equal blocks (fewer when x is short)."""
    k = max(1, min(blocks, len(x)))
    edges = np.linspace(0, len(x), k + 1).astype(int)
    return np.add.reduceat(x, edges[:-1]) / np.diff(edges)
