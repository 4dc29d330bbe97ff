""".ci/run runs the README's quick start as a user would: every line as written, each in a fresh venv."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
CI = (ROOT / ".ci" / "run").read_text()


def quick_start_lines() -> list[str]:
    section = (ROOT / "README.md").read_text().split("## Quick start", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_ci_runs_each_quick_start_line_as_written_in_a_fresh_venv():
    lines = quick_start_lines()
    assert len(lines) == 2
    steps = re.findall(r"^(fresh_venv \S+|quickstart '(.*)')$", CI, re.M)
    assert [text for _, text in steps if text] == lines  # the same text, in the README's order
    # a fresh venv before each line
    assert [step.split()[0] for step, _ in steps] == ["fresh_venv", "quickstart"] * len(lines)


def test_ci_script_parses():
    subprocess.run(["bash", "-n", str(ROOT / ".ci" / "run")], check=True)


def test_a_test_run_leaves_nothing_in_the_temporary_folder(tmp_path):
    """tests/conftest.py's scratch folder: tmp_path folders, TMPDIR and the cache, removed at the end."""
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_files.py"],
                            cwd=ROOT, env={**os.environ, "TMPDIR": str(tmp_path)}, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    assert list(tmp_path.iterdir()) == []
