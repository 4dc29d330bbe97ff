"""FPGA build targets: the boards the flow builds for, and a Verilog-only target.

Each board target is an ``amaranth-boards`` platform plus what the flow needs to know about
it: the FPGA family (which Yosys ``synth_*`` and which nextpnr), the timing constraint the
place-and-route is driven to, the pins the :mod:`~layerpipe.boards.harness` uses to keep a
bare component's logic alive, and how nextpnr's bel types map onto LUT/FF/DSP/BRAM.

The timing constraint: the boards' oscillators are slow (12, 25, 48 MHz) and a real design
would multiply them up with a PLL. To measure the Fmax a design *can* reach, the sync
clock's constraint is raised to ``clock_mhz`` (the project's targets: 30 MHz on the
iCE40UP5K, 100 MHz on the ECP5s) so nextpnr's timing-driven placer works toward it;
the achieved Fmax is what nextpnr reports, met or not (``--timing-allow-fail``).

:class:`Loader`: how openFPGALoader reaches the board through its own USB port (its board
names are case-sensitive and are not the amaranth-boards ones: ``ice40_generic`` for the
iCEBreaker, ``orangeCrab``), and whether that port can load the volatile configuration RAM
or only write the flash.
"""

from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass, field

from layerpipe.core.errors import LayerPipeError

__all__ = ["Target", "Loader", "TARGETS", "BOARD_NAMES", "get_target"]


@dataclass(frozen=True)
class Loader:
    """openFPGALoader's view of a board (``openFPGALoader --list-boards``; doc/boards.yml in its sources)."""

    board: str                   # the -b name
    sram: tuple[str, ...] | None  # options that load SRAM (volatile); None: the USB port reaches only the flash
    flash: tuple[str, ...]       # options that write the flash
    port: str                    # what on the board openFPGALoader talks to


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    family: str | None             # "ice40", "ecp5"; None for the Verilog-only target
    device: str
    platform: str | None = None    # "module:Class" in amaranth_boards
    clock_mhz: float | None = None  # place-and-route timing constraint on the sync clock
    harness_in: tuple = ("button", 0)
    harness_out: tuple = ("led", 0, None)  # (resource, number, subsignal or None)
    status_leds: tuple = ()  # (pass LED, fail LED) for the self-checking board top
    # kind → nextpnr bel type in the --report utilisation; "cells:" → Yosys stat cell types instead.
    resources: dict = field(default_factory=dict)
    # Fallback capacities (for a design nextpnr refuses before writing its report).
    capacity: dict = field(default_factory=dict)
    loader: Loader | None = None

    def bitstream(self, name: str) -> str | None:
        """The file the packer writes for design ``name`` (None: the Verilog-only target has none)."""
        return {"ice40": f"{name}.bin", "ecp5": f"{name}.bit"}.get(self.family)

    @property
    def is_board(self) -> bool:
        return self.platform is not None

    @property
    def tools(self) -> tuple[str, ...]:
        """The Amaranth tool names this target's build runs."""
        return {"ice40": ("yosys", "nextpnr-ice40", "icepack"),
                "ecp5": ("yosys", "nextpnr-ecp5", "ecppack")}.get(self.family, ("yosys",))

    def platform_class(self):
        module, _, cls = self.platform.partition(":")
        try:
            return getattr(importlib.import_module(module), cls)
        except ImportError as exc:
            raise LayerPipeError(f"board '{self.name}': amaranth-boards is not installed ({exc}); "
                                 "run pip install -e '.[boards]'") from None

    def make_platform(self, clock_mhz: float | None = None):
        """A fresh platform whose default clock is constrained to ``clock_mhz`` (default :attr:`clock_mhz`)."""
        from amaranth.build import Clock

        if not self.is_board:
            raise LayerPipeError(f"board '{self.name}' is Verilog-only and has no platform")
        platform = self.platform_class()()
        mhz = clock_mhz or self.clock_mhz
        if mhz:
            key = (platform.default_clk, 0)
            # Resources are shared class-level objects: replace, never mutate.
            resource = copy.copy(platform.resources[key])
            resource.clock = Clock(mhz * 1e6)
            platform.resources[key] = resource
        return platform


