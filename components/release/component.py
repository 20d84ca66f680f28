"""After a push: label the new version in TF Serving's config and remember
which span it was trained on.

- ``serving/release.py`` smoke-tests the SavedModel (loads, answers its
  serving signature on a sample of this span's examples) and labels it:
  ``stable`` when the region has none, ``canary`` otherwise. A version that
  fails gets no label and is marked rejected; the stable one keeps serving.
- The region state records ``{version: span}``: the next spans' training
  baseline, and what the model-age policy counts from.
"""

import glob
import os

from absl import logging
from tfx import v1 as tfx

from components.ingest.executor import artifact_span
from components.state import RegionState
from driftgate.core import storage

SAMPLE = 64


def sample_examples(examples, split: str = "eval", n: int = SAMPLE) -> list:
    """The first ``n`` serialized tf.Examples of a split of an Examples artifact."""
    import tensorflow as tf

    files = sorted(glob.glob(os.path.join(examples.uri, f"Split-{split}", "*")))
    out = []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP").take(n):
        out.append(record.numpy())
    return out


@tfx.dsl.components.component
def ReleaseRecorder(
    pushed_model: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.PushedModel],
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    state_dir: tfx.dsl.components.Parameter[str],
    serving_dir: tfx.dsl.components.Parameter[str],
    model_name: tfx.dsl.components.Parameter[str],
):
    """Labels a pushed version (stable or canary) and records its training span."""
    if not pushed_model.get_int_custom_property("pushed"):
        return
    version = int(pushed_model.get_string_custom_property("pushed_version"))
    span = artifact_span(examples)
    RegionState(state_dir).record_release(version, span, model_uri=pushed_model.uri)
    if storage.is_remote(serving_dir):
        logging.warning(
            "release labels need a POSIX filesystem root; %s left for `driftgate serving`", serving_dir
        )
        return
    from serving import release

    try:
        state = release.push(serving_dir, model_name, version, sample_examples(examples))
        logging.info("version %d labelled %s", version, "stable" if state.stable == version else "canary")
    except release.ReleaseError as exc:  # recorded as rejected in release.json; stable keeps serving
        logging.error("version %d rejected: %s", version, exc)
