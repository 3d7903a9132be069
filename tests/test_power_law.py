"""A low-q power law beside the spheres (issue 26 item 2): the check of the windowed model, ``refine``, the SasView
plugin model and project.

The curves are sasmodels' own: ``sphere`` with a Schulz distribution (R 30-60 A) on a lab window 0.005-0.3 1/A plus
sasmodels' ``power_law`` A q^-p (p 4: surfaces of large aggregates; p 3: mass fractals), A set so that the upturn
equals the spheres at q = 0.015 1/A and dominates below; 1 % noise with dI.  Expectations come from how the curves
were made (the radius, the exponent), never from the network's output.
"""

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from helpers import QLAB, direct_curve, schulz_volume_mean, upturn_curve  # noqa: E402

from sasview_nn_plugin import invert  # noqa: E402
from sasview_nn_plugin.data.writers import csv_metadata  # noqa: E402
from sasview_nn_plugin.inference.quality import assess  # noqa: E402
from sasview_nn_plugin.inference.quality_model import choose_power_law, power_law_evidence  # noqa: E402

ERR_MAX = 0.015        # bench_domain's limit on the number-mean error


UPTURNS = [(30.0, 0.1, 4, 0), (45.0, 0.1, 4, 1), (60.0, 0.1, 4, 0), (30.0, 0.1, 3, 1), (45.0, 0.1, 3, 1),
           (60.0, 0.15, 3, 0)]


@pytest.mark.parametrize("radius, pd, exponent, seed", UPTURNS)
def test_an_upturn_no_longer_flags_the_windowed_models_right_answer(radius, pd, exponent, seed):
    """Before: the check of a right answer fitted spheres, scale and a flat background only, and the upturn made it
    `poor-fit` (and `shape-outside-training`); measured before the change (the network reading the curve as it
    is): 30 A / q^-4 read 30.5 A, 45 A 43.8 A, 60 A / q^-3 62.1 A, all flagged.  Now the evidence asks for a power
    law, the network re-reads the curve less it, the check includes it and reports it."""
    intensity, di, amp = upturn_curve(radius, pd, exponent, seed)
    res = invert(QLAB, intensity, di, volume_fraction=0.0, model="default")
    qual = res.quality
    assert abs(res.mean_radius_number / radius - 1) <= ERR_MAX
    assert qual.flags == ()
    assert qual.power_law is not None and qual.power_law[0] == exponent
    assert qual.power_law[1] == pytest.approx(amp, rel=0.35)
    assert any("power law" in n for n in res.notes)
    # what the check said before: the same answer without the power law is flagged although its radius is right
    old = assess(QLAB, intensity, di, res.radius, res.number_distribution, 0.0, training=res.training,
                 q_range=(QLAB[0], QLAB[-1]))
    assert "poor-fit" in old.flags and old.power_law is None
    # the records carry it
    rec = json.loads(json.dumps(res.to_dict()))["quality"]["power_law"]
    assert rec["exponent"] == exponent and rec["scale"] == pytest.approx(qual.power_law[1])
    assert csv_metadata(res)["power_law"].startswith(f"exponent {exponent:g}, scale ")
    # the model curve the figures draw is the check's, power law included
    q, model = qual.model_curve()
    z = (intensity - model) / di
    assert float(z @ z) / (len(q) - 3) == pytest.approx(qual.chi2_reduced, rel=1e-6)


