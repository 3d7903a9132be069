"""Pinhole resolution in numpy: sasmodels' ``Pinhole1D`` (a 1-sigma Gaussian dq per point, cut at -2.5/+3
sigma and renormalised) as a weight matrix over a log grid, cached per (q, dq).  Units: 1/A."""

from __future__ import annotations

import math
import threading

import numpy as np

SMEAR_NSIGMA, SMEAR_STEPS, SMEAR_PER_SIGMA = (2.5, 3.0), (1000, 2000), 4  # dq: cut (sigma), grid (smearing)
_LOCK = threading.Lock()
_CACHE_SIZE = 8

_SMEAR: dict = {}


def _erf(x: np.ndarray) -> np.ndarray:  # Abramowitz & Stegun 7.1.26, |error| < 1.5e-7 (numpy has no erf)
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    p = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.copysign(1.0 - p * np.exp(-x * x), x)


def smearing(q: np.ndarray, dq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(q_calc, W), smeared I(q) = W @ I(q_calc): 1-sigma Gaussian dq (1/A) per point cut at -2.5/+3 sigma and
    renormalised (sasmodels' Pinhole1D); q_calc a log grid (>= SMEAR_PER_SIGMA steps per smallest dQ/Q, within
    SMEAR_STEPS), W each Gaussian integrated exactly against the linear interpolant of I.  Cached per (q, dq)."""
    q, dq = np.ascontiguousarray(q, dtype=float), np.ascontiguousarray(dq, dtype=float)
    key = (q.tobytes(), dq.tobytes())
    if key in _SMEAR:
        return _SMEAR[key]
    sig = np.maximum(dq, 1e-8)[:, None]
    a = np.maximum(q - SMEAR_NSIGMA[0] * sig[:, 0], 0.02 * q[0])[:, None]
    b = np.maximum(q + SMEAR_NSIGMA[1] * sig[:, 0], a[:, 0] * (1 + 1e-9))[:, None]
    lo, hi = float(min(a.min(), q[0])), float(max(b.max(), q[-1]))
    rel = (dq / q)[dq > 0]
    steps = math.log(hi / lo) * SMEAR_PER_SIGMA / float(rel.min()) if len(rel) else SMEAR_STEPS[1]
    x = np.geomspace(lo, hi, int(min(max(math.ceil(steps), SMEAR_STEPS[0]), SMEAR_STEPS[1])) + 1)
    u1 = (np.clip(x[None, :-1], a, b) - q[:, None]) / (math.sqrt(2.0) * sig)  # segments clipped to [a, b]
    u2 = (np.clip(x[None, 1:], a, b) - q[:, None]) / (math.sqrt(2.0) * sig)
    mass = 0.5 * (_erf(u2) - _erf(u1))
    first = q[:, None] * mass + (sig / math.sqrt(2.0 * math.pi)) * (np.exp(-u1 * u1) - np.exp(-u2 * u2))
    right = (first - x[None, :-1] * mass) / np.diff(x)  # weight of each segment's right node
    w = np.zeros((len(q), len(x)))
    w[:, :-1] += mass - right
    w[:, 1:] += right
    w /= w.sum(axis=1, keepdims=True)
    with _LOCK:
        if len(_SMEAR) >= _CACHE_SIZE:
            _SMEAR.pop(next(iter(_SMEAR)))
        _SMEAR[key] = (x, w)
    return x, w
