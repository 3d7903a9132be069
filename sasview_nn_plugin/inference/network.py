"""The network: a dense network and its input transform, immutable after construction, safe to share between threads.

:class:`NNModel` holds what a model file holds (grids, input transform and normalisation, layers, output
parameters, metadata) as read-only arrays in a frozen dataclass.  At construction it checks them and folds
the linear parts of the input transform into the first layer, once.  Every entry point (``predict``,
``outputs``, ``outputs_standardised``, ``predict_parameters``, ``predict_normalised``) ends in the one forward
function :meth:`NNModel._forward`, which applies each layer's activation from the table :data:`ACTIVATIONS`.

Input transforms
- ``log_block``: average blocks of ``block`` neighbouring intensities, take the log, subtract the
  curve's mean log (so multiplying the intensity by a constant changes nothing), then
  standardise each feature.  The volume fraction is appended, standardised, and for a model with
  ``resolution_shift`` / ``resolution_scale`` the curve's 1-sigma dQ/Q (0: unsmeared), standardised.
- ``minmax`` (He et al. 2024): raw intensities min-max scaled per feature over the training set.

Threads: nothing in a loaded model changes after construction.  The one cache, the first-layer bias for a
volume fraction (``b0 + phi * w0_phi``; frames of a run often share phi), is keyed by phi and owned by the
model (``functools.lru_cache``, which stays consistent under concurrent calls; its values are read-only), so
calls with different phi from different threads never see each other's bias.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields

import numpy as np

from ..errors import ModelFileError
from .layers import ACTIVATIONS, frozen_array, grid_problem, one_blas_thread, phi_bias, raw_features

BATCH_BLOCK = 1024          # curves per block when a large batch is spread over threads
PHI_CACHE_SIZE = 256        # first-layer biases kept per model (distinct volume fractions)


# -- the network -----------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class NNModel:
    """A dense network plus everything needed to apply it (read-only arrays: float32, grids float64).

    Equality is identity (a model is a loaded thing, compared by ``is``); the fields cannot be rebound and
    the arrays cannot be written.  ``info`` is free-form metadata (training settings, metrics) that the
    network never reads.
    """

    q: np.ndarray                      # model q grid, 1/A
    radius: np.ndarray                 # radius bin centres, A
    transform: str                     # "log_block" | "minmax"
    block: int                         # intensities averaged per input feature
    input_shift: np.ndarray            # feature normalisation: (x - shift) / scale
    input_scale: np.ndarray
    phi_shift: float
    phi_scale: float
    weights: tuple[np.ndarray, ...]    # a list is accepted and stored as a tuple
    biases: tuple[np.ndarray, ...]
    activations: tuple[str, ...]       # names in ACTIVATIONS, one per layer
    info: dict = field(default_factory=dict)   # preset, training ranges, versions, metrics
    name: str = ""
    # parametric heads: the network outputs these parameters instead of a distribution over ``radius``;
    # value = out_min + y * (out_max - out_min), then exp() where output_log (min/max are then of the log)
    output_names: tuple[str, ...] = ()
    output_min: np.ndarray | None = None
    output_max: np.ndarray | None = None
    output_log: tuple[bool, ...] = ()
    # the resolution input (dQ/Q, 1-sigma, after the volume fraction); None: the model does not take it
    resolution_shift: float | None = None
    resolution_scale: float | None = None
    # derived once in __post_init__
    radius_moments: np.ndarray = field(init=False, repr=False)   # columns 1, R, R^3, R^4 (sums behind the means)
    radius_cubed: np.ndarray = field(init=False, repr=False)
    q_range: tuple[float, float] = field(init=False, repr=False)  # 1/A

    def __post_init__(self) -> None:
        put = functools.partial(object.__setattr__, self)
        for name in ("q", "radius"):
            put(name, frozen_array(getattr(self, name), float))
        for name in ("input_shift", "input_scale"):
            put(name, frozen_array(getattr(self, name), np.float32))
        put("weights", tuple(frozen_array(w, np.float32) for w in self.weights))
        put("biases", tuple(frozen_array(b, np.float32) for b in self.biases))
        put("activations", tuple(self.activations))
        put("output_names", tuple(self.output_names))
        put("output_log", tuple(bool(x) for x in self.output_log))
        for name in ("output_min", "output_max"):
            if getattr(self, name) is not None:
                put(name, frozen_array(getattr(self, name), float))
        put("block", int(self.block))
        put("phi_shift", float(self.phi_shift))
        put("phi_scale", float(self.phi_scale))
        if (self.resolution_shift is None) != (self.resolution_scale is None):
            raise ModelFileError(f"model {self.name}: resolution_shift and resolution_scale come together",
                                 parameter=None)
        if self.resolution_shift is not None:
            put("resolution_shift", float(self.resolution_shift))
            put("resolution_scale", float(self.resolution_scale))
        self._check()
        moments = np.stack([np.ones_like(self.radius), self.radius, self.radius**3, self.radius**4], 1)
        put("radius_moments", frozen_array(moments, float))
        put("radius_cubed", frozen_array(self.radius**3, float))
        put("q_range", (float(self.q[0]), float(self.q[-1])))
        self._fold(put)

    def __reduce__(self):
        """Pickle and copy by the stored fields; the folded layer and the bias cache are rebuilt."""
        return type(self), tuple(getattr(self, f.name) for f in fields(self) if f.init)

    # -- consistency ---------------------------------------------------------------------------
    def _check(self) -> None:
        self._check_layers(self._check_inputs())

    def _check_inputs(self) -> int:
        """The number of input features, once the grids, the input transform and its normalisation are sound."""
        for what, grid in (("q grid", self.q), ("radius grid", self.radius)):
            if (problem := grid_problem(grid)) is not None:
                raise ModelFileError(f"model {self.name}: the {what} {problem}; the file is corrupt", parameter=None)
        if not (np.isfinite(self.phi_shift) and np.isfinite(self.phi_scale) and self.phi_scale != 0):
            raise ModelFileError(f"model {self.name}: volume-fraction normalisation phi_shift = {self.phi_shift}, "
                                 f"phi_scale = {self.phi_scale}; it needs finite values and phi_scale != 0",
                                 parameter=None)
        n_q = len(self.q)
        if self.transform not in ("log_block", "minmax"):
            raise ModelFileError(f"model {self.name}: unknown input transform {self.transform!r}", parameter=None)
        if self.block < 1 or n_q % self.block:
            raise ModelFileError(f"model {self.name}: q grid of {n_q} points is not a multiple of block {self.block}",
                                 parameter=None)
        n_feat = n_q // self.block
        if self.input_shift.shape != (n_feat,) or self.input_scale.shape != (n_feat,):
            raise ModelFileError(f"model {self.name}: input normalisation has {self.input_shift.shape} values, "
                                 f"the q grid needs {n_feat}; the file is for another grid or corrupt", parameter=None)
        return n_feat

    def _check_layers(self, n_feat: int) -> None:
        """The layers take the features (and phi, dQ/Q), give one output per radius bin or parameter, and hold
        finite numbers."""
        if not self.weights or len(self.weights) != len(self.biases) or len(self.activations) != len(self.weights):
            raise ModelFileError(f"model {self.name}: layers are incomplete", parameter=None)
        if self.takes_resolution and not (np.isfinite(self.resolution_shift) and np.isfinite(self.resolution_scale)
                                          and self.resolution_scale != 0):
            raise ModelFileError(f"model {self.name}: resolution normalisation needs finite values and a nonzero scale",
                                 parameter=None)
        width = n_feat + 1 + self.takes_resolution
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            if w.ndim != 2 or w.shape[0] != width or b.shape != (w.shape[1],):
                raise ModelFileError(f"model {self.name}: layer {i} has shape {w.shape}, expected ({width}, n)",
                                     parameter=None)
            width = w.shape[1]
        if self.output_names:
            k = len(self.output_names)
            if width != k or len(self.output_log) != k or np.shape(self.output_min) != (k,) \
                    or np.shape(self.output_max) != (k,):
                raise ModelFileError(f"model {self.name}: network gives {width} outputs for parameters "
                                     f"{list(self.output_names)}; the file is corrupt", parameter=None)
        elif width != (n_r := len(self.radius)):
            raise ModelFileError(f"model {self.name}: network gives {width} outputs but the radius grid has {n_r} "
                                 "bins; the file is for another grid or corrupt", parameter=None)
        if any(a not in ACTIVATIONS for a in self.activations):
            raise ModelFileError(f"model {self.name}: unknown activation in {list(self.activations)}", parameter=None)
        arrays = [self.input_shift, self.input_scale, *self.weights, *self.biases]
        if not all(np.all(np.isfinite(a)) for a in arrays) or np.any(self.input_scale == 0):
            raise ModelFileError(f"model {self.name}: non-finite weights or zero scale; the file is corrupt",
                                 parameter=None)

    def _fold(self, put) -> None:
        """Fold the linear parts of the input transform into the first layer (fewer passes at inference).

        Standardisation (x - shift) / scale is linear, and so, for ``log_block``, are the per-curve
        centring x - mean(x) and the 1/block of the block mean (a constant in log space, removed by
        the centring): with C = I - 11^T/n, centred @ W = log(block sums) @ (C W).  So inference
        needs only block sums, one log and the matmuls.
        """
        w0 = self.weights[0].astype(np.float64)
        scalars = [(self.phi_shift, self.phi_scale)]
        if self.takes_resolution:
            scalars.append((self.resolution_shift, self.resolution_scale))
        inv = np.concatenate([1.0 / self.input_scale, [1.0 / sc for _, sc in scalars]])
        shift = np.concatenate([self.input_shift, [sh for sh, _ in scalars]])
        w = w0 * inv[:, None]
        b = self.biases[0] - (shift * inv) @ w0
        n_feat = len(self.input_shift)
        if self.transform == "log_block":
            w[:n_feat] -= w[:n_feat].mean(axis=0, keepdims=True)
        put("_w0_feat", frozen_array(w[:n_feat], np.float32))   # feature rows, contiguous
        put("_w0_phi", frozen_array(w[n_feat], np.float32))     # the volume fraction's row
        put("_w0_res", frozen_array(w[n_feat + 1], np.float32) if self.takes_resolution else None)  # dQ/Q's row
        put("_b0", frozen_array(b, np.float32))
        put("_ones_block", frozen_array(np.ones(self.block), float))
        bias = functools.partial(phi_bias, self._b0, self._w0_phi, w0_res=self._w0_res)
        put("_bias_for", functools.lru_cache(PHI_CACHE_SIZE)(bias))
        # the forward pass's plan: layer 0's activation, then (kernel, bias, activation) of each later layer;
        # a second plan whose output activation leaves a softmax unnormalised
        acts = [ACTIVATIONS[a].apply for a in self.activations]
        last = ACTIVATIONS[self.activations[-1]]
        plans = []
        for out in (last.apply, last.unnormalised):
            fns = (*acts[:-1], out)
            plans.append((fns[0], tuple(zip(self.weights[1:], self.biases[1:], fns[1:], strict=True))))
        put("_plan", plans[0])
        put("_plan_unnormalised", plans[1])
        put("_rows_are_distributions", last.distribution)

    def check_grids(self, q: np.ndarray, radius: np.ndarray | None = None) -> None:
        """Raise ModelFileError unless q (and radius) equal this model's grids."""
        if len(q) != len(self.q) or not np.allclose(q, self.q, rtol=1e-9, atol=0):
            raise ModelFileError(f"model {self.name} expects {len(self.q)} q points over "
                                 f"{self.q[0]:g}-{self.q[-1]:g} 1/A; the data has {len(q)} over {q[0]:g}-{q[-1]:g}",
                                 parameter=None)
        if radius is not None and (len(radius) != len(self.radius) or not np.allclose(radius, self.radius)):
            raise ModelFileError(f"model {self.name} predicts on {len(self.radius)} radius bins over "
                                 f"{self.radius[0]:g}-{self.radius[-1]:g} A, not the requested grid", parameter=None)

    @property
    def takes_resolution(self) -> bool:
        """True when the network takes the curve's dQ/Q as an input (after the volume fraction)."""
        return self.resolution_shift is not None

    @property
    def parametric(self) -> bool:
        """True when the network predicts distribution parameters (``output_names``), not a histogram."""
        return bool(self.output_names)

    # -- the forward pass ------------------------------------------------------------------------
    def _forward(self, h: np.ndarray, normalise: bool = True) -> np.ndarray:
        """The forward pass (the only one): from the first layer's pre-activation ``h`` (float32, (n,) or (N, n),
        changed in place) to the output layer's activation.  ``normalise=False`` leaves a softmax unnormalised."""
        first, rest = self._plan if normalise else self._plan_unnormalised
        first(h)
        for w, b, act in rest:
            h = h @ w
            h += b
            act(h)
        return h

    def _first_layer(self, intensity: np.ndarray, phi, resolution=0.0) -> np.ndarray:
        """The folded first layer's pre-activation for raw curves (n_q,) or (N, n_q) on the model grid;
        ``phi`` a Python float (its bias from the cache, with a float ``resolution``) or a float32 array (N,);
        ``resolution`` (dQ/Q) a float or (N,), ignored by a model that does not take it."""
        x = np.asarray(intensity)
        b = self.block
        if self.transform != "log_block":
            feats = raw_features(x, self.transform, b).reshape(*x.shape[:-1], -1)
        elif x.ndim == 1:   # one curve: block sums as one (n/b, b) @ (b,) product, in float64 (fewest numpy calls)
            s = x.reshape(-1, b) @ self._ones_block if b > 1 else x.astype(float)
            feats = np.log(s, out=s).astype(np.float32)
        else:               # a batch: block sums and log in float32 (half the memory traffic)
            full = np.asarray(x, dtype=np.float32)
            if b == 1:
                feats = np.log(full)
            else:
                feats = full[:, 0::b] + full[:, 1::b]
                for k in range(2, b):
                    feats += full[:, k::b]
                np.log(feats, out=feats)
        h = feats @ self._w0_feat
        res_row = self._w0_res
        if isinstance(phi, float) and (res_row is None or isinstance(resolution, float)):
            h += self._bias_for(phi, resolution=resolution if res_row is not None else 0.0)
        else:   # per row: the same float32 arithmetic as the cached bias, b0 + phi * w0_phi (+ res * w0_res)
            phi = np.broadcast_to(np.asarray(phi, np.float32), (len(h),))
            bias = phi[:, None] * self._w0_phi
            bias += self._b0
            if res_row is not None:
                res = np.broadcast_to(np.asarray(resolution, np.float32), (len(h),))
                bias += res[:, None] * res_row
            h += bias
        return h

    def features(self, intensity: np.ndarray) -> np.ndarray:
        """Un-normalised input features (N, n_q / block) from intensities on the model grid."""
        return raw_features(intensity, self.transform, self.block)

    def outputs(self, intensity: np.ndarray, volume_fraction: np.ndarray | float, *, normalise: bool = True,
                threads: int | None = None, resolution: np.ndarray | float = 0.0) -> np.ndarray:
        """The network's output layer (float32, (k,) or (N, k)) for curves on the model's q grid.

        ``intensity`` is (n_q,) or (N, n_q), positive; ``volume_fraction`` a scalar or (N,); ``resolution`` the
        curves' 1-sigma dQ/Q, a scalar or (N,) (0: unsmeared; ignored unless :attr:`takes_resolution`).  A linear output
        is returned as it is (see :meth:`to_distribution`); ``normalise=False`` leaves a softmax output
        unnormalised.  Large batches are cut into blocks of 1024 curves spread over threads, with BLAS limited
        to one thread each (threadpoolctl): the elementwise work then uses every core too.  That limit is
        process-wide, so a batch of 100 or more curves computed while another thread's large batch runs can
        differ from a serial call at float32 rounding (OpenBLAS's sums depend on its thread count; single
        curves and batches of a few curves do not).
        """
        x = np.asarray(intensity)
        scalar_res = isinstance(resolution, float) or np.ndim(resolution) == 0
        if x.ndim == 1 and (isinstance(volume_fraction, float) or np.ndim(volume_fraction) == 0) and scalar_res:
            return self._forward(self._first_layer(x, float(volume_fraction), float(resolution)), normalise)
        single = x.ndim == 1
        x = np.atleast_2d(x)
        phi = np.asarray(volume_fraction, dtype=np.float32)
        phi = float(phi) if phi.ndim == 0 else np.broadcast_to(phi, (len(x),))
        res = float(resolution) if scalar_res else np.broadcast_to(np.asarray(resolution, np.float32), (len(x),))
        step = BATCH_BLOCK
        if len(x) <= 2 * step or (n_threads := threads or os.cpu_count() or 1) == 1:
            out = self._forward(self._first_layer(x, phi, res), normalise)
        else:
            def block(s: int) -> np.ndarray:
                rows = phi if isinstance(phi, float) else phi[s:s + step]
                r = res if isinstance(res, float) else res[s:s + step]
                return self._forward(self._first_layer(x[s:s + step], rows, r), normalise)

            with one_blas_thread(), ThreadPoolExecutor(n_threads) as pool:
                out = np.concatenate(list(pool.map(block, range(0, len(x), step))))
        return out[0] if single else out

    def standardised_inputs(self, intensity: np.ndarray, volume_fraction, resolution=0.0) -> np.ndarray:
        """The network's inputs as Keras sees them (N, n_features + 1 [+ 1 for dQ/Q]), from curves on the model grid."""
        x = np.atleast_2d((self.features(intensity) - self.input_shift) / self.input_scale)
        cols = [x, ((np.broadcast_to(volume_fraction, (len(x),)) - self.phi_shift) / self.phi_scale)[:, None]]
        if self.takes_resolution:
            res = np.broadcast_to(resolution, (len(x),))
            cols.append(((res - self.resolution_shift) / self.resolution_scale)[:, None])
        return np.concatenate(cols, axis=1).astype(np.float32)

    def outputs_standardised(self, x: np.ndarray) -> np.ndarray:
        """The output layer (N, k) for already standardised inputs (N, n_features + 1), as Keras computes it."""
        h = np.asarray(x, dtype=np.float32) @ self.weights[0]
        h += self.biases[0]
        return self._forward(h)

    def to_distribution(self, out: np.ndarray) -> np.ndarray:
        """Distributions (rows summing to 1) from output rows: a softmax's unchanged, others (he2024's linear
        output) clipped at 0 and renormalised (a row with nothing left: uniform)."""
        if self._rows_are_distributions:
            return out
        out = np.clip(out, 0, None)
        total = out.sum(axis=-1, keepdims=True)
        return np.where(total > 0, out / np.where(total > 0, total, 1), 1.0 / out.shape[-1])

    def predict(self, intensity: np.ndarray, volume_fraction: np.ndarray | float, threads: int | None = None,
                normalise: bool = True, resolution: np.ndarray | float = 0.0) -> np.ndarray:
        """Number distributions (n_r,) or (N, n_r), rows summing to 1, for curves on the model's q grid.

        Arguments as :meth:`outputs`.  ``normalise=False``: a softmax output's rows are left unnormalised
        (positive; the caller divides by their sums, e.g. in float64).
        """
        if self.parametric:
            raise ModelFileError(f"model {self.name} predicts parameters {list(self.output_names)}, not a "
                                 "distribution; use it with `parametric` (sasview_nn_plugin.fitting.parametric)",
                                 parameter="parametric")
        return self.to_distribution(self.outputs(intensity, volume_fraction, normalise=normalise, threads=threads,
                                                 resolution=resolution))

    def predict_normalised(self, x: np.ndarray) -> np.ndarray:
        """Distributions from already standardised inputs (N, n_features + 1), as Keras sees them."""
        return self.to_distribution(self.outputs_standardised(x))

    def parameters_from_outputs(self, y: np.ndarray) -> np.ndarray:
        """Physical parameter values (N, k) from the network's 0-1 outputs (clipped to -0.1..1.1)."""
        y = np.clip(np.asarray(y, dtype=float), -0.1, 1.1)
        v = self.output_min + y * (self.output_max - self.output_min)
        return np.where(np.asarray(self.output_log), np.exp(v), v)

    def predict_parameters(self, intensity: np.ndarray, volume_fraction: np.ndarray | float) -> np.ndarray:
        """Parameters (k,) or (N, k) in physical units (see ``output_names``) for curves on the model's q grid."""
        if not self.parametric:
            raise ModelFileError(f"model {self.name} predicts distributions, not parameters", parameter=None)
        return self.parameters_from_outputs(self.outputs(intensity, volume_fraction))
