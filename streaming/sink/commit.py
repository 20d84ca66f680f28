"""The lander's checkpoint: its one commit point, and the fence against a
second lander (Kafka Connect's ``preCommit``: only offsets whose records the
writers made durable are committed).

``_land/checkpoint.json`` holds the next offset per partition, the
watermark, the counts, the files written but not yet published
(``pending``) and the ``epoch`` of the lander that wrote it. Every write is
a compare-and-swap against what this lander last read or wrote
(``storage.write_if_unchanged``: ``ifGenerationMatch`` on a bucket, a digest
check under a lock on a disk). A lander starts by reading it and claiming it
with the next epoch; from then on, any other writer's change makes this
lander's next commit fail with :class:`Fenced`, before anything it wrote
becomes visible. So a lander that wakes up late (a pod cut off by a network
partition while another took over) stops at its next commit: it cannot
overwrite, publish or duplicate anything. Offsets committed to Kafka are a
copy for lag dashboards; a restart reads only this file.
"""

from __future__ import annotations

import json
import os
import socket
from typing import Optional

from driftgate.core import storage
from driftgate.core.errors import DriftgateError, ExitCode
from streaming import files


class Fenced(DriftgateError, RuntimeError):
    """Another lander committed since this one's last checkpoint."""

    exit_code = ExitCode.BUSY


class Checkpoint:
    def __init__(self, region_dir: str, region: str):
        self.path = storage.join(region_dir, *files.CHECKPOINT.split("/"))
        self.region = region
        self.token: object = None
        self.doc: dict = {}

    def read(self) -> dict:
        data, self.token = storage.read_versioned(self.path)
        self.doc = json.loads(data) if data else {}
        return self.doc

    @property
    def epoch(self) -> int:
        return int(self.doc.get("epoch", 0))

    def claim(self, doc: dict, run: str) -> int:
        """Writes ``doc`` with the next epoch: this lander owns the region's
        landing from now on (Fenced when another lander claimed or committed
        since ``read``). Returns the epoch."""
        epoch = self.epoch + 1
        self.commit(
            {**doc, "epoch": epoch, "holder": {"host": socket.gethostname(), "pid": os.getpid(), "run": run}}
        )
        return epoch

    def commit(self, doc: dict) -> None:
        """Writes ``doc`` (carrying this lander's epoch and holder) only if
        nobody else wrote the checkpoint since this lander did."""
        doc = {
            **doc,
            "epoch": doc.get("epoch", self.epoch),
            "holder": doc.get("holder", self.doc.get("holder")),
        }
        try:
            self.token = storage.write_if_unchanged(
                self.path, json.dumps(doc, indent=1, sort_keys=True), self.token
            )
        except storage.Conflict:
            raise Fenced(self._fenced_message()) from None
        self.doc = doc

    def _fenced_message(self) -> str:
        now: Optional[dict] = files.read_json(self.path)
        holder = (now or {}).get("holder") or {}
        who = (
            f"epoch {now.get('epoch')} (run {holder.get('run')}, host {holder.get('host')}, pid {holder.get('pid')})"
            if now
            else "someone (the checkpoint was deleted)"
        )
        return (
            f"{self.region}: fenced: {self.path} was committed by another lander, {who}, since this one "
            f"(epoch {self.epoch}) last wrote it; stopping without committing. Nothing this lander wrote "
            "since its last checkpoint was published; the live lander removes it"
        )
