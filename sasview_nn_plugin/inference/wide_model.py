"""The whole-curve network: one forward pass over any window up to 3.6 decades of q, numpy + h5py only.

A curve (q, I in any units, dI, pinhole dQ or slit length) is placed on the network's dimensionless grid
x = q L, L = 1 / sqrt(q_lo q_hi) (:mod:`..physics.wide`: exact by self-similarity); grid points the curve does
not reach, or where its intensity is <= 0, are masked.  Inputs: centred log I (0 where masked), the mask, the
volume fraction and whether it is known, the pinhole dQ/Q (1-sigma), the slit length in x units.  Outputs: the
volume distribution over the dimensionless radius bins (softmax; radii in A are rho L) and the volume
fraction's estimate with its sigma.  A window wider than the grid uses the 3.6-decade span holding the most
information (sum of log(1 + (I/dI)^2) over its points).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, ModelFileError
from ..physics.wide import WideGrids, placement
from .modelfile import CALIBRATION, calibration_problem

FORMAT = "sasview_nn_plugin wide network"
GAP = 3.0           # a gap between positive points wider than GAP x their median log spacing is masked
N_SCALARS = 5       # phi, phi known, dQ/Q x 5, slit present, log10 slit length (x units)


def input_vector(features: np.ndarray, mask: np.ndarray, phi: np.ndarray, phi_known: np.ndarray,
                 dq_over_q: np.ndarray, slit: np.ndarray) -> np.ndarray:
    """(N, 2 n_x + N_SCALARS) float32 network inputs; training and inference both build them here."""
    n = len(features)
    slit = np.asarray(slit, dtype=float)
    has_slit = slit > 0
    scal = np.stack([np.asarray(phi, float) * 4.0, np.asarray(phi_known, float),
                     np.asarray(dq_over_q, float) * 5.0, has_slit.astype(float),
                     np.where(has_slit, np.log10(np.where(has_slit, slit, 1.0)), 0.0) / 2.0], axis=1)
    out = np.empty((n, 2 * features.shape[1] + N_SCALARS), np.float32)
    out[:, :features.shape[1]] = features / 3.0
    out[:, features.shape[1]:2 * features.shape[1]] = mask
    out[:, 2 * features.shape[1]:] = scal
    return out


@dataclass(frozen=True)
class Placed:
    """A curve on the network's grid: features, mask and the length L (A) it was placed with."""

    features: np.ndarray      # (n_x,) centred log I, 0 where masked
    mask: np.ndarray          # (n_x,) bool
    length: float             # L, A: radius = rho * L, q = x / L
    q_range: tuple[float, float]   # the data window read (1/A)
    dq_over_q: float
    slit_x: float             # slit length in x units (0: none)


def _span(q: np.ndarray, intensity: np.ndarray, di: np.ndarray | None, decades: float) -> tuple[float, float]:
    """The window (1/A): all of q, or the ``decades``-wide span with the most information."""
    lq = np.log10(q)
    if lq[-1] - lq[0] <= decades:
        return float(q[0]), float(q[-1])
    snr = np.abs(intensity / di) if di is not None else np.where(intensity > 0, 10.0, 0.0)
    info = np.cumsum(np.concatenate([[0.0], np.log1p(snr**2)]))
    ends = np.searchsorted(lq, lq + decades, side="right")
    gain = info[ends] - info[np.arange(len(q))]
    k = int(np.argmax(gain))
    return float(q[k]), float(q[ends[k] - 1])


def place(grids: WideGrids, q, intensity, di=None, dq=None, slit_length: float | None = None) -> Placed:
    """Put one curve (q 1/A ascending, I, dI or None, dq 1-sigma 1/A or None, slit length 1/A or None) on the grid.

    The window (hence L) is the data's whole q range.  Points with I <= 0 are data but carry no log: the network
    reads the positive points, interpolated in log-log onto the grid (several points per grid cell averaged in
    log), and masks the grid outside them and inside gaps wider than GAP x the curve's median log spacing (a run
    of non-positive points, a detector gap).  So a curve with points marked bad reads as the same curve cut.
    """
    q, intensity = np.asarray(q, float), np.asarray(intensity, float)
    di = None if di is None else np.asarray(di, float)
    x = grids.x
    q_lo, q_hi = _span(q, intensity, di, 2 * grids.x_half - 1e-6)
    inside = (q >= q_lo) & (q <= q_hi)
    length = placement(q_lo, q_hi)
    pos = inside & (intensity > 0)
    lxq = np.log(q[pos] * length)
    liq = np.log(intensity[pos])
    lx = np.log(x)
    mask = np.zeros(len(x), bool)
    feats = np.zeros(len(x))
    if len(lxq) >= 2:
        cell = np.clip(np.searchsorted((lx[1:] + lx[:-1]) / 2, lxq), 0, len(x) - 1)
        count = np.bincount(cell, minlength=len(x))
        mean_log = np.bincount(cell, weights=liq, minlength=len(x)) / np.maximum(count, 1)
        li = np.where(count > 0, mean_log, np.interp(lx, lxq, liq))
        spacing = np.diff(lxq)
        wide_gap = np.maximum(GAP * np.median(spacing), 2.0 * (lx[1] - lx[0]))
        k = np.clip(np.searchsorted(lxq, lx), 1, len(lxq) - 1)      # lxq[k-1] <= lx < lxq[k]
        in_gap = (lxq[k] - lxq[k - 1]) > wide_gap
        mask = (lx >= lxq[0] - 1e-9) & (lx <= lxq[-1] + 1e-9) & ((count > 0) | ~in_gap)
        if mask.any():
            feats = np.where(mask, li - li[mask].mean(), 0.0)
    dqr = 0.0
    if dq is not None:
        rel = np.asarray(dq, float)[inside] / q[inside]
        dqr = float(np.median(rel)) if len(rel) else 0.0
    slit_x = float(slit_length) * length if slit_length else 0.0
    return Placed(feats, mask, length, (q_lo, q_hi), dqr, slit_x)


