"""Each family of the whole-curve training set, read by the shipped network within the bench's limits (issue 25).

Curves made by sasmodels directly (``sphere`` / ``sphere@hardsphere`` with its own dispersion meshes, sums of them
for mixtures, ``Slit1D`` for the slit case), 1 % noise with dI, phi given.  The limits are bench_wide's *right*,
set in advance by the issue: volume-weighted W1 <= 10 % of the true volume mean and number-weighted W1 <= 15 % of
the true number mean, W1 over radius in A, and no flag.  One curve a family, its parameters chosen before the
network was run (a broad log-normal at sigma 0.5: at 0.8 half the number lies below the 1 % volume quantile, which
the data barely see and bench_wide flags).  The polish alone, started from a network of random weights, passes
half of these cases, so the network's own answer (``polished=False``) is held to twice the volume limit too (the
shipped network: 0.7-13 %; random weights: 178-760 %).  Two families are also read with phi unknown (the data's
profile, docs/wide.md): phi within 0.03.  The truth is the mesh sasmodels integrates over
(``sasmodels.weights.get_weights``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sasmodels.core import load_model
from sasmodels.direct_model import call_kernel
from sasmodels.resolution import Slit1D
from sasmodels.weights import get_weights

from sasview_nn_plugin.inference.invert_wide import invert_wide
from sasview_nn_plugin.inference.wide_model import load_wide

WIDE = Path(__file__).resolve().parents[1] / "trained_models" / "wide.h5"
LAB, USAXS_SAXS = np.geomspace(0.005, 0.5, 300), np.geomspace(1e-4, 0.3, 400)
N_MESH = {"gaussian": 3.0, "schulz": 4.0, "lognormal": 4.0, "rectangle": 1.73}   # nsigma of each mesh


def component(q, radius: float, pd: float, kind: str, phi: float = 0.0):
    """(I(q) per unit volume fraction, radii A, number weights): sasmodels' sphere over its own dispersion mesh."""
    nsigma = N_MESH[kind]
    x, w = get_weights(kind, 120, pd, nsigma, radius, (0.0, np.inf), True)
    name = "sphere@hardsphere" if phi else "sphere"
    pars = dict(radius=radius, radius_pd=pd, radius_pd_type=kind, radius_pd_n=120, radius_pd_nsigma=nsigma,
                sld=1.0, sld_solvent=0.0, background=0.0, scale=1.0)
    if phi:
        pars.update(volfraction=phi, radius_effective_mode=1, structure_factor_mode=0)
    kernel = load_model(name).make_kernel([q])
    try:
        return call_kernel(kernel, pars), x, w / w.sum()
    finally:
        kernel.release()


def mixture(q, parts):
    """Sum of components ``(radius, pd, kind, volume share)`` (dilute): intensity, radii, number weights."""
    total, xs, ws = 0.0, [], []
    for radius, pd, kind, share in parts:
        i, x, w = component(q, radius, pd, kind)
        total = total + share * i
        xs.append(x)
        ws.append(share * w / (w @ x**3))     # number of particles per unit volume of the mixture
    x, w = np.concatenate(xs), np.concatenate(ws)
    order = np.argsort(x)
    return total, x[order], w[order] / w.sum()


def w1(r_a, p_a, r_b, p_b) -> float:
    """Wasserstein-1 distance (A) between two discrete distributions over radius."""
    grid = np.union1d(r_a, r_b)
    ca = np.interp(grid, r_a, np.cumsum(p_a) / np.sum(p_a), left=0.0, right=1.0)
    cb = np.interp(grid, r_b, np.cumsum(p_b) / np.sum(p_b), left=0.0, right=1.0)
    return float(np.sum(np.abs(ca - cb)[:-1] * np.diff(grid)))


CASES = {   # family: (q, phi, slit length 1/A, parts); one part = a plain component with phi
    "schulz": (LAB, 0.2, None, [(60.0, 0.2, "schulz", 1.0)]),
    "gaussian": (LAB, 0.0, None, [(120.0, 0.15, "gaussian", 1.0)]),
    "lognormal-broad": (USAXS_SAXS, 0.0, None, [(200.0, 0.5, "lognormal", 1.0)]),
    "near-monodisperse": (USAXS_SAXS, 0.1, None, [(400.0, 0.02, "schulz", 1.0)]),
    "top-hat": (LAB, 0.0, None, [(100.0, 0.25, "rectangle", 1.0)]),
    "bimodal-10x": (USAXS_SAXS, 0.0, None, [(30.0, 0.15, "lognormal", 0.5), (300.0, 0.15, "lognormal", 0.5)]),
    "trimodal-16x": (USAXS_SAXS, 0.0, None, [(20.0, 0.15, "lognormal", 0.3), (80.0, 0.15, "lognormal", 0.3),
                                             (320.0, 0.15, "lognormal", 0.4)]),
    "slit": (np.geomspace(1e-4, 0.05, 200), 0.0, 0.03, [(1500.0, 0.1, "schulz", 1.0)]),
}


@pytest.fixture(scope="module")
def network():
    return load_wide(WIDE)


def measured(family: str):
    """(q, data, dI, phi, slit, radii, number weights) of one case: sasmodels, 1 % background, 1 % noise."""
    q, phi, slit, parts = CASES[family]
    calc = q
    if slit is not None:
        res = Slit1D(q, q_length=slit)
        calc = res.q_calc
    if len(parts) == 1:
        radius, pd, kind, _ = parts[0]
        clean, x, w = component(calc, radius, pd, kind, phi)
    else:
        clean, x, w = mixture(calc, parts)
    if slit is not None:
        clean = res.apply(clean)
    rng = np.random.default_rng(7)
    clean = clean + 0.01 * clean[-1]                     # a flat background
    di = 0.01 * clean
    return q, clean + di * rng.standard_normal(len(q)), di, phi, slit, x, w


def within_limits(out, x, w, volume_limit: float = 0.10, number_limit: float | None = 0.15) -> None:
    v = w * x**3
    true_n, true_v = float(w @ x), float(v @ x / v.sum())
    assert w1(out.radius, out.volume_distribution, x, v) <= volume_limit * true_v
    if number_limit is not None:
        assert w1(out.radius, out.number_distribution, x, w) <= number_limit * true_n


@pytest.mark.parametrize("family", list(CASES))
def test_each_family_is_read_within_the_bench_limits(network, family):
    q, data, di, phi, slit, x, w = measured(family)
    out = invert_wide(network, q, data, di, volume_fraction=phi, slit_length=slit)
    within_limits(out, x, w)
    assert out.quality.flags == ()           # right = within the limits and unflagged
    raw = invert_wide(network, q, data, di, volume_fraction=phi, slit_length=slit, polished=False)
    within_limits(raw, x, w, volume_limit=0.20, number_limit=None)


@pytest.mark.parametrize("family", ["schulz", "near-monodisperse"])
def test_phi_unknown_is_read_from_the_data(network, family):
    q, data, di, phi, slit, x, w = measured(family)
    out = invert_wide(network, q, data, di, volume_fraction=None, slit_length=slit)
    assert abs(out.volume_fraction_used - phi) <= 0.03 and out.volume_fraction_sigma is not None
    within_limits(out, x, w)
