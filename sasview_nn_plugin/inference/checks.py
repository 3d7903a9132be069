"""Checks of a model file from its HDF5 metadata alone: links, storage, dtypes, shapes and attribute sizes.

:func:`~sasview_nn_plugin.inference.modelfile.load_model` refuses a file through these before it reads any
array, so a hostile or corrupt file (absurd declared shapes, external or virtual data, deeply nested JSON)
costs a few metadata reads, never the memory it declares.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import NoReturn

import numpy as np

from ..errors import ModelFileError

# what load_model accepts, checked from the file's metadata before any array is read (the shipped models
# have about 0.5 million weights, 1000 q points, 4 layers and a few kB of JSON nested 3 deep)
MAX_WEIGHTS = 50_000_000       # kernels + biases, all layers
MAX_GRID = 1_000_000           # q points, radius bins
MAX_LAYERS = 1_000
MAX_JSON_BYTES = 1_000_000     # per JSON attribute
MAX_JSON_DEPTH = 32

FIX = "the file is corrupt: re-download it or re-train it"


def json_depth(value) -> int:
    """Nesting depth of parsed JSON (0 for a scalar, 1 for a flat list or dict), without recursion."""
    depth, level = 0, [value]
    while level := [v for v in level if isinstance(v, dict | list)]:
        depth += 1
        level = [x for v in level for x in (v.values() if isinstance(v, dict) else v)]
    return depth



class FileCheck:
    """Checks of a model file from its HDF5 metadata (links, storage, dtypes, shapes, attribute sizes)."""

    def __init__(self, f, path: Path) -> None:
        self.f, self.path = f, path
        self.file_size = path.stat().st_size
        self.datasets: list = []

    def fail(self, what: str) -> NoReturn:
        raise ModelFileError(f"model file {self.path}: {what}; {FIX}", parameter=None)

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
        if (depth := json_depth(value)) > MAX_JSON_DEPTH:
            self.fail(f"attribute {name} is JSON nested {depth} levels deep (at most {MAX_JSON_DEPTH})")
        if not isinstance(value, kind):
            self.fail(f"attribute {name} is a JSON {type(value).__name__}, not a {kind.__name__}")
        return value

