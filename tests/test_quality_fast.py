"""The quality check's fast arithmetic (inference/quality_fast.py, resolution.banded) equals the straightforward
computation (``assess(..., reference=True)``: the forward model and statistics of inference/quality_model.py):
the same flags and observable range, the same numbers to ~1e-9 relative, one curve and a batch."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sasview_nn_plugin.inference import quality as Q
from sasview_nn_plugin.inference import quality_fast
from sasview_nn_plugin.inference.modelfile import load_model
from sasview_nn_plugin.physics import kernels, scattering
from sasview_nn_plugin.physics.smearing import banded, smearing

NUMBERS = ("chi2_reduced", "scale", "background", "residual_runs_z", "residual_rms", "shape_max_rel")


def same(fast: Q.Quality, ref: Q.Quality) -> None:
    assert fast.flags == ref.flags and fast.n_points == ref.n_points
    for f in NUMBERS:
        a, b = getattr(fast, f), getattr(ref, f)
        assert (a is None) == (b is None), f
        if a is not None:
            assert a == pytest.approx(b, rel=1e-9, abs=1e-12, nan_ok=True), f
    np.testing.assert_array_equal(fast.observable_radius, ref.observable_radius)


@pytest.fixture(scope="module")
def curves():
    """Random in-domain distributions' curves with 1 % noise (phi 0, 0.05-0.55), the shipped network's results."""
    nn = load_model()
    rng = np.random.default_rng(3)
    basis = kernels.sphere_basis(nn.q, nn.radius)
    n = 48
    phi = rng.uniform(0.05, 0.55, n)
    phi[::8] = 0.0
    clean = kernels.intensity(basis, rng.random((n, len(nn.radius))) ** 8, phi)
    data = clean * (1 + 0.01 * rng.standard_normal(clean.shape))
    return nn, data, clean, nn.predict(data, phi).astype(float), phi


@pytest.mark.parametrize("noise", [None, 0.01, 1.0, 5.0])   # dI: none, as measured, and large (the noise rule narrows)
@pytest.mark.parametrize("dq", [None, 0.03, 0.1])
def test_fast_assess_equals_the_reference(curves, noise, dq):
    nn, data, clean, numbers, phi = curves
    tr = Q.training_of(nn)
    res = None if dq is None else dq * nn.q
    narrowed = 0
    for k in range(len(data)):
        di = None if noise is None else noise * clean[k]
        fast = Q.assess(nn.q, data[k], di, nn.radius, numbers[k], phi[k], training=tr, dq=res)
        same(fast, Q.assess(nn.q, data[k], di, nn.radius, numbers[k], phi[k], training=tr, dq=res, reference=True))
        narrowed += fast.observable_radius != Q.observable_radius(nn.q)
    if noise is not None and noise >= 1.0:
        assert narrowed >= len(data) // 2    # the noise rule was exercised


def test_fast_assess_off_grid_mapped_and_outside_the_fast_branch(curves):
    nn, data, clean, numbers, phi = curves
    ql = np.geomspace(0.03, 0.15, 400)       # data beyond the window: the points inside are used
    i = np.exp(np.interp(np.log(ql), np.log(nn.q), np.log(data[1]), left=np.log(data[1, 0]), right=np.log(data[1, -1])))
    for q_range in (None, (0.03, 0.15)):
        for radius in (nn.radius, 2.0 * nn.radius):
            args = (ql, i, 0.02 * i, radius, numbers[1], phi[1])
            same(Q.assess(*args, q_range=q_range, dq=0.05 * ql), Q.assess(*args, q_range=q_range, dq=0.05 * ql,
                                                                          reference=True))
    tiny = np.full(len(nn.radius), 1e-9)
    tiny[0] = 1.0                             # R_eff ~ 9 A on q from 0.002: X < 0.05, S(q)'s Taylor branch
    qs = np.linspace(0.002, 0.2, 300)
    assert 2 * 9.0 * qs[0] < 0.05
    m = Q.model_intensity(qs, nn.radius, tiny, 0.3)
    args = (qs, m * 1.01, 0.01 * m, nn.radius, tiny, 0.3)
    assert quality_fast.evaluate(Q._grid(qs, nn.radius, None), m * 1.01, 0.01 * m, tiny, 0.3, Q.OBS_FRACTION,
                                 Q.OBS_CHI2) is None
    same(Q.assess(*args, q_range=(0.002, 0.2)), Q.assess(*args, q_range=(0.002, 0.2), reference=True))


@pytest.mark.parametrize("with_di", [True, False])
@pytest.mark.parametrize("dq", [None, 0.04])
def test_assess_many_equals_one_at_a_time(curves, with_di, dq):
    nn, data, clean, numbers, phi = curves
    dis = 0.01 * clean if with_di else None
    res = None if dq is None else dq * nn.q
    many = Q.assess_many(nn.q, data, dis, nn.radius, numbers, phi, training=Q.training_of(nn), dq=res)
    assert len(many) == len(data)
    for k, fast in enumerate(many):
        same(fast, Q.assess(nn.q, data[k], None if dis is None else dis[k], nn.radius, numbers[k], phi[k], dq=res,
                            reference=True))
    check = Q.BatchCheck(nn.q, data, dis, nn.radius, numbers, phi, dq=res)
    same(check.row(3), many[3])
    assert check.row(5) is check.row(5)


def test_uniform_grid_trig_and_banded_smearing_equal_the_direct_forms():
    q = np.linspace(0.04, 0.105, 1000)
    gr = Q._grid(q, np.linspace(9.0, 99.0, 100), None)
    assert gr.sweep is not None and Q._grid(np.geomspace(0.04, 0.105, 1000), gr.trial, None).sweep is None
    two_r = np.array([10.0, 18.0, 80.0, 150.0, 200.0])
    s, c = quality_fast._sincos_many(gr, two_r)
    x = np.multiply.outer(two_r, q)
    assert np.abs(s - np.sin(x)).max() < 1e-13 and np.abs(c - np.cos(x)).max() < 1e-13
    rng = np.random.default_rng(0)
    for qq, rel in ((q, 0.03), (q, 0.2), (np.geomspace(0.003, 0.5, 300), 0.1)):
        x, w = smearing(qq, rel * qq)
        b = banded(qq, rel * qq)
        v = rng.random((3, len(x)))
        np.testing.assert_allclose(b.apply(v[0]), w @ v[0], rtol=1e-13)
        np.testing.assert_allclose(b.apply(v), v @ w.T, rtol=1e-13)
        assert b.blocks.size < w.size


def test_fast_structure_factor_coefficients_equal_the_port():
    q = np.linspace(0.04, 0.105, 1000)
    gr = Q._grid(q, np.linspace(9.0, 99.0, 100), None)
    for r, phi in ((9.0, 0.1), (40.0, 0.3), (99.0, 0.5), (20.0, 0.0)):
        rows = scattering.hardsphere_denominator(r, phi, 1.0) @ gr.powers
        s, c = np.sin(2 * r * q), np.cos(2 * r * q)
        np.testing.assert_allclose(1.0 / (s * rows[0] + c * rows[1] + rows[2]), scattering.hardsphere_sq(q, r, phi),
                                   rtol=1e-11)
    assert math.isfinite(float(gr.powers.max()))


def test_quadrant_edges_equal_nnls(rng):
    m = np.exp(-np.linspace(0, 3, 200))
    m2 = np.exp(-np.linspace(0, 1, 200))   # held: the optimum's background < 0, the curve's end 20 sigma above zero
    d = 2 * m2 - 0.3 + 0.01 * rng.standard_normal(200)
    sig = np.full(200, 0.02)
    w = 1 / sig**2
    assert not Q.background_may_be_negative(d, sig)
    sums = ((w * m2) @ m2, (w * m2) @ d, w @ m2, w @ d, w.sum())
    held = quality_fast._edge(*sums, False)
    assert held == pytest.approx(Q.nnls_scale_background(m2, d, sig), abs=1e-12) and held[1] == 0.0
    for a, b in ((2.0, -0.5), (-1.0, 0.3), (0.5, -1e-3), (-0.2, -0.1)):
        d = a * m + b + 0.01 * rng.standard_normal(200)
        sig = 0.01 + 0.02 * rng.random(200)
        w = 1 / sig**2
        sums = ((w * m) @ m, (w * m) @ d, w @ m, w @ d, w.sum())
        signed = Q.background_may_be_negative(d, sig)
        det = sums[0] * sums[4] - sums[2] ** 2
        a0, b0 = (sums[1] * sums[4] - sums[2] * sums[3]) / det, (sums[0] * sums[3] - sums[2] * sums[1]) / det
        best = Q.nnls_scale_background(m, d, sig)
        if a0 >= 0 and (b0 >= 0 or signed):   # the optimum inside the bounds: no edge
            assert best == pytest.approx((a0, b0), abs=1e-9)
        else:
            assert quality_fast._edge(*sums, signed) == pytest.approx(best, abs=1e-12)
    q = np.linspace(0.04, 0.105, 1000)
    r = np.linspace(9.0, 99.0, 100)
    clean = Q.model_intensity(q, r, np.ones(100), 0.3)
    for data in (2.0 * clean - 0.5 * clean.min(), clean.mean() - 0.01 * clean):  # background < 0, scale < 0
        same(Q.assess(q, data, 0.01 * data, r, np.ones(100), 0.3), Q.assess(q, data, 0.01 * data, r, np.ones(100),
                                                                            0.3, reference=True))


def test_degenerate_distributions_go_the_straightforward_way():
    q = np.linspace(0.04, 0.105, 1000)
    r = np.linspace(9.0, 99.0, 100)
    i = Q.model_intensity(q, r, np.ones(100), 0.3)
    gr = Q._grid(q, r, None)
    for number in (np.zeros(100), np.full(100, np.nan)):
        assert quality_fast.evaluate(gr, i, 0.01 * i, number, 0.3, Q.OBS_FRACTION, Q.OBS_CHI2) is None
        assert quality_fast.evaluate_many(gr, i[None], None, number[None], np.array([0.3]), Q.OBS_FRACTION,
                                          Q.OBS_CHI2) == [None]
