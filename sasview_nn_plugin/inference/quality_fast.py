r"""The quality check's arithmetic from per-grid caches: what :func:`.quality.assess` reports, in few numpy calls.

On a 2-core VM every numpy call costs ~1-2 us, so the check is arranged around the number of calls.  Everything
that does not depend on the distribution is computed once per (q, radius grid, dq) and cached (:class:`Grid`):

- the sphere <F^2> basis and a (n_r, 5) moment matrix (columns 1, R, V, the small-edge bins, V on the
  large-edge bins): one product gives the normalisation, R_eff, <V> and both edge masses;
- the powers 1, q^-2 .. q^-6 of the model grid: the Percus-Yevick S(q) for one (R_eff, phi) is
  1 / (1 + sin(X) P_s(1/q) + cos(X) P_c(1/q) + P_0(1/q)), X = 2 q R_eff, three polynomials whose scalar
  coefficients (powers of 1/(2 R_eff), :func:`..physics.scattering.hardsphere_denominator`) make one
  (3, 6) @ (6, n) product; the scale phi / <V> is folded in;
- the smearing as a banded matrix (:func:`..physics.smearing.banded`);
- the block starts of the smoothed residual;
- the noise rule's trial spheres E = <F^2>/V on the subsampled points, as rows E^2 and E: the chi^2 added
  by c E after refitting scale and background is c^2 (E^2 . w - b^T G^-1 b) with b = (E . w, E . w m) and
  G the 2x2 Gram matrix of (1, m): two matrix-vector products instead of forming n_R residual curves (the
  difference loses ~4 of 16 digits to cancellation; the rule only compares it with OBS_CHI2 = 9).

Per curve the scale/background fit is five sums from two matrix-vector products (its quadrant edges from the
same sums), and the rest (residuals, chi^2, runs test, block misfits) one array pass each.  :func:`evaluate`
is one curve, :func:`evaluate_many` N curves on one grid (rows of the same arithmetic, plus: sin/cos by angle
addition on a uniform grid; per-thread scratch arrays for the (N, n) temporaries, since a fresh megabyte
array page-faults; products blocked to stay single-threaded in OpenBLAS, see :func:`_product`).
phi = 0 is the dilute curve (S = 1, prefactor 1, the window rule alone).  They return None where the fast
arithmetic does not apply (2 R_eff q_min < 0.05 with phi > 0: S(q)'s Taylor branch; a degenerate fit); the
caller then uses the straightforward forms (:mod:`.quality_model`).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from ..data.validation import relative_sigma
from ..physics.kernels import dilute_as_one
from ..physics.scattering import hardsphere_denominator, inverse_powers, sphere_f2
from ..physics.smearing import Banded, banded
from .quality_flags import block_misfit
from .quality_model import background_may_be_negative, runs_z

_LOCK = threading.Lock()
_GRIDS: tuple = ()     # ((key, Grid), ...), most recent first; replaced whole under the lock
_GRIDS_KEPT = 16
_WORK = threading.local()  # evaluate_many's large temporaries, reused per thread (a fresh MB array page-faults)


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
    sweep: np.ndarray | None  # a uniform model grid's angle-addition split (:func:`_sweep`), else None
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
    powers = inverse_powers(xq)
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


def _sweep(x: np.ndarray, r_max: float) -> np.ndarray | None:
    """The angle-addition split of a uniform grid x_(J j + k) = x_0 + (J j + k) h (``Grid.sweep``): the J
    values x_0 + J j h, then the J values k h; None unless x is uniform to 1e-13 / (2 r_max) 1/A (an argument
    error below 1e-12 for every R_eff on the radius grid)."""
    n = len(x)
    h = (x[-1] - x[0]) / (n - 1) if n > 1 else 0.0
    if n < 64 or not h > 0 or np.abs(x - (x[0] + h * np.arange(n))).max() * 2.0 * r_max > 1e-13:
        return None
    j = math.isqrt(n - 1) + 1
    out = np.concatenate([x[0] + (j * h) * np.arange(j), h * np.arange(j)])
    out.setflags(write=False)
    return out


def _work(name: str, shape: tuple) -> np.ndarray:
    """A per-thread scratch array of ``shape`` (contents undefined), reused from call to call."""
    size = math.prod(shape)
    buf = _WORK.__dict__.get(name)
    if buf is None or buf.size < size:
        buf = _WORK.__dict__[name] = np.empty(size)
    return buf[:size].reshape(shape)


def _product(a: np.ndarray, b: np.ndarray, name: str) -> np.ndarray:
    """a (N, K) @ b (K, M) into a scratch array, in column blocks of under 2^18 multiply-adds: OpenBLAS runs a
    larger gemm on all cores, and on a loaded 2-core machine waking its threads costs ~10x the product."""
    out = _work(name, (a.shape[0], b.shape[1]))
    step = max(1, ((1 << 18) - 1) // (a.shape[0] * a.shape[1]))
    for k in range(0, b.shape[1], step):
        out[:, k:k + step] = a @ b[:, k:k + step]
    return out


def _sincos_many(gr: Grid, two_r: np.ndarray):
    """(sin, cos) of X = two_r[:, None] * the model grid, (N, n_m) views of scratch arrays; on a uniform grid by
    angle addition, sin(a_j + b_k) = sin a_j cos b_k + cos a_j sin b_k: 2 sqrt(n) trig evaluations a row, not n."""
    if gr.sweep is None:
        arg = np.multiply.outer(two_r, gr.xq)
        return np.sin(arg, out=_work("sin", arg.shape)), np.cos(arg, out=arg)
    arg = np.multiply.outer(two_r, gr.sweep)
    s, c = np.sin(arg), np.cos(arg)
    j = gr.sweep.shape[0] // 2
    sa, ca, sb, cb = s[:, :j, None], c[:, :j, None], s[:, None, j:], c[:, None, j:]
    shape = (len(two_r), j, j)
    sin, cos, tmp = (np.multiply(sa, cb, out=_work("sin", shape)), np.multiply(ca, cb, out=_work("cos", shape)),
                     np.multiply(ca, sb, out=_work("tmp", shape)))
    sin += tmp
    cos -= np.multiply(sa, sb, out=tmp)
    n = len(gr.xq)
    return sin.reshape(len(two_r), -1)[:, :n], cos.reshape(len(two_r), -1)[:, :n]


def evaluate(gr: Grid, data: np.ndarray, di: np.ndarray | None, number: np.ndarray, phi: float,
             obs_fraction: float, obs_chi2: float, observe: bool = True):
    """(scale, background, chi2 or None, runs z, misfit rms, misfit max, small-edge number share, large-edge
    volume share, observable range, sum of squared weighted residuals, the same of the background-only fit) of one
    curve on ``gr``, or None (see the module docstring).
    ``observe=False``: the observable range is the window rule's alone (no noise rule; for scoring candidates)."""
    s0, s1, sv, e_lo, e_hi = (number @ gr.moments).tolist()
    if not (s0 > 0 and sv > 0 and math.isfinite(s1 + e_lo + e_hi)):
        return None
    r_eff = s1 / s0
    if not (phi == 0 or phi > 0 and 2.0 * r_eff * gr.x_min >= 0.05):
        return None
    rows = hardsphere_denominator(r_eff, phi, (phi if phi > 0 else 1.0) / sv) @ gr.powers  # phi = 0: dilute, S = 1
    arg = (2.0 * r_eff) * gr.xq
    den, cos = np.sin(arg), np.cos(arg, out=arg)  # (angle addition, as in evaluate_many, saves nothing here)
    den *= rows[0]
    cos *= rows[1]
    den += cos
    den += rows[2]
    m = number @ gr.f2
    m /= den
    if gr.smear is not None:
        m = gr.smear.apply(m)
    sigma = relative_sigma(data) if di is None else di   # no dI: relative to the curve's level
    w = 1.0 / (sigma * sigma)
    stack = np.array([m, data, gr.ones])
    smm, smd, sm = (stack @ (w * m)).tolist()  # two gemv, not a (3, n) @ (n, 3) gemm (slower here)
    sd, sw = (stack[1:] @ w).tolist()
    det = smm * sw - sm * sm
    a = (smd * sw - sm * sd) / det if det > 0 else -1.0
    b = (smm * sd - sm * smd) / det if det > 0 else -1.0
    if not (a >= 0 and b >= 0):
        signed = background_may_be_negative(data, sigma)
        if not (a >= 0 and signed):
            a, b = _edge(smm, smd, sm, sd, sw, signed)
    fit = m * a
    fit += b
    resid = data - fit
    z = resid / sigma
    rss = float(z @ z)
    chi2 = None if di is None else rss / max(gr.n - 2, 1)
    flat = data - sd / sw  # the background-only fit's residual (weighted mean)
    rss_bg = float((w * flat) @ flat)
    smooth = block_misfit(resid, data, di, sigma, gr.starts)
    misfit = math.sqrt(float(smooth @ smooth) / len(smooth))
    shape_max = float(np.abs(smooth).max())
    obs = gr.window
    if observe and di is not None:   # phi 0 (dilute): the scale is the volume fraction
        obs = _observable(gr, w, m, obs_fraction * float(dilute_as_one(phi)) * (a if a > 0 else float(np.median(
            data / m))), obs_chi2)
        if obs is None:
            return None
    return a, b, chi2, runs_z(z), misfit, shape_max, e_lo / s0, e_hi / sv, obs, rss, rss_bg


