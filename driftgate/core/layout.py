"""Where everything of a region lives under a root (local path or bucket URI).

Every location is named here once; the rest of driftgate asks a
:class:`RegionLayout` instead of joining strings::

    <root>/<REGION>/pipeline/            TFX artifacts (pipeline root)
    <root>/<REGION>/metadata.sqlite      ML Metadata (local runs; on a bucket, a local copy while a run works)
    <root>/<REGION>/run.lease            who is running the region now
    <root>/<REGION>/state/               what the next run needs (statistics, history, releases)
    <root>/<REGION>/audit/               the audit trail: one JSONL object per record, never rewritten
    <root>/<REGION>/results/span-<N>.json
    <root>/<REGION>/reports/span-<N>.html
    <root>/reports/index.html            summary across regions
    <root>/metrics/driftgate_<region>.prom
    <root>/serving/<REGION>/             TF Serving config and release state
    <root>/serving/<REGION>/<model>/<N>/ TF Serving base path, one folder per version

and, beside the root, the region's inputs: its span folder (``data_dir``), its
pinned schema file (``schema_file``) and the model base path as TF Serving
sees it (``served_base_path``, when the serving pods mount the root elsewhere).

The pipeline factory hands every driftgate node the same object as one
parameter (``layout``: :meth:`RegionLayout.to_json`), and the node reads it
(:meth:`RegionLayout.from_json`): no node rebuilds a location from parts.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

from driftgate.core import storage
from driftgate.core.errors import DriftgateError

STATE = "state"
PIPELINE = "pipeline"
METADATA = "metadata.sqlite"
RESULTS = "results"
REPORTS = "reports"
METRICS = "metrics"
SERVING = "serving"
ALERTS_FILE = "alerts.json"
LEASE = "run.lease"


def region_root_of_serving(serving_dir: str) -> str:
    """``<root>/<REGION>`` of a region's serving folder ``<root>/serving/<REGION>``."""
    path = str(serving_dir).rstrip("/")
    region = path.rsplit("/", 1)[-1]
    return storage.join(storage.dirname(storage.dirname(path)), region)


def reports_index(root: str) -> str:
    """``<root>/reports/index.html``: the summary page across regions."""
    return storage.join(root, REPORTS, "index.html")


def metrics_dir(root: str) -> str:
    """``<root>/metrics``: node-exporter textfiles of every region."""
    return storage.join(root, METRICS)


@dataclass(frozen=True)
class RegionLayout:
    root: str
    region: str
    model_name: str
    data_dir: str = ""  # the folder holding the region's spans
    schema_file: str = ""  # the pinned schema.pbtxt
    served_base_path: str = ""  # the model base path as TF Serving sees it ("": model_base_path)

    def to_json(self) -> str:
        """The layout as a node parameter (one JSON string, keys sorted)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "RegionLayout":
        """The layout a node was given (:meth:`to_json`)."""
        try:
            data = json.loads(text)
            known = {f.name for f in fields(cls)}
            if not isinstance(data, dict) or set(data) - known:
                raise ValueError(f"keys must be among {sorted(known)}")
            return cls(**data)
        except (ValueError, TypeError) as exc:
            raise DriftgateError(f"layout parameter {text[:200]!r} is not a region layout: {exc}") from None

    @property
    def region_root(self) -> str:
        return storage.join(self.root, self.region)

    @property
    def pipeline_root(self) -> str:
        return storage.join(self.region_root, PIPELINE)

    @property
    def metadata_path(self) -> str:
        return storage.join(self.region_root, METADATA)

    @property
    def state_dir(self) -> str:
        return storage.join(self.region_root, STATE)

    @property
    def lease_file(self) -> str:
        """One run of the region at a time (``driftgate.core.lease``)."""
        return storage.join(self.region_root, LEASE)

    @property
    def audit_dir(self) -> str:
        """The region's append-only audit trail (``driftgate.core.audit``)."""
        return storage.join(self.region_root, "audit")

    @property
    def alerts_file(self) -> str:
        return storage.join(self.state_dir, ALERTS_FILE)

    @property
    def results_dir(self) -> str:
        return storage.join(self.region_root, RESULTS)

    def result_file(self, span: int) -> str:
        return storage.join(self.results_dir, f"span-{span}.json")

    @property
    def reports_dir(self) -> str:
        return storage.join(self.region_root, REPORTS)

    def report_file(self, span: int) -> str:
        return storage.join(self.reports_dir, f"span-{span}.html")

    @property
    def metrics_file(self) -> str:
        return storage.join(metrics_dir(self.root), f"driftgate_{self.region.lower()}.prom")

    @property
    def serving_dir(self) -> str:
        """TF Serving's config folder of the region (``models.config``, ``release.json``)."""
        return storage.join(self.root, SERVING, self.region)

    @property
    def model_base_path(self) -> str:
        """TF Serving's base path: one folder per integer version."""
        return storage.join(self.serving_dir, self.model_name)

    def canary_record(self, version: int, span: int) -> str:
        return storage.join(self.serving_dir, f"canary-v{version}-span-{span}.json")
