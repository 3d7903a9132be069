"""The whole-curve network (``model="wide"``) in SasView's Fitting > Neural-network start, its size plot, the project
pages and the bundle, without SasView (issue 25 item 4: "the SasView menu action and the bundle").

The action's Qt-free core (:func:`sasview_nn_plugin.sasview.start.start_fitness` on SasView's ``SasFitness``, here the
stand-in of tests/sasview_gui/fakes.py, which smears slit data with sasmodels' ``Slit1D`` as SasView's slit smearer
does) on SasView's own example data in tests/data/real (manifest.json there gives the references).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import NOT_IN_SASVIEW
from sasview_gui.fakes import SasFitness

from sasview_nn_plugin.data.load import load_curves
from sasview_nn_plugin.errors import InputError
from sasview_nn_plugin.sasview import start as core

pytest.importorskip("bumps")
REPO = Path(__file__).resolve().parents[1]
REAL = REPO / "tests" / "data" / "real"
ALL = ["scale", "background", *core.SIZE_PARAMETERS]


def reference(entry_id: str) -> dict:
    manifest = json.loads((REAL / "manifest.json").read_text())
    return next(e for e in manifest["entries"] if e["id"] == entry_id)


def page(file: str, entry: int = 0, estimate: bool = False, **values) -> SasFitness:
    """A Fitting page's fit object of nn_spheres_hs for a data file (its slit length as SasView's loader gives it)."""
    c = load_curves(REAL / file)[entry]
    di = c.di if c.di is not None else 0.01 * c.intensity
    return SasFitness(c.q, c.intensity, di, fitted=ALL + (["volfraction"] if estimate else []), dxl=c.slit_length,
                      **values)


@pytest.fixture(scope="module")
def latex():
    """SasView's latex_smeared.xml USANS entry (slit length 0.117 1/A), volfraction 0.01 on the page (dilute)."""
    ref = reference("latex_usans")
    return ref, core.start_fitness(page(ref["file"], ref["entry"], volfraction=0.01))


def test_slit_smeared_usans_goes_to_the_whole_curve_network(latex):
    ref, s = latex
    assert s.model == "wide" and "slit-smeared data (slit length 0.117 1/A)" in s.notes[0]
    inv = s.inversion
    assert inv.model == "wide" and inv.curve.slit_length is not None and np.all(inv.curve.slit_length == 0.117)
    assert inv.quality.flags == ()
    truth, tol = ref["reference"]["radius"], ref["reference"]["tolerance"]
    assert inv.mean_radius_number == pytest.approx(truth, rel=tol)          # 2316 A against 0.5 um latex
    mean = core.component_distributions(s.values)["mean_number"]            # the page's Schulz component
    assert mean == pytest.approx(truth, rel=tol) and mean == pytest.approx(inv.mean_radius_number, rel=0.01)
    assert s.values["fraction2"] == 0 and s.free == {"scale", "background", "radius1", "pd1"}
    assert s.chi2 < 5     # on SasView's slit-smeared theory (the stand-in's Slit1D); unsmeared it is ~4500


def test_the_size_plot_of_a_whole_curve_start(latex):
    """The plot's curves: the 900 fine log radii cropped to where the result lies, densities per A that integrate to
    1 over their log bins, the number-mean line at the page's mean, the title naming the whole-curve network."""
    from sasview_nn_plugin.physics.grids import radius_edges
    from sasview_nn_plugin.sasview.sizeplot import plot_curves

    _, s = latex
    summary, curves = plot_curves(s.values, None, s, "M1", "latex_smeared.xml")
    by_kind = {kind: (np.asarray(x), np.asarray(y)) for kind, x, y, _ in curves}
    assert set(by_kind) == {"number", "volume", "nn_number", "nn_volume", "mean"}
    assert summary["network"] == "wide" and summary["title"].startswith(
        "Size distribution M1: latex_smeared.xml (number-mean 2318.0 A) - whole-curve network")
    r, number = by_kind["nn_number"]
    assert 20 < len(r) < len(s.inversion.radius) == 900                  # cropped, not 3 decades of zeros
    assert np.allclose(np.diff(np.log(r)), np.log(r[1] / r[0]))          # log-spaced: SasView's log radius axis
    assert r[0] < s.inversion.mean_radius_number < r[-1]
    full = core.histogram_distributions(s.inversion)
    width = np.diff(radius_edges(full["radius"]))
    assert np.sum(full["number"] * width) == pytest.approx(1.0, rel=1e-9)
    assert np.sum(full["volume"] * width) == pytest.approx(1.0, rel=1e-9)
    shown = np.isin(full["radius"], r)
    assert np.sum(full["number"][shown] * width[shown]) > 0.99         # the crop keeps the distribution
    assert by_kind["mean"][0] == pytest.approx([summary["mean_number"]] * 2)
    assert summary["mean_number"] == pytest.approx(core.component_distributions(s.values)["mean_number"])


