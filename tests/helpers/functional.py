"""The functional simulator against the fixed-point golden model: one comparison for every network."""

from __future__ import annotations

import numpy as np

from layerpipe.sim import golden
from layerpipe.sim.functional import run_functional


def training_mismatches(table, inputs, targets, weights, fmt, policy, golden_init=None, biases=None) -> list[str]:
    """What differs between executing ``table`` and the golden model trained with its staleness
    (outputs, squared errors, each layer's final weights and biases); empty when they agree bit for
    bit. ``golden_init`` gives the golden model other initial weights (a test that a difference shows);
    ``biases`` the initial biases of both (default 0)."""
    simulated = run_functional(table, inputs, targets, weights, fmt, policy, biases=biases).functional
    reference = golden.train(table.network, inputs, targets, staleness=table, weights=policy, numerics="fixed",
                             fmt=fmt, init=weights if golden_init is None else golden_init, biases=biases)
    problems = []
    if not np.array_equal(simulated.outputs, reference.outputs):
        problems.append("outputs")
    if not np.array_equal(np.asarray(simulated.squared_errors), reference.squared_errors):
        problems.append("squared errors")
    for layer, (ours, theirs) in enumerate(zip(simulated.weights, reference.weights, strict=True), start=1):
        if not np.array_equal(ours, theirs):
            problems.append(f"weights of layer {layer}")
    for layer, (ours, theirs) in enumerate(zip(simulated.biases, reference.biases, strict=True), start=1):
        if (ours is None) != (theirs is None) or (ours is not None and not np.array_equal(ours, theirs)):
            problems.append(f"biases of layer {layer}")
    return problems
