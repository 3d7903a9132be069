"""The forward model against sasmodels itself and against independent SASfit curves."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DATA
from sasmodels_reference import sasmodels_sphere_hs

from sasview_nn_plugin.physics import distributions, scattering, smearing
from sasview_nn_plugin.physics import kernels as physics
from sasview_nn_plugin.physics.grids import QGrid, RadiusGrid


def _random_weights(rng, n_r, kind):
    if kind == "dense":
        return rng.random(n_r) ** 3
    if kind == "sparse":
        w = np.zeros(n_r)
        w[rng.choice(n_r, 3, replace=False)] = rng.random(3)
        return w
    return distributions.sample(rng, 1, RadiusGrid(), kind)[0]


@pytest.mark.parametrize("kind", ["dense", "sparse", "schulz3", "smooth", "tophat"])
def test_intensity_equals_sasmodels_kernel(default_basis, rng, kind):
    for _ in range(3):
        w = _random_weights(rng, len(default_basis.radius), kind)
        phi, scale, bkg = rng.uniform(0.0, 0.6), 10 ** rng.uniform(-2, 2), rng.uniform(0, 0.1)
        ours = physics.intensity(default_basis, w, phi, scale, bkg)
        ref = sasmodels_sphere_hs(default_basis.q, default_basis.radius, w, phi, scale, bkg)
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=0)


def test_intensity_other_grids_and_contrast(rng):
    q = np.geomspace(0.03, 0.6, 333)  # non-uniform: exercises the plain sin/cos path
    radius = np.linspace(10, 150, 57)
    basis = physics.sphere_basis(q, radius, sld=2.5, sld_solvent=-0.3)
    w = rng.random((4, len(radius)))
    phi = rng.uniform(0.05, 0.5, 4)
    ours = physics.intensity(basis, w, phi)
    for i in range(4):
        ref = sasmodels_sphere_hs(q, radius, w[i], phi[i], sld=2.5, sld_solvent=-0.3)
        np.testing.assert_allclose(ours[i], ref, rtol=1e-10, atol=0)


def test_batch_equals_single(default_basis, rng):
    w = rng.random((5, 100))
    phi = rng.uniform(0.1, 0.5, 5)
    batch = physics.intensity(default_basis, w, phi, 2.0, 0.5)
    for i in range(5):
        np.testing.assert_allclose(batch[i], physics.intensity(default_basis, w[i], phi[i], 2.0, 0.5), rtol=1e-13)


def test_hardsphere_equals_kernel(rng):
    from sasmodels.core import load_model
    from sasmodels.direct_model import call_kernel

    model = load_model("hardsphere", dtype="double", platform="dll")
    q = np.geomspace(1e-4, 1.0, 400)
    kernel = model.make_kernel([q])
    for _ in range(30):
        r, phi = rng.uniform(5, 400), rng.uniform(0.0, 0.7)
        ref = call_kernel(kernel, dict(radius_effective=r, volfraction=phi))
        ours = scattering.hardsphere_sq(q, r, phi)
        x = 2 * q * r
        np.testing.assert_allclose(ours[x >= 0.5], ref[x >= 0.5], rtol=1e-10, atol=0)
        # below X = 0.5 the kernel itself loses digits to cancellation (see the docstring)
        np.testing.assert_allclose(ours[x < 0.5], ref[x < 0.5], rtol=1e-5, atol=0)


def test_hardsphere_uniform_grid_fast_path_matches_plain(rng):
    q = QGrid().q
    r, phi = rng.uniform(9, 99, 50), rng.uniform(0.1, 0.5, 50)
    fast = scattering.hardsphere_sq(q, r, phi)
    plain = np.stack([scattering.hardsphere_sq(q[::-1], r[i], phi[i])[::-1] for i in range(50)])  # not ascending
    np.testing.assert_allclose(fast, plain, rtol=1e-11)


def test_sphere_form_factor_equals_the_sasmodels_sphere_kernel():
    """physics.scattering's F^2 and V against sasmodels' compiled ``sphere`` (call_Fq) over q R = 1e-5 .. 300."""
    from sasmodels.direct_model import call_Fq

    q = np.geomspace(1e-5, 3.0, 2000)
    kernel = physics.kernel_model("sphere").make_kernel([q])
    try:
        for r, sld, solvent in ((1.0, 1.0, 6.0), (10.0, 2.5, -0.3), (100.0, 1.0, 6.0)):
            _, ref, _, volume, _ = call_Fq(kernel, dict(scale=1.0, background=0.0, sld=sld, sld_solvent=solvent,
                                                        radius=r))
            f2, v = scattering.sphere_form_factor(q, np.array([r]), sld, solvent)
            np.testing.assert_allclose(v[0], volume, rtol=1e-14)
            u = q * r
            # below q R ~ 0.05 the direct form loses digits to cancellation (1.2e-9 at its cut q R = 1e-3)
            np.testing.assert_allclose(f2[0][u >= 0.05], ref[u >= 0.05], rtol=1e-12, atol=0)
            np.testing.assert_allclose(f2[0], ref, rtol=2e-9, atol=0)
            cached, _ = scattering.sphere_f2(q, np.array([r]), sld, solvent)
            assert np.array_equal(cached, f2) and not cached.flags.writeable
    finally:
        kernel.release()


def test_hardsphere_denominator_equals_the_hardsphere_kernel():
    """The cached-powers arrangement of S(q) (the fast check's) against sasmodels' ``hardsphere``."""
    from sasmodels.direct_model import call_kernel

    q = np.geomspace(0.002, 0.5, 300)
    kernel = physics.kernel_model("hardsphere").make_kernel([q])
    try:
        for r, phi in ((9.0, 0.1), (40.0, 0.3), (150.0, 0.5), (25.0, 0.0)):
            ref = call_kernel(kernel, dict(radius_effective=r, volfraction=phi))
            rows = scattering.hardsphere_denominator(r, phi, 2.0) @ scattering.inverse_powers(q)
            x = 2 * q * r
            ours = 1.0 / (2.0 * (np.sin(x) * rows[0] + np.cos(x) * rows[1] + rows[2]))
            np.testing.assert_allclose(ours[x >= 0.5], ref[x >= 0.5], rtol=1e-10, atol=0)
    finally:
        kernel.release()


def test_power_law_equals_the_sasmodels_power_law_kernel():
    from sasmodels.direct_model import call_kernel

    q = np.geomspace(1e-4, 1.0, 200)
    kernel = physics.kernel_model("power_law").make_kernel([q])
    try:
        for p in (1.0, 2.5, 4.0):
            ref = call_kernel(kernel, dict(scale=1.0, background=0.0, power=p))
            np.testing.assert_allclose(scattering.power_law(q, p), ref, rtol=1e-13, atol=0)
    finally:
        kernel.release()


@pytest.mark.parametrize("rel", [0.01, 0.05, 0.2])
def test_pinhole_smearing_equals_sasmodels_pinhole1d(rel):
    """physics.smearing's pinhole matrix (its own log q_calc, <= 2000 points) against sasmodels' Pinhole1D on a
    40000-point q_calc, for a power law and 10 %-polydisperse spheres over q R = 0.1-30 (measured <= 5e-4;
    a monodisperse sphere's sharp minima at 1 % resolution need a finer q_calc than the check uses)."""
    from sasmodels.resolution import Pinhole1D

    q = np.geomspace(0.003, 0.5, 250)
    r = np.linspace(30.0, 90.0, 121)
    weights = np.exp(-0.5 * ((r - 60.0) / 6.0) ** 2)
    fine = np.geomspace(0.02 * q[0], q[-1] * (1 + 3.5 * rel), 40000)
    ref_res = Pinhole1D(q, rel * q, q_calc=fine)
    x, w = smearing.smearing(q, rel * q)
    for curve, tol in ((lambda t: scattering.power_law(t, 3.0), 1e-4),
                       (lambda t: weights @ scattering.sphere_form_factor(t, r)[0], 1e-3)):
        np.testing.assert_allclose(w @ curve(x), ref_res.apply(curve(fine)), rtol=tol)


def test_number_volume_roundtrip(rng):
    r = RadiusGrid().radius
    n = rng.random((3, len(r)))
    n /= n.sum(axis=1, keepdims=True)
    v = physics.number_to_volume(n, r)
    np.testing.assert_allclose(v.sum(axis=1), 1.0)
    assert physics.mean_radius(v, r).min() > physics.mean_radius(n, r).max() * 0.9
    np.testing.assert_allclose(physics.volume_to_number(v, r), n, rtol=1e-12)


@pytest.mark.parametrize("phi", [-0.1, 0.74, np.nan])
def test_bad_volume_fraction(default_basis, phi):
    from sasview_nn_plugin.errors import InputError

    with pytest.raises(InputError, match="volume fraction"):
        physics.intensity(default_basis, np.ones(100), phi)


# --- independent programs: SASfit and another group's code (shapes, one constant factor) ---

def _load_sasfit(name):
    data = np.loadtxt(DATA / name, delimiter=";", usecols=(0, 1))
    return data[:, 0], data[:, 1]


def _fine_distribution(cdf, *params):
    grid = RadiusGrid(2.0, 45.0, 861)  # 0.05 A bins
    w = distributions.bin_mass(cdf, grid, *(np.array([p]) for p in params))[0]
    return grid.radius, w


def _shape_mismatch(q, ref, radius, w, phi):
    sel = (q >= 0.04) & (q <= 0.105)
    basis = physics.sphere_basis(q[sel], radius, sld=4.0, sld_solvent=1.0)
    ours = physics.intensity(basis, w, phi) if phi else (w @ basis.f2) / (w @ basis.volume)
    ratio = ref[sel] / ours
    return np.max(np.abs(ratio / np.median(ratio) - 1))


REFERENCE_CASES = [
    ("sasfit_sphere_schulz_IQSD.txt", distributions.schulz_cdf, (20.0, 0.1), 0.3),
    ("sasfit_sphere_schulz_IQD.txt", distributions.schulz_cdf, (20.0, 0.1), 0.0),
    ("sasfit_sphere_IQSD.txt", distributions.gaussian_cdf, (20.0, 2.0), 0.3),
    ("sasfit_sphere_IQD.txt", distributions.gaussian_cdf, (20.0, 2.0), 0.0),
]


@pytest.mark.parametrize("name,cdf,params,phi", REFERENCE_CASES)
def test_shape_matches_sasfit(name, cdf, params, phi):
    q, ref = _load_sasfit(name)
    radius, w = _fine_distribution(cdf, *params)
    assert _shape_mismatch(q, ref, radius, w, phi) < 0.005


@pytest.mark.parametrize("name,sigma", [("testPolydisperseGaussianSphere.dat", 2.0),
                                        ("testPolydisperseGaussianSphere2.dat", 3.0)])
def test_form_factor_matches_independent_code(name, sigma):
    data = np.loadtxt(DATA / name, skiprows=2)
    q, pq = data[:, 0], data[:, 3]
    radius, w = _fine_distribution(distributions.gaussian_cdf, 20.0, sigma)
    assert _shape_mismatch(q, pq, radius, w, 0.0) < 0.005


def test_reference_shape_check_can_fail():
    """The SASfit comparison detects a 2 % wrong radius (guards against a vacuous tolerance)."""
    q, ref = _load_sasfit("sasfit_sphere_schulz_IQSD.txt")
    radius, w = _fine_distribution(distributions.schulz_cdf, 20.4, 0.1)
    assert _shape_mismatch(q, ref, radius, w, 0.3) > 0.005


def test_breadth_is_volume_over_number_mean():
    """Volume-weighted over number-weighted mean radius: 1 + 3 pd^2 for a Schulz distribution (its moments: the
    volume mean is R (z + 4) / (z + 1), z = 1/pd^2 - 1), 1 for one radius, NaN for no particles."""
    from sasview_nn_plugin.physics.kernels import breadth

    r = np.linspace(1.0, 400.0, 40000)
    for pd in (0.05, 0.1, 0.3):
        z = 1 / pd**2 - 1
        w = np.exp(z * np.log(r / 100) - (z + 1) * r / 100)
        assert breadth(w, r) == pytest.approx(1 + 3 * pd**2, rel=1e-4)
    assert breadth(np.array([0.0, 1.0, 0.0]), np.array([10.0, 20.0, 30.0])) == 1.0
    assert np.isnan(breadth(np.zeros(3), np.array([10.0, 20.0, 30.0])))
