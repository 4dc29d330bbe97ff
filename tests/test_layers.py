"""The layering contracts in pyproject.toml hold, and an upward import breaks them.

import-linter reads a package from its folder, but this distribution maps the design's
top-level folders (``sched/``, ``sim/``, ``hw/``, ``boards/``) into ``layerpipe`` with
setuptools' ``package-dir``, which an editable install resolves at import time only. The
test therefore lays the package out as a regular install would, from that same mapping, in
a temporary folder, and runs ``lint-imports`` on it with the repository's contracts.
"""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
PYPROJECT = REPOSITORY / "pyproject.toml"


def installed_layout(folder: Path) -> Path:
    mapping = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-dir"]
    for package, source in mapping.items():
        shutil.copytree(REPOSITORY / source, folder / package.replace(".", "/"), dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def lint_imports(folder: Path) -> subprocess.CompletedProcess:
    command = Path(sys.executable).with_name("lint-imports")  # import-linter, from the test extra
    return subprocess.run([str(command), "--no-cache", str(PYPROJECT)], cwd=folder, capture_output=True, text=True,
                          env={"PYTHONPATH": str(folder), "PATH": "/usr/bin:/bin"}, check=False)


def test_the_layers_are_kept(tmp_path):
    result = lint_imports(installed_layout(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_them(tmp_path):
    layout = installed_layout(tmp_path)
    with open(layout / "layerpipe" / "sched" / "timing.py", "a") as module:
        module.write("\nimport layerpipe.hw.pe  # the scheduler reaching up into the hardware\n")
    result = lint_imports(layout)
    assert result.returncode != 0
    assert "layerpipe.sched is not allowed to import layerpipe.hw" in result.stdout
    assert "layerpipe.sched.timing -> layerpipe.hw.pe" in result.stdout


def test_the_contracts_import_no_layer_above_them(tmp_path):
    layout = installed_layout(tmp_path)
    with open(layout / "layerpipe" / "core" / "table.py", "a") as module:
        module.write("\nimport layerpipe.sched.timing  # the table contract reaching up into the scheduler\n")
    result = lint_imports(layout)
    assert result.returncode != 0
    assert "layerpipe.core is not allowed to import layerpipe.sched" in result.stdout
