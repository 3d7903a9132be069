"""One loaded model shared by many threads (issue 13, item 5): the same results as serial calls, bit for bit.

Why these tests catch a shared mutable phi cache: the network folds the volume fraction into the first layer's
bias, ``b0 + phi * w0_phi``, and caches that bias because the frames of a run often share phi.  Kept as one
mutable slot on the shared model (``if phi != self._phi_cached: self._phi_cached, self._b0_phi = ...``, then
``h += self._b0_phi``), another thread can replace the slot between one thread's check and its read, or between
the two stores; that thread then adds the bias of another volume fraction.  Here 8 threads invert 8 curves, each
with its own phi, through one model, hundreds of times, with the interpreter switching threads every
microsecond (``sys.setswitchinterval``) so that such windows are hit; every result is compared with the serial
one bit for bit (same code path, same arithmetic, so equality is exact, not to float32 rounding).  With the
slot the results differ within a few hundred calls; with a keyed, per-model cache of read-only biases
(or none) they cannot.
"""

from __future__ import annotations

import pickle
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np
import pytest
from conftest import REPO

from sasview_nn_plugin import invert
from sasview_nn_plugin.inference.invert import invert_many
from sasview_nn_plugin.inference.modelfile import load_model

SHIPPED = REPO / "trained_models" / "default.h5"

N_THREADS = 8
PHIS = np.linspace(0.1, 0.45, N_THREADS)      # one volume fraction per thread
REPEATS = 200                                 # calls per thread, interleaved with the other threads'


@contextmanager
def fast_thread_switching(interval: float = 1e-6):
    """Make the interpreter switch threads as often as it can, so races show within a few hundred calls."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(interval)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


@pytest.fixture(scope="module")
def model():
    return load_model(SHIPPED)


@pytest.fixture(scope="module")
def curves(model):
    """8 different curves on the model grid: random distributions, each at its thread's phi, scaled apart."""
    from sasview_nn_plugin.physics import kernels as physics

    rng = np.random.default_rng(2024)
    basis = physics.sphere_basis(model.q, model.radius)
    weights = rng.random((N_THREADS, len(model.radius))) ** 8
    return physics.intensity(basis, weights, PHIS, 10 ** rng.uniform(-2, 3, N_THREADS))


def run_threads(task, n: int = N_THREADS) -> list:
    """``task(k)`` for k in 0..n-1, each in its own thread, all started together."""
    start = threading.Barrier(n)

    def go(k):
        start.wait()
        return task(k)

    with fast_thread_switching(), ThreadPoolExecutor(n) as pool:
        return list(pool.map(go, range(n)))


def yielding(model):
    """The same network (its state shared, not copied) whose every attribute read first lets other threads run.

    The interpreter may switch threads between any two attribute reads (and free-threaded Python runs threads
    truly in parallel); with the GIL, a few bytecodes between a check of shared state and its use rarely see a
    switch.  Yielding at every read opens each such window, so a race in the model shows at once.
    """
    class Yielding(type(model)):
        def __getattribute__(self, name):
            time.sleep(0)   # releases the GIL: another thread may run here
            return super().__getattribute__(name)

    twin = object.__new__(Yielding)
    twin.__dict__.update(model.__dict__)
    return twin


def invert_8_threads(model, curves, repeats: int) -> list[int]:
    """Per thread, how many of its ``repeats`` inversions (curve k at phi k) differ from the serial one."""
    serial = [invert(model.q, curves[k], volume_fraction=PHIS[k], model=model) for k in range(N_THREADS)]

    def task(k):
        bad = 0
        for _ in range(repeats):
            r = invert(model.q, curves[k], volume_fraction=PHIS[k], model=model)
            bad += not (np.array_equal(r.number_distribution, serial[k].number_distribution)
                        and r.mean_radius_number == serial[k].mean_radius_number
                        and r.mean_radius_volume == serial[k].mean_radius_volume)
        return bad

    return run_threads(task)


def test_invert_from_8_threads_equals_serial(model, curves):
    mismatches = invert_8_threads(model, curves, REPEATS)
    assert mismatches == [0] * N_THREADS, f"results differing from the serial ones, per thread: {mismatches}"


