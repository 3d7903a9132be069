"""The physics check of a result (inference/quality.py): numpy model against sasmodels, and every flag raised
by a curve that should raise it and not by a clean one.  Curves come from sasmodels; results from the shipped
model."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import direct_curve, schulz_hs

from sasview_nn_plugin import invert
from sasview_nn_plugin.inference import quality as Q
from sasview_nn_plugin.physics import kernels

QW = np.linspace(0.04, 0.105, 1000)   # the shipped model's window and grid
def check(q, clean, phi=0.3, noise=0.01, with_di=True, seed=0):
    """Invert a noisy copy of ``clean`` with the shipped model and assess the result."""
    rng = np.random.default_rng(seed)
    data = clean * (1 + noise * rng.standard_normal(len(q)))
    di = noise * clean if with_di else None
    res = invert(q, data, di, volume_fraction=phi)
    return res, Q.assess(q, data, di, res.radius, res.number_distribution, phi)


# -- the numpy forward model ---------------------------------------------------------------------------

@pytest.mark.parametrize("phi", [0.0, 0.3])
def test_model_intensity_equals_the_sasmodels_basis(default_basis, phi, rng):
    b = default_basis
    for _ in range(3):
        w = rng.random(len(b.radius)) ** 4
        ours = Q.model_intensity(b.q, b.radius, w, phi)
        ref = kernels.intensity(b, w / w.sum(), phi)
        np.testing.assert_allclose(ours, ref, rtol=1e-8, atol=0)


def test_model_intensity_other_slds_and_small_qr():
    q = np.geomspace(1e-4, 0.3, 200)
    r = np.linspace(5.0, 60.0, 12)
    w = np.ones_like(r)
    basis = kernels.sphere_basis(q, r, sld=2.0, sld_solvent=-0.5)
    np.testing.assert_allclose(Q.model_intensity(q, r, w, 0.2, 2.0, -0.5), kernels.intensity(basis, w / 12, 0.2),
                               rtol=1e-8)


def test_nnls_matches_scipy(rng):
    """The scale >= 0; the background >= 0, or free in sign where the data may be over-subtracted (2 m - 0.5 ends
    below zero; 2 m + 0.1 ends 20 sigma above it): scipy's bounded least squares with the same bounds."""
    from scipy.optimize import lsq_linear

    m = np.exp(-np.linspace(0, 3, 200))
    for a, b, signed in ((2.0, 0.1, False), (2.0, -0.5, True), (-1.0, 1.3, False), (0.5, 0.0, True),
                         (-1.0, -0.3, True)):
        d = a * m + b + 0.01 * rng.standard_normal(200)
        sig = 0.01 + 0.02 * rng.random(200)
        assert Q.background_may_be_negative(d, sig) is signed
        ref = lsq_linear(np.stack([m / sig, 1 / sig], axis=1), d / sig, bounds=([0, -np.inf if signed else 0],
                                                                                np.inf), method="bvls", tol=1e-14)
        assert Q.nnls_scale_background(m, d, sig) == pytest.approx(tuple(ref.x), abs=1e-9)


def test_nnls_columns_is_the_bounded_least_squares_optimum(rng):
    """Against scipy's bounded least squares (bvls), the constant column free in sign where the data may be
    over-subtracted: a code review's counterexample (k = 3; the elimination alone returned (0, -0.498, 0), chi2 4.33,
    for the optimum (2.350, -1.297, 0), chi2 1.32) and random non-negative columns, k = 3-5, where the elimination
    alone missed the optimum on up to half the cases."""
    from scipy.optimize import lsq_linear

    def check(cols, d, sig):
        free = (np.ptp(cols, axis=0) == 0) & Q.background_may_be_negative(d, sig)
        ref = lsq_linear(cols / sig[:, None], d / sig, bounds=(np.where(free, -np.inf, 0), np.inf), method="bvls",
                         tol=1e-14)
        x = Q.nnls_columns(cols, d, sig)
        chi2 = float(np.sum(((cols @ x - d) / sig) ** 2))
        assert np.all(x[~free] >= 0) and chi2 <= 2 * ref.cost * (1 + 1e-7) + 1e-12

    m = np.array([.91, .05, .18, .53, .30, .07])
    pl = np.array([.14, .87, .97, .73, .64, .98])
    d = np.array([.82, -.86, -1.67, -.18, .15, -1.25])
    x = Q.nnls_columns(np.stack([m, np.ones(6), pl], axis=1), d, np.ones(6))
    assert x == pytest.approx([2.350, -1.297, 0.0], abs=2e-3)
    for k in (3, 4, 5):
        for _ in range(40):
            cols = rng.random((30, k))
            cols[:, 1] = 1.0
            d = cols @ rng.normal(0, 1, k) + 0.1 * rng.standard_normal(30)
            check(cols, d, np.full(30, 0.1))


