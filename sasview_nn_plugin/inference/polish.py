"""The polish of a whole-curve network answer against its own data (docs/wide.md, "The polish").

The network reads the shape of a size distribution to a few per cent (volume W1 ~1-3 % of the mean); data
with 1 % noise resolve the position of a narrow distribution, or each population of a mixture, better than
that, so a right answer can still miss its curve by many sigma.  :func:`polish` spreads the answer over the
network's grid split SUB-fold (:func:`fine_grid`), then :func:`move` shifts and stretches each population in
log R (shares, scale and background linear >= 0; the background free in sign where the data may be
over-subtracted), :func:`reshape` fits a smooth log-correction where the data still ask, and a low-q power law is
added where the evidence rule asks for it (:func:`choose_power_law`).  Each stage is kept only where it lowers chi2;
the check then reads the fine grid as sasmodels' array dispersion does.
10-70 ms a curve on the 2-core machine (bench_wide, 2026-12-07).  numpy only.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from ..data.validation import relative_sigma
from ..physics.kernels import mean_radius, volume_to_number
from ..physics.scattering import hardsphere_sq, power_law
from ..physics.smearing import slit_resolution, smearing
from ..physics.wide import sphere_amplitude2
from .least_squares import weighted_nnls
from .quality_model import (
    GOOD_CHI2,
    POWER_LAWS,
    background_may_be_negative,
    nnls_columns,
    nnls_scale_background,
    power_law_evident,
)
from .quality_model import choose_power_law as power_law_choice

SUB = 5             # sub-points per radius bin (log-uniform within the bin)
KNOT_DEX = 0.05     # reshape: knots of the log-correction this many decades of R apart
SMOOTH_SIGMA = 0.3  # ... prior sigma of its second differences
ANCHOR_SIGMA = 2.0  # ... and of its values (0: the start)
RESHAPE_STEPS = 15
STEPS = 12          # Levenberg-Marquardt iterations at most
DIP = 0.3           # a minimum below DIP x the lower neighbouring peak separates two populations
MAX_MODES = 3
SCAN = np.linspace(-0.06, 0.06, 41)    # log R shifts tried before the local steps (0.3 % apart)
UNSEEN_VOLUME, NUMBER_TAIL_MAX = 0.01, 0.25   # a quarter of the number below the 1 % volume quantile: resting on
#                                              particles the data barely see (invert_wide's flag)
KNEE_QR = 3.0      # volume_beyond_knee_shift: radii with q_min R above this have their Guinier knee below the window
TAIL_UPTURN_MARGINS = 2    # tail_like_upturn: the answer without the tail, refitted, within this many evidence margins
MOVED_FAR = 0.2    # polish: a move this far (ln of a mean radius) from the network's answer asks about an upturn
NARROW_RATIO = 1.15   # ... a number mean's move counts for answers narrower than this (volume over number mean)
UPPER_MIN_SHARE = 3e-3   # without_upper_populations: minor populations down to this volume share are tried ...
FLANK = 0.01             # ... and the tail above where the main population's smoothed volume falls below this
MASS_FLOOR = 1e-7   # bins below this volume share (after any move) are left out of the forward model
SCAN_WIDTH = 0.1    # ... only for a population narrower than this (volume-weighted sd of ln R): a broader one
#                     washes its fringes out, and its chi2 is smooth in its position
BASIS_BYTES = 256 * 2**20   # sphere bases kept, at most this many bytes (one per q grid and radius grid: 2 MB for
#                              300 points; a phi profile, the polish's stages and a batch on one window share one)

_BASES: dict = {}
_BASES_LOCK = threading.Lock()


def sphere_basis(q_calc: np.ndarray, radius: np.ndarray, active: np.ndarray) -> np.ndarray:
    """(len(radius), len(q_calc)) read-only: :func:`.physics.wide.sphere_amplitude2` on the rows ``active``;
    other rows are 0 or rows an earlier call asked for (a caller weighs them by 0).  Rows are computed once per
    (q_calc, radius) and kept: the polish's stages, every phi of a profile and a batch's curves share them."""
    key = (q_calc.tobytes(), radius.tobytes())
    with _BASES_LOCK:
        b, done = _BASES.get(key, (None, None))
    if b is not None and not (active & ~done).any():
        return b
    b = np.zeros((len(radius), len(q_calc))) if b is None else b.copy()     # copy on write: readers keep theirs
    done = np.zeros(len(radius), bool) if done is None else done.copy()
    new = active & ~done
    b[new] = sphere_amplitude2(q_calc, radius[new])   # V Phi^2(q R) per radius
    done |= new
    b.setflags(write=False)
    with _BASES_LOCK:
        _BASES.pop(key, None)
        while _BASES and sum(v[0].nbytes for v in _BASES.values()) + b.nbytes > BASIS_BYTES:
            _BASES.pop(next(iter(_BASES)))   # the oldest first
        if b.nbytes <= BASIS_BYTES:
            _BASES[key] = (b, done)
    return b


def sub_radii(radius: np.ndarray) -> np.ndarray:
    """(n_r, SUB) radii (A) spread log-uniformly within each bin of a log-spaced grid ``radius``."""
    ratio = radius[1] / radius[0]
    offs = ((np.arange(SUB) + 0.5) / SUB - 0.5) * math.log(ratio)
    return radius[:, None] * np.exp(offs)[None, :]


def fine_grid(radius: np.ndarray, vol: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The network's log grid split SUB-fold (radii A, uniform in log) and ``vol`` spread evenly over it."""
    fine = sub_radii(radius).ravel()
    return fine, None if vol is None else np.repeat(np.asarray(vol, float) / SUB, SUB)


