"""The RTL's cycles are observed, not restated: a wrong prediction fails, a real change moves them.

``layerpipe verify --table`` runs a given ScheduleTable. Its ``rtl`` cycles come from the
bench's timestamps of the last write of every weight bank (and the last result), seen from
the clock the bench drives; the design's own counter stops when every sequencer has
finished its last task run. Neither may follow the table's predicted latency.
"""

import json

import pytest

from layerpipe.cli import main
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.zoo import zoo_network

SAMPLES = 16


@pytest.fixture
def shared_cache(verilator_cache, monkeypatch):
    monkeypatch.setenv("LAYERPIPE_VERILATOR_CACHE", str(verilator_cache))


def verify_file(path, capsys) -> tuple[int, dict]:
    status = main(["verify", "--table", str(path), "--samples", str(SAMPLES), "--idle", "0.2",
                   "--backpressure", "0.2", "--json"])
    return status, json.loads(capsys.readouterr().out)


def saved_table(tmp_path, processors, policy, edit=None):
    data = schedule(zoo_network("mlp-digits"), processors, policy).data
    if edit:
        edit(data)
    path = tmp_path / f"P{processors}-{policy}.json"
    path.write_text(json.dumps(data))
    return path


def test_a_prediction_off_by_37_cycles_fails_cycle_exact(tmp_path, shared_cache, capsys):
    def add_37(data):
        data["predicted"]["latency_cycles"] += 37

    status, verdict = verify_file(saved_table(tmp_path, 4, "layerpipe", add_37), capsys)
    assert status == 1
    assert verdict["bit_exact"] is True
    assert verdict["cycle_exact"] is False
    # the hardware, seen from outside and by its own counter, did what the schedule really takes
    assert verdict["rtl_cycles"] == verdict["rtl_counter_cycles"] == verdict["simulated_cycles"]
    assert verdict["predicted_cycles"] == verdict["simulated_cycles"] + 37

    status, verdict = verify_file(saved_table(tmp_path, 4, "layerpipe"), capsys)
    assert status == 0
    assert verdict["bit_exact"] is True and verdict["cycle_exact"] is True


def test_the_observation_moves_when_the_schedule_changes(tmp_path, shared_cache, capsys):
    observed = {}
    for processors, policy in ((2, "pipedream"), (4, "layerpipe")):
        status, verdict = verify_file(saved_table(tmp_path, processors, policy), capsys)
        assert status == 0
        assert verdict["rtl_cycles"] == verdict["simulated_cycles"] == verdict["predicted_cycles"]
        observed[processors] = verdict
    assert observed[2]["rtl_cycles"] != observed[4]["rtl_cycles"]
    # every bank write and result the bench saw is in the run: the end is no earlier than any of them
    for verdict in observed.values():
        events = verdict["rtl_events"]
        assert len(events["result_handshakes"]) == SAMPLES
        assert max(events["last_bank_writes"].values()) <= 1 + verdict["rtl_cycles"] + verdict["rtl_stall_cycles"]
