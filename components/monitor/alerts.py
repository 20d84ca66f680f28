"""Direct notifier: Slack incoming webhooks and PagerDuty Events API v2.

For teams without Alertmanager. From a run's result it derives alerts (a
feature drifting against the training baseline, a blocked span), escalates a
warning to critical after ``escalate_after_spans`` drifted spans in a row,
de-duplicates per region and feature (``driftgate/<region>/<feature>``),
honours a cooldown (stored in the region state), and sends each alert to the
channel configured for its severity, with retries and exponential backoff
(a 429 waits as long as its ``Retry-After`` says, plus jitter). Each alert is
recorded as sent the moment it is sent, so a later failure never sends it
twice; a failure does not stop the other alerts. A PagerDuty incident is
resolved when its feature stops drifting against the training baseline.

Secrets come only from the environment or a file it names; they are never
logged (errors name the channel, not the URL or key).
"""

import json
import logging
import os
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional

from components.monitor import model_view
from driftgate.core import logs
from driftgate.core.secrets import secret
from driftgate.core.vocabulary import REJECTED, RUN_FAILED

PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"


class NotifyError(RuntimeError):
    """Sending failed after every retry (the message names the channel only);
    ``outcomes`` lists what happened to every alert of the run."""

    def __init__(self, message: str, outcomes: Optional[List[dict]] = None):
        super().__init__(message)
        self.outcomes = outcomes or []


@dataclass
class Alert:
    region: str
    feature: str
    severity: str  # warning | critical
    summary: str
    details: Dict[str, object]

    @property
    def dedup_key(self) -> str:
        return f"driftgate/{self.region}/{self.feature}"


def derive(result, history: List[dict], escalate_after: int) -> List[Alert]:
    """Alerts for a run: blocked span, canary rolled back, and each feature
    drifting vs the training baseline."""
    alerts = []
    if result.decision == RUN_FAILED:  # from a Kubeflow run's exit task (components.monitor.finalizer)
        alerts.append(
            Alert(
                result.region,
                f"<run {result.run_id}>",
                "critical",
                result.summary,
                {"run_id": result.run_id},
            )
        )
    if result.decision == "block":
        alerts.append(
            Alert(
                result.region,
                "<span>",
                "critical",
                f"{result.region} span {result.span} blocked: {'; '.join(result.reasons[:3])}",
                {"span": result.span, "reasons": result.reasons},
            )
        )
    if getattr(result, "release_label", None) == REJECTED:
        alerts.append(
            Alert(
                result.region,
                f"<release v{result.pushed_version}>",
                "critical",
                f"{result.region}: version {result.pushed_version} trained on span {result.span} was pushed but "
                f"REJECTED at release (no label, serving unchanged): {result.release_reason[:300]}",
                {"span": result.span, "version": result.pushed_version, "reason": result.release_reason},
            )
        )
    canary = getattr(result, "canary", None) or {}
    if canary.get("verdict") == "rollback":
        failed = [r for r in canary.get("reasons", []) if r.startswith("FAILED")]
        alerts.append(
            Alert(
                result.region,
                f"<canary v{canary.get('canary_version')}>",
                "warning",
                f"{result.region}: canary v{canary.get('canary_version')} rolled back on span "
                f"{canary.get('span')}; stable v{canary.get('stable_version')} keeps serving: "
                + "; ".join(failed[:2]),
                {k: canary.get(k) for k in ("span", "stable_version", "canary_version", "rows", "reasons")},
            )
        )
    q = canary.get("quality") or {}
    if q.get("verdict") == "degraded":
        alerts.append(
            Alert(
                result.region,
                f"<quality v{q.get('version')}>",
                "warning",
                f"{result.region}: {q['sentence']}; decision: {result.decision}",
                {k: q.get(k) for k in ("span", "version", "auc", "auc_low", "auc_high", "reference_auc")},
            )
        )
    for feature, severity, summary, details in model_view.alerts(result.region, q):
        alerts.append(Alert(result.region, feature, severity, summary, details))
    if q.get("prediction_severity") in ("warning", "critical"):
        alerts.append(
            Alert(
                result.region,
                f"<predictions v{q.get('version')}>",
                q["prediction_severity"],
                f"{result.region}: serving v{q.get('version')}'s predictions on span {q.get('span')} moved from "
                f"its training span (PSI {q['prediction_drift']['psi']:.3f}, {q['prediction_severity']})",
                {"span": q.get("span"), "version": q.get("version"), **q.get("prediction_drift", {})},
            )
        )
    integ = result.drift.integrity if result.drift is not None else {}
    for feature, severity, summary, details in model_view.integrity_alerts(result.region, result.span, integ):
        alerts.append(Alert(result.region, feature, severity, summary, details))
    training = result.comparison("training")
    if not training:
        return alerts
    from components.state import drift_streak

    for feature in training.drifted:
        entry = training.features[feature]
        streak = drift_streak(history, feature)
        severity = entry.severity
        escalated = severity == "warning" and streak >= escalate_after
        if escalated:
            severity = "critical"
        scores = entry.scores()
        summary = (
            f"{result.region}: {feature} drifts ({entry.severity}) vs training baseline "
            f"(span {training.span}) in span {result.span}"
            + (f"; {streak} spans in a row, escalated to critical" if escalated else "")
        )
        alerts.append(
            Alert(
                result.region,
                feature,
                severity,
                summary,
                {
                    "span": result.span,
                    "baseline_span": training.span,
                    "scores": scores,
                    "consecutive_spans": streak,
                    "decision": result.decision,
                },
            )
        )
    return alerts


