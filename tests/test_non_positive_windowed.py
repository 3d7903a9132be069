"""The windowed (default) model keeps a few over-subtracted points (I <= 0) as data (issue 26 item 1).

Defect: ``invert(curve, volume_fraction=None, model="default")`` refused SasView's AOT drop-contrast curve whole
("intensity has 2 non-positive values") although phi = 0 was accepted.  Here: sasmodels' polydisperse sphere on
a lab window, the last points pushed below zero as background subtraction does.  The network reads the positive
points; the result keeps every point (its check and ``refine`` weigh the rest by their dI).
"""

import numpy as np
import pytest
from sasmodels.core import load_model
from sasmodels.direct_model import call_kernel

from sasview_nn_plugin import Curve, invert


@pytest.fixture(scope="module")
def curve():
    q = np.geomspace(0.008, 0.3, 300)
    kernel = load_model("sphere").make_kernel([q])
    i = call_kernel(kernel, dict(scale=0.01, background=0, sld=1, sld_solvent=6, radius=40, radius_pd=0.1,
                                 radius_pd_n=35, radius_pd_nsigma=3))
    di = 0.01 * i + 0.5 * i[-1]
    i = i.copy()
    i[[-40, -25, -7, -3]] = -0.4 * di[[-40, -25, -7, -3]]   # over-subtracted: within 1 sigma of zero
    return Curve.from_arrays(q, i, di)


@pytest.mark.parametrize("phi", [None, 0.0])
def test_a_few_non_positive_points_are_kept(curve, phi):
    result = invert(curve, volume_fraction=phi, model="default")
    assert len(result.curve.q) == len(curve.q)                 # every point kept in the result
    assert np.count_nonzero(result.curve.intensity <= 0) == 4
    assert any("I <= 0" in n for n in result.notes)
    assert result.quality.n_points >= 4 and np.isfinite(result.quality.chi2_reduced)
    assert result.distribution.mean_radius_number == pytest.approx(40.0, rel=0.1)   # the sample's 40 A
