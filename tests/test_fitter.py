"""The `nn-lm` and `nn-dream` bumps fitters (registered by importing sasview_nn_plugin.fitting.fitter)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO
from helpers import make_problem


@pytest.mark.parametrize("r0", [15.0, 150.0])
def test_nn_lm_succeeds_where_plain_lm_fails(r0):
    from bumps.fitters import fit

    import sasview_nn_plugin.fitting.fitter  # noqa: F401  (registers nn-lm)

    plain, m_plain = make_problem(r0)
    fit(plain, method="lm")
    nn, m_nn = make_problem(r0)
    fit(nn, method="nn-lm")
    assert nn.chisq() < 1.5 and abs(m_nn.radius.value - 45.0) < 0.5
    assert plain.chisq() > 100 and abs(m_plain.radius.value - 45.0) > 5


def test_lognormal_dispersion_mapped():
    from bumps.fitters import fit

    import sasview_nn_plugin.fitting.fitter  # noqa: F401

    prob, m = make_problem(150.0, pd_type="lognormal")
    fit(prob, method="nn-lm")
    assert prob.chisq() < 1.5 and abs(m.radius.value - 45.0) < 1.0


def test_unsupported_model_is_refused():
    from bumps.fitters import fit

    import sasview_nn_plugin.fitting.fitter  # noqa: F401

    prob, _ = make_problem(40.0, model_name="sphere")
    with pytest.raises(ValueError, match="supported: sasmodels Experiments on sphere@hardsphere"):
        fit(prob, method="nn-lm")


@pytest.mark.parametrize("order", ["import bumps.fitters, sasview_nn_plugin.fitting.fitter",
                                   "import sasview_nn_plugin.fitting.fitter, bumps.fitters"])
def test_importing_the_fitter_module_registers_module_level_fitters(order):
    code = (f"{order}\n"
            "from sasview_nn_plugin.fitting import fitter\n"
            "f = bumps.fitters\n"
            "print(all(i in f.FIT_AVAILABLE_IDS and i in f.FIT_ACTIVE_IDS for i in ('nn-lm', 'nn-dream')),\n"
            "      fitter.NNMPFit in f.FITTERS and fitter.NNDreamFit in f.FITTERS,\n"
            "      issubclass(fitter.NNMPFit, f.MPFit) and issubclass(fitter.NNDreamFit, f.DreamFit),\n"
            "      fitter.NNMPFit.settings == f.MPFit.settings and fitter.NNDreamFit.settings == f.DreamFit.settings)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True"] * 4


def test_importing_the_package_touches_no_bumps():
    """No import hook: `import sasview_nn_plugin` neither imports bumps nor registers anything later."""
    code = ("import sys\n"
            "hooks = list(sys.meta_path)\n"
            "import sasview_nn_plugin\n"
            "print('bumps' in sys.modules, sys.meta_path == hooks)\n"
            "import bumps.fitters\n"
            "print('nn-lm' in bumps.fitters.FIT_AVAILABLE_IDS)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True", "False"]


def test_nn_lm_uses_the_experiments_own_points():
    """Only the points inside the data's q range (sasmodels' Experiment.Iq, dIq, resolution.q) are used:
    the 40 points below qmin are negative and would be refused by the network."""
    from bumps.fitters import fit

    import sasview_nn_plugin.fitting.fitter  # noqa: F401
    from sasview_nn_plugin.fitting.network_start import fitted_points

    prob, m = make_problem(150.0, below_qmin=40)
    q, i, di = fitted_points(prob.active_model)
    assert len(q) == len(i) == len(di) == 260 and np.all(i > 0)
    fit(prob, method="nn-lm")
    assert prob.chisq() < 1.5 and abs(m.radius.value - 45.0) < 0.5


def make_plugin_problem(r0):
    """nn_spheres_hs (the SasView plugin model) on a sasmodels-generated bimodal curve, start radius r0."""
    from bumps.fitproblem import FitProblem
    from sasmodels.bumps_model import Experiment, Model
    from sasmodels.core import load_model
    from sasmodels.data import empty_data1D
    from sasmodels_reference import sasmodels_sphere_hs

    from sasview_nn_plugin.physics import distributions
    from sasview_nn_plugin.physics import kernels as physics
    from sasview_nn_plugin.physics.grids import RadiusGrid
    from sasview_nn_plugin.sasview import plugin_model_path

    q = np.geomspace(0.03, 0.15, 300)
    grid = RadiusGrid()
    vol = 0.6 * physics.number_to_volume(np.diff(distributions.schulz_cdf(grid.edges, 30.0, 0.08)), grid.radius)
    vol += 0.4 * physics.number_to_volume(np.diff(distributions.schulz_cdf(grid.edges, 60.0, 0.08)), grid.radius)
    w = physics.volume_to_number(vol, grid.radius)
    i = sasmodels_sphere_hs(q, grid.radius, w, 0.3)
    data = empty_data1D(q)
    data.y = i * (1 + 0.01 * np.random.default_rng(3).standard_normal(len(q)))
    data.dy = 0.01 * i
    m = Model(load_model(str(plugin_model_path())), volfraction=0.3, radius1=r0, pd1=0.1, fraction1=1.0,
              radius2=r0 * 1.5, pd2=0.1, fraction2=0.5, fraction3=0.0, scale=1.0, background=0.0)
    for k in (1, 2):
        getattr(m, f"radius{k}").range(5, 200)
        getattr(m, f"pd{k}").range(0.01, 0.5)
    m.fraction2.range(0, 5)
    m.scale.range(0, 100)
    m.background.range(0, 10)
    return FitProblem(Experiment(data=data, model=m)), m


def test_nn_lm_maps_the_sasview_plugin_model():
    """Bimodal 30 A / 60 A: from a 120 A start plain LM stays off; nn-lm finds both modes."""
    from bumps.fitters import fit

    import sasview_nn_plugin.fitting.fitter  # noqa: F401

    plain, _ = make_plugin_problem(120.0)
    fit(plain, method="lm")
    nn, m = make_plugin_problem(120.0)
    fit(nn, method="nn-lm")
    assert plain.chisq() > 50
    assert nn.chisq() < 1.5
    radii = sorted([m.radius1.value, m.radius2.value])
    assert radii[0] == pytest.approx(30.0, abs=2.0) and radii[1] == pytest.approx(60.0, abs=3.0)


def test_nn_dream_runs_from_the_network_start():
    from bumps.fitters import fit

    import sasview_nn_plugin.fitting.fitter  # noqa: F401

    prob, m = make_problem(150.0)
    res = fit(prob, method="nn-dream", samples=2000, burn=20, steps=20)
    prob.setp(res.x)
    assert abs(m.radius.value - 45.0) < 1.0 and prob.chisq() < 2.0


def test_bumps_command_line_with_nn_lm(tmp_path):
    """`sasview-nn-bumps model.py --fit=nn-lm` (bumps' CLI, fitters registered) on a model file."""
    model = tmp_path / "model.py"
    model.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(REPO / 'tests')!r})\n"
        "from helpers import make_problem\n"
        "problem, _ = make_problem(150.0)\n")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "sasview_nn_plugin.fitting.bumps_cli", str(model), "--fit=nn-lm",
                           "-b", "-x",
                           f"--export={out}", "--parallel=1"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    pars = dict(line.split() for line in (out / "model.par").read_text().splitlines())
    assert float(pars["radius"]) == pytest.approx(45.0, abs=0.5)


def test_array_dispersion_is_refused_with_the_way_out():
    from bumps.fitproblem import FitProblem
    from bumps.fitters import fit
    from sasmodels.bumps_model import Experiment, Model
    from sasmodels.core import load_model
    from sasmodels.data import empty_data1D

    import sasview_nn_plugin.fitting.fitter  # noqa: F401

    q = np.geomspace(0.03, 0.15, 100)
    data = empty_data1D(q)
    data.y, data.dy = np.exp(-q * 40), 0.01 * np.exp(-q * 40)
    m = Model(load_model("sphere@hardsphere"), radius=40.0, radius_pd=0.1, radius_pd_type="array", volfraction=0.3)
    m.radius.range(5, 200)
    with pytest.raises(ValueError, match="array.*refine"):
        fit(FitProblem(Experiment(data=data, model=m)), method="nn-lm")
