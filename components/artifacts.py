"""Artifact types driftgate adds to ML Metadata."""

from tfx.types.artifact import Artifact


class GateReport(Artifact):
    """The data gate's verdict on one span: ``gate_report.json`` plus a
    ``decision`` custom property (``retrain`` or ``block``) that conditional
    nodes read."""

    TYPE_NAME = "driftgate.GateReport"  # <namespace>.<Name>: the form KFP schema titles need
