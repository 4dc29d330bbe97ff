"""Golden model: per-sample SGD of a chain of fc and conv layers with LayerPipe's delayed gradients.

ReLU after every hidden layer (conv layers then pool: max or average), a linear fc output and the
loss ½‖a_L − t‖² (δ_L = a_L − t). ``numerics="float"`` trains in float64 (the accuracy
study), ``numerics="fixed"`` with the kernels of :mod:`layerpipe.sim.fixed` and
:mod:`layerpipe.sim.conv`, bit for bit what the RTL computes (docs/numerics.md). The
layers' kernels and the two arithmetics sit in :mod:`layerpipe.sim.layers`.

Which weights each task reads follows docs/semantics.md ("Weights"). With W_l^(k) the
weights of layer l after the updates of samples 0..k (W_l^(−1) the initial ones):

* F_l of sample m reads W_l^(m−1−D_F(l));
* B_l of sample m reads, by weight policy,
  ``stash``: the version F_l(m) read;
  ``latest``: W_l^(m−1−D_B(l)), D_B from the table's ``backward_latest`` (−1 means
  G_l(m) has landed before B_l(m) starts, so B sees its own sample's update);
  ``ema``: a reconstruction of the stashed version from one moving-average buffer per
  layer (float only; see :class:`_WeightEMA`);
* G_l of sample m applies the update from δ_l(m) and a_{l−1}(m) to W_l^(m−1), giving
  W_l^(m).

With every D = 0 this is plain per-sample SGD. Within one sample the model runs, per
layer from the output down, G_l before B_l: nothing in G_l depends on B_l, and B_l may
need G_l's result (D_B = −1). The sample stream may be fed in several calls to
:meth:`GoldenModel.run` (epochs); the pipeline then simply continues, as in hardware.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from layerpipe.core.errors import LayerPipeError
from layerpipe.core.numerics import FixedFormat
from layerpipe.core.table import ScheduleTable
from layerpipe.core.weight_policies import WEIGHT_POLICIES, BackwardRead
from layerpipe.sim.layers import (
    NUMERICS,
    Dense,
    Parameters,
    arithmetic,
    check_biases,
    check_sums,
    check_weights,
    layer_ops,
)

__all__ = ["NUMERICS", "Staleness", "staleness_from_table", "initial_weights", "initial_biases",
           "GoldenModel", "TrainResult", "train", "evaluate", "predict", "accuracy"]


# -- staleness ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Staleness:
    """Samples of delay per layer (1-based): ``forward`` for F_l, ``backward_latest`` for B_l (l ≥ 2)."""

    forward: Mapping[int, int]
    backward_latest: Mapping[int, int]

    @classmethod
    def zero(cls, depth: int) -> Staleness:
        """Plain SGD: every task sees every earlier sample's update."""
        return cls.uniform(depth, 0)

    @classmethod
    def uniform(cls, depth: int, delay: int) -> Staleness:
        """Every task of a sample reads the version ``delay`` updates behind (the delayed SGD of DLMS)."""
        return cls({layer: delay for layer in range(1, depth + 1)},
                   {layer: delay for layer in range(2, depth + 1)})

    def check(self, depth: int, policy: str) -> None:
        for layer in range(1, depth + 1):
            value = self.forward.get(layer)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
                raise LayerPipeError(f"staleness: forward delay of layer {layer} is {value!r}; "
                                     "give an integer >= 0 for every layer")
        if WEIGHT_POLICIES[policy].reads is BackwardRead.FORWARD:
            return  # B reads F's version: its own delay is never used
        for layer in range(2, depth + 1):
            value = self.backward_latest.get(layer)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < -1:
                raise LayerPipeError(f"staleness: backward_latest delay of layer {layer} is {value!r}; "
                                     "give an integer >= -1 for every layer but the first")
            if value > self.forward[layer]:
                raise LayerPipeError(f"staleness: layer {layer}'s B reads {value} updates behind but its F only "
                                     f"{self.forward[layer]}; B runs after F, so backward_latest <= forward")


def staleness_from_table(table: ScheduleTable) -> Staleness:
    """The per-layer delays a :class:`~layerpipe.core.table.ScheduleTable` implies."""
    stale = table.staleness
    return Staleness(dict(stale["forward"]), dict(stale["backward_latest"]))


