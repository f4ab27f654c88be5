"""The compiled parts of Steppe (C, no dependencies): the IOC screen of JSON events and
the Suricata EVE decoder into the lake's columns.

Everything else is in pyproject.toml. Why they are C: see the comment at the top of each
.c file and docs/benchmarks.md ("IOC matching of JSON-lines telemetry", "Telemetry
ingest"). Steppe runs without them (the Python paths take over).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "steppe.detection.ioc._jsonscreen",
            [
                "src/steppe/detection/ioc/_jsonscreen.c",
                "src/steppe/detection/ioc/_jsonscreen_json.c",
                "src/steppe/detection/ioc/_jsonscreen_lists.c",
            ],
            depends=[
                "src/steppe/detection/ioc/_jsonscreen_json.h",
                "src/steppe/detection/ioc/_jsonscreen_lists.h",
            ],
            extra_compile_args=["-O3", "-std=c11"],
            optional=True,
        ),
        Extension(
            "steppe.ingest.telemetry._evecolumns",
            [
                "src/steppe/ingest/telemetry/_evecolumns.c",
                "src/steppe/ingest/telemetry/_evecolumns_line.c",
            ],
            depends=["src/steppe/ingest/telemetry/_evecolumns_line.h"],
            extra_compile_args=["-O3", "-std=c11"],
            optional=True,
        ),
    ]
)
