"""The pipeline's sections of a region's config (``driftgate.core.config``):
data, features, schema, anomalies, trainer, evaluation, canary, serving,
Kubeflow and its schedule, alerts. Strict frozen dataclasses; the loader and
the cross-section checks are in ``driftgate.core.config``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional, Tuple

from driftgate.core.strict import rng


@dataclass(frozen=True)
class DataConfig:
    """Where a region's spans live and how they are named."""

    # Folder holding the region's spans. ``{region}`` is replaced by the region
    # name; a relative path is taken from the project root (the folder holding
    # ``pipelines/``), never from the working directory.
    location: str
    # Glob of one span's files below ``location``; ``{SPAN}`` marks the span number
    # (TFX ExampleGen syntax).
    span_pattern: str
    # Train/eval split of each span, by hash of the row (ExampleGen buckets).
    train_buckets: int = field(metadata=rng(1, 100))
    eval_buckets: int = field(metadata=rng(1, 100))
    # files: spans are folders someone lands; kafka: ``driftgate land`` writes
    # them from the region's topic, and a span counts only once sealed (_SUCCESS)
    source: str = field(default="files", metadata={"choices": ("files", "kafka")})
    # What a span's files are: csv (a header row), parquet, or tfrecord
    # (serialized tf.Examples, gzipped or not). span_pattern names the files.
    format: str = field(default="csv", metadata={"choices": ("csv", "parquet", "tfrecord")})


@dataclass(frozen=True)
class FeaturesConfig:
    """Which CSV columns the model reads, and the label."""

    label: str
    categorical: Tuple[str, ...]
    numeric: Tuple[str, ...]

    @property
    def all(self) -> Tuple[str, ...]:
        return tuple(self.categorical) + tuple(self.numeric)


@dataclass(frozen=True)
class SchemaConfig:
    """The pinned schema version: ``schemas/<REGION>/v<version>/schema.pbtxt``."""

    version: int = field(metadata=rng(1))


@dataclass(frozen=True)
class AnomalyConfig:
    """Which ExampleValidator anomalies stop a run."""

    # Anomaly types (TFDV short names, e.g. ENUM_TYPE_UNEXPECTED_STRING_VALUES)
    # reported as warnings instead of blocking the span.
    warn_only_types: Tuple[str, ...]
    # Features whose anomalies never block (still reported).
    warn_only_features: Tuple[str, ...]


@dataclass(frozen=True)
class TrainerConfig:
    """Model hyper-parameters (see ``trainer/model.py``)."""

    train_steps: int = field(metadata=rng(1, 1_000_000))
    eval_steps: int = field(metadata=rng(1, 1_000_000))
    batch_size: int = field(metadata=rng(1, 65536))
    learning_rate: float = field(metadata=rng(0.0, 1.0, lo_open=True))
    hidden_units: Tuple[int, ...]
    max_vocab: int = field(metadata=rng(1, 100_000))
    hash_buckets: int = field(metadata=rng(1, 1_000_000))
    seed: int = field(metadata=rng(0))


@dataclass(frozen=True)
class EvaluationConfig:
    """Blessing thresholds for the Evaluator.

    A candidate is blessed when its AUC is at least ``min_auc`` and its
    accuracy at least ``min_accuracy`` (value thresholds), and, when a model
    already serves in the region, its AUC beats the serving model's on the same
    eval data by more than ``min_auc_improvement`` (change threshold; may be
    negative to tolerate a small loss).

    ``slices``: lists of feature keys (TFMA ``SlicingSpec(feature_keys=...)``,
    e.g. ``[[carrier], [sched_dep_hour]]``). Each slice value with at least
    ``min_slice_rows`` rows (TFMA's ``min_slice_size``) is reported; the
    candidate is not blessed when, on one of them, its AUC is more than
    ``max_slice_auc_drop`` below the serving model's (TFMA's
    ``PerSliceMetricThreshold`` with an absolute change threshold). The same
    slices judge the serving model's fairness on each labelled span: a
    slice's false positive rate, recall or positive rate over the whole
    span's outside ``parity_band`` (the four-fifths rule) is a finding;
    metrics export the ``max_exported_slices`` largest slices of each spec
    (the rest folded into ``__other__``).
    """

    min_auc: float = field(metadata=rng(0.0, 1.0))
    min_accuracy: float = field(metadata=rng(0.0, 1.0))
    min_auc_improvement: float = field(metadata=rng(-1.0, 1.0))
    slices: Tuple[Tuple[str, ...], ...] = ()
    min_slice_rows: int = field(default=200, metadata=rng(2))
    max_slice_auc_drop: float = field(default=0.10, metadata=rng(0.0, 1.0))
    parity_band: Tuple[float, ...] = (0.8, 1.25)
    max_exported_slices: int = field(default=10, metadata=rng(1, 1000))


