"""q units as ASCII headers spell them (issue 26, item 4): each common spelling of 1/nm and 1/A is read as that
unit (the table is docs/domain.md's "q units in file headers"); headers that name no q unit leave it unstated; a
file that states none says on stderr and in the JSON that 1/A was assumed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sasview_nn_plugin.cli import main
from sasview_nn_plugin.data.load import load_curves

Q_A = np.geomspace(0.02, 0.28, 120)   # 1/A
I0 = 1e3 / (1 + (40 * Q_A) ** 4) + 0.01

# (header lines, the unit they state): the spellings first
HEADERS = [
    ("# q in 1/nm", "nm"),
    ("# Q nm^-1 I dI", "nm"),
    ("# units: 1/nm", "nm"),
    ("Q (nm-1)   I (cm-1)   dI (cm-1)", "nm"),
    ("q [1/nm] I [1/cm]", "nm"),
    ("# Q(nm^{-1}) I(cm^{-1})", "nm"),
    ("# q / nm^-1, I / cm^-1", "nm"),
    ("# Q (nm⁻¹) I", "nm"),
    ("# q in inverse nanometres", "nm"),
    ("# Q [1/nanometer]", "nm"),
    ("# q(1/Angstrom) I(1/cm)", "A"),
    ("# Q A^-1 I dI", "A"),
    ("# Q (Å-1) I", "A"),
    ("# Q [Å^-1]", "A"),
    ("# q (1/Å)", "A"),
    ("# Q (A-1) I (cm-1)", "A"),
    ("# units: A^-1", "A"),
    ("# q in 1/angstroms", "A"),
    ("# Q (Å⁻¹)", "A"),
    ("# Q (inverse angstrom)", "A"),
]
NO_UNIT = ["# q I dI", "# sample: silica in water, I in 1/cm", "# wavelength 1.54 A, distance 1.2 m",
           "# units: 1/cm", "# I (1/cm) dI (1/cm)"]


def write(tmp_path, header: str, unit: str, name: str = "c.txt"):
    f = 10.0 if unit == "nm" else 1.0
    rows = "".join(f"{f * q:.17g} {i:.17g} {0.01 * i:.17g}\n" for q, i in zip(Q_A, I0, strict=True))
    p = tmp_path / name
    p.write_text(f"{header}\n{rows}", encoding="utf-8")
    return p


@pytest.mark.parametrize("header, unit", HEADERS)
def test_header_spellings_of_the_q_unit(tmp_path, header, unit):
    c = load_curves(write(tmp_path, header, unit))[0]
    assert (c.q_unit, c.q_unit_source) == (unit, "file")
    np.testing.assert_allclose(c.q, Q_A, rtol=1e-12, atol=0)


@pytest.mark.parametrize("header", NO_UNIT)
def test_headers_naming_no_q_unit_leave_it_unstated(tmp_path, header):
    c = load_curves(write(tmp_path, header, "A"))[0]
    assert (c.q_unit, c.q_unit_source) == ("A", "default")


def test_every_spelling_is_in_the_docs():
    from conftest import REPO

    text = (REPO / "docs" / "domain.md").read_text(encoding="utf-8")
    for header, _ in HEADERS:
        assert f"`{header}`" in text, header


def test_no_unit_stated_is_said_on_stderr_and_in_the_json(tmp_path, capsys):
    plain = write(tmp_path, "# q I dI", "A", "plain.txt")
    stated = write(tmp_path, "# q(1/A) I dI", "A", "stated.txt")
    out = tmp_path / "o"
    assert main(["invert", str(plain), str(stated), "--volume-fraction", "0.3", "--output", str(out)]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "q unit" in line]
    assert len(lines) == 1 and "plain.txt" in lines[0] and "1/A" in lines[0] and "--q-unit nm" in lines[0]
    rec = json.loads((out / "plain.json").read_text())["input"]
    assert rec["q_unit_source"] == "default" and rec["q_unit_assumed"] is True and rec["q_unit"] == "A"
    rec = json.loads((out / "stated.json").read_text())["input"]
    assert rec["q_unit_source"] == "file" and rec["q_unit_assumed"] is False
