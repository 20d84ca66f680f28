"""Windowed drift of one region's stream against the training baseline (pure).

Records go into panes of ``pane_s`` seconds of event time
(``streaming.panes.Counts``). When the watermark passes a pane's end the
pane closes, and every sliding window ending there (``windows_s``) is judged
with the batch gate's tests (``streaming.scores``) once it holds
``min_window_records`` records:

- an **event**: a score above its threshold at the window's size
  (``streaming.thresholds``: noise alone gives at most one per ``ert_days``);
- its **severity**: the region's drift tier of that test (the history-
  calibrated tier when the gate has calibrated, else the fixed one), at least
  warning; a missing-rate jump is critical (a broken upstream);
- **cumulative drift**: a two-sided CUSUM of each numeric feature's pane
  mean in baseline standard deviations, counting only what exceeds
  ``cusum_allowance`` plus 3 standard errors of the pane; past
  ``cusum_threshold`` it is a critical event (and restarts).

Events of a feature form an **episode**: the first opens it (an alert), a
higher severity escalates it (an alert), and ``clear_windows`` closed panes
in a row without an event and with every score under 0.8 of its threshold
clear it (a resolve). Episode ids are the feature and the opening pane, so a
restart that re-judges the same panes recognises alerts already sent.

Everything is a function of the records' event times and values, never of
the wall clock: the same records give the same scores, events and episodes
(cell counts exactly; a pane's float sums to rounding, which depends on how
its records were batched).

Its state does not grow with time: the panes inside the longest window (and
those not closed yet), at most one open episode and one CUSUM per feature (a
cleared episode is forgotten), the newest finding per feature, test and
window, one running sum per window.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from driftgate.core.config import Tier
from driftgate.core.vocabulary import CRITICAL, NONE, WARNING
from streaming import scores
from streaming.baseline import Baseline, categorical_vectors
from streaming.panes import ABOVE, BELOW, PRESENT, SUM, Counts
from streaming.scores import MISSING
from streaming.thresholds import Thresholds

RANK = {NONE: 0, WARNING: 1, CRITICAL: 2}
HYSTERESIS = 0.8  # an episode clears only while every score is under this share of its threshold
CUSUM = "cusum"
NOISE_SE = 3.0  # standard errors of a pane's mean the CUSUM allows beyond cusum_allowance


@dataclass
class Finding:
    """One score of one window."""

    test: str
    window_s: float
    score: float
    threshold: float
    records: int
    severity: str = NONE  # of an event; none below the threshold

    @property
    def ratio(self) -> float:
        return self.score / self.threshold if self.threshold > 0 else 0.0


@dataclass
class Episode:
    feature: str
    opened_pane: int
    severity: str
    opened_ms: int
    last_event_ms: int
    quiet: int = 0
    evidence: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.feature}@{self.opened_pane}"


@dataclass
class Transition:
    """An episode opened, escalated or cleared at a pane's end."""

    kind: str  # open | escalate | clear
    episode: Episode
    pane_end_ms: int
    finding: Optional[Finding]
    severity: str = ""  # the episode's severity at this transition

    def __post_init__(self):
        self.severity = self.severity or self.episode.severity


