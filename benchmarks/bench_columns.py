"""The columnar copy's compression (``components.ingest.fast.COLUMNS_COMPRESSION``):
size on disk, ingest time and the statistics executor's read, uncompressed
against zstd (and lz4), side by side in one process on the same span.

    .venv/bin/python benchmarks/bench_columns.py [--rows 1000000] [-o json]

The span is EWR flights resampled to ``--rows`` lines (``bench_scale.make_data``).
"""

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--pool", default="demo/data", help="flights spans to resample (driftgate data flights)")
    ap.add_argument("-o", dest="fmt", choices=["table", "json"], default="table")
    args = ap.parse_args(argv)

    import pyarrow as pa

    from benchmarks.bench_scale import make_data
    from components.ingest import fast
    from components.statistics.executor import _decoded

    work = tempfile.mkdtemp(prefix="driftgate-bench-columns-")
    data = make_data(args.pool, work, args.rows)
    files = [os.path.join(data, "EWR", "span-1", "data.csv")]
    rows = []
    for compression in (None, "lz4", "zstd"):
        fast.COLUMNS_COMPRESSION = compression
        uri = os.path.join(work, f"examples-{compression}")
        t0 = time.perf_counter()
        fast.ingest("csv", files, [("train", 3), ("eval", 1)], uri)
        ingest_s = time.perf_counter() - t0
        size = sum(os.path.getsize(fast.columns_file(uri, s)) for s in ("train", "eval"))
        t0 = time.perf_counter()
        n = sum(b.num_rows for s in ("train", "eval") for b in _decoded(uri, s))
        read_s = time.perf_counter() - t0
        assert n == args.rows, n
        rows.append(
            {"compression": compression or "none", "bytes": size, "ingest_s": ingest_s, "read_s": read_s}
        )
        print(
            f"  {compression or 'none'}: {size / 1e6:.0f} MB, ingest {ingest_s:.1f}s, read {read_s:.2f}s",
            file=sys.stderr,
        )
    base = rows[0]
    for r in rows:
        r["size_ratio"] = r["bytes"] / base["bytes"]
        r["ingest_ratio"] = r["ingest_s"] / base["ingest_s"]
    if args.fmt == "json":
        print(json.dumps({"rows": args.rows, "results": rows, "pyarrow": pa.__version__}, indent=1))
        return 0
    print(f"{args.rows:,} rows (EWR resampled), columnar copy of both splits")
    print("compression  size MB  x none  ingest s  x none  read s")
    for r in rows:
        print(
            f"{r['compression']:<11}  {r['bytes'] / 1e6:7.0f}  {r['size_ratio']:6.2f}  {r['ingest_s']:8.1f}"
            f"  {r['ingest_ratio']:6.2f}  {r['read_s']:6.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
