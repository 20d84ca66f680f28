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

from components.canary import analysis
from components.evaluator import slicing
from components.ingest.records import columns, eval_mask, label_values
from components.quality import challenger, fairness
from components.quality import serving as quality
from components.state import RegionState
from serving import release


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
    predictions = analysis.predict_version(base, version, records) if len(records) else np.zeros(0)
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
    return judged
