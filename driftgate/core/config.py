"""Region configuration as strict data.

One YAML file a region (``pipelines/regions/<REGION>.yaml``) is merged over the
shared defaults (``pipelines/regions/defaults.yaml``) and loaded into frozen
dataclasses. The loader is strict: an unknown key, a missing key, a value of the
wrong type or out of range raises :class:`ConfigError` naming the file and the
dotted key, and saying what to do. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Tuple

from driftgate.core import storage
from driftgate.core.strict import ConfigError, build, merge, origins_of, read_yaml, rng

__all__ = ["ConfigError", "RegionConfig", "load_region_config"]

# the project root (a checkout, or site-packages when installed): pipelines/,
# schemas/ and trainer/ sit side by side under it
_PROJECT = Path(__file__).resolve().parents[2]
REGIONS_DIR = _PROJECT / "pipelines" / "regions"
DEFAULTS_FILE = "defaults.yaml"
_REGION_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")


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
    """

    min_auc: float = field(metadata=rng(0.0, 1.0))
    min_accuracy: float = field(metadata=rng(0.0, 1.0))
    min_auc_improvement: float = field(metadata=rng(-1.0, 1.0))


@dataclass(frozen=True)
class CanaryConfig:
    """When a canary is promoted (all must hold) or rolled back (any fails)."""

    auc_margin: float = field(metadata=rng(0.0, 1.0))  # canary AUC >= stable AUC - margin
    accuracy_margin: float = field(metadata=rng(0.0, 1.0))
    max_prediction_ks: float = field(metadata=rng(0.0, 1.0))  # shift between the two models' predictions
    max_latency_ratio: float = field(metadata=rng(1.0))  # canary p99 / stable p99, 1000-example batch
    min_rows: int = field(metadata=rng(1))  # fewer labelled rows: the canary stays pending
    confidence: float = field(metadata=rng(0.5, 0.999))  # of the paired bootstrap intervals


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

    def problem(self) -> Optional[str]:
        try:
            self.served_base_path("R")
        except (KeyError, IndexError, ValueError) as exc:
            return (
                f"base_path {self.base_path!r}: only {{region}} and {{model_name}} can be filled in ({exc!r})"
            )
        return None

    def served_base_path(self, region: str) -> str:
        """``base_path`` for ``region`` ("" when not configured: the root's own path)."""
        return self.base_path.format(region=region, model_name=self.model_name) if self.base_path else ""


@dataclass(frozen=True)
class Tier:
    """Effect-size thresholds of one drift test: at or above ``warning`` the
    feature drifts with severity warning, at or above ``critical`` critical."""

    warning: float = field(metadata=rng(0.0))
    critical: float = field(metadata=rng(0.0))

    def problem(self) -> Optional[str]:
        if self.warning > self.critical:
            return f"warning ({self.warning}) must not exceed critical ({self.critical})"
        return None

    def severity(self, value: Optional[float]) -> str:
        """``critical``, ``warning`` or ``none`` for a score (``none`` without one: None or NaN)."""
        from driftgate.core.vocabulary import CRITICAL, NONE, WARNING

        if value is None or value != value:
            return NONE
        return CRITICAL if value >= self.critical else WARNING if value >= self.warning else NONE


@dataclass(frozen=True)
class TestThresholds:
    """Thresholds per test. Numeric: ks (KS distance), wasserstein (W1 / baseline
    std), psi and js (on baseline-quantile bins). Categorical: chi2 (Cramér's V),
    psi, js, linf (largest frequency change)."""

    ks: Tier
    wasserstein: Tier
    psi: Tier
    js: Tier
    chi2: Tier
    linf: Tier


@dataclass(frozen=True)
class FeatureTestThresholds:
    """Per-feature overrides: only the tests named are overridden."""

    ks: Optional[Tier] = None
    wasserstein: Optional[Tier] = None
    psi: Optional[Tier] = None
    js: Optional[Tier] = None
    chi2: Optional[Tier] = None
    linf: Optional[Tier] = None


