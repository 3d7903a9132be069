"""The trained-model file format (HDF5 via h5py) and the numpy forward pass.

A model file carries everything needed to use it: q grid, radius grid, input transform and its
normalisation, the dense layers, training ranges, versions and held-out metrics.  Reading it
needs numpy + h5py only.

Input transforms
- ``log_block``: average blocks of ``block`` neighbouring intensities, take the log, subtract the
  curve's mean log (so multiplying the intensity by a constant changes nothing), then
  standardise each feature.  The volume fraction is appended, standardised.
- ``minmax`` (He et al. 2024): raw intensities min-max scaled per feature over the training set.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ModelFileError

FORMAT = "sasview_nn_plugin.model"
FORMAT_VERSION = 2   # 2 added parameter outputs (parametric heads); distribution models are still written as 1
DEFAULT_MODEL = "default"
ACTIVATIONS = ("relu", "softmax", "linear")


def models_dir() -> Path:
    """Directory of shipped models: $SASVIEW_NN_MODELS, else the repository's trained_models/."""
    env = os.environ.get("SASVIEW_NN_MODELS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "trained_models"


@dataclass
class NNModel:
    """A dense network plus everything needed to apply it (arrays in float32 except grids)."""

    q: np.ndarray                      # model q grid, 1/A
    radius: np.ndarray                 # radius bin centres, A
    transform: str                     # "log_block" | "minmax"
    block: int                         # intensities averaged per input feature
    input_shift: np.ndarray            # feature normalisation: (x - shift) / scale
    input_scale: np.ndarray
    phi_shift: float
    phi_scale: float
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    activations: list[str]
    info: dict = field(default_factory=dict)   # preset, training ranges, versions, metrics
    name: str = ""
    # parametric heads: the network outputs these parameters instead of a distribution over ``radius``;
    # value = out_min + y * (out_max - out_min), then exp() where output_log (min/max are then of the log)
    output_names: tuple[str, ...] = ()
    output_min: np.ndarray | None = None
    output_max: np.ndarray | None = None
    output_log: tuple[bool, ...] = ()

    def __post_init__(self) -> None:
        self._check()
        self._fold()
        # columns 1, R, R^3, R^4: one product gives the sums behind both distributions and mean radii
        self.radius_moments = np.stack([np.ones_like(self.radius), self.radius, self.radius**3, self.radius**4], 1)
        self.radius_cubed = self.radius**3
        self.q_range = (float(self.q[0]), float(self.q[-1]))  # 1/A
        self._ones_out = np.ones(len(self.radius), np.float32)

    # -- consistency ---------------------------------------------------------------------------
    def _check(self) -> None:
        n_q, n_r = len(self.q), len(self.radius)
        if self.transform not in ("log_block", "minmax"):
            raise ModelFileError(f"model {self.name}: unknown input transform {self.transform!r}")
        if self.block < 1 or n_q % self.block:
            raise ModelFileError(f"model {self.name}: q grid of {n_q} points is not a multiple of block {self.block}")
        n_feat = n_q // self.block
        if self.input_shift.shape != (n_feat,) or self.input_scale.shape != (n_feat,):
            raise ModelFileError(f"model {self.name}: input normalisation has {self.input_shift.shape} values, "
                                 f"the q grid needs {n_feat}; the file is for another grid or corrupt")
        if not self.weights or len(self.weights) != len(self.biases) or len(self.activations) != len(self.weights):
            raise ModelFileError(f"model {self.name}: layers are incomplete")
        width = n_feat + 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            if w.ndim != 2 or w.shape[0] != width or b.shape != (w.shape[1],):
                raise ModelFileError(f"model {self.name}: layer {i} has shape {w.shape}, expected ({width}, n)")
            width = w.shape[1]
        if self.output_names:
            k = len(self.output_names)
            if width != k or len(self.output_log) != k or np.shape(self.output_min) != (k,) \
                    or np.shape(self.output_max) != (k,):
                raise ModelFileError(f"model {self.name}: network gives {width} outputs for parameters "
                                     f"{list(self.output_names)}; the file is corrupt")
        elif width != n_r:
            raise ModelFileError(f"model {self.name}: network gives {width} outputs but the radius grid has {n_r} "
                                 "bins; the file is for another grid or corrupt")
        if any(a not in ACTIVATIONS for a in self.activations):
            raise ModelFileError(f"model {self.name}: unknown activation in {self.activations}")
        arrays = [self.input_shift, self.input_scale, *self.weights, *self.biases]
        if not all(np.all(np.isfinite(a)) for a in arrays) or np.any(self.input_scale == 0):
            raise ModelFileError(f"model {self.name}: non-finite weights or zero scale; the file is corrupt")

    def _fold(self) -> None:
        """Fold the linear parts of the input transform into the first layer (fewer passes at inference).

        Standardisation (x - shift) / scale is linear, and so, for ``log_block``, are the per-curve
        centring x - mean(x) and the 1/block of the block mean (a constant in log space, removed by
        the centring): with C = I - 11^T/n, centred @ W = log(block sums) @ (C W).  So inference
        needs only block sums, one log and the matmuls.
        """
        w0 = self.weights[0].astype(np.float64)
        inv = np.concatenate([1.0 / self.input_scale, [1.0 / self.phi_scale]])
        shift = np.concatenate([self.input_shift, [self.phi_shift]])
        w = w0 * inv[:, None]
        b = self.biases[0] - (shift * inv) @ w0
        if self.transform == "log_block":
            w[:-1] -= w[:-1].mean(axis=0, keepdims=True)
        self._w0 = w.astype(np.float32)
        self._b0 = b.astype(np.float32)
        # single-curve path: feature rows and the phi row as separate contiguous arrays (no slicing per call)
        self._w0_feat = np.ascontiguousarray(self._w0[:-1])
        self._w0_phi = self._w0[-1].copy()
        self._ones_block = np.ones(self.block)
        self._phi_cached, self._b0_phi = None, self._b0

    def check_grids(self, q: np.ndarray, radius: np.ndarray | None = None) -> None:
        """Raise ModelFileError unless q (and radius) equal this model's grids."""
        if len(q) != len(self.q) or not np.allclose(q, self.q, rtol=1e-9, atol=0):
            raise ModelFileError(f"model {self.name} expects {len(self.q)} q points over "
                                 f"{self.q[0]:g}-{self.q[-1]:g} 1/A; the data has {len(q)} over {q[0]:g}-{q[-1]:g}")
        if radius is not None and (len(radius) != len(self.radius) or not np.allclose(radius, self.radius)):
            raise ModelFileError(f"model {self.name} predicts on {len(self.radius)} radius bins over "
                                 f"{self.radius[0]:g}-{self.radius[-1]:g} A, not the requested grid")

    # -- forward pass ----------------------------------------------------------------------------
    def features(self, intensity: np.ndarray) -> np.ndarray:
        """Un-normalised input features (N, n_q / block) from intensities on the model grid."""
        return raw_features(intensity, self.transform, self.block)

    def _layers(self, h: np.ndarray, first_done: bool) -> np.ndarray:
        for i, act in enumerate(self.activations):
            if i or not first_done:
                h = h @ self.weights[i]
                h += self.biases[i]
            if act == "relu":
                np.maximum(h, 0, out=h)
            elif act == "softmax":
                h -= h.max(axis=1, keepdims=True)
                np.exp(h, out=h)
                h /= h.sum(axis=1, keepdims=True)
        return h

    def _finish(self, out: np.ndarray) -> np.ndarray:
        if self.activations[-1] == "softmax":
            return out
        out = np.clip(out, 0, None)  # linear output (he2024): clip and renormalise
        total = out.sum(axis=1, keepdims=True)
        return np.where(total > 0, out / np.where(total > 0, total, 1), 1.0 / out.shape[1])

    def _folded_features(self, intensity: np.ndarray) -> np.ndarray:
        """What the folded first layer takes: log of block sums (log_block) or raw_features (minmax)."""
        if self.transform != "log_block":
            return self.features(intensity)
        full = np.asarray(intensity, dtype=np.float32)
        if self.block == 1:
            return np.log(full)
        x = full[:, 0::self.block] + full[:, 1::self.block]
        for k in range(2, self.block):
            x += full[:, k::self.block]
        return np.log(x, out=x)

    def _predict_block(self, intensity: np.ndarray, phi: np.ndarray) -> np.ndarray:
        h = self._folded_features(intensity) @ self._w0[:-1]
        h += phi[:, None] * self._w0[-1]
        h += self._b0
        return self._layers(h, first_done=True)

    def _predict_one(self, intensity: np.ndarray, phi: float, normalise: bool = True) -> np.ndarray:
        """One curve with 1-D arrays throughout: the same arithmetic as _predict_block, fewer numpy calls.

        ``intensity`` must be float64 and C-contiguous (what ``invert`` passes); the result is float32.
        ``normalise=False`` leaves a softmax output unnormalised (the caller divides by its sum).
        """
        if self.transform == "log_block":  # block sums as one (n/b, b) @ (b,) product, in float64
            x = intensity.reshape(-1, self.block) @ self._ones_block if self.block > 1 else intensity.copy()
            h = np.log(x, out=x).astype(np.float32) @ self._w0_feat
        else:
            h = self._folded_features(intensity[None])[0] @ self._w0_feat
        if phi != self._phi_cached:  # first-layer bias for this volume fraction (frames often share it)
            self._phi_cached, self._b0_phi = phi, self._b0 + np.float32(phi) * self._w0_phi
        h += self._b0_phi
        n = len(self.activations)
        for i, act in enumerate(self.activations):
            if act == "relu":
                np.maximum(h, 0, out=h)
            elif act == "softmax":
                h -= h.max()
                np.exp(h, out=h)
                if normalise:
                    h /= h @ self._ones_out
            if i + 1 < n:
                h = h @ self.weights[i + 1]
                h += self.biases[i + 1]
        return h

    @property
    def parametric(self) -> bool:
        """True when the network predicts distribution parameters (``output_names``), not a histogram."""
        return bool(self.output_names)

    def parameters_from_outputs(self, y: np.ndarray) -> np.ndarray:
        """Physical parameter values (N, k) from the network's 0-1 outputs (clipped to -0.1..1.1)."""
        y = np.clip(np.asarray(y, dtype=float), -0.1, 1.1)
        v = self.output_min + y * (self.output_max - self.output_min)
        return np.where(np.asarray(self.output_log), np.exp(v), v)

    def predict_parameters(self, intensity: np.ndarray, volume_fraction: np.ndarray | float) -> np.ndarray:
        """Parameters (N, k) in physical units (see ``output_names``) for curves on the model's q grid."""
        if not self.parametric:
            raise ModelFileError(f"model {self.name} predicts distributions, not parameters")
        x = np.atleast_2d(np.asarray(intensity))
        phi = np.broadcast_to(np.asarray(volume_fraction, np.float32), (len(x),))
        out = self.parameters_from_outputs(self._predict_block(x, phi))
        return out[0] if np.ndim(intensity) == 1 else out

    def predict_normalised(self, x: np.ndarray) -> np.ndarray:
        """Distributions from already standardised inputs (N, n_features + 1), as Keras sees them."""
        return self._finish(self._layers(np.asarray(x, dtype=np.float32), first_done=False))

    def predict(self, intensity: np.ndarray, volume_fraction: np.ndarray | float,
                threads: int | None = None) -> np.ndarray:
        """Number distributions (N, n_r), rows summing to 1, for curves on the model's q grid.

        ``intensity`` is (n_q,) or (N, n_q), positive; ``volume_fraction`` a scalar or (N,).
        Large batches are cut into blocks of 1024 curves spread over threads, with BLAS limited to one
        thread each (threadpoolctl): the elementwise work then uses every core too.
        """
        if self.parametric:
            raise ModelFileError(f"model {self.name} predicts parameters {list(self.output_names)}, not a "
                                 "distribution; use it with --parametric (sasview_nn_plugin.parametric)")
        x = np.asarray(intensity)
        if x.ndim == 1 and np.ndim(volume_fraction) == 0:
            out = self._predict_one(np.ascontiguousarray(x, dtype=float), volume_fraction)
            return out if self.activations[-1] == "softmax" else self._finish(out[None])[0]
        single = x.ndim == 1
        x = np.atleast_2d(x)
        phi = np.asarray(volume_fraction, dtype=np.float32)
        phi = np.full(len(x), phi, np.float32) if phi.ndim == 0 else phi
        step = 1024
        if len(x) <= 2 * step or (n_threads := threads or os.cpu_count() or 1) == 1:
            out = self._predict_block(x, phi)
        else:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(n_threads) as pool:
                parts = pool.map(lambda s: self._predict_block(x[s:s + step], phi[s:s + step]),
                                 range(0, len(x), step))
                out = np.concatenate(list(parts))
        out = self._finish(out)
        return out[0] if single else out


def _parametric_fields(f) -> dict:
    """The optional parameter-output description of a model file (empty for distribution models)."""
    if "output_names" not in f.attrs:
        return {}
    return {"output_names": tuple(json.loads(f.attrs["output_names"])),
            "output_log": tuple(json.loads(f.attrs["output_log"])),
            "output_min": f["output_min"][:].astype(float), "output_max": f["output_max"][:].astype(float)}


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


# -- file I/O ------------------------------------------------------------------------------------

def save_model(model: NNModel, path: str | os.PathLike) -> Path:
    """Write the model to ``path`` (atomically: temp name, then rename)."""
    import h5py

    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION if model.parametric else 1
            f.attrs["transform"] = model.transform
            f.attrs["block"] = model.block
            f.attrs["phi_shift"] = model.phi_shift
            f.attrs["phi_scale"] = model.phi_scale
            f.attrs["activations"] = json.dumps(model.activations)
            f.attrs["info"] = json.dumps(model.info, default=float)
            f["q"], f["radius"] = model.q, model.radius
            f["input_shift"], f["input_scale"] = model.input_shift, model.input_scale
            for i, (w, b) in enumerate(zip(model.weights, model.biases, strict=True)):
                f[f"layers/{i}/kernel"], f[f"layers/{i}/bias"] = w, b
            if model.parametric:
                f.attrs["output_names"] = json.dumps(list(model.output_names))
                f.attrs["output_log"] = json.dumps([bool(x) for x in model.output_log])
                f["output_min"], f["output_max"] = model.output_min, model.output_max
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def resolve_model_path(model: str | os.PathLike | None) -> Path:
    """A path, or the name of a shipped model (``trained_models/NAME.h5``)."""
    name = DEFAULT_MODEL if model is None else str(model)
    p = Path(name)
    if p.suffix in (".h5", ".hdf5") or p.exists():
        if not p.is_file():
            raise ModelFileError(f"model file {p} not found")
        return p
    candidate = models_dir() / f"{name}.h5"
    if not candidate.is_file():
        known = sorted(x.stem for x in models_dir().glob("*.h5"))
        raise ModelFileError(f"no model named {name!r} in {models_dir()}; known: {', '.join(known) or 'none'}")
    return candidate


_CACHE: dict[tuple[str, float], NNModel] = {}


def load_model(model: str | os.PathLike | NNModel | None = None) -> NNModel:
    """Load a model by path or shipped name (default: the shipped default); cached per file."""
    if isinstance(model, NNModel):
        return model
    import h5py

    path = resolve_model_path(model)
    key = (str(path.resolve()), path.stat().st_mtime)
    if key in _CACHE:
        return _CACHE[key]
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FORMAT:
                raise ModelFileError(f"{path} is not a sasview_nn_plugin model file (format attribute missing)")
            if int(f.attrs["format_version"]) > FORMAT_VERSION:
                raise ModelFileError(f"{path} has format version {f.attrs['format_version']}; "
                                     "upgrade sasview_nn_plugin to read it")
            n_layers = len(f["layers"])
            nn = NNModel(
                q=f["q"][:].astype(float), radius=f["radius"][:].astype(float),
                transform=str(f.attrs["transform"]), block=int(f.attrs["block"]),
                input_shift=f["input_shift"][:].astype(np.float32), input_scale=f["input_scale"][:].astype(np.float32),
                phi_shift=float(f.attrs["phi_shift"]), phi_scale=float(f.attrs["phi_scale"]),
                weights=[f[f"layers/{i}/kernel"][:].astype(np.float32) for i in range(n_layers)],
                biases=[f[f"layers/{i}/bias"][:].astype(np.float32) for i in range(n_layers)],
                activations=json.loads(f.attrs["activations"]), info=json.loads(f.attrs["info"]),
                name=path.stem, **_parametric_fields(f))
    except ModelFileError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise ModelFileError(f"cannot read model file {path}: {exc}; the file is corrupt or not a model") from None
    _CACHE[key] = nn
    return nn
