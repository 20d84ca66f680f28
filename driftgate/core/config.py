"""Region configuration as strict data.

One YAML file a region (``pipelines/regions/<REGION>.yaml``) is merged over the
shared defaults (``pipelines/regions/defaults.yaml``) and loaded into frozen
dataclasses. The loader is strict: an unknown key, a missing key, a value of the
wrong type or out of range raises :class:`ConfigError` naming the file and the
dotted key, and saying what to do. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

import yaml

from driftgate.core import storage

# the project root (a checkout, or site-packages when installed): pipelines/,
# schemas/ and trainer/ sit side by side under it
_PROJECT = Path(__file__).resolve().parents[2]
REGIONS_DIR = _PROJECT / "pipelines" / "regions"
DEFAULTS_FILE = "defaults.yaml"
_REGION_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")


class ConfigError(ValueError):
    """A region configuration is unusable; the message names file and key."""


def _rng(lo=None, hi=None, lo_open=False):
    return {"min": lo, "max": hi, "lo_open": lo_open}


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
    train_buckets: int = field(metadata=_rng(1, 100))
    eval_buckets: int = field(metadata=_rng(1, 100))


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

    version: int = field(metadata=_rng(1))


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

    train_steps: int = field(metadata=_rng(1, 1_000_000))
    eval_steps: int = field(metadata=_rng(1, 1_000_000))
    batch_size: int = field(metadata=_rng(1, 65536))
    learning_rate: float = field(metadata=_rng(0.0, 1.0, lo_open=True))
    hidden_units: Tuple[int, ...]
    max_vocab: int = field(metadata=_rng(1, 100_000))
    hash_buckets: int = field(metadata=_rng(1, 1_000_000))
    seed: int = field(metadata=_rng(0))


@dataclass(frozen=True)
class EvaluationConfig:
    """Blessing thresholds for the Evaluator.

    A candidate is blessed when its AUC is at least ``min_auc`` and its
    accuracy at least ``min_accuracy`` (value thresholds), and, when a model
    already serves in the region, its AUC beats the serving model's on the same
    eval data by more than ``min_auc_improvement`` (change threshold; may be
    negative to tolerate a small loss).
    """

    min_auc: float = field(metadata=_rng(0.0, 1.0))
    min_accuracy: float = field(metadata=_rng(0.0, 1.0))
    min_auc_improvement: float = field(metadata=_rng(-1.0, 1.0))


@dataclass(frozen=True)
class CanaryConfig:
    """When a canary is promoted (all must hold) or rolled back (any fails)."""

    auc_margin: float = field(metadata=_rng(0.0, 1.0))  # canary AUC >= stable AUC - margin
    accuracy_margin: float = field(metadata=_rng(0.0, 1.0))
    max_prediction_ks: float = field(metadata=_rng(0.0, 1.0))  # shift between the two models' predictions
    max_latency_ratio: float = field(metadata=_rng(1.0))  # canary p99 / stable p99, 1000-example batch


@dataclass(frozen=True)
class ServingConfig:
    """TF Serving model name; versions land in ``<root>/serving/<REGION>/<model_name>/``."""

    model_name: str
    canary_share: int = field(metadata=_rng(0, 100))  # % of requests the mesh sends to the canary
    canary: CanaryConfig


@dataclass(frozen=True)
class Tier:
    """Effect-size thresholds of one drift test: at or above ``warning`` the
    feature drifts with severity warning, at or above ``critical`` critical."""

    warning: float = field(metadata=_rng(0.0))
    critical: float = field(metadata=_rng(0.0))

    def problem(self) -> Optional[str]:
        if self.warning > self.critical:
            return f"warning ({self.warning}) must not exceed critical ({self.critical})"
        return None


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
    alpha: float = field(metadata=_rng(0.0, 1.0, lo_open=True))


@dataclass(frozen=True)
class GradualConfig:
    """Two-sided CUSUM over span-to-span mean shifts (in baseline std units):
    ``allowance`` is the shift per span tolerated, an alarm fires when the
    cumulative excess reaches ``threshold``."""

    allowance: float = field(metadata=_rng(0.0))
    threshold: float = field(metadata=_rng(0.0, lo_open=True))
    min_spans: int = field(metadata=_rng(2))


@dataclass(frozen=True)
class DriftConfig:
    """How drift, skew and policy decide skip / retrain / block.

    Threshold precedence (first match wins): ``feature_thresholds.<feature>.<test>``
    in the region file, the same in defaults.yaml, ``thresholds.<test>`` in the
    region file, ``thresholds.<test>`` in defaults.yaml.
    """

    thresholds: TestThresholds
    feature_thresholds: Dict[str, FeatureTestThresholds]
    min_count: int = field(metadata=_rng(1))
    quantile_buckets: int = field(metadata=_rng(10, 1000))
    retrain_on: str = field(metadata={"choices": ("warning", "critical")})
    block_on_skew: str = field(metadata={"choices": ("warning", "critical", "never")})
    max_model_age_spans: int = field(metadata=_rng(1))
    p_values: PValueConfig
    gradual: GradualConfig
    # Serving logs for skew, below the region's data folder ({SPAN} = span).
    serving_logs_pattern: str


@dataclass(frozen=True)
class ScheduleConfig:
    """The region's recurring run in Kubeflow Pipelines."""

    # KFP cron has six fields, seconds first: "0 0 6 * * *" = every day 06:00 UTC.
    cron: str
    max_concurrency: int = field(metadata=_rng(1, 10))
    catchup: bool = False
    enabled: bool = True

    def problem(self) -> Optional[str]:
        if len(self.cron.split()) != 6:
            return f"cron '{self.cron}' needs six fields (seconds minutes hours day month weekday)"
        return None


