"""Parametric heads: the started sasmodels fit, moments against sasmodels' own weights, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers import sasmodels_curve

from sasview_nn_plugin.errors import InputError
from sasview_nn_plugin.fitting.parametric import (
    SASMODELS_DEFAULT_START,
    fit_sphere_hs,
    invert_parametric,
    mean_radii,
    predict_start,
)

Q = np.geomspace(0.03, 0.15, 300)


@pytest.mark.parametrize("family", ["schulz", "lognormal"])
def test_moments_equal_sasmodels_weights(family):
    from sasmodels.weights import get_weights

    for radius, pd in [(30.0, 0.1), (60.0, 0.25)]:
        r, w = get_weights(family, 400, pd, 8, radius, (0, np.inf), True)
        rn = np.sum(w * r) / np.sum(w)
        rv = np.sum(w * r**4) / np.sum(w * r**3)
        mn, mv = mean_radii(family, radius, pd)
        assert mn == pytest.approx(rn, rel=2e-3) and mv == pytest.approx(rv, rel=2e-3)


def _cases(family, n, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        r, pd, phi, noise = rng.uniform(15, 85), np.exp(rng.uniform(np.log(0.04), np.log(0.28))), \
            rng.uniform(0.1, 0.5), rng.uniform(0.01, 0.03)
        i = sasmodels_curve(Q, r, pd, family, phi)
        out.append((i * (1 + noise * rng.standard_normal(len(Q))), noise * i, phi, r, pd))
    return out


@pytest.mark.parametrize("family", ["schulz", "lognormal"])
def test_network_started_fit_converges_where_default_start_does_not(family):
    ok_nn, ok_default, err_r = [], [], []
    for i, di, phi, r, _pd in _cases(family, 12, 4 if family == "schulz" else 5):
        fit = invert_parametric(Q, i, di, volume_fraction=phi, family=family)
        ok_nn.append(fit.fit.chi2_reduced <= 1.5)
        err_r.append(abs(fit.fit.parameters["radius"][0] / r - 1))
        plain = fit_sphere_hs(Q, i, di, volume_fraction=phi, family=family, **SASMODELS_DEFAULT_START)
        ok_default.append(plain.fit.chi2_reduced <= 1.5)
    assert np.mean(ok_nn) >= 11 / 12, ok_nn
    assert np.mean(ok_default) < np.mean(ok_nn), (ok_nn, ok_default)
    assert np.median(err_r) < 0.01


def test_start_is_close_and_model_family_checked():
    i, di, phi, r, pd = _cases("schulz", 1, 9)[0]
    start = predict_start(Q, i, di, volume_fraction=phi, family="schulz")
    assert start["radius"] == pytest.approx(r, rel=0.1) and start["radius_pd"] == pytest.approx(pd, rel=0.5)
    with pytest.raises(InputError, match="lognormal"):
        predict_start(Q, i, di, volume_fraction=phi, family="schulz", model="parametric_lognormal")
    with pytest.raises(InputError, match="distributions, not parameters"):
        predict_start(Q, i, di, volume_fraction=phi, family="schulz", model="default")


def test_cli_parametric(tmp_path):
    from sasview_nn_plugin.data.writers import save_curve

    i, di, phi, r, pd = _cases("lognormal", 1, 3)[0]
    data = save_curve(tmp_path / "ln.txt", Q, i, di)
    res = subprocess.run([sys.executable, "-m", "sasview_nn_plugin.cli", "invert", str(data), "--volume-fraction",
                          f"{phi}", "--parametric", "lognormal", "--output", str(tmp_path / "out")],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    rec = json.loads((tmp_path / "out" / "ln.json").read_text())
    ref = rec["refinement"]
    assert ref["parametrization"] == "lognormal" and ref["chi2_reduced"] < 1.5
    assert ref["parameters"]["radius"]["value"] == pytest.approx(r, rel=0.02)
    assert rec["warnings"] == [] and sum(rec["number_distribution"]) == pytest.approx(1)


def test_model_file_roundtrip_and_misuse(tmp_path):
    import h5py

    from sasview_nn_plugin import invert
    from sasview_nn_plugin.inference.modelfile import load_model, save_model

    nn = load_model("parametric_schulz")
    assert nn.parametric and nn.output_names == ("radius", "radius_pd")
    path = save_model(nn, tmp_path / "copy.h5")
    again = load_model(path)
    x = np.exp(np.linspace(0, -3, len(nn.q)))[None]
    np.testing.assert_array_equal(again.predict_parameters(x, 0.3), nn.predict_parameters(x, 0.3))
    with h5py.File(path, "r") as f:
        assert int(f.attrs["format_version"]) == 2
    with pytest.raises(InputError, match="`parametric`"):
        invert(nn.q, x[0], volume_fraction=0.3, model=nn)
    with h5py.File(path, "a") as f:  # a file whose output description does not match its layers
        del f["output_min"]
        f["output_min"] = np.zeros(3)
    with pytest.raises(InputError, match="corrupt"):
        load_model(path)
