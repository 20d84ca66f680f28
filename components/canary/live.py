"""The canary's live health: both TF Serving tracks over the canary's window in
Prometheus, judged side by side, and combined with the offline judgement.

Kayenta and Flagger judge a canary on the live metrics of both tracks over its
window; so does this, beside the labelled-span judgement of ``judgement.py``.
Over ``[since, until]`` (since the canary's push, after TF Serving's config
poll, and at most the last ``live_window_hours``) each track's requests, non-``OK`` requests and p99 latency come from
TF Serving's own metrics (``serving/health.py``). Then:

- ``pending``  the canary (or stable) served fewer than ``min_live_requests``;
- ``rollback`` the canary's error ratio is above stable's + ``max_live_error_increase``
  with evidence (the Wilson interval's lower bound at ``confidence``), or its p99
  is above ``max_live_p99_ratio`` x stable's;
- ``promote``  neither, and the error ratio's upper bound is within the margin;
  an error ratio in between keeps it ``pending`` (inconclusive).

Without ``serving.prometheus_url`` the live part is ``not_configured`` and the
verdict says it is offline only; a Prometheus that cannot answer keeps the
canary pending (a canary is never promoted on a check that could not run).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional

from driftgate.core.secrets import secret
from driftgate.core.vocabulary import PENDING, PROMOTE, ROLLBACK
from serving import health

NOT_CONFIGURED, UNAVAILABLE = "not_configured", "unavailable"
POLL_WAIT_S = 60  # TF Serving re-reads its config this often (--model_config_file_poll_wait_seconds)


@dataclass(frozen=True)
class LiveHealth:
    verdict: str  # promote | rollback | pending | not_configured | unavailable
    sentence: str
    since: Optional[float] = None
    until: Optional[float] = None
    tracks: Dict[str, dict] = field(default_factory=dict)
    reasons: List[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "verdict": self.verdict,
            "sentence": self.sentence,
            "window": [self.since, self.until] if self.since is not None else None,
            "tracks": self.tracks,
            "reasons": list(self.reasons),
        }


def wilson(errors: float, n: float, confidence: float) -> tuple:
    """Wilson score interval of a proportion (low, high)."""
    from scipy.stats import norm

    if n <= 0:
        return 0.0, 1.0
    z = float(norm.ppf(0.5 + confidence / 2))
    p = errors / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _ms(v: Optional[float]) -> str:
    return "no latency observed" if v is None else f"{v:.1f} ms"


def judge(stable: health.TrackHealth, canary: health.TrackHealth, cfg) -> tuple:
    """(verdict, reasons) for the two tracks' window (module doc); ``cfg`` is the
    region's ``serving.canary``."""
    s, c = stable, canary
    counts = f"canary {c.requests:.0f} requests, stable {s.requests:.0f}"
    if c.requests < cfg.min_live_requests or s.requests < cfg.min_live_requests:
        return PENDING, [f"PENDING: {counts}, fewer than the {cfg.min_live_requests} needed on each track"]
    reasons, worse, unsure = [], False, False
    limit = s.error_ratio + cfg.max_live_error_increase
    low, high = wilson(c.errors, c.requests, cfg.confidence)
    text = (
        f"error ratio canary {c.error_ratio:.2%} ({c.errors:.0f}/{c.requests:.0f}, {cfg.confidence:.0%} CI "
        f"[{low:.2%}, {high:.2%}]) vs stable {s.error_ratio:.2%} ({s.errors:.0f}/{s.requests:.0f}), "
        f"max +{cfg.max_live_error_increase:.2%}"
    )
    if low > limit:
        worse = True
        reasons.append(f"FAILED: {text}: worse")
    elif high > limit:
        unsure = True
        reasons.append(f"PENDING: {text}: inconclusive, judged again on the next span")
    else:
        reasons.append(f"ok: {text}")
    text = f"p99 latency canary {_ms(c.p99_ms)} vs stable {_ms(s.p99_ms)} (max x{cfg.max_live_p99_ratio})"
    if c.p99_ms is not None and s.p99_ms is not None and c.p99_ms > cfg.max_live_p99_ratio * s.p99_ms:
        worse = True
        reasons.append(f"FAILED: {text}: worse")
    elif c.p99_ms is None and c.requests > c.errors:
        unsure = True
        reasons.append(f"PENDING: {text}: no canary latency although it answered")
    else:
        reasons.append(f"ok: {text}")
    return (ROLLBACK if worse else PENDING if unsure else PROMOTE), reasons


def not_configured() -> LiveHealth:
    return LiveHealth(
        NOT_CONFIGURED, "live health not configured (serving.prometheus_url unset): judged offline only"
    )


def not_judged(why: str) -> LiveHealth:
    return LiveHealth("not_judged", f"live health configured; not judged: {why}")


def assess(
    url: Optional[str],
    region: str,
    model_name: str,
    cfg,
    since: Optional[float],
    until: Optional[float] = None,
    env: Optional[Mapping[str, str]] = None,
) -> LiveHealth:
    """The canary's live health over ``[since + POLL_WAIT_S, until]`` (until:
    now). Never raises: a Prometheus that fails to answer gives ``unavailable``."""
    import os

    if not url:
        return not_configured()
    until = time.time() if until is None else until
    if since is None:
        return LiveHealth(
            UNAVAILABLE, "live health unknown: the release state has no push time for the canary"
        )
    start = max(since + POLL_WAIT_S, until - cfg.live_window_hours * 3600)  # recent health, a bounded query
    if until - start < 1:
        return LiveHealth(PENDING, f"live window too short: the canary was pushed {until - since:.0f} s ago")
    token = secret(health.TOKEN, os.environ if env is None else env)
    prom = health.Prometheus(url, token)
    try:
        tracks = health.measure(prom, region, model_name, start, until)
    except health.PrometheusError as exc:
        return LiveHealth(UNAVAILABLE, f"live health unknown: {exc}", start, until)
    verdict, reasons = judge(tracks["stable"], tracks["canary"], cfg)
    decided = [r for r in reasons if not r.startswith("ok")] or reasons
    minutes = (until - start) / 60
    sentence = f"live {verdict} over {minutes:.0f} min: " + "; ".join(r.split(": ", 1)[1] for r in decided)
    return LiveHealth(verdict, sentence, start, until, {t: h.to_json() for t, h in tracks.items()}, reasons)


def combine(offline: str, live: LiveHealth) -> tuple:
    """(verdict, decided_by): a rollback from either part wins, then pending
    from either (an unavailable live check counts as pending); promote only
    when both promote, or when live health is not configured (offline only)."""
    live_v = PENDING if live.verdict == UNAVAILABLE else live.verdict
    if live.verdict == NOT_CONFIGURED:
        return offline, "offline (live health not configured)"
    for verdict in (ROLLBACK, PENDING):
        parts = [name for name, v in (("offline", offline), ("live", live_v)) if v == verdict]
        if parts:
            return verdict, " and ".join(parts)
    return PROMOTE, "offline and live"
