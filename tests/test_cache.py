"""The user cache folder: where it is, what it holds, and `layerpipe cache` to see and clear it."""

import json
import tempfile
from pathlib import Path

import pytest

from layerpipe.cli import main
from layerpipe.core import cache


@pytest.fixture
def env(monkeypatch, tmp_path):
    for name in (cache.CACHE_ENV, cache.VERILATOR_CACHE_ENV, "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return monkeypatch


def test_location_follows_the_option_then_the_environment_then_xdg(env, tmp_path):
    assert cache.cache_root() == tmp_path / "home" / ".cache" / "layerpipe"
    env.setenv("XDG_CACHE_HOME", "relative/cache")  # invalid by the XDG rules: ignored
    assert cache.cache_root() == tmp_path / "home" / ".cache" / "layerpipe"
    env.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_root() == tmp_path / "xdg" / "layerpipe"
    env.setenv(cache.CACHE_ENV, str(tmp_path / "mine"))
    assert cache.cache_dir("demo") == tmp_path / "mine" / "demo"
    assert cache.cache_dir("demo", tmp_path / "option") == tmp_path / "option" / "demo"
    with pytest.raises(ValueError, match="'builds' is not one of verilator, demo"):
        cache.cache_dir("builds")


def test_the_verilator_variable_moves_only_the_verilator_builds(env, tmp_path):
    env.setenv(cache.CACHE_ENV, str(tmp_path / "mine"))
    env.setenv(cache.VERILATOR_CACHE_ENV, str(tmp_path / "ci-builds"))
    assert cache.cache_dir("verilator") == tmp_path / "ci-builds"
    assert cache.cache_dir("demo") == tmp_path / "mine" / "demo"
    assert cache.cache_dir("verilator", tmp_path / "option") == tmp_path / "option" / "verilator"  # the option wins


def _fill(root: Path) -> None:
    (root / "verilator" / "top-1").mkdir(parents=True)
    (root / "verilator" / "top-1" / "top").write_bytes(b"x" * 3000)
    (root / "demo").mkdir()
    (root / "demo" / "rtl-1.json").write_bytes(b"y" * 500)


def test_usage_and_clear(env, tmp_path, capsys):
    root = tmp_path / "c"
    _fill(root)
    (tmp_path / "c" / "notes.txt").write_text("not the cache's")
    assert main(["cache", "--cache-dir", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"cache: {root}" in out and "3.0 kB" in out and "500 B" in out and "total 3.5 kB" in out
    assert "layerpipe cache --clear" in out

    assert main(["cache", "--cache-dir", str(root), "--clear", "--json"]) == 0
    cleared = json.loads(capsys.readouterr().out)
    assert cleared["cleared"] is True
    assert {f["use"]: f["bytes"] for f in cleared["folders"]} == {"verilator": 3000, "demo": 500}
    assert sorted(p.name for p in root.iterdir()) == ["notes.txt"]  # only the cache's own folders go

    (root / "notes.txt").unlink()
    _fill(root)
    assert main(["cache", "--cache-dir", str(root), "--clear"]) == 0
    assert capsys.readouterr().out.startswith("removed 3.5 kB: ")
    assert not root.exists()  # nothing else in it: the folder goes too
    assert main(["cache", "--cache-dir", str(root), "--clear"]) == 0
    assert "nothing cached" in capsys.readouterr().out


def test_format_size():
    assert [cache.format_size(n) for n in (0, 999, 1000, 149_000_000, 1_600_000_000)] == [
        "0 B", "999 B", "1.0 kB", "149.0 MB", "1.6 GB"]


def test_the_suite_keeps_out_of_the_users_cache():
    """tests/conftest.py: the session's cache and TMPDIR are in one scratch folder, removed at the end."""
    assert cache.cache_root().parent == Path(tempfile.gettempdir()).parent
    assert cache.cache_root().parent.name.startswith("layerpipe-tests-")


def test_a_folder_that_cannot_be_removed_is_a_one_line_error(env, tmp_path, capsys):
    root = tmp_path / "c"
    _fill(root)

    def refuse(path):
        raise PermissionError(13, "Permission denied")

    env.setattr(cache.shutil, "rmtree", refuse)
    assert main(["cache", "--cache-dir", str(root), "--clear"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"layerpipe cache: error: could not remove {root / 'verilator'}: Permission denied; ")
    assert "\n" not in err
