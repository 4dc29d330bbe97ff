"""`layerpipe verify` as a user runs it: its build folder is temporary and goes away, also when the input is bad."""

import os
import subprocess
import sys


def _verify(tmp_path, *options):
    """The command in a subprocess whose TMPDIR and working folder start empty; returns it and what is left."""
    for folder in ("tmp", "cwd"):
        (tmp_path / folder).mkdir(exist_ok=True)
    result = subprocess.run([sys.executable, "-m", "layerpipe", "verify", *options], cwd=tmp_path / "cwd",
                            env={**os.environ, "TMPDIR": str(tmp_path / "tmp")}, capture_output=True, text=True)
    left = sorted(str(p.relative_to(tmp_path)) for folder in ("tmp", "cwd") for p in (tmp_path / folder).iterdir())
    return result, left


def test_verify_leaves_nothing_behind(tmp_path):
    result, left = _verify(tmp_path, "--processors", "1", "--policy", "sequential", "--samples", "4")
    assert result.returncode == 0, result.stderr
    assert left == []


def test_bad_input_is_refused_before_any_folder_is_made(tmp_path):
    result, left = _verify(tmp_path, "--samples", "0")
    assert result.returncode == 2
    err = result.stderr.strip()
    assert err.startswith("layerpipe verify: error: ") and "samples" in err and "\n" not in err, err
    assert left == []
