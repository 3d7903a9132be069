"""The trained-model file format (HDF5 via h5py): metadata checks, load (cached per file), save, names and paths.

A model file carries everything needed to use it: q grid, radius grid, input transform and its
normalisation, the dense layers, training ranges, versions and held-out metrics.  Reading it
needs numpy + h5py only.  The network it holds is :class:`~sasview_nn_plugin.inference.network.NNModel`
(re-exported here with :func:`raw_features`, so ``from .modelfile import NNModel, load_model`` keeps working);
the metadata checks are in :mod:`~sasview_nn_plugin.inference.checks`.

``load_model`` keeps one loaded model per file (keyed by resolved path, modification time and size) and is
safe to call from several threads at once: one of them reads the file, the others wait for it and get the same
object, never a partly built one.
"""

from __future__ import annotations

import functools
import json
import math
import os
import threading
from pathlib import Path

import numpy as np

from ..data.files import atomic_path
from ..errors import ModelFileError
from .checks import MAX_GRID, MAX_LAYERS, MAX_WEIGHTS, FileCheck
from .layers import ACTIVATIONS, grid_problem, raw_features
from .network import NNModel

__all__ = ["CALIBRATION", "DEFAULT_MODEL", "FORMAT", "FORMAT_VERSION", "NNModel", "calibration_of", "load_model",
           "models_dir", "raw_features", "resolve_model_path", "save_model", "write_calibration"]

FORMAT = "sasview_nn_plugin.model"
FORMAT_VERSION = 3   # 2 added parameter outputs (parametric heads), 3 the resolution input (dQ/Q); a model is
                     # written with the lowest version that can hold it (1: distribution, no resolution input)
DEFAULT_MODEL = "default"
# the refinement's interval calibration, a key of the model file's ``info`` (written by benchmarks/fit_calibration.py
# --write, docs/refine.md): {"factors": {name: [f68, f95]}, "observability": {"x": X, "power": P}, "fitted_on": ...}
CALIBRATION = "interval_calibration"
CALIBRATED = ("mean_radius_number", "mean_radius_volume", "volume_fraction", "cumulative")


def models_dir() -> Path:
    """Directory of shipped models: $SASVIEW_NN_MODELS if set; else the installed data package
    ``sasview_nn_plugin.trained_models`` (pyproject.toml maps the top-level trained_models/ there, so
    a wheel carries the models); else the source tree's trained_models/ (editable installs and
    checkouts on sys.path, where that folder cannot be imported as a subpackage)."""
    env = os.environ.get("SASVIEW_NN_MODELS")
    if env:
        return Path(env)
    return _installed_models_dir()


@functools.lru_cache(maxsize=1)
def _installed_models_dir() -> Path:
    """The installed (or source-tree) models folder, looked up once: ``find_spec`` costs ~0.3 ms, more than an
    inversion, and where the package lives does not change while it runs."""
    import importlib.util

    # a folder without __init__.py is a namespace package, for which importlib.resources.files() gives
    # no plain directory; its spec names the installed folder (site-packages/sasview_nn_plugin/trained_models)
    spec = importlib.util.find_spec("sasview_nn_plugin.trained_models")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parents[2] / "trained_models"


def save_model(model: NNModel, path: str | os.PathLike) -> Path:
    """Write the model to ``path`` (atomically: temp name, then rename)."""
    import h5py

    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = 3 if model.takes_resolution else (2 if model.parametric else 1)
            f.attrs["transform"] = model.transform
            f.attrs["block"] = model.block
            f.attrs["phi_shift"] = model.phi_shift
            f.attrs["phi_scale"] = model.phi_scale
            if model.takes_resolution:
                f.attrs["resolution_shift"] = model.resolution_shift
                f.attrs["resolution_scale"] = model.resolution_scale
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
    return path