@pytest.mark.parametrize("radius, pd, exponent, seed", UPTURNS)
def test_the_whole_curve_model_reads_the_spheres_beside_an_upturn(radius, pd, exponent, seed):
    """Defect (2026-12-07): the whole-curve model's polish explained the upturn by particles instead (its move and
    reshape reach chi2_red ~1 alone, so the power law was never tried): volume tails to 94-720 A (volume means
    77-287 A for spheres of 31-64 A), and with q^-3 number means of 26.8, 26.4 and 18.1 A for 30, 45 and 60 A;
    no flag.  The network's own answer was right (number means 30.3-61.6 A: it was trained to ignore upturns)
    and the evidence at it asked for a power law.  Now the polish keeps the power law the start asked for unless
    spheres alone fit better by the evidence rule's margin.  And (2026-12-07, later): 60 A spheres with q^-4 kept
    7 % of their volume in a second population at ~560 A (in its Porod regime over the whole window: q^-4 itself),
    volume mean 99 A for 62; minor populations above the main one are now dropped where the data do not ask for
    them (polish.without_upper_populations): 61.8 A."""
    intensity, di, _ = upturn_curve(radius, pd, exponent, seed)
    res = invert(QLAB, intensity, di, volume_fraction=0.0, model="wide")
    assert abs(res.mean_radius_number / radius - 1) <= 0.03
    assert abs(res.mean_radius_volume / schulz_volume_mean(radius, pd) - 1) <= 0.10   # issue 25's volume bar
    assert res.quality.flags == ()
    assert res.quality.power_law is not None and abs(res.quality.power_law[0] - exponent) <= 0.5
    assert any("power law" in n for n in res.notes)


@pytest.mark.parametrize("radius, pd, exponent, seed", [
    (30.0, 0.1, 4, 0), (45.0, 0.1, 4, 1), (45.0, 0.1, 3, 1),
    pytest.param(60.0, 0.1, 4, 0, marks=pytest.mark.xfail(strict=True, reason="without dI the 60 A q^-4 curve is "
                 "read with q^-3.5 beside a tail of large particles (volume mean 220 A for 62): the tail is not the "
                 "power law's shape, so it is kept; the default reads curves without dI with the windowed model"))])
def test_the_whole_curve_model_reads_the_spheres_beside_an_upturn_without_di(radius, pd, exponent, seed):
    """Defect (review, 2026-12-07): without dI the polish's chi2 is relative to the curve's own level (0.1-7 on 300
    points), and its power-law branch compared chi2 drops with 2 ln n as if dI were given, so it never fired:
    volume means 65 and 130 A for spheres of 31 and 46 A, unflagged.  Without dI the evidence rule is the BIC with
    the variance estimated, n ln(chi2 without / chi2 with) > 2 ln n, as `choose_power_law` has it.  The q^-4 curves
    then kept a tail of large particles (volume means 43, 79 and 220 A for 31, 46 and 62 A) until the dropping of
    upper populations tried the tail above the main population's flank, re-polished (2026-12-07, later)."""
    intensity, _, _ = upturn_curve(radius, pd, exponent, seed)
    res = invert(QLAB, intensity, None, volume_fraction=0.0, model="wide")
    assert abs(res.mean_radius_number / radius - 1) <= 0.03
    assert abs(res.mean_radius_volume / schulz_volume_mean(radius, pd) - 1) <= 0.10
    assert res.quality.power_law is not None


@pytest.mark.parametrize("radius, exponent, seed", [(30.0, 4, 0), (45.0, 4, 1), (45.0, 3, 1)])
def test_the_default_reads_an_upturn_without_di_with_the_windowed_model(radius, exponent, seed):
    """Without dI invert's default (auto) chooses the windowed model even on this 1.8-decade window (review,
    2026-12-07: the whole-curve model read the q^-4 cases 65 and 130 A in volume, unflagged); it reads them right,
    the power law beside."""
    intensity, _, _ = upturn_curve(radius, 0.1, exponent, seed)
    res = invert(QLAB, intensity, None, volume_fraction=0.0)
    assert res.model == "default" and "no dI" in res.notes[0]
    assert abs(res.mean_radius_volume / schulz_volume_mean(radius, 0.1) - 1) <= 0.10 or res.quality.flags