def test_runs_statistic(rng):
    assert abs(Q.runs_z(rng.standard_normal(1000))) < 4
    assert Q.runs_z(np.sin(np.linspace(0, 6, 1000))) < -20


def test_observable_radius_window_rule_and_noise_rule():
    assert Q.observable_radius(QW) == pytest.approx((math.pi / 0.105, math.pi / 0.04))
    clean = schulz_hs(QW, 40.0)
    m = Q.model_intensity(QW, np.array([40.0]), np.array([1.0]), 0.3)
    scale = float(np.median(clean / m))
    good = Q.observable_radius(QW, 0.01 * clean, m, scale, 0.3)
    assert good == pytest.approx((math.pi / 0.105, math.pi / 0.04), rel=1e-6)   # 1 % noise: all observable
    lo, hi = Q.observable_radius(QW, 3.0 * clean, m, scale, 0.3)                  # 300 % noise: narrower or none
    assert math.isnan(lo) or (lo > good[0] or hi < good[1])


# -- flags -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("with_di", [True, False])
def test_clean_schulz_spheres_give_no_flags(with_di):
    res, q = check(QW, schulz_hs(QW, 40.0), with_di=with_di)
    assert q.flags == () and q.trusted
    assert abs(res.mean_radius_number - 40.0) < 1.0
    assert (q.chi2_reduced is None) == (not with_di)
    if with_di:   # one curve's chi2 moves between trainings (1.35, 3.94 and 9.39 for this one with three models of
        # the same recipe; medians over 36 curves 1.39-1.42): what must hold is no flag, and fits near noise on median
        panel = [check(QW, schulz_hs(QW, r, pd), seed=k)[1].chi2_reduced
                 for k, (r, pd) in enumerate((r, pd) for r in (20, 40, 60) for pd in (0.05, 0.1, 0.2))]
        assert np.median(panel) < 3.0, panel
    assert q.observable_radius == pytest.approx((math.pi / 0.105, math.pi / 0.04), rel=1e-3)


def test_clean_curve_on_a_wider_log_grid_gives_no_flags():
    ql = np.geomspace(0.03, 0.15, 400)
    assert check(ql, schulz_hs(ql, 40.0))[1].flags == ()


def test_poor_fit_and_shape_outside_training_core_shell():
    cs = direct_curve("core_shell_sphere", QW, radius=40, thickness=10, sld_core=1, sld_shell=4, sld_solvent=6,
                         radius_pd=0.1, radius_pd_type="schulz", radius_pd_n=40, scale=0.3, background=0)
    _, q = check(QW, cs)
    assert {"poor-fit", "shape-outside-training"} <= set(q.flags)
    assert q.chi2_reduced > 100
    _, q = check(QW, cs, with_di=False)
    assert {"structured-residuals", "shape-outside-training"} <= set(q.flags)


@pytest.mark.parametrize("with_di", [True, False])
def test_cylinders_are_flagged(with_di):
    cy = direct_curve("cylinder", QW, radius=20, length=200, sld=1, sld_solvent=6, radius_pd=0.1,
                         radius_pd_type="schulz", radius_pd_n=40, scale=0.1, background=0)
    _, q = check(QW, cy, with_di=with_di)
    assert ("poor-fit" if with_di else "structured-residuals") in q.flags


@pytest.mark.parametrize("with_di", [True, False])
def test_spheres_ten_times_larger_are_flagged(with_di):
    _, q = check(QW, schulz_hs(QW, 400.0), with_di=with_di)   # the answer misfits, and sits at a grid edge
    assert {"poor-fit", "structured-residuals", "shape-outside-training"} & set(q.flags)
    assert {"mass-at-small-radius-edge", "mass-at-large-radius-edge"} & set(q.flags)


