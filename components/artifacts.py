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
