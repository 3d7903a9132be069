"""Train the whole-curve network (Keras) on a :mod:`.wide_simulate` set and write a :class:`WideModel` file.

Loss, all in decades of radius (dimensionless, so every window weighs the same): W1 between predicted and
true cumulative *volume* distributions + W1 between the *number* distributions derived from them (v / rho^3,
so spurious volume at small radii, which dominates the number mean, is charged) + 0.02 cross-entropy, plus
0.02 x the Gaussian negative log-likelihood of the volume fraction's estimate (mean, sigma).  Each training
row has phi known (given to the network, jittered +-10 %) with probability 0.6, unknown otherwise (input 0,
flag 0): one network serves both, and estimates phi in the same pass.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..inference.wide_model import WideModel, input_vector, save_wide
from ..physics.wide import WideGrids

HIDDEN = (1024, 512, 256)
PHI_KNOWN = 0.6


def _read(path: Path, max_curves: int | None, seed: int):
    import h5py

    with h5py.File(path, "r") as f:
        if f.attrs.get("kind") != "wide-training-set":
            raise InputError(f"{path} is not a whole-curve training set (make one with `simulate-wide`)",
                             parameter="data")
        grids = WideGrids(**{k: f.attrs[k].item() for k in WideGrids().as_dict()})
        n = len(f["phi"]) if max_curves is None else min(max_curves, len(f["phi"]))
        part = {k: f[k][:n] for k in ("features", "mask", "volume", "phi", "dq_over_q", "slit", "width", "family")}
        attrs = {k: (v.item() if hasattr(v, "item") else v) for k, v in f.attrs.items()}
    rng = np.random.default_rng([seed, 7])
    known = rng.uniform(size=n) < PHI_KNOWN
    phi_in = np.where(known, part["phi"] * rng.uniform(0.9, 1.1, n), 0.0)
    x = input_vector(part["features"], part["mask"], phi_in, known, part["dq_over_q"], part["slit"])
    y = np.concatenate([part["volume"], part["phi"][:, None]], axis=1).astype(np.float32)
    return grids, x, y, part, attrs


def _loss(grids: WideGrids):
    import tensorflow as tf

    n_rho = len(grids.rho)
    dl = 1.0 / grids.rho_per_decade
    inv_v = tf.constant((grids.rho / grids.rho[0]) ** -3, tf.float32)

    def loss(yt, yp):
        v_t, phi_t = yt[:, :n_rho], yt[:, n_rho]
        logits = yp[:, :n_rho]
        v_p = tf.nn.softmax(logits)
        w1v = dl * tf.reduce_sum(tf.abs(tf.cumsum(v_p - v_t, axis=-1)), axis=-1)
        n_p = v_p * inv_v
        n_p = n_p / tf.reduce_sum(n_p, axis=-1, keepdims=True)
        n_t = v_t * inv_v
        n_t = n_t / tf.reduce_sum(n_t, axis=-1, keepdims=True)
        w1n = dl * tf.reduce_sum(tf.abs(tf.cumsum(n_p - n_t, axis=-1)), axis=-1)
        ce = -tf.reduce_sum(v_t * tf.nn.log_softmax(logits), axis=-1)
        mu = 0.5 * tf.sigmoid(yp[:, n_rho])
        log_s = tf.clip_by_value(yp[:, n_rho + 1], -7.0, 1.0)
        nll = 0.5 * tf.square((phi_t - mu) / tf.exp(log_s)) + log_s
        return w1v + w1n + 0.02 * ce + 0.02 * nll

    return loss


def train_wide(data: str | os.PathLike, out: str | os.PathLike, epochs: int = 24, seed: int = 0,
               max_curves: int | None = None, batch_size: int = 512, learning_rate: float = 1e-3,
               verbose: int = 2) -> Path:
    """Train on ``data`` and write ``out`` (.h5); 5 % held out (metrics stored in the file), 5 % validation."""
    import keras
    import tensorflow as tf

    from .batches import training_batches

    data, out = Path(data), Path(out)
    out = out if out.suffix == ".h5" else out.with_name(out.name + ".h5")
    grids, x, y, part, attrs = _read(data, max_curves, seed)
    n = len(y)
    if n < 40:
        raise InputError(f"need at least 40 training curves (got {n})", parameter=None)
    order = np.random.default_rng(seed).permutation(n)
    n_test = n_val = max(2, n // 20)
    test, val, tr = order[:n_test], order[n_test:n_test + n_val], order[n_test + n_val:]
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((x.shape[1],))
    h = inputs
    for width in HIDDEN:
        h = keras.layers.Dense(width, activation="relu")(h)
    net = keras.Model(inputs, keras.layers.Dense(y.shape[1] + 1, activation="linear")(h))
    steps = -(-len(tr) // batch_size)
    net.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, steps * epochs)),
                loss=_loss(grids))
    t0 = time.time()
    hist = net.fit(training_batches(x[tr], y[tr], batch_size, epochs, seed), epochs=epochs, steps_per_epoch=steps,
                   validation_data=tf.data.Dataset.from_tensor_slices((x[val], y[val])).batch(4096),
                   verbose=verbose, shuffle=False)
    seconds = time.time() - t0
    dense = [layer for layer in net.layers if isinstance(layer, keras.layers.Dense)]
    info = {"kind": "wide", "seed": seed, "epochs": epochs, "hidden": list(HIDDEN), "batch_size": batch_size,
            "learning_rate": learning_rate, "n_train": int(len(tr)), "train_seconds": round(seconds, 1),
            "training_data": {"file": data.name,
                              **{k: v for k, v in attrs.items() if isinstance(v, (int, float, str))}},
            "history": {k: [float(v) for v in vals] for k, vals in hist.history.items()},
            "versions": {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__}}
    model = WideModel(grids, [d.get_weights()[0] for d in dense], [d.get_weights()[1] for d in dense], info, out.stem)
    vol, phi, sig = model.forward(x[test])
    dl = 1.0 / grids.rho_per_decade
    w1 = dl * np.abs(np.cumsum(vol - y[test, :-1], axis=1)).sum(axis=1)
    unknown = x[test, 2 * len(grids.x) + 1] == 0
    z = (phi - y[test, -1]) / sig
    info["held_out"] = {"median_w1_volume_decades": float(np.median(w1)),
                        "phi_unknown_median_abs_error": float(np.median(np.abs(phi - y[test, -1])[unknown])),
                        "phi_unknown_coverage_68": float(np.mean(np.abs(z[unknown]) < 1))}
    save_wide(model, out)
    return out