def slack_payload(alert: Alert) -> dict:
    """Slack incoming-webhook message: ``text`` (required fallback) plus blocks."""
    icon = ":red_circle:" if alert.severity == "critical" else ":warning:"
    return {
        "text": f"{icon} [{alert.severity}] {alert.summary}",
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"{icon} *{alert.severity.upper()}* {alert.summary}"},
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"dedup `{alert.dedup_key}`"}]},
        ],
    }


def pagerduty_payload(alert: Alert, routing_key: str) -> dict:
    """PagerDuty Events API v2 trigger event."""
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": alert.dedup_key,
        "payload": {
            "summary": alert.summary[:1024],
            "source": f"driftgate/{alert.region}",
            "severity": alert.severity,
            "component": alert.feature,
            "group": alert.region,
            "class": "data-drift",
            "custom_details": alert.details,
        },
    }


def _post(url: str, body: dict, channel: str, retries: int, backoff: float) -> int:
    data = json.dumps(body).encode()
    last = ""
    for attempt in range(retries + 1):
        req = urllib.request.Request(
            url, data=data, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
            if exc.code < 500 and exc.code != 429:
                raise NotifyError(f"{channel}: rejected with {last}") from None
            wait = _retry_after(exc) if exc.code == 429 else None
        except (urllib.error.URLError, OSError) as exc:
            last = type(exc).__name__
            wait = None
        if attempt < retries:
            delay = wait if wait is not None else backoff * (2**attempt)
            time.sleep(delay + random.uniform(0, backoff))  # jitter: receivers are not hit in lockstep
    raise NotifyError(f"{channel}: failed after {retries + 1} attempts ({last})")


def _retry_after(exc: urllib.error.HTTPError, cap: float = 60.0) -> Optional[float]:
    """Seconds a 429 asks to wait (``Retry-After`` in seconds), capped."""
    value = exc.headers.get("Retry-After") if exc.headers else None
    try:
        return min(float(value), cap) if value is not None else None
    except ValueError:
        return None


def resolve_payload(dedup_key: str, routing_key: str) -> dict:
    """PagerDuty Events API v2 resolve event for an open incident."""
    return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key}


def _load_sent(path: str) -> dict:
    if not os.path.exists(path):
        return {}
    with open(path) as fh:
        return json.load(fh)


def channel_of(severity: str, cfg) -> str:
    """The channel an alert of ``severity`` goes to (``cfg``: AlertsConfig)."""
    return cfg.critical if severity == "critical" else cfg.warning


def send(alert: Alert, cfg, env: Mapping[str, str]) -> Optional[str]:
    """Sends one alert to the channel of its severity (``cfg``: AlertsConfig);
    returns the channel, or None when that channel has no secret (or is
    ``none``). Raises NotifyError after every retry failed."""
    channel = channel_of(alert.severity, cfg)
    if channel == "slack":
        url = secret("DRIFTGATE_SLACK_WEBHOOK_URL", env)
        body = slack_payload(alert) if url else None
    elif channel == "pagerduty":
        key = secret("DRIFTGATE_PAGERDUTY_ROUTING_KEY", env)
        url = env.get("DRIFTGATE_PAGERDUTY_URL", PAGERDUTY_URL) if key else None
        body = pagerduty_payload(alert, key) if key else None
    else:
        url = None
    if not url:
        return None
    _post(url, body, channel, cfg.retries, cfg.backoff_seconds)
    return channel


