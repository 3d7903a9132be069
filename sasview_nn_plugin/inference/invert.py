"""Inversion of a measured curve with a trained network: numpy + h5py only, no TensorFlow.

``invert(q, intensity, dI, volume_fraction=phi)`` interpolates the data onto the model's q grid
(linear in log q - log I), runs the network and returns an :class:`Inversion` (the result types are in
:mod:`.result`).

Data that do not cover the model's q window but span at least its q_max / q_min, and data that cover it with
room to spare (lab SAXS, SANS), are mapped onto it (:mod:`.window`): polydisperse hard spheres with R_eff =
the number-mean radius are self-similar, I_R(q) = s^3 I_{R/s}(q s) at the same phi (F^2 depends on q R
alone, V scales as s^3, and the Percus-Yevick S(q) on q R_eff and phi alone), so the mapping is exact for
concentrated samples too.  A few scales s are tried (the model's own window among them) and the one whose
model curve fits the whole data range best is kept, radii x s.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from ..data.curve import Curve, as_curve
from ..data.validation import MAX_VALUE, check_curve, check_dq, check_volume_fraction, unused_bad_points
from ..errors import InputError
from ..physics.kernels import PHI_MAX  # physics imports sasmodels only inside its functions
from .invert_wide import invert_wide, invert_wide_many
from .modelfile import DEFAULT_MODEL, calibration_of, load_model
from .network import NNModel
from .phi import PROFILE_EXCESS, estimate_volume_fraction, scan_values, score_of
from .quality import AUTO, BatchCheck, assess, training_of, with_flag
from .quality_model import smeared_power_law
from .result import Distribution, Inversion
from .wide_model import choose_for_curve, choose_network, is_auto, wide_model
from .window import (  # noqa: F401  (to_model_grid, maps_to_model_window, dq_over_q: also imported from here)
    MIN_WINDOW_SCALE,
    WINDOW_STEP,
    covers_model_window,
    data_range,
    dq_over_q,
    from_model_window,
    maps_to_model_window,
    to_model_grid,
    to_model_window,
    window_error,
    window_scales,
)

MAX_WINDOW_CANDIDATES = 13  # scale factors tried for a mapped or wide window (each costs one check, ~0.3 ms)
PHI_SCAN_WINDOWS = 5        # ... per scanned phi when phi is estimated on such a window (17 phi values)
REREADS = 2                 # times the network re-reads a curve less its fitted low-q power law, at most
REREAD_FLOOR = 0.1          # ... points the subtraction takes lower are read at this fraction of the data
WIDE_WINDOW = WINDOW_STEP   # data spanning this x the model's q_max/q_min have room for another scale of the map
PHI_SIGMA_FLAG = 0.05        # phi estimated less certain than this: flagged volume-fraction-uncertain (docs/domain.md)


def _drop(curve: Curve, q_range) -> tuple[Curve, str | None]:
    """(curve, note): the curve without the unused bad points (:func:`~..data.validation.unused_bad_points`)."""
    keep, note = unused_bad_points(curve.q, curve.intensity, q_range)
    return (curve, None) if keep is None else (curve.take(keep), note)


def invert(q, intensity=None, dI=None, *, volume_fraction: float | None = None,
           model: str | NNModel | None = None, dq=None, slit_length=None, q_range=None) -> Inversion:
    """Invert one SAXS curve into a size distribution.

    The data: a :class:`~..data.curve.Curve` (from the loaders or ``Curve.from_data1d``) alone, or arrays q in
    1/A (ascending), intensity in any units (absolute scale is not needed), dI optional (used for the model
    curve's chi^2 only) and ``dq``: None or the 1-sigma q resolution per point (1/A).  volume_fraction in
    [0, 0.74) (0: dilute, no S(q)), or None: estimated from the curve (:mod:`.phi`; the result's
    ``volume_fraction_sigma`` and a note say so).  ``model``: a shipped name (``"wide"``: the whole-curve network;
    ``"default"``: the windowed one), a path, a loaded :class:`NNModel`, or None / ``"auto"`` (the default): chosen
    by the data (:func:`~.wide_model.choose_network`: the whole-curve network for slit-smeared data and q ranges of
    a decade or more, else the windowed one; a note says which).
    A model trained with resolution as an input
    (:attr:`NNModel.takes_resolution`) is given the median dQ/Q over the window it sees, and the quality check
    smears its model curve with dq.  ``slit_length`` (1/A; Bonse-Hart USAXS, Kratky cameras): slit smearing,
    which the whole-curve model (``model="wide"``) reads and checks with; ``q_range`` (q_min, q_max in 1/A): only
    the points inside are used.  The result keeps the points used (``result.curve``), which ``refine(result)``
    fits.
    """
    curve = as_curve(q, intensity, dI, dq)
    given = {k: v for k, v in (("slit_length", slit_length), ("q_range", q_range)) if v is not None}
    if given:   # a slit length (1/A, one value or per point) or the q range to use, on top of the data's own
        curve = dataclasses.replace(curve, **given)
    if curve.q_range is not None:
        curve = curve.within(curve.q_range)
    if model is None or is_auto(model):
        model, why = choose_for_curve(curve)
        res = invert(curve, volume_fraction=volume_fraction, model=model or DEFAULT_MODEL)
        return dataclasses.replace(res, notes=(f"model auto: {why}", *res.notes))
    if (wide := wide_model(model)) is not None:   # the whole-curve network: one pass, any window (.invert_wide)
        return invert_wide(wide, curve.q, curve.intensity, curve.di, volume_fraction=volume_fraction, dq=curve.dq,
                           slit_length=curve.one_slit_length("the whole-curve network"), q_range=curve.q_range)
    curve.refuse_slit("the windowed model (model='wide' reads them)")
    low = (curve.intensity <= 0) & np.isfinite(curve.q)   # over-subtracted points: data, not read (log I)
    if low.any() and curve.intensity.ndim == 1 and low.sum() < len(low) // 2:
        return _keeping(_invert_windowed(curve.take(~low), volume_fraction, model), curve, low)
    return _invert_windowed(curve, volume_fraction, model)


def _invert_windowed(curve: Curve, volume_fraction: float | None, model) -> Inversion:
    """:func:`invert` with the windowed network of a curve (its q range applied, no slit)."""
    if volume_fraction is None:
        return _invert_auto(load_model(model), curve)
    phi = check_volume_fraction(volume_fraction)
    nn = load_model(model)
    q, intensity, di = curve.q, curve.intensity, curve.di
    if q.shape == nn.q.shape and intensity.shape == q.shape:
        d = q - nn.q
        on_grid = bool(d @ d <= (1e-9 * nn.q[-1]) ** 2)  # one dot instead of abs + max: this path is hot
    else:
        on_grid = False
    if not on_grid and q.ndim == 1 and len(q) >= 2 and not covers_model_window(q, nn):
        check_curve(q, intensity, di)  # every point is used: the model curve is scored over the whole range
        return _invert_mapped(nn, curve, phi)
    note = None
    if on_grid and (di is None or di.shape == q.shape):
        # hot path: two reductions an array; min() catches NaN and values <= 0, max() inf and values too large
        if not intensity.min() > 0 or not intensity.max() <= MAX_VALUE or (
                di is not None and (not di.min() > 0 or not di.max() <= MAX_VALUE)):
            check_curve(q, intensity, di, q_known_good=True)
    else:
        if not on_grid:  # on the grid every point is inside the model's q range
            curve, note = _drop(curve, nn.q_range)
        check_curve(curve.q, curve.intensity, curve.di, q_known_good=on_grid)
    return _direct(nn, curve, phi, (note,) if note else (), on_grid)


def _direct(nn: NNModel, curve: Curve, phi: float, notes: tuple[str, ...] = (), on_grid: bool = False) -> Inversion:
    """The Inversion of a checked curve covering the model's window (the points it never uses dropped): the network
    on its window; data with room for other windows of the map: the best of them (s = 1 included)."""
    q, intensity, di = curve.q, curve.intensity, curve.di
    x = intensity if on_grid else to_model_grid(q, intensity, nn)
    res = dq_over_q(q, curve.dq, nn.q_range) if curve.dq is not None else 0.0
    number = nn.predict(x, phi, normalise=False, resolution=res).astype(float)  # normalised below, in float64
    moments = number @ nn.radius_moments  # sums of w, w R, w R^3, w R^4
    if not (moments[0] > 0 and math.isfinite(moments[1] + moments[3])):
        check_curve(q, intensity, di, q_known_good=on_grid)
        raise InputError("the network gave a non-finite result: intensities overflow; rescale the data",
                         parameter="intensity")
    out = _inversion(nn, number, moments.tolist(), curve, phi, notes)
    if not on_grid and _wide(q, nn):  # room for other windows of the map: the best of them (s = 1 included)
        try:  # the points kept (unusable ones outside the model's window dropped, with the note)
            mapped = _invert_mapped(nn, curve, phi)
        except InputError:  # e.g. unusable points that the mapped windows would need
            return out
        return dataclasses.replace(mapped, notes=(*out.notes, *mapped.notes))
    return out


def _wide(q: np.ndarray, nn: NNModel) -> bool:
    return q[-1] / q[0] >= WIDE_WINDOW * nn.q_range[1] / nn.q_range[0]


def _inversion(nn: NNModel, number: np.ndarray, moments: list[float], curve: Curve, phi: float,
               notes: tuple[str, ...] = (), check=None) -> Inversion:
    """The Inversion for an unnormalised float64 number distribution and its moments (1, R, R^3, R^4); ``check``
    computes its quality (default: :func:`~.quality.assess` of this curve)."""
    s0, s1, s3, s4 = moments
    vol = number * (nn.radius_cubed / s3)
    number *= 1.0 / s0
    dist = Distribution(nn.radius, number, vol, s1 / s0, s4 / s3)
    training = training_of(nn)
    if check is None:
        check = functools.partial(assess, curve.q, curve.intensity, curve.di, nn.radius, number, phi,
                                  training=training, dq=curve.dq, power_law=AUTO)
    return Inversion(dist, phi, nn.name, curve, nn.q_range, notes, check=check, training=training,
                     calibration=calibration_of(nn))


def _invert_mapped(nn: NNModel, curve: Curve, phi: float) -> Inversion:
    """Invert a checked curve that does not cover the model's window through the self-similar map (:mod:`.window`).

    The network sees the data at q s (s from :func:`~.window.scale_for_window`, at most
    MAX_WINDOW_CANDIDATES of them, log-spaced between the extremes); each candidate's model curve, radii
    x s, is scored over the whole data range (lowest chi2, without dI the lowest misfit rms) and the best kept.
    """
    q, di = curve.q, curve.di
    (m0, m1), (d0, d1) = nn.q_range, (float(q[0]), float(q[-1]))
    scales, best = _mapped_candidates(nn, q, curve.intensity, di, np.array([phi]), curve.dq)
    if best[0] is None:
        raise InputError("the network gave a non-finite result: intensities overflow; rescale the data",
                         parameter="intensity")
    best, reread = _reread_without_upturn(nn, curve, phi, best[0])
    _, s, radius, w, qual = best
    lo, hi = data_range((m0, m1), s)
    seen = (f"the network saw its own window q = {m0:.4g}-{m1:.4g} 1/A (s = 1)" if s == 1.0 else
            f"the network saw q = {lo:.4g}-{hi:.4g} 1/A scaled by s = {s:.4g} (its window {m0:.4g}-{m1:.4g} 1/A): "
            "radii scaled by s")
    note = (f"{seen}; s chosen of {len(scales)} windows of the self-similar map by the model curve's "
            f"{'chi2' if di is not None else 'misfit'} over the data's {d0:.4g}-{d1:.4g} 1/A")
    notes = (note, *_power_law_notes(qual, reread))
    return Inversion(Distribution(radius, w), phi, nn.name, curve, (lo, hi), notes,
                     check=functools.partial(_computed, qual), training=training_of(nn), calibration=calibration_of(nn))


def _mapped_candidates(nn: NNModel, q, intensity, di, phis: np.ndarray, dq=None,
                       n_max: int = MAX_WINDOW_CANDIDATES, full_check: bool = True,
                       read: np.ndarray | None = None) -> tuple[list[float], list]:
    """(scales, per phi the best (score, s, radius, w, quality) or None): every phi through every candidate
    window of the self-similar map in one batched forward pass, each scored over the whole data range (without
    the observable range's noise rule; ``full_check``: the winners' quality with it), a low-q power law beside
    the spheres where the evidence asks for one.  ``read``: the intensities the network reads (default: the
    data; :func:`_reread_without_upturn`: the data less a fitted upturn); the scores are always the data's."""
    (m0, m1), (d0, d1) = nn.q_range, (float(q[0]), float(q[-1]))
    scales = window_scales((d0, d1), (m0, m1))
    if not scales:
        raise window_error(q, nn)
    if len(scales) > n_max:  # log-spaced between the extremes, keeping s = 1 (the model's own window) if there
        scales = sorted(set(np.geomspace(scales[0], scales[-1], n_max).tolist()) | ({1.0} & set(scales)))
    x = np.stack([to_model_window(q, intensity if read is None else read, None, s, nn)[1] for s in scales])
    res = np.array([dq_over_q(q, dq, data_range((m0, m1), s)) for s in scales])
    k, n_s = len(phis), len(scales)
    numbers = nn.predict(np.tile(x, (k, 1)), np.repeat(phis, n_s), normalise=False,
                         resolution=np.tile(res, k)).astype(float)
    moments = numbers @ nn.radius_moments
    training = training_of(nn)
    best: list = [None] * k
    for row, (number, mom) in enumerate(zip(numbers, moments, strict=True)):
        i, s = row // n_s, scales[row % n_s]
        if not (mom[0] > 0 and np.isfinite(mom).all()):
            continue
        w = number / mom[0]
        radius = from_model_window(nn.radius, s)
        qual = assess(q, intensity, di, radius, w, float(phis[i]), training=training, q_range=(d0, d1), dq=dq,
                      observe=False, power_law=AUTO)   # the winner's observable range is computed below
        score = qual.chi2_reduced if di is not None else qual.residual_rms
        score = math.inf if score is None or not math.isfinite(score) else score
        # a distribution cut off by its grid's edge says that window is wrong for the sample: windows without
        # edge mass first, then the lowest score
        score = (any(f.startswith("mass-at-") for f in qual.flags), score)
        if best[i] is None or score < best[i][0]:
            best[i] = (score, s, radius, w, qual)
    if full_check:  # the winners' whole check, the noise rule of the observable range included
        for i, b in enumerate(best):
            if b is not None:
                qual = assess(q, intensity, di, b[2], b[3], float(phis[i]), training=training, q_range=(d0, d1), dq=dq,
                              power_law=AUTO)
                best[i] = (*b[:4], qual)
    return scales, best


def _reread_without_upturn(nn: NNModel, curve: Curve, phi: float, best: tuple) -> tuple[tuple, int]:
    """(best candidate, times re-read): where the check of the best candidate ``best`` (score, s, radius, w,
    quality) fitted a low-q power law A q^-p beside the spheres (or the evidence asked for one), the network reads
    the data less that power law (an upturn distorts its window too: a q^-4 upturn has the spheres' own Porod
    slope, a q^-3 one grows against them with q) and the answer is kept where it scores better against the data
    themselves (the power law fitted again); at most :data:`REREADS` times.  Points the subtraction takes below
    :data:`REREAD_FLOOR` x the data are read at that floor (the network reads log I)."""
    times = 0
    for _ in range(REREADS):
        power_law = best[4].power_law or best[4].power_law_asked
        if power_law is None:
            break
        upturn = power_law[1] * smeared_power_law(curve.q, curve.dq, power_law[0])
        read = np.maximum(curve.intensity - upturn, REREAD_FLOOR * curve.intensity)
        other = _mapped_candidates(nn, curve.q, curve.intensity, curve.di, np.array([phi]), curve.dq, read=read)[1][0]
        if other is None or not other[0] < best[0]:
            break
        best, times = other, times + 1
    return best, times


def _power_law_notes(qual, reread: int) -> tuple[str, ...]:
    """The note of a low-q power law in the check (none without one)."""
    if qual.power_law is None:
        return ()
    p, a = qual.power_law
    how = (f"; the network read the data less it ({reread}x re-read)" if reread else "")
    return (f"a low-q power law {a:.4g} q^-{p:g} fitted beside the spheres (the evidence asked for it: aggregates or "
            f"an upturn){how}; the check includes it",)


def _invert_auto(nn: NNModel, curve: Curve) -> Inversion:
    """:func:`invert` with the volume fraction estimated from the curve (:mod:`.phi`): a scan over the training
    range, each candidate scored by :func:`~.quality.assess`; the Inversion at the estimate, with
    ``volume_fraction_sigma`` and a note.  One batched forward pass: on the model's window, one row per phi; a
    mapped or wide window, every phi through every candidate window, each phi scored by its best window (over
    the whole data range).  The curve is checked once, here; the Inversion at the estimate is made from it."""
    q, intensity, di, dq = curve.q, curve.intensity, curve.di, curve.dq
    phis = scan_values(nn)
    quals: list = [None] * len(phis)
    checked = None   # the checked curve of the direct path, with its note
    if not covers_model_window(q, nn) or _wide(q, nn):
        check_curve(q, intensity, di)
        try:
            best = _mapped_candidates(nn, q, intensity, di, phis, dq, PHI_SCAN_WINDOWS, full_check=False)[1]
            quals = [None if b is None else b[4] for b in best]
        except InputError:  # e.g. bad points outside the model's range, which the direct path below may drop
            if not covers_model_window(q, nn):   # no direct path: the window's own error, not phi's
                raise
    if covers_model_window(q, nn) and not any(quals):
        checked = _drop(curve, nn.q_range)
        c = checked[0]
        check_curve(c.q, c.intensity, c.di)
        x = to_model_grid(c.q, c.intensity, nn)
        res = dq_over_q(c.q, c.dq, nn.q_range)
        numbers = nn.predict(np.repeat(x[None], len(phis), 0), phis, normalise=False, resolution=res).astype(float)
        training = training_of(nn)
        quals = [assess(c.q, c.intensity, c.di, nn.radius, w / w.sum(), float(p), training=training, dq=c.dq,
                        power_law=AUTO)
                 if w.sum() > 0 and np.isfinite(w).all() else None for p, w in zip(phis, numbers, strict=True)]
    phi, sigma, note = estimate_volume_fraction(phis, [score_of(u, di is not None) for u in quals], di is not None,
                                                excess=PROFILE_EXCESS)
    if not covers_model_window(q, nn):
        inv = _invert_mapped(nn, curve, phi)
    else:  # as invert at phi: the points outside the model's window that it never uses dropped (none if checked)
        c, dropped = checked if checked is not None else _drop(curve, nn.q_range)
        inv = _direct(nn, c, phi, (dropped,) if dropped else ())
    check = inv.check
    if sigma > PHI_SIGMA_FLAG and check is not None:   # the size answer rests on a phi the data do not fix
        check = functools.partial(with_flag, check, "volume-fraction-uncertain")
    return dataclasses.replace(inv, notes=(*inv.notes, note), volume_fraction_sigma=sigma, check=check)


def _batch_check(nn: NNModel, q, inten, dIs, dqr, rows, numbers, phis) -> BatchCheck | None:
    """One lazy forward-model check for the rows of a batch (:class:`~.quality.BatchCheck`: computed as arrays when
    the first is asked for), or None when their resolutions differ (each row is then checked on its own)."""
    if not len(rows):
        return None
    first = dqr[rows[0]]
    if any((dqr[i] is None) != (first is None) or (first is not None and not np.array_equal(dqr[i], first))
           for i in rows):
        return None
    try:
        dq = check_dq(first, q)
    except InputError:
        return None
    di = None if dIs is None else np.asarray(dIs, dtype=float)[rows]
    return BatchCheck(q, inten[rows], di, nn.radius, numbers, phis[rows], training=training_of(nn), dq=dq,
                      power_law=AUTO)


def _row_resolution(q, dq, nn: NNModel) -> float:
    """:func:`dq_over_q` of one frame's dq, 0.0 when it is bad (the single-curve path then names the problem)."""
    try:
        return dq_over_q(q, check_dq(dq, q), nn.q_range)
    except InputError:
        return 0.0


def _computed(value):
    return value


def _keeping(inv: Inversion, curve: Curve, low: np.ndarray) -> Inversion:
    """``inv`` (read without the points ``low``, I <= 0) with those points of ``curve`` back in its curve and its
    check (weighed by their dI there, and in ``refine``), the points it used otherwise unchanged."""
    full = curve.take(np.isin(curve.q, inv.curve.q) | low)
    c, d = inv.check, inv.distribution
    kw = dict(c.keywords) if c.func is assess else dict(training=inv.training, q_range=(full.q[0], full.q[-1]),
                                                        power_law=AUTO)
    check = functools.partial(assess, full.q, full.intensity, full.di, d.radius, d.number, inv.volume_fraction_used,
                              **{**kw, "dq": full.dq})
    note = (f"{int(low.sum())} points with I <= 0 kept as data (not read by the network, which works on log I; "
            "in the check and refine by their dI)")
    return dataclasses.replace(inv, curve=full, check=check, notes=(*inv.notes, note))


def invert_many(q, intensities, dIs=None, *, volume_fractions=None, model: str | NNModel | None = None,
                dqs=None) -> list[Inversion | InputError]:
    """Invert N curves sharing one q grid in one batched forward pass (frame tables, time series).

    ``intensities`` (N, n_q), ``dIs`` and ``dqs`` (q resolution, 1/A) None or (N, n_q), ``volume_fractions``
    scalar or (N,); None or NaN (per row): estimated from that curve (:func:`invert` with volume_fraction=None,
    one curve at a time).  Returns, per curve, its Inversion or the InputError that :func:`invert` would raise
    for it (a bad curve never stops the others).  ``model`` None or ``"auto"`` (the default): chosen by the shared
    q grid (:func:`~.wide_model.choose_network`), a note on each result.
    """
    if model is None or is_auto(model):
        model, why = choose_network(q, di_given=dIs is not None)
        return [r if isinstance(r, InputError) else dataclasses.replace(r, notes=(f"model auto: {why}", *r.notes))
                for r in invert_many(q, intensities, dIs, volume_fractions=volume_fractions,
                                     model=model or DEFAULT_MODEL, dqs=dqs)]
    if (wide := wide_model(model)) is not None:
        return invert_wide_many(wide, q, intensities, dIs, volume_fractions=volume_fractions, dqs=dqs)
    q = np.asarray(q, dtype=float)
    inten = np.asarray(intensities, dtype=float)
    n = len(inten)
    dis = [None] * n if dIs is None else list(np.asarray(dIs, dtype=float))
    dqr = [None] * n if dqs is None else list(np.broadcast_to(np.asarray(dqs, dtype=float), inten.shape))
    phis = np.broadcast_to(np.asarray(math.nan if volume_fractions is None else volume_fractions, dtype=float), (n,))
    auto = np.isnan(phis)
    nn = load_model(model)
    out: list = [None] * n
    in_range = lambda x: ((x > 0) & (x <= MAX_VALUE)).all(axis=1)  # noqa: E731  (NaN fails both)
    good = in_range(inten) & (phis >= 0) & (phis < PHI_MAX)
    if dIs is not None:
        good &= in_range(np.asarray(dIs, dtype=float))
    try:
        check_curve(q, np.ones_like(q), None)  # q alone: sorted, positive, finite (intensities: per row)
        if not covers_model_window(q, nn) and not maps_to_model_window(q, nn):
            raise window_error(q, nn)
    except InputError as exc:
        return [exc] * n
    if not covers_model_window(q, nn) or _wide(q, nn):  # mapped windows: one curve at a time (scales scored)
        good[:] = False
    rows = [to_model_grid(q, row, nn) for row in inten[good]]
    x = np.stack(rows) if rows else np.empty((0, len(nn.q)))
    idx = np.flatnonzero(good)
    res = np.array([_row_resolution(q, dqr[i], nn) for i in idx])
    number = nn.predict(x, phis[idx], resolution=res).astype(float) if len(idx) else np.empty((0, len(nn.radius)))
    moments = number @ nn.radius_moments
    kept = [k for k in range(len(idx)) if moments[k, 0] > 0 and np.isfinite(moments[k]).all()]
    batch = _batch_check(nn, q, inten, dIs, dqr, idx[kept], number[kept] / moments[kept, :1], phis)
    for j, k in enumerate(kept):
        i = idx[k]
        try:
            check = None if batch is None else functools.partial(batch.row, j)
            out[i] = _inversion(nn, number[k], moments[k].tolist(), Curve.from_arrays(q, inten[i], dis[i], dqr[i]),
                                float(phis[i]), check=check)
        except InputError:  # a bad dq: the single-curve path below names it
            pass
    for i in range(n):
        if out[i] is None:  # the single-curve path names the problem
            try:
                out[i] = invert(q, inten[i], dis[i], volume_fraction=None if auto[i] else phis[i], model=nn,
                                dq=dqr[i])
            except InputError as exc:
                out[i] = exc
    return out