@pytest.mark.parametrize("radius, pd, seed", [(30.0, 0.1, 0), (45.0, 0.1, 1), (60.0, 0.15, 2)])
def test_the_whole_curve_model_adds_no_power_law_without_an_upturn(radius, pd, seed):
    intensity, di, _ = upturn_curve(radius, pd, None, seed)
    res = invert(QLAB, intensity, di, volume_fraction=0.0, model="wide")
    assert res.quality.power_law is None and res.quality.flags == ()
    assert abs(res.mean_radius_number / radius - 1) <= 0.03


@pytest.mark.parametrize("radius, pd, seed", [(30.0, 0.1, 0), (45.0, 0.1, 1), (60.0, 0.15, 2)])
def test_a_curve_without_an_upturn_gets_no_power_law(radius, pd, seed):
    intensity, di, _ = upturn_curve(radius, pd, None, seed)
    res = invert(QLAB, intensity, di, volume_fraction=0.0)
    assert res.quality.power_law is None and res.quality.flags == ()
    assert abs(res.mean_radius_number / radius - 1) <= ERR_MAX
    assert res.to_dict()["quality"]["power_law"] is None
    assert "power_law" not in csv_metadata(res)
    assert not any("power law" in n for n in res.notes)


def test_the_evidence_rule_by_hand():
    """The one rule (polish, check, refinement): a power law is kept when it lowers chi2 by more than 2 ln n."""
    q = np.geomspace(0.01, 0.3, 200)
    model = np.exp(-((q * 40) ** 2) / 5)
    sigma = np.full_like(q, 0.01)
    law = lambda p: q**-p  # noqa: E731
    assert power_law_evidence(200) == pytest.approx(2 * math.log(200))
    assert choose_power_law(model, 2 * model + 0.1, sigma, law) == (None, pytest.approx(0.0, abs=1e-6))
    p, drop = choose_power_law(model, 2 * model + 0.1 + 1e-6 * q**-3.0, sigma, law)
    assert p == 3.0 and drop > power_law_evidence(200)


@pytest.mark.parametrize("radius, pd, exponent, seed", [UPTURNS[0], UPTURNS[4], UPTURNS[5]])
def test_refine_fits_the_power_law_and_recovers_the_exponent_and_radius(radius, pd, exponent, seed):
    """`refine(result)` of a start whose check used a power law starts with it; the evidence keeps it; the exponent
    within +-0.3 of the one the curve was made with, the number mean within bench_domain's 1.5 %, chi2 ~1."""
    from sasview_nn_plugin.fitting.refine import refine

    intensity, di, amp = upturn_curve(radius, pd, exponent, seed)
    ref = refine(invert(QLAB, intensity, di, volume_fraction=0.0, model="default"))   # the windowed model's start
    pars = ref.fit.parameters
    assert abs(pars["power_law_exponent"][0] - exponent) <= 0.3
    assert pars["power_law_scale"][0] == pytest.approx(amp, rel=0.3)
    assert abs(ref.mean_radius_number / radius - 1) <= ERR_MAX
    assert ref.fit.chi2_reduced < 1.5 and ref.quality.flags == ()
    assert ref.quality.power_law[0] == pytest.approx(pars["power_law_exponent"][0])
    rec = json.loads(json.dumps(ref.to_dict()))
    assert set(rec["refinement"]["parameters"]) >= {"power_law_scale", "power_law_exponent"}
    assert rec["quality"]["power_law"]["exponent"] == pytest.approx(pars["power_law_exponent"][0])