def _edge(smm: float, smd: float, sm: float, sd: float, sw: float, signed: bool) -> tuple[float, float]:
    """:func:`.quality_model.nnls_scale_background`'s edge (its optimum outside the bounds): the better of scale
    alone and background alone (free in sign where ``signed``), compared by chi^2 less sum w d^2 (a^2 smm - 2 a smd,
    b^2 sw - 2 b sd)."""
    a = max(smd / smm, 0.0) if smm > 0 else 0.0
    b = sd / sw if signed else max(sd / sw, 0.0)
    return (float(a), 0.0) if a * (a * smm - 2.0 * smd) <= b * (b * sw - 2.0 * sd) else (0.0, float(b))


def _observable(gr: Grid, w: np.ndarray, m: np.ndarray, c: float, obs_chi2: float):
    """The noise rule's (lo, hi) from the cached trial spheres (module docstring); None: a singular Gram matrix."""
    k, n_r = gr.step, len(gr.trial)
    ws = w[::k] * k
    ms = m[::k]
    wm = ws * ms
    g0, g1, g2 = float(ws.sum()), float(wm.sum()), float(wm @ ms)
    det = g0 * g2 - g1 * g1
    if not det > 0:
        return None
    r = gr.trial_basis @ ws                          # E^2 . w (n_R), then E . w (n_R)
    b0, b1 = r[n_r:], gr.trial_basis[n_r:] @ wm      # E . w, E . w m
    chi2 = b0 * (g2 / det)                           # b^T G^-1 b = (g2 b0^2 - 2 g1 b0 b1 + g0 b1^2) / det
    chi2 -= b1 * (2.0 * g1 / det)
    chi2 *= b0
    b1 *= b1
    b1 *= g0 / det
    chi2 += b1
    np.subtract(r[:n_r], chi2, out=chi2)
    chi2 *= c * c
    ok = chi2 >= obs_chi2
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
    idx, r_eff, mom = _valid_rows(gr, numbers, phis)
    if not len(idx):
        return out
    if len(idx) < len(data):
        data, numbers, di = data[idx], numbers[idx], None if di is None else di[idx]
    phi = phis[idx]
    m = _model_many(gr, numbers, phi, r_eff, mom[:, 2])
    sigma = relative_sigma(data) if di is None else di   # no dI: relative to the curve's level
    w = np.multiply(sigma, sigma, out=_work("w", sigma.shape))
    np.reciprocal(w, out=w)
    a, b, level_bg, wm = _scale_background_many(m, data, w, sigma)
    resid = np.multiply(m, a[:, None], out=_work("resid", m.shape))
    resid += b[:, None]
    np.subtract(data, resid, out=resid)
    z = np.divide(resid, sigma, out=wm)
    rss = _rowdot(z, z)
    chi2 = None if di is None else rss / max(gr.n - 2, 1)
    with np.errstate(all="ignore"):
        flat = data - level_bg[:, None]   # the background-only fit's residual (weighted mean)
        rss_bg = _rowdot(w * flat, flat)
    smooth = block_misfit(resid, data, di, sigma, gr.starts)
    misfit = np.sqrt(_rowdot(smooth, smooth) / smooth.shape[1])
    shape_max = np.abs(smooth).max(axis=1)
    obs = [gr.window] * len(idx)
    if di is not None:
        level = a.copy()
        for j in np.flatnonzero(~(a > 0)):  # a flat fit: the data's level sets the noise rule
            level[j] = np.median(data[j] / m[j])
        rule = _observable_many(gr, w, m, obs_fraction * phi * level, obs_chi2)
        obs = [o if p > 0 else gr.window for o, p in zip(rule, phi.tolist(), strict=True)]
    cols = zip(a.tolist(), b.tolist(), [None] * len(idx) if chi2 is None else chi2.tolist(), _runs_z_many(z).tolist(),
               misfit.tolist(), shape_max.tolist(), (mom[:, 3] / mom[:, 0]).tolist(), (mom[:, 4] / mom[:, 2]).tolist(),
               obs, rss.tolist(), rss_bg.tolist(), strict=True)
    for i, row in zip(idx.tolist(), cols, strict=True):
        out[i] = None if row[8] is None else row
    return out


