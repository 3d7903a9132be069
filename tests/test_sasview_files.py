"""install-sasview and the SasView project file, without SasView itself (the GUI tests use the real one)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sasview_nn_plugin.cli import main
from sasview_nn_plugin.sasview import plugin_model_path
from sasview_nn_plugin.sasview.install import MARKER, default_plugin_dir, plugin_text
from sasview_nn_plugin.sasview.project import load_plugin_module

REPO = Path(__file__).resolve().parents[1]


def test_install_is_idempotent_and_uninstall_removes(tmp_path, capsys):
    d = tmp_path / "plugins"
    assert main(["install-sasview", "--plugin-dir", str(d)]) == 0
    target = d / "nn_spheres_hs.py"
    assert target.read_text() == plugin_text() == MARKER + "\n" + plugin_model_path().read_text()
    assert "installed" in capsys.readouterr().out
    assert main(["install-sasview", "--plugin-dir", str(d)]) == 0
    assert "already installed" in capsys.readouterr().out
    target.write_text(MARKER + "\n# an older version\n")   # ours (marked): replaced without asking
    assert main(["install-sasview", "--plugin-dir", str(d)]) == 0
    assert "updated" in capsys.readouterr().out and target.read_text() == plugin_text()
    assert main(["install-sasview", "--plugin-dir", str(d), "--uninstall"]) == 0
    assert not target.exists() and list(d.iterdir()) == []
    assert main(["install-sasview", "--plugin-dir", str(d), "--uninstall"]) == 0
    assert "nothing to remove" in capsys.readouterr().out


def test_install_into_an_unwritable_place_is_exit_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["install-sasview", "--plugin-dir", str(blocker / "sub")]) == 2
    assert "--plugin-dir" in capsys.readouterr().err


def test_default_directory_follows_xdg_data_home_like_sasview_61(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.setattr("sasview_nn_plugin.sasview.install._sasview_version", lambda: "6.1.3")
    assert default_plugin_dir()[0] == tmp_path / "SasView" / "plugin_models"
    monkeypatch.setattr("sasview_nn_plugin.sasview.install._sasview_version", lambda: "6.0.1")
    assert default_plugin_dir()[0] == Path.home() / ".sasview" / "plugin_models"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    d = tmp_path_factory.mktemp("proj")
    files = [REPO / "examples" / "schulz_R45_phi0.3_nxcansas.h5", REPO / "examples" / "bimodal_phi0.3.xml"]
    assert main(["invert", *map(str, files), "--volume-fraction", "0.3", "--output", str(d / "out"),
                 "--sasview-project", str(d / "p.json")]) == 0
    return json.loads((d / "p.json").read_text())


def test_project_has_sasviews_layout(project):
    pages = [v for v in project.values() if isinstance(v, dict) and "fit_params" in v]
    assert len(pages) == 2 and project["visible_perspective"] == "Fitting" and project["is_batch"] == "False"
    names = [p[0] for p in load_plugin_module().parameters] + ["scale", "background"]
    for entry in pages:
        data, props, others = entry["fit_data"]
        assert data["__type__"] == "Data1D" and props == {"checked": True} and others == []
        assert len(data["x"]["data"]) == len(data["y"]["data"]) == len(data["dy"]["data"])
        page = entry["fit_params"][0]
        assert page["fitpage_model"] == ["nn_spheres_hs"] and page["data_id"] == [[data["id"]]]
        for n in names:
            fit, value, _, lo, hi, _ = page[n]
            assert fit in ("True", "False") and float(lo) <= float(value) <= float(hi)


def test_project_parameters_reproduce_the_data(project):
    """The plugin model with the written parameters fits the example's data inside the model's q range."""
    module = load_plugin_module()
    for entry in project.values():
        if not (isinstance(entry, dict) and "fit_params" in entry):
            continue
        data, page = entry["fit_data"][0], entry["fit_params"][0]
        if data["name"] != "schulz_R45_phi0.3_nxcansas.h5":
            continue
        q, y, dy = (np.array(data[k]["data"]) for k in ("x", "y", "dy"))
        sel = (q >= float(page["q_range_min"][0])) & (q <= float(page["q_range_max"][0]))
        pars = {p[0]: float(page[p[0]][1]) for p in module.parameters}
        model = float(page["scale"][1]) * module.Iq(q[sel], **pars) + float(page["background"][1])
        chi2 = np.mean(((model - y[sel]) / dy[sel]) ** 2)
        assert chi2 < 2.0
        assert float(page["radius1"][1]) == pytest.approx(45.0, rel=0.05)
        return
    pytest.fail("R45 example missing from the project")


def test_no_project_written_when_an_input_is_bad(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("0.05 1\n0.04 2\n")
    out = tmp_path / "p.json"
    assert main(["invert", str(REPO / "examples" / "bimodal_phi0.3.xml"), str(bad), "--volume-fraction", "0.3",
                 "--output", str(tmp_path / "o"), "--sasview-project", str(out)]) == 2
    assert not out.exists()


def test_project_carries_the_estimated_volume_fractions_sigma(tmp_path):
    """`--volume-fraction auto`: the page's volfraction row has the estimate's 1-sigma in SasView's error column,
    the same value as the frame's JSON; a given phi has none."""
    src = REPO / "examples" / "schulz_R45_phi0.3_nxcansas.h5"
    for phi, want_error in (("auto", True), ("0.3", False)):
        out = tmp_path / phi
        out.mkdir()
        assert main(["invert", str(src), "--volume-fraction", phi, "--output", str(out / "o"),
                     "--sasview-project", str(out / "p.json")]) == 0
        (page,) = [v["fit_params"][0] for v in json.loads((out / "p.json").read_text()).values()
                   if isinstance(v, dict) and "fit_params" in v]
        (record,) = [json.loads(p.read_text()) for p in (out / "o").glob("*.json") if p.name != "run.json"]
        error = page["volfraction"][2]
        if want_error:
            assert float(error) == pytest.approx(record["volume_fraction_sigma"]) and 0 < float(error) < 0.1
        else:
            assert error is None


