"""Refinement of a network guess with bumps: least-squares (LM) or Bayesian (DREAM) fits of sasmodels'
``sphere@hardsphere`` to the data, started from the network's distribution.

Every point of the data is fitted (``q_range`` restricts it), not only the network's window: the data beyond
the window resolve the distribution better.  What is uncertain is fitted: the distribution (a
parametrisation, :mod:`.parametrisations`), scale, flat background, the volume fraction within its Gaussian
prior (the given value +- 10 %, or the estimate's sigma when it was estimated) and, where dq is given, the
resolution's width factor (dQ = dq_scale * dq, ln(dq_scale) ~ N(0, 0.25^2)); the Fitness is
:class:`.fitness.SphereHSFitness`.  ``method="lm"`` is the fast bounded least squares of :mod:`.lsq` on the
bumps problem's residuals; every other bumps fitter id runs through ``bumps.fitters.fit``.  A fit that ends
with chi2_red above :data:`RETRY_CHI2` is retried from other starts (the other parametrisation, a broadened
network distribution) and the best kept; a whole-range fit still above it is refitted on the network's
window, and kept with the flag ``misfit-outside-window`` where that fit is good.  A refined result carries
the forward-model check (``result.quality``), whose ``poor-fit`` flag marks a fit still above it.
Uncertainty (:mod:`.posterior`): the calibrated Laplace posterior over all fitted parameters, or DREAM draws
started from it (``method="dream"``), as intervals and a cumulative band.
"""

from __future__ import annotations

import contextlib
import functools
import time
from dataclasses import dataclass, replace

import numpy as np
from bumps.fitproblem import FitProblem
from bumps.fitters import fit

from ..data import validation
from ..data.curve import Curve
from ..data.validation import in_q_range
from ..inference.quality import POOR_FIT_CHI2, assess, nnls_scale_background
from ..inference.quality_flags import of_fit
from ..inference.quality_model import GOOD_CHI2, choose_power_law, nnls_columns, power_law_evidence, upturn_visible
from ..inference.result import Distribution, Fit, Inversion, Uncertainty
from . import posterior
from .fitness import DQ_SCALE_SIGMA, SphereHSFitness
from .inputs import (
    PARAMETRIZATIONS,
    calibration,
    curve_and_start,
    data_points,
    methods,
    points,
    training,
    volume_fraction_prior_sigma,
)
from .lsq import BatchProblem, chi2_reduced, solve, solve_resolution_by_bic
from .parametrisations import HistogramDistribution, fitted_mixture
from .results import fit_parameters, fitted_result, posterior_draws

__all__ = ["SphereHSFitness", "refine", "posterior_draws", "fitted_result", "fit_parameters",
           "volume_fraction_prior_sigma"]

RETRY_CHI2 = POOR_FIT_CHI2         # chi2_red above this: retried from other starts, flagged if still above
BROADEN_BINS = 4.0                 # the broadened start: the network's distribution smoothed by this sigma (bins)


@dataclass
class _Attempt:
    label: str
    parametrization: str
    fitness: SphereHSFitness
    problem: FitProblem
    x: np.ndarray
    jac: np.ndarray
    chi2: float
    result: object = None  # bumps' result for other fitters
    dq_drop: float | None = None  # the cost's drop with dq_scale free (the BIC rule of lsq.solve_resolution_by_bic)


