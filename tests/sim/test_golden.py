"""Golden model: plain SGD against independent backprop, finite differences, delayed-gradient semantics."""

from __future__ import annotations

import numpy as np
import pytest

from layerpipe.core.errors import LayerPipeError
from layerpipe.core.network import network_from_dict
from layerpipe.core.numerics import FixedFormat, round_shift
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.zoo import zoo_network
from layerpipe.sim import golden
from layerpipe.sim.functional import run_functional
from layerpipe.sim.golden import Staleness
from layerpipe.sim.layers import Parameters

SIZES = [64, 32, 16, 10]


def problem(sizes, samples, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    inputs = rng.uniform(0.0, scale, size=(samples, sizes[0]))
    targets = rng.uniform(-0.5, 0.5, size=(samples, sizes[-1]))
    return inputs, targets


# -- plain numpy references, written independently of the model ------------------------------

def backprop_gradients(weights, x, t):
    """Gradients of ½‖a_L − t‖² for a ReLU MLP with a linear output (textbook backprop)."""
    zs, acts = [], [x]
    for i, w in enumerate(weights):
        z = w @ acts[-1]
        zs.append(z)
        acts.append(z if i == len(weights) - 1 else np.maximum(z, 0.0))
    grads = [None] * len(weights)
    delta = acts[-1] - t
    for i in reversed(range(len(weights))):
        grads[i] = np.outer(delta, acts[i])
        if i:
            delta = (weights[i].T @ delta) * (zs[i - 1] > 0)
    return acts[-1], grads


def plain_sgd(weights, inputs, targets, lr):
    weights = [w.copy() for w in weights]
    outputs = []
    for x, t in zip(inputs, targets):
        out, grads = backprop_gradients(weights, x, t)
        outputs.append(out)
        weights = [w - lr * g for w, g in zip(weights, grads)]
    return np.array(outputs), weights


def delayed_sgd(weights, inputs, targets, lr, delay):
    """V_{t+1} = V_t − η ∇L_{t−D}(V_{t−D}): step t applies the gradient of sample t − D (delayed LMS)."""
    visible = [[w.copy() for w in weights]]  # visible[t]: the weights sample t is forwarded with
    pending, outputs = {}, []
    for step, (x, t) in enumerate(zip(inputs, targets)):
        out, pending[step] = backprop_gradients(visible[step], x, t)
        outputs.append(out)
        current = visible[step]
        if step - delay in pending:
            current = [w - lr * g for w, g in zip(current, pending.pop(step - delay))]
        visible.append(current)
    final = visible[-1]
    for step in sorted(pending):  # drain: the remaining updates land in order
        final = [w - lr * g for w, g in zip(final, pending[step])]
    return np.array(outputs), final


# -- (1) zero staleness is plain SGD ------------------------------------------------------------

@pytest.mark.parametrize("policy", ["stash", "latest", "ema"])
def test_zero_staleness_float_is_plain_backprop(policy):
    inputs, targets = problem(SIZES, 60)
    init = golden.initial_weights(SIZES, seed=3)
    expected_out, expected_w = plain_sgd(init, inputs, targets, lr=0.05)
    result = golden.train(SIZES, inputs, targets, None, policy, "float", init=init, lr=0.05)
    assert np.max(np.abs(result.outputs - expected_out)) < 1e-12
    for ours, theirs in zip(result.weights, expected_w):
        assert np.max(np.abs(ours - theirs)) < 1e-12
    assert np.allclose(result.squared_errors, np.sum((expected_out - targets) ** 2, axis=1), atol=1e-12)
    assert np.max(np.abs(result.weights[0] - init[0])) > 1e-3  # it did train


def test_update_is_minus_lr_times_the_finite_difference_gradient():
    sizes = [5, 4, 3, 2]
    rng = np.random.default_rng(4)
    init = golden.initial_weights(sizes, seed=4)
    x, t = rng.uniform(0.2, 1.0, size=(1, 5)), rng.uniform(-1, 1, size=(1, 2))
    lr = 0.5
    grads = [(w0 - w1) / lr for w0, w1 in zip(init, golden.train(sizes, x, t, numerics="float", init=init,
                                                                   lr=lr).weights)]

    def loss(weights):
        return 0.5 * float(np.sum((golden.evaluate(weights, x, "float") - t) ** 2))

    eps = 1e-6
    for layer, w in enumerate(init):
        numeric = np.zeros_like(w)
        for index in np.ndindex(w.shape):
            plus = [v.copy() for v in init]
            minus = [v.copy() for v in init]
            plus[layer][index] += eps
            minus[layer][index] -= eps
            numeric[index] = (loss(plus) - loss(minus)) / (2 * eps)
        assert np.max(np.abs(numeric)) > 1e-3, "degenerate problem: no gradient to check"
        assert np.allclose(grads[layer], numeric, rtol=1e-5, atol=1e-8), layer


# -- (2) staleness D: the update applied at step t is the gradient of sample t − D ---------------

def probe_problem(samples):
    """A linear layer whose input tags each sample: x_t = e_t + e_probe.

    Column t of W is touched only by sample t's update, so each final column shows which
    sample's δ went into it; the probe column sums every update that has landed, so the
    output of sample t shows exactly which updates were visible to its forward pass.
    """
    inputs = np.zeros((samples, samples + 1))
    inputs[np.arange(samples), np.arange(samples)] = 1.0
    inputs[:, samples] = 1.0
    rng = np.random.default_rng(5)
    targets = rng.uniform(-1, 1, size=(samples, 3))
    init = [rng.uniform(-1, 1, size=(3, samples + 1))]
    return inputs, targets, init


@pytest.mark.parametrize("delay", [0, 1, 2, 5])
def test_each_update_comes_from_the_sample_delay_steps_back(delay):
    samples, lr = 12, 0.25
    inputs, targets, init = probe_problem(samples)
    result = golden.train([samples + 1, 3], inputs, targets, Staleness({1: delay}, {}), "stash", "float",
                          init=init, lr=lr)
    deltas = result.outputs - targets
    w0 = init[0]

    def predicted_outputs(d):
        # sample t is forwarded after the updates of samples 0..t−1−d have landed
        return np.array([w0[:, t] + w0[:, samples] - lr * deltas[: max(0, t - d)].sum(axis=0)
                         for t in range(samples)])

    assert np.allclose(result.outputs, predicted_outputs(delay), atol=1e-12)
    for other in {0, 1, 2, 5} - {delay}:
        assert not np.allclose(result.outputs, predicted_outputs(other), atol=1e-6)  # the probe tells delays apart
    final = result.weights[0]
    assert np.allclose(final[:, :samples], w0[:, :samples] - lr * deltas.T, atol=1e-12)  # sample s → column s
    assert np.allclose(final[:, samples], w0[:, samples] - lr * deltas.sum(axis=0), atol=1e-12)  # all landed


@pytest.mark.parametrize("delay", [1, 2, 3])
def test_uniform_staleness_with_stash_is_delayed_sgd(delay):
    inputs, targets = problem(SIZES, 40, seed=6)
    init = golden.initial_weights(SIZES, seed=6)
    expected_out, expected_w = delayed_sgd(init, inputs, targets, 0.05, delay)
    result = golden.train(SIZES, inputs, targets, Staleness.uniform(3, delay), "stash", "float", init=init, lr=0.05)
    assert np.max(np.abs(result.outputs - expected_out)) < 1e-12
    for ours, theirs in zip(result.weights, expected_w):
        assert np.max(np.abs(ours - theirs)) < 1e-12
    plain_out, _ = plain_sgd(init, inputs, targets, 0.05)
    assert np.max(np.abs(result.outputs - plain_out)) > 1e-6  # staleness changed something


def versioned_reference(sizes, inputs, targets, init, stale, policy, lr):
    """Every version kept (no ring buffer): F_l(m) reads W^(m−1−D_F), B_l(m) per policy, G_l(m) makes W^(m)."""
    depth = len(sizes) - 1
    history = [[w] for w in init]  # history[l-1][k+1] = W_l^(k)

    def version(layer, k):
        return history[layer - 1][max(k, -1) + 1]

    outputs = []
    for m, (x, t) in enumerate(zip(inputs, targets)):
        acts, zs, used = [x], [None], [None]
        for layer in range(1, depth + 1):
            w = version(layer, m - 1 - stale.forward[layer])
            used.append(w)
            zs.append(w @ acts[-1])
            acts.append(zs[-1] if layer == depth else np.maximum(zs[-1], 0))
        outputs.append(acts[-1])
        delta = acts[-1] - t
        for layer in range(depth, 0, -1):
            history[layer - 1].append(version(layer, m - 1) - lr * np.outer(delta, acts[layer - 1]))
            if layer > 1:
                w = used[layer] if policy == "stash" else version(layer, m - 1 - stale.backward_latest[layer])
                delta = (w.T @ delta) * (zs[layer - 1] > 0)
    return np.array(outputs), [h[-1] for h in history]


@pytest.mark.parametrize("policy", ["stash", "latest"])
def test_per_layer_staleness_matches_a_reference_keeping_every_version(policy):
    stale = Staleness({1: 5, 2: 3, 3: 1}, {2: -1, 3: 0})  # −1: B_2 sees its own sample's update
    inputs, targets = problem(SIZES, 50, seed=7)
    init = golden.initial_weights(SIZES, seed=7)
    expected_out, expected_w = versioned_reference(SIZES, inputs, targets, init, stale, policy, 0.02)
    result = golden.train(SIZES, inputs, targets, stale, policy, "float", init=init, lr=0.02)
    assert np.all(np.isfinite(result.outputs))
    assert np.max(np.abs(result.outputs - expected_out)) < 1e-12
    for ours, theirs in zip(result.weights, expected_w):
        assert np.max(np.abs(ours - theirs)) < 1e-12


def test_stash_and_latest_differ_when_b_reads_newer_weights():
    stale = Staleness({1: 4, 2: 2, 3: 0}, {2: 0, 3: 0})
    inputs, targets = problem(SIZES, 30, seed=8)
    runs = {p: golden.train(SIZES, inputs, targets, stale, p, "float", lr=0.1).weights[0] for p in ("stash", "latest")}
    assert np.max(np.abs(runs["stash"] - runs["latest"])) > 1e-9


def test_epochs_continue_one_stream():
    inputs, targets = problem(SIZES, 40, seed=9)
    stale = Staleness({1: 3, 2: 1, 3: 0}, {2: 0, 3: 0})
    whole = golden.train(SIZES, inputs, targets, stale, "latest", "float")
    model = golden.GoldenModel(SIZES, stale, "latest", "float")
    first, second = model.run(inputs[:17], targets[:17]), model.run(inputs[17:], targets[17:])
    assert np.array_equal(np.vstack([first.outputs, second.outputs]), whole.outputs)
    assert all(np.array_equal(a, b) for a, b in zip(model.weights, whole.weights))


# -- ema ---------------------------------------------------------------------------------------

def test_weight_ema_recovers_the_stale_version_under_linear_drift():
    drift = np.full((2, 2), 0.01)
    start = np.zeros((2, 2))
    history = golden._History(Parameters(start), keep=4)
    ema = golden._WeightEMA(start, delay=3)
    for k in range(400):
        history.append(Parameters(start + (k + 1) * drift))  # W^(k) = W^(−1) + (k+1)·v
        estimate = ema.read(history, k)
    assert np.allclose(estimate, start + (399 + 1 - 3) * drift, atol=1e-12)  # W^(k−3)


def test_ema_without_lag_is_latest_and_with_lag_is_close_to_stash():
    inputs, targets = problem(SIZES, 80, seed=10)
    init = golden.initial_weights(SIZES, seed=10)
    no_lag = Staleness({1: 2, 2: 1, 3: 1}, {2: 1, 3: 1})
    same = [golden.train(SIZES, inputs, targets, no_lag, p, "float", init=init).weights for p in ("ema", "latest")]
    assert all(np.array_equal(a, b) for a, b in zip(*same))
    lagged = Staleness({1: 6, 2: 3, 3: 1}, {2: 0, 3: 0})
    runs = {p: golden.train(SIZES, inputs, targets, lagged, p, "float", init=init, lr=0.05).outputs
            for p in ("ema", "stash", "latest")}
    assert np.max(np.abs(runs["ema"] - runs["latest"])) > 1e-9  # it reconstructs something
    assert np.abs(runs["ema"] - runs["stash"]).sum() < np.abs(runs["latest"] - runs["stash"]).sum()


# -- fixed point ------------------------------------------------------------------------------

def fixed_reference(inputs, targets, weights, fmt):
    """Plain per-sample SGD in integers with only round_shift and clip (docs/numerics.md)."""
    lo, hi = fmt.data_min, fmt.data_max
    weights, outputs, errors = [w.copy() for w in weights], [], []
    for x, t in zip(inputs, targets):
        acts, masks = [x], []
        for i, w in enumerate(weights):
            z = np.clip(round_shift(w @ acts[-1], fmt.frac_bits), lo, hi)
            masks.append(z > 0)
            acts.append(z if i == len(weights) - 1 else z * (z > 0))
        outputs.append(acts[-1])
        errors.append(int(((acts[-1] - t) ** 2).sum()))
        delta, new = np.clip(acts[-1] - t, lo, hi), []
        for i in reversed(range(len(weights))):
            step = round_shift(np.outer(delta, acts[i]), fmt.frac_bits + fmt.lr_shift)
            new.insert(0, np.clip(weights[i] - step, lo, hi))
            if i:
                delta = np.clip(round_shift(weights[i].T @ delta, fmt.frac_bits), lo, hi) * masks[i - 1]
        weights = new
    return np.array(outputs), errors, weights


def test_fixed_zero_staleness_matches_an_integer_reference():
    fmt = FixedFormat(lr_shift=3)
    inputs, targets = problem(SIZES, 60, seed=11)
    qx, qt = fmt.quantize(inputs), fmt.quantize(targets)
    init = [fmt.quantize(w) for w in golden.initial_weights(SIZES, seed=11)]
    out, errors, weights = fixed_reference(qx, qt, init, fmt)
    result = golden.train(SIZES, qx, qt, None, "stash", "fixed", fmt, init=init)
    assert result.outputs.dtype == np.int64 and np.array_equal(result.outputs, out)
    assert result.squared_errors.tolist() == errors
    assert all(np.array_equal(a, b) for a, b in zip(result.weights, weights))
    float_init = golden.initial_weights(SIZES, seed=11)  # float init is quantised the same way
    again = golden.train(SIZES, qx, qt, None, "stash", "fixed", fmt, init=float_init)
    assert np.array_equal(again.outputs, out)


def test_fixed_point_tracks_float():
    fmt = FixedFormat()
    inputs, targets = problem(SIZES, 20, seed=12)
    init = golden.initial_weights(SIZES, seed=12)
    stale = Staleness({1: 4, 2: 1, 3: 0}, {2: 0, 3: 0})
    real = golden.train(SIZES, inputs, targets, stale, "stash", "float", init=init)
    words = golden.train(SIZES, fmt.quantize(inputs), fmt.quantize(targets), stale, "stash", "fixed", fmt, init=init)
    assert np.max(np.abs(fmt.to_real(words.outputs) - real.outputs)) < 4e-3  # a few LSBs per layer
    assert np.abs(real.outputs).max() > 0.1


@pytest.mark.parametrize("network, processors", [("mlp-digits", 4), ("mlp-digits", 5), ("four", 3)])
@pytest.mark.parametrize("policy", ["stash", "latest"])
def test_fixed_golden_equals_the_cycle_simulators_datapath(network, processors, policy):
    """The staleness numbers of the table reproduce what executing the table computes, bit for bit."""
    if network == "four":
        net = network_from_dict({"name": "four", "input": 8, "layers": [{"kind": "fc", "out": 8}] * 4})
    else:
        net = zoo_network(network)
    table = schedule(net, processors, "layerpipe")
    fmt = FixedFormat(lr_shift=2)  # large steps: stale versions differ visibly
    inputs, targets = problem(net.sizes, 40, seed=13)
    qx, qt = fmt.quantize(inputs), fmt.quantize(targets)
    init = [fmt.quantize(w) for w in golden.initial_weights(net, seed=13)]
    simulated = run_functional(table, qx, qt, init, fmt, policy).functional
    result = golden.train(net, qx, qt, golden.staleness_from_table(table), policy, "fixed", fmt, init=init)
    assert np.array_equal(result.outputs, simulated.outputs)
    assert result.squared_errors.tolist() == list(simulated.squared_errors)
    assert all(np.array_equal(a, b) for a, b in zip(result.weights, simulated.weights))


def test_evaluate_matches_the_per_sample_forward():
    fmt = FixedFormat()
    inputs, _ = problem(SIZES, 25, seed=14)
    words = [fmt.quantize(w) for w in golden.initial_weights(SIZES, seed=14)]
    batched = golden.evaluate(words, fmt.quantize(inputs), "fixed", fmt)
    frozen = golden.train(SIZES, fmt.quantize(inputs), np.zeros((25, 10), np.int64), Staleness.uniform(3, 30),
                          "stash", "fixed", fmt, init=words)  # no update lands within 25 samples
    assert np.array_equal(batched, frozen.outputs)
    labels = np.argmax(batched, axis=1)
    assert golden.accuracy(words, fmt.quantize(inputs), labels, "fixed", fmt) == 1.0


def test_initial_weights_are_glorot_and_deterministic():
    first, again, other = (golden.initial_weights(SIZES, seed) for seed in (0, 0, 1))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])
    for w, (fan_in, fan_out) in zip(first, zip(SIZES[:-1], SIZES[1:])):
        limit = np.sqrt(6 / (fan_in + fan_out))
        assert w.shape == (fan_out, fan_in) and np.abs(w).max() <= limit and np.abs(w).max() > 0.9 * limit


