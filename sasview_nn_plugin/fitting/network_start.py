"""The network start of sasmodels fits: sets a bumps problem of sasmodels ``Experiment``s
(``sphere@hardsphere`` or the SasView plugin model ``nn_spheres_hs``) from the network's inversion.
The first step of the ``nn-lm`` and ``nn-dream`` fitters (:mod:`.fitter`) and of SasView's
"Neural-network start" action; using it registers no bumps fitter.
"""

from __future__ import annotations

import numpy as np

from ..inference.invert import (
    invert,
)
from ..inference.quality import nnls_scale_background
from .parametrisations import schulz3_components

SUPPORTED = ("sasmodels Experiments on sphere@hardsphere (schulz, lognormal or gaussian radius dispersion) "
             "or on the nn_spheres_hs plugin model")
PLUGIN = "nn_spheres_hs"


def pinhole_width(exp, n: int) -> np.ndarray | None:
    """The 1-sigma q resolution (1/A) of an Experiment's fitted points when its resolution is sasmodels' pinhole
    (``Pinhole1D.q_width``, one value per point), else None (slit or perfect resolution: not given to the
    network)."""
    width = getattr(getattr(exp, "resolution", None), "q_width", None)
    if width is None:
        return None
    width = np.broadcast_to(np.asarray(width, float), (n,)) if np.ndim(width) == 0 else np.asarray(width, float)
    return width if width.shape == (n,) and np.all(np.isfinite(width)) and np.all(width > 0) else None


def fitted_points(exp) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(q, I, dI) of the points a sasmodels ``Experiment`` fits, where its ``theory()`` is evaluated.

    From the Experiment's public surface: ``resolution.q``, ``Iq`` and ``dIq`` (the 1D points inside
    its q range; ``fitting.sasfitness.SasFitnessView`` offers the same).  dI is None when the data carry
    no uncertainties (all zero)."""
    if getattr(exp, "data_type", "Iq") != "Iq":
        raise ValueError(f"nn-lm needs 1D I(q) data, not {exp.data_type!r}; supported: {SUPPORTED}")
    q, y, dy = exp.resolution.q, exp.Iq, exp.dIq
    dy = None if dy is None or not np.any(dy) else np.asarray(dy, float)
    return np.asarray(q, float), np.asarray(y, float), dy


def slit_length(exp) -> float | None:
    """The one slit length (1/A) of an Experiment's data (slit-smeared USAXS/USANS), or None: SasView's fit
    objects through :class:`~.sasfitness.SasFitnessView` (its ``slit_length``), a sasmodels Experiment through its
    data's ``dxl``.  InputError when it varies from point to point (the whole-curve model takes one)."""
    from ..errors import InputError

    dxl = getattr(exp, "slit_length", None)
    if dxl is None:
        dxl = getattr(getattr(exp, "_data", None), "dxl", None)
    if dxl is None or not np.any(np.asarray(dxl, float) > 0):
        return None
    dxl = np.asarray(dxl, float)
    if np.ptp(dxl) > 1e-9 * dxl.max():
        raise InputError("the data's slit length varies from point to point; the whole-curve network takes one "
                         "slit length per curve", parameter="slit_length")
    return float(dxl.max())


def inversion_data(exp, wide: bool) -> dict:
    """What :func:`~..inference.invert.invert` reads of an Experiment: its fitted points (``q``, ``intensity``,
    ``dI``), the pinhole ``dq`` or the ``slit_length``, and ``keep``, the points used (finite I; the windowed
    model reads I > 0 only, the whole-curve model keeps I <= 0 points as data)."""
    q, y, dy = fitted_points(exp)
    slit = slit_length(exp)
    dq = None if slit is not None else pinhole_width(exp, len(q))
    keep = np.isfinite(y) & ((y > 0) | wide)
    return {"q": q[keep], "intensity": y[keep], "dI": None if dy is None else dy[keep],
            "dq": None if dq is None else dq[keep], "slit_length": slit, "keep": keep}


