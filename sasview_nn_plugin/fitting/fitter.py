"""The ``nn-lm`` and ``nn-dream`` bumps fitters: start a fit from the network, then LM (or DREAM).

bumps' own extension point: module-level fitter classes (``id``, ``name``, ``settings``, ``solve``)
and ``bumps.fitters.register``, called once when this module is imported.  So::

    import sasview_nn_plugin.fitting.fitter          # registers nn-lm and nn-dream
    bumps.fitters.fit(problem, method="nn-lm")

``import sasview_nn_plugin`` alone does not import bumps and registers nothing.  bumps' command line
checks ``--fit`` before it runs the model file: ``sasview-nn-bumps`` (:mod:`.bumps_cli`) is bumps'
command line with this module imported first.

Supported: FitProblems whose fitnesses are ``sasmodels.bumps_model.Experiment``s on
``sphere@hardsphere`` with Schulz, log-normal or Gaussian radius dispersion, or on this project's
SasView plugin model ``nn_spheres_hs`` (its three Schulz components are set from the network's
distribution); see :func:`.refine.network_start`, which sets only the parameters free in the problem.
"""

from __future__ import annotations

from bumps import fitters

from .network_start import PLUGIN, SUPPORTED, network_start

__all__ = ["NNMPFit", "NNDreamFit", "network_start", "PLUGIN", "SUPPORTED"]


class NNMPFit(fitters.MPFit):
    """bumps' Levenberg-Marquardt (``lm``, MPFit) started from the neural network's guess."""

    id = "nn-lm"
    name = "Neural-network start + Levenberg-Marquardt"
    settings = fitters.MPFit.settings

    def solve(self, monitors=None, mapper=None, **options):
        network_start(self.problem)
        return super().solve(monitors, mapper, **options)


class NNDreamFit(fitters.DreamFit):
    """bumps' DREAM (``dream``) started from the neural network's guess."""

    id = "nn-dream"
    name = "Neural-network start + DREAM"
    settings = fitters.DreamFit.settings

    def solve(self, monitors=None, mapper=None, **options):
        network_start(self.problem)
        return super().solve(monitors, mapper, **options)


for _fitter in (NNMPFit, NNDreamFit):
    fitters.register(_fitter, active=True)
del _fitter
