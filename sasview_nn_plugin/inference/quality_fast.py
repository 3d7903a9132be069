r"""The quality check's arithmetic from per-grid caches: what :func:`.quality.assess` reports, in few numpy calls.

On a 2-core VM every numpy call costs ~1-2 us, so the check is arranged around the number of calls.  Everything
that does not depend on the distribution is computed once per (q, radius grid, dq) and cached (:class:`Grid`):

- the sphere <F^2> basis and a (n_r, 5) moment matrix (columns 1, R, V, the small-edge bins, V on the
  large-edge bins): one product gives the normalisation, R_eff, <V> and both edge masses;
- the powers 1, q^-2 .. q^-6 of the model grid: the Percus-Yevick S(q) for one (R_eff, phi) is
  1 / (1 + sin(X) P_s(1/q) + cos(X) P_c(1/q) + P_0(1/q)), X = 2 q R_eff, three polynomials whose scalar
  coefficients (powers of 1/(2 R_eff)) make one (3, 6) @ (6, n) product; the scale phi / <V> is folded in;
- the smearing as a banded matrix (:func:`.resolution.banded`);
- the block starts of the smoothed residual;
- the noise rule's trial spheres E = <F^2>/V on the subsampled points, as rows E^2 and E: the chi^2 added
  by c E after refitting scale and background is c^2 (E^2 . w - b^T G^-1 b) with b = (E . w, E . w m) and
  G the 2x2 Gram matrix of (1, m): one (2 n_R, n) @ (n, 2) product instead of forming the residual curves.

:func:`evaluate` is one curve, :func:`evaluate_many` N curves on one grid (rows of the same arithmetic).
phi = 0 is the dilute curve (S = 1, prefactor 1, the window rule alone).  They return None where the fast
arithmetic does not apply (2 R_eff q_min < 0.05 with phi > 0: S(q)'s Taylor branch; a degenerate fit); the
caller then uses the straightforward forms (:mod:`.quality_model`).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from .quality_model import nnls_scale_background, runs_z, sphere_f2
from .resolution import Banded, banded

_LOCK = threading.Lock()
_GRIDS: tuple = ()     # ((key, Grid), ...), most recent first; replaced whole under the lock
_GRIDS_KEPT = 16


@dataclass(frozen=True, eq=False)
class Grid:
    """What the check needs that depends on the grids only (read-only arrays)."""

    n: int                   # data points
    smear: Banded | None     # the resolution (None: unsmeared)
    xq: np.ndarray           # (n_m,) the model grid: q, or smear.x
    ones: np.ndarray         # (n,) ones
    f2: np.ndarray           # (n_r, n_m) <F^2> on the model grid
    moments: np.ndarray      # (n_r, 5): 1, R, V, 1 on the EDGE small bins, V on the EDGE large bins
    powers: np.ndarray       # (6, n_m): 1, q^-2 .. q^-6 of the model grid
    x_min: float             # the model grid's smallest q
    sweep: tuple | None      # a uniform model grid q0 + (J j + k) h: (q0 + J j h (n_J,), k h (J,)); else None
    starts: np.ndarray       # block starts of the smoothed residual
    step: int                # noise rule: every step-th point
    trial: np.ndarray        # (n_R,) trial radii of the noise rule, A
    trial_basis: np.ndarray  # (2 n_R, n_sub): E^2 rows, then E rows
    window: tuple[float, float]  # the window rule's (pi/q_max, pi/q_min) scaled by obs_x / pi


def grid(q: np.ndarray, radius: np.ndarray, dq: np.ndarray | None, *, blocks: int, edge_bins: int,
         obs_x: float, obs_radii: int, obs_points: int) -> Grid:
    """The :class:`Grid` of data points q (1/A), radius bins (A) and resolution dq (1/A or None), cached."""
    global _GRIDS
    key = (q.tobytes(), radius.tobytes(), None if dq is None else dq.tobytes(), blocks, edge_bins, obs_x,
           obs_radii, obs_points)
    for k, g in _GRIDS:
        if k == key:
            return g
    smear = None if dq is None else banded(q, dq)
    xq = q.copy() if smear is None else smear.x
    f2, volume = sphere_f2(xq, radius)
    mom = np.zeros((len(radius), 5))
    mom[:, 0], mom[:, 1], mom[:, 2] = 1.0, radius, volume
    mom[:edge_bins, 3] = 1.0
    mom[len(radius) - edge_bins:, 4] = volume[len(radius) - edge_bins:]
    with np.errstate(over="ignore"):
        inv = 1.0 / xq
        powers = np.stack([np.ones_like(xq), inv**2, inv**3, inv**4, inv**5, inv**6])
    n = len(q)
    k = max(1, min(blocks, n))
    starts = np.linspace(0, n, k + 1).astype(int)[:-1]
    lo, hi = obs_x / q[-1], obs_x / q[0]
    trial = np.geomspace(lo, hi, obs_radii)
    step = max(1, n // obs_points)
    tf2, tv = sphere_f2(q[::step], trial)
    e = tf2 / tv[:, None]
    out = Grid(n, smear, xq, np.ones(n), f2, mom, powers, float(xq[0]), _sweep(xq, float(np.abs(radius).max())),
               starts, step, trial, np.concatenate([e * e, e]), (float(lo), float(hi)))
    for a in (xq, out.ones, mom, powers, starts, trial, out.trial_basis):
        a.setflags(write=False)
    with _LOCK:
        _GRIDS = ((key, out), *_GRIDS[: _GRIDS_KEPT - 1])
    return out


def _sweep(x: np.ndarray, r_max: float) -> tuple | None:
    """The angle-addition split of a uniform grid (``Grid.sweep``), if x is one to 1e-13 / (2 r_max) 1/A (an
    argument error below 1e-12 for every R_eff on the radius grid); None for other grids."""
    n = len(x)
    h = (x[-1] - x[0]) / (n - 1) if n > 1 else 0.0
    if n < 64 or not h > 0 or np.abs(x - (x[0] + h * np.arange(n))).max() * 2.0 * r_max > 1e-13:
        return None
    j = math.isqrt(n - 1) + 1
    coarse, fine = x[0] + (j * h) * np.arange(-(-n // j)), h * np.arange(j)
    coarse.setflags(write=False)
    fine.setflags(write=False)
    return coarse, fine


def _sincos(gr: Grid, two_r):
    """(sin, cos) of X = two_r * the model grid: float two_r -> (n_m,), (N,) -> (N, n_m); on a uniform grid
    by angle addition, sin(a_j + b_k) = sin a_j cos b_k + cos a_j sin b_k (2 sqrt(n) trig evaluations)."""
    if gr.sweep is None:
        arg = np.multiply.outer(two_r, gr.xq)
        return np.sin(arg), np.cos(arg)
    a, b = np.multiply.outer(two_r, gr.sweep[0]), np.multiply.outer(two_r, gr.sweep[1])
    sa, ca = np.sin(a)[..., :, None], np.cos(a)[..., :, None]
    sb, cb = np.sin(b)[..., None, :], np.cos(b)[..., None, :]
    sin, cos = sa * cb, ca * cb
    sin += ca * sb
    cos -= sa * sb
    shape, n = (*np.shape(two_r), -1), len(gr.xq)
    return sin.reshape(shape)[..., :n], cos.reshape(shape)[..., :n]


def _den_coefficients(r_eff, phi, c):
    """(..., 3, 6) coefficients over ``Grid.powers`` of the S(q) denominator's sin, cos and constant parts,
    divided by the scale c (so that model = (number @ f2) / (sin X P_s + cos X P_c + P_0)); hardsphere.c's
    FF regrouped as in :func:`.quality_model.structure_factor`."""
    d = 1.0 / (1.0 - phi) ** 2
    a = ((1.0 + 2.0 * phi) * d) ** 2
    b = -6.0 * phi * ((1.0 + 0.5 * phi) * d) ** 2
    g = 0.5 * phi * a
    s = 0.5 / r_eff
    s2 = s * s
    p = 24.0 * phi / c
    t = 24.0 * g
    zero = 0.0 * s
    return np.array([[zero, zero, p * (a + 2.0 * b + 4.0 * g) * s * s2, zero, -p * t * s * s2 * s2, zero],
                     [zero, -p * (a + b + g) * s2, zero, p * (2.0 * b + 12.0 * g) * s2 * s2, zero, -p * t * s2**3],
                     [1.0 / c, zero, zero, -2.0 * p * b * s2 * s2, zero, p * t * s2**3]])


def evaluate(gr: Grid, data: np.ndarray, di: np.ndarray | None, number: np.ndarray, phi: float,
             obs_fraction: float, obs_chi2: float):
    """(scale, background, chi2 or None, runs z, misfit rms, misfit max, small-edge number share, large-edge
    volume share, observable range) of one curve on ``gr``, or None (see the module docstring)."""
    s0, s1, sv, e_lo, e_hi = (number @ gr.moments).tolist()
    r_eff = s1 / s0
    if not (sv > 0 and (phi == 0 or phi > 0 and 2.0 * r_eff * gr.x_min >= 0.05)):
        return None
    rows = _den_coefficients(r_eff, phi, (phi if phi > 0 else 1.0) / sv) @ gr.powers  # phi = 0: dilute, S = 1
    den, cos = _sincos(gr, 2.0 * r_eff)
    den *= rows[0]
    cos *= rows[1]
    den += cos
    den += rows[2]
    m = number @ gr.f2
    m /= den
    if gr.smear is not None:
        m = gr.smear.apply(m)
    sigma = data if di is None else di
    w = 1.0 / (sigma * sigma)
    smm, smd, sm = (np.array([m, data, gr.ones]) @ (w * m)).tolist()  # gemv, not a (3, n) @ (n, 3) gemm
    sd, sw = float(w @ data), float(w.sum())
    det = smm * sw - sm * sm
    a = (smd * sw - sm * sd) / det if det > 0 else -1.0
    b = (smm * sd - sm * smd) / det if det > 0 else -1.0
    if not (a >= 0 and b >= 0):
        a, b = nnls_scale_background(m, data, sigma)
    fit = m * a
    fit += b
    resid = data - fit
    z = resid / sigma
    chi2 = None if di is None else float(z @ z) / max(gr.n - 2, 1)
    smooth = np.add.reduceat(resid, gr.starts)
    smooth /= np.add.reduceat(data, gr.starts)
    misfit = math.sqrt(float(smooth @ smooth) / len(smooth))
    shape_max = float(np.abs(smooth).max())
    obs = gr.window
    if di is not None and phi > 0:
        obs = _observable(gr, w, m, obs_fraction * phi * (a if a > 0 else float(np.median(data / m))), obs_chi2)
        if obs is None:
            return None
    return a, b, chi2, runs_z(z), misfit, shape_max, e_lo / s0, e_hi / sv, obs


def _observable(gr: Grid, w: np.ndarray, m: np.ndarray, c: float, obs_chi2: float):
    """The noise rule's (lo, hi) from the cached trial spheres (module docstring); None: a singular Gram matrix."""
    k = gr.step
    ws = w[::k] * k
    ms = m[::k]
    wm = ws * ms
    n_r = len(gr.trial)
    e2, b0 = np.split(gr.trial_basis @ ws, 2)        # E^2 . w, E . w
    b1 = gr.trial_basis[n_r:] @ wm                   # E . w m
    g0, g1, g2 = float(ws.sum()), float(wm.sum()), float(wm @ ms)
    det = g0 * g2 - g1 * g1
    if not det > 0:
        return None
    quad = b0 * b0
    quad *= g2
    quad -= (2.0 * g1) * (b0 * b1)
    quad += g0 * (b1 * b1)
    e2 -= quad / det
    ok = (c * c) * e2 >= obs_chi2
    first = int(ok.argmax())
    if not ok[first]:
        return math.nan, math.nan
    return float(gr.trial[first]), float(gr.trial[n_r - 1 - int(ok[::-1].argmax())])


