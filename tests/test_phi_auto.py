"""Unknown volume fraction: `invert(..., volume_fraction=None)` and `--volume-fraction auto` estimate phi."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from sasview_nn_plugin.cli import main
from sasview_nn_plugin.data.writers import save_curve
from sasview_nn_plugin.inference.invert import invert, invert_many
from sasview_nn_plugin.inference.modelfile import load_model
from sasview_nn_plugin.physics import distributions
from sasview_nn_plugin.physics import kernels as physics
from sasview_nn_plugin.physics.grids import RadiusGrid

GRID = RadiusGrid(5.0, 150.0, 300)


def schulz_curve(mean: float, phi: float, seed: int = 1):
    """(q, noisy I, dI = 1 % of I, true number-mean) of Schulz spheres (pd 0.1) on the model's q grid."""
    nn = load_model()
    w = np.diff(distributions.schulz_cdf(GRID.edges, mean, 0.1))
    w /= w.sum()
    intensity = physics.intensity(physics.sphere_basis(nn.q, GRID.radius), w, phi)
    noisy = intensity * (1 + 0.01 * np.random.default_rng(seed).standard_normal(intensity.shape))
    return nn.q, noisy, 0.01 * intensity, float(w @ GRID.radius)


@pytest.mark.parametrize("mean", [40.0, 60.0])
@pytest.mark.parametrize("phi", [0.15, 0.3, 0.45])
@pytest.mark.parametrize("with_di", [True, False])
def test_phi_is_recovered_with_a_finite_sigma(mean, phi, with_di):
    q, intensity, di, true_mean = schulz_curve(mean, phi)
    inv = invert(q, intensity, di if with_di else None, volume_fraction=None)
    assert abs(inv.volume_fraction_used - phi) < 0.03
    assert math.isfinite(inv.volume_fraction_sigma) and inv.volume_fraction_sigma > 0
    assert abs(inv.mean_radius_number / true_mean - 1) < 0.02
    assert any(n.startswith("volume fraction estimated from the curve") for n in inv.notes)
    d = inv.to_dict()
    assert d["volume_fraction_estimated"] is True and d["volume_fraction_sigma"] == inv.volume_fraction_sigma
    assert d["volume_fraction"] == inv.volume_fraction_used


def test_a_given_phi_is_unchanged():
    q, intensity, di, _ = schulz_curve(50.0, 0.3)
    inv = invert(q, intensity, di, volume_fraction=0.3)
    assert inv.volume_fraction_used == 0.3 and inv.volume_fraction_sigma is None
    d = inv.to_dict()
    assert "volume_fraction_estimated" not in d and "volume_fraction_sigma" not in d
    again = invert(q, intensity, di, volume_fraction=0.3)
    np.testing.assert_array_equal(inv.number_distribution, again.number_distribution)
    many = invert_many(q, np.stack([intensity, intensity]), volume_fractions=[0.3, np.nan])
    single = invert(q, intensity, volume_fraction=0.3).number_distribution  # the batch: float32 rows, as before
    np.testing.assert_allclose(many[0].number_distribution, single, rtol=1e-4, atol=1e-12)
    assert many[0].volume_fraction_sigma is None and many[1].volume_fraction_sigma is not None
    assert abs(many[1].volume_fraction_used - 0.3) < 0.03


