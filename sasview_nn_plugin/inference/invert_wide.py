"""Inversion with the whole-curve network (:mod:`.wide`): any window up to 3.6 decades in one forward pass.

No scanning: the curve is placed on the network's dimensionless grid by self-similarity, the network answers
the volume distribution over radii rho L and (when not given) the volume fraction with its sigma, in the same
pass.  Points with I <= 0 are data: masked for the network, kept in the check (their dI weigh them).
The forward-model check (:func:`~.quality.assess`) scores the answer over the window the network read,
smeared with the pinhole dq or the slit length the data carry.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from ..data.curve import Curve
from ..data.validation import check_curve, check_dq, check_q_range, check_volume_fraction, in_q_range
from ..errors import InputError
from .polish import fine_grid, polish
from .quality import Training, assess
from .result import Distribution, Inversion
from .wide_model import Placed, WideModel, check_slit, place

MIN_DECADES = 1.0      # narrower windows: refused (the training windows were 1.0-3.6 decades)
MIN_POINTS = 10        # fewer points in the window: refused (nothing to read)
PHI_RANGE = (0.0, 0.5)
UNSEEN_VOLUME, NUMBER_TAIL_MAX = 0.01, 0.25   # a quarter of the number below the 1 % volume quantile: flag
PHI_SIGMA_MAX = 0.03   # an estimated phi less certain than this is flagged (docs/domain.md)
PHI_ALTERNATIVES = (0.0, 0.5, 0.75, 1.25, 1.5)   # x the estimated phi: the alternatives the data are asked about
PHI_DISAGREE_CHI2 = 9.0   # an alternative better by this much chi2 (in units of chi2 per point, >= 1): flagged


def _validated(q, intensity, di, dq, q_range):
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
                         "use the windowed model (model='default') for this curve", parameter="model")
    if np.count_nonzero(intensity > 0) < MIN_POINTS:
        raise InputError(f"only {np.count_nonzero(intensity > 0)} points have I > 0; at least {MIN_POINTS} are "
                         "needed (is the background over-subtracted?)", parameter="intensity")
    return q, intensity, di, dq


def _result(model: WideModel, placed: Placed, vol: np.ndarray, phi: float, phi_sigma: float | None,
            q, intensity, di, dq, slit, notes, polished: bool = True, q_range=None) -> Inversion:
    coarse = model.grids.rho * placed.length
    disagrees = None
    if polished:
        radius, vol, c0, c1, power_law = polish(q, intensity, di, dq, slit, coarse, vol, phi)
        if phi_sigma is not None and di is not None and phi_sigma <= PHI_SIGMA_MAX:   # (else flagged already)
            disagrees = _phi_disagrees(model, placed, phi, c1, q, intensity, di, dq, slit)
    else:
        (radius, vol), c0, c1, power_law = fine_grid(coarse, vol), 0.0, 0.0, None
    if power_law is not None:
        notes = [*notes, f"a low-q power law A q^-{power_law:g} fitted beside the spheres (the evidence asked for "
                         "it: aggregates or an upturn); the check includes it"]
    if c1 < c0:
        notes = [*notes, f"polished against the data (populations shifted/stretched in log R, then the shape): "
                         f"chi2 {c0 / max(len(q) - 2, 1):.3g} -> {c1 / max(len(q) - 2, 1):.3g}"]
    number = vol / radius**3
    number /= number.sum()
    dist = Distribution(radius, number, vol, float(number @ radius), float(vol @ radius))
    training = Training(placed.q_range, (float(radius[0]), float(radius[-1])), PHI_RANGE)
    check = functools.partial(assess, q, intensity, di, radius, number, phi,
                              training=training, q_range=placed.q_range, dq=dq, slit_length=slit,
                              power_law=power_law)
    if disagrees is not None:   # the data fit another phi clearly better: the estimate is not to be trusted
        better, ratio = disagrees
        notes = [*notes, f"the data fit volume fraction {better:.3g} better than the estimate {phi:.3g} (chi2 "
                         f"{ratio:.2g}x lower there): phi and the sizes trade; give phi if it is known"]
        phi_sigma = max(phi_sigma, abs(better - phi))
    if phi_sigma is not None and phi_sigma > PHI_SIGMA_MAX:   # the answer moves with an uncertain phi: a flag
        check = functools.partial(_flagged, check, "volume-fraction-uncertain")
    if number[np.cumsum(vol) < UNSEEN_VOLUME].sum() > NUMBER_TAIL_MAX:
        # the number distribution rests on particles that hold almost none of the volume (the data see volume^2)
        check = functools.partial(_flagged, check, "number-distribution-undetermined")
    curve = Curve.from_arrays(q, intensity, di, dq, slit_length=slit, q_range=q_range)
    return Inversion(dist, phi, model.name, curve, placed.q_range, tuple(notes), check=check,
                     volume_fraction_sigma=phi_sigma, training=training)


def _phi_disagrees(model: WideModel, placed: Placed, phi: float, chi2: float, q, intensity, di, dq, slit):
    """(phi, chi2 ratio) of the alternative volume fraction (:data:`PHI_ALTERNATIVES` x the estimate, and 0) whose
    polished answer fits the data better than the estimate's by more than :data:`PHI_DISAGREE_CHI2` times the
    estimate's chi2 per point (a 3-sigma change where the model's own misfit is counted as noise), else None.  The
    network's phi sigma comes from its head alone; the data can say otherwise (SasView's AOT drop curve: 0.199 +-
    0.012 estimated, chi2 2.5 per point there against 1.7 at 0.08-0.1, the reference fit's phi)."""
    alts = sorted({min(max(f * phi, 0.0), PHI_RANGE[1]) for f in PHI_ALTERNATIVES} - {phi})
    vols = model.predict_placed([placed] * len(alts), alts)[0]
    coarse = model.grids.rho * placed.length
    fits = [polish(q, intensity, di, dq, slit, coarse, v, p)[3] for v, p in zip(vols, alts, strict=True)]
    k = int(np.argmin(fits))
    per_point = chi2 / max(len(q) - 2, 1)
    if chi2 - fits[k] > PHI_DISAGREE_CHI2 * max(per_point, 1.0):
        return alts[k], chi2 / max(fits[k], 1e-300)
    return None


