"""No module under tests/ imports another one, except the shared helpers (tests/helpers) and conftest.py:
a test file can then be run, renamed or deleted on its own, and a helper is found where helpers are."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def _module_name(path: Path) -> str:
    """The name pytest's default (prepend) import mode gives the file: dotted from the first folder up
    that is not a package."""
    parts = [path.stem] if path.name != "__init__.py" else []
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts)


MODULES = {_module_name(path): path for path in TESTS.rglob("*.py")}


def _allowed(path: Path) -> bool:
    return path.name in ("conftest.py", "__init__.py") or path.is_relative_to(TESTS / "helpers")


def _imported(path: Path, source: str) -> set[str]:
    """Every dotted name the file's import statements may load as a module (``from a import b``: a and a.b)."""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module.split(".") if node.module else []
            if node.level:
                base = package[:len(package) - node.level + 1] + base
            names.add(".".join(base))
            names.update(".".join([*base, alias.name]) for alias in node.names)
    return names


def imported_test_modules(path: Path, source: str) -> list[str]:
    """The modules under tests/ the file imports that are neither helpers, conftest nor a package."""
    return sorted(name for name in _imported(path, source) if name in MODULES and not _allowed(MODULES[name]))


def _files():
    for path in sorted(TESTS.rglob("*.py")):
        yield pytest.param(path, id=str(path.relative_to(TESTS)))


@pytest.mark.parametrize("path", list(_files()))
def test_imports_only_helpers_of_the_tests(path):
    assert imported_test_modules(path, path.read_text()) == []


def test_every_kind_of_import_of_a_test_module_is_caught():
    importer = TESTS / "hw" / "test_pe.py"  # in package tests.hw
    assert imported_test_modules(importer, "from tests.hw.test_mac import lint_wall") == ["tests.hw.test_mac"]
    assert imported_test_modules(importer, "import tests.hw.test_mac") == ["tests.hw.test_mac"]
    assert imported_test_modules(importer, "from . import test_mac") == ["tests.hw.test_mac"]
    assert imported_test_modules(importer, "from .test_mac import lint_wall") == ["tests.hw.test_mac"]
    assert imported_test_modules(importer, "from ..sched.test_table import table") == ["tests.sched.test_table"]
    assert imported_test_modules(importer, "from tests.helpers.lint import lint_wall\nimport tests.conftest") == []
    board_test = TESTS / "boards" / "test_program.py"  # tests/boards is no package: its files are top-level
    assert imported_test_modules(board_test, "from test_boards import TINY") == ["test_boards"]
