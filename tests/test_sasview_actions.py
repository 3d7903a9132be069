"""The SasView page actions' core and the nn-lm start on SasView's fit objects, without SasView.

SasView fits with ``sas.sascalc.fit.BumpsFitting.SasFitness``; the stand-in (tests/sasview_gui/fakes.py) has the same
surface (``model._model_info.id``, ``_pars`` of bumps Parameters, ``data`` with ``x, y, dy, idx``, ``update``,
``theory``, ``residuals``, ``numpoints``, ``nllf``) and evaluates the plugin model itself.  The GUI tests
(tests/test_sasview_gui.py, marker ``sasview``) run the same code on SasView's own objects.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from sasview_gui.fakes import SasFitness

from sasview_nn_plugin.fitting.sasfitness import SasFitnessView, ViewProblem, as_experiment
from sasview_nn_plugin.sasview import start as actions  # the Qt-free core of the actions
from sasview_nn_plugin.sasview.project import free_parameters

REPO = Path(__file__).resolve().parents[1]
bumps = pytest.importorskip("bumps")


def curve(name):
    from sasview_nn_plugin.data.load import load_curves

    c = load_curves(REPO / "examples" / name)[0]
    return c.q, c.intensity, c.di


def truth_number_mean(stem) -> float:
    d = np.loadtxt(REPO / "examples" / f"{stem}_truth.csv", delimiter=",", skiprows=1)
    return float(d[:, 0] @ d[:, 1] / d[:, 1].sum())


ALL = ["scale", "background", *actions.SIZE_PARAMETERS]


def test_a_sasfitness_is_seen_as_an_experiment():
    q, y, dy = curve("schulz_R45_phi0.3_nxcansas.h5")
    f = SasFitness(q, y, dy, q_range=(0.04, 0.12))
    view = as_experiment(f)
    assert isinstance(view, SasFitnessView) and view.model.sasmodel.info.id == "nn_spheres_hs"
    assert view.model.radius1 is f._pars["radius1"] and view.data_type == "Iq"
    q_fit = view.resolution.q
    assert q_fit.min() >= 0.04 and q_fit.max() <= 0.12 and len(q_fit) == len(view.Iq) == f.numpoints()
    with pytest.raises(AttributeError):
        view.model.no_such_parameter   # noqa: B018
    other = object()
    assert as_experiment(other) is other


def test_network_start_sets_the_components_of_a_sasfitness():
    """The nn-lm fitters' start (fitting.network_start.network_start) on SasView's fit object, as the page action
    runs it."""
    from bumps.fitproblem import FitProblem

    from sasview_nn_plugin.fitting.network_start import network_start

    q, y, dy = curve("schulz_R45_phi0.3_nxcansas.h5")
    f = SasFitness(q, y, dy, fitted=ALL)
    network_start(ViewProblem(FitProblem([f])))
    assert f._pars["radius1"].value == pytest.approx(45.0, rel=0.02)
    assert f._pars["pd1"].value == pytest.approx(0.12, abs=0.02)
    assert f._pars["fraction2"].value == 0 and f._pars["fraction3"].value == 0
    assert f._pars["volfraction"].value == 0.3 and f.updates > 0


def test_network_start_refuses_another_sasview_model():
    from bumps.fitproblem import FitProblem

    from sasview_nn_plugin.fitting.network_start import network_start

    q, y, dy = curve("schulz_R45_phi0.3_nxcansas.h5")
    with pytest.raises(ValueError, match="cylinder"):
        network_start(ViewProblem(FitProblem([SasFitness(q, y, dy, fitted=ALL, model_id="cylinder")])))


def test_nn_lm_fits_a_sasfitness():
    """The nn-lm fitter itself on a FitProblem of SasView's fit objects (SasView's Python shell, its own Fit)."""
    from bumps.fitproblem import FitProblem
    from bumps.fitters import fit

    import sasview_nn_plugin.fitting.fitter  # noqa: F401 - registers nn-lm

    q, y, dy = curve("schulz_R45_phi0.3_nxcansas.h5")
    f = SasFitness(q, y, dy, fitted=["scale", "background", "radius1", "pd1"])
    problem = FitProblem([f])
    fit(problem, method="nn-lm")
    assert problem.chisq() <= 1.3
    assert f._pars["radius1"].value == pytest.approx(45.0, rel=0.01)


def test_start_of_a_page_sets_components_scale_background_and_ticks():
    q, y, dy = curve("schulz_R45_phi0.3_nxcansas.h5")
    start = actions.start_fitness(SasFitness(q, y, dy, fitted=ALL))
    assert start.free == {"scale", "background", "radius1", "pd1"} and not start.phi_estimated
    assert start.values["radius1"] == pytest.approx(45.0, rel=0.02) and start.values["volfraction"] == 0.3
    assert start.values["scale"] == pytest.approx(1.0, rel=0.05) and start.chi2 < 5
    mean = actions.component_distributions(start.values)["mean_number"]
    assert mean == pytest.approx(truth_number_mean("schulz_R45_phi0.3_nxcansas"), rel=0.01)
    assert start.inversion.mean_radius_number == pytest.approx(45.0, rel=0.02)


def test_start_of_a_bimodal_curve_has_two_components_and_ticks_the_smaller_share():
    q, y, dy = curve("bimodal_phi0.3.xml")
    start = actions.start_fitness(SasFitness(q, y, dy, fitted=ALL))
    shares = [start.values[f"fraction{k}"] for k in (1, 2, 3)]
    assert sum(s > 0 for s in shares) == 2
    small = 1 + int(np.argmin([s if s > 0 else np.inf for s in shares]))
    assert f"fraction{small}" in start.free and start.chi2 < 50
    assert start.free == free_parameters(start.values)


def test_the_volume_fraction_is_estimated_when_asked():
    q, y, dy = curve("schulz_R45_phi0.3_nxcansas.h5")
    start = actions.start_fitness(SasFitness(q, y, dy, fitted=ALL + ["volfraction"], volfraction=0.15),
                                  estimate_phi=True)
    assert start.phi_estimated and "volfraction" in start.free
    assert start.volume_fraction == pytest.approx(0.3, abs=0.03)
    assert any("estimated" in n for n in start.notes)


def test_a_bad_volume_fraction_or_model_is_one_clear_error():
    q, y, dy = curve("schulz_R45_phi0.3_nxcansas.h5")
    with pytest.raises(actions.ActionError, match="volfraction"):
        actions.start_fitness(SasFitness(q, y, dy, fitted=ALL, volfraction=0.0))
    with pytest.raises(actions.ActionError, match="nn_spheres_hs"):
        actions.start_fitness(SasFitness(q, y, dy, fitted=ALL, model_id="sphere"))


def test_a_q_range_the_network_does_not_cover_is_refused():
    q, y, dy = curve("schulz_R45_phi0.3_nxcansas.h5")
    with pytest.raises(ValueError, match="cover"):
        actions.start_fitness(SasFitness(q, y, dy, fitted=ALL, q_range=(0.05, 0.09)))


def test_distributions_are_densities_with_the_right_means():
    values = {"radius1": 30.0, "pd1": 0.1, "fraction1": 0.7, "radius2": 60.0, "pd2": 0.05, "fraction2": 0.3,
              "radius3": 10.0, "pd3": 0.1, "fraction3": 0.0}
    d = actions.component_distributions(values)
    width = np.gradient(d["radius"])
    assert np.sum(d["number"] * width) == pytest.approx(1.0, rel=1e-6)
    assert np.sum(d["volume"] * width) == pytest.approx(1.0, rel=1e-6)
    assert 30.0 < d["mean_number"] < d["mean_volume"] < 60.0
    one = actions.component_distributions(values | {"fraction2": 0.0})
    assert one["mean_number"] == pytest.approx(30.0, rel=1e-3)   # a Schulz component's number mean
    with pytest.raises(actions.ActionError):
        actions.component_distributions(values | {"fraction1": 0.0, "fraction2": 0.0})


def test_the_network_histogram_is_a_density():
    from sasview_nn_plugin import invert

    q, y, dy = curve("schulz_R45_phi0.3_nxcansas.h5")
    h = actions.histogram_distributions(invert(q, y, dy, volume_fraction=0.3))
    width = np.gradient(h["radius"])
    assert np.sum(h["number"] * width) == pytest.approx(1.0, rel=1e-6)
    assert np.sum(h["volume"] * width) == pytest.approx(1.0, rel=1e-6)


def test_free_parameters_rule():
    v = {"fraction1": 0.2, "fraction2": 0.8, "fraction3": 0.0}
    assert free_parameters(v) == {"scale", "background", "radius1", "pd1", "fraction1", "radius2", "pd2"}
    assert free_parameters({"fraction1": 1.0}) == {"scale", "background", "radius1", "pd1"}


def test_the_plugin_model_does_nothing_more_outside_sasviews_gui(tmp_path):
    """Loading the plugin file outside SasView's GUI neither imports Qt nor touches sys.path."""
    import subprocess

    from sasview_nn_plugin.sasview import plugin_model_path

    (tmp_path / "sasview_nn_bundle").mkdir()
    plugin = tmp_path / "nn_spheres_hs.py"
    plugin.write_bytes(plugin_model_path().read_bytes())
    code = ("import importlib.util, sys; before = list(sys.path); "
            f"spec = importlib.util.spec_from_file_location('m', {str(plugin)!r}); "
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
            "print(m.name, sys.path == before, any(k.startswith('PySide6') for k in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["nn_spheres_hs", "True", "False"]
