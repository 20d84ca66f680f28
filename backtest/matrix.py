"""Train once, replay many: one model per span with the production trainer,
scored on every later span; the scores kept on disk.

Models are trained by ``trainer.task.train_and_export`` (what TFX's Trainer
runs) with the region's hyper-parameters, on the span's train split, and
evaluated on its eval split, as the pipeline does. Each model is scored through
its ``serving_default`` signature (as TF Serving calls it) on all rows of each
later span (what users would get) and on each span's eval split (what the
Evaluator compares). Each later-span score also keeps what the pipeline's
serving-quality step measures (``components.quality.serving.measure``: the AUC's
bootstrap interval and the prediction histogram), and each model the
reference its push would record (its own eval split), with its permutation
importance there (``components.quality.importance``).
``<out>/<REGION>/matrix.json`` is rewritten after every model, atomically, so
an interrupted backtest resumes where it stopped; a model's SavedModel is written to a temporary folder and renamed.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import sys
from typing import Callable, Dict, List

from backtest.data import BacktestError, SpanData
from backtest.policies import Matrix
from components.ingest.records import columns
from driftgate.core import storage
from serving import signature

MATRIX_FILE = "matrix.json"
# 2: rows serialized deterministically before the split is hashed (before, a
# row could land in eval in one process and in train in another); 3: rows
# encoded by ingest's encoder, so the split is the pipeline's own
SPLIT_FORMAT = 3


def inputs_key(cfg, fingerprints: Dict[int, list]) -> dict:
    """What a matrix depends on: the spans' files (name, size, mtime) and the
    trainer, data and feature config. A change in any retrains."""
    return {
        "split": SPLIT_FORMAT,
        "spans": {str(s): fp for s, fp in sorted(fingerprints.items())},
        "config": {"trainer": repr(cfg.trainer), "data": repr(cfg.data), "features": repr(cfg.features)},
    }


# what a matrix cell holds; a change re-scores the models on disk (4: staleness; 5: each
# reference carries the model's permutation importance on its own eval split)
SCORING_FORMAT = 6  # 6: slice AUCs at push and on each later span


def scoring_key(cfg) -> dict:
    """How models are scored: a change re-scores, it does not retrain."""
    q = cfg.quality
    return {
        "format": SCORING_FORMAT,
        "confidence": q.confidence,
        "samples": q.bootstrap_samples,
        "importance_rows": q.importance.max_rows,
        "slices": [list(s) for s in slice_specs(cfg)],
        "min_slice_rows": cfg.evaluation.min_slice_rows,
    }


def _read(path: str, spans: List[int], key: dict) -> "dict | None":
    """The matrix file's content when it was made for these spans and training inputs."""
    if os.path.exists(path):
        d = json.loads(storage.read_text(path))
        if d.get("spans") == spans and d.get("inputs") == key:
            return d
    return None


def _load(d: dict, spans: List[int], scoring: dict) -> "Matrix | None":
    """The matrix of a file's content, or None when it was scored another way."""
    if d.get("scoring") != scoring:
        return None
    served = {int(i): {int(j): v for j, v in row.items()} for i, row in d["served"].items()}
    evals = {int(i): {int(j): tuple(v) for j, v in row.items()} for i, row in d["evals"].items()}
    measured = {int(i): {int(j): v for j, v in row.items()} for i, row in d["measured"].items()}
    references = {int(i): v for i, v in d["references"].items()}
    stale = {int(i): {int(j): v for j, v in row.items()} for i, row in d.get("stale", {}).items()}
    return Matrix(spans, served, evals, measured, references, stale)


def _save(path: str, m: Matrix, key: dict, scoring: dict) -> None:
    doc = {
        "spans": m.spans,
        "inputs": key,
        "scoring": scoring,
        "served": m.served,
        "evals": m.evals,
        "measured": m.measured,
        "references": m.references,
        "stale": m.stale,
    }
    storage.write_atomic(path, json.dumps(doc, indent=1))


def _complete(m: Matrix, i: int) -> bool:
    n = m.size
    return (
        i in m.evals
        and len(m.evals[i]) == n - i
        and len(m.served.get(i, {})) == n - i - 1
        and len(m.measured.get(i, {})) == n - i - 1
        and len(m.stale.get(i, {})) == n - i - 1
        and i in m.references
    )