@pytest.mark.parametrize("radius, pd, exponent, seed", [UPTURNS[0], UPTURNS[1], UPTURNS[3], UPTURNS[4], UPTURNS[5]])
def test_refine_of_a_whole_curve_start_keeps_the_spheres_beside_an_upturn(radius, pd, exponent, seed):
    """Before: refine's histogram floored the start's NUMBER distribution at 1e-4 of its peak over the knots'
    range (11-2000 A for a 30 A start on the whole-curve grid), a volume tail of large particles ~3x the peak's
    before the fit had begun, and the fit explained the upturn by it: volume means 196, 435 A (q^-4) and 42, 58 A
    (q^-3) for spheres of 31 and 46 A, unflagged, the power law dropped for q^-4.  Now the floor is in volume (what
    the data see): the spheres and the power law are kept."""
    from sasview_nn_plugin.fitting.refine import refine

    intensity, di, _ = upturn_curve(radius, pd, exponent, seed)
    start = invert(QLAB, intensity, di, volume_fraction=0.0, model="wide")
    assert start.quality.power_law is not None
    ref = refine(start)
    assert abs(ref.mean_radius_volume / schulz_volume_mean(radius, pd) - 1) <= 0.10   # issue 25's volume bar
    assert abs(ref.mean_radius_number / radius - 1) <= 0.03
    assert ref.quality.flags == () and ref.quality.power_law is not None
    assert abs(ref.quality.power_law[0] - exponent) <= 0.3


def test_the_histograms_floor_is_a_volume_floor():
    """The histogram parametrisation on a log grid over decades starts where the start is: its base, in volume,
    is the start's volume or 1e-4 of its peak, nowhere more (a number floor gave radii 30x the peak's ~3x the
    peak's volume)."""
    from sasview_nn_plugin.fitting.parametrisations import HistogramDistribution

    radius = np.geomspace(2.0, 2000.0, 900)
    number = np.exp(-0.5 * (np.log(radius / 30.0) / 0.1) ** 2)
    h = HistogramDistribution(radius, number / number.sum())
    vol, base = number * radius**3, h.base * radius**3
    vol, base = vol / vol.sum(), base / base.sum()
    assert base.max() == pytest.approx(vol.max(), rel=0.05)
    assert np.all(base <= np.maximum(vol, 1e-4 * vol.max()) * 1.05)
    assert base[radius > 100].sum() < 0.05


def test_refine_of_a_curve_without_an_upturn_fits_no_power_law():
    from sasview_nn_plugin.fitting.refine import refine

    intensity, di, _ = upturn_curve(45.0, 0.1, None, 0)
    ref = refine(invert(QLAB, intensity, di, volume_fraction=0.0))
    assert not any(k.startswith("power_law") for k in ref.fit.parameters)
    assert ref.quality.power_law is None and ref.quality.flags == ()


def test_refine_asks_the_evidence_where_the_start_has_no_power_law():
    """A start whose check did not fit the power law (here: the same answer, its check made without one) still gets
    it in refine where the evidence asks (the fit without it stays above chi2_red 1.2)."""
    import dataclasses
    import functools

    from sasview_nn_plugin.fitting.refine import refine

    intensity, di, _ = upturn_curve(45.0, 0.1, 4, 1)
    res = invert(QLAB, intensity, di, volume_fraction=0.0, model="default")
    bare = dataclasses.replace(res, check=functools.partial(
        assess, QLAB, intensity, di, res.radius, res.number_distribution, 0.0, training=res.training,
        q_range=(QLAB[0], QLAB[-1])))
    assert bare.quality.power_law is None
    ref = refine(bare)
    assert abs(ref.fit.parameters["power_law_exponent"][0] - 4) <= 0.3
    assert abs(ref.mean_radius_number / 45.0 - 1) <= ERR_MAX


# -- the SasView plugin model and its project -----------------------------------------------------------------------

OLD_DEFAULTS = {"sld": 1.0, "sld_solvent": 6.0, "volfraction": 0.3, "radius1": 40.0, "pd1": 0.1, "fraction1": 1.0,
                "radius2": 20.0, "pd2": 0.1, "fraction2": 0.0, "radius3": 60.0, "pd3": 0.1, "fraction3": 0.0}


