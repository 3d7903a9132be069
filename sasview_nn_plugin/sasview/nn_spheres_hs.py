r"""
Polydisperse spheres with a Percus-Yevick hard-sphere structure factor, whose number size
distribution is a mixture of up to three Schulz components.  This is the model that
``sasview_nn_plugin`` inverts: its network's distribution, summarised as a Schulz mixture, is the
starting point written into SasView project files.

Definition
----------

.. math::

    I(q) = \text{scale}\,\Big[\phi\,\frac{\sum_i w_i F_i^2(q)}{\sum_i w_i V_i}\,S_{PY}(q; R_{eff}, \phi)
           + A\,q^{-p}\Big] + \text{background}

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

A low-q power law :math:`A\,q^{-p}` (*power_law_scale* A in 1/cm at q = 1 1/A, *power_law_exponent* p; sasmodels'
``power_law``) is added for the upturn of aggregates, as Irena's Sizes and SasView's Size Distribution offer; its
default A = 0 is the model without it (projects written before it existed load unchanged).

Written for SasView 6.x / sasmodels 1.x as a pure-Python model (no compilation).  The sphere form factor and
the Percus-Yevick S(q) below are a generated copy of ``sasview_nn_plugin/physics/scattering.py`` (the one
implementation, tested equal to sasmodels), so this file needs nothing but numpy and scipy.
"""

from __future__ import annotations

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
    ["power_law_scale", "1/cm", 0.0, [0.0, inf], "", "Low-q power law A q^-p: A (0: none)"],
    ["power_law_exponent", "", 4.0, [1.0, 6.0], "", "Low-q power law A q^-p: the exponent p"],
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


# -- generated from physics/scattering.py by `python -m sasview_nn_plugin.sasview.plugin_source`; do not edit --
DEFAULT_SLD = 1.0
DEFAULT_SLD_SOLVENT = 6.0


def sphere_form(u: np.ndarray) -> np.ndarray:
    """Phi(u) = 3 (sin u - u cos u) / u^3 (u = q R >= 0; 1 - u^2/10 below u = 1e-3): the sphere's normalised
    amplitude, F = drho V Phi."""
    with np.errstate(invalid="ignore", divide="ignore"):
        phi = 3.0 * (np.sin(u) - u * np.cos(u)) / u**3
    small = u < 1e-3
    return np.where(small, 1.0 - u * u / 10.0, phi)


def sphere_form_factor(q: np.ndarray, radius: np.ndarray, sld: float = DEFAULT_SLD,
                       sld_solvent: float = DEFAULT_SLD_SOLVENT) -> tuple[np.ndarray, np.ndarray]:
    """(F2 (n_r, n_q) in 1/cm * A^3 per particle, V (n_r,) in A^3) for radii (A) at q (1/A): sasmodels
    ``sphere``'s <F^2> = 1e-4 (drho V Phi(q R))^2, drho = sld - sld_solvent (1e-6/A^2).  :func:`sphere_f2` caches."""
    q = np.asarray(q, dtype=float)
    radius = np.asarray(radius, dtype=float)
    volume = 4.0 / 3.0 * np.pi * radius**3
    return 1e-4 * ((sld - sld_solvent) * volume[:, None] * sphere_form(radius[:, None] * q)) ** 2, volume


def py_coefficients(phi):
    """Percus-Yevick's A, B, G of ``hardsphere.c`` (Kinning & Thomas) for volume fraction(s) phi."""
    d = 1.0 / (1.0 - phi) ** 2
    a = ((1.0 + 2.0 * phi) * d) ** 2
    b = -6.0 * phi * ((1.0 + 0.5 * phi) * d) ** 2
    return a, b, 0.5 * phi * a


