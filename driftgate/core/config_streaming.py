"""The streaming sections of a region's config (``driftgate.core.config``):
where a Kafka-sourced region's records arrive (``kafka``), how
``driftgate land`` turns them into sealed spans (``land``) and how
``driftgate stream`` watches them for drift (``stream``). Strict frozen
dataclasses; the loader is in ``driftgate.core.config``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple

from driftgate.core.strict import rng

GRAINS = ("hourly", "daily", "monthly")


@dataclass(frozen=True)
class KafkaConfig:
    """Where a Kafka-sourced region's records arrive (``data.source: kafka``).

    Records are UTF-8 JSON objects keyed by the region's column names. The
    event time comes from ``event_time_field`` (ISO-8601, or epoch
    milliseconds), else from the record's Kafka timestamp; never from the
    wall clock. Credentials (``security.protocol``, ``sasl.*``, ``ssl.*``)
    come only from ``settings_file``: a mounted Secret of librdkafka
    ``key=value`` lines, read at start and never logged; the environment
    variable ``DRIFTGATE_KAFKA_SETTINGS`` names it when the spec does not."""

    bootstrap: str = "127.0.0.1:9092"
    topic_template: str = "driftgate.{region}.records"
    dlq_template: str = "driftgate.{region}.dlq"  # poison records, with their error
    group_template: str = "driftgate-land-{region}"  # offsets committed for lag dashboards only
    event_time_field: str = "event_time"
    schema_header: str = "driftgate-schema-version"  # a record naming another version is refused
    settings_file: Optional[str] = None

    def topic(self, region: str) -> str:
        return self.topic_template.format(region=region)

    def dlq(self, region: str) -> str:
        return self.dlq_template.format(region=region)

    def group(self, region: str) -> str:
        return self.group_template.format(region=region)


@dataclass(frozen=True)
class LandConfig:
    """How ``driftgate land`` writes a Kafka-sourced region's spans.

    ``span``: the event-time grain of a span, numbered as TFX's date specs do
    (``daily``: days since 1970-01-01 UTC, TFX's ``date_to_span_number``;
    ``hourly``: hours since then; ``monthly``: months since January 1970). A
    span is sealed (``_SUCCESS``, written last) once the event-time watermark
    (the slowest active partition's newest event less ``allowed_lateness_s``)
    passes its end; a partition silent for ``idle_partition_s`` stops holding
    the watermark back, and when all are silent the watermark moves on with the
    wall clock, so the last span of a quiet topic seals too. Records of a sealed
    span are late: ``quarantine`` writes them under ``_late/`` (counted, never
    into the sealed span), ``drop`` counts them only. Files are written at least
    every ``checkpoint_s`` seconds or ``checkpoint_records`` records.

    On Kubernetes (``driftgate land --manifests``) the lander writes straight
    into ``kubeflow.data_root``, the bucket the pipelines read, with the pod's
    identity (``service_account``: a Kubernetes service account bound to a
    cloud one, e.g. GKE Workload Identity) or a key from the Secret
    ``credentials_secret`` (key ``key.json``, mounted read-only); with
    ``volume_claim`` it lands onto that PersistentVolumeClaim instead."""

    span: str = field(default="daily", metadata={"choices": GRAINS})
    allowed_lateness_s: float = field(default=600.0, metadata=rng(0.0))
    idle_partition_s: float = field(default=60.0, metadata=rng(0.0))
    checkpoint_s: float = field(default=10.0, metadata=rng(0.0, lo_open=True))
    checkpoint_records: int = field(default=100_000, metadata=rng(1))
    late_policy: str = field(default="quarantine", metadata={"choices": ("quarantine", "drop")})
    service_account: Optional[str] = None  # the lander pod's service account (its cloud identity)
    credentials_secret: Optional[str] = None  # Secret holding key.json, mounted; null: the pod's identity
    volume_claim: Optional[str] = None  # land onto this PersistentVolumeClaim, not kubeflow.data_root


@dataclass(frozen=True)
class StreamConfig:
    """How ``driftgate stream`` watches a Kafka-sourced region's topic for drift.

        Records are counted into panes of ``pane_s`` seconds of event time; at
        every pane boundary each sliding window (``windows_s``, multiples of the
        pane) is compared with the training baseline of the serving model, with
        the batch gate's tests, once it holds ``min_window_records`` records. A
        window is an event when a score passes its threshold calibrated from the
        baseline statistics so that noise alone raises at most one event per
        ``ert_days`` in the whole region (every feature, test and window
        counted). Its severity is the region's drift tier of that test (warning
        / critical); a two-sided CUSUM of each numeric feature's pane means
        (baseline standard deviations, ``cusum_allowance`` per pane beyond 3 standard errors)
        raises a critical one past ``cusum_threshold``. An episode clears after
        ``clear_windows`` evaluations without an event. A pane closes when the
        stream's event-time watermark (newest event less ``allowed_lateness_s``)
        passes its end; state and offsets are checkpointed every ``checkpoint_s``.
        The newest ``keep_transitions`` episode transitions (open, escalate,
        clear) are kept for the command's result; older ones were sent
        already and are only counted (``transitions_dropped``).
    With ``prediction_field`` set (records of a serving-log topic carrying the
    served probability), the predictions are judged too, against the serving
    model's own predictions on its training span (the histogram its release
    recorded), with the same tests and budget."""

    pane_s: float = field(default=10.0, metadata=rng(1.0))
    windows_s: Tuple[float, ...] = (30.0, 300.0, 3600.0)
    min_window_records: int = field(default=200, metadata=rng(10))
    ert_days: float = field(default=30.0, metadata=rng(0.01))
    allowed_lateness_s: float = field(default=2.0, metadata=rng(0.0))
    idle_partition_s: float = field(default=30.0, metadata=rng(0.0))
    clear_windows: int = field(default=6, metadata=rng(1))
    cusum_allowance: float = field(default=0.25, metadata=rng(0.0))
    cusum_threshold: float = field(default=3.0, metadata=rng(0.0, lo_open=True))
    checkpoint_s: float = field(default=30.0, metadata=rng(0.0, lo_open=True))
    max_new_categories: int = field(default=50, metadata=rng(0))
    # episode transitions the result keeps (the newest); older ones, already sent, are counted as dropped
    keep_transitions: int = field(default=1000, metadata=rng(0))
    prediction_field: Optional[str] = None  # records carrying the served prediction (a serving-log topic)
    group_template: str = "driftgate-stream-{region}"

    def group(self, region: str) -> str:
        return self.group_template.format(region=region)

    def window_panes(self) -> Tuple[int, ...]:
        """Each window's length in panes."""
        return tuple(max(1, int(round(w / self.pane_s))) for w in self.windows_s)