def refine(q, intensity=None, dI=None, start: Inversion | None = None, *, method: str = "lm", dq=None,
           parametrization: str = "histogram", fit_volume_fraction: bool = True,
           volume_fraction_sigma: float | None = None, steps: int | None = None, samples: int = 400, seed: int = 0,
           retry: bool = True, dq_scale_sigma: float | None = None,
           q_range: tuple[float, float] | None = None) -> Inversion:
    """Fit sasmodels' sphere@hardsphere to the data starting from the network's ``start``.

    ``refine(result)``: the points the inversion used (``result.curve``, with its dI and dq), as checked there.
    ``refine(q, intensity, dI, start, dq=dq)`` or ``refine(curve, start)``: other data (q in 1/A, dI > 0 or None,
    dq the 1-sigma Gaussian q resolution: sasmodels Pinhole1D, sasdata's dx), checked here; on the same data
    both forms give the same fit.
    Returns ``start`` with the fitted distribution, its ``fit`` and ``uncertainty`` parts and a forward-model
    check (``quality``; notes: the start's, the points left out, a retry).  dI None: 1 % of I.
    ``method``: "lm" (fast bounded least squares), "dream" (LM, then bumps' DREAM from its posterior) or any
    bumps fitter id.  The volume
    fraction is fitted within a Gaussian prior of 1-sigma ``volume_fraction_sigma`` (None: see
    :func:`volume_fraction_prior_sigma`; 0 or ``fit_volume_fraction=False``: held fixed; inf: no prior).
    Where dq is given its width is fitted too, dQ = dq_scale * dq, within a log-normal prior around 1 of
    1-sigma ``dq_scale_sigma`` in ln(dq_scale) (None: :data:`~.fitness.DQ_SCALE_SIGMA`; 0: held at 1; inf: no prior).
    ``steps``: DREAM generations kept (default 2000); ``samples``: uncertainty draws (>= 2).  ``retry``: refit from
    other starts when chi2_red ends
    above :data:`RETRY_CHI2`.  ``q_range`` (q_min, q_max in 1/A): the points fitted; None: all of them.  Where every
    start of a whole-range fit ends above :data:`RETRY_CHI2` (data these spheres do not describe beyond the
    network's window: an upturn, a peak), the fit is repeated on the window (``start.q_range``) and kept where it
    ends below, flagged ``misfit-outside-window``.  Every argument is checked before any fit runs.
    """
    curve, start, checked = curve_and_start(q, intensity, dI, start, dq)
    validation.check_choice(method, methods(), "method")
    validation.check_choice(parametrization, PARAMETRIZATIONS, "parametrization")
    samples = validation.check_count(samples, "samples", 2)
    steps = None if steps is None else validation.check_count(steps, "steps", 1)
    q_range = None if q_range is None else validation.check_q_range(q_range)
    phi_sigma = volume_fraction_prior_sigma(start, volume_fraction_sigma, fit_volume_fraction)
    dq_sigma = DQ_SCALE_SIGMA if dq_scale_sigma is None else validation.check_prior_sigma(
        dq_scale_sigma, "dq_scale_sigma", "dq held as given")
    with _one_blas_thread():
        return _refine(curve, checked, start, method, parametrization, (phi_sigma, dq_sigma), steps, samples, seed,
                       retry, q_range)


