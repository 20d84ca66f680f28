"""promtool unit tests of the TF Serving rules (alerts.yml's driftgate-tfserving and
driftgate-serving groups, with objectives.yml): input series carry TF Serving
2.16.1's own names and labels (serving/health.py) plus the PodMonitor's target
labels, built per track by ``track_series``."""

import re
import subprocess

import yaml

from serving.health import LATENCY, REQUESTS, latency_buckets
from tests.monitoring.test_monitoring import MON, PROMTOOL, need_promtool

MODEL = "flights_late"
MINUTES = 15  # samples at 0..15m, one a minute
RUNBOOK = "https://github.com/driftgate/driftgate/blob/main/kubeflow/monitoring/RUNBOOK.md#"


def _num(x: float) -> str:
    return ("%f" % x).rstrip("0").rstrip(".")


def _target(region: str, track: str, pod: int = 0) -> dict:
    """The labels a PodMonitor scrape adds (region and track from the pod's labels)."""
    low = region.lower()
    return {
        "job": f"driftgate/tfserving-{low}",
        "namespace": "driftgate",
        "pod": f"tfserving-{low}-{track}-5c9d7f6b8-{pod}x4k",
        "instance": f"10.1.{pod}.7:8501",
        "region": region,
        "track": track,
    }


def _series(name: str, labels: dict, per_minute: float) -> dict:
    # A label TF Serving writes empty (API="" of a GET) is no label once Prometheus stores it.
    sel = ",".join(f'{k}="{v}"' for k, v in labels.items() if v != "")
    return {"series": f"{name}{{{sel}}}", "values": f"0+{_num(per_minute)}x{MINUTES}"}


def track_series(region, track, rpm, error_share=0.0, latency_ms=50.0, pod=0, probes=6):
    """The cumulative series one TF Serving pod of ``track`` exports when it counts
    ``rpm`` requests a minute: ``probes`` of them the kubelet's readiness probe
    (GET /v1/models/<model>: status OK, timed with an empty API), a share
    ``error_share`` of all failing (INTERNAL, not timed), the rest REST predict
    requests that each take ``latency_ms``."""
    target = _target(region, track, pod)
    errors = rpm * error_share
    out = [_series(REQUESTS, dict(target, model_name=MODEL, status="OK"), rpm - errors)]
    if errors:  # TF Serving has no INTERNAL series before its first error
        out.append(_series(REQUESTS, dict(target, model_name=MODEL, status="INTERNAL"), errors))
    for api, count, micros in (("predict", rpm - errors - probes, latency_ms * 1000), ("", probes, 400.0)):
        labels = dict(target, model_name=MODEL, API=api, entrypoint="REST")
        for bound in latency_buckets():  # TF's histogram: a value goes where bound > value
            le = "%.6g" % bound  # absl::StrCat of a double: 6 significant digits
            out.append(_series(LATENCY + "_bucket", dict(labels, le=le), count if micros < bound else 0))
        out.append(_series(LATENCY + "_bucket", dict(labels, le="+Inf"), count))
        out.append(_series(LATENCY + "_sum", labels, count * micros))
        out.append(_series(LATENCY + "_count", labels, count))
    return out


def up_series(region, track, values, pod=0):
    labels = _target(region, track, pod)
    return {"series": "up{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}", "values": values}


def _rule(alert: str) -> dict:
    groups = yaml.safe_load((MON / "alerts.yml").read_text())["groups"]
    return next(r for g in groups for r in g["rules"] if r.get("alert") == alert)


def fired(alert, summary, **labels):
    """An expected alert: its labels, its summary (asserted as written here) and its
    description rendered from alerts.yml's template with ``labels``."""
    rule = _rule(alert)

    def label(m):
        value = labels[m.group(1)]
        return value.lower() if m.group(2) else value

    description = re.sub(r"{{ \$labels\.(\w+)( \| toLower)? }}", label, rule["annotations"]["description"])
    return {
        "exp_labels": dict(labels, severity=rule["labels"]["severity"]),
        "exp_annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": RUNBOOK + alert.lower(),
        },
    }


def at(minutes, alert, *alerts):
    return {"eval_time": f"{minutes}m", "alertname": alert, "exp_alerts": list(alerts)}


