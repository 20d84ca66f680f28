"""The backtest's train/eval split is the same in every process: rows are
serialized deterministically before ExampleGen's partition function hashes
them (a proto map's entry order is not fixed otherwise, and a row could be
trained on in one run and scored as held out in the next)."""

import hashlib
import subprocess
import sys

from tests.backtest.conftest import REGION

SCRIPT = """
import hashlib, sys
from driftgate.core.config import load_region_config, schema_file
from pipelines.schema_store import load
from backtest.data import load_span
cfg = load_region_config("{region}", "{config}")
sd = load_span(cfg, "{data}", 1, load(schema_file(cfg, "{schemas}")))
print(len(sd.eval), hashlib.sha256(b"".join(sorted(sd.eval))).hexdigest())
"""


def test_the_eval_split_is_the_same_in_two_processes(steady_data):
    code = SCRIPT.format(
        region=REGION,
        config=steady_data["config"],
        data=steady_data["data"] / REGION,
        schemas=steady_data["schemas"],
    )
    outs = set()
    for seed in ("0", "1"):
        env = {"PYTHONHASHSEED": seed, "TF_USE_LEGACY_KERAS": "1", "PATH": "/usr/bin:/bin"}
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        outs.add(done.stdout.strip().splitlines()[-1])
    assert len(outs) == 1, outs
    rows, digest = outs.pop().split()
    assert 0 < int(rows) < 2500 and len(digest) == hashlib.sha256().digest_size * 2
