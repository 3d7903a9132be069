"""Other explanations of the data: sasmodels' sticky hard spheres and fractal aggregates fitted beside an answer,
in numpy (the inference path imports neither sasmodels nor scipy).

A size distribution of hard spheres can mimic samples it does not describe: attractive (sticky) spheres raise the
low-q intensity as a tail of large spheres would, and a fractal aggregate's q^-D looks like a broad distribution.
The forward-model check cannot see it when the distribution fits nearly to the noise (bench_domain: the
whole-curve model read 78 % of sticky spheres and 43 % of fractals unflagged, chi2_red 1.1-2.9).

:func:`review` runs where the answer is not flagged yet and misses its data by more than the noise explains (dI
given, chi2_red above 1 + :data:`SIGNIFICANT` sqrt(2 / dof); :data:`POLISHED_SIGNIFICANT` for the whole-curve
model's polished answers, which are fits: from 5 sigma, fractals and sticky spheres whose polished distribution
missed by 2-5 sigma went unflagged, bench_domain 78 and 95 % caught, now 85 and 100 %).
It fits, each with sasmodels' model ported to numpy
(:mod:`..physics.structure`, :mod:`..physics.polydisperse`: tested equal to sasmodels' kernels, 1e-12 relative, 2e-6
with the hard-sphere S(q); Schulz radii as sasmodels' dispersion, 25 points over +-3 sigma, DirectModel's weight
cutoff :data:`CUTOFF`) on the data's
resolution (slit: sasmodels' Slit1D; pinhole dq: the check's own smearing, :mod:`..physics.smearing`, within 5e-4 of
the smearing integral where sasmodels' DirectModel, a midpoint rule on the data's q, was off by up to 7.5e-3), scale
and flat background linear (as the check holds them: :func:`.quality_model.nnls_scale_background`), the rest by a
bounded Levenberg-Marquardt fit (:mod:`.least_squares`, :data:`MAX_EVALUATIONS` trial evaluations):

- ``sphere@stickyhardsphere`` (Baxter, perturb 0.05): Schulz radii (mean, pd), stickiness tau and the volume
  fraction, free in :data:`PHI_BOUNDS` from the answer's (skipped at phi 0).  Held at the answer's phi, the review
  missed most sticky spheres whose phi was estimated or refined (12 of 81 caught: the estimate pulls phi to mimic
  the attraction); free, 19-20 of 20;
- ``fractal`` (Teixeira): building-block radius R0, fractal dimension D, correlation length xi.

The answer is flagged ``other-model-fits-better`` when one of them

1. fits: chi2_red <= :data:`FIT_MAX`;
2. explains the data better by more than :data:`MARGIN` in chi2 (x its chi2_red where above 1) than both the
   answer and hard spheres with Schulz radii fitted the same way, phi free too (:func:`fit_hard`).  Without the
   second, a parametric fit beats an approximate network answer by fitting alone: on bench_domain, dilute hard
   spheres of non-Schulz families (phi 0.01-0.19) were "read" as sticky, tau 0.35-0.48;
3. is physically distinct from hard spheres: tau below :data:`TAU_MAX` (second virial coefficient B2 / B2_HS =
   1 - 1 / (4 tau) below 3/8) raising S(q -> 0) above :data:`S0_RATIO_MIN` x the hard spheres'
   (:func:`forward_ratio`; at phi 0.01-0.08 such a tau changes it by only 5-30 %), or D inside
   :data:`FRACTAL_DIM` with xi above :data:`XI_MIN` R0 (D -> 3 or xi ~ R0 is a compact particle: a sphere).

An answer of the whole-curve model that fits its data (under the trigger) can still be an aggregate read as spheres:
a broad distribution from the building blocks up fits a fractal's q^-D to the noise.  Where such an answer is
shaped as one (:func:`aggregate_like`), the fractal is fitted too, and the answer is flagged
``other-model-fits-as-well`` when a distinct fractal fits (1., 3.) and explains the data as well (its chi2 not above
the answer's by more than the margin): the data cannot tell the two apart, and the sizes are not vouched for
(bench_domain's fractals, lab window, phi 0: 6 of 40 unflagged before, chi2_red 0.97-1.18 for both).

Measured (bench_domain's kinds, 2026-12-07): on hard-sphere curves the sticky fit settles at tau 1.0-2.1 and the
fractal fit at chi2_red 80-1300; on sticky spheres (tau 0.1-0.3) it finds tau to 0.01.  Cost where it runs: 60-80
ms a curve on 300-point lab curves (``benchmarks/bench_alternatives.py``), 35-41 ms on the windowed model's
1000-point grid (reviewed on 400 points; 5 of ``bench_wide.py --speed``'s 20 in-domain curves trigger it), most of
it the fractal fit (:func:`fit_fractal`, cProfile); runs may leave it out (``RunOptions.review``).  Ported from
sasmodels' DirectModel and scipy's least_squares to numpy (2026-12-07): on the models' own curves the same fits
(parameters to 3 digits), the same flags on bench_domain's sticky, fractal, core-shell and ellipsoid curves (20 each,
both models, phi given and estimated) and on slit-smeared ones, none in domain (bench_alternatives), and faster:
26-30 ms a curve where it fits against 50-53 ms (windowed model, lab window), 55 against 73 ms with pinhole dq.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from ..physics.kernels import breadth, number_to_volume
from ..physics.polydisperse import fractal_intensity, schulz_sphere_average, sphere_with_structure
from ..physics.scattering import hardsphere_sq
from ..physics.smearing import banded, slit_resolution
from ..physics.structure import sticky_hardsphere_sq
from .least_squares import bounded_least_squares
from .quality import Quality

SIGNIFICANT = 5.0          # the answer's chi2_red must exceed 1 + this x sqrt(2 / dof) for the review to run ...
POLISHED_SIGNIFICANT = 2.0  # ... or this, for an answer polished against the data (a fit that misses less)
MARGIN = 25.0              # chi2 an alternative must win by (x its chi2_red where that exceeds 1)
TAU_MAX = 0.4              # Baxter stickiness below this: attraction the hard-sphere S(q) does not have ...
S0_RATIO_MIN = 1.5         # ... raising S(q -> 0) over the hard spheres' by more than this (dilute: it cannot)
FRACTAL_DIM = (1.2, 2.9)   # mass-fractal dimensions that are not a compact particle
XI_MIN = 3.0               # correlation length over building-block radius: an aggregate, not one particle
FIT_MAX = 2.0              # an alternative explains the data only where its own chi2_red is below this
AGGREGATE_BROAD = 1.3      # aggregate_like: volume-weighted mean radius over the number mean above this ...
AGGREGATE_SKEW = 0.1       # ... and the volume distribution's quantile skewness in ln R above this
REVIEW_POINTS = 400        # longer curves are reviewed on every k-th point
MAX_EVALUATIONS = 25       # of the least-squares fit, each alternative (a rough fit errs to no flag)
FRACTAL_STARTS = 48        # building-block radii started from (log-spaced over the window's), x 8 (D, xi) ...
FRACTAL_TRIES = 3          # ... fitted from the best three radii: the blocks' form-factor minima make local minima
LOG_EVALUATIONS = 50       # of each fit in log intensity (:func:`_fit`): it must land in the chi2 minimum's basin
PERTURB = 0.05             # the sticky spheres' well width (relative), held
CUTOFF = 1e-5              # Schulz points of (normalised) weight below this are left out, as sasmodels' DirectModel
KEPT_AVERAGES = 64         # Schulz form-factor averages a fit keeps (by mean radius and pd) for its next steps


@dataclass(frozen=True)
class Alternative:
    """A sasmodels model (in numpy) fitted to the data: its name, parameters (A, 1/A, sasmodels' names), chi2 (sum) over
    ``n_points`` points."""

    model: str
    parameters: dict
    chi2: float
    n_points: int
    relation: str = "better"   # "better": it beats the answer (other-model-fits-better); "as well": it matches it

    @property
    def chi2_reduced(self) -> float:
        return self.chi2 / max(self.n_points - 5, 1)   # 3 shape parameters (4 with phi: ~), scale, background

    def describe(self) -> str:
        p = self.parameters
        if self.model == "fractal":
            return (f"fractal aggregates (sasmodels fractal: building blocks R0 {p['radius']:.3g} A, dimension "
                    f"{p['fractal_dim']:.2f}, correlation length {p['cor_length']:.3g} A)")
        return (f"sticky hard spheres (sasmodels sphere@stickyhardsphere: radius {p['radius']:.3g} A, Schulz pd "
                f"{p['radius_pd']:.2f}, stickiness tau {p['stickiness']:.2f} at volfraction {p['volfraction']:.3g})")

    @property
    def distinct(self) -> bool:
        """Physically distinct from hard spheres (module docstring)."""
        p = self.parameters
        if self.model == "fractal":
            return FRACTAL_DIM[0] <= p["fractal_dim"] <= FRACTAL_DIM[1] and p["cor_length"] >= XI_MIN * p["radius"]
        return p["stickiness"] < TAU_MAX and \
            forward_ratio(p["radius"], p["volfraction"], p["stickiness"]) > S0_RATIO_MIN


def forward_ratio(radius: float, phi: float, tau: float) -> float:
    """S(q -> 0) of Baxter sticky spheres over that of hard spheres (sasmodels' ``stickyhardsphere`` and
    ``hardsphere``, :mod:`..physics.structure` and :mod:`..physics.scattering`; R_eff ``radius``, A): how much the
    attraction raises the osmotic compressibility, i.e. the low-q intensity."""
    q = np.array([1e-4 / radius])
    sticky = sticky_hardsphere_sq(q, radius, phi, PERTURB, tau)[0]
    return float(sticky / hardsphere_sq(q, radius, phi)[0])


def _schulz_spheres(structure: str | None, q: np.ndarray):
    """Schulz spheres (``sphere`` or ``sphere@<structure>``, :mod:`..physics.polydisperse`) on ``q`` as a function of
    sasmodels' parameters (arrays of P sets, or scalars), keeping the form-factor averages by (mean radius, pd): a
    Jacobian's volume-fraction and stickiness rows, and starts that differ in those alone, share the average of the
    point they move from (the sines of 25 radii x q are most of a fit's time)."""
    kept: dict[tuple[float, float], tuple] = {}

    def evaluate(radius, radius_pd, radius_pd_n, radius_pd_nsigma, volfraction=None, perturb=None, stickiness=None,
                 **_):
        r, pd = (np.atleast_1d(np.asarray(v, dtype=float)) for v in np.broadcast_arrays(radius, radius_pd))
        keys = list(zip(r.tolist(), pd.tolist(), strict=True))
        new = [k for k in dict.fromkeys(keys) if k not in kept]
        if len(kept) + len(new) > KEPT_AVERAGES:
            kept.clear()
            new = list(dict.fromkeys(keys))
        if new:
            f2, volume, mean = schulz_sphere_average(q, *np.array(new).T, radius_pd_n=int(radius_pd_n),
                                                     radius_pd_nsigma=float(radius_pd_nsigma), cutoff=CUTOFF)
            kept.update((k, (f2[j], volume[j], mean[j])) for j, k in enumerate(new))
        f2, volume, mean = (np.array(part) for part in zip(*(kept[k] for k in keys), strict=True))
        extra = dict(perturb=perturb, stickiness=stickiness) if structure == "stickyhardsphere" else None
        out = sphere_with_structure(q, f2, volume, mean, volfraction, structure, extra)
        return out if np.ndim(radius) else out[0]
    return evaluate


def _fractal(q: np.ndarray):
    return lambda radius, fractal_dim, cor_length, volfraction, **_: fractal_intensity(q, radius, fractal_dim,
                                                                                      cor_length, volfraction)


MODELS = {"sphere": partial(_schulz_spheres, None), "sphere@hardsphere": partial(_schulz_spheres, "hardsphere"),
          "sphere@stickyhardsphere": partial(_schulz_spheres, "stickyhardsphere"), "fractal": _fractal}


def _direct(name: str, q, dq, slit_length):
    """sasmodels' model ``name`` (:data:`MODELS`, in numpy) on the data's q and resolution (slit length, else pinhole
    dq where any is positive, 1/A; :mod:`..physics.smearing`, as the check smears): a function of the model's
    parameters (sasmodels' names, arrays of P parameter sets) giving I(q) (P, n_q) at scale 1, background 0."""
    q = np.asarray(q, dtype=float)
    if slit_length:
        x, w = slit_resolution(q, float(slit_length))
        evaluate = MODELS[name](x)
        return lambda **pars: evaluate(**pars) @ w
    if dq is not None and np.any(np.asarray(dq, dtype=float) > 0):
        smear = banded(q, np.asarray(dq, dtype=float))
        evaluate = MODELS[name](smear.x)
        return lambda **pars: smear.apply(evaluate(**pars))
    return MODELS[name](q)


def _fit(direct, q, intensity, di, to_pars, starts, lower, upper, tries: int = 1) -> tuple[float, np.ndarray]:
    """(chi2, parameters) of the best least-squares fit (scale >= 0 and background linear) from the best of
    ``starts``.  ``tries`` > 1 (models over decades whose chi2 is rugged: the fractal): the starts are ranked, and
    first fitted, in log intensity (:func:`_log_residuals`), from the ``tries`` best that differ in their first
    parameter; the best of those ends is then fitted in chi2."""
    from .quality_model import nnls_scale_background

    def residuals(points):
        with np.errstate(all="ignore"):
            models = np.asarray(direct(**to_pars(np.asarray(points, dtype=float).T)), dtype=float)
        out = np.full((len(models), len(q)), 1e6)
        for row, m in zip(out, models, strict=True):
            if np.all(np.isfinite(m)) and np.any(m > 0):
                a, c = nnls_scale_background(m, intensity, di)
                row[:] = (a * m + c - intensity) / di
        return out

    def fit(res, start, evaluations=MAX_EVALUATIONS):
        return bounded_least_squares(res, start, lo, hi, max_evaluations=evaluations, rel_step=1e-3)

    lo, hi = np.asarray(lower, float), np.asarray(upper, float)
    inside = np.clip(np.asarray(starts, float), lo + 1e-6 * (hi - lo), hi - 1e-6 * (hi - lo))   # narrow windows
    if tries == 1:
        return (out := fit(residuals, inside[int(np.argmin(np.sum(residuals(inside) ** 2, axis=1)))])).cost, out.x
    logs = partial(_log_residuals, direct, to_pars, intensity, di)
    firsts: dict[float, int] = {}
    for k in np.argsort(np.sum(logs(inside) ** 2, axis=1), kind="stable"):   # the best start of each first parameter
        firsts.setdefault(float(inside[k, 0]), int(k))
    near = min((fit(logs, inside[k], LOG_EVALUATIONS) for k in list(firsts.values())[:tries]), key=lambda e: e.cost)
    out = fit(residuals, np.clip(near.x, lo + 1e-9 * (hi - lo), hi - 1e-9 * (hi - lo)))
    return out.cost, out.x


def _log_residuals(direct, to_pars, intensity, di, points) -> np.ndarray:
    """Residuals of each parameter set in ``points`` in log intensity, the scale free, weighted I / dI (points
    with I <= 0 weigh nothing): smooth where chi2 is not (a curve over decades that misses by a factor two at one
    end has chi2 ~1e6 from wherever it starts, and a fit in chi2 cannot move)."""
    used = intensity > 0
    w = np.where(used, intensity / di, 0.0)
    with np.errstate(all="ignore"):
        models = np.asarray(direct(**to_pars(np.asarray(points, dtype=float).T)), dtype=float)
        r = np.where(used, np.log(np.where(used, intensity, 1.0)), 0.0) - np.log(models)
        r = (r - (r * w * w).sum(axis=1, keepdims=True) / (w * w).sum()) * w
    bad = ~np.isfinite(r).all(axis=1) | ~(models > 0).all(axis=1)
    r[bad] = 1e6
    return r


PHI_BOUNDS = (0.02, 0.6)   # the volume fraction of the sticky and hard-sphere fits: free (the answer's, given or
#                            estimated, is where they start; an estimate or a refinement pulls it to mimic attraction)


def _scalars(pars: dict) -> dict:
    """One parameter set's values as Python numbers (floats; sasmodels' integer and text settings as they are)."""
    return {k: float(v) if isinstance(v, float | np.floating | np.ndarray) else v for k, v in pars.items()}


def _phi_start(phi: float) -> float:
    return float(np.clip(phi, PHI_BOUNDS[0] * 1.01, PHI_BOUNDS[1] * 0.99))


def fit_sticky(q, intensity, di, phi: float, radius: float, dq=None, slit_length=None) -> Alternative:
    """Sticky hard spheres fitted with Schulz radii, stickiness and volume fraction (:data:`PHI_BOUNDS`), started at
    mean radius ``radius`` (A) and the answer's ``phi``."""
    direct = _direct("sphere@stickyhardsphere", q, dq, slit_length)

    def to_pars(p):
        return dict(radius=np.exp(p[0]), radius_pd=p[1], radius_pd_n=25, radius_pd_nsigma=3.0,
                    radius_pd_type="schulz", volfraction=p[3], radius_effective_mode=1, perturb=PERTURB,
                    stickiness=np.exp(p[2]))

    starts = [np.array([math.log(radius * f), 0.1, math.log(tau), _phi_start(phi)])
              for f in (0.85, 1.15) for tau in (0.15, 0.3, 1.0)]
    lower = [math.log(1.0), 0.01, math.log(0.05), PHI_BOUNDS[0]]
    upper = [math.log(1e5), 0.5, math.log(20.0), PHI_BOUNDS[1]]
    chi2, p = _fit(direct, q, intensity, di, to_pars, starts, lower, upper)
    pars = _scalars(to_pars(p))
    return Alternative("sphere@stickyhardsphere", {k: pars[k] for k in ("radius", "radius_pd", "stickiness",
                                                                        "volfraction")}, chi2, len(q))


def fit_hard(q, intensity, di, phi: float, radius: float, dq=None, slit_length=None) -> Alternative:
    """Hard spheres with Schulz radii (sasmodels ``sphere@hardsphere``, volume fraction free as in
    :func:`fit_sticky`; ``sphere`` at phi 0) fitted as :func:`fit_sticky` is: the parametric hard-sphere description
    an alternative must beat as well."""
    name = "sphere@hardsphere" if phi > 0 else "sphere"
    direct = _direct(name, q, dq, slit_length)

    def to_pars(p):
        out = dict(radius=np.exp(p[0]), radius_pd=p[1], radius_pd_n=25, radius_pd_nsigma=3.0,
                   radius_pd_type="schulz")
        return out | (dict(volfraction=p[2], radius_effective_mode=1) if phi > 0 else {})

    starts = [np.array([math.log(radius * f), pd, *([_phi_start(phi)] if phi > 0 else [])])
              for f in (0.8, 1.0, 1.25) for pd in (0.05, 0.2, 0.4)]
    lower, upper = [math.log(1.0), 0.01], [math.log(1e5), 0.6]
    if phi > 0:
        lower, upper = [*lower, PHI_BOUNDS[0]], [*upper, PHI_BOUNDS[1]]
    chi2, p = _fit(direct, q, intensity, di, to_pars, starts, lower, upper)
    return Alternative(name, _scalars(to_pars(p)), chi2, len(q))


def fit_fractal(q, intensity, di, dq=None, slit_length=None) -> Alternative:
    """Fractal aggregates of spheres (sasmodels ``fractal``) fitted over the window's radii."""
    direct = _direct("fractal", q, dq, slit_length)

    def to_pars(p):
        return dict(radius=np.exp(p[0]), fractal_dim=p[1], cor_length=np.exp(p[2]), volfraction=0.05)

    r_lo, r_hi = 1.0 / q[-1], 1.0 / q[0]
    starts = [np.array([math.log(r0), d, math.log(xi * r_hi)])
              for r0 in np.geomspace(1.5 * r_lo, r_hi / 3, FRACTAL_STARTS)
              for d in (1.4, 1.8, 2.2, 2.6) for xi in (1, 4)]
    lower, upper = [math.log(0.3 * r_lo), 1.0, math.log(r_lo)], [math.log(r_hi), 3.0, math.log(100 * r_hi)]
    chi2, p = _fit(direct, q, intensity, di, to_pars, starts, lower, upper, tries=FRACTAL_TRIES)
    pars = _scalars(to_pars(p))
    return Alternative("fractal", {k: pars[k] for k in ("radius", "fractal_dim", "cor_length")}, chi2, len(q))


def significant(chi2_reduced: float | None, dof: int, trigger: float = SIGNIFICANT) -> bool:
    """Whether a misfit of ``chi2_reduced`` over ``dof`` degrees of freedom exceeds the noise by ``trigger`` sigma
    of chi2 (:data:`SIGNIFICANT`)."""
    return chi2_reduced is not None and math.isfinite(chi2_reduced) and \
        chi2_reduced > 1 + trigger * math.sqrt(2 / max(dof, 1))


def aggregate_like(radius: np.ndarray, number: np.ndarray) -> bool:
    """Whether a size distribution (``number`` over ``radius``, A) is what a fractal aggregate read as spheres gives,
    so that the review compares it with one even where it fits (:func:`review_alternatives`).  An aggregate of
    building blocks R0 scatters as q^-D (D < 3) between 1/xi and 1/R0; spheres give that only with a volume per ln R
    falling as R^(D - 3) from R0 up: a broad distribution (volume-weighted over number mean radius above
    :data:`AGGREGATE_BROAD`; bench_domain's fractals read 2.6-5.7, a log-normal of sigma 0.3 in ln R 1.3) that rises
    steeply at its small end and tails off (quantile skewness in ln R, (ln(R90/R50) - ln(R50/R10)) / ln(R90/R10) of
    the volume distribution, above :data:`AGGREGATE_SKEW`: R^(D - 3) over 1.5 decades gives 0.13-0.44 for D
    2.8-1.8, bench_domain's fractals read 0.69-0.82; log-normals lie within 0.1 of 0, Schulz and Gaussian below it).
    Only such answers pay for the fractal fit (~40 ms) where they fit the data."""
    r, n = np.asarray(radius, float), np.asarray(number, float)
    if not breadth(n, r) > AGGREGATE_BROAD:
        return False
    v = number_to_volume(n, r)
    r10, r50, r90 = np.log(np.interp([0.1, 0.5, 0.9], np.cumsum(v), r))
    return r90 > r10 and (r90 - 2 * r50 + r10) / (r90 - r10) > AGGREGATE_SKEW


def review(q, intensity, di, chi2_reduced: float | None, phi: float, radius: float, dq=None,
           slit_length=None, dof: int | None = None, trigger: float = SIGNIFICANT, aggregate: bool = False
           ) -> Alternative | None:
    """The alternative that explains the data better than the answer (module docstring), or None.  ``q``,
    ``intensity``, ``di``, ``dq`` (1/A and data units): the points the check used; ``chi2_reduced`` its, over
    ``dof`` degrees of freedom; ``radius`` the answer's number mean (A), the sticky fit's start; ``trigger``: the
    misfit (sigma of chi2) from which it runs (:func:`significant`).  ``aggregate``: the answer is a polished
    distribution shaped as an aggregate read as spheres (:func:`aggregate_like`): a distinct fractal that fits and
    explains the data as well as it (not worse by :data:`MARGIN`) is returned too, with ``relation`` "as well",
    whatever the misfit."""
    n = len(q)
    dof = n - 2 if dof is None else dof
    if di is None or chi2_reduced is None or not math.isfinite(chi2_reduced) or n < 10 or not np.all(di > 0):
        return None
    misfit = significant(chi2_reduced, dof, trigger)
    if not misfit and not aggregate:
        return None
    chi2 = chi2_reduced * dof
    start = radius if math.isfinite(radius) and radius > 0 else 1.0 / q[len(q) // 2]

    def wins(a: Alternative, than: float) -> bool:
        return than - a.chi2 > MARGIN * max(a.chi2_reduced, 1.0)

    fits = [fit_fractal(q, intensity, di, dq, slit_length)]
    if misfit and phi > 0:
        fits.append(fit_sticky(q, intensity, di, phi, start, dq, slit_length))
    better = [a for a in fits if a.chi2_reduced <= FIT_MAX and wins(a, chi2) and a.distinct] if misfit else []
    if better:   # ... and better than hard spheres fitted as it is (not merely a better-fitted distribution)
        hard = fit_hard(q, intensity, di, phi, start, dq, slit_length)
        better = [a for a in better if wins(a, hard.chi2)]
    if better:
        return min(better, key=lambda a: a.chi2)
    frac = fits[0]   # an aggregate that a broad distribution mimics: the data cannot tell them apart
    if aggregate and frac.chi2_reduced <= FIT_MAX and frac.distinct and frac.chi2 - chi2 <= MARGIN * max(
            frac.chi2_reduced, 1.0):
        return replace(frac, relation="as well")
    return None


REVIEWED_DESPITE = {"volume-mean-undetermined"}   # review_alternatives: a flag on what the data do not carry, not a
#   misfit: a fractal's broad answer of equivalent spheres carries it, and the review still names the aggregate

def review_alternatives(qual: Quality | None, curve, polished: bool = False) -> Quality | None:
    """``qual`` with the flag ``other-model-fits-better`` and its :attr:`Quality.alternative` where sticky hard
    spheres or fractal aggregates explain ``curve`` (a :class:`~..data.curve.Curve`, the result's data) better than
    the answer over the points the check used (:func:`review`), or ``other-model-fits-as-well`` where a fractal
    aggregate explains them as well as a polished answer shaped as one; else ``qual`` as it is.  Curves of more than
    :data:`REVIEW_POINTS` points are reviewed on every k-th point (the answer's chi2 recomputed there: the fits' cost
    grows with the points).  A review that fails (numbers out of range, a defect) never fails the check:
    :attr:`Quality.review_failed` says why.  ``polished``: the answer is a fit to the data (the whole-curve
    model's polish), reviewed from a smaller misfit (:data:`POLISHED_SIGNIFICANT`), and where it is shaped as an
    aggregate read as spheres (:func:`aggregate_like`) whatever its misfit."""
    trigger = POLISHED_SIGNIFICANT if polished else SIGNIFICANT
    if qual is None or qual.curve_inputs is None or curve.di is None or set(qual.flags) - REVIEWED_DESPITE:
        return qual   # flagged already: not trusted whatever explains it better (and a batch pays for nothing)
    qu, dqu, radius, number, phi, *slit = qual.curve_inputs
    keep = np.isin(curve.q, qu)
    dof = qual.n_points - 2 - (qual.power_law_exponent is not None)
    w = np.asarray(number, float)
    mean = float(w @ radius / w.sum()) if w.sum() > 0 else math.nan
    aggregate = polished and aggregate_like(radius, w)
    if keep.sum() != len(qu) or not (significant(qual.chi2_reduced, dof, trigger) or aggregate):
        return qual
    intensity, di = curve.intensity[keep], curve.di[keep]
    sub = slice(None, None, max(1, math.ceil(len(qu) / REVIEW_POINTS)))
    chi2_reduced, model = qual.chi2_reduced, qual.model_curve()
    if sub.step > 1 and model is not None:
        z = (intensity[sub] - model[1][sub]) / di[sub]
        chi2_reduced, dof = float(z @ z) / max(len(z) - 2, 1), len(z) - 2
    try:
        found = review(qu[sub], intensity[sub], di[sub], chi2_reduced, float(phi), mean,
                       None if dqu is None else dqu[sub], slit[0] if slit else None, dof=dof, trigger=trigger,
                       aggregate=aggregate)
    except Exception as exc:   # noqa: BLE001 -- an extra check that cannot run is said, never raised
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        return replace(qual, review_failed=f"{type(exc).__name__}: {first}")
    if found is None:
        return qual
    flag = "other-model-fits-better" if found.relation == "better" else "other-model-fits-as-well"
    return replace(qual, flags=(*qual.flags, flag), alternative=found, approximate=False)