def test_the_plugin_model_has_a_power_law_and_keeps_every_old_parameter():
    """sasmodels loads the file; every parameter of before keeps its name, default and place (old projects load);
    power_law_scale (default 0: none) and power_law_exponent (default 4) follow; I = scale (spheres + A q^-p) + bkg,
    against sasmodels' own sphere@hardsphere + power_law (computed directly)."""
    from sasmodels.core import load_model_info
    from sasmodels.sasview_model import load_custom_model
    from sasmodels_reference import sasmodels_sphere_hs

    from sasview_nn_plugin.sasview import plugin_model_path
    from sasview_nn_plugin.sasview.project import load_plugin_module

    info = load_model_info(str(plugin_model_path()))
    names = [p.name for p in info.parameters.kernel_parameters]
    assert names[:len(OLD_DEFAULTS)] == list(OLD_DEFAULTS)
    assert {p.name: p.default for p in info.parameters.kernel_parameters if p.name in OLD_DEFAULTS} == OLD_DEFAULTS
    assert names[len(OLD_DEFAULTS):] == ["power_law_scale", "power_law_exponent"]
    pl = {p.name: p for p in info.parameters.kernel_parameters}
    assert pl["power_law_scale"].default == 0.0 and pl["power_law_exponent"].default == 4.0
    assert list(pl["power_law_exponent"].limits) == [1.0, 6.0]

    model = load_custom_model(str(plugin_model_path()))()
    q = np.geomspace(0.003, 0.4, 200)
    for k, v in {"volfraction": 0.2, "radius1": 45.0, "pd1": 0.1, "scale": 1.7, "background": 0.02}.items():
        model.setParam(k, v)
    without = model.evalDistribution(q)
    model.setParam("power_law_scale", 3e-6)
    model.setParam("power_law_exponent", 3.5)
    got = model.evalDistribution(q)
    np.testing.assert_allclose(got - without, 1.7 * 3e-6 * q**-3.5, rtol=1e-9)
    module = load_plugin_module()
    r, w = module.number_weights(module.radius_bins((45.0, 20.0, 60.0), (0.1, 0.1, 0.1), (1.0, 0.0, 0.0)),
                                 (45.0, 20.0, 60.0), (0.1, 0.1, 0.1), (1.0, 0.0, 0.0))
    ref = sasmodels_sphere_hs(q, r, w, 0.2, scale=1.7, background=0.02) + direct_curve(
        "power_law", q, power=3.5, scale=1.7 * 3e-6, background=0.0)
    np.testing.assert_allclose(got, ref, rtol=1e-9)


def test_the_project_writer_fills_the_power_law_from_the_result(tmp_path):
    from sasview_nn_plugin.fitting.refine import refine
    from sasview_nn_plugin.sasview.project import load_plugin_module, plugin_parameters

    intensity, di, amp = upturn_curve(45.0, 0.1, 3, 1, phi=0.1)   # the plugin's spheres need phi > 0
    ref = refine(invert(QLAB, intensity, di, volume_fraction=0.1, model="default"))   # the windowed model's start
    pars = plugin_parameters(ref)
    v = pars.values
    assert v["power_law_exponent"] == pytest.approx(ref.fit.parameters["power_law_exponent"][0])
    assert v["power_law_scale"] * v["scale"] == pytest.approx(amp, rel=0.3)   # the plugin's A sits inside its scale
    assert {"power_law_scale", "power_law_exponent"} <= pars.free
    model = load_plugin_module().Iq(QLAB, **{k: x for k, x in v.items() if k not in ("scale", "background")})
    z = (v["scale"] * model + v["background"] - intensity) / di
    assert float(z @ z) / len(QLAB) < 3.0    # the page's start already describes the curve, upturn included
    plain = plugin_parameters(invert(QLAB, *upturn_curve(45.0, 0.1, None, 0, phi=0.1)[:2], volume_fraction=0.1))
    assert plain.values["power_law_scale"] == 0.0 and plain.values["power_law_exponent"] == 4.0
    assert not {"power_law_scale", "power_law_exponent"} & plain.free


