"""The SasView project's error column for a refined result (issue 15, deliverable 3): 1-sigma errors of every
plugin parameter the refinement measures, written to the project file and read back."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import schulz_mix

from sasview_nn_plugin import invert
from sasview_nn_plugin.fitting.refine import refine
from sasview_nn_plugin.physics import kernels as physics
from sasview_nn_plugin.physics.grids import RadiusGrid
from sasview_nn_plugin.sasview.project import plugin_parameters, write_project

Q = np.geomspace(0.03, 0.15, 400)
GRID = RadiusGrid()


def refined(w, parametrization, seed=1):
    rng = np.random.default_rng(seed)
    i = physics.intensity(physics.sphere_basis(Q, GRID.radius), w, 0.3) * 1.0 + 0.02
    di = 0.01 * i
    i = i + di * rng.standard_normal(len(Q))
    return refine(Q, i, di, invert(Q, i, di, volume_fraction=0.3), parametrization=parametrization)


def page_errors(tmp_path, result) -> dict:
    """Write a project for ``result``, read it back: parameter -> error column (None: empty)."""
    pars = plugin_parameters(result)
    path = write_project(tmp_path / "p.json", [dict(name="c", path="c.txt", q=result.q_data,
                                                    intensity=result.intensity_data, di=result.di_data, dq=None,
                                                    parameters=pars, q_range=result.q_range)])
    (page,) = [v["fit_params"][0] for v in json.loads(path.read_text()).values()
               if isinstance(v, dict) and "fit_params" in v]
    errors = {k: (None if page[k][2] is None else float(page[k][2])) for k in pars.values}
    return errors, pars


def test_schulz3_result_gives_every_component_parameter_its_error(tmp_path):
    """Two Schulz components (30 A and 60 A): radius, pd of both and the smaller one's share have errors from the
    refinement's draws (calibrated like the number-mean radius), scale and background from the fit's own, phi
    the half width of its calibrated 68 % interval; the held (largest) share and unused components have none."""
    ref = refined(schulz_mix([30.0, 60.0], [0.1, 0.1], [0.4, 0.6]), "schulz3")
    errors, pars = page_errors(tmp_path, ref)
    u, params = ref.uncertainty, ref.fit.parameters
    lo, hi = u.interval("volume_fraction", 68)
    assert errors["volfraction"] == pytest.approx(0.5 * (hi - lo))
    assert errors["scale"] == pytest.approx(pars.values["scale"] * params["scale"][1] / params["scale"][0])
    assert errors["background"] == pytest.approx(params["background"][1])
    active = sorted((k for k in (1, 2, 3) if pars.values[f"fraction{k}"] > 0), key=lambda k: pars.values[f"radius{k}"])
    assert len(active) == 2
    factor = u.calibration["factors"]["mean_radius_number"][0] * u.diagnostics["observability_factor"]
    sigmas = sorted((params[f"mean{k}"][1], params[f"pd{k}"][1]) for k in range(3) if f"mean{k}" in params)
    for k, (s_mean, s_pd) in zip(active, sorted(sigmas), strict=True):
        assert errors[f"radius{k}"] == pytest.approx(factor * s_mean, rel=1e-6)
        assert errors[f"pd{k}"] == pytest.approx(factor * s_pd, rel=1e-6)
        assert 0 < errors[f"radius{k}"] < 0.1 * pars.values[f"radius{k}"]
    largest = max(active, key=lambda k: pars.values[f"fraction{k}"])
    (other,) = set(active) - {largest}
    assert errors[f"fraction{largest}"] is None and 0 < errors[f"fraction{other}"] < 0.5
    for k in set((1, 2, 3)) - set(active):
        assert errors[f"radius{k}"] is None and errors[f"pd{k}"] is None and errors[f"fraction{k}"] is None
    assert errors["sld"] is None and errors["sld_solvent"] is None


def test_histogram_result_gives_phi_scale_background_and_a_single_components_radius(tmp_path):
    """A histogram refinement: its summary as one Schulz component has the number-mean radius's calibrated sigma
    as radius1's error; the summary's width is no parameter of the fit: no error."""
    ref = refined(schulz_mix([45.0], [0.1], [1.0]), "histogram")
    errors, pars = page_errors(tmp_path, ref)
    assert pars.values["fraction2"] == 0 and pars.values["fraction3"] == 0
    assert errors["radius1"] == pytest.approx(ref.uncertainty.mean_radius_number_sigma)
    assert errors["pd1"] is None and errors["fraction1"] is None
    assert errors["volfraction"] > 0 and errors["scale"] > 0 and errors["background"] > 0


def test_network_result_without_refinement_has_no_errors_beyond_phi(tmp_path):
    rng = np.random.default_rng(2)
    i = physics.intensity(physics.sphere_basis(Q, GRID.radius), schulz_mix([45.0], [0.1], [1.0]), 0.3)
    di = 0.01 * i
    start = invert(Q, i + di * rng.standard_normal(len(Q)), di, volume_fraction=0.3)
    errors, _ = page_errors(tmp_path, start)
    assert all(v is None for v in errors.values()), errors
