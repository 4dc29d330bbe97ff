"""Hypothesis strategies for random networks and cost models."""

from hypothesis import strategies as st

from layerpipe.core.costs import CostModel
from layerpipe.core.network import network_from_dict


@st.composite
def fc_chains(draw, min_layers=1, max_layers=40):
    depth = draw(st.integers(min_layers, max_layers))
    sizes = draw(st.lists(st.integers(1, 300), min_size=depth + 1, max_size=depth + 1))
    return network_from_dict({"name": "random", "input": sizes[0],
                              "layers": [{"kind": "fc", "out": n} for n in sizes[1:]]})


@st.composite
def cost_models(draw, memory=None):
    return CostModel(lanes=draw(st.sampled_from([1, 2, 4, 8, 16])),
                     task_overhead_cycles=draw(st.integers(0, 8)),
                     link_latency_cycles=draw(st.integers(0, 8)),
                     link_width_words=draw(st.sampled_from([1, 4, 8])),
                     memory=memory or draw(st.sampled_from(["ideal", "dual-port"])))
