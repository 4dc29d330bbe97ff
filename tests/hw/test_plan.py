"""The hardware plan: validated once, read by the sidecar and the estimates; comparable signatures."""

from __future__ import annotations

import gc
import warnings

import pytest
from amaranth.hdl import Fragment, UnusedElaboratable, signed
from amaranth.lib import data

import layerpipe.hw.plan as plan_module
from layerpipe.core.costs import CostModel
from layerpipe.core.errors import LayerPipeError
from layerpipe.hw.delay_line import DelayLine
from layerpipe.hw.generate import generate
from layerpipe.hw.plan import hardware_plan
from layerpipe.hw.plan_estimate import design_resources
from layerpipe.hw.signatures import DelayReadSignature, ReadRequest, WriteRequest
from layerpipe.sched.scheduler import schedule
from tests.helpers.problems import FMT, tiny_network


def test_generate_checks_the_table_once(tmp_path, monkeypatch):
    table = schedule(tiny_network(), 3, "layerpipe", CostModel(lanes=4))
    calls = []
    check = plan_module.check_table
    monkeypatch.setattr(plan_module, "check_table", lambda t: calls.append(t) or check(t))
    generate(table, tmp_path, FMT)
    assert len(calls) == 1


def test_plan_answers_without_components():
    table = schedule(tiny_network(bias=False), 2, "layerpipe", CostModel(lanes=4))
    plan = hardware_plan(table, FMT, "stash")
    assert sorted(plan.pes) == [0, 1]
    first = plan.pes[0].first_task
    assert first is not None and (first.start, first.lag) == (0, 0)
    assert plan.pes[0].last_write_after_issue("F") == 1 + 3
    rows = design_resources(plan, "ecp5")
    assert set(rows) == {"PE0", "PE1", "shared"} and all(r.lut > 0 for r in rows.values())
    with pytest.raises(LayerPipeError, match="weights ema: the RTL generator supports latest or stash only"):
        hardware_plan(table, FMT, "ema")


def test_signatures_compare_and_print_by_their_parameters():
    row = data.ArrayLayout(signed(16), 4)
    assert DelayReadSignature(row, 4) == DelayReadSignature(row, 4)
    assert DelayReadSignature(row, 4) != DelayReadSignature(row, 5)
    assert DelayReadSignature(row, 4).flip() == DelayReadSignature(row, 4)
    assert ReadRequest(3, 64) != WriteRequest(3, 64, 1)
    assert repr(ReadRequest(3, 64)) == "ReadRequest(3, 64)"


def test_a_refused_component_is_never_created():
    Fragment.get(DelayLine(FMT, 1, 1, 1), None)  # Amaranth warns about unused elaboratables once one is elaborated
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError):
            DelayLine(FMT, 0, 2, 4)
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, UnusedElaboratable)]
