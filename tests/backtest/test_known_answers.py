"""The gate's exam (``driftgate.app.concepts``): a generated region whose
harmless covariates move every span and whose concept changes at spans 4 and
6. Run as a user runs it: ``driftgate data concepts`` then ``driftgate
backtest`` with the generated config folder and schema (configuration only,
no code), real models from the production trainer, the production gate.

The default policy must retrain within one span of each concept change and
not for the harmless drift, keep at least 95% of always-retrain's gain with at
most one retrain per change plus one; the same-span challenger alone finds
both changes; drift tests alone cannot (the signal features never move).
What it does not prove: the flights figures (README), which need the full
backtest (``make backtest``)."""

import json
import subprocess
import sys

import pytest

from driftgate.app import concepts

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def exam(tmp_path_factory):
    base = tmp_path_factory.mktemp("concepts")
    made = subprocess.run(
        [sys.executable, "-m", "driftgate", "data", "concepts", "--out", str(base)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert made.returncode == 0, made.stderr[-2000:]
    assert "concept changes at spans [4, 6]" in made.stderr
    args = [sys.executable, "-m", "driftgate", "backtest", "--data", str(base / "data")]
    args += ["--config-dir", str(base / "regions"), "--schemas", str(base / "schemas")]
    args += ["--out", str(base / "out"), "-o", "json"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    region = next(r for r in doc["regions"] if r["region"] == concepts.REGION)
    answers = json.loads((base / "answers.json").read_text())
    return {"region": region, "answers": answers}


def _retrain_spans(region, policy):
    spans = region["spans"]
    return [spans[t] for t in region["walks"][policy]["retrains"]]


def _row(region, policy):
    return next(r for r in region["policies"] if r["policy"] == policy)


def test_the_default_retrains_within_one_span_of_each_concept_change_and_never_for_harmless_drift(exam):
    changes = exam["answers"]["concept_changes"]
    assert changes == [4, 6]
    retrained = _retrain_spans(exam["region"], "driftgate")
    for change in changes:
        assert any(change <= s <= change + 1 for s in retrained), (change, retrained)
    # every retrain answers a concept change: none for the harmless drift of the other spans
    assert all(any(c <= s <= c + 1 for c in changes) for s in retrained), retrained
    assert len(retrained) <= len(changes) + 1


def test_the_default_keeps_95_percent_of_the_gain(exam):
    row = _row(exam["region"], "driftgate")
    assert row["gain"] >= 0.95, row
    never, always = _row(exam["region"], "never"), _row(exam["region"], "always")
    assert always["mean_auc"] > never["mean_auc"] + 0.1  # the exam has something to gain


def test_the_challenger_alone_finds_both_changes_and_input_drift_alone_cannot(exam):
    region = exam["region"]
    found = _retrain_spans(region, "challenger")
    assert all(any(c <= s <= c + 1 for s in found) for c in exam["answers"]["concept_changes"]), found
    # the features the label depends on never move: a drift test alone sees only the harmless
    # drift, so it retrains on it (more often than the changes call for) or misses a change
    changes = exam["answers"]["concept_changes"]
    for test in ("ks", "psi", "chi2"):
        drift_only = _retrain_spans(region, f"drift-{test}")
        hits = all(any(c <= s <= c + 1 for s in drift_only) for c in changes)
        assert not hits or len(drift_only) > len(changes) + 1, (test, drift_only)


def test_a_calendar_policy_with_as_many_retrains_misses_a_change(exam):
    region = exam["region"]
    best = _row(region, "driftgate")
    for k in (2, 3):
        row = _row(region, f"every-{k}")
        assert row["gain"] < best["gain"] - 0.05, row
