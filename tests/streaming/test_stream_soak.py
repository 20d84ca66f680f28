"""The stream watcher run for ten days of event time at speed (no broker:
``tests/streaming/simulated.py``), with a 30-minute temperature shift every
six hours (an episode opens and clears four times a day) and a short
``keep_transitions``. To fit in seconds the panes are 10 minutes (windows of
10, 30 and 60 minutes, a checkpoint every 30 minutes, a record every 2
seconds): the same code paths as the default 10 s panes with 60 times fewer
judgements and 100 times fewer records (``benchmarks/bench_stream_soak.py``
runs the default config at 50 records/s).

It proves that nothing the watcher holds grows with the time it runs: the
transitions it keeps stay at ``keep_transitions`` while every one of them
went to the sink first (the others counted as dropped); the objects reachable
from the watcher (its state, not the baseline and thresholds it was given)
are as many on day 10 as on day 2; ended spans leave no counts or offsets
behind; the state on disk (the checkpoint file and its pane segments) is as
large on day 10 as on day 3, the segments rotating with the window; resident
memory on day 10 is within 15% of day 2 (a loose bound: the process holds
TensorFlow and the rest of the test session; the object count is the sharp
measure). Beside it: a span that has ended keeps no offsets even when late
records of it come after its summary was written, and the alert dispatcher
keeps running counts of its outcomes and forgets, after a checkpoint, the
alert records no restart can send again. What it does not prove: months of
real time (the allocator's fragmentation over months, the broker's own
client), the default config's scale (the benchmark's job)."""

import gc
import os
import sys
import types

from streaming import replay
from tests.streaming import simulated

DAY = 86_400
DAYS = 10
KEEP = 5
SKIP = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType)


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def reachable(root, exclude) -> tuple:
    """(objects, bytes) reachable from ``root``, not through ``exclude``,
    classes, modules or functions."""
    seen = {id(x) for x in exclude}
    stack, n, size = [root], 0, 0
    while stack:
        o = stack.pop()
        if id(o) in seen or isinstance(o, SKIP):
            continue
        seen.add(id(o))
        n += 1
        size += sys.getsizeof(o)
        stack.extend(gc.get_referents(o))
    return n, size


def state_on_disk(folder) -> tuple:
    """(bytes, pane segment files) of the checkpoint and its segments."""
    total, files = os.path.getsize(os.path.join(folder, "_stream", "checkpoint.json.z")), 0
    panes = os.path.join(folder, "_stream", "panes")
    for name in os.listdir(panes):
        total += os.path.getsize(os.path.join(panes, name))
        files += 1
    return total, files


