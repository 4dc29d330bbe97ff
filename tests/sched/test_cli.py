import json

import pytest

from layerpipe.cli import main
from layerpipe.sched.policies import optimal


def run(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_schedule_json_and_file_agree(tmp_path, capsys):
    out_file = tmp_path / "t.json"
    status, out, _ = run(capsys, "schedule", "--processors", "3", "--json", "-o", str(out_file))
    assert status == 0
    assert json.loads(out) == json.loads(out_file.read_text())
    assert json.loads(out)["processors"] == 3


@pytest.mark.parametrize("as_json", [False, True])
def test_schedule_notes_a_search_the_time_limit_cut(monkeypatch, capsys, as_json):
    argv = ["schedule", "--policy", "optimal", "--processors", "3", *(["--json"] if as_json else [])]
    status, out, err = run(capsys, *argv)
    assert status == 0 and "time limit" not in out + err
    search = optimal.schedule
    monkeypatch.setattr(optimal, "schedule", lambda *args, **kwargs: search(*args, **kwargs, time_limit=0.0))
    status, out, err = run(capsys, *argv)
    assert status == 0
    if as_json:
        assert json.loads(out)["optimal"]["stopped_by"] == "time"
        assert one_line_error(err).startswith("note: the time limit cut optimal's search")
    else:
        assert out.splitlines()[-1].startswith("note: the time limit cut optimal's search") and err == ""


def test_schedule_summary_prints_cost_model(capsys):
    status, out, _ = run(capsys, "schedule", "--lanes", "4")
    assert status == 0
    assert "lanes=4" in out and "period" in out


def test_compare_prints_every_policy_and_plots(tmp_path, capsys):
    plot = tmp_path / "speedup.png"
    status, out, _ = run(capsys, "compare", "--processors", "2-3", "--policies", "sequential", "pipedream",
                         "layerpipe", "--plot", str(plot))
    assert status == 0
    assert plot.stat().st_size > 1000
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["2"], ["3"])]
    assert {row[1] for row in rows} == {"sequential", "pipedream", "layerpipe"}
    assert "lanes=8" in out


def test_gantt_draws_a_png(tmp_path, capsys):
    table = tmp_path / "t.json"
    assert run(capsys, "schedule", "-o", str(table))[0] == 0
    image = tmp_path / "g.png"
    assert run(capsys, "gantt", str(table), "-o", str(image))[0] == 0
    assert image.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("command, option", [("gantt", "-o"), ("compare", "--plot")])
@pytest.mark.parametrize("name, problem", [("g.xyz", "unknown image suffix '.xyz'"),
                                           ("g", "no suffix to name the image format")])
def test_figure_with_an_unknown_suffix_is_refused_before_any_work(tmp_path, capsys, command, option, name, problem):
    table = tmp_path / "t.json"
    assert run(capsys, "schedule", "--processors", "2", "-o", str(table))[0] == 0
    image = tmp_path / name
    argv = [str(table), "-o", str(image)] if command == "gantt" else ["--processors", "2", "--plot", str(image)]
    status, out, err = run(capsys, command, *argv)
    assert status == 2 and out == ""
    line = one_line_error(err)
    assert line.startswith(f"layerpipe {command}: error: {option} '{image}': {problem}; use one of ")
    assert {".png", ".svg", ".pdf"} <= set(line.split("; use one of ")[1].split(", "))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json"]


def test_yaml_syntax_error_in_a_network_file_is_one_line(tmp_path, capsys):
    path = tmp_path / "net.yaml"
    path.write_text("name: t\ninput: 8\nlayers:\n  - {kind: fc, out: 4\n")
    status, _, err = run(capsys, "schedule", "--network", str(path))
    assert status == 2
    assert f"{path}: not valid YAML: line 5" in one_line_error(err)


@pytest.mark.parametrize("argv, message", [
    (["schedule", "--processors", "0"], "processors is 0"),
    (["schedule", "--policy", "zerobubble"], "unknown policy 'zerobubble'"),
    (["schedule", "--network", "vgg19"], "unknown network 'vgg19'"),
    (["schedule", "--memory", "quad-port"], "unknown memory model 'quad-port'"),
    (["schedule", "--lanes", "0"], "'lanes' is 0"),
    (["compare", "--processors", "2-x"], "--processors '2-x'"),
    (["compare", "--policies", "fast"], "unknown policy 'fast'"),
])
def test_bad_options_exit_2_with_one_line(capsys, argv, message):
    status, _, err = run(capsys, *argv)
    assert status == 2
    assert message in one_line_error(err)


def test_bad_network_file_names_layer_and_field(tmp_path, capsys):
    path = tmp_path / "net.toml"
    path.write_text('input = 8\n[[layers]]\nkind = "fc"\nout = 0\n')
    status, _, err = run(capsys, "schedule", "--network", str(path))
    assert status == 2
    assert "layer 1" in one_line_error(err) and "'out'" in err


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"schema": "something-else"}', "not a LayerPipe schedule table"),
    ('{"schema": "layerpipe-schedule-table", "schema_version": 99}', "schema_version"),
])
def test_malformed_table_files(tmp_path, capsys, content, message):
    path = tmp_path / "t.json"
    path.write_text(content)
    status, _, err = run(capsys, "gantt", str(path))
    assert status == 2
    assert message in one_line_error(err)


def test_help_lists_defaults(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # keep each option on one line
    with pytest.raises(SystemExit):
        main(["schedule", "--help"])
    out = capsys.readouterr().out
    for option in ("--network", "--processors", "--policy", "--memory", "--lanes"):
        assert option in out
    assert "(default: mlp-digits)" in out and "(default: dual-port)" in out
