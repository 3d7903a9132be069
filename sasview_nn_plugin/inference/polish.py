"""A fast polish of a whole-curve network answer against its data: shift and stretch in log radius.

The network reads the shape of a size distribution to a few per cent (volume W1 ~2-5 % of the mean); data
with 1 % noise resolve the position of a narrow distribution, or the width of a broad one, better than that,
so a right answer can still miss the curve by many sigma.  The polish moves the answer rigidly in log R
(radius factor s) and stretches it about its volume log-median (width factor k), mass-conserving re-binning
on the same grid, with the scale and flat background fitted linearly (>= 0) at each step: two non-linear
parameters, a few Levenberg-Marquardt steps, ~1-3 ms.  Each bin's volume is read as spread uniformly in
log R over the bin (SUB points a bin), which is what a distribution narrower than a bin (3.9 %) looks like to
the data, and the check uses the same reading.  numpy only.
"""

from __future__ import annotations

import math

import numpy as np

from ..physics.kernels import hardsphere_sq
from ..physics.slit import slit_resolution
from .quality_model import nnls_scale_background
from .resolution import smearing

SUB = 5             # sub-points per radius bin (log-uniform within the bin)
GOOD_CHI2 = 1.2     # reduced chi2 at or below which an answer is left as it is
STEPS = 12          # Levenberg-Marquardt iterations at most
DIP = 0.3           # a minimum below DIP x the lower neighbouring peak separates two populations
MAX_MODES = 3
SCAN = np.linspace(-0.06, 0.06, 41)    # log R shifts tried before the local steps (0.3 % apart)
MASS_FLOOR = 1e-7   # bins below this volume share (after any move) are left out of the forward model


def sub_radii(radius: np.ndarray) -> np.ndarray:
    """(n_r, SUB) radii (A) spread log-uniformly within each bin of a log-spaced grid ``radius``."""
    ratio = radius[1] / radius[0]
    offs = ((np.arange(SUB) + 0.5) / SUB - 0.5) * math.log(ratio)
    return radius[:, None] * np.exp(offs)[None, :]


