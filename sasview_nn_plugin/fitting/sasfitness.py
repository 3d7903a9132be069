"""SasView's fit objects as :func:`sasview_nn_plugin.fitting.network_start.network_start` (the nn-lm start) sees them.

SasView 6.x fits with ``sas.sascalc.fit.BumpsFitting.SasFitness``: it wraps a ``SasviewModel`` (its ``.model``;
``_model_info.id`` names the sasmodels model), holds one bumps ``Parameter`` per model parameter in
``_pars`` and its data as a ``FitData1D`` (``x``, ``y``, ``dy`` and ``idx``, the points inside the page's q
range).  :func:`as_experiment` gives it the surface of a ``sasmodels.bumps_model.Experiment`` that
``network_start`` reads (``.model.<parameter>``, ``.model.sasmodel.info.id``, ``Iq``, ``dIq``, ``resolution.q``,
``theory()``) and :class:`ViewProblem` a FitProblem of such views, so the ``nn-lm`` fitters and SasView's
"Neural-network start" share one implementation.  Nothing here imports SasView.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np


def is_sasfitness(m) -> bool:
    """Whether ``m`` is (duck-typed) SasView's ``SasFitness``."""
    return type(m).__name__ == "SasFitness" and hasattr(m, "_pars") and hasattr(m, "data")


def model_id(sasview_model) -> str | None:
    """The sasmodels id of a SasviewModel (``nn_spheres_hs`` for the plugin), or None."""
    info = getattr(sasview_model, "_model_info", None)
    return getattr(info, "id", None)


class _Parameters:
    """``exp.model``: the fitness's bumps parameters as attributes, plus ``sasmodel.info.id``."""

    def __init__(self, fitness):
        self._fitness = fitness
        self.sasmodel = SimpleNamespace(info=SimpleNamespace(id=model_id(fitness.model)))

    def __getattr__(self, name):
        try:
            return self.__dict__["_fitness"]._pars[name]
        except KeyError:
            raise AttributeError(name) from None


class SasFitnessView:
    """A ``SasFitness`` seen as a sasmodels ``Experiment``: its points are the fitted ones (inside the q range)."""

    data_type = "Iq"

    def __init__(self, fitness):
        self.fitness = fitness
        self.model = _Parameters(fitness)
        d = fitness.data
        idx = np.asarray(getattr(d, "idx", np.ones(len(d.x), bool)), dtype=bool)
        dy = getattr(d, "dy", None)
        self.Iq = np.asarray(d.y, float)[idx]
        self.dIq = None if dy is None else np.asarray(dy, float)[idx]
        dx = getattr(d, "dx", None)   # SasView's pinhole dQ (1-sigma, 1/A), as sasdata reads it; None or zeros: none
        width = None if dx is None or np.ndim(dx) != 1 or len(dx) != len(d.x) else np.asarray(dx, float)[idx]
        self.resolution = SimpleNamespace(q=np.asarray(d.x, float)[idx],
                                          q_width=width if width is not None and np.all(width > 0) else None)
        self.slit_length = _slit_length(d, idx)
        self._data = SimpleNamespace(x=self.resolution.q, y=self.Iq, dy=self.dIq)

    def theory(self) -> np.ndarray:
        """I(q) at the fitted points (SasView's resolution smearing included)."""
        return np.asarray(self.fitness.theory(), float)


def _slit_length(d, idx) -> np.ndarray | None:
    """The slit length (1/A) per fitted point, or None: SasView's ``FitData1D`` keeps the loaded ``Data1D`` as
    ``sas_data``, whose ``dxl`` (CanSAS dQl, NIST USANS .ABS files) SasView's slit smearer uses."""
    for source in (getattr(d, "sas_data", None), d):
        dxl = getattr(source, "dxl", None)
        if dxl is not None and np.ndim(dxl) == 1 and len(dxl) == len(d.x) and np.any(np.asarray(dxl, float) > 0):
            return np.asarray(dxl, float)[idx]
    return None


def as_experiment(m):
    """``m`` itself, or a :class:`SasFitnessView` of it if it is SasView's ``SasFitness``."""
    return SasFitnessView(m) if is_sasfitness(m) else m


class ViewProblem:
    """A bumps ``FitProblem`` whose ``models`` are seen through :func:`as_experiment` (setp/getp its own)."""

    def __init__(self, problem):
        self.problem = problem
        self.models = [as_experiment(m) for m in problem.models]

    def getp(self):
        return self.problem.getp()

    def setp(self, pvec) -> None:
        self.problem.setp(pvec)
