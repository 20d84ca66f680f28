"""``driftgate stream``: runs a region's stream watcher (``streaming.streamer``)
against its Kafka topic until stopped (SIGTERM/SIGINT: a last checkpoint) or
quiet for ``exit_when_idle_s``.

The baseline is the training span of the model serving in the region (its
statistics in the region state under ``root``, as the batch gate reads
them), or the span named by ``baseline_span``. Thresholds are calibrated
from it once and cached under ``<data>/<REGION>/_stream/``. Severity tiers
are the gate's: history-calibrated when the region's history has calibrated
them, else the fixed ones. Alerts go out through the direct notifier
(``components.monitor.alerts``: the region's ``alerts`` channels, secrets
from the environment) from a background thread, so a slow receiver never
holds the consumer; each is recorded the moment it is sent (an episode is
alerted once across restarts). A failed send is logged and counted, never
fatal. One watcher per region: a lease under ``<data>/<REGION>/_stream/``.

Made to run for months: the result lists the newest ``stream.keep_transitions``
transitions and alert outcomes (``counts["transitions_dropped"]`` counts the
older ones, all sent); the alert outcomes and dispatch times behind the
metrics are running counts; and after every checkpoint an alert record that
no restart can need again (sent before the checkpoint, its episode no longer
open in it) is dropped from ``alerts.json``.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Deque, Dict, List, Optional

from driftgate.core import lease, storage
from driftgate.core.config import RegionConfig
from driftgate.core.errors import DriftgateError
from streaming import kafka, loop
from streaming.detector import Transition


class StreamError(DriftgateError, RuntimeError):
    """The stream watcher cannot start (wrong source, no baseline, topic missing)."""


@dataclass
class StreamResult:
    region: str
    topic: str
    baseline_span: Optional[int]
    counts: Dict[str, int]  # with transitions_dropped: older transitions not listed below
    episodes: List[dict]
    alerts: List[dict]  # the newest stream.keep_transitions outcomes
    next_offsets: Dict[int, int]
    transitions: List[dict]  # the newest stream.keep_transitions, oldest first


def load_baseline(cfg: RegionConfig, root: str, baseline_span: Optional[int] = None):
    """(Baseline, tier function) of the region: its serving model's training
    span (or ``baseline_span``) from the region state under ``root``."""
    from components.drift.calibration import calibrate
    from components.state import RegionState
    from driftgate.core.layout import RegionLayout
    from serving import layout as versions
    from streaming.baseline import from_statistics
    from streaming.detector import fixed_tiers

    lay = RegionLayout(storage.absolute(root), cfg.region, cfg.serving.model_name)
    state = RegionState(lay.state_dir)
    span = baseline_span
    if span is None:
        version = versions.serving_version(lay.model_base_path)
        span = state.training_span(version) if version is not None else None
        if span is None:
            raise StreamError(
                f"region {cfg.region}: no model serves under {lay.model_base_path}, so there is no training "
                "baseline to watch against; run the region's pipeline first (driftgate run) or name a span "
                "with --baseline-span"
            )
    stats = state.load_statistics(span)
    if stats is None:
        raise StreamError(
            f"region {cfg.region}: no statistics of span {span} under {state.path}; "
            "name a span the pipeline has ingested (--baseline-span)"
        )
    f = cfg.features
    baseline = from_statistics(stats, list(f.numeric), list(f.categorical), span)
    if cfg.stream.prediction_field:
        from streaming.baseline import prediction_grid, with_predictions

        version = versions.serving_version(lay.model_base_path)
        ref = (state.releases().get(version) or {}).get("reference") if version is not None else None
        if ref and ref.get("histogram"):
            baseline = with_predictions(
                baseline, prediction_grid(cfg.stream.prediction_field, ref["histogram"])
            )
    fixed = fixed_tiers(cfg.drift)
    cal = calibrate([h for h in state.history() if h.get("decision") != "block"], cfg.drift)

    def tier(feature: str, test: str):
        t = fixed(feature, test)
        return (cal.tier(feature, test, t) if cal.ready else None) or t

    return baseline, tier


def thresholds_for(cfg: RegionConfig, region_dir: str, baseline, progress=lambda line: None):
    """The baseline's thresholds, calibrated once and cached per baseline."""
    from streaming import thresholds
    from streaming.streamer import STATE_DIR

    path = os.path.join(region_dir, STATE_DIR, f"thresholds-{thresholds.key(baseline, cfg.stream)}.json")
    if os.path.exists(path):
        with open(path) as fh:
            return thresholds.Thresholds.from_json(json.load(fh))
    began = time.time()
    th = thresholds.calibrate(baseline, cfg.stream)
    storage.write_atomic(path, json.dumps(th.to_json()).encode())
    progress(
        f"{cfg.region}: thresholds calibrated from the span {baseline.span} baseline in {time.time() - began:.1f}s "
        f"(at most one false event per {cfg.stream.ert_days:g} days: alpha {th.alpha:.2e} per score)"
    )
    return th


