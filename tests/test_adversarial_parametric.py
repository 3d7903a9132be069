"""Issue 17, item 10: parametric fits whose uncertainty draws leave the radius grid.

A small log-normal particle (number-mean ~20 A, near the grid's 9 A end) at phi 0.39 gives an LM
covariance wide enough that some (radius, radius_pd) draws put no mass inside the 9-99 A grid; the
band must come from the other draws, the rejection must be recorded on the result (``notes``),
and ``sasview-nn invert --parametric`` must not crash.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import sasmodels_curve

from sasview_nn_plugin.fitting.parametric import invert_parametric, mean_radii
from sasview_nn_plugin.physics import distributions
from sasview_nn_plugin.physics import kernels as physics
from sasview_nn_plugin.physics.grids import RadiusGrid

PHI = 0.39

# (number-mean A, radius_pd, relative noise, noise seed): each crashed before the fix
CRASHING = [(20.7, 0.18, 0.03, 2), (12.0, 0.05, 0.005, 0)]


def _curve(mean, pd, noise, seed):
    from sasview_nn_plugin.inference.modelfile import load_model

    q = load_model().q
    median = mean / np.exp(0.5 * pd**2)  # log-normal number-mean = median exp(sigma^2 / 2)
    assert mean_radii("lognormal", median, pd)[0] == pytest.approx(mean)
    i = sasmodels_curve(q, median, pd, "lognormal", PHI)
    i = i * (1 + noise * np.random.default_rng(seed).standard_normal(len(q)))
    return q, i, noise * i


@pytest.mark.parametrize("case", CRASHING, ids=["mean20.7", "mean12"])
def test_draws_outside_grid_give_band_and_note(case):
    mean, _pd, noise, seed = case
    q, i, di = _curve(mean, _pd, noise, seed)
    fit = invert_parametric(q, i, di, volume_fraction=PHI, family="lognormal")
    assert fit.fit.chi2_reduced < 1.5
    assert fit.mean_radius_number == pytest.approx(mean, rel=0.1)
    assert fit.number_distribution.sum() == pytest.approx(1)
    for band in (fit.uncertainty.number_band, fit.uncertainty.volume_band):
        assert band.shape == (2, len(fit.radius)) and np.isfinite(band).all()
        assert np.all(band[0] <= band[1] + 1e-15)
    notes = [n for n in fit.notes if "uncertainty draws" in n]
    assert len(notes) == 1, fit.notes
    assert "radius grid" in notes[0] and "9-99 A" in notes[0]
    assert fit.to_dict()["notes"] == list(fit.notes)
    assert np.isfinite(fit.uncertainty.mean_radius_number_sigma) and fit.uncertainty.mean_radius_number_sigma > 0


def test_cli_parametric_on_crashing_curve(tmp_path, capsys):
    from sasview_nn_plugin.cli import main
    from sasview_nn_plugin.data.writers import read_result_csv, save_curve

    q, i, di = _curve(*CRASHING[0])
    data = save_curve(tmp_path / "ln20.txt", q, i, di)
    out = tmp_path / "out"
    rc = main(["invert", str(data), "--volume-fraction", f"{PHI}", "--parametric", "lognormal", "--output", str(out)])
    assert rc == 0, capsys.readouterr().err
    rec = json.loads((out / "ln20.json").read_text())
    assert (out / "ln20.csv").is_file()
    assert rec["refinement"]["parametrization"] == "lognormal"
    assert any("uncertainty draws" in n for n in rec["notes"]), rec["notes"]
    meta, cols = read_result_csv(out / "ln20.csv")
    table = np.column_stack(list(cols.values()))
    assert np.isfinite(table).all() and table.shape[0] == len(rec["radius"])
    assert float(meta["volume_fraction"]) == pytest.approx(rec["volume_fraction"], rel=1e-7)


def test_band_from_draws_inside_grid_widened_when_many_rejected():
    from sasview_nn_plugin.fitting.parametric import _draw_bands

    grid = RadiusGrid()
    r = np.concatenate([np.full(70, 40.0), np.full(30, 3.0)])  # the last 30: all mass below 9 A
    pd = np.concatenate([np.full(70, 0.1), np.full(30, 0.01)])
    best = np.diff(distributions.lognormal_cdf(grid.edges, 40.0, 0.1))
    best /= best.sum()
    n_band, v_band, note = _draw_bands("lognormal", grid, r, pd, best)
    assert note is not None and "30 of 100" in note and "lower" in note
    assert np.all(n_band[0] == 0) and np.all(v_band[0] == 0)  # 30 % rejected > 16 %: lower band widened to 0
    assert np.allclose(n_band[1], best) and np.allclose(v_band[1], physics.number_to_volume(best, grid.radius))
    # few rejected: band from the rest, not widened
    n_band, v_band, note = _draw_bands("lognormal", grid, r[:75], pd[:75], best)
    assert "5 of 75" in note and "lower" not in note
    assert np.allclose(n_band, best[None]) and np.allclose(v_band[0], physics.number_to_volume(best, grid.radius))
    # none rejected: no note
    assert _draw_bands("lognormal", grid, r[:70], pd[:70], best)[2] is None
    # every draw off the grid: the best fit stands in, the lower band is 0 and flagged
    n_band, v_band, note = _draw_bands("lognormal", grid, r[70:], pd[70:], best)
    assert "30 of 30" in note and np.all(n_band[0] == 0) and np.allclose(n_band[1], best)
