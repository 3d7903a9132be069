r"""Resolution smearing in numpy, written once: sasmodels' ``Pinhole1D`` and ``Slit1D`` (a slit length alone) as
weight matrices over computation points q_calc.  Units: 1/A.

Pinhole: :func:`smearing` gives (q_calc, W) with smeared I(q) = W @ I(q_calc): a 1-sigma Gaussian dq per point,
cut at -2.5/+3 sigma and renormalised (:func:`pinhole_weights`), over a log grid (:func:`pinhole_q_calc`, which
also serves a range of widths f * dq: the refinement's fitted ``dq_scale``), cached per (q, dq); :func:`banded`
the same matrix cut into blocks of consecutive rows, each over the columns its rows use (a 3 % resolution touches
~150 of ~1000 columns per row), so that smearing one curve costs one batched product over ~1/5 of the entries
(:class:`Banded`, equal to ``W @ I`` to rounding).  Tested against sasmodels' ``Pinhole1D`` (tests/test_quality.py).

Slit: for a slit length dq_l (1/A, sasdata's ``dxl``, CanSAS ``dQl``) and no slit width,

    I_s(q) = 1/dq_l * integral_0^dq_l I(sqrt(q^2 + u^2)) du,

which sasmodels evaluates as a weight matrix over computation points ``q_calc`` (the data's q extended
geometrically up to sqrt(q_max^2 + dq_l^2)) with the substitution u_j = sqrt(q_j^2 - q^2) on the midpoints
between ``q_calc`` (``sasmodels.resolution.slit_resolution`` / ``_q_perp_weights``): :func:`slit_resolution`
gives (q_calc, W) with smeared I(q) = I(q_calc) @ W, tested equal to sasmodels' ``Slit1D`` (tests/test_slit.py).
Ported so that the inference path (numpy + h5py) smears as SasView fits.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

SMEAR_NSIGMA, SMEAR_STEPS, SMEAR_PER_SIGMA = (2.5, 3.0), (1000, 2000), 4  # dq: cut (sigma), grid (smearing)
_LOCK = threading.Lock()
_CACHE_SIZE = 8

_SMEAR: dict = {}
_BANDED: dict = {}


def _erf(x: np.ndarray) -> np.ndarray:  # Abramowitz & Stegun 7.1.26, |error| < 1.5e-7 (numpy has no erf)
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    p = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.copysign(1.0 - p * np.exp(-x * x), x)


def _cut(q: np.ndarray, dq: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sigma, a, b), each (n, 1): every point's 1-sigma width (>= 1e-8) and its Gaussian's cut [a, b] (1/A)."""
    sig = np.maximum(dq, 1e-8)[:, None]
    a = np.maximum(q - SMEAR_NSIGMA[0] * sig[:, 0], 0.02 * q[0])[:, None]
    b = np.maximum(q + SMEAR_NSIGMA[1] * sig[:, 0], a[:, 0] * (1 + 1e-9))[:, None]
    return sig, a, b


def pinhole_q_calc(q: np.ndarray, dq: np.ndarray, widest: float = 1.0, narrowest: float = 1.0,
                   steps: tuple[int, int] = SMEAR_STEPS, per_log: float = 0.0) -> np.ndarray:
    """:func:`smearing`'s q_calc (1/A) for widths f * dq, f from ``narrowest`` to ``widest``: a log grid over every
    point's cut at the widest, >= SMEAR_PER_SIGMA steps per the smallest dQ/Q at the narrowest and >= ``per_log``
    steps per unit of ln q, within ``steps`` (at least, at most)."""
    q, dq = np.asarray(q, dtype=float), np.asarray(dq, dtype=float)
    _, a, b = _cut(q, widest * dq)
    lo, hi = float(min(a.min(), q[0])), float(max(b.max(), q[-1]))
    rel = (narrowest * dq / q)[dq > 0]
    need = math.log(hi / lo) * SMEAR_PER_SIGMA / float(rel.min()) if len(rel) else steps[1]
    need = max(need, per_log * math.log(hi / lo))
    return np.geomspace(lo, hi, int(min(max(math.ceil(need), steps[0]), steps[1])) + 1)


