"""Issue 28 items 10-11, the Qt-free parts of Fitting > Plot size distribution and of the log: a width at its bound
is said (log, status bar, window title), the window title names the page, the data and the number-mean radius
(+- its sigma from the fit's errors), and docs/sasview.md states the volume-fraction scan the log reports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sasview_nn_plugin.sasview.sizeplot import plot_title
from sasview_nn_plugin.sasview.start import component_distributions, number_mean_sigma, phi_scan_range, widths_at_bounds

REPO = Path(__file__).resolve().parents[1]
TWO = {"radius1": 30.0, "pd1": 0.12, "fraction1": 0.7, "radius2": 61.0, "pd2": 0.005, "fraction2": 0.3,
       "radius3": 60.0, "pd3": 0.1, "fraction3": 0.0}


def test_a_width_at_its_bound_is_said():
    """The reported case: pd2 0.005 +- 2.37 after Fit drew a spike with no warning."""
    [w] = widths_at_bounds(TWO, {"pd2": 2.37, "pd1": 0.01})
    assert w.startswith("pd2 = 0.005 +- 2.37 is at its lower bound 0.005") and "radius2 = 61.0 A" in w
    assert widths_at_bounds(dict(TWO, pd2=0.08), {"pd2": 0.01}) == []
    [w] = widths_at_bounds(dict(TWO, pd2=0.08), {"pd2": 0.5})       # not at a bound, but undetermined
    assert "undetermined" in w
    assert widths_at_bounds(dict(TWO, pd3=0.005), None) == [widths_at_bounds(TWO, None)[0]]   # pd3 has no volume
    assert "pd1 = 1 is at its upper bound 1" in widths_at_bounds(dict(TWO, pd1=1.0), None)[0]   # the upper bound too


def test_number_mean_sigma_from_the_fit_errors():
    one = dict(TWO, fraction2=0.0)
    assert number_mean_sigma(one, None) is None
    # one Schulz component: the number mean is radius1, so its sigma is radius1's error
    assert number_mean_sigma(one, {"radius1": 0.4, "pd1": 0.01}) == pytest.approx(0.4, rel=1e-3)
    two = number_mean_sigma(TWO, {"radius1": 0.4, "radius2": 1.0, "fraction2": 0.05})
    assert 0.1 < two < 5


def test_the_window_title_names_page_data_mean_and_warnings():
    mean = component_distributions(TWO)["mean_number"]
    title = plot_title("M1", "bimodal_phi0.3.xml", mean, 0.42, widths_at_bounds(TWO, None))
    assert title.startswith(f"Size distribution M1: bimodal_phi0.3.xml (number-mean {mean:.1f} +- 0.42 A)")
    assert "pd2 at a bound" in title and "Graph" not in title
    assert "+-" not in plot_title("M2", "x", 45.0, None, [])


def test_docs_state_the_phi_scan_the_log_reports():
    from sasview_nn_plugin.inference.modelfile import load_model
    from sasview_nn_plugin.sasview.start import PHI_STEP

    lo, hi = phi_scan_range(load_model())
    text = " ".join((REPO / "docs" / "sasview.md").read_text().split())
    m = re.search(r"training range ([0-9.]+)-([0-9.]+) in steps of ([0-9.]+)", text)
    assert m, "docs/sasview.md no longer states the scan"
    assert (float(m[1]), float(m[2]), float(m[3])) == (lo, hi, PHI_STEP)


def test_mean_line_and_band_have_no_point_sasview_61_drops():
    """SasView 6.1 drops y <= 0 from a plot's view: the mean line (from y = 0) kept one point and was invisible
    (screenshot of its size plot).  Every point of the mean line and the band is positive, and they span the plot."""
    from sasview_nn_plugin.sasview.sizeplot import marker_lines

    lines = dict((kind, (x, y)) for kind, x, y in marker_lines(45.0, 0.5, 0.07))
    assert set(lines) == {"mean", "band"}
    for _x, y in lines.values():
        assert min(y) > 0 and max(y) == 0.07 and min(y) < 1e-4 * 0.07
    assert lines["mean"][0] == [45.0, 45.0] and lines["band"][0] == [44.5, 44.5, 45.5, 45.5]
    assert [k for k, _, _ in marker_lines(45.0, None, 0.07)] == ["mean"]