class Curve1D:
    """The data and the forward model on them (with the resolution), for a fixed radius grid."""

    def __init__(self, q, intensity, di, dq, slit_length, radius, active):
        self.q, self.i = q, intensity
        self.sigma = di if di is not None else relative_sigma(intensity)   # no dI: relative to the curve's level
        self.noise_known = di is not None
        self.radius = radius
        self.slit = bool(slit_length)
        if slit_length:
            self.q_calc, self.w = slit_resolution(q, slit_length)
        elif dq is not None:
            self.q_calc, self.w = smearing(q, dq)
        else:
            self.q_calc, self.w = q, None
        self.active = np.asarray(active, bool)
        self.b_active = sphere_basis(self.q_calc, radius, self.active)[self.active]   # V Phi^2(q R), active rows

    def apply(self, m: np.ndarray) -> np.ndarray:
        """The resolution applied to a curve ``m`` on q_calc (1-d), or to each row of a 2-d ``m`` (then one
        column a row: shape (len(q), len(m)))."""
        if self.w is None:
            return m.T
        return (m @ self.w).T if self.slit else self.w @ m.T

    def power_law(self, exponent: float) -> np.ndarray:
        """q^-exponent, smeared as the model is (the low-q upturn's shape)."""
        return self.apply(power_law(self.q_calc, exponent))

    def model(self, vol: np.ndarray, phi: float) -> np.ndarray:
        """Unscaled smeared I(q) of volume fractions ``vol`` per radius, PY S(q) at the number mean."""
        p = vol[self.active] @ self.b_active
        if phi > 0:
            n = vol / self.radius**3
            p = p * hardsphere_sq(self.q_calc, float(n @ self.radius / n.sum()), phi)
        return self.apply(p)

    def chi2(self, vol: np.ndarray, phi: float) -> float:
        m = self.model(vol, phi)
        a, c = nnls_scale_background(m, self.i, self.sigma)
        z = (self.i - a * m - c) / self.sigma
        return float(z @ z)