def _one_blas_thread():
    """One BLAS thread for the fit: its matrices are small, and threads that spin against other work make a
    (28, 100) @ (100, 300) product 30x slower on a busy machine.  threadpoolctl is not in SasView's Python
    (the bundle runs there): without it, the context does nothing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


def _refine(curve: Curve, checked: bool, start: Inversion, method, parametrization, sigmas, steps, samples, seed,
            retry, q_range) -> Inversion:
    whole, note = data_points(curve, checked, start)
    q, intensity, di, dq = points(whole, q_range)
    phi_sigma, dq_sigma = sigmas
    data = (q, intensity, di, dq, float(start.volume_fraction_used), phi_sigma, dq_sigma, _start_power_law(start))
    fast = method in ("lm", "dream")
    t0 = time.perf_counter()
    best = _attempt(data, _start_dist(parametrization, start.distribution), parametrization, "network", method)
    best, data, upturn = _power_law_if_evident(data, start, best, parametrization, method)
    retried = []
    if retry and best.chi2 > RETRY_CHI2:
        for par, base, label in _other_starts(parametrization, start.distribution):
            retried.append(label)
            other = _attempt(data, _start_dist(par, base), par, label, "lm" if fast else method)
            if other.chi2 < best.chi2:
                best = other
            if best.chi2 <= RETRY_CHI2:
                break
    outside = False
    if retry and best.chi2 > RETRY_CHI2 and q_range is None and len(q) > in_q_range(q, start.q_range).sum() >= 10:
        window = (*points(whole, start.q_range), *data[4:])
        retried.append("the network's window")
        other = _attempt(window, _start_dist(parametrization, start.distribution), parametrization, "network",
                         "lm" if fast else method)
        if other.chi2 <= RETRY_CHI2:  # the window is described: what lies beyond it is not
            best, data, outside = other, window, True
    gain = None
    if fast and best.parametrization == "histogram" and best.label == "network":
        best, gain = _network_shape_if_evident(data, start, best)
    t1 = time.perf_counter()
    kept = gain is not None and gain < 0
    # a kept network shape: DREAM would sample the rejected correction's posterior, centred elsewhere
    unc, draws = _uncertainty(best, "lm" if kept and method == "dream" else method, samples, seed, steps,
                              calibration(start))
    unc = replace(unc, diagnostics={**(unc.diagnostics or {}), "seconds_fit": t1 - t0,
                                    "seconds_uncertainty": time.perf_counter() - t1,
                                    **({} if gain is None else {"log_evidence_correction": gain})})
    notes = [note, *_power_law_note(best, upturn)]
    if kept:
        free = ", ".join(["scale", "background"] + ["phi"] * best.fitness.fits_phi
                         + ["dq_scale"] * ("dq_scale" in best.problem.labels()))
        dream = "; DREAM not run: the intervals are the Laplace posterior's there" if method == "dream" else ""
        notes.append(f"the data do not ask for a correction of the network's distribution (Laplace log evidence "
                     f"{gain:.3g}): its shape kept, {free} fitted{dream}")
    if retried:
        notes.append(f"the fit from the network's start ended at chi2_red > {RETRY_CHI2:g}; retried from "
                     f"{', '.join(retried)}: kept the {best.label} start (chi2_red {best.chi2:.3g})")
    if outside:
        notes.append(f"the whole data range ({q[0]:.4g}-{q[-1]:.4g} 1/A) is not described by these spheres: refined on "
                     f"the network's window {start.q_range[0]:.4g}-{start.q_range[1]:.4g} 1/A only (chi2_red "
                     f"{best.chi2:.3g}); flagged misfit-outside-window")
    fitted = start.q_range if outside else (float(q[0]), float(q[-1])) if q_range is None else q_range
    return _make_result(best, start, method, draws, unc, (phi_sigma, dq_sigma), tuple(retried), notes, whole,
                        fitted, outside)


def _start_power_law(start: Inversion) -> tuple[float, float] | None:
    """(scale A, exponent p) of the low-q power law the start's check fitted beside its spheres, or None."""
    qual = start.quality
    return None if qual is None or qual.power_law is None else (qual.power_law[1], qual.power_law[0])


