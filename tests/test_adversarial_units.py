"""q units (issue 17, item 3): a unit stated in the file is used, with exactly one conversion to 1/A.

For each format (ASCII with a header naming the q unit, CanSAS XML, NXcanSAS, HDF5 frame tables) the
same curve written in 1/A and in 1/nm loads to the same q in 1/A; a file whose stated unit contradicts
an explicit ``q_unit`` argument is one InputError naming both; a file without units keeps the explicit
argument (default 1/A), and the Curve records where its unit came from.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from sasview_nn_plugin.data.frames import open_frame_table
from sasview_nn_plugin.data.load import load_curves
from sasview_nn_plugin.data.writers import save_curve
from sasview_nn_plugin.errors import InputError

REPO = Path(__file__).resolve().parents[1]
XML = REPO / "examples" / "bimodal_phi0.3.xml"
NXCANSAS = REPO / "examples" / "schulz_R45_phi0.3_nxcansas.h5"
Q_A = np.geomspace(0.02, 0.28, 120)  # 1/A; in 1/nm it reaches 2.8, below the 3.0 plausibility limit for 1/A


def _intensity(q):
    return 1e3 / (1 + (40 * q) ** 4) + 0.01


def ascii_pair(tmp_path: Path) -> tuple[Path, Path]:
    a = save_curve(tmp_path / "curve_A.txt", Q_A, _intensity(Q_A), 0.01 * _intensity(Q_A))
    nm = tmp_path / "curve_nm.txt"
    rows = "".join(f"{10 * q:.17g} {i:.17g} {0.01 * i:.17g}\n" for q, i in zip(Q_A, _intensity(Q_A), strict=True))
    nm.write_text("# a curve measured in inverse nanometres\n# Q (1/nm)   I (1/cm)   dI (1/cm)\n" + rows)
    return a, nm


def xml_pair(tmp_path: Path) -> tuple[Path, Path]:
    text = XML.read_text()
    assert text.count('<Q unit="A^{-1}">') > 100
    nm_text = re.sub(r'<Q unit="A\^\{-1\}">([^<]+)</Q>', lambda m: f'<Q unit="1/nm">{10 * float(m.group(1))!r}</Q>',
                     text)
    nm = tmp_path / "curve_nm.xml"
    nm.write_text(nm_text)
    return XML, nm


def nxcansas_pair(tmp_path: Path) -> tuple[Path, Path]:
    nm = tmp_path / "curve_nm.h5"
    shutil.copy(NXCANSAS, nm)
    with h5py.File(nm, "r+") as f:
        q = f["sasentry01/sasdata01/Q"]
        q[...] = q[...] * 10
        q.attrs["units"] = "1/nm"
    return NXCANSAS, nm


PAIRS = {"ascii": ascii_pair, "xml": xml_pair, "nxcansas": nxcansas_pair}


@pytest.mark.parametrize("fmt", PAIRS)
def test_same_curve_in_A_and_nm_loads_to_the_same_q(tmp_path, fmt):
    a, nm = PAIRS[fmt](tmp_path)
    ca, cn = load_curves(a)[0], load_curves(nm)[0]
    assert ca.q.max() < 0.3
    np.testing.assert_allclose(cn.q, ca.q, rtol=1e-12, atol=0)
    np.testing.assert_allclose(cn.intensity, ca.intensity, rtol=1e-12)
    assert (ca.q_unit, ca.q_unit_source) == ("A", "file")
    assert (cn.q_unit, cn.q_unit_source) == ("nm", "file")


@pytest.mark.parametrize("fmt", PAIRS)
def test_file_unit_matching_q_unit_is_converted_exactly_once(tmp_path, fmt):
    a, nm = PAIRS[fmt](tmp_path)
    ref = load_curves(a)[0].q
    np.testing.assert_allclose(load_curves(nm, q_unit="nm")[0].q, ref, rtol=1e-12, atol=0)
    np.testing.assert_allclose(load_curves(a, q_unit="A")[0].q, ref, rtol=1e-12, atol=0)


def test_ascii_header_in_inverse_nm_gives_q_in_inverse_angstrom(tmp_path):
    _, nm = ascii_pair(tmp_path)
    c = load_curves(nm)[0]
    np.testing.assert_allclose(c.q, Q_A, rtol=1e-12, atol=0)
    assert c.q.max() == pytest.approx(0.28)


@pytest.mark.parametrize("fmt", PAIRS)
def test_file_unit_contradicting_q_unit_is_one_error_naming_both(tmp_path, fmt):
    a, nm = PAIRS[fmt](tmp_path)
    with pytest.raises(InputError) as exc:
        load_curves(nm, q_unit="A")
    msg = str(exc.value)
    assert "1/nm" in msg and "q_unit='A'" in msg and str(nm) in msg and "--q-unit" not in msg and "\n" not in msg
    with pytest.raises(InputError, match=r"q_unit='nm'"):
        load_curves(a, q_unit="nm")


def test_ascii_without_units_keeps_the_explicit_argument_default_A(tmp_path):
    p = tmp_path / "plain.dat"
    p.write_text("".join(f"{q:.17g} {i:.17g}\n" for q, i in zip(Q_A, _intensity(Q_A), strict=True)))
    c = load_curves(p)[0]
    np.testing.assert_allclose(c.q, Q_A, rtol=1e-12, atol=0)
    assert (c.q_unit, c.q_unit_source) == ("A", "default")
    c = load_curves(p, q_unit="nm")[0]
    np.testing.assert_allclose(c.q, Q_A / 10, rtol=1e-12, atol=0)
    assert (c.q_unit, c.q_unit_source) == ("nm", "argument")
    c = load_curves(p, q_unit="A")[0]
    assert (c.q_unit, c.q_unit_source) == ("A", "argument")


def test_ascii_without_units_and_q_too_large_for_A_says_to_pass_q_unit_nm(tmp_path):
    p = tmp_path / "plain_nm.dat"
    p.write_text("".join(f"{10 * q:.17g} {i:.17g}\n" for q, i in zip(np.geomspace(0.02, 0.5, 50), range(1, 51),
                                                            strict=True)))
    with pytest.raises(InputError, match=r'q_unit="nm"'):
        load_curves(p)


def test_ascii_header_with_a_non_q_unit_is_refused(tmp_path):
    p = tmp_path / "deg.txt"
    p.write_text("# q (deg) I\n" + "".join(f"{q:.17g} 1.0\n" for q in Q_A))
    with pytest.raises(InputError, match="deg"):
        load_curves(p)


def test_bad_q_unit_argument_speaks_the_parameter_name(tmp_path):
    a, _ = ascii_pair(tmp_path)
    with pytest.raises(InputError, match="q_unit") as exc:
        load_curves(a, q_unit="angstrom")
    assert "--q-unit" not in str(exc.value)


def _table(path: Path, q: np.ndarray, units: str | None) -> Path:
    with h5py.File(path, "w") as f:
        f["q"] = q
        if units is not None:
            f["q"].attrs["units"] = units
        f["intensity"] = np.tile(_intensity(Q_A), (3, 1))
    return path


def test_frame_table_in_inverse_nm_is_converted_once(tmp_path):
    a = open_frame_table(_table(tmp_path / "a.h5", Q_A, "1/A"))
    nm = open_frame_table(_table(tmp_path / "nm.h5", 10 * Q_A, "1/nm"))
    qa, qn = a.read(np.arange(3))[0].q, nm.read(np.arange(3))[0].q
    np.testing.assert_allclose(qn, qa, rtol=1e-12, atol=0)
    np.testing.assert_allclose(qa, Q_A, rtol=1e-12, atol=0)
    assert (nm.q_unit, nm.q_unit_source) == ("nm", "file")
    np.testing.assert_allclose(open_frame_table(tmp_path / "nm.h5", q_unit="nm").read([0])[0].q, Q_A, rtol=1e-12)
    with pytest.raises(InputError, match=r"1/nm.*q_unit='A'"):
        open_frame_table(tmp_path / "nm.h5", q_unit="A")


def test_frame_table_without_units_keeps_the_argument(tmp_path):
    p = _table(tmp_path / "plain.h5", Q_A, None)
    t = open_frame_table(p)
    assert (t.q_unit, t.q_unit_source) == ("A", "default")
    t = open_frame_table(p, q_unit="nm")
    assert (t.q_unit, t.q_unit_source) == ("nm", "argument")
    np.testing.assert_allclose(t.read([1])[0].q, Q_A / 10, rtol=1e-12, atol=0)


@pytest.mark.parametrize("fmt", ["txt", "xml", "h5"])
def test_save_curve_states_its_q_unit_and_reads_back_in_inverse_angstrom(tmp_path, fmt):
    i = _intensity(Q_A)
    a = load_curves(save_curve(tmp_path / f"a.{fmt}", Q_A, i, 0.01 * i, 0.05 * Q_A, fmt=fmt))[0]
    nm = load_curves(save_curve(tmp_path / f"nm.{fmt}", 10 * Q_A, i, 0.01 * i, 0.5 * Q_A, fmt=fmt, q_unit="nm"))[0]
    np.testing.assert_allclose(a.q, Q_A, rtol=1e-12, atol=0)
    np.testing.assert_allclose(nm.q, Q_A, rtol=1e-12, atol=0)
    np.testing.assert_allclose(nm.dq, 0.05 * Q_A, rtol=1e-12, atol=0)
    assert (nm.q_unit, nm.q_unit_source) == ("nm", "file")


def test_nxcansas_q_with_a_non_q_unit_is_refused_naming_it(tmp_path):
    p = tmp_path / "au.h5"
    shutil.copy(NXCANSAS, p)
    with h5py.File(p, "r+") as f:
        f["sasentry01/sasdata01/Q"].attrs["units"] = "a.u."
    with pytest.raises(InputError, match=r"'a\.u\.'"):
        load_curves(p)


def test_xml_stating_two_q_units_is_refused(tmp_path):
    text = XML.read_text()
    k = text.index('<Q unit="A^{-1}">', len(text) // 2)
    p = tmp_path / "mixed.xml"
    p.write_text(text[:k] + text[k:].replace('<Q unit="A^{-1}">', '<Q unit="1/nm">', 1))
    with pytest.raises(InputError, match="several units"):
        load_curves(p)


@pytest.mark.parametrize("name", ["sasfit_schulz_R20_phi0.3.txt", "bimodal_phi0.3.xml",
                                  "schulz_R45_phi0.3_nxcansas.h5"])
def test_bundled_examples_state_1_per_angstrom(name):
    c = load_curves(REPO / "examples" / name)[0]
    assert (c.q_unit, c.q_unit_source) == ("A", "file")
