from pathlib import Path

import pytest

from layerpipe.cli import main
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.table import check
from layerpipe.sched.zoo import load_network

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.[ty]*ml"))


def test_examples_exist():
    assert {p.name for p in EXAMPLES} >= {"mlp-small.toml", "cnn-small.yaml"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_networks_schedule(path, capsys):
    network = load_network(str(path))
    for policy in ("pipedream", "layerpipe"):
        assert check(schedule(network, 3, policy)) == []
    assert main(["compare", "--network", str(path), "--processors", "2-3",
                 "--policies", "sequential", "pipedream", "layerpipe"]) == 0
    assert network.name in capsys.readouterr().out
