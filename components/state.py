"""What a region accumulates between runs, under ``<root>/<REGION>/state/``.

Reachable from both runners (a local path or a bucket URI, through
``driftgate.core.storage``), written atomically, small, and readable by people:

- ``statistics/span-<N>.pb``  each ingested span's statistics (a
  DatasetFeatureStatisticsList with the train and eval datasets);
- ``history.json``            per span: decision, drift severities, per-feature
  means/stds (for gradual drift) and scores;
- ``releases.json``           per pushed model version: the span it was trained on.

ML Metadata records the lineage (which artifacts a run read and wrote); this
folder is what the *next* run needs, and what Kubeflow runs share with local ones.
"""

import json
import time
from typing import Dict, List, Optional

from driftgate.core import storage


def drift_streak(history: List[dict], feature: str, baseline: str = "training") -> int:
    """Latest spans in a row (blocked spans left out) where ``feature`` drifted
    against ``baseline``, from history records oldest first."""
    n = 0
    for h in reversed([h for h in history if h.get("decision") != "block"]):
        if feature not in h.get("drifted", {}).get(baseline, []):
            break
        n += 1
    return n


class RegionState:
    """Reader/writer of one region's state folder."""

    def __init__(self, path: str):
        self.path = path

    # statistics -------------------------------------------------------
    def statistics_path(self, span: int) -> str:
        return storage.join(self.path, "statistics", f"span-{span}.pb")

    def save_statistics(self, span: int, stats_list) -> str:
        path = self.statistics_path(span)
        storage.write_atomic(path, stats_list.SerializeToString())
        return path

    def load_statistics(self, span: int):
        """The DatasetFeatureStatisticsList saved for ``span``, or None."""
        from tensorflow_metadata.proto.v0 import statistics_pb2

        path = self.statistics_path(span)
        if not storage.exists(path):
            return None
        out = statistics_pb2.DatasetFeatureStatisticsList()
        out.ParseFromString(storage.read_bytes(path))
        return out

    def relative(self, uri: str) -> str:
        """``uri`` relative to the region's root (this folder's parent) when
        under it, so a copied or restored root still finds it; else unchanged."""
        under = storage.relative(uri, storage.dirname(self.path.rstrip("/")))
        return uri if under is None else under

    # json documents ---------------------------------------------------
    def _read_json(self, name: str, default):
        path = storage.join(self.path, name)
        if not storage.exists(path):
            return default
        return json.loads(storage.read_text(path))

    def _write_json(self, name: str, value) -> None:
        storage.write_atomic(storage.join(self.path, name), json.dumps(value, indent=1, sort_keys=True))

    # history ----------------------------------------------------------
    def history(self) -> List[dict]:
        """Span records, oldest span first."""
        return sorted(self._read_json("history.json", []), key=lambda h: h["span"])

    def record_span(self, record: dict) -> None:
        """Adds or replaces the record of ``record['span']``."""
        records = [h for h in self.history() if h["span"] != record["span"]]
        records.append(dict(record, recorded_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())))
        self._write_json("history.json", sorted(records, key=lambda h: h["span"]))

    def processed_spans(self) -> List[int]:
        """Spans whose run finished (its recorder node ran). A span whose run
        stopped after the gate (killed, or a step failed) is not among them,
        so the next run takes it again instead of moving past a retrain that
        never happened. Records from before ``completed`` existed count as done."""
        return [h["span"] for h in self.history() if h.get("completed", True)]

    def mark_completed(self, span: int, run_id: str = "") -> bool:
        """Marks ``span``'s record finished (the run recorder, last node of a
        run); False when the span has no record (no-new-span runs write none)."""
        history = self.history()
        entry = next((h for h in history if h["span"] == span), None)
        if entry is None:
            return False
        if entry.get("completed") is not True:  # a no-new-span run leaves a finished record as it is
            entry.update(completed=True, **({"run_id": run_id} if run_id else {}))
            self._write_json("history.json", history)
        return True

    def previous_span(self, span: int) -> Optional[int]:
        """The newest span before ``span`` that was not blocked and has statistics."""
        earlier = [h["span"] for h in self.history() if h["span"] < span and h.get("decision") != "block"]
        for s in sorted(earlier, reverse=True):
            if storage.exists(self.statistics_path(s)):
                return s
        return None

    # releases ---------------------------------------------------------
    def releases(self) -> Dict[int, dict]:
        return {int(k): v for k, v in self._read_json("releases.json", {}).items()}

    def record_release(self, version: int, span: int, **extra) -> None:
        releases = {str(k): v for k, v in self.releases().items()}
        releases[str(version)] = dict(
            span=span, pushed_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **extra
        )
        self._write_json("releases.json", releases)

    def training_span(self, version: Optional[int]) -> Optional[int]:
        """The span the model ``version`` was trained on, if recorded."""
        if version is None:
            return None
        rel = self.releases().get(int(version))
        return int(rel["span"]) if rel else None
