r"""The physics check of a result: its sasmodels curve against the data, and what the window can tell.

numpy only; nothing here calls sasmodels (the review of other explanations fits sasmodels' models ported to numpy:
:mod:`.alternatives`).
Units: q in 1/A, radius in A, SLD in 1e-6/A^2, intensity in 1/cm
(any constant factor of the data is absorbed by the fitted scale).

:func:`assess` fits a scale (>= 0) and a flat background (>= 0, or free in sign where the data may be
over-subtracted: :func:`.quality_model.background_may_be_negative`) of the result's model curve to the data over
the q range used and returns a :class:`Quality`: reduced chi^2 (when dI is given), a runs statistic of the
residuals, the observable radius range of the window, and ``flags``, short stable strings, empty when the
result can be trusted.  Each flag's threshold is a module constant (docs/domain.md):

The misfit: (data - fit) summed over each of :data:`SHAPE_BLOCKS` blocks of the points used, less what the noise
explains, over the data summed there (:func:`.quality_flags.block_misfit`; a wrong size does not average out).

- ``poor-fit``: dI given, chi2_red > :data:`POOR_FIT_CHI2` and misfit rms > :data:`MISFIT_MIN_REL` (both
  significant for the noise and larger than the network's own error on its kind of curve).
- ``structured-residuals``: dI absent, the residual signs run in long stretches (runs-test z below
  -:data:`RUNS_Z`) and misfit rms > :data:`MISFIT_MIN_REL`.
- ``mass-at-small-radius-edge`` / ``mass-at-large-radius-edge``: more than :data:`EDGE_MASS` of the
  number (small end) or volume (large end) distribution in the :data:`EDGE_BINS` outermost bins.
- ``phi-outside-training``: the volume fraction outside the training range (0.1-0.5 for the shipped model).
- ``q-window-too-narrow``: the points used span a smaller q_max/q_min than the model's window, or fewer
  than :data:`MIN_POINTS` data points lie in it (the network would see interpolation, not data).
- ``shape-outside-training``: the misfit exceeds :data:`SHAPE_MAX_REL` in some block (the network's curve
  misses the data by more than it ever does on the sphere@hardsphere curves it was trained on: measured
  <= 0.13 unsmeared, <= 0.19 smeared dQ/Q 3 %).  The network's standardised inputs (the model file's
  input_shift / input_scale) do not tell: core-shell, cylinder and 10x-sphere curves lie well inside the
  training features' spread (max |z| 2.5, 0.45, 0.65; in-domain curves up to 4.5).
- ``check-failed``, ``no-particle-signal``, ``mass-outside-observable`` and the ``approximate`` mark (not a flag:
  close, not a fit; ``Quality.verdict``): :mod:`.quality_flags`.
- ``other-model-fits-better``: sticky hard spheres or fractal aggregates (sasmodels' models, in numpy) explain the
  data better than the answer: :mod:`.alternatives`, added to a result's check by
  :func:`.alternatives.review_alternatives`.
- ``other-model-fits-as-well``: a fractal aggregate explains the data as well as a broad polished answer (the
  whole-curve model's): the data do not tell the sphere distribution from the aggregate (:mod:`.alternatives`).
- ``over-subtracted``: the flat background was fitted negative (free in sign where the data may be
  over-subtracted) by more than :data:`OVERSUB_Z` of its sigma: the sizes the curve's high-q end decides rest on
  that constant (:func:`over_subtracted`).

Speed: the forward model and statistics are written out straightforwardly in :mod:`.quality_model`
(re-exported here); :func:`assess` computes the same numbers from per-grid caches (:mod:`.quality_fast`,
~2-3x less time, equal to ~1e-12) and falls back to the straightforward forms where that does not apply;
``assess(..., reference=True)`` forces them.  :func:`assess_many` checks a batch of curves on one grid in
array passes, :class:`BatchCheck` lazily (the ``check`` of a batch of Inversions).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import threading
from dataclasses import dataclass, field

import numpy as np

from ..data.validation import relative_sigma
from ..physics.kernels import breadth, dilute_as_one
from ..physics.scattering import sphere_f2
from . import quality_fast
from . import quality_flags as qflags
from .quality_model import (
    GOOD_CHI2,
    background_may_be_negative,
    background_sigma,
    block_means,
    choose_power_law,
    model_intensity,
    nnls_columns,
    nnls_scale_background,
    power_law_evident,
    runs_z,
    small_population_shift,
    smeared_intensity,
    smeared_power_law,
)

__all__ = ["FLAGS", "BatchCheck", "Quality", "Training", "assess", "assess_many", "background_may_be_negative",
           "block_means", "model_intensity", "nnls_scale_background", "observable_radius", "runs_z",
           "smeared_intensity", "sphere_f2", "training_of"]

POOR_FIT_CHI2 = 3.0          # chi2_red above this (dI given) -> "poor-fit"
RUNS_Z = 4.0                 # runs-test z below -RUNS_Z: residual signs cluster (not noise)
MISFIT_MIN_REL = 0.04        # ... and block-smoothed relative residual rms above 4 % (beyond the network's own error)
SHAPE_MAX_REL = 0.25         # smoothed relative residual above 25 % in a block -> "shape-outside-training"
SHAPE_BLOCKS = 25            # blocks the q range used is cut into for the smoothed residual
EDGE_BINS = 2                # outermost radius bins counted as "the edge"
EDGE_MASS = 0.02             # probability above this there -> "mass-at-...-radius-edge"
MIN_POINTS = 20              # fewer data points in the q range used -> "q-window-too-narrow"
OBS_X = math.pi              # observable radii: pi/q_max .. pi/q_min (McSAS' default size range)
OBS_FRACTION = 0.05          # noise rule: 5 % of the volume at R must change the best fit ...
OBS_CHI2 = 9.0               # ... by chi^2 >= 9 (3 sigma) for R to be observable
OBS_RADII = 32               # log-spaced trial radii for the noise rule
OBS_POINTS = 200             # at most ~this many data points for the noise rule
AUTO = "auto"                # assess(power_law=AUTO): a low-q power law where the evidence asks for one
MANY_CHUNK = 128             # assess_many: rows per array pass (bounds its memory: ~10 MB per 100 rows)
OVERSUB_Z = 3.0              # a fitted background below -OVERSUB_Z of its sigma -> "over-subtracted" ...
OVERSUB_NARROW = 1.08        # ... unless the answer is narrower than this (volume over number mean; Schulz pd 0.16)
SMALL_SHIFT = 0.05           # ... and no small population the data ask for moves its number mean by more than this

MISFIT_FLAGS = {"poor-fit", "structured-residuals", "shape-outside-training"}   # the spheres miss the data
FLAGS = ("poor-fit", "structured-residuals", "mass-at-small-radius-edge", "mass-at-large-radius-edge",
         "phi-outside-training", "q-window-too-narrow", "shape-outside-training", "misfit-outside-window",
         "check-failed", "no-particle-signal", "mass-outside-observable", "over-subtracted",
         "volume-fraction-uncertain", "volume-mean-undetermined", "number-distribution-undetermined",
         "other-model-fits-better",
         "other-model-fits-as-well")
VERDICTS = ("trusted", "approximate", "not trusted")   # Quality.verdict


@dataclass(frozen=True, eq=False)
class Quality:
    """How far a result can be trusted: the forward-model check against the data (see the module docstring)."""

    chi2_reduced: float | None              # over the points used, scale and background fitted; None without dI
    scale: float                            # fitted scale of the model curve (model in 1/cm at scale 1)
    background: float                       # fitted flat background, data units
    observable_radius: tuple[float, float]  # A: the smallest and largest radius the window constrains
    flags: tuple[str, ...]                  # short stable strings (FLAGS); empty: trusted
    residual_runs_z: float                  # runs-test z of the residual signs (about N(0,1) for noise)
    residual_rms: float                     # rms of the block-smoothed relative residual (data - fit) / data
    shape_max_rel: float                    # its largest block (absolute value)
    n_points: int                           # data points used
    # what model_curve() evaluates: (q, dq or None, radius, number, phi, slit length or None) of the points used
    curve_inputs: tuple | None = field(default=None, repr=False)
    particle_signal: float | None = None    # F of the sphere term against a flat background alone (quality_flags)
    approximate: bool = False               # close but not a fit (quality_flags): not "trusted", not a flag
    power_law_exponent: float | None = None  # p of a low-q power law A q^-p fitted beside the spheres; None: none
    power_law_scale: float | None = None     # its A (data units at q = 1 1/A), fitted >= 0 with scale and background
    # (p, A) of the power law the evidence asked for where the check left it out (the spheres miss the data with it
    # too: a wrong answer, which a power law would only blur): what the windowed model re-reads the curve without
    power_law_asked: tuple | None = field(default=None, repr=False)
    # the sasmodels model that explains the data better (flag other-model-fits-better) or as well (flag
    # other-model-fits-as-well): .alternatives.Alternative, its relation says which
    alternative: object | None = None
    review_failed: str | None = None        # why the review of other explanations could not run (None: it could)

    @property
    def trusted(self) -> bool:
        return not self.flags and not self.approximate

    @property
    def verdict(self) -> str:
        """"trusted", "approximate" (close, not a fit: refine it) or "not trusted" (flagged)."""
        return "not trusted" if self.flags else "approximate" if self.approximate else "trusted"

    def model_curve(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(q in 1/A, I in data units): the check's model curve at the points it used, with its scale and
        background (smeared as the data are: dq or slit; with the low-q power law where one was fitted); what
        ``chi2_reduced`` and the misfit were computed from
        (the figures draw it).  None where the check had no curve (fewer than 3 points).  A refined result's check
        carries the fit's chi2, scale and background: its own curve is ``fit.q``, ``fit.intensity``."""
        if self.curve_inputs is None:
            return None
        q, dq, radius, number, phi, *slit = self.curve_inputs   # (a slit length where the data are slit-smeared)
        slit = slit[0] if slit else None
        extra = 0.0 if self.power_law_exponent is None else (
            self.power_law_scale * smeared_power_law(q, dq, self.power_law_exponent, slit))
        return q, self.scale * smeared_intensity(q, dq, radius, number, phi, slit) + self.background + extra

    @property
    def power_law(self) -> tuple[float, float] | None:
        """(exponent p, amplitude A) of the low-q power law A q^-p the check fitted beside the spheres, or None."""
        return None if self.power_law_exponent is None else (self.power_law_exponent, self.power_law_scale)

    def to_dict(self) -> dict:
        """The JSON record: non-finite numbers as None (JSON has no NaN)."""
        return {"verdict": self.verdict, "flags": list(self.flags), "approximate": self.approximate,
                **{k: qflags.json_number(getattr(self, k)) for k in ("chi2_reduced", "scale", "background")},
                "observable_radius": [qflags.json_number(x) for x in self.observable_radius],
                **{k: qflags.json_number(getattr(self, k)) for k in ("residual_runs_z", "residual_rms", "shape_max_rel",
                                                              "particle_signal")},
                "n_points": self.n_points,
                "power_law": None if self.power_law is None else {
                    "exponent": self.power_law_exponent, "scale": qflags.json_number(self.power_law_scale)},
                "alternative": None if self.alternative is None else {
                    "model": self.alternative.model, "relation": self.alternative.relation,
                    "chi2_reduced": qflags.json_number(self.alternative.chi2_reduced),
                    "parameters": {k: qflags.json_number(v) if isinstance(v, float) else v
                                   for k, v in self.alternative.parameters.items()},
                    "description": self.alternative.describe()},
                "review_failed": self.review_failed}


