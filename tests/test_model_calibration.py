"""The interval calibration belongs to the model (issue 27, item 4): its factors live in the model file (written by
benchmarks/fit_calibration.py --write, every array kept), refine reads them from there, and a model without them
gives intervals reported as uncalibrated.  Expected widths are hand-made: percentiles of known draws times the
factors."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from sasview_nn_plugin.errors import ModelFileError
from sasview_nn_plugin.fitting import posterior
from sasview_nn_plugin.inference.modelfile import CALIBRATION, calibration_of, load_model, write_calibration

CAL = {"factors": {"mean_radius_number": [1.5, 2.0], "mean_radius_volume": [1.0, 1.0], "volume_fraction": [1.0, 1.0],
                   "cumulative": [1.0, 1.0]}, "observability": {"x": 7.0, "power": 2.0}}


def draws():
    rng = np.random.default_rng(0)
    n = rng.normal(size=(4000, 5)) ** 2
    nums = n / n.sum(axis=1, keepdims=True)
    r = np.linspace(10, 50, 5)
    return {"number": nums, "volume": nums, "mean_radius_number": 40 + rng.normal(size=4000),
            "mean_radius_volume": 45 + rng.normal(size=4000), "volume_fraction": 0.3 + 0.01 * rng.normal(size=4000),
            "cumulative": np.cumsum(nums, axis=1)}, r


def test_intervals_are_widened_by_the_models_factors_or_reported_uncalibrated():
    q, _ = draws()
    best = {"mean_radius_number": 40.0, "mean_radius_volume": 45.0, "volume_fraction": 0.3,
            "cumulative": np.cumsum(np.full(5, 0.2))}
    raw = np.percentile(q["mean_radius_number"], posterior.PERCENTILES)
    u0 = posterior.summarise(q, best, "laplace", 1.0, q_max=1.0)        # q_max R = 40 > 7: observability 1
    assert u0.calibration is None and u0.to_dict()["intervals_calibrated"] is False
    np.testing.assert_allclose(u0.intervals["mean_radius_number"], raw)
    u1 = posterior.summarise(q, best, "laplace", 1.0, q_max=1.0, calibration=CAL)
    assert u1.to_dict()["intervals_calibrated"] is True
    lo95, lo68, hi68, hi95 = u1.intervals["mean_radius_number"]
    assert (40 - lo68, hi68 - 40) == pytest.approx((1.5 * (40 - raw[1]), 1.5 * (raw[2] - 40)))
    assert (40 - lo95, hi95 - 40) == pytest.approx((2.0 * (40 - raw[0]), 2.0 * (raw[3] - 40)))
    # a poorly resolved size (q_max R = 3.5 < 7): the observability factor (7 / 3.5)^2 = 4 on top
    u2 = posterior.summarise(q, best, "laplace", 1.0, q_max=3.5 / 40, calibration=CAL)
    assert u2.diagnostics["observability_factor"] == pytest.approx(4.0)
    assert 40 - u2.intervals["mean_radius_number"][1] == pytest.approx(4 * 1.5 * (40 - raw[1]))


def test_the_shipped_default_carries_its_calibration_and_he2024_none():
    cal = calibration_of(load_model("default"))
    assert cal is not None and set(cal["factors"]) == {"mean_radius_number", "mean_radius_volume",
                                                       "volume_fraction", "cumulative"}
    assert cal["observability"] == {"x": 7.0, "power": 2.0}
    assert calibration_of(load_model("he2024")) is None


def test_write_calibration_keeps_every_array_and_a_bad_one_is_refused(tiny_model, tmp_path):
    path = tmp_path / "m.h5"
    path.write_bytes(tiny_model.read_bytes())
    assert calibration_of(load_model(path)) is None
    write_calibration(path, CAL)
    with h5py.File(tiny_model) as a, h5py.File(path) as b:
        names = []
        a.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        assert names and all(np.array_equal(a[n][()], b[n][()]) for n in names)
    nn = load_model(path)
    assert calibration_of(nn) == CAL
    with pytest.raises(ModelFileError):
        write_calibration(path, {"factors": {}})
    with h5py.File(path, "r+") as f:   # a file whose calibration is malformed is refused on load
        info = json.loads(f.attrs["info"])
        info[CALIBRATION]["factors"]["cumulative"] = [1.0]
        f.attrs["info"] = json.dumps(info)
    with pytest.raises(ModelFileError, match="interval calibration"):
        load_model(path)


def test_refine_reports_a_model_without_calibration_as_uncalibrated(tiny_model, example_curve):
    from sasview_nn_plugin import invert, refine

    q, i = example_curve
    start = invert(q, i, 0.01 * i, volume_fraction=0.3, model=tiny_model)
    res = refine(start, retry=False)
    assert res.uncertainty.calibration is None
    assert res.to_dict()["refinement"]["intervals_calibrated"] is False
