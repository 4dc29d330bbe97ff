"""Functional mode: the fixed-point numerics of training, computed as the table executes.

:class:`FixedPointDatapath` plugs into :func:`layerpipe.sim.cyclesim.simulate`, which
calls it in cycle order: ``run`` when a task starts (with the values it reads from the
delay lines, returning the values it writes), ``land`` when a G update reaches its
bank. Which weights each task sees therefore follows from the execution alone
(docs/semantics.md, "Weights"), not from the table's staleness numbers: comparing the
result with the golden model, which trains with those numbers, tests that the two agree.

* F_l reads its bank at its start; B_l reads the copy F_l of its sample read (``stash``)
  or the bank at its own start (``latest``);
* G_l's update is computed when G_l starts and written when it ends. Only G_l writes
  W_l and G_l of the previous sample has landed before G_l starts (one run per period,
  none wraps), so the bank at G's start equals the bank at its end;
* δ_L = a_L − target is formed by F_L; a hidden layer's consumers form
  δ_l = e_l ⊙ mask_l from the err and mask lines (σ' moved to the consumer).

Each task runs its layer's kernels through :mod:`layerpipe.sim.layers`, the code the
golden model runs (fc: :mod:`layerpipe.sim.fixed`, conv: :mod:`layerpipe.sim.conv`), so
the values on the delay lines have the shapes those kernels hand each other: a_l as the
layer's output shape, mask_l and δ_l of a conv layer pre-pool, e_l as its B produces it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from layerpipe.core.errors import LayerPipeError
from layerpipe.core.network import Network
from layerpipe.core.numerics import FixedFormat
from layerpipe.core.table import ScheduleTable
from layerpipe.core.weight_policies import WEIGHT_POLICIES, BackwardRead
from layerpipe.sim.cyclesim import SimResult, simulate
from layerpipe.sim.layers import FixedArithmetic, Parameters, check_biases, check_sums, check_weights, layer_ops

__all__ = ["FunctionalResult", "FixedPointDatapath", "run_functional", "training_setup"]


@dataclass
class FunctionalResult:
    outputs: np.ndarray  # (samples, N_L): a_L of every sample, data words
    squared_errors: list  # per sample, as fixed.squared_error returns it
    weights: list[np.ndarray]  # final W_1..W_L: fc (N_l, N_{l-1}), conv (C_out, C_in, K, K)
    biases: list  # final b_1..b_L ((N_l,) or (C_out,)), None for a layer without a bias
    peak_stash: dict[int, int]  # layer → most stashed versions other than the bank's held at once (stash)
    fmt: FixedFormat


class FixedPointDatapath:
    def __init__(self, network: Network, weights: list[np.ndarray], inputs: np.ndarray, targets: np.ndarray,
                 fmt: FixedFormat, policy: str = "stash", biases=None):
        _, self.ops = layer_ops(network, "functional")
        self.stashes = WEIGHT_POLICIES.supported(policy, "functional", "weights").reads is BackwardRead.FORWARD
        check_sums(self.ops, fmt)
        check_weights(self.ops, weights, "weights")
        self.depth, self.fmt, self.arith = network.depth, fmt, FixedArithmetic(fmt)
        self.inputs, self.targets = inputs, targets
        biases = check_biases(self.ops, biases, "biases")
        self.bank = {layer: Parameters(np.array(w, dtype=np.int64), None if b is None else np.array(b, dtype=np.int64))
                     for layer, (w, b) in enumerate(zip(weights, biases), start=1)}
        self.pending: dict[int, dict[int, Parameters]] = {layer: {} for layer in self.bank}  # issued updates
        self.stash: dict[int, dict[int, Parameters]] = {layer: {} for layer in self.bank}
        self.peak_stash = {layer: 0 for layer in self.bank}
        self.outputs: dict[int, np.ndarray] = {}
        self.errors: dict[int, object] = {}

    # -- called by the cycle simulator ---------------------------------------------
    def sample_inputs(self, sample: int) -> dict:
        return {"a0": self.inputs[sample], "target": self.targets[sample]}

    def run(self, kind: str, layer: int, sample: int, values: dict) -> dict:
        if kind == "F":
            return self._forward(layer, sample, values)
        op, delta = self.ops[layer - 1], self._delta(layer, values)
        if kind == "B":
            params = self.stash[layer].pop(sample) if self.stashes else self.bank[layer]
            return {f"err{layer - 1}": op.backward(self.arith, params.weights, delta)}
        self.pending[layer][sample] = op.update(self.arith, self.bank[layer], delta, values[f"a{layer - 1}"])
        return {}

    def land(self, layer: int, sample: int) -> None:
        self.bank[layer] = self.pending[layer].pop(sample)
        self._count_stash(layer)

    def result(self) -> FunctionalResult:
        samples = sorted(self.outputs)
        return FunctionalResult(np.array([self.outputs[n] for n in samples]), [self.errors[n] for n in samples],
                                [self.bank[layer].weights for layer in sorted(self.bank)],
                                [self.bank[layer].bias for layer in sorted(self.bank)], self.peak_stash, self.fmt)

    # -- the tasks -------------------------------------------------------------------
    def _forward(self, layer: int, sample: int, values: dict) -> dict:
        params = self.bank[layer]
        hidden = layer < self.depth
        a_out, mask = self.ops[layer - 1].forward(self.arith, params, values[f"a{layer - 1}"], hidden)
        if self.stashes and layer > 1:  # B of this sample must see this version
            self.stash[layer][sample] = params  # banks are replaced, never written in place
            self._count_stash(layer)
        if hidden:
            return {f"a{layer}": a_out, f"mask{layer}": mask}
        target = values["target"]
        self.outputs[sample] = a_out
        self.errors[sample] = self.arith.squared_error(a_out, target)
        return {f"err{layer}": self.arith.output_delta(a_out, target)}

    def _count_stash(self, layer: int) -> None:
        """Stash memory in use: versions held for B that the bank no longer holds."""
        versions = {id(w) for w in self.stash[layer].values()} - {id(self.bank[layer])}
        self.peak_stash[layer] = max(self.peak_stash[layer], len(versions))

    def _delta(self, layer: int, values: dict):
        error = values[f"err{layer}"]
        if layer == self.depth:
            return error
        return self.ops[layer - 1].mask_error(self.arith, error, values[f"mask{layer}"])


def run_functional(table: ScheduleTable, inputs, targets, weights, fmt: FixedFormat | None = None,
                   policy: str = "stash", samples: int | None = None, record_runs: bool = False,
                   biases=None) -> SimResult:
    """Train on ``samples`` (default: all) of ``inputs``/``targets`` by executing ``table``; ``biases``
    as :class:`~layerpipe.sim.golden.GoldenModel` takes them (default: the network file's, quantised,
    else 0)."""
    from layerpipe.sim import golden

    fmt = fmt or FixedFormat()
    if biases is None and golden.initial_biases(table.network) is not None:
        biases = [None if b is None else fmt.quantize(b) for b in golden.initial_biases(table.network)]
    samples = len(inputs) if samples is None else samples
    if samples > len(inputs) or len(inputs) != len(targets):
        raise LayerPipeError(f"{samples} samples asked for, {len(inputs)} inputs and {len(targets)} targets given")
    datapath = FixedPointDatapath(table.network, weights, inputs, targets, fmt, policy, biases)
    return simulate(table, samples, datapath=datapath, record_runs=record_runs)


def training_setup(network: Network, samples: int, seed: int = 0, fmt: FixedFormat | None = None,
                   dataset=None):
    """A workload as data words: ``samples`` training samples of ``dataset`` (default digits) in order
    (repeated epoch after epoch when more are asked for than the split has) in the shape the network's
    first layer takes, their targets, the golden model's initial weights for ``seed`` (the network
    file's, if it gives them) and the format: ``(inputs, targets, weights, fmt)``."""
    from layerpipe.sim import golden
    from layerpipe.sim.datasets import DEFAULT_DATA, load_data

    fmt = fmt or FixedFormat()
    train = (dataset or load_data(DEFAULT_DATA, network)).train
    order = np.arange(samples) % len(train)
    inputs, targets = train.inputs("fixed", fmt, network=network)[order], train.targets("fixed", fmt)[order]
    weights = [fmt.quantize(w) for w in golden.initial_weights(network, seed)]
    return inputs, targets, weights, fmt
