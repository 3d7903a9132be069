"""Network inference (numpy), model files, and the invert API."""

from __future__ import annotations

import subprocess
import sys

import h5py
import numpy as np
import pytest

from sasview_nn_plugin import invert
from sasview_nn_plugin.errors import InputError, ModelFileError
from sasview_nn_plugin.inference.invert import to_model_grid
from sasview_nn_plugin.inference.modelfile import load_model, save_model


def test_numpy_forward_equals_keras(tiny_model, rng):
    from sasview_nn_plugin.training.train import keras_twin

    nn = load_model(tiny_model)
    net = keras_twin(nn)
    # through the raw-intensity path: features + standardisation folded into layer 0
    from sasview_nn_plugin.physics import kernels as physics

    basis = physics.sphere_basis(nn.q, nn.radius)
    w = rng.random((20, len(nn.radius))) ** 4
    phi = rng.uniform(0.1, 0.5, 20)
    curves = physics.intensity(basis, w, phi, 10 ** rng.uniform(-2, 2, 20))
    x = (nn.features(curves) - nn.input_shift) / nn.input_scale
    x = np.concatenate([x, ((phi - nn.phi_shift) / nn.phi_scale)[:, None]], axis=1)
    np.testing.assert_allclose(nn.predict(curves, phi), net.predict(x, verbose=0), atol=1e-5)
    assert nn.info["held_out_metrics"]["max_abs_numpy_vs_keras"] < 1e-5


def test_scale_invariance(tiny_model, example_curve):
    q, i = example_curve
    a = invert(q, i, volume_fraction=0.3, model=tiny_model)
    b = invert(q, 1234.5 * i, volume_fraction=0.3, model=tiny_model)
    np.testing.assert_allclose(a.number_distribution, b.number_distribution, atol=1e-5)


def test_result_is_consistent(tiny_model, example_curve):
    q, i = example_curve
    r = invert(q, i, volume_fraction=0.3, model=tiny_model)
    assert r.number_distribution.sum() == pytest.approx(1) and r.volume_distribution.sum() == pytest.approx(1)
    assert (r.number_distribution >= 0).all()
    assert r.mean_radius_number == pytest.approx(r.number_distribution @ r.radius)
    assert r.mean_radius_volume >= r.mean_radius_number
    v = r.number_distribution * r.radius**3
    np.testing.assert_allclose(r.volume_distribution, v / v.sum())


def test_grid_interpolation(tiny_model, example_curve):
    """Data on another grid give the same answer as the same curve on the model grid."""
    from sasmodels.core import load_model as sm_load
    from sasmodels.direct_model import call_kernel

    nn = load_model(tiny_model)
    model = sm_load("sphere@hardsphere", dtype="double", platform="dll")
    on_grid = call_kernel(model.make_kernel([nn.q]), dict(radius=40.0, radius_pd=0.1, radius_pd_type="schulz",
                                                          radius_pd_n=60, volfraction=0.3, radius_effective_mode=1))
    q, i = example_curve
    sel = (q > 0.039) & (q < 0.107)  # no room for another window of the self-similar map
    q, i = q[sel], i[sel]
    interp = to_model_grid(q, i, nn)
    np.testing.assert_allclose(interp, on_grid, rtol=3e-3)
    a = invert(q, i, volume_fraction=0.3, model=nn)
    b = invert(nn.q, on_grid, volume_fraction=0.3, model=nn)
    assert np.abs(np.cumsum(a.number_distribution - b.number_distribution)).sum() * 0.909 < 0.5


@pytest.mark.parametrize("lo,hi", [(0.09, 0.3), (0.02, 0.035)])
def test_q_range_refused(tiny_model, lo, hi):
    """Above the model's window by more than 1 / MIN_WINDOW_SCALE (radii below half its grid's smallest: s < 0.5),
    or too narrow to map onto it (q_max/q_min < 2.625)."""
    q = np.linspace(lo, hi, 100)
    with pytest.raises(InputError, match=r"needs 0.04-0.105 1/A"):
        invert(q, 1 / q, volume_fraction=0.3, model=tiny_model)


