"""The network start of one SasView fit object, and the size distributions to plot: no Qt, no SasView import.

:func:`start_fitness` takes SasView's ``SasFitness`` of ``nn_spheres_hs`` (the object SasView's own Fit builds:
the page's q range, weighting and resolution), lets :func:`sasview_nn_plugin.fitting.network_start.network_start`
(the ``nn-lm`` fitters' start) set the 1-3 Schulz components and the scale, fits scale and background on
SasView's own theory and says what to tick (:func:`~sasview_nn_plugin.sasview.project.free_parameters`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import PLUGIN_NAME

COMPONENTS = (1, 2, 3)
SIZE_PARAMETERS = tuple(f"{p}{k}" for k in COMPONENTS for p in ("radius", "pd", "fraction"))
PHI_STEP = 0.025          # volume-fraction scan step when the page's volfraction is to be estimated


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


def _chi2(fitness, n_free: int) -> float:
    r = np.asarray(fitness.residuals(), float)
    return float(np.sum(r * r) / max(1, len(r) - n_free))


def _scale_background(fitness) -> None:
    """Scale and background by non-negative least squares on SasView's own theory (smearing included)."""
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


def _histogram(fitness, model):
    """The inversion network_start made (the same points, volume fraction and network): its histogram."""
    from ..fitting.network_start import fitted_points, pinhole_width
    from ..fitting.sasfitness import as_experiment
    from ..inference.invert import invert

    exp = as_experiment(fitness)
    q, y, dy = fitted_points(exp)
    dq = pinhole_width(exp, len(q))
    keep = np.isfinite(y) & (y > 0)
    return invert(q[keep], y[keep], None if dy is None else dy[keep], dq=None if dq is None else dq[keep],
                  volume_fraction=float(fitness._pars["volfraction"].value), model=model)


def phi_scan_range(nn) -> tuple[float, float]:
    """The volume fractions scanned when the page's volfraction is to be estimated: the network's training range."""
    td = nn.info.get("training_data", {}) if isinstance(nn.info, dict) else {}
    return float(td.get("phi_min", 0.05)), float(td.get("phi_max", 0.5))


def start_fitness(fitness, estimate_phi: bool = False, model=None) -> Start:
    """Run the network start on SasView's ``SasFitness`` of ``nn_spheres_hs`` (a private copy: its parameters
    and their fixed flags are changed).  ``estimate_phi``: scan the volume fraction over the network's training
    range and keep the best chi^2; else the fitness's ``volfraction`` is used."""
    from bumps.fitproblem import FitProblem

    from ..fitting.network_start import network_start
    from ..fitting.sasfitness import ViewProblem, model_id
    from ..inference.modelfile import load_model
    from .project import free_parameters

    if model_id(fitness.model) != PLUGIN_NAME:
        raise ActionError(f"the page's model is {model_id(fitness.model)!r}; choose {PLUGIN_NAME} "
                          "(category Plugin Models) first")
    nn = load_model(model)
    pars = fitness._pars
    for name, p in pars.items():     # network_start sets only free parameters: free exactly what it sets
        p.fixed = name not in ("scale", *SIZE_PARAMETERS)
    problem = ViewProblem(FitProblem([fitness]))

    def attempt(phi: float) -> tuple[float, dict[str, float]]:
        pars["volfraction"].value = float(phi)
        network_start(problem, model=nn)
        _scale_background(fitness)
        return _chi2(fitness, 4), {k: float(p.value) for k, p in pars.items()}

    notes = []
    if estimate_phi:
        lo, hi = phi_scan_range(nn)
        trials = []
        for phi in np.arange(lo, hi + 1e-9, PHI_STEP):
            try:
                trials.append((*attempt(phi), phi))
            except ValueError as exc:   # one volume fraction the data refuse is skipped
                notes.append(f"volfraction {phi:.3f}: {exc}")
        if not trials:
            raise ActionError(f"no volume fraction in {lo:g}-{hi:g} gave a start: {notes[-1] if notes else ''}")
        chi2, values, phi = min(trials, key=lambda t: t[0])
        notes.append(f"volfraction estimated: {phi:.3f} (best chi2 over the network's training range "
                     f"{lo:g}-{hi:g} in steps of {PHI_STEP})")
    else:
        phi = float(pars["volfraction"].value)
        if not 0 < phi < 0.74:
            raise ActionError(f"the page's volfraction is {phi:g}; set it in (0, 0.74), or tick it to estimate it")
        chi2, values = attempt(phi)
    for k, v in values.items():
        pars[k].value = v
    fitness.update()
    inversion = _histogram(fitness, nn)
    free = free_parameters(values) | ({"volfraction"} if estimate_phi else set())
    return Start(values, free, inversion, float(values["volfraction"]), chi2, estimate_phi, notes)


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
    """The network's histogram as densities (1/A) at its radius bin centres."""
    r = np.asarray(inversion.radius, float)
    edges = np.concatenate([[r[0] - (r[1] - r[0]) / 2], (r[1:] + r[:-1]) / 2, [r[-1] + (r[-1] - r[-2]) / 2]])
    width = np.diff(edges)
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