def test_the_project_page_of_the_same_data_matches_the_start(latex, tmp_path):
    """`sasview-nn invert latex_smeared.xml --model wide --sasview-project`: the USANS page holds the start's
    component, smears with the file's slit (dxl in its Data1D, "Use dQ Data") and its scale and background are
    the start's (both fitted on the slit-smeared curve)."""
    from sasview_nn_plugin.cli import main

    _, s = latex
    project = tmp_path / "nn.json"
    assert main(["invert", str(REAL / "latex_smeared.xml"), "--model", "wide", "--volume-fraction", "0.01",
                 "--output", str(tmp_path / "out"), "--sasview-project", str(project)]) == 0
    pages = {v["fit_data"][0]["name"]: v for v in json.loads(project.read_text()).values()
             if isinstance(v, dict) and "fit_data" in v}
    usans = pages["latex_smeared.xml#1"]
    p, data = usans["fit_params"][0], usans["fit_data"][0]
    assert data["dxl"]["data"] == pytest.approx([0.117] * len(data["x"]["data"])) and p["smearing"] == ["1"]
    for name in ("radius1", "pd1", "fraction1", "volfraction"):
        assert float(p[name][1]) == pytest.approx(s.values[name], rel=1e-6), name
    assert float(p["scale"][1]) == pytest.approx(s.values["scale"], rel=0.01)
    assert float(p["background"][1]) == pytest.approx(s.values["background"], rel=0.02, abs=0.01)
    assert {k for k, row in p.items() if isinstance(row, list) and len(row) == 6 and row[0] == "True"} == s.free
    assert pages["latex_smeared.xml#0"]["fit_data"][0]["dxl"] is None   # the SANS entry: pinhole, no slit


def test_the_windowed_network_refuses_slit_data_by_name():
    with pytest.raises(InputError, match="model='wide'"):
        core.start_fitness(page("latex_smeared.xml", 1, volfraction=0.01), model="default")


@pytest.mark.parametrize("entry_id", ["sphere_1um_slit", "aot_drop"])
def test_real_curves_over_a_decade_start_from_the_whole_curve_network(entry_id):
    """SasView's simulated 1 um slit-smeared sphere (USANS, R 5000 A) and the AOT drop-contrast droplets (SANS over
    1.5 decades, R 30.8 A by sasmodels' own fit, phi 0.08 there; compared as its reference says, the volume mean
    35.4 A): the automatic choice is the whole-curve network."""
    ref = reference(entry_id)
    phi = 0.08 if entry_id == "aot_drop" else 0.01
    s = core.start_fitness(page(ref["file"], ref["entry"], volfraction=phi))
    assert s.model == "wide"
    truth, tol, weighting = (ref["reference"][k] for k in ("radius", "tolerance", "weighting"))
    assert core.component_distributions(s.values)[f"mean_{weighting}"] == pytest.approx(truth, rel=tol)
    assert getattr(s.inversion, f"mean_radius_{weighting}") == pytest.approx(truth, rel=tol)


def test_under_a_decade_the_windowed_network_and_wide_only_by_name():
    """The bundled example (q 0.03-0.15 1/A, 0.7 decades) starts from the windowed network as before; asking for
    the whole-curve network there is refused with the way out named."""
    c = load_curves(REPO / "examples" / "schulz_R45_phi0.3_nxcansas.h5")[0]
    fit = SasFitness(c.q, c.intensity, c.di, fitted=ALL)
    assert core.choose_model(fit)[0] is None
    assert core.start_fitness(fit).model != "wide"
    with pytest.raises(InputError, match="model='default'"):
        core.start_fitness(SasFitness(c.q, c.intensity, c.di, fitted=ALL), model="wide")