@dataclass(frozen=True)
class PValueConfig:
    """Optional p-value gate (KS, chi-square): a test counts only when its
    p-value survives Benjamini-Hochberg across features at ``alpha``."""

    enabled: bool
    alpha: float = field(metadata=rng(0.0, 1.0, lo_open=True))


@dataclass(frozen=True)
class GradualConfig:
    """Two-sided CUSUM over span-to-span mean shifts (in baseline std units):
    ``allowance`` is the shift per span tolerated, an alarm fires when the
    cumulative excess reaches ``threshold``. ``retrain``: whether a finding
    retrains (false: reported, exported and alerted only)."""

    allowance: float = field(metadata=rng(0.0))
    threshold: float = field(metadata=rng(0.0, lo_open=True))
    min_spans: int = field(metadata=rng(2))
    retrain: bool = True


@dataclass(frozen=True)
class CalibrationConfig:
    """History-calibrated drift thresholds: what is normal for this region.

    For each feature and test, the region's own span-to-span scores (the
    ``previous`` comparisons in its history) give a mean and a standard
    deviation; a score vs the training baseline above ``mean + k * std`` is a
    warning, above ``mean + critical_k * std`` critical. Until ``min_history``
    span-to-span comparisons exist, the fixed ``thresholds`` judge; with
    ``until_calibrated: hold`` that drift is reported but does not retrain on
    its own (the model-age cap and the serving model's quality still do).
    Calibrated drift retrains when at least ``min_features`` features reach
    ``retrain_on``, or one feature is critical (a break, not a season). Defaults chosen with ``driftgate backtest`` (README)."""

    enabled: bool = True
    k: float = field(default=1.5, metadata=rng(0.0))
    critical_k: float = field(default=3.0, metadata=rng(0.0))
    min_history: int = field(default=3, metadata=rng(2))
    min_features: int = field(default=3, metadata=rng(1))
    floor: float = field(
        default=0.25, metadata=rng(0.0, 1.0)
    )  # x the fixed threshold: the lowest calibrated one
    until_calibrated: str = field(default="hold", metadata={"choices": ("hold", "fixed")})

    def problem(self) -> Optional[str]:
        if self.k > self.critical_k:
            return f"k ({self.k}) must not exceed critical_k ({self.critical_k})"
        return None


@dataclass(frozen=True)
class DriftConfig:
    """How drift, skew and policy decide skip / retrain / block.

    Threshold precedence (first match wins): ``feature_thresholds.<feature>.<test>``
    in the region file, the same in defaults.yaml, ``thresholds.<test>`` in the
    region file, ``thresholds.<test>`` in defaults.yaml.
    """

    thresholds: TestThresholds
    feature_thresholds: Dict[str, FeatureTestThresholds]
    min_count: int = field(metadata=rng(1))
    quantile_buckets: int = field(metadata=rng(10, 1000))
    retrain_on: str = field(metadata={"choices": ("warning", "critical")})
    block_on_skew: str = field(metadata={"choices": ("warning", "critical", "never")})
    max_model_age_spans: int = field(metadata=rng(1))
    p_values: PValueConfig
    gradual: GradualConfig
    # Serving logs for skew, below the region's data folder ({SPAN} = span).
    serving_logs_pattern: str
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)


@dataclass(frozen=True)
class LabelsConfig:
    """When a span's labels are known: ``delay_spans`` spans after its rows
    arrive (0: with them). The serving model is judged on the newest span
    that has its labels."""

    delay_spans: int = field(default=0, metadata=rng(0, 24))


