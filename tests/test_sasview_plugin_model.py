"""The nn_spheres_hs plugin model against sasmodels' own sphere@hardsphere and our forward model."""

from __future__ import annotations

import numpy as np
import pytest
from sasmodels.sasview_model import load_custom_model
from sasmodels_reference import sasmodels_sphere_hs

from sasview_nn_plugin.physics import distributions
from sasview_nn_plugin.physics import kernels as physics
from sasview_nn_plugin.sasview import plugin_model_path

PARS = dict(sld=2.5, sld_solvent=9.0, volfraction=0.35,
            radius1=22.0, pd1=0.15, fraction1=0.3,
            radius2=48.0, pd2=0.08, fraction2=0.7,
            radius3=80.0, pd3=0.1, fraction3=0.0)


@pytest.fixture(scope="module")
def plugin():
    model = load_custom_model(str(plugin_model_path()))()
    for k, v in PARS.items():
        model.setParam(k, v)
    model.setParam("scale", 1.7)
    model.setParam("background", 0.02)
    return model


@pytest.fixture(scope="module")
def module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("nn_spheres_hs", plugin_model_path())
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_loads_as_sasview_custom_model(plugin):
    assert plugin.name == "nn_spheres_hs"
    names = set(plugin.getParamList())
    assert {"radius1", "pd1", "fraction1", "radius3", "volfraction", "scale", "background"} <= names


def test_equals_sasmodels_sphere_hardsphere_with_the_same_array_distribution(plugin, module):
    q = np.geomspace(0.003, 0.4, 300)
    got = plugin.evalDistribution(q)
    radii, pds, fr = (22.0, 48.0, 80.0), (0.15, 0.08, 0.1), (0.3, 0.7, 0.0)
    r, w = module.number_weights(module.radius_bins(radii, pds, fr), radii, pds, fr)
    ref = sasmodels_sphere_hs(q, r, w, 0.35, scale=1.7, background=0.02, sld=2.5, sld_solvent=9.0)
    np.testing.assert_allclose(got, ref, rtol=1e-9)


def test_equals_our_forward_model_and_distributions_module(plugin, module):
    q = np.linspace(0.04, 0.105, 200)
    got = plugin.evalDistribution(q)
    radii, pds, fr = (22.0, 48.0, 80.0), (0.15, 0.08, 0.1), (0.3, 0.7, 0.0)
    edges = module.radius_bins(radii, pds, fr)
    centres = 0.5 * (edges[1:] + edges[:-1])
    # the same mixture from our own distributions module: volume-weighted sum of Schulz bin masses
    vol = sum(f * physics.number_to_volume(np.diff(distributions.schulz_cdf(edges, m, p)), centres)
              for m, p, f in zip(radii, pds, fr, strict=True) if f > 0)
    w = physics.volume_to_number(vol, centres)
    basis = physics.sphere_basis(q, centres, sld=2.5, sld_solvent=9.0)
    ours = physics.intensity(basis, w, 0.35, scale=1.7, background=0.02)
    np.testing.assert_allclose(got, ours, rtol=1e-9)


def test_single_component_matches_sasmodels_schulz_polydispersity(module):
    """Independent of our discretisation: sasmodels' own Schulz dispersion (fine mesh) agrees to 0.2 %."""
    from sasmodels.core import load_model
    from sasmodels.direct_model import call_kernel

    q = np.geomspace(0.01, 0.3, 120)
    ref_model = load_model("sphere@hardsphere", dtype="double", platform="dll")
    ref = call_kernel(ref_model.make_kernel([q]), dict(
        scale=1.0, background=0.0, sld=1.0, sld_solvent=6.0, volfraction=0.2, radius=35.0, radius_pd=0.1,
        radius_pd_type="schulz", radius_pd_n=400, radius_pd_nsigma=8, radius_effective_mode=1,
        structure_factor_mode=0))
    got = module.Iq(q, 1.0, 6.0, 0.2, 35.0, 0.1, 1.0, 20.0, 0.1, 0.0, 60.0, 0.1, 0.0)
    np.testing.assert_allclose(got, ref, rtol=2e-3)


def test_no_component_gives_nan_not_an_exception(module):
    assert np.all(np.isnan(module.Iq(np.array([0.05]), fraction1=0.0)))