def calibration_problem(cal) -> str | None:
    """What is wrong with an interval calibration (:data:`CALIBRATION`), or None."""
    if not isinstance(cal, dict) or not isinstance(cal.get("factors"), dict) or not isinstance(
            cal.get("observability"), dict):
        return "must hold `factors` and `observability` objects"
    for name in CALIBRATED:
        f = cal["factors"].get(name)
        if not (isinstance(f, list) and len(f) == 2 and all(isinstance(x, int | float) and 0 < x < 1e3 for x in f)):
            return f"factors[{name!r}] must be two positive numbers (68 %, 95 %), got {f!r}"
    obs = cal["observability"]
    if not all(isinstance(obs.get(k), int | float) and math.isfinite(obs[k]) and obs[k] >= 0 for k in ("x", "power")):
        return f"observability must give finite x and power >= 0, got {obs!r}"
    return None


def calibration_of(model: NNModel) -> dict | None:
    """The refinement's interval calibration fitted for this model (:data:`CALIBRATION`), or None: uncalibrated."""
    return model.info.get(CALIBRATION)


def write_calibration(path: str | os.PathLike, calibration: dict) -> Path:
    """Write ``calibration`` into a model file's ``info`` (a copy renamed over the file: every array and other
    attribute as it was), after checking it (:func:`calibration_problem`)."""
    import shutil

    import h5py

    if (problem := calibration_problem(calibration)) is not None:
        raise ModelFileError(f"interval calibration {problem}", parameter="calibration")
    path = Path(path)
    with atomic_path(path) as tmp:
        shutil.copyfile(path, tmp)
        with h5py.File(tmp, "r+") as f:
            info = json.loads(f.attrs["info"])
            f.attrs["info"] = json.dumps({**info, CALIBRATION: calibration}, default=float)
    return path


def resolve_model_path(model: str | os.PathLike | None) -> Path:
    """A path, or the name of a shipped model (``trained_models/NAME.h5``, see :func:`models_dir`)."""
    name = DEFAULT_MODEL if model is None else str(model)
    p = Path(name)
    if p.suffix in (".h5", ".hdf5") or p.exists():
        if not p.is_file():
            raise ModelFileError(f"model file {p} not found", parameter="model")
        return p
    where = models_dir()
    candidate = where / f"{name}.h5"
    if not candidate.is_file():
        known = sorted(x.stem for x in where.glob("*.h5"))
        hint = "" if known else " (an install without its models: reinstall, or set $SASVIEW_NN_MODELS)"
        raise ModelFileError(f"no model named {name!r} in {where}; known: {', '.join(known) or 'none'}{hint}",
                             parameter="model")
    return candidate


def _read_model(f, path: Path) -> NNModel:
    """An NNModel from an open model file: everything checked from metadata first, then the arrays read."""
    c = FileCheck(f, path)
    transform, block, (phi_shift, phi_scale), activations, info, outputs = _read_header(c, f, path)
    n_q, n_r = (len(c.dataset(name, 1)) for name in ("q", "radius"))   # shapes, from metadata only
    n_feat = _check_grid_shapes(c, n_q, n_r, block)
    n_layers = _check_layer_names(c, activations)
    width = _check_layer_shapes(c, n_layers, n_feat, 2 if "resolution_shift" in outputs else 1)
    _check_outputs(c, outputs, width, n_r)
    c.storage()
    grids, arrays = _read_values(c, f, n_layers, outputs)
    return NNModel(q=grids["q"], radius=grids["radius"], transform=transform, block=block,
                   input_shift=arrays["input_shift"], input_scale=arrays["input_scale"],
                   phi_shift=phi_shift, phi_scale=phi_scale,
                   weights=[arrays[f"layers/{i}/kernel"] for i in range(n_layers)],
                   biases=[arrays[f"layers/{i}/bias"] for i in range(n_layers)],
                   activations=activations, info=info, name=path.stem, **outputs)


