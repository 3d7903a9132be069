"""Refinement that fits what is uncertain (issue 15): the volume fraction within its prior, retries and the
poor-fit flag of refined results, the batched fitness, calibrated intervals and DREAM from the Laplace posterior."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import GRID, Q, curve, hand_made_start, schulz, w1_across

from sasview_nn_plugin import invert
from sasview_nn_plugin.errors import InputError
from sasview_nn_plugin.fitting.refine import refine, volume_fraction_prior_sigma
from sasview_nn_plugin.physics import distributions


@pytest.mark.parametrize("mean, pd, phi, smeared", [(45.0, 0.1, 0.3, False), (60.0, 0.12, 0.4, True),
                                                    (35.0, 0.15, 0.2, False)])
def test_phi_given_10_percent_high_is_corrected(mean, pd, phi, smeared):
    """A hand-made start near the truth (mean 3 % high, 20 % broader: what a good network reads) at phi 10 % high:
    the fit moves phi toward the truth within its prior, and the distribution gets no worse."""
    rng = np.random.default_rng(11)
    w = schulz(mean, pd)
    i, di, dq = curve(w, phi, rng, smeared=smeared)
    start = hand_made_start(schulz(1.03 * mean, 1.2 * pd), 1.1 * phi, i, di, dq)
    ref = refine(Q, i, di, start, dq=dq)
    assert ref.fit.volume_fraction is not None and ref.fit.volume_fraction_prior_sigma == pytest.approx(0.11 * phi)
    assert abs(ref.volume_fraction - phi) < 0.7 * abs(start.volume_fraction_used - phi), ref.volume_fraction
    assert w1_across(ref.radius, ref.number_distribution, GRID.radius, w) <= w1_across(
        start.radius, start.number_distribution, GRID.radius, w) + 0.02
    lo, hi = ref.uncertainty.interval("volume_fraction", 95)
    assert lo < ref.volume_fraction < hi


def test_volume_fraction_prior_rules():
    rng = np.random.default_rng(2)
    i, di, _ = curve(schulz(45.0, 0.1), 0.3, rng)
    given = invert(Q, i, di, volume_fraction=0.3)
    assert volume_fraction_prior_sigma(given) == pytest.approx(0.03)
    assert volume_fraction_prior_sigma(given, 0.01) == 0.01
    assert volume_fraction_prior_sigma(given, fit_volume_fraction=False) == 0.0
    estimated = invert(Q, i, di, volume_fraction=None)
    assert volume_fraction_prior_sigma(estimated) == pytest.approx(estimated.volume_fraction_sigma)
    with pytest.raises(InputError, match="`volume_fraction_sigma`"):
        volume_fraction_prior_sigma(given, -1.0)
    fixed = refine(Q, i, di, given, volume_fraction_sigma=0.0)
    assert fixed.fit.volume_fraction is None and fixed.volume_fraction == 0.3
    assert "volume_fraction" not in fixed.fit.parameters
    flat = refine(Q, i, di, given, volume_fraction_sigma=math.inf)
    assert flat.fit.volume_fraction is not None
    assert flat.to_dict()["refinement"]["volume_fraction_prior"]["sigma"] is None  # JSON has no infinity


def test_poor_fit_is_retried_and_flagged():
    """A 5 % ripple of period 2 pi / 700 = 0.009 1/A that no sphere distribution on the grid makes (a sphere of
    radius R oscillates with period pi / R >= 0.03 1/A for R <= 99 A), on a 45 A Schulz curve with 1 % noise: left
    unfitted, the ripple alone adds 0.05^2 / 2 / 0.01^2 = 12.5 to chi2_red, so the fit from the true distribution
    (a hand-made start) stays above 3 after its retries, and the refined result says so."""
    rng = np.random.default_rng(4)
    i, di, _ = curve(schulz(45.0, 0.1), 0.3, rng, noise=0.01)
    i = i * (1 + 0.05 * np.sin(700.0 * Q))
    start = hand_made_start(schulz(45.0, 0.1), 0.3, i, di)
    ref = refine(Q, i, di, start)
    assert ref.fit.chi2_reduced > 3
    assert ref.fit.retried == ("a schulz3 fit", "the broadened network distribution", "the network's window"), \
        "a poor fit is retried from other starts, then on the network's window alone"
    assert "misfit-outside-window" not in ref.quality.flags, "the ripple is in the window too: the whole range kept"
    np.testing.assert_array_equal(ref.fit.q, Q)
    assert ref.quality is not None and "poor-fit" in ref.quality.flags
    assert ref.quality.chi2_reduced == ref.fit.chi2_reduced
    rec = ref.to_dict()
    assert "poor-fit" in rec["quality"]["flags"] and rec["refinement"]["retried"] == list(ref.fit.retried)
    assert any("retried" in n for n in ref.notes)


def test_good_refined_fit_is_checked_and_unflagged():
    rng = np.random.default_rng(5)
    i, di, dq = curve(schulz(50.0, 0.1), 0.35, rng, smeared=True)
    ref = refine(Q, i, di, invert(Q, i, di, volume_fraction=0.35, dq=dq), dq=dq)
    assert ref.fit.chi2_reduced < 1.5 and ref.fit.retried == ()
    assert ref.quality is not None and ref.quality.flags == ()
    rec = ref.to_dict()["refinement"]
    assert set(rec["intervals"]) == {"mean_radius_number", "mean_radius_volume", "volume_fraction"}
    lo68, hi68 = rec["intervals"]["mean_radius_number"]["68"]
    lo95, hi95 = rec["intervals"]["mean_radius_number"]["95"]
    assert lo95 < lo68 < ref.mean_radius_number < hi68 < hi95
    band = ref.uncertainty.cumulative_band
    assert band.shape == (4, 100) and np.all(np.diff(band, axis=0) >= -1e-12) and band.max() <= 1.0
    assert rec["uncertainty_method"] == "laplace" and rec["covariance_inflation"] >= 1.0


@pytest.mark.parametrize("parametrization", ["histogram", "schulz3"])
def test_batched_fitness_equals_bumps_fitness(parametrization):
    """The batched residuals (LM, the Jacobian, draws, DREAM) are the bumps Fitness's own; the Jacobian
    agrees with bumps' numerical one."""
    from bumps import lsqerror
    from bumps.fitproblem import FitProblem

    from sasview_nn_plugin.fitting.fitness import SphereHSFitness
    from sasview_nn_plugin.fitting.lsq import BatchProblem
    from sasview_nn_plugin.fitting.refine import _start_dist

    rng = np.random.default_rng(6)
    i, di, dq = curve(schulz(40.0, 0.12), 0.3, rng, smeared=True)
    sel = (Q >= 0.04) & (Q <= 0.105)
    start = invert(Q, i, di, volume_fraction=0.3)
    fitness = SphereHSFitness(Q[sel], i[sel], di[sel], _start_dist(parametrization, start.distribution), 0.3,
                              dq=dq[sel], scale0=1.0, background0=0.1, phi_sigma=0.03)
    problem = FitProblem(fitness)
    labels = problem.labels()
    x = problem.getp() * (1 + 0.01 * rng.standard_normal(len(labels)))
    problem.setp(x)
    batch = fitness.batch_residuals(labels, np.vstack([x, x]))
    assert np.allclose(batch[0], fitness.residuals(), rtol=1e-10, atol=1e-10) and np.array_equal(batch[0], batch[1])
    ours = BatchProblem(fitness, labels).jacobian(x)
    theirs = lsqerror.jacobian(problem, x)
    scale = np.abs(theirs).max(axis=0) + 1e-300
    assert np.allclose(ours / scale, theirs[: len(ours)] / scale, atol=2e-3)


