"""After a push: label the new version in TF Serving's config and remember
which span it was trained on.

- ``serving/release.py`` smoke-tests the SavedModel (loads, answers its
  serving signature on a sample of this span's examples) and labels it:
  ``stable`` when the region has none, ``canary`` otherwise. A version that
  fails gets no label and is marked rejected; the stable one keeps serving.
- The region state records ``{version: span}``: the next spans' training
  baseline, and what the model-age policy counts from; and the version's
  reference quality (``components.quality.serving.reference``: AUC, accuracy and
  prediction histogram on this span's eval split), which later spans judge
  the serving model against; with ``quality_config``, also the calibration
  of its scores (the label-free estimate's) and its feature importance
  (``components.quality.span.push_measures``).
"""

import json

from absl import logging
from tfx.types import standard_artifacts as std

from components.artifacts import ReleaseRecord
from components.ingest.recorded import artifact_span
from components.ingest.records import labelled, serialized_examples
from components.node import In, Out, Param, component
from components.quality import serving as quality
from components.quality.span import push_measures
from components.state import RegionState
from driftgate.core.config import quality_config_from_dict
from driftgate.core.layout import RegionLayout
from serving import signature

SAMPLE = 64


def _record(release, label: str, version: int, reason: str) -> None:
    release.set_string_custom_property("label", label)
    release.set_int_custom_property("version", version)
    release.set_string_custom_property("reason", reason)


def reference_challenger(spec_json: str, records, labels, is_eval):
    """The AUC on the span's eval rows of a challenger fitted on its train rows
    (``components.quality.challenger.own_span_auc``); None without a challenger
    spec or when it cannot be fitted."""
    from components.ingest.records import columns
    from components.quality import challenger

    spec = json.loads(spec_json or "{}")
    if not spec:
        return None
    features = challenger.Features.from_json(spec)
    try:  # the reference stands without it: staleness is then not judged for this version
        return challenger.own_span_auc(features, columns(records, features.names), labels, is_eval)
    except Exception:  # noqa: BLE001
        logging.exception("challenger of the pushed span not measured")
        return None


@component
def ReleaseRecorder(
    pushed_model: In[std.PushedModel],
    examples: In[std.Examples],
    release: Out[ReleaseRecord],
    layout: Param[str],
    label: Param[str] = "",
    challenger: Param[str] = "{}",
    quality_config: Param[str] = "{}",
    features: Param[str] = "[]",
    slices: Param[str] = "{}",
    config_hash: Param[str] = "",  # in the log context and audit records of the push
):
    """Labels a pushed version (stable or canary) and records its training span
    and reference quality (with ``challenger``'s features, also the AUC of a
    challenger fitted on the span: ``components.quality.challenger``)."""
    where = RegionLayout.from_json(layout)
    serving_dir, model_name = where.serving_dir, where.model_name
    if not pushed_model.get_int_custom_property("pushed"):
        _record(release, "", 0, "not pushed (the Evaluator did not bless the model)")
        return
    version = int(pushed_model.get_string_custom_property("pushed_version"))
    span = artifact_span(examples)
    from serving import release as releases

    reference = None
    if label:  # what later spans judge this model against; measuring it never fails the push
        try:
            eval_records, eval_labels = labelled(examples, label, ("eval",))
            train_records, train_labels = labelled(examples, label, ("train",))
            base = releases.model_dir(serving_dir, model_name)
            records = eval_records + train_records
            p = signature.predict_version(base, version, records)
            is_eval = [True] * len(eval_records) + [False] * len(train_records)
            chal = reference_challenger(challenger, records, [*eval_labels, *train_labels], is_eval)
            reference = quality.reference(
                version, span, eval_labels, p[: len(eval_records)], p, challenger_auc=chal
            ).to_json()
        except Exception:  # noqa: BLE001
            logging.exception("reference quality of version %d not measured", version)
        if reference is not None and quality_config not in ("", "{}"):
            try:  # the estimate's calibration and the importance later spans compare with
                qcfg = quality_config_from_dict(json.loads(quality_config))
                predict = lambda rs: signature.predict_version(base, version, rs)  # noqa: E731
                scores = p[: len(eval_records)]
                reference.update(
                    push_measures(
                        predict,
                        eval_records,
                        eval_labels,
                        scores,
                        qcfg,
                        json.loads(features),
                        json.loads(slices),
                    )
                )
            except Exception:  # noqa: BLE001
                logging.exception("calibration and importance of version %d not measured", version)
    region_state = RegionState(where.state_dir)
    region_state.record_release(
        version, span, model_uri=region_state.relative(pushed_model.uri), reference=reference
    )

    try:
        state = releases.push(
            serving_dir,
            model_name,
            version,
            serialized_examples(examples, ("eval",), SAMPLE),
            served=where.served_base_path,
        )
    except releases.ReleaseError as exc:  # recorded as rejected in release.json; stable keeps serving
        logging.error("version %d rejected: %s", version, exc)
        _record(release, "rejected", version, str(exc))
        return
    label = "stable" if state.stable == version else "canary"
    logging.info("version %d labelled %s", version, label)
    _record(release, label, version, "")
