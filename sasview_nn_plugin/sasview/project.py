"""SasView 6.x project files (File > Open Project): the data in a Fitting page with ``nn_spheres_hs``.

The layout is SasView's own (``sas.qtgui.MainWindow.GuiManager.actionSave_Project`` +
``GuiUtils.saveData``): a JSON object with one entry per data set, ``{"fit_data": [Data1D, {"checked":
true}, []], "fit_params": [page]}``, where a page maps each parameter name to ``[fit?, value, error,
min, max, []]`` (strings), plus ``is_batch``, ``batch_grid`` and ``visible_perspective``.  Tests open
the files with SasView 6.1.3's own project loader.
"""

from __future__ import annotations

import importlib.util
import json
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import PLUGIN_NAME, plugin_model_path


@dataclass
class PluginParameters:
    """``nn_spheres_hs`` parameter values (A, 1e-6/A^2) and which of them a fit should vary."""

    values: dict[str, float]
    free: set[str]
    errors: dict[str, float] = field(default_factory=dict)   # 1-sigma where the result has one (SasView's error column)


def parameter_errors(result, values: dict[str, float] | None = None) -> dict[str, float]:
    """1-sigma errors of the plugin parameters (``values``) the result measures, for SasView's error column:

    - ``volfraction``: phi estimated (its sigma) or refined (half its calibrated 68 % interval);
    - refined results: ``scale`` (the fit's relative posterior spread of its own scale: the plugin's scale
      multiplies the same curve) and ``background`` (the fit's, same intensity units), both the spread of the
      uncertainty draws, which no coverage study calibrates;
    - a ``schulz3`` refinement: ``radiusK``, ``pdK`` of each plugin component matched to a fitted component (mean
      within 5 %, pd within 0.05), and ``fractionK`` of the free shares: the draws' spread of that component's
      mean, pd and weight (the weight's carried to the normalised share), times the factor that calibrates the
      number-mean radius's 68 % interval (the model's calibration factor x the observability factor);
    - a ``histogram`` refinement summarised by one component: ``radius1``, the number-mean radius's calibrated
      sigma (that component's mean is the number mean); a summary's widths and shares are no parameters of
      the fit, so they get none.
    """
    errors = {}
    u = getattr(result, "uncertainty", None)   # a batch run's recorded results carry neither part
    sigma = getattr(result, "volume_fraction_sigma", None)
    phi68 = None if u is None else u.interval("volume_fraction", 68)
    if phi68 is not None and all(np.isfinite(phi68)):
        errors["volfraction"] = 0.5 * (phi68[1] - phi68[0])
    elif sigma is not None and np.isfinite(sigma):
        errors["volfraction"] = float(sigma)
    fit = getattr(result, "fit", None)
    if fit is None or u is None or values is None or fit.parametrization not in ("histogram", "schulz3"):
        return errors
    par = fit.parameters
    if "scale" in par and par["scale"][0] > 0:
        errors["scale"] = abs(values["scale"]) * par["scale"][1] / par["scale"][0]
    if "background" in par:
        errors["background"] = par["background"][1]
    active = [k for k in (1, 2, 3) if values.get(f"fraction{k}", 0.0) > 0]
    if fit.parametrization == "histogram":
        if len(active) == 1 and np.isfinite(u.mean_radius_number_sigma):
            errors[f"radius{active[0]}"] = float(u.mean_radius_number_sigma)
        return errors
    f68 = (u.calibration or {}).get("factors", {}).get("mean_radius_number", (1.0, 1.0))[0]
    factor = f68 * float((u.diagnostics or {}).get("observability_factor", 1.0))
    free = free_parameters(values)
    fitted = [j for j in range(3) if f"mean{j}" in par and f"pd{j}" in par]
    for k in active:
        r, pd, share = values[f"radius{k}"], values[f"pd{k}"], values[f"fraction{k}"]
        match = [j for j in fitted if abs(par[f"mean{j}"][0] / r - 1) < 0.05 and abs(par[f"pd{j}"][0] - pd) < 0.05]
        if not match:
            continue
        j = min(match, key=lambda j: abs(par[f"mean{j}"][0] - r))
        errors[f"radius{k}"] = factor * par[f"mean{j}"][1]
        errors[f"pd{k}"] = factor * par[f"pd{j}"][1]
        weight = par.get(f"weight{j}")
        if f"fraction{k}" in free and weight is not None and weight[0] > 0:   # share s = w / sum(w)
            errors[f"fraction{k}"] = factor * weight[1] * share * (1 - share) / weight[0]
    return errors


