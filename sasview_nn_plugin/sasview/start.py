"""The network start of one SasView fit object, and the size distributions to plot: no Qt, no SasView import.

:func:`start_fitness` takes SasView's ``SasFitness`` of ``nn_spheres_hs`` (the object SasView's own Fit builds:
the page's q range, weighting and resolution), lets :func:`sasview_nn_plugin.fitting.network_start.network_start`
(the ``nn-lm`` fitters' start) set the 1-3 Schulz components and the scale, fits scale and background on
SasView's own theory and says what to tick (:func:`~sasview_nn_plugin.sasview.project.free_parameters`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..inference.wide_model import AUTO  # the model choice by the data (:func:`choose_model`); numpy only
from . import PLUGIN_NAME

COMPONENTS = (1, 2, 3)
SIZE_PARAMETERS = tuple(f"{p}{k}" for k in COMPONENTS for p in ("radius", "pd", "fraction"))
PHI_STEP = 0.025          # volume-fraction scan step when the page's volfraction is to be estimated
PHI_FLOOR = 1e-3          # the least volfraction a start sets (the plugin's intensity is proportional to it)
WIDE = "wide"   # the whole-curve network
FLAGGED_NOTE = "the network's answer is flagged"   # a start note SasView's log shows as a warning


class ActionError(Exception):
    """A problem the user can fix (wrong model, no data, ...): shown as one line, no traceback."""


@dataclass
class Start:
    """The network start for one data set: parameter values, what to tick, and what it came from."""

    values: dict[str, float]
    free: set[str]
    inversion: object                       # sasview_nn_plugin.inference.invert.Inversion
    volume_fraction: float
    chi2: float                             # reduced, SasView's weighting and smearing, at the start
    phi_estimated: bool = False
    notes: list[str] = field(default_factory=list)
    model: str = "default"                  # the network's name ("wide": the whole-curve network)


def _chi2(fitness, n_free: int) -> float:
    r = np.asarray(fitness.residuals(), float)
    return float(np.sum(r * r) / max(1, len(r) - n_free))


def _scale_background(fitness) -> None:
    """Scale (>= 0) and background (>= 0, or free in sign where the data may be over-subtracted:
    :func:`..inference.quality_model.background_may_be_negative`) by least squares on SasView's own theory."""
    from ..inference.quality import nnls_scale_background

    pars = fitness._pars
    keep_s, keep_b = pars["scale"].value, pars["background"].value
    pars["scale"].value, pars["background"].value = 1.0, 0.0
    fitness.update()
    shape = np.asarray(fitness.theory(), float)
    d = fitness.data
    idx = np.asarray(d.idx, bool)
    y, dy = np.asarray(d.y, float)[idx], np.asarray(d.dy, float)[idx]
    ok = np.isfinite(shape) & np.isfinite(y) & (dy > 0)
    if not ok.any() or not np.any(shape[ok] > 0):
        pars["scale"].value, pars["background"].value = keep_s, keep_b
    else:
        s, b = nnls_scale_background(shape[ok], y[ok], dy[ok])
        lo, hi = pars["background"].bounds if pars["background"].bounds is not None else (-np.inf, np.inf)
        pars["scale"].value, pars["background"].value = s, float(np.clip(b, lo, hi))
    fitness.update()


def choose_model(fitness, model=None) -> tuple[object, str]:
    """(model, why): the network for this fit object's points.  ``model`` None or ``"auto"``: the library's rule
    (:func:`~..inference.wide_model.choose_network`: the whole-curve network for slit-smeared data or points
    spanning a decade of q or more, else the windowed default); any other name, path or loaded model is taken
    as it is."""
    from ..fitting.network_start import slit_length
    from ..fitting.sasfitness import as_experiment
    from ..inference.wide_model import choose_network

    if model not in (None, AUTO):
        return model, "as chosen"
    view = as_experiment(fitness)
    name, why = choose_network(view.resolution.q, slit_length(view))
    return name, why.replace("the q range", "the page's q range")


def phi_scan_range(nn) -> tuple[float, float]:
    """The volume fractions scanned when the page's volfraction is to be estimated: the network's training range."""
    td = nn.info.get("training_data", {}) if isinstance(nn.info, dict) else {}
    return float(td.get("phi_min", 0.05)), float(td.get("phi_max", 0.5))