def test_staleness_from_table():
    table = schedule(zoo_network("mlp-digits"), 8, "layerpipe")
    stale = golden.staleness_from_table(table)
    assert dict(stale.forward) == table.staleness["forward"]
    assert dict(stale.backward_latest) == table.staleness["backward_latest"]


# -- (4) bad input: one line naming the field and the fix ---------------------------------------

def one_line(error) -> str:
    message = str(error.value)
    assert "\n" not in message and message
    return message


@pytest.mark.parametrize("kwargs, words", [
    ({"weights": "newest"}, "weights newest: not a weight policy; use latest, stash or ema"),
    ({"numerics": "double"}, "numerics 'double'"),
    ({"weights": "ema", "numerics": "fixed"}, "ema runs in the float golden model"),
    ({"staleness": Staleness({1: 0, 2: -2, 3: 0}, {})}, "forward delay of layer 2"),
    ({"staleness": Staleness({1: 0, 2: 0}, {})}, "layer 3"),
    ({"staleness": Staleness({1: 0, 2: 1, 3: 0}, {2: 2, 3: 0}), "weights": "latest"}, "backward_latest <= forward"),
    ({"staleness": Staleness({1: 0, 2: 1, 3: 0}, {3: 0}), "weights": "latest"}, "backward_latest delay of layer 2"),
    ({"staleness": 3}, "staleness is 3"),
    ({"init": [np.zeros((32, 64))]}, "init has 1 weight"),
    ({"init": [np.zeros((64, 32)), np.zeros((16, 32)), np.zeros((10, 16))]}, "layer 1 have shape (64, 32)"),
    ({"lr": 0.1, "numerics": "fixed"}, "lr_shift"),
])
def test_bad_model_options_are_one_line(kwargs, words):
    options = {"numerics": "float"} | kwargs
    with pytest.raises(LayerPipeError) as error:
        golden.GoldenModel(SIZES, **options)
    assert words in one_line(error)


