"""The registries of layer kinds and weight policies are the one place each is defined and checked."""

import dataclasses

import pytest

from layerpipe.cli import main
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.layer_kinds import LAYER_KINDS, require_layer_kinds
from layerpipe.core.network import network_from_dict
from layerpipe.core.numerics import FixedFormat
from layerpipe.core.registry import MODELS, Registry
from layerpipe.core.weight_policies import WEIGHT_POLICIES, BackwardRead, WeightPolicy
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.zoo import ZOO, zoo_network

LENET = zoo_network("lenet5")


def test_every_zoo_network_round_trips_through_its_layer_kinds():
    for name in ZOO:
        network = zoo_network(name)
        assert network_from_dict(network.to_dict()) == network
        assert {layer.kind for layer in network.layers} <= set(LAYER_KINDS)


def test_an_unknown_kind_names_every_registered_kind():
    with pytest.raises(LayerPipeError) as error:
        network_from_dict({"input": 4, "layers": [{"kind": "lstm", "out": 2}]})
    for name, kind in LAYER_KINDS.items():
        assert f"'{name}' ({kind.title})" in str(error.value)


@pytest.fixture
def conv_without_rtl(monkeypatch):
    """The conv kind as it was before the RTL built it: every model but the RTL generator."""
    kind = LAYER_KINDS["conv"]
    monkeypatch.setitem(LAYER_KINDS._entries, "conv", dataclasses.replace(kind, models=kind.models - {"rtl"}))


def test_a_model_refuses_a_kind_it_does_not_execute_by_layer(conv_without_rtl):
    with pytest.raises(LayerPipeError) as error:
        require_layer_kinds(LENET, "rtl")
    assert str(error.value) == (f"network 'lenet5' has convolution layer 1 ('c1'); {MODELS['rtl']} supports "
                                "fully connected layers only")


@pytest.mark.parametrize("model", ["schedule", "cycle", "float", "fixed", "functional", "rtl"])
def test_every_model_takes_every_kind(model):
    require_layer_kinds(LENET, model)  # no error


def test_the_rtl_generator_asks_the_registry(conv_without_rtl):
    from layerpipe.hw.plan import hardware_plan

    with pytest.raises(LayerPipeError) as error:
        hardware_plan(schedule(LENET, 2, "layerpipe"), FixedFormat(acc_bits=42))
    assert str(error.value).endswith("the RTL generator supports fully connected layers only")


def test_policy_choices_follow_the_model():
    assert WEIGHT_POLICIES.names("rtl") == ("latest", "stash")
    assert WEIGHT_POLICIES.names("float") == ("latest", "stash", "ema")
    assert WEIGHT_POLICIES["stash"].reads is BackwardRead.FORWARD


def test_an_unsupported_policy_says_where_it_runs():
    with pytest.raises(LayerPipeError, match="^--weights ema: the RTL generator supports latest or stash only; "
                                             "ema runs in the float golden model$"):
        WEIGHT_POLICIES.supported("ema", "rtl", "--weights")
    with pytest.raises(LayerPipeError, match="^--weights oldest: not a weight policy; use latest or stash$"):
        WEIGHT_POLICIES.supported("oldest", "rtl", "--weights")


def test_the_table_lists_every_policy_in_registry_order():
    table = schedule(zoo_network("mlp-digits"), 4, "layerpipe")
    assert tuple(table.weight_versions) == tuple(WEIGHT_POLICIES)
    stash = table.weight_versions["stash"]
    assert stash.per_layer[1] == 0  # layer 1 has no B
    assert stash.memory_words == sum(v * layer.weights for v, layer in zip(stash.versions, table.network.layers))


def test_a_registry_refuses_an_entry_for_an_unknown_model_or_a_second_definition():
    def entry(name, models):
        return WeightPolicy(name, BackwardRead.BANK, lambda *timing: 0, frozenset(models))

    with pytest.raises(ValueError, match="unknown model 'asic'"):
        Registry("weight policy", [entry("latest", {"asic"})])
    with pytest.raises(ValueError, match="defined twice"):
        Registry("weight policy", [entry("latest", {"rtl"}), entry("latest", {"float"})])


@pytest.mark.parametrize("command, model", [("generate", "rtl"), ("verify", "rtl"), ("simulate", "functional")])
def test_cli_help_lists_the_policies_of_its_model(capsys, command, model):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert ", ".join(WEIGHT_POLICIES.names(model)) + " (docs/semantics.md)" in help_text
