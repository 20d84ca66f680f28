"""After a push: remember in the region state which span the new version was
trained on, so later spans compare against that span's statistics (the
training baseline) and the model-age policy can count spans."""

from tfx import v1 as tfx

from components.gate.component import artifact_span
from components.state import RegionState


@tfx.dsl.components.component
def ReleaseRecorder(
    pushed_model: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.PushedModel],
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    state_dir: tfx.dsl.components.Parameter[str],
):
    """Adds ``{version: {span}}`` to ``<state>/releases.json`` when the model was pushed."""
    if not pushed_model.get_int_custom_property("pushed"):
        return
    version = int(pushed_model.get_string_custom_property("pushed_version"))
    RegionState(state_dir).record_release(version, artifact_span(examples), model_uri=pushed_model.uri)
