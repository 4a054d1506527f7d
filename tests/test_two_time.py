"""Online two-time observables: the Recorder against the offline computation from snapshots, and
the grid they live on."""

import numpy as np
import pytest
import torch

from glassynets import aging, two_time
from glassynets.nets import Architecture
from glassynets.training import TrainSpec, train_ensemble


def test_log_grid_and_pairs():
    assert two_time.log_grid(1, 30, 10).tolist() == [1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25]
    tws, lags = two_time.grid(1000, 5, 10)
    assert tws[0] == 1 and tws[-1] <= 999 and lags[0] == 1 and lags[-1] == 1000
    rec = two_time.Recorder(tws, lags, 1000, (), 2, 3)
    assert rec.valid.sum() == sum((tw + lags <= 1000).sum() for tw in tws)
    assert all(tw in rec.steps for tw in tws)  # θ(t_w) is taken at every waiting time


def test_moments_are_exact_sums():
    rng = np.random.default_rng(0)
    a, b = (
        rng.normal(size=(4, 3, 70)).astype(np.float32),
        rng.normal(size=(3, 70)).astype(np.float32),
    )
    delta, fourth, q = two_time.moments(a, b, [0.5, 2.0])
    d = a.astype(float) - b.astype(float)
    np.testing.assert_allclose(delta, (d**2).mean(-1), rtol=1e-13)
    np.testing.assert_allclose(fourth, (d**4).mean(-1), rtol=1e-13)
    np.testing.assert_array_equal(q[..., 1], (np.abs(d) < 2.0).mean(-1))
    # the sums' bits do not depend on how many pairs or runs one call holds
    for k in range(4):
        one = two_time.moments(a[k : k + 1, 1:2], b[1:2], [0.5, 2.0])
        assert (
            one[0][0, 0] == delta[k, 1]
            and one[1][0, 0] == fourth[k, 1]
            and (one[2][0, 0] == q[k, 1]).all()
        )


def _plain_moments(ref, cur, eps):
    """two_time.moments as it was first written (fresh arrays per block): the reference for its bits."""
    eps = np.asarray(eps, dtype=np.float64).reshape(-1)
    n_params, block = ref.shape[-1], two_time.PARAM_BLOCK
    shape = np.broadcast_shapes(ref.shape, np.shape(cur))[:-1]
    sq_sums, fourth_sums = [], []
    below = np.zeros((*shape, len(eps)), dtype=np.int64)
    for p0 in range(0, n_params, block):
        diff = ref[..., p0 : p0 + block].astype(np.float64) - cur[..., p0 : p0 + block]
        sq = np.square(diff)
        sq_sums.append(sq.sum(axis=-1))
        fourth_sums.append(np.square(sq).sum(axis=-1))
        if len(eps):
            below += (np.abs(diff)[..., None, :] < eps[:, None]).sum(axis=-1)
    return tuple(
        (np.stack(sq_sums).sum(axis=0) / n_params, np.stack(fourth_sums).sum(axis=0) / n_params)
    ) + (below / n_params,)


@pytest.mark.parametrize(
    "shape, n_params, dtype",
    [((3, 4), 70, np.float32), ((5, 1), 100_000, np.float32), ((2, 3), 40_000, np.float64)],
)
def test_moments_keep_the_bits_of_the_plain_form(shape, n_params, dtype):
    """Buffers reused across blocks, ref taken by index block by block, counts in uint16: the same
    bits as the plain form, so results recorded before these changes stay reproducible."""
    rng = np.random.default_rng(2)
    ref = (rng.normal(size=(*shape, n_params)) * 0.1).astype(dtype)
    cur = (ref[0] + rng.normal(size=(shape[1], n_params)) * 0.01).astype(dtype)
    index = np.array([shape[0] - 1, 0])
    for eps in ([0.01, 0.1], []):
        for got, want in (
            (two_time.moments(ref, cur[None], eps), _plain_moments(ref, cur[None], eps)),
            (
                two_time.moments(ref, cur[None], eps, index=index),
                _plain_moments(ref[index], cur[None], eps),
            ),
        ):
            for a, b in zip(got, want):
                np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("widths", [[2, 5, 5, 4], [784, 5, 10]], ids=["ljat-shape", "mnist-shape"])
def test_online_two_time_matches_offline_pairs_of_snapshots(widths):
    """Every step snapshotted: the offline Δ, D (aging.displacements) of the pairs on the online grid
    are bit-identical to what the Recorder measured during training; Q_ε agrees with a direct count."""
    g = torch.Generator().manual_seed(0)
    n, d, c = 120, widths[0], widths[-1]
    x, y = torch.randn(n, d, generator=g), torch.randint(0, c, (n,), generator=g)
    steps = 120
    tws, lags = two_time.grid(steps, 5, 10)
    spec = TrainSpec(
        arch=Architecture.from_widths(widths),
        lr=0.05,
        batch_size=20,
        weight_decay=1e-4,
        steps=steps,
        seeds=(0, 3, 4),
        snapshot_steps=np.arange(steps + 1),
        metric_steps=[0, steps],
        waiting_times=tws,
        lags=lags,
        overlap_eps=(1e-3, 1e-2),
    )
    result = train_ensemble(spec, x, y, x, y, log=lambda m: None)
    rec = result.two_time
    offline, fourth = aging.displacements(result.snapshots)
    i, j = aging.pair_indices(steps + 1)
    pair = {(a, b): k for k, (a, b) in enumerate(zip(i, j))}
    w, lag = np.nonzero(rec.valid)
    assert len(w) > 50
    for wi, li in zip(w, lag):
        tw, t = rec.waiting_times[wi], rec.lags[li]
        k = pair[(tw, tw + t)]
        np.testing.assert_array_equal(rec.delta[wi, li], offline[:, k])
        np.testing.assert_array_equal(rec.fourth[wi, li], fourth[:, k])
        moved = np.abs(result.snapshots[tw + t].astype(float) - result.snapshots[tw].astype(float))
        np.testing.assert_array_equal(
            rec.overlap[wi, li], (moved[None] < np.array([1e-3, 1e-2])[:, None, None]).mean(-1)
        )
    assert np.isnan(rec.delta[~rec.valid]).all()
    assert (np.diff(rec.delta[0, :, 0][rec.valid[0]]) != 0).any()  # Δ from t = 1 moves


def test_dense_round_trip():
    rec = two_time.Recorder([1, 3], [1, 2, 4], 5, [0.1], 2, 4)
    rng = np.random.default_rng(1)
    for step in range(6):
        if step in rec.steps:
            rec.record(step, rng.normal(size=(2, 4)).astype(np.float32))
    cols = rec.columns(np.array([7, 9]))
    tws, lags, seeds, arr = two_time.dense(cols["t_w"], cols["t"], cols["seed"], cols["delta"])
    assert tws.tolist() == [1, 3] and lags.tolist() == [1, 2, 4] and seeds.tolist() == [7, 9]
    np.testing.assert_array_equal(arr, rec.delta.transpose(2, 0, 1))