def _as_staleness(value, depth: int) -> Staleness:
    if value is None:
        return Staleness.zero(depth)
    if isinstance(value, Staleness):
        return value
    if isinstance(value, ScheduleTable):
        return staleness_from_table(value)
    if isinstance(value, Mapping) and "forward" in value:
        return Staleness(dict(value["forward"]), dict(value.get("backward_latest", {})))
    raise LayerPipeError(f"staleness is {value!r}; give a Staleness, a ScheduleTable or "
                         "{'forward': {layer: D}, 'backward_latest': {layer: D}}")


# -- network and initial weights ------------------------------------------------------------

def initial_weights(network_or_sizes, seed: int = 0) -> list[np.ndarray]:
    """A network's initial weights as floats: those its file gives (an ONNX model's initializers,
    ``Network.initial``; ``seed`` is then not used), else Glorot uniform, W_l ~ U(±sqrt(6 / (fan_in +
    fan_out))), deterministic in ``seed``.

    fc: shape (N_l, N_{l−1}), fans N_{l−1} and N_l; conv: shape (C_out, C_in, K, K), fans
    C_in·K² and C_out·K².
    """
    initial = getattr(network_or_sizes, "initial", None)
    if initial is not None:
        return [np.array(w, dtype=np.float64) for w in initial.weights]
    rng = np.random.default_rng(seed)
    weights = []
    for op in layer_ops(network_or_sizes)[1]:
        limit = np.sqrt(6.0 / sum(op.fans))
        weights.append(rng.uniform(-limit, limit, size=op.shape))
    return weights


def initial_biases(network_or_sizes) -> list | None:
    """A network's initial biases as floats, one entry per layer (None for a layer without a bias): those
    its file gives (``Network.initial``), else None, which every model takes as 0 for every bias."""
    initial = getattr(network_or_sizes, "initial", None)
    if initial is None:
        return None
    return [None if b is None else np.array(b, dtype=np.float64) for b in initial.biases]


# -- weight versions ------------------------------------------------------------------------

class _History:
    """The last few versions W^(k) of one layer; k below the oldest kept is the initial version
    (pipeline fill: no update has landed yet), which is never dropped before it is unreachable."""

    def __init__(self, initial: np.ndarray, keep: int):
        self.versions: deque[np.ndarray] = deque([initial], maxlen=keep)
        self.latest = -1  # k of the newest version

    def __getitem__(self, k: int) -> np.ndarray:
        oldest = self.latest - len(self.versions) + 1
        if k > self.latest or (k < oldest and oldest > -1):
            raise IndexError(f"weight version {k} is not kept (have {oldest}..{self.latest})")
        return self.versions[max(k, -1) - oldest]

    def append(self, weights: np.ndarray) -> None:
        self.versions.append(weights)
        self.latest += 1


class _WeightEMA:
    """LayerPipe2's reconstruction of the stashed version, formula (b): a weight EMA.

    B_l(m) needs W^(m−1−D_F) but the bank holds W^(k), k = m−1−D_B: the version is
    d = D_F − D_B updates old. The buffer W̄ ← β W̄ + (1−β) W^(k), absorbed once per landed
    update with β = d / (d + 1), lags the bank by exactly d updates whenever the weights
    drift linearly, and B reads W̄ instead of the bank. It starts at W^(−1), which is
    exact: before any update lands every old version is the initial one.

    Why (b) and not (a) (gradient EMA, Ŵ = W + η·d·ḡ): with β = d/(d+1) the two are the
    same estimate, W̄ − W^(k) = η Σ_j β^(j+1) g_(k−j), because W^(k) − W^(k−1) = −η g_k. (b)
    keeps it as a weight array, so B reads it like the bank (no η·d multiply-add at read
    time) and, as a convex combination of real past weights, it never leaves their range.
    """

    def __init__(self, initial: np.ndarray, delay: int):
        self.beta = delay / (delay + 1)
        self.buffer = initial
        self.absorbed = -1  # the newest version folded into the buffer

    def read(self, history: _History, k: int) -> np.ndarray:
        while self.absorbed < k:  # fold in the updates that have landed since the last read, in order
            self.absorbed += 1
            self.buffer = self.beta * self.buffer + (1.0 - self.beta) * history[self.absorbed].weights
        return self.buffer


# -- training ----------------------------------------------------------------------------

@dataclass
class TrainResult:
    outputs: np.ndarray  # (samples, N_L): a_L of each sample as its F_L computed it
    squared_errors: np.ndarray  # (samples,): ‖a_L − t‖² (int64 at binary point 2·frac_bits for fixed)
    weights: list[np.ndarray]  # W_1..W_L after every update: fc (N_l, N_{l−1}), conv (C_out, C_in, K, K)
    biases: list  # b_1..b_L after every update ((N_l,) or (C_out,)), None for a layer without a bias


