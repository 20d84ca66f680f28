"""Canary analysis: score the canary against the stable model on a later span.

Both SavedModels are called through their ``serving_default`` signature on
serialized tf.Examples, as TF Serving calls them. Measured: accuracy and AUC
against the span's labels, the shift between the two models' prediction
distributions (KS distance), the failure rate on malformed requests, and
latency (p50/p99 for 1 and 1000 examples). The verdict applies the region's
``serving.canary`` thresholds: promote when all hold, roll back otherwise.
"""

import json
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from components.canary import live
from components.canary.judgement import ROLLBACK, auc, judge
from driftgate.core import vocabulary as ids
from serving import signature


def malformed_requests(examples: Sequence[bytes]) -> List[List[bytes]]:
    """Requests a client might send by mistake: garbage bytes, a text value in a
    numeric feature, an empty example, and a well-formed one for control."""
    import tensorflow as tf

    text_in_numeric = tf.train.Example(
        features=tf.train.Features(
            feature={"distance": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"far"]))}
        )
    ).SerializeToString()
    return [[b"\x00not a proto\xff"], [text_in_numeric], [b""], [examples[0]]]


def failure_rate(serve, requests: List[List[bytes]]) -> float:
    """Share of requests that raise or return non-finite or out-of-range output."""
    failures = 0
    for req in requests:
        try:
            p = signature.predict(serve, req)
            if not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1:
                failures += 1
        except Exception:  # the request failing is what is measured
            failures += 1
    return failures / len(requests)


