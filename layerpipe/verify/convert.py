"""Any Amaranth ``wiring.Component`` to a Verilog file for a cocotb bench, with its port names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from amaranth.lib import wiring

# The generator's sidecar lists ports this way; sharing it keeps bench and sidecar names alike.
from layerpipe.hw.generate import component_ports
from layerpipe.hw.verilog_writer import convert

__all__ = ["Design", "component_verilog", "component_ports"]


@dataclass(frozen=True)
class Design:
    verilog: Path
    top: str
    ports: dict[str, dict]  # Verilog port name → {"direction": "in" | "out", "width": bits}

    @property
    def port_names(self) -> list[str]:
        return list(self.ports)


def component_verilog(component: wiring.Component, out_dir: Path, name: str) -> Design:
    """Write ``out_dir/<name>.v``; a signature member ``a.b`` becomes port ``a__b`` (plus ``clk``, ``rst``)."""
    if not isinstance(component, wiring.Component):
        raise TypeError(f"expected an Amaranth wiring.Component, got {type(component).__name__}")
    ports = {port["name"]: {"direction": port["direction"], "width": port["width"]}
             for port in component_ports(component)}
    path = Path(out_dir) / f"{name}.v"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(convert(component, name))
    return Design(path, name, ports)
