"""Benchmark: the event lake's durable accept and its Parquet writer.

    python bench/lake_write.py                  # 200 batches of 1,000 events
    python bench/lake_write.py --batches 20     # seconds

Events look like Zeek conn records after parsing (14 ECS fields and a raw record of 18
keys, ~900 bytes as JSON). In one run, on a fresh lake in a temporary folder (set
``--dir`` to measure another disk):

1. the baseline: the same batches serialised with orjson and appended to a file with
   one ``fsync`` per batch, in one thread — the least a durable acknowledgment costs;
2. ``EventLake.accept`` of every batch from one thread (one fsync per batch, plus the
   spool's framing and checksums), then from ``--threads`` threads at once (group
   commit: callers share fsyncs; the script prints fsyncs per batch);
3. ``EventLake.flush``: the spool written to Parquet (zstd), events/s.

It prints events/s for each and the ratios accept / baseline.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from steppe.lake import EventLake


def make_batch(seed: int, size: int) -> list[dict[str, Any]]:
    out = []
    for i in range(size):
        n = seed * size + i
        raw = {
            "ts": 1764324000.0 + n / 1000,
            "uid": f"C{n:017x}",
            "id.orig_h": f"10.{n % 250}.{(n // 250) % 250}.{n % 7 + 1}",
            "id.orig_p": 40000 + n % 20000,
            "id.resp_h": f"192.0.2.{n % 250}",
            "id.resp_p": 443,
            "proto": "tcp",
            "service": "ssl",
            "duration": 0.25,
            "orig_bytes": 512,
            "resp_bytes": 4096,
            "conn_state": "SF",
            "local_orig": True,
            "local_resp": False,
            "missed_bytes": 0,
            "history": "ShADadFf",
            "orig_pkts": 8,
            "resp_pkts": 9,
        }
        out.append(
            {
                "@timestamp": f"2026-11-28T{(n // 3600000) % 24:02d}:{(n // 60000) % 60:02d}:"
                f"{(n // 1000) % 60:02d}.{n % 1000:03d}000Z",
                "event.ingested": "2026-11-28T12:00:00.000000Z",
                "event.dataset": "zeek.conn",
                "event.module": "zeek",
                "event.kind": "event",
                "event.category": "network",
                "observer.name": "sensor-1",
                "source.ip": raw["id.orig_h"],
                "source.port": raw["id.orig_p"],
                "destination.ip": raw["id.resp_h"],
                "destination.port": 443,
                "network.transport": "tcp",
                "network.protocol": "ssl",
                "message": raw["uid"],
                "raw": raw,
            }
        )
    return out


def baseline(folder: Path, batches: list[list[dict[str, Any]]]) -> float:
    path = folder / "baseline.log"
    started = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for batch in batches:
            os.write(fd, orjson.dumps(batch))
            os.fsync(fd)
    finally:
        os.close(fd)
    elapsed = time.perf_counter() - started
    path.unlink()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()

    batches = [make_batch(i, args.batch_size) for i in range(args.batches)]
    events = args.batches * args.batch_size
    size = len(orjson.dumps(batches[0])) / args.batch_size
    print(f"{args.batches} batches of {args.batch_size} events (~{size:.0f} bytes each as JSON)")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        base = baseline(folder, batches)
        print(f"baseline  write+fsync per batch: {events / base:12,.0f} events/s")

        big = 1 << 40
        lake = EventLake(folder / "lake", flush_seconds=3600, max_backlog_bytes=big)
        lake.start(background=False)
        started = time.perf_counter()
        for batch in batches:
            lake.accept(1, batch)
        one = time.perf_counter() - started
        fsyncs_one = lake.stats().fsyncs
        print(
            f"accept    1 thread:              {events / one:12,.0f} events/s "
            f"({args.batches / one:,.0f} batches/s, {fsyncs_one / args.batches:.2f} fsyncs/batch)"
        )
        started = time.perf_counter()
        lake.flush()
        written = time.perf_counter() - started
        stats = lake.stats()
        print(
            f"parquet   flush:                 {stats.written_events / written:12,.0f} events/s "
            f"({stats.written_files} files, {stats.written_bytes / 1e6:.1f} MB)"
        )

        before = lake.stats().fsyncs
        per_thread = [batches[t :: args.threads] for t in range(args.threads)]
        threads = [
            threading.Thread(target=lambda mine=mine: [lake.accept(2, b) for b in mine])
            for mine in per_thread
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        many = time.perf_counter() - started
        fsyncs_many = lake.stats().fsyncs - before
        print(
            f"accept    {args.threads} threads:             {events / many:12,.0f} events/s "
            f"({fsyncs_many / args.batches:.2f} fsyncs/batch)"
        )
        lake.close()
        print(f"ratio accept(1 thread) / baseline: {base / one:.2f}")
        print(f"ratio accept({args.threads} threads) / baseline: {base / many:.2f}")


if __name__ == "__main__":
    main()