@dataclass(frozen=True, eq=False)
class WideModel:
    """The whole-curve network: dimensionless grids, dense layers (ReLU, last linear), metadata."""

    grids: WideGrids
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    info: dict = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", tuple(np.array(w, np.float32) for w in self.weights))
        object.__setattr__(self, "biases", tuple(np.array(b, np.float32) for b in self.biases))
        for a in self.weights + self.biases:
            a.flags.writeable = False
        n_in = 2 * len(self.grids.x) + N_SCALARS
        n_out = len(self.grids.rho) + 2
        if self.weights[0].shape[0] != n_in or self.weights[-1].shape[1] != n_out:
            raise ModelFileError(f"model {self.name}: layers take {self.weights[0].shape[0]} inputs and give "
                                 f"{self.weights[-1].shape[1]} outputs; its grids need {n_in} and {n_out}",
                                 parameter=None)

    @property
    def radius(self) -> np.ndarray:
        """The dimensionless radii of a result (rho split SUB-fold, :func:`.polish.fine_grid`); in A: x L."""
        from .polish import fine_grid

        return fine_grid(self.grids.rho)[0]

    def forward(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Network on (N, n_in) inputs -> (volume (N, n_rho), phi (N,), phi_sigma (N,))."""
        h = np.asarray(inputs, np.float32)
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w + b
            if i < len(self.weights) - 1:
                np.maximum(h, 0, out=h)
        n_rho = len(self.grids.rho)
        logits = h[:, :n_rho].astype(float)
        logits -= logits.max(axis=1, keepdims=True)
        vol = np.exp(logits)
        vol /= vol.sum(axis=1, keepdims=True)
        phi = 0.5 / (1.0 + np.exp(-h[:, n_rho].astype(float)))
        sigma = np.exp(np.clip(h[:, n_rho + 1].astype(float), -7, 1))
        return vol, phi, sigma

    def predict_placed(self, placed: list[Placed], phi: list[float | None]
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One batched pass over placed curves; ``phi[k]`` None = unknown (then estimated)."""
        if not placed:
            return np.zeros((0, len(self.grids.rho))), np.zeros(0), np.zeros(0)
        feats = np.stack([p.features for p in placed])
        mask = np.stack([p.mask for p in placed]).astype(np.float32)
        known = np.array([v is not None for v in phi], float)
        phis = np.array([0.0 if v is None else float(v) for v in phi])
        x = input_vector(feats, mask, phis, known, [p.dq_over_q for p in placed], [p.slit_x for p in placed])
        return self.forward(x)


def save_wide(model: WideModel, path: str | os.PathLike) -> Path:
    """Write the model atomically (metadata first, then the layers)."""
    import h5py

    from ..data.files import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = 1
        f.attrs["grids"] = json.dumps(model.grids.as_dict())
        f.attrs["n_layers"] = len(model.weights)
        f.attrs["info"] = json.dumps(model.info, default=float)
        for i, (w, b) in enumerate(zip(model.weights, model.biases, strict=True)):
            f[f"layers/{i}/kernel"], f[f"layers/{i}/bias"] = w, b
    return path


def is_wide_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a whole-curve model file (False for anything unreadable: its loader says why)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return f.attrs.get("format") == FORMAT
    except OSError:
        return False


def load_wide(path: str | os.PathLike) -> WideModel:
    """Read a wide model; metadata checked before any array is read."""
    import h5py

    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FORMAT or int(f.attrs.get("format_version", 0)) != 1:
                raise ModelFileError(f"{path} is not a whole-curve model file (format {f.attrs.get('format')!r})",
                                     parameter=None)
            grids = WideGrids(**json.loads(f.attrs["grids"]))
            n = int(f.attrs["n_layers"])
            if not 1 <= n <= 16:
                raise ModelFileError(f"{path}: {n} layers; the file is corrupt", parameter=None)
            shapes = [(f[f"layers/{i}/kernel"].shape, f[f"layers/{i}/bias"].shape) for i in range(n)]
            if any(len(k) != 2 or np.prod(k) > 5e7 or b != (k[1],) for k, b in shapes):
                raise ModelFileError(f"{path}: layer shapes {shapes} are not a dense network", parameter=None)
            weights = [f[f"layers/{i}/kernel"][()] for i in range(n)]
            biases = [f[f"layers/{i}/bias"][()] for i in range(n)]
            info = json.loads(f.attrs.get("info", "{}"))
            if CALIBRATION in info and (problem := calibration_problem(info[CALIBRATION])) is not None:
                raise ModelFileError(f"{path}: its interval calibration {problem}", parameter=None)
    except (OSError, KeyError, ValueError) as exc:
        raise ModelFileError(f"{path}: cannot read the whole-curve model ({exc})", parameter=None) from None
    return WideModel(grids, weights, biases, info, name=path.stem)


def check_slit(slit_length) -> float | None:
    """A slit length (1/A) as given: None or 0 for none; positive finite otherwise."""
    if slit_length is None or slit_length == 0:
        return None
    v = float(slit_length)
    if not np.isfinite(v) or v < 0:
        raise InputError(f"`slit_length` must be a positive length in 1/A (got {slit_length})", parameter="slit_length")
    return v


_LOADED: dict = {}


def wide_model(model) -> WideModel | None:
    """The whole-curve model that ``model`` names (a WideModel, a shipped name or a path to such a file), loaded
    once per file (keyed by path, modification time and size); None when it names another kind of model."""
    if isinstance(model, WideModel):
        return model
    if model is None or not isinstance(model, (str, os.PathLike)):
        return None
    from .modelfile import resolve_model_path

    path = resolve_model_path(model)
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _LOADED:
        _LOADED[key] = load_wide(path) if is_wide_file(path) else None
    return _LOADED[key]


def load_any(model=None):
    """The model ``model`` names, whole-curve (:class:`WideModel`) or windowed (``modelfile.load_model``)."""
    from .modelfile import load_model

    return wide_model(model) or load_model(model)


AUTO = "auto"   # the model name that chooses by the data (:func:`choose_network`)
MIN_DECADES = 1.0   # the whole-curve network reads windows of 1.0-3.6 decades (its training windows): narrower refused


def is_auto(model) -> bool:
    """Whether ``model`` names the automatic choice (``"auto"``, any case)."""
    return isinstance(model, str) and model.strip().lower() == AUTO


def choose_network(q, slit_length=None, di_given: bool = True) -> tuple[str | None, str]:
    """(model name, why) for ``model="auto"``: the whole-curve network (``"wide"``) where the data are slit-smeared
    (the windowed one refuses slits) or the points span at least :data:`MIN_DECADES` of q with dI given, else None,
    the windowed default.  Without dI (``di_given`` False) the windowed one reads a curve it can: the whole-curve
    network's answers are fits that explain more of what is not spheres, and its review of other explanations
    (fractals) needs dI, whereas the windowed one's misfit flags catch such curves without (a fractal, spheres
    with a q^-4 upturn: tests/test_power_law.py, tests/test_alternatives.py).  One rule for
    :func:`~.invert.invert`, ``invert_many``, ``sasview-nn invert`` and SasView's *Automatic* choice; ``batch``
    applies it once for the whole run (:func:`..runs.batch.run_network`)."""
    q = np.asarray(q, dtype=float)
    q = q[np.isfinite(q) & (q > 0)]
    decades = float(np.log10(q.max() / q.min())) if len(q) > 1 else 0.0
    slit = np.asarray([] if slit_length is None else slit_length, dtype=float).ravel()
    if np.any(slit > 0):
        return "wide", (f"slit-smeared data (slit length {float(np.median(slit[slit > 0])):.4g} 1/A): "
                        "the whole-curve network")
    if decades >= MIN_DECADES and not di_given:
        return None, (f"the q range spans {decades:.2f} decades but the data have no dI: the windowed network (the "
                      "whole-curve network's review of other explanations needs dI; model='wide' reads it anyway)")
    if decades >= MIN_DECADES:
        return "wide", f"the q range spans {decades:.2f} decades: the whole-curve network"
    return None, f"the q range spans {decades:.2f} decades (< {MIN_DECADES:g}): the windowed network"


def choose_for_curve(curve) -> tuple[str | None, str]:
    """:func:`choose_network` for a :class:`~..data.curve.Curve` as ``invert`` reads it: its points inside its
    ``q_range``, its slit length, whether it has dI."""
    if curve.q_range is not None:
        curve = curve.within(curve.q_range)
    return choose_network(curve.q, curve.slit_length, curve.di is not None)
