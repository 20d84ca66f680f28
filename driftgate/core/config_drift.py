"""The drift, gate and quality sections of a region's config
(``driftgate.core.config``): severity tiers, per-test thresholds, p-values,
gradual drift, calibration, labels and the serving model's quality check.
Strict frozen dataclasses; the loader is in ``driftgate.core.config``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional

from driftgate.core.strict import rng


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
class IntegrityConfig:
    """Data integrity rates per feature and span against the serving model's
    training span (``components.drift.integrity``): missing, outside the
    training range, unseen categories. A rate above ``max(floor, mean + k
    std)`` of the region's own earlier spans (``floor`` until ``min_history``
    are known) is reported, exported and alerted as a warning; it never
    blocks (blocking stays with the schema's domains and constraints)."""

    enabled: bool = True
    floor: float = field(default=0.01, metadata=rng(0.0, 1.0))
    k: float = field(default=3.0, metadata=rng(0.0))
    min_history: int = field(default=3, metadata=rng(1))


@dataclass(frozen=True)
class NoiseConfig:
    """Sample size in the thresholds (``components.drift.noise``): each test's
    score between two samples of the baseline's own distribution at the
    comparison's row counts, by a parametric bootstrap of ``draws`` pairs. No
    threshold, fixed or calibrated, lies within ``z`` standard deviations of
    that noise (a small span does not alarm on chance); calibrated thresholds
    carry the noise at the span's size, not at the history's (a large span
    does not hide a break behind the noise of smaller ones)."""

    enabled: bool = True
    z: float = field(default=3.0, metadata=rng(0.0))
    draws: int = field(default=100, metadata=rng(20, 10000))


@dataclass(frozen=True)
class CalibrationConfig:
    """History-calibrated drift thresholds: what is normal for this region.

    For each feature and test, the region's own span-to-span scores (the
    ``previous`` comparisons in its history) give a mean and a standard
    deviation; a score vs the training baseline above ``mean + k * std`` is a
    warning, above ``mean + critical_k * std`` critical. Until ``min_history``
    span-to-span comparisons exist, the fixed ``thresholds`` judge; with
    ``until_calibrated: hold`` that drift is reported but does not retrain on
    its own (the model-age cap and the serving model's quality still do);
    ``certain`` (default) holds too, except on a certain and large shift: the
    serving model's predictions drift critically, share at most
    ``certain_overlap`` of their histogram with its training span's, and its
    AUC interval lies wholly below its reference
    (``components.gate.decision.certain_shift``); ``fixed`` retrains on it.
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
    until_calibrated: str = field(default="certain", metadata={"choices": ("hold", "certain", "fixed")})
    # until_calibrated: certain: the largest share of prediction mass the span
    # may still have in common with the training span (1.0: any critical PSI)
    certain_overlap: float = field(default=0.5, metadata=rng(0.0, 1.0))

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
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    integrity: IntegrityConfig = field(default_factory=IntegrityConfig)


@dataclass(frozen=True)
class LabelsConfig:
    """When a span's labels are known: ``delay_spans`` spans after its rows
    arrive (0: with them). The serving model is judged on the newest span
    that has its labels."""

    delay_spans: int = field(default=0, metadata=rng(0, 24))


@dataclass(frozen=True)
class ImportanceConfig:
    """Which features the model relies on (``components.quality.importance``):
    permutation importance on AUC (the AUC lost when one feature's values are
    shuffled across ``max_rows`` sampled rows), measured at push on the
    candidate's eval split and on each labelled span for the serving model;
    the two rankings compared by nDCG (SageMaker Clarify's rule), a drop
    below ``ndcg_alert`` reported and alerted. ``retrain_above`` > 0 turns on
    the gate rule ``importance_drift``: drift against the training baseline
    weighted by the push-time importance (each feature's worst score over its
    warning threshold) above this value retrains; 0 (default): reported only,
    as the backtest chose (docs/backtest.md)."""

    enabled: bool = True
    max_rows: int = field(default=2000, metadata=rng(100, 1_000_000))
    ndcg_alert: float = field(default=0.9, metadata=rng(0.0, 1.0))
    retrain_above: float = field(default=0.0, metadata=rng(0.0))


@dataclass(frozen=True)
class EstimateConfig:
    """The serving model's AUC and accuracy estimated from its scores alone
    (``components.quality.estimate``, CBPE: an isotonic calibration fitted at
    push on its own eval split) on every span, beside the realised values
    when the labels arrive. Reported only: on the flights backtest it is no
    closer to the realised AUC than the last realised one (docs/backtest.md)."""

    enabled: bool = True
    samples: int = field(default=200, metadata=rng(0, 10_000))


@dataclass(frozen=True)
class ChallengerConfig:
    """Staleness on the same rows: a challenger fitted on the judged span's
    train split is scored beside the serving model on its eval split
    (``components.quality.challenger``). The serving model's advantage over
    it (AUC difference) is measured at push and again on each labelled span;
    the model is *stale* when the whole paired-bootstrap interval of the
    advantage lost since push lies above ``margin``. Measured and reported
    (decision sentence, report, metrics) when ``enabled``; it retrains only
    with ``retrain: true`` (default false: on the flights backtest every
    margin that fires costs LGA more than it gains: README)."""

    enabled: bool = True
    retrain: bool = False
    margin: float = field(default=0.10, metadata=rng(-1.0, 1.0))


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
    auc_margin: float = field(default=0.20, metadata=rng(0.0, 1.0))
    confidence: float = field(default=0.95, metadata=rng(0.5, 0.999))
    bootstrap_samples: int = field(default=200, metadata=rng(20, 10_000))
    min_rows: int = field(default=200, metadata=rng(1))
    prediction_psi: Tier = field(default_factory=lambda: Tier(0.10, 0.25))
    retrain_on_prediction_drift: str = field(
        default="never", metadata={"choices": ("warning", "critical", "never")}
    )
    challenger: ChallengerConfig = field(default_factory=ChallengerConfig)
    # a slice of evaluation.slices whose AUC fell more than auc_margin below its AUC at push:
    # reported always; retrains only when true (the backtest chose: docs/model-quality.md)
    retrain_on_slices: bool = False
    importance: ImportanceConfig = field(default_factory=ImportanceConfig)
    estimate: EstimateConfig = field(default_factory=EstimateConfig)