def test_a_lower_q_window_is_mapped_onto_the_model_window(tiny_model):
    """q 0.01-0.1 does not contain the model's 0.04-0.105 but spans its ratio: mapped (self-similarity), noted."""
    q = np.linspace(0.01, 0.1, 100)
    res = invert(q, 1 / q, volume_fraction=0.3, model=tiny_model)
    assert any("scaled by s" in n for n in res.notes) and res.radius[-1] > 100.0


@pytest.mark.parametrize("phi", [-0.1, -1e-9, 0.74, 1.0])  # 0 is dilute: accepted (test_domain_inputs.py)
def test_volume_fraction_refused(tiny_model, example_curve, phi):
    q, i = example_curve
    with pytest.raises(InputError, match="volume fraction"):
        invert(q, i, volume_fraction=phi, model=tiny_model)


def test_model_file_round_trip(tiny_model, tmp_path, example_curve):
    nn = load_model(tiny_model)
    copy = save_model(nn, tmp_path / "copy.h5")
    nn2 = load_model(copy)
    q, i = example_curve
    a = invert(q, i, volume_fraction=0.3, model=nn)
    b = invert(q, i, volume_fraction=0.3, model=nn2)
    np.testing.assert_array_equal(a.number_distribution, b.number_distribution)
    assert nn2.info == nn.info and nn2.info["training_data"]["seed"] == 11


def test_model_file_carries_everything(tiny_model):
    with h5py.File(tiny_model) as f:
        assert len(f["q"]) == 1000 and len(f["radius"]) == 100
        import json

        info = json.loads(f.attrs["info"])
    for key in ("preset", "training_data", "versions", "held_out_metrics", "n_train"):
        assert key in info
    assert info["training_data"]["phi_min"] == 0.1 and info["versions"]["tensorflow"]


def test_corrupt_and_mismatched_model_files(tiny_model, tmp_path):
    bad = tmp_path / "truncated.h5"
    bad.write_bytes(tiny_model.read_bytes()[:5000])
    with pytest.raises(ModelFileError, match="corrupt"):
        load_model(bad)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = 1
    with pytest.raises(ModelFileError, match="not a sasview_nn_plugin model"):
        load_model(other)
    grid = tmp_path / "grid.h5"
    grid.write_bytes(tiny_model.read_bytes())
    with h5py.File(grid, "r+") as f:
        del f["radius"]
        f["radius"] = np.linspace(9, 99, 50)
    with pytest.raises(ModelFileError, match="radius grid has 50"):
        load_model(grid)
    with pytest.raises(ModelFileError, match="no model named"):
        load_model("no-such-model")


