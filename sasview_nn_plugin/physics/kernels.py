r"""Forward model: polydisperse spheres with a Percus-Yevick hard-sphere S(q), decoupling approximation.

Exactly what sasmodels' ``sphere@hardsphere`` computes with an array (number) distribution over
radius, ``radius_effective_mode=1`` and ``structure_factor_mode=0``:

    I(q) = scale * phi * sum_i w_i F2_i(q) / sum_i w_i V_i * S_PY(q; R_eff, phi) + background
    F2_i(q) = 1e-4 * (drho * V_i * 3 j1(q R_i) / (q R_i))^2,     R_eff = sum_i w_i R_i / sum_i w_i

Units: q in 1/A, R in A, V in A^3, SLDs in 1e-6/A^2, I in 1/cm (sasmodels' absolute scale).
The per-radius basis F2_i(q) comes from sasmodels' own ``sphere`` kernel, computed once per grid;
many curves are then one matrix product.  S(q) is :func:`.scattering.hardsphere_sq` (a numpy port of sasmodels'
``hardsphere.c``, tested equal to the kernel).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import InputError
from .scattering import DEFAULT_SLD, DEFAULT_SLD_SOLVENT, hardsphere_sq

PHI_MAX = 0.74  # close packing; sasmodels' upper limit for hardsphere volfraction


def volume_fraction_array(phi: np.ndarray | float) -> np.ndarray:
    """Return phi as an array, raising InputError unless every value is in [0, 0.74)."""
    phi = np.asarray(phi, dtype=float)
    if not np.all(np.isfinite(phi)) or np.any(phi < 0) or np.any(phi >= PHI_MAX):
        bad = phi[~((phi >= 0) & (phi < PHI_MAX))].ravel()[:3]
        raise InputError(f"volume fraction must be in [0, {PHI_MAX}) (got {bad.tolist()})", parameter="volume_fraction")
    return phi


def dilute_as_one(phi: np.ndarray | float) -> np.ndarray:
    """The volume fraction as the intensity's prefactor, with phi = 0 (dilute: S(q) = 1) read as 1.

    sasmodels' product model multiplies P(q) by its S(q)'s volume fraction, so at phi = 0 it gives I = 0; a
    dilute sample's curve is then the sphere model alone, whose ``scale`` is the volume fraction.  Scales are
    fitted here (the network is blind to them), so phi = 0 means that curve.
    """
    phi = np.asarray(phi, dtype=float)
    return np.where(phi > 0, phi, 1.0)


@lru_cache(maxsize=4)
def kernel_model(name: str):
    from sasmodels.core import load_model

    return load_model(name, dtype="double", platform="dll")


def sasmodels_version() -> str:
    import sasmodels

    return str(sasmodels.__version__)


@dataclass(frozen=True)
class SphereBasis:
    """Per-radius form factors on a q grid.

    ``f2[i, j]`` is sasmodels' <F^2> (1e-4 * (drho V F)^2) for radius ``radius[i]`` (A) at
    ``q[j]`` (1/A); ``volume[i]`` is the sphere volume (A^3).
    """

    q: np.ndarray
    radius: np.ndarray
    f2: np.ndarray
    volume: np.ndarray
    sld: float = DEFAULT_SLD
    sld_solvent: float = DEFAULT_SLD_SOLVENT


def sphere_basis(q: np.ndarray, radius: np.ndarray, sld: float = DEFAULT_SLD,
                 sld_solvent: float = DEFAULT_SLD_SOLVENT) -> SphereBasis:
    """Evaluate sasmodels' ``sphere`` kernel once per radius on the q grid."""
    from sasmodels.direct_model import call_Fq

    q = np.ascontiguousarray(q, dtype=float)
    radius = np.ascontiguousarray(radius, dtype=float)
    kernel = kernel_model("sphere").make_kernel([q])
    try:
        f2 = np.empty((len(radius), len(q)))
        volume = np.empty(len(radius))
        for i, r in enumerate(radius):
            pars = dict(scale=1.0, background=0.0, sld=sld, sld_solvent=sld_solvent, radius=r)
            _, f2[i], _, volume[i], _ = call_Fq(kernel, pars)
    finally:
        kernel.release()
    return SphereBasis(q=q, radius=radius, f2=f2, volume=volume, sld=sld, sld_solvent=sld_solvent)


