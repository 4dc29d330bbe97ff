"""The points of a sweep and the options that name them: networks, processor counts, policies, boards."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from layerpipe.core.errors import LayerPipeError
from layerpipe.core.network import Network
from layerpipe.sched.scheduler import POLICIES
from layerpipe.sched.zoo import load_network

__all__ = ["PAPER_NETWORKS", "DEFAULT_PROCESSORS", "DEFAULT_POLICIES", "Point", "file_slug", "parse_list",
           "parse_networks", "parse_policies", "parse_boards", "command_line"]

PAPER_NETWORKS = ("vgg16", "alexnet", "resnet18")  # the paper's experiment (benchmarks/paper_speedup.py)
DEFAULT_PROCESSORS = "2-9"
DEFAULT_POLICIES = POLICIES


@dataclass(frozen=True, order=True)
class Point:
    """One schedule of the sweep; ``board`` set: that schedule's board build."""

    network: str
    processors: int
    policy: str
    board: str | None = None

    def label(self) -> str:
        text = f"{self.network} P={self.processors} {self.policy}"
        return f"{text} on {self.board}" if self.board else text

    def slug(self) -> str:
        return file_slug(f"{self.network}-P{self.processors}-{self.policy}" + (f"-{self.board}" if self.board else ""))


def file_slug(text: str) -> str:
    """``text`` as a file name on any system: a network file's name may hold spaces or slashes."""
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", text)



def parse_list(text: str, option: str) -> list[str]:
    """``a,b,c`` (spaces allowed); empty items are an error naming ``option``."""
    items = [item.strip() for item in str(text).split(",")]
    if not any(items):
        raise LayerPipeError(f"{option} is empty; give a comma-separated list")
    if not all(items):
        raise LayerPipeError(f"{option} '{text}' has an empty item; separate names with single commas")
    return list(dict.fromkeys(items))


def parse_networks(text: str) -> list[Network]:
    """Zoo names or network files, comma-separated; ``zoo`` means every zoo network."""
    from layerpipe.sched.zoo import ZOO

    names = [n for item in parse_list(text, "--networks") for n in (ZOO if item == "zoo" else [item])]
    networks = []
    for name in dict.fromkeys(names):
        try:
            networks.append(load_network(name))
        except LayerPipeError as exc:
            raise LayerPipeError(f"--networks: {exc}") from None
    seen = {}
    for name, network in zip(names, networks):
        if network.name in seen:
            raise LayerPipeError(f"--networks: '{seen[network.name]}' and '{name}' are both named "
                                 f"'{network.name}'; give each network file its own name")
        seen[network.name] = name
    return networks


def parse_policies(text: str) -> list[str]:
    policies = parse_list(text, "--policies")
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        raise LayerPipeError(f"--policies: unknown policy '{unknown[0]}'; use some of {', '.join(POLICIES)}")
    return policies


def parse_boards(text: str | None) -> list[str]:
    if not text:
        return []
    from layerpipe.boards.targets import BOARD_NAMES

    boards = parse_list(text, "--boards")
    unknown = [b for b in boards if b not in BOARD_NAMES]
    if unknown:
        raise LayerPipeError(f"--boards: '{unknown[0]}' is not a known target; use some of {', '.join(BOARD_NAMES)}")
    return boards


def command_line(argv: Sequence[str]) -> str:
    return shlex.join(["layerpipe", "sweep", *argv])
