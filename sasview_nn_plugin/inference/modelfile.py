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
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import numpy as np

from ..errors import ModelFileError

FORMAT = "sasview_nn_plugin.model"
FORMAT_VERSION = 2   # 2 added parameter outputs (parametric heads); distribution models are still written as 1
DEFAULT_MODEL = "default"
ACTIVATIONS = ("relu", "softmax", "linear")
# what load_model accepts, checked from the file's metadata before any array is read (the shipped models
# have about 0.5 million weights, 1000 q points, 4 layers and a few kB of JSON nested 3 deep)
MAX_WEIGHTS = 50_000_000       # kernels + biases, all layers
MAX_GRID = 1_000_000           # q points, radius bins
MAX_LAYERS = 1_000
MAX_JSON_BYTES = 1_000_000     # per JSON attribute
MAX_JSON_DEPTH = 32


def models_dir() -> Path:
    """Directory of shipped models: $SASVIEW_NN_MODELS if set; else the installed data package
    ``sasview_nn_plugin.trained_models`` (pyproject.toml maps the top-level trained_models/ there, so
    a wheel carries the models); else the source tree's trained_models/ (editable installs and
    checkouts on sys.path, where that folder cannot be imported as a subpackage)."""
    env = os.environ.get("SASVIEW_NN_MODELS")
    if env:
        return Path(env)
    import importlib.util

    # a folder without __init__.py is a namespace package, for which importlib.resources.files() gives
    # no plain directory; its spec names the installed folder (site-packages/sasview_nn_plugin/trained_models)
    spec = importlib.util.find_spec("sasview_nn_plugin.trained_models")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parents[2] / "trained_models"


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
        for what, grid in (("q grid", self.q), ("radius grid", self.radius)):
            if (problem := grid_problem(grid)) is not None:
                raise ModelFileError(f"model {self.name}: the {what} {problem}; the file is corrupt")
        if not (np.isfinite(self.phi_shift) and np.isfinite(self.phi_scale) and self.phi_scale != 0):
            raise ModelFileError(f"model {self.name}: volume-fraction normalisation phi_shift = {self.phi_shift}, "
                                 f"phi_scale = {self.phi_scale}; it needs finite values and phi_scale != 0")
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
                                 "distribution; use it with --parametric (sasview_nn_plugin.fitting.parametric)")
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
    """A path, or the name of a shipped model (``trained_models/NAME.h5``, see :func:`models_dir`)."""
    name = DEFAULT_MODEL if model is None else str(model)
    p = Path(name)
    if p.suffix in (".h5", ".hdf5") or p.exists():
        if not p.is_file():
            raise ModelFileError(f"model file {p} not found")
        return p
    where = models_dir()
    candidate = where / f"{name}.h5"
    if not candidate.is_file():
        known = sorted(x.stem for x in where.glob("*.h5"))
        hint = "" if known else " (an install without its models: reinstall, or set $SASVIEW_NN_MODELS)"
        raise ModelFileError(f"no model named {name!r} in {where}; known: {', '.join(known) or 'none'}{hint}")
    return candidate


_FIX = "the file is corrupt: re-download it or re-train it"


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


def _json_depth(value) -> int:
    """Nesting depth of parsed JSON (0 for a scalar, 1 for a flat list or dict), without recursion."""
    depth, level = 0, [value]
    while level := [v for v in level if isinstance(v, dict | list)]:
        depth += 1
        level = [x for v in level for x in (v.values() if isinstance(v, dict) else v)]
    return depth


