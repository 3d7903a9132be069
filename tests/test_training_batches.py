"""The training batches (training/batches.py): every epoch a fresh permutation of every training row, each row once,
reproducible from the seed, with the augmentation seeded per batch (so it differs between batches and epochs)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from sasview_nn_plugin.training.batches import training_batches  # noqa: E402


def epochs_of(seed: int, augment=None, n: int = 103, batch: int = 10, epochs: int = 3):
    x = np.stack([np.arange(n, dtype=np.float32), np.ones(n, np.float32)], axis=1)  # column 0: the row's index
    y = np.arange(n, dtype=np.float32)[:, None] * 2
    got = [(xb.numpy(), yb.numpy()) for xb, yb in training_batches(x, y, batch, epochs, seed, augment)]
    per_epoch = -(-n // batch)
    assert len(got) == epochs * per_epoch and [len(b[0]) for b in got[:per_epoch]] == [batch] * (n // batch) + [3]
    for xb, yb in got:
        assert np.array_equal(yb[:, 0], 2 * xb[:, 0])   # x and y of one batch are the same rows
    return [np.concatenate([xb[:, 0] for xb, _ in got[e * per_epoch:(e + 1) * per_epoch]]).astype(int)
            for e in range(epochs)], got


def test_each_epoch_is_a_fresh_permutation_of_every_row_and_the_seed_reproduces_it():
    orders, _ = epochs_of(seed=5)
    for order in orders:
        assert sorted(order) == list(range(103))
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])
    assert not np.array_equal(orders[0], np.arange(103))
    again, _ = epochs_of(seed=5)
    other, _ = epochs_of(seed=6)
    assert all(np.array_equal(a, b) for a, b in zip(orders, again, strict=True))
    assert not np.array_equal(orders[0], other[0])


def test_the_augmentation_draws_afresh_for_every_batch():
    import tensorflow as tf

    def jitter(xb, seed):
        u = tf.random.stateless_uniform((tf.shape(xb)[0],), seed, 0.9, 1.1)
        return tf.stack([xb[:, 0], xb[:, 1] * u], axis=1)

    _, got = epochs_of(seed=5, augment=jitter)
    factors = np.concatenate([xb[:, 1] for xb, _ in got])
    assert np.all((factors >= 0.9) & (factors <= 1.1)) and len(np.unique(factors)) == len(factors)
    _, again = epochs_of(seed=5, augment=jitter)
    assert np.array_equal(factors, np.concatenate([xb[:, 1] for xb, _ in again]))