def best_spheres_chi2(q, intensity, di, dq, slit_length, radius, phi: float, r_eff: float,
                      power_law: float | None = None) -> tuple[float, int]:
    """(chi2, columns used): the least chi2 any non-negative distribution of spheres on the radii ``radius`` (A)
    reaches on these data, with a flat background (>= 0, or free in sign where the data may be over-subtracted:
    :func:`.quality_model.background_may_be_negative`; A q^-power_law >= 0), S(q) at ``phi`` with R_eff ``r_eff``
    (A) held: non-negative least squares (:func:`.least_squares.nnls`) over one column per radius, no smoothness.
    What "no sphere distribution explains these data" means, tested: the bound under every answer's chi2.  The radii
    are ``radius``'s range, log-spaced as ``radius`` but at most 2 / (q R) apart in ln R (q the highest the model is
    computed at): a comb of radii farther apart than that dephases at high q R and cannot stand for a continuum
    (near-monodisperse spheres of 1400-2600 A on q up to 0.3 1/A: bound 4-30 on the whole-curve grid, 0.9-1.1 so)."""
    lr, step = math.log(radius[0]), math.log(radius[1] / radius[0])
    q_top = float(np.max(q)) if not slit_length else math.hypot(float(np.max(q)), float(slit_length))
    grid = [lr]
    while grid[-1] < math.log(radius[-1]):
        grid.append(grid[-1] + min(step, 2.0 / (q_top * math.exp(grid[-1]))))
    radius = np.exp(np.array(grid))
    cur = Curve1D(q, intensity, di, dq, slit_length, radius, np.ones(len(radius), bool))
    basis = cur.b_active * (hardsphere_sq(cur.q_calc, r_eff, phi) if phi > 0 else 1.0)
    flat = [np.ones_like(cur.q)] + ([-np.ones_like(cur.q)] if background_may_be_negative(cur.i, cur.sigma) else [])
    cols = np.column_stack([cur.apply(basis), *flat, *([] if power_law is None else [cur.power_law(power_law)])])
    chi2, x = weighted_nnls(cols, cur.i, cur.sigma)
    return chi2, int(np.count_nonzero(x))