@pytest.mark.parametrize("refine", [[], ["--refine", "lm"]], ids=["network", "refined"])
def test_batch_project_puts_mapped_windows_on_their_own_radii(tmp_path, refine):
    """`batch --sasview-project`: a curve read through another window of the self-similar map (radii x s) gets the
    same plugin radius as `invert` gives it (the run records each frame's radius scale), and the same q range: the
    window the network read (the model's / s), or the points the refinement fitted (the run records them; a
    review found batch pages on the model's 0.04-0.105 1/A)."""
    src = REPO / "examples" / "schulz_R45_phi0.3_nxcansas.h5"
    pages = {}
    for cmd in ("invert", "batch"):
        out = tmp_path / cmd
        out.mkdir()
        assert main([cmd, str(src), "--volume-fraction", "0.3", "--output", str(out / "o"),
                     "--sasview-project", str(out / "p.json"), *refine]) == 0
        (pages[cmd],) = [v["fit_params"][0] for v in json.loads((out / "p.json").read_text()).values()
                         if isinstance(v, dict) and "fit_params" in v]
    assert float(pages["batch"]["radius1"][1]) == pytest.approx(float(pages["invert"]["radius1"][1]), rel=1e-3)
    assert float(pages["batch"]["radius1"][1]) == pytest.approx(45.0, rel=0.05)
    for end in ("q_range_min", "q_range_max"):
        assert float(pages["batch"][end][0]) == pytest.approx(float(pages["invert"][end][0]), rel=1e-9), end
    assert float(pages["batch"]["background"][1]) == pytest.approx(float(pages["invert"]["background"][1]),
                                                                   rel=1e-6, abs=1e-12)
