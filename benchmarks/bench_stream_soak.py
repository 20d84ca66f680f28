"""``driftgate stream`` for months: resident memory and checkpoint cost over
N days of event time, one region.

Replays ``--days`` of event time at ``--rate`` records/s (default 50) through
the stream watcher directly (``streaming.streamer.Streamer``; no broker: the
consumed messages are built in memory, as ``tests/streaming/test_stream_metrics.py``
builds them), at the region's default stream config (10 s panes, windows of
30 s, 5 min and 60 min, a checkpoint every ``stream.checkpoint_s`` = 30 s).
Records of the 20-feature region of ``bench_stream.py`` (14 numeric, 6
categorical), drawn at random from a fresh sample of the baseline's
distribution, go out in batches of ``--batch-s`` seconds over 3 partitions;
after each batch the watcher ticks as the app's loop does, its wall clock
simulated as the event time, so a checkpoint falls every ``checkpoint_s`` of
event time. Every ``--shift-every-h`` hours one numeric feature shifts by 2
standard deviations for 10 minutes: an episode opens and later clears, so
there are transitions to keep (``--keep-transitions`` overrides
``stream.keep_transitions``).

Reported per simulated day: resident memory (VmRSS after ``gc.collect()``;
the baseline's statistics are computed in a child process, so TensorFlow is
not in this one), live Python objects, the watcher's state (panes kept,
transitions kept and dropped, open span summaries), the checkpoint bytes
written per hour of event time (every write under ``_stream/`` but the span
summaries: the commit file and the pane segments) and the state on disk.
``--before`` adds the old layout's cost beside it: the whole state (every
pane of the longest window) serialised as the one compressed file the
watcher rewrote at every checkpoint before pane segments
(``Streamer.full_state``), sampled at the first checkpoint of every
simulated hour and multiplied by the checkpoints per hour.

Cost: 8,640 panes judged per simulated day, about 6 CPU minutes per day
with the 20 features and 75 s with ``--numeric 2 --categorical 1`` (30 days:
38 CPU minutes); what the watcher holds does not depend on the features'
number, so long soaks run with few.

    .venv/bin/python benchmarks/bench_stream_soak.py [--days 30] [--rate 50] [--before]
        [--numeric 14] [--categorical 6] [--keep-transitions N] [-o json] [--save [PATH]]
"""

import argparse
import dataclasses
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import numpy as np  # noqa: E402

START = 1_357_084_800_000  # 2013-01-02T00:00:00Z
DAY_S = 86_400
PARTITIONS = 3
SHIFT_S = 600
RESULT = os.path.join(HERE, "results", "bench_stream_soak.json")


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def emit_stats(path: str) -> None:
    """(child process) the baseline's TFDV statistics, serialised to ``path``."""
    import bench_stream
    import tensorflow_data_validation as tfdv

    frame = bench_stream.synthetic(seed=0)
    stats = tfdv.generate_statistics_from_dataframe(
        frame, stats_options=tfdv.StatsOptions(num_quantiles_histogram_buckets=100)
    )
    with open(path, "wb") as fh:
        fh.write(stats.SerializeToString())


def baseline(n_numeric: int = 14, n_categorical: int = 6):
    """The region's baseline (its first ``n_numeric`` numeric and ``n_categorical``
    categorical features), its statistics computed in a child process (no
    TensorFlow here), and fresh records of the same distribution."""
    import bench_stream
    from tensorflow_metadata.proto.v0 import statistics_pb2

    from streaming.baseline import from_statistics

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "stats.pb")
        subprocess.run([sys.executable, os.path.abspath(__file__), "--emit-stats", path], check=True)
        stats = statistics_pb2.DatasetFeatureStatisticsList()
        with open(path, "rb") as fh:
            stats.ParseFromString(fh.read())
    frame = bench_stream.synthetic(seed=1)  # fresh records of the same distribution
    numeric = [c for c in frame.columns if c.startswith("n")][:n_numeric]
    categorical = [c for c in frame.columns if c.startswith("c")][:n_categorical]
    return from_statistics(stats, numeric, categorical, 1), frame[numeric + categorical]


def pools(frame, feature: str = "n0"):
    """Encoded records (no event time: the message timestamp is the event time),
    as they are and with ``feature`` shifted by 2 standard deviations."""
    rows = [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
        for r in frame.to_dict("records")
    ]
    std = float(frame[feature].std())
    calm = [json.dumps(r).encode() for r in rows]
    shifted = []
    for r in rows:
        r = dict(r)
        if r[feature] is not None:
            r[feature] = r[feature] + 2 * std
        shifted.append(json.dumps(r).encode())
    return calm, shifted