def test_a_network_misfit_at_low_q_is_no_upturn():
    """Pure Schulz spheres (70 A, phi 0.3) on 0.02-0.07 1/A: the network's answer misses its curve a little at low q,
    and a q^-4 of 2 % of the curve there lowered chi2 by 48 (> 2 ln n): without the rule that an upturn is >= 10 %
    of the curve at the lowest q, the check reported a power law the curve was made without."""
    from helpers import schulz_hs

    q = np.geomspace(0.02, 0.07, 200)
    clean = schulz_hs(q, 70.0)
    intensity = clean * (1 + 0.01 * np.random.default_rng(6).standard_normal(len(q)))
    res = invert(q, intensity, 0.01 * clean, volume_fraction=0.3)
    assert res.quality.power_law is None


def test_the_project_of_a_whole_curve_refinement_keeps_the_spheres_beside_a_q4_upturn():
    """The SasView project written from `refine` of a whole-curve start with a q^-4 upturn: one Schulz population at
    the spheres' radius (45 A, pd 0.1) and the power law, not a tail of large particles (before the histogram's
    volume floor the refinement explained the upturn by one, and the project carried it)."""
    from sasview_nn_plugin.fitting.refine import refine
    from sasview_nn_plugin.sasview.project import plugin_parameters

    intensity, di, _ = upturn_curve(45.0, 0.1, 4, 1, phi=0.1)
    v = plugin_parameters(refine(invert(QLAB, intensity, di, volume_fraction=0.1, model="wide"))).values
    main = max((1, 2, 3), key=lambda k: v[f"fraction{k}"])
    assert v[f"fraction{main}"] >= 0.95 * sum(v[f"fraction{k}"] for k in (1, 2, 3))
    assert abs(v[f"radius{main}"] / 45.0 - 1) <= 0.03 and abs(v[f"pd{main}"] - 0.1) <= 0.03
    assert v["power_law_scale"] > 0 and abs(v["power_law_exponent"] - 4) <= 0.3


@pytest.mark.parametrize("radius, seed", [(30.0, 3), (45.0, 3), (60.0, 5), (60.0, 6), (60.0, 7)])
def test_the_tail_beside_a_q4_upturn_is_dropped_on_other_noise_draws(radius, seed):
    """A helper's adversarial review (2026-12-07): with other noise draws the q^-4 curves kept a tail of large
    particles, unflagged: volume means 41.8, 101.6, 142, 158, 142 A for 30.9, 46.3, 61.8 A.  The dropping of upper
    populations skipped the re-polish of a trial that already fit (chi2_red <= 1.2: compared unpolished, it lost by
    the margin; polished, it won), left out tails under 3 % of the volume, and could not split a tail joined to the
    main population.  Now: settled trials, tails down to 0.3 %, and the tail above the main population's flank."""
    intensity, di, _ = upturn_curve(radius, 0.1, 4, seed)
    res = invert(QLAB, intensity, di, volume_fraction=0.0, model="wide")
    assert abs(res.mean_radius_volume / schulz_volume_mean(radius, 0.1) - 1) <= 0.05
    assert abs(res.mean_radius_number / radius - 1) <= 0.01
    assert res.quality.flags == () and res.quality.power_law is not None


def test_volume_beyond_knee_shift_by_hand():
    """The volume mean over the volume mean without the radii above KNEE_QR / q_min, less 1: 20 % of the volume at
    1000 A beside 80 % at 50 A, q_min 0.005 1/A (cut 600 A): mean 240 A against 50 A -> 3.8; nothing beyond -> 0;
    everything beyond -> inf."""
    from sasview_nn_plugin.inference.polish import KNEE_QR, volume_beyond_knee_shift

    assert KNEE_QR / 0.005 == pytest.approx(600.0)
    radius, vol = np.array([50.0, 1000.0]), np.array([0.8, 0.2])
    assert volume_beyond_knee_shift(radius, vol, 0.005) == pytest.approx(240.0 / 50.0 - 1)
    assert volume_beyond_knee_shift(radius, vol, 0.002) == 0.0
    assert volume_beyond_knee_shift(radius, vol, 0.1) == math.inf


