"""Shared fixtures and the hypothesis profile (deterministic, no deadline: shared CI machines are noisy).

Nothing a test run writes outlives it, and nothing goes into the user's own cache: one scratch
folder per session holds pytest's ``tmp_path`` folders (unless ``--basetemp`` names a folder
to keep), the temporary folders of the code under test and of the tools it runs (``TMPDIR``),
and the layerpipe cache (``LAYERPIPE_CACHE_DIR``), and is removed at the end. pytest's own
retention (the last three runs under /tmp/pytest-of-USER) is not used: with several sessions
at once on one machine, its no-retention setting deletes the folders of the others.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from layerpipe.core.cache import CACHE_ENV

settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")

_SESSION = {}


@pytest.hookimpl(tryfirst=True)  # before the tmp_path plugin reads --basetemp
def pytest_configure(config):
    scratch = Path(tempfile.mkdtemp(prefix="layerpipe-tests-"))
    if config.option.basetemp is None:
        config.option.basetemp = str(scratch / "pytest")
    (scratch / "tmp").mkdir()
    _SESSION.update(scratch=scratch, environ={name: os.environ.get(name) for name in (CACHE_ENV, "TMPDIR")},
                    tempdir=tempfile.tempdir)
    os.environ[CACHE_ENV] = str(scratch / "cache")
    os.environ["TMPDIR"] = tempfile.tempdir = str(scratch / "tmp")


def pytest_unconfigure(config):
    if "scratch" not in _SESSION:
        return
    for name, value in _SESSION["environ"].items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    tempfile.tempdir = _SESSION["tempdir"]
    shutil.rmtree(_SESSION.pop("scratch"), ignore_errors=True)
