"""A region's stream without a broker, for the stream watcher's long-running
tests: consumed messages built in memory (the fields ``Streamer.handle_batch``
reads), records drawn at random from a pool at a steady rate of event time
over a few partitions, the watcher's wall clock simulated as the event time
(so a checkpoint falls every ``stream.checkpoint_s`` of event time)."""

import dataclasses
import json

import numpy as np
import pandas as pd

from driftgate.core.config import load_region_config
from streaming import replay, thresholds
from streaming.baseline import from_statistics
from streaming.detector import fixed_tiers
from streaming.streamer import Streamer

START = 1_357_084_800_000  # 2013-01-02T00:00:00Z


def frame(n=6000, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "temp": rng.normal(40, 10, n).round(1),
            "humid": np.where(rng.random(n) < 0.05, np.nan, rng.uniform(20, 90, n)),
            "carrier": rng.choice(list("ABCDE"), n, p=[0.4, 0.2, 0.2, 0.1, 0.1]),
        }
    )


class Region:
    """A three-feature region (two numeric, one categorical): its baseline,
    thresholds for ``stream`` (overrides of the EWR config's stream section)
    and pools of encoded records (no event time: the message's timestamp is
    the event time), as they are and with temp 3 standard deviations up."""

    def __init__(self, stats_of, **stream):
        cfg = load_region_config("EWR")
        self.cfg = dataclasses.replace(cfg, stream=dataclasses.replace(cfg.stream, **stream))
        self.base = from_statistics(stats_of(frame()), ["temp", "humid"], ["carrier"], span=1)
        self.th = thresholds.calibrate(self.base, self.cfg.stream, draws=200)
        rows = [{k: (None if v != v else v) for k, v in r.items()} for r in frame(seed=1).to_dict("records")]
        self.calm = [json.dumps(r).encode() for r in rows]
        self.shifted = [json.dumps(dict(r, temp=r["temp"] + 30)).encode() for r in rows]

    def streamer(self, region_dir, now_s, partitions=3, **kw) -> Streamer:
        s = Streamer(self.cfg, region_dir, self.base, self.th, fixed_tiers(self.cfg.drift), **kw)
        s.start_offsets(range(partitions), now_s)
        s.last_checkpoint = now_s  # the simulated wall clock
        return s


def batches(
    region, seconds, *, rate, batch_s=5, start_ms=START, partitions=3, shift_every_s=None, shift_s=600, seed=0
):
    """``(messages, now)`` per ``batch_s`` of event time over ``seconds``:
    ``rate`` records a second, round-robin over ``partitions``; the last
    ``shift_s`` of every ``shift_every_s`` from the shifted pool."""
    rng = np.random.default_rng(seed)
    per_batch = int(round(rate * batch_s))
    step_ms = 1000.0 / rate
    offsets = [0] * partitions
    n = 0
    for b in range(int(seconds / batch_s)):
        sec = b * batch_s
        shifted = shift_every_s and sec % shift_every_s >= shift_every_s - shift_s
        pool = region.shifted if shifted else region.calm
        msgs = []
        for i in rng.integers(0, len(pool), per_batch):
            p = n % partitions
            msgs.append(replay.Message(p, offsets[p], pool[i], int(start_ms + n * step_ms)))
            offsets[p] += 1
            n += 1
        yield msgs, start_ms / 1000 + sec + batch_s