def _power_law_if_evident(data, start: Inversion, best: _Attempt, parametrization: str, method: str):
    """(attempt, data, power law kept?): the fit ``best`` with or without a low-q power law A q^-p beside the spheres,
    as the evidence rule decides (:func:`~..inference.quality_model.choose_power_law`, the polish's and the check's:
    the cost, chi2 plus the priors, must drop by more than 2 ln n for A and p, times chi2_red where above 1, and the
    power law must be an upturn: >= 10 % of the curve at the lowest q).  A start without one is asked where
    its fit leaves chi2_red above GOOD_CHI2 (the exponent the rule picks starts the fit); a start with one (the
    check of a windowed or whole-curve answer fitted it) is fitted without it too, and the two compared."""
    q, intensity, di = data[:3]
    fitness = best.fitness
    if data[7] is None:
        if best.chi2 <= GOOD_CHI2:
            return best, data, False
        up = lambda p: fitness._upturn(1.0, p, fitness.dq_scale.value)   # noqa: E731  (unit level at q_min)
        p = choose_power_law(fitness.shape(), intensity, di, up)[0]
        if p is None:
            return best, data, False
        other_data = (*data[:7], (0.0, p))
    else:
        other_data = (*data[:7], None)
    other = _attempt(other_data, _start_dist(parametrization, start.distribution), parametrization, "network",
                     method)
    with_it, without = (best, other) if data[7] is not None else (other, best)
    r_w, r_o = with_it.fitness.residuals(), without.fitness.residuals()
    f = with_it.fitness
    visible = upturn_visible(float(f._upturn(f.power_law["power_law_level"].value,
                                             f.power_law["power_law_exponent"].value, f.dq_scale.value)[0]),
                             float(f.theory()[0]))
    if visible and float(r_o @ r_o) - float(r_w @ r_w) > power_law_evidence(len(q), with_it.chi2):
        return with_it, (*data[:7], (float(f.power_law_scale()), f.power_law["power_law_exponent"].value)), True
    return without, (*data[:7], None), False


def _network_shape_if_evident(data, start: Inversion, hist: _Attempt) -> tuple[_Attempt, float]:
    """The histogram fit, or the network's own shape (the correction held at 0) where the Laplace evidence
    prefers it (:func:`.posterior.log_evidence_gain` < 0: on smooth unimodal curves the correction fits noise);
    then the histogram model at that point (theta = 0 on the network's distribution without the 1e-4 floor, the
    held fit's scale, background, phi, dq_scale), so that its covariance still carries the distribution's
    uncertainty.  Returns (attempt, the gain)."""
    held = HistogramDistribution(start.radius, start.number_distribution)
    for p in held.pars:
        p.fixed = True
    freed = "dq_scale" in hist.problem.labels()   # the histogram fit's resolution model: dq_scale free or held
    shape = _attempt(data if freed else (*data[:6], 0.0, *data[7:]), held, "histogram", "network", "lm",
                     dq_rule=not freed)
    r_h, r_s = hist.fitness.residuals(), shape.fitness.residuals()
    gain = posterior.log_evidence_gain(float(r_h @ r_h), hist.jac, float(r_s @ r_s), shape.jac,
                                       hist.fitness.dist.prior_precision())
    if not gain < 0:
        return hist, gain
    labels = hist.problem.labels()
    values = shape.fitness.parameters()
    hist.fitness.dist.base = start.number_distribution / start.number_distribution.sum()  # exactly it (no floor)
    bp = BatchProblem(hist.fitness, labels)
    x = np.clip([0.0 if name.startswith("log_w") else float(values[name].value) for name in labels], bp.lo, bp.hi)
    bp.set(x)
    jac = bp.jacobian(x)
    return replace(hist, x=x, jac=jac, chi2=chi2_reduced(hist.fitness, jac)), gain


def _start_dist(parametrization: str, base: Distribution):
    if parametrization == "schulz3":  # as few components as describe the network's histogram
        return fitted_mixture(base.radius, base.number)
    return HistogramDistribution(base.radius, base.number)


def _other_starts(parametrization: str, base: Distribution):
    """(parametrisation, start distribution, label) to retry a poor fit from."""
    r, w = base.radius, base.number
    k = np.arange(-12, 13)
    kernel = np.exp(-0.5 * (k / BROADEN_BINS) ** 2)
    broad = np.convolve(np.pad(w, 12, mode="edge"), kernel / kernel.sum(), mode="valid")
    broad = Distribution(r, broad / broad.sum())
    other = "schulz3" if parametrization == "histogram" else "histogram"
    return [(other, base, f"a {other} fit"), ("histogram", broad, "the broadened network distribution")]