def _wide_phi(fitness, nn, notes: list[str]) -> float:
    """The whole-curve inversion's estimate of the volume fraction (the data's chi2 profile over its answers at
    0-0.5: :mod:`..inference.invert_wide`), at least :data:`PHI_FLOOR` (the plugin's intensity is proportional
    to volfraction)."""
    from ..fitting.network_start import inversion_data
    from ..fitting.sasfitness import as_experiment
    from ..inference.invert import invert

    data = inversion_data(as_experiment(fitness), True)
    data.pop("keep")
    res = invert(**data, volume_fraction=None, model=nn)
    phi, sigma = res.volume_fraction_used, res.volume_fraction_sigma
    notes.append(f"volfraction estimated with the whole-curve network: {phi:.3f} +- {sigma:.3f}"
                 + (f" (set to {PHI_FLOOR:g}: the plugin's intensity needs volfraction > 0)" if phi < PHI_FLOOR else "")
                 + ("; flagged: " + ", ".join(res.quality.flags) if res.quality.flags else ""))
    return max(float(phi), PHI_FLOOR)


def start_fitness(fitness, estimate_phi: bool = False, model=None) -> Start:
    """Run the network start on SasView's ``SasFitness`` of ``nn_spheres_hs`` (a private copy: its parameters
    and their fixed flags are changed).  ``model``: None or ``"auto"`` (:func:`choose_model`), ``"wide"``,
    ``"default"``, a path or a loaded model.  ``estimate_phi``: the windowed network scans the volume fraction
    over its training range and keeps the best chi^2; the whole-curve inversion estimates it (:func:`_wide_phi`);
    else the fitness's ``volfraction`` is used."""
    from bumps.fitproblem import FitProblem

    from ..fitting.network_start import network_start
    from ..fitting.sasfitness import ViewProblem, model_id
    from ..inference.wide_model import WideModel, load_any
    from .project import free_parameters

    if model_id(fitness.model) != PLUGIN_NAME:
        raise ActionError(f"the page's model is {model_id(fitness.model)!r}; choose {PLUGIN_NAME} "
                          "(category Plugin Models) first")
    chosen, why = choose_model(fitness, model)
    nn = load_any(chosen)
    wide = isinstance(nn, WideModel)
    pars = fitness._pars
    for name, p in pars.items():     # network_start sets only free parameters: free exactly what it sets
        p.fixed = name not in ("scale", *SIZE_PARAMETERS)
    problem = ViewProblem(FitProblem([fitness]))

    def attempt(phi: float) -> tuple[float, dict[str, float], object]:
        pars["volfraction"].value = float(phi)
        [inversion] = network_start(problem, model=nn)
        _scale_background(fitness)
        return _chi2(fitness, 4), {k: float(p.value) for k, p in pars.items()}, inversion

    notes = [f"network {nn.name}: {why}"]
    if estimate_phi and wide:
        chi2, values, inversion = attempt(_wide_phi(fitness, nn, notes))
    elif estimate_phi:
        chi2, values, inversion = _scan_phi(attempt, nn, notes)
    else:
        phi = float(pars["volfraction"].value)
        if not 0 < phi < 0.74:
            raise ActionError(f"the page's volfraction is {phi:g}; set it in (0, 0.74), or tick it to estimate it")
        chi2, values, inversion = attempt(phi)
    flags = tuple(getattr(inversion.quality, "flags", ()) or ())
    if flags:
        given = "" if estimate_phi else f"; the page's volfraction {float(values['volfraction']):g} was used as given"
        notes.append(f"{FLAGGED_NOTE} ({', '.join(flags)}): the start may be far from the data{given} (tick "
                     "volfraction to estimate it, or set it), and check the page's q range")
    for k, v in values.items():
        pars[k].value = v
    fitness.update()
    free = free_parameters(values) | ({"volfraction"} if estimate_phi else set())
    return Start(values, free, inversion, float(values["volfraction"]), chi2, estimate_phi, notes, nn.name)


