r"""
Polydisperse spheres with a Percus-Yevick hard-sphere structure factor, whose number size
distribution is a mixture of up to three Schulz components.  This is the model that
``sasview_nn_plugin`` inverts: its network's distribution, summarised as a Schulz mixture, is the
starting point written into SasView project files.

Definition
----------

.. math::

    I(q) = \text{scale}\,\phi\,\frac{\sum_i w_i F_i^2(q)}{\sum_i w_i V_i}\,S_{PY}(q; R_{eff}, \phi)
           + \text{background}

with :math:`F_i(q) = 10^{-2}\,\Delta\rho\,V_i\,3 j_1(qR_i)/(qR_i)` (so :math:`F^2` carries
sasmodels' 1e-4 factor and the result is in 1/cm for scale = 1), :math:`\phi` = *volfraction*,
:math:`R_{eff} = \sum_i w_i R_i / \sum_i w_i` (the number-mean radius: sasmodels'
``radius_effective_mode=1``), decoupling approximation (``structure_factor_mode=0``).  This is
what sasmodels' ``sphere@hardsphere`` computes with scale = 1, an array radius distribution
:math:`w_i` and volfraction = :math:`\phi` (sasmodels' ``sphere`` alone uses scale = volume fraction;
here the volume fraction is a parameter of its own and scale = 1 means absolute units).

The radius distribution: component *k* is a Schulz distribution (sasmodels' convention, number
weighted) with mean *radius_k* and relative width *pd_k* = sigma/mean; *fraction_k* is its share
of the particle **volume** (the fractions are normalised by their sum).  It is evaluated on 240
bins spanning the 1e-7 to 1 - 1e-7 quantiles of all components; the weights are the bin masses.

Written for SasView 6.x / sasmodels 1.x as a pure-Python model (no compilation).
"""

import numpy as np
from numpy import inf

name = "nn_spheres_hs"
title = "Spheres (3 Schulz components) with hard-sphere S(q): sasview_nn_plugin"
description = """
    Polydisperse spheres, size distribution = volume-weighted mixture of up to three Schulz
    components, Percus-Yevick hard-sphere S(q) with R_eff = number-mean radius (decoupling).
    scale = 1 gives absolute units (1/cm); the volume fraction is 'volfraction'.
"""
category = "plugin"

# pylint: disable=bad-whitespace, line-too-long
#   ["name", "units", default, [lower, upper], "type", "description"],
parameters = [
    ["sld", "1e-6/Ang^2", 1.0, [-inf, inf], "sld", "Particle scattering length density"],
    ["sld_solvent", "1e-6/Ang^2", 6.0, [-inf, inf], "sld", "Solvent scattering length density"],
    ["volfraction", "", 0.3, [0.0, 0.74], "", "Particle volume fraction (hard-sphere S(q))"],
    ["radius1", "Ang", 40.0, [1.0, inf], "", "Mean radius of component 1"],
    ["pd1", "", 0.1, [0.005, 1.0], "", "Relative width sigma/mean of component 1"],
    ["fraction1", "", 1.0, [0.0, inf], "", "Volume share of component 1"],
    ["radius2", "Ang", 20.0, [1.0, inf], "", "Mean radius of component 2"],
    ["pd2", "", 0.1, [0.005, 1.0], "", "Relative width sigma/mean of component 2"],
    ["fraction2", "", 0.0, [0.0, inf], "", "Volume share of component 2"],
    ["radius3", "Ang", 60.0, [1.0, inf], "", "Mean radius of component 3"],
    ["pd3", "", 0.1, [0.005, 1.0], "", "Relative width sigma/mean of component 3"],
    ["fraction3", "", 0.0, [0.0, inf], "", "Volume share of component 3"],
]
# pylint: enable=bad-whitespace, line-too-long

N_BINS = 240
TAIL = 1e-7


def radius_bins(radii, pds, fractions):
    """Bin edges (A) covering every active component from its TAIL to its 1 - TAIL quantile."""
    from scipy.special import gammaincinv

    lo, hi = [], []
    for r, p, f in zip(radii, pds, fractions, strict=True):
        if f > 0:
            k = 1.0 / p**2  # Schulz = gamma with shape k = z + 1 and mean r
            lo.append(r / k * gammaincinv(k, TAIL))
            hi.append(r / k * gammaincinv(k, 1.0 - TAIL))
    if not lo:
        return None
    return np.linspace(max(min(lo), 0.0), max(hi), N_BINS + 1)


def number_weights(edges, radii, pds, fractions):
    """Number weights per bin (sum 1) of the volume-weighted Schulz mixture on ``edges`` (A)."""
    from scipy.special import gammainc

    centres = 0.5 * (edges[1:] + edges[:-1])
    volume = np.zeros(len(centres))
    for r, p, f in zip(radii, pds, fractions, strict=True):
        if f > 0:
            k = 1.0 / p**2
            mass = np.diff(gammainc(k, edges * k / r))
            v = mass * centres**3
            if v.sum() > 0:
                volume += f * v / v.sum()
    number = volume / centres**3
    return centres, number / number.sum()