def _basis(q_calc: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """(n_r, n_q) per-bin volume-weighted sphere intensity V <Phi^2> averaged over the bin's sub-points."""
    r = sub_radii(radius)
    u = r[..., None] * q_calc
    with np.errstate(invalid="ignore", divide="ignore"):
        amp = 3.0 * (np.sin(u) - u * np.cos(u)) / u**3
    amp = np.where(u < 1e-3, 1.0, amp)
    return ((r**3)[..., None] * amp * amp).mean(axis=1)


class Curve1D:
    """The data and the forward model on them (with the resolution), for a fixed radius grid."""

    def __init__(self, q, intensity, di, dq, slit_length, radius, active):
        self.q, self.i = q, intensity
        self.sigma = di if di is not None else np.maximum(np.abs(intensity), 1e-300)
        self.radius = radius
        self.active = active
        if slit_length:
            self.q_calc, w = slit_resolution(q, slit_length)
            self.apply = lambda m: m @ w
        elif dq is not None:
            self.q_calc, w = smearing(q, dq)
            self.apply = lambda m: w @ m
        else:
            self.q_calc, self.apply = q, lambda m: m
        self.b = np.zeros((len(radius), len(self.q_calc)))
        self.b[active] = _basis(self.q_calc, radius[active])

    def model(self, vol: np.ndarray, phi: float) -> np.ndarray:
        """Unscaled smeared I(q) of volume fractions ``vol`` per bin (sub-point reading), PY S(q) at the number mean."""
        p = vol @ self.b
        if phi > 0:
            n = vol / self.radius**3
            p = p * hardsphere_sq(self.q_calc, float(n @ self.radius / n.sum()), phi)
        return self.apply(p)

    def chi2(self, vol: np.ndarray, phi: float) -> float:
        m = self.model(vol, phi)
        a, c = nnls_scale_background(m, self.i, self.sigma)
        z = (self.i - a * m - c) / self.sigma
        return float(z @ z)


def modes(vol: np.ndarray, min_share: float = 0.03) -> list[np.ndarray]:
    """Masks of the distribution's populations: split at minima below DIP x the lower neighbouring peak."""
    smooth = np.convolve(vol, np.ones(5) / 5, "same")
    peaks = [i for i in range(1, len(vol) - 1) if smooth[i] >= smooth[i - 1] and smooth[i] > smooth[i + 1]
             and smooth[i] > 1e-3 * smooth.max()]
    cuts = []
    for a, b in zip(peaks[:-1], peaks[1:], strict=True):
        m = a + int(np.argmin(smooth[a:b + 1]))
        if smooth[m] < DIP * min(smooth[a], smooth[b]):
            cuts.append(m)
    bounds = [0, *cuts, len(vol)]
    parts = [np.arange(len(vol)) >= lo for lo in bounds[:-1]]
    parts = [p & (np.arange(len(vol)) < hi) for p, hi in zip(parts, bounds[1:], strict=True)]
    parts = [p for p in parts if vol[p].sum() >= min_share] or [np.ones(len(vol), bool)]
    return parts[:MAX_MODES]


def moved(vol: np.ndarray, radius: np.ndarray, log_s: float, log_k: float) -> np.ndarray:
    """``vol`` shifted by exp(log_s) and stretched by exp(log_k) about its volume log-median, re-binned."""
    lr = np.log(radius)
    step = lr[1] - lr[0]
    edges = np.concatenate([lr - step / 2, [lr[-1] + step / 2]])
    total = vol.sum()
    cdf = np.concatenate([[0.0], np.cumsum(vol)]) / total
    centre = float(np.interp(0.5, cdf, edges))
    pre = centre + (edges - centre - log_s) / math.exp(log_k)     # new CDF at e: old CDF at its pre-image
    new = np.interp(pre, edges, cdf, left=0.0, right=1.0)
    return np.maximum(np.diff(new), 0.0) * total


def _nnls(cols: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Non-negative least squares for a few columns (active set by elimination): min |w (cols x - y)|^2."""
    a = cols * w[:, None]
    b = y * w
    free = np.ones(cols.shape[1], bool)
    for _ in range(cols.shape[1]):
        x = np.zeros(cols.shape[1])
        x[free] = np.linalg.lstsq(a[:, free], b, rcond=None)[0]
        if np.all(x >= 0):
            return x
        free &= x > 0
        if not free.any():
            break
    return np.maximum(x, 0)


def polish(q, intensity, di, dq, slit_length, radius, vol, phi: float) -> tuple[np.ndarray, float, float]:
    """(volume distribution, chi2 before, chi2 after): each population of ``vol`` shifted and stretched in log R
    (Levenberg-Marquardt on 2 parameters a population) and its volume share, the scale and a flat background
    fitted linearly (>= 0); the answer is kept only where it lowers chi2."""
    parts = modes(vol)
    reach = np.convolve(vol > MASS_FLOOR, np.ones(9), "same") > 0     # room to move ~4 bins either way
    cur = Curve1D(q, intensity, di, dq, slit_length, radius, reach)
    w = 1.0 / cur.sigma

    def evaluate(p):
        pieces = [np.where(reach, moved(np.where(m, vol, 0.0), radius, p[2 * j], p[2 * j + 1]), 0.0)
                  for j, m in enumerate(parts)]
        total = sum(pieces)
        n = total / radius**3
        r_eff = float(n @ radius / n.sum()) if n.sum() > 0 else 1.0
        sq = hardsphere_sq(cur.q_calc, r_eff, phi) if phi > 0 else 1.0
        cols = np.stack([cur.apply((pc @ cur.b) * sq / max(pc.sum(), 1e-300)) for pc in pieces]
                        + [np.ones_like(cur.q)], axis=1)
        x = _nnls(cols, cur.i, w)
        z = (cols @ x - cur.i) * w
        shares = x[:-1] / max(x[:-1].sum(), 1e-300)
        v = sum(s * pc / max(pc.sum(), 1e-300) for s, pc in zip(shares, pieces, strict=True))
        return float(z @ z), v

    p = np.zeros(2 * len(parts))
    c0, v0 = evaluate(p)
    best, v_best = c0, v0
    if di is not None and c0 <= GOOD_CHI2 * max(len(q) - 2, 1):   # explains the data already: left as it is
        return vol, c0, c0
    # a narrow population's chi2 oscillates in its position: scan the largest population's shift first
    big = int(np.argmax([vol[m].sum() for m in parts]))
    for shift in SCAN:
        trial = p.copy()
        trial[2 * big] = shift
        c, v = evaluate(trial)
        if c < best:
            best, v_best, p = c, v, trial
    h = np.tile([0.004, 0.01], len(parts))
    lam = 1e-2
    for _ in range(STEPS):
        f0 = best
        g = np.empty(len(p))
        curv = np.empty(len(p))
        for j in range(len(p)):
            e = np.zeros(len(p))
            e[j] = h[j]
            fp, fm = evaluate(p + e)[0], evaluate(p - e)[0]
            g[j] = (fp - fm) / (2 * h[j])
            curv[j] = max((fp - 2 * f0 + fm) / h[j] ** 2, 1e-12)
        improved = False
        while lam < 1e6:
            step = np.clip(-g / (curv * (1 + lam)), -0.05, 0.05)
            trial, v_trial = evaluate(p + step)
            if trial < best:
                p, best, v_best, lam, improved = p + step, trial, v_trial, lam / 5, True
                break
            lam *= 5
        if not improved or f0 - best < 1e-4 * f0:
            break
    return (v_best / v_best.sum() if best < c0 else vol), c0, min(best, c0)