def _rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, b)


def evaluate_many(gr: Grid, data: np.ndarray, di: np.ndarray | None, numbers: np.ndarray, phis: np.ndarray,
                  obs_fraction: float, obs_chi2: float) -> list:
    """:func:`evaluate` for N curves (rows of data, di, numbers; phis (N,)) on one grid: a list of its tuples,
    None for a row where the fast arithmetic does not apply."""
    out: list = [None] * len(data)
    mom = numbers @ gr.moments
    s0, s1, sv = mom[:, 0], mom[:, 1], mom[:, 2]
    with np.errstate(all="ignore"):
        r_eff = s1 / s0
        idx = np.flatnonzero((sv > 0) & ((phis == 0) | (phis > 0) & (2.0 * r_eff * gr.x_min >= 0.05))
                             & np.isfinite(mom).all(axis=1))
    if not len(idx):
        return out
    data, numbers, phi, r_eff, mom = data[idx], numbers[idx], phis[idx], r_eff[idx], mom[idx]
    pref = np.where(phi > 0, phi, 1.0)  # phi = 0: dilute, S = 1
    rows = np.moveaxis(_den_coefficients(r_eff, phi, pref / mom[:, 2]), -1, 0) @ gr.powers   # (N, 3, n_m)
    den, cos = _sincos(gr, 2.0 * r_eff)
    den *= rows[:, 0]
    cos *= rows[:, 1]
    den += cos
    den += rows[:, 2]
    m = (numbers @ gr.f2) / den
    if gr.smear is not None:
        m = gr.smear.apply(m)
    sigma = data if di is None else di[idx]
    w = 1.0 / (sigma * sigma)
    wm = w * m
    smm, smd, sm, sd, sw = _rowdot(wm, m), _rowdot(wm, data), wm.sum(axis=1), _rowdot(w, data), w.sum(axis=1)
    det = smm * sw - sm * sm
    with np.errstate(all="ignore"):
        a = np.where(det > 0, (smd * sw - sm * sd) / det, -1.0)
        b = np.where(det > 0, (smm * sd - sm * smd) / det, -1.0)
    for j in np.flatnonzero(~((a >= 0) & (b >= 0))):
        a[j], b[j] = nnls_scale_background(m[j], data[j], sigma[j])
    resid = data - (m * a[:, None] + b[:, None])
    z = resid / sigma
    n = gr.n
    chi2 = None if di is None else _rowdot(z, z) / max(n - 2, 1)
    pos = z > 0
    n1 = np.count_nonzero(pos, axis=1)
    n2 = n - n1
    mu = 2.0 * n1 * n2 / n + 1.0
    var = (mu - 1.0) * (mu - 2.0) / (n - 1.0)
    runs = 1 + np.count_nonzero(pos[:, 1:] != pos[:, :-1], axis=1)
    with np.errstate(all="ignore"):
        rz = np.where((n1 == 0) | (n2 == 0), -math.sqrt(n), np.where(var > 0, (runs - mu) / np.sqrt(var), 0.0))
    smooth = np.add.reduceat(resid, gr.starts, axis=1) / np.add.reduceat(data, gr.starts, axis=1)
    misfit = np.sqrt(_rowdot(smooth, smooth) / smooth.shape[1])
    shape_max = np.abs(smooth).max(axis=1)
    obs = [gr.window] * len(idx)
    if di is not None:
        level = a.copy()
        for j in np.flatnonzero(~(a > 0)):  # a flat fit: the data's level sets the noise rule
            level[j] = np.median(data[j] / m[j])
        rule = _observable_many(gr, w, m, obs_fraction * phi * level, obs_chi2)
        obs = [o if p > 0 else gr.window for o, p in zip(rule, phi.tolist(), strict=True)]
    cols = zip(a.tolist(), b.tolist(), [None] * len(idx) if chi2 is None else chi2.tolist(), rz.tolist(),
               misfit.tolist(), shape_max.tolist(), (mom[:, 3] / mom[:, 0]).tolist(), (mom[:, 4] / mom[:, 2]).tolist(),
               obs, strict=True)
    for i, row in zip(idx.tolist(), cols, strict=True):
        out[i] = None if row[-1] is None else row
    return out