def _read_header(c: FileCheck, f, path: Path):
    """The file's attributes, checked: (transform, block, (phi_shift, phi_scale), activations, info, outputs), where
    outputs holds the resolution normalisation and a parametric head's output names, if the file has them."""
    import h5py

    fmt = f.attrs.get_id("format") if "format" in f.attrs else None
    if fmt is None or fmt.shape != () or h5py.check_string_dtype(fmt.dtype) is None or c.text("format", 100) != FORMAT:
        raise ModelFileError(f"{path} is not a sasview_nn_plugin model file (format attribute missing)", parameter=None)
    version = c.number("format_version", integer=True)
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path} has format version {version}; upgrade sasview_nn_plugin to read it",
                             parameter=None)
    transform = c.text("transform", 100)
    if transform not in ("log_block", "minmax"):
        c.fail(f"unknown input transform {transform!r} (known: log_block, minmax)")
    block = c.number("block", integer=True)
    phi_shift, phi_scale = float(c.number("phi_shift")), float(c.number("phi_scale"))
    if not (math.isfinite(phi_shift) and math.isfinite(phi_scale) and phi_scale != 0):
        c.fail(f"the volume-fraction normalisation phi_shift = {phi_shift}, phi_scale = {phi_scale} needs finite "
               "values and a nonzero phi_scale")
    activations, info = c.json("activations", list), c.json("info", dict)
    if CALIBRATION in info and (problem := calibration_problem(info[CALIBRATION])) is not None:
        c.fail(f"its interval calibration {problem}")
    outputs = {}
    if "resolution_shift" in f.attrs or "resolution_scale" in f.attrs:
        res = float(c.number("resolution_shift")), float(c.number("resolution_scale"))
        if not (all(map(math.isfinite, res)) and res[1] != 0):
            c.fail(f"the resolution normalisation {res} needs finite values and a nonzero scale")
        outputs = {"resolution_shift": res[0], "resolution_scale": res[1]}
    if "output_names" in f.attrs:
        names, logs = c.json("output_names", list), c.json("output_log", list)
        if not names or not all(isinstance(x, str) for x in names) or len(logs) != len(names) \
                or not all(isinstance(x, bool) for x in logs):
            c.fail(f"output_names {names} and output_log {logs} must list the same number of names and true/false")
        outputs |= {"output_names": tuple(names), "output_log": tuple(logs)}
    return transform, block, (phi_shift, phi_scale), activations, info, outputs


def _check_grid_shapes(c: FileCheck, n_q: int, n_r: int, block: int) -> int:
    """The number of input features (q blocks), once the grids' and the input normalisation's sizes agree."""
    for what, n in (("q grid", n_q), ("radius grid", n_r)):
        if not 2 <= n <= MAX_GRID:
            c.fail(f"the {what} has {n:,} points; a model grid has 2 to {MAX_GRID:,}")
    if block < 1 or n_q % block:
        c.fail(f"the q grid of {n_q} points is not a multiple of block = {block}")
    n_feat = n_q // block
    for name in ("input_shift", "input_scale"):
        if (n := len(c.dataset(name, 1))) != n_feat:
            c.fail(f"{name} has {n} values; the q grid of {n_q} points in blocks of {block} needs {n_feat}")
    return n_feat


def _check_layer_names(c: FileCheck, activations: list) -> int:
    """The number of layers, once the layers group is named 0..n-1 with one known activation per layer."""
    import h5py

    layers = c.node("layers")
    if not isinstance(layers, h5py.Group) or not 1 <= (n_layers := len(layers)) <= MAX_LAYERS:
        c.fail(f"layers must be a group of 1 to {MAX_LAYERS} layers")
    if sorted(layers, key=str) != sorted(map(str, range(n_layers))):
        c.fail(f"the {n_layers} layers must be named 0 to {n_layers - 1}")
    if len(activations) != n_layers or not all(isinstance(a, str) for a in activations):
        c.fail(f"activations lists {len(activations)} entries for {n_layers} layers; it needs one name per layer")
    if unknown := [a for a in activations if a not in ACTIVATIONS]:
        c.fail(f"unknown activations {unknown} (known: {', '.join(ACTIVATIONS)})")
    return n_layers


