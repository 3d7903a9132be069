"""Shared fixtures: grids, the sasmodels basis, and the path to the tests' own reference data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"   # curves from other programs (SASfit, ...): provenance in its README.md


@pytest.fixture(scope="session")
def default_basis():
    from sasview_nn_plugin.physics import kernels as physics
    from sasview_nn_plugin.physics.grids import QGrid, RadiusGrid

    return physics.sphere_basis(QGrid().q, RadiusGrid().radius)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A tiny network trained in seconds on a small simulated set (default preset, default grids)."""
    from sasview_nn_plugin.training.simulate import simulate
    from sasview_nn_plugin.training.train import train

    d = tmp_path_factory.mktemp("tiny")
    simulate(2000, 11, d / "train.h5", progress=False)
    res = train(d / "train.h5", d / "tiny", epochs=3, seed=1, verbose=0, plot=False)
    return res.path


@pytest.fixture(scope="session")
def example_curve():
    """A sasmodels sphere@hardsphere curve (Schulz R = 40 A, pd 0.1, phi 0.3) on its own q grid."""
    from sasmodels.core import load_model
    from sasmodels.direct_model import call_kernel

    q = np.geomspace(0.03, 0.15, 400)
    model = load_model("sphere@hardsphere", dtype="double", platform="dll")
    i = call_kernel(model.make_kernel([q]), dict(radius=40.0, radius_pd=0.1, radius_pd_type="schulz",
                                                 radius_pd_n=60, volfraction=0.3, radius_effective_mode=1))
    return q, i


# -- nothing writes into the source tree ---------------------------------------------------------------------

def _tree_state():
    """`git status --porcelain` of the checkout (tracked changes and untracked files, ignored ones left out), or
    None outside a git checkout (an installed package's tests)."""
    import subprocess

    try:
        r = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=all"],
                           capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return set(r.stdout.splitlines()) if r.returncode == 0 else None


def pytest_sessionstart(session):
    session.config._tree_before = _tree_state()


def pytest_sessionfinish(session, exitstatus):
    """Fail the run when the tests left a new or changed file in the source tree (they write under tmp_path)."""
    before = getattr(session.config, "_tree_before", None)
    after = _tree_state() if before is not None else None
    if before is not None and after is not None and (new := sorted(after - before)):
        print("\nthe tests wrote into the source tree:\n  " + "\n  ".join(new))
        session.exitstatus = 1
