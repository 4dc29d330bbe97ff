"""cocotb test modules; each reads ``LAYERPIPE_BENCH_CONFIG`` and writes ``LAYERPIPE_BENCH_RESULTS``."""

import json
import os


def config() -> dict:
    with open(os.environ["LAYERPIPE_BENCH_CONFIG"]) as f:
        return json.load(f)


def write_results(results: dict) -> None:
    path = os.environ["LAYERPIPE_BENCH_RESULTS"]
    with open(path + ".tmp", "w") as f:
        json.dump(results, f)
    os.replace(path + ".tmp", path)
