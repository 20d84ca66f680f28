"""The slices in the run's report, card, metrics and alerts: what a run
result with the candidate's slice metrics and the serving model's fairness
findings shows."""

import numpy as np

from components.monitor import model_view
from components.quality import fairness


def _result():
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.3).astype(float)
    p = np.where(y > 0, rng.uniform(0.4, 1, 2000), rng.uniform(0, 0.6, 2000))
    ev = np.arange(0, 2000, 8)
    p[ev] = np.where(y[ev] > 0, p[ev], rng.uniform(0.3, 0.9, len(ev)))
    slices = {(("carrier", b"EV"),): ev, (("carrier", b"AA"),): np.setdiff1d(np.arange(2000), ev)}
    fair = fairness.judge(y, p, slices, min_rows=100)
    quality = {"version": 3, "span": 5, "auc": 0.7, "fairness": fair}
    cand = [
        {"slice": "carrier=AA", "rows": 1750.0, "auc": 0.71, "auc_diff": 0.01},
        {"slice": "carrier=EV", "rows": 250.0, "auc": 0.55, "auc_diff": -0.12},
        {"slice": "carrier=OO", "rows": None, "not_judged": True},
    ]
    return {"region": "EWR", "canary": {"quality": quality}, "slice_metrics": cand}


def test_card_report_and_metrics_show_the_slices_and_findings():
    from prometheus_client import CollectorRegistry, generate_latest

    result = _result()
    lines = model_view.markdown_lines(result)
    assert "worst carrier=EV AUC 0.550 (-0.120 vs serving, 250 rows)" in lines[0]
    assert lines[1].startswith("- **fairness** (serving model): carrier=EV: false positive rate")
    page = model_view.html_section(result)
    assert "id='slice-metrics'" in page and "below min_slice_rows" in page
    assert "carrier=EV: false positive rate" in page and "id='fairness'" in page
    reg = CollectorRegistry()
    model_view.export(reg, "EWR", result)
    text = generate_latest(reg).decode()
    assert 'driftgate_slice_parity{metric="fpr",region="EWR",slice="carrier",value="EV"}' in text
    assert 'driftgate_slice_auc{region="EWR",slice="carrier",value="AA"}' in text
    assert 'driftgate_slice_parity_findings{region="EWR"} ' in text


def test_nothing_without_slices():
    assert model_view.markdown_lines({}) == [] and model_view.html_section({}) == ""


def test_a_parity_finding_is_a_warning_alert_naming_the_slice():
    from components.monitor import alerts
    from components.monitor.result import RunResult

    result = RunResult.empty("EWR", "/tmp/none", span=5, canary=_result()["canary"], decision="skip")
    (alert,) = [a for a in alerts.derive(result, [], 3) if a.feature == "<fairness v3>"]
    assert alert.severity == "warning" and "carrier=EV: false positive rate" in alert.summary


def test_integrity_findings_in_card_report_and_metrics():
    from prometheus_client import CollectorRegistry, generate_latest

    integ = {
        "baseline_span": 1,
        "rates": {"temp": {"missing": 0.0, "out_of_range": 0.45}, "carrier": {"missing": 0.0, "unseen": 0.0}},
        "findings": [
            {
                "feature": "temp",
                "rate": "out_of_range",
                "value": 0.45,
                "threshold": 0.01,
                "sentence": "temp: 45.0% x",
            }
        ],
    }
    result = {"drift": {"integrity": integ}}
    assert model_view.markdown_lines(result) == ["- **data integrity**: temp: 45.0% x"]
    page = model_view.html_section(result)
    assert "vs training span 1" in page and "<td class='l'>temp</td>" in page and ">carrier<" not in page
    reg = CollectorRegistry()
    model_view.export(reg, "JFK", result)
    text = generate_latest(reg).decode()
    assert 'driftgate_feature_integrity_rate{feature="temp",rate="out_of_range",region="JFK"} 0.45' in text
    assert 'driftgate_integrity_findings{region="JFK"} 1.0' in text
