"""Simulator: file contents, reproducibility, noise model, atomic writes, bad input."""

from __future__ import annotations

import subprocess
import sys

import h5py
import numpy as np
import pytest
from sasmodels_reference import sasmodels_sphere_hs

from sasview_nn_plugin.physics import distributions
from sasview_nn_plugin.physics.grids import RadiusGrid
from sasview_nn_plugin.training import simulate

SMALL_GRID = ["--n-q", "120", "--n-r", "40"]


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "sasview_nn_plugin.cli", *args],
                          capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def small_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim") / "train.h5"
    r = run_cli("simulate", "--n", "300", "--seed", "7", "--out", str(out), "--quiet", *SMALL_GRID)
    assert r.returncode == 0, r.stderr
    return out


def test_file_contents(small_file):
    with h5py.File(small_file) as f:
        n_q, n_r = len(f["q"]), len(f["radius"])
        assert (n_q, n_r) == (120, 40)
        for name, shape in [("intensity", (300, n_q)), ("intensity_clean", (300, n_q)),
                            ("number_distribution", (300, n_r)), ("volume_fraction", (300,)),
                            ("scale", (300,)), ("background", (300,)), ("noise", (300,))]:
            assert f[name].shape == shape, name
        w = f["number_distribution"][:]
        np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-12)
        assert (w >= 0).all()
        phi, noise = f["volume_fraction"][:], f["noise"][:]
        assert 0.1 <= phi.min() and phi.max() <= 0.5
        assert 0 <= noise.min() and noise.max() <= 0.03
        assert f.attrs["seed"] == 7 and f.attrs["complete"]
        assert f.attrs["convention_radius_effective_mode"] == 1
        assert f.attrs["convention_structure_factor_mode"] == 0
        assert f.attrs["sasmodels_version"]
        scale = f["scale"][:]
        assert scale.max() / scale.min() > 100  # several decades


def test_clean_curves_equal_sasmodels(small_file):
    with h5py.File(small_file) as f:
        q, radius = f["q"][:], f["radius"][:]
        for i in (0, 17, 299):
            ref = sasmodels_sphere_hs(q, radius, f["number_distribution"][i], f["volume_fraction"][i],
                                      f["scale"][i], f["background"][i])
            np.testing.assert_allclose(f["intensity_clean"][i], ref, rtol=2e-7)  # stored as float32


def test_noise_model(small_file):
    with h5py.File(small_file) as f:
        rel = f["intensity"][:] / f["intensity_clean"][:] - 1
        noise = f["noise"][:]
    keep = noise > 0.005
    z = rel[keep] / noise[keep, None]
    assert abs(z.std() - 1) < 0.02 and abs(z.mean()) < 0.02


def test_reproducible_and_seed_dependent(tmp_path):
    paths = [tmp_path / f"{k}.h5" for k in "abc"]
    for p, seed in zip(paths, (3, 3, 4), strict=True):
        simulate.simulate(50, seed, p, simulate.SimulationSettings(), progress=False)
    with h5py.File(paths[0]) as a, h5py.File(paths[1]) as b, h5py.File(paths[2]) as c:
        np.testing.assert_array_equal(a["intensity"][:], b["intensity"][:])
        assert not np.allclose(a["number_distribution"][:], c["number_distribution"][:])


def test_interrupted_run_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def boom(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    real = simulate.simulate_batch
    monkeypatch.setattr(simulate, "simulate_batch", boom)
    monkeypatch.setattr(simulate, "CHUNK", 10)
    with pytest.raises(KeyboardInterrupt):
        simulate.simulate(50, 1, tmp_path / "x.h5", progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args,message", [
    (["--n", "0"], "--n must be a positive integer"),
    (["--n", "-5"], "--n must be a positive integer"),
    (["--q-min", "0.2", "--q-max", "0.1"], "q grid is inverted"),
    (["--q-min", "-0.1"], "q grid must be positive"),
    (["--n-q", "0"], "q grid needs at least 2 points"),
    (["--r-min", "50", "--r-max", "50"], "r grid is inverted"),
    (["--r-min", "0"], "r grid must be positive"),
    (["--phi-max", "0.8"], "volume fraction must be in"),
    (["--phi-min", "-0.1"], "volume fraction must be in"),
    (["--noise-max", "-0.01"], "--noise-max must be >= 0"),
])
def test_bad_input_exit_2_nothing_written(tmp_path, args, message):
    base = {"--n": "10", "--out": str(tmp_path / "o.h5")}
    for k, v in zip(args[::2], args[1::2], strict=True):
        base[k] = v
    r = run_cli("simulate", *[x for kv in base.items() for x in kv], "--quiet")
    assert r.returncode == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output(tmp_path):
    r = run_cli("simulate", "--n", "5", "--out", str(tmp_path / "missing" / "o.h5"), "--quiet")
    assert r.returncode == 2 and "does not exist" in r.stderr
    r = run_cli("simulate", "--n", "5", "--out", str(tmp_path), "--quiet")
    assert r.returncode == 2 and "is a directory" in r.stderr


@pytest.mark.parametrize("family", ["mixed", *distributions.FAMILIES])
def test_families_valid_and_seeded(family):
    grid = RadiusGrid()
    a = distributions.sample(np.random.default_rng(5), 200, grid, family)
    b = distributions.sample(np.random.default_rng(5), 200, grid, family)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (200, 100) and (a >= 0).all()
    np.testing.assert_allclose(a.sum(axis=1), 1.0)
    assert np.unique(a.argmax(axis=1)).size > 10  # modes spread over the grid


def test_schulz_bins_have_requested_moments():
    grid = RadiusGrid(1.0, 200.0, 2000)
    w = distributions.bin_mass(distributions.schulz_cdf, grid, np.array([40.0]), np.array([0.2]))[0]
    mean = w @ grid.radius
    sd = np.sqrt(w @ (grid.radius - mean) ** 2)
    assert abs(mean - 40) < 0.05 and abs(sd / mean - 0.2) < 0.005


def test_smeared_curves_equal_sasmodels_resolution(tmp_path):
    from sasmodels.resolution import Pinhole1D

    out = tmp_path / "smeared.h5"
    settings = simulate.SimulationSettings(smear_fraction=1.0, dq_over_q_max=0.05, smear_levels=2)
    simulate.simulate(40, 3, out, settings, progress=False)
    with h5py.File(out) as f:
        q, radius = f["q"][:], f["radius"][:]
        levels = f["dq_over_q"][:]
        assert set(np.round(levels, 6)) == {0.025, 0.05}
        for i in (0, 1, 2):
            res = Pinhole1D(q, levels[i] * q)  # sasmodels' own choice of q_calc
            theory = sasmodels_sphere_hs(res.q_calc, radius, f["number_distribution"][i], f["volume_fraction"][i],
                                         f["scale"][i], 0.0)
            ref = res.apply(theory) + f["background"][i]
            np.testing.assert_allclose(f["intensity_clean"][i], ref, rtol=2e-3)
            unsmeared = sasmodels_sphere_hs(q, radius, f["number_distribution"][i], f["volume_fraction"][i],
                                            f["scale"][i], f["background"][i])
            assert np.max(np.abs(f["intensity_clean"][i] / unsmeared - 1)) > 5e-3  # smearing did something
