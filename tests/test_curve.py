"""One Curve through the pipeline (issue 27): built by the loaders or Curve.from_data1d, checked once by invert,
kept by its Inversion, refined from it with nothing passed again; slit-smeared curves carried and refused
where they are not smeared yet.  Expected values are hand-made or sasmodels' own, never the network's."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import DATA

from sasview_nn_plugin.data.curve import Curve
from sasview_nn_plugin.errors import InputError

Q = np.geomspace(0.03, 0.15, 300)


@pytest.fixture(scope="module")
def smeared():
    """sasmodels sphere@hardsphere (Schulz R = 40 A, pd 0.12, phi 0.3) smeared by Pinhole1D dQ = 4 % q, 1 % noise."""
    from sasmodels.core import load_model
    from sasmodels.direct_model import call_kernel
    from sasmodels.resolution import Pinhole1D

    dq = 0.04 * Q
    res = Pinhole1D(Q, dq)
    model = load_model("sphere@hardsphere", dtype="double", platform="dll")
    i_calc = call_kernel(model.make_kernel([res.q_calc]), dict(radius=40.0, radius_pd=0.12, radius_pd_type="schulz",
                                                               radius_pd_n=60, volfraction=0.3,
                                                               radius_effective_mode=1))
    intensity = res.apply(i_calc)
    di = 0.01 * intensity
    intensity = intensity + di * np.random.default_rng(3).standard_normal(len(Q))
    return Q, intensity, di, dq


def test_refine_of_a_result_equals_refine_with_its_data_on_a_smeared_curve(smeared):
    from sasview_nn_plugin import invert, refine

    q, i, di, dq = smeared
    start = invert(q, i, di, volume_fraction=0.3, dq=dq)
    assert start.curve.dq is not None and np.array_equal(start.curve.dq, dq)   # the Inversion keeps dq
    alone = refine(start)
    again = refine(q, i, di, start, dq=dq)
    assert alone.fit.chi2_reduced == pytest.approx(again.fit.chi2_reduced, rel=1e-12)
    np.testing.assert_allclose(alone.number_distribution, again.number_distribution, rtol=1e-10, atol=1e-14)
    assert alone.fit.dq_scale == pytest.approx(again.fit.dq_scale, rel=1e-12)
    assert alone.fit.dq_scale is not None   # the fit smeared: dq reached it


def test_a_curve_and_its_arrays_invert_alike(smeared):
    from sasview_nn_plugin import Curve, invert

    q, i, di, dq = smeared
    a = invert(q, i, di, volume_fraction=0.3, dq=dq)
    b = invert(Curve.from_arrays(q, i, di, dq), volume_fraction=0.3)
    np.testing.assert_array_equal(a.number_distribution, b.number_distribution)
    assert a.quality.chi2_reduced == b.quality.chi2_reduced
    with pytest.raises(InputError, match="either a Curve alone") as exc:
        invert(Curve.from_arrays(q, i, di), di, volume_fraction=0.3)
    assert exc.value.parameter == "intensity"


@pytest.mark.parametrize("over_subtracted", [False, True])
def test_estimated_volume_fraction_enters_invert_once_and_checks_the_curve_once(smeared, monkeypatch,
                                                                                over_subtracted):
    """Also with two points I <= 0 (kept as data, the network reading the others): still one entry, one check."""
    import sasview_nn_plugin.inference.invert as mod

    q, i, di, dq = smeared
    if over_subtracted:
        i = i.copy()
        i[[-3, -9]] = -0.5 * di[[-3, -9]]
    calls = {"invert": 0, "check_curve": 0}
    orig_invert, orig_check = mod.invert, mod.check_curve

    def counted_invert(*a, **k):
        calls["invert"] += 1
        return orig_invert(*a, **k)

    def counted_check(*a, **k):
        calls["check_curve"] += 1
        return orig_check(*a, **k)

    monkeypatch.setattr(mod, "invert", counted_invert)
    monkeypatch.setattr(mod, "check_curve", counted_check)
    res = mod.invert(q, i, di, volume_fraction=None, dq=dq, model="default")   # (auto: one more entry, to choose)
    assert res.volume_fraction_sigma is not None
    assert calls == {"invert": 1, "check_curve": 1}


def test_refine_of_a_result_does_not_check_or_drop_again(smeared, monkeypatch):
    from sasview_nn_plugin import invert, refine
    from sasview_nn_plugin.fitting import inputs

    q, i, di, dq = smeared
    start = invert(q, i, di, volume_fraction=0.3, dq=dq)

    def fail(*a, **k):
        raise AssertionError("checked again")

    monkeypatch.setattr(inputs, "check_curve", fail)
    monkeypatch.setattr(inputs, "unused_bad_points", fail)
    assert refine(start).fit is not None


def test_refine_of_a_result_takes_nothing_more(smeared):
    from sasview_nn_plugin import invert, refine

    q, i, di, dq = smeared
    start = invert(q, i, di, volume_fraction=0.3, dq=dq)
    with pytest.raises(InputError, match="result alone") as exc:
        refine(start, dq=dq)
    assert exc.value.parameter == "start"
    with pytest.raises(InputError, match="must be an Inversion") as exc:
        refine(q, i, di, "not a result")
    assert exc.value.parameter == "start"


def test_a_curves_q_range_limits_the_points_inverted(smeared):
    from sasview_nn_plugin import invert

    q, i, di, dq = smeared
    res = invert(Curve.from_arrays(q, i, di, dq, q_range=(0.035, 0.12)), volume_fraction=0.3)
    assert res.q_data[0] >= 0.035 and res.q_data[-1] <= 0.12
    assert len(res.q_data) == int(np.sum((q >= 0.035) & (q <= 0.12)))
    with pytest.raises(InputError) as exc:
        Curve.from_arrays(q, i, di, q_range=(0.1, 0.05))
    assert exc.value.parameter == "q_range"


def test_curve_from_a_sasdata_data1d_converts_units_and_repairs():
    from sasdata.dataloader.data_info import Data1D

    x = np.array([0.5, 0.4, np.nan, 0.6, 0.7, 0.8])       # 1/nm, unsorted, one NaN row
    d = Data1D(x=x, y=np.array([5.0, 6.0, 1.0, 4.0, 3.0, 2.0]), dy=np.full(6, 0.1))
    d.xaxis("Q", "1/nm")
    d.dxl = np.full(6, 2.0)                              # a slit length of 2 1/nm
    c = Curve.from_data1d(d)
    np.testing.assert_allclose(c.q, [0.04, 0.05, 0.06, 0.07, 0.08])
    np.testing.assert_array_equal(c.intensity, [6.0, 5.0, 4.0, 3.0, 2.0])
    np.testing.assert_allclose(c.slit_length, 0.2)
    assert c.dq is None and c.slit_width is None and c.q_unit == "nm" and c.q_unit_source == "file"
    assert any("NaN" in r for r in c.repairs) and any("sorted" in r for r in c.repairs)
    with pytest.raises(InputError):
        Curve.from_data1d(d, strict=True)


def test_slit_smeared_files_carry_their_slit_and_are_refused_where_not_smeared_yet():
    from sasview_nn_plugin import invert, load_curves, model_curve, refine

    pinhole, slit = load_curves(DATA / "sasview_examples" / "latex_smeared.xml")
    assert pinhole.slit_length is None and pinhole.dq is not None
    assert slit.dq is None and slit.slit_length is not None
    np.testing.assert_allclose(slit.slit_length, 0.117)   # <dQl unit="1/A">0.117</dQl> on every point
    with pytest.raises(InputError, match="slit-smeared data are not supported yet by the windowed model") as exc:
        invert(slit, volume_fraction=0.1, model="default")
    assert exc.value.parameter == "slit_length"
    read = invert(slit, volume_fraction=0.1)   # the default (auto) reads them with the whole-curve network
    assert read.model == "wide" and "slit-smeared" in read.notes[0]
    assert read.curve.slit_length is not None
    # a result holding a slit-smeared curve (made by hand: the windowed model refuses one): model_curve and refine
    # smear with the slit (tests/test_model_curve_slit.py)
    from dataclasses import replace

    start = invert(Curve.from_arrays(Q, (Q / 0.05) ** -4 + 1.0), volume_fraction=0.1)
    held = replace(start, curve=Curve.from_arrays(Q, (Q / 0.05) ** -4 + 1.0, slit_length=0.117))
    assert np.isfinite(model_curve(held).intensity).all()
    assert np.isfinite(refine(held).fit.chi2_reduced)


def test_an_ascii_header_naming_dql_gives_slit_lengths(tmp_path):
    from sasview_nn_plugin import load_curves

    rows = "\n".join(f"{q:.6g} {1 / q:.6g} {0.01 / q:.6g} 0.05" for q in np.geomspace(0.1, 1.0, 20))
    (tmp_path / "slit.txt").write_text("# q(1/nm) I(1/cm) dI dQl\n" + rows + "\n")
    (c,) = load_curves(tmp_path / "slit.txt")
    assert c.dq is None
    np.testing.assert_allclose(c.slit_length, 0.005)    # 0.05 1/nm in 1/A, as q
    (tmp_path / "pinhole.txt").write_text("# q(1/nm) I(1/cm) dI dQ\n" + rows + "\n")
    (p,) = load_curves(tmp_path / "pinhole.txt")
    assert p.slit_length is None
    np.testing.assert_allclose(p.dq, 0.005)
    (tmp_path / "bad.txt").write_text("# q I dQl dI\n" + rows + "\n")
    with pytest.raises(InputError, match="4th column"):
        load_curves(tmp_path / "bad.txt")


def test_the_front_door_exports_the_pipeline_and_imports_numpy_only():
    import sasview_nn_plugin as pkg

    names = {"invert", "invert_many", "refine", "model_curve", "load_model", "Curve", "Inversion"}
    assert names <= set(pkg.__all__)
    code = ("import sys, sasview_nn_plugin as p; assert not {'bumps', 'sasmodels', 'tensorflow'} & set(sys.modules); "
            "from sasview_nn_plugin import invert, invert_many, refine, model_curve, load_model, Curve, Inversion; "
            "assert refine.__module__ == 'sasview_nn_plugin.fitting.refine'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_cli_auto_phi_and_refine_enter_each_stage_once(smeared, tmp_path, monkeypatch):
    """Issue 27's acceptance: `invert --volume-fraction auto --refine lm` from the CLI checks the curve once (in
    invert), estimates phi once, and refine fits the result's curve without checking or dropping again."""
    import sasview_nn_plugin.inference.invert as inv
    from sasview_nn_plugin.cli import main
    from sasview_nn_plugin.data.writers import save_curve
    from sasview_nn_plugin.fitting import inputs

    q, i, di, dq = smeared
    data = save_curve(tmp_path / "c.txt", q, i, di, dq)
    calls = {"check_curve": 0, "_invert_auto": 0}
    for name in calls:
        orig = getattr(inv, name)

        def counted(*a, _orig=orig, _name=name, **k):
            calls[_name] += 1
            return _orig(*a, **k)
        monkeypatch.setattr(inv, name, counted)

    def fail(*a, **k):
        raise AssertionError("refine checked the curve again")

    monkeypatch.setattr(inputs, "check_curve", fail)
    monkeypatch.setattr(inputs, "unused_bad_points", fail)
    assert main(["invert", str(data), "--volume-fraction", "auto", "--refine", "lm", "--output",
                 str(tmp_path / "out")]) == 0
    assert calls == {"check_curve": 1, "_invert_auto": 1}
