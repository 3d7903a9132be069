"""The model curve a result reports is the curve its check scored (issue 25 item 2, issue 27 item 1).

Defects: for slit-smeared data the check smears with the slit (and adds the fitted low-q power law), but
``Quality.model_curve()`` (what the figures draw) returned the unsmeared curve without the power law, and the
front door's ``model_curve(result)`` refused slit data.  Expectation from the check's own definition: the
chi2 recomputed from the reported curve equals ``quality.chi2_reduced``.  Data: sasmodels' sphere, Slit1D.
"""

import numpy as np
import pytest
from sasmodels.core import load_model
from sasmodels.direct_model import call_kernel
from sasmodels.resolution import Slit1D

from sasview_nn_plugin import Curve, invert, model_curve

SLIT = 0.03


@pytest.fixture(scope="module")
def result():
    q = np.geomspace(1e-4, 0.05, 200)
    res = Slit1D(q, q_length=SLIT)
    kernel = load_model("sphere").make_kernel([res.q_calc])
    clean = res.apply(call_kernel(kernel, dict(scale=0.01, background=0.0, sld=1, sld_solvent=6, radius=1500,
                                               radius_pd=0.1, radius_pd_n=40, radius_pd_nsigma=3)))
    rng = np.random.default_rng(5)
    di = 0.02 * clean
    curve = Curve.from_arrays(q, clean + rng.normal(0, di), di, slit_length=SLIT)
    return invert(curve, volume_fraction=0.0, model="wide")


def test_quality_model_curve_is_the_scored_curve(result):
    qual = result.quality
    q, m = qual.model_curve()
    c = result.curve
    sel = np.isin(c.q, q)
    z = (c.intensity[sel] - m) / c.di[sel]
    assert z @ z / (len(q) - 2 - (1 if "power law" in " ".join(result.notes) else 0)) == pytest.approx(
        qual.chi2_reduced, rel=1e-6)


def test_model_curve_reads_slit_data(result):
    mc = model_curve(result)
    qual = result.quality
    q, m = qual.model_curve()
    np.testing.assert_allclose(np.interp(q, mc.q, mc.intensity), m, rtol=1e-6)


def test_model_curve_smears_with_the_data_pinhole():
    """model_curve ignored dq before (the unsmeared curve beside smeared data); now it is the check's curve."""
    q = np.geomspace(0.005, 0.3, 300)
    dq = 0.08 * q
    from sasmodels.resolution import Pinhole1D

    res = Pinhole1D(q, dq, q_calc=np.geomspace(0.002, 0.45, 4000))
    kernel = load_model("sphere").make_kernel([res.q_calc])
    clean = res.apply(call_kernel(kernel, dict(scale=0.01, background=0.0, sld=1, sld_solvent=6, radius=60,
                                               radius_pd=0.08, radius_pd_n=40, radius_pd_nsigma=3)))
    di = 0.01 * clean
    result = invert(Curve.from_arrays(q, clean + np.random.default_rng(2).normal(0, di), di, dq),
                    volume_fraction=0.0, model="wide")
    qc, m = result.quality.model_curve()
    mc = model_curve(result)
    np.testing.assert_allclose(np.interp(qc, mc.q, mc.intensity), m, rtol=1e-6)


def test_refine_fits_slit_smeared_data(result):
    """refine refused slit data (issue 25 item 2: the check *and refine* smear with Slit1D): it now fits them with
    the slit (physics.smearing, equal to sasmodels' Slit1D), to the noise, at the radius the data were made with."""
    from sasview_nn_plugin import refine

    fitted = refine(result)
    assert fitted.fit.chi2_reduced < 1.5
    assert fitted.distribution.mean_radius_number == pytest.approx(1500, rel=0.05)   # sasmodels radius 1500, pd 0.1
    assert "dq_scale" not in fitted.fit.parameters
    # the fit's curve is the slit-smeared one: unsmeared it would miss the data by orders of magnitude
    c = fitted.curve
    z = (np.interp(fitted.fit.q, c.q, c.intensity) - fitted.fit.intensity) / np.interp(fitted.fit.q, c.q, c.di)
    assert np.sqrt(np.mean(z**2)) < 1.5