class Counting:
    """``storage.write_atomic`` counting the bytes of every write under ``_stream/``."""

    def __init__(self, storage):
        self.storage, self.write = storage, storage.write_atomic
        self.bytes = {"commit": 0, "panes": 0, "spans": 0, "other": 0}
        self.writes = {k: 0 for k in self.bytes}
        storage.write_atomic = self

    def __call__(self, path, data):
        name = os.path.basename(path)
        kind = (
            "panes"
            if os.sep + "panes" + os.sep in path
            else "commit"
            if name.startswith("checkpoint")
            else "spans"
            if name.startswith("span-")
            else "other"
        )
        self.bytes[kind] += len(data)
        self.writes[kind] += 1
        return self.write(path, data)

    def checkpoint_bytes(self) -> int:
        return self.bytes["commit"] + self.bytes["panes"]

    def close(self):
        self.storage.write_atomic = self.write


def disk_kb(region_dir: str) -> dict:
    out = {"state_kb": 0.0, "span_summaries_kb": 0.0, "files": 0}
    for folder, _, names in os.walk(os.path.join(region_dir, "_stream")):
        for n in names:
            size = os.path.getsize(os.path.join(folder, n)) / 1024
            if n.startswith("span-"):
                out["span_summaries_kb"] += size
            elif n.startswith("checkpoint") or os.path.basename(folder) == "panes":
                out["state_kb"] += size
                out["files"] += 1
    return {k: round(v, 1) if isinstance(v, float) else v for k, v in out.items()}


def legacy_kb(streamer, now) -> tuple:
    """The old layout's one file at this checkpoint: (JSON KB, compressed KB)."""
    raw = json.dumps(streamer.full_state(now)).encode()
    return len(raw) / 1024, len(zlib.compress(raw, 3)) / 1024