def _attempt(data, dist, parametrization: str, label: str, method: str, dq_rule: bool = True) -> _Attempt:
    """One fit from ``dist``; ``dq_rule``: dq_scale freed only by the BIC rule (else fitted if free)."""
    q, intensity, di, dq, phi0, phi_sigma, dq_sigma, power_law = data
    fitness = SphereHSFitness(q, intensity, di, dist, phi0, dq=dq, phi_sigma=phi_sigma, dq_scale_sigma=dq_sigma,
                              power_law=power_law)
    shape = fitness.shape()
    s0, b0 = nnls_scale_background(shape, intensity, di)
    if power_law is not None:   # scale, background and the power law's level together (>= 0)
        pl = fitness.power_law
        s0, b0, level = nnls_columns(np.stack([shape, np.ones_like(shape), fitness._upturn(
            1.0, pl["power_law_exponent"].value, 1.0)], axis=1), intensity, di)
        pl["power_law_level"].value = float(level)
    w = 1.0 / di**2
    s_only = max(float((w * shape) @ intensity / ((w * shape) @ shape)), 1e-30)  # scale alone, no background
    if not s0 > 1e-6 * s_only:  # a flat (Guinier-only) window fits as background alone: start from the scale
        s0, b0 = s_only, 0.0
    fitness.scale.value, fitness.background.value = s0, b0
    fitness.scale.range(0.0, max(s0, s_only) * 1e3)
    fitness.update()
    problem = FitProblem(fitness)
    labels = problem.labels()
    result, jac, drop = None, None, None
    x0 = problem.getp()
    if method in ("lm", "dream") or (dq_rule and "dq_scale" in labels):  # any fitter: dq_scale by LM's BIC rule
        fitted, res, drop = (solve_resolution_by_bic(fitness, labels) if dq_rule else
                             (labels, solve(BatchProblem(fitness, labels)), None))
        x, jac = res.x, res.jac
        if fitted != labels:  # dq_scale held at 1 (BIC): the problem without it
            problem = FitProblem(fitness)
            labels, x0 = problem.labels(), np.delete(x0, labels.index("dq_scale"))
    if method not in ("lm", "dream"):  # bumps' fitter from the start, on the problem the rule left
        problem.setp(x0)
        result, jac = fit(problem, method=method), None
        x = np.asarray(result.x)
    problem.setp(x)
    x = np.asarray(x, float)
    if jac is None:
        jac = BatchProblem(fitness, labels).jacobian(x)
    return _Attempt(label, parametrization, fitness, problem, x, jac, chi2_reduced(fitness, jac), result, drop)


def _uncertainty(best: _Attempt, method: str, samples: int, seed: int, steps: int | None, calibration: dict | None):
    fitness, labels = best.fitness, best.problem.labels()
    bp = BatchProblem(fitness, labels)
    cov, inflation = posterior.laplace_cov(best.jac, best.chi2)
    diagnostics = None
    if method == "dream":
        kw = {} if steps is None else {"steps": steps}
        draws, diagnostics = posterior.dream_draws(fitness, best.problem, labels, best.x, cov, best.jac,
                                                   temperature=inflation,
                                                   samples=samples, seed=seed, **kw)
        source = "dream"
    else:
        draws = posterior.laplace_draws(best.x, cov, bp.lo, bp.hi, samples, seed)
        source = "laplace"
    quantities = posterior.draw_quantities(fitness, labels, draws)
    at_best = {k: v[0] for k, v in posterior.draw_quantities(fitness, labels, best.x[None]).items()}
    q_max = float(fitness.q[-1])
    return posterior.summarise(quantities, at_best, source, inflation, q_max, diagnostics, calibration), draws