def pinhole_weights(x: np.ndarray, q: np.ndarray, dq: np.ndarray) -> np.ndarray:
    """(n, n_x) W, smeared I(q) = W @ I(x): each point's 1-sigma Gaussian dq (1/A) cut at -2.5/+3 sigma,
    integrated exactly against the linear interpolant of I on the ascending grid ``x`` (1/A, covering the cuts),
    rows renormalised to 1 (sasmodels' Pinhole1D).  Computed on each row's band of columns (the segments its cut
    touches, one width for all rows), zero elsewhere."""
    q, dq = np.asarray(q, dtype=float), np.asarray(dq, dtype=float)
    sig, a, b = _cut(q, dq)
    first_node = np.clip(np.searchsorted(x, a[:, 0], side="right") - 1, 0, len(x) - 2)
    last_node = np.clip(np.searchsorted(x, b[:, 0], side="left"), 1, len(x) - 1)
    width = int((last_node - first_node).max()) + 1
    cols = np.minimum(first_node, len(x) - width)[:, None] + np.arange(width)  # (n, width) each row's band
    xb = x[cols]
    u1 = (np.clip(xb[:, :-1], a, b) - q[:, None]) / (math.sqrt(2.0) * sig)  # segments clipped to [a, b]
    u2 = (np.clip(xb[:, 1:], a, b) - q[:, None]) / (math.sqrt(2.0) * sig)
    mass = 0.5 * (_erf(u2) - _erf(u1))
    first = q[:, None] * mass + (sig / math.sqrt(2.0 * math.pi)) * (np.exp(-u1 * u1) - np.exp(-u2 * u2))
    right = (first - xb[:, :-1] * mass) / np.diff(xb, axis=1)  # weight of each segment's right node
    band = np.zeros((len(q), width))
    band[:, :-1] += mass - right
    band[:, 1:] += right
    band /= band.sum(axis=1, keepdims=True)
    w = np.zeros((len(q), len(x)))
    w[np.arange(len(q))[:, None], cols] = band
    return w


def smearing(q: np.ndarray, dq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(q_calc, W), smeared I(q) = W @ I(q_calc): 1-sigma Gaussian dq (1/A) per point cut at -2.5/+3 sigma and
    renormalised (sasmodels' Pinhole1D); q_calc a log grid (:func:`pinhole_q_calc`), W each Gaussian integrated
    exactly against the linear interpolant of I (:func:`pinhole_weights`).  Cached per (q, dq)."""
    q, dq = np.ascontiguousarray(q, dtype=float), np.ascontiguousarray(dq, dtype=float)
    key = (q.tobytes(), dq.tobytes())
    if key in _SMEAR:
        return _SMEAR[key]
    x = pinhole_q_calc(q, dq)
    w = pinhole_weights(x, q, dq)
    with _LOCK:
        if len(_SMEAR) >= _CACHE_SIZE:
            _SMEAR.pop(next(iter(_SMEAR)))
        _SMEAR[key] = (x, w)
    return x, w


@dataclass(frozen=True, eq=False)
class Banded:
    """A smearing matrix W (n, n_x) as ``len(starts)`` blocks of ``rows`` consecutive rows: block j is
    W[j rows : (j + 1) rows, starts[j] : starts[j] + width] (zero rows pad the last), every nonzero inside."""

    x: np.ndarray       # (n_x,) q_calc, 1/A
    n: int              # rows of W (data points)
    index: np.ndarray   # (n_blocks, width): the columns of each block
    blocks: np.ndarray  # (n_blocks, rows, width)

    def apply(self, values: np.ndarray) -> np.ndarray:
        """W @ values for values (n_x,) -> (n,), or row by row for (N, n_x) -> (N, n)."""
        if values.ndim == 1:
            return (self.blocks @ values[self.index][:, :, None]).reshape(-1)[: self.n]
        win = values[:, self.index].transpose(1, 0, 2)                   # (n_blocks, N, width)
        out = win @ self.blocks.transpose(0, 2, 1)                       # (n_blocks, N, rows)
        return out.transpose(1, 0, 2).reshape(len(values), -1)[:, : self.n]


def banded(q: np.ndarray, dq: np.ndarray) -> Banded:
    """:func:`smearing`'s matrix as a :class:`Banded` (block height chosen for the fewest entries, counting
    each block as ~256 more), cached per (q, dq)."""
    q, dq = np.ascontiguousarray(q, dtype=float), np.ascontiguousarray(dq, dtype=float)
    key = (q.tobytes(), dq.tobytes())
    hit = _BANDED.get(key)
    if hit is not None:
        return hit
    x, w = smearing(q, dq)
    nz = w != 0
    first = np.where(nz.any(axis=1), nz.argmax(axis=1), 0)
    last = np.where(nz.any(axis=1), w.shape[1] - 1 - nz[:, ::-1].argmax(axis=1), 0)
    best = None
    for rows in (4, 8, 16, 32, 64, 128):
        nb = -(-len(q) // rows)
        pad = nb * rows - len(q)
        lo = np.pad(first, (0, pad), mode="edge").reshape(nb, rows).min(axis=1)
        hi = np.pad(last, (0, pad), mode="edge").reshape(nb, rows).max(axis=1)
        width = min(int((hi - lo).max()) + 1, w.shape[1])
        cost = nb * (rows * width + 256)
        if best is None or cost < best[0]:
            best = (cost, rows, nb, pad, np.minimum(lo, w.shape[1] - width), width)
    _, rows, nb, pad, starts, width = best
    index = starts[:, None] + np.arange(width)
    wp = np.concatenate([w, np.zeros((pad, w.shape[1]))])
    blocks = np.stack([wp[j * rows:(j + 1) * rows, index[j]] for j in range(nb)])
    for a in (x, index, blocks):
        a.setflags(write=False)
    out = Banded(x, len(q), index, blocks)
    with _LOCK:
        if len(_BANDED) >= _CACHE_SIZE:
            _BANDED.pop(next(iter(_BANDED)))
        _BANDED[key] = out
    return out


# -- slit ----------------------------------------------------------------------------------------------------

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