def resolve(dedup_key: str, summary: str, channel: str, cfg, env: Mapping[str, str]) -> bool:
    """Tells ``channel`` an alert's condition ended: a PagerDuty resolve event,
    a Slack message. False when the channel has no secret."""
    if channel == "pagerduty":
        key = secret("DRIFTGATE_PAGERDUTY_ROUTING_KEY", env)
        if not key:
            return False
        url = env.get("DRIFTGATE_PAGERDUTY_URL", PAGERDUTY_URL)
        _post(url, resolve_payload(dedup_key, key), channel, cfg.retries, cfg.backoff_seconds)
        return True
    if channel == "slack":
        url = secret("DRIFTGATE_SLACK_WEBHOOK_URL", env)
        if not url:
            return False
        body = {"text": f":white_check_mark: [resolved] {summary}"}
        _post(url, body, channel, cfg.retries, cfg.backoff_seconds)
        return True
    return False


def post_slack(body: dict, env: Mapping[str, str], retries: int, backoff: float) -> bool:
    """Posts ``body`` to the alert channels' Slack webhook (``DRIFTGATE_SLACK_WEBHOOK_URL``
    or the file ``..._FILE`` names) with the alerts' retries and backoff; False
    without that secret. Raises NotifyError (naming the channel only) after every retry."""
    url = secret("DRIFTGATE_SLACK_WEBHOOK_URL", env)
    if not url:
        return False
    _post(url, body, "slack", retries, backoff)
    return True


def notify(
    result, history: List[dict], cfg, state_path: str, env: Mapping[str, str], now: Optional[float] = None
) -> List[dict]:
    """Sends the run's alerts; returns what happened to each (sent / cooldown /
    no secret / resolved). Raises NotifyError after trying every alert when
    one failed (its ``outcomes`` has them all)."""
    from driftgate.core.storage import exists, write_atomic

    now = time.time() if now is None else now
    sent = _load_sent(state_path)
    rank = {"warning": 1, "critical": 2}
    outcomes, failures = [], []
    pd_key = secret("DRIFTGATE_PAGERDUTY_ROUTING_KEY", env)
    pd_url = env.get("DRIFTGATE_PAGERDUTY_URL", PAGERDUTY_URL)

    def record(key: str, entry: Optional[dict]) -> None:
        if entry is None:
            sent.pop(key, None)
        else:
            sent[key] = entry
        write_atomic(state_path, json.dumps(sent, indent=1).encode())  # at once: never sent twice

    alerts = derive(result, history, cfg.escalate_after_spans)
    for alert in alerts:
        channel = channel_of(alert.severity, cfg)
        prev = sent.get(alert.dedup_key)
        if (
            prev
            and now - prev["at"] < cfg.cooldown_minutes * 60
            and rank[alert.severity] <= rank[prev["severity"]]
        ):
            outcomes.append({"key": alert.dedup_key, "severity": alert.severity, "outcome": "cooldown"})
            continue
        try:
            outcome = send(alert, cfg, env)
        except NotifyError as exc:
            failures.append(str(exc))
            outcomes.append({"key": alert.dedup_key, "severity": alert.severity, "outcome": f"failed: {exc}"})
            logs.event(
                "alert_failed",
                f"{alert.summary} not sent to {channel}: {exc}",
                level=logging.WARNING,
                key=alert.dedup_key,
                severity=alert.severity,
                channel=channel,
            )
            continue
        if outcome is None:
            outcomes.append(
                {"key": alert.dedup_key, "severity": alert.severity, "outcome": f"no {channel} secret"}
            )
            continue
        record(alert.dedup_key, {"at": now, "severity": alert.severity, "channel": channel})
        outcomes.append({"key": alert.dedup_key, "severity": alert.severity, "outcome": f"sent to {channel}"})
        logs.event("alert_sent", alert.summary, key=alert.dedup_key, severity=alert.severity, channel=channel)
    # resolve PagerDuty incidents of features that no longer drift (only when the
    # run compared with a training baseline: a blocked or first span says nothing)
    if result.comparison("training") is not None and pd_key:
        firing = {a.dedup_key for a in alerts}
        for key, entry in sorted(sent.items()):
            if (
                entry.get("channel") != "pagerduty"
                or key in firing
                or key.endswith("/<span>")
                or "/<canary" in key
            ):
                continue
            try:
                _post(pd_url, resolve_payload(key, pd_key), "pagerduty", cfg.retries, cfg.backoff_seconds)
            except NotifyError as exc:
                failures.append(str(exc))
                continue
            record(key, None)
            outcomes.append({"key": key, "severity": entry["severity"], "outcome": "resolved in pagerduty"})
    if not exists(state_path):
        write_atomic(state_path, json.dumps(sent, indent=1).encode())
    if failures:
        raise NotifyError("; ".join(failures), outcomes)
    return outcomes