def test_invert_from_8_threads_equals_serial_with_a_switch_at_every_attribute_read(model, curves):
    """The same with thread switches forced inside the model (see ``yielding``): a phi slot on the model
    (checked, then read) gives other curves' biases here within a few calls."""
    mismatches = invert_8_threads(yielding(model), curves, REPEATS // 4)
    assert mismatches == [0] * N_THREADS, f"results differing from the serial ones, per thread: {mismatches}"


def test_calls_change_nothing_on_the_model(model, curves):
    """Inverting with other volume fractions rebinds no attribute of the shared model and writes no array of it
    (a per-call slot such as a last-phi bias would be rebound here)."""
    def state():
        return {name: (id(v), v.tobytes() if isinstance(v, np.ndarray) else None) for name, v in vars(model).items()}

    before = state()
    for k in range(N_THREADS):
        invert(model.q, curves[k], volume_fraction=PHIS[k], model=model)
        model.predict(curves, PHIS[k])
    assert state() == before


def test_predict_from_threads_equals_serial(model, curves):
    """Single curves and small batches with one phi (both take the cached bias) and batches with one phi per
    row, mixed in every thread."""
    batch_phi = np.roll(PHIS, 3)

    def calls(k):
        return (model.predict(curves[k], PHIS[k]), model.predict(curves, PHIS[k]),
                model.predict(curves, batch_phi), model.predict(curves[k], PHIS[(k + 1) % N_THREADS]))

    serial = [calls(k) for k in range(N_THREADS)]

    def task(k):
        return sum(not all(np.array_equal(a, b) for a, b in zip(calls(k), serial[k], strict=True))
                   for _ in range(REPEATS // 4))

    assert run_threads(task) == [0] * N_THREADS


def test_invert_many_from_threads_equals_serial(model, curves):
    """invert_many (per-row phi, one batched forward pass) from 4 threads, each with its own rows and phis."""
    def args(k):
        order = np.roll(np.arange(N_THREADS), k)
        return curves[order], np.roll(PHIS, -k)

    def many(k):
        x, phis = args(k)
        return invert_many(model.q, x, volume_fractions=phis, model=model)

    serial = [many(k) for k in range(4)]

    def task(k):
        bad = 0
        for _ in range(REPEATS // 10):
            got = many(k)
            bad += not all(np.array_equal(a.number_distribution, b.number_distribution)
                           and a.mean_radius_volume == b.mean_radius_volume
                           for a, b in zip(got, serial[k], strict=True))
        return bad

    assert run_threads(task, 4) == [0] * 4


def blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_large_batches_from_two_threads_equal_serial(model, curves):
    """Batches large enough for predict's own thread pool (blocks of 1024 curves, BLAS limited to one thread
    while they run), from two threads at once, several times over.

    Equal to serial calls to float32 rounding only, not bit for bit: the BLAS limit is process-wide, so a block
    may be computed while the limit is (or is not) set by the other thread, and OpenBLAS's sums depend on its
    thread count.  The limit is restored once both are done (two nested ``threadpool_limits`` exiting out of
    order left BLAS on one thread for good).
    """
    before = blas_threads()
    rng = np.random.default_rng(5)
    rows = rng.integers(0, N_THREADS, 2 * 1024 + 100)
    x = curves[rows] * rng.uniform(0.5, 2.0, (len(rows), 1))
    phis = [PHIS[rows], PHIS[rows][::-1].copy()]
    serial = [model.predict(x, phis[k]) for k in range(2)]
    got = run_threads(lambda k: [model.predict(x, phis[k]) for _ in range(2 + k)], 2)
    for runs, b in zip(got, serial, strict=True):
        for a in runs:
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert blas_threads() == before


def test_concurrent_loads_of_one_file_give_one_model(tmp_path, curves):
    """8 threads loading a (not yet cached) model file at once get the same, complete object."""
    path = tmp_path / "copy.h5"
    shutil.copyfile(SHIPPED, path)
    models = run_threads(lambda k: load_model(path))
    assert all(m is models[0] for m in models)
    np.testing.assert_array_equal(models[0].predict(curves, PHIS), load_model(SHIPPED).predict(curves, PHIS))


def test_model_is_immutable(model, curves):
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        model.name = model.name
    arrays = [model.q, model.radius, model.input_shift, model.input_scale, *model.weights, *model.biases,
              model.radius_moments, model.radius_cubed]
    assert not any(a.flags.writeable for a in arrays)
    with pytest.raises(ValueError, match="read-only"):
        model.weights[0][0, 0] = 1.0
    before = model.predict(curves[0], 0.3)
    for phi in (0.1, 0.2, 0.3, 0.4):     # other volume fractions through the same cache change nothing
        model.predict(curves[1], phi)
    np.testing.assert_array_equal(model.predict(curves[0], 0.3), before)


def test_model_pickles_to_an_equal_network(model, curves):
    """A pickled model (a Dask worker's copy) rebuilds its folded layer and cache and predicts the same."""
    again = pickle.loads(pickle.dumps(model))
    assert again is not model and again.name == model.name
    np.testing.assert_array_equal(again.predict(curves, PHIS), model.predict(curves, PHIS))
    np.testing.assert_array_equal(again.predict(curves[2], 0.25), model.predict(curves[2], 0.25))
