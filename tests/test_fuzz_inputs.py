"""Property-based: random arrays into invert() and random bytes into the loaders never escape as a traceback.

Whatever comes in, the result is either a valid inversion or an InputError (which the CLI turns into
one line and exit code 2); nothing else is raised.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sasview_nn_plugin import invert
from sasview_nn_plugin.data.frames import open_frame_table
from sasview_nn_plugin.data.load import load_curves
from sasview_nn_plugin.errors import InputError

FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=150, deadline=None)
@given(n=st.integers(0, 60), data=st.data(), phi=st.one_of(FLOATS, st.floats(0.01, 0.7)))
def test_invert_random_arrays(n, data, phi):
    q = data.draw(st.one_of(arrays(np.float64, n, elements=FLOATS),
                            st.just(np.geomspace(0.03, 0.15, max(n, 2)))))
    i = data.draw(arrays(np.float64, len(q), elements=st.one_of(FLOATS, st.floats(1e-3, 1e3))))
    di = data.draw(st.one_of(st.none(), arrays(np.float64, len(q), elements=FLOATS)))
    try:
        res = invert(q, i, di, volume_fraction=phi)
    except InputError as exc:
        assert str(exc)
        return
    assert np.isfinite(res.mean_radius_number) and res.number_distribution.sum() == pytest.approx(1)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.one_of(st.binary(max_size=4000),
                      st.text(alphabet="0123456789.eE+-, \t\n#nainfNAN", max_size=3000).map(str.encode),
                      st.binary(max_size=2000).map(lambda b: b"\x89HDF\r\n\x1a\n" + b),
                      st.binary(max_size=2000).map(lambda b: b"<?xml version='1.0'?><SASroot>" + b)),
       suffix=st.sampled_from([".txt", ".dat", ".csv", ".xml", ".h5", ".nxs", ""]))
def test_loaders_random_bytes(tmp_path, blob, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(blob)
    try:
        curves = load_curves(path)
    except InputError as exc:
        assert str(exc)
    else:
        for c in curves:
            assert c.q.shape == c.intensity.shape
    try:
        open_frame_table(path)
    except InputError as exc:
        assert str(exc)


def test_invert_tiny_di_found_by_the_fuzzer():
    """Hypothesis' find: dI = 3e-90 at one point made the noise rule's 2x2 system singular (LinAlgError escaped)."""
    q = np.array([0.03, 0.06708204, 0.15])
    try:
        res = invert(q, np.ones(3), np.array([2.73987762e-90, 1.0, 1.0]), volume_fraction=0.5)
    except InputError as exc:
        assert str(exc)
        return
    assert np.isfinite(res.mean_radius_number) and res.quality is not None



@pytest.mark.parametrize("big", [1.5e154, 1e200])
@pytest.mark.parametrize("on_grid", [False, True])
def test_values_whose_squares_overflow_are_refused(big, on_grid):
    """Found by test_invert_random_arrays: dI (or, without dI, I) so large that its square overflows made every
    weight 1 / dI^2 zero, and the scale / background fit divided by their sum (ZeroDivisionError).  Such values are
    no intensity in 1/cm: one InputError naming the column, on the model grid's hot path too."""
    from sasview_nn_plugin.inference.modelfile import load_model

    q = load_model("default").q if on_grid else np.geomspace(0.03, 0.15, 50)
    ones = np.ones_like(q)
    for i, di, name in ((ones, np.full_like(q, big), "dI"), (np.full_like(q, big), None, "intensity")):
        for phi in (0.0, 0.3):
            with pytest.raises(InputError, match=name):
                invert(q, i, di, volume_fraction=phi)


def test_batched_rows_whose_squares_overflow_are_refused_alone():
    """invert_many: a row with dI or I above validation.MAX_VALUE gets the single-curve path's InputError; the others
    are inverted."""
    from sasview_nn_plugin.inference.invert import invert_many
    from sasview_nn_plugin.inference.modelfile import load_model
    from sasview_nn_plugin.physics import distributions, kernels
    from sasview_nn_plugin.physics.grids import RadiusGrid

    nn = load_model("default")
    q, grid = nn.q, RadiusGrid(nn.radius[0], nn.radius[-1], len(nn.radius))
    w = distributions.bin_mass(distributions.schulz_cdf, grid, np.array([45.0]), np.array([0.1]))[0]
    rows = np.tile(kernels.intensity(kernels.sphere_basis(q, grid.radius), w, 0.3), (3, 1))
    dis = 0.01 * rows
    dis[1] = 1e200
    rows[2] = 1e200
    out = invert_many(q, rows, dis, volume_fractions=0.3)
    assert not isinstance(out[0], InputError)
    assert isinstance(out[1], InputError) and "dI" in str(out[1])
    assert isinstance(out[2], InputError) and "intensity" in str(out[2])
