"""Artifact types driftgate adds to ML Metadata."""

from tfx.types.artifact import Artifact
from tfx.types.value_artifact import ValueArtifact


class GateReport(Artifact):
    """The span gate's verdict on one span: ``gate_report.json`` plus a
    ``decision`` custom property (``skip``, ``retrain`` or ``block``) that
    conditional nodes read."""

    # The type name is an import path of this class (``components`` exports it):
    # TFX's Kubeflow V2 entrypoint imports every artifact's schema title, which
    # KFP requires as ``<module>.<Class>`` with one dot. Any other name fails
    # every task that reads or writes the artifact on Kubeflow.
    TYPE_NAME = "components.GateReport"


class CanaryVerdict(Artifact):
    """The canary judge's verdict on the region's canary, before the gate runs:
    ``canary_verdict.json`` plus ``verdict`` (``none``, ``promote``,
    ``rollback`` or ``pending``) and the two versions as custom properties."""

    TYPE_NAME = "components.CanaryVerdict"


class ReleaseRecord(Artifact):
    """What the release step made of a pushed version: ``label`` (``stable``,
    ``canary``, ``rejected`` or empty when nothing was pushed), ``version`` and
    ``reason`` as custom properties."""

    TYPE_NAME = "components.ReleaseRecord"


class RunRecord(Artifact):
    """One run of a region as people read it: ``result.json`` and
    ``report.html`` (copies of the files under the region root), with the
    decision, span and canary verdict as custom properties."""

    TYPE_NAME = "components.RunRecord"


# What the Kubeflow Pipelines UI draws. Its frontend selects artifacts by their
# ML Metadata type name (the schema title the compiled spec gives each output),
# so these four carry KFP's ``system.*`` names rather than an import path; the
# task entrypoint maps each title back to its class here
# (``pipelines.kubeflow_entrypoint.SYSTEM_TITLES``). None declares PROPERTIES:
# the ``system.*`` schemas have none. Under ``driftgate run`` they are ordinary
# MLMD artifacts of those type names.


class _TextFile(ValueArtifact):
    """A UTF-8 text file at the artifact URI (no type of its own)."""

    def encode(self, value: str) -> bytes:
        return value.encode("utf-8")

    def decode(self, serialized_value: bytes) -> str:
        return serialized_value.decode("utf-8")


class RunReportHtml(_TextFile):
    """The run's HTML report, one self-contained file *at* the artifact URI
    (the UI reads the URI as one file and shows it in a sandboxed iframe)."""

    TYPE_NAME = "system.HTML"


class RunSummaryMarkdown(_TextFile):
    """A short Markdown summary of the run (decision sentence, span, drift per
    baseline, canary verdict, version and label, warnings), a file at the URI."""

    TYPE_NAME = "system.Markdown"


class RunMetrics(Artifact):
    """The run's numbers as scalar custom properties (no bools, no strings but
    ``display_name``): the UI's Scalar Metrics table and Compare runs."""

    TYPE_NAME = "system.Metrics"


class ModelQuality(Artifact):
    """The candidate's ROC curve (``confidenceMetrics``) and confusion matrix
    (``confusionMatrix``) on the span's eval split, from the Evaluator's result,
    in the shape the KFP SDK's ``ClassificationMetrics`` writes."""

    TYPE_NAME = "system.ClassificationMetrics"
