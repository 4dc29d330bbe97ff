import json

import pytest

from layerpipe.core.errors import LayerPipeError
from layerpipe.core.network import network_from_dict
from layerpipe.sched.zoo import ZOO, load_network, zoo_network

# Published forward MAC totals (torchvision shapes): within 1 %.
PUBLISHED_GMACS = {"vgg16": 15.5, "alexnet": 0.714, "resnet18": 1.82}


@pytest.mark.parametrize("name", sorted(PUBLISHED_GMACS))
def test_zoo_mac_totals_match_published(name):
    macs = zoo_network(name).forward_macs
    assert macs == pytest.approx(PUBLISHED_GMACS[name] * 1e9, rel=0.01)


def test_default_mlp_shapes():
    net = zoo_network("mlp-digits")
    assert net.sizes == [64, 32, 16, 10]
    assert [layer.macs for layer in net.layers] == [64 * 32, 32 * 16, 16 * 10]


def test_lenet_shapes_fold_pooling():
    net = zoo_network("lenet5")
    assert [layer.out_shape for layer in net.layers] == [(6, 14, 14), (16, 5, 5), (120,), (84,), (10,)]
    assert net.layers[2].in_size == 400


def test_resnet_projection_is_folded_into_first_conv_of_block():
    net = zoo_network("resnet18")
    assert net.depth == 18
    block = next(layer for layer in net.layers if layer.name == "layer2.1.conv1")
    assert block.projection
    # 3x3 conv from 64 to 128 channels at 28x28 plus the 1x1 shortcut
    assert block.macs == 28 * 28 * (9 * 64 * 128 + 64 * 128)


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_round_trips_through_dict(name):
    net = zoo_network(name)
    assert network_from_dict(net.to_dict()) == net


@pytest.mark.parametrize("suffix, text", [
    (".toml", 'name = "t"\ninput = 8\n[[layers]]\nkind = "fc"\nout = 4\n[[layers]]\nkind = "fc"\nout = 2\n'),
    (".yaml", "name: t\ninput: 8\nlayers:\n  - {kind: fc, out: 4}\n  - {kind: fc, out: 2}\n"),
    (".json", json.dumps({"name": "t", "input": 8, "layers": [{"kind": "fc", "out": 4}, {"kind": "fc", "out": 2}]})),
])
def test_network_files_in_every_format(tmp_path, suffix, text):
    path = tmp_path / f"net{suffix}"
    path.write_text(text)
    assert load_network(str(path)).sizes == [8, 4, 2]


@pytest.mark.parametrize("spec, message", [
    ({"input": 8, "layers": []}, "no layers"),
    ({"input": 8, "layers": [{"kind": "fc", "out": 0}]}, r"layer 1 .*'out' is 0.*positive integer"),
    ({"input": 8, "layers": [{"kind": "fc", "out": -3}]}, r"layer 1 .*'out'"),
    ({"input": 8, "layers": [{"kind": "fc", "out": 4}, {"kind": "fc", "in": 5, "out": 2}]},
     r"layer 2 .*'in' is 5 but the previous layer gives 4.*set 'in' to 4"),
    ({"input": 8, "layers": [{"kind": "lstm", "out": 4}]}, r"layer 1 .*unknown kind 'lstm'.*'fc'"),
    ({"input": 8, "layers": [{"kind": "fc", "out": 4, "bias": 1}]},
     r"layer 1 .*field 'bias' is 1; set it to true or false"),
    ({"input": 8, "layers": [{"kind": "fc", "out": 4, "biases": True}]}, r"layer 1 .*unknown field 'biases'"),
    ({"input": 8, "layers": [{"kind": "conv", "out_channels": 4, "kernel": 3}]}, r"layer 1 .*\[channels"),
    ({"input": [1, 4, 4], "layers": [{"kind": "conv", "out_channels": 4, "kernel": 7}]}, "leaves no output"),
    ({"layers": [{"kind": "fc", "out": 4}]}, "'input' is missing"),
])
def test_bad_networks_name_layer_field_and_fix(spec, message):
    with pytest.raises(LayerPipeError, match=message):
        network_from_dict(spec)


def test_unknown_zoo_name_lists_the_zoo():
    with pytest.raises(LayerPipeError, match="unknown network 'vgg19'.*mlp-digits"):
        load_network("vgg19")


def test_malformed_file_is_one_line_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("input = [\n")
    with pytest.raises(LayerPipeError, match="not valid TOML"):
        load_network(str(path))


@pytest.mark.parametrize("text, where", [
    ("name: t\ninput: 8\nlayers:\n  - {kind: fc, out: 4\n  - {kind: fc, out: 2}\n", "line 5, column 5"),
    ("name: t\n  input: 8\n", "line 2, column 8"),
    ("layers:\n\t- {kind: fc}\n", "line 2, column 1"),
])
def test_yaml_syntax_error_names_the_file_and_line(tmp_path, text, where):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(LayerPipeError) as error:
        load_network(str(path))
    message = str(error.value)
    assert message.startswith(f"{path}: not valid YAML: {where}: ") and "\n" not in message
