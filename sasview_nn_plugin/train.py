"""Training with TensorFlow/Keras (the only module that imports it) and export to a model file.

Presets
- ``he2024``: He et al. (2024): 1000 raw intensities min-max scaled + volume fraction, Dense
  128-64-32 ReLU, 100 linear outputs, MAE loss.
- ``he2024_log``: ablation, the he2024 architecture (1000 inputs, 128-64-32) with the default's
  input transform, softmax output and W1 loss.
- ``default``: what we ship (see docs/model.md for the measured comparison): log-intensity in blocks
  of 4 points, centred per curve (scale invariant), standardised; Dense 256-128-128 ReLU; softmax
  output (a valid distribution); loss = Wasserstein-1 distance on the radius grid,
  dr * mean |cumsum(pred - true)| in A; volume fraction jittered +-10 % during training so that a
  slightly wrong phi at inversion time does little harm.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import physics
from .errors import InputError
from .modelfile import NNModel, raw_features, save_model


@dataclass(frozen=True)
class Preset:
    """Network architecture, input transform and loss."""

    transform: str
    block: int
    hidden: tuple[int, ...]
    output: str           # softmax | linear
    loss: str             # w1 | mae
    phi_jitter: float     # relative, uniform +-phi_jitter on the input volume fraction
    learning_rate: float = 1e-3
    batch_size: int = 256
    schedule: str = "plateau"  # plateau (halve on a validation plateau) | cosine (decay to 0 over --epochs)
    roughness: float = 0.0     # w1 loss + roughness * dr * sum |second difference of (pred - true)|


PRESETS = {
    "he2024": Preset("minmax", 1, (128, 64, 32), "linear", "mae", 0.0),
    # ablation: the paper's architecture with our input transform, output and loss
    "he2024_log": Preset("log_block", 1, (128, 64, 32), "softmax", "w1", 0.1, learning_rate=2e-3, batch_size=1024,
                         schedule="cosine"),
    "default": Preset("log_block", 4, (256, 128, 128), "softmax", "w1", 0.1, learning_rate=2e-3, batch_size=1024,
                      schedule="cosine", roughness=1.0),
}


@dataclass
class TrainResult:
    path: Path
    epochs_run: int
    seconds: float
    metrics: dict


def w1_distance(pred: np.ndarray, true: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Wasserstein-1 distance (A) between rows of two distributions on a uniform radius grid."""
    dr = radius[1] - radius[0]
    return dr * np.abs(np.cumsum(pred - true, axis=-1)).sum(axis=-1)


def roughness(w: np.ndarray) -> np.ndarray:
    """Sum of |second differences| of (rows of) a distribution: 1-bin zig-zags make it large."""
    return np.abs(np.diff(w, 2, axis=-1)).sum(axis=-1)


def evaluate(pred: np.ndarray, true: np.ndarray, radius: np.ndarray) -> dict:
    """Median W1 (A, number distribution) and median relative errors of the mean radii."""
    rn_p, rn_t = physics.mean_radius(pred, radius), physics.mean_radius(true, radius)
    vp, vt = physics.number_to_volume(pred, radius), physics.number_to_volume(true, radius)
    rv_p, rv_t = physics.mean_radius(vp, radius), physics.mean_radius(vt, radius)
    return {
        "median_w1_number_A": float(np.median(w1_distance(pred, true, radius))),
        "median_w1_volume_A": float(np.median(w1_distance(vp, vt, radius))),
        "median_rel_err_mean_radius_number": float(np.median(np.abs(rn_p / rn_t - 1))),
        "median_rel_err_mean_radius_volume": float(np.median(np.abs(rv_p / rv_t - 1))),
        "median_roughness_ratio": float(np.median(roughness(pred) / np.maximum(roughness(true), 1e-12))),
        "n": int(len(true)),
    }