def _scan_phi(attempt, nn, notes: list[str]):
    """The windowed network's volume-fraction estimate: the best chi^2 of the start over its training range."""
    lo, hi = phi_scan_range(nn)
    trials = []
    for phi in np.arange(lo, hi + 1e-9, PHI_STEP):
        try:
            trials.append((*attempt(phi), phi))
        except ValueError as exc:   # one volume fraction the data refuse is skipped
            notes.append(f"volfraction {phi:.3f}: {exc}")
    if not trials:
        raise ActionError(f"no volume fraction in {lo:g}-{hi:g} gave a start: {notes[-1] if notes else ''}")
    chi2, values, inversion, phi = min(trials, key=lambda t: t[0])
    notes.append(f"volfraction estimated: {phi:.3f} (best chi2 over the network's training range "
                 f"{lo:g}-{hi:g} in steps of {PHI_STEP})")
    return chi2, values, inversion


def component_distributions(values: dict[str, float]) -> dict[str, np.ndarray]:
    """Number and volume distributions (probability density, 1/A) of the plugin's 1-3 Schulz components,
    on the plugin's own 240 bins; plus ``mean_number`` and ``mean_volume`` (A)."""
    from .project import load_plugin_module

    mod = load_plugin_module()
    radii = [values[f"radius{k}"] for k in COMPONENTS]
    pds = [values[f"pd{k}"] for k in COMPONENTS]
    fractions = [max(values[f"fraction{k}"], 0.0) for k in COMPONENTS]
    edges = mod.radius_bins(radii, pds, fractions)
    if edges is None:
        raise ActionError("no component has volume (fraction1..3 are all 0)")
    r, w = mod.number_weights(edges, radii, pds, fractions)
    width = np.diff(edges)
    vol = w * r**3
    vol = vol / vol.sum()
    return {"radius": r, "number": w / width, "volume": vol / width,
            "mean_number": float(w @ r), "mean_volume": float(vol @ r)}


def histogram_distributions(inversion) -> dict[str, np.ndarray]:
    """The network's histogram as densities (1/A) at its radius bin centres (the windowed network's linear bins,
    or the whole-curve network's 900 log-spaced radii, :func:`~..physics.grids.radius_edges`)."""
    from ..physics.grids import radius_edges

    r = np.asarray(inversion.radius, float)
    width = np.diff(radius_edges(r))
    return {"radius": r, "number": np.asarray(inversion.number_distribution) / width,
            "volume": np.asarray(inversion.volume_distribution) / width}


def widths_at_bounds(values: dict[str, float], errors: dict[str, float] | None = None) -> list[str]:
    """One sentence per active component whose width ``pdK`` ended at a bound of the plugin's parameter table (or
    whose error exceeds it): the data do not determine that width, and its spike in the size plot is the bound."""
    from .project import load_plugin_module

    bounds = {p[0]: p[3] for p in load_plugin_module().parameters}
    out = []
    for k in COMPONENTS:
        name, value = f"pd{k}", values.get(f"pd{k}")
        if value is None or values.get(f"fraction{k}", 0.0) <= 0:
            continue
        lo, hi = bounds[name]
        err = (errors or {}).get(name)
        at = "lower" if value <= lo * (1 + 1e-3) else "upper" if value >= hi * (1 - 1e-3) else None
        if at is None and not (err is not None and np.isfinite(err) and err > value):
            continue
        pm = f" +- {err:.3g}" if err is not None and np.isfinite(err) else ""
        where = f"at its {at} bound {lo if at == 'lower' else hi:g}" if at else "undetermined (error > value)"
        peak = "its peak in the size plot is that bound," if at else "the width of its peak in the size plot is"
        out.append(f"{name} = {value:.3g}{pm} is {where}: the data do not determine the width of component {k} "
                   f"(radius{k} = {values.get(f'radius{k}', float('nan')):.1f} A); {peak} not a measurement "
                   "(fix it, or use fewer components)")
    return out


def number_mean_sigma(values: dict[str, float], errors: dict[str, float] | None) -> float | None:
    """1-sigma of the number-mean radius (A) from the fit's parameter errors (no correlations: SasView's errors
    column has none); None without errors."""
    if not errors:
        return None
    base = component_distributions(values)["mean_number"]
    total = 0.0
    for name in SIZE_PARAMETERS:
        err = errors.get(name)
        if err is None or not np.isfinite(err) or err <= 0 or values.get(name) is None:
            continue
        step = max(abs(values[name]) * 1e-4, 1e-9)
        shifted = dict(values, **{name: values[name] + step})
        try:
            slope = (component_distributions(shifted)["mean_number"] - base) / step
        except ActionError:
            continue
        total += (slope * min(err, 10 * abs(values[name]) + 1e-9)) ** 2
    return float(np.sqrt(total))