def run(args) -> dict:
    from driftgate.core import storage
    from driftgate.core.config import load_region_config
    from streaming import replay, thresholds
    from streaming.detector import fixed_tiers
    from streaming.streamer import Streamer

    began_cpu = time.process_time()
    base, frame = baseline(args.numeric, args.categorical)
    cfg = load_region_config("EWR")
    stream = cfg.stream
    if args.keep_transitions is not None:
        stream = dataclasses.replace(stream, keep_transitions=args.keep_transitions)
    cfg = dataclasses.replace(cfg, stream=stream)
    th = thresholds.calibrate(base, cfg.stream)
    calm, shifted = pools(frame)
    setup_cpu = time.process_time() - began_cpu
    work = tempfile.mkdtemp(prefix="driftgate-bench-soak-")
    counting = Counting(storage)
    s = Streamer(cfg, work, base, th, fixed_tiers(cfg.drift))
    t0 = START / 1000
    s.start_offsets(range(PARTITIONS), t0)
    s.last_checkpoint = t0  # the simulated wall clock
    rng = np.random.default_rng(7)
    per_batch = int(round(args.rate * args.batch_s))
    step_ms = 1000.0 / args.rate
    offsets = [0] * PARTITIONS
    shift_every = args.shift_every_h * 3600 if args.shift_every_h else None
    days, hourly_legacy = [], []
    checkpoints_per_hour = 3600 / cfg.stream.checkpoint_s
    n = 0
    last_hour = -1
    for day in range(1, int(np.ceil(args.days)) + 1):
        day_s = min(DAY_S, args.days * DAY_S - (day - 1) * DAY_S)
        batches_per_day = int(day_s / args.batch_s)
        day_cpu = time.process_time()
        bytes_before = counting.checkpoint_bytes()
        writes_before = counting.writes["commit"]
        for b in range(batches_per_day):
            sec = (day - 1) * DAY_S + b * args.batch_s
            in_shift = shift_every and sec % shift_every >= shift_every - SHIFT_S
            pool = shifted if in_shift else calm
            idx = rng.integers(0, len(pool), per_batch)
            msgs = []
            for i in idx:
                p = n % PARTITIONS
                msgs.append(replay.Message(p, offsets[p], pool[i], int(START + n * step_ms)))
                offsets[p] += 1
                n += 1
            now = t0 + sec + args.batch_s
            s.handle_batch(msgs, now)
            before = s.last_checkpoint
            s.tick(now)
            hour = int(sec // 3600)
            if args.before and s.last_checkpoint != before and hour != last_hour:
                last_hour = hour
                hourly_legacy.append(legacy_kb(s, now))
        gc.collect()
        hours = day_s / 3600
        day_bytes = counting.checkpoint_bytes() - bytes_before
        row = {
            "day": day,
            "rss_mb": round(rss_mb(), 1),
            "objects": len(gc.get_objects()),
            "panes": len(s.detector.panes),
            "transitions_kept": len(s.transitions),
            "transitions_dropped": getattr(s, "transitions_dropped", 0),
            "open_spans": len(s.span_counts) + len(s.span_offsets),
            "checkpoints": counting.writes["commit"] - writes_before,
            "checkpoint_kb_per_hour": round(day_bytes / 1024 / hours, 1),
            "cpu_s": round(time.process_time() - day_cpu, 1),
            **disk_kb(work),
        }
        if hourly_legacy:
            day_legacy = hourly_legacy[-24:]
            row["before_kb_per_checkpoint"] = round(float(np.mean([c for _, c in day_legacy])), 1)
            row["before_json_kb_per_checkpoint"] = round(float(np.mean([j for j, _ in day_legacy])), 1)
            row["before_kb_per_hour"] = round(row["before_kb_per_checkpoint"] * checkpoints_per_hour, 1)
        days.append(row)
        print(
            f"day {day}: rss {row['rss_mb']} MB, {row['checkpoint_kb_per_hour']} KB/h, {row['cpu_s']} s",
            file=sys.stderr,
        )
    counting.close()
    if not args.keep_state:
        shutil.rmtree(work, ignore_errors=True)
    first, last = days[0], days[-1]
    return {
        "days": args.days,
        "rate": args.rate,
        "features": len(base.features),
        "checkpoint_s": cfg.stream.checkpoint_s,
        "keep_transitions": getattr(cfg.stream, "keep_transitions", None),
        "records": n,
        "setup_cpu_s": round(setup_cpu, 1),
        "cpu_s": round(sum(d["cpu_s"] for d in days), 1),
        "rss_growth_day1_to_last": round(last["rss_mb"] / first["rss_mb"] - 1, 4),
        "per_day": days,
        **({"state_dir": work} if args.keep_state else {}),
    }


def table(out) -> str:
    days = out["per_day"]
    before = "before_kb_per_hour" in days[-1]
    head = (
        f"{'day':>4} {'RSS MB':>8} {'objects':>9} {'panes':>6} {'trans kept/dropped':>19} {'open spans':>10} "
    )
    head += f"{'ckpt KB/h':>10} {'on disk KB':>10} {'files':>6}"
    if before:
        head += f" {'old KB/h':>10} {'old KB/ckpt':>11} {'old JSON KB':>11}"
    lines = [
        f"stream soak: {out['days']:g} days of event time at {out['rate']:g} records/s, "
        f"{out['features']} features, checkpoint every {out['checkpoint_s']:g} s, "
        f"keep_transitions {out['keep_transitions']}; {out['records']:,} records, "
        f"{out['cpu_s']:,} CPU s (+{out['setup_cpu_s']} s setup)",
        head,
    ]
    shown = [d for d in days if d["day"] in (1, 2, 3) or d["day"] % 5 == 0 or d is days[-1]]
    for d in shown:
        line = (
            f"{d['day']:>4} {d['rss_mb']:>8} {d['objects']:>9,} {d['panes']:>6} "
            f"{d['transitions_kept']:>9}/{d['transitions_dropped']:<9} {d['open_spans']:>10} "
            f"{d['checkpoint_kb_per_hour']:>10,} {d['state_kb']:>10,} {d['files']:>6}"
        )
        if before:
            line += (
                f" {d['before_kb_per_hour']:>10,} {d['before_kb_per_checkpoint']:>11,}"
                f" {d['before_json_kb_per_checkpoint']:>11,}"
            )
        lines.append(line)
    first, last = days[0], days[-1]
    lines.append(
        f"RSS day 1 -> day {last['day']}: {first['rss_mb']} -> {last['rss_mb']} MB "
        f"({out['rss_growth_day1_to_last']:+.1%}); checkpoint writes {last['checkpoint_kb_per_hour']:,} KB "
        f"per hour of event time"
        + (
            f" (the old whole-state file: {last['before_kb_per_hour']:,} KB per hour, "
            f"{last['before_kb_per_hour'] / max(last['checkpoint_kb_per_hour'], 1e-9):.0f}x)"
            if before
            else ""
        )
    )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=30)
    ap.add_argument("--rate", type=float, default=50.0, help="records per second of event time")
    ap.add_argument("--batch-s", type=float, default=5.0, help="event seconds per consumed batch")
    ap.add_argument(
        "--shift-every-h", type=float, default=6.0, help="a 10-min shift every this many hours (0: none)"
    )
    ap.add_argument("--keep-transitions", type=int, default=None)
    ap.add_argument("--numeric", type=int, default=14, help="numeric features (of 14)")
    ap.add_argument("--categorical", type=int, default=6, help="categorical features (of 6)")
    ap.add_argument("--before", action="store_true", help="also measure the old whole-state checkpoint")
    ap.add_argument(
        "--save", nargs="?", const=RESULT, help=f"write the JSON here (default {os.path.relpath(RESULT)})"
    )
    ap.add_argument("--keep-state", action="store_true", help="leave the state folder (its path in the JSON)")
    ap.add_argument("--emit-stats", help=argparse.SUPPRESS)
    ap.add_argument("-o", dest="fmt", choices=["table", "json"], default="table")
    args = ap.parse_args(argv)
    if args.emit_stats:
        emit_stats(args.emit_stats)
        return 0
    out = run(args)
    if args.save:
        os.makedirs(os.path.dirname(os.path.abspath(args.save)), exist_ok=True)
        with open(args.save, "w") as fh:
            json.dump(out, fh, indent=1)
    print(json.dumps(out, indent=1) if args.fmt == "json" else table(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