def _read_data(path: Path, max_curves: int | None, preset: Preset):
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"cannot open training data {path}: {exc}") from None
    with f:
        for name in ("q", "radius", "intensity", "number_distribution", "volume_fraction"):
            if name not in f:
                raise InputError(f"{path} lacks dataset {name!r}; make it with `sasview-nn simulate`")
        n = len(f["intensity"]) if not max_curves else min(max_curves, len(f["intensity"]))
        q, radius = f["q"][:], f["radius"][:]
        if len(q) % preset.block:
            raise InputError(f"q grid of {len(q)} points is not a multiple of the preset's block {preset.block}")
        feats = np.empty((n, len(q) // preset.block), np.float32)
        for lo in range(0, n, 65536):
            hi = min(n, lo + 65536)
            feats[lo:hi] = raw_features(f["intensity"][lo:hi], preset.transform, preset.block)
        y = f["number_distribution"][:n].astype(np.float32)
        phi = f["volume_fraction"][:n].astype(np.float32)
        attrs = dict(f.attrs)
    return q, radius, feats, phi, y, attrs


def train(data: str | os.PathLike, out: str | os.PathLike, preset: str = "default", epochs: int = 200,
          seed: int = 0, max_curves: int | None = None, patience: int = 12, verbose: int = 2,
          plot: bool = True) -> TrainResult:
    """Train a network on a simulated HDF5 set and write ``out`` (.h5 added if missing)."""
    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    p = PRESETS[preset]
    data, out = Path(data), Path(out)
    out = out if out.suffix == ".h5" else out.with_name(out.name + ".h5")
    if not out.parent.is_dir():
        raise InputError(f"output directory {out.parent} does not exist; create it first")
    q, radius, feats, phi, y, attrs = _read_data(data, max_curves, p)
    n = len(y)
    if n < 20:
        raise InputError(f"need at least 20 training curves (got {n})")
    if not np.all(np.isfinite(feats)):
        raise InputError(f"{data} holds non-positive or non-finite intensities")

    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    n_test = max(1, n // 20)
    n_val = max(1, n // 10)
    test, val, tr = order[:n_test], order[n_test:n_test + n_val], order[n_test + n_val:]

    if p.transform == "minmax":
        shift, scale = feats[tr].min(axis=0), feats[tr].max(axis=0) - feats[tr].min(axis=0)
        phi_shift, phi_scale = float(phi[tr].min()), float(np.ptp(phi[tr]) or 1.0)
    else:
        shift, scale = feats[tr].mean(axis=0), feats[tr].std(axis=0)
        phi_shift, phi_scale = float(phi[tr].mean()), float(phi[tr].std() or 1.0)
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    xn = (feats - shift) / scale
    del feats

    def dataset(idx, shuffle):
        ds = tf.data.Dataset.from_tensor_slices((xn[idx], phi[idx], y[idx]))
        if shuffle:
            ds = ds.shuffle(min(len(idx), 200_000), seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(p.batch_size)

        def join(x, ph, yy):
            if shuffle and p.phi_jitter:
                ph = ph * tf.random.uniform(tf.shape(ph), 1 - p.phi_jitter, 1 + p.phi_jitter)
            return tf.concat([x, ((ph - phi_shift) / phi_scale)[:, None]], axis=1), yy

        return ds.map(join).prefetch(4)

    dr = float(radius[1] - radius[0])

    def w1_loss(yt, yp):
        w1 = dr * tf.reduce_sum(tf.abs(tf.cumsum(yp - yt, axis=-1)), axis=-1)
        if not p.roughness:
            return w1
        e = yp - yt  # a one-bin zig-zag moves little mass (cheap in W1) but has large second differences
        return w1 + p.roughness * dr * tf.reduce_sum(tf.abs(e[:, 2:] - 2 * e[:, 1:-1] + e[:, :-2]), axis=-1)

    inputs = keras.Input((xn.shape[1] + 1,))
    h = inputs
    for width in p.hidden:
        h = keras.layers.Dense(width, activation="relu")(h)
    outputs = keras.layers.Dense(len(radius), activation=p.output)(h)
    net = keras.Model(inputs, outputs)
    steps = -(-len(tr) // p.batch_size) * epochs
    lr = keras.optimizers.schedules.CosineDecay(p.learning_rate, steps) if p.schedule == "cosine" else p.learning_rate
    net.compile(optimizer=keras.optimizers.Adam(lr),
                loss=w1_loss if p.loss == "w1" else "mae", metrics=[w1_loss] if p.loss != "w1" else [])
    callbacks = [keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True)]
    if p.schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=max(2, patience // 3), min_lr=1e-5))
    t0 = time.time()
    hist = net.fit(dataset(tr, True), validation_data=dataset(val, False), epochs=epochs,
                   callbacks=callbacks, verbose=verbose, shuffle=False)  # the dataset shuffles itself
    seconds = time.time() - t0

    dense = [layer for layer in net.layers if isinstance(layer, keras.layers.Dense)]
    info = {
        "preset": preset, "preset_settings": asdict(p), "seed": seed,
        "training_data": {k: (v.item() if hasattr(v, "item") else v) for k, v in attrs.items()},
        "n_train": int(len(tr)), "n_validation": int(len(val)), "n_test": int(n_test),
        "epochs_run": len(hist.history["loss"]), "train_seconds": round(seconds, 1),
        "versions": {"package": _package_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
                     "sasmodels": str(attrs.get("sasmodels_version", "")), "numpy": np.__version__},
        "history": {k: [float(v) for v in vals] for k, vals in hist.history.items()},
    }
    model = NNModel(q=q, radius=radius, transform=p.transform, block=p.block,
                    input_shift=shift.astype(np.float32), input_scale=scale,
                    phi_shift=phi_shift, phi_scale=phi_scale,
                    weights=[d.get_weights()[0] for d in dense], biases=[d.get_weights()[1] for d in dense],
                    activations=["relu"] * len(p.hidden) + [p.output], info=info, name=out.stem)
    # held-out metrics with the numpy forward pass (what users run)
    with_phi = np.concatenate([xn[test], ((phi[test] - phi_shift) / phi_scale)[:, None]], axis=1)
    keras_pred = net.predict(with_phi, verbose=0)
    pred = model.predict_normalised(with_phi)
    metrics = evaluate(pred, y[test], radius)
    metrics["max_abs_numpy_vs_keras"] = float(np.max(np.abs(pred - model._finish(keras_pred))))
    model.info["held_out_metrics"] = metrics
    save_model(model, out)
    if plot:
        from .plots import training_curve

        ylabel = "loss: MAE per bin" if p.loss != "w1" else (
            f"loss: mean W1 + {p.roughness:g} x roughness (A)" if p.roughness else "loss: mean W1 distance (A)")
        training_curve(info["history"], out.with_suffix(".training.png"), title=f"model {out.stem}, preset {preset}",
                       ylabel=ylabel)
    return TrainResult(out, info["epochs_run"], seconds, metrics)


def keras_twin(nn: NNModel):
    """A Keras model with the same layers and weights as ``nn`` (input: standardised features + phi)."""
    import keras

    inputs = keras.Input((nn.weights[0].shape[0],))
    h = inputs
    for w, act in zip(nn.weights, nn.activations, strict=True):
        h = keras.layers.Dense(w.shape[1], activation=act)(h)
    net = keras.Model(inputs, h)
    net.set_weights([a for w, b in zip(nn.weights, nn.biases, strict=True) for a in (w, b)])
    return net


def _package_version() -> str:
    from . import __version__

    return __version__
