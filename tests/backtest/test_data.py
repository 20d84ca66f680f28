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


def test_the_backtests_rows_and_eval_split_are_the_pipelines(tmp_path, small_spans):
    """The backtest reads a span with ingest's encoder and split: its eval
    rows are, byte for byte, the rows the pipeline's ingest writes to
    Split-eval (empty cells included: the flights weather has many), and the
    split is TFX's own partition of those bytes."""
    import dataclasses
    import glob

    from tfx.components.example_gen.base_example_gen_executor import _PartitionFn
    from tfx.proto import example_gen_pb2

    from backtest.data import load_span
    from components.ingest import fast
    from components.ingest.records import label_values, serialized_examples
    from driftgate.core.config import load_region_config, schema_file
    from pipelines.schema_store import load

    cfg = load_region_config("EWR")
    sd = load_span(cfg, str(small_spans / "EWR"), 1, load(schema_file(cfg)))
    files = sorted(glob.glob(str(small_spans / "EWR" / "span-1" / "*.csv")))
    out = tmp_path / "examples"
    fast.ingest("csv", files, [("train", cfg.data.train_buckets), ("eval", cfg.data.eval_buckets)], str(out))
    examples = dataclasses.make_dataclass("A", ["uri"])(str(out))
    pipeline_eval = serialized_examples(examples, ("eval",))
    labelled = [r for r, y in zip(pipeline_eval, label_values(pipeline_eval, "late"), strict=True) if y == y]
    assert sorted(sd.eval) == sorted(labelled) and 50 < len(sd.eval) < 150
    assert any(b"wind_gust\x12\x02\x12\x00" in r for r in sd.eval)  # an empty cell: an empty float list
    buckets, config = [cfg.data.train_buckets, cfg.data.train_buckets + cfg.data.eval_buckets], None
    config = example_gen_pb2.SplitConfig()
    assert all(_PartitionFn(r, 2, buckets, config) == 1 for r in sd.eval)
    assert all(_PartitionFn(r, 2, buckets, config) == 0 for r in sd.train)