class GoldenModel:
    """The training state of one sample stream; :meth:`run` continues it (epochs need no drain)."""

    def __init__(self, network_or_sizes, staleness=None, weights: str = "stash", numerics: str = "fixed",
                 fmt: FixedFormat | None = None, init=None, seed: int = 0, lr: float | None = None, biases=None):
        self.fmt = fmt or FixedFormat()
        self.numerics = numerics
        self.arith = arithmetic(numerics, self.fmt, lr)
        self.input_shape, self.ops = layer_ops(network_or_sizes, numerics)
        self.depth = len(self.ops)
        self.policy = WEIGHT_POLICIES.supported(weights, numerics, "weights")
        self.staleness = _as_staleness(staleness, self.depth)
        self.staleness.check(self.depth, weights)
        if numerics == "fixed":
            check_sums(self.ops, self.fmt)
        start = self._initial(init, biases, seed, network_or_sizes)
        forward = self.staleness.forward
        # F reads D_F + 1 versions back; the EMA may lag the bank by one more before its read
        self.history = [_History(w, keep=forward[layer] + 3) for layer, w in enumerate(start, start=1)]
        self.ema = {}
        if self.policy.reads is BackwardRead.AVERAGE:
            for layer in range(2, self.depth + 1):
                delay = forward[layer] - self.staleness.backward_latest[layer]
                self.ema[layer] = _WeightEMA(start[layer - 1].weights, delay)
        self.samples = 0  # samples trained so far: the next one is sample m = samples

    def _initial(self, init, biases, seed: int, network_or_sizes) -> list[Parameters]:
        if init is None:
            init = initial_weights(network_or_sizes, seed)
        if biases is None:
            biases = initial_biases(network_or_sizes)
        check_weights(self.ops, init, "init")
        biases = check_biases(self.ops, biases, "biases")
        return [Parameters(self._words(w, f"init weights of layer {layer}"),
                           None if b is None else self._words(b, f"init biases of layer {layer}"))
                for layer, (w, b) in enumerate(zip(init, biases), start=1)]

    def _words(self, x, what: str) -> np.ndarray:
        x = np.asarray(x)
        if self.numerics == "fixed" and not np.issubdtype(x.dtype, np.integer):
            x = self.fmt.quantize(x)  # float initial values: round half up, saturate
        return self.arith.words(x, what)

    @property
    def weights(self) -> list[np.ndarray]:
        """W_l^(k) of every layer, k the last sample trained: every update applied."""
        return [h[h.latest].weights for h in self.history]

    @property
    def biases(self) -> list:
        """b_l^(k) of every layer (None for a layer without a bias), as :attr:`weights`."""
        return [h[h.latest].bias for h in self.history]

    def run(self, inputs, targets) -> TrainResult:
        """Train on the samples in order; outputs and errors are those of these samples."""
        inputs = self.arith.words(inputs, "inputs")
        targets = self.arith.words(targets, "targets")
        shape, nl = self.input_shape, self.ops[-1].out_shape[0]
        if inputs.shape[1:] != shape:
            raise LayerPipeError(f"inputs have shape {inputs.shape}; the network needs (samples, "
                                 f"{', '.join(map(str, shape))})")
        if targets.shape != (len(inputs), nl):
            raise LayerPipeError(f"targets have shape {targets.shape}; the network needs ({len(inputs)}, {nl})")
        outputs = np.empty(targets.shape, dtype=inputs.dtype)
        errors = np.empty(len(inputs), dtype=np.int64 if self.numerics == "fixed" else np.float64)
        for i in range(len(inputs)):
            outputs[i], errors[i] = self._sample(self.samples, inputs[i], targets[i])
            self.samples += 1
        return TrainResult(outputs, errors, self.weights, self.biases)

    def _sample(self, m: int, x, target):
        arith, depth, history, ops = self.arith, self.depth, self.history, self.ops
        d_forward, d_backward = self.staleness.forward, self.staleness.backward_latest
        acts, masks, read_by_f = [x], [None], [None]
        for layer in range(1, depth + 1):
            w = history[layer - 1][m - 1 - d_forward[layer]]
            a, mask = ops[layer - 1].forward(arith, w, acts[-1], layer < depth)
            acts.append(a)
            masks.append(mask)
            read_by_f.append(w)
        a_L = acts[-1]
        delta = arith.output_delta(a_L, target)
        for layer in range(depth, 0, -1):
            versions = history[layer - 1]
            versions.append(ops[layer - 1].update(arith, versions[m - 1], delta, acts[layer - 1]))  # G_l(m): W^(m)
            if layer == 1:
                break  # layer 1 has no B
            if self.policy.reads is BackwardRead.FORWARD:
                w = read_by_f[layer].weights
            elif self.policy.reads is BackwardRead.BANK:
                w = versions[m - 1 - d_backward[layer]].weights
            else:
                w = self.ema[layer].read(versions, m - 1 - d_backward[layer])
            delta = ops[layer - 2].mask_error(arith, ops[layer - 1].backward(arith, w, delta), masks[layer - 1])
        return a_L, arith.squared_error(a_L, target)


