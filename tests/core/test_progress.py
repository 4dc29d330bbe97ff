"""The progress helper of every long job: the lines it writes, and that it writes none without a stream."""

import io
import threading
import time

from layerpipe.core.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_steps_are_numbered_in_the_jobs_order_and_formatted():
    stream = io.StringIO()
    Progress(stream, steps=("schedule", "train")).step("train", "mlp: 2 epochs")
    aligned = Progress(stream, steps=("elaborate", "place&route"), step_format="{step:<12} {text}")
    aligned.step("elaborate", "... Amaranth")
    assert stream.getvalue().splitlines() == ["[2/2] train: mlp: 2 epochs", "[1/2] elaborate    ... Amaranth"]


def test_a_log_gets_a_bar_line_per_tenth_and_every_error():
    stream = io.StringIO()
    progress = Progress(stream, total=20, title="sweep")
    for item in range(20):
        progress.advance(f"point {item}", "boom" if item == 6 else None)
    progress.close()
    lines = stream.getvalue().splitlines()
    bars = [line for line in lines if line.startswith("sweep [")]
    assert [bar.split()[2] for bar in bars] == ["1/20"] + [f"{n}/20" for n in range(2, 21, 2)]  # not 20 lines
    assert bars[-1].startswith("sweep [" + "#" * 28 + "] 20/20 ") and bars[-1].endswith("1 errors  point 19")
    assert "error: point 6: boom" in lines
    assert "\r" not in stream.getvalue()


def test_a_terminal_bar_is_redrawn_in_place_and_cleared_for_other_lines():
    stream = _Terminal()
    progress = Progress(stream, total=2, title="sweep", bar_width=4)
    progress.advance("a")
    progress.say("warning: w")
    progress.advance("b")
    progress.close()
    text = stream.getvalue()
    assert text.startswith("\r\033[Ksweep [##..] 1/2 ")
    assert "\r\033[Kwarning: w\n\r\033[Ksweep [####] 2/2 " in text
    assert text.endswith("  b\n")  # close leaves the bar's line


def test_a_heartbeat_beats_while_the_body_runs_and_stops_with_it():
    stream = io.StringIO()
    with Progress(stream).heartbeat(0.02, lambda: "still running"):
        time.sleep(0.3)
    beats = stream.getvalue().count("still running\n")
    time.sleep(0.1)
    assert beats >= 3 and stream.getvalue().count("still running\n") == beats


def test_no_stream_writes_nothing_and_starts_no_thread():
    threads = threading.active_count()
    progress = Progress(None, steps=("a",), total=1)
    with progress.heartbeat(0.01, lambda: "never"):
        assert threading.active_count() == threads
        time.sleep(0.05)
    progress.step("a", "x")
    progress.say("x")
    progress.advance("x", "error")
    progress.close()
    assert (progress.done, progress.errors) == (1, 1)