def promtool_test(tmp_path, cases, objectives=MON / "objectives.yml"):
    doc = {
        "rule_files": [str(MON / "alerts.yml"), str(objectives)],
        "evaluation_interval": "1m",
        "tests": [dict(interval="1m", **case) for case in cases],
    }
    path = tmp_path / "serving_test.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=1000))
    out = subprocess.run([PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def _track(region, track):
    return {"region": region, "track": track, "model_name": MODEL}


SLOW = {  # EWR stable at 250 ms (p99 read as 391.7 ms: the bucket up to 393464 us), SFO likewise
    "input_series": track_series("EWR", "stable", 1000, latency_ms=250)
    + track_series("SFO", "stable", 1000, latency_ms=250)
    + track_series("JFK", "stable", 1000, latency_ms=60),
    "alert_rule_test": [
        at(4, "DriftgateServingLatencyHigh"),  # pending since 1m, not yet 5m
        at(
            10,
            "DriftgateServingLatencyHigh",
            fired(
                "DriftgateServingLatencyHigh",
                "EWR stable: flights_late answers in 391.7ms at p99, above the region's objective",
                **_track("EWR", "stable"),
            ),
            # SFO has no objective series: the default 0.2 s applies
            fired(
                "DriftgateServingLatencyHigh",
                "SFO stable: flights_late answers in 391.7ms at p99, above the region's objective",
                **_track("SFO", "stable"),
            ),
        ),
        at(10, "DriftgateServingErrors"),
        at(10, "DriftgateCanaryServingWorse"),  # no canary
    ],
}

HEALTHY = {  # both tracks of EWR alike: 100 ms, 0.1% errors, every pod scraped
    "input_series": track_series("EWR", "stable", 1000, 0.001, 100, pod=0)
    + track_series("EWR", "stable", 1000, 0.001, 100, pod=1)
    + track_series("EWR", "canary", 100, 0.001, 100)
    + [up_series("EWR", t, "1x15") for t in ("stable", "canary")],
    "alert_rule_test": [
        at(m, a)
        for m in (4, 10)
        for a in (
            "DriftgateServingLatencyHigh",
            "DriftgateServingErrors",
            "DriftgateCanaryServingWorse",
            "DriftgateServingDown",
        )
    ],
}

ERRORS = {  # JFK stable: 5% of requests fail (5.03% of inference requests: probes are not counted); LGA: 0.5%
    "input_series": track_series("JFK", "stable", 1000, 0.05) + track_series("LGA", "stable", 1000, 0.005),
    "alert_rule_test": [
        at(4, "DriftgateServingErrors"),
        at(
            10,
            "DriftgateServingErrors",
            fired(
                "DriftgateServingErrors",
                "JFK stable: 5.03% of flights_late requests fail",
                **_track("JFK", "stable"),
            ),
        ),
    ],
}

CANARY_ERRORS = {  # EWR canary fails 3% against stable's 0.1% (3.19% of its inference requests)
    "input_series": track_series("EWR", "stable", 1000, 0.001) + track_series("EWR", "canary", 100, 0.03),
    "alert_rule_test": [
        at(4, "DriftgateCanaryServingWorse"),
        at(
            10,
            "DriftgateCanaryServingWorse",
            fired(
                "DriftgateCanaryServingWorse",
                "EWR canary: flights_late fails 3.191% of requests, worse than stable beyond the canary margin",
                signal="errors",
                **_track("EWR", "canary"),
            ),
        ),
        at(10, "DriftgateServingLatencyHigh"),
    ],
}

CANARY_SLOW = {  # LGA canary at 3x stable's latency (120 ms against 40 ms), under the 200 ms objective
    "input_series": track_series("LGA", "stable", 1000, latency_ms=40)
    + track_series("LGA", "canary", 100, latency_ms=120),
    "alert_rule_test": [
        at(4, "DriftgateCanaryServingWorse"),
        at(
            10,
            "DriftgateCanaryServingWorse",
            fired(
                "DriftgateCanaryServingWorse",
                "LGA canary: flights_late answers in 120.9ms at p99, worse than stable beyond the canary margin",
                signal="latency",
                **_track("LGA", "canary"),
            ),
        ),
        at(10, "DriftgateServingLatencyHigh"),
        at(10, "DriftgateServingErrors"),
    ],
}

DOWN = {  # an EWR canary pod stops answering scrapes at 2m; stable's keeps answering
    "input_series": [up_series("EWR", "canary", "1 1 0x13"), up_series("EWR", "stable", "1x15")],
    "alert_rule_test": [
        at(5, "DriftgateServingDown"),  # pending since 2m
        at(
            10,
            "DriftgateServingDown",
            fired(
                "DriftgateServingDown",
                "EWR canary: Prometheus cannot scrape TF Serving pod tfserving-ewr-canary-5c9d7f6b8-0x4k",
                **_target("EWR", "canary"),
            ),
        ),
    ],
}


@need_promtool
def test_serving_alerts_fire_after_five_minutes_and_stay_quiet_when_healthy(tmp_path):
    promtool_test(tmp_path, [SLOW, HEALTHY, ERRORS, CANARY_ERRORS, CANARY_SLOW, DOWN])


def _tighter_objectives(tmp_path, region, seconds):
    doc = yaml.safe_load((MON / "objectives.yml").read_text())
    rules = [
        r
        for g in doc["groups"]
        for r in g["rules"]
        if r["record"] == "driftgate:serving_objective_p99_seconds" and r["labels"]["region"] == region
    ]
    assert len(rules) == 1, f"objectives.yml has no p99 objective for {region}"
    rules[0]["expr"] = f"vector({seconds})"
    path = tmp_path / "objectives.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@need_promtool
def test_a_region_with_a_tighter_p99_objective_alerts_at_a_latency_the_default_allows(tmp_path):
    series = track_series("EWR", "stable", 1000, latency_ms=60) + track_series(
        "JFK", "stable", 1000, latency_ms=60
    )
    quiet = {"input_series": series, "alert_rule_test": [at(10, "DriftgateServingLatencyHigh")]}
    promtool_test(tmp_path, [quiet])  # p99 67.2 ms: under the default 0.2 s
    tight = _tighter_objectives(tmp_path, "EWR", 0.05)
    alert = fired(
        "DriftgateServingLatencyHigh",
        "EWR stable: flights_late answers in 67.17ms at p99, above the region's objective",
        **_track("EWR", "stable"),
    )
    loud = {
        "input_series": series,
        "alert_rule_test": [
            at(4, "DriftgateServingLatencyHigh"),
            at(10, "DriftgateServingLatencyHigh", alert),
        ],
    }
    promtool_test(tmp_path, [loud], objectives=tight)  # JFK keeps 0.2 s


def _sample(value, **labels):
    sel = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"labels": f"{{{sel}}}", "value": value}


@need_promtool
def test_recording_rules_give_request_rates_error_ratios_and_latency_quantiles(tmp_path):
    # EWR stable: two pods of 600 requests a minute, one failing 5% of them; canary:
    # 60 a minute without an error (no status other than OK at all: the ratio is 0, not absent).
    series = (
        track_series("EWR", "stable", 600, 0.0, 100, pod=0)
        + track_series("EWR", "stable", 600, 0.05, 100, pod=1)
        + track_series("EWR", "canary", 60, 0.0, 100)
    )
    stable, canary = _track("EWR", "stable"), _track("EWR", "canary")

    def expect(expr, stable_value, canary_value):
        # promtool 2.42 compares floats exactly: round what a division leaves at 1e-17
        samples = [_sample(stable_value, **stable), _sample(canary_value, **canary)]
        return {"expr": f"round({expr}, 0.0001)", "eval_time": "10m", "exp_samples": samples}

    # 100 ms lies in the bucket (67466.4, 121440] us: p50 and p99 interpolate inside it
    case = {
        "input_series": series,
        "promql_expr_test": [
            # inference requests: 6 probes a minute per pod are not counted (2 x 594 and 54 a minute)
            expect("driftgate:tfserving_requests:rate5m", 19.8, 0.9),
            expect("driftgate:tfserving_error_ratio:rate5m", 0.0253, 0),  # 30 of 1188 a minute
            expect("driftgate:tfserving_latency_p50_seconds:rate5m", 0.0945, 0.0945),
            expect("driftgate:tfserving_latency_p99_seconds:rate5m", 0.1209, 0.1209),
        ],
    }
    promtool_test(tmp_path, [case])
