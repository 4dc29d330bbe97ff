"""The golden model on conv layers: float against an independent backprop, fixed point against the rules."""

import numpy as np
import pytest

from layerpipe.core.errors import LayerPipeError
from layerpipe.core.network import network_from_dict
from layerpipe.core.numerics import FixedFormat
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.zoo import zoo_network
from layerpipe.sim import bias, conv, data, fixed, golden
from layerpipe.sim.datasets import load_data
from layerpipe.sim.golden import Staleness
from tests.helpers import conv_reference as ref

# 7×7 → conv 3×3 pad 1 (7×7) → pool 2 keeps 3×3 (floor drops row and column 6)
# → conv 2×2 pad 1 (4×4) → pool 2 → fc: padding on both convs, a pool that drops data, an fc after conv;
# every layer has a bias (a network file's default)
SMALL = network_from_dict({"name": "small-cnn", "input": [2, 7, 7], "layers": [
    {"kind": "conv", "out_channels": 3, "kernel": 3, "padding": 1, "pool": 2},
    {"kind": "conv", "out_channels": 4, "kernel": 2, "padding": 1, "pool": 2},
    {"kind": "fc", "out": 5}]})

# SMALL with average pooling in both conv layers: the second's 4×4 windows of 2×2 keep every position
SMALL_AVERAGE = network_from_dict({"name": "small-cnn-average", "input": [2, 7, 7], "layers": [
    {"kind": "conv", "out_channels": 3, "kernel": 3, "padding": 1, "pool": 2, "pool_mode": "average"},
    {"kind": "conv", "out_channels": 4, "kernel": 2, "padding": 1, "pool": 2, "pool_mode": "average"},
    {"kind": "fc", "out": 5}]})


def problem(network, samples: int, seed: int):
    rng = np.random.default_rng(seed)
    inputs = rng.uniform(-1.0, 1.0, size=(samples,) + network.input_shape)
    targets = rng.uniform(-1.0, 1.0, size=(samples, network.layers[-1].out_size))
    return inputs, targets


def one_line(error) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def reference_training(network, init, biases, inputs, targets, lr: float, delay: int = 0):
    """Delayed SGD written out: θ^(m) = θ^(m−1) − η ∇L_m(θ^(m−1−delay)) for θ = (W, b) (stash with every D = delay)."""
    versions, outputs = [(list(init), list(biases))], []
    for x, t in zip(inputs, targets):
        weights, bias = versions[max(0, len(versions) - 1 - delay)]
        out, grads, bias_grads = ref.backprop(network, weights, x, t, bias)
        outputs.append(out)
        last_w, last_b = versions[-1]
        versions.append(([w - lr * g for w, g in zip(last_w, grads)],
                         [b - lr * g for b, g in zip(last_b, bias_grads)]))
    return np.array(outputs), *versions[-1]


def random_biases(network, seed: int):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-0.3, 0.3, size=layer.out_shape[0]) for layer in network.layers]


@pytest.mark.parametrize("network", [SMALL, SMALL_AVERAGE], ids=lambda n: n.name)
@pytest.mark.parametrize("delay", [0, 2])
def test_float_training_matches_an_independent_backprop(delay, network):
    inputs, targets = problem(network, 6, seed=1)
    init, biases = golden.initial_weights(network, seed=2), random_biases(network, seed=2)
    result = golden.train(network, inputs, targets, Staleness.uniform(network.depth, delay), "stash", "float",
                          init=init, lr=0.05, biases=biases)
    outputs, weights, trained_biases = reference_training(network, init, biases, inputs, targets, 0.05, delay)
    np.testing.assert_allclose(result.outputs, outputs, rtol=0, atol=1e-12)
    for got, want in zip(result.weights + result.biases, weights + trained_biases):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert not np.allclose(result.weights[0], init[0])  # the conv layers did learn
    assert all(not np.allclose(got, start) for got, start in zip(result.biases, biases))  # and so did every bias