def test_coverage_of_a_small_seeded_set():
    """Calibrated intervals: on 24 realistic curves (phi given off by up to 10 %, background, noise 1-3 %) the
    truth lies inside the 68 % / 95 % intervals of the number-mean radius and phi at about those rates."""
    rng = np.random.default_rng(2024)
    inside = {"mean_radius_number": [], "volume_fraction": []}
    for k in range(24):
        fam = ("schulz", "lognormal", "gaussian")[k % 3]
        w = distributions.sample(rng, 1, GRID, fam)[0]
        phi = rng.uniform(0.15, 0.45)
        i, di, dq = curve(w, phi, rng, noise=rng.uniform(0.01, 0.03), smeared=bool(k % 2))
        ref = refine(Q, i, di, invert(Q, i, di, volume_fraction=phi * rng.uniform(0.9, 1.1), dq=dq), dq=dq)
        truth = {"mean_radius_number": float(w @ GRID.radius), "volume_fraction": phi}
        for name in inside:
            (lo68, hi68), (lo95, hi95) = ref.uncertainty.interval(name, 68), ref.uncertainty.interval(name, 95)
            inside[name].append((lo68 <= truth[name] <= hi68, lo95 <= truth[name] <= hi95))
    for name, hits in inside.items():
        c68, c95 = np.mean(hits, axis=0)
        assert 0.4 <= c68 <= 0.95 and c95 >= 0.75, (name, c68, c95)


def test_dream_starts_from_the_laplace_posterior_and_reports_convergence():
    rng = np.random.default_rng(8)
    i, di, _ = curve(schulz(45.0, 0.1), 0.3, rng)
    start = hand_made_start(schulz(46.0, 0.12), 0.3, i, di)   # near the truth, by hand (no network)
    ref = refine(Q, i, di, start, method="dream", parametrization="schulz3")
    u = ref.uncertainty
    assert u.source == "dream" and ref.fit.method == "dream"
    assert 1.0 <= u.diagnostics["gelman_rubin_max"] < 2.0, u.diagnostics  # reported (15 chains: a noisy R-hat)
    assert isinstance(u.diagnostics["bumps_converged"], bool) and u.diagnostics["generations"] >= 2000
    assert 1 <= u.diagnostics["dream_dimensions"] <= u.diagnostics["parameters"]
    assert 0.0 < u.diagnostics["importance_ess"] <= 1.0
    lo, hi = u.interval("mean_radius_number", 95)
    assert lo < 45.0 < hi
    assert ref.to_dict()["refinement"]["diagnostics"]["gelman_rubin_max"] == u.diagnostics["gelman_rubin_max"]


@pytest.mark.slow   # bumps' DREAM draws from its own C generator, unseeded by us: the importance ESS of one
# curve varies between runs (0.014 to > 0.05 seen on the same code), so it is not part of the default run
def test_dream_on_the_histogram_samples_the_informed_directions_and_converges():
    """The 27-parameter histogram: DREAM runs on the directions the data inform or where the posterior is not
    the Laplace Gaussian (a handful), the prior's Gaussian rest is importance-weighted; R-hat < 1.1."""
    rng = np.random.default_rng(9)
    i, di, _ = curve(schulz(45.0, 0.1), 0.3, rng)
    ref = refine(Q, i, di, hand_made_start(schulz(46.0, 0.12), 0.3, i, di), method="dream")
    d = ref.uncertainty.diagnostics
    assert d["parameters"] == 27 and 3 <= d["dream_dimensions"] < 27, d
    assert d["gelman_rubin_max"] < 1.1 and d["importance_ess"] > 0.05, d
    lo, hi = ref.uncertainty.interval("mean_radius_number", 95)
    assert lo < ref.mean_radius_number < hi