def train(network_or_sizes, inputs, targets, staleness=None, weights: str = "stash", numerics: str = "fixed",
          fmt: FixedFormat | None = None, init=None, seed: int = 0, lr: float | None = None,
          biases=None) -> TrainResult:
    """Train once through ``inputs``/``targets`` in order (the sample stream); see :class:`GoldenModel`.

    ``staleness``: None (plain SGD), a :class:`Staleness`, a ScheduleTable or its
    ``staleness`` dict. ``weights``: the weight policy (stash, latest, ema). ``init``:
    initial weights (floats, quantised for fixed point; or data words), default
    :func:`initial_weights` of ``seed``. ``lr``: float η, default 2**−fmt.lr_shift. ``biases``: initial
    biases, one entry per layer (None for a layer without one); default :func:`initial_biases` (the
    network file's, else 0 for every bias).
    """
    model = GoldenModel(network_or_sizes, staleness, weights, numerics, fmt, init, seed, lr, biases)
    return model.run(inputs, targets)


# -- evaluation ----------------------------------------------------------------------------

def evaluate(weights: Sequence[np.ndarray], inputs, numerics: str = "fixed", fmt: FixedFormat | None = None,
             network=None, biases=None) -> np.ndarray:
    """Forward pass only, all samples at once: a_L per sample, shape (samples, N_L).

    ``network`` (a Network or sizes) is needed when it has conv layers or biases: padding,
    pooling and which layers have a bias are not in the weights; without it the weights are
    taken as a bias-free fc chain. ``biases``: one entry per layer (None for a layer without
    one), required when the network has biases.
    """
    arith = arithmetic(numerics, fmt or FixedFormat(), None)
    acts = np.moveaxis(arith.words(inputs, "inputs"), 0, -1)  # samples last: the kernels take them as columns
    ops = None if network is None else layer_ops(network, numerics)[1]
    if ops is not None and len(weights) != len(ops):
        raise LayerPipeError(f"{len(weights)} weight arrays for a {len(ops)}-layer network; give one per layer")
    if biases is None and ops is not None and any(op.bias_shape for op in ops):
        raise LayerPipeError("the network has biases but none are given; pass biases= (one entry per layer)")
    biases = check_biases(ops, biases, "biases") if ops is not None else [None] * len(weights)
    for layer, w in enumerate(weights, start=1):
        w = arith.words(w, f"weights of layer {layer}")
        if ops is None and w.ndim != 2:
            raise LayerPipeError(f"weights of layer {layer} have shape {w.shape}, not an fc layer's (N_l, N_l-1); "
                                 "pass network= for conv layers (their padding and pooling are not in the weights)")
        op = ops[layer - 1] if ops else Dense(acts.shape[:1], w.shape[0], f"layer {layer}")
        if w.shape != op.shape or acts.shape[:-1] != op.data_shape:
            raise LayerPipeError(f"weights of layer {layer} have shape {w.shape} for an input of shape "
                                 f"{acts.shape[:-1]}; the layer needs {op.shape} {op.shape_names}")
        b = None if biases[layer - 1] is None else arith.words(biases[layer - 1], f"biases of layer {layer}")
        acts, _ = op.forward(arith, Parameters(w, b), acts, layer < len(weights))
    return np.moveaxis(acts, -1, 0)


def predict(weights, inputs, numerics: str = "fixed", fmt: FixedFormat | None = None, network=None,
            biases=None) -> np.ndarray:
    """The class of each sample: the index of its largest output."""
    return np.argmax(evaluate(weights, inputs, numerics, fmt, network, biases), axis=1)


def accuracy(weights, inputs, labels, numerics: str = "fixed", fmt: FixedFormat | None = None,
             network=None, biases=None) -> float:
    """Fraction of samples whose predicted class equals ``labels``."""
    return float(np.mean(predict(weights, inputs, numerics, fmt, network, biases) == np.asarray(labels)))
