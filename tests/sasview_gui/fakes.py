"""A stand-in for SasView's ``sas.sascalc.fit.BumpsFitting.SasFitness`` (same surface; evaluates the plugin
model itself, slit-smeared with sasmodels' Slit1D where ``dxl`` is given), for tests that run without SasView.
Importable from a fresh interpreter: numpy, bumps and sasview_nn_plugin.sasview.project only (sasmodels for slits)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np


class SasFitness:
    """Stand-in for SasView's SasFitness (the class name is how it is recognised)."""

    def __init__(self, q, y, dy, fitted=(), q_range=(0.0, np.inf), model_id="nn_spheres_hs", dxl=None, **values):
        from bumps.parameter import Parameter

        from sasview_nn_plugin.sasview.project import load_plugin_module

        self._mod = load_plugin_module()
        self.model = SimpleNamespace(_model_info=SimpleNamespace(id=model_id))
        defaults = {p[0]: p[2] for p in self._mod.parameters} | {"scale": 1.0, "background": 0.001} | values
        bounds = {p[0]: tuple(p[3]) for p in self._mod.parameters} | {"scale": (0, np.inf),
                                                                      "background": (-np.inf, np.inf)}
        self._pars = {k: Parameter(v, bounds=bounds[k], name=k, fixed=k not in fitted) for k, v in defaults.items()}
        self.data = SimpleNamespace(x=np.asarray(q), y=np.asarray(y), dy=np.asarray(dy),
                                    idx=(np.asarray(q) >= q_range[0]) & (np.asarray(q) <= q_range[1]))
        self._slit = None
        if dxl is not None:   # slit-smeared data: FitData1D keeps the loaded Data1D (with dxl) as sas_data
            from sasmodels.resolution import Slit1D

            dxl = np.broadcast_to(np.asarray(dxl, float), np.shape(q))
            self.data.sas_data = SimpleNamespace(x=self.data.x, y=self.data.y, dxl=dxl, dxw=None)
            self._slit = Slit1D(self.data.x, q_length=float(dxl[0]))   # SasView's slit smearer, one slit length
        self.updates = 0

    def parameters(self):
        return self._pars

    def update(self):
        self.updates += 1

    def theory(self):
        v = {k: p.value for k, p in self._pars.items()}
        scale, bkg = v.pop("scale"), v.pop("background")
        if self._slit is not None:
            return scale * self._slit.apply(self._mod.Iq(self._slit.q_calc, **v))[self.data.idx] + bkg
        return scale * self._mod.Iq(self.data.x[self.data.idx], **v) + bkg

    def residuals(self):
        d = self.data
        return (d.y[d.idx] - self.theory()) / d.dy[d.idx]

    def numpoints(self):
        return int(np.sum(self.data.idx))

    def nllf(self):
        return 0.5 * float(np.sum(self.residuals() ** 2))