def cached(cfg, spans: List[int], fingerprints: Dict[int, list], region_dir: str) -> "Matrix | None":
    """The matrix on disk when it is complete for these spans, inputs and scoring."""
    d = _read(os.path.join(region_dir, MATRIX_FILE), spans, inputs_key(cfg, fingerprints))
    m = _load(d, spans, scoring_key(cfg)) if d is not None else None
    return m if m is not None and all(_complete(m, i) for i in range(len(spans))) else None


def train(cfg, sd: SpanData, schema, model_dir: str) -> None:
    """Trains the region's model on the span's train split into ``model_dir``."""
    import tensorflow as tf

    from pipelines.pipeline import trainer_custom_config
    from trainer import task

    if os.path.exists(os.path.join(model_dir, "saved_model.pb")):
        return
    work = f"{model_dir}.tmp"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    files = {}
    for split, rows in (("train", sd.train), ("eval", sd.eval)):
        files[split] = os.path.join(work, f"{split}.gz")
        with tf.io.TFRecordWriter(files[split], options="GZIP") as w:
            for r in rows:
                w.write(r)
    try:
        with contextlib.redirect_stdout(sys.stderr):  # Keras' progress lines: stdout stays JSON
            task.train_and_export(
                [files["train"]],
                [files["eval"]],
                schema,
                trainer_custom_config(cfg),
                os.path.join(work, "model"),
                cfg.trainer.train_steps,
                cfg.trainer.eval_steps,
            )
    except Exception as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise BacktestError(
            f"region {cfg.region} span {sd.span}: the model did not train: {type(exc).__name__}: {exc}"
        ) from exc
    shutil.rmtree(model_dir, ignore_errors=True)
    os.replace(os.path.join(work, "model"), model_dir)
    shutil.rmtree(work, ignore_errors=True)


def _scores(labels, p) -> tuple:
    """(AUC, accuracy) of predictions ``p`` against ``labels``, rounded for the matrix file."""
    import numpy as np

    from components.quality.metrics import accuracy, auc

    labels = np.asarray(labels)
    return round(float(auc(labels, p)), 6), round(float(accuracy(labels, p)), 6)


def push_importance(cfg, serve, sd: SpanData, names: List[str]) -> "dict | None":
    """What the push records of which features the model relies on:
    ``components.quality.importance.importance`` (permutation importance on
    AUC) on the span's eval split, as JSON; None when the sample holds one class."""
    from components.quality import importance

    try:
        found = importance.importance(
            importance.predictor(serve),
            sd.eval,
            sd.eval_labels,
            names,
            max_rows=cfg.quality.importance.max_rows,
            seed=0,
        )
    except ValueError:
        return None
    return found.to_json()


def slice_specs(cfg) -> List[tuple]:
    """The slices the backtest measures: ``evaluation.slices``, else each
    categorical input alone (what a region could slice by)."""
    return [tuple(sorted(s)) for s in cfg.evaluation.slices] or [(c,) for c in cfg.features.categorical]


