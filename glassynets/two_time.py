"""Two-time observables measured online, at every lag from t = 1, for a log-spaced set of t_w.

For waiting times t_w (log-spaced from 1) and lags t (log-spaced from 1 to the end of the run),
run e's parameters θ ∈ R^P give

    Δ(t_w, t_w + t)   = (1/P) Σ_i (θ_i(t_w + t) − θ_i(t_w))²        (mean square displacement)
    D(t_w, t_w + t)   = (1/P) Σ_i (θ_i(t_w + t) − θ_i(t_w))⁴        (fourth moment)
    Q_ε(t_w, t_w + t) = (1/P) #{i : |θ_i(t_w + t) − θ_i(t_w)| < ε}   (overlap, one per ε)

As in Baity-Jesi et al.'s code, no θ(t) is stored: :class:`Recorder` keeps θ(t_w) of every
waiting time already passed and, whenever the run passes a step t_w + t of the grid, compares the
current θ with them. The arithmetic is :func:`moments`, which the offline computation from stored
snapshots (aging.displacements) uses as well, so both agree bit for bit wherever both exist.
Memory: W·E·P values of θ(t_w) (W waiting times, E runs); cost: one pass over E·P values per
(t_w, t) pair, a few thousand pairs per run (bench/two_time_cost.py).

θ may be numpy arrays (the trainer) or torch tensors on any device (glassynets.AgingRecorder, a
user's own model): with ``device`` given, θ(t_w) is kept as torch tensors there. On the CPU the
arithmetic is :func:`moments` on numpy views of the same values, so both kinds of input give the
same bits; on another device (CUDA) it is :func:`moments_torch`, the same sums in the same blocks,
equal to the CPU's to float64 rounding (a GPU sums in another order), not bit for bit.
"""

from __future__ import annotations

import numpy as np

#: Sums over parameters run over blocks of this many, then over the blocks, so that the bits of a
#: sum never depend on how many runs or pairs one call holds.
PARAM_BLOCK = 1 << 15
assert PARAM_BLOCK < 1 << 16  # the counts below ε of one block are summed in uint16


def log_grid(first: int, last: int, per_decade: int) -> np.ndarray:
    """Sorted unique integers round(10^(k/per_decade)) in [first, last], first >= 1; int64 [n]."""
    if first < 1 or per_decade < 1:
        raise ValueError(f"need first >= 1 and per_decade >= 1, got {first}, {per_decade}")
    if last < first:
        return np.zeros(0, dtype=np.int64)
    k = np.arange(
        int(np.ceil(np.log10(first) * per_decade - 1e-9)),
        int(np.floor(np.log10(last) * per_decade + 1e-9)) + 1,
    )
    values = np.rint(10.0 ** (k / per_decade)).astype(np.int64)
    return np.unique(values[(values >= first) & (values <= last)])


def grid(
    last_step: int, waiting_times_per_decade: int, lags_per_decade: int
) -> tuple[np.ndarray, np.ndarray]:
    """The (t_w, t) grid of a run of ``last_step`` steps: waiting times log-spaced in [1, last_step − 1]
    and lags log-spaced in [1, last_step] (each pair kept while t_w + t <= last_step)."""
    return log_grid(1, last_step - 1, waiting_times_per_decade), log_grid(
        1, last_step, lags_per_decade
    )