_ICE40_RESOURCES = {
    "LC": "ICESTORM_LC",
    "LUT": "cells:SB_LUT4",
    "FF": "cells:SB_DFF",
    "DSP": "ICESTORM_DSP",
    "BRAM": "ICESTORM_RAM",
    "SPRAM": "ICESTORM_SPRAM",
    "IO": "SB_IO",
}
_ECP5_RESOURCES = {
    "LUT": "TRELLIS_COMB",
    "FF": "TRELLIS_FF",
    "DSP": "MULT18X18D",
    "BRAM": "DP16KD",
    "IO": "TRELLIS_IO",
}
_ECP5_85F_CAPACITY = {"TRELLIS_COMB": 83640, "TRELLIS_FF": 83640, "MULT18X18D": 156, "DP16KD": 208}

TARGETS: dict[str, Target] = {
    "icebreaker": Target(
        name="icebreaker", description="iCEBreaker, Lattice iCE40UP5K-SG48", family="ice40", device="iCE40UP5K",
        platform="amaranth_boards.icebreaker:ICEBreakerPlatform", clock_mhz=30.0,
        harness_in=("button", 0), harness_out=("led", 0, None), resources=_ICE40_RESOURCES,
        status_leds=(("led_g", 0, None), ("led_r", 0, None)),
        capacity={"ICESTORM_LC": 5280, "ICESTORM_DSP": 8, "ICESTORM_RAM": 30, "ICESTORM_SPRAM": 4, "SB_IO": 39},
        # The FT2232H is wired to the SPI flash; loading SRAM needs the board's SRAM solder jumpers changed.
        loader=Loader("ice40_generic", sram=None, flash=("-f",), port="the FT2232H, wired to the SPI flash")),
    "ulx3s-85f": Target(
        name="ulx3s-85f", description="ULX3S, Lattice ECP5 LFE5U-85F-6BG381C", family="ecp5", device="LFE5U-85F",
        platform="amaranth_boards.ulx3s:ULX3S_85F_Platform", clock_mhz=100.0,
        harness_in=("button", 0), harness_out=("led", 0, None), resources=_ECP5_RESOURCES,
        status_leds=(("led", 0, None), ("led", 1, None)),
        capacity=_ECP5_85F_CAPACITY,
        loader=Loader("ulx3s", sram=("-m",), flash=("-f",), port="JTAG through the FT231X on the US1 port")),
    "orangecrab-85f": Target(
        name="orangecrab-85f", description="OrangeCrab r0.2, Lattice ECP5 LFE5U-85F-8MG285C", family="ecp5",
        device="LFE5U-85F", platform="amaranth_boards.orangecrab_r0_2:OrangeCrabR0_2_85FPlatform", clock_mhz=100.0,
        harness_in=("button", 0), harness_out=("rgb_led", 0, "r"), resources=_ECP5_RESOURCES,
        status_leds=(("rgb_led", 0, "g"), ("rgb_led", 0, "r")),
        capacity=_ECP5_85F_CAPACITY,
        # DFU: the bootloader (entered by holding the button while plugging in) writes the user image to
        # flash, the build's .bit with its DFU suffix; SRAM would need a JTAG cable on the test pads.
        loader=Loader("orangeCrab", sram=None, flash=(), port="the DFU bootloader")),
    "verilog": Target(
        name="verilog", description="Verilog only, with a Yosys generic (LUT4) cell count", family=None,
        device="generic"),
}
BOARD_NAMES = tuple(TARGETS)


def get_target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise LayerPipeError(f"--board '{name}' is not a known target; use one of: {', '.join(BOARD_NAMES)}") from None
