"""Where a sweep runs: a LocalCluster of this machine's cores, or the Dask scheduler at an address."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import signal
import threading

from layerpipe.core.errors import LayerPipeError

__all__ = ["Cluster", "connect", "parse_cluster_address", "default_workers", "worker_versions"]

_ADDRESS = re.compile(r"^(?:(?P<scheme>[a-z][a-z0-9+.-]*)://)?(?P<host>\[[0-9a-fA-F:.]+\]|[^:/\s\[\]]+)"
                      r":(?P<port>\d{1,5})/?$")
_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")


def parse_cluster_address(text: str) -> str:
    """``tcp://host:8786`` (the scheme defaults to tcp); anything else is a one-line error."""
    match = _ADDRESS.match(text.strip())
    if not match or (match["scheme"] or "tcp") not in _SCHEMES or not 0 < int(match["port"]) < 65536:
        raise LayerPipeError(f"--cluster '{text}' is not a scheduler address like tcp://host:8786; give the "
                             "address `dask scheduler` prints, or leave out --cluster to use the local cores")
    return text.strip() if match["scheme"] else f"tcp://{text.strip()}"


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Cluster:
    """A connected ``distributed.Client`` and, when local, the LocalCluster it owns."""

    def __init__(self, client, cluster=None, address: str | None = None):
        self.client, self.cluster, self.address = client, cluster, address

    @property
    def local(self) -> bool:
        return self.cluster is not None

    def workers(self) -> int:
        try:
            info = self.client.scheduler_info(n_workers=-1)  # newer distributed lists 5 unless asked
        except TypeError:
            info = self.client.scheduler_info()
        return len(info["workers"])

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connect(address: str | None = None, workers: int | None = None, timeout: float = 10.0) -> Cluster:
    """Connect to the scheduler at ``address``, or start a LocalCluster of ``workers`` processes
    (one thread each: the work is Python and HiGHS, which the GIL and the cores bound)."""
    import logging

    from distributed import Client, LocalCluster

    if address is None:
        workers = workers or default_workers()
        with _sigint_ignored():  # the worker processes inherit it: Ctrl-C stops the client, which stops them
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=logging.ERROR)
        try:
            return Cluster(Client(cluster), cluster)
        except BaseException:
            cluster.close()
            raise
    address = parse_cluster_address(address)
    try:
        client = Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LayerPipeError(f"--cluster {address}: no Dask scheduler answered within {timeout:g} s ({reason}); "
                             f"start one with `dask scheduler` and workers with `dask worker {address}`, or leave "
                             "out --cluster to use the local cores") from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError):
        client.close()
        raise LayerPipeError(f"--cluster {address}: the scheduler has no workers after {timeout:g} s; start some "
                             f"with `dask worker {address}`") from None
    return Cluster(client, None, address)


@contextlib.contextmanager
def _sigint_ignored():
    """Ignore SIGINT while worker processes start (Python keeps an inherited SIG_IGN), so a Ctrl-C that the
    terminal sends to the whole process group reaches only the client: no traceback from every worker."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def worker_versions() -> dict:
    """Run on each worker: what it would compute with (a remote worker may run another version)."""
    import layerpipe

    return {"layerpipe": layerpipe.__version__, "python": platform.python_version(), "host": platform.node()}

