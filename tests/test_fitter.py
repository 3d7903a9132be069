"""The registered `nn-lm` bumps fitter on sasmodels Experiments."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO

pytestmark = pytest.mark.skipif(not (REPO / "trained_models" / "default.h5").exists(), reason="no shipped model")


def make_problem(r0, pd_type="schulz", model_name="sphere@hardsphere", seed=0):
    from bumps.fitproblem import FitProblem
    from sasmodels.bumps_model import Experiment, Model
    from sasmodels.core import load_model
    from sasmodels.data import empty_data1D
    from sasmodels.direct_model import call_kernel

    q = np.geomspace(0.03, 0.15, 300)
    truth = dict(radius=45.0, radius_pd=0.1, radius_pd_type=pd_type, radius_pd_n=40, volfraction=0.3,
                 radius_effective_mode=1)
    i = call_kernel(load_model("sphere@hardsphere", dtype="double", platform="dll").make_kernel([q]), truth)
    data = empty_data1D(q)
    data.y = i * (1 + 0.01 * np.random.default_rng(seed).standard_normal(len(q)))
    data.dy = 0.01 * i
    pars = dict(radius=r0, radius_pd=0.1, radius_pd_type=pd_type, radius_pd_n=40, scale=1.0, background=0.0)
    if model_name == "sphere@hardsphere":
        pars.update(volfraction=0.3, radius_effective_mode=1)
    m = Model(load_model(model_name), **pars)
    m.radius.range(5, 200)
    m.radius_pd.range(0.01, 0.5)
    m.scale.range(0, 100)
    m.background.range(0, 10)
    return FitProblem(Experiment(data=data, model=m)), m


@pytest.mark.parametrize("r0", [15.0, 150.0])
def test_nn_lm_succeeds_where_plain_lm_fails(r0):
    from bumps.fitters import fit

    import sasview_nn_plugin  # noqa: F401  (registers nn-lm)

    plain, m_plain = make_problem(r0)
    fit(plain, method="lm")
    nn, m_nn = make_problem(r0)
    fit(nn, method="nn-lm")
    assert nn.chisq() < 1.5 and abs(m_nn.radius.value - 45.0) < 0.5
    assert plain.chisq() > 100 and abs(m_plain.radius.value - 45.0) > 5


def test_lognormal_dispersion_mapped():
    from bumps.fitters import fit

    import sasview_nn_plugin  # noqa: F401

    prob, m = make_problem(150.0, pd_type="lognormal")
    fit(prob, method="nn-lm")
    assert prob.chisq() < 1.5 and abs(m.radius.value - 45.0) < 1.0


def test_unsupported_model_is_refused():
    from bumps.fitters import fit

    import sasview_nn_plugin  # noqa: F401

    prob, _ = make_problem(40.0, model_name="sphere")
    with pytest.raises(ValueError, match="supported: sasmodels sphere@hardsphere"):
        fit(prob, method="nn-lm")


@pytest.mark.parametrize("order", ["import bumps.fitters, sasview_nn_plugin",
                                   "import sasview_nn_plugin, bumps.fitters"])
def test_registered_in_either_import_order(order):
    code = f"{order}\nimport sys\nprint('nn-lm' in bumps.fitters.FIT_AVAILABLE_IDS, 'bumps' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "True"]
    lean = subprocess.run([sys.executable, "-c", "import sys, sasview_nn_plugin; print('bumps' in sys.modules)"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert lean == "False"  # importing the package does not import bumps
