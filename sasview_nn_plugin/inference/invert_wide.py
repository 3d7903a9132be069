"""Inversion with the whole-curve network (:mod:`.wide`): any window up to 3.6 decades in one forward pass.

No scanning: the curve is placed on the network's dimensionless grid by self-similarity, the network answers
the volume distribution over radii rho L.  Points with I <= 0 are data: masked for the network, kept in the
check (their dI weigh them).

Volume fraction not given: the network answers for :data:`PHI_PROFILE` values in one batched pass, each answer
is polished against the data without a power law (:func:`.polish.move`: populations shifted and stretched,
shares refitted, then the shape where the data still ask); the step is then halved :data:`PHI_REFINE` times
around the best (two more answers each time) and the chi2 profile over the last three gives the estimate and its
sigma (:func:`.phi.estimate_volume_fraction`, the windowed model's rule).  The coarse profile alone read phi
0.01-0.1 0.02-0.04 high (bench_domain seed 21: median +0.021, 68 % coverage 22 %; halved twice: +0.005, 68 %):
below the truth the polished answers' chi2 rises steeply, above it slowly, which biases a parabola on a 0.05 grid.
Each phi's polish starts from its own network answer, so the profile jitters by 10-40 in chi2 on 300 points: the
best phi's polished answer is polished again at the phi near it (:data:`PHI_SHARED_START`), each keeping the lower
chi2, and the sigma spans the phi the data do not exclude (:func:`.phi.widened`).
The network's own phi head is reported in a note: on bench_wide's curves its median error is 0.01-0.05, the
profile's 0.000-0.011 (slit-smeared: up to 0.05; shifting and stretching alone,
without the shape, is worse: docs/wide.md).

The forward-model check (:func:`~.quality.assess`) scores the answer over the window the network read,
smeared with the pinhole dq or the slit length the data carry.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from ..data.curve import Curve
from ..data.validation import check_curve, check_dq, check_q_range, check_volume_fraction, in_q_range
from ..errors import InputError
from ..physics.kernels import mean_radius, volume_to_number
from .modelfile import calibration_of
from .phi import estimate_volume_fraction, widened
from .polish import (
    KNEE_QR,
    NUMBER_TAIL_MAX,
    UNSEEN_VOLUME,
    background_share,
    best_spheres_chi2,
    fine_grid,
    move,
    polish,
    tail_like_upturn,
    unseen_number_share,
    upturn_alternative,
    volume_beyond_knee_shift,
)
from .quality import OBS_X, POOR_FIT_CHI2, Training, assess, points_used, with_flag
from .quality_model import power_law_evident
from .result import Distribution, Inversion
from .wide_model import MIN_DECADES, Placed, WideModel, check_slit, place

VOLUME_TAIL_MAX = 0.10   # volume-mean-undetermined: the volume mean more than this above its value without the spheres
#                          beyond polish.KNEE_QR / q_min (the bench's volume tolerance)
Q_START_MAX = 0.08     # 1/A: data starting above this are refused (q in 1/nm read as 1/A; inference.window's guard)
MIN_POINTS = 10        # fewer points in the window: refused (nothing to read)
PHI_RANGE = (0.0, 0.5)
# UNSEEN_VOLUME, NUMBER_TAIL_MAX (polish): a quarter of the number below the 1 % volume quantile: flagged
PHI_SIGMA_MAX = 0.03   # an estimated phi less certain than this is flagged (docs/domain.md)
PHI_PROFILE = np.linspace(0.0, 0.5, 11)   # volume fractions the data are asked about when phi is not given ...
PHI_REFINE = 2   # ... then the step halved this many times around the best (the coarse parabola was biased)
PHI_SYSTEMATIC = 0.004   # the profile's own error, in quadrature (bench_domain seeds 21 and 15: 68 % coverage 72, 73 %)
PHI_EXCESS = 0.25  # the sigma spans the answers within max(1, chi2_red) + this x the best one's chi2 beyond its
#                   dof (bench_domain seed 21: coverage 77 -> 79 %, silent 7.2 -> 5.6 %; 0.5 flags SasView's AOT drop)
PHI_JITTER = 0.25  # ... + this x sqrt(2 dof): the polished chi2's jitter with phi, left after the shared start
PHI_SHARED_START = True   # the best phi's polished answer is polished again at the phi whose chi2 lies within
PHI_SHARED_WITHIN = 10.0  # this x sqrt(2 dof) of the best (bench_domain seed 21, silent 6.7 -> 2.2 %; docs/wide.md)
SIZE_SETTLED = 0.05   # an estimated phi less certain than PHI_SIGMA_MAX is flagged only where the polished answers
#                      within +- sigma differ by more than this (a ratio) in their number or volume mean (bench_domain
#                      seed 21: 0.05 kept the silent curves at 3 of 180; 0.1 let two wrong sizes through)
HEAD_DISAGREE_Z = 3.0   # phi estimated: the profile beyond this many of the (unsure) head's sigmas -> widened
#                        (2 flagged 7 of 180 right answers in domain, z 2.0-3.8, bench_domain seed 21; blends 4.5-6.5)
BROAD_RATIO = 1.15   # <R>v / <R>n above this: a broad answer (Schulz pd 0.1: 1.03; coils read as spheres: 1.3-2.4)
BACKGROUND_SHARE_MAX = 0.5   # a narrow answer below pi/q_max whose fitted background exceeds this share of the
#                              intensity at the high-q end rests on it (flagged; right ones 0.01-0.29, wrong 0.87+)
REFF_UNSEEN_MAX = 0.10   # phi estimated > 0: the number mean (S(q)'s R_eff) moving more than this without the
#                          unseen particles (below the 1 % volume quantile) makes the estimate uncertain (a flag)


def _validated(q, intensity, di, dq, q_range, slit=None):
    q = np.asarray(q, dtype=float)
    intensity = np.asarray(intensity, dtype=float)
    di = None if di is None else np.asarray(di, dtype=float)
    check_curve(q, intensity, di, allow_non_positive=True)   # I <= 0 are data here: masked, kept in the check
    dq = check_dq(dq, q)
    if q_range is not None:
        lo, hi = check_q_range(q_range)
        keep = in_q_range(q, (lo, hi))
        q, intensity = q[keep], intensity[keep]
        di = None if di is None else di[keep]
        dq = None if dq is None else dq[keep]
    if len(q) < MIN_POINTS:
        raise InputError(f"{len(q)} points to read; the whole-curve network needs at least {MIN_POINTS}"
                         + (" inside `q_range`" if q_range is not None else ""),
                         parameter="q_range" if q_range else "q")
    if np.log10(q[-1] / q[0]) < MIN_DECADES:
        raise InputError(f"the data span q = {q[0]:.4g}-{q[-1]:.4g} 1/A ({np.log10(q[-1] / q[0]):.2f} decades); the "
                         f"whole-curve model reads windows of {MIN_DECADES:g}-3.6 decades (it was trained on them): "
                         + ("and the windowed model does not read slit-smeared data: measure or use a q range of at "
                            f"least {MIN_DECADES:g} decade" if slit else
                            "use the windowed model (model='default') for this curve"),
                         parameter="q_range" if slit else "model")
    if q[0] > Q_START_MAX:
        raise InputError(f"the data cover q = {q[0]:.4g}-{q[-1]:.4g} 1/A; data reaching below {Q_START_MAX:g} 1/A are "
                         f"needed: above it every radius the window resolves lies below pi/{Q_START_MAX:g} = "
                         f"{math.pi / Q_START_MAX:.3g} A, the mark of q in 1/nm read as 1/A (the windowed model's "
                         "rule too); measure or merge data over that range (or, if q is in 1/nm, pass "
                         'q_unit="nm")', parameter="q_unit")
    if np.count_nonzero(intensity > 0) < MIN_POINTS:
        raise InputError(f"only {np.count_nonzero(intensity > 0)} points have I > 0; at least {MIN_POINTS} are "
                         "needed (is the background over-subtracted?)", parameter="intensity")
    return q, intensity, di, dq


def _result(model: WideModel, placed: Placed, vol: np.ndarray, phi: float, phi_sigma: float | None,
            q, intensity, di, dq, slit, notes, polished: bool = True, q_range=None, rests_on_phi: bool = True
            ) -> Inversion:
    coarse = model.grids.rho * placed.length
    start = vol
    if polished:
        radius, vol, c0, c1, power_law = polish(q, intensity, di, dq, slit, coarse, vol, phi)
    else:
        (radius, vol), c0, c1, power_law = fine_grid(coarse, vol), 0.0, 0.0, None
    if power_law is not None:
        notes = [*notes, f"a low-q power law A q^-{power_law:g} fitted beside the spheres (the evidence asked for "
                         "it: aggregates or an upturn); the check includes it"]
    if c1 < c0:
        notes = [*notes, f"polished against the data (populations shifted/stretched in log R, then the shape): "
                         f"chi2 {c0 / max(len(q) - 2, 1):.3g} -> {c1 / max(len(q) - 2, 1):.3g}"]
    chi2 = c1
    number = vol / radius**3
    number /= number.sum()
    dist = Distribution(radius, number, vol, float(number @ radius), float(vol @ radius))
    training = Training(placed.q_range, (float(radius[0]), float(radius[-1])), PHI_RANGE)
    check = functools.partial(assess, q, intensity, di, radius, number, phi,
                              training=training, q_range=placed.q_range, dq=dq, slit_length=slit,
                              power_law=power_law)
    shift = unseen_reff_shift(radius, number, vol)
    if phi_sigma is not None and phi > 0 and shift > REFF_UNSEEN_MAX:
        notes = [*notes, f"the volume fraction is read from S(q), whose R_eff (the number mean) would move by "
                         f"{shift:.0%} without the particles below the 1 % volume quantile, which the data barely "
                         "see: the estimate is uncertain; give phi if it is known"]
    unsure = phi_sigma is not None and phi_sigma > PHI_SIGMA_MAX and rests_on_phi
    if unsure or (phi_sigma is not None and phi > 0 and shift > REFF_UNSEEN_MAX):
        check = functools.partial(with_flag, check, "volume-fraction-uncertain")   # the answer moves with phi
    if dist.mean_radius_number < OBS_X / placed.q_range[1] and dist.mean_radius_volume > BROAD_RATIO * \
            dist.mean_radius_number:
        # a broad answer whose headline number lies below what the window resolves (q R < pi at every point): the
        # equivalent spheres of a polymer coil's q^-2 tail sit there (bench_domain: 39 of 40 coils read 9-10 A,
        # unflagged; <R>v / <R>n 1.3-2.4); narrow small spheres, read right from their Guinier curvature, do not
        notes = [*notes, f"the number-mean radius {dist.mean_radius_number:.3g} A of a broad answer lies below "
                         f"pi/q_max = {OBS_X / placed.q_range[1]:.3g} A, the smallest radius the window resolves"]
        check = functools.partial(with_flag, check, "mass-outside-observable")
    elif dist.mean_radius_number < OBS_X / placed.q_range[1] and (share := background_share(
            q, intensity, di, dq, slit, radius, vol, phi)) > BACKGROUND_SHARE_MAX:
        # a narrow answer below what the window resolves is read from its Guinier curvature alone, which a flat
        # background also makes from larger spheres: 5-6 A spheres read 10.2 A, the background 87-93 % of I(q_max)
        notes = [*notes, f"the number-mean radius {dist.mean_radius_number:.3g} A lies below pi/q_max = "
                         f"{OBS_X / placed.q_range[1]:.3g} A, where the window sees only a Guinier curvature, and the "
                         "fitted flat background is "
                         + (f"{share:.0%} of the intensity" if math.isfinite(share) else "all of the (not positive) "
                            "intensity") + " at the high-q end: the size rests on the background"]
        check = functools.partial(with_flag, check, "mass-outside-observable")
    if (tail := volume_beyond_knee_shift(radius, vol, placed.q_range[0])) > VOLUME_TAIL_MAX and tail_like_upturn(
            q, intensity, di, dq, slit, radius, vol, phi, power_law):
        # the volume mean rests on spheres whose Guinier knee lies below the window, and a low-q power law in their
        # place fits nearly as well (a helper's adversarial curves: spheres with an upturn read with 400-900 A
        # particles, volume means 2-3x, unflagged); a real large population's shoulder and fringes tell it apart
        notes = [*notes, f"the volume-weighted mean radius rests on spheres larger than {KNEE_QR:g}/q_min = "
                         f"{KNEE_QR / placed.q_range[0]:.3g} A (without them it is {1 / (1 + tail):.0%} of itself), "
                         "whose curve in the window a low-q upturn (aggregates) makes nearly as well"]
        check = functools.partial(with_flag, check, "volume-mean-undetermined")
    elif polished and (power_law is not None or moved_volume_mean(coarse, start, dist.mean_radius_volume)) and (
            other := other_sizes_beside_upturn(model, placed, start, dist.mean_radius_volume, chi2, q, intensity, di,
                                               dq, slit, phi)) is not None:
        notes = [*notes, other]
        check = functools.partial(with_flag, check, "volume-mean-undetermined")
    if unseen_number_share(radius, vol) > NUMBER_TAIL_MAX:
        # the number distribution rests on particles that hold almost none of the volume (the data see volume^2)
        check = functools.partial(with_flag, check, "number-distribution-undetermined")
    if polished and di is not None:
        check = functools.partial(unexplained_by_spheres, check, (q, intensity, di, dq), slit, placed.q_range, radius,
                                  phi, dist.mean_radius_number, phi_sigma)
    curve = Curve.from_arrays(q, intensity, di, dq, slit_length=slit, q_range=q_range)
    return Inversion(dist, phi, model.name, curve, placed.q_range, tuple(notes), check=check,
                     volume_fraction_sigma=phi_sigma, training=training, calibration=calibration_of(model),
                     polished=polished)


def moved_volume_mean(radius: np.ndarray, start: np.ndarray, volume_mean: float) -> bool:
    """Whether the polish moved the volume-weighted mean radius of the network's answer ``start`` (volume over the
    network's radii ``radius``, A) by more than VOLUME_TAIL_MAX to ``volume_mean`` (A).  The network was trained to
    ignore upturns; a polish that moved it that far may have explained one by spheres (bench_wide's polish moves it
    0.3-4 %, median by cell)."""
    return abs(volume_mean / mean_radius(start, radius) - 1) > VOLUME_TAIL_MAX


def other_sizes_beside_upturn(model: WideModel, placed: Placed, start: np.ndarray, volume_mean: float, chi2: float,
                              q, intensity, di, dq, slit, phi: float) -> str | None:
    """A note where the network's answer ``start`` (its grid), moved beside the low-q power law the evidence asks for
    at it (:func:`.polish.upturn_alternative`), explains the data within the evidence rule's margin of the polished
    answer (``chi2``) with a volume-weighted mean radius more than VOLUME_TAIL_MAX from its ``volume_mean`` (A): the
    data do not decide between the two (a shallow upturn, q^-2-2.5, is made as well by a broad spread of spheres);
    else None."""
    alt = upturn_alternative(q, intensity, di, dq, slit, model.grids.rho * placed.length, start, phi)
    if alt is None:
        return None
    exponent, other, other_chi2 = alt
    other_mean = mean_radius(other, fine_grid(model.grids.rho * placed.length)[0])
    if power_law_evident(other_chi2, chi2, len(q), di is not None) or \
            abs(other_mean / volume_mean - 1) <= VOLUME_TAIL_MAX:
        return None
    dof = max(len(q) - 2, 1)
    return (f"another answer, the network's first reading shifted and stretched beside a low-q power law A "
            f"q^-{exponent:g}, explains the data {'better' if other_chi2 < chi2 else 'nearly as well'} (chi2_red "
            f"{other_chi2 / dof:.3g} against {chi2 / dof:.3g}, within the evidence rule's margin) with a "
            f"volume-weighted mean radius of {other_mean:.3g} A against this answer's {volume_mean:.3g} A: the data "
            "do not decide between an upturn and a spread of sizes")


def unexplained_by_spheres(check, data: tuple, slit, q_range: tuple[float, float], radius: np.ndarray, phi: float,
                           r_eff: float, phi_sigma: float | None = None):
    """``check()``, its ``approximate`` mark made ``poor-fit`` where no sphere distribution explains the data: a
    polished answer is a fit, and one still above POOR_FIT_CHI2 may be a local optimum (refine takes it to the noise)
    or a sample no spheres describe.  The least chi2 of any non-negative distribution on the answer's radii
    (:func:`.polish.best_spheres_chi2`, S(q) and power law as the answer's; chi2_red over the points less the columns
    it used) tells which: above POOR_FIT_CHI2, ``poor-fit`` (bench_domain's cylinders: 3 of 16 read 8-23 chi2_red
    unflagged had bounds 3.2-11; the in-domain answers marked approximate, 7 of 360, bounds 0.9-2.9).  An estimated phi
    (``phi_sigma``) is not held: the least bound over phi within 3 sigma counts (a 2000 A near-monodisperse curve,
    phi 0.1 read 0.089 +- 0.004: bound 8.6 there, 1.0 at 0.1)."""
    qual = check()
    if not qual.approximate:
        return qual
    qu, iu, du, dqu = points_used(*data, *q_range)
    power_law = None if qual.power_law is None else qual.power_law[0]
    steps = (0, -1, 1, -2, 2, -3, 3) if phi_sigma else (0,)
    for p in dict.fromkeys(min(max(phi + k * (phi_sigma or 0.0), 0.0), PHI_RANGE[1]) for k in steps):
        chi2, used = best_spheres_chi2(qu, iu, du, dqu, slit, radius, p, r_eff, power_law)
        if chi2 / max(len(qu) - used - 1, 1) <= POOR_FIT_CHI2:
            return qual
    return dataclasses.replace(qual, flags=("poor-fit", *qual.flags), approximate=False)


def profile_phi(model: WideModel, placed: Placed, q, intensity, di, dq, slit
                ) -> tuple[float, float, str, dict[float, np.ndarray]]:
    """(phi, 1-sigma, note, the polished answer at each phi asked: volume distributions on the network's grid
    split SUB-fold): the volume fraction whose polished network answer fits the data best, over
    :data:`PHI_PROFILE`, then the step halved :data:`PHI_REFINE` times around the best (module docstring).
    Without dI the misfit rms is scored (the windowed model's rule)."""
    n = len(q)
    radius = model.grids.rho * placed.length

    polished = {}   # phi -> the polished answer with the lowest chi2 so far (fine-grid volume distribution)

    def score(chi2: float) -> tuple[float, float]:
        return (chi2, chi2 / max(n - 2, 1)) if di is not None else (np.sqrt(chi2 / n), float(n))

    def scores(phis) -> list[tuple[float, float]]:
        vols = model.predict_placed([placed] * len(phis), list(phis))[0]
        out = []
        for v, p in zip(vols, phis, strict=True):
            fine, vf = fine_grid(radius, v)
            polished[round(float(p), 12)], _, chi2 = move(q, intensity, di, dq, slit, fine, vf, float(p))
            out.append(score(chi2))
        return out

    known = dict(zip(PHI_PROFILE.round(12), scores(PHI_PROFILE), strict=True))
    best, step = min(known, key=lambda p: known[p][0]), float(PHI_PROFILE[1] - PHI_PROFILE[0])
    for _ in range(PHI_REFINE):   # halve the step around the best: its neighbours at the step are known
        step /= 2
        new = [p for p in np.round([best - step, best + step], 12) if PHI_PROFILE[0] <= p <= PHI_PROFILE[-1]]
        known |= dict(zip(new, scores(new), strict=True))
        best = min(known, key=lambda p: known[p][0])
    if PHI_SHARED_START:   # the best answer polished again at the other phi: a profile, not each start's luck
        fine, start = fine_grid(radius)[0], polished[best]

        def near(p) -> bool:   # chi2 within PHI_SHARED_WITHIN sqrt(2 dof) of the best (no dI: the rms as a chi2)
            a, b, dof = known[p][0], known[best][0], max(n - 2, 1)
            return (a - b if di is not None else dof * ((a / b) ** 2 - 1)) <= PHI_SHARED_WITHIN * np.sqrt(2.0 * dof)

        def shared(phis) -> None:
            for p in phis:
                if near(p):
                    vol, _, chi2 = move(q, intensity, di, dq, slit, fine, start, float(p))
                    if score(chi2) < known[p]:
                        known[p], polished[p] = score(chi2), vol

        new = [p for p in sorted(known) if p != best]
        while new:   # where the best moves, its neighbours at the last step are asked too
            shared(new)
            best = min(known, key=lambda p: known[p][0])
            new = [p for p in np.round([best - step, best + step], 12) if PHI_PROFILE[0] <= p <= PHI_PROFILE[-1]
                   and p not in known]
            known |= dict(zip(new, scores(new), strict=True))
    local = [p for p in np.round([best - step, best, best + step], 12) if p in known]
    scan = f"{PHI_PROFILE[0]:.3g}-{PHI_PROFILE[-1]:.3g}, refined to a step of {step:.3g} around the best"
    phi, sigma, note = estimate_volume_fraction(np.array(local), [known[p] for p in local], di is not None,
                                                systematic=PHI_SYSTEMATIC, scan=scan)
    if di is not None:   # the polished answers' chi2 jitters with phi: those it does not exclude widen the sigma
        every = sorted(known)
        sigma, note = widened(sigma, note, np.array(every), np.array([known[p][0] for p in every]),
                              np.array([known[p][1] for p in every]), PHI_EXCESS, PHI_JITTER)
    return phi, sigma, note, polished


def size_spread(radius: np.ndarray, answers: list[np.ndarray]) -> float:
    """How far apart the ``answers`` (volume distributions over ``radius``, A) are in size: the largest ratio
    max / min - 1 of their number means or of their volume means; NaN where an answer holds nothing."""
    vols = np.array(answers, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (mean_radius(volume_to_number(vols, radius), radius), mean_radius(vols, radius))
        ratios = [m.max() / m.min() - 1.0 for m in means]
    return float(max(ratios)) if np.all(np.isfinite(ratios)) else math.nan


def unseen_reff_shift(radius: np.ndarray, number: np.ndarray, vol: np.ndarray) -> float:
    """Relative change (a ratio) of the number-mean radius when the particles below the :data:`UNSEEN_VOLUME`
    volume quantile (which the data barely see: scattering weighs volume squared) are left out; ``radius`` in A."""
    seen = np.cumsum(vol) >= UNSEEN_VOLUME
    if not seen.any() or not number[seen].sum() > 0:
        return 0.0
    return float((number[seen] @ radius[seen]) / number[seen].sum() / (number @ radius) - 1.0)


def _phi(model: WideModel, placed: Placed, given: float | None, head: tuple[float, float], curve: tuple,
         notes: list[str]) -> tuple[float, float | None, np.ndarray | None, bool]:
    """(phi used, its sigma or None when given, the network's answer at it or None: the caller's, whether the size
    answer rests on that phi): the profile's estimate (:func:`profile_phi`), with notes, where none was given.
    Where the network's own head is unsure (sigma above PHI_SIGMA_MAX) and the data's phi lies beyond
    HEAD_DISAGREE_Z of its sigmas, the network read a curve unlike its training: the sigma is widened to the
    disagreement (so the answer is flagged).  Otherwise the size rests on phi where the polished answers within
    +- sigma differ by more than :data:`SIZE_SETTLED` in their number or volume mean."""
    if given is not None:
        return given, None, None, False
    phi, sigma, note, answers = profile_phi(model, placed, *curve)
    notes.append(note.replace("forward-model", "polished network answers' forward-model"))
    notes.append(f"the network's own phi head read {head[0]:.3f} +- {head[1]:.3f}")
    fine = fine_grid(model.grids.rho * placed.length)[0]
    inside = [answers[p] for p in answers if abs(p - phi) <= sigma]   # sigma inf or NaN: none, or every one
    spread = size_spread(fine, inside) if len(inside) >= 2 and math.isfinite(sigma) else math.inf
    rests = not spread <= SIZE_SETTLED   # fails closed: NaN (an answer with no size) rests
    if head[1] > PHI_SIGMA_MAX and abs(head[0] - phi) > HEAD_DISAGREE_Z * head[1]:
        notes.append("the network's phi head, itself unsure, disagrees with the data's: a curve unlike the "
                     "training set's (e.g. polymer coils); the volume fraction and the sizes are uncertain")
        sigma, rests = max(sigma, abs(head[0] - phi)), True
    elif sigma > PHI_SIGMA_MAX and not rests:
        notes.append(f"the data do not fix the volume fraction (+- {sigma:.2g}), but the sizes do not rest on it: "
                     f"the polished answers within +- sigma differ by {spread:.1%} in their means")
    return phi, sigma, model.predict_placed([placed], [phi])[0][0], rests


def _notes(q, intensity, placed: Placed) -> list[str]:
    notes = []
    if placed.q_range != (float(q[0]), float(q[-1])):
        notes.append(f"the data span more than the network's 3.6 decades: it read q = {placed.q_range[0]:.4g}-"
                     f"{placed.q_range[1]:.4g} 1/A, the span with the most signal")
    n_bad = int(np.count_nonzero(intensity <= 0))
    if n_bad:
        notes.append(f"{n_bad} points with I <= 0 kept as data (masked for the network, in the check by their dI)")
    return notes


def invert_wide(model: WideModel, q, intensity, dI=None, *, volume_fraction: float | None = None, dq=None,
                slit_length: float | None = None, q_range: tuple[float, float] | None = None,
                polished: bool = True) -> Inversion:
    """Invert one curve (q 1/A ascending, I any units, dI, pinhole dq 1-sigma 1/A or slit length 1/A) with the
    whole-curve network; ``volume_fraction`` None: estimated from the data (module docstring;
    ``volume_fraction_sigma``).
    ``polished``: the answer polished against the data (:mod:`.polish`; False: the network's output as is at its
    phi, which, when estimated, still comes from the polished candidates of the profile)."""
    slit = check_slit(slit_length)
    phi = None if volume_fraction is None else check_volume_fraction(volume_fraction)
    q, intensity, di, dq = _validated(q, intensity, dI, dq, q_range, slit)
    if slit is not None and dq is not None:
        raise InputError("give either pinhole `dq` or a `slit_length`, not both", parameter="slit_length")
    placed = place(model.grids, q, intensity, di, dq, slit)
    vol, phi_est, phi_sig = model.predict_placed([placed], [phi])
    notes = _notes(q, intensity, placed)
    phi, sigma, at_phi, rests = _phi(model, placed, phi, (phi_est[0], phi_sig[0]), (q, intensity, di, dq, slit),
                                     notes)
    vol = vol[0] if at_phi is None else at_phi
    return _result(model, placed, vol, phi, sigma, q, intensity, di, dq, slit, notes, polished, q_range, rests)


def invert_wide_many(model: WideModel, q, intensities, dIs=None, *, volume_fractions=None, dqs=None,
                     slit_length: float | None = None, polished: bool = True) -> list[Inversion | InputError]:
    """N curves on one q grid, one batched forward pass (rows with phi None: 15 polishes and one more pass each, the
    profile); per row its Inversion or the InputError it raised."""
    inten = np.asarray(intensities, dtype=float)
    n = len(inten)
    phis = np.broadcast_to(np.asarray(np.nan if volume_fractions is None else volume_fractions, float), (n,))
    dis = [None] * n if dIs is None else list(np.asarray(dIs, dtype=float))
    dqr = [None] * n if dqs is None else list(np.broadcast_to(np.asarray(dqs, dtype=float), inten.shape))
    out: list = [None] * n
    ready = []
    for i in range(n):
        try:
            phi = None if np.isnan(phis[i]) else check_volume_fraction(phis[i])
            qi, ii, di, dqi = _validated(q, inten[i], dis[i], dqr[i], None, slit_length)
            ready.append((i, phi, qi, ii, di, dqi, place(model.grids, qi, ii, di, dqi, check_slit(slit_length))))
        except InputError as exc:
            out[i] = exc
    vol, phi_est, phi_sig = model.predict_placed([r[6] for r in ready], [r[1] for r in ready])
    for k, (i, phi, qi, ii, di, dqi, placed) in enumerate(ready):
        notes = _notes(qi, ii, placed)
        phi, sigma, at_phi, rests = _phi(model, placed, phi, (phi_est[k], phi_sig[k]),
                                         (qi, ii, di, dqi, check_slit(slit_length)), notes)
        out[i] = _result(model, placed, vol[k] if at_phi is None else at_phi, phi, sigma, qi, ii, di, dqi,
                         slit_length, notes, polished, rests_on_phi=rests)
    return out