def _observable_many(gr: Grid, w: np.ndarray, m: np.ndarray, c: np.ndarray, obs_chi2: float) -> list:
    """:func:`_observable` for rows of w and m (scales c (N,)): a list of (lo, hi), None where singular."""
    k, n_r = gr.step, len(gr.trial)
    ws = w[:, ::k] * k
    ms = m[:, ::k]
    wm = ws * ms
    r = ws @ gr.trial_basis.T
    e2, b0 = r[:, :n_r], r[:, n_r:]
    b1 = wm @ gr.trial_basis[n_r:].T
    g0, g1, g2 = ws.sum(axis=1), wm.sum(axis=1), _rowdot(wm, ms)
    det = g0 * g2 - g1 * g1
    with np.errstate(all="ignore"):
        quad = (g2[:, None] * (b0 * b0) - (2.0 * g1)[:, None] * (b0 * b1) + g0[:, None] * (b1 * b1)) / det[:, None]
        ok = (c * c)[:, None] * (e2 - quad) >= obs_chi2
    first = ok.argmax(axis=1)
    last = n_r - 1 - ok[:, ::-1].argmax(axis=1)
    found = ok[np.arange(len(ok)), first]
    trial = gr.trial.tolist()
    return [None if not dt > 0 else (trial[f], trial[la]) if fd else (math.nan, math.nan)
            for dt, f, la, fd in zip(det.tolist(), first.tolist(), last.tolist(), found.tolist(), strict=True)]