def test_phi_ticked_is_estimated_by_the_whole_curve_network():
    s = core.start_fitness(page("latex_smeared.xml", 1, estimate=True, volfraction=0.3), estimate_phi=True)
    assert s.model == "wide" and s.phi_estimated and "volfraction" in s.free
    assert any(n.startswith("volfraction estimated with the whole-curve network") for n in s.notes)
    assert core.PHI_FLOOR <= s.volume_fraction < 0.1     # dilute latex; the page's 0.3 was not kept
    assert core.component_distributions(s.values)["mean_number"] == pytest.approx(2500.0, rel=0.10)


def test_the_menu_choice():
    from sasview_nn_plugin.sasview import actions

    assert actions.model_choice() == "auto" and set(actions.MODEL_CHOICES) == {"auto", "wide", "default"}
    try:
        actions.set_model_choice("wide")
        assert actions.model_choice() == "wide"
        with pytest.raises(core.ActionError, match="auto, wide, default"):
            actions.set_model_choice("large")
    finally:
        actions.set_model_choice("auto")


WIDE_IN_BUNDLE = r"""
import importlib.abc, json, sys
bundle, blocked, fakes, data = sys.argv[1], set(sys.argv[2].split(",")), sys.argv[3], sys.argv[4]

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"{name} is not in SasView's Python")
        return None

sys.meta_path.insert(0, Block())
sys.path.insert(0, bundle)
sys.path.insert(1, fakes)
from fakes import SasFitness
from sasview_nn_plugin.data.load import load_curves
from sasview_nn_plugin.inference.modelfile import resolve_model_path
from sasview_nn_plugin.sasview import start
c = load_curves(data)[1]
fit = SasFitness(c.q, c.intensity, c.di, fitted=["scale", "background", *start.SIZE_PARAMETERS], dxl=c.slit_length,
                 volfraction=0.01)
s = start.start_fitness(fit)
files = sorted({m.__file__ for n, m in sys.modules.items() if n.startswith("sasview_nn_plugin") and m.__file__})
print(json.dumps({"model": s.model, "path": str(resolve_model_path("wide")), "files": files,
                  "mean": s.inversion.mean_radius_number}))
"""


def test_the_whole_curve_network_runs_from_the_bundle_alone(tmp_path):
    """wide.h5 and every module its path imports are in the bundle: a fresh interpreter with only the bundle's copy
    of the package (and none of tqdm, filelock, threadpoolctl, TensorFlow, platformdirs, matplotlib) starts the latex
    USANS page from the whole-curve network."""
    from sasview_nn_plugin.sasview import bundle
    from sasview_nn_plugin.sasview.install import install_plugin

    assert "sasview_nn_plugin/trained_models/wide.h5" in bundle.bundle_files()
    install_plugin(tmp_path)
    folder = tmp_path / bundle.BUNDLE_DIR
    proc = subprocess.run([sys.executable, "-c", WIDE_IN_BUNDLE, str(folder), ",".join(NOT_IN_SASVIEW),
                           str(REPO / "tests" / "sasview_gui"), str(REAL / "latex_smeared.xml")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["model"] == "wide" and out["path"] == str(folder / "sasview_nn_plugin" / "trained_models" / "wide.h5")
    assert all(f.startswith(str(folder)) for f in out["files"]), out["files"]
    assert out["mean"] == pytest.approx(2500.0, rel=0.10)


def test_a_flagged_start_says_so_and_names_the_volume_fraction():
    """SasView's simulated slit-smeared 1 um spheres (1 % SiO2: dilute) on a page left at the plugin's default
    volfraction 0.3: the network's answer misses the data (flagged; the start adds a second population near
    12,500 A, chi2 ~570 on the page) and the start's notes say so, naming the page's volfraction as given; at 0.01
    the answer is not flagged and no such note is made."""
    ref = reference("sphere_1um_slit")
    wrong = core.start_fitness(page(ref["file"], ref["entry"], volfraction=0.3))
    assert wrong.inversion.quality.flags
    [note] = [n for n in wrong.notes if n.startswith(core.FLAGGED_NOTE)]
    assert "volfraction 0.3" in note and "poor-fit" in note
    right = core.start_fitness(page(ref["file"], ref["entry"], volfraction=0.01))
    assert not right.inversion.quality.flags and not any(n.startswith(core.FLAGGED_NOTE) for n in right.notes)
