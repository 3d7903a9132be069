"""The whole-curve network's plumbing: placement by self-similarity, masks, model files, the training set.

Expected values come from physics (self-similarity of spheres: radii x s maps I(q) to s^3 I(s q)) or from
hand-made cases; a small random network stands in for the trained one where only the plumbing is tested.
"""

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from sasmodels.core import load_model
from sasmodels.direct_model import call_kernel

from sasview_nn_plugin import invert
from sasview_nn_plugin.errors import InputError, ModelFileError
from sasview_nn_plugin.inference.invert_wide import invert_wide, invert_wide_many
from sasview_nn_plugin.inference.wide_model import N_SCALARS, WideModel, load_wide, place, save_wide
from sasview_nn_plugin.physics.wide import WideGrids, placement
from sasview_nn_plugin.training.wide_simulate import simulate_wide

GRIDS = WideGrids()
REPO = Path(__file__).resolve().parents[1]


def random_model(seed: int = 0) -> WideModel:
    rng = np.random.default_rng(seed)
    sizes = [2 * len(GRIDS.x) + N_SCALARS, 32, len(GRIDS.rho) + 2]
    ws = [rng.normal(0, 1 / np.sqrt(a), (a, b)) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    return WideModel(GRIDS, ws, [np.zeros(b) for b in sizes[1:]], {}, "random")


def spheres(q, radius, pd=0.1, phi=0.0):
    """sasmodels' sphere (phi = 0) or sphere@hardsphere, Schulz dispersion, scale 1, no background."""
    name = "sphere" if phi == 0 else "sphere@hardsphere"
    pars = dict(radius=radius, radius_pd=pd, radius_pd_type="schulz", radius_pd_n=60, background=0.0)
    if phi:
        pars.update(volfraction=phi, radius_effective_mode=1)
    kernel = load_model(name).make_kernel([q])
    try:
        return call_kernel(kernel, pars)
    finally:
        kernel.release()


@pytest.mark.parametrize("s", [10.0, 1000.0])
def test_self_similar_curves_read_alike_across_the_span(s):
    """Spheres of radius R on q = 1e-3..3 1/A (3.5 decades) and of radius R s on q / s: the same network input,
    the same answer in rho, radii x s (phi 0.3: the PY S(q) scales too)."""
    q = np.geomspace(1e-3, 3.0, 500)
    a = spheres(q, 30.0, phi=0.3)
    b = spheres(q / s, 30.0 * s, phi=0.3)
    np.testing.assert_allclose(b / a, s**3, rtol=1e-6)   # the physics premise: I -> s^3 I(q / s)
    pa, pb = place(GRIDS, q, a), place(GRIDS, q / s, b)
    np.testing.assert_array_equal(pa.mask, pb.mask)
    np.testing.assert_allclose(pa.features, pb.features, atol=1e-6)
    assert pb.length == pytest.approx(s * pa.length)
    model = random_model()
    for polished, tol in ((False, 1e-6), (True, 1e-4)):   # the polish is a fit: equal to its tolerance
        ra = invert_wide(model, q, a, volume_fraction=0.3, polished=polished)
        rb = invert_wide(model, q / s, b * 7.0, volume_fraction=0.3, polished=polished)   # and any scale
        np.testing.assert_allclose(rb.radius, s * ra.radius, rtol=1e-12)
        np.testing.assert_allclose(rb.volume_distribution, ra.volume_distribution, atol=tol)


def test_points_marked_bad_read_as_the_curve_cut():
    """A run of non-positive points (over-subtraction, a detector gap) is masked: the same input as the curve
    without those points; the window (placement) stays the data's."""
    q = np.geomspace(0.005, 0.5, 300)
    i = spheres(q, 40.0)
    bad = (q > 0.03) & (q < 0.06)
    marked = np.where(bad, -1e-3 * i, i)
    pm, pc = place(GRIDS, q, marked), place(GRIDS, q[~bad], i[~bad])
    np.testing.assert_array_equal(pm.mask, pc.mask)
    np.testing.assert_allclose(pm.features, pc.features, atol=1e-12)
    x_gap = GRIDS.x[(GRIDS.x > 0.031 * pm.length) & (GRIDS.x < 0.059 * pm.length)]
    assert len(x_gap) > 5 and not pm.mask[np.isin(GRIDS.x, x_gap)].any()


def test_a_window_wider_than_the_grid_reads_the_span_with_most_signal():
    q = np.geomspace(1e-5, 1.0, 800)          # 5 decades; below 1e-4 the points are noise around zero
    i = spheres(q, 200.0) + 1e-3
    di = 0.01 * i
    di[q < 1e-4] = 1e6
    p = place(GRIDS, q, i, di)
    assert p.q_range[0] >= 9e-5 and np.log10(p.q_range[1] / p.q_range[0]) <= 2 * GRIDS.x_half
    assert p.length == pytest.approx(placement(*p.q_range))


def test_over_subtracted_points_are_data_not_a_refusal():
    q = np.geomspace(0.005, 0.5, 300)
    i = spheres(q, 40.0) * 1e3
    i = i - 1.5 * i[-1]                         # the last points go negative
    di = 0.02 * np.abs(i) + 0.01 * abs(i[-1])
    res = invert_wide(random_model(), q, i, di, volume_fraction=0.0)
    assert np.count_nonzero(i <= 0) > 0
    assert any("I <= 0 kept as data" in n for n in res.notes)
    assert len(res.q_data) == len(q)             # every point kept for the check
    assert res.quality is not None


def test_q_range_restricts_what_is_read():
    q = np.geomspace(0.001, 0.5, 300)
    i = spheres(q, 40.0)
    res = invert_wide(random_model(), q, i, volume_fraction=0.0, q_range=(0.01, 0.3))
    assert res.q_data[0] >= 0.01 and res.q_data[-1] <= 0.3
    assert res.q_range == (float(res.q_data[0]), float(res.q_data[-1]))
    with pytest.raises(InputError) as err:
        invert_wide(random_model(), q, i, volume_fraction=0.0, q_range=(0.2, 0.21))
    assert err.value.parameter == "q_range"


def test_unknown_phi_is_estimated_in_the_same_pass_with_a_sigma():
    q = np.geomspace(0.005, 0.5, 200)
    res = invert_wide(random_model(), q, spheres(q, 40.0))
    assert 0 <= res.volume_fraction_used <= 0.5 and res.volume_fraction_sigma > 0


def test_many_equals_one_by_one():
    q = np.geomspace(0.005, 0.5, 200)
    rows = np.stack([spheres(q, r) for r in (20.0, 40.0, 80.0)])
    rows[1, :3] = np.nan                               # a bad row is that row's error, not the batch's
    model = random_model()
    many = invert_wide_many(model, q, rows, volume_fractions=[0.1, 0.2, None], polished=False)
    assert isinstance(many[1], InputError)
    for k, phi in ((0, 0.1), (2, None)):
        one = invert_wide(model, q, rows[k], volume_fraction=phi, polished=False)
        np.testing.assert_allclose(many[k].volume_distribution, one.volume_distribution, atol=1e-7)
        assert many[k].volume_fraction_used == pytest.approx(one.volume_fraction_used, abs=1e-7)


def test_a_window_narrower_than_the_training_windows_is_refused():
    """The training windows spanned 1.0-3.6 decades: 0.02-0.06 1/A (0.48) is refused, naming the windowed model."""
    q = np.geomspace(0.02, 0.06, 100)
    with pytest.raises(InputError) as err:
        invert_wide(random_model(), q, spheres(q, 40.0), volume_fraction=0.1)
    assert err.value.parameter == "model" and "default" in str(err.value)


def test_slit_and_pinhole_together_are_refused():
    q = np.geomspace(1e-4, 0.05, 100)
    with pytest.raises(InputError) as err:
        invert_wide(random_model(), q, spheres(q, 500.0), dq=0.05 * q, slit_length=0.03, volume_fraction=0)
    assert err.value.parameter == "slit_length"


def test_model_file_round_trip_and_corruption(tmp_path):
    model = random_model()
    path = save_wide(model, tmp_path / "m.h5")
    back = load_wide(path)
    for a, b in zip(model.weights + model.biases, back.weights + back.biases, strict=True):
        np.testing.assert_array_equal(a, b)
    with h5py.File(path, "r+") as f:
        f.attrs["n_layers"] = 99
    with pytest.raises(ModelFileError):
        load_wide(path)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.attrs["format"] = "something else"
    with pytest.raises(ModelFileError):
        load_wide(other)


def test_training_set_is_reproducible_and_masks_non_positive_points(tmp_path):
    a = simulate_wide(50, 3, tmp_path / "a.h5")
    b = simulate_wide(50, 3, tmp_path / "b.h5")
    with h5py.File(a) as fa, h5py.File(b) as fb:
        for name in ("features", "mask", "volume", "phi", "slit", "dq_over_q"):
            np.testing.assert_array_equal(fa[name][()], fb[name][()])
        vol, mask, feats = fa["volume"][()], fa["mask"][()].astype(bool), fa["features"][()]
        np.testing.assert_allclose(vol.sum(axis=1), 1, rtol=1e-5)
        assert np.all(feats[~mask] == 0)
        np.testing.assert_allclose([f[m].mean() for f, m in zip(feats, mask, strict=True)], 0, atol=1e-4)
        assert (fa["phi"][()] == 0).any() and (fa["phi"][()] > 0).any()
    with pytest.raises(InputError):
        simulate_wide(5, 3, a)                       # never overwritten


@pytest.mark.parametrize("phi", [0.0, 0.3])
def test_polish_recovers_a_shifted_and_a_mixed_answer(phi):
    """Hand-made: data from two narrow populations (15 and 120 A, 40/60 % of the volume; the polish's own forward
    model on its fine grid, 1 % noise); the start, on the network's grid, has both moved (3 % and -4 %) and the
    shares swapped: the polish finds the data's shares and positions."""
    from sasview_nn_plugin.inference.polish import Curve1D, fine_grid, moved, polish

    coarse = GRIDS.rho * 20.0
    fine = fine_grid(coarse)[0]

    def populations(radius):
        lr = np.log(radius)
        pops = [np.exp(-0.5 * ((lr - np.log(c)) / 0.03) ** 2) for c in (15.0, 120.0)]
        return [p / p.sum() for p in pops]

    truth = 0.4 * populations(fine)[0] + 0.6 * populations(fine)[1]
    q = np.geomspace(0.003, 0.5, 300)
    clean = Curve1D(q, np.ones_like(q), None, None, None, fine, truth > 0).model(truth, phi)
    di = 0.01 * clean
    data = clean + di * np.random.default_rng(1).standard_normal(len(q))
    pc = populations(coarse)
    start = 0.6 * moved(pc[0], coarse, 0.03, 0.0) + 0.4 * moved(pc[1], coarse, -0.04, 0.0)
    radius, vol, c0, c1, power_law = polish(q, data, di, None, None, coarse, start, phi)
    assert power_law is None   # no upturn in these data: the evidence rule adds none
    np.testing.assert_allclose(radius, fine)
    assert c1 / (len(q) - 2) < 2.0 < c0 / (len(q) - 2)
    lr = np.log(fine)
    for part in (fine < 40, fine >= 40):
        assert vol[part].sum() == pytest.approx(truth[part].sum(), abs=0.03)
        centre = truth[part] @ lr[part] / truth[part].sum()
        assert vol[part] @ lr[part] / vol[part].sum() == pytest.approx(centre, abs=0.005)


def test_polish_moves_a_broad_population_without_the_scan(monkeypatch):
    """Hand-made: a broad population (Gaussian in ln R, sd 0.3 about 40 A; wider than ``SCAN_WIDTH``, so the
    shift scan is skipped) started 5 % off: the local steps alone bring it back to the data's position."""
    from sasview_nn_plugin.inference import polish as polish_module
    from sasview_nn_plugin.inference.polish import SCAN_WIDTH, Curve1D, fine_grid, log_width, moved, polish

    coarse = GRIDS.rho * 20.0
    fine = fine_grid(coarse)[0]

    def population(radius):
        p = np.exp(-0.5 * ((np.log(radius) - np.log(40.0)) / 0.3) ** 2)
        return p / p.sum()

    truth = population(fine)
    assert log_width(truth, fine) == pytest.approx(0.3, rel=1e-3) and log_width(truth, fine) > SCAN_WIDTH
    q = np.geomspace(0.005, 0.5, 300)
    clean = Curve1D(q, np.ones_like(q), None, None, None, fine, truth > 0).model(truth, 0.0)
    di = 0.01 * clean
    data = clean + di * np.random.default_rng(2).standard_normal(len(q))
    start = moved(population(coarse), coarse, 0.05, 0.0)
    class NoScan:   # the scan must not run for this population
        def __iter__(self):
            raise AssertionError("the shift scan ran for a broad population")

    monkeypatch.setattr(polish_module, "SCAN", NoScan())
    radius, vol, c0, c1, _ = polish(q, data, di, None, None, coarse, start, 0.0)
    assert c1 / (len(q) - 2) < 1.3 < c0 / (len(q) - 2)
    lr = np.log(radius)
    assert vol @ lr == pytest.approx(truth @ lr, abs=0.005)


def test_the_polish_basis_is_computed_once_and_never_changed_under_a_reader(monkeypatch):
    """The polish's sphere basis (kept per q and radius grid) equals V Phi^2(q R) on every row asked for, adds
    rows a later call asks for, and leaves an array already handed out as it was (copy on write)."""
    from sasview_nn_plugin.inference import polish
    from sasview_nn_plugin.inference.polish import sphere_basis
    from sasview_nn_plugin.physics.wide import sphere_amplitude2

    monkeypatch.setattr(polish, "_BASES", {})   # an empty cache, whatever ran before
    q = np.geomspace(0.01, 0.3, 57)
    radius = np.geomspace(5.0, 500.0, 40)
    first = np.arange(40) < 10
    b1 = sphere_basis(q, radius, first)
    np.testing.assert_array_equal(b1[first], sphere_amplitude2(q, radius[first]))
    assert not b1[~first].any()
    second = (np.arange(40) >= 5) & (np.arange(40) < 25)
    b2 = sphere_basis(q, radius, second)
    np.testing.assert_array_equal(b2[first | second], sphere_amplitude2(q, radius[first | second]))
    assert not b1[10:].any()                  # the first reader's array did not change
    assert sphere_basis(q, radius, first) is b2   # nothing new asked: the kept array itself
    with pytest.raises(ValueError):
        b2[0, 0] = 1.0                        # read-only
    # a model asked of the rows a Curve1D was made for ignores rows an earlier call left in the kept array
    from sasview_nn_plugin.inference.polish import Curve1D

    vol = np.ones(40)
    cur = Curve1D(q, np.ones_like(q), None, None, None, radius, first)
    np.testing.assert_allclose(cur.model(vol, 0.0), vol[first] @ sphere_amplitude2(q, radius[first]))
    # the cache holds at most BASIS_BYTES: a basis larger than that is computed and not kept
    monkeypatch.setattr(polish, "BASIS_BYTES", 100)
    big = sphere_basis(q, radius * 2, first)
    np.testing.assert_array_equal(big[first], sphere_amplitude2(q, 2 * radius[first]))
    assert all(b.nbytes <= 100 for b, _ in polish._BASES.values()) and len(polish._BASES) == 0


def _schulz_volume_on_grid(placed, radius: float, pd: float) -> np.ndarray:
    """The volume distribution of a Schulz number distribution (mean ``radius`` A, ``pd``) on the network's bins."""
    from scipy.stats import gamma

    z = 1 / pd**2 - 1
    edges = np.sqrt(GRIDS.rho[1:] * GRIDS.rho[:-1]) * placed.length
    edges = np.concatenate([[GRIDS.rho[0] * placed.length / 1.02], edges, [GRIDS.rho[-1] * placed.length * 1.02]])
    r = np.sqrt(edges[1:] * edges[:-1])
    number = np.diff(gamma.cdf(edges, z + 1, scale=radius / (z + 1)))
    return number * r**3 / (number * r**3).sum()


def test_unknown_phi_is_what_the_data_say_not_the_head(monkeypatch):
    """Hand-made: a network whose answer is the true distribution at every phi and whose phi head says 0.05 +- 0.001;
    the data (sasmodels, phi 0.25) are asked over PHI_PROFILE: the estimate is 0.25 within its sigma and 0.02,
    unflagged.  (Before the profile the head's 0.05 was used: SasView's AOT drop curve read phi 0.20 for the
    reference fit's 0.08, 35.5 A for 30.8.)  The profile's sigma decides the flag (set above / below
    PHI_SIGMA_MAX by hand); a given phi never has it."""
    import sasview_nn_plugin.inference.invert_wide as iw

    q = np.geomspace(0.005, 0.5, 200)
    clean = spheres(q, 40.0, 0.1, 0.25)
    di = 0.01 * clean
    noise = np.random.default_rng(3).standard_normal(len(q))
    i = clean + di * noise
    model = random_model()
    truth = _schulz_volume_on_grid(place(GRIDS, q, i, di, None, None), 40.0, 0.1)
    monkeypatch.setattr(WideModel, "predict_placed", lambda self, placed, phi: (
        np.tile(truth, (len(phi), 1)), np.full(len(phi), 0.05), np.full(len(phi), 0.001)))
    res = iw.invert_wide(model, q, i, di, polished=False)
    assert abs(res.volume_fraction_used - 0.25) <= max(0.02, 2 * res.volume_fraction_sigma)
    assert res.volume_fraction_sigma <= iw.PHI_SIGMA_MAX and "volume-fraction-uncertain" not in res.quality.flags
    for sigma, flagged in ((0.2, True), (0.001, False)):
        monkeypatch.setattr(iw, "profile_phi", lambda *args, s=sigma: (0.2, s, "by hand", {}))
        res = iw.invert_wide(model, q, i, di, polished=False)
        assert ("volume-fraction-uncertain" in res.quality.flags) is flagged
    assert "volume-fraction-uncertain" not in iw.invert_wide(model, q, i, di, volume_fraction=0.2,
                                                             polished=False).quality.flags


def test_size_spread_by_hand():
    """Radii 10 and 100 A; volume shares (0.5, 0.5) and (0.4, 0.6): volume means 55 and 64 A (ratio 1.164), number
    means 10.090 and 10.135 A (numbers v / R^3): the spread is the larger ratio less 1; equal answers: 0."""
    from sasview_nn_plugin.inference.invert_wide import size_spread

    r = np.array([10.0, 100.0])
    a, b = np.array([0.5, 0.5]), np.array([0.4, 0.6])
    assert size_spread(r, [a, b]) == pytest.approx(64.0 / 55.0 - 1.0)
    assert size_spread(r, [a, a]) == 0.0
    n_a, n_b = a / r**3, b / r**3
    ratio_n = (n_b @ r / n_b.sum()) / (n_a @ r / n_a.sum())
    assert 0 < ratio_n - 1 < 64.0 / 55.0 - 1.0


def test_an_uncertain_phi_the_sizes_do_not_rest_on_is_no_flag(monkeypatch):
    """Hand-made: the profile says phi 0.2 +- 0.2 (the data do not fix it).  Where the polished answers within
    +- sigma agree in size (the same answer at phi 0.1 and 0.3) the size does not rest on phi: no flag, a note says
    so (bench_domain seed 21, whole-curve model: such a right answer, a log-normal on the SANS window at phi 0
    read 0.000 +- 0.031, was flagged).  Where they differ by more than SIZE_SETTLED (the volume mean 20 % apart),
    the answer is flagged volume-fraction-uncertain, as it is when the profile asked no phi within the interval."""
    import sasview_nn_plugin.inference.invert_wide as iw
    from sasview_nn_plugin.inference.polish import fine_grid

    q = np.geomspace(0.005, 0.5, 200)
    i = spheres(q, 40.0)
    model = random_model()
    placed = place(GRIDS, q, i, 0.01 * i, None, None)
    vol = _schulz_volume_on_grid(placed, 40.0, 0.1)
    monkeypatch.setattr(WideModel, "predict_placed", lambda self, pl, phis: (
        np.tile(vol, (len(phis), 1)), np.full(len(phis), 0.2), np.full(len(phis), 0.001)))
    fine, same = fine_grid(GRIDS.rho * placed.length, vol)
    moved = np.interp(np.log(fine), np.log(fine) + np.log(1.2), same)   # the same shape at 1.2x the radius
    nothing = np.zeros_like(same)
    for answers, sigma, flagged in (({0.1: same, 0.3: same}, 0.2, False), ({0.1: same, 0.3: moved}, 0.2, True),
                                    ({}, 0.2, True), ({0.1: same, 0.45: moved}, 0.2, True),   # one answer inside
                                    ({0.1: same, 0.2: same, 0.45: moved}, 0.2, False),    # 0.45 is outside
                                    ({0.1: same, 0.3: same}, np.inf, True),      # the profile did not bound phi
                                    ({0.1: same, 0.3: nothing}, 0.2, True)):     # an answer with no size (NaN)
        monkeypatch.setattr(iw, "profile_phi", lambda *args, a=answers, s=sigma: (0.2, s, "by hand", a))
        res = iw.invert_wide(model, q, i, 0.01 * i, polished=False)
        assert ("volume-fraction-uncertain" in res.quality.flags) is flagged
        assert any("do not rest on it" in n for n in res.notes) is not flagged
        assert res.volume_fraction_sigma == pytest.approx(sigma)
    # the network's head, unsure and far off, flags whatever the sizes do, and the note does not say otherwise
    monkeypatch.setattr(WideModel, "predict_placed", lambda self, pl, phis: (
        np.tile(vol, (len(phis), 1)), np.full(len(phis), 0.9), np.full(len(phis), 0.05)))
    monkeypatch.setattr(iw, "profile_phi", lambda *args: (0.2, 0.2, "by hand", {0.1: same, 0.3: same}))
    res = iw.invert_wide(model, q, i, 0.01 * i, polished=False)
    assert "volume-fraction-uncertain" in res.quality.flags
    assert not any("do not rest on it" in n for n in res.notes)


def test_an_unsure_phi_head_contradicting_the_data_is_a_flag(monkeypatch):
    """Hand-made: the profile says 0.1 +- 0.01; a head that is unsure (sigma 0.07 > PHI_SIGMA_MAX) and more than
    HEAD_DISAGREE_Z of its sigmas away (0.4) marks a curve unlike the training set's: flagged, the sigma widened
    to the disagreement (SasView's polystyrene-blend SANS, polymer coils: head 0.36 +- 0.07 and 0.42 +- 0.06,
    profile 0.13 and 0.10, read as 14-17 A spheres with chi2 0.7-1.0).  A head that agrees, or a confident one
    (SasView's AOT drop curve: 0.199 +- 0.012 against the data's 0.118, read right), leaves the answer as it is."""
    import sasview_nn_plugin.inference.invert_wide as iw

    q = np.geomspace(0.005, 0.5, 200)
    i = spheres(q, 40.0)
    model = random_model()
    vol = _schulz_volume_on_grid(place(GRIDS, q, i, 0.01 * i, None, None), 40.0, 0.1)
    monkeypatch.setattr(iw, "profile_phi", lambda *args: (0.1, 0.01, "by hand", {}))
    # (0.2, 0.04): the head 2.5 of its sigmas away, as in-domain samples' often are (bench_domain seed 21, whole-curve
    # model: 7 right answers of 180 flagged so at HEAD_DISAGREE_Z = 2, z 2.0-3.8; the blends 4.5 and 6.5)
    for head, sigma, flagged in ((0.4, 0.07, True), (0.15, 0.07, False), (0.4, 0.01, False), (0.2, 0.04, False)):
        monkeypatch.setattr(WideModel, "predict_placed", lambda self, pl, phis, h=head, s=sigma: (
            np.tile(vol, (len(phis), 1)), np.full(len(phis), h), np.full(len(phis), s)))
        res = iw.invert_wide(model, q, i, 0.01 * i, polished=False)
        assert ("volume-fraction-uncertain" in res.quality.flags) is flagged
        assert res.volume_fraction_sigma == pytest.approx(abs(head - 0.1) if flagged else 0.01)


def test_unseen_reff_shift_by_hand():
    """Two radii, 10 and 100 A, number shares 0.9 / 0.1: volumes 900 and 100,000 (the small ones 0.9 % of the
    volume, below the 1 % quantile): number mean 19 A, 100 A without them: a shift of 100 / 19 - 1."""
    from sasview_nn_plugin.inference.invert_wide import unseen_reff_shift

    r, n = np.array([10.0, 100.0]), np.array([0.9, 0.1])
    v = n * r**3 / (n @ r**3)
    assert unseen_reff_shift(r, n, v) == pytest.approx(100.0 / 19.0 - 1.0)
    assert unseen_reff_shift(r, np.array([0.1, 0.9]), np.array([1e-4, 1.0 - 1e-4])) == pytest.approx(100 / 91 - 1)
    assert unseen_reff_shift(r, n, np.array([0.5, 0.5])) == 0.0      # both seen: nothing left out


def test_an_estimated_phi_resting_on_unseen_particles_is_a_flag(monkeypatch):
    """Hand-made: S(q)'s R_eff is the number mean; for a broad Schulz answer (pd 0.6) much of the
    number lies below the 1 % volume quantile, which the data barely see: leaving it out moves the number mean
    by more than REFF_UNSEEN_MAX: an estimated phi > 0 is then flagged (bench_wide: broad samples' estimates
    0.03-0.08 low with a sigma of 0.01, unflagged).  A narrow answer (pd 0.1), an estimate of 0 (no S(q)) and a
    given phi are not flagged."""
    import sasview_nn_plugin.inference.invert_wide as iw

    q = np.geomspace(0.005, 0.5, 200)
    i = spheres(q, 40.0)
    model = random_model()
    placed = place(GRIDS, q, i, 0.01 * i, None, None)
    for pd, phi, flagged in ((0.6, 0.2, True), (0.1, 0.2, False), (0.6, 0.0, False)):
        vol = _schulz_volume_on_grid(placed, 40.0, pd)
        monkeypatch.setattr(WideModel, "predict_placed", lambda self, pl, phis, v=vol: (
            np.tile(v, (len(phis), 1)), np.full(len(phis), 0.2), np.full(len(phis), 0.001)))
        monkeypatch.setattr(iw, "profile_phi", lambda *args, p=phi: (p, 0.01, "by hand", {}))
        res = iw.invert_wide(model, q, i, 0.01 * i, polished=False)
        shift = iw.unseen_reff_shift(res.radius, res.number_distribution, res.volume_distribution)
        assert bool(shift > iw.REFF_UNSEEN_MAX) is (pd == 0.6)
        assert ("volume-fraction-uncertain" in res.quality.flags) is flagged
        given = iw.invert_wide(model, q, i, 0.01 * i, volume_fraction=phi, polished=False)
        assert "volume-fraction-uncertain" not in given.quality.flags


def test_a_broad_answer_below_what_the_window_resolves_is_a_flag(monkeypatch):
    """Hand-made: on q 0.005-0.3 1/A the window resolves radii from pi/q_max = 10.5 A.  A broad answer (Schulz pd
    0.5, <R>v / <R>n 2.0) whose number mean lies below is flagged mass-outside-observable (bench_domain: polymer
    coils, Rg 20-80 A, read by the whole-curve model as spheres of number mean 9-10 A, <R>v / <R>n 1.3-2.4, 39 of
    40 unflagged); narrow spheres there (8 A, pd 0.1: read right from their Guinier curvature) and a broad answer
    at 20 A are not."""
    import sasview_nn_plugin.inference.invert_wide as iw

    q = np.geomspace(0.005, 0.3, 200)
    model = random_model()
    for radius, pd, flagged in ((8.0, 0.5, True), (8.0, 0.1, False), (20.0, 0.5, False)):
        i = spheres(q, radius, pd)
        vol = _schulz_volume_on_grid(place(GRIDS, q, i, 0.01 * i, None, None), radius, pd)
        monkeypatch.setattr(WideModel, "predict_placed", lambda self, pl, phis, v=vol: (
            np.tile(v, (len(phis), 1)), np.zeros(len(phis)), np.full(len(phis), 0.001)))
        res = iw.invert_wide(model, q, i, 0.01 * i, volume_fraction=0.0, polished=False)
        broad = res.mean_radius_volume > iw.BROAD_RATIO * res.mean_radius_number
        assert bool(res.mean_radius_number < np.pi / 0.3 and broad) is flagged
        assert ("mass-outside-observable" in res.quality.flags) is flagged


def test_refine_histogram_knots_follow_a_log_grid():
    """On a grid over 3 decades the histogram's knots are log-spaced over the radii the start occupies (a linear
    spread would put 23 of 24 knots above the distribution); on a linear grid they stay linear."""
    from sasview_nn_plugin.fitting.parametrisations import HistogramDistribution

    radius = np.geomspace(5.0, 5000.0, 900)
    start = np.exp(-0.5 * (np.log(radius / 50.0) / 0.05) ** 2)
    h = HistogramDistribution(radius, start / start.sum())
    # volume above 1e-6 of its peak: |ln(R/50)| < 0.05 sqrt(2 ln 1e6) = 0.26, and 3 % margin
    assert 50.0 * np.exp(-0.3) / 1.03 < h.knots[0] < 45.0 and 55.0 < h.knots[-1] < 50.0 * np.exp(0.3) * 1.03
    np.testing.assert_allclose(np.diff(np.log(h.knots)), np.log(h.knots[1] / h.knots[0]))
    outside = (radius < h.knots[0]) | (radius > h.knots[-1])   # the 1e-4 floor only where the knots reach
    np.testing.assert_allclose(h.base[outside] / h.base[~outside].sum(), start[outside] / start[~outside].sum(),
                               rtol=1e-3)
    linear = HistogramDistribution(np.linspace(9.0, 99.0, 100), np.full(100, 0.01))
    np.testing.assert_allclose(linear.knots, np.linspace(9.0, 99.0, 24))


def test_slit_smeared_usans_latex_reads_as_sasmodels_fits_it():
    """SasView's latex_smeared.xml USANS entry (slit length dQl 0.117 1/A in the file): the windowed model read
    993 A, unflagged.  The whole-curve model, given the file's slit, must agree with sasmodels' own fit of the same
    points (sphere, Schulz pd, Slit1D with the file's slit length, scale and background free) within 3 %."""
    from sasmodels.resolution import Slit1D
    from scipy.optimize import least_squares

    from sasview_nn_plugin import invert, load_curves

    usans = load_curves(REPO / "tests" / "data" / "sasview_examples" / "latex_smeared.xml")[1]
    length = usans.one_slit_length("this test")
    assert length == pytest.approx(0.117)
    res = Slit1D(usans.q, q_length=length)
    kernel = load_model("sphere").make_kernel([res.q_calc])

    def residual(p):
        i = res.apply(call_kernel(kernel, dict(radius=p[0], radius_pd=p[1], radius_pd_n=60, background=0.0)))
        return (10 ** p[2] * i + p[3] - usans.intensity) / usans.di

    fits = [least_squares(residual, [r0, 0.1, -3.0, 0.0], bounds=([100, 0.005, -12, -1e3], [2e4, 0.5, 6, 1e3]))
            for r0 in (1500.0, 2500.0, 3500.0)]
    kernel.release()
    radius = min(fits, key=lambda f: f.cost).x[0]
    got = invert(usans, volume_fraction=0.0, model="wide")
    assert got.mean_radius_number == pytest.approx(radius, rel=0.03)
    assert got.quality.flags == ()
    arrays = invert(usans.q, usans.intensity, usans.di, volume_fraction=0.0, model="wide", slit_length=length)
    assert arrays.mean_radius_number == pytest.approx(got.mean_radius_number, rel=1e-9)   # slit_length= in the API
    with pytest.raises(InputError) as err:   # the windowed model does not smear slits: refused, naming the way
        invert(usans.q, usans.intensity, usans.di, volume_fraction=0.0, slit_length=length, model="default")
    assert err.value.parameter == "slit_length" and "model='wide'" in str(err.value)
    chosen = invert(usans.q, usans.intensity, usans.di, volume_fraction=0.0, slit_length=length)   # the default
    assert chosen.mean_radius_number == pytest.approx(got.mean_radius_number, rel=1e-9)


def test_cli_slit_length_and_q_range_with_the_whole_curve_model(tmp_path):
    """`invert FILE --model wide --slit-length L` on an ASCII file that states no slit reads as the CanSAS file with
    its dQl; --q-min/--q-max use only those points and are recorded in the JSON; the windowed model refuses the
    slit with exit code 2 and nothing written."""
    import json

    from sasview_nn_plugin import load_curves
    from sasview_nn_plugin.cli import main

    usans = load_curves(REPO / "tests" / "data" / "sasview_examples" / "latex_smeared.xml")[1]
    ascii_file = tmp_path / "usans.txt"
    np.savetxt(ascii_file, np.column_stack([usans.q, usans.intensity, usans.di]), header="Q (1/A)  I  dI")
    out = tmp_path / "out"
    rc = main(["invert", str(ascii_file), "--volume-fraction", "0", "--model", "wide", "--slit-length", "0.117",
               "--q-min", "1e-4", "--q-max", "0.004", "--output", str(out)])
    assert rc == 0
    record = json.loads((out / "usans.json").read_text())
    used = (usans.q >= 1e-4) & (usans.q <= 0.004)
    expected = invert_wide(load_wide(REPO / "trained_models" / "wide.h5"), usans.q[used], usans.intensity[used],
                           usans.di[used], volume_fraction=0.0, slit_length=0.117)
    assert record["mean_radius_number"] == pytest.approx(expected.mean_radius_number, rel=1e-9)
    assert record["input"]["q_range_requested"] == [1e-4, 0.004]
    assert record["input"]["q_min"] >= 1e-4 and record["input"]["q_max"] <= 0.004
    assert record["input"]["slit_length"] == pytest.approx(0.117)
    refused = tmp_path / "refused"
    rc = main(["invert", str(ascii_file), "--volume-fraction", "0", "--slit-length", "0.117", "--model", "default",
               "--output", str(refused)])
    assert rc == 2 and not any(refused.glob("*.json"))
    chosen = tmp_path / "chosen"   # the default (auto) reads it with the whole-curve model
    rc = main(["invert", str(ascii_file), "--volume-fraction", "0", "--slit-length", "0.117", "--q-min", "1e-4",
               "--q-max", "0.004", "--output", str(chosen)])
    assert rc == 0
    assert json.loads((chosen / "usans.json").read_text())["mean_radius_number"] == pytest.approx(
        expected.mean_radius_number, rel=1e-9)


def test_a_low_q_upturn_is_fitted_as_a_power_law_not_flagged():
    """Hand-made: 50 A +- 10 % spheres plus an aggregates' upturn A q^-3 as large as the spheres at q_min, a flat
    background and 1 % noise.  The check includes the power law the evidence asked for: unflagged, the volume mean
    within 3 % (the sample's is 51.5 A: the spheres' alone)."""
    q = np.geomspace(0.003, 0.5, 300)
    radii = np.linspace(35.0, 65.0, 61)
    weights = np.exp(-0.5 * ((radii - 50.0) / 5.0) ** 2)
    x = np.outer(radii, q)
    spheres_i = weights @ (radii[:, None] ** 3 * 3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2 / (weights @ radii**3)
    truth_v = (weights * radii**4).sum() / (weights * radii**3).sum()
    data = spheres_i + spheres_i[0] * (q / q[0]) ** -3.0 + 1e-3 * spheres_i[0]
    di = 0.01 * data
    data = data + di * np.random.default_rng(0).standard_normal(len(q))
    from sasview_nn_plugin import invert

    res = invert(q, data, di, volume_fraction=0.0, model="wide")
    assert any("power law" in n for n in res.notes)
    assert res.quality.flags == ()
    assert res.mean_radius_volume == pytest.approx(truth_v, rel=0.03)


def test_a_number_distribution_resting_on_unseen_particles_is_flagged(monkeypatch):
    """Hand-made answers: a broad log-normal in volume (sigma 0.8: half its number below its 1 % volume quantile)
    is flagged number-distribution-undetermined; a narrow one (sigma 0.1) is not."""
    q = np.geomspace(0.001, 0.5, 200)
    i = spheres(q, 40.0)
    lr = np.log(GRIDS.rho)
    for sigma, flagged in ((0.8, True), (0.1, False)):
        vol = np.exp(-0.5 * ((lr - np.log(2.0)) / sigma) ** 2)
        monkeypatch.setattr(WideModel, "predict_placed", lambda self, placed, phi, v=vol / vol.sum(): (
            v[None], np.array([0.0]), np.array([0.01])))
        res = invert_wide(random_model(), q, i, 0.01 * i, volume_fraction=0.0, polished=False)
        assert ("number-distribution-undetermined" in res.quality.flags) is flagged


def test_model_auto_chooses_by_the_curve():
    """``model="auto"``: the whole-curve network for a decade of q or more or slit-smeared data, the windowed one
    under a decade; a note says which, in invert and invert_many alike."""
    from sasview_nn_plugin import invert, invert_many
    from sasview_nn_plugin.inference.wide_model import choose_network

    wide_q, narrow_q = np.geomspace(0.005, 0.5, 200), np.geomspace(0.04, 0.105, 100)
    assert choose_network(wide_q)[0] == "wide" and choose_network(narrow_q)[0] is None
    assert choose_network(np.geomspace(1e-4, 8e-4, 50), slit_length=0.02)[0] == "wide"
    for q, name in ((wide_q, "wide"), (narrow_q, "default")):
        i = spheres(q, 40.0)
        res = invert(q, i, 0.01 * i, volume_fraction=0.0, model="auto")
        assert res.model == name and res.notes[0].startswith("model auto:")
        many = invert_many(q, np.stack([i, 2 * i]), 0.01 * np.stack([i, 2 * i]), volume_fractions=0.0, model="auto")
        assert [r.model for r in many] == [name, name] and all(r.notes[0] == res.notes[0] for r in many)


def test_review_fixes_auto_in_any_case_slit_refusals_and_slit_frames():
    """``model="AUTO"`` is auto; slit data under a decade are refused naming the q range, not the windowed model
    (which reads no slit); slit-smeared frames of one table are inverted with their slit (``invert_many`` reads
    none: they go one by one), so each result carries its slit length."""
    from sasview_nn_plugin import invert
    from sasview_nn_plugin.data.curve import Curve
    from sasview_nn_plugin.runs import process

    q = np.geomspace(0.005, 0.5, 200)
    i = spheres(q, 40.0)
    assert invert(q, i, 0.01 * i, volume_fraction=0.0, model="AUTO").notes[0].startswith("model auto:")
    short = np.geomspace(1e-4, 8e-4, 60)
    with pytest.raises(InputError) as err:
        invert(short, spheres(short, 2000.0), volume_fraction=0.0, model="auto", slit_length=0.02)
    assert err.value.parameter == "q_range" and "model='default'" not in str(err.value)
    q2 = np.geomspace(1e-4, 0.05, 150)
    rows = [spheres(q2, r) for r in (1500.0, 1800.0)]
    frames = [(f"t#{k}", "t.h5", "sid", k, Curve(q2, row, 0.01 * row, None, "t.h5", slit_length=np.full(len(q2), 0.03)))
              for k, row in enumerate(rows)]
    settings = process.settings_for(process.RunOptions(volume_fraction=0.0, model="wide"))
    results = process.process_frames(frames, settings)
    assert all(r.status == "ok" and r.inversion.curve.one_slit_length("t") == pytest.approx(0.03) for r in results)


def test_a_wide_model_files_interval_calibration_reaches_refine(tmp_path):
    """The whole-curve model's file carries its refinement's interval calibration, as the windowed model's does:
    invert hands it to the result and ``refine`` widens its intervals by it (the number mean's 68 % interval
    scales with the factor); a malformed one is refused when the file is read."""
    from sasview_nn_plugin import invert, refine
    from sasview_nn_plugin.inference.modelfile import write_calibration

    path = save_wide(random_model(), tmp_path / "m.h5")
    q = np.geomspace(0.005, 0.5, 120)
    intensity = spheres(q, 60.0)
    di = 0.01 * intensity
    widths = {}
    for f in (1.0, 3.0):
        cal = {"factors": {name: [f, 2 * f] for name in ("mean_radius_number", "mean_radius_volume",
                                                         "volume_fraction", "cumulative")},
               "observability": {"x": 0.0, "power": 0.0}}
        write_calibration(path, cal)
        start = invert(q, intensity, di, volume_fraction=0.0, model=str(path))
        assert start.calibration == cal
        ref = refine(q, intensity, di, start)
        assert ref.uncertainty.calibration == cal
        lo95, lo68, hi68, hi95 = ref.uncertainty.intervals["mean_radius_number"]
        widths[f] = (hi68 - lo68, ref.mean_radius_number)
    assert widths[3.0][0] == pytest.approx(3 * widths[1.0][0], rel=0.02)
    assert widths[3.0][1] == pytest.approx(widths[1.0][1], rel=1e-6)
    with h5py.File(path, "r+") as f:
        info = json.loads(f.attrs["info"])
        info["interval_calibration"]["factors"]["mean_radius_number"] = [-1, 2]
        f.attrs["info"] = json.dumps(info)
    with pytest.raises(ModelFileError, match="calibration"):
        load_wide(path)


@pytest.mark.parametrize("kind,radius,pd,phi", [("gaussian", 40.0, 0.1, 0.03), ("schulz", 60.0, 0.15, 0.05),
                                                ("gaussian", 25.0, 0.1, 0.02), ("schulz", 40.0, 0.1, 0.08)])
def test_a_low_volume_fraction_is_estimated_without_the_coarse_profiles_bias(kind, radius, pd, phi):
    """Defect (bench_domain, phi unknown, phi 0.01-0.1): the profile's parabola through the best three of phi 0,
    0.05, ... 0.5 read these sasmodels curves 0.022-0.042 high with a sigma of 0.01 and no flag (0.067, 0.072,
    0.062, 0.113): the polished answers' chi2 rises steeply below the truth and slowly above it.  The step is now
    halved around the best twice: within 0.015, and not silently wrong by the issue's rule (within max(0.03, 2
    sigma); a 68 % interval misses by more than two sigma one time in twenty: the gaussian 25 A curve reads
    0.0095 high with a sigma of 0.0041 since the systematic floor is 0.004)."""
    q = np.geomspace(0.008, 0.3, 300)   # bench_domain's lab window
    kernel = load_model("sphere@hardsphere").make_kernel([q])
    clean = call_kernel(kernel, dict(scale=1.0, background=0.001, radius=radius, radius_pd=pd, radius_pd_n=80,
                                     radius_pd_nsigma=4, radius_pd_type=kind, volfraction=phi,
                                     radius_effective_mode=1))
    kernel.release()
    di = 0.015 * clean
    intensity = clean + di * np.random.default_rng(2).standard_normal(len(q))
    res = invert(q, intensity, di, model="wide")
    error = abs(res.volume_fraction_used - phi)
    assert error <= 0.015 and error <= max(0.03, 2 * res.volume_fraction_sigma)


@pytest.mark.parametrize("noise_seed", [1, 3])
def test_a_flat_low_phi_profile_widens_the_sigma(noise_seed):
    """Defect (bench_domain seed 14, phi unknown: 8 of 180 curves silently wrong, all with phi): the polished
    answers' chi2 jitters with phi by 10-40 on 300 points (each phi's polish starts from its own network answer),
    so where the profile is flat at low phi the best point is chance.  These 14 A Schulz spheres at phi 0.010 read
    0.044 +- 0.007 (noise seed 1) and 0.043 +- 0.015 (3), unflagged.  Now the best phi's polished answer is polished
    again at the others (a profile) and what jitter is left widens the sigma: the truth within max(0.03, 2 sigma),
    or the answer flagged."""
    q = np.geomspace(0.008, 0.3, 300)   # bench_domain's lab window
    kernel = load_model("sphere@hardsphere").make_kernel([q])
    phi = 0.0101
    clean = call_kernel(kernel, dict(scale=1.0, background=0.001, radius=14.4, radius_pd=0.21, radius_pd_n=80,
                                     radius_pd_nsigma=4, radius_pd_type="schulz", volfraction=phi,
                                     radius_effective_mode=1))
    kernel.release()
    di = 0.015 * clean
    intensity = clean + di * np.random.default_rng(noise_seed).standard_normal(len(q))
    res = invert(q, intensity, di, model="wide")
    error = abs(res.volume_fraction_used - phi)
    assert error <= max(0.03, 2 * res.volume_fraction_sigma) or res.quality.flags