@pytest.mark.parametrize("network", [SMALL, SMALL_AVERAGE], ids=lambda n: n.name)
def test_gradient_matches_finite_differences(network):
    inputs, targets = problem(network, 1, seed=3)
    init, biases = golden.initial_weights(network, seed=4), random_biases(network, seed=4)
    lr = 1e-3
    after = golden.train(network, inputs, targets, None, "stash", "float", init=init, lr=lr, biases=biases)

    def loss(weights, bias):
        out = golden.evaluate(weights, inputs, "float", network=network, biases=bias)
        return 0.5 * float(np.sum((out - targets) ** 2))

    rng, eps = np.random.default_rng(5), 1e-6
    for start, trained, which in ((init, after.weights, 0), (biases, after.biases, 1)):
        for layer in range(network.depth):
            grad = (start[layer] - trained[layer]) / lr
            for _ in range(4):
                index = tuple(rng.integers(0, n) for n in start[layer].shape)
                plus, minus = [[p.copy() for p in params] for params in (init, biases)], \
                    [[p.copy() for p in params] for params in (init, biases)]
                plus[which][layer][index] += eps
                minus[which][layer][index] -= eps
                numeric = (loss(*plus) - loss(*minus)) / (2 * eps)
                assert numeric == pytest.approx(grad[index], rel=1e-5, abs=1e-8)


def round_half_up(value: int, shift: int) -> int:
    return (value + (1 << (shift - 1))) // (1 << shift)


def test_fixed_kernels_round_the_exact_sums_once():
    """Every F, B and G result is the exact integer sum of the reference, rounded once, then saturated."""
    fmt = FixedFormat(data_bits=10, frac_bits=6, acc_bits=40, lr_shift=2)
    rng = np.random.default_rng(6)
    W = rng.integers(-300, 300, size=(3, 2, 3, 3))
    a = rng.integers(-200, 400, size=(2, 5, 5))
    delta = rng.integers(-300, 300, size=(3, 5, 5))
    saturate = np.vectorize(lambda v: min(max(v, fmt.data_min), fmt.data_max))
    z = np.vectorize(lambda s: round_half_up(int(s), 6))(ref.conv_sums(W, a, 1))
    out, mask = conv.forward(W, a, 1, 1, fmt)
    assert np.array_equal(out, np.maximum(saturate(z), 0)) and np.array_equal(mask, saturate(z) > 0)
    assert (z > fmt.data_max).any() or (z < fmt.data_min).any()  # the case exercises saturation
    e = np.vectorize(lambda s: round_half_up(int(s), 6))(ref.input_gradient_sums(W, delta, a.shape, 1))
    assert np.array_equal(conv.backward(W, delta, 1, fmt), saturate(e))
    step = np.vectorize(lambda s: round_half_up(int(s), 6 + 2))(ref.weight_gradient_sums(delta, a, 3, 1))
    assert np.array_equal(conv.update(W, delta, a, 1, fmt), saturate(W - step))


def test_a_bias_is_a_weight_on_an_input_of_exactly_one():
    """F adds b·2^frac to the exact sum before its one rounding; G steps b by round(Σ δ · 2^frac / 2^(frac+lr)).
    frac_bits = data_bits − 1, so 1.0 is not a data word: the bias never needs it to be one."""
    fmt = FixedFormat(data_bits=8, frac_bits=7, acc_bits=40, lr_shift=2)
    rng = np.random.default_rng(8)
    W, a = rng.integers(-128, 128, size=(3, 2, 3, 3)), rng.integers(-128, 128, size=(2, 4, 4))
    b, delta = rng.integers(-128, 128, size=3), rng.integers(-128, 128, size=(3, 4, 4))
    saturate = np.vectorize(lambda v: min(max(v, fmt.data_min), fmt.data_max))
    sums = ref.conv_sums(W, a, 1) + (b * 128)[:, None, None]
    z = saturate(np.vectorize(lambda s: round_half_up(int(s), 7))(sums))
    out, _ = conv.forward(W, a, 1, 1, fmt, b)
    assert np.array_equal(out, np.maximum(z, 0))
    step = np.array([round_half_up(int(delta[o].sum()) * 128, 7 + 2) for o in range(3)])
    assert np.array_equal(bias.update(b, delta, fmt), saturate(b - step))
    W_fc = rng.integers(-128, 128, size=(3, a.size))
    fc_z, _ = fixed.forward(W_fc, a.reshape(-1), fmt, False, b)
    exact = [int(W_fc[o] @ a.reshape(-1)) + int(b[o]) * 128 for o in range(3)]
    assert np.array_equal(fc_z, saturate(np.array([round_half_up(s, 7) for s in exact])))


