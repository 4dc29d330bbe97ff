"""Digest of the generated Verilog and sidecar of the verification matrix: mlp-digits at P = 1, 2, 4 ×
every policy × both RTL weight policies, default cost model and format, seed 0.

With ``benchmarks/table_digest.py`` this shows a refactoring changed nothing: identical
tables and byte-identical Verilog (so identical synthesis results and cycle counts).
``--save FILE`` / ``--compare FILE`` as in benchmarks/digests.py. The script uses only
entry points that every version of the package has (``schedule``, ``zoo_network``,
``generate``), so it runs on the code before a change as well as after.
"""

import json
import sys
import tempfile

from digests import main, sha256

from layerpipe.hw.generate import generate
from layerpipe.sched.scheduler import POLICIES, schedule
from layerpipe.sched.zoo import zoo_network

PROCESSORS = (1, 2, 4)
RTL_WEIGHTS = ("stash", "latest")


def digests() -> dict[str, str]:
    network = zoo_network("mlp-digits")
    result = {}
    for processors in PROCESSORS:
        for policy in POLICIES:
            table = schedule(network, processors, policy)
            for weights in RTL_WEIGHTS:
                with tempfile.TemporaryDirectory() as folder:
                    generated = generate(table, folder, weights=weights, seed=0)
                    key = f"mlp-digits/P{processors}/{policy}/{weights}"
                    result[f"{key}/verilog"] = sha256(generated.verilog.read_text())
                    result[f"{key}/sidecar"] = sha256(json.dumps(json.loads(generated.sidecar.read_text()),
                                                                 sort_keys=True))
            print(f"P{processors} {policy}: done", file=sys.stderr, flush=True)
    return result


if __name__ == "__main__":
    sys.exit(main(__doc__.splitlines()[0], "designs", digests))