@dataclass(frozen=True)
class KubeflowConfig:
    """Where the compiled pipeline runs: image, bucket locations, schedule."""

    image: str  # pipeline image built from kubeflow/Dockerfile
    root: str  # state root in the cluster (bucket URI): <root>/<REGION>/..., <root>/serving/...
    data_root: str  # spans: <data_root>/<REGION>/span-<N>/...
    project_dir: str  # where the image holds this project (schemas/ is read from there)
    schedule: ScheduleConfig


@dataclass(frozen=True)
class AlertsConfig:
    """Direct notifications (for teams without Alertmanager). Secrets never live
    here: the Slack webhook URL and the PagerDuty routing key come from the
    environment (``DRIFTGATE_SLACK_WEBHOOK_URL`` / ``DRIFTGATE_PAGERDUTY_ROUTING_KEY``)
    or from a file named by the same variable with a ``_FILE`` suffix."""

    enabled: bool
    warning: str = field(metadata={"choices": ("slack", "pagerduty", "none")})
    critical: str = field(metadata={"choices": ("slack", "pagerduty", "none")})
    cooldown_minutes: int = field(metadata=_rng(0))
    escalate_after_spans: int = field(metadata=_rng(1))
    retries: int = field(metadata=_rng(0, 10))
    backoff_seconds: float = field(metadata=_rng(0.0, 60.0))


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
    source_file: str = ""  # filled by the loader: the region YAML it came from

    @property
    def pipeline_name(self) -> str:
        return f"driftgate-{self.region.lower()}"


# Keys that the loader fills itself rather than reading from YAML.
_DERIVED = {"source_file"}


def project_root() -> Path:
    """The folder holding ``pipelines/``, ``schemas/`` and ``trainer/``."""
    return _PROJECT


def available_regions(regions_dir: Path = REGIONS_DIR) -> Tuple[str, ...]:
    """Region names with a YAML file in ``regions_dir``, sorted."""
    return tuple(sorted(p.stem for p in regions_dir.glob("*.yaml") if p.name != DEFAULTS_FILE))


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of keys, got {type(data).__name__}")
    return data


def _merge(base: dict, over: dict, base_src: dict, over_file: str, prefix: str = "") -> tuple:
    """Deep-merges ``over`` into ``base``; returns (merged, origin) where origin maps
    each dotted key to the file that set it (for error messages)."""
    merged = dict(base)
    origin = dict(base_src)
    for key, value in over.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            sub, sub_origin = _merge(merged[key], value, origin, over_file, dotted + ".")
            merged[key] = sub
            origin.update(sub_origin)
        else:
            merged[key] = value
        origin[dotted] = over_file
    return merged, origin


