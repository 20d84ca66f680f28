"""Canary analysis on real SavedModels and a real later span."""

import json

import numpy as np
import pytest

from components.canary import judgement
from driftgate.core.config import load_region_config
from serving import release

MODEL = "flights_late"


def test_auc_matches_the_pairwise_definition():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = rng.random(300) + 0.3 * y
    pos, neg = s[y == 1], s[y == 0]
    pairwise = np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])
    assert judgement.auc(y, s) == pytest.approx(pairwise)


def _evaluate(region, small_spans, dry_run=False):
    import dataclasses

    cfg = load_region_config("EWR")
    # latency is measured and reported, but a test must not depend on timing on
    # a busy machine: the latency check is relaxed here (benchmarks measure it)
    relaxed = dataclasses.replace(cfg.serving.canary, max_latency_ratio=1000.0)
    cfg = dataclasses.replace(cfg, serving=dataclasses.replace(cfg.serving, canary=relaxed))
    root = region.parent.parent
    from driftgate.app.canary_evaluation import evaluate_and_apply

    return evaluate_and_apply(cfg, 2, str(root), data=str(small_spans), dry_run=dry_run)


def test_worse_canary_is_rolled_back_automatically(region, saved_models, small_spans):
    release.push(str(region), MODEL, 1, saved_models["sample"])
    release.push(str(region), MODEL, 3, saved_models["sample"])  # the shuffled-label model
    r = _evaluate(region, small_spans)
    assert r.verdict == "rollback"
    assert any(x.startswith("FAILED: AUC") for x in r.reasons)
    assert r.metrics["canary"]["auc"] < r.metrics["stable"]["auc"]
    st = release.load_state(str(region), MODEL)
    assert (st.stable, st.canary) == (1, None) and 3 in st.rejected
    saved = json.loads((region / "canary-v3-span-2.json").read_text())
    assert saved["verdict"] == "rollback" and saved["rows"] == 400
    assert r.mlmd_execution_id > 0


def test_equally_good_canary_is_promoted(region, saved_models, small_spans):
    release.push(str(region), MODEL, 1, saved_models["sample"])
    release.push(str(region), MODEL, 2, saved_models["sample"])  # same weights as stable
    r = _evaluate(region, small_spans)
    assert r.verdict == "promote", r.reasons
    assert r.metrics["prediction_ks"] == pytest.approx(0.0, abs=1e-9)
    for name in ("stable", "canary"):
        m = r.metrics[name]
        assert 0 <= m["failure_rate"] < 1 and m["latency_ms_1"]["p50"] > 0
        assert m["latency_ms_1000"]["p99"] >= m["latency_ms_1000"]["p50"]
    st = release.load_state(str(region), MODEL)
    assert (st.stable, st.canary, st.previous_stables) == (2, None, [1])


def test_no_canary_is_a_clear_error(region, saved_models, small_spans):
    release.push(str(region), MODEL, 1, saved_models["sample"])
    with pytest.raises(release.ReleaseError, match="no canary to evaluate"):
        _evaluate(region, small_spans)


def test_dry_run_judges_without_changing_anything(region, saved_models, small_spans):
    release.push(str(region), MODEL, 1, saved_models["sample"])
    release.push(str(region), MODEL, 3, saved_models["sample"])  # the shuffled-label model
    before = {p.name: p.read_bytes() for p in region.iterdir() if p.is_file() and not p.name.startswith(".")}
    r = _evaluate(region, small_spans, dry_run=True)
    assert r.verdict == "rollback" and r.dry_run is True and r.report is None
    after = {p.name: p.read_bytes() for p in region.iterdir() if p.is_file() and not p.name.startswith(".")}
    assert after == before
    assert (release.load_state(str(region), MODEL).canary) == 3