def _make_result(best: _Attempt, start, method, draws, unc: Uncertainty, sigmas, retried, notes,
                 whole, fitted: tuple[float, float], outside: bool) -> Inversion:
    (phi_sigma, dq_sigma), fitness = sigmas, best.fitness
    labels = best.problem.labels()
    best.problem.setp(best.x)
    number = fitness.dist.weights()
    phi = float(fitness.phi.value)
    part = Fit(method, best.parametrization, _with_power_law_scale(fitness, labels, best.x, draws), best.chi2,
               fitness.q, fitness.theory(), float(fitness.scale.value), float(fitness.background.value),
               volume_fraction=phi if fitness.fits_phi else None,
               volume_fraction_prior_sigma=phi_sigma if fitness.fits_phi else None, retried=retried,
               **_dq_scale_part(best, dq_sigma))
    out = fitted_result(start, Distribution(start.radius, number), part, unc, notes)
    q, intensity, di, dq = whole
    if dq is not None and part.dq_scale is not None:   # the check smears as the fit did
        dq = part.dq_scale * dq
    check = functools.partial(refined_quality, q, intensity, di, start.radius, number, phi, training(start),
                              fitted, dq, part, outside, _fitted_power_law(fitness))
    return replace(out, check=check)


def _with_power_law_scale(fitness, labels, x, draws) -> dict:
    """:func:`fit_parameters`, and where a power law was fitted its sasmodels scale A (= level q_min^p) per draw."""
    pars = fit_parameters(labels, x, draws)
    if fitness.power_law is not None:
        values = fitness.values(labels, draws)
        a = fitness.power_law_scale(values["power_law_level"], values["power_law_exponent"])
        pars["power_law_scale"] = (float(fitness.power_law_scale()), float(np.std(a)))
    return pars


def _dq_scale_part(best: _Attempt, dq_sigma: float) -> dict:
    """The Fit's resolution fields: where dq_scale was free (fitted, or held at 1 by the BIC rule)."""
    f = best.fitness
    return {} if f.resolution is None or not (f.fits_dq_scale or best.dq_drop is not None) else {
        "dq_scale": float(f.dq_scale.value), "dq_scale_prior_sigma": dq_sigma, "dq_scale_drop": best.dq_drop}


def refined_quality(q, intensity, di, radius, number, phi, training, q_range, dq, part: Fit, outside: bool = False,
                    power_law: tuple[float, float] | None = None):
    """The forward-model check (:func:`~..inference.quality.assess`) of a refined distribution over the q range
    fitted, with the fit's own chi2_red, scale and background (and its low-q power law: ``power_law`` (p, A));
    ``poor-fit`` whenever chi2_red > :data:`RETRY_CHI2`, ``misfit-outside-window`` where the whole range was not
    described and the window alone was fitted (``outside``)."""
    slit = dq is not None and np.ndim(dq) == 0   # a slit length in dq's place (inputs.data_points)
    qual = assess(q, intensity, di, radius, number, phi, training=training, q_range=q_range,
                  dq=None if slit else dq, slit_length=float(dq) if slit else None,
                  power_law=None if power_law is None else power_law[0])
    if power_law is not None:
        qual = replace(qual, power_law_scale=power_law[1])
    return of_fit(qual, part.chi2_reduced, part.scale, part.background, ("misfit-outside-window",) * outside,
                  RETRY_CHI2)


def _fitted_power_law(fitness) -> tuple[float, float] | None:
    """(exponent p, sasmodels scale A) of the fit's low-q power law A q^-p, or None."""
    if fitness.power_law is None:
        return None
    return float(fitness.power_law["power_law_exponent"].value), float(fitness.power_law_scale())


def _power_law_note(best: _Attempt, kept: bool) -> tuple[str, ...]:
    pl = _fitted_power_law(best.fitness)
    if pl is None:
        return ()
    how = "the evidence asked for it" if kept else "kept from the start"
    return (f"a low-q power law {pl[1]:.4g} q^-{pl[0]:.3g} fitted beside the spheres ({how}: aggregates or an "
            "upturn); Fit.parameters power_law_scale, power_law_exponent",)
