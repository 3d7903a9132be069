"""The misfit of the check counts only what the noise cannot explain (issue 26: flags on right answers).

Defect: SasView's AOT drop-contrast SANS curve, read at phi 0.08 by the whole-curve model, 31.4 A for the
reference's 30.8 A with chi2_red 1.7, came back `shape-outside-training`: its last q block, background-subtracted
to about zero, had a relative misfit of 21 although its residual was 1.2 sigma.  Here the same situation is made
by hand: sasmodels' polydisperse sphere, noise with a floor, the background subtracted, and the TRUE distribution
as the answer; the check must pass it.  A wrong answer on the same data must still be flagged.
"""

import numpy as np
import pytest
from sasmodels.core import load_model
from sasmodels.direct_model import call_kernel

from sasview_nn_plugin.inference.quality import Training, assess
from sasview_nn_plugin.physics.distributions import schulz_cdf

SPHERE = load_model("sphere")


def schulz(mean, pd, radius):
    edges = np.concatenate([[radius[0] ** 2 / radius[1]], np.sqrt(radius[1:] * radius[:-1]),
                            [radius[-1] ** 2 / radius[-2]]])
    w = np.diff(schulz_cdf(edges, np.array(mean), np.array(pd)))
    return w / w.sum()


@pytest.fixture(scope="module")
def curve():
    q = np.geomspace(0.01, 0.3, 150)
    radius = np.geomspace(5, 150, 300)
    number = schulz(30.0, 0.1, radius)
    pars = dict(scale=1.0, background=0.0, sld=1.0, sld_solvent=6.0)
    kernel = SPHERE.make_kernel([q])
    vol = 4 / 3 * np.pi * radius**3
    # number-weighted sum of sasmodels' single-radius curves (each V-normalised): I = sum w V I_R / sum w V
    each = np.array([call_kernel(kernel, dict(pars, radius=r)) for r in radius])
    model = (number * vol) @ each / (number @ vol)
    rng = np.random.default_rng(3)
    di = 0.01 * model + 3 * model[-1]    # 1 % plus a floor: the last points mostly noise (background subtracted)
    data = model + rng.normal(0, di)
    return q, data, di, radius, number


def test_true_answer_with_noise_floor_is_not_flagged(curve):
    q, data, di, radius, number = curve
    dom = Training((q[0], q[-1]), (radius[0], radius[-1]), (0.0, 0.5))
    for reference in (False, True):
        quality = assess(q, data, di, radius, number, 0.0, training=dom, q_range=(q[0], q[-1]), reference=reference)
        assert quality.chi2_reduced < 1.5
        assert quality.flags == ()


def test_wrong_answer_on_the_same_data_is_flagged(curve):
    q, data, di, radius, _ = curve
    dom = Training((q[0], q[-1]), (radius[0], radius[-1]), (0.0, 0.5))
    quality = assess(q, data, di, radius, schulz(36.0, 0.1, radius), 0.0, training=dom, q_range=(q[0], q[-1]))
    assert "poor-fit" in quality.flags
