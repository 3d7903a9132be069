r"""The scattering formulas, written once in numpy: sphere F^2, the Percus-Yevick S(q), the power law.

Every stage computes with these (the training simulators, the quality check, the polish, the refinement's
fitness) and the SasView plugin model ``sasview/nn_spheres_hs.py`` carries a generated copy of the functions
it needs (SasView loads that file alone; ``python -m sasview_nn_plugin.sasview.plugin_source`` writes the copy,
tests/test_sasview_plugin_model.py checks it is current).  The windowed simulator's basis is sasmodels' own
compiled ``sphere`` kernel (:func:`.kernels.sphere_basis`), not a second implementation.
Each is tested equal to sasmodels itself (``sphere``, ``hardsphere``, ``power_law``) in tests/test_physics.py.
Pinhole and slit smearing are :mod:`.smearing`; sasmodels' compiled sphere kernel basis is :mod:`.kernels`.

    Phi(u)   = 3 (sin u - u cos u) / u^3 = 3 j1(u) / u            (1 - u^2/10 below u = 1e-3)
    F2(q; R) = 1e-4 (drho V Phi(q R))^2,  V = 4/3 pi R^3            (1/cm * A^3 per particle)
    S_PY(q)  = 1 / (1 + 24 phi FF(X) / X^2),  X = 2 q R_eff          (sasmodels hardsphere.c, Kinning & Thomas)
    P(q)     = q^-p                                                 (sasmodels power_law at scale 1, no background)

Units: q in 1/A, radius in A, SLD in 1e-6/A^2.  Equal to sasmodels (double precision): F2 within 2e-9 relative
(measured 1.2e-9 at q R = 1e-3, where the direct form loses digits; < 3e-13 above q R = 0.05), S(q) within
1e-10 for X >= 0.5 (below, the kernel's own arithmetic cancels and both agree to ~1e-6).  The small-argument
branches are those the shipped training sets were made with (docs/wide.md: a set regenerates bit for bit).
"""

from __future__ import annotations

import threading

import numpy as np

DEFAULT_SLD = 1.0  # sasmodels sphere defaults, 1e-6/A^2
DEFAULT_SLD_SOLVENT = 6.0

_CACHE: dict = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 16


def sphere_form(u: np.ndarray) -> np.ndarray:
    """Phi(u) = 3 (sin u - u cos u) / u^3 (u = q R >= 0; 1 - u^2/10 below u = 1e-3): the sphere's normalised
    amplitude, F = drho V Phi."""
    with np.errstate(invalid="ignore", divide="ignore"):
        phi = 3.0 * (np.sin(u) - u * np.cos(u)) / u**3
    small = u < 1e-3
    return np.where(small, 1.0 - u * u / 10.0, phi)


def sphere_form_factor(q: np.ndarray, radius: np.ndarray, sld: float = DEFAULT_SLD,
                       sld_solvent: float = DEFAULT_SLD_SOLVENT) -> tuple[np.ndarray, np.ndarray]:
    """(F2 (n_r, n_q) in 1/cm * A^3 per particle, V (n_r,) in A^3) for radii (A) at q (1/A): sasmodels
    ``sphere``'s <F^2> = 1e-4 (drho V Phi(q R))^2, drho = sld - sld_solvent (1e-6/A^2).  :func:`sphere_f2` caches."""
    q = np.asarray(q, dtype=float)
    radius = np.asarray(radius, dtype=float)
    volume = 4.0 / 3.0 * np.pi * radius**3
    return 1e-4 * ((sld - sld_solvent) * volume[:, None] * sphere_form(radius[:, None] * q)) ** 2, volume


def sphere_f2(q: np.ndarray, radius: np.ndarray, sld: float = DEFAULT_SLD,
              sld_solvent: float = DEFAULT_SLD_SOLVENT) -> tuple[np.ndarray, np.ndarray]:
    """:func:`sphere_form_factor` cached (read-only arrays) per (q, radius, SLDs): a run's curves usually share
    grids."""
    q = np.ascontiguousarray(q, dtype=float)
    radius = np.ascontiguousarray(radius, dtype=float)
    key = (q.tobytes(), radius.tobytes(), float(sld), float(sld_solvent))
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    f2, volume = sphere_form_factor(q, radius, sld, sld_solvent)
    f2.setflags(write=False)
    volume.setflags(write=False)
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = (f2, volume)
    return f2, volume


def py_coefficients(phi):
    """Percus-Yevick's A, B, G of ``hardsphere.c`` (Kinning & Thomas) for volume fraction(s) phi."""
    d = 1.0 / (1.0 - phi) ** 2
    a = ((1.0 + 2.0 * phi) * d) ** 2
    b = -6.0 * phi * ((1.0 + 0.5 * phi) * d) ** 2
    return a, b, 0.5 * phi * a


