"""Self-similarity of polydisperse hard spheres (inference/window.py): a sample with every radius x s measured
at q / s inverts, through the model's window, to the same distribution with radii x s.  The windowed model is named
here: invert's default (auto) reads curves of a decade of q or more with the whole-curve model."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from helpers import schulz_hs

from sasview_nn_plugin import invert as _invert
from sasview_nn_plugin.inference import window as W
from sasview_nn_plugin.inference.modelfile import load_model

invert = functools.partial(_invert, model="default")


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


# -- the map inside invert ----------------------------------------------------------------------------------

def noisy(clean, noise=0.01, seed=0):
    rng = np.random.default_rng(seed)
    return clean * (1 + noise * rng.standard_normal(len(clean))), noise * clean


@pytest.mark.parametrize("with_di", [True, False], ids=["dI", "no-dI"])
def test_invert_maps_a_window_below_the_models(with_di):
    """Schulz 120 A (the 40 A case x3) on 0.0133-0.035 1/A: inverted directly, radii x3, no flags."""
    nn = load_model()
    q3 = nn.q / 3.0
    data, di = noisy(schulz_hs(q3, 120.0))
    res = invert(q3, data, di if with_di else None, volume_fraction=0.3)
    assert res.mean_radius_number == pytest.approx(120.0, rel=0.01)
    np.testing.assert_allclose(res.radius, nn.radius * 3.0)
    assert res.q_range == pytest.approx((q3[0], q3[-1]))
    assert len(res.notes) == 1 and "scaled by s = 3" in res.notes[0] and "radii scaled by s" in res.notes[0]
    assert res.quality.flags == () and res.quality.n_points == len(q3)
    assert res.to_dict()["notes"] == list(res.notes)


def test_invert_maps_a_wider_off_window_curve_and_invert_many_agrees():
    """0.012-0.06 1/A (ratio 5, not covering 0.04-0.105): several candidate scales, the best fit kept."""
    import re

    from sasview_nn_plugin.inference.invert import MAX_WINDOW_CANDIDATES
    from sasview_nn_plugin.inference.invert import invert_many as _many

    invert_many = functools.partial(_many, model="default")

    q = np.geomspace(0.012, 0.06, 400)
    clean = schulz_hs(q, 100.0, phi=0.2)
    data, di = noisy(clean)
    res = invert(q, data, di, volume_fraction=0.2)
    assert res.mean_radius_number == pytest.approx(100.0, rel=0.05)
    assert "q-window-too-narrow" not in res.quality.flags and res.quality.chi2_reduced < 3
    assert q[0] * (1 - 1e-9) <= res.q_range[0] and res.q_range[1] <= q[-1] * (1 + 1e-9)
    n = int(re.search(r"chosen of (\d+) windows", res.notes[0]).group(1))
    assert 2 <= n <= MAX_WINDOW_CANDIDATES + 1
    (many,) = invert_many(q, data[None], di[None], volume_fractions=0.2)
    np.testing.assert_array_equal(many.number_distribution, res.number_distribution)
    assert many.notes == res.notes and many.q_range == res.q_range


def test_a_window_too_narrow_for_the_map_is_still_refused():
    from sasview_nn_plugin.errors import InputError
    from sasview_nn_plugin.inference.invert import invert_many

    q = np.linspace(0.05, 0.1, 200)                    # q_max/q_min = 2 < 0.105/0.04
    i = schulz_hs(q, 40.0)
    for call in (lambda: invert(q, i, volume_fraction=0.3),
                 lambda: invert_many(q, i[None], volume_fractions=0.3)[0]):
        with pytest.raises(InputError, match=r"too narrow: q_max/q_min >= 2.625 is needed \(these data span 2\)"):
            r = call()
            if isinstance(r, InputError):
                raise r


def test_lab_window_tries_the_other_windows():
    """150 A spheres on 0.008-0.25 1/A (the issue's case, read as 12 A before): the data cover the model's window
    with room to spare, so the other windows of the self-similar map are tried too; the best fits."""
    lab = np.geomspace(0.008, 0.25, 300)
    data, di = noisy(schulz_hs(lab, 150.0))
    res = invert(lab, data, di, volume_fraction=0.3)
    assert abs(res.mean_radius_number / 150.0 - 1) < 0.02 and not res.quality.flags
    assert res.q_range != load_model().q_range and any("scaled by s" in n for n in res.notes)


def test_a_wide_window_keeps_the_best_window_the_models_own_among_them():
    """40 A spheres on the same lab window: the model's own window (s = 1) is one of the candidates, and the window
    kept fits the whole curve at least as well as it does."""
    from sasview_nn_plugin.inference.quality import assess

    nn = load_model()
    lab = np.geomspace(0.008, 0.25, 300)
    data, di = noisy(schulz_hs(lab, 40.0))
    res = invert(lab, data, di, volume_fraction=0.3)
    assert abs(res.mean_radius_number / 40.0 - 1) < 0.02 and not res.quality.flags
    sel = (lab >= 0.039) & (lab <= 0.107)
    own = invert(lab[sel], data[sel], di[sel], volume_fraction=0.3)   # the model's window alone
    assert own.q_range == nn.q_range
    own_whole = assess(lab, data, di, own.radius, own.number_distribution, 0.3, q_range=(lab[0], lab[-1]))
    # the window kept is the model's own here too (s = 1, from all 300 points rather than the 94 inside it: the
    # interpolated inputs, hence the distributions, differ by ~1e-7), so "at least as well" up to that
    assert res.quality.chi2_reduced <= own_whole.chi2_reduced * (1 + 1e-4)


def test_the_chosen_windows_quality_is_the_full_check(monkeypatch):
    """Candidates are scored without the observable range's noise rule; the one kept carries the whole check:
    one full assess() per inversion, equal to assess() of that result over the data's whole range."""
    import sasview_nn_plugin.inference.invert as inv
    from sasview_nn_plugin.inference.quality import assess

    calls = []

    def counting(*args, observe=True, **kwargs):
        calls.append(observe)
        return assess(*args, observe=observe, **kwargs)

    monkeypatch.setattr(inv, "assess", counting)
    lab = np.geomspace(0.008, 0.25, 300)
    data, di = noisy(schulz_hs(lab, 150.0))
    res = invert(lab, data, di, volume_fraction=0.3)
    q = res.quality
    assert calls.count(True) == 1 and calls.count(False) >= 5
    full = assess(lab, data, di, res.radius, res.number_distribution, 0.3, q_range=(lab[0], lab[-1]))
    assert q.observable_radius == full.observable_radius and q.flags == full.flags
    assert q.chi2_reduced == pytest.approx(full.chi2_reduced)


def test_a_window_with_mass_at_its_grid_edge_loses_to_one_without(monkeypatch):
    """Among candidate windows, a result cut off by its grid's edge ranks after every result that is not, whatever
    its chi2: the edge says the window is wrong for the sample."""
    import math

    import sasview_nn_plugin.inference.invert as inv
    from sasview_nn_plugin.inference.quality import Quality, assess

    edge_s = []

    def fake(q, intensity, di, radius, number, phi, *, observe=True, **kw):
        real = assess(q, intensity, di, radius, number, phi, observe=observe, **kw)
        s = radius[0] / load_model().radius[0]
        if not edge_s:
            edge_s.append(s)   # the first candidate: the best chi2, but cut off at the edge
        edge = math.isclose(s, edge_s[0])
        return Quality(0.5 if edge else 2.0, real.scale, real.background, real.observable_radius,
                       ("mass-at-large-radius-edge",) if edge else (), real.residual_runs_z, real.residual_rms,
                       real.shape_max_rel, real.n_points)

    monkeypatch.setattr(inv, "assess", fake)
    lab = np.geomspace(0.008, 0.25, 300)
    data, di = noisy(schulz_hs(lab, 150.0))
    res = invert(lab, data, di, volume_fraction=0.3)
    assert not res.quality.flags and not math.isclose(res.radius[0] / load_model().radius[0], edge_s[0])
