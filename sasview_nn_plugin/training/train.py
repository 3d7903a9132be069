"""Training with TensorFlow/Keras (this module and its batches, :mod:`.batches`, are the only ones that import it)
and export to a model file.

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

Training data whose curves were smeared by different resolutions (``dq_over_q`` varies) make the network
take the curve's 1-sigma dQ/Q as a second scalar input after the volume fraction (0: unsmeared), jittered
like phi: smearing and polydispersity both fill the form factor's minima, so only a network told the
resolution can tell them apart.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..inference.modelfile import NNModel, raw_features, save_model
from ..physics import distributions
from ..physics import kernels as physics
from .batches import training_batches


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
    target: str = "distribution"  # distribution | parameters (sasmodels radius, radius_pd; parametric head)


PRESETS = {
    "he2024": Preset("minmax", 1, (128, 64, 32), "linear", "mae", 0.0),
    # ablation: the paper's architecture with our input transform, output and loss
    "he2024_log": Preset("log_block", 1, (128, 64, 32), "softmax", "w1", 0.1, learning_rate=2e-3, batch_size=1024,
                         schedule="cosine"),
    "default": Preset("log_block", 4, (256, 128, 128), "softmax", "w1", 0.1, learning_rate=2e-3, batch_size=1024,
                      schedule="cosine", roughness=1.0),
    # parametric head: log(radius), log(radius_pd) scaled to 0-1 over the training set (as Lam et al. 1990
    # scaled their outputs), linear outputs, MAE; the start of a sasmodels polydispersity fit
    "parametric": Preset("log_block", 4, (256, 128, 64), "linear", "mae", 0.1, learning_rate=2e-3,
                         batch_size=512, schedule="cosine", target="parameters"),
}


@dataclass
class TrainResult:
    path: Path
    epochs_run: int
    seconds: float
    metrics: dict

    def held_out(self) -> str:
        """The held-out metrics in one line."""
        m = self.metrics
        if "median_w1_number_A" in m:
            err = 100 * m["median_rel_err_mean_radius_number"]
            return f"median W1 {m['median_w1_number_A']:.2f} A, number-mean radius error {err:.2f} %"
        return ", ".join(f"{k[len('median_rel_err_'):]} {100 * v:.2f} %" for k, v in m.items()
                         if k.startswith("median_rel_err_")) + " (median relative errors)"


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


def evaluate_parameters(pred: np.ndarray, true: np.ndarray, names) -> dict:
    """Median and 90th-percentile relative error per parameter (pred, true: (N, k) physical values)."""
    err = np.abs(pred / true - 1)
    out = {}
    for j, name in enumerate(names):
        out[f"median_rel_err_{name}"] = float(np.median(err[:, j]))
        out[f"p90_rel_err_{name}"] = float(np.percentile(err[:, j], 90))
    out["n"] = int(len(true))
    return out


def _read_data(path: Path, max_curves: int | None, preset: Preset):
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"cannot open training data {path}: {exc}", parameter="data") from None
    target = "parameters" if preset.target == "parameters" else "number_distribution"
    with f:
        for name in ("q", "radius", "intensity", target, "volume_fraction"):
            if name not in f:
                how = "sasview-nn simulate --parametric --family schulz|lognormal" if name == "parameters" \
                    else "sasview-nn simulate"
                raise InputError(f"{path} lacks dataset {name!r}; make it with `{how}`", parameter="data")
        n = len(f["intensity"]) if not max_curves else min(max_curves, len(f["intensity"]))
        q, radius = f["q"][:], f["radius"][:]
        if len(q) % preset.block:
            raise InputError(f"q grid of {len(q)} points is not a multiple of the preset's block {preset.block}",
                             parameter="preset")
        feats = np.empty((n, len(q) // preset.block), np.float32)
        for lo in range(0, n, 65536):
            hi = min(n, lo + 65536)
            feats[lo:hi] = raw_features(f["intensity"][lo:hi], preset.transform, preset.block)
        y = f[target][:n].astype(np.float32)
        phi = f["volume_fraction"][:n].astype(np.float32)
        res = f["dq_over_q"][:n].astype(np.float32) if "dq_over_q" in f else None
        attrs = dict(f.attrs)
    if res is not None and (preset.transform != "log_block" or not np.ptp(res) > 0):
        res = None  # the resolution is an input only where it varies (and for the log_block transform)
    return q, radius, feats, phi, res, y, attrs


def train(data: str | os.PathLike, out: str | os.PathLike, preset: str = "default", epochs: int = 200,
          seed: int = 0, max_curves: int | None = None, patience: int = 12, verbose: int = 2,
          plot: bool = True) -> TrainResult:
    """Train a network on a simulated HDF5 set and write ``out`` (.h5 added if missing)."""
    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}", parameter="preset")
    p = PRESETS[preset]
    data, out = Path(data), Path(out)
    out = out if out.suffix == ".h5" else out.with_name(out.name + ".h5")
    if not out.parent.is_dir():
        raise InputError(f"output directory {out.parent} does not exist; create it first", parameter="out")
    q, radius, feats, phi, res, y, attrs = _read_data(data, max_curves, p)
    n = len(y)
    if n < 20:
        raise InputError(f"need at least 20 training curves (got {n})", parameter=None)
    if not np.all(np.isfinite(feats)):
        raise InputError(f"{data} holds non-positive or non-finite intensities", parameter="data")

    test, val, tr = _split_rows(n, seed)
    x, (shift, scale), scalars, resolution = _standardised_inputs(p, feats, phi, res, tr)
    n_feat = feats.shape[1]
    del feats
    out_fields, y_true = {}, y
    if p.target == "parameters":  # log, then 0-1 over the training rows
        out_fields, y = _parameter_targets(y, tr, data)
    loss, metrics = _loss_and_metrics(p, float(radius[1] - radius[0]))
    fitted = fit_dense(x, y, tr, val, hidden=p.hidden, output=p.output, loss=loss, learning_rate=p.learning_rate,
                       batch_size=p.batch_size, epochs=epochs, schedule=p.schedule, patience=patience, seed=seed,
                       verbose=verbose, augment=_jitter_phi(p, n_feat, scalars) if p.phi_jitter else None,
                       metrics=metrics)
    info = {
        "preset": preset, "preset_settings": asdict(p), "seed": seed,
        "training_data": {k: (v.item() if hasattr(v, "item") else (v.tolist() if hasattr(v, "tolist") else v))
                          for k, v in attrs.items()},
        "n_train": int(len(tr)), "n_validation": int(len(val)), "n_test": int(len(test)),
        "epochs_run": len(fitted.history["loss"]), "train_seconds": round(fitted.seconds, 1),
        "versions": {"package": _package_version(), **fitted.versions,
                     "sasmodels": str(attrs.get("sasmodels_version", "")), "numpy": np.__version__},
        "history": fitted.history,
    }
    (phi_shift, phi_scale) = scalars[0]
    model = NNModel(q=q, radius=radius, transform=p.transform, block=p.block,
                    input_shift=shift.astype(np.float32), input_scale=scale,
                    phi_shift=phi_shift, phi_scale=phi_scale, weights=fitted.weights, biases=fitted.biases,
                    activations=["relu"] * len(p.hidden) + [p.output], info=info, name=out.stem, **out_fields,
                    **resolution)
    metrics = _held_out_metrics(model, fitted, x[test], (y if not model.parametric else y_true)[test], radius)
    model.info["held_out_metrics"] = metrics
    save_model(model, out)
    if plot:
        _plot_training(model, p, info["history"], out, preset)
    return TrainResult(out, info["epochs_run"], fitted.seconds, metrics)


def _split_rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(test, validation, training) rows: a seeded permutation of ``n``, 5 % and 10 % held out (at least 1 each)."""
    order = np.random.default_rng(seed).permutation(n)
    n_test, n_val = max(1, n // 20), max(1, n // 10)
    return order[:n_test], order[n_test:n_test + n_val], order[n_test + n_val:]


def _standardised_inputs(p: Preset, feats: np.ndarray, phi: np.ndarray, res: np.ndarray | None, tr: np.ndarray):
    """(x, (shift, scale), scalars, resolution): the network's inputs (features, phi and dQ/Q if it varies) scaled
    by the training rows' statistics (minmax or mean/std, as the preset says); ``scalars`` the (shift, scale) of
    phi (and dQ/Q); ``resolution`` the model's resolution_shift/scale fields (empty without dQ/Q)."""
    if p.transform == "minmax":
        shift, scale = feats[tr].min(axis=0), feats[tr].max(axis=0) - feats[tr].min(axis=0)
        phi_shift, phi_scale = float(phi[tr].min()), float(np.ptp(phi[tr]) or 1.0)
    else:
        shift, scale = feats[tr].mean(axis=0), feats[tr].std(axis=0)
        phi_shift, phi_scale = float(phi[tr].mean()), float(phi[tr].std() or 1.0)
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    n, n_feat = feats.shape
    x = np.empty((n, n_feat + 1 + (res is not None)), np.float32)
    np.divide(feats - shift, scale, out=x[:, :n_feat])
    x[:, n_feat] = (phi - phi_shift) / phi_scale
    scalars = [(phi_shift, phi_scale)]
    resolution = {}
    if res is not None:
        resolution = {"resolution_shift": float(res[tr].mean()), "resolution_scale": float(res[tr].std())}
        x[:, n_feat + 1] = (res - resolution["resolution_shift"]) / resolution["resolution_scale"]
        scalars.append((resolution["resolution_shift"], resolution["resolution_scale"]))
    return x, (shift, scale), scalars, resolution


def _parameter_targets(y: np.ndarray, tr: np.ndarray, data: Path) -> tuple[dict, np.ndarray]:
    """(the model's output fields, targets): a parametric head's parameters as log, then 0-1 over the training
    rows."""
    if np.any(y <= 0):
        raise InputError(f"{data}: parameters must be positive", parameter="data")
    logy = np.log(y.astype(float))
    lo, hi = logy[tr].min(axis=0), logy[tr].max(axis=0)
    hi = np.where(hi > lo, hi, lo + 1.0)
    out_fields = dict(output_names=distributions.PARAMETER_NAMES,
                      output_min=lo, output_max=hi, output_log=(True,) * y.shape[1])
    return out_fields, ((logy - lo) / (hi - lo)).astype(np.float32)


def _loss_and_metrics(p: Preset, dr: float):
    """(loss, metrics) for Keras: the preset's loss (W1 over radius bins ``dr`` A wide, plus its roughness term,
    or a Keras name); W1 is reported as a metric where another loss trains a distribution (he2024)."""
    def w1_loss(yt, yp):
        import tensorflow as tf

        w1 = dr * tf.reduce_sum(tf.abs(tf.cumsum(yp - yt, axis=-1)), axis=-1)
        if not p.roughness:
            return w1
        e = yp - yt  # a one-bin zig-zag moves little mass (cheap in W1) but has large second differences
        return w1 + p.roughness * dr * tf.reduce_sum(tf.abs(e[:, 2:] - 2 * e[:, 1:-1] + e[:, :-2]), axis=-1)

    loss = w1_loss if p.loss == "w1" else p.loss
    return loss, [w1_loss] if p.loss != "w1" and p.target == "distribution" else []


def _jitter_phi(p: Preset, n_feat: int, scalars: list[tuple[float, float]]):
    """The augmentation: phi (and dQ/Q), the standardised columns after the ``n_feat`` features, times
    U(1 - j, 1 + j)."""
    def jitter_phi(xb, rand_seed):
        import tensorflow as tf

        u = tf.random.stateless_uniform((tf.shape(xb)[0], len(scalars)), rand_seed, 1 - p.phi_jitter, 1 + p.phi_jitter)
        cols = [xb[:, :n_feat]]
        for k, (sh, sc) in enumerate(scalars):
            v = (xb[:, n_feat + k] * sc + sh) * u[:, k]
            cols.append(((v - sh) / sc)[:, None])
        return tf.concat(cols, axis=1)

    return jitter_phi


def _held_out_metrics(model: NNModel, fitted, x_test: np.ndarray, y_test: np.ndarray, radius: np.ndarray) -> dict:
    """Metrics on the test rows with the numpy forward pass (what users run), and its largest difference from
    Keras's."""
    raw = model.outputs_standardised(x_test)
    keras_raw = fitted.keras_predict(x_test)
    if model.parametric:
        metrics = evaluate_parameters(model.parameters_from_outputs(raw), y_test, model.output_names)
        metrics["max_abs_numpy_vs_keras"] = float(np.max(np.abs(raw - keras_raw)))
    else:
        pred = model.to_distribution(raw)
        metrics = evaluate(pred, y_test, radius)
        metrics["max_abs_numpy_vs_keras"] = float(np.max(np.abs(pred - model.to_distribution(keras_raw))))
    return metrics


def _plot_training(model: NNModel, p: Preset, history: dict, out: Path, preset: str) -> None:
    """The loss curves beside the model file (``out`` with .training.png)."""
    from ..data.plots import training_curve

    ylabel = "loss: MAE of 0-1 scaled log parameters" if model.parametric else (
        "loss: MAE per bin" if p.loss != "w1" else (
            f"loss: mean W1 + {p.roughness:g} x roughness (A)" if p.roughness else "loss: mean W1 distance (A)"))
    training_curve(history, out.with_suffix(".training.png"), title=f"model {out.stem}, preset {preset}",
                   ylabel=ylabel)


@dataclass
class DenseFit:
    """What :func:`fit_dense` returns: layer arrays, the Keras history and a predictor for checks."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    history: dict
    seconds: float
    versions: dict
    keras_predict: object


def fit_dense(x: np.ndarray, y: np.ndarray, train_rows: np.ndarray, val_rows: np.ndarray, *,
              hidden: tuple[int, ...], output: str, loss, learning_rate: float = 1e-3, batch_size: int = 256,
              epochs: int = 200, schedule: str = "plateau", patience: int = 12, seed: int = 0, verbose: int = 2,
              augment=None, metrics=()) -> DenseFit:
    """Train a dense ReLU network on arrays with Keras: the core every forward model shares.

    ``x`` (N, n_in) already normalised, ``y`` (N, n_out); rows ``train_rows`` train, ``val_rows`` drive
    early stopping (best weights restored) and, with ``schedule="plateau"``, learning-rate halving.
    ``loss`` is a Keras loss name or function, ``metrics`` extra ones to report; ``augment(xb, seed)`` an optional
    TF function applied to each training batch of x, drawing its randomness statelessly from ``seed`` (shape (2,)).
    The SAXS networks (distribution and parametric heads) and the Mie backscatter perceptron
    (:mod:`sasview_nn_plugin.optics.lam1990`) are all trained here.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    steps_per_epoch = -(-len(train_rows) // batch_size)
    validation = tf.data.Dataset.from_tensor_slices((x[val_rows], y[val_rows])).batch(batch_size).prefetch(4)

    inputs = keras.Input((x.shape[1],))
    h = inputs
    for width in hidden:
        h = keras.layers.Dense(width, activation="relu")(h)
    net = keras.Model(inputs, keras.layers.Dense(y.shape[1], activation=output)(h))
    steps = steps_per_epoch * epochs
    lr = keras.optimizers.schedules.CosineDecay(learning_rate, steps) if schedule == "cosine" else learning_rate
    net.compile(optimizer=keras.optimizers.Adam(lr), loss=loss, metrics=list(metrics))
    callbacks = [keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True)]
    if schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=max(2, patience // 3), min_lr=1e-5))
    t0 = time.time()
    hist = net.fit(training_batches(x[train_rows], y[train_rows], batch_size, epochs, seed, augment),
                   validation_data=validation, epochs=epochs, steps_per_epoch=steps_per_epoch, callbacks=callbacks,
                   verbose=verbose, shuffle=False)  # one iterator over all epochs' batches
    seconds = time.time() - t0
    dense = [layer for layer in net.layers if isinstance(layer, keras.layers.Dense)]
    return DenseFit([d.get_weights()[0] for d in dense], [d.get_weights()[1] for d in dense],
                    {k: [float(v) for v in vals] for k, vals in hist.history.items()}, seconds,
                    {"tensorflow": tf.__version__, "keras": keras.__version__},
                    lambda xs: net.predict(xs, verbose=0))


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
    from .. import __version__

    return __version__
