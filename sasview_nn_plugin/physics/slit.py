r"""Slit smearing (Bonse-Hart USAXS, Kratky cameras) in numpy: sasmodels' ``Slit1D`` for a slit length alone.

For a slit length dq_l (1/A, sasdata's ``dxl``, CanSAS ``dQl``) and no slit width,

    I_s(q) = 1/dq_l * integral_0^dq_l I(sqrt(q^2 + u^2)) du,

which sasmodels evaluates as a weight matrix over computation points ``q_calc`` (the data's q extended
geometrically up to sqrt(q_max^2 + dq_l^2)) with the substitution u_j = sqrt(q_j^2 - q^2) on the midpoints
between ``q_calc`` (``sasmodels.resolution.slit_resolution`` / ``_q_perp_weights``).  Ported here so that the
inference path (numpy + h5py) smears exactly as SasView fits; tested equal to sasmodels.
"""

from __future__ import annotations

import math

import numpy as np

MINIMUM_ABSOLUTE_Q = 0.02       # sasmodels: q_calc below 0.02 q_min is not evaluated


def slit_q_calc(q: np.ndarray, slit_length: float) -> np.ndarray:
    """sasmodels' ``slit_extend_q`` for a slit length alone: q extended geometrically (its mean log step) up to
    sqrt(q_max^2 + slit_length^2) (1/A)."""
    q = np.sort(np.asarray(q, dtype=float))
    q_max = math.sqrt(q[-1] ** 2 + slit_length**2)
    if q_max <= q[-1]:
        return q
    step = (math.log(q[-1]) - math.log(q[0])) / (len(q) - 1) if q[-1] > q[0] else math.log(10.0) / 10
    n_high = int(math.ceil((math.log(q_max) - math.log(q[-1])) / step))
    high = np.logspace(math.log10(q[-1]), math.log10(q_max), n_high + 1)[1:]
    return np.concatenate([q, high])


def _edges(x: np.ndarray) -> np.ndarray:
    """Bin edges halfway between centres (sasmodels ``bin_edges``)."""
    return np.concatenate([[x[0] - 0.5 * (x[1] - x[0])], 0.5 * (x[1:] + x[:-1]), [x[-1] + 0.5 * (x[-1] - x[-2])]])


def slit_weights(q_calc: np.ndarray, q: np.ndarray, slit_length: float | np.ndarray) -> np.ndarray:
    """(len(q_calc), len(q)) matrix W with I_s(q) = I(q_calc) @ W: sasmodels' slit_resolution, width 0."""
    q_calc = np.asarray(q_calc, dtype=float)
    q = np.asarray(q, dtype=float)
    length = np.broadcast_to(np.asarray(slit_length, dtype=float), q.shape)[:, None]
    e = _edges(q_calc)[None, :]
    qi = q[:, None]
    limit = np.sqrt(qi**2 + length**2)
    u = e**2 - qi**2
    u = np.where(e < np.abs(qi), 0.0, u)
    u = np.where(e > limit, limit**2 - qi**2, u)
    return (np.diff(np.sqrt(u), axis=1) / length).T


def slit_resolution(q: np.ndarray, slit_length: float) -> tuple[np.ndarray, np.ndarray]:
    """(q_calc, W) for data at q (1/A) and one slit length (1/A): smeared I(q) = I(q_calc) @ W."""
    q_calc = slit_q_calc(q, slit_length)
    q_calc = q_calc[np.abs(q_calc) >= MINIMUM_ABSOLUTE_Q * np.min(q)]
    return q_calc, slit_weights(q_calc, q, slit_length)