def test_ten_days_of_event_time_leave_the_watchers_memory_and_state_where_day_two_had_them(
    stats_of, tmp_path
):
    region = simulated.Region(
        stats_of, pane_s=600.0, windows_s=(600.0, 1800.0, 3600.0), checkpoint_s=1800.0, keep_transitions=KEEP
    )
    handed = []
    folder = str(tmp_path)
    s = region.streamer(folder, simulated.START / 1000, sink=handed.extend)
    given = [region.base, region.th, region.cfg, s.detector.baseline, s.detector.thresholds, s.detector.cfg]
    days = {}
    feed = simulated.batches(region, DAYS * DAY, rate=0.5, batch_s=60, shift_every_s=6 * 3600, shift_s=1800)
    for i, (msgs, now) in enumerate(feed, start=1):
        s.handle_batch(msgs, now)
        s.tick(now)
        if i % (DAY // 60) == 0:
            gc.collect()
            days[i // (DAY // 60)] = {
                "objects": reachable(s, given),
                "rss_mb": rss_mb(),
                "disk": state_on_disk(folder),
                "spans": (len(s.span_counts), len(s.span_offsets)),
                "panes": len(s.detector.panes),
            }
    first, last = days[2], days[DAYS]

    # transitions: every one went to the sink, the newest KEEP kept
    assert len(handed) >= 4 * DAYS, len(handed)  # an episode opened and cleared four times a day
    assert len(s.transitions) == KEEP and s.transitions_dropped == len(handed) - KEEP
    assert list(s.transitions) == handed[-KEEP:]

    # the watcher's state: as many objects on day 10 as on day 2
    assert last["objects"][0] <= first["objects"][0] * 1.05 + 50, (first["objects"], last["objects"])
    assert last["panes"] <= 7 and all(d["spans"][0] <= 1 and d["spans"][1] <= 2 for d in days.values())
    summaries = sorted(n for n in os.listdir(os.path.join(folder, "_stream")) if n.startswith("span-"))
    assert len(summaries) == DAYS - 1  # one per ended day (the tenth ends with the last record)

    # on disk: one window's panes in a few segments, and a small commit file
    assert last["disk"][0] <= 1.5 * days[3]["disk"][0], (days[3]["disk"], last["disk"])
    assert all(d["disk"][1] <= 6 / 3 + 2 for d in days.values())

    # resident memory (loose: the whole test process)
    assert last["rss_mb"] <= first["rss_mb"] * 1.15, (first["rss_mb"], last["rss_mb"])


def test_an_ended_span_keeps_no_offsets_even_when_late_records_of_it_arrive(stats_of, tmp_path):
    region = simulated.Region(stats_of)
    start = simulated.START + (DAY - 600) * 1000  # 23:50
    s = region.streamer(str(tmp_path), start / 1000)
    feed = list(simulated.batches(region, 1200, rate=5, start_ms=start))
    day = start // 1000 // DAY
    cut = len(feed) * 3 // 4  # 00:05
    for msgs, now in feed[:cut]:
        s.handle_batch(msgs, now)
        s.tick(now)
    assert os.path.exists(os.path.join(str(tmp_path), "_stream", f"span-{day}.json"))
    late = [replay.Message(0, 10**6, region.calm[0], start)]  # of the day, after its summary
    for msgs, now in feed[cut:]:
        s.handle_batch(msgs + late, now)
        late = []
        s.tick(now)
    assert s.detector.counts["late"] == 1
    assert sorted(s.span_offsets) == [day + 1] and sorted(s.span_counts) == [day + 1]


def test_the_dispatcher_keeps_counts_of_its_outcomes_and_forgets_what_no_restart_can_resend(tmp_path):
    import dataclasses
    import json
    import time

    from driftgate.app.stream import Dispatcher
    from driftgate.core.config import load_region_config
    from streaming.detector import Episode, Finding, Transition

    cfg = load_region_config("EWR")
    cfg = dataclasses.replace(
        cfg,
        stream=dataclasses.replace(cfg.stream, keep_transitions=2),
        alerts=dataclasses.replace(cfg.alerts, enabled=False),
    )
    path = str(tmp_path / "alerts.json")
    d = Dispatcher(cfg, path, env={})
    episodes = [Episode(f"f{i}", 100 + i, "warning", 0, 0) for i in range(4)]
    d([Transition("open", e, 0, Finding("ks", 30.0, 0.5, 0.1, 300, "warning")) for e in episodes])
    d([Transition("clear", episodes[0], 10, None)])
    d.drain()
    assert len(d.outcomes) == 2 and d.by_outcome == {"logged (alerts disabled)": 5}
    assert d.dispatch.snapshot()[2] == 5
    with open(path) as fh:
        assert len(json.load(fh)) == 5
    # a checkpoint after all of them, with f1 and f3 still open: the others' records go
    assert d.forget(time.time() + 1, [episodes[1].id, episodes[3].id]) == 3
    with open(path) as fh:
        assert sorted(json.load(fh)) == [f"{episodes[1].id}:open:warning", f"{episodes[3].id}:open:warning"]
    assert d.forget(0.0, []) == 0  # sent after that checkpoint: kept