def _valid_rows(gr: Grid, numbers: np.ndarray, phis: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indices, R_eff, moments) of the rows the fast arithmetic applies to (a normalisable distribution; phi = 0
    or 2 R_eff q_min >= 0.05), R_eff and the (n, 5) moments (``Grid.moments``) of those rows."""
    mom = numbers @ gr.moments
    s0, s1, sv = mom[:, 0], mom[:, 1], mom[:, 2]
    with np.errstate(all="ignore"):
        r_eff = s1 / s0
        idx = np.flatnonzero((s0 > 0) & (sv > 0) & ((phis == 0) | (phis > 0) & (2.0 * r_eff * gr.x_min >= 0.05))
                             & np.isfinite(mom).all(axis=1))
    return idx, r_eff[idx], mom[idx]


def _model_many(gr: Grid, numbers: np.ndarray, phi: np.ndarray, r_eff: np.ndarray, sv: np.ndarray) -> np.ndarray:
    """(N, n) model curves at scale 1, background 0 on the data's points: (phi / <V>) <F^2> S(q) (phi = 0: dilute,
    S = 1) from the cached powers of 1/q and sin/cos by angle addition, smeared where ``gr`` has a resolution."""
    pref = dilute_as_one(phi)  # phi = 0: dilute, S = 1
    coef = np.moveaxis(hardsphere_denominator(r_eff, phi, pref / sv), -1, 0)  # (N, 3, 6)
    n_m = gr.powers.shape[1]
    rows = _product(coef.reshape(-1, 6), gr.powers, "rows").reshape(len(r_eff), 3, n_m)
    den, cos = _sincos_many(gr, 2.0 * r_eff)
    den *= rows[:, 0]
    cos *= rows[:, 1]
    den += cos
    den += rows[:, 2]
    m = _product(numbers, gr.f2, "m")
    m /= den
    return m if gr.smear is None else gr.smear.apply(m)


def _scale_background_many(m: np.ndarray, data: np.ndarray, w: np.ndarray, sigma: np.ndarray):
    """(scale (N,), background (N,), the background-only fit's level (N,), the scratch array w m): each row's
    weighted least squares of data ~ a m + b, a >= 0, b >= 0 or free in sign where the row may be over-subtracted
    (:func:`.quality_model.background_may_be_negative`), from five row sums (an edge where the optimum lies outside)."""
    wm = np.multiply(w, m, out=_work("wm", m.shape))
    smm, smd, sm, sd, sw = _rowdot(wm, m), _rowdot(wm, data), wm.sum(axis=1), _rowdot(w, data), w.sum(axis=1)
    det = smm * sw - sm * sm
    with np.errstate(all="ignore"):
        a = np.where(det > 0, (smd * sw - sm * sd) / det, -1.0)
        b = np.where(det > 0, (smm * sd - sm * smd) / det, -1.0)
        level = sd / sw
    sig = np.broadcast_to(sigma, data.shape)
    for j in np.flatnonzero(~((a >= 0) & (b >= 0))):
        signed = background_may_be_negative(data[j], sig[j])
        if not (a[j] >= 0 and signed):
            a[j], b[j] = _edge(smm[j], smd[j], sm[j], sd[j], sw[j], signed)
    return a, b, level, wm


def _runs_z_many(z: np.ndarray) -> np.ndarray:
    """:func:`.quality_model.runs_z` of each row of weighted residuals: the Wald-Wolfowitz runs test's z of their
    signs (-sqrt(n) where all have one sign)."""
    n = z.shape[1]
    pos = z > 0
    n1 = np.count_nonzero(pos, axis=1)
    n2 = n - n1
    mu = 2.0 * n1 * n2 / n + 1.0
    var = (mu - 1.0) * (mu - 2.0) / (n - 1.0)
    runs = 1 + np.count_nonzero(pos[:, 1:] != pos[:, :-1], axis=1)
    with np.errstate(all="ignore"):
        return np.where((n1 == 0) | (n2 == 0), -math.sqrt(n), np.where(var > 0, (runs - mu) / np.sqrt(var), 0.0))


def _observable_many(gr: Grid, w: np.ndarray, m: np.ndarray, c: np.ndarray, obs_chi2: float) -> list:
    """:func:`_observable` for rows of w and m (scales c (N,)): a list of (lo, hi), None where singular."""
    k, n_r = gr.step, len(gr.trial)
    ws = w[:, ::k] * k
    ms = m[:, ::k]
    wm = ws * ms
    r = _product(ws, gr.trial_basis.T, "r")
    e2, b0 = r[:, :n_r], r[:, n_r:]
    b1 = _product(wm, gr.trial_basis[n_r:].T, "b1")
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