@dataclass(frozen=True, eq=False)
class Training:
    """The domain a network was trained on: q window (1/A), radius grid (A), volume fractions, input stats."""

    q_range: tuple[float, float] = (0.04, 0.105)
    radius_range: tuple[float, float] = (9.0, 99.0)
    phi_range: tuple[float, float] = (0.1, 0.5)

    @classmethod
    def of(cls, model) -> Training:
        """The training domain recorded in a loaded model (grids, ``info['training_data']`` phi range)."""
        td = (model.info or {}).get("training_data", {})
        phi = (float(td.get("phi_min", 0.1)), float(td.get("phi_max", 0.5)))
        return cls(tuple(model.q_range), (float(model.radius[0]), float(model.radius[-1])), phi)


@functools.lru_cache(maxsize=16)
def with_flag(check, flag: str):
    """The :class:`Quality` of ``check()`` with ``flag`` added (once): for flags a result's maker knows of."""
    quality = check()
    return quality if flag in quality.flags else dataclasses.replace(quality, flags=(*quality.flags, flag))


def training_of(model) -> Training:
    """:meth:`Training.of` a loaded model, once per model object (models compare and hash by identity)."""
    return Training.of(model)


def observable_radius(q: np.ndarray, di: np.ndarray | None = None, model_curve: np.ndarray | None = None,
                      scale: float = 1.0, volume_fraction: float = 0.0) -> tuple[float, float]:
    """(r_lo, r_hi) in A: the radii the window constrains.

    Window rule (always; McSAS' default size range): R in [pi / q_max, pi / q_min]: below, the whole window
    is Guinier (q R < pi), whose curvature trades against scale and background; above, it is all Porod
    (I ~ q^-4, the same for every large R).
    Noise rule (with dI, the fitted model curve and scale; the McSAS observability limit made a test):
    R is observable if :data:`OBS_FRACTION` of the sample's volume as spheres of radius R (the fitted
    scale, S = 1) would raise chi^2 by >= :data:`OBS_CHI2` after refitting scale and background.  The
    range is the window rule's, narrowed to the observable radii.  A dilute sample (phi 0) has its volume fraction
    in the scale (:func:`..physics.kernels.dilute_as_one`); until 2026-12-07 the rule was skipped for it.
    """
    lo, hi = OBS_X / q[-1], OBS_X / q[0]
    if di is None or model_curve is None:
        return float(lo), float(hi)
    volume_fraction = float(dilute_as_one(volume_fraction))   # phi 0 (dilute): the scale is the volume fraction
    trial = np.geomspace(lo, hi, OBS_RADII)
    k = max(1, len(q) // OBS_POINTS)  # every k-th point (chi^2 times k): the rule needs no finer grid
    q, di, model_curve = q[::k], di[::k], model_curve[::k]
    f2, volume = sphere_f2(q, trial)
    extra = (OBS_FRACTION * volume_fraction * scale) * f2 / volume[:, None]   # (n_R, n_q), 1/cm
    w = k / di**2
    basis = np.stack([model_curve, np.ones_like(model_curve)])            # project out scale and background
    g = (basis * w) @ basis.T
    with np.errstate(over="ignore", invalid="ignore"):
        degenerate = not (np.all(np.isfinite(g)) and abs(np.linalg.det(g)) > 1e-12 * g[0, 0] * g[1, 1])
    if degenerate:
        return float(lo), float(hi)   # dI or the curve too degenerate for the noise rule (e.g. dI ~ 1e-90): window rule
    proj = np.linalg.solve(g, (basis * w) @ extra.T)                       # (2, n_R)
    rest = extra - proj.T @ basis
    ok = (rest**2 * w).sum(axis=1) >= OBS_CHI2
    if not ok.any():
        return float("nan"), float("nan")
    return float(trial[ok][0]), float(trial[ok][-1])


# -- the check ----------------------------------------------------------------------------------------

def _training(training) -> Training:
    if isinstance(training, Training):
        return training
    from .modelfile import load_model  # cached by load_model; only when no domain is given

    return Training.of(load_model(training))


def _quality(dom: Training, n: int, covered: float, phi: float, stats, curve: tuple | None = None,
             power_law: tuple = (), sigma: np.ndarray | None = None, data: np.ndarray | None = None) -> Quality:
    """The Quality of a check's numbers (:func:`_reference_stats`' tuple): the flags and their thresholds;
    ``curve``: its :attr:`Quality.curve_inputs`; ``power_law``: () or (exponent, amplitude) of one fitted; ``sigma``:
    the weights' sigma of the points used (dI, or the level without dI), and ``data`` their intensities, for the
    ``over-subtracted`` flag."""
    scale, bkg, chi2, rz, misfit, shape_max, edge_lo, edge_hi, obs, rss, rss_bg = stats[:11]
    flags = []
    if chi2 is not None and chi2 > POOR_FIT_CHI2 and misfit > MISFIT_MIN_REL:
        flags.append("poor-fit")
    if chi2 is None and rz < -RUNS_Z and misfit > MISFIT_MIN_REL:
        flags.append("structured-residuals")
    if edge_lo > EDGE_MASS:
        flags.append("mass-at-small-radius-edge")
    if edge_hi > EDGE_MASS:
        flags.append("mass-at-large-radius-edge")
    p_lo, p_hi = dom.phi_range
    if not p_lo - 1e-9 <= phi <= p_hi + 1e-9:
        flags.append("phi-outside-training")
    if n < MIN_POINTS or covered < (dom.q_range[1] / dom.q_range[0]) * (1 - 1e-6):
        flags.append("q-window-too-narrow")
    if shape_max > SHAPE_MAX_REL:
        flags.append("shape-outside-training")
    signal = qflags.particle_signal(rss, rss_bg, n)
    finite = qflags.all_finite((scale, bkg, chi2, rz, misfit, shape_max, edge_lo, edge_hi, rss, rss_bg))
    outside = curve is not None and qflags.outside_observable(curve[2], curve[3], obs,
                                                       (OBS_X / curve[0][-1], OBS_X / curve[0][0]))
    qflags.judge(flags, finite, signal, outside)
    if bkg < 0 and curve is not None and sigma is not None and over_subtracted(bkg, curve, sigma, chi2, rss, n,
                                                                               power_law, data):
        flags.append("over-subtracted")
    return Quality(chi2, scale, bkg, obs, tuple(flags), rz, misfit, shape_max, n, curve, signal,
                   qflags.is_approximate(flags, chi2, rz, misfit, POOR_FIT_CHI2, RUNS_Z), *power_law)


def over_subtracted(background: float, curve: tuple, sigma: np.ndarray, chi2: float | None, rss: float, n: int,
                    power_law: tuple = (), data: np.ndarray | None = None) -> bool:
    """Whether a negative fitted ``background`` lies below -OVERSUB_Z of its sigma (:func:`background_sigma`, widened by
    sqrt(chi2_red) where that is above 1; without dI, ``chi2`` None, the residuals' own scale sqrt(rss / (n - 2))). The
    curve was over-subtracted (solvent or empty cell): the fit explains that by a negative constant (free in sign where
    the data may be over-subtracted, :func:`.quality_model.background_may_be_negative`), and what the curve's high-q end
    says about the sizes rests on it.  Measured on a helper's 215 adversarial curves (2026-12-07, Schulz spheres 10-300
    A less 0.3-10x their high-q level, with upturns, phi up to 0.3, no dI, shapes outside the model): without the flag
    the free background made 29 silently wrong that the >= 0 background had flagged (as `poor-fit`); with it none, 5 of
    the old silent ones flagged, and 30 flagged wrong answers now right under it (net +23 right under a flag).

    Not for a narrow answer (volume over number mean below OVERSUB_NARROW) unless the data ask for a small population
    beside it that moves its number mean by more than SMALL_SHIFT (:func:`.quality_model.small_population_shift`,
    the evidence rule's chi2 drop, 2 ln n): a narrow answer's sizes are set by the curve's Guinier knee and fringes,
    which no constant shifts; what a constant trades with is a small-particle tail, broad (16 A spheres 5x
    over-subtracted read 12.8 A by number, the volume mean right, the ratio 1.34) or a minor population traded away
    whole, which leaves the answer narrow (a reviewer's 12 + 40 A spheres, 0.5 % of the volume small, 3x
    over-subtracted: 39.9 A by number for 35.6, ratio 1.02; the small spheres' fit drops chi2 by 39).  Measured on
    the 215 curves (2026-12-07 ~22:15-23:00): 27 of 53 right answers flagged only ``over-subtracted`` cleared, none
    made silent; on 110 fresh ones (other seeds, log-normal and bimodal too) 14 of 35 cleared, none made silent."""
    q, dq, radius, number, phi, *slit = curve
    slit_length, exponent = (slit[0] if slit else None), (power_law[0] if power_law else None)
    sb = background_sigma(q, dq, radius, number, phi, sigma, slit_length, exponent)
    widen = math.sqrt(max(chi2, 1.0)) if chi2 is not None else math.sqrt(rss / max(n - 2, 1))
    if not (math.isfinite(sb) and sb > 0 and background < -OVERSUB_Z * sb * widen):
        return False
    if not breadth(number, radius) < OVERSUB_NARROW:
        return True
    if data is None:
        return False
    ratio, without, with_small = small_population_shift(q, dq, radius, number, phi, data, sigma, slit_length, exponent)
    return bool(abs(ratio - 1) > SMALL_SHIFT and power_law_evident(without, with_small, n, chi2 is not None))


def _reference_stats(qu, iu, du, dqu, radius, number, phi: float, slit_length: float | None = None,
                     power_law: float | None = None):
    """The check's numbers computed straightforwardly (the specification :mod:`.quality_fast` is tested
    against, and its fallback): (scale, background, chi2, runs z, misfit rms, misfit max, small-edge number
    share, large-edge volume share, observable range, weighted sum of squares of the fit, of background alone,
    the power law's amplitude or None)."""
    m = smeared_intensity(qu, dqu, radius, number, phi, slit_length)
    sigma = relative_sigma(iu) if du is None else du   # no dI: relative to the curve's level
    w_bg = 1.0 / sigma**2
    amp = None
    if power_law is None:
        scale, bkg = nnls_scale_background(m, iu, sigma)
        fit = scale * m + bkg
        flat = iu - (w_bg @ iu) / w_bg.sum()   # the background-only fit: the weighted mean
    else:   # a low-q power law A q^-p beside the spheres (p chosen by the evidence, docs/domain.md)
        pl = smeared_power_law(qu, dqu, power_law, slit_length)
        scale, bkg, amp = nnls_columns(np.stack([m, np.ones_like(m), pl], axis=1), iu, sigma)
        fit = scale * m + bkg + amp * pl
        alt = nnls_columns(np.stack([np.ones_like(m), pl], axis=1), iu, sigma)
        flat = iu - (alt[0] + alt[1] * pl)     # the alternative without spheres: background and power law
    z = (iu - fit) / sigma
    chi2 = None if du is None else float(z @ z) / max(len(qu) - 2 - (power_law is not None), 1)
    smooth = qflags.block_misfit(iu - fit, iu, du, sigma, SHAPE_BLOCKS)
    w = number / number.sum()
    vol = w * radius**3
    vol /= vol.sum()
    level = scale if scale > 0 else float(np.median(iu / m))  # a flat fit: the data's level sets the noise rule
    obs = observable_radius(qu, du, m if du is not None else None, level, phi)
    return (scale, bkg, chi2, runs_z(z), math.sqrt(smooth @ smooth / len(smooth)), float(np.abs(smooth).max()),
            float(w[:EDGE_BINS].sum()), float(vol[-EDGE_BINS:].sum()), obs, float(z @ z), float((w_bg * flat) @ flat),
            None if amp is None else float(amp))


def _grid(qu, radius, dqu) -> quality_fast.Grid:
    return quality_fast.grid(qu, radius, dqu, blocks=SHAPE_BLOCKS, edge_bins=EDGE_BINS, obs_x=OBS_X,
                             obs_radii=OBS_RADII, obs_points=OBS_POINTS)


def assess(q, intensity, di, radius, number, volume_fraction: float, *, training=None,
           q_range: tuple[float, float] | None = None, dq=None, reference: bool = False,
           observe: bool = True, slit_length: float | None = None, power_law: float | str | None = None) -> Quality:
    """Check a result (number weights over ``radius``, A) against the data it came from.

    q in 1/A (ascending), intensity in any units, di None or per point (same units).  ``training``: a
    :class:`Training`, a loaded NNModel or a model name/path (None: the shipped default), whose domain the
    flags test against.  ``q_range`` (1/A): the data range used (default: the training window).  The model
    curve is :func:`model_intensity` with scale and flat background fitted (:func:`nnls_scale_background`,
    weights 1/dI^2, else 1/level^2: relative_sigma) over the points in ``q_range``, smeared with ``dq`` (1/A).
    Computed from per-grid caches (:mod:`.quality_fast`); ``reference=True``: straightforwardly, as specified
    (the same numbers to rounding, ~5x slower).  ``observe=False`` skips the noise rule of the observable range
    (the window rule alone): for scoring candidates whose winner is then assessed in full.  ``power_law``: the
    exponent p of a low-q power law A q^-p fitted beside the spheres (A >= 0 with the scale and background), or
    :data:`AUTO`: one where the evidence asks for it (:func:`evident_power_law`), else none.
    """
    dom = training if type(training) is Training else _training(training)
    q = np.asarray(q, dtype=float)
    intensity = np.asarray(intensity, dtype=float)
    lo, hi = dom.q_range if q_range is None else q_range
    q0, q1 = float(q[0]), float(q[-1])
    qu, iu, du, dqu = points_used(q, intensity, di, dq, lo, hi)
    n = len(qu)
    if n < 3:
        return Quality(None, *[math.nan] * 2, (math.nan,) * 2, ("q-window-too-narrow", "check-failed"), *[math.nan] * 3,
                       n)
    radius = np.asarray(radius, dtype=float)
    number = np.asarray(number, dtype=float)
    phi = float(volume_fraction)
    if power_law == AUTO:
        base = assess(q, intensity, di, radius, number, phi, training=dom, q_range=q_range, dq=dq, reference=reference,
                      observe=observe, slit_length=slit_length)
        power_law = evident_power_law(base, qu, iu, du, dqu, radius, number, phi, slit_length)
        if power_law is None:
            return base
        with_it = assess(q, intensity, di, radius, number, phi, training=dom, q_range=q_range, dq=dq,
                         observe=observe, slit_length=slit_length, power_law=power_law)
        if set(with_it.flags) & MISFIT_FLAGS or set(with_it.flags) - set(base.flags) >= {"no-particle-signal"}:
            # not explained with it either (the answer's misfit, not an upturn), or the power law explains what the
            # spheres do (large spheres' Porod tail is a q^-4 too): the check without it
            return dataclasses.replace(base, power_law_asked=with_it.power_law)
        return with_it
    if slit_length or power_law is not None:   # slit or a power law: the straightforward forms (the caches are not)
        reference = True
    stats = None if reference else quality_fast.evaluate(_grid(qu, radius, dqu), iu, du, number, phi,
                                                         OBS_FRACTION, OBS_CHI2, observe)
    if stats is None:
        stats = _reference_stats(qu, iu, du, dqu, radius, number, phi, slit_length, power_law)
    return _quality(dom, n, min(q1, hi) / max(q0, lo), phi, stats, (qu, dqu, radius, number, phi, slit_length),
                    () if power_law is None else (float(power_law), stats[11]),
                    relative_sigma(iu) if du is None else du, iu)


def points_used(q, intensity, di, dq, lo: float, hi: float):
    """(q, I, dI, dq) of the points inside [lo, hi] (the arrays themselves when all are)."""
    if float(q[0]) >= lo * (1 - 1e-9) and float(q[-1]) <= hi * (1 + 1e-9):
        return (q, intensity, None if di is None else np.asarray(di, dtype=float),
                None if dq is None else np.asarray(dq, dtype=float))
    sel = (q >= lo * (1 - 1e-9)) & (q <= hi * (1 + 1e-9))
    return (q[sel], intensity[sel], None if di is None else np.asarray(di, dtype=float)[sel],
            None if dq is None else np.asarray(dq, dtype=float)[sel])


def evident_power_law(base: Quality, qu, iu, du, dqu, radius, number, phi: float,
                      slit_length: float | None = None) -> float | None:
    """The exponent of a low-q power law the data ask for beside the result's spheres, or None: the polish's and
    the refinement's evidence rule (:func:`.quality_model.choose_power_law`), asked where the check without one
    (``base``) leaves chi2_red above the polish's GOOD_CHI2 (always without dI).  The network read its window
    only, so the curve's upturn below it is no misfit of its answer (docs/domain.md)."""
    if du is not None and base.chi2_reduced is not None and base.chi2_reduced <= GOOD_CHI2:
        return None
    m = smeared_intensity(qu, dqu, radius, number, phi, slit_length)
    sigma = relative_sigma(iu) if du is None else du
    if not (np.all(np.isfinite(m)) and np.all(np.isfinite(1.0 / sigma))):
        return None
    return choose_power_law(m, iu, sigma, lambda p: smeared_power_law(qu, dqu, p, slit_length),
                            noise_known=du is not None)[0]


def assess_many(q, intensities, dis, radius, numbers, volume_fractions, *, training=None,
                q_range: tuple[float, float] | None = None, dq=None, power_law: str | None = None) -> list[Quality]:
    """:func:`assess` for N curves on one q grid, as rows: ``intensities`` (N, n_q), ``dis`` None or (N, n_q),
    ``numbers`` (N, n_r) over one ``radius`` grid, ``volume_fractions`` scalar or (N,), ``dq`` None or one
    resolution (n_q,) for all.  The same Qualities as N calls, computed as arrays (~10x less time per curve
    for a frame table); ``power_law=AUTO``: rows whose evidence asks for a low-q power law checked with it."""
    dom = training if type(training) is Training else _training(training)
    q = np.asarray(q, dtype=float)
    inten = np.asarray(intensities, dtype=float)
    radius = np.asarray(radius, dtype=float)
    numbers = np.asarray(numbers, dtype=float)
    phis = np.broadcast_to(np.asarray(volume_fractions, dtype=float), (len(inten),))
    lo, hi = dom.q_range if q_range is None else q_range
    q0, q1 = float(q[0]), float(q[-1])
    inside = q0 >= lo * (1 - 1e-9) and q1 <= hi * (1 + 1e-9)
    sel = slice(None) if inside else (q >= lo * (1 - 1e-9)) & (q <= hi * (1 + 1e-9))
    qu, iu = q[sel], inten[:, sel]
    du = None if dis is None else np.asarray(dis, dtype=float)[:, sel]
    dqu = None if dq is None else np.asarray(dq, dtype=float)[sel]
    n = len(qu)
    if n < 3:
        return [assess(q, inten[k], None if dis is None else dis[k], radius, numbers[k], phis[k], training=dom,
                       q_range=q_range, dq=dq, power_law=power_law) for k in range(len(inten))]
    gr = _grid(qu, radius, dqu)
    stats = [s for k in range(0, len(iu), MANY_CHUNK) for s in quality_fast.evaluate_many(
        gr, iu[k:k + MANY_CHUNK], None if du is None else du[k:k + MANY_CHUNK], numbers[k:k + MANY_CHUNK],
        phis[k:k + MANY_CHUNK], OBS_FRACTION, OBS_CHI2)]
    covered = min(q1, hi) / max(q0, lo)
    out = [_quality(dom, n, covered, float(phis[k]), stats[k] if stats[k] is not None else
                    _reference_stats(qu, iu[k], None if du is None else du[k], dqu, radius, numbers[k],
                                     float(phis[k])), (qu, dqu, radius, numbers[k], float(phis[k])),
                    sigma=relative_sigma(iu[k]) if du is None else du[k], data=iu[k])
           for k in range(len(iu))]
    if power_law == AUTO:   # the rows whose evidence asks for a power law: checked with it, one at a time
        for k, qual in enumerate(out):
            if evident_power_law(qual, qu, iu[k], None if du is None else du[k], dqu, radius, numbers[k],
                                 float(phis[k])) is not None:
                out[k] = assess(q, inten[k], None if dis is None else dis[k], radius, numbers[k], phis[k],
                                training=dom, q_range=q_range, dq=dq, power_law=AUTO)
    return out


class BatchCheck:
    """:func:`assess_many` computed when the first of its rows is asked for (``row(k)``): the lazy ``check``
    of a batch of Inversions (see :func:`~.invert.invert_many`), one array pass for the whole batch."""

    def __init__(self, *args, **kwargs):
        self._call = functools.partial(assess_many, *args, **kwargs)
        self._lock = threading.Lock()
        self._rows: list[Quality] | None = None

    def row(self, k: int) -> Quality:
        with self._lock:
            if self._rows is None:
                self._rows = self._call()
                self._call = None
        return self._rows[k]
