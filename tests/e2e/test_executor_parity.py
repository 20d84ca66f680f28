"""The region pipeline with the fast executors and with TFX's stock ones on
the same spans: the same rows and splits, the same statistics-based drift
report, the same anomalies. Decisions and blessings also depend on the
trained model, whose training rows come in another order under TFX's
shuffling; ``benchmarks/bench_scale.py`` compares those on the flights demo.
Runs LocalDagRunner with both settings; what it does not prove: a
distributed Beam runner."""

import dataclasses

import pytest

from driftgate.core.config import load_region_config
from pipelines.local_runner import run_region

pytestmark = pytest.mark.e2e


def _config(executors):
    cfg = load_region_config("EWR")
    return dataclasses.replace(
        cfg,
        executors=executors,
        trainer=dataclasses.replace(cfg.trainer, train_steps=60, eval_steps=4, batch_size=32),
        evaluation=dataclasses.replace(cfg.evaluation, min_auc=0.5, min_accuracy=0.5),
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory, small_spans):
    out = {}
    for executors in ("fast", "stock"):
        root = tmp_path_factory.mktemp(executors)
        out[executors] = [
            run_region(
                _config(executors), root=str(root), data=str(small_spans), span=s, progress=lambda _: None
            )
            for s in (1, 2)
        ]
    return out


def _scores(drift):
    return {
        (side, f, t): r["score"]
        for side in ("training", "previous")
        for f, feature in ((drift.get(side) or {}).get("features") or {}).items()
        for t, r in (feature.get("tests") or {}).items()
        if isinstance(r.get("score"), (int, float))
    }


def test_fast_and_stock_runs_see_the_same_span(runs):
    for fast, stock in zip(runs["fast"], runs["stock"], strict=True):
        assert (fast.span, fast.rows, fast.anomalies) == (stock.span, stock.rows, stock.anomalies)
        assert fast.metrics.get("example_count") == stock.metrics.get("example_count")
    fast2, stock2 = (runs[e][1].to_json_dict()["drift"]["drift"] for e in ("fast", "stock"))
    assert fast2["training"]["span"] == stock2["training"]["span"] == 1
    assert set(fast2["training"]["features"]) == set(stock2["training"]["features"])
    got, want = _scores(fast2), _scores(stock2)
    assert got.keys() == want.keys() and want
    assert {k: v for k, v in got.items() if abs(v - want[k]) > 0.02} == {}
    # the first span is a retrain either way, and its model is judged on the same eval rows
    assert runs["fast"][0].decision == runs["stock"][0].decision == "retrain"
