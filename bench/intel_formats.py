"""Benchmark: the intel format readers against the cheapest loop over the same input.

    python bench/intel_formats.py            # ipsum, signature-base, a 10,000-attribute MISP event
    python bench/intel_formats.py --misp-stix  # also misp-stix on the MISP event (slow: ~15 s)

Each reader is timed (best of ``--repeat`` runs) beside a baseline measured in the same
run, so the ratio holds on a noisy machine:

- lists: :func:`steppe.ingest.intel.read_list` with the ``ipsum`` preset over the whole
  ipsum feed (tests/data/feeds/ipsum/ipsum.txt, ≈120,000 lines) against a bare
  ``split("\\t")`` loop that builds a tuple per line (no checks at all);
- MISP: :func:`~steppe.ingest.intel.read_misp_event` and
  :func:`~steppe.ingest.intel.to_misp_event` on a 10,000-attribute event made with
  PyMISP, against ``orjson.loads`` of the same event; with ``--misp-stix``, also
  misp-stix's ``MISPtoSTIX21Parser`` (the library this mapping replaces on the hot path).

The feed store needs ≥ 100,000 observables/s end to end, so the list reader must run
well above that.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from steppe.ingest.intel import PRESETS, preset_for_file, read_list, read_misp_event, to_misp_event

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "feeds"


def best(repeat: int, run: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def bare_split(data: bytes) -> list[tuple[str, str]]:
    out = []
    for line in data.decode().splitlines():
        if line and line[0] != "#":
            value, _, score = line.partition("\t")
            out.append((value, score))
    return out


def misp_event(attributes: int) -> bytes:
    from pymisp import MISPEvent

    event = MISPEvent()
    event.info = "bench"
    event.distribution = 1
    event.add_tag("tlp:green")
    kinds = ("ip-dst", "domain", "md5", "url", "sha256")
    for i in range(attributes):
        kind = kinds[i % len(kinds)]
        value = {
            "ip-dst": f"10.{i // 65536}.{(i // 256) % 256}.{i % 256}",
            "domain": f"d{i}.evil.com",
            "md5": f"{i:032x}",
            "url": f"http://u{i}.evil.com/x",
            "sha256": f"{i:064x}",
        }[kind]
        event.add_attribute(kind, value, to_ids=i % 3 != 0, comment="bench")
    return event.to_json().encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--attributes", type=int, default=10_000)
    parser.add_argument("--misp-stix", action="store_true")
    args = parser.parse_args()

    ipsum = (DATA / "ipsum" / "ipsum.txt").read_bytes()
    entries = len(list(read_list(ipsum, PRESETS["ipsum"], "ipsum.txt")))
    base = best(args.repeat, lambda: bare_split(ipsum))
    ours = best(args.repeat, lambda: list(read_list(ipsum, PRESETS["ipsum"], "ipsum.txt")))
    print(f"ipsum: {entries:,} entries")
    print(f"  bare split      {entries / base:12,.0f} lines/s")
    print(
        f"  read_list       {entries / ours:12,.0f} entries/s   ({ours / base:.1f}x the bare loop)"
    )

    hashes = (DATA / "signature-base" / "hash-iocs.txt").read_bytes()
    mapping = preset_for_file("hash-iocs.txt")
    count = len(list(read_list(hashes, mapping, "hash-iocs.txt")))
    took = best(args.repeat, lambda: list(read_list(hashes, mapping, "hash-iocs.txt")))
    print(f"signature-base hash-iocs: {count:,} entries, {count / took:,.0f} entries/s")

    data = misp_event(args.attributes)
    n = args.attributes
    found = read_misp_event(data, "bench.json")
    bundle = orjson.dumps({"type": "bundle", "objects": found.objects})
    base = best(args.repeat, lambda: orjson.loads(data))
    read = best(args.repeat, lambda: read_misp_event(data, "bench.json"))
    write = best(args.repeat, lambda: to_misp_event(bundle))
    print(f"MISP event of {n:,} attributes -> {len(found.objects):,} STIX objects")
    print(f"  orjson.loads    {n / base:12,.0f} attributes/s")
    print(f"  read_misp_event {n / read:12,.0f} attributes/s   ({read / base:.0f}x orjson.loads)")
    print(f"  to_misp_event   {n / write:12,.0f} attributes/s")
    if args.misp_stix:
        from misp_stix_converter import MISPtoSTIX21Parser

        def convert() -> None:
            MISPtoSTIX21Parser().parse_misp_event(orjson.loads(data))

        took = best(1, convert)
        print(
            f"  misp-stix       {n / took:12,.0f} attributes/s   ({took / read:.0f}x read_misp_event)"
        )


if __name__ == "__main__":
    main()