def build(
    cfg,
    data: Dict[int, SpanData],
    schema,
    region_dir: str,
    fingerprints: Dict[int, list],
    progress: Callable[[str], None] = lambda line: None,
) -> Matrix:
    """The region's matrix (trained and scored where not on disk yet)."""
    from components.quality import challenger, fairness
    from components.quality import serving as quality

    spans = sorted(data)
    features = challenger.Features(tuple(cfg.features.numeric), tuple(cfg.features.categorical))
    cols: Dict[int, dict] = {}

    def span_columns(sd: SpanData) -> dict:  # parsed once per span
        if sd.span not in cols:
            cols[sd.span] = columns(sd.all, features.names)
        return cols[sd.span]

    def is_eval(sd: SpanData):
        import numpy as np

        return np.r_[np.zeros(len(sd.train), bool), np.ones(len(sd.eval), bool)]

    sliced: Dict[int, dict] = {}

    def span_slices(sd: SpanData) -> dict:  # slice key -> rows of sd.all, once per span
        from components.evaluator.slicing import slice_rows

        if sd.span not in sliced:
            sliced[sd.span] = slice_rows(sd.all, slice_specs(cfg))
        return sliced[sd.span]

    path = os.path.join(region_dir, MATRIX_FILE)
    key, scoring = inputs_key(cfg, fingerprints), scoring_key(cfg)
    d = _read(path, spans, key)
    if d is None:  # new spans, changed files or config: models on disk are stale
        shutil.rmtree(os.path.join(region_dir, "models"), ignore_errors=True)
    m = (_load(d, spans, scoring) if d is not None else None) or Matrix(spans, {}, {})
    n = len(spans)
    for i, span in enumerate(spans):
        if _complete(m, i):
            continue
        model_dir = os.path.join(region_dir, "models", f"span-{span}")
        progress(f"  {cfg.region} span {span}: model {i + 1} of {n} ({data[span].rows:,} rows)")
        train(cfg, data[span], schema, model_dir)
        serve = signature.load(model_dir)
        served, evals, measured, stale = {}, {}, {}, {}
        for j in range(i, n):
            sd = data[spans[j]]
            p_all = signature.predict(serve, sd.all)  # train rows first, then eval rows
            p_eval = p_all[len(sd.train) :]
            evals[j] = _scores(sd.eval_labels, p_eval)
            if j == i:  # what the push records (components/release)
                # always measured: quality.challenger decides whether it counts
                chal = challenger.own_span_auc(features, span_columns(sd), sd.labels, is_eval(sd))
                ref = quality.reference(i + 1, span, sd.eval_labels, p_eval, p_all, challenger_auc=chal)
                m.references[i] = ref.to_json()
                m.references[i]["importance"] = push_importance(cfg, serve, sd, features.names)
                first = len(sd.train)  # the eval rows' slices, renumbered from 0
                own = {k: rows[rows >= first] - first for k, rows in span_slices(sd).items()}
                m.references[i]["slices"] = fairness.slice_aucs(
                    sd.eval_labels, p_eval, own, cfg.evaluation.min_slice_rows
                )
            else:  # what the serving-quality step measures on span j
                found = challenger.judge_span(  # the pipeline's staleness check, on the same rows
                    spans[j],
                    features,
                    span_columns(sd),
                    sd.labels,
                    is_eval(sd),
                    p_all,
                    ref.advantage,
                    confidence=cfg.quality.confidence,
                    samples=cfg.quality.bootstrap_samples,
                    min_rows=cfg.quality.min_rows,
                    seed=spans[j],
                )
                stale[j] = found.to_json() if found else None
                served[j] = _scores(sd.labels, p_all)[0]
                measured[j] = quality.measure(
                    sd.labels,
                    p_all,
                    confidence=cfg.quality.confidence,
                    samples=cfg.quality.bootstrap_samples,
                    seed=spans[j],
                ).to_json()
                measured[j]["slices"] = fairness.slice_aucs(
                    sd.labels, p_all, span_slices(sd), cfg.evaluation.min_slice_rows
                )
        m.served[i], m.evals[i], m.measured[i], m.stale[i] = served, evals, measured, stale
        _save(path, m, key, scoring)
    return m


def build_window(
    cfg,
    data: Dict[int, SpanData],
    schema,
    region_dir: str,
    k: int,
    fingerprints: Dict[int, list],
    progress: Callable[[str], None] = lambda line: None,
) -> Dict[int, float]:
    """``{t: AUC on span t+1}`` of models trained on the newest ``k`` spans
    (train splits of spans t-k+1..t together), kept in ``window-<k>.json``."""

    spans = sorted(data)
    path = os.path.join(region_dir, f"window-{k}.json")
    key = inputs_key(cfg, fingerprints)
    saved = json.loads(storage.read_text(path)) if os.path.exists(path) else {}
    if saved.get("spans") == spans and saved.get("inputs") == key:
        out = {int(t): v for t, v in saved["next_auc"].items()}
    else:  # stale window models would be reused by train(): drop them
        out = {}
        for stale in glob.glob(os.path.join(region_dir, "models", f"window-{k}-span-*")):
            shutil.rmtree(stale, ignore_errors=True)
    for t in range(k - 1, len(spans) - 1):
        if t in out:
            continue
        window = [data[spans[i]] for i in range(t - k + 1, t + 1)]
        merged = SpanData(
            spans[t],
            [r for sd in window for r in sd.train],
            data[spans[t]].eval,
            data[spans[t]].labels,
            data[spans[t]].eval_labels,
        )
        model_dir = os.path.join(region_dir, "models", f"window-{k}-span-{spans[t]}")
        progress(
            f"  {cfg.region} spans {spans[t - k + 1]}-{spans[t]}: window model ({len(merged.train):,} rows)"
        )
        train(cfg, merged, schema, model_dir)
        nxt = data[spans[t + 1]]
        out[t] = _scores(nxt.labels, signature.predict(signature.load(model_dir), nxt.all))[0]
        storage.write_atomic(
            path, json.dumps({"spans": spans, "inputs": key, "k": k, "next_auc": out}, indent=1)
        )
    return out