def _check_layer_shapes(c: FileCheck, n_layers: int, n_feat: int, n_scalars: int) -> int:
    """The network's output width, once each layer takes the previous one's outputs (layer 0: the features, the
    volume fraction and, with ``n_scalars`` 2, dQ/Q) and the weights are within MAX_WEIGHTS."""
    width, n_weights = n_feat + n_scalars, 0
    for i in range(n_layers):
        kernel, bias = c.dataset(f"layers/{i}/kernel", 2), c.dataset(f"layers/{i}/bias", 1)
        if kernel.shape[0] != width:
            scalars = "the volume fraction and dQ/Q" if n_scalars == 2 else "the volume fraction"
            takes = f"the {n_feat} q features and {scalars}" if i == 0 else f"the outputs of layer {i - 1}"
            c.fail(f"layers/{i}/kernel has shape {kernel.shape}: layer {i} must take {width} inputs ({takes})")
        width = kernel.shape[1]
        if bias.shape != (width,):
            c.fail(f"layers/{i}/bias has shape {bias.shape}; layer {i} has {width} outputs")
        n_weights += kernel.size + bias.size
    if n_weights > MAX_WEIGHTS:
        c.fail(f"the layers declare {n_weights:,} weights, more than the {MAX_WEIGHTS:,} a model may have")
    return width


def _check_outputs(c: FileCheck, outputs: dict, width: int, n_r: int) -> None:
    """The network's outputs: one per parameter of a parametric head (with its bounds), else one per radius bin."""
    if "output_names" in outputs:
        k = len(outputs["output_names"])
        if width != k:
            c.fail(f"the network gives {width} outputs for the {k} parameters {list(outputs['output_names'])}")
        for name in ("output_min", "output_max"):
            if (n := len(c.dataset(name, 1))) != k:
                c.fail(f"{name} has {n} values for {k} parameters")
    elif width != n_r:
        c.fail(f"the network gives {width} outputs but the radius grid has {n_r} bins")


def _read_values(c: FileCheck, f, n_layers: int, outputs: dict) -> tuple[dict, dict]:
    """(grids, arrays): the q and radius grids (float) and the network's arrays (float32), their values checked;
    a parametric head's output bounds are added to ``outputs``."""
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
    if "output_names" in outputs:
        outputs |= {name: f[name][:].astype(float) for name in ("output_min", "output_max")}
        arrays |= {name: outputs[name] for name in ("output_min", "output_max")}
    for name, a in arrays.items():
        if not np.all(np.isfinite(a)):
            c.fail(f"{name} holds NaN or infinite values (after conversion to float32)")
    return grids, arrays


_CACHE: dict[str, tuple[tuple[int, int], NNModel]] = {}   # resolved path -> ((mtime_ns, size), model)
_CACHE_LOCK = threading.Lock()                            # guards _FILE_LOCKS
_FILE_LOCKS: dict[str, threading.Lock] = {}               # one per path: a file is read by one thread at a time


@functools.lru_cache(maxsize=64)
def _resolved(path: str) -> str:
    """The cache key of a model path: the path with symlinks resolved (a changed target changes the file's stamp)."""
    return str(Path(path).resolve())


def load_model(model: str | os.PathLike | NNModel | None = None) -> NNModel:
    """Load a model by path or shipped name (default: the shipped default); cached per file, thread-safe.

    A loaded model is immutable and safe to share: threads that load the same file at once get the same object
    (one reads it, the others wait).  A file changed on disk (new modification time or size) is read again.
    """
    if isinstance(model, NNModel):
        return model
    path = resolve_model_path(model)
    st = path.stat()
    key, stamp = _resolved(str(path)), (st.st_mtime_ns, st.st_size)
    if (hit := _CACHE.get(key)) is not None and hit[0] == stamp:   # the common case: no lock
        return hit[1]
    with _CACHE_LOCK:
        lock = _FILE_LOCKS.setdefault(key, threading.Lock())
    with lock:
        if (hit := _CACHE.get(key)) is not None and hit[0] == stamp:   # loaded while this thread waited
            return hit[1]
        nn = _read_file(path)
        _CACHE[key] = (stamp, nn)   # published whole: the model was fully built (and checked) above
    return nn


def _read_file(path: Path) -> NNModel:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return _read_model(f, path)
    except ModelFileError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RecursionError) as exc:
        raise ModelFileError(f"cannot read model file {path}: {exc}; the file is corrupt or not a model",
                             parameter=None) from None
