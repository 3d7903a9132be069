"""Issue 14, items 2 and 5: dilute samples (phi = 0) and the resolution (dQ/Q) as a network input.

A tiny network is trained on a small set whose curves are smeared by different resolutions and include
dilute ones; it must take dQ/Q as its second scalar input, apply it the same way on every path (one curve,
a batch, a saved and reloaded file, ``invert`` with ``dq``) and as Keras does, and ``invert`` must accept
phi = 0.  Models without the input (every file written before it) keep loading and ignore ``resolution``.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from sasview_nn_plugin import invert
from sasview_nn_plugin.errors import InputError, ModelFileError
from sasview_nn_plugin.inference.invert import dq_over_q, invert_many
from sasview_nn_plugin.inference.modelfile import load_model, save_model
from sasview_nn_plugin.physics import kernels as physics


@pytest.fixture(scope="module")
def smeared_model(tmp_path_factory):
    from sasview_nn_plugin.training.simulate import SimulationSettings, simulate
    from sasview_nn_plugin.training.train import train

    d = tmp_path_factory.mktemp("smeared")
    settings = SimulationSettings(phi_min=0.0, dilute_fraction=0.3, smear_fraction=0.7, dq_over_q_max=0.2,
                                  smear_levels=4)
    simulate(1500, 5, d / "train.h5", settings, progress=False)
    with h5py.File(d / "train.h5") as f:
        phi, res = f["volume_fraction"][:], f["dq_over_q"][:]
    assert (phi == 0).mean() > 0.2 and set(np.round(np.unique(res), 6)) == {0.0, 0.05, 0.1, 0.15, 0.2}
    return load_model(train(d / "train.h5", d / "smeared", epochs=2, seed=3, verbose=0, plot=False).path)


def test_dilute_intensity_is_sasmodels_sphere():
    from sasmodels.core import load_model as sasmodels_model
    from sasmodels.direct_model import call_kernel

    q = np.geomspace(0.01, 0.3, 200)
    basis = physics.sphere_basis(q, np.array([20.0, 40.0]))
    mine = physics.intensity(basis, np.array([0.0, 1.0]), 0.0)
    kernel = sasmodels_model("sphere", dtype="double", platform="dll").make_kernel([q])
    ref = call_kernel(kernel, dict(radius=40.0, scale=1.0, background=0.0, sld=physics.DEFAULT_SLD,
                                   sld_solvent=physics.DEFAULT_SLD_SOLVENT))
    np.testing.assert_allclose(mine, ref, rtol=1e-10)


def test_model_takes_resolution_and_applies_it_everywhere(smeared_model, tmp_path, rng):
    from sasview_nn_plugin.training.train import keras_twin

    nn = smeared_model
    assert nn.takes_resolution and nn.weights[0].shape[0] == len(nn.input_shift) + 2
    basis = physics.sphere_basis(nn.q, nn.radius)
    w = rng.random((6, len(nn.radius))) ** 4
    phi = np.array([0.0, 0.0, 0.1, 0.2, 0.3, 0.45])
    res = np.array([0.0, 0.2, 0.05, 0.1, 0.0, 0.15])
    curves = physics.intensity(basis, w, phi)
    batch = nn.predict(curves, phi, resolution=res)
    one = np.stack([nn.predict(c, float(p), resolution=float(r)) for c, p, r in zip(curves, phi, res, strict=True)])
    np.testing.assert_allclose(batch, one, atol=1e-6)
    # the input matters, and Keras on the standardised inputs agrees
    assert np.abs(nn.predict(curves[0], 0.0, resolution=0.2) - batch[0]).max() > 1e-4
    x = (nn.features(curves) - nn.input_shift) / nn.input_scale
    x = np.concatenate([x, ((phi - nn.phi_shift) / nn.phi_scale)[:, None],
                        ((res - nn.resolution_shift) / nn.resolution_scale)[:, None]], axis=1)
    np.testing.assert_allclose(batch, keras_twin(nn).predict(x, verbose=0), atol=1e-5)
    # saved and reloaded: format 3, same outputs
    path = save_model(nn, tmp_path / "copy.h5")
    with h5py.File(path) as f:
        assert f.attrs["format_version"] == 3
    np.testing.assert_array_equal(load_model(path).predict(curves, phi, resolution=res), batch)


def test_invert_gives_the_network_the_median_dq_over_q(smeared_model, example_curve):
    q, i = example_curve
    sel = (q > 0.039) & (q < 0.107)   # no room for another window of the self-similar map: the direct path
    q, i = q[sel], i[sel]
    dq = 0.1 * q
    dq[q > 0.105] *= 1.5   # outside the network's window: not part of the median it is given
    assert dq_over_q(q, dq, smeared_model.q_range) == pytest.approx(0.1)
    r = invert(q, i, volume_fraction=0.3, model=smeared_model, dq=dq)
    from sasview_nn_plugin.inference.invert import to_model_grid

    want = smeared_model.predict(to_model_grid(q, i, smeared_model), 0.3, resolution=0.1)
    np.testing.assert_allclose(r.number_distribution, want, atol=1e-6)
    # invert_many passes each frame's own resolution
    many = invert_many(q, np.stack([i, i]), volume_fractions=0.3, model=smeared_model, dqs=np.stack([dq, 0 * dq]))
    np.testing.assert_allclose(many[0].number_distribution, r.number_distribution, atol=1e-6)
    plain = invert(q, i, volume_fraction=0.3, model=smeared_model)
    np.testing.assert_allclose(many[1].number_distribution, plain.number_distribution, atol=1e-6)


def test_dilute_volume_fraction_is_accepted(smeared_model, tiny_model, example_curve):
    q, i = example_curve
    r = invert(q, i, volume_fraction=0.0, model=smeared_model)
    assert r.volume_fraction_used == 0.0 and abs(r.number_distribution.sum() - 1) < 1e-9
    assert "phi-outside-training" not in r.quality.flags   # trained on phi 0-0.5
    old = invert(q, i, volume_fraction=0.0, model=tiny_model)   # trained on phi 0.1-0.5
    assert "phi-outside-training" in old.quality.flags
    assert invert_many(q, i[None], volume_fractions=0.0, model=smeared_model)[0].volume_fraction_used == 0.0
    with pytest.raises(InputError, match="dilute"):
        invert(q, i, volume_fraction=-0.01, model=smeared_model)


def test_model_without_resolution_ignores_it(tiny_model, example_curve):
    nn = load_model(tiny_model)
    assert not nn.takes_resolution
    x = np.exp(np.interp(np.log(nn.q), np.log(example_curve[0]), np.log(example_curve[1])))
    np.testing.assert_array_equal(nn.predict(x, 0.3, resolution=0.2), nn.predict(x, 0.3))


def test_half_a_resolution_normalisation_is_refused(smeared_model, tmp_path):
    path = save_model(smeared_model, tmp_path / "m.h5")
    with h5py.File(path, "a") as f:
        del f.attrs["resolution_scale"]
    with pytest.raises(ModelFileError, match="resolution_scale"):
        load_model(path)


def test_smear_levels_linear_or_geometric():
    from sasview_nn_plugin.training.simulate import SimulationSettings, make_resolutions

    lin = [r.dq_over_q for r in make_resolutions(SimulationSettings(smear_fraction=0.5, dq_over_q_max=0.2,
                                                                    smear_levels=4))]
    geo = [r.dq_over_q for r in make_resolutions(SimulationSettings(smear_fraction=0.5, dq_over_q_max=0.2,
                                                                    smear_levels=4, smear_spacing="geometric"))]
    assert lin == pytest.approx([0.05, 0.1, 0.15, 0.2]) and geo == pytest.approx([0.005, 0.017, 0.0585, 0.2], rel=0.01)
    with pytest.raises(InputError, match="smear_spacing"):
        SimulationSettings(smear_spacing="log")


def test_fit_starts_give_the_network_the_pinhole_width():
    """nn-lm / SasView's "Neural-network start" read dQ from a sasmodels Pinhole1D (``q_width``) or SasView's dx."""
    from types import SimpleNamespace

    from sasmodels.resolution import Pinhole1D

    from sasview_nn_plugin.fitting.network_start import pinhole_width
    from sasview_nn_plugin.fitting.sasfitness import SasFitnessView

    q = np.geomspace(0.03, 0.15, 50)
    np.testing.assert_allclose(pinhole_width(SimpleNamespace(resolution=Pinhole1D(q, 0.1 * q)), 50), 0.1 * q)
    assert pinhole_width(SimpleNamespace(resolution=SimpleNamespace(q=q)), 50) is None
    assert pinhole_width(SimpleNamespace(resolution=SimpleNamespace(q=q, q_width=np.zeros(50))), 50) is None
    data = SimpleNamespace(x=q, y=1 / q, dy=0.01 / q, dx=0.05 * q, idx=q > 0.035)
    exp = SasFitnessView(SimpleNamespace(data=data, _pars={}, model=None))   # what SasView's SasFitness is seen as
    np.testing.assert_allclose(pinhole_width(exp, int((q > 0.035).sum())), 0.05 * q[q > 0.035])