def latency_ms(serve, examples: Sequence[bytes], size: int, repeats: int = 30) -> Dict[str, float]:
    import tensorflow as tf

    batch = tf.constant(list(examples[:size]) * max(1, size // max(1, len(examples[:size]))))[:size]
    serve(examples=batch)  # warm
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        serve(examples=batch)
        times.append((time.perf_counter() - t0) * 1000)
    return {"p50": float(np.percentile(times, 50)), "p99": float(np.percentile(times, 99))}


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import ks_2samp

    return float(ks_2samp(a, b, method="asymp").statistic)


def prediction_shift_check(shift: float, max_ks: float, auc_diff_low: float) -> tuple:
    """(passed, text) of the prediction-shift check. A shift above ``max_ks``
    between the two models' predictions is suspect, unless the labels show the
    canary better (the AUC difference's interval above 0): a model trained on
    a new season answers differently (without this, the seasonal retrains the
    gate asks for were rolled back)."""
    better = auc_diff_low > 0
    text = f"prediction shift KS {shift:.3f} (max {max_ks}"
    if shift > max_ks and better:
        text += "; allowed: the canary's AUC interval is above stable's"
    return shift <= max_ks or better, text + ")"


def analyse(stable_dir: str, canary_dir: str, examples: List[bytes], labels: np.ndarray, cfg) -> dict:
    """Measures both models and returns the verdict (``promote``/``rollback``) with reasons."""
    import tensorflow as tf

    serve = {
        name: tf.saved_model.load(path).signatures["serving_default"]
        for name, path in (("stable", stable_dir), ("canary", canary_dir))
    }
    bad = malformed_requests(examples)
    m = {}
    for name, fn in serve.items():
        p = signature.predict(fn, examples)
        m[name] = {
            "auc": auc(labels, p),
            "accuracy": float(np.mean((p >= 0.5) == labels.astype(bool))),
            "failure_rate": failure_rate(fn, bad),
            "latency_ms_1": latency_ms(fn, examples, 1),
            "latency_ms_1000": latency_ms(fn, examples, 1000, repeats=10),
            "predictions": p,
        }
    ps, pc = m["stable"].pop("predictions"), m["canary"].pop("predictions")
    judgement = judge(
        labels,
        ps,
        pc,
        auc_margin=cfg.auc_margin,
        accuracy_margin=cfg.accuracy_margin,
        min_rows=cfg.min_rows,
        confidence=cfg.confidence,
    )
    shift = ks_distance(ps, pc)
    s, c = m["stable"], m["canary"]
    checks = [
        prediction_shift_check(shift, cfg.max_prediction_ks, judgement.auc.low),
        (
            c["failure_rate"] <= s["failure_rate"],
            f"malformed-request failures {c['failure_rate']:.2f} vs stable {s['failure_rate']:.2f}",
        ),
        (
            c["latency_ms_1000"]["p99"] <= cfg.max_latency_ratio * s["latency_ms_1000"]["p99"],
            f"p99 latency (1000) {c['latency_ms_1000']['p99']:.1f} ms vs stable {s['latency_ms_1000']['p99']:.1f} ms "
            f"(max x{cfg.max_latency_ratio})",
        ),
    ]
    if not all(ok for ok, _ in checks) or judgement.verdict == ROLLBACK:
        verdict = ROLLBACK
    else:
        verdict = judgement.verdict  # promote, or pending (too few rows / inconclusive)
    return {
        "verdict": verdict,
        "reasons": judgement.reasons + [("ok: " if ok else "FAILED: ") + text for ok, text in checks],
        "metrics": {"stable": s, "canary": c, "prediction_ks": shift},
        "judgement": judgement.to_json(),
        "rows": int(len(examples)),
    }


def judge_and_apply(
    serving_dir: str,
    model_name: str,
    examples: List[bytes],
    labels: np.ndarray,
    cfg,
    span: int,
    record_path=None,
    dry_run: bool = False,
    hold: Optional[str] = None,
    served: str = "",
    live_check: Optional[Callable[[Optional[float]], "live.LiveHealth"]] = None,
) -> dict:
    """Judges the region's canary on a labelled span, then promotes or rolls it
    back (``serving.release``) and writes the verdict to ``record_path(version,
    span)``. ``pending`` leaves the labels as they are; ``dry_run`` analyses only.
    Without a canary the verdict is ``none`` and nothing is read or written;
    with ``hold`` (why this span cannot judge it) the canary stays ``pending``
    without being scored. ``served``: the base path TF Serving sees
    (``serving.release``). ``live_check(pushed_at)``: the canary's live health
    (``components.canary.live``), combined with the offline verdict; None: offline only."""
    from serving import release

    state = release.load_state(serving_dir, model_name, served)
    if state.canary is None or hold:  # nothing scored, nothing changed
        why = "no canary" if state.canary is None else "the canary is held"
        return {
            "verdict": ids.NO_CANARY if state.canary is None else ids.PENDING,
            "span": span,
            "stable_version": state.stable,
            "canary_version": state.canary,
            "reasons": [f"no canary (stable {state.stable})" if state.canary is None else f"PENDING: {hold}"],
            "rows": int(len(examples)),
            "live": live.not_judged(why).to_json() if live_check else live.not_configured().to_json(),
        }
    from driftgate.core import local_copies, storage

    def version_dir(v: int) -> str:
        return storage.join(release.model_dir(serving_dir, model_name), str(v))

    # a SavedModel on a bucket is loaded from a local copy (as the smoke test does)
    with (
        local_copies.local_copy(version_dir(state.stable)) as stable,
        local_copies.local_copy(version_dir(state.canary)) as canary_dir,
    ):
        result = analyse(stable, canary_dir, examples, labels, cfg)
    health = live_check(release.canary_since(state)) if live_check else live.not_configured()
    result["offline_verdict"] = result["verdict"]
    result["verdict"], result["decided_by"] = live.combine(result["verdict"], health)
    result["live"] = health.to_json()
    result["reasons"] += [f"{r.split(': ', 1)[0]}: live {r.split(': ', 1)[1]}" for r in health.reasons] or [
        f"{'note' if health.verdict == live.NOT_CONFIGURED else 'PENDING'}: {health.sentence}"
    ]
    result.update(span=span, stable_version=state.stable, canary_version=state.canary, dry_run=dry_run)
    failed = [r for r in result["reasons"] if r.startswith("FAILED")]
    reason = f"canary analysis on span {span}: " + ("; ".join(failed) if failed else "all checks passed")
    if dry_run:
        return result
    if result["verdict"] == "promote":
        release.promote(serving_dir, model_name, reason=reason, served=served)
    elif result["verdict"] == ROLLBACK:
        release.rollback(serving_dir, model_name, reason=reason, served=served)
    # pending: the canary keeps its share and is judged again on a later span
    if record_path is not None:
        result["report"] = record_path(state.canary, span)
        storage.write_atomic(result["report"], json.dumps(result, indent=1))
    _audit(serving_dir, result)
    return result


def _audit(serving_dir: str, result: dict) -> None:
    """The verdict as a ``canary_verdict`` log event and audit record (side channel)."""
    from driftgate.core import audit, logs
    from driftgate.core.layout import region_root_of_serving

    failed = [r for r in result["reasons"] if not r.startswith(("ok", "note"))]
    text = f"canary v{result['canary_version']} vs stable v{result['stable_version']}: {result['verdict']}"
    logs.event("canary_verdict", text, verdict=result["verdict"], decided_by=result.get("decided_by"))
    audit.try_record(
        region_root_of_serving(serving_dir),
        "canary_verdict",
        result["verdict"],
        text,
        span=result.get("span"),
        version=result["canary_version"],
        evidence={
            "stable_version": result["stable_version"],
            "decided_by": result.get("decided_by"),
            "offline_verdict": result.get("offline_verdict"),
            "rows": result.get("rows"),
            "not_ok": failed[:6],
            "live": (result.get("live") or {}).get("sentence"),
            "report": result.get("report"),
        },
    )


def record_in_mlmd(metadata_path: str, region: str, result: dict) -> int:
    """Records the analysis as an execution of type ``driftgate.CanaryAnalysis``
    in the region's ML Metadata store; returns its id."""
    import os

    from ml_metadata import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    os.makedirs(os.path.dirname(metadata_path), exist_ok=True)
    conn = metadata_store_pb2.ConnectionConfig()
    conn.sqlite.filename_uri = metadata_path
    conn.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    store = metadata_store.MetadataStore(conn)
    etype = metadata_store_pb2.ExecutionType(name="driftgate.CanaryAnalysis")
    type_id = store.put_execution_type(etype, can_add_fields=True)
    e = metadata_store_pb2.Execution(type_id=type_id, last_known_state=metadata_store_pb2.Execution.COMPLETE)
    for key in ("verdict",):
        e.custom_properties[key].string_value = result[key]
    for key in ("stable_version", "canary_version", "span"):
        e.custom_properties[key].int_value = int(result[key])
    e.custom_properties["region"].string_value = region
    e.custom_properties["reasons"].string_value = "\n".join(result["reasons"])
    return store.put_executions([e])[0]
