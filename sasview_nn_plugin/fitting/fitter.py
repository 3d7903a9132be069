"""The ``nn-lm`` and ``nn-dream`` bumps fitters: start a fit from the network, then LM (or DREAM).

Registered with ``bumps.fitters.register`` as soon as ``bumps.fitters`` is imported in a process that
imported this package, so ``bumps.fitters.fit(problem, method="nn-lm")`` and ``bumps --fit=nn-lm
model.py`` (for a model file that imports ``sasview_nn_plugin``) work.  Supported: FitProblems whose
fitnesses are ``sasmodels.bumps_model.Experiment``s on ``sphere@hardsphere`` with Schulz, log-normal
or Gaussian radius dispersion, or on this project's SasView plugin model ``nn_spheres_hs`` (its
three Schulz components are set from the network's distribution).  Only parameters that are free
in the problem are set.
"""

from __future__ import annotations

import numpy as np

SUPPORTED = ("sasmodels Experiments on sphere@hardsphere (schulz, lognormal or gaussian radius dispersion) "
             "or on the nn_spheres_hs plugin model")
PLUGIN = "nn_spheres_hs"


def _experiments(problem):
    models = list(getattr(problem, "models", [])) or [getattr(problem, "fitness", None)]
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


def network_start(problem, model: str | None = None) -> None:
    """Set the size-distribution parameters and scale of each supported Experiment from the network."""
    from ..inference.invert import invert, nnls_scale_background

    for exp in _experiments(problem):
        m = exp.model
        data = exp._data
        keep = np.isfinite(data.y) & (data.y > 0)
        dy = None if getattr(data, "dy", None) is None or not np.any(data.dy) else np.asarray(data.dy)[keep]
        plugin = exp.model.sasmodel.info.id == PLUGIN
        kind = None if plugin else str(getattr(m, "radius_pd_type", "gaussian"))
        if not plugin:
            if kind == "array":
                raise ValueError("nn-lm cannot start an 'array' radius dispersion: its weights are data, not fit "
                                 "parameters; use sasview_nn_plugin.fitting.refine.refine (histogram) or the "
                                 "nn_spheres_hs "
                                 f"model instead. Supported: {SUPPORTED}")
            if kind not in ("schulz", "lognormal", "gaussian"):
                raise ValueError(f"nn-lm cannot map radius dispersion {kind!r}; supported: {SUPPORTED}")
        res = invert(np.asarray(data.x)[keep], np.asarray(data.y)[keep], dy,
                     volume_fraction=float(m.volfraction.value), model=model)
        if plugin:
            _set_plugin_components(m, res)
        else:
            _set_dispersion(m, res, kind)
        # scale: one linear least-squares step at the new shape
        problem.setp(problem.getp())
        bkg = float(m.background.value)
        shape = (np.asarray(exp.theory()) - bkg)[keep]
        y = np.asarray(data.y)[keep]
        s, _ = nnls_scale_background(shape, y - bkg, dy if dy is not None else y)
        if s > 0:
            _set(m.scale, m.scale.value * s)
    problem.setp(problem.getp())


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
    from .refine import schulz3_components

    comps = schulz3_components(res.radius, res.number_distribution)
    for k in range(3):
        mean, pd, share = comps[k] if k < len(comps) else (None, None, 0.0)
        if mean is not None:
            _set(getattr(m, f"radius{k + 1}"), mean)
            _set(getattr(m, f"pd{k + 1}"), pd)
        _set(getattr(m, f"fraction{k + 1}"), share)


def register() -> None:
    """Register ``nn-lm`` and ``nn-dream`` with bumps (idempotent)."""
    from bumps import fitters

    def started(base, fitter_id, label):
        class NetworkStarted(base):
            __doc__ = f"bumps' {base.id} started from the neural network's guess."
            name = label
            id = fitter_id

            def solve(self, monitors, mapper=None, **options):
                network_start(self.problem)
                return super().solve(monitors, mapper, **options)

        NetworkStarted.__name__ = NetworkStarted.__qualname__ = f"NN{base.__name__}"
        return NetworkStarted

    for base, fitter_id, label in ((fitters.MPFit, "nn-lm", "Neural-network start + Levenberg-Marquardt"),
                                   (fitters.DreamFit, "nn-dream", "Neural-network start + DREAM")):
        if fitter_id not in fitters.FIT_AVAILABLE_IDS:
            fitters.register(started(base, fitter_id, label), active=True)


class _RegisterOnImport:
    """Meta-path hook: register ``nn-lm`` right after ``bumps.fitters`` is first imported, so that
    importing this package stays cheap (bumps.fitters takes ~0.9 s to import) in either order."""

    def find_spec(self, name, path=None, target=None):
        if name != "bumps.fitters":
            return None
        import importlib.util
        import sys

        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_register(module):
            exec_module(module)
            try:
                register()
            except Exception:  # never break bumps itself
                pass

        spec.loader.exec_module = exec_and_register
        return spec


def register_when_bumps_loads() -> None:
    """Register now if bumps.fitters is loaded, else as soon as it is."""
    import sys

    if "bumps.fitters" in sys.modules:
        register()
    elif not any(isinstance(f, _RegisterOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterOnImport())
