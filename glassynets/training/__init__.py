"""Train an ensemble of small fully connected networks with SGD, all in one process.

Every network of the ensemble is stored stacked: layer l is one tensor [E, out_l, in_l + 1] with
the bias as the last column (see nets.py). One SGD step of all E networks is a handful of batched
matrix products with a hand-written backward pass and no autograd, which is what makes training
100 networks of ~70 parameters fast on a CPU (measured in bench/README.md):

- activations are feature-major, [E, features, batch], with a constant row of ones appended so
  that the bias is just another weight column; the softmax runs over dim 1;
- SGD and the L2 term are fused into one in-place update per layer,
      W <- (1 - 2·lr·λ) W - (lr / B) δ Aᵀ      (torch.baddbmm_),
  so no gradient tensor is ever allocated in the hot loop;
- all buffers are preallocated and written with ``out=``.

Objective of network e: a data term averaged over the minibatch + λ‖θ‖², θ = all weights and
biases. The data term is the softmax cross-entropy of the outputs (the subaging paper), or the
mean squared error between the outputs (linear, or sigmoid units as in Baity-Jesi et al.'s toy
model) and one-hot 0/1 targets, averaged over the C outputs as torch's MSELoss does. Hidden units
are tanh or ReLU. In float32 the fused factor 1 - 2·lr·λ is rounded (λ effectively 0.14% larger at
lr 0.05, λ 1e-4); float64 is available through TrainSpec.dtype. With momentum m > 0 the update is
torch.optim.SGD's: v <- m v + g, θ <- θ - lr v, with g the minibatch gradient including 2λθ.
Other dynamics (TrainSpec.noise, docs/noise.md): full-batch gradient descent, Langevin noise added
after the step (to gradient descent or to SGD), persistent SGD (a masked full-batch step), and
minibatches drawn with replacement; the default path (minibatch, epochs) is untouched by them.

Reproducibility contract (tested):
- network e draws its initialisation and then its data order, persistent batch and Langevin noise
  from its own generator ``network_generator(seed_e)`` only, so with data_order="independent" its
  trajectory (snapshots and metrics) is bit-identical whichever other seeds are trained alongside it;
- a rerun of the same spec on the same data gives the same bits, and so does a run resumed from a
  checkpoint.

Devices: spec.device "cpu" or "cuda". On CUDA the data, the layers and all buffers live on the GPU;
the data order is still drawn on the CPU from the same per-network generators (so a network sees
the same minibatches on either device), and the trajectories agree with the CPU's to float
tolerance, not bit for bit (different kernels sum in different orders).

Threads: the trainer never changes torch's thread count (the train stage sets the job's).
Run one process per core with ``torch.set_num_threads(1)`` (and OMP_NUM_THREADS=1);
oversubscription costs up to 90x.

The package, one concept a module: spec (TrainSpec, TrainResult, the per-network generators),
objective (the loss and its full-batch gradient), kernel (the stacked SGD step), batches (the
draws and the minibatch gathering), recording (snapshots, metrics, checks), checkpoint (the
resume file), loop (train_ensemble, train_resumable) and stage (the workflow's train stage).
"""

from .checkpoint import StaleCheckpointError
from .loop import train_ensemble, train_resumable
from .objective import ACTIVATIONS, LOSSES, OUTPUTS, Objective
from .spec import (
    DEVICES,
    INITS,
    METRICS,
    DivergenceError,
    TrainResult,
    TrainSpec,
    network_generator,
    resolve_device,
)

__all__ = [
    "ACTIVATIONS",
    "DEVICES",
    "INITS",
    "LOSSES",
    "METRICS",
    "OUTPUTS",
    "DivergenceError",
    "Objective",
    "StaleCheckpointError",
    "TrainResult",
    "TrainSpec",
    "network_generator",
    "resolve_device",
    "train_ensemble",
    "train_resumable",
]