def moments(
    ref: np.ndarray, cur: np.ndarray, eps: np.ndarray, index: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Δ, D and Q_ε between parameter vectors: ref [..., P] and cur (broadcastable), any float dtype.

    index: if given, ref[index] is used (taken block by block, never copied whole). Differences
    are taken in float64 (Δ is far below |θ|² at small t). Returns delta [...], fourth [...] and
    overlap [..., K] (one per ε of eps [K]), all float64.
    """
    eps = np.asarray(eps, dtype=np.float64).reshape(-1)
    cur = np.asarray(cur)
    n_params = ref.shape[-1]
    ref_shape = ref.shape if index is None else (len(index), *ref.shape[1:])
    shape = np.broadcast_shapes(ref_shape, cur.shape)[:-1]
    sq_sums, fourth_sums = [], []
    below = np.zeros((*shape, len(eps)), dtype=np.int64)
    # Each block's arrays are C-contiguous [..., n] (reused buffers for full blocks, fresh ones for
    # a last, shorter block), so the sums run as they always did: the bits of Δ and D are those of
    # (ref.astype(float64) - cur)**2 etc. summed per block (tests/test_two_time.py checks them
    # against that plain form). Counts below ε are exact integers whichever way they are taken.
    buffers = {}
    for p0 in range(0, n_params, PARAM_BLOCK):
        n = min(PARAM_BLOCK, n_params - p0)
        if n not in buffers:
            buffers = {
                n: (np.empty((*shape, n)), np.empty((*shape, n)), np.empty((*shape, n), bool))
            }
        diff, sq, less = buffers[n]
        block = ref[..., p0 : p0 + n] if index is None else ref[index, ..., p0 : p0 + n]
        np.subtract(block, cur[..., p0 : p0 + n], out=diff, dtype=np.float64)
        np.square(diff, out=sq)
        sq_sums.append(sq.sum(axis=-1))
        np.square(sq, out=sq)
        fourth_sums.append(sq.sum(axis=-1))
        if len(eps):
            np.abs(diff, out=diff)
            for k, e in enumerate(eps):
                np.less(diff, e, out=less)
                # uint8 counts summed in uint16: exact for blocks of up to 65,535 values
                below[..., k] += less.view(np.uint8).sum(axis=-1, dtype=np.uint16)
    return (
        np.stack(sq_sums).sum(axis=0) / n_params,
        np.stack(fourth_sums).sum(axis=0) / n_params,
        below / n_params,
    )


def moments_torch(ref, cur, eps) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`moments` on torch tensors where they are (a GPU's θ(t_w) never leave it); ref [..., P]
    and cur (broadcastable) of any float dtype, eps [K]. The same float64 arithmetic in the same
    blocks of PARAM_BLOCK; the results (small) come back as numpy float64 arrays."""
    import torch

    eps_t = torch.as_tensor(np.asarray(eps, dtype=np.float64).reshape(-1), device=ref.device)
    n_params = ref.shape[-1]
    shape = torch.broadcast_shapes(ref.shape, cur.shape)[:-1]
    sq_sums, fourth_sums = [], []
    below = torch.zeros((*shape, len(eps_t)), dtype=torch.int64, device=ref.device)
    for p0 in range(0, n_params, PARAM_BLOCK):
        diff = ref[..., p0 : p0 + PARAM_BLOCK].double() - cur[..., p0 : p0 + PARAM_BLOCK].double()
        sq = diff.square()
        sq_sums.append(sq.sum(dim=-1))
        fourth_sums.append(sq.square().sum(dim=-1))
        if len(eps_t):
            below += (diff.abs()[..., None, :] < eps_t[:, None]).sum(dim=-1)
    return (
        (torch.stack(sq_sums).sum(dim=0) / n_params).cpu().numpy(),
        (torch.stack(fourth_sums).sum(dim=0) / n_params).cpu().numpy(),
        (below.double() / n_params).cpu().numpy(),
    )


def _as_numpy(values):
    """A torch CPU tensor as a numpy array of the same values (a view where numpy has the dtype;
    bfloat16, which it lacks, exactly as float32); numpy arrays pass through."""
    if isinstance(values, np.ndarray):
        return values
    import torch

    if values.dtype == torch.bfloat16:
        values = values.float()
    return values.numpy()


class Recorder:
    """Accumulates Δ, D and Q_ε of E runs as they pass the steps of a (t_w, t) grid.

    waiting_times [W] and lags [L]: strictly increasing steps >= 1; pairs with t_w + t > last_step
    are never measured. Call :meth:`record` with θ [E, P] at every step of :attr:`steps` (θ before
    that step's update, like snapshots); other steps may be skipped. Results: delta, fourth
    [W, L, E] and overlap [W, L, K, E] float64, NaN where not (yet) measured.

    device: None keeps θ(t_w) as a numpy array [W, E, P] of ``dtype`` and takes θ as numpy; a torch
    device keeps them as a torch tensor there (``dtype`` then a torch dtype) and takes θ as torch
    tensors on it (see the module doc for the arithmetic).
    """

    def __init__(
        self,
        waiting_times,
        lags,
        last_step: int,
        eps,
        n_runs: int,
        n_params: int,
        dtype=np.float32,
        device=None,
    ):
        self.waiting_times = np.asarray(waiting_times, dtype=np.int64)
        self.lags = np.asarray(lags, dtype=np.int64)
        self.eps = np.asarray(eps, dtype=np.float64).reshape(-1)
        for name, grid in (("waiting_times", self.waiting_times), ("lags", self.lags)):
            if grid.ndim != 1 or (len(grid) and (grid[0] < 1 or np.any(np.diff(grid) <= 0))):
                raise ValueError(f"{name} must be strictly increasing steps >= 1")
        self.last_step = int(last_step)
        W, L = len(self.waiting_times), len(self.lags)
        self.valid = self.waiting_times[:, None] + self.lags[None, :] <= self.last_step  # [W, L]
        self.ref_index = {
            int(tw): w for w, tw in enumerate(self.waiting_times) if tw < self.last_step
        }
        at = self.waiting_times[:, None] + self.lags[None, :]
        self.pairs_at: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        w_idx, l_idx = np.nonzero(self.valid)
        order = np.argsort(at[w_idx, l_idx], kind="stable")
        w_idx, l_idx, when = w_idx[order], l_idx[order], at[w_idx, l_idx][order]
        for step, first, count in zip(*np.unique(when, return_index=True, return_counts=True)):
            self.pairs_at[int(step)] = (w_idx[first : first + count], l_idx[first : first + count])
        self.steps = frozenset(self.ref_index) | frozenset(self.pairs_at)
        if device is None:
            self.refs = np.empty((W, n_runs, n_params), dtype=dtype)
        else:
            import torch

            self.refs = torch.empty((W, n_runs, n_params), dtype=dtype, device=device)
        self.n_refs = 0  # θ(t_w) is known for waiting_times[:n_refs]
        self.delta = np.full((W, L, n_runs), np.nan)
        self.fourth = np.full((W, L, n_runs), np.nan)
        self.overlap = np.full((W, L, len(self.eps), n_runs), np.nan)

    def record(self, step: int, theta: np.ndarray) -> None:
        """θ [E, P] at ``step``: kept if step is a waiting time, compared with every θ(t_w) for which
        step = t_w + t is on the grid."""
        pairs = self.pairs_at.get(step)
        if pairs is not None:
            w, lag = pairs
            delta, fourth, overlap = self._moments(w, theta)  # [k, E], [k, E, K]
            self.delta[w, lag], self.fourth[w, lag] = delta, fourth
            self.overlap[w, lag] = overlap.transpose(0, 2, 1)
        w = self.ref_index.get(step)
        if w is not None:
            self.refs[w] = theta
            self.n_refs = w + 1

    def _moments(self, w: np.ndarray, theta):
        refs = self.refs
        if isinstance(refs, np.ndarray):
            return moments(refs, theta[None], self.eps, index=w)
        import torch

        if refs.device.type == "cpu" and refs.dtype != torch.bfloat16:  # numpy views, no copy
            return moments(refs.numpy(), _as_numpy(theta)[None], self.eps, index=w)
        if refs.device.type == "cpu":
            return moments(_as_numpy(refs[torch.from_numpy(w)]), _as_numpy(theta)[None], self.eps)

        return moments_torch(refs[torch.from_numpy(w).to(refs.device)], theta[None], self.eps)

    def state(self) -> dict[str, np.ndarray]:
        """What a resumed run needs (θ(t_w) only of the waiting times passed)."""
        refs = self.refs[: self.n_refs]
        return {
            "refs": refs.copy() if isinstance(refs, np.ndarray) else refs.clone(),
            "delta": self.delta,
            "fourth": self.fourth,
            "overlap": self.overlap,
        }

    def load(self, state: dict[str, np.ndarray]) -> None:
        self.n_refs = len(state["refs"])
        self.refs[: self.n_refs] = state["refs"]
        self.delta[...], self.fourth[...], self.overlap[...] = (
            state["delta"],
            state["fourth"],
            state["overlap"],
        )

    def joined(self, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Recorder:
        """A recorder on this grid holding the (delta, fourth, overlap) results of several groups of
        runs side by side, in order (e.g. the coupling samples of a p-spin job); no θ(t_w)."""
        out = Recorder(self.waiting_times, self.lags, self.last_step, self.eps, 0, 0)
        out.delta, out.fourth, out.overlap = (
            np.concatenate(arrays, axis=-1) for arrays in zip(*parts)
        )
        return out

    def columns(self, seeds: np.ndarray) -> dict[str, np.ndarray]:
        """The measured pairs as table columns (rows sorted by seed, t_w, t): seed, t_w, t, delta,
        fourth [rows] and overlap [rows, K]."""
        w, lag = np.nonzero(self.valid)
        n_runs, n_pairs = len(seeds), len(w)
        return {
            "seed": np.repeat(np.asarray(seeds), n_pairs),
            "t_w": np.tile(self.waiting_times[w], n_runs),
            "t": np.tile(self.lags[lag], n_runs),
            "delta": self.delta[w, lag].T.reshape(-1),
            "fourth": self.fourth[w, lag].T.reshape(-1),
            "overlap": self.overlap[w, lag]
            .transpose(2, 0, 1)
            .reshape(n_runs * n_pairs, len(self.eps)),
        }


def dense(t_w: np.ndarray, t: np.ndarray, seed: np.ndarray, values: np.ndarray):
    """Rows (seed, t_w, t, value [rows, ...]) -> (waiting times [W], lags [L], seeds [E],
    array [E, W, L, ...]) with NaN where a pair was not measured."""
    tws, lags, seeds = np.unique(t_w), np.unique(t), np.unique(seed)
    out = np.full((len(seeds), len(tws), len(lags), *values.shape[1:]), np.nan)
    out[np.searchsorted(seeds, seed), np.searchsorted(tws, t_w), np.searchsorted(lags, t)] = values
    return tws, lags, seeds, out
