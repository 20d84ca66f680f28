"""Artifact types driftgate adds to ML Metadata."""

from tfx.types.artifact import Artifact


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