def test_mass_at_the_edges():
    _, q = check(QW, schulz_hs(QW, 10.0, 0.2))
    assert "mass-at-small-radius-edge" in q.flags
    _, q = check(QW, schulz_hs(QW, 95.0, 0.05))
    assert "mass-at-large-radius-edge" in q.flags


def test_phi_outside_training():
    _, q = check(QW, schulz_hs(QW, 40.0, phi=0.6), phi=0.6)   # the shipped model is trained on phi 0-0.5
    assert "phi-outside-training" in q.flags
    _, q = check(QW, schulz_hs(QW, 40.0, phi=0.05), phi=0.05)
    assert "phi-outside-training" not in q.flags


def test_q_window_too_narrow():
    q15 = np.linspace(0.04, 0.105, 15)       # 15 points: the network would see interpolation
    _, q = check(q15, schulz_hs(q15, 40.0))
    assert "q-window-too-narrow" in q.flags
    res, _ = check(QW, schulz_hs(QW, 40.0))
    narrow = Q.assess(QW, schulz_hs(QW, 40.0), None, res.radius, res.number_distribution, 0.3, q_range=(0.05, 0.1))
    assert "q-window-too-narrow" in narrow.flags


def test_the_issues_cases_are_flagged():
    ql = np.geomspace(0.03, 0.15, 400)       # Schulz 95 A, phi 0.2: read as ~10 A before, no warning
    direct, q = check(QW, schulz_hs(QW, 95.0, phi=0.2), phi=0.2)   # the model's own window alone: wrong, flagged
    assert direct.mean_radius_number < 20 and q.chi2_reduced > 100   # 2300 in the issue; 555-2300 between trainings
    assert {"poor-fit", "shape-outside-training", "mass-at-small-radius-edge"} <= set(q.flags)
    res, q = check(ql, schulz_hs(ql, 95.0, phi=0.2), phi=0.2)   # the whole curve: another window, right
    assert abs(res.mean_radius_number / 95.0 - 1) < 0.03 and not q.flags and any("scaled by s" in n for n in res.notes)
    lab = np.geomspace(0.008, 0.25, 300)     # 150 A spheres on a lab window: read as ~12 A before, no warning
    res, q = check(lab, schulz_hs(lab, 150.0))  # now through another window of the self-similar map, or flagged
    assert abs(res.mean_radius_number / 150.0 - 1) < 0.05 or {"poor-fit", "shape-outside-training"} <= set(q.flags)


def test_quality_record_and_flag_names():
    _, q = check(QW, schulz_hs(QW, 40.0))
    d = q.to_dict()
    assert d["flags"] == [] and len(d["observable_radius"]) == 2 and d["chi2_reduced"] == q.chi2_reduced
    assert all(f in Q.FLAGS for f in ("poor-fit", "shape-outside-training"))


def test_training_domain_from_the_model_file():
    from sasview_nn_plugin.inference.modelfile import load_model

    t = Q.Training.of(load_model())
    assert t.phi_range == (0.0, 0.5) and t.q_range == pytest.approx((0.04, 0.105)) and t.radius_range == (9.0, 99.0)


# -- resolution (dq) ------------------------------------------------------------------------------------

def _schulz_number(mean, pd):
    r = np.linspace(1.0, 200.0, 2000)
    z = 1 / pd**2 - 1
    return r, np.exp(z * np.log(r) - (z + 1) * r / mean)


@pytest.mark.parametrize("rel", [0.03, 0.1])
@pytest.mark.parametrize("q", [QW, np.geomspace(0.003, 0.5, 300)])
def test_smearing_equals_sasmodels_pinhole(rel, q):
    from sasmodels.resolution import Pinhole1D

    r = np.linspace(9.0, 99.0, 100) if q[0] > 0.01 else np.linspace(20.0, 400.0, 100)
    qc = np.geomspace(0.02 * q[0], q[-1] * (1 + 3.5 * rel), 40000)
    for mean in (r[10], r[50], r[90]):
        w = np.exp(-0.5 * ((r - mean) / (0.1 * mean)) ** 2)
        ref = Pinhole1D(q, rel * q, q_calc=qc).apply(kernels.intensity(kernels.sphere_basis(qc, r), w / w.sum(), 0.3))
        ours = Q.smeared_intensity(q, rel * q, r, w, 0.3)
        assert np.abs(ours / ref - 1).max() < 1e-3