@dataclass(frozen=True)
class CanaryConfig:
    """When a canary is promoted (all must hold) or rolled back (any fails)."""

    auc_margin: float = field(metadata=rng(0.0, 1.0))  # canary AUC >= stable AUC - margin
    accuracy_margin: float = field(metadata=rng(0.0, 1.0))
    max_prediction_ks: float = field(metadata=rng(0.0, 1.0))  # shift between the two models' predictions
    max_latency_ratio: float = field(metadata=rng(1.0))  # canary p99 / stable p99, 1000-example batch
    min_rows: int = field(metadata=rng(1))  # fewer labelled rows: the canary stays pending
    confidence: float = field(metadata=rng(0.5, 0.999))  # of the paired bootstrap intervals
    # Live health from TF Serving's metrics in Prometheus (serving.prometheus_url),
    # over the canary's window since its push, both tracks side by side:
    min_live_requests: int = field(default=100, metadata=rng(1))  # fewer canary requests: pending
    max_live_error_increase: float = field(
        default=0.01, metadata=rng(0.0, 1.0)
    )  # canary error ratio - stable's
    max_live_p99_ratio: float = field(default=1.5, metadata=rng(1.0))  # canary p99 / stable p99 (live)
    live_window_hours: float = field(
        default=24.0, metadata=rng(0.1, 720.0)
    )  # judged: the last hours since the push


@dataclass(frozen=True)
class ServingConfig:
    """TF Serving model name; versions land in ``<root>/serving/<REGION>/<model_name>/``."""

    model_name: str
    canary_share: int = field(metadata=rng(0, 100))  # % of requests the mesh sends to the canary
    canary: CanaryConfig
    namespace: str  # Kubernetes namespace of the TF Serving Deployments (driftgate serving manifests)
    tfserving_image: str  # TF Serving image of those Deployments
    # The model base path as TF Serving sees it, written into models.config
    # ({region} and {model_name} are filled in); empty: the root's own
    # <root>/serving/<REGION>/<model_name> (the server reads the root directly).
    base_path: Optional[str] = None
    # Prometheus that scrapes both TF Serving tracks (the PodMonitor of
    # ``driftgate serving manifests``); empty: the canary is judged offline only.
    # A bearer token comes from DRIFTGATE_PROMETHEUS_TOKEN(_FILE), never from here.
    prometheus_url: Optional[str] = None
    max_p99_ms: float = field(default=200.0, metadata=rng(1.0))  # alert: a track's p99 above this for 5 min

    def problem(self) -> Optional[str]:
        try:
            self.served_base_path("R")
        except (KeyError, IndexError, ValueError) as exc:
            return (
                f"base_path {self.base_path!r}: only {{region}} and {{model_name}} can be filled in ({exc!r})"
            )
        if self.prometheus_url:
            from urllib.parse import urlsplit

            url = urlsplit(self.prometheus_url)
            if url.scheme not in ("http", "https") or not url.hostname:
                return f"prometheus_url {self.prometheus_url!r}: give an http(s) URL, e.g. http://prometheus-operated.monitoring:9090"
            if url.username or url.password:
                return (
                    "prometheus_url carries a user or password: remove it and mount a bearer token "
                    "(DRIFTGATE_PROMETHEUS_TOKEN_FILE, docs/serving-health.md)"
                )
        return None

    def served_base_path(self, region: str) -> str:
        """``base_path`` for ``region`` ("" when not configured: the root's own path)."""
        return self.base_path.format(region=region, model_name=self.model_name) if self.base_path else ""


# an RFC3339 time as the KFP API parses it (Go time.RFC3339): date, "T", time, and "Z" or an offset
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


