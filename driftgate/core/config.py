"""Region configuration as strict data.

One YAML file a region (``pipelines/regions/<REGION>.yaml``) is merged over the
shared defaults (``pipelines/regions/defaults.yaml``) and loaded into frozen
dataclasses. The loader is strict: an unknown key, a missing key, a value of the
wrong type or out of range raises :class:`ConfigError` naming the file and the
dotted key, and saying what to do. Nothing here imports TensorFlow.

This module holds the whole-region dataclass, the loader and the checks that
span sections; the sections are in ``config_pipeline`` (data to alerts) and
``config_drift`` (drift, gate, quality), and importable from here.

Docs: ``docs/configuration-reference.md``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Tuple

from driftgate.core import storage

# the sections, importable from here as from their modules
from driftgate.core.config_drift import (  # noqa: F401
    CalibrationConfig,
    DriftConfig,
    FeatureTestThresholds,
    GradualConfig,
    LabelsConfig,
    PValueConfig,
    QualityConfig,
    TestThresholds,
    Tier,
)
from driftgate.core.config_pipeline import (  # noqa: F401
    AlertsConfig,
    AnomalyConfig,
    CanaryConfig,
    DataConfig,
    DigestConfig,
    EvaluationConfig,
    FeaturesConfig,
    KubeflowConfig,
    ScheduleConfig,
    SchemaConfig,
    ServingConfig,
    TrainerConfig,
)
from driftgate.core.config_streaming import KafkaConfig, LandConfig, StreamConfig  # noqa: F401
from driftgate.core.strict import ConfigError, build, merge, origins_of, read_yaml

__all__ = ["ConfigError", "RegionConfig", "load_region_config"]

# the project root (a checkout, or site-packages when installed): pipelines/,
# schemas/ and trainer/ sit side by side under it
_PROJECT = Path(__file__).resolve().parents[2]
REGIONS_DIR = _PROJECT / "pipelines" / "regions"
DEFAULTS_FILE = "defaults.yaml"
_REGION_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")


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
    kafka: KafkaConfig = field(default_factory=KafkaConfig)
    land: LandConfig = field(default_factory=LandConfig)
    stream: StreamConfig = field(default_factory=StreamConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)  # driftgate digest and its CronJob
    # fast: ingest, statistics and the Evaluator in process, a record batch at
    # a time (pyarrow, TFDV's generators, TFMA's formulas and validator; the
    # same artifacts); stock: TFX's Beam executors. A --runner other than the
    # DirectRunner in beam_args gets stock ones.
    executors: str = field(default="fast", metadata={"choices": ("fast", "stock")})
    source_file: str = field(default="", metadata={"derived": True})  # the region YAML it came from

    @property
    def fast_executors(self) -> bool:
        """Whether ingest and statistics run in process (``executors``, and a
        local Beam runner)."""
        return self.executors == "fast" and local_beam_runner(self.beam_args)

    @property
    def pipeline_name(self) -> str:
        return f"driftgate-{self.region.lower()}"


def local_beam_runner(beam_args) -> bool:
    """Whether Beam flags leave a pipeline on the local DirectRunner (no
    ``--runner=`` or a local one): the fast executors run only then."""
    runner = [a.split("=", 1)[1] for a in beam_args or () if a.startswith("--runner=")]
    return not runner or runner[-1] in ("DirectRunner", "direct", "InteractiveRunner")


# Keys that the loader fills itself rather than reading from YAML.


def project_root() -> Path:
    """The folder holding ``pipelines/``, ``schemas/`` and ``trainer/``."""
    return _PROJECT


def available_regions(regions_dir: Path = REGIONS_DIR) -> Tuple[str, ...]:
    """Region names with a YAML file in ``regions_dir``, sorted."""
    return tuple(sorted(p.stem for p in regions_dir.glob("*.yaml") if p.name != DEFAULTS_FILE))


def _check_slices(ev, inputs: dict, origin: dict) -> None:
    """``evaluation.slices`` name model inputs, each spec once, not empty;
    ``evaluation.parity_band`` is [low, high] around 1."""
    where = origin.get("evaluation.slices", "?")
    specs = set()
    for i, spec in enumerate(ev.slices):
        if not spec:
            raise ConfigError(f"{where}: evaluation.slices[{i}]: empty; the whole span is always evaluated")
        for name in spec:
            if name not in inputs:
                raise ConfigError(
                    f"{where}: evaluation.slices[{i}]: '{name}' is not a model input "
                    f"(features.categorical / features.numeric); slice by a column the examples carry"
                )
        if tuple(sorted(spec)) in specs:
            raise ConfigError(f"{where}: evaluation.slices[{i}]: {list(spec)} is listed twice")
        specs.add(tuple(sorted(spec)))
    band = ev.parity_band
    if len(band) != 2 or not (0 < band[0] < 1 < band[1]):
        raise ConfigError(
            f"{origin.get('evaluation.parity_band', '?')}: evaluation.parity_band: {list(band)} must be "
            f"[low, high] with 0 < low < 1 < high (the four-fifths rule: [0.8, 1.25])"
        )


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
    _check_slices(cfg.evaluation, seen, origin)
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
        if storage.is_remote(data_override):  # a bucket URI, kept as it is
            return storage.join(data_override, cfg.region)
        return str(Path(data_override).expanduser().resolve() / cfg.region)
    location = cfg.data.location.format(region=cfg.region)
    if storage.is_remote(location) or Path(location).is_absolute():
        return location
    return str(project_root() / location)


def schema_file(cfg: RegionConfig, schemas_dir: Optional[Path] = None) -> Path:
    """Path of the pinned schema: ``schemas/<REGION>/v<N>/schema.pbtxt``."""
    base = Path(schemas_dir) if schemas_dir else project_root() / "schemas"
    return base / cfg.region / f"v{cfg.schema.version}" / "schema.pbtxt"


def config_hash(cfg: RegionConfig) -> str:
    """The first 12 hex digits of the SHA-256 of the config's values (keys
    sorted; where it was read from left out): what the audit trail names as
    the config in force."""
    import hashlib
    import json
    from dataclasses import asdict

    values = asdict(cfg)
    values.pop("source_file", None)
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:12]
