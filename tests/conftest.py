"""Shared fixtures: grids, the sasmodels basis, and paths to the external reference data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference"


@pytest.fixture(scope="session")
def default_basis():
    from sasview_nn_plugin import physics
    from sasview_nn_plugin.grids import QGrid, RadiusGrid

    return physics.sphere_basis(QGrid().q, RadiusGrid().radius)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