def _rfc3339(text: str):
    """``text`` as an aware datetime, or None when it is not an RFC3339 time."""
    import datetime as dt

    if not _RFC3339.match(text):
        return None
    text = text.replace("Z", "+00:00")
    # Python 3.10's fromisoformat takes 3 or 6 fractional digits only: use 6
    text = re.sub(r"\.(\d+)", lambda m: "." + m.group(1)[:6].ljust(6, "0"), text)
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class ScheduleConfig:
    """The region's recurring run in Kubeflow Pipelines.

    ``max_concurrency`` is fixed at 1 (the key stays for compatibility): a
    second concurrent run of a region could only fail on the region's lease.
    ``catchup: true`` is the backfill path: after an outage or a pause the
    scheduler starts one run per missed tick, one after another, each taking
    the next unprocessed span. ``start`` / ``end`` (optional, quoted RFC3339
    times, e.g. "2026-01-01T00:00:00Z") bound the window the schedule fires in.
    """

    # KFP cron has six fields, seconds first: "0 0 6 * * *" = every day 06:00 UTC.
    cron: str
    max_concurrency: int = field(metadata=rng(1))  # only 1 is accepted (_check_semantics)
    catchup: bool = False
    enabled: bool = True
    start: Optional[str] = None
    end: Optional[str] = None

    def problem(self) -> Optional[str]:
        if len(self.cron.split()) != 6:
            return f"cron '{self.cron}' needs six fields (seconds minutes hours day month weekday)"
        times = {}
        for key in ("start", "end"):
            text = getattr(self, key)
            if text is not None:
                times[key] = _rfc3339(text)
                if times[key] is None:
                    return (
                        f"{key} '{text}' is not an RFC3339 time: write it quoted, with a time zone, "
                        f'e.g. "2026-01-01T00:00:00Z"'
                    )
        if len(times) == 2 and times["end"] <= times["start"]:
            return f"end '{self.end}' must be later than start '{self.start}'"
        return None


@dataclass(frozen=True)
class KubeflowConfig:
    """Where the compiled pipeline runs: image, bucket locations, schedule."""

    image: str  # pipeline image built from kubeflow/Dockerfile
    root: str  # state root in the cluster (bucket URI): <root>/<REGION>/..., <root>/serving/...
    data_root: str  # spans: <data_root>/<REGION>/span-<N>/...
    project_dir: str  # where the image holds this project (schemas/ is read from there)
    schedule: ScheduleConfig
    pushgateway: Optional[str] = None  # Pushgateway the run recorder pushes to (host:port or URL); null: none
    # Kubernetes Secret whose keys reach the run recorder as the alert secrets'
    # environment variables (compiled into the spec's kubernetes platform section)
    alerts_secret: str = "driftgate-alerts"
    # every task's log lines: json (one object per line, for Loki / Elasticsearch) or text
    log_format: str = field(default="json", metadata={"choices": ("json", "text")})


@dataclass(frozen=True)
class AlertsConfig:
    """Direct notifications (for teams without Alertmanager). Secrets never live
    here: the Slack webhook URL and the PagerDuty routing key come from the
    environment (``DRIFTGATE_SLACK_WEBHOOK_URL`` / ``DRIFTGATE_PAGERDUTY_ROUTING_KEY``)
    or from a file named by the same variable with a ``_FILE`` suffix."""

    enabled: bool
    warning: str = field(metadata={"choices": ("slack", "pagerduty", "none")})
    critical: str = field(metadata={"choices": ("slack", "pagerduty", "none")})
    cooldown_minutes: int = field(metadata=rng(0))
    escalate_after_spans: int = field(metadata=rng(1))
    retries: int = field(metadata=rng(0, 10))
    backoff_seconds: float = field(metadata=rng(0.0, 60.0))


@dataclass(frozen=True)
class DigestConfig:
    """``driftgate digest``: the week or month at a glance across regions,
    for stakeholders, and its weekly Kubernetes CronJob. One setting for
    every region: set it in defaults.yaml (the digest refuses regions that
    disagree)."""

    # IANA time zone of the period boundaries (weeks run Monday 00:00 to Monday
    # 00:00 there) and of the CronJob's schedule (its spec.timeZone)
    timezone: str = "UTC"
    # the CronJob's schedule: five cron fields in ``timezone`` (Mondays 08:00)
    cron: str = "0 8 * * 1"
    # a canary undecided for longer than this is listed under "needs a person"
    canary_pending_days: float = field(default=7.0, metadata=rng(0.0, lo_open=True))
    # the CronJob pod's Kubernetes service account (its bucket identity); null: the namespace's default
    service_account: Optional[str] = None

    def problem(self) -> Optional[str]:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return f"timezone '{self.timezone}' is not an IANA time zone (e.g. UTC, Europe/Berlin)"
        if len(self.cron.split()) != 5:
            return f"cron '{self.cron}' needs five fields (minute hour day month weekday), e.g. '0 8 * * 1'"
        return None
