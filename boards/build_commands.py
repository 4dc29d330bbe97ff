"""A step's tool commands, as the build plan lists them, run one by one in the build folder into the step's log.

The YoWASP tools run through :func:`layerpipe.boards.toolchain.run_tool`. A command the
YoWASP toolchain lacks runs a built-in stand-in: ``dfu-suffix`` (the OrangeCrab's packing
step), because dfu-util is not on PyPI.
"""

from __future__ import annotations

import struct
import time
import zlib
from pathlib import Path

from layerpipe.boards import toolchain
from layerpipe.boards.build_record import BuildRecord

__all__ = ["run_commands", "dfu_suffix"]


def run_commands(record: BuildRecord, step: str, commands: list[list[str]], env: dict,
                 started: float | None = None) -> tuple[bool, str]:
    """Run a step's tool commands from the plan in the build folder; returns (ok, log file name).

    ``started``: the step's start line was said then, and the step's time counts from then.
    """
    log = f"{step.replace('&', '-')}.log"
    shown = [" ".join([toolchain.TOOLS[a[0]][0] if a[0] in toolchain.TOOLS else a[0], *a[1:]]) for a in commands]
    t0 = record.start(step, " && ".join(shown)) if started is None else started
    ok, returncode = True, 0
    (record.out_dir / log).unlink(missing_ok=True)
    for argv in commands:
        if argv[0] in toolchain.TOOLS:
            part = record.out_dir / f"{log}.part"
            with record.running(step, argv[0], t0):
                result = toolchain.run_tool(argv[0], argv[1:], cwd=record.out_dir, log=part, env=env)
            with open(record.out_dir / log, "a") as out:
                out.write(part.read_text(errors="replace"))
            part.unlink()
            returncode = result.returncode
        elif argv[0] in _BUILTIN_TOOLS:
            returncode = _BUILTIN_TOOLS[argv[0]](argv[1:], record.out_dir, record.out_dir / log)
        else:
            with open(record.out_dir / log, "a") as out:
                out.write(f"ERROR: '{argv[0]}' is not part of the YoWASP toolchain and has no built-in stand-in\n")
            returncode = 127
        if returncode != 0:
            ok = False
            break
    message = {}
    if not ok:  # the error line: from the captured output, else from the tool's own log (-l / --log)
        logs = [record.out_dir / log] + [record.out_dir / argv[i + 1] for i, arg in enumerate(argv[:-1])
                                         if arg in ("-l", "--log")]
        message = {"message": next((m for m in map(_last_error, logs) if m and not m.startswith("see ")),
                                   f"see {log}")}
    record.record(step, "ok" if ok else "failed", time.monotonic() - t0, tools=shown, log=log, returncode=returncode,
                  **message)
    return ok, log


def dfu_suffix(path: Path, vendor: int, product: int, device: int = 0xFFFF) -> None:
    """Append a DFU 1.1 suffix, as ``dfu-suffix -v VID -p PID -a FILE`` does.

    16 bytes: bcdDevice, idProduct, idVendor, bcdDFU = 0x0100 (little-endian), "UFD", bLength = 16,
    dwCRC: CRC-32 of the file and the suffix's first 12 bytes, without the final inversion.
    """
    data = Path(path).read_bytes()
    suffix = struct.pack("<HHHH3sB", device, product, vendor, 0x0100, b"UFD", 16)
    crc = zlib.crc32(data + suffix) ^ 0xFFFFFFFF
    Path(path).write_bytes(data + suffix + struct.pack("<I", crc))


def _dfu_suffix_command(args: list[str], cwd: Path, log: Path) -> int:
    opts, files = {}, []
    it = iter(args)
    for arg in it:
        if arg in ("-v", "-p", "-d"):
            opts[arg] = int(next(it), 16)
        elif arg == "-a":
            files.append(next(it))
    with open(log, "a") as out:
        for name in files:
            dfu_suffix(cwd / name, opts.get("-v", 0xFFFF), opts.get("-p", 0xFFFF), opts.get("-d", 0xFFFF))
            out.write(f"dfu-suffix (built-in): added a DFU suffix to {name} "
                      f"(vendor {opts.get('-v', 0xFFFF):04x}, product {opts.get('-p', 0xFFFF):04x})\n")
    return 0


_BUILTIN_TOOLS = {"dfu-suffix": _dfu_suffix_command}


def _last_error(log: Path) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return f"see {log.name}"
    return toolchain.error_line(text) or f"see {log.name}"