@pytest.mark.parametrize("radius, exponent, background, floor, seed", [
    (45.0, 3, 0.0, 1.0, 1001), (60.0, 3, 2.0, 1.0, 303),
    pytest.param(60.0, 4, 0.5, 0.3, 302, marks=pytest.mark.xfail(strict=True, reason=(
        "read 60/132 A for 60/62, unflagged: the answer without the large spheres, refitted beside a power law, fits "
        "4.8 evidence margins worse, within what real large populations at 3 % noise cost (3.4-5.5)")))])
def test_an_upturn_read_as_spheres_beyond_the_knee_is_flagged(radius, exponent, background, floor, seed):
    """A helper's adversarial curves (2026-12-07): Schulz spheres (pd 0.1) with a low-q upturn (sasmodels
    ``power_law`` equal to the spheres at 0.015 1/A) and a flat ``background`` x I(q_max), window 0.005-0.3 1/A, dI
    1 % of I plus ``floor`` x I(q_max) (a detector's floor), noise drawn from it.  The answer explained the upturn by
    spheres of 400-900 A, beyond 3 / q_min = 600 A where the window sees only their Porod tail: volume means 2-3x
    the truth, unflagged until 2026-12-07 ~22:30.  Now flagged ``volume-mean-undetermined`` (or read right) where
    the answer without them, refitted beside a power law, fits within 2 evidence margins."""
    q = np.geomspace(0.005, 0.3, 300)
    pars = dict(radius=radius, radius_pd=0.1, radius_pd_type="schulz", radius_pd_n=80, radius_pd_nsigma=8,
                background=0.0)
    clean = direct_curve("sphere", q, scale=0.01, **pars)
    amp = float(np.interp(0.015, q, clean)) * 0.015**exponent
    clean = clean + amp * q**-exponent
    clean = clean + background * clean[-1]
    di = 0.01 * clean + floor * clean[-1]
    res = invert(q, clean + di * np.random.default_rng(seed).standard_normal(len(q)), di, volume_fraction=0.0)
    right = abs(res.mean_radius_volume / schulz_volume_mean(radius, 0.1) - 1) <= 0.10
    assert right or "volume-mean-undetermined" in res.quality.flags


@pytest.mark.parametrize("q_max, radius, pd, exponent, noise, seed", [(0.3, 80.0, 0.1, 2, 0.01, 1006),
                                                                    (0.5, 93.0, 0.32, 2.5, 0.05, 2026)])
def test_an_upturn_that_spheres_of_other_sizes_explain_as_well_is_flagged(q_max, radius, pd, exponent, noise, seed):
    """A helper's adversarial curves (2026-12-07; their g8 and j3): Schulz spheres with a shallow upturn (q^-2,
    q^-2.5, equal to the spheres at 0.015 1/A) on 0.005-q_max 1/A, dI ``noise`` x I plus I(q_max) (a detector's
    floor).  80 A spheres with q^-2 read 14/56 A (number/volume mean) for 80/82, no power law; 93 A (pd 0.32) with
    q^-2.5 read 14/99 A for 93/122 beside q^-2.5: both unflagged until 2026-12-08.  The network's answer moved beside
    the power law the evidence asks for there (q^-2: 57/82 A; q^-2.5: 90/123 A) fits within the evidence rule's
    margin of the answer (chi2 +4 and +10 on 300 points): the data do not decide between the two, and the volume
    means differ by 45 and 24 %.  Now flagged ``volume-mean-undetermined`` (or read right)."""
    q = np.geomspace(0.005, q_max, 300)
    pars = dict(radius=radius, radius_pd=pd, radius_pd_type="schulz", radius_pd_n=80, radius_pd_nsigma=8,
                background=0.0)
    clean = direct_curve("sphere", q, scale=0.01, **pars)
    clean = clean + float(np.interp(0.015, q, clean)) * 0.015**exponent * q**-exponent
    di = noise * clean + clean[-1]
    res = invert(q, clean + di * np.random.default_rng(seed).standard_normal(len(q)), di, volume_fraction=0.0)
    right = abs(res.mean_radius_volume / schulz_volume_mean(radius, pd) - 1) <= 0.10 and \
        abs(res.mean_radius_number / radius - 1) <= 0.05
    assert right or "volume-mean-undetermined" in res.quality.flags
    if not right:
        assert any("do not decide between an upturn and a spread of sizes" in n for n in res.notes)


