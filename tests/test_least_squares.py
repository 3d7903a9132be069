"""The review's bounded Levenberg-Marquardt fit in numpy (inference.least_squares) on problems with known answers."""

import numpy as np
import pytest

from sasview_nn_plugin.inference.least_squares import bounded_least_squares


def rows(fn):
    return lambda points: np.array([fn(p) for p in np.atleast_2d(points)])


def test_finds_the_minimum_of_a_nonlinear_fit():
    t = np.linspace(0, 3, 40)
    data = 2.5 * np.exp(-1.3 * t) + 0.4
    fit = bounded_least_squares(rows(lambda p: p[0] * np.exp(-p[1] * t) + p[2] - data), [1.0, 0.5, 0.0],
                                [0, 0, -1], [10, 10, 1], max_evaluations=60)
    np.testing.assert_allclose(fit.x, [2.5, 1.3, 0.4], rtol=1e-4)
    assert fit.cost < 1e-10 and fit.nfev <= 60


def test_stays_in_its_bounds_and_stops_at_an_active_one():
    """The unconstrained minimum (3, -2) lies outside the box: the fit ends on the bound, within its budget."""
    fit = bounded_least_squares(rows(lambda p: np.array([p[0] - 3.0, p[1] + 2.0])), [0.5, 0.5], [0, 0], [1, 1],
                                max_evaluations=25)
    assert fit.x.tolist() == [1.0, 0.0]
    assert fit.cost == pytest.approx(4.0 + 4.0) and fit.nfev < 25


def test_a_start_outside_the_box_is_clipped_and_a_flat_problem_ends_at_once():
    calls = []

    def flat(points):
        calls.append(len(np.atleast_2d(points)))
        return np.ones((len(np.atleast_2d(points)), 3))

    fit = bounded_least_squares(flat, [5.0, -5.0], [0, 0], [1, 1])
    assert fit.x.tolist() == [1.0, 0.0] and fit.cost == 3.0 and sum(calls) <= 4