def test_cli_invert_and_batch_accept_auto(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    for phi in (0.15, 0.45):
        q, intensity, di, _ = schulz_curve(50.0, phi)
        save_curve(d / f"phi{phi}.txt", q, intensity, di)
    out = tmp_path / "o"
    assert main(["invert", str(d / "phi0.45.txt"), "--volume-fraction", "auto", "--output", str(out)]) == 0
    rec = json.loads((out / "phi0.45.json").read_text())
    assert rec["volume_fraction_estimated"] is True and rec["volume_fraction_sigma"] > 0
    assert abs(rec["volume_fraction"] - 0.45) < 0.03
    run = tmp_path / "run"
    assert main(["batch", str(d), "--volume-fraction", "auto", "--output", str(run)]) == 0
    with open(run / "summary.csv", newline="") as f:
        rows = {r["frame"]: r for r in csv.DictReader(f)}
    for phi in (0.15, 0.45):
        row = next(r for k, r in rows.items() if f"phi{phi}" in k)
        assert row["status"] == "ok" and abs(float(row["volume_fraction"]) - phi) < 0.03
        assert 0.005 < float(row["volume_fraction_sigma"]) < 0.05   # the uncertainty travels into every output
    import h5py

    with h5py.File(run / "results.h5") as f:
        sig = f["entry/distributions/volume_fraction_sigma"][:]
    assert np.all((sig > 0.005) & (sig < 0.05))
    given = tmp_path / "given"
    assert main(["batch", str(d), "--volume-fraction", "0.3", "--output", str(given), "--quiet"]) == 0
    with open(given / "summary.csv", newline="") as f:
        assert {r["volume_fraction_sigma"] for r in csv.DictReader(f)} == {""}   # a given phi has none


def test_auto_in_a_volume_fraction_table_and_a_bad_value(tmp_path):
    from sasview_nn_plugin.runs.tables import read_volume_fraction_table

    table = tmp_path / "phi.csv"
    table.write_text("frame,volume_fraction\na,auto\nb,0.3\n")
    assert read_volume_fraction_table(table) == {"a": None, "b": 0.3}
    q, intensity, di, _ = schulz_curve(50.0, 0.3)
    save_curve(tmp_path / "c.txt", q, intensity, di)
    assert main(["invert", str(tmp_path / "c.txt"), "--volume-fraction", "abc", "--output", str(tmp_path / "o")]) == 2


WIDE_MISS = pytest.mark.xfail(strict=True, reason="the whole-curve model's profile reads phi 0.031 +- 0.0085 "
                              "(true 0.072) and the number mean 78.3 A for 86.9: one of its 1.7 % silent on "
                              "bench_domain (docs/wide.md)")


@pytest.mark.parametrize("model", ["default", "wide"])
@pytest.mark.parametrize("radius,pd,phi,seed", [(20.2, 0.2823, 0.103, 1), (20.2, 0.2823, 0.103, 3),
                                                (83.9, 0.2637, 0.072, 2), (83.9, 0.2637, 0.072, 3),
                                                (79.1, 0.2832, 0.059, 3)])
def test_an_estimated_phi_the_data_do_not_fix_says_so(radius, pd, phi, seed, model, request):
    """Defect (issue 25, bench_domain with phi unknown: 15 % of curves silently wrong, the sigma covering 52 %):
    the windowed network's candidates at neighbouring phi miss the data by amounts its own errors set, so the
    profile's parabola put phi 0.03-0.10 off with a sigma of 0.01 and no flag (these sasmodels log-normal curves,
    bench_domain's lab window: 0.133, 0.000, 0.108, 0.104, 0.099).  Now the sigma spans the candidates the misfit
    does not exclude, and one above PHI_SIGMA_FLAG is flagged: the answer states its phi honestly or is flagged.
    (Seed 2 of the first curve is still read 0.000 +- 0.010 unflagged: its profile rises steeply from the edge.)
    The same curves read by the whole-curve model (invert's default on this 1.6-decade window)."""
    from sasmodels.core import load_model as sas_model
    from sasmodels.direct_model import call_kernel

    q = np.geomspace(0.008, 0.3, 300)
    kernel = sas_model("sphere@hardsphere").make_kernel([q])
    clean = call_kernel(kernel, dict(scale=1.0, background=0.0, radius=radius, radius_pd=pd, radius_pd_n=80,
                                     radius_pd_nsigma=6, radius_pd_type="lognormal", volfraction=phi,
                                     radius_effective_mode=1))
    kernel.release()
    clean = clean + 0.02 * clean[-1]
    di = 0.02 * clean
    if model == "wide" and (radius, seed) == (83.9, 2):
        request.applymarker(WIDE_MISS)
    res = invert(q, clean + di * np.random.default_rng(seed).standard_normal(len(q)), di, model=model)
    error, sigma = abs(res.volume_fraction_used - phi), res.volume_fraction_sigma
    assert error <= max(0.03, 2 * sigma) or "volume-fraction-uncertain" in res.quality.flags


def test_the_undecided_span_holds_the_answers_the_misfit_does_not_exclude():
    """Hand-made profile: the best answer misses its 100 degrees of freedom by E = 50 (chi2 150, chi2_red 1.5).
    Answers within max(1, chi2_red) + excess x E of it are not excluded: with excess 0 only those within 1.5
    (phi 0.10 and 0.15), with 0.25 those within 14 (0.05-0.20), with 1 those within 51.5 (0.05-0.25); phi 0 and
    0.30 never.  The sigma is widened to half the span (in quadrature), never narrowed."""
    from sasview_nn_plugin.inference.phi import undecided_span, widened

    phis = np.array([0.0, 0.05, 0.10, 0.15, 0.20, 0.25, 0.30])
    chi2 = np.array([400.0, 160.0, 151.0, 150.0, 162.0, 195.0, 260.0])
    red = chi2 / 100.0
    assert undecided_span(phis, chi2, red, 0.0) == (0.10, 0.15)
    assert undecided_span(phis, chi2, red, 0.25) == (0.05, 0.20)
    assert undecided_span(phis, chi2, red, 1.0) == (0.05, 0.25)
    sigma, note = widened(0.01, "", phis, chi2, red, 0.25)
    assert sigma == pytest.approx(math.hypot(0.01, 0.075)) and "0.05-0.2" in note and "widened to 0.076" in note
    assert widened(0.2, "", phis, chi2, red, 0.25)[0] == 0.2
