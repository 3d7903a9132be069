"""The training batches every network here is fitted on (:func:`.train.fit_dense`): TensorFlow only."""

from __future__ import annotations

import numpy as np


def training_batches(x: np.ndarray, y: np.ndarray, batch_size: int, epochs: int, seed: int, augment=None):
    """tf.data stream of ``epochs`` x ceil(N / batch_size) batches (x, y): each epoch a fresh permutation of all rows
    (stateless from (seed, epoch)), batches gathered whole, ``augment(xb, seed)`` seeded by (seed + 1, batch number);
    one iterator for the whole fit (Keras keeps it with ``steps_per_epoch``).  Why: tf.data's per-row shuffle buffer
    cost 5 s an epoch on one thread and stalled the fit (epochs 11 / 20 s); this costs ~0.5 s, overlapped."""
    import tensorflow as tf

    xs, ys = tf.constant(x), tf.constant(y)
    n, n_full = len(x), len(x) // batch_size * batch_size

    def epoch_batches(epoch):
        perm = tf.argsort(tf.random.stateless_uniform((n,), tf.stack([tf.constant(seed, tf.int64), epoch])))
        ds = tf.data.Dataset.from_tensor_slices(tf.reshape(perm[:n_full], (-1, batch_size)))
        return ds.concatenate(tf.data.Dataset.from_tensors(perm[n_full:])) if n_full < n else ds

    def gather(k, idx):  # k counts batches over the run
        xb = tf.gather(xs, idx)
        if augment is not None:
            xb = augment(xb, tf.stack([tf.constant(seed + 1, tf.int64), k]))
        return xb, tf.gather(ys, idx)

    return tf.data.Dataset.range(epochs).flat_map(epoch_batches).enumerate().map(gather).prefetch(4)
