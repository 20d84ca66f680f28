"""The serving model measured on the newest labelled span, as the canary
judge node runs it before the gate: its quality against the reference of its
push (``components.quality.serving``), its staleness against a challenger
fitted on the span (``components.quality.challenger``) and its fairness across
the region's slices (``components.quality.fairness``). The rows come from the
span's Examples, or, with ``labels.delay_spans``, from the region's data files
of the span whose labels have arrived (``delayed_span_rows``).
"""

import numpy as np
from absl import logging

from components.evaluator import slicing
from components.ingest.records import columns, eval_mask, label_values
from components.quality import challenger, estimate, fairness, importance
from components.quality import serving as quality
from components.state import RegionState
from serving import release, signature


def delayed_span_rows(
    data_dir: str, span_pattern: str, span: int, data_format: str, label: str, buckets
) -> tuple:
    """(serialized examples, labels, eval mask) of span ``span`` read from the
    region's data files (the span whose labels have arrived by now) in the
    region's ``data.format``, encoded as ingest encodes them and split as
    ExampleGen splits them (``buckets``: train and eval hash buckets); rows
    without a label are left out."""
    import tensorflow as tf

    from components.ingest import fast

    files = sorted(tf.io.gfile.glob(f"{data_dir}/{span_pattern.replace('{SPAN}', str(span))}"))
    if not files:
        return [], np.zeros(0), np.zeros(0, dtype=bool)
    records = fast.span_records(data_format, files)
    labels = label_values(records, label)
    keep = ~np.isnan(labels)
    records = [r for r, k in zip(records, keep, strict=True) if k]
    return records, labels[keep], eval_mask(records, *buckets)


def push_measures(predict, records, labels, scores, qcfg, features, slices: "dict | None" = None) -> dict:
    """What a pushed model records beside its reference for later spans: the
    isotonic calibration of its scores on its own eval split (the label-free
    estimate's, ``components.quality.estimate``) and its permutation
    importance there (``components.quality.importance``)."""
    out: dict = {}
    if qcfg.estimate.enabled and len(labels):
        out["calibration"] = estimate.fit(labels, scores).to_json()
    if qcfg.importance.enabled and features and len(labels):
        found = importance.importance(predict, records, labels, features, max_rows=qcfg.importance.max_rows)
        out["importance"] = found.to_json()
    if (slices or {}).get("slices") and len(labels):  # each slice's AUC, what later spans compare with
        keyed = slicing.slice_rows(records, [tuple(sorted(s)) for s in slices["slices"]])
        out["slices"] = fairness.slice_aucs(labels, scores, keyed, slices["min_rows"])
    return out


def importance_drift(reference: dict, predict, records, labels, icfg, seed: int = 0) -> dict:
    """The serving model's importance on a labelled span against its push's:
    both rankings, their nDCG and the sentence; ``retrain_above`` is what the
    gate's ``importance_drift`` rule reads."""
    ref = importance.Importance.from_json(reference)
    now = importance.importance(predict, records, labels, list(ref.values), max_rows=icfg.max_rows, seed=seed)
    score = importance.ndcg(ref, now)
    return {
        "method": now.method,
        "rows": now.rows,
        "reference": dict(ref.values),
        "current": dict(now.values),
        "ndcg": round(score, 6),
        "alert_below": icfg.ndcg_alert,
        "retrain_above": icfg.retrain_above,
        "sentence": importance.describe(ref, now, score=score),
    }


def label_free(calibration: dict, cfg, span: int, predictions, predict, region_state, samples: int) -> dict:
    """The label-free estimate (CBPE) on the newest span (``cfg["current"]``:
    its span number and a callable returning its records; the judged span's
    predictions are reused when it is the newest) and, for the judged span,
    the estimate made when it was the newest, beside its realised AUC."""
    cal = estimate.Calibration.from_json(calibration)
    newest, current_records = cfg.get("current") or (span, None)
    scores = predictions if newest == span or current_records is None else predict(current_records())
    out = {}
    if len(scores):
        e = estimate.estimate(cal, scores, samples=samples, seed=newest)
        out["estimate"] = {"span": newest, **e.to_json(), "sentence": estimate.describe(e)}
    if newest == span:
        out["estimate_then"] = out.get("estimate")
    else:  # recorded by the gate when span was the newest
        then = next((h.get("estimate") for h in region_state.history() if h.get("span") == span), None)
        out["estimate_then"] = then
    return out