@pytest.mark.parametrize("rel", [0.03, 0.1])
def test_true_distribution_on_smeared_data_passes_with_dq(rel):
    from sasmodels.resolution import Pinhole1D

    res = Pinhole1D(QW, rel * QW)
    clean = res.apply(schulz_hs(res.q_calc, 50.0, 0.12, 0.2))
    r, w = _schulz_number(50.0, 0.12)
    with_dq = Q.assess(QW, clean, 0.01 * clean, r, w, 0.2, dq=rel * QW)
    assert with_dq.flags == () and with_dq.chi2_reduced < 0.01
    if rel >= 0.1:
        assert "poor-fit" in Q.assess(QW, clean, 0.01 * clean, r, w, 0.2).flags


def test_smeared_false_flags_measured():
    """40 random in-domain Schulz curves smeared at dQ/Q 3 %, inverted with their dq (docs/domain.md)."""
    from sasmodels.resolution import Pinhole1D

    rng = np.random.default_rng(7)
    res = Pinhole1D(QW, 0.03 * QW)
    flagged = {True: 0, False: 0}
    for _ in range(40):
        mean, pd, phi = rng.uniform(20, 80), rng.uniform(0.05, 0.3), rng.uniform(0.1, 0.5)
        clean = res.apply(schulz_hs(res.q_calc, mean, pd, phi))
        data = clean * (1 + 0.01 * rng.standard_normal(len(QW)))
        for use in (True, False):
            flagged[use] += bool(invert(QW, data, 0.01 * clean, volume_fraction=phi, dq=0.03 * QW if use else None)
                                 .quality.flags)
    assert flagged[True] <= flagged[False] and flagged[True] <= 0.25 * 40


def test_sasviews_pinhole_example_is_sampled_coarser_than_its_resolution():
    """SasView's ``100nmPinholeSphere.txt`` (R 500 A, monodisperse, dQ/Q 15 %, dI 1 %; tests/data/real) is read
    right and flagged ``poor-fit``: at q 0.25-0.5 1/A the file lies up to ~25 % off the exact resolution integral
    (sasmodels' Pinhole1D over a dense q_calc; ours within 0.1 % of it), and much closer to the same Pinhole1D over
    the file's own q (rms 8 % against 26 %), which sample the sphere's oscillation (period pi/R = 0.006 1/A) ~2
    times a period there: the file holds its generator's coarse integral (SasView 5.0.1), which no sphere
    distribution smeared exactly matches at 1 % dI.  sasmodels' own fit of R 500 A reaches chi2_red 8.6 there."""
    from pathlib import Path

    from sasmodels.resolution import Pinhole1D

    from sasview_nn_plugin import load_curves

    c = load_curves(Path(__file__).parent / "data" / "real" / "100nmPinholeSphere.txt")[0]
    r, w = np.array([500.0]), np.array([1.0])

    def sphere(qc):
        return kernels.intensity(kernels.sphere_basis(qc, r), w, 0.0)

    dense = np.geomspace(0.5 * c.q[0], 1.5 * c.q[-1], 40000)
    exact = Pinhole1D(c.q, c.dq, q_calc=dense).apply(sphere(dense))
    coarse = Pinhole1D(c.q, c.dq)
    coarse = coarse.apply(sphere(coarse.q_calc))
    ours = Q.smeared_intensity(c.q, c.dq, r, w, 0.0)
    assert np.abs(ours / exact - 1).max() < 1e-3
    scale = np.median(c.intensity[:40] / exact[:40])       # the file's scale, from the Guinier region
    high = c.q > 0.25
    assert np.abs(c.intensity[high] / (scale * exact[high]) - 1).max() > 0.15
    def rms(model):
        return float(np.sqrt(np.mean(np.log(c.intensity[high] / (scale * model[high])) ** 2)))
    assert rms(coarse) < 0.5 * rms(exact)   # 8 % against 26 % (2026-12-07)
