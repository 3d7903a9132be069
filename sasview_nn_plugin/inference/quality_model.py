"""The forward model of the quality check in numpy: sasmodels ``sphere@hardsphere`` (analytic sphere <F^2>
times the Percus-Yevick S(q), :mod:`..physics.scattering`), smeared with pinhole or slit resolution
(:mod:`..physics.smearing`), the non-negative scale/background fit, and the residual statistics (runs test,
block means).

The straightforward forms, re-exported by :mod:`.quality` (``from ..inference.quality import
nnls_scale_background`` keeps working); :mod:`.quality_fast` computes the same from per-grid caches.
Units: q in 1/A, radius in A, SLD in 1e-6/A^2, intensity in 1/cm.
"""

from __future__ import annotations

import math

import numpy as np

from ..data.validation import relative_sigma
from ..physics.kernels import dilute_as_one, mean_radius
from ..physics.scattering import DEFAULT_SLD, DEFAULT_SLD_SOLVENT, hardsphere_sq, power_law, sphere_f2
from ..physics.smearing import slit_resolution, smearing
from .least_squares import weighted_nnls


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
    return (prefactor / float(w @ volume)) * (w @ f2) * hardsphere_sq(q, r_eff, volume_fraction)


TAIL_Z = 3.0   # a point of the curve's high-q end below this many sigma: the curve may be over-subtracted


