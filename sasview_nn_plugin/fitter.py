"""The ``nn-lm`` bumps fitter: start a sasmodels ``sphere@hardsphere`` fit from the network, then LM.

Registered with ``bumps.fitters.register`` when the package is imported (if bumps is installed), so
``bumps.fitters.fit(problem, method="nn-lm")`` and ``bumps --fit=nn-lm model.py`` (for a model file
that imports ``sasview_nn_plugin``) work.  Supported: FitProblems whose fitness is a
``sasmodels.bumps_model.Experiment`` on ``sphere@hardsphere`` with Schulz, log-normal or Gaussian
radius dispersion.  Only parameters that are free in the problem are set.
"""

from __future__ import annotations

import numpy as np

SUPPORTED = "sasmodels sphere@hardsphere Experiments with schulz, lognormal or gaussian radius dispersion"


def _experiments(problem):
    models = list(getattr(problem, "models", [])) or [getattr(problem, "fitness", None)]
    out = []
    for m in models:
        sasmodel = getattr(getattr(m, "model", None), "sasmodel", None)
        info = getattr(sasmodel, "info", None)
        if info is None or info.id != "sphere@hardsphere":
            name = getattr(info, "id", type(m).__name__)
            raise ValueError(f"nn-lm cannot map a fit of {name!r}; supported: {SUPPORTED}")
        out.append(m)
    return out


def _set(par, value):
    if not par.fixed:
        lo, hi = par.bounds if hasattr(par, "bounds") and par.bounds is not None else (-np.inf, np.inf)
        par.value = float(np.clip(value, lo, hi))


def network_start(problem, model: str | None = None) -> None:
    """Set radius, radius_pd and scale of each sphere@hardsphere Experiment from the network."""
    from .invert import invert, nnls_scale_background

    for exp in _experiments(problem):
        m = exp.model
        kind = str(getattr(m, "radius_pd_type", "gaussian"))
        if kind not in ("schulz", "lognormal", "gaussian"):
            raise ValueError(f"nn-lm cannot map radius dispersion {kind!r}; supported: {SUPPORTED}")
        data = exp._data
        keep = np.isfinite(data.y) & (data.y > 0)
        dy = None if getattr(data, "dy", None) is None or not np.any(data.dy) else np.asarray(data.dy)[keep]
        res = invert(np.asarray(data.x)[keep], np.asarray(data.y)[keep], dy,
                     volume_fraction=float(m.volfraction.value), model=model)
        w, r = res.number_distribution, res.radius
        if kind == "lognormal":  # sasmodels: radius is the median, pd the sigma of ln R
            mu = w @ np.log(r)
            centre, width = np.exp(mu), np.sqrt(w @ (np.log(r) - mu) ** 2)
        else:  # schulz and gaussian: pd = sigma / mean
            centre = w @ r
            width = np.sqrt(w @ (r - centre) ** 2) / centre
        _set(m.radius, centre)
        _set(m.radius_pd, max(width, 0.01))
        # scale: one linear least-squares step at the new shape
        problem.setp(problem.getp())
        bkg = float(m.background.value)
        shape = (np.asarray(exp.theory()) - bkg)[keep]
        y = np.asarray(data.y)[keep]
        s, _ = nnls_scale_background(shape, y - bkg, dy if dy is not None else y)
        if s > 0:
            _set(m.scale, m.scale.value * s)
    problem.setp(problem.getp())


def register() -> None:
    """Register ``nn-lm`` with bumps (idempotent)."""
    from bumps import fitters

    if "nn-lm" in fitters.FIT_AVAILABLE_IDS:
        return

    class NNLMFit(fitters.MPFit):
        """bumps' LM (MPFit) started from the network's guess."""

        name = "Neural-network start + Levenberg-Marquardt"
        id = "nn-lm"

        def solve(self, monitors, mapper=None, **options):
            network_start(self.problem)
            return super().solve(monitors, mapper, **options)

    fitters.register(NNLMFit, active=True)


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
