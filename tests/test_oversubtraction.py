"""Over-subtracted curves (issue 26: "a sloped or over-subtracted background" flags right answers).

A solvent or buffer subtracted a little too strongly leaves the sample's curve minus a constant: the high-q points
fall to zero and below, within their dI.  SasView fits that with its flat background, free in sign.  Until
2026-12-07 the check, the polish, the sphere bound and ``refine`` held the background >= 0, so such a curve could
not be explained by any answer and a right one was flagged ``poor-fit`` (Schulz spheres of 30-60 A on a lab window,
the offset equal to the curve's own value at q_max: chi2_red ~25; three times that: ~220).  Now the answer explains
it, and says where it matters: the flag ``over-subtracted`` (a negative background beyond 3 of its sigmas, on a
broad answer), because with the constant free the small-particle tail that the high-q end decides rests on it (a
helper's adversarial curves: without the flag, 29 of 215 answers flagged before went out silently wrong).  A narrow
answer (volume over number mean below 1.08) is not flagged for it: its sizes are set by the curve's knee and
fringes (none of the 215 curves, nor of 110 fresh ones, read wrong so).

The curves are sasmodels' ``sphere`` (Schulz pd 0.1) with dI 2 % of the curve plus 2 % of its value at q_max; the
offset and the radius are how they were made.  The background is free in sign only where the data may be
over-subtracted (points at or below zero, or the curve's high-q end at zero within 3 dI:
``quality_model.background_may_be_negative``); elsewhere a negative one trades against a low-q power law and small
particles (tests/test_power_law.py), and it stays >= 0.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from helpers import QLAB, direct_curve, schulz_volume_mean, upturn_curve  # noqa: E402

from sasview_nn_plugin import invert  # noqa: E402
from sasview_nn_plugin.inference.quality import assess  # noqa: E402
from sasview_nn_plugin.inference.quality_model import (  # noqa: E402
    background_may_be_negative,
    nnls_columns,
    nnls_scale_background,
)

Q = np.geomspace(0.005, 0.5, 300)


def oversubtracted(radius: float, offset: float, seed: int = 0, pd: float = 0.1):
    """(I, dI, clean, subtracted constant): Schulz spheres (pd ``pd``) less ``offset`` x the curve's value at
    q_max."""
    clean = direct_curve("sphere", Q, radius=radius, radius_pd=pd, radius_pd_type="schulz", radius_pd_n=80,
                         radius_pd_nsigma=8, scale=0.01, background=0.0)
    di = 0.02 * clean + 0.02 * clean[-1]
    const = offset * clean[-1]
    return clean - const + di * np.random.default_rng(seed).standard_normal(len(Q)), di, clean, const


def schulz_number(radius: float, pd: float = 0.1):
    """A Schulz number distribution on a fine grid (radii A, weights): the truth the check is given."""
    r = np.linspace(radius * max(1 - 6 * pd, 0.02), radius * (1 + 8 * pd), 400)
    z = 1 / pd**2 - 1
    w = (r / radius) ** z * np.exp(-(z + 1) * r / radius)
    return r, w / w.sum()


def test_scale_background_fit_lets_the_background_go_negative_where_the_data_are_over_subtracted():
    """By hand.  ``shape`` falls from 3 to 0 as a curve does; data = 2 shape - 0.5 exactly: its high-q end is below
    zero, and the fit returns (2, -0.5), alone and beside a power-law column (held >= 0 itself).  The same line
    moved up to 2 shape + 0.5 - 0.5 at every point's level well above its sigma: the background stays >= 0.  A
    negative scale is refused either way (the spheres cannot scatter less than nothing)."""
    shape = np.linspace(3.0, 0.0, 20)
    sigma = np.full(20, 0.1)
    data = 2 * shape - 0.5
    assert background_may_be_negative(data, sigma)
    assert nnls_scale_background(shape, data, sigma) == pytest.approx((2.0, -0.5))
    cols = np.stack([shape, np.ones(20), (shape + 1) ** -2], axis=1)
    assert nnls_columns(cols, data + 0.3 * (shape + 1) ** -2, sigma) == pytest.approx([2.0, -0.5, 0.3])
    x = nnls_columns(cols, data - 0.3 * (shape + 1) ** -2, sigma)    # a negative power law: held at 0
    assert x[2] == 0.0 and x[0] > 0 and x[1] < 0
    high = np.linspace(3.0, 1.0, 20)   # the curve's end at 1.5, 15 sigma above zero
    assert not background_may_be_negative(2 * high - 0.5, sigma)
    a, b = nnls_scale_background(high, 2 * high - 0.5, sigma)
    assert b == 0.0 and a == pytest.approx((high @ (2 * high - 0.5)) / (high @ high))
    assert nnls_columns(np.stack([high, np.ones(20)], axis=1), 2 * high - 0.5, sigma)[1] == 0.0
    a, b = nnls_scale_background(shape, -shape + 1, sigma)
    assert a == 0.0 and b == pytest.approx(np.mean(-shape + 1))


@pytest.mark.parametrize("radius, offset, pd", [(30.0, 1.0, 0.1), (45.0, 3.0, 0.1), (60.0, 3.0, 0.1),
                                                (30.0, 1.0, 0.3), (45.0, 3.0, 0.3)])
def test_the_check_explains_an_oversubtracted_curve_by_its_true_spheres(radius, offset, pd):
    """The true distribution, checked: a negative background of the subtracted constant (within 3 of its dI at
    q_max) and chi2_red ~1.  Flagged ``over-subtracted`` where the distribution is broad (Schulz pd 0.3: volume over
    number mean 1.27, whose small-particle tail the constant trades with), not where it is narrow (pd 0.1: 1.03, its
    sizes set by the curve's knee and fringes, which no constant shifts)."""
    intensity, di, _, const = oversubtracted(radius, offset, pd=pd)
    r, w = schulz_number(radius, pd)
    for reference in (False, True):   # the fast check and the straightforward one
        qual = assess(Q, intensity, di, r, w, 0.0, q_range=(Q[0], Q[-1]), reference=reference)
        assert qual.chi2_reduced < 1.4
        assert qual.background == pytest.approx(-const, abs=3 * di[-1])
        assert qual.flags == (("over-subtracted",) if pd > 0.2 else ())


@pytest.mark.parametrize("radius, offset, seed", [(30.0, 1.0, 0), (45.0, 3.0, 1), (60.0, 3.0, 2)])
def test_an_oversubtracted_narrow_curve_is_read_right_and_unflagged(radius, offset, seed):
    """``invert`` (the default: the whole-curve model on this window) reads the size within 5 % and reports the
    negative background, unflagged (flagged ``over-subtracted`` until 2026-12-07 ~22:15: a flag on a right answer);
    the points at or below zero are kept as data."""
    intensity, di, _, const = oversubtracted(radius, offset, seed)
    assert offset < 3 or (intensity <= 0).sum() >= 10
    res = invert(Q, intensity, di, volume_fraction=0.0)
    assert abs(res.mean_radius_number / radius - 1) <= 0.05
    assert res.quality.flags == () and not res.quality.approximate
    assert res.quality.background == pytest.approx(-const, abs=3 * di[-1])


def test_a_broad_answer_on_an_oversubtracted_curve_keeps_the_flag():
    """A helper's adversarial case: Schulz spheres of 16 A (pd 0.18) on a SANS window (0.003-0.3 1/A), 2 % noise
    with dI 2 % of I plus 2 % of I(q_max), less 5x I(q_max): 22 points at or below zero.  The answer fits (chi2_red
    ~1) with a small-particle tail that the negative background pays for: number mean ~13 A for 16 (volume mean right
    within 2 %); the answer is broad (volume over number mean ~1.3), so the flag stays."""
    q = np.geomspace(0.003, 0.3, 300)
    clean = direct_curve("sphere", q, radius=16.0, radius_pd=0.18, radius_pd_type="schulz", radius_pd_n=80,
                         radius_pd_nsigma=8, scale=0.01, background=0.0)
    di = 0.02 * clean + 0.02 * clean[-1]
    intensity = clean - 5 * clean[-1] + di * np.random.default_rng(405).standard_normal(len(q))
    res = invert(q, intensity, di, volume_fraction=0.0)
    assert res.mean_radius_volume / res.mean_radius_number > 1.08
    assert "over-subtracted" in res.quality.flags


def test_refine_of_an_oversubtracted_curve_fits_a_negative_background():
    """``refine`` (bumps; the background's range was [0, max I]): the subtracted constant found as a negative
    background (unflagged: the answer is narrow); the Schulz parametrisation (the curve's family) reaches the noise."""
    from sasview_nn_plugin.fitting.refine import refine

    intensity, di, _, const = oversubtracted(45.0, 3.0, 1)
    start = invert(Q, intensity, di, volume_fraction=0.0)
    for parametrization, chi2_max in (("histogram", 3.0), ("schulz3", 1.3)):
        ref = refine(start, parametrization=parametrization)
        assert ref.fit.chi2_reduced < chi2_max and ref.quality.flags == ()
        assert ref.fit.parameters["background"][0] == pytest.approx(-const, abs=3 * di[-1])
        assert abs(ref.mean_radius_number / 45.0 - 1) <= 0.02


def test_the_sphere_bound_reaches_the_noise_on_an_oversubtracted_curve():
    """The least chi2 of any sphere distribution (behind ``poor-fit``): ~ the number of points, not 50x."""
    from sasview_nn_plugin.inference.polish import best_spheres_chi2

    intensity, di, _, _ = oversubtracted(45.0, 3.0, 1)
    chi2, used = best_spheres_chi2(Q, intensity, di, None, None, np.geomspace(10, 300, 200), 0.0, 45.0)
    assert chi2 / (len(Q) - used - 1) < 1.5


def test_a_narrow_answer_that_traded_a_small_population_for_the_constant_keeps_the_flag():
    """A reviewer's case: Schulz spheres of 40 A (pd 0.08, volume fraction 0.01) with a minor population of 12 A
    (5e-5: 0.5 % of the volume, 16 % of the number; number mean 35.6 A, volume mean 40.6), lab window, dI 2 % of I
    plus 2 % of I(q_max), less 3x I(q_max).  The negative constant takes the small population's place whole: the
    answer is narrow (volume over number mean ~1.02) and its number mean 12 % high.  The data ask for the small
    spheres beside it (chi2 drops by ~39, beyond the evidence rule's 2 ln n), and they move the number mean by more
    than 5 %: the flag stays (it went out unflagged for an hour, 2026-12-07)."""
    def spheres(radius, scale):
        return direct_curve("sphere", Q, radius=radius, radius_pd=0.08, radius_pd_type="schulz", radius_pd_n=80,
                            radius_pd_nsigma=8, scale=scale, background=0.0)
    clean = spheres(12.0, 5e-5) + spheres(40.0, 0.01)
    di = 0.02 * clean + 0.02 * clean[-1]
    intensity = clean - 3 * clean[-1] + di * np.random.default_rng(0).standard_normal(len(Q))
    res = invert(Q, intensity, di, volume_fraction=0.0)
    assert res.mean_radius_volume / res.mean_radius_number < 1.08    # narrow ...
    assert res.mean_radius_number / 35.6 - 1 > 0.05                  # ... and wrong by number
    assert "over-subtracted" in res.quality.flags


def test_small_population_shift_finds_a_population_the_answer_lacks():
    """By hand with the check's own forward model: data = 40 A spheres + 10 A spheres of 30 % of the number, less a
    constant; the answer 40 A alone.  The small spheres' fit moves the number mean down by ~30 % and drops chi2 far;
    for data of the 40 A spheres alone it finds nothing to add (chi2 the same within the evidence rule)."""
    from sasview_nn_plugin.inference.quality_model import small_population_shift, smeared_intensity

    radius = np.geomspace(30, 55, 60)
    number = np.exp(-0.5 * ((radius - 40) / 3) ** 2)
    big = smeared_intensity(Q, None, radius, number, 0.0)
    small = smeared_intensity(Q, None, np.array([10.0]), np.ones(1), 0.0)
    share = 0.3 / 0.7 * number.sum() * 10.0**3 / (number @ radius**3)   # 30 % of the number, as volume per unit
    di = 0.01 * (big + share * small) + 0.01 * big[-1]
    for data, moved in ((big + share * small - 2 * big[-1], True), (big - 2 * big[-1], False)):
        ratio, without, with_small = small_population_shift(Q, None, radius, number, 0.0, data, di)
        assert (ratio < 0.9 and without - with_small > 100) if moved else (
            abs(ratio - 1) < 0.05 or without - with_small < 2 * np.log(len(Q)))


@pytest.mark.parametrize("radius, exponent, offset, seed, right", [
    (30.0, 4, 1.0, 0, True), (45.0, 3, 1.0, 1, True), (60.0, 4, 1.0, 0, True), (60.0, 4, 3.0, 0, True),
    (30.0, 4, 3.0, 0, False), (45.0, 3, 3.0, 1, False)])
def test_an_upturn_beside_an_over_subtracted_end_is_never_silently_wrong(radius, exponent, offset, seed, right):
    """A low-q upturn (test_power_law's curves: sasmodels ``power_law`` equal to the spheres at q = 0.015 1/A, lab
    window to 0.3 1/A, 1 % noise) and the curve less ``offset`` x its own high-q level (dI: 1 % of that level added
    in quadrature).  Read right (number mean within 5 %, volume mean within 10 %, the exponent within 0.5) at 1x, and
    60 A at 3x: narrow answers, unflagged.  At 3x a negative background and a slow power law trade (30 A, q^-4: q^-2.5
    beside a volume mean of 75 A; 45 A, q^-3: number mean 28 A, marked approximate): wrong, broad and flagged
    ``over-subtracted``, as the free background alone left the 30 A curve silently wrong (the same without the
    flag)."""
    intensity, di, _ = upturn_curve(radius, 0.1, exponent, seed)
    level = float(np.median(intensity[-5:]))
    res = invert(QLAB, intensity - offset * level, np.sqrt(di**2 + (0.01 * level) ** 2), volume_fraction=0.0)
    assert res.quality.background < 0
    if right:
        assert res.quality.flags == () and not res.quality.approximate
        assert abs(res.mean_radius_number / radius - 1) <= 0.05
        assert abs(res.mean_radius_volume / schulz_volume_mean(radius, 0.1) - 1) <= 0.10
        assert res.quality.power_law is not None and abs(res.quality.power_law[0] - exponent) <= 0.5
    else:
        assert "over-subtracted" in res.quality.flags


@pytest.mark.parametrize("seed", range(5))
def test_a_curve_whose_end_is_only_noisy_is_not_flagged_over_subtracted(seed):
    """Background 0, the high-q end inside its noise (dI 2 % of I plus the curve's value at q_max: points <= 0 by
    chance, the background free in sign): the true spheres' check fits a background within its noise, no flag."""
    clean = direct_curve("sphere", Q, radius=45.0, radius_pd=0.1, radius_pd_type="schulz", radius_pd_n=80,
                         radius_pd_nsigma=8, scale=0.01, background=0.0)
    di = 0.02 * clean + clean[-1]
    intensity = clean + di * np.random.default_rng(seed).standard_normal(len(Q))
    assert background_may_be_negative(intensity, di)
    r, w = schulz_number(45.0)
    qual = assess(Q, intensity, di, r, w, 0.0, q_range=(Q[0], Q[-1]))
    assert qual.flags == () and qual.chi2_reduced < 1.4


def test_without_di_only_points_at_or_below_zero_free_the_background():
    """No dI: the weights are the curve's level (the check, the polish) or 1 % of it (refine, the parametric fit);
    neither is a noise, so the rule frees the background only for points <= 0, the same for all of them (a code
    review found refine freeing it on noise-free monodisperse curves whose minima dip below 3 % of the level).  The
    over-subtracted curve without dI (a broad one: Schulz pd 0.3) is still flagged, the widening then from the
    residuals' own scale."""
    from sasview_nn_plugin.data.validation import relative_sigma

    mono = direct_curve("sphere", Q, radius=60.0, radius_pd=0.01, radius_pd_type="schulz", radius_pd_n=80,
                        radius_pd_nsigma=8, scale=0.01, background=0.0)
    for sigma in (relative_sigma(mono), 0.01 * relative_sigma(mono)):
        assert not background_may_be_negative(mono, sigma)
    intensity, _, _, const = oversubtracted(45.0, 3.0, 1, pd=0.3)
    assert background_may_be_negative(intensity, 0.01 * relative_sigma(intensity))
    r, w = schulz_number(45.0, 0.3)
    qual = assess(Q, intensity, None, r, w, 0.0, q_range=(Q[0], Q[-1]))
    assert "over-subtracted" in qual.flags and qual.background < 0