def hardsphere_sq(q, radius_effective, volfraction):
    """Percus-Yevick S(q) as in sasmodels' hardsphere.c (double precision, Taylor series at small x)."""
    phi = volfraction
    d = 1.0 / (1.0 - phi) ** 2
    a = ((1.0 + 2.0 * phi) * d) ** 2
    b = -6.0 * phi * ((1.0 + 0.5 * phi) * d) ** 2
    g = 0.5 * phi * a
    x = np.abs(2.0 * radius_effective * q)
    with np.errstate(divide="ignore", invalid="ignore"):
        x2, s, c = x * x, np.sin(x), np.cos(x)
        ff = (a * (s - x * c) / x2 + b * (2.0 * x * s - (x2 - 2.0) * c - 2.0) / (x2 * x)
              + g * (-x2 * x2 * c + 4.0 * ((3.0 * x2 - 6.0) * c + (x2 * x - 6.0 * x) * s + 6.0)) / (x2 * x2 * x))
        sq = 1.0 / (1.0 + 24.0 * phi * ff / x)
    taylor = 8.0 * a + 6.0 * b + 4.0 * g + (-0.8 * a - b / 1.5 - 0.5 * g + (a / 35.0 + 0.0125 * b + 0.02 * g) * x2) * x2
    sq = np.where(x < 0.05, 1.0 / (1.0 + phi * taylor), sq)
    return np.where(x < 5e-6, 1.0 / a, sq)


def Iq(q, sld=1.0, sld_solvent=6.0, volfraction=0.3,
       radius1=40.0, pd1=0.1, fraction1=1.0,
       radius2=20.0, pd2=0.1, fraction2=0.0,
       radius3=60.0, pd3=0.1, fraction3=0.0):
    """I(q) in 1/cm (before scale and background); q in 1/A."""
    q = np.asarray(q, dtype=float)
    radii, pds, fractions = (radius1, radius2, radius3), (pd1, pd2, pd3), (fraction1, fraction2, fraction3)
    edges = radius_bins(radii, pds, fractions)
    if edges is None:
        return np.full(q.shape, np.nan)  # no component has volume: an invalid parameter set
    r, w = number_weights(edges, radii, pds, fractions)
    v = 4.0 / 3.0 * np.pi * r**3
    qr = np.outer(r, q)
    with np.errstate(divide="ignore", invalid="ignore"):
        j = np.where(qr > 1e-6, 3.0 * (np.sin(qr) - qr * np.cos(qr)) / qr**3, 1.0 - qr * qr / 10.0)
    f = 1e-2 * (sld - sld_solvent) * v[:, None] * j
    p = w @ (f * f)
    return volfraction * p / (w @ v) * hardsphere_sq(q, w @ r, volfraction)


Iq.vectorized = True  # Iq accepts an array of q values


def random():
    """A random parameter set (used by sasmodels' model tests)."""
    return dict(radius1=10 ** np.random.uniform(1, 2), pd1=np.random.uniform(0.05, 0.4),
                volfraction=np.random.uniform(0.05, 0.5))


# volume fraction -> 0, one narrow Schulz component: I(0) = 1e-4 drho^2 (4 pi / 3) <R^6> / <R^3>,
# with <R^6> / <R^3> = mean^3 (k + 3)(k + 4)(k + 5) / k^3 for shape k = 1 / pd^2
_K = 1.0 / 0.005**2
tests = [
    [{"volfraction": 1e-9, "radius1": 50.0, "pd1": 0.005, "scale": 1e9, "background": 0.0},
     1e-5, 1e-4 * 25.0 * 4.0 / 3.0 * np.pi * 50.0**3 * (_K + 3) * (_K + 4) * (_K + 5) / _K**3],
]


# -- SasView GUI only: the "Neural-network start" and "Plot size distribution" entries of the Fitting menu --
# When SasView's GUI loads this file (at start-up), the code of sasview_nn_plugin is found in the folder
# sasview_nn_bundle/ next to it (installed by `sasview-nn install-sasview`), or in SasView's own Python.  The
# model above never depends on it, and nothing here can stop SasView from starting: any error is a message
# in SasView's log and status bar.  Outside SasView's GUI this does nothing.
BUNDLE_DIR = "sasview_nn_bundle"


def _sasview_gui_hook():
    import sys

    widgets = sys.modules.get("PySide6.QtWidgets")
    if widgets is None or "sas.qtgui.MainWindow.MainWindow" not in sys.modules:
        return
    app = widgets.QApplication.instance()
    if app is None:
        return
    import logging

    try:
        import os

        bundle = os.path.join(os.path.dirname(os.path.abspath(__file__)), BUNDLE_DIR)
        if os.path.isdir(bundle) and bundle not in sys.path:
            sys.path.insert(0, bundle)
        from sasview_nn_plugin.sasview import menu

        menu.install_when_ready()
    except BaseException as exc:  # noqa: BLE001 - an ImportError, a broken bundle, anything: SasView starts
        text = ("sasview_nn_plugin: the Fitting menu entries 'Neural-network start' and 'Plot size "
                f"distribution' are not available ({type(exc).__name__}: {exc}); the model nn_spheres_hs works. "
                "Reinstall with `sasview-nn install-sasview` or unzip the bundle into the plugin folder.")

        def report(left=1500):   # once SasView's log and status bar exist (timers also fire during start-up)
            try:
                from sas.qtgui.Utilities import GuiUtils, ObjectLibrary

                explorer = ObjectLibrary.getObject("DataExplorer")
                if not hasattr(getattr(explorer, "parent", None), "statusLabel") and left > 0:
                    QTimer.singleShot(200, app, lambda: report(left - 1))
                    return
                logging.getLogger("sasview_nn_plugin").warning(text)
                hub = getattr(GuiUtils, "communicator", None) or GuiUtils.communicate   # SasView 6.2 / 6.1
                hub.statusBarUpdateSignal.emit(text)
            except Exception:  # noqa: BLE001
                logging.getLogger("sasview_nn_plugin").warning(text)

        try:
            from PySide6.QtCore import QTimer

            QTimer.singleShot(0, app, report)
        except Exception:  # noqa: BLE001
            logging.getLogger("sasview_nn_plugin").warning(text)


try:
    _sasview_gui_hook()
except BaseException:  # noqa: BLE001 - never fail the model's loading
    pass