@dataclass(frozen=True)
class QualityConfig:
    """The serving model judged on the newest labelled span, against the
    reference it set when it was pushed (its AUC on its own span's eval split).

    ``degraded`` (retrains): the upper end of the AUC's bootstrap interval is
    more than ``auc_margin`` below the reference. Prediction drift (the
    serving model's predictions on the span vs on its training span, PSI) is
    reported, exported and alerted at ``prediction_psi`` and retrains only at
    ``retrain_on_prediction_drift`` (``never`` by default: the backtest showed
    no gain from it on the flights data)."""

    enabled: bool = True
    auc_margin: float = field(default=0.15, metadata=rng(0.0, 1.0))
    confidence: float = field(default=0.95, metadata=rng(0.5, 0.999))
    bootstrap_samples: int = field(default=200, metadata=rng(20, 10_000))
    min_rows: int = field(default=200, metadata=rng(1))
    prediction_psi: Tier = field(default_factory=lambda: Tier(0.10, 0.25))
    retrain_on_prediction_drift: str = field(
        default="never", metadata={"choices": ("warning", "critical", "never")}
    )


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
class RegionConfig:
    """Everything one region's pipeline needs, loaded from YAML."""

    region: str
    data: DataConfig
    features: FeaturesConfig
    schema: SchemaConfig
    anomalies: AnomalyConfig
    trainer: TrainerConfig
    evaluation: EvaluationConfig
    serving: ServingConfig
    drift: DriftConfig
    kubeflow: KubeflowConfig
    alerts: AlertsConfig
    beam_args: Tuple[str, ...]
    labels: LabelsConfig = field(default_factory=LabelsConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    source_file: str = field(default="", metadata={"derived": True})  # the region YAML it came from

    @property
    def pipeline_name(self) -> str:
        return f"driftgate-{self.region.lower()}"


# Keys that the loader fills itself rather than reading from YAML.


def project_root() -> Path:
    """The folder holding ``pipelines/``, ``schemas/`` and ``trainer/``."""
    return _PROJECT


def available_regions(regions_dir: Path = REGIONS_DIR) -> Tuple[str, ...]:
    """Region names with a YAML file in ``regions_dir``, sorted."""
    return tuple(sorted(p.stem for p in regions_dir.glob("*.yaml") if p.name != DEFAULTS_FILE))


def _check_semantics(cfg: RegionConfig, origin: dict) -> None:
    feats = cfg.features
    seen = {}
    for group in ("categorical", "numeric"):
        for name in getattr(feats, group):
            if name in seen:
                raise ConfigError(
                    f"{origin.get('features.' + group, '?')}: features.{group}: '{name}' is "
                    f"already listed in features.{seen[name]}; list each column once"
                )
            seen[name] = group
    if feats.label in seen:
        raise ConfigError(
            f"{origin.get('features.label', '?')}: features.label: '{feats.label}' is also a "
            f"model input (features.{seen[feats.label]}): remove it there, it would leak the label"
        )
    if not seen:
        raise ConfigError(f"{origin.get('features', '?')}: features: no model inputs listed")
    if "{SPAN}" not in cfg.data.span_pattern:
        raise ConfigError(
            f"{origin.get('data.span_pattern', '?')}: data.span_pattern: "
            f"'{cfg.data.span_pattern}' has no {{SPAN}} placeholder (e.g. 'span-{{SPAN}}/*.csv')"
        )
    for feature in cfg.drift.feature_thresholds:
        if feature not in seen:
            raise ConfigError(
                f"{origin.get('drift.feature_thresholds.' + feature, '?')}: drift.feature_thresholds.{feature}: "
                f"'{feature}' is not a model input (features.categorical / features.numeric)"
            )
    if "{SPAN}" not in cfg.drift.serving_logs_pattern:
        raise ConfigError(
            f"{origin.get('drift.serving_logs_pattern', '?')}: drift.serving_logs_pattern: needs a {{SPAN}} placeholder"
        )
    for i, units in enumerate(cfg.trainer.hidden_units):
        if units < 1:
            raise ConfigError(
                f"{origin.get('trainer.hidden_units', '?')}: trainer.hidden_units[{i}]: "
                f"{units} is out of range: must be >= 1"
            )
    concurrency = cfg.kubeflow.schedule.max_concurrency
    if concurrency != 1:
        raise ConfigError(
            f"{origin.get('kubeflow.schedule.max_concurrency', '?')}: kubeflow.schedule.max_concurrency: "
            f"{concurrency} is not allowed: must be 1 (a second concurrent run of region {cfg.region} would "
            f"only fail on the region's lease); to backfill missed ticks, set kubeflow.schedule.catchup: "
            f"true (one run per missed tick, each taking the next span)"
        )


def load_region_config_with_origins(
    region: str, regions_dir: Path = REGIONS_DIR
) -> Tuple[RegionConfig, Dict[str, str]]:
    """Loads ``<regions_dir>/<region>.yaml`` over ``<regions_dir>/defaults.yaml``
    (the project's ``pipelines/regions/defaults.yaml`` when the folder has none).

    Returns the config and, per dotted key, the file that set it. Raises ConfigError naming the file and key for anything unknown, missing,
    mistyped or out of range, and for an unknown region (listing the known ones).
    """
    regions_dir = Path(regions_dir)
    if not _REGION_NAME.match(region or ""):
        raise ConfigError(f"region '{region}': not a valid region name (letters, digits, _ or -)")
    path = regions_dir / f"{region}.yaml"
    if not path.is_file():
        known = ", ".join(available_regions(regions_dir)) or "none"
        raise ConfigError(
            f"unknown region '{region}': no file {path}. Known regions: {known}. "
            f"To add one, copy a region file to {path} and edit it."
        )
    defaults_path = regions_dir / DEFAULTS_FILE
    if not defaults_path.is_file():  # a folder with only region files inherits the project's defaults
        defaults_path = REGIONS_DIR / DEFAULTS_FILE
    defaults = read_yaml(defaults_path) if defaults_path.is_file() else {}
    own = read_yaml(path)
    merged, origin = merge(defaults, own, origins_of(defaults, str(defaults_path)), str(path))
    if "region" in merged and merged["region"] != region:
        raise ConfigError(
            f"{path}: region: '{merged['region']}' does not match the file name '{region}.yaml'"
        )
    merged["region"] = region
    origin.setdefault("region", str(path))
    origin["region"] = str(path)
    cfg = build(RegionConfig, merged, origin)
    cfg = dataclasses.replace(cfg, source_file=str(path))
    _check_semantics(cfg, origin)
    return cfg, origin


def load_region_config(region: str, regions_dir: Path = REGIONS_DIR) -> RegionConfig:
    """The region's config (see ``load_region_config_with_origins``)."""
    return load_region_config_with_origins(region, regions_dir)[0]


def drift_config_from_dict(data: dict, source: str = "drift_config") -> DriftConfig:
    """Rebuilds a DriftConfig from ``dataclasses.asdict`` output (how components
    receive it as a JSON execution parameter), with the same strict checks."""
    return build(DriftConfig, data, {"": source}, "drift.")


def alerts_config_from_dict(data: dict, source: str = "alerts_config") -> AlertsConfig:
    """Rebuilds an AlertsConfig from its ``asdict`` output (a component parameter)."""
    return build(AlertsConfig, data, {"": source}, "alerts.")


def quality_config_from_dict(data: dict, source: str = "quality_config") -> QualityConfig:
    """Rebuilds a QualityConfig from its ``asdict`` output (a component parameter)."""
    return build(QualityConfig, data, {"": source}, "quality.")


def canary_config_from_dict(data: dict, source: str = "canary_config") -> CanaryConfig:
    """Rebuilds a CanaryConfig from its ``asdict`` output (a component parameter)."""
    return build(CanaryConfig, data, {"": source}, "serving.canary.")


def region_data_dir(cfg: RegionConfig, data_override: Optional[str] = None) -> str:
    """The folder holding the region's spans.

    ``data_override`` (the CLI's ``--data DIR``) is a folder holding one
    sub-folder a region; otherwise ``data.location`` from the config, with a
    relative path taken from the project root.
    """
    if data_override:
        return str(Path(data_override).expanduser().resolve() / cfg.region)
    location = cfg.data.location.format(region=cfg.region)
    if storage.is_remote(location) or Path(location).is_absolute():
        return location
    return str(project_root() / location)


def schema_file(cfg: RegionConfig, schemas_dir: Optional[Path] = None) -> Path:
    """Path of the pinned schema: ``schemas/<REGION>/v<N>/schema.pbtxt``."""
    base = Path(schemas_dir) if schemas_dir else project_root() / "schemas"
    return base / cfg.region / f"v{cfg.schema.version}" / "schema.pbtxt"
