"""Every output file is written whole or not at all, with the mode the umask gives any other program's output."""

import os
import stat

import pytest

from layerpipe.core.costs import CostModel
from layerpipe.core.files import open_atomic, write_text_atomic
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.zoo import zoo_network


@pytest.fixture
def umask():
    """Sets the process umask for one test and restores it."""
    saved = os.umask(0o022)
    yield os.umask
    os.umask(saved)


def _table():
    return schedule(zoo_network("mlp-digits"), 2, "layerpipe", CostModel())


def _write_figure(path):
    from layerpipe.plots import plot_speedup

    plot_speedup({"layerpipe": [(1, 1.0), (2, 1.8)]}, "t", path)


def _write_trace(path, writer):
    from layerpipe.sim import trace
    from layerpipe.sim.cyclesim import simulate

    getattr(trace, writer)(simulate(_table(), 3, record_runs=True), path)


def _write_sweep(path):
    from layerpipe.sweep.results import write_results

    write_results(path.parent, {}, [{"a": 1}], ["a"])


# Every writer of user-facing outputs that is not a thin wrapper of write_text_atomic by construction.
WRITERS = {
    "write_text_atomic": ("out.txt", lambda path: write_text_atomic(path, "x\n")),
    "ScheduleTable.save": ("table.json", lambda path: _table().save(path)),
    "save_figure": ("plot.png", _write_figure),
    "write_chrome_trace": ("trace.json", lambda path: _write_trace(path, "write_chrome_trace")),
    "write_vcd": ("trace.vcd", lambda path: _write_trace(path, "write_vcd")),
    "sweep.write_results": ("results.json", _write_sweep),
}


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
@pytest.mark.parametrize("writer", WRITERS)
def test_outputs_get_the_mode_of_the_umask(tmp_path, umask, writer, mask, mode):
    name, write = WRITERS[writer]
    umask(mask)
    write(tmp_path / name)
    assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old\n")
    with pytest.raises(RuntimeError), open_atomic(path) as f:
        f.write("half of the new")
        raise RuntimeError("the writer failed")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_text_is_written_as_given(tmp_path):
    write_text_atomic(tmp_path / "a.csv", "a,b\r\n1,2\n")  # no newline translation, UTF-8
    write_text_atomic(tmp_path / "b.txt", "µ\n")
    assert (tmp_path / "a.csv").read_bytes() == b"a,b\r\n1,2\n"
    assert (tmp_path / "b.txt").read_bytes() == "µ\n".encode()