def _sincos(q: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sin and cos of ``scale[..., None] * q``.

    On a uniform q grid (the simulator's) the angles form arithmetic series, computed ~4x faster
    by angle addition over a sqrt(n) x sqrt(n) split (error < 1e-12 absolute for angles < 100).
    """
    x = scale * q
    n = len(q)
    step = (q[-1] - q[0]) / (n - 1) if n > 1 else 0.0
    tol = 1e-9 * abs(step)
    # the two end steps first (a log grid fails there at once), then every step
    ends = n > 16 and abs(q[1] - q[0] - step) <= tol and abs(q[-1] - q[-2] - step) <= tol
    uniform = ends and np.allclose(np.diff(q), step, rtol=1e-9, atol=0)
    if not uniform or np.max(np.abs(x)) > 100:
        return np.sin(x), np.cos(x)
    m = int(np.ceil(np.sqrt(n)))
    x0, dx = scale[..., 0], scale[..., 0] * step
    e_lo = np.exp(1j * dx[..., None] * np.arange(m))
    e_hi = np.exp(1j * (x0 * q[0])[..., None] + 1j * dx[..., None] * np.arange(0, n, m))
    e = (e_hi[..., :, None] * e_lo[..., None, :]).reshape(*x0.shape, -1)[..., :n]
    return e.imag, e.real


def hardsphere_sq(q: np.ndarray, radius_effective: np.ndarray | float,
                  volume_fraction: np.ndarray | float) -> np.ndarray:
    """Percus-Yevick hard-sphere S(q), a vectorised port of sasmodels ``hardsphere.c`` (double).

    ``q`` (1/A) has shape (n_q,); ``radius_effective`` (A) and ``volume_fraction`` broadcast
    against each other, the result has their shape + (n_q,).  With X = 2 q R_eff and u = 1/X,
    hardsphere.c's FF regrouped by sin and cos (fewer array passes) is
    FF = s u (A + 2B + 4G - 24 G u^2) + c (u^2 (2B + 12G - 24 G u^2) - (A + B + G)) + u^2 (24 G u^2 - 2B)
    and S = 1 / (1 + 24 phi FF u^2).  Equal to the kernel within 1e-10 relative for X >= 0.5
    (the default grids have X >= 0.72).  For 0.05 <= X < 0.5 both lose digits to cancellation
    and agree to ~1e-6 (the kernel's own comments say as much); X < 0.05 uses the kernel's Taylor series.
    """
    q = np.asarray(q, dtype=float)
    r, phi = np.broadcast_arrays(np.asarray(radius_effective, dtype=float),
                                 np.asarray(volume_fraction, dtype=float))
    r, phi = r[..., None], phi[..., None]
    a, b, g = py_coefficients(phi)
    two_r = np.abs(2.0 * r)
    x = two_r * np.abs(q)
    with np.errstate(divide="ignore", invalid="ignore"):
        s, c = _sincos(np.abs(q), two_r)
        u2 = 1.0 / (x * x)
        t = (24.0 * g) * u2
        ff = (a + 2.0 * b + 4.0 * g) - t
        ff *= np.sqrt(u2)
        ff *= s
        t2 = (2.0 * b + 12.0 * g) - t
        t2 *= u2
        t2 -= a + b + g
        t2 *= c
        ff += t2
        t -= 2.0 * b
        t *= u2
        ff += t
        ff *= u2
        ff *= 24.0 * phi
        ff += 1.0
        sq = np.reciprocal(ff, out=ff)
    small = x < 0.05
    if np.any(small):
        x2 = x * x
        taylor = 8.0 * a + 6.0 * b + 4.0 * g + (-0.8 * a - b / 1.5 - 0.5 * g
                                                + (a / 35.0 + 0.0125 * b + 0.02 * g) * x2) * x2
        sq = np.where(small, 1.0 / (1.0 + phi * taylor), sq)
        sq = np.where(x < 5e-6, 1.0 / a, sq)
        sq = np.where(np.abs(r) < 1e-12, 1.0, sq)
    return sq


def power_law(q: np.ndarray, exponent: np.ndarray | float) -> np.ndarray:
    """q^-exponent (q > 0; q and exponent broadcast): sasmodels ``power_law`` at scale 1 and no background, the
    low-q upturn of aggregates."""
    return np.asarray(q, dtype=float) ** -np.asarray(exponent, dtype=float)
# -- end of the generated code --


def Iq(q, sld=1.0, sld_solvent=6.0, volfraction=0.3,
       radius1=40.0, pd1=0.1, fraction1=1.0,
       radius2=20.0, pd2=0.1, fraction2=0.0,
       radius3=60.0, pd3=0.1, fraction3=0.0, power_law_scale=0.0, power_law_exponent=4.0):
    """I(q) in 1/cm (before scale and background); q in 1/A."""
    q = np.asarray(q, dtype=float)
    radii, pds, fractions = (radius1, radius2, radius3), (pd1, pd2, pd3), (fraction1, fraction2, fraction3)
    edges = radius_bins(radii, pds, fractions)
    if edges is None:
        return np.full(q.shape, np.nan)  # no component has volume: an invalid parameter set
    r, w = number_weights(edges, radii, pds, fractions)
    f2, v = sphere_form_factor(q, r, sld, sld_solvent)
    spheres = volfraction * (w @ f2) / (w @ v) * hardsphere_sq(q, w @ r, volfraction)
    return spheres + power_law_scale * power_law(q, power_law_exponent) if power_law_scale else spheres


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
