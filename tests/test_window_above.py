"""Windows wholly above the model's (issue 14: radii down to ~5 A): data starting above the model's q_min map onto
its window with s in [MIN_WINDOW_SCALE, 1) (radii x s, down to 0.5 x 9 = 4.5 A); below that bound they stay
refused, which keeps q in 1/nm read as 1/A (s ~ 0.1) from giving a perfect fit with radii 10x too small."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import schulz_hs

from sasview_nn_plugin import invert
from sasview_nn_plugin.errors import InputError
from sasview_nn_plugin.inference import window as W
from sasview_nn_plugin.inference.invert import MIN_WINDOW_SCALE, invert_many, maps_to_model_window
from sasview_nn_plugin.inference.modelfile import load_model


def noisy(clean, noise=0.01, seed=0):
    rng = np.random.default_rng(seed)
    return clean * (1 + noise * rng.standard_normal(len(clean))), noise * clean


def test_the_bound_is_half_the_model_scale():
    assert MIN_WINDOW_SCALE == 0.5
    nn = load_model()
    m0 = nn.q_range[0]
    assert maps_to_model_window(np.geomspace(m0 / 0.5, 0.3, 50), nn)            # s = 0.5 exactly: mapped
    assert not maps_to_model_window(np.geomspace(m0 / 0.5 * 1.01, 0.3, 50), nn)  # just above it: refused
    # q rounded when a file was written (review find: 2.0000001 x the model's q_min was refused at 1e-9)
    assert maps_to_model_window(np.geomspace(m0 / 0.5 * (1 + 1e-7), 0.3, 50), nn)
    q = np.geomspace(m0 / 0.5 * (1 + 1e-7), 0.3, 200)
    assert np.isfinite(invert(q, q**-2.0, volume_fraction=0.2).mean_radius_number)


def test_candidates_above_the_model_window_stop_at_the_bound():
    (m0, m1) = (0.04, 0.105)
    s = W.scale_for_window((0.06, 0.6), (m0, m1), s_min=MIN_WINDOW_SCALE)   # 0.175-0.667 without the bound
    assert s[0] == pytest.approx(0.5) and s[-1] == pytest.approx(m0 / 0.06) and 1.0 not in s
    assert np.diff(np.log(s)).max() <= np.log(W.WINDOW_STEP) + 1e-12
    assert W.scale_for_window((0.09, 0.6), (m0, m1), s_min=MIN_WINDOW_SCALE) == []   # s <= 0.44 only
    assert W.scale_for_window((0.06, 0.6), (m0, m1))[0] == pytest.approx(m1 / 0.6)   # the default: no bound
    for x in s:                                                      # every mapped window inside the data
        lo, hi = W.data_range((m0, m1), x)
        assert lo >= 0.06 * (1 - 1e-9) and hi <= 0.6 * (1 + 1e-9)


@pytest.mark.parametrize("with_di", [True, False], ids=["dI", "no-dI"])
def test_radii_x_0_6_on_q_over_0_6_invert_to_the_scaled_distribution(with_di):
    """Schulz 40 A on the model's grid, and the same sample with every radius x 0.6 (24 A) on q / 0.6
    (0.0667-0.175 1/A, wholly above the model's window): the second reads as the first, radii x 0.6."""
    nn = load_model()
    small_q = nn.q / 0.6
    data, di = noisy(schulz_hs(small_q, 24.0))
    res = invert(small_q, data, di if with_di else None, volume_fraction=0.3)
    ref_data, ref_di = noisy(schulz_hs(nn.q, 40.0))
    ref = invert(nn.q, ref_data, ref_di if with_di else None, volume_fraction=0.3)
    np.testing.assert_allclose(res.radius, nn.radius * 0.6)
    assert res.mean_radius_number == pytest.approx(24.0, rel=0.02)
    assert res.mean_radius_number == pytest.approx(0.6 * ref.mean_radius_number, rel=0.01)
    np.testing.assert_allclose(res.number_distribution, ref.number_distribution, atol=5e-3)
    assert res.quality.flags == () and any("scaled by s = 0.6" in n for n in res.notes)
    (many,) = invert_many(small_q, data[None], None if not with_di else di[None], volume_fractions=0.3)
    np.testing.assert_array_equal(many.number_distribution, res.number_distribution)


@pytest.mark.parametrize("phi", [0.2, 0.3])
def test_small_spheres_on_a_wider_window_above_the_models(phi):
    """Schulz 14 A on 0.07-0.25 1/A (observable from pi / q_max = 12.6 A): candidates s = 0.5-0.57, mean within
    2 %, unflagged; with phi unknown, estimated through the same windows."""
    q = np.geomspace(0.07, 0.25, 300)
    data, di = noisy(schulz_hs(q, 14.0, phi=phi))
    res = invert(q, data, di, volume_fraction=phi)
    assert res.mean_radius_number == pytest.approx(14.0, rel=0.02) and not res.quality.flags
    assert 0.5 - 1e-9 <= res.radius[0] / load_model().radius[0] <= 0.04 / 0.07 + 1e-9
    auto = invert(q, data, di, volume_fraction=None)
    assert auto.volume_fraction == pytest.approx(phi, abs=0.03)
    assert auto.mean_radius_number == pytest.approx(14.0, rel=0.03)


@pytest.mark.parametrize("q_A", [np.geomspace(0.03, 0.15, 400), np.geomspace(0.01, 0.3, 300),
                                 np.linspace(0.04, 0.105, 1000)], ids=["issue", "lab", "model"])
def test_q_in_nm_read_as_inverse_angstrom_is_still_refused(q_A):
    """A typical sample's curve with q in 1/nm passed as 1/A (10x too large) needs s ~ 0.1-0.4: refused, with the
    bound and the q_unit hint in the message (by the whole-curve model too, which invert's default uses for the
    1.5-decade lab window: defect 2026-12-07, it read such a curve as radii 10x too small)."""
    clean = schulz_hs(q_A, 45.0)
    message = (r"reaching below 0\.08 1/A.*\(radii < 4\.5 A\).*q_unit=\"nm\"" if q_A[-1] / q_A[0] < 10 else
               r"reaching below 0\.08 1/A.*q_unit=\"nm\"")   # a decade or more: the whole-curve model (with dI)
    for call in (lambda: invert(10 * q_A, clean, 0.01 * clean, volume_fraction=0.3),
                 lambda: invert(10 * q_A, clean, 0.01 * clean, volume_fraction=None),
                 lambda: invert_many(10 * q_A, clean[None], volume_fractions=0.3)[0]):
        with pytest.raises(InputError, match=message):
            r = call()
            if isinstance(r, InputError):
                raise r