def sentence(region: str, t: Transition) -> str:
    """An alert's summary line."""
    f = t.finding
    ep = t.episode
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t.pane_end_ms / 1000))
    if t.kind == "clear":
        return (
            f"{region}: {ep.feature} back within noise on the stream at {at} (episode since {ep.opened_pane})"
        )
    if f.test == "cusum":
        what = f"cumulative mean shift (CUSUM {f.score:.2f} >= {f.threshold:.2f} baseline std)"
    else:
        what = f"{f.test} {f.score:.3f} > {f.threshold:.3f} in the {f.window_s:g}s window of {f.records:,} records"
    verb = "drifts" if t.kind == "open" else "escalates to"
    return (
        f"{region}: {ep.feature} {verb} {ep.severity} on the stream at {at}: {what}, vs the training baseline"
    )


SENDING = "sending"  # recorded before the send: a restart finding it cannot know if it arrived


class Dispatcher:
    """Sends the episodes' alerts from a background thread, recording each in
    ``sent_path`` (episode id -> severity, channel) before it is sent and
    again once it was. A restart that finds an alert recorded as ``sending``
    (the process stopped mid-send) does not send it to Slack again (a second
    message is the one outcome the record exists to prevent); it sends it to
    PagerDuty again, whose dedup key folds a repeat into the same incident,
    so there a lost send is repaired and a repeat is harmless."""

    def __init__(self, cfg: RegionConfig, sent_path: str, env=os.environ, progress=lambda line: None):
        from streaming import files
        from streaming.metrics import Durations

        self.cfg, self.sent_path, self.env, self.progress = cfg, sent_path, env, progress
        self.sent: Dict[str, dict] = files.read_json(sent_path) or {}
        self.lock = threading.Lock()  # ``sent``: written by the sending thread, pruned after checkpoints
        self.outcomes: Deque[dict] = deque(maxlen=cfg.stream.keep_transitions)  # the newest
        self.by_outcome: Dict[str, int] = {}  # every outcome so far, by kind (metrics)
        self.dispatch = Durations()  # detection (hand-over) to sent
        self.queue: "queue.Queue" = queue.Queue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def __call__(self, transitions: List[Transition]) -> None:
        for t in transitions:
            self.queue.put((time.perf_counter(), t))

    def drain(self, timeout: float = 30.0) -> None:
        self.queue.put(None)
        self.thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            began, t = item
            try:
                self._send(t)
            except Exception as exc:  # noqa: BLE001 - a side channel never stops the watcher
                self._outcome({"episode": t.episode.id, "kind": t.kind, "outcome": f"failed: {exc}"})
                self.progress(f"{self.cfg.region}: alert for {t.episode.feature} not sent: {exc}")
            self.dispatch.observe(time.perf_counter() - began)

    def _outcome(self, entry: dict) -> None:
        self.outcomes.append(entry)
        kind = entry["outcome"].split(":")[0]
        self.by_outcome[kind] = self.by_outcome.get(kind, 0) + 1

    def forget(self, before: float, open_episodes) -> int:
        """Drops the records of alerts sent before ``before`` (a committed
        checkpoint's time) whose episode is not among ``open_episodes`` (the
        ids open in that checkpoint): a restart re-judges from the checkpoint,
        where such an episode is closed, so it can never send them again.
        Returns how many were dropped."""
        open_episodes = set(open_episodes)
        with self.lock:
            old = [
                k
                for k, v in self.sent.items()
                if v.get("at", before) < before and k.rsplit(":", 2)[0] not in open_episodes
            ]
            for k in old:
                del self.sent[k]
            if old:
                self._save()
        return len(old)

    def _send(self, t: Transition) -> None:
        from components.monitor.alerts import channel_of

        ep = t.episode
        key = f"driftgate/{self.cfg.region}/stream/{ep.feature}"
        record_key = f"{ep.id}:{t.kind}:{ep.severity}"
        channel = channel_of(ep.severity, self.cfg.alerts)
        earlier = self.sent.get(record_key)
        if earlier is not None and not (earlier.get("outcome") == SENDING and channel == "pagerduty"):
            unconfirmed = (
                " (unconfirmed: the process stopped mid-send)" if earlier.get("outcome") == SENDING else ""
            )
            self._outcome({"episode": ep.id, "kind": t.kind, "outcome": "already sent" + unconfirmed})
            return
        self._record(record_key, ep.severity, SENDING)
        try:
            outcome = self._deliver(t, key, channel)
        except Exception:
            with self.lock:
                self.sent.pop(record_key, None)  # every retry failed: not sent, a restart may try again
                self._save()
            raise
        self._record(record_key, ep.severity, outcome)
        self._outcome({"episode": ep.id, "kind": t.kind, "severity": ep.severity, "outcome": outcome})

    def _deliver(self, t: Transition, key: str, channel: str) -> str:
        from components.monitor import alerts

        ep = t.episode
        summary = sentence(self.cfg.region, t)
        self.progress(summary)
        outcome = "logged (alerts disabled)"
        if self.cfg.alerts.enabled:
            if t.kind == "clear":
                ok = alerts.resolve(key, summary, channel, self.cfg.alerts, self.env)
                outcome = f"resolved in {channel}" if ok else f"no {channel} secret"
            else:
                alert = alerts.Alert(
                    self.cfg.region,
                    f"stream/{ep.feature}",
                    ep.severity,
                    summary,
                    {"episode": ep.id, "pane_end_ms": t.pane_end_ms, **(ep.evidence or {})},
                )
                sent_to = alerts.send(alert, self.cfg.alerts, self.env)
                outcome = f"sent to {sent_to}" if sent_to else "no secret for its channel"
        return outcome

    def _record(self, record_key: str, severity: str, outcome: str) -> None:
        with self.lock:
            self.sent[record_key] = {"at": time.time(), "severity": severity, "outcome": outcome}
            self._save()

    def _save(self) -> None:
        storage.write_atomic(self.sent_path, json.dumps(self.sent, indent=1).encode())