def background_may_be_negative(data: np.ndarray, sigma: np.ndarray) -> bool:
    """Whether the flat background is free in sign for these data (q ascending): where a point lies at or below
    zero, or within TAIL_Z of its sigma of zero in the curve's high-q end (its last tenth, at least 3 points).  A
    solvent subtracted a little too strongly leaves the curve less a constant, which SasView's background (free in
    sign) fits; the curve then ends at zero or below (tests/test_oversubtraction.py).  Elsewhere it is held >= 0: a
    negative background is not in such data, and beside a low-q power law it trades against it and against small
    particles (60 A spheres with a q^-3 upturn read 21 A with q^-2.5 when it was free: tests/test_power_law.py).
    Without dI (``sigma`` a constant multiple of the curve's level, :func:`..data.validation.relative_sigma`: the
    check's and the polish's weights are the level itself, refine's and the parametric fit's 1 % of it) only points at
    or below zero free it: the level says nothing about the noise."""
    data = np.asarray(data, float)
    if np.any(data <= 0):
        return True
    sigma = np.asarray(sigma, float)
    ratio = sigma / relative_sigma(data)
    if np.ptp(ratio) <= 1e-9 * ratio.max():   # no dI
        return False
    tail = max(len(data) // 10, 3)
    return bool(np.min(data[-tail:] / sigma[-tail:]) < TAIL_Z)


def nnls_scale_background(shape: np.ndarray, data: np.ndarray, sigma: np.ndarray) -> tuple[float, float]:
    """(scale >= 0, background) minimising sum(((scale * shape + background - data) / sigma)^2); the background is
    >= 0, or free in sign where the data may be over-subtracted (:func:`background_may_be_negative`).

    Closed form for two unknowns (the unconstrained optimum, else the best of the edges), no scipy.
    """
    w = 1.0 / sigma**2
    sw, sm, sd = w.sum(), w @ shape, w @ data
    smm, smd = (w * shape) @ shape, (w * shape) @ data
    det = smm * sw - sm * sm
    signed = None   # the sign rule, asked only where the background comes out negative (it costs a pass over data)
    if det > 0:
        a = (smd * sw - sm * sd) / det
        b = (smm * sd - sm * smd) / det
        if a >= 0 and (b >= 0 or (signed := background_may_be_negative(data, sigma))):
            return float(a), float(b)
    if signed is None:
        signed = background_may_be_negative(data, sigma)
    cands = [(max(smd / smm, 0.0) if smm > 0 else 0.0, 0.0), (0.0, sd / sw if signed else max(sd / sw, 0.0))]

    def cost(p):
        r = (p[0] * shape + p[1] - data) / sigma
        return r @ r
    a, b = min(cands, key=cost)
    return float(a), float(b)


def nnls_columns(cols: np.ndarray, data: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Least squares over a few columns (n, k): argmin |(cols x - data) / sigma|^2 with x >= 0, except for a
    constant column (the flat background) where the data may be over-subtracted (:func:`background_may_be_negative`:
    free in sign there).  Fast path: eliminating the negative ones; its answer is kept where it meets the optimality
    (KKT) conditions, else every set of active bounds is tried (at most 2^k small solves; tested against scipy's
    bounded least squares, tests/test_quality.py)."""
    w = 1.0 / sigma
    a, b = cols * w[:, None], data * w
    k = cols.shape[1]
    flat = (cols[0] == cols[-1]) & (cols[0] != 0)   # candidates for the constant column (checked when it matters)
    signed, asked = np.zeros(k, bool), False   # the columns free in sign: asked once the constant one comes out < 0
    free = np.ones(k, bool)
    feasible = False
    for step in range(k):
        x = np.zeros(k)
        x[free] = np.linalg.lstsq(a[:, free], b, rcond=None)[0]
        if not asked and (x[flat] < 0).any():
            signed, asked = _signed_columns(cols, flat, data, sigma), True
        if np.all((x >= 0) | signed):
            if step == 0:   # the unconstrained optimum is feasible: it is the optimum
                return x
            feasible = True
            break
        free &= (x > 0) | signed
        if not free.any():
            break
    if feasible:   # KKT at the columns held at 0: the gradient must not point into the feasible side
        ah = a[:, ~free]
        grad = ah.T @ (a @ x - b)
        if np.all(grad >= -1e-9 * np.sqrt((ah * ah).sum(axis=0)) * np.linalg.norm(b)):
            return x
    return _nnls_exact(a, b, signed if asked else _signed_columns(cols, flat, data, sigma))


def _signed_columns(cols: np.ndarray, flat: np.ndarray, data: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """The columns of ``cols`` free in sign: the constant ones among the candidates ``flat``, where the data may be
    over-subtracted (:func:`background_may_be_negative`); none elsewhere."""
    signed = np.zeros(len(flat), bool)
    if flat.any() and background_may_be_negative(data, sigma):
        signed[flat] = np.all(cols[:, flat] == cols[0, flat], axis=0)
    return signed


def _nnls_exact(a: np.ndarray, b: np.ndarray, signed: np.ndarray) -> np.ndarray:
    """argmin |a x - b|^2 with x >= 0 but where ``signed``: the best feasible least-squares solution over every
    subset of the constrained columns held at 0 (k <= 5: at most 32 solves)."""
    k = a.shape[1]
    best, best_x = math.inf, np.zeros(k)
    constrained = np.flatnonzero(~signed)
    for mask in range(2 ** len(constrained)):
        free = signed.copy()
        free[constrained[[bool(mask >> i & 1) for i in range(len(constrained))]]] = True
        if not free.any():
            continue
        x = np.zeros(k)
        x[free] = np.linalg.lstsq(a[:, free], b, rcond=None)[0]
        if np.any(x[~signed] < 0):
            continue
        r = a @ x - b
        if r @ r < best:
            best, best_x = float(r @ r), x
    return best_x   # (all held at 0 where no subset is feasible)


def background_sigma(q, dq, radius, number, volume_fraction: float, sigma: np.ndarray,
                     slit_length: float | None = None, power_law: float | None = None) -> float:
    """1-sigma (data units) of the flat background fitted beside the spheres' curve (``number`` over ``radius``, A;
    smeared as the data are) and, where given, the low-q power law q^-power_law: from the covariance of the weighted
    linear least-squares fit (scale, background[, amplitude]), weights 1/``sigma``^2.  NaN where it is singular."""
    cols = [smeared_intensity(q, dq, radius, number, volume_fraction, slit_length), np.ones(len(q))]
    if power_law is not None:
        cols.append(smeared_power_law(q, dq, power_law, slit_length))
    a = np.stack(cols, axis=1) / np.asarray(sigma, float)[:, None]
    try:
        cov = np.linalg.inv(a.T @ a)
    except np.linalg.LinAlgError:
        return math.nan
    return float(math.sqrt(cov[1, 1])) if cov[1, 1] > 0 else math.nan


GOOD_CHI2 = 1.2     # reduced chi2 at or below which a result explains its data: no power law is asked about
UPTURN_MIN = 0.1    # a power law below this share of the model at the lowest q is no upturn (upturn_visible)
POWER_LAWS = (2.0, 2.5, 3.0, 3.5, 4.0)   # exponents of the low-q power law tried (aggregates, the upturn)


def power_law_evidence(n: int, chi2_reduced: float = 1.0) -> float:
    """The chi2 drop a low-q power law A q^-p (two parameters more) must beat to be kept on ``n`` points: the
    evidence rule (BIC, 2 ln n), times the fit's chi2_red with the power law where that is above 1 (the model's own
    misfit counted as noise, as for the volume fraction's cross-check: a network answer that misses its curve by
    a little is no reason for a power law)."""
    return 2.0 * math.log(max(n, 2)) * max(1.0, chi2_reduced if math.isfinite(chi2_reduced) else math.inf)


def upturn_visible(power_law_at_q_min: float, model_at_q_min: float) -> bool:
    """Whether a fitted power law is an upturn: at least :data:`UPTURN_MIN` of the model curve (spheres, background
    and it) at the lowest q.  Less is a patch on the spheres' misfit (a network answer that misses its curve a
    little at low q: 2 % for a 70 A Schulz curve on 0.02-0.07 1/A), which the data would otherwise accept."""
    return bool(power_law_at_q_min >= UPTURN_MIN * model_at_q_min > 0)


def choose_power_law(model: np.ndarray, data: np.ndarray, sigma: np.ndarray, power_law_of,
                     exponents=POWER_LAWS, noise_known: bool = True) -> tuple[float | None, float]:
    """(exponent or None, chi2 drop): of the low-q power laws A q^-p, p in ``exponents`` (``power_law_of(p)``: its
    curve at the data's points, smeared as ``model`` is), the one whose fit beside ``model`` (the spheres' curve; its
    scale and A fitted >= 0, a flat background as :func:`nnls_columns` holds it, weights 1/sigma^2) lowers chi2
    most; kept when the drop beats :func:`power_law_evidence` (at the fit's chi2_red with it) and it is an upturn
    (:func:`upturn_visible`).
    ``noise_known=False`` (no dI: ``sigma`` is only relative, the noise level is the residuals'): the BIC with the
    variance estimated, n ln(chi2 without / chi2 with) against the same 2 ln n.  The
    one rule for the polish, the check and the refinement (docs/domain.md)."""
    base = np.stack([model, np.ones_like(model)], axis=1)
    w = 1.0 / sigma

    def chi2(cols):
        z = (cols @ nnls_columns(cols, data, sigma) - data) * w
        return float(z @ z)

    without = chi2(base)
    best = min((chi2(np.column_stack([base, power_law_of(p)])), p) for p in exponents)
    drop = without - best[0]
    n = len(data)
    cols = np.column_stack([base, power_law_of(best[1])])
    x = nnls_columns(cols, data, sigma)
    if not upturn_visible(x[2] * cols[0, 2], float(cols[0] @ x)):
        return None, drop
    return (best[1] if power_law_evident(without, best[0], n, noise_known) else None), drop


def power_law_evident(worse: float, better: float, n: int, noise_known: bool = True, margins: float = 1.0) -> bool:
    """Whether chi2 ``better`` (with two parameters more: a power law's, or a population's) beats ``worse`` on ``n``
    points by the evidence rule: the drop above ``margins`` x :func:`power_law_evidence` at ``better``'s chi2_red where
    dI are given; without dI (chi2 relative to the curve's own level) the BIC with the variance estimated,
    n ln(worse / better) above ``margins`` x 2 ln n."""
    if noise_known:
        return worse - better > margins * power_law_evidence(n, better / max(n - 3, 1))
    return worse > 0 and (better <= 0 or n * math.log(worse / better) > margins * power_law_evidence(n))


def smeared_power_law(q, dq, exponent: float, slit_length: float | None = None) -> np.ndarray:
    """q^-exponent (q in 1/A) smeared as :func:`smeared_intensity` smears: the low-q upturn of aggregates."""
    if slit_length:
        x, w = slit_resolution(q, slit_length)
        return power_law(x, exponent) @ w
    if dq is None:
        return power_law(q, exponent)
    x, w = smearing(q, dq)
    return w @ power_law(x, exponent)


def smeared_intensity(q, dq, radius, number, volume_fraction: float, slit_length: float | None = None) -> np.ndarray:
    """:func:`model_intensity` smeared with pinhole resolution dq (1/A per point; None: unsmeared) or with a slit
    length (1/A; :mod:`..physics.smearing`, sasmodels' Slit1D)."""
    if slit_length:
        x, w = slit_resolution(q, slit_length)
        return model_intensity(x, radius, number, volume_fraction) @ w
    if dq is None:
        return model_intensity(q, radius, number, volume_fraction)
    x, w = smearing(q, dq)
    return w @ model_intensity(x, radius, number, volume_fraction)



SMALL_RADII = 10   # small_population_shift: trial radii from pi/q_max to the answer's SMALL_QUANTILE number quantile
SMALL_QUANTILE = 0.05


def small_population_shift(q, dq, radius, number, volume_fraction: float, data, sigma, slit_length=None,
                           power_law: float | None = None) -> tuple[float, float, float]:
    """(number-mean ratio, chi2 without, chi2 with): whether a population of small spheres could stand beside the
    answer (``number`` over ``radius``, A) and take part of the flat background's place.  Fitted to ``data`` by
    non-negative least squares: the answer's curve (its scale), a flat background free in sign, A q^-power_law where
    given, and, for "with", spheres of SMALL_RADII radii from pi/q_max to the answer's SMALL_QUANTILE number
    quantile (each >= 0, dilute); the ratio is the number mean of the answer with them over the answer's.  (1, c, c)
    where no radius fits below the answer.  A negative constant trades with such a population: both fall off the
    curve's high-q end (quality.over_subtracted)."""
    r_lo = math.pi / float(np.max(q))
    r_hi = float(np.interp(SMALL_QUANTILE, np.cumsum(number) / number.sum(), radius))
    flat = [np.ones(len(q)), -np.ones(len(q))]
    extra = [] if power_law is None else [smeared_power_law(q, dq, power_law, slit_length)]
    answer = smeared_intensity(q, dq, radius, number, volume_fraction, slit_length)

    def fit(cols):
        return weighted_nnls(np.column_stack(cols), data, sigma)

    c0 = fit([answer, *flat, *extra])[0]
    if r_hi <= 1.05 * r_lo:
        return 1.0, c0, c0
    small = np.geomspace(r_lo, r_hi, SMALL_RADII)
    c1, x = fit([answer, *(smeared_intensity(q, dq, np.array([r]), np.ones(1), 0.0, slit_length) for r in small),
                 *flat, *extra])
    # each column is an intensity per unit volume fraction: the answer's number per unit volume, times its share
    weights = np.concatenate([x[0] * number / (number @ radius**3), x[1:1 + SMALL_RADII] / small**3])
    if not weights.sum() > 0:
        return 1.0, c0, c1
    both = np.concatenate([radius, small])
    return float(weights @ both / weights.sum()) / float(mean_radius(number, radius)), c0, c1

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
