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


def _network_file(folder, name, sizes):
    path = folder / f"{name}.toml"
    path.write_text(f'name = "{name}"\ninput = {sizes[0]}\n'
                    + "".join(f'[[layers]]\nkind = "fc"\nout = {n}\n' for n in sizes[1:]))
    return path


def test_any_network_verifies_on_synthetic_data_and_a_4_16_3_on_iris(tmp_path, verilator_cache, monkeypatch):
    """The network a user brings: a 16-12-6-3 file on seeded random samples, a 4-16-3 on iris."""
    monkeypatch.setenv("LAYERPIPE_VERILATOR_CACHE", str(verilator_cache))
    for name, sizes, data in (("n16", (16, 12, 6, 3), "synthetic"), ("iris", (4, 16, 3), "iris")):
        path = _network_file(tmp_path, name, sizes)
        result, left = _verify(tmp_path, "--network", str(path), "--processors", "2", "--data", data,
                               "--samples", "24")
        assert result.returncode == 0, result.stderr[-2000:]
        assert f"data {data}:" in result.stderr and left == []
        assert "True       True" in result.stdout  # bit_exact, cycle_exact


def test_a_data_mismatch_is_refused_before_anything_is_generated(tmp_path):
    path = _network_file(tmp_path, "n16", (16, 12, 6, 3))
    result, left = _verify(tmp_path, "--network", str(path), "--data", "iris")
    assert result.returncode == 2
    err = result.stderr.strip()
    assert err == ("layerpipe verify: error: network 'n16' has input 16 but data 'iris' has 4 features; "
                   "set the network's 'input' to 4 (fully connected)")
    assert left == []
