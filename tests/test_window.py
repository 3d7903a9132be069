"""Self-similarity of polydisperse hard spheres (inference/window.py): a sample with every radius x s measured
at q / s inverts, through the model's window, to the same distribution with radii x s."""

from __future__ import annotations

import numpy as np
import pytest

from sasview_nn_plugin import invert
from sasview_nn_plugin.inference import window as W
from sasview_nn_plugin.inference.modelfile import load_model
from tests.test_quality import schulz_hs


def test_scale_factors():
    assert W.scale_for_window((0.04, 0.105), (0.04, 0.105)) == pytest.approx([1.0])
    assert W.scale_for_window((0.04 / 3, 0.035), (0.04, 0.105)) == pytest.approx([3.0])
    assert W.scale_for_window((0.05, 0.1), (0.04, 0.105)) == []             # ratio 2 < 2.625
    s = W.scale_for_window((0.008, 0.25), (0.04, 0.105))
    assert s[0] == pytest.approx(0.105 / 0.25) and s[-1] == pytest.approx(0.04 / 0.008) and 1.0 in s
    assert np.diff(np.log(s)).max() <= np.log(W.WINDOW_STEP) + 1e-12
    for x in s:                                                             # every window inside the data
        lo, hi = W.data_range((0.04, 0.105), x)
        assert lo >= 0.008 * (1 - 1e-9) and hi <= 0.25 * (1 + 1e-9)


def test_to_model_window_refuses_a_window_outside_the_data():
    nn = load_model()
    q = np.linspace(0.02, 0.06, 50)
    with pytest.raises(ValueError):
        W.to_model_window(q, np.ones_like(q), None, 1.0, nn)


def test_self_similarity_through_the_network():
    nn = load_model()
    q1 = nn.q
    small = invert(q1, schulz_hs(q1, 40.0), volume_fraction=0.3)
    q3 = q1 / 3.0                                       # 0.0133-0.035 1/A
    big_curve = schulz_hs(q3, 120.0)                    # the same sample, every radius x3
    (s,) = W.scale_for_window((q3[0], q3[-1]), nn.q_range)
    qm, im, dm = W.to_model_window(q3, big_curve, None, s, nn)
    big = invert(qm, im, dm, volume_fraction=0.3)
    radius = W.from_model_window(big.radius, s)
    np.testing.assert_allclose(radius, small.radius * 3.0)
    np.testing.assert_allclose(big.number_distribution, small.number_distribution, atol=2e-3)
    assert big.number_distribution @ radius == pytest.approx(3.0 * small.mean_radius_number, rel=5e-3)
    assert small.mean_radius_number == pytest.approx(40.0, rel=0.02)


def test_self_similarity_of_the_curves():
    """The physics behind it: I_s(q) = s^3 I_1(s q) at the same phi (up to the Schulz mesh)."""
    q = np.linspace(0.01, 0.2, 300)
    np.testing.assert_allclose(schulz_hs(q / 2.5, 100.0), 2.5**3 * schulz_hs(q, 40.0), rtol=1e-9)