def pinhole_resolution(q: np.ndarray, dq_over_q: float) -> tuple[np.ndarray, np.ndarray]:
    """sasmodels' Pinhole1D for a 1-sigma Gaussian width dq = dq_over_q * q.

    Returns (q_calc, weight_matrix): evaluate I on q_calc (n_calc,), then ``I_calc @ weight_matrix``
    gives the smeared I on q (n_q,).  On a uniform q grid, q_calc extends it with the same step
    (so the fast S(q) path applies) by 3 sigma at both ends.
    """
    from sasmodels.resolution import Pinhole1D

    q = np.asarray(q, dtype=float)
    q_calc = None
    step = (q[-1] - q[0]) / (len(q) - 1)
    if np.allclose(np.diff(q), step, rtol=1e-9, atol=0):
        lo = int(np.ceil(3.0 * dq_over_q * q[0] / step)) + 1
        lo = min(lo, int((q[0] - 0.02 * q[0]) / step))  # sasmodels drops q_calc < 0.02 q_min
        hi = int(np.ceil(3.0 * dq_over_q * q[-1] / step)) + 1
        q_calc = q[0] + step * np.arange(-lo, len(q) + hi)
    res = Pinhole1D(q, dq_over_q * q, q_calc=q_calc)
    return res.q_calc, res.weight_matrix


def number_to_volume(weights: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Volume-weighted distribution (rows sum to 1) from number weights over radius (A)."""
    v = np.asarray(weights, dtype=float) * np.asarray(radius, dtype=float) ** 3
    return v / v.sum(axis=-1, keepdims=True)


def volume_to_number(weights: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Number-weighted distribution (rows sum to 1) from volume weights over radius (A)."""
    n = np.asarray(weights, dtype=float) / np.asarray(radius, dtype=float) ** 3
    return n / n.sum(axis=-1, keepdims=True)


def mean_radius(weights: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Weighted mean radius (A) of (rows of) a distribution; R_eff in radius_effective_mode=1."""
    w = np.asarray(weights, dtype=float)
    return (w @ np.asarray(radius, dtype=float)) / w.sum(axis=-1)


def breadth(number: np.ndarray, radius: np.ndarray) -> float:
    """Volume-weighted over number-weighted mean radius of a number distribution over ``radius`` (A): 1 for one
    radius, 1 + 3 pd^2 for a Schulz distribution of polydispersity pd; NaN where either is undefined."""
    n, r = np.asarray(number, dtype=float), np.asarray(radius, dtype=float)
    if not (n.sum() > 0 and (n * r**3).sum() > 0):
        return math.nan
    return float(mean_radius(number_to_volume(n, r), r) / mean_radius(n, r))


def intensity(basis: SphereBasis, weights: np.ndarray, volume_fraction: np.ndarray | float,
              scale: np.ndarray | float = 1.0, background: np.ndarray | float = 0.0) -> np.ndarray:
    """I(q) in 1/cm for number weights over ``basis.radius`` (shape (n_r,) or (N, n_r)).

    ``volume_fraction``, ``scale`` and ``background`` are scalars or length-N arrays.  Equals
    sasmodels ``sphere@hardsphere`` (decoupling, R_eff = number-mean radius).
    """
    w = np.asarray(weights, dtype=float)
    phi = volume_fraction_array(volume_fraction)
    if w.ndim not in (1, 2) or w.shape[-1] != len(basis.radius):
        raise InputError(f"weights must have {len(basis.radius)} columns, one per radius bin (got {w.shape})",
                         parameter="weights")
    if np.any(w < 0) or np.any(w.sum(axis=-1) <= 0):
        raise InputError("weights must be non-negative with a positive sum", parameter="weights")
    p = w @ basis.f2                     # sum_i w_i F2_i(q)
    vol = w @ basis.volume               # sum_i w_i V_i
    r_eff = mean_radius(w, basis.radius)
    sq = hardsphere_sq(basis.q, r_eff, phi)
    factor = np.asarray(scale, dtype=float) * dilute_as_one(phi) / vol
    return factor[..., None] * p * sq + np.asarray(background, dtype=float)[..., None]
