"""Suricata EVE JSON (``eve.json``) to ECS; ``raw`` is the EVE record unchanged.

>>> event = normalise_eve({
...     "timestamp": "2018-03-24T14:37:19.037299-0600", "event_type": "alert",
...     "src_ip": "10.0.0.1", "src_port": 26078, "dest_ip": "10.47.8.150",
...     "dest_port": 22, "proto": "TCP",
...     "alert": {"signature_id": 2001219, "signature": "ET SCAN Potential SSH Scan",
...               "severity": 2}})
>>> event["@timestamp"], event["rule.id"], event["event.severity"]
('2018-03-24T20:37:19.037299Z', '2001219', 2)
>>> event["event.dataset"], event["network.transport"]
('suricata.eve.alert', 'tcp')
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from steppe.ingest.telemetry import ecs
from steppe.ingest.telemetry.ecs import FieldProblem
from steppe.ingest.telemetry.model import NormalisedEvent, ParseProblem
from steppe.ingest.telemetry.records import JsonRecord, json_records

__all__ = ["normalise_eve", "normalise_records", "parse_eve"]

_EVE_CONNECTION = ("src_ip", "dest_ip", "src_port", "dest_port", "proto")
_DATASETS: dict[str, str] = {}


def _dataset(kind: str) -> str:
    name = f"suricata.eve.{kind}"
    if len(_DATASETS) < 1000:  # a few dozen event types exist; junk ones are not kept
        _DATASETS[kind] = name
    return name


def normalise_eve(record: dict[str, Any]) -> NormalisedEvent:
    """ECS fields of one EVE record; raises FieldProblem on a bad value."""
    # The common fields are written out rather than looped over a table: this runs for
    # every event of the busiest sensors, and the loop and calls doubled its cost.
    get = record.get
    kind = get("event_type")
    if kind.__class__ is not str or not kind:
        kind = "unknown"
    dataset = _DATASETS.get(kind) or _dataset(kind)
    event: NormalisedEvent = {
        "event.module": "suricata",
        "event.dataset": dataset,
        "event.kind": "alert" if kind == "alert" else "event",
        "raw": record,
    }
    value = get("timestamp")
    if value is not None:
        event["@timestamp"] = ecs.iso(value, "timestamp")
    ecs.connection(event, get, _EVE_CONNECTION)
    value = get("app_proto")
    if value is not None:
        ok = value.__class__ is str
        event["network.protocol"] = value.lower() if ok else ecs.lower(value, "app_proto")
    value = get("host")
    if value is not None:
        event["observer.name"] = value if value.__class__ is str else ecs.text(value, "host")
    handler = _BY_TYPE.get(kind)
    if handler is not None:
        body = get(kind)
        if body is not None:
            if body.__class__ is not dict:
                raise FieldProblem(kind, "expected an object")
            handler(body, event)
    if kind == "alert":
        # An alert on HTTP/DNS/TLS traffic carries that metadata too (EVE's
        # "metadata" output): the alert gets those fields as well.
        for other in ("http", "dns", "tls", "fileinfo"):
            body = get(other)
            if body.__class__ is dict:
                _BY_TYPE[other](body, event)
    return event


def _alert(alert: dict[str, Any], event: NormalisedEvent) -> None:
    sid = alert.get("signature_id")
    if sid is not None:
        event["rule.id"] = str(ecs.integer(sid, "alert.signature_id"))
    signature = alert.get("signature")
    if signature is not None:
        event["rule.name"] = ecs.text(signature, "alert.signature")
    severity = alert.get("severity")
    if severity is not None:
        event["event.severity"] = ecs.integer(severity, "alert.severity")
    action = alert.get("action")
    if isinstance(action, str):
        event["event.action"] = action


def _dns(dns: dict[str, Any], event: NormalisedEvent) -> None:
    # EVE v1 puts one query per record (rrname, rrtype); v2 answers carry it too, and
    # v3 requests list them under "queries".
    name, kind = dns.get("rrname"), dns.get("rrtype")
    queries = dns.get("queries")
    if name is None and isinstance(queries, list) and queries and isinstance(queries[0], dict):
        name, kind = queries[0].get("rrname"), queries[0].get("rrtype")
    if name is not None:
        event["dns.question.name"] = ecs.domain(name, "dns.rrname")
    if kind is not None:
        event["dns.question.type"] = ecs.text(kind, "dns.rrtype")


def _http(http: dict[str, Any], event: NormalisedEvent) -> None:
    host = http.get("hostname")
    if host is not None:
        event["url.domain"] = ecs.domain(host, "http.hostname")
    url = http.get("url")
    if isinstance(url, str):
        if "://" in url:
            event["url.full"] = url
        elif host is not None:
            port = http.get("http_port") or event.get("destination.port")
            where = event["url.domain"] if port in (None, 80) else f"{event['url.domain']}:{port}"
            event["url.full"] = f"http://{where}{url}"
    value = http.get("http_method")
    if value is not None:
        event["http.request.method"] = ecs.text(value, "http.http_method")
    value = http.get("http_user_agent")
    if value is not None:
        event["user_agent.original"] = ecs.text(value, "http.http_user_agent")
    value = http.get("status")
    if value is not None:
        event["http.response.status_code"] = ecs.integer(value, "http.status")


def _tls(tls: dict[str, Any], event: NormalisedEvent) -> None:
    sni = tls.get("sni")
    if sni is not None:
        event["tls.server.sni"] = ecs.domain(sni, "tls.sni")
        event["destination.domain"] = event["tls.server.sni"]


def _fileinfo(info: dict[str, Any], event: NormalisedEvent) -> None:
    for name, target in (
        ("md5", "file.hash.md5"),
        ("sha1", "file.hash.sha1"),
        ("sha256", "file.hash.sha256"),
    ):
        value = info.get(name)
        if value is not None:
            event[target] = ecs.lower(value, f"fileinfo.{name}")
    filename = info.get("filename")
    if filename is not None:
        path = ecs.text(filename, "fileinfo.filename")
        event["file.path"] = path
        event["file.name"] = path.rsplit("/", 1)[-1]


def _flow(flow: dict[str, Any], event: NormalisedEvent) -> None:
    state = flow.get("state")
    if isinstance(state, str):
        event["event.action"] = state


_BY_TYPE = {
    "alert": _alert,
    "dns": _dns,
    "http": _http,
    "tls": _tls,
    "fileinfo": _fileinfo,
    "flow": _flow,
}


def parse_eve(stream: IO[bytes], source: str) -> Iterator[NormalisedEvent | ParseProblem]:
    """EVE records as JSON lines (``eve.json``) or one JSON array."""
    return normalise_records(json_records(stream, source), source)


def normalise_records(
    records: Iterator[JsonRecord | ParseProblem], source: str
) -> Iterator[NormalisedEvent | ParseProblem]:
    """Each EVE record normalised, or the problem of its line."""
    for item in records:
        if isinstance(item, ParseProblem):
            yield item
            continue
        number, record = item
        try:
            event = normalise_eve(record)
        except FieldProblem as exc:
            yield ParseProblem(source, number, exc.message, exc.field)
            continue
        yield event