class Detector:
    def __init__(
        self,
        baseline: Baseline,
        cfg,
        thresholds: Thresholds,
        tier: Callable[[str, str], Tier],
        state: Optional[dict] = None,
        *,
        keep_judged: bool = False,
    ):
        self.baseline, self.cfg, self.thresholds, self.tier = baseline, cfg, thresholds, tier
        self.pane_ms = int(cfg.pane_s * 1000)
        self.window_panes = cfg.window_panes()
        self.keep = max(self.window_panes)
        state = state or {}
        self.panes: Dict[int, Counts] = {
            int(k): Counts.from_json(baseline, v) for k, v in state.get("panes", {}).items()
        }
        self.closed: Optional[int] = state.get("closed")  # the last pane judged
        self.cusum: Dict[str, List[float]] = state.get("cusum", {})
        self.episodes: Dict[str, Episode] = {f: Episode(**e) for f, e in state.get("episodes", {}).items()}
        self.counts: Dict[str, int] = dict(state.get("counts", {}))
        self.latest: Dict[Tuple[str, str, float], Finding] = {  # the newest score per key (metrics)
            (f, t, w): Finding(**x) for f, t, w, x in state.get("latest", [])
        }
        self.sums: Dict[int, Tuple[int, Counts]] = {}  # window panes -> (last pane, running sum)
        # panes judged since the caller last cleared it (``keep_judged``: the
        # stream watcher clears it every tick; kept by no one else, so not kept)
        self.judged: Optional[List[Tuple[int, Counts]]] = [] if keep_judged else None

    # -- records ------------------------------------------------------------

    def pane_of(self, event_ms: int) -> int:
        return event_ms // self.pane_ms

    def add(self, pane: int, docs) -> int:
        """Adds records of one pane; returns how many were late (their pane
        already judged: counted, not added)."""
        if self.closed is not None and pane <= self.closed:
            self.counts["late"] = self.counts.get("late", 0) + len(docs)
            return len(docs)
        self.panes.setdefault(pane, Counts(self.baseline)).add(docs)
        self.counts["records"] = self.counts.get("records", 0) + len(docs)
        return 0

    # -- judging ------------------------------------------------------------

    def advance(self, watermark_ms: Optional[int]) -> List[Transition]:
        """Judges every pane whose end the watermark passed; returns the episodes' transitions."""
        if watermark_ms is None:
            return []
        last = watermark_ms // self.pane_ms - 1  # the newest pane wholly below the watermark
        if self.closed is None:
            if not self.panes:
                return []
            self.closed = min(self.panes) - 1
        out: List[Transition] = []
        while self.closed < last:
            t = self.closed + 1
            if not any(t - self.keep < p <= t for p in self.panes) and not self.episodes:
                # nothing within the longest window: jump to the next pane with records
                ahead = [p for p in self.panes if p > t]
                t = min(min(ahead), last) if ahead else last
            if t in self.panes:
                self.panes[t].bound(self.cfg.max_new_categories)
            out += self.judge(t)
            self.closed = t
            if t in self.panes and self.judged is not None:
                self.judged.append((t, self.panes[t]))
            for p in [p for p in self.panes if p <= t - self.keep]:
                del self.panes[p]
        return out

    def window(self, t: int, k: int) -> Counts:
        """Panes ``t-k+1 .. t`` summed: the running sum moved one pane on
        (integer counts, so exactly the sum of the panes), or summed afresh."""
        prev = self.sums.get(k)
        if prev is not None and prev[0] == t - 1:
            win = prev[1]
            if t in self.panes:
                win.merge(self.panes[t])
            if t - k in self.panes:
                win.subtract(self.panes[t - k])
        else:
            win = Counts.total(
                self.baseline, (self.panes[p] for p in range(t - k + 1, t + 1) if p in self.panes)
            )
        self.sums[k] = (t, win)
        return win

    def judge(self, t: int) -> List[Transition]:
        """All windows ending with pane ``t``; episode transitions at its end."""
        end_ms = (t + 1) * self.pane_ms
        findings: Dict[str, List[Finding]] = {f: [] for f in self.baseline.features}
        for k, w_s in zip(self.window_panes, self.cfg.windows_s, strict=False):
            win = self.window(t, k)
            for f, found in self.score(win, w_s).items():
                findings[f] += found
        for f, found in self.cusum_step(t).items():
            findings[f] += found
        self.counts["panes"] = self.counts.get("panes", 0) + 1
        out = []
        for feature, found in findings.items():
            for x in found:
                if x.test != CUSUM:
                    self.latest[(feature, x.test, x.window_s)] = x
            out += self.episode_step(feature, found, t, end_ms)
        return out

    def score(self, win: Counts, window_s: float) -> Dict[str, List[Finding]]:
        out: Dict[str, List[Finding]] = {}
        min_n = self.cfg.min_window_records
        for i, g in enumerate(self.baseline.numeric):
            m = win.moments[i]
            n = int(m[PRESENT])
            rows = n + int(m[1])
            found = []
            if rows >= min_n:
                found.append(
                    self._finding(g.name, MISSING, window_s, rows, scores.missing(g.missing_rate, m[1], n))
                )
            if n >= min_n:
                for test, s in scores.numeric(g, win.num[i], m[BELOW], m[ABOVE], win.sums[i]).items():
                    found.append(self._finding(g.name, test, window_s, n, s))
            out[g.name] = found
        for i, g in enumerate(self.baseline.categorical):
            n = int(sum(win.cat[i].values()))
            rows = n + win.cat_missing[i]
            found = []
            if rows >= min_n:
                found.append(
                    self._finding(
                        g.name, MISSING, window_s, rows, scores.missing(g.missing_rate, win.cat_missing[i], n)
                    )
                )
            if n >= min_n:
                b, c = categorical_vectors(g, win.cat[i])
                for test, s in scores.categorical(b, c).items():
                    found.append(self._finding(g.name, test, window_s, n, s))
            out[g.name] = found
        return out

    def _finding(self, feature: str, test: str, window_s: float, n: int, score) -> Finding:
        value = float(score)
        thr = self.thresholds.at(feature, test, n)
        x = Finding(test, window_s, value, thr, n)
        if value > thr:
            if test == MISSING:
                x.severity = CRITICAL
            else:
                tier = self.tier(feature, test).severity(value)
                x.severity = tier if tier != NONE else WARNING
        return x

    def cusum_step(self, t: int) -> Dict[str, List[Finding]]:
        out: Dict[str, List[Finding]] = {}
        pane = self.panes.get(t)
        for i, g in enumerate(self.baseline.numeric):
            up, down = self.cusum.get(g.name, [0.0, 0.0])
            n = int(pane.moments[i][PRESENT]) if pane is not None else 0
            if n == 0 or g.base.std <= 1e-12:
                continue
            z = (pane.moments[i][SUM] / n - g.base.mean) / g.base.std
            allowance = self.cfg.cusum_allowance + NOISE_SE / math.sqrt(n)
            up, down = max(0.0, up + z - allowance), max(0.0, down - z - allowance)
            stat = max(up, down)
            if stat >= self.cfg.cusum_threshold:
                out[g.name] = [Finding(CUSUM, 0.0, stat, self.cfg.cusum_threshold, n, CRITICAL)]
                up = down = 0.0
            self.cusum[g.name] = [up, down]
        return out

    def episode_step(self, feature: str, found: List[Finding], t: int, end_ms: int) -> List[Transition]:
        events = [x for x in found if x.severity != NONE]
        ep = self.episodes.get(feature)
        if events:
            top = max(events, key=lambda x: (RANK[x.severity], x.ratio))
            self.counts["events"] = self.counts.get("events", 0) + 1
            if ep is None:
                ep = Episode(feature, t, top.severity, end_ms, end_ms, evidence=asdict(top))
                self.episodes[feature] = ep
                return [Transition("open", ep, end_ms, top)]
            ep.quiet, ep.last_event_ms = 0, end_ms
            if RANK[top.severity] > RANK[ep.severity]:
                ep.severity, ep.evidence = top.severity, asdict(top)
                return [Transition("escalate", ep, end_ms, top)]
            return []
        if ep is None:
            return []
        calm = all(x.ratio < HYSTERESIS for x in found)
        ep.quiet = ep.quiet + 1 if calm else 0
        if ep.quiet >= self.cfg.clear_windows:
            del self.episodes[feature]
            return [Transition("clear", ep, end_ms, None)]
        return []

    # -- state --------------------------------------------------------------

    def to_json(self, panes: Optional[Iterable[int]] = None) -> dict:
        """The state as JSON; ``panes``: only these panes (default all). A
        pane once judged never changes (late records are counted, not
        added), so the stream watcher writes each closed pane once
        (``streaming.streamer``) and only the open ones here."""
        keys = sorted(self.panes) if panes is None else sorted(p for p in panes if p in self.panes)
        return {
            "panes": {str(k): self.panes[k].to_json() for k in keys},
            "closed": self.closed,
            "cusum": self.cusum,
            "episodes": {f: asdict(e) for f, e in self.episodes.items()},
            "counts": self.counts,
            "latest": [[f, t, w, asdict(x)] for (f, t, w), x in sorted(self.latest.items())],
        }


def fixed_tiers(drift_cfg) -> Callable[[str, str], Tier]:
    """The region's fixed drift tiers (``DriftConfig``) per (feature, test)."""
    from components.drift.evaluate import thresholds_for

    return lambda feature, test: thresholds_for(drift_cfg, feature, test)