class _FileCheck:
    """Checks of a model file from its HDF5 metadata (links, storage, dtypes, shapes, attribute sizes)."""

    def __init__(self, f, path: Path) -> None:
        self.f, self.path = f, path
        self.file_size = path.stat().st_size
        self.datasets: list = []

    def fail(self, what: str) -> NoReturn:
        raise ModelFileError(f"model file {self.path}: {what}; {_FIX}")

    def node(self, name: str):
        """The object ``name``, reached through hard links only (no external or soft links on the way)."""
        import h5py

        parts = name.split("/")
        for k in range(1, len(parts) + 1):
            sub = "/".join(parts[:k])
            link = self.f.get(sub, getlink=True)
            if link is None:
                self.fail(f"{sub} is missing")
            if isinstance(link, h5py.ExternalLink):
                self.fail(f"{sub} is an external link (to {link.filename}); a model file must hold its own data")
            if not isinstance(link, h5py.HardLink):
                self.fail(f"{sub} is a {type(link).__name__}; a model file holds its data itself, without links")
        return self.f[name]

    def dataset(self, name: str, ndim: int):
        """A floating-point dataset of ``ndim`` dimensions stored in this file (not virtual, not external)."""
        import h5py

        ds = self.node(name)
        if not isinstance(ds, h5py.Dataset):
            self.fail(f"{name} is not a dataset")
        if ds.is_virtual:
            self.fail(f"{name} is a virtual dataset (its data lives in other files); "
                      "a model file must hold its own data")
        if ds.external:
            self.fail(f"{name} keeps its data in external raw files; a model file must hold its own data")
        if ds.dtype.kind != "f":
            self.fail(f"{name} has type {ds.dtype}; it must be floating point")
        if ds.ndim != ndim:
            self.fail(f"{name} has shape {ds.shape}; it must be {ndim}-D")
        self.datasets.append((name, ds))
        return ds

    def storage(self) -> None:
        """Every checked dataset's declared data is in the file: a contiguous one stores at least its declared bytes
        (and declares no more than the file size); a chunked (possibly compressed) one has every chunk written."""
        for name, ds in self.datasets:
            declared = ds.size * ds.dtype.itemsize
            if declared == 0:
                continue
            if ds.chunks is None:
                ok = declared <= self.file_size and ds.id.get_storage_size() >= declared
            else:
                n_chunks = math.prod(-(-n // c) for n, c in zip(ds.shape, ds.chunks, strict=True))
                ok = ds.id.get_num_chunks() >= n_chunks
            if not ok:
                self.fail(f"{name} declares shape {ds.shape} ({declared:,} bytes) but the file of "
                          f"{self.file_size:,} bytes does not hold that data")

    def number(self, name: str, integer: bool = False) -> float | int:
        """A scalar numeric attribute."""
        if name not in self.f.attrs:
            self.fail(f"attribute {name} is missing")
        aid = self.f.attrs.get_id(name)
        if aid.shape not in ((), (1,)) or aid.dtype.kind not in ("iu" if integer else "iuf"):
            self.fail(f"attribute {name} has type {aid.dtype} and shape {aid.shape}; it must be one "
                      f"{'integer' if integer else 'number'}")
        return np.asarray(self.f.attrs[name]).reshape(-1)[0].item()

    def text(self, name: str, limit: int = MAX_JSON_BYTES) -> str:
        """A scalar string attribute of at most ``limit`` characters."""
        import h5py

        if name not in self.f.attrs:
            self.fail(f"attribute {name} is missing")
        aid = self.f.attrs.get_id(name)
        if aid.shape != () or h5py.check_string_dtype(aid.dtype) is None:
            self.fail(f"attribute {name} has type {aid.dtype} and shape {aid.shape}; it must be one text string")
        if aid.dtype.itemsize > limit:   # fixed-length strings: the size is in the metadata
            self.fail(f"attribute {name} holds {aid.dtype.itemsize:,} bytes, more than {limit:,}")
        value = self.f.attrs[name]
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if len(value) > limit:
            self.fail(f"attribute {name} holds {len(value):,} characters, more than {limit:,}")
        return value

    def json(self, name: str, kind: type):
        """A JSON attribute (size and nesting limited) whose top level is a ``kind``."""
        text = self.text(name)
        try:
            value = json.loads(text)
        except RecursionError:
            self.fail(f"attribute {name} is JSON nested too deeply to parse (at most {MAX_JSON_DEPTH} levels)")
        except ValueError as exc:
            self.fail(f"attribute {name} is not valid JSON ({exc})")
        if (depth := _json_depth(value)) > MAX_JSON_DEPTH:
            self.fail(f"attribute {name} is JSON nested {depth} levels deep (at most {MAX_JSON_DEPTH})")
        if not isinstance(value, kind):
            self.fail(f"attribute {name} is a JSON {type(value).__name__}, not a {kind.__name__}")
        return value


def _read_model(f, path: Path) -> NNModel:
    """An NNModel from an open model file: everything checked from metadata first, then the arrays read."""
    import h5py

    c = _FileCheck(f, path)
    fmt = f.attrs.get_id("format") if "format" in f.attrs else None
    if fmt is None or fmt.shape != () or h5py.check_string_dtype(fmt.dtype) is None or c.text("format", 100) != FORMAT:
        raise ModelFileError(f"{path} is not a sasview_nn_plugin model file (format attribute missing)")
    version = c.number("format_version", integer=True)
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path} has format version {version}; upgrade sasview_nn_plugin to read it")
    transform = c.text("transform", 100)
    if transform not in ("log_block", "minmax"):
        c.fail(f"unknown input transform {transform!r} (known: log_block, minmax)")
    block = c.number("block", integer=True)
    phi_shift, phi_scale = float(c.number("phi_shift")), float(c.number("phi_scale"))
    if not (math.isfinite(phi_shift) and math.isfinite(phi_scale) and phi_scale != 0):
        c.fail(f"the volume-fraction normalisation phi_shift = {phi_shift}, phi_scale = {phi_scale} needs finite "
               "values and a nonzero phi_scale")
    activations, info = c.json("activations", list), c.json("info", dict)
    outputs = {}
    if "output_names" in f.attrs:
        names, logs = c.json("output_names", list), c.json("output_log", list)
        if not names or not all(isinstance(x, str) for x in names) or len(logs) != len(names) \
                or not all(isinstance(x, bool) for x in logs):
            c.fail(f"output_names {names} and output_log {logs} must list the same number of names and true/false")
        outputs = {"output_names": tuple(names), "output_log": tuple(logs)}

    # shapes, from metadata only
    n_q, n_r = (len(c.dataset(name, 1)) for name in ("q", "radius"))
    for what, n in (("q grid", n_q), ("radius grid", n_r)):
        if not 2 <= n <= MAX_GRID:
            c.fail(f"the {what} has {n:,} points; a model grid has 2 to {MAX_GRID:,}")
    if block < 1 or n_q % block:
        c.fail(f"the q grid of {n_q} points is not a multiple of block = {block}")
    n_feat = n_q // block
    for name in ("input_shift", "input_scale"):
        if (n := len(c.dataset(name, 1))) != n_feat:
            c.fail(f"{name} has {n} values; the q grid of {n_q} points in blocks of {block} needs {n_feat}")
    layers = c.node("layers")
    if not isinstance(layers, h5py.Group) or not 1 <= (n_layers := len(layers)) <= MAX_LAYERS:
        c.fail(f"layers must be a group of 1 to {MAX_LAYERS} layers")
    if sorted(layers, key=str) != sorted(map(str, range(n_layers))):
        c.fail(f"the {n_layers} layers must be named 0 to {n_layers - 1}")
    if len(activations) != n_layers or not all(isinstance(a, str) for a in activations):
        c.fail(f"activations lists {len(activations)} entries for {n_layers} layers; it needs one name per layer")
    if unknown := [a for a in activations if a not in ACTIVATIONS]:
        c.fail(f"unknown activations {unknown} (known: {', '.join(ACTIVATIONS)})")
    width, n_weights = n_feat + 1, 0   # layer 0 takes the features and the volume fraction
    for i in range(n_layers):
        kernel, bias = c.dataset(f"layers/{i}/kernel", 2), c.dataset(f"layers/{i}/bias", 1)
        if kernel.shape[0] != width:
            takes = f"the {n_feat} q features and the volume fraction" if i == 0 else f"the outputs of layer {i - 1}"
            c.fail(f"layers/{i}/kernel has shape {kernel.shape}: layer {i} must take {width} inputs ({takes})")
        width = kernel.shape[1]
        if bias.shape != (width,):
            c.fail(f"layers/{i}/bias has shape {bias.shape}; layer {i} has {width} outputs")
        n_weights += kernel.size + bias.size
    if n_weights > MAX_WEIGHTS:
        c.fail(f"the layers declare {n_weights:,} weights, more than the {MAX_WEIGHTS:,} a model may have")
    if outputs:
        k = len(outputs["output_names"])
        if width != k:
            c.fail(f"the network gives {width} outputs for the {k} parameters {list(outputs['output_names'])}")
        for name in ("output_min", "output_max"):
            if (n := len(c.dataset(name, 1))) != k:
                c.fail(f"{name} has {n} values for {k} parameters")
    elif width != n_r:
        c.fail(f"the network gives {width} outputs but the radius grid has {n_r} bins")
    c.storage()

    # values
    grids = {name: f[name][:].astype(float) for name in ("q", "radius")}
    for name, g in grids.items():
        if (problem := grid_problem(g)) is not None:
            c.fail(f"the {name} grid {problem}")
    arrays = {name: f[name][:].astype(np.float32) for name in ("input_shift", "input_scale")}
    if np.any(arrays["input_scale"] == 0):
        c.fail("input_scale holds zeros")
    for i in range(n_layers):
        arrays[f"layers/{i}/kernel"] = f[f"layers/{i}/kernel"][:].astype(np.float32)
        arrays[f"layers/{i}/bias"] = f[f"layers/{i}/bias"][:].astype(np.float32)
    if outputs:
        outputs |= {name: f[name][:].astype(float) for name in ("output_min", "output_max")}
        arrays |= {name: outputs[name] for name in ("output_min", "output_max")}
    for name, a in arrays.items():
        if not np.all(np.isfinite(a)):
            c.fail(f"{name} holds NaN or infinite values (after conversion to float32)")
    return NNModel(q=grids["q"], radius=grids["radius"], transform=transform, block=block,
                   input_shift=arrays["input_shift"], input_scale=arrays["input_scale"],
                   phi_shift=phi_shift, phi_scale=phi_scale,
                   weights=[arrays[f"layers/{i}/kernel"] for i in range(n_layers)],
                   biases=[arrays[f"layers/{i}/bias"] for i in range(n_layers)],
                   activations=activations, info=info, name=path.stem, **outputs)


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
            nn = _read_model(f, path)
    except ModelFileError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RecursionError) as exc:
        raise ModelFileError(f"cannot read model file {path}: {exc}; the file is corrupt or not a model") from None
    _CACHE[key] = nn
    return nn