def _experiments(problem):
    from .sasfitness import as_experiment  # SasView's SasFitness seen as a sasmodels Experiment

    models = [as_experiment(m) for m in list(getattr(problem, "models", [])) or [getattr(problem, "fitness", None)]]
    out = []
    for m in models:
        sasmodel = getattr(getattr(m, "model", None), "sasmodel", None)
        info = getattr(sasmodel, "info", None)
        if info is None or info.id not in ("sphere@hardsphere", PLUGIN):
            name = getattr(info, "id", type(m).__name__)
            raise ValueError(f"nn-lm cannot map a fit of {name!r}; supported: {SUPPORTED}")
        out.append(m)
    return out


def _set(par, value):
    if not par.fixed:
        lo, hi = par.bounds if hasattr(par, "bounds") and par.bounds is not None else (-np.inf, np.inf)
        par.value = float(np.clip(value, lo, hi))


def network_start(problem, model=None) -> list:
    """Set the size-distribution parameters and scale of each supported Experiment of a bumps
    ``FitProblem`` from the network (``model``: an NNModel or WideModel, a model name or file, e.g. ``"wide"``;
    None: the shipped default); returns the inversions, one per Experiment.

    Each Experiment's points (:func:`inversion_data`: pinhole dq or slit length included) are inverted at the
    model's ``volfraction``; only free parameters are set (within their bounds).  ``sphere@hardsphere``:
    ``radius`` and ``radius_pd`` from the network's distribution; ``nn_spheres_hs``: its 1-3 Schulz components
    (:func:`schulz3_components`); then the scale by one linear least-squares step.
    """
    from ..inference.modelfile import DEFAULT_MODEL
    from ..inference.wide_model import wide_model

    model = DEFAULT_MODEL if model is None else model   # named: invert's own default chooses by the curve
    wide = wide_model(model) is not None
    inversions = []
    for exp in _experiments(problem):
        m = exp.model
        plugin = m.sasmodel.info.id == PLUGIN
        kind = None if plugin else str(getattr(m, "radius_pd_type", "gaussian"))
        if not plugin:
            if kind == "array":
                raise ValueError("nn-lm cannot start an 'array' radius dispersion: its weights are data, not fit "
                                 "parameters; use sasview_nn_plugin.fitting.refine.refine (histogram) or the "
                                 "nn_spheres_hs "
                                 f"model instead. Supported: {SUPPORTED}")
            if kind not in ("schulz", "lognormal", "gaussian"):
                raise ValueError(f"nn-lm cannot map radius dispersion {kind!r}; supported: {SUPPORTED}")
        data = inversion_data(exp, wide)
        keep, y, dy = data.pop("keep"), data["intensity"], data["dI"]
        res = invert(**data, volume_fraction=float(m.volfraction.value), model=model)
        inversions.append(res)
        if plugin:
            _set_plugin_components(m, res)
        else:
            _set_dispersion(m, res, kind)
        # scale: one linear least-squares step at the new shape
        problem.setp(problem.getp())
        bkg = float(m.background.value)
        shape = (np.asarray(exp.theory()) - bkg)[keep]
        s, _ = nnls_scale_background(shape, y - bkg, dy if dy is not None else y)
        if s > 0:
            _set(m.scale, m.scale.value * s)
    problem.setp(problem.getp())
    return inversions


def _set_dispersion(m, res, kind: str) -> None:
    """radius and radius_pd of sphere@hardsphere from the network's number distribution."""
    w, r = res.number_distribution, res.radius
    if kind == "lognormal":  # sasmodels: radius is the median, pd the sigma of ln R
        mu = w @ np.log(r)
        centre, width = np.exp(mu), np.sqrt(w @ (np.log(r) - mu) ** 2)
    else:  # schulz and gaussian: pd = sigma / mean
        centre = w @ r
        width = np.sqrt(w @ (r - centre) ** 2) / centre
    _set(m.radius, centre)
    _set(m.radius_pd, max(width, 0.01))


def _set_plugin_components(m, res) -> None:
    """radiusK, pdK, fractionK of nn_spheres_hs from the network's distribution (1-3 Schulz components)."""
    comps = schulz3_components(res.radius, res.number_distribution)
    for k in range(3):
        mean, pd, share = comps[k] if k < len(comps) else (None, None, 0.0)
        if mean is not None:
            _set(getattr(m, f"radius{k + 1}"), mean)
            _set(getattr(m, f"pd{k + 1}"), pd)
        _set(getattr(m, f"fraction{k + 1}"), share)
