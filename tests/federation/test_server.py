"""TAXII 2.1 answers as the specification gives them: media types, errors, paging, filters."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from federation.conftest import TAXII_MEDIA, Coalition
from helpers import indicator

ROOT = "/taxii2/steppe"


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _cid(client: TestClient, coalition: Coalition, alias: str, user: str = "ana") -> str:
    found = client.get(f"{ROOT}/collections/", headers=coalition.bearer(user)).json()
    return str(next(c["id"] for c in found["collections"] if c["alias"] == alias))


def _post(
    client: TestClient,
    coalition: Coalition,
    cid: str,
    objects: list[dict[str, Any]],
    user: str = "ana",
) -> dict[str, Any]:
    answer = client.post(
        f"{ROOT}/collections/{cid}/objects/",
        content=orjson.dumps({"objects": objects}),
        headers={**coalition.bearer(user), "Content-Type": TAXII_MEDIA},
    )
    assert answer.status_code == 202, answer.text
    return _completed(client, coalition, answer.json(), user)


def _completed(
    client: TestClient, coalition: Coalition, status: dict[str, Any], user: str = "ana"
) -> dict[str, Any]:
    """The status resource once nothing is pending (an asynchronous POST's import)."""
    deadline = time.monotonic() + 30
    while status["status"] == "pending":
        assert time.monotonic() < deadline, status
        time.sleep(0.01)
        answer = client.get(f"{ROOT}/status/{status['id']}/", headers=coalition.bearer(user))
        assert answer.status_code == 200, answer.text
        status = answer.json()
    return status


def _assert_error(answer: Any, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == TAXII_MEDIA
    body = answer.json()
    assert body["http_status"] == str(status) and body["title"] and body["description"]


def test_every_answer_is_taxii_json(client: TestClient, coalition: Coalition) -> None:
    for path in ("/taxii2/", f"{ROOT}/", f"{ROOT}/collections/"):
        answer = client.get(path, headers=coalition.bearer("ana"))
        assert answer.status_code == 200
        assert answer.headers["content-type"] == TAXII_MEDIA


def test_unauthenticated_and_bad_accept_and_media(client: TestClient, coalition: Coalition) -> None:
    _assert_error(client.get("/taxii2/", headers={"Accept": TAXII_MEDIA}), 401)
    answer = client.get("/taxii2/", headers={"Accept": TAXII_MEDIA})
    assert "Basic" in answer.headers["www-authenticate"]
    _assert_error(
        client.get("/taxii2/", headers={**coalition.bearer("ana"), "Accept": "application/json"}),
        406,
    )
    _assert_error(
        client.get(
            "/taxii2/",
            headers={**coalition.bearer("ana"), "Accept": "application/taxii+json;version=2.0"},
        ),
        406,
    )
    cid = _cid(client, coalition, "community")
    answer = client.post(
        f"{ROOT}/collections/{cid}/objects/",
        content=b'{"objects": []}',
        headers={**coalition.bearer("ana"), "Content-Type": "application/json"},
    )
    _assert_error(answer, 415)


def test_basic_auth_with_user_and_token(client: TestClient, coalition: Coalition) -> None:
    good = base64.b64encode(f"ana:{coalition.tokens['ana']}".encode()).decode()
    answer = client.get("/taxii2/", headers={"Authorization": f"Basic {good}"})
    assert answer.status_code == 200
    wrong = base64.b64encode(f"bek:{coalition.tokens['ana']}".encode()).decode()
    _assert_error(client.get("/taxii2/", headers={"Authorization": f"Basic {wrong}"}), 401)


def test_too_large_body(make_app: Any, coalition: Coalition) -> None:
    with TestClient(make_app(taxii_max_content_length=1000)) as small:
        cid = _cid(small, coalition, "community")
        answer = small.post(
            f"{ROOT}/collections/{cid}/objects/",
            content=orjson.dumps({"objects": [indicator(f"h{i}.example") for i in range(20)]}),
            headers={**coalition.bearer("ana"), "Content-Type": TAXII_MEDIA},
        )
        _assert_error(answer, 413)
        assert (
            small.get(f"{ROOT}/", headers=coalition.bearer("ana")).json()["max_content_length"]
            == 1000
        )


def test_forbidden_and_not_found(client: TestClient, coalition: Coalition) -> None:
    _assert_error(client.get(f"{ROOT}/collections/", headers=coalition.bearer("kzsensor")), 403)
    _assert_error(client.get("/taxii2/nope/", headers=coalition.bearer("ana")), 404)
    # KZ's group collection does not exist for UZ (not a member): 404, not 403.
    csto = _cid(client, coalition, "group-csto")
    _assert_error(client.get(f"{ROOT}/collections/{csto}/", headers=coalition.bearer("uzi")), 404)
    community = _cid(client, coalition, "community", "kzread")
    answer = client.post(
        f"{ROOT}/collections/{community}/objects/",
        content=b'{"objects": []}',
        headers={**coalition.bearer("kzread"), "Content-Type": TAXII_MEDIA},
    )
    _assert_error(answer, 403)
    collection = client.get(
        f"{ROOT}/collections/{community}/", headers=coalition.bearer("kzread")
    ).json()
    assert collection["can_write"] is False
    assert (
        client.get(f"{ROOT}/collections/community/", headers=coalition.bearer("kzread")).json()[
            "id"
        ]
        == community
    )


def test_delete_someone_elses_object_is_forbidden(client: TestClient, coalition: Coalition) -> None:
    cid = _cid(client, coalition, "community")
    obj = indicator("shared.example")
    _post(client, coalition, cid, [obj])
    answer = client.delete(
        f"{ROOT}/collections/{cid}/objects/{obj['id']}/", headers=coalition.bearer("bek")
    )
    _assert_error(answer, 403)
    answer = client.delete(
        f"{ROOT}/collections/{cid}/objects/{obj['id']}/", headers=coalition.bearer("ana")
    )
    assert answer.status_code == 200


def test_status_with_and_without_slash_only_for_the_poster(
    client: TestClient, coalition: Coalition
) -> None:
    cid = _cid(client, coalition, "community")
    status = _post(client, coalition, cid, [indicator("a.example"), {"type": "indicator"}])
    assert (
        status["total_count"]
        == status["success_count"] + status["failure_count"] + status["pending_count"]
    )
    assert "pendings" not in status  # never an empty list
    assert len(status["request_timestamp"]) == len("2026-01-01T00:00:00.000000Z")
    for path in (f"{ROOT}/status/{status['id']}/", f"{ROOT}/status/{status['id']}"):
        answer = client.get(path, headers=coalition.bearer("ana"))
        assert answer.status_code == 200 and answer.json() == status
    _assert_error(
        client.get(f"{ROOT}/status/{status['id']}/", headers=coalition.bearer("bek")), 404
    )


def test_paging_filters_and_headers(client: TestClient, coalition: Coalition) -> None:
    cid = _cid(client, coalition, "community")
    first = [indicator(f"p{i}.example") for i in range(5)]
    _post(client, coalition, cid, first)
    second = [indicator(f"q{i}.example") for i in range(3)]
    _post(client, coalition, cid, second)
    url = f"{ROOT}/collections/{cid}/objects/"
    page = client.get(url, params={"limit": 3}, headers=coalition.bearer("ana"))
    body = page.json()
    assert body["more"] is True and len(body["objects"]) == 3
    assert page.headers["X-TAXII-Date-Added-First"] <= page.headers["X-TAXII-Date-Added-Last"]
    seen = [o["id"] for o in body["objects"]]
    while body["more"]:
        page = client.get(
            url, params={"limit": 3, "next": body["next"]}, headers=coalition.bearer("ana")
        )
        body = page.json()
        seen.extend(o["id"] for o in body["objects"])
    assert seen == [o["id"] for o in first + second]

    # added_after is strict: the last date_added of the first POST leaves only the second.
    manifest = client.get(
        f"{ROOT}/collections/{cid}/manifest/", headers=coalition.bearer("ana")
    ).json()
    cut = manifest["objects"][4]["date_added"]
    after = client.get(url, params={"added_after": cut}, headers=coalition.bearer("ana")).json()
    assert [o["id"] for o in after["objects"]] == [o["id"] for o in second]

    typed = client.get(url, params={"match[type]": "malware"}, headers=coalition.bearer("ana"))
    assert typed.json() == {"more": False}  # no empty "objects" list
    assert "X-TAXII-Date-Added-First" not in typed.headers
    ids = f"{first[0]['id']},{second[0]['id']}"
    picked = client.get(url, params={"match[id]": ids}, headers=coalition.bearer("ana")).json()
    assert {o["id"] for o in picked["objects"]} == {first[0]["id"], second[0]["id"]}
    spec = client.get(
        url, params={"match[spec_version]": "2.0"}, headers=coalition.bearer("ana")
    ).json()
    assert spec == {"more": False}


def test_next_is_bound_to_user_and_filter(client: TestClient, coalition: Coalition) -> None:
    cid = _cid(client, coalition, "community")
    _post(client, coalition, cid, [indicator(f"n{i}.example") for i in range(4)])
    url = f"{ROOT}/collections/{cid}/objects/"
    token = client.get(url, params={"limit": 2}, headers=coalition.bearer("ana")).json()["next"]
    # Minted for ana, used by bek (who may see the same collection): refused.
    _assert_error(client.get(url, params={"next": token}, headers=coalition.bearer("bek")), 400)
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    _assert_error(client.get(url, params={"next": tampered}, headers=coalition.bearer("ana")), 400)
    other = client.get(
        url, params={"next": token, "match[type]": "malware"}, headers=coalition.bearer("ana")
    )
    _assert_error(other, 400)
    manifest = f"{ROOT}/collections/{cid}/manifest/"
    _assert_error(
        client.get(manifest, params={"next": token}, headers=coalition.bearer("ana")), 400
    )
    assert (
        client.get(url, params={"next": token}, headers=coalition.bearer("ana")).status_code == 200
    )


def test_next_page_rechecks_the_policy(client: TestClient, coalition: Coalition) -> None:
    """A member removed from a group mid-paging gets no further page of the group."""
    from sqlalchemy import delete, select

    from steppe.storage.schema import group_members, organisations

    csto = _cid(client, coalition, "group-csto")
    _post(client, coalition, csto, [indicator(f"g{i}.example") for i in range(4)])
    url = f"{ROOT}/collections/{csto}/objects/"
    body = client.get(url, params={"limit": 2}, headers=coalition.bearer("bek")).json()
    assert len(body["objects"]) == 2 and body["more"]
    with coalition.engine.begin() as conn:
        kg = conn.execute(
            select(organisations.c.id).where(organisations.c.name == "KG-CERT")
        ).scalar()
        conn.execute(delete(group_members).where(group_members.c.org_id == kg))
    answer = client.get(url, params={"next": body["next"]}, headers=coalition.bearer("bek"))
    _assert_error(answer, 404)  # the collection itself is gone for KG


def test_peer_sees_only_federation_clear_green(client: TestClient, coalition: Coalition) -> None:
    community = _cid(client, coalition, "community")
    federation = _cid(client, coalition, "federation")
    _post(client, coalition, community, [indicator("c.example")])
    green = indicator("g.example")
    _post(client, coalition, federation, [green])
    found = client.get(f"{ROOT}/collections/", headers=coalition.bearer("peer")).json()
    assert {c["alias"] for c in found["collections"]} == {"organisation", "federation"}
    served = client.get(
        f"{ROOT}/collections/{federation}/objects/", headers=coalition.bearer("peer")
    ).json()
    assert [o["id"] for o in served["objects"]] == [green["id"]]
    _assert_error(
        client.get(f"{ROOT}/collections/{community}/objects/", headers=coalition.bearer("peer")),
        404,
    )


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_every_taxii_route_is_documented(app: FastAPI) -> None:
    from pathlib import Path

    from starlette.routing import Mount

    doc = (Path(__file__).resolve().parents[2] / "docs" / "taxii.md").read_text()
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/taxii2")
    documented = 0
    for route in mount.routes:
        path = "/taxii2" + route.path.replace("{cid}", "{id}").replace("{oid}", "{object_id}")
        if not path.endswith("/"):
            continue  # the same route without its trailing slash
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                assert f"`{method} {path}`" in doc, (method, path)
                documented += 1
    assert documented == 11


def test_next_of_one_object_is_not_valid_for_another(
    client: TestClient, coalition: Coalition
) -> None:
    cid = _cid(client, coalition, "community")
    first, other = indicator("v.example"), indicator("w.example")
    later = {**first, "modified": "2026-03-01T00:00:00.000Z"}
    _post(client, coalition, cid, [first, other])
    _post(client, coalition, cid, [later])
    url = f"{ROOT}/collections/{cid}/objects/{first['id']}/versions/"
    body = client.get(url, params={"limit": 1}, headers=coalition.bearer("ana")).json()
    assert body["more"] and body["versions"] == ["2026-01-01T00:00:00.000000Z"]
    elsewhere = f"{ROOT}/collections/{cid}/objects/{other['id']}/versions/"
    answer = client.get(elsewhere, params={"next": body["next"]}, headers=coalition.bearer("ana"))
    _assert_error(answer, 400)
    rest = client.get(url, params={"next": body["next"]}, headers=coalition.bearer("ana")).json()
    assert rest == {"more": False, "versions": ["2026-03-01T00:00:00.000000Z"]}


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_unknown_paths_and_methods_answer_in_taxii(
    client: TestClient, coalition: Coalition
) -> None:
    _assert_error(client.get("/taxii2/steppe/nothing/here/", headers=coalition.bearer("ana")), 404)
    _assert_error(client.put(f"{ROOT}/collections/", headers=coalition.bearer("ana")), 405)


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_source_of_derived_data_is_not_deleted(client: TestClient, coalition: Coalition) -> None:
    """Deleting a source would widen what is derived from it: refused."""
    from sqlalchemy import insert, select

    from steppe.storage.schema import intel_objects, object_sources

    cid = _cid(client, coalition, "community")
    source, derived = indicator("src.example"), indicator("derived.example")
    _post(client, coalition, cid, [source, derived])
    with coalition.engine.begin() as conn:
        pks = dict(conn.execute(select(intel_objects.c.stix_id, intel_objects.c.pk)).all())
        conn.execute(
            insert(object_sources).values(object_pk=pks[derived["id"]], source_pk=pks[source["id"]])
        )
    url = f"{ROOT}/collections/{cid}/objects/{source['id']}/"
    _assert_error(client.delete(url, headers=coalition.bearer("ana")), 409)
    assert client.get(url, headers=coalition.bearer("ana")).status_code == 200
    derived_url = f"{ROOT}/collections/{cid}/objects/{derived['id']}/"
    assert client.delete(derived_url, headers=coalition.bearer("ana")).status_code == 200
    assert client.delete(url, headers=coalition.bearer("ana")).status_code == 200


def test_peer_agreement_narrows_every_read(client: TestClient, coalition: Coalition) -> None:
    from steppe.audit.trail import AuditTrail
    from steppe.federation.agreements import add_peer, parse_agreement
    from steppe.sharing import directory

    with coalition.engine.begin() as conn:
        add_peer(
            conn,
            AuditTrail("k" * 20, "test"),
            "peer-node",
            directory.find_organisation(conn, "Peer"),
            api_root="https://peer.example/taxii2/steppe/",  # never contacted
            collection="federation",
            username="us",
            token="t",
            agreement=parse_agreement(tlp="clear", sightings="drop"),
        )
    federation = _cid(client, coalition, "federation")
    clear = indicator(
        "clear.example",
        object_marking_refs=["marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"],
    )
    green = indicator("green.example")
    _post(client, coalition, federation, [clear, green])
    base = f"{ROOT}/collections/{federation}"
    peer = coalition.bearer("peer")
    assert [o["id"] for o in client.get(f"{base}/objects/", headers=peer).json()["objects"]] == [
        clear["id"]
    ]
    assert [m["id"] for m in client.get(f"{base}/manifest/", headers=peer).json()["objects"]] == [
        clear["id"]
    ]
    _assert_error(client.get(f"{base}/objects/{green['id']}/", headers=peer), 404)
    _assert_error(client.get(f"{base}/objects/{green['id']}/versions/", headers=peer), 404)
    # A member still sees both.
    mine = client.get(f"{base}/manifest/", headers=coalition.bearer("ana")).json()["objects"]
    assert {m["id"] for m in mine} == {clear["id"], green["id"]}


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_sighted_and_correlated_object_deletes_whole(
    client: TestClient, coalition: Coalition
) -> None:
    """Rows that point at the object (sightings, correlations) go with it: no 500."""
    from sqlalchemy import func, select

    from steppe.storage.schema import correlations, intel_objects, sightings

    cid = _cid(client, coalition, "community")
    first, second = indicator("twice.example"), indicator("twice.example")
    _post(client, coalition, cid, [first, second])  # same value: correlated
    sighted = client.post(
        f"/api/v1/intel/objects/{first['id']}/sightings",
        json={"type": "seen"},
        headers=coalition.bearer("bek"),
    )
    assert sighted.status_code in (200, 201), sighted.text
    with coalition.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sightings)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(correlations)).scalar_one() == 2
    url = f"{ROOT}/collections/{cid}/objects/{first['id']}/"
    assert client.delete(url, headers=coalition.bearer("ana")).status_code == 200
    with coalition.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sightings)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(correlations)).scalar_one() == 1
        left = conn.execute(select(intel_objects.c.stix_id)).scalars().all()
    assert first["id"] not in left and second["id"] in left