def test_bad_data_is_one_line():
    model = golden.GoldenModel(SIZES, numerics="fixed")
    inputs, targets = problem(SIZES, 3)
    with pytest.raises(LayerPipeError) as error:
        model.run(inputs, targets)
    assert "data words" in one_line(error)
    with pytest.raises(LayerPipeError) as error:
        model.run(np.zeros((3, 63), np.int64), np.zeros((3, 10), np.int64))
    assert "(samples, 64)" in one_line(error)
    with pytest.raises(LayerPipeError) as error:
        model.run(np.zeros((3, 64), np.int64), np.zeros((2, 10), np.int64))
    assert "(3, 10)" in one_line(error)
    with pytest.raises(LayerPipeError) as error:
        model.run(np.full((3, 64), 1 << 20), np.zeros((3, 10), np.int64))
    assert "saturate" in one_line(error)


def test_bad_networks_are_one_line():
    with pytest.raises(LayerPipeError) as error:
        golden.GoldenModel(zoo_network("lenet5"))
    assert "convolution" in one_line(error)
    with pytest.raises(LayerPipeError) as error:
        golden.GoldenModel([64])
    assert "at least two" in one_line(error)
    with pytest.raises(LayerPipeError) as error:
        golden.GoldenModel([4096, 10], fmt=FixedFormat(acc_bits=40))
    assert "acc_bits" in one_line(error)
