""".ci/run runs the README's quick start as a user would: every line as written, each in a fresh venv."""

import re
import subprocess
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