def test_large_spheres_inside_the_knee_are_not_flagged_volume_mean_undetermined():
    """Two populations 10x apart (30 and 300 A, Schulz pd 0.1, half the volume each) on a lab window 0.005-0.5 1/A:
    the large ones' knee (q R ~ 1.5 at q_min) is in the window, and the answer is right and unflagged."""
    q = np.geomspace(0.005, 0.5, 300)
    pars = dict(radius_pd=0.1, radius_pd_type="schulz", radius_pd_n=80, radius_pd_nsigma=8, background=0.0)
    clean = direct_curve("sphere", q, radius=30.0, scale=0.005, **pars) + \
        direct_curve("sphere", q, radius=300.0, scale=0.005, **pars)
    di = 0.01 * clean
    res = invert(q, clean + di * np.random.default_rng(1).standard_normal(len(q)), di, volume_fraction=0.0)
    assert "volume-mean-undetermined" not in res.quality.flags
    assert res.quality.flags == () and not res.quality.approximate
    volume_mean = 0.5 * schulz_volume_mean(30.0, 0.1) + 0.5 * schulz_volume_mean(300.0, 0.1)   # equal volumes
    assert abs(res.mean_radius_volume / volume_mean - 1) <= 0.10


@pytest.mark.parametrize("large, pd, share, noise, seed", [(540.0, 0.1, 0.5, 0.01, 22), (700.0, 0.1, 0.5, 0.01, 2),
                                                          (600.0, 0.1, 0.3, 0.01, 10), (450.0, 0.25, 0.5, 0.03, 23)])
def test_a_real_large_population_beyond_the_knee_is_not_flagged(large, pd, share, noise, seed):
    """A reviewer's cases: 40 A spheres beside a population of 540-700 A (Schulz), lab window 0.005-0.5 1/A (3/q_min
    = 600 A), 1 % noise; and a broader one (pd 0.25, 450 A) at 3 % noise.  The large spheres' shoulder and fringes
    are in the window, the answer is right, and the answer without them refitted beside a low-q power law fits worse
    by more than the evidence rule allows: no ``volume-mean-undetermined`` (the flag's first form, the volume mean's
    shift alone, flagged all of them; its second, the rest held, the 3 % one)."""
    q = np.geomspace(0.005, 0.5, 300)
    pars = dict(radius_pd_type="schulz", radius_pd_n=80, radius_pd_nsigma=8, background=0.0)
    clean = direct_curve("sphere", q, radius=40.0, radius_pd=0.1, scale=0.01 * (1 - share), **pars) + \
        direct_curve("sphere", q, radius=large, radius_pd=pd, scale=0.01 * share, **pars)
    di = noise * clean
    res = invert(q, clean + di * np.random.default_rng(seed).standard_normal(len(q)), di, volume_fraction=0.0)
    r = np.linspace(1.0, 3000.0, 300000)
    number = sum(s * _schulz(r, m, p) / (_schulz(r, m, p) @ r**3) for m, p, s in ((40.0, 0.1, 1 - share),
                                                                                  (large, pd, share)))
    assert abs(res.mean_radius_volume / ((number * r**3) @ r / (number @ r**3)) - 1) <= 0.10
    assert abs(res.mean_radius_number / (number @ r / number.sum()) - 1) <= 0.05
    assert "volume-mean-undetermined" not in res.quality.flags


def _schulz(r, mean, pd):
    z = 1 / pd**2 - 1
    return np.exp(z * np.log(r / mean) - (z + 1) * r / mean)