def _flagged(check, flag: str):
    quality = check()
    return dataclasses.replace(quality, flags=(*quality.flags, flag))


def _phi(given: float | None, estimate: float, sigma: float, notes: list[str]) -> tuple[float, float | None]:
    """(phi used, its sigma or None when given): the network's estimate, with a note, where none was given."""
    if given is not None:
        return given, None
    notes.append(f"volume fraction estimated by the network in the same pass: {estimate:.3f} +- {sigma:.3f}")
    return float(estimate), float(sigma)


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
    whole-curve network; ``volume_fraction`` None: estimated in the same pass (``volume_fraction_sigma``).
    ``polished``: the answer polished against the data (:mod:`.polish`; False: the network's output as is)."""
    slit = check_slit(slit_length)
    phi = None if volume_fraction is None else check_volume_fraction(volume_fraction)
    q, intensity, di, dq = _validated(q, intensity, dI, dq, q_range)
    if slit is not None and dq is not None:
        raise InputError("give either pinhole `dq` or a `slit_length`, not both", parameter="slit_length")
    placed = place(model.grids, q, intensity, di, dq, slit)
    vol, phi_est, phi_sig = model.predict_placed([placed], [phi])
    notes = _notes(q, intensity, placed)
    phi, sigma = _phi(phi, phi_est[0], phi_sig[0], notes)
    return _result(model, placed, vol[0], phi, sigma, q, intensity, di, dq, slit, notes, polished, q_range)


def invert_wide_many(model: WideModel, q, intensities, dIs=None, *, volume_fractions=None, dqs=None,
                     slit_length: float | None = None, polished: bool = True) -> list[Inversion | InputError]:
    """N curves on one q grid, one batched forward pass; per row its Inversion or the InputError it raised."""
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
            qi, ii, di, dqi = _validated(q, inten[i], dis[i], dqr[i], None)
            ready.append((i, phi, qi, ii, di, dqi, place(model.grids, qi, ii, di, dqi, check_slit(slit_length))))
        except InputError as exc:
            out[i] = exc
    vol, phi_est, phi_sig = model.predict_placed([r[6] for r in ready], [r[1] for r in ready])
    for k, (i, phi, qi, ii, di, dqi, placed) in enumerate(ready):
        notes = _notes(qi, ii, placed)
        phi, sigma = _phi(phi, phi_est[k], phi_sig[k], notes)
        out[i] = _result(model, placed, vol[k], phi, sigma, qi, ii, di, dqi, slit_length, notes, polished)
    return out
