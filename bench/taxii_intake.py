"""Benchmark: the import under a TAXII POST, one transaction per envelope (synchronous
POST) against the asynchronous intake's group import, in this process (no HTTP).

    python bench/taxii_intake.py                 # 4 rounds of 10 envelopes of 500 per mode
    python bench/taxii_intake.py --group 5

Per mode and round: ``--group`` envelopes of 500 generated indicators (bench/taxii.py's
mix), either each through ``add_objects`` in its own transaction (what a synchronous
POST does), or all through ``import_spooled`` in one transaction (what the intake's
worker does with the envelopes spooled since its last round). The modes take turns on
one SQLite database. Printed: CPU of this process an object (``time.process_time``,
user + system: steadier than wall time on a shared machine) and wall time an object.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).parent))
from taxii import KEY, coalition, indicators

from steppe.federation.collections import find_collection
from steppe.federation.intake import Spooled, SpoolHeader
from steppe.federation.writing import add_objects, import_spooled
from steppe.sharing import directory
from steppe.storage.engine import writing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--group", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--envelope", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="steppe-bench-intake-") as tmp:
        engine, trail, _, _ = coalition(Path(tmp))
        with engine.begin() as conn:
            actor = directory.load_actor(conn, "ana")
            community = find_collection(conn, actor, "community")
        warm = indicators(args.envelope, 99)  # builds the warninglist index
        with writing(engine) as conn:
            add_objects(conn, trail, actor, community, orjson.dumps({"objects": warm}), warm)
        totals = {"per envelope": [0.0, 0.0], "group": [0.0, 0.0]}
        seed = 100
        for _ in range(args.rounds):
            for mode, total in totals.items():
                bodies = [
                    orjson.dumps({"objects": indicators(args.envelope, seed + i)})
                    for i in range(args.group)
                ]
                seed += args.group
                cpu0, wall0 = time.process_time(), time.perf_counter()
                if mode == "per envelope":
                    for body in bodies:
                        objects = orjson.loads(body)["objects"]
                        with writing(engine) as conn:
                            add_objects(conn, trail, actor, community, body, objects)
                else:
                    spooled = [
                        Spooled(
                            SpoolHeader(
                                str(uuid.uuid4()),
                                actor.user_id,
                                "ana",
                                community.id,
                                "2026-11-29T00:00:00.000000Z",
                                args.envelope,
                            ),
                            body,
                            Path("unused"),
                        )
                        for body in bodies
                    ]
                    with writing(engine) as conn:
                        import_spooled(conn, KEY, spooled)
                total[0] += time.process_time() - cpu0
                total[1] += time.perf_counter() - wall0
        engine.dispose()
    objects = args.rounds * args.group * args.envelope
    for mode, (cpu, wall) in totals.items():
        print(
            f"{mode:<13} CPU {cpu / objects * 1e6:6.1f} us an object,"
            f" wall {wall / objects * 1e6:6.1f} us an object ({objects:,} objects)"
        )
    (cpu_a, wall_a), (cpu_b, wall_b) = totals.values()
    print(f"group / per envelope: CPU {cpu_b / cpu_a:.2f}x, wall {wall_b / wall_a:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
