"""Issue 17, item 11: I <= 0 / NaN points outside the q range the model uses.

The network sees only q inside its grid's range; a curve whose unusable points all lie outside that
range is inverted from the points that matter, and the result's ``notes`` say what was dropped.
An unusable point inside the range is refused as before.  The windowed model is named: invert's default (auto)
chooses it for these 0.7-decade curves too, but puts its own note first.
"""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
from conftest import REPO

from sasview_nn_plugin import invert as _invert
from sasview_nn_plugin.errors import InputError
from sasview_nn_plugin.inference.invert import invert_many
from sasview_nn_plugin.inference.modelfile import load_model

PHI = 0.3
invert = functools.partial(_invert, model="default")


@pytest.fixture(scope="module")
def curve():
    """sasmodels Schulz R 40 A, pd 0.1, phi 0.3 on q 0.03-0.15 1/A (the model uses 0.04-0.105)."""
    from sasmodels.core import load_model as sm_load
    from sasmodels.direct_model import call_kernel

    q = np.geomspace(0.03, 0.15, 400)
    kernel = sm_load("sphere@hardsphere", dtype="double", platform="dll").make_kernel([q])
    i = call_kernel(kernel, dict(radius=40.0, radius_pd=0.1, radius_pd_type="schulz", radius_pd_n=60,
                                 volfraction=PHI, radius_effective_mode=1))
    return q, i, 0.01 * i


def _spoil(q, i, di, where):
    """Copies with a negative, a zero and a NaN intensity at the three points nearest ``where``."""
    i, di = i.copy(), di.copy()
    idx = np.argsort(np.abs(q - where))[:3]
    i[idx[0]], i[idx[1]], i[idx[2]] = -abs(i[idx[0]]), 0.0, np.nan
    return i, di, np.setdiff1d(np.arange(len(q)), idx)


@pytest.mark.parametrize("where", [0.14, 0.031], ids=["above", "below"])
def test_bad_points_outside_model_range_are_dropped_and_noted(curve, where):
    q, i, di = curve
    lo, hi = load_model().q_range
    assert where > hi or where < lo
    bad_i, bad_di, keep = _spoil(q, i, di, where)
    res = invert(q, bad_i, bad_di, volume_fraction=PHI)
    ref = invert(q[keep], i[keep], di[keep], volume_fraction=PHI)
    np.testing.assert_array_equal(res.number_distribution, ref.number_distribution)   # the network read the same
    assert res.mean_radius_number == ref.mean_radius_number and res.q_range == ref.q_range
    nan = np.isnan(bad_i)
    np.testing.assert_array_equal(res.q_data, q[~nan])   # the NaN dropped; I <= 0 kept as data (issue 26 item 1)
    assert not any("dropped" in n for n in ref.notes)   # (the window map's note: the curve spans 5x the model's)
    assert "dropped 1 point" in res.notes[0] and f"{lo:.4g}-{hi:.4g}" in res.notes[0]
    assert "2 points with I <= 0 kept as data" in res.notes[-1]
    assert res.to_dict()["notes"] == list(res.notes)
    # the same without dI, and through the batched path
    assert invert(q, bad_i, None, volume_fraction=PHI).notes[0] == res.notes[0]
    many = invert_many(q, np.stack([i, bad_i]), volume_fractions=PHI, model="default")
    assert not isinstance(many[1], InputError), many[1]
    np.testing.assert_allclose(many[1].number_distribution, many[0].number_distribution, atol=1e-4)
    assert many[1].notes[0] == res.notes[0] and not any("dropped" in n for n in many[0].notes)


@pytest.mark.parametrize("value", [-1.0, 0.0])
def test_non_positive_point_inside_model_range_is_kept(curve, value):
    """Issue 26 item 1: a point with I <= 0 is data (was refused): not read by the network, kept in the check."""
    q, i, di = curve
    bad = i.copy()
    bad[int(np.argmin(np.abs(q - 0.07)))] = value
    res = invert(q, bad, di, volume_fraction=PHI)
    assert len(res.q_data) == len(q) and "1 points with I <= 0 kept as data" in res.notes[-1]
    assert res.mean_radius_number == pytest.approx(invert(q, i, di, volume_fraction=PHI).mean_radius_number, rel=0.02)


def test_nan_point_inside_model_range_is_still_refused(curve):
    q, i, di = curve
    bad = i.copy()
    bad[int(np.argmin(np.abs(q - 0.07)))] = np.nan
    with pytest.raises(InputError, match="NaN"):
        invert(q, bad, di, volume_fraction=PHI)
    bad[-1] = -1.0  # also one I <= 0 outside: still refused for the NaN inside
    with pytest.raises(InputError, match="NaN"):
        invert(q, bad, di, volume_fraction=PHI)


@pytest.mark.parametrize("refine", [[], ["--refine", "lm"]], ids=["network", "refined"])
def test_cli_accepts_negative_points_above_model_range(curve, tmp_path, capsys, refine):
    from sasview_nn_plugin.cli import main
    from sasview_nn_plugin.data.writers import save_curve

    q, i, di = curve
    i = i.copy()
    i[q > 0.13] = -1e-3  # over-subtracted background at high q, beyond the model's 0.105 1/A
    n_bad = int(np.sum(q > 0.13))
    data = save_curve(tmp_path / "neg.txt", q, i, di)
    out = tmp_path / "out"
    rc = main(["invert", str(data), "--volume-fraction", f"{PHI}", "--output", str(out), *refine])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert f"{n_bad} points with I <= 0 kept as data" in err   # issue 26 item 1: data, weighed by their dI
    rec = json.loads((out / "neg.json").read_text())
    assert (out / "neg.csv").is_file()
    assert any(f"{n_bad} points with I <= 0 kept" in n for n in rec["notes"]), rec["notes"]
    assert rec["mean_radius_number"] == pytest.approx(40.0, rel=0.1)


def test_parametric_start_accepts_bad_points_outside_range(curve):
    from sasview_nn_plugin.fitting.parametric import predict_start

    if not (REPO / "trained_models" / "parametric_schulz.h5").exists():
        pytest.skip("no shipped parametric heads")
    q, i, di = curve
    bad_i, bad_di, keep = _spoil(q, i, di, 0.14)
    got = predict_start(q, bad_i, bad_di, volume_fraction=PHI, family="schulz")
    assert got == predict_start(q[keep], i[keep], di[keep], volume_fraction=PHI, family="schulz")
    from sasview_nn_plugin.fitting.parametric import invert_parametric

    fit = invert_parametric(q, bad_i, bad_di, volume_fraction=PHI, family="schulz")
    assert fit.fit.parameters["radius"][0] == pytest.approx(40.0, rel=0.02)
    assert any("dropped 3 points" in n for n in fit.notes), fit.notes
    np.testing.assert_array_equal(fit.q_data, q[keep])


def test_a_huge_point_outside_model_range_is_dropped_like_nan(curve):
    """An intensity above validation.MAX_VALUE (refused inside the model's range) is, like NaN, dropped and noted
    where the model never uses it."""
    q, i, di = curve
    bad = i.copy()
    k = int(np.argmin(np.abs(q - 0.14)))
    bad[k] = 1e200
    res = invert(q, bad, di, volume_fraction=PHI)
    keep = np.arange(len(q)) != k
    ref = invert(q[keep], i[keep], di[keep], volume_fraction=PHI)
    np.testing.assert_array_equal(res.number_distribution, ref.number_distribution)
    assert res.notes[0].startswith("dropped 1 points with intensity <= 0, NaN/inf or > 1e+150")
