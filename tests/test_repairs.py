"""Loader repairs: what SasView's loader (sasdata) and fitter drop or sort is accepted and recorded.

``repair_curve`` (pure numpy) is tested directly; ``load_curves`` applies it to every format, with the file's
line numbers for ASCII; ``strict_input=True`` refuses every case instead.  The copies of SasView 6.1.3's
example files in ``tests/data/sasview_examples/`` keep these cases covered where SasView is not installed.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DATA

from sasview_nn_plugin.data.curve import Curve, repair_curve
from sasview_nn_plugin.data.load import load_curves
from sasview_nn_plugin.data.writers import save_curve
from sasview_nn_plugin.errors import InputError

EXAMPLES = DATA / "sasview_examples"
Q = np.geomspace(0.01, 0.3, 60)
IQ = 1e3 * np.exp(-((Q * 30) ** 2) / 3) + 0.5
DI = 0.02 * IQ
DQ = 0.05 * Q


def repaired(q, i, di=None, dq=None, **kw):
    return repair_curve(np.asarray(q, float), np.asarray(i, float), None if di is None else np.asarray(di, float),
                        None if dq is None else np.asarray(dq, float), **kw)


# --- repair_curve: the rules, one at a time -------------------------------------------------------------------

def test_clean_curve_is_returned_unchanged():
    q, i, di, dq, repairs = repaired(Q, IQ, DI, DQ)
    assert repairs == ()
    for a, b in ((q, Q), (i, IQ), (di, DI), (dq, DQ)):
        np.testing.assert_array_equal(a, b)
    assert repaired(Q, IQ)[2] is None and repaired(Q, IQ)[3] is None


def test_inputs_are_not_modified():
    q, i, di = Q[::-1].copy(), IQ[::-1].copy(), DI[::-1].copy()
    i[3] = np.nan
    before = [a.copy() for a in (q, i, di)]
    repaired(q, i, di)
    for a, b in zip((q, i, di), before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_rows_with_nan_or_inf_are_dropped_like_sasdata():
    i, di, dq = IQ.copy(), DI.copy(), DQ.copy()
    i[4], di[9], dq[20] = np.nan, np.inf, np.nan
    q, i2, di2, dq2, repairs = repaired(Q, i, di, dq)
    keep = np.ones(len(Q), bool)
    keep[[4, 9, 20]] = False
    np.testing.assert_array_equal(q, Q[keep])
    np.testing.assert_array_equal(i2, IQ[keep])
    np.testing.assert_array_equal(di2, DI[keep])
    np.testing.assert_array_equal(dq2, DQ[keep])
    assert len(repairs) == 1 and "dropped 3 rows" in repairs[0] and "NaN/inf" in repairs[0]


def test_line_numbers_name_the_rows():
    i = IQ.copy()
    i[4] = np.nan
    rows = np.arange(len(Q)) + 12
    assert "(line 16)" in repaired(Q, i, rows=rows)[4][0]


def test_q_zero_rows_are_dropped_like_sasdata():
    q = np.r_[0.0, Q]
    i = np.r_[0.0, IQ]
    di = np.r_[0.0, DI]
    out_q, out_i, out_di, _, repairs = repaired(q, i, di, rows=np.arange(len(q)) + 1)
    np.testing.assert_array_equal(out_q, Q)
    np.testing.assert_array_equal(out_di, DI)
    assert repairs == ("dropped 1 row with q = 0 and I = 0 (line 1), as SasView's loader does",)
    # q = 0 with a measured intensity: said so
    assert repaired(np.r_[0.0, Q], np.r_[5.0, IQ])[4] == ("dropped 1 row with q = 0, as SasView's loader does",)


def test_unsorted_q_is_sorted_like_sasdata():
    perm = np.random.default_rng(1).permutation(len(Q))
    q, i, di, dq, repairs = repaired(Q[perm], IQ[perm], DI[perm], DQ[perm])
    for a, b in ((q, Q), (i, IQ), (di, DI), (dq, DQ)):
        np.testing.assert_array_equal(a, b)
    assert len(repairs) == 1 and repairs[0].startswith(f"sorted {len(Q)} points by q (")


def test_zero_di_rows_are_dropped_like_sasviews_fit():
    di = DI.copy()
    di[[3, 30]] = 0
    q, i, di2, _, repairs = repaired(Q, IQ, di)
    assert len(q) == len(Q) - 2 and 0 not in di2 and Q[3] not in q
    assert repairs[0].startswith("dropped 2 rows with dI = 0 (q = ")
    assert repairs[0].endswith("which SasView's fit leaves out too")


def test_di_zero_everywhere_means_no_di_like_sasview():
    q, i, di, _, repairs = repaired(Q, IQ, np.zeros_like(Q))
    assert di is None and len(q) == len(Q)
    assert repairs == ("dI is 0 on every row: not used, all points weighted equally (as SasView does)",)


def test_negative_di_is_used_as_its_magnitude_like_sasviews_fit():
    di = DI.copy()
    di[[3, 4]] *= -1
    q, i, di2, _, repairs = repaired(Q, IQ, di)
    np.testing.assert_array_equal(di2, DI)
    assert repairs == (f"used |dI| for 2 rows with dI < 0 (q = {Q[3]:.4g}, {Q[4]:.4g} 1/A), as SasView's fit weighs "
                       "them (it squares (I - model) / dI)",)


def test_duplicate_q_merged_by_inverse_variance_average():
    q = np.r_[Q[:10], Q[9], Q[10:]]
    i = np.r_[IQ[:10], 2 * IQ[9], IQ[10:]]
    di = np.r_[DI[:10], 2 * DI[9], DI[10:]]
    dq = np.r_[DQ[:10], 3 * DQ[9], DQ[10:]]
    out_q, out_i, out_di, out_dq, repairs = repaired(q, i, di, dq)
    np.testing.assert_array_equal(out_q, Q)
    w = np.array([1 / DI[9] ** 2, 1 / (2 * DI[9]) ** 2])
    assert out_i[9] == pytest.approx((w @ [IQ[9], 2 * IQ[9]]) / w.sum(), rel=1e-12)
    assert out_di[9] == pytest.approx(w.sum() ** -0.5, rel=1e-12)
    assert out_dq[9] == pytest.approx((w @ [DQ[9], 3 * DQ[9]]) / w.sum(), rel=1e-12)
    np.testing.assert_array_equal(np.delete(out_i, 9), np.delete(IQ, 9))
    assert repairs == (f"merged 2 duplicate q points (q = {Q[9]:.4g} 1/A) into 1 by inverse-variance averaging",)
    # without dI: the plain mean
    assert repaired(q, i)[1][9] == pytest.approx(1.5 * IQ[9], rel=1e-12)


def test_several_repairs_are_listed_in_order():
    q = np.r_[0.0, Q[::-1], Q[5]]
    i = np.r_[0.0, IQ[::-1], IQ[5]]
    di = np.r_[0.0, DI[::-1], DI[5]]
    i[7] = np.nan
    _, _, _, _, repairs = repaired(q, i, di)
    assert [r.split(" ")[0] for r in repairs] == ["dropped", "dropped", "sorted", "merged"]


@pytest.mark.parametrize("case", ["nan", "q0", "unsorted", "zero_di", "all_zero_di", "negative_di", "duplicate"])
def test_strict_refuses_every_repair(case):
    q, i, di = Q.copy(), IQ.copy(), DI.copy()
    if case == "nan":
        i[4] = np.nan
    elif case == "q0":
        q[0] = 0
    elif case == "unsorted":
        q, i, di = q[::-1], i[::-1], di[::-1]
    elif case == "zero_di":
        di[4] = 0
    elif case == "all_zero_di":
        di[:] = 0
    elif case == "negative_di":
        di[7] = -di[7]
    else:
        q[5] = q[4]
    with pytest.raises(InputError, match="`strict_input`") as e:
        repaired(q, i, di, strict=True)
    assert {"nan": "NaN/inf", "q0": "q = 0", "unsorted": "not sorted", "zero_di": "dI = 0",
            "all_zero_di": "dI = 0", "negative_di": "dI < 0", "duplicate": "duplicate"}[case] in str(e.value)
    assert repaired(Q, IQ, DI, strict=True)[4] == ()


@pytest.mark.parametrize("q, i, di, message", [
    (Q, np.full_like(Q, np.nan), None, "NaN/inf"),
    (np.r_[0.0, 0.0], np.r_[0.0, 0.0], None, "no points left"),
    (Q, -IQ, None, "<= 0 at every point"),
    (Q, np.zeros_like(Q), DI, "<= 0 at every point"),
    (np.r_[-Q[::-1], Q], np.r_[IQ[::-1], IQ], None, "q < 0"),
    (np.r_[Q[0], Q[0]], np.r_[IQ[0], IQ[1]], None, "fewer than 2"),
])
def test_what_no_repair_can_save_is_refused(q, i, di, message):
    with pytest.raises(InputError, match=message):
        repaired(q, i, di)


def test_negative_intensities_inside_are_left_to_the_inversion():
    i = IQ.copy()
    i[[10, 11]] = -1
    out = repaired(Q, i, DI)
    np.testing.assert_array_equal(out[1], i)
    assert out[4] == ()


# --- load_curves: every format, with the file's line numbers for ASCII ---------------------------------------

def _ascii(path, rows, header="# q(1/A) I dI\n"):
    path.write_text(header + "".join(" ".join(f"{v:.10g}" for v in r) + "\n" for r in rows))
    return path


def test_ascii_repairs_with_line_numbers(tmp_path):
    rows = [(0, 0, 0)] + [(q, i, d) for q, i, d in zip(Q, IQ, DI, strict=True)]
    rows[10] = (rows[10][0], rows[10][1], 0.0)        # one zero dI (line 11)
    rows.insert(20, rows[19])                         # a repeated row (line 21)
    rows[30], rows[31] = rows[31], rows[30]           # two rows swapped
    rows[40] = (rows[40][0], float("nan"), rows[40][2])
    c = load_curves(_ascii(tmp_path / "a.txt", rows))[0]
    assert isinstance(c, Curve) and np.all(np.diff(c.q) > 0) and np.all(c.di > 0)
    assert len(c.q) == len(Q) - 2  # q = 0 row, zero-dI row, NaN row dropped; the repeat merged
    text = " | ".join(c.repairs)
    assert "dropped 1 row with NaN/inf values (line 42)" in text, text
    assert "dropped 1 row with q = 0 and I = 0 (line 2)" in text
    assert f"sorted {len(Q)} points by q (2 were out of order)" in text
    assert "dropped 1 row with dI = 0" in text and "merged 2 duplicate q points" in text
    with pytest.raises(InputError, match=r"NaN/inf values \(line 42\).*`strict_input`"):
        load_curves(tmp_path / "a.txt", strict_input=True)


@pytest.mark.parametrize("fmt", ["xml", "h5"])
def test_xml_and_nxcansas_repairs(tmp_path, fmt):
    q = np.r_[Q[:10], Q[9], Q[10:]]
    i = np.r_[IQ[:10], IQ[9], IQ[10:]]
    di = np.r_[DI[:10], DI[9], DI[10:]]
    di[30] = 0
    p = save_curve(tmp_path / f"c.{fmt}", q, i, di, fmt=fmt)
    c = load_curves(p)[0]
    assert len(c.q) == len(Q) - 1 and np.all(np.diff(c.q) > 0) and np.all(c.di > 0)
    assert any(r.startswith("merged 2 duplicate q points") for r in c.repairs), c.repairs
    assert any(r.startswith("dropped 1 row with dI = 0") for r in c.repairs), c.repairs
    with pytest.raises(InputError, match="`strict_input`"):
        load_curves(p, strict_input=True)


def test_clean_files_have_no_repairs(tmp_path):
    for fmt in ("txt", "xml", "h5"):
        c = load_curves(save_curve(tmp_path / f"c.{fmt}", Q, IQ, DI, DQ, fmt=fmt))[0]
        assert c.repairs == () and load_curves(tmp_path / f"c.{fmt}", strict_input=True)[0].repairs == ()


@pytest.mark.parametrize("rows, message", [
    ([(q, float("nan")) for q in Q], "NaN/inf"),
    ([(q, -1.0) for q in Q], "<= 0 at every point"),
    ([(q, 0.0, 0.0) for q in Q], "<= 0 at every point"),
])
def test_files_no_repair_can_save_are_refused(tmp_path, rows, message):
    with pytest.raises(InputError, match=message):
        load_curves(_ascii(tmp_path / "bad.txt", rows))


@pytest.mark.parametrize("suffix", [".txt", ".dat"])
def test_two_d_data_is_refused_as_such(tmp_path, suffix):
    qx, qy = (a.ravel() for a in np.meshgrid(np.linspace(-0.1, 0.1, 8), np.linspace(-0.1, 0.1, 8)))
    cols = np.column_stack([qx, qy, 1 + qx**2, 0.1 + 0 * qx, 0.01 + 0 * qx, 0.01 + 0 * qx, 0 * qx, 0 * qx])
    path = tmp_path / f"image{suffix}"
    np.savetxt(path, cols, header="Qx Qy I dI dQx dQy a b" if suffix == ".txt" else "Data columns Qx - Qy - I(Qx,Qy)")
    with pytest.raises(InputError, match="holds 2-D data"):
        load_curves(path)


def test_numeric_instrument_header_lines_are_not_data(tmp_path):
    """The header of ISIS-style files holds all-numeric lines; sasdata skips them, and so do we."""
    head = " LOQ  SAMPLE: 1\n  60    0    0    0    1  60    0\n         0         0         0         0\n 3 (F12.5)\n"
    c = load_curves(_ascii(tmp_path / "isis.txt", zip(Q, IQ, DI, strict=True), header=head))[0]
    assert len(c.q) == len(Q) and c.repairs == ()
    assert load_curves(tmp_path / "isis.txt", strict_input=True)[0].repairs == ()


# --- SasView 6.1.3's own example files (copies; provenance in tests/data/README.md) --------------------------

@pytest.mark.parametrize("name, n_points, repair", [
    ("PolySpheres.txt", 128, "dropped 1 row with q = 0 and I = 0 (line 1)"),
    ("AOT_Microemulsion-Drop_Contrast.xml", 136, "dropped 1 row with dI = 0 (q = 0.281 1/A"),
    ("latex_smeared.xml", 299, "merged 4 points at 2 duplicate q values"),
    ("ISIS_83404.TXT", 121, None),
])
def test_sasview_example_files(name, n_points, repair):
    c = load_curves(EXAMPLES / name)[0]
    assert len(c.q) == n_points and np.all(np.diff(c.q) > 0) and (c.di is None or np.all(c.di > 0))
    if repair is None:
        assert c.repairs == () and load_curves(EXAMPLES / name, strict_input=True)
    else:
        assert any(r.startswith(repair) for r in c.repairs), c.repairs
        with pytest.raises(InputError, match="`strict_input`"):
            load_curves(EXAMPLES / name, strict_input=True)


# --- a run's option: RunOptions(strict_input=True) -> Settings.read_options -> load_curves ------------------------

def test_strict_input_is_a_read_option_of_a_run(tmp_path):
    from sasview_nn_plugin.runs.plan import plan_units, read_unit
    from sasview_nn_plugin.runs.process import RunOptions, settings_for

    strict, lenient = (settings_for(RunOptions(volume_fraction=0.3, strict_input=s)) for s in (True, False))
    assert strict.read_options == {"strict_input": True} and lenient.read_options == {}
    assert strict.signature() != lenient.signature()  # a resumed run is checked against it
    p = _ascii(tmp_path / "reversed.txt", zip(Q[::-1], IQ[::-1], strict=True))
    [unit] = plan_units([p], read_options=strict.read_options)   # (every file is first tried as a frame table)
    [(*_, refused)] = read_unit(unit, None, strict.read_options)
    assert isinstance(refused, str) and "not sorted" in refused, refused
    [(*_, curve)] = read_unit(unit, None, lenient.read_options)
    assert curve.repairs[0].startswith(f"sorted {len(Q)} points by q")
