"""Flagged results are said everywhere (stderr, JSON, summary.csv) and `--strict` turns a flag into exit 3."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from conftest import REPO

from sasview_nn_plugin.cli import main
from sasview_nn_plugin.data.writers import save_curve
from sasview_nn_plugin.inference.modelfile import load_model
from sasview_nn_plugin.physics import distributions
from sasview_nn_plugin.physics import kernels as physics
from sasview_nn_plugin.physics.grids import RadiusGrid

EXAMPLE = REPO / "examples" / "schulz_R45_phi0.3_nxcansas.h5"


@pytest.fixture(scope="module")
def far_spheres(tmp_path_factory):
    """Schulz spheres of mean 400 A (10x beyond the network's radii) on the model's q window, 1 % dI."""
    nn = load_model()
    grid = RadiusGrid(150.0, 900.0, 200)
    w = np.diff(distributions.schulz_cdf(grid.edges, 400.0, 0.1))
    intensity = physics.intensity(physics.sphere_basis(nn.q, grid.radius), w / w.sum(), 0.3)
    rng = np.random.default_rng(3)
    noisy = intensity * (1 + 0.01 * rng.standard_normal(intensity.shape))
    return save_curve(tmp_path_factory.mktemp("far") / "far.txt", nn.q, noisy, 0.01 * intensity)


def test_a_flagged_result_is_said_and_strict_exits_3(far_spheres, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["invert", str(far_spheres), "--volume-fraction", "0.3", "--output", str(out)]) == 0
    err = capsys.readouterr().err
    assert "not trusted:" in err and "poor-fit" in err
    rec = json.loads((out / "far.json").read_text())
    assert rec["quality"]["flags"] and rec["quality"]["chi2_reduced"] > 3
    assert rec["warnings"] and rec["warnings"][0].startswith("not trusted")
    strict = tmp_path / "s"
    assert main(["invert", str(far_spheres), "--volume-fraction", "0.3", "--output", str(strict), "--strict"]) == 3
    assert (strict / "far.json").is_file()  # results are still written


def test_a_clean_result_is_not_flagged_and_strict_exits_0(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["invert", str(EXAMPLE), "--volume-fraction", "0.3", "--output", str(out), "--strict"]) == 0
    assert "not trusted" not in capsys.readouterr().err
    rec = json.loads((out / "schulz_R45_phi0.3_nxcansas.json").read_text())
    assert rec["quality"]["flags"] == [] and rec["warnings"] == []


def test_batch_writes_the_flags_in_summary_csv(far_spheres, tmp_path, capsys):
    d = tmp_path / "in"
    d.mkdir()
    (d / "far.txt").write_bytes(far_spheres.read_bytes())
    (d / "clean.h5").write_bytes(EXAMPLE.read_bytes())
    out = tmp_path / "run"
    assert main(["batch", str(d), "--volume-fraction", "0.3", "--output", str(out), "--quiet", "--strict"]) == 3
    rows = {r["frame"]: r for r in csv.DictReader(open(out / "summary.csv", newline="", encoding="utf-8"))}
    assert rows["far.txt"]["warnings"].startswith("not trusted") and rows["clean.h5"]["warnings"] == ""
    assert "warning: far.txt: not trusted" in capsys.readouterr().err