def test_the_weight_step_rounds_the_sum_not_each_product():
    """Four products of ¼ LSB of step: summed first they make one LSB, rounded one by one none."""
    fmt = FixedFormat(data_bits=8, frac_bits=1, acc_bits=40, lr_shift=1)  # step = round(Σ δ·a / 4)
    W = np.array([[[[10]]]])
    a = np.ones((1, 2, 2), dtype=np.int64)
    delta = np.ones((1, 2, 2), dtype=np.int64)
    assert conv.update(W, delta, a, 0, fmt)[0, 0, 0, 0] == 10 - 1  # Σ = 4 → step 1
    a[0, 1, 1] = 0
    assert conv.update(W, delta, a, 0, fmt)[0, 0, 0, 0] == 10 - 1  # Σ = 3 → ¾ rounds to 1
    a[0, 1, 0] = 0
    assert conv.update(W, delta, a, 0, fmt)[0, 0, 0, 0] == 10 - 1  # Σ = 2 → ½ rounds half up to 1
    assert conv.update(W, -delta, a, 0, fmt)[0, 0, 0, 0] == 10 - 0  # Σ = −2 → −½ rounds up to 0


def test_max_pool_mask_ties_and_routing():
    fmt = FixedFormat()
    identity = np.array([[[[fmt.one]]]])  # a 1×1 kernel of 1.0: z equals the input words
    image = np.array([[[5, 5, 1, 7, -3, -1, 0, 0],
                       [5, 5, 7, 2, -2, -1, 0, 0]]])
    out, mask = conv.forward(identity, image, 0, 2, fmt)
    assert out.tolist() == [[[5, 7, 0, 0]]]
    assert mask.astype(int).tolist() == [[[1, 0, 0, 1, 0, 0, 0, 0],
                                          [0, 0, 0, 0, 0, 0, 0, 0]]]  # ties: the first in row-major order
    routed = conv.mask_error(np.array([[[11, 22, 33, 44]]]), mask, 2, fmt)
    assert routed.tolist() == [[[11, 0, 0, 22, 0, 0, 0, 0], [0] * 8]]  # nothing where ReLU or pool blocked
    ref_out, ref_mask = ref.relu_max_pool(image, 2)
    assert np.array_equal(out, ref_out) and np.array_equal(mask, ref_mask)


