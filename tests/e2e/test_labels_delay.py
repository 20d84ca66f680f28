"""``labels.delay_spans`` in a real pipeline run (LocalDagRunner): labels
arrive one span late, so each run judges the serving model on the span
before, read back from the region's data files by the canary judge node.

1. span 1 trains and pushes version 1;
2. span 2: the newest labelled span is span 1, version 1's own training
   span: not judged, and the gate says so;
3. span 3: span 2 is judged, from its files (400 labelled rows), beside a
   challenger fitted on span 2's train split and scored on its eval split.
"""

import dataclasses
import shutil

import pytest

from driftgate.core.config import load_region_config
from pipelines.local_runner import run_region

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def delayed(tmp_path_factory, small_spans):
    base = tmp_path_factory.mktemp("delay")
    data, root = base / "data", base / "runs"
    shutil.copytree(small_spans, data)
    (data / "EWR" / "span-3").mkdir()
    shutil.copy(data / "EWR" / "span-1" / "data.csv", data / "EWR" / "span-3" / "data.csv")
    cfg = load_region_config("EWR")
    cfg = dataclasses.replace(
        cfg,
        trainer=dataclasses.replace(cfg.trainer, train_steps=60, eval_steps=4, batch_size=32),
        evaluation=dataclasses.replace(cfg.evaluation, min_auc=0.5, min_accuracy=0.5),
        labels=dataclasses.replace(cfg.labels, delay_spans=1),
        quality=dataclasses.replace(cfg.quality, min_rows=50),
    )
    runs = [
        run_region(cfg, root=str(root), data=str(data), span=s, progress=lambda _: None) for s in (1, 2, 3)
    ]
    return {"runs": runs, "root": root}


def test_the_first_span_trains_and_pushes(delayed):
    first = delayed["runs"][0]
    assert first.decision == "retrain" and first.pushed_version == 1


def test_the_serving_models_own_training_span_is_not_judged(delayed):
    q = delayed["runs"][1].canary["quality"]
    assert q["verdict"] == "not_judged" and q["span"] == 1
    assert "span 1 is not newer than serving v1's training span 1" in q["sentence"]


def test_the_span_before_is_judged_from_its_files_beside_a_challenger(delayed):
    third = delayed["runs"][2]
    q = third.canary["quality"]
    assert q["span"] == 2 and q["rows"] == 400 and q["verdict"] in ("ok", "degraded")
    assert q["reference_span"] == 1 and q["auc_low"] <= q["auc"] <= q["auc_high"]
    st = q["staleness"]
    assert st["span"] == 2 and 50 <= st["rows"] < 400  # span 2's eval split, as ExampleGen splits it
    assert st["reference_advantage"] is not None and st["lost_low"] <= st["lost"] <= st["lost_high"]
    assert "challenger fitted on span 2" in q["sentence"]
    # the gate's reasons quote the judgement of span 2, not of span 3
    assert any("on span 2" in line for line in third.drift.reasons)