def serving_quality(
    layout, model_name: str, span: int, rows, cfg, not_judged: "str | None", spec: "dict | None" = None
) -> dict:
    """The serving model's quality on labelled span ``span`` (``rows``: a
    callable returning its (records, labels, eval mask)), or why it was not
    judged; with ``spec`` (the challenger's features) also its staleness
    against a challenger fitted on the span (``components.quality.challenger``);
    with ``cfg["slices"]`` (``slices_spec``) its fairness across them."""
    state = release.load_state(layout.serving_dir, model_name)
    if state.stable is None:
        return {}
    version = int(state.stable)
    region_state = RegionState(layout.state_dir)
    trained_on = region_state.training_span(version)
    if not_judged is None and span < 1:
        not_judged = f"no span with labels yet (labels.delay_spans {cfg['delay']})"
    if not_judged is None and trained_on is not None and span <= trained_on:
        not_judged = f"span {span} is not newer than serving v{version}'s training span {trained_on}"
    if not_judged is not None:
        return {
            "version": version,
            "span": span,
            "verdict": "not_judged",
            "sentence": f"quality not judged: {not_judged}",
        }
    records, labels, is_eval = rows()
    recorded = region_state.releases().get(version, {}).get("reference")
    ref = quality.Reference.from_json(recorded) if recorded else None
    base = release.model_dir(layout.serving_dir, model_name)
    predictions = signature.predict_version(base, version, records) if len(records) else np.zeros(0)
    qcfg, stale = cfg["config"], None
    if spec and qcfg.challenger.enabled and len(records):
        features = challenger.Features.from_json(spec)
        try:  # a side measurement: the quality verdict stands without it
            found = challenger.judge_span(
                span,
                features,
                columns(records, features.names),
                labels,
                is_eval,
                predictions,
                ref.advantage if ref else None,
                confidence=qcfg.confidence,
                samples=qcfg.bootstrap_samples,
                min_rows=qcfg.min_rows,
                seed=span,
            )
            stale = found.to_json() if found else None
        except Exception:  # noqa: BLE001
            logging.exception("challenger of span %d not measured", span)
    judged = quality.judge(
        version, span, labels, predictions, ref, qcfg, seed=span, staleness=stale
    ).to_json()
    recorded = recorded or {}
    predict = lambda rs: signature.predict_version(base, version, rs)  # noqa: E731
    if qcfg.importance.enabled and recorded.get("importance") and len(records):
        try:  # a side measurement: the quality verdict stands without it
            judged["importance"] = importance_drift(
                recorded["importance"], predict, records, labels, qcfg.importance, seed=span
            )
        except Exception:  # noqa: BLE001
            logging.exception("importance of span %d not measured", span)
    if qcfg.estimate.enabled and recorded.get("calibration"):
        try:
            judged.update(
                label_free(
                    recorded["calibration"],
                    cfg,
                    span,
                    predictions,
                    predict,
                    region_state,
                    qcfg.estimate.samples,
                )
            )
        except Exception:  # noqa: BLE001
            logging.exception("label-free estimate of span %d not measured", span)
    then = judged.get("estimate_then")
    if then and judged.get("auc") is not None:  # the realised value beside what was estimated
        judged["estimate_then"] = dict(
            then, realised_auc=judged["auc"], error=round(then["auc"] - judged["auc"], 6)
        )
    sliced = cfg.get("slices") or {}
    if sliced.get("slices") and len(records):
        try:  # a side measurement: the quality verdict stands without it
            judged["fairness"] = fairness.judge(
                labels,
                predictions,
                slicing.slice_rows(records, [tuple(sorted(s)) for s in sliced["slices"]]),
                band=sliced["band"],
                min_rows=sliced["min_rows"],
                max_exported=sliced["max_exported"],
            )
        except Exception:  # noqa: BLE001
            logging.exception("fairness of span %d not measured", span)
    if recorded.get("slices") and judged.get("fairness"):  # each slice against its own AUC at push
        found = judged["fairness"]["slices"]
        now = {s["name"]: s["auc"] for s in found if s["judged"] and s["auc"] is not None}
        judged["slices_degraded"] = fairness.degraded(recorded["slices"], now, qcfg.auc_margin)
        judged["slices_retrain"] = qcfg.retrain_on_slices
    return judged