def background_share(q, intensity, di, dq, slit_length, radius, vol, phi: float) -> float:
    """The flat background's share of the intensity at the high-q end (the median of the last tenth of the points)
    when ``vol`` (volume fractions per radius, A) is fitted to the data with a scale (>= 0) and a background: its
    magnitude, so that a negative one (over-subtracted data) counts as much as a positive one."""
    cur = Curve1D(q, intensity, di, dq, slit_length, radius, vol > MASS_FLOOR)
    _, c = nnls_scale_background(cur.model(vol, phi), cur.i, cur.sigma)
    end = float(np.median(cur.i[-max(len(cur.i) // 10, 1):]))
    return float(abs(c) / end) if end > 0 else math.inf


def log_width(vol: np.ndarray, radius: np.ndarray) -> float:
    """The volume-weighted standard deviation of ln R of ``vol`` over ``radius`` (A)."""
    lr = np.log(radius)
    mean = vol @ lr / vol.sum()
    return float(np.sqrt(max(vol @ (lr - mean) ** 2 / vol.sum(), 0.0)))


def smoothed(vol: np.ndarray) -> np.ndarray:
    """``vol`` averaged over five network bins (5 SUB fine points, centred): the shape :func:`modes` reads."""
    return np.convolve(vol, np.ones(5 * SUB) / (5 * SUB), "same")


def modes(vol: np.ndarray, min_share: float = 0.03) -> list[np.ndarray]:
    """Masks of the distribution's populations: split at minima below DIP x the lower neighbouring peak."""
    smooth = smoothed(vol)
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


def choose_power_law(cur: Curve1D, model: np.ndarray) -> tuple[float | None, float]:
    """(exponent or None, chi2 drop): the low-q power law A q^-p, p in POWER_LAWS, beside ``model`` (the answer's
    smeared curve) that lowers chi2 most, kept when the drop beats the evidence rule (BIC: 2 ln n for A and p):
    :func:`.quality_model.choose_power_law`, the check's and the refinement's rule too."""
    return power_law_choice(model, cur.i, cur.sigma, cur.power_law, POWER_LAWS, noise_known=cur.noise_known)


def polish(q, intensity, di, dq, slit_length, radius, vol, phi: float
           ) -> tuple[np.ndarray, np.ndarray, float, float, float | None]:
    """(fine radii A, volume distribution, chi2 before, chi2 after, exponent of a low-q power law or None).

    ``radius``, ``vol``: the network's grid and answer; the result lies on its SUB-fold finer grid
    (:func:`fine_grid`).  :func:`move` and then, if the data still ask, :func:`reshape`.  A low-q power law A q^-p
    beside the spheres (:func:`choose_power_law`):

    - where the polish without one moved far from the network's answer (:func:`moved_far`), the evidence asks for
      one beside that answer as it is, and the move alone (without the reshape) fits better with one by the evidence
      rule's margin (the network was trained to ignore upturns, so its answer is the spheres': move and reshape
      alone explain an upturn by particles, large or small, and fit as well; a network answer that is merely off
      is put right by the move alone), the polish with it is kept unless the spheres alone fit better by the
      evidence rule's margin (:func:`.quality_model.power_law_evidence`).  Its exponent is the one of POWER_LAWS
      whose move alone fits best (the start's choice is blurred by the start's misfit, q^-3.5 beside spheres with
      a q^-4 upturn, and after the reshape every exponent fits: the shape makes up the difference, with the wrong
      sizes);
    - else, if chi2_red is still above GOOD_CHI2, the same again with one, kept when it lowers chi2 by more than the
      evidence rule's 2 ln n."""
    radius, vol = fine_grid(radius, vol)
    out, c0, c1 = move(q, intensity, di, dq, slit_length, radius, vol, phi)
    n = len(q)
    asked = power_law_asked(Curve1D(q, intensity, di, dq, slit_length, radius, vol > 0), vol, phi) \
        if moved_far(radius, vol, out) else None
    if asked is not None:
        plain = move(q, intensity, di, dq, slit_length, radius, vol, phi, shape=False)[2]
        moves = {asked: move(q, intensity, di, dq, slit_length, radius, vol, phi, asked, shape=False)[2]}
        if power_law_evident(plain, moves[asked], n, di is not None):
            moves |= {p: move(q, intensity, di, dq, slit_length, radius, vol, phi, p, shape=False)[2]
                      for p in POWER_LAWS if p != asked}
            asked = min(moves, key=moves.get)
            # from the network's answer and from the polish without it (which put right a network answer that was
            # off, and may have grown particles for the upturn): the one whose number distribution does not rest
            # on particles the data barely see (unseen_number_share), then the lower chi2
            tries = [move(q, intensity, di, dq, slit_length, radius, v, phi, asked) for v in (vol, out)]
            v2, _, c2 = min(tries, key=lambda t: (unseen_number_share(radius, t[0]) > NUMBER_TAIL_MAX, t[2]))
            v2, c2 = without_upper_populations(q, intensity, di, dq, slit_length, radius, v2, c2, phi, asked)
            if not power_law_evident(c2, c1, n, di is not None):   # the spheres alone do not fit better by the margin
                return radius, v2, c0, c2, asked
    if di is not None and c1 <= GOOD_CHI2 * max(n - 2, 1):
        return radius, out, c0, c1, None
    exponent = power_law_asked(Curve1D(q, intensity, di, dq, slit_length, radius, out > 0), out, phi)
    if exponent is not None:
        v2, _, c2 = move(q, intensity, di, dq, slit_length, radius, out, phi, exponent)
        if power_law_evident(c1, c2, n, di is not None):
            return radius, v2, c0, c2, exponent
    return radius, out, c0, c1, None


def without_upper_populations(q, intensity, di, dq, slit_length, radius, vol, chi2: float, phi: float,
                              exponent: float) -> tuple[np.ndarray, float]:
    """(volume distribution, chi2): ``vol`` (polished beside a power law q^-exponent) without what lies above its main
    population, polished again, where the data do not ask for it: chi2 (both at their best, :func:`move` settled)
    rises by less than the evidence rule's margin (:func:`.quality_model.power_law_evident`).  Tried: each minor
    population above the main one (down to :data:`UPPER_MIN_SHARE` of the volume), largest first, then all above the
    main population's upper flank (where its smoothed volume falls below :data:`FLANK` of its peak: a tail joined to
    it).  Spheres whose Guinier region lies below the window scatter as q^-4 over all of it: beside a fitted power
    law they are the upturn counted twice (60 A spheres with q^-4 kept 7-20 % of their volume at ~550 A, volume
    means 99-158 A for 62: tests/test_power_law.py)."""
    parts = modes(vol, min_share=UPPER_MIN_SHARE)
    main = int(np.argmax([vol[m].sum() for m in parts]))
    tries = parts[main + 1:][::-1]
    smooth = smoothed(vol)
    peak = int(np.flatnonzero(parts[main])[0] + np.argmax(smooth[parts[main]]))
    low = np.flatnonzero(smooth[peak:] < FLANK * smooth[peak])
    if len(low):
        tries.append(np.arange(len(vol)) >= peak + int(low[0]))
    for m in tries:
        if not 0 < vol[m].sum() < 0.5 * vol.sum():
            continue
        trial = np.where(m, 0.0, vol)
        v, _, c = move(q, intensity, di, dq, slit_length, radius, trial / trial.sum(), phi, exponent, settle=True)
        if not power_law_evident(c, chi2, len(q), di is not None):
            vol, chi2 = v, c
    return vol, chi2


def power_law_asked(cur: Curve1D, vol: np.ndarray, phi: float) -> float | None:
    """The exponent of the low-q power law the evidence asks for beside ``vol`` as it is, or None
    (:func:`choose_power_law`)."""
    return choose_power_law(cur, cur.model(vol, phi))[0]


def unseen_number_share(radius: np.ndarray, vol: np.ndarray) -> float:
    """The share of the number distribution of ``vol`` (volume per radius, A; ascending) below its
    :data:`UNSEEN_VOLUME` volume quantile: particles the data (volume squared) barely see."""
    return float(volume_to_number(vol, radius)[np.cumsum(vol) < UNSEEN_VOLUME * vol.sum()].sum())


def volume_beyond_knee_shift(radius: np.ndarray, vol: np.ndarray, q_min: float) -> float:
    """How much the volume-weighted mean radius of ``vol`` (volume per radius, A) rests on radii above KNEE_QR / q_min
    (1/A): its mean over the mean without them, less 1 (inf where all the volume lies there).  Spheres that large
    have their Guinier knee below the window and, in a smooth tail, their fringes washed out: the window sees their
    Porod tail, a q^-4 that a low-q upturn (aggregates) makes too, so their sizes are not in the data."""
    keep = radius <= KNEE_QR / q_min
    if not vol[keep].sum() > 0:
        return math.inf
    return float((vol @ radius / vol.sum()) / (vol[keep] @ radius[keep] / vol[keep].sum()) - 1.0)


def tail_like_upturn(q, intensity, di, dq, slit_length, radius, vol, phi: float, power_law: float | None = None
                     ) -> bool:
    """Whether the spheres of ``vol`` beyond KNEE_QR / q_min could be a low-q upturn instead: the answer without them,
    polished again (:func:`move`, settled) beside each power law A q^-p of POWER_LAWS, fits within
    TAIL_UPTURN_MARGINS of the evidence rule's margin (2 ln n, times chi2_red) of the answer as it is (its scale, a
    flat background and any power law fitted).  A real large population (its knee's shoulder and fringes in the
    window: 450-700 A Schulz spheres, pd 0.25-0.3, beside 40 A ones at 3 % noise) costs 3.4-5.5 margins so; a tail
    grown for an upturn -4.6 to 0.9 (10 of 13 of a helper's adversarial curves; 3 cost 2.3-4.8: unflagged).
    ~0.03-0.2 s, only where the volume mean rests on such spheres (:func:`volume_beyond_knee_shift`)."""
    tail = radius > KNEE_QR / float(np.min(q))
    core = np.where(tail, 0.0, vol)
    if not core.sum() > 0:
        return bool(vol.sum() > 0)   # all of it beyond the knee
    cur = Curve1D(q, intensity, di, dq, slit_length, radius, vol > 0)
    cols = np.column_stack([cur.model(vol, phi), np.ones_like(q), *([] if power_law is None else
                                                                    [cur.power_law(power_law)])])
    z = (cols @ nnls_columns(cols, intensity, cur.sigma) - intensity) / cur.sigma
    as_it_is = float(z @ z)
    instead = min(move(q, intensity, di, dq, slit_length, radius, core / core.sum(), phi, p, settle=True)[2]
                  for p in POWER_LAWS)
    return not power_law_evident(instead, as_it_is, len(q), di is not None, TAIL_UPTURN_MARGINS)


def upturn_alternative(q, intensity, di, dq, slit_length, radius, vol, phi: float
                       ) -> tuple[float, np.ndarray, float] | None:
    """(exponent, volume distribution on the fine grid :func:`fine_grid` of ``radius``, chi2): the network's answer
    ``vol`` (on its grid ``radius``, A) moved (:func:`move`, shape held, settled) beside the low-q power law A q^-p the
    evidence asks for at it (:func:`power_law_asked`); None where it asks for none.  Another explanation of the data
    for the flag ``volume-mean-undetermined``: the network was trained to ignore upturns, so where the polish
    explained a shallow one (q^-2, q^-2.5) by a broad spread of spheres, or beside a power law from another start,
    this one may fit as well with other sizes (a helper's adversarial curves: 80 A spheres with q^-2 read 14/56 A
    number/volume mean, the alternative 57/82 A at chi2 +4 on 300 points).  ~5-30 ms where the evidence asks."""
    fine, start = fine_grid(radius, vol)
    asked = power_law_asked(Curve1D(q, intensity, di, dq, slit_length, fine, start > 0), start, phi)
    if asked is None:
        return None
    out, _, chi2 = move(q, intensity, di, dq, slit_length, fine, start, phi, asked, shape=False, settle=True)
    return asked, out, chi2


def moved_far(radius: np.ndarray, before: np.ndarray, after: np.ndarray) -> bool:
    """Whether the volume-weighted mean radius of ``after`` lies more than :data:`MOVED_FAR` (in ln) from
    ``before``'s, or, for a narrow ``before`` (volume over number mean below :data:`NARROW_RATIO`), its number mean
    does (volume distributions over the radii ``radius``, A).  The network reads its curves to a few per cent:
    bench_wide's polish moves the volume mean 0.3-4 % (median by cell, 14 % at most); spheres with a low-q upturn
    that the polish explained by particles moved it 34-130 %, or the number mean of a narrow answer 13-240 %
    (tests/test_power_law.py; nPSize10 PTB, bench_real).  A broad answer's number mean rests on particles the data
    barely see and moves by more than that in domain."""
    def means(v):
        return mean_radius(volume_to_number(v, radius), radius), mean_radius(v, radius)
    (n0, v0), (n1, v1) = means(before), means(after)
    return bool(abs(math.log(v1 / v0)) > MOVED_FAR or (v0 < NARROW_RATIO * n0 and abs(math.log(n1 / n0)) > MOVED_FAR))


def move(q, intensity, di, dq, slit_length, radius, vol, phi: float, exponent: float | None = None,
         shape: bool = True, settle: bool = False) -> tuple[np.ndarray, float, float]:
    """(volume distribution, chi2 before, chi2 after) on the fine grid ``radius``: each population of ``vol`` shifted
    and stretched in log R (Levenberg-Marquardt on 2 parameters a population), its volume share, the scale, a flat
    background and A of a power law q^-exponent fitted linearly (>= 0; the background as :func:`nnls_columns` holds it);
    then, if the data still ask, its shape (:func:`reshape`).  Each stage is kept only where it lowers chi2.
    ``settle``: moved even where ``vol`` already explains the data (chi2_red <= GOOD_CHI2), to compare it with another
    at its best."""
    parts = modes(vol)
    reach = np.convolve(vol > MASS_FLOOR, np.ones(9 * SUB), "same") > 0     # room to move ~4 bins either way
    cur = Curve1D(q, intensity, di, dq, slit_length, radius, reach)
    w = 1.0 / cur.sigma
    extra = [] if exponent is None else [cur.power_law(exponent)]

    def evaluate(p):
        pieces = [np.where(reach, moved(np.where(m, vol, 0.0), radius, p[2 * j], p[2 * j + 1]), 0.0)
                  for j, m in enumerate(parts)]
        total = sum(pieces)
        n = total / radius**3
        r_eff = float(n @ radius / n.sum()) if n.sum() > 0 else 1.0
        sq = hardsphere_sq(cur.q_calc, r_eff, phi) if phi > 0 else 1.0
        stacked = np.stack(pieces)[:, reach]
        norm = np.maximum(stacked.sum(axis=1), 1e-300)[:, None]
        cols = np.column_stack([cur.apply((stacked @ cur.b_active) * sq / norm), np.ones_like(cur.q), *extra])
        x = nnls_columns(cols, cur.i, cur.sigma)
        z = (cols @ x - cur.i) * w
        shares = x[:len(pieces)] / max(x[:len(pieces)].sum(), 1e-300)
        v = sum(s * pc / max(pc.sum(), 1e-300) for s, pc in zip(shares, pieces, strict=True))
        return float(z @ z), v

    p = np.zeros(2 * len(parts))
    c0, v0 = evaluate(p)
    best, v_best = c0, v0
    if not settle and di is not None and c0 <= GOOD_CHI2 * max(len(q) - 2, 1):   # explains the data: left as it is
        return vol, c0, c0
    # a narrow population's chi2 oscillates in its position: scan the largest population's shift first
    big = int(np.argmax([vol[m].sum() for m in parts]))
    for shift in SCAN if log_width(vol[parts[big]], radius[parts[big]]) <= SCAN_WIDTH else ():
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
    out, c1 = (v_best / v_best.sum(), best) if best < c0 else (vol, c0)
    if shape and (di is None or c1 > GOOD_CHI2 * max(len(q) - 2, 1)):   # still short of the data: the shape
        v2, _, c2 = reshape(q, intensity, di, dq, slit_length, radius, out, phi, exponent)
        if c2 < c1:
            return v2, c0, c2
    return out, c0, c1


def reshape(q, intensity, di, dq, slit_length, radius, vol, phi: float, power_law: float | None = None
            ) -> tuple[np.ndarray, float, float]:
    """(volume distribution, chi2 before, chi2 after): ``vol`` times a smooth correction exp(theta(log R)), theta
    linear between knots KNOT_DEX decades apart over the bins ``vol`` reaches, fitted with the scale and a flat
    background by damped Gauss-Newton under a smoothness and an anchor prior (theta = 0: the start).  The
    regularised inversion of McSAS / MaxEnt kind, started at the network's answer; kept only where chi2 drops."""
    reach = np.convolve(vol > MASS_FLOOR, np.ones(9 * SUB), "same") > 0
    idx = np.flatnonzero(reach)
    cur = Curve1D(q, intensity, di, dq, slit_length, radius, reach)
    b = cur.b_active   # the rows idx
    base = np.maximum(vol[idx], 1e-4 * vol.max())
    lr = np.log10(radius[idx])
    k = max(3, int(math.ceil((lr[-1] - lr[0]) / KNOT_DEX)) + 1)
    knots = np.linspace(lr[0], lr[-1], k)
    interp = np.stack([np.interp(lr, knots, e) for e in np.eye(k)], axis=1)        # (n_active, k)
    w = 1.0 / cur.sigma
    extra = [] if power_law is None else [cur.power_law(power_law)]
    d2 = np.diff(np.eye(k), 2, axis=0) / SMOOTH_SIGMA
    prior = np.vstack([d2, np.eye(k) / ANCHOR_SIGMA])

    def state(theta):
        v = base * np.exp(theta @ interp.T - theta.max())
        n = v / radius[idx] ** 3
        sq = hardsphere_sq(cur.q_calc, float(n @ radius[idx] / n.sum()), phi) if phi > 0 else 1.0
        m = cur.apply((v @ b) * sq)
        cols = np.stack([m, np.ones_like(m), *extra], axis=1)
        x = nnls_columns(cols, cur.i, cur.sigma)
        r = (cols @ x - cur.i) * w
        pr = prior @ theta
        return v, m, x, r, sq, float(r @ r), float(pr @ pr)

    theta = np.zeros(k)
    v, m, x, r, sq, chi2, pen = state(theta)
    chi2_0 = chi2
    lam = 1e-3
    for _ in range(RESHAPE_STEPS):
        dm = cur.apply(((v[:, None] * interp).T @ b) * sq)   # d m / d theta_j, (n_q, k)
        jac = np.hstack([x[0] * dm, m[:, None], np.ones((len(m), 1)), *(e[:, None] for e in extra)]) * w[:, None]
        pj = np.hstack([prior, np.zeros((len(prior), 2 + len(extra)))])
        a = jac.T @ jac + pj.T @ pj
        g = jac.T @ r + pj.T @ (prior @ theta)
        while lam < 1e6:
            step = -np.linalg.solve(a + lam * np.diag(np.maximum(np.diag(a), 1e-12)), g)
            trial = state(theta + step[:k])
            if trial[5] + trial[6] < chi2 + pen:
                theta = theta + step[:k]
                old = chi2 + pen
                v, m, x, r, sq, chi2, pen = trial
                lam /= 10
                break
            lam *= 10
        else:
            break
        if old - (chi2 + pen) < 1e-3 * old:
            break
    if chi2 >= chi2_0:
        return vol, chi2_0, chi2_0
    out = np.zeros_like(vol)
    out[idx] = v
    return out / out.sum(), chi2_0, chi2