def _sincos(q: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sin and cos of ``scale[..., None] * q``.

    On a uniform q grid (the simulator's) the angles form arithmetic series, computed ~4x faster
    by angle addition over a sqrt(n) x sqrt(n) split (error < 1e-12 absolute for angles < 100).
    """
    x = scale * q
    n = len(q)
    step = (q[-1] - q[0]) / (n - 1) if n > 1 else 0.0
    tol = 1e-9 * abs(step)
    # the two end steps first (a log grid fails there at once), then every step
    ends = n > 16 and abs(q[1] - q[0] - step) <= tol and abs(q[-1] - q[-2] - step) <= tol
    uniform = ends and np.allclose(np.diff(q), step, rtol=1e-9, atol=0)
    if not uniform or np.max(np.abs(x)) > 100:
        return np.sin(x), np.cos(x)
    m = int(np.ceil(np.sqrt(n)))
    x0, dx = scale[..., 0], scale[..., 0] * step
    e_lo = np.exp(1j * dx[..., None] * np.arange(m))
    e_hi = np.exp(1j * (x0 * q[0])[..., None] + 1j * dx[..., None] * np.arange(0, n, m))
    e = (e_hi[..., :, None] * e_lo[..., None, :]).reshape(*x0.shape, -1)[..., :n]
    return e.imag, e.real


def hardsphere_sq(q: np.ndarray, radius_effective: np.ndarray | float,
                  volume_fraction: np.ndarray | float) -> np.ndarray:
    """Percus-Yevick hard-sphere S(q), a vectorised port of sasmodels ``hardsphere.c`` (double).

    ``q`` (1/A) has shape (n_q,); ``radius_effective`` (A) and ``volume_fraction`` broadcast
    against each other, the result has their shape + (n_q,).  With X = 2 q R_eff and u = 1/X,
    hardsphere.c's FF regrouped by sin and cos (fewer array passes) is
    FF = s u (A + 2B + 4G - 24 G u^2) + c (u^2 (2B + 12G - 24 G u^2) - (A + B + G)) + u^2 (24 G u^2 - 2B)
    and S = 1 / (1 + 24 phi FF u^2).  Equal to the kernel within 1e-10 relative for X >= 0.5
    (the default grids have X >= 0.72).  For 0.05 <= X < 0.5 both lose digits to cancellation
    and agree to ~1e-6 (the kernel's own comments say as much); X < 0.05 uses the kernel's Taylor series.
    """
    q = np.asarray(q, dtype=float)
    r, phi = np.broadcast_arrays(np.asarray(radius_effective, dtype=float),
                                 np.asarray(volume_fraction, dtype=float))
    r, phi = r[..., None], phi[..., None]
    a, b, g = py_coefficients(phi)
    two_r = np.abs(2.0 * r)
    x = two_r * np.abs(q)
    with np.errstate(divide="ignore", invalid="ignore"):
        s, c = _sincos(np.abs(q), two_r)
        u2 = 1.0 / (x * x)
        t = (24.0 * g) * u2
        ff = (a + 2.0 * b + 4.0 * g) - t
        ff *= np.sqrt(u2)
        ff *= s
        t2 = (2.0 * b + 12.0 * g) - t
        t2 *= u2
        t2 -= a + b + g
        t2 *= c
        ff += t2
        t -= 2.0 * b
        t *= u2
        ff += t
        ff *= u2
        ff *= 24.0 * phi
        ff += 1.0
        sq = np.reciprocal(ff, out=ff)
    small = x < 0.05
    if np.any(small):
        x2 = x * x
        taylor = 8.0 * a + 6.0 * b + 4.0 * g + (-0.8 * a - b / 1.5 - 0.5 * g
                                                + (a / 35.0 + 0.0125 * b + 0.02 * g) * x2) * x2
        sq = np.where(small, 1.0 / (1.0 + phi * taylor), sq)
        sq = np.where(x < 5e-6, 1.0 / a, sq)
        sq = np.where(np.abs(r) < 1e-12, 1.0, sq)
    return sq


def inverse_powers(q: np.ndarray) -> np.ndarray:
    """(6, n_q): 1, q^-2, q^-3, q^-4, q^-5, q^-6, the grid part of :func:`hardsphere_denominator`."""
    with np.errstate(over="ignore"):
        inv = 1.0 / q
        return np.stack([np.ones_like(q), inv**2, inv**3, inv**4, inv**5, inv**6])


def hardsphere_denominator(radius_effective, volume_fraction, c):
    """(..., 3, 6) coefficients over :func:`inverse_powers` of 1 / (c S(q)) = sin X P_s + cos X P_c + P_0
    (X = 2 q R_eff; P_s, P_c, P_0 the rows times the powers): :func:`hardsphere_sq`'s FF with u = 1/(2 R_eff q)
    expanded in powers of 1/q, for callers that cache a grid's powers and divide by the denominator.  Valid
    where hardsphere_sq uses its closed form (X >= 0.05); phi = 0 gives 1/c (S = 1)."""
    a, b, g = py_coefficients(volume_fraction)
    s = 0.5 / radius_effective
    s2 = s * s
    p = 24.0 * volume_fraction / c
    t = 24.0 * g
    zero = 0.0 * s
    return np.array([[zero, zero, p * (a + 2.0 * b + 4.0 * g) * s * s2, zero, -p * t * s * s2 * s2, zero],
                     [zero, -p * (a + b + g) * s2, zero, p * (2.0 * b + 12.0 * g) * s2 * s2, zero, -p * t * s2**3],
                     [1.0 / c, zero, zero, -2.0 * p * b * s2 * s2, zero, p * t * s2**3]])


def power_law(q: np.ndarray, exponent: np.ndarray | float) -> np.ndarray:
    """q^-exponent (q > 0; q and exponent broadcast): sasmodels ``power_law`` at scale 1 and no background, the
    low-q upturn of aggregates."""
    return np.asarray(q, dtype=float) ** -np.asarray(exponent, dtype=float)
