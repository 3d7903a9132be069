"""Reading what SasView reads: every file of SasView's bundled 1-D example data (``sas/example_data/1d_data``).

Each file either loads (every 1-D curve SasView's loader gives, repaired as SasView uses them, the repairs
recorded) or is refused with an InputError whose reason SasView would agree with: 2-D data, not a scattering
curve (negative q: a coordinate file, a test line), no 1-D data, or q that is not SAXS q in 1/A while the file
states no unit (those load with ``q_unit="nm"``).  Nothing else is raised.  SasView's 2-D example files
(``2d_data``) are refused as 2-D data.

No marker: it runs wherever SasView is importable (``.venv-sasview/bin/python -m pytest
tests/test_sasview_example_data.py``, set up by ``bash .ci/sasview``) and is skipped elsewhere; copies of the
files that exercise the repairs are tested everywhere (``tests/test_repairs.py``).  The outcome of each file of
SasView 6.1.3's folder is pinned in ``EXPECTED`` and printed as a table (``pytest -s``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from sasview_nn_plugin.data.load import load_curves, quiet_sasdata
from sasview_nn_plugin.errors import InputError


def example_folder() -> Path | None:
    spec = importlib.util.find_spec("sas")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        folder = Path(root) / "example_data" / "1d_data"
        if folder.is_dir():
            return folder
    return None


FOLDER = example_folder()
pytestmark = pytest.mark.skipif(FOLDER is None, reason="SasView (sas/example_data/1d_data) is not installed")

# reasons SasView would agree with (it loads these files, but none is a SAXS curve in 1/A as it stands)
AGREED = {"2-D": "holds 2-D data", "not a curve": "not a scattering curve", "no data": "no 1-D data points",
          "q unit": "implausible for SAXS"}

# SasView 6.1.3: file -> ("loaded", number of curves, the start of each distinct repair) or ("refused", AGREED key)
EXPECTED = {
    "10wtAOT_Reline_120_reduced.pdh": ("refused", "q unit"),   # Anton Paar SAXSess: q in 1/nm (its XML footer)
    "Anton-Paar.pdh": ("refused", "q unit"),
    "saxess_example.pdh": ("refused", "q unit"),
    "beam profile.DAT": ("refused", "q unit"),                 # a SAXSess beam profile, q in 1/nm
    "testdata_line.txt": ("refused", "q unit"),                # a straight line y = A x + B, x up to 10
    "testdata_line3.txt": ("refused", "not a curve"),          # the same line, unsorted, with x < 0
    "CoreXY_ShellZ.txt": ("refused", "not a curve"),           # x y z SLD columns (a magnetic SLD model)
    "PolySpheres.txt": ("loaded", 1, {"dropped 1 row with q = 0 and I = 0 (line 1)"}),
    "AOT_Microemulsion-Drop_Contrast.xml": ("loaded", 1, {"dropped 1 row with dI = 0 (q = 0.281 1/A)"}),
    "latex_smeared.xml": ("loaded", 2, {"merged 4 points at 2 duplicate q values"}),
    "VTMA.h5": ("loaded", 240, {"used |dI| for 117 rows with dI < 0"}),
}  # every other file: ("loaded", 1, no repairs)


def outcome(path: Path, **options):
    try:
        curves = load_curves(path, **options)
    except InputError as exc:
        return "refused", str(exc)
    return "loaded", curves


def assert_usable(c) -> None:
    """What the loader promises for every curve: finite, q > 0 strictly ascending, dI > 0 or none."""
    assert c.q.ndim == 1 and len(c.q) >= 2 and c.intensity.shape == c.q.shape
    assert np.all(np.isfinite(c.q)) and c.q[0] > 0 and np.all(np.diff(c.q) > 0)
    assert np.all(np.isfinite(c.intensity)) and np.any(c.intensity > 0)
    assert c.di is None or (c.di.shape == c.q.shape and np.all(np.isfinite(c.di)) and np.all(c.di > 0))
    assert c.dq is None or (c.dq.shape == c.q.shape and np.all(np.isfinite(c.dq)))
    assert isinstance(c.repairs, tuple) and all(isinstance(r, str) and r for r in c.repairs)


def sasview_curves(path: Path) -> int:
    """How many 1-D data sets SasView's own loader gives for the file."""
    from sasdata.dataloader.loader import Loader

    with quiet_sasdata():
        data = Loader().load(str(path))
    return sum(1 for d in data if not isinstance(d, Exception) and getattr(d, "data", None) is None
               and d.x is not None and np.size(d.x) >= 2)


def test_every_sasview_example_file_loads_or_is_refused_for_a_reason_sasview_would_agree_with():
    files = sorted(p for p in FOLDER.iterdir() if p.is_file())
    assert len(files) >= 40, files
    table, problems = [], []
    for p in files:
        kind, got = outcome(p)  # anything but an InputError escapes and fails the test
        if kind == "loaded":
            for c in got:
                assert_usable(c)
            repairs = sorted({r.split(" (q = ")[0].split(", as ")[0] for c in got for r in c.repairs})
            table.append((p.name, f"loaded: {len(got)} curve{'s' * (len(got) > 1)}", "; ".join(repairs) or "-"))
            if len(got) != sasview_curves(p):
                problems.append(f"{p.name}: {len(got)} curves, SasView's loader gives {sasview_curves(p)}")
        else:
            reason = got.replace(str(p), "FILE")
            why = next((k for k, text in AGREED.items() if text in reason), None)
            if why is None:
                problems.append(f"{p.name}: refused for a reason SasView would not agree with: {reason}")
            if why == "q unit":   # the fix the message names works
                assert outcome(p, q_unit="nm")[0] == "loaded", p.name
            table.append((p.name, f"refused ({why})", reason))
        expected = EXPECTED.get(p.name, ("loaded", 1, set()))
        if expected[0] != kind or (kind == "refused" and AGREED[expected[1]] not in got):
            problems.append(f"{p.name}: {kind}, expected {expected}")
        elif kind == "loaded":
            said = [r for c in got for r in c.repairs]
            if len(got) != expected[1] or not all(any(r.startswith(e) for r in said) for e in expected[2]) \
                    or (not expected[2] and said):
                problems.append(f"{p.name}: {len(got)} curves, repairs {said[:3]}; expected {expected}")
    width = max(len(name) for name, _, _ in table)
    print("\n" + "\n".join(f"{name:{width}}  {what:22}  {detail[:160]}" for name, what, detail in table))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if e[0] == "loaded"))
def test_strict_input_refuses_the_repaired_example_files(name):
    kind, reason = outcome(FOLDER / name, strict_input=True)
    assert kind == "refused" and "`strict_input`" in reason, (kind, reason)


def test_strict_input_never_raises_anything_else():
    for p in sorted(FOLDER.iterdir()):
        kind, got = outcome(p, strict_input=True)
        if kind == "loaded":
            assert all(c.repairs == () for c in got), p.name


def test_sasviews_2d_example_files_are_refused_as_2d_data():
    folder = FOLDER.parent / "2d_data"
    if not folder.is_dir():
        pytest.skip("no 2d_data folder")
    for p in sorted(folder.iterdir()):
        kind, got = outcome(p)
        assert kind == "refused" and AGREED["2-D"] in got, (p.name, kind, got)
