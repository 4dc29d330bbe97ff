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

import pytest

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


@pytest.mark.parametrize("module, upward, broken", [
    (("sched", "timing.py"), "layerpipe.hw.pe", "layerpipe.sched is not allowed to import layerpipe.hw"),
    (("core", "table.py"), "layerpipe.sched.timing", "layerpipe.core is not allowed to import layerpipe.sched"),
])
def test_an_upward_import_breaks_them(tmp_path, module, upward, broken):
    layout = installed_layout(tmp_path)
    with open(layout.joinpath("layerpipe", *module), "a") as source:
        source.write(f"\nimport {upward}  # a lower layer reaching up\n")
    result = lint_imports(layout)
    assert result.returncode != 0
    assert broken in result.stdout
    importer = "layerpipe." + ".".join(module).removesuffix(".py")
    assert f"{importer} -> {upward}" in result.stdout