def test_inference_imports_neither_tensorflow_nor_sasmodels(tiny_model, example_curve):
    code = (
        "import sys, numpy as np\n"
        "from sasview_nn_plugin import invert\n"
        "q = np.linspace(0.03, 0.12, 300)\n"
        f"r = invert(q, 1/q**3, volume_fraction=0.2, model={str(tiny_model)!r})\n"
        "bad = [m for m in ('tensorflow', 'keras', 'sasmodels', 'matplotlib') if m in sys.modules]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_review_of_other_explanations_imports_neither_sasmodels_nor_scipy():
    """The review (inference.alternatives) fits sasmodels' sticky-sphere and fractal models ported to numpy: a sticky
    curve is flagged, and the inference path has loaded no sasmodels, scipy or bumps."""
    code = (
        "import sys, numpy as np\n"
        "from sasview_nn_plugin import invert\n"
        "from sasview_nn_plugin.physics.polydisperse import sphere_intensity\n"
        "q = np.geomspace(0.008, 0.3, 300)\n"
        "clean = 100 * sphere_intensity(q, 47.0, 0.1, 0.18, 'stickyhardsphere', dict(perturb=0.05, stickiness=0.28),"
        " radius_pd_n=40) + 0.02\n"
        "di = 0.02 * clean\n"
        "i = clean + di * np.random.default_rng(5).standard_normal(len(q))\n"
        "qual = invert(q, i, di, volume_fraction=0.18, model='wide').quality\n"
        "print(qual.flags, qual.review_failed)\n"
        "print([m for m in ('sasmodels', 'scipy', 'bumps', 'tensorflow', 'sasdata') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["('other-model-fits-better',) None", "[]"]


def test_invert_many_equals_invert_and_isolates_bad_curves():
    from sasview_nn_plugin.inference.invert import invert_many
    from sasview_nn_plugin.physics import kernels as physics

    nn = load_model()
    rng = np.random.default_rng(7)

    basis = physics.sphere_basis(nn.q, nn.radius)
    curves = physics.intensity(basis, rng.random((12, len(nn.radius))) ** 8, 0.3)
    curves[4, 17] = np.nan
    curves[6, 3] = -1.0   # one over-subtracted point: kept as data (issue 26), the same as invert
    phis = np.full(12, 0.3)
    phis[9] = 0.9
    res = invert_many(nn.q, curves, volume_fractions=phis)
    assert any("I <= 0 kept" in note for note in res[6].notes) and len(res[6].curve.q) == len(nn.q)
    for k, r in enumerate(res):
        if k in (4, 9):
            assert isinstance(r, InputError)
            with pytest.raises(InputError, match=str(r)[:20]):
                invert(nn.q, curves[k], volume_fraction=phis[k])
        else:
            single = invert(nn.q, curves[k], volume_fraction=0.3)
            np.testing.assert_allclose(r.number_distribution, single.number_distribution, atol=1e-5)
            assert r.mean_radius_volume == pytest.approx(single.mean_radius_volume, rel=1e-5)


@pytest.mark.parametrize("name", ["default", "he2024", "parametric_lognormal"])
def test_every_entry_point_gives_the_same_network(name):
    """One curve, a batch (one phi or one per row), the threaded batch path and standardised inputs all run the
    one forward pass: the same outputs to float32 rounding; normalise=False only skips a softmax's division."""
    from sasview_nn_plugin.inference.modelfile import models_dir
    from sasview_nn_plugin.physics import kernels as physics

    if not (models_dir() / f"{name}.h5").exists():
        pytest.skip(f"no shipped model {name}")
    nn = load_model(name)
    rng = np.random.default_rng(1)
    phi = rng.uniform(0.1, 0.5, 6)
    curves = physics.intensity(physics.sphere_basis(nn.q, nn.radius), rng.random((6, len(nn.radius))) ** 8, phi)
    one = np.stack([nn.outputs(c, p) for c, p in zip(curves, phi, strict=True)])
    standardised = nn.standardised_inputs(curves, phi)
    big = np.repeat(curves, 400, axis=0)   # > 2 blocks of 1024: predict's own thread pool
    for other in (nn.outputs(curves, phi), nn.outputs(big, np.repeat(phi, 400))[::400],
                  nn.outputs_standardised(standardised)):
        np.testing.assert_allclose(other, one, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(nn.outputs(curves[:2], phi[0]), np.stack([one[0], nn.outputs(curves[1], phi[0])]),
                               rtol=1e-4, atol=1e-6)
    if nn.parametric:
        np.testing.assert_allclose(nn.predict_parameters(curves, phi), nn.parameters_from_outputs(one), rtol=1e-4)
        return
    raw = nn.predict(curves, phi, normalise=False)
    dist = nn.predict(curves, phi)
    np.testing.assert_allclose(dist.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(raw / raw.sum(axis=1, keepdims=True), dist, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(nn.predict_normalised(standardised), dist, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("bad", ["nan", "inf", "zero", "negative", "shape"])
def test_bad_di_on_the_model_grid_is_refused(tiny_model, example_curve, bad):
    """On the model's own grid (the hot path) a dI with NaN, inf, 0, a negative value or the wrong length is one
    InputError naming dI, as off the grid."""
    q0, i0 = example_curve
    q = load_model(tiny_model).q
    intensity = np.interp(q, q0, i0)
    di = 0.01 * intensity
    if bad == "shape":
        di = di[:-1]
    else:
        di[7] = {"nan": np.nan, "inf": np.inf, "zero": 0.0, "negative": -1e-3}[bad]
    with pytest.raises(InputError, match="dI"):
        invert(q, intensity, di, volume_fraction=0.3, model=tiny_model)
    good = invert(q, intensity, 0.01 * intensity, volume_fraction=0.3, model=tiny_model)
    assert good.quality.chi2_reduced is not None
