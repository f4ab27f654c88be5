"""The one compiled part of Steppe: the IOC screen of JSON events (C, no dependencies).

Everything else is in pyproject.toml. Why it is C: see the comment at the top of
src/steppe/detection/ioc/_jsonscreen.c and docs/benchmarks.md ("IOC matching of
JSON-lines telemetry"). Steppe runs without it (the Python screen takes over).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "steppe.detection.ioc._jsonscreen",
            ["src/steppe/detection/ioc/_jsonscreen.c"],
            extra_compile_args=["-O3", "-std=c11"],
            optional=True,
        )
    ]
)