def _origins_of(data: dict, file: str, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        out[f"{prefix}{key}"] = file
        if isinstance(value, dict):
            out.update(_origins_of(value, file, f"{prefix}{key}."))
    return out


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, dotted: str, origin: dict, meta: Mapping) -> Any:
    """Checks ``value`` against type ``tp``; returns it in canonical form
    (tuples for lists, dicts for mappings, dataclasses built recursively)."""
    where = origin.get(dotted) or origin.get(dotted.split("[")[0].rsplit(".", 1)[0], "?")
    kind = typing.get_origin(tp)
    if kind is typing.Union:  # Optional[...]
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _convert(value, args[0], dotted, origin, meta)
    if kind in (tuple, Tuple):
        item_tp = typing.get_args(tp)[0]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: {dotted}: expected a list of {_type_name(item_tp)}, got {value!r}")
        return tuple(_convert(v, item_tp, f"{dotted}[{i}]", origin, meta) for i, v in enumerate(value))
    if kind in (dict, Dict, collections.abc.Mapping):
        _, value_tp = typing.get_args(tp)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: {dotted}: expected a mapping, got {value!r}")
        return {
            str(k): _convert(v, value_tp, f"{dotted}.{k}", origin, meta) for k, v in sorted(value.items())
        }
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: {dotted}: expected a mapping, got {value!r}")
        return _build(tp, value, origin, dotted + ".")
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: {dotted}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: {dotted}: expected a whole number, got {value!r}")
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: {dotted}: expected a number, got {value!r}")
        value = float(value)
    elif tp is str:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: {dotted}: expected a non-empty string, got {value!r}")
        choices = meta.get("choices")
        if choices and value not in choices:
            raise ConfigError(f"{where}: {dotted}: {value!r} is not one of: {', '.join(choices)}")
        return value
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and (value < lo or (meta.get("lo_open") and value == lo)):
        op = ">" if meta.get("lo_open") else ">="
        raise ConfigError(f"{where}: {dotted}: {value!r} is out of range: must be {op} {lo}")
    if hi is not None and value > hi:
        raise ConfigError(f"{where}: {dotted}: {value!r} is out of range: must be <= {hi}")
    return value


def _build(cls: type, data: dict, origin: dict, prefix: str = "") -> Any:
    """Builds dataclass ``cls`` from ``data``: unknown keys, missing keys (without
    a default), wrong types and out-of-range values raise ConfigError."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in _DERIVED}
    for key in data:
        if key not in fields:
            dotted = f"{prefix}{key}"
            close = [k for k in fields if k.replace("_", "") == str(key).replace("_", "").lower()]
            close = close or difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.8)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            raise ConfigError(
                f"{origin.get(dotted, '?')}: unknown key '{dotted}'{hint}; allowed here: {', '.join(sorted(fields))}"
            )
    kwargs = {}
    for name, f in fields.items():
        dotted = f"{prefix}{name}"
        if name not in data:
            if f.default is not dataclasses.MISSING:
                continue
            parent = prefix.rstrip(".")
            where = (origin.get(parent) if parent else None) or origin.get("region", "?")
            raise ConfigError(
                f"{where}: missing key '{dotted}': set it in the region file or in {DEFAULTS_FILE}"
            )
        kwargs[name] = _convert(data[name], hints[name], dotted, origin, f.metadata)
    obj = cls(**kwargs)
    problem = obj.problem() if hasattr(obj, "problem") else None
    if problem:
        parent = prefix.rstrip(".")
        raise ConfigError(f"{origin.get(parent, '?')}: {parent}: {problem}")
    return obj


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


def load_region_config(region: str, regions_dir: Path = REGIONS_DIR) -> RegionConfig:
    """Loads ``<regions_dir>/<region>.yaml`` over ``<regions_dir>/defaults.yaml``.

    Raises ConfigError naming the file and key for anything unknown, missing,
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
    defaults = _read_yaml(defaults_path) if defaults_path.is_file() else {}
    own = _read_yaml(path)
    merged, origin = _merge(defaults, own, _origins_of(defaults, str(defaults_path)), str(path))
    if "region" in merged and merged["region"] != region:
        raise ConfigError(
            f"{path}: region: '{merged['region']}' does not match the file name '{region}.yaml'"
        )
    merged["region"] = region
    origin.setdefault("region", str(path))
    origin["region"] = str(path)
    cfg = _build(RegionConfig, merged, origin)
    cfg = dataclasses.replace(cfg, source_file=str(path))
    _check_semantics(cfg, origin)
    return cfg


def drift_config_from_dict(data: dict, source: str = "drift_config") -> DriftConfig:
    """Rebuilds a DriftConfig from ``dataclasses.asdict`` output (how components
    receive it as a JSON execution parameter), with the same strict checks."""
    return _build(DriftConfig, data, {"": source}, "drift.")


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
