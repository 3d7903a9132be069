"""The network's building blocks: activations (the table :data:`ACTIVATIONS`), input features, grid
checks, read-only arrays, the per-phi first-layer bias and the process-wide BLAS thread limit."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

# -- activations -----------------------------------------------------------------------------------

def _relu(h: np.ndarray) -> None:
    np.maximum(h, 0, out=h)


def _exp_shifted(h: np.ndarray) -> None:
    """exp(h - max h) along the last axis: a softmax before its normalisation (positive, max 1)."""
    h -= h.max(axis=-1, keepdims=True)
    np.exp(h, out=h)


def _softmax(h: np.ndarray) -> None:
    _exp_shifted(h)
    h /= h.sum(axis=-1, keepdims=True)


def _linear(h: np.ndarray) -> None:
    pass


@dataclass(frozen=True)
class Activation:
    """One activation, applied in place along the last axis (a curve's units) of float32 arrays."""

    apply: Callable[[np.ndarray], None]
    unnormalised: Callable[[np.ndarray], None]   # as the output layer when the caller normalises rows itself
    distribution: bool                           # its output rows are already probabilities (>= 0, sum 1)


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation(_relu, _relu, distribution=False),
    "softmax": Activation(_softmax, _exp_shifted, distribution=True),
    "linear": Activation(_linear, _linear, distribution=False),
}


# -- checks and features ---------------------------------------------------------------------------

def grid_problem(grid: np.ndarray) -> str | None:
    """What is wrong with a q or radius grid; None when it is 1-D, finite, positive and strictly increasing."""
    g = np.asarray(grid)
    if g.ndim != 1 or len(g) < 2:
        return f"has shape {g.shape} but must be a 1-D array of at least 2 points"
    if not np.all(np.isfinite(g)):
        return "holds NaN or infinite values"
    if g[0] <= 0:
        return f"starts at {g[0]:g} but must be positive"
    step = np.diff(g) > 0
    if not np.all(step):
        i = int(np.argmin(step))
        return f"is not strictly increasing ({g[i + 1]:g} follows {g[i]:g} at point {i + 1})"
    return None


def raw_features(intensity: np.ndarray, transform: str, block: int) -> np.ndarray:
    """Input features before standardisation, float32 (N, n_q / block); see the module docstring."""
    full = np.atleast_2d(np.asarray(intensity, dtype=np.float32))
    if block > 1:
        x = full[:, 0::block] + full[:, 1::block]
        for k in range(2, block):
            x += full[:, k::block]
        x *= 1.0 / block
    else:
        x = full.copy() if transform == "minmax" else full
    if transform == "log_block":
        x = np.log(x)
        x -= x.mean(axis=1, keepdims=True)
    return x


def frozen_array(a, dtype) -> np.ndarray:
    """A read-only copy (the caller's array is left as it was)."""
    out = np.array(a, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


class OneBlasThread:
    """BLAS limited to one thread while any batch, in any thread, runs over predict's own threads; restored once.

    The limit is process-wide (threadpoolctl), so nested ``threadpool_limits`` from two threads at once restore
    out of order and leave BLAS on one thread for good; here the first batch in sets it, the last one out
    restores it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._limits = None

    @contextmanager
    def __call__(self) -> Iterator[None]:
        from threadpoolctl import threadpool_limits

        with self._lock:
            if not self._users:
                self._limits = threadpool_limits(1, user_api="blas")
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if not self._users:
                    self._limits.restore_original_limits()
                    self._limits = None


one_blas_thread = OneBlasThread()


def phi_bias(b0: np.ndarray, w0_phi: np.ndarray, phi: float, w0_res: np.ndarray | None = None,
             resolution: float = 0.0) -> np.ndarray:
    """The folded first layer's bias for one volume fraction (and dQ/Q, for a model that takes it), read-only
    (shared by every caller with these values)."""
    bias = b0 + np.float32(phi) * w0_phi
    if w0_res is not None:
        bias += np.float32(resolution) * w0_res
    bias.setflags(write=False)
    return bias