def test_average_pool_rounds_the_window_sum_once_and_shares_the_error():
    """a = round_half_up(Σ ReLU(z), 2·log2 p); δ_pre = round_half_up(e, 2·log2 p) where z > 0 (hand-computed)."""
    fmt = FixedFormat()
    identity = np.array([[[[fmt.one]]]])  # a 1×1 kernel of 1.0: z equals the input words
    image = np.array([[[5, 5, 1, 7, -3, -1, 1, 0, 9],
                       [5, 5, 7, 2, -2, -1, 1, 0, 9]]])  # the last column is past the last whole window
    out, mask = conv.forward(identity, image, 0, 2, fmt, pool_mode="average")
    # 20/4 = 5; 17/4 = 4.25 → 4; nothing positive → 0; 2/4 = 0.5 → ties up to 1
    assert out.tolist() == [[[5, 4, 0, 1]]]
    assert mask.astype(int).tolist() == [[[1, 1, 1, 1, 0, 0, 1, 0, 0],
                                          [1, 1, 1, 1, 0, 0, 1, 0, 0]]]
    routed = conv.mask_error(np.array([[[10, -22, 33, 7]]]), mask, 2, fmt, pool_mode="average")
    # 10/4 = 2.5 → 3; −22/4 = −5.5 → −5 (half up); 33/4 = 8.25 → 8 (masked out: no positive z); 7/4 = 1.75 → 2
    assert routed.tolist() == [[[3, 3, -5, -5, 0, 0, 2, 0, 0],
                                [3, 3, -5, -5, 0, 0, 2, 0, 0]]]
    big = np.full((1, 4, 4), fmt.data_max)  # the mean of data words is a data word: no saturation needed
    assert conv.forward(identity, big, 0, 4, fmt, pool_mode="average")[0].tolist() == [[[fmt.data_max]]]
    one_by_one = conv.forward(identity, image, 0, 1, fmt, pool_mode="average")  # pool 1: ReLU, the max's result
    assert all(np.array_equal(x, y) for x, y in zip(one_by_one, conv.forward(identity, image, 0, 1, fmt)))


@pytest.mark.parametrize("change, message", [
    ({"pool": 3, "pool_mode": "average"}, "field 'pool' is 3 with pool_mode 'average'"),
    ({"pool_mode": "mean"}, "field 'pool_mode' is 'mean'; use 'max' or 'average'"),
    ({"pool_mode": ["average"]}, "field 'pool_mode' is ['average']; use 'max' or 'average'"),
])
def test_a_bad_pool_mode_is_one_line(change, message):
    spec = {"input": [1, 8, 8], "layers": [{"kind": "conv", "out_channels": 2, "kernel": 3, "pool": 2} | change,
                                           {"kind": "fc", "out": 3}]}
    with pytest.raises(LayerPipeError) as error:
        network_from_dict(spec)
    assert message in one_line(error) and "layer 1" in str(error.value)
    with pytest.raises(LayerPipeError) as error:
        network_from_dict({"input": 4, "layers": [{"kind": "fc", "out": 3, "pool_mode": "average"}]})
    assert "unknown field 'pool_mode' for a fc layer" in one_line(error)