@lru_cache(maxsize=1)
def load_plugin_module():
    """The plugin model file as a Python module (its ``Iq`` evaluates the model without sasmodels); loaded once."""
    spec = importlib.util.spec_from_file_location(PLUGIN_NAME, plugin_model_path())
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_parameters(values: dict[str, float]) -> set[str]:
    """What a fit of ``nn_spheres_hs`` should vary: scale, background, radius and pd of each component with
    volume, and the volume shares except the largest (the shares are normalised, so one of them is redundant).
    Shared by project files and SasView's "Neural-network start"."""
    active = [k for k in (1, 2, 3) if values.get(f"fraction{k}", 0.0) > 0]
    largest = max(active, key=lambda k: values[f"fraction{k}"], default=None)
    free = {"scale", "background"}
    for k in active:
        free |= {f"radius{k}", f"pd{k}"} | ({f"fraction{k}"} if k != largest else set())
    return free


def fitted_q_range(result) -> tuple[float, float]:
    """The q range (1/A) a result describes: a refinement's points fitted (all the data, or the window it fell
    back to), else the network's window (``result.q_range``)."""
    fit = getattr(result, "fit", None)
    return (float(fit.q[0]), float(fit.q[-1])) if fit is not None else tuple(result.q_range)


def plugin_parameters(result, components: list[tuple[float, float, float]] | None = None) -> PluginParameters:
    """Plugin parameters for an :class:`~sasview_nn_plugin.inference.result.Inversion` (with or without a fit).

    The size distribution is summarised as up to three Schulz components (``components`` =
    [(mean A, pd, volume share)], default: fitted to the result's histogram); scale and background (and, where
    the result's check fitted a low-q power law A q^-p, its scale at the result's exponent: ``power_law_scale``,
    ``power_law_exponent``, both free) are then fitted (least squares; scale >= 0, the background as the check holds
    it) to the data inside
    :func:`fitted_q_range`.
    """
    from ..data.validation import relative_sigma
    from ..fitting.parametrisations import schulz3_components
    from ..inference.quality import nnls_scale_background

    comps = components if components is not None else schulz3_components(result.radius, result.number_distribution)
    values = {"sld": 1.0, "sld_solvent": 6.0, "volfraction": float(result.volume_fraction)}
    for k in range(3):
        mean, pd, share = comps[k] if k < len(comps) else (float(result.radius[len(result.radius) // 2]), 0.1, 0.0)
        n = k + 1
        values |= {f"radius{n}": float(mean), f"pd{n}": float(pd), f"fraction{n}": float(share)}
    free = free_parameters(values)
    q, y, di = result.q_data, result.intensity_data, result.di_data
    lo, hi = fitted_q_range(result)
    sel = (q >= lo * (1 - 1e-9)) & (q <= hi * (1 + 1e-9))
    slit = getattr(getattr(result, "curve", None), "slit_length", None)
    if slit is not None:   # slit-smeared data (the whole-curve network's): the page's curves smeared with the slit
        from ..physics.smearing import slit_resolution

        q_calc, weights = slit_resolution(q[sel], float(np.max(slit)))

        def on_data(f):
            return f(q_calc) @ weights
    else:
        def on_data(f):
            return f(q[sel])
    shape = on_data(lambda x: load_plugin_module().Iq(x, **values))
    sigma = relative_sigma(y[sel]) if di is None else di[sel]
    quality = getattr(result, "quality", None)
    upturn = None if quality is None else quality.power_law
    if upturn is None:
        scale, bkg = nnls_scale_background(shape, y[sel], sigma)
        values |= {"power_law_scale": 0.0, "power_law_exponent": 4.0}
    else:   # the result's low-q power law A q^-p: inside the plugin's scale, I = scale (spheres + A' q^-p) + bkg
        from ..inference.quality_model import nnls_columns
        from ..physics.scattering import power_law

        upturn_curve = on_data(lambda x: power_law(x, upturn[0]))
        scale, bkg, amp = nnls_columns(np.stack([shape, np.ones_like(shape), upturn_curve], axis=1), y[sel], sigma)
        values |= {"power_law_scale": float(amp / scale) if scale > 0 else 0.0,
                   "power_law_exponent": float(upturn[0])}
        free |= {"power_law_scale", "power_law_exponent"}
    values |= {"scale": float(scale), "background": float(bkg)}
    return PluginParameters(values, free, parameter_errors(result, values))


def _array(x) -> dict:
    return {"__type__": "ndarray", "data": np.asarray(x, dtype=float).tolist()}


def _vector() -> dict:
    return {"__type__": "Vector", "x": None, "y": None, "z": None}


def data1d_record(name: str, path: str, q, intensity, di, dq, data_id: str, dxl=None) -> dict:
    """SasView's serialised ``sas.qtgui.Plotting.PlotterData.Data1D`` (every attribute it writes); ``dxl``: the
    slit length per point (slit-smeared data), which SasView's smearing reads."""
    n = len(q)
    dy = np.zeros(n) if di is None else di
    dx = np.zeros(n) if dq is None else dq
    view = {"__type__": "View", "x": _array(q), "y": _array(intensity), "dx": _array(dx), "dy": _array(dy),
            "Xreel": _array(q), "Yreel": _array(intensity), "DXreel": _array(dx), "DYreel": _array(dy),
            "funcx": None, "funcy": None, "funcdx": None, "funcdy": None, "xLabel": "", "yLabel": ""}
    return {
        "__type__": "Data1D", "x": _array(q), "y": _array(intensity), "dx": _array(dx), "dy": _array(dy),
        "dxl": None if dxl is None else _array(dxl),
        "dxw": None, "_xaxis": "\\rm{Q}", "_xunit": "A^{-1}", "_yaxis": "\\rm{Intensity}",
        "_yunit": "cm^{-1}", "x_unit": "1/A", "y_unit": "1/cm", "collimation": [], "detector": [], "process": [],
        "trans_spectrum": [], "errors": [], "notes": ["inverted by sasview_nn_plugin"], "run": [], "run_name": {},
        "meta_data": {"loader": "sasview_nn_plugin"}, "custom_color": None, "filename": name, "title": name,
        "name": name, "path": path, "id": data_id, "group_id": data_id, "list_group_id": [], "instrument": "",
        "label": "data", "is_data": True, "isSesans": False, "hide_error": False, "interactive": True,
        "markersize": 3, "symbol": 0, "zorder": 1, "plot_role": 1, "scale": None, "xtransform": None,
        "ytransform": None, "view": view, "sample": {"__type__": "Sample", "details": [], "orientation": _vector(),
                                                     "position": _vector()},
        "source": {"__type__": "Source", "beam_size": _vector()}, "show_q_range_sliders": False,
        "slider_high_q_getter": [], "slider_high_q_input": [], "slider_high_q_setter": [],
        "slider_low_q_getter": [], "slider_low_q_input": [], "slider_low_q_setter": [],
        "slider_perspective_name": "", "slider_tab_name": "", "slider_update_on_move": True,
    }


def fit_page(pars: PluginParameters, name: str, data_id: str, tab_index: int, q_range: tuple[float, float],
             has_dq: bool, has_di: bool = False) -> dict:
    """One Fitting page: model, parameter rows ``[fit?, value, error, min, max, []]``, q range, smearing, weighting
    ("Use dI Data" where the data have dI, as SasView itself chooses on loading such data; else "None")."""
    module = load_plugin_module()
    weighting = "1" if has_di else "0"
    bounds = {p[0]: p[3] for p in module.parameters} | {"scale": [0.0, np.inf], "background": [-np.inf, np.inf]}
    page = {"model_name": [PLUGIN_NAME], PLUGIN_NAME: [None, "", None, "", "", []],
            "fitpage_category": ["Plugin Models"], "fitpage_model": [PLUGIN_NAME], "fitpage_structure": ["None"],
            "is_data": ["True"], "tab_index": [str(tab_index)], "is_batch_fitting": ["False"],
            "data_name": [[name]], "data_id": [[data_id]], "tab_name": [f"M{tab_index}"],
            "q_range_min": [repr(float(q_range[0]))], "q_range_max": [repr(float(q_range[1]))],
            # SasView's weighting buttons by index: 0 None, 1 "Use dI Data" (tests/test_sasview_api.py)
            "q_weighting": [weighting], "weighting": [weighting], "smearing": ["1" if has_dq else "0"],
            "smearing_min": ["None"], "smearing_max": ["None"], "polydisperse_params": ["False"],
            "magnetic_params": ["False"], "chainfit_params": ["False"], "2D_params": ["False"]}
    for key in ("scale", "background", *(p[0] for p in module.parameters)):
        lo, hi = bounds[key]
        err = repr(float(pars.errors[key])) if key in pars.errors else None
        page[key] = [str(key in pars.free), repr(float(pars.values[key])), err, repr(float(lo)), repr(float(hi)), []]
    return page


def project_dict(entries: list[dict]) -> dict:
    """A project from entries ``{name, path, q, intensity, di, dq, parameters: PluginParameters, q_range}`` (and
    ``slit_length`` per point for slit-smeared data: SasView then smears with the slit, "Use dQ Data")."""
    project: dict = {"is_batch": "False", "batch_grid": {}, "visible_perspective": "Fitting"}
    stamp = time.time()
    for k, e in enumerate(entries, start=1):
        data_id = f"{e['name']}{stamp + k * 1e-3:.4f}"
        data = data1d_record(e["name"], e["path"], e["q"], e["intensity"], e["di"], e["dq"], data_id,
                             e.get("slit_length"))
        page = fit_page(e["parameters"], e["name"], data_id, k, e["q_range"],
                        e["dq"] is not None or e.get("slit_length") is not None,
                        e["di"] is not None and bool(np.any(np.asarray(e["di"]) > 0)))
        project[data_id] = {"fit_data": [data, {"checked": True}, []], "fit_params": [page]}
    return project


def write_project(path, entries: list[dict]) -> Path:
    """Write a SasView project file (atomically)."""
    from ..data.files import write_atomic

    return write_atomic(path, json.dumps(project_dict(entries), indent=1, allow_nan=True))
