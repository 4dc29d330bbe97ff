"""What to build for a schedule: the generated accelerator or the self-checking board top."""

from __future__ import annotations

from layerpipe.core.errors import LayerPipeError

__all__ = ["DESIGNS", "design_for_table", "design_from_spec"]

DESIGNS = ("accelerator", "board-top")


def design_for_table(table, lanes: int | None = None, prefer: str = "accelerator", samples: int = 16,
                     data=None):
    """The design to build for ``table``: ``(design, info)``.

    ``prefer="accelerator"``: the generated accelerator,
    :func:`layerpipe.hw.generate.accelerator_for_table` (a table the RTL does not build is a
    one-line LayerPipeError). ``prefer="board-top"``: the self-checking
    :class:`~layerpipe.boards.board_top.BoardTop`, ``samples`` of the training split of ``data``
    in its ROM (a name, a file or a loaded DataSet, :func:`~layerpipe.boards.board_top.board_problem`;
    default digits; the accelerator ignores it).
    """
    lanes = lanes or table.cost.lanes
    if prefer == "board-top":
        from layerpipe.boards.board_top import BoardTop, board_data, board_problem

        dataset = board_data(data, table.network)
        inputs, targets, initial, fmt = board_problem(table, samples, data=dataset)
        top = BoardTop(table, inputs, targets, initial, fmt)
        return top, {"source": "layerpipe.boards.board_top.BoardTop", "lanes": lanes, "samples": samples,
                     "data": dataset.name, "expected_checksum": f"0x{top.expected:08x}",
                     "note": f"self-checking top: {samples} {dataset.name} training samples in ROM, pass/fail "
                             "LEDs"}
    if prefer == "accelerator":
        from layerpipe.hw.generate import accelerator_for_table

        return accelerator_for_table(table), {"source": "layerpipe.hw.generate", "lanes": lanes,
                                              "note": "layerpipe.hw.generate.accelerator_for_table(table)"}
    raise LayerPipeError(f"--design '{prefer}' is not one of {', '.join(DESIGNS)}")


def design_from_spec(spec: dict):
    """``(design, info, table)`` from a baseline's or a benchmark's design description:
    ``{"kind": "table", "network": NAME|FILE|{spec}, "processors": P, "policy": ..., "lanes": K,
    "design": "accelerator"|"board-top", "samples": N, "data": NAME|FILE}``, the design
    :func:`design_for_table` builds for that schedule (the table is returned too; ``samples`` and
    ``data``, default 16 and digits, are the board top's).
    """
    kind = spec.get("kind")
    if kind != "table":
        raise LayerPipeError(f"design spec 'kind' is {kind!r}; use 'table'")
    from layerpipe.core.costs import CostModel
    from layerpipe.core.network import network_from_dict
    from layerpipe.sched.scheduler import schedule
    from layerpipe.sched.zoo import load_network

    cost = CostModel(lanes=spec.get("lanes", CostModel().lanes))
    net = spec.get("network", "mlp-digits")
    network = network_from_dict(net, "design spec") if isinstance(net, dict) else load_network(net)
    table = schedule(network, spec.get("processors", 1), spec.get("policy", "layerpipe"), cost)
    design, info = design_for_table(table, cost.lanes, spec.get("design", "accelerator"), spec.get("samples", 16),
                                    spec.get("data"))
    return design, {**info, **spec}, table
