"""The `--plot` figure's model curve is the forward-model check's (issue 14): the curve drawn on the right panel and
the chi2 printed with it are those of ``result.quality`` (same q points, smearing, phi, scale and background), for
a result read through the self-similar map and for one on the model's own grid."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import REPO

from sasview_nn_plugin.cli import main
from sasview_nn_plugin.data import plots
from sasview_nn_plugin.data.load import load_curves
from sasview_nn_plugin.data.writers import save_curve
from sasview_nn_plugin.inference.invert import invert
from sasview_nn_plugin.inference.modelfile import load_model

STAT = re.compile(r"\((chi2_red|misfit rms) ([-+0-9.e]+)( %)?\)")


def drawn(path, tmp_path, monkeypatch, *args):
    """`invert PATH --volume-fraction 0.3 --plot`: the model curve drawn (q, I) and its legend label."""
    lines = []
    real = plots.save_figure

    def capture(fig, out):
        lines.extend(line for ax in fig.axes for line in ax.get_lines() if STAT.search(line.get_label() or ""))
        return real(fig, out)

    monkeypatch.setattr(plots, "save_figure", capture)
    assert main(["invert", str(path), "--volume-fraction", "0.3", "--plot", "--output", str(tmp_path / "o"),
                 *args]) == 0
    (line,) = lines
    return np.asarray(line.get_xdata()), np.asarray(line.get_ydata()), line.get_label()


def check_against_quality(path, tmp_path, monkeypatch):
    c = load_curves(path)[0]
    res = invert(c.q, c.intensity, c.di, volume_fraction=0.3, dq=c.dq)
    qual = res.quality
    q, model, label = drawn(path, tmp_path, monkeypatch)
    name, value, _ = STAT.search(label).groups()
    assert name == "chi2_red" and value == f"{qual.chi2_reduced:.3g}"
    assert len(q) == qual.n_points                                     # the points the check used ...
    k = np.searchsorted(c.q, q)
    np.testing.assert_allclose(c.q[k], q, rtol=1e-12)
    chi2 = float(np.sum(((c.intensity[k] - model) / c.di[k]) ** 2) / (len(q) - 2))
    assert chi2 == pytest.approx(qual.chi2_reduced, rel=1e-6)          # ... and its model, scale and background
    return res


def test_example_figure_shows_the_checks_curve_and_chi2(tmp_path, monkeypatch):
    """The bimodal example (0.035-0.11 1/A): its figure printed chi2 14.6 (the window the network saw) while quality
    said 18.1 (all the data), when the 90-epoch network read it through the map (the 120-epoch one keeps s = 1)."""
    check_against_quality(REPO / "examples" / "bimodal_phi0.3.xml", tmp_path, monkeypatch)


def test_mapped_result_figure_shows_the_checks_curve_and_chi2(tmp_path, monkeypatch):
    """A window without the model's (0.02-0.07 1/A, 70 A spheres) is read through the map, whatever the network."""
    from helpers import schulz_hs

    q = np.geomspace(0.02, 0.07, 200)
    clean = schulz_hs(q, 70.0)
    rng = np.random.default_rng(6)
    path = save_curve(tmp_path / "narrow.txt", q, clean * (1 + 0.01 * rng.standard_normal(len(q))), 0.01 * clean)
    res = check_against_quality(path, tmp_path, monkeypatch)
    assert any("scaled by s" in n for n in res.notes)


def test_model_grid_result_with_resolution_figure_shows_the_checks_curve_and_chi2(tmp_path, monkeypatch):
    """On the model's own grid, with pinhole dq: the check's curve is smeared, and so is the one drawn."""
    from helpers import schulz_hs

    q = load_model().q
    clean = schulz_hs(q, 40.0)   # unsmeared: the smeared model is then visibly off, as it should be
    rng = np.random.default_rng(5)
    path = save_curve(tmp_path / "grid.txt", q, clean * (1 + 0.01 * rng.standard_normal(len(q))), 0.01 * clean,
                      0.05 * q)
    res = check_against_quality(path, tmp_path, monkeypatch)
    assert res.q_range == load_model().q_range


def test_without_dI_the_figure_prints_the_checks_misfit(tmp_path, monkeypatch):
    from helpers import schulz_hs

    q = load_model().q
    path = save_curve(tmp_path / "nodi.txt", q, schulz_hs(q, 40.0))
    c = load_curves(path)[0]
    qual = invert(c.q, c.intensity, None, volume_fraction=0.3).quality
    _, _, label = drawn(path, tmp_path, monkeypatch)
    name, value, unit = STAT.search(label).groups()
    assert name == "misfit rms" and unit == " %" and value == f"{100 * qual.residual_rms:.2g}"


def test_quality_model_curve_is_the_check_s_fit():
    """``Quality.model_curve()``: the check's fitted curve at the points it used."""
    from helpers import schulz_hs

    from sasview_nn_plugin.inference.quality import model_intensity

    q = np.geomspace(0.03, 0.15, 300)
    data = schulz_hs(q, 45.0)
    res = invert(q, data, 0.01 * data, volume_fraction=0.3)
    qm, im = res.quality.model_curve()
    np.testing.assert_array_equal(qm, q)                               # a mapped window: all the data
    m = model_intensity(q, res.radius, res.number_distribution, 0.3)
    np.testing.assert_allclose(im, res.quality.scale * m + res.quality.background, rtol=1e-12)
