"""Schemathesis against the live server's own OpenAPI document, every operation.

Each operation gets positive and negative generated requests (25 of each, derandomised,
no example database, so a run is the same every time) over real HTTP, with a token, and
every answer is checked: no 5xx, the body and status conform to the schema, the content
type is documented, and every error is RFC 9457 problem+json.

Drive schemathesis through its Python API (``operation.as_strategy`` under
``hypothesis.given`` + ``case.call_and_validate``): its pytest integration
(``schemathesis.pytest.from_fixture``) sets ``Function._nodeid``, which pytest 9 no
longer has, and the live server is a fixture, so the schema cannot be loaded at import.

The bugs its first runs found (undocumented problem responses, 5xx on NUL characters,
huge integers, lone surrogates, extreme dates) are fixed and kept as regression tests,
here and in test_protocol.py.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, CheckContext, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine

from conftest import KEY
from helpers import bundle, indicator
from steppe.api.app import API_PREFIX
from steppe.audit.trail import AuditTrail
from steppe.intel.importer import Marking, import_objects
from steppe.intel.stix import read_bundle
from steppe.sharing import directory
from steppe.sharing.model import Distribution, TlpLevel

if TYPE_CHECKING:
    from schemathesis.core.transport import Response
    from schemathesis.schemas import APIOperation, BaseSchema
    from tests.api.conftest import Coalition

    Operation = APIOperation[Any, Any, Any, Any]
    AnyCase = Case[Operation]

EXAMPLES = 25
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
# --- checks ------------------------------------------------------------------------------


def problem_details(ctx: CheckContext, response: Response, case: AnyCase) -> None:
    """Every error is RFC 9457 problem+json about the request's path."""
    if response.status_code < 400:
        return
    assert response.headers.get("content-type") == ["application/problem+json"], response.headers
    body = response.json()
    assert body["status"] == response.status_code
    assert body["title"] and body["detail"]
    assert body["type"].startswith("https://steppe.dev/problems/")
    assert _path(body["instance"]) == _path(urlsplit(str(response.request.url)).path)


def _path(text: str) -> str:
    # Starlette's request.url.path is percent-decoded, and urlsplit drops tabs and
    # newlines: compare what the paths say, not how they are spelt.
    return re.sub("[\t\r\n]", "", unquote(text))


CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    status_code_conformance,
    problem_details,
]


# --- the run -----------------------------------------------------------------------------


@pytest.fixture
def seeded(coalition: Coalition) -> None:
    """Intel of every kind the read operations return, so their answers are validated."""
    trail = AuditTrail(KEY, "test")
    with coalition.engine.begin() as conn:
        kz = directory.find_organisation(conn, "KZ-CERT")
        csto = directory.find_group(conn, "CSTO")
        malware = {
            "type": "malware",
            "spec_version": "2.1",
            "id": "malware--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061",
            "created": "2026-01-01T00:00:00.000Z",
            "modified": "2026-01-01T00:00:00.000Z",
            "name": "Steppe Wolf",
            "is_family": True,
            "labels": ["apt"],
        }
        for marking, objects in (
            (
                Marking(Distribution.COMMUNITY, TlpLevel.GREEN),
                [
                    indicator("evil.example", labels=["c2"]),
                    indicator("198.51.100.7", "ipv4-addr:value", confidence=80),
                    indicator("x", pattern="alert tcp any any -> any any", pattern_type="snort"),
                    malware,
                ],
            ),
            (Marking(Distribution.GROUPS, TlpLevel.AMBER, (csto,)), [indicator("csto.example")]),
            (Marking(Distribution.ORGANISATION, TlpLevel.RED), [indicator("kz.example")]),
        ):
            data = bundle(*objects)
            import_objects(
                conn,
                trail,
                data,
                read_bundle(data, "seed"),
                owner=kz,
                marking=marking,
                source="seed",
            )


@pytest.fixture
def api_schema(live_server: str, seeded: None) -> BaseSchema:
    config = schemathesis.Config.from_dict({"generation": {"database": "none"}})
    return schemathesis.openapi.from_url(f"{live_server}{API_PREFIX}/openapi.json", config=config)


def fuzz(operation: Operation, mode: GenerationMode, call: Callable[[AnyCase], None]) -> None:
    @SETTINGS
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: AnyCase) -> None:
        call(case)

    run()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("engine", "caller"),
    [
        ("sqlite", "admin"),
        ("sqlite", "analyst"),
        pytest.param("postgres", "admin", marks=pytest.mark.postgres),
    ],
    indirect=["engine"],
)
def test_every_operation_answers_as_documented(
    api_schema: BaseSchema,
    live_server: str,
    coalition: Coalition,
    engine: Engine,
    caller: str,
) -> None:
    failures: dict[str, str] = {}
    timings: dict[str, float] = {}
    with requests.Session() as session:

        def call(case: AnyCase) -> None:
            case.call_and_validate(
                base_url=live_server, session=session, headers=coalition.auth(caller), checks=CHECKS
            )

        operations = []
        for result in api_schema.get_all_operations():
            assert isinstance(result, Ok), result
            operations.append(result.ok())
        # 17 + telemetry (1) + sightings/score/related/tags/ATT&CK (8) + feeds (5) + alerts (2)
        # + playbooks (6) + triage (5) + incidents (14) + exports (1) + blocklists (5)
        # + sighting preference (2) + hunt (1) + intel share (1)
        assert len(operations) == 69
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                label = f"{operation.label} [{mode.value}]"
                started = time.monotonic()
                try:
                    fuzz(operation, mode, call)
                except Unsatisfiable:
                    # Nothing to make invalid (no parameters, or only free-form strings).
                    if mode is GenerationMode.POSITIVE:
                        failures[label] = "no valid request could be generated"
                except (Exception, FailureGroup) as exc:
                    failures[label] = str(exc)
                timings[label] = time.monotonic() - started
    slowest = sorted(timings.items(), key=lambda item: -item[1])[:3]
    print(f"{sum(timings.values()):.1f} s; slowest: {slowest}")
    assert not failures, "\n\n".join(f"== {label}\n{text}" for label, text in failures.items())


# --- what the run found in the OpenAPI document (fixed; kept as regressions) --------------------------------------------


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_error_responses_are_documented_as_problem_json(
    api_schema: BaseSchema, live_server: str, coalition: Coalition
) -> None:
    case = api_schema[f"{API_PREFIX}/intel/lookup"]["POST"].Case(body={"values": []})
    case.call_and_validate(
        base_url=live_server,
        headers=coalition.auth("reader"),
        checks=[content_type_conformance, response_schema_conformance],
    )


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_error_statuses_are_documented(
    api_schema: BaseSchema, live_server: str, coalition: Coalition
) -> None:
    operation = api_schema[f"{API_PREFIX}/intel/objects/{{stix_id}}"]["GET"]
    case = operation.Case(
        path_parameters={"stix_id": "indicator--00000000-0000-4000-8000-000000000000"}
    )
    case.call_and_validate(
        base_url=live_server, headers=coalition.auth("reader"), checks=[status_code_conformance]
    )
