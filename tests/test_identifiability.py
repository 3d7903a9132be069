"""Identifiability map: sasmodels-exact curves, and properties with a known answer."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from sasview_nn_plugin.fitting.identifiability import MapSettings, compute_map, log_curves, q_points

SMALL = dict(r_min=10.0, r_max=100.0, n_radius=12, pd_min=0.04, pd_max=0.3, n_pd=6, points_per_decade=120)


@pytest.fixture(scope="module")
def base_map():
    return compute_map(MapSettings(q_min=0.05, q_max=0.09, noise=0.01, **SMALL))


@pytest.mark.parametrize("family", ["schulz", "lognormal"])
def test_curves_equal_sasmodels_own_dispersion(family):
    from sasmodels.core import load_model
    from sasmodels.direct_model import call_kernel

    s = MapSettings(family=family, volume_fraction=0.3, **SMALL)
    q = q_points(s.q_min, s.q_max, s.points_per_decade)
    radius, width, ln_i = log_curves(s, q)
    kernel = load_model("sphere@hardsphere", dtype="double", platform="dll").make_kernel([q])
    for i, j in [(3, 1), (8, 4), (11, 5)]:
        ref = call_kernel(kernel, dict(radius=radius[i], radius_pd=width[j], radius_pd_type=family, radius_pd_n=200,
                                       radius_pd_nsigma=8, volfraction=0.3, radius_effective_mode=1))
        d = ln_i[i, j] - np.log(ref)
        assert np.ptp(d) < 2e-3, (family, radius[i], width[j], np.ptp(d))  # same shape (scale is free)


def test_wider_q_range_never_shrinks_region(base_map):
    wide = compute_map(MapSettings(q_min=0.03, q_max=0.15, noise=0.01, **SMALL))
    assert set(base_map.q.round(12)) <= set(wide.q.round(12))  # nested point sets
    assert np.all(wide.delta_chi2 >= base_map.delta_chi2 * (1 - 1e-9))
    assert np.all(wide.identifiable >= base_map.identifiable)
    assert wide.identifiable.sum() > base_map.identifiable.sum()  # and here it really grows


def test_more_noise_never_grows_region(base_map):
    noisy = compute_map(MapSettings(q_min=0.05, q_max=0.09, noise=0.05, **SMALL))
    assert np.all(noisy.identifiable <= base_map.identifiable)
    assert noisy.identifiable.sum() < base_map.identifiable.sum()


def test_known_cases(base_map):
    # 10 A spheres seen at q R < 1 (Guinier only): their width cannot be told apart; 50 A, pd 0.1 can
    assert base_map.lookup(10.0, 0.04) is False
    assert base_map.lookup(50.0, 0.1) is True
    assert base_map.lookup(500.0, 0.1) is None  # outside the map
    assert "outside the region" in base_map.warning(10.0, 0.04)
    assert base_map.warning(50.0, 0.1) is None


def test_1990_floor_orders_regions(base_map):
    looser = compute_map(MapSettings(q_min=0.05, q_max=0.09, noise=0.01, floor=1e-4, **SMALL))
    assert looser.identifiable_1990.sum() >= base_map.identifiable_1990.sum()
    assert np.array_equal(looser.distance, base_map.distance)


def test_cli_writes_map_and_refuses_bad_range(tmp_path):
    args = [sys.executable, "-m", "sasview_nn_plugin.cli", "identifiability", "--r-min", "10", "--r-max", "100",
            "--pd-min", "0.04", "--output", str(tmp_path / "map")]
    r = subprocess.run(args, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "map" / "identifiability.json").read_text())
    assert 0 < summary["fraction_identifiable"] < 1
    assert (tmp_path / "map" / "identifiability.png").stat().st_size > 10_000
    rows = (tmp_path / "map" / "identifiability.csv").read_text().splitlines()
    assert len(rows) == 1 + 40 * 20
    bad = subprocess.run([*args[:4], "--q-min", "0.2", "--q-max", "0.1", "--output", str(tmp_path / "x")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "q_min < q_max" in bad.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("check", [None, True, False])
def test_a_run_warns_outside_the_region_only_when_asked(tmp_path, check):
    """Hand-made results (no network), Schulz spheres on the model's window 0.04-0.106 1/A, judged by the map's
    physics: 11 A, pd 0.05, 3 % noise (q R < 1.2, the Guinier regime: neighbouring radii and widths give curves
    within the noise) lies outside the noise-aware region; 45 A, pd 0.1, 1 % noise (q R 1.8-4.8, through the
    form factor's first minimum) inside.  A run checks only where asked: by default (None) with refine or
    parametric, not for the network alone; True or False as given.  The warning is the frame's last and reaches
    its JSON record."""
    from dataclasses import replace

    from helpers import hand_made_start, sasmodels_curve, schulz

    from sasview_nn_plugin.runs.batch import write_frame_files
    from sasview_nn_plugin.runs.process import FrameResult, RunOptions, _checked, settings_for

    q = np.geomspace(0.0399, 0.106, 300)
    results = {}
    for name, radius, pd, noise in (("small", 11.0, 0.05, 0.03), ("medium", 45.0, 0.1, 0.01)):
        i = sasmodels_curve(q, radius, pd, "schulz", 0.3)
        di = noise * i
        i = i + di * np.random.default_rng(2).standard_normal(len(q))
        results[name] = hand_made_start(schulz(radius, pd), 0.3, i, di, q=q, window=(float(q[0]), float(q[-1])))
    for refine in (None, "lm"):
        settings = settings_for(RunOptions(volume_fraction=0.3, refine=refine, check_identifiability=check))
        asked = bool(refine) if check is None else check
        assert settings.check_identifiability is asked
        small = _checked(FrameResult("small", "small.txt", 0, "ok", inversion=results["small"]), settings)
        medium = _checked(FrameResult("medium", "medium.txt", 0, "ok", inversion=results["medium"]), settings)
        assert medium.warnings == []
        if not asked:
            assert small.warnings == []
            continue
        assert len(small.warnings) == 1 and "outside the region" in small.warnings[0], small.warnings
        assert "radius 11." in small.warnings[0] and "noise 3 %" in small.warnings[0]
        write_frame_files(replace(small, curve=results["small"].curve), tmp_path / "small")
        rec = json.loads((tmp_path / "small.json").read_text())
        assert rec["warnings"] == small.warnings
