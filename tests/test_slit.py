"""Slit smearing in numpy (physics.smearing) against sasmodels' own Slit1D, and against the integral it stands for."""

import numpy as np
import pytest
from sasmodels.resolution import Slit1D

from sasview_nn_plugin.physics.smearing import slit_q_calc, slit_resolution


@pytest.mark.parametrize("length", [0.002, 0.02, 0.06])
def test_slit_weights_equal_sasmodels(length):
    q = np.geomspace(1e-4, 0.05, 150)
    ref = Slit1D(q, q_length=length)
    q_calc, w = slit_resolution(q, length)
    np.testing.assert_allclose(q_calc, ref.q_calc, rtol=1e-12)
    np.testing.assert_allclose(w, ref.weight_matrix, rtol=1e-10, atol=1e-14)


def test_slit_smears_a_guinier_curve_as_its_integral():
    """I(q) = exp(-q^2 R^2 / 3): I_s(q) = (1/l) int_0^l exp(-(q^2 + u^2) R^2 / 3) du, in closed form with erf."""
    from scipy.special import erf

    r, length = 300.0, 0.03
    q = np.geomspace(2e-4, 0.02, 400)
    q_calc, w = slit_resolution(q, length)
    smeared = np.exp(-(q_calc * r) ** 2 / 3) @ w
    a = r / np.sqrt(3)
    exact = np.exp(-(q * a) ** 2) * np.sqrt(np.pi) * erf(a * length) / (2 * a * length)
    keep = exact > 1e-3 * exact[0]   # the midpoint rule (sasmodels') is coarse in the far tail
    np.testing.assert_allclose(smeared[keep], exact[keep], rtol=1e-2)


def test_q_calc_reaches_the_slit():
    q = np.geomspace(1e-3, 0.1, 50)
    qc = slit_q_calc(q, 0.2)
    assert qc[-1] == pytest.approx(np.hypot(0.1, 0.2)) and np.all(np.diff(qc) > 0)