def stream(
    cfg: RegionConfig,
    region_dir: str,
    root: str,
    *,
    bootstrap: Optional[str] = None,
    baseline_span: Optional[int] = None,
    exit_when_idle_s: Optional[float] = None,
    max_seconds: Optional[float] = None,
    metrics_port: Optional[int] = None,
    progress: Callable[[str], None] = lambda line: None,
    stop: Optional[threading.Event] = None,
    env=os.environ,
) -> StreamResult:
    from streaming.streamer import SENT, STATE_DIR, Streamer

    if cfg.data.source != "kafka":
        raise StreamError(
            f"region {cfg.region} ({cfg.source_file}): data.source is {cfg.data.source!r}; "
            "set data.source: kafka to watch its topic"
        )
    if "://" in region_dir:
        raise StreamError(f"{region_dir}: driftgate stream keeps its state in a local folder or volume")
    baseline, tier = load_baseline(cfg, root, baseline_span)
    os.makedirs(os.path.join(region_dir, STATE_DIR), exist_ok=True)
    th = thresholds_for(cfg, region_dir, baseline, progress)
    conf = kafka.settings(cfg, bootstrap)
    topic = cfg.kafka.topic(cfg.region)
    consumer = kafka.consumer(conf, cfg.stream.group(cfg.region))
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    run = f"stream-{cfg.region}-{os.getpid()}"
    with lease.held(os.path.join(region_dir, STATE_DIR, "lease.json"), run, progress=progress):
        dispatcher = Dispatcher(cfg, os.path.join(region_dir, SENT), env, progress)

        def committed(offsets: Dict[int, int]) -> None:  # after every checkpoint
            kafka.commit(consumer, topic, offsets, progress)
            dispatcher.forget(streamer.last_checkpoint, [e.id for e in streamer.detector.episodes.values()])

        streamer = Streamer(
            cfg,
            region_dir,
            baseline,
            th,
            tier,
            sink=dispatcher,
            progress=progress,
            commit=committed,
        )
        if metrics_port is not None:
            from streaming import metrics

            metrics.serve_stream(streamer, dispatcher, metrics_port)
            progress(f"{cfg.region}: metrics on :{metrics_port}/metrics")
        found = kafka.partitions(consumer, topic)
        if found is None:
            raise StreamError(f"region {cfg.region}: topic {topic} not found on {kafka.describe(conf)}")
        starts = streamer.start_offsets(found, time.time())
        kafka.assign(consumer, topic, starts)
        progress(
            f"{cfg.region}: watching {topic} ({len(starts)} partitions) against the training baseline "
            f"(span {baseline.span}); windows {', '.join(f'{w:g}s' for w in cfg.stream.windows_s)}"
        )

        loop.run(
            consumer,
            topic,
            streamer,
            starts,
            stop=stop,
            batch=5000,
            poll_s=0.2,
            exit_when_idle_s=exit_when_idle_s,
            max_seconds=max_seconds,
            lag_every_s=10 if metrics_port is not None else None,
        )
        now = time.time()  # a last tick: panes the watermark passed meanwhile are judged
        streamer.tick(now, kafka.behind(consumer, topic, streamer.consumed, streamer.watermark.silent(now)))
        streamer.checkpoint(time.time())
        consumer.close()
        dispatcher.drain()
        return StreamResult(
            cfg.region,
            topic,
            baseline.span,
            {
                **streamer.counts,
                **streamer.detector.counts,
                "transitions_dropped": streamer.transitions_dropped,
            },
            [
                {"feature": e.feature, "severity": e.severity, "episode": e.id, "evidence": e.evidence}
                for e in streamer.detector.episodes.values()
            ],
            list(dispatcher.outcomes),
            dict(streamer.next),
            [
                {
                    "kind": t.kind,
                    "feature": t.episode.feature,
                    "severity": t.severity,
                    "episode": t.episode.id,
                    "pane_end_ms": t.pane_end_ms,
                    **(
                        {
                            k: getattr(t.finding, k)
                            for k in ("test", "window_s", "score", "threshold", "records")
                        }
                        if t.finding
                        else {}
                    ),
                }
                for t in streamer.transitions
            ],
        )