def test_padding_is_zeros():
    fmt = FixedFormat(frac_bits=8)  # range ±128: a sum of 9 ones must not saturate
    ones = np.full((1, 1, 3, 3), fmt.one)
    out, _ = conv.forward(ones, np.full((1, 3, 3), fmt.one), 1, 1, fmt)
    assert (out // fmt.one).tolist() == [[[4, 6, 4], [6, 9, 6], [4, 6, 4]]]  # taps outside the image add 0
    e = conv.backward(ones, np.full((1, 3, 3), fmt.one), 1, fmt)
    assert (e // fmt.one).tolist() == [[[4, 6, 4], [6, 9, 6], [4, 6, 4]]]
    grad_step = fmt.one - conv.update(ones, np.full((1, 3, 3), fmt.one), np.full((1, 3, 3), fmt.one), 1, fmt)
    assert (grad_step[0, 0] << fmt.lr_shift).tolist() == [[4 * fmt.one, 6 * fmt.one, 4 * fmt.one],
                                                           [6 * fmt.one, 9 * fmt.one, 6 * fmt.one],
                                                           [4 * fmt.one, 6 * fmt.one, 4 * fmt.one]]


def digits_problem(network, numerics: str, samples: int):
    split = data.load_digits().train
    return split.inputs(numerics, network=network)[:samples], split.targets(numerics)[:samples]


def test_every_weight_policy_trains_cnn_digits_with_its_schedule_staleness():
    network = zoo_network("cnn-digits")
    stale = golden.staleness_from_table(schedule(network, 4, "layerpipe"))
    assert stale.forward[2] > stale.backward_latest[2]  # B_2 would read a newer version than F_2: policies differ
    x, t = digits_problem(network, "float", 30)
    runs = {p: golden.train(network, x, t, stale, p, "float", seed=1) for p in ("stash", "latest", "ema")}
    for policy in ("latest", "ema"):
        assert not np.array_equal(runs[policy].weights[0], runs["stash"].weights[0]), policy
    qx, qt = digits_problem(network, "fixed", 30)
    scale = FixedFormat().one
    for policy in ("stash", "latest"):
        words = golden.train(network, qx, qt, stale, policy, "fixed", seed=1)
        assert words.outputs.dtype == np.int64
        # fixed point follows the float run it rounds (LSB 2**-12) closely on these samples
        assert np.max(np.abs(words.outputs / scale - runs[policy].outputs)) < 0.05, policy
    policies = ("stash", "latest", "ema")
    same = {p: golden.train(network, x[:8], t[:8], None, p, "float", seed=1).weights for p in policies}
    for policy in ("latest", "ema"):  # no staleness: every policy reads the same version
        assert all(np.array_equal(a, b) for a, b in zip(same[policy], same["stash"]))


def test_batched_evaluation_matches_training_forward():
    network = zoo_network("cnn-digits")
    qx, qt = digits_problem(network, "fixed", 5)
    init = [FixedFormat().quantize(w) for w in golden.initial_weights(network, seed=2)]
    first = golden.train(network, qx[:1], qt[:1], None, "stash", "fixed", init=init)
    batch = golden.evaluate(init, qx, "fixed", network=network)
    assert np.array_equal(batch[0], first.outputs[0])
    for k in range(len(qx)):
        assert np.array_equal(golden.evaluate(init, qx[k:k + 1], "fixed", network=network)[0], batch[k])
    with pytest.raises(LayerPipeError) as error:
        golden.evaluate(init, qx, "fixed")
    assert "pass network=" in one_line(error)


def test_digits_inputs_take_the_networks_shape():
    network = zoo_network("cnn-digits")
    load_data("digits", network)
    split = data.load_digits().test
    images = split.inputs("float", network=network)
    assert images.shape == (len(split), 1, 8, 8)
    assert images[3, 0, 2, 5] == split.pixels[3, 2 * 8 + 5] / 16  # row-major: pixel y·8 + x
    with pytest.raises(LayerPipeError) as error:
        load_data("digits", network_from_dict({"input": [4, 4, 4], "layers": [{"kind": "fc", "out": 10}]}))
    assert "[1, 8, 8]" in one_line(error)


@pytest.mark.parametrize("change, field", [({"stride": 2}, "'stride'"), ({"projection": True}, "'projection'")])
def test_unsupported_conv_geometry_is_one_line(change, field):
    spec = {"input": [1, 8, 8], "layers": [{"kind": "conv", "out_channels": 2, "kernel": 3, "padding": 1} | change,
                                           {"kind": "fc", "out": 3}]}
    with pytest.raises(LayerPipeError) as error:
        golden.GoldenModel(network_from_dict(spec), numerics="float")
    assert field in one_line(error) and "layer 1" in str(error.value)


def test_conv_output_layer_and_wrong_inputs_are_refused():
    last = network_from_dict({"input": [1, 4, 4], "layers": [{"kind": "conv", "out_channels": 2, "kernel": 3}]})
    with pytest.raises(LayerPipeError) as error:
        golden.GoldenModel(last, numerics="float")
    assert "make the last layer fc" in one_line(error)
    model = golden.GoldenModel(SMALL, numerics="float")
    with pytest.raises(LayerPipeError) as error:
        model.run(np.zeros((2, 98)), np.zeros((2, 5)))
    assert "(samples, 2, 7, 7)" in one_line(error)
    with pytest.raises(LayerPipeError) as error:
        golden.GoldenModel(zoo_network("lenet5"))  # G of c1 sums 28·28 products: 42 bits
    assert "convolution layer 1 ('c1')" in one_line(error) and "acc_bits" in str(error.value)
