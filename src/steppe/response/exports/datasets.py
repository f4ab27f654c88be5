"""Suricata datasets: list files the engine looks values up in, plus the rules using them.

Thousands of per-value rules cost Suricata start-up time and memory; a dataset is one
hash table per list and one rule per buffer. The export is a ZIP archive (streamed:
members are written one after the other, sizes in data descriptors) holding

- ``steppe-domains.lst`` — ``type string`` (each line base64, as Suricata wants), used
  on ``dns.query`` and ``tls.sni``: exact names, not sub-domains (use the ``suricata`` or
  ``rpz`` format for those);
- ``steppe-ip.lst`` — ``type ip`` (IPv4 and IPv6, Suricata 7), on ``ip.src`` and
  ``ip.dst``;
- ``steppe-md5.lst``, ``steppe-sha1.lst``, ``steppe-sha256.lst`` — hex lists for
  ``filemd5`` / ``filesha1`` / ``filesha256`` on files carried over HTTP;
- ``steppe-datasets.rules`` — the rules for the lists that are not empty (SIDs
  ``sid_base`` … ``sid_base + 9``), and a count of values no dataset can hold (CIDRs,
  URLs, e-mail addresses: export them with the ``suricata`` format).

Unpack into Suricata's data directory (``/var/lib/suricata/data`` by default, where
``load`` looks for relative names) and add the rules file to ``rule-files``.
"""

from __future__ import annotations

import base64
import zipfile
from collections.abc import Iterable, Iterator
from typing import IO, ClassVar

from steppe.response.exports.base import Change, ExportContext, register_exporter
from steppe.storage import timestamps

__all__ = ["SuricataDatasets"]

#: observable type → (list file, dataset kind)
_LISTS = {
    "domain": ("steppe-domains.lst", "string"),
    "ipv4": ("steppe-ip.lst", "ip"),
    "ipv6": ("steppe-ip.lst", "ip"),
    "md5": ("steppe-md5.lst", "md5"),
    "sha1": ("steppe-sha1.lst", "sha1"),
    "sha256": ("steppe-sha256.lst", "sha256"),
}
_LINES_PER_WRITE = 2_000


class _Drain:
    """A write-only sink zipfile streams into; the exporter hands on what piled up.
    No ``tell``/``seek``: zipfile then writes data descriptors instead of seeking back."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def _rules(context: ExportContext, files: dict[str, int], skipped: dict[str, int]) -> str:
    base = context.sid_base
    lines = [
        f"# Steppe Suricata datasets export for {context.requester}, {context.generated_at}",
        f"# cursor: {context.cursor}",
    ]

    def rule(slot: int, proto: str, body: str, msg: str) -> None:
        lines.append(
            f'alert {proto} any any -> any any (msg:"Steppe IOC {msg}"; {body}; '
            f"sid:{base + slot}; rev:1;)"
        )

    if files.get("steppe-domains.lst"):
        load = "dataset:isset,steppe-domains,type string,load steppe-domains.lst"
        rule(0, "dns", f"dns.query; {load}", "DNS query for a listed domain")
        rule(1, "tls", f"tls.sni; {load}", "TLS SNI of a listed domain")
    if files.get("steppe-ip.lst"):
        load = "dataset:isset,steppe-ip,type ip,load steppe-ip.lst"
        rule(2, "ip", f"ip.dst; {load}", "traffic to a listed address")
        rule(3, "ip", f"ip.src; {load}", "traffic from a listed address")
    for slot, algo in ((4, "md5"), (5, "sha1"), (6, "sha256")):
        if files.get(f"steppe-{algo}.lst"):
            body = f"file{algo}:steppe-{algo}.lst"
            rule(slot, "http", body, f"file with a listed {algo.upper()}")
    for kind, count in sorted(skipped.items()):
        lines.append(f"# {count} {kind} value(s) cannot go in a dataset: use the suricata format")
    return "\n".join(lines) + "\n"


@register_exporter
class SuricataDatasets:
    name: ClassVar[str] = "suricata-datasets"
    media_type: ClassVar[str] = "application/zip"
    suffix: ClassVar[str] = ".zip"
    removals: ClassVar[bool] = False
    reads_times: ClassVar[bool] = False

    def __init__(self, context: ExportContext) -> None:
        self.context = context

    def _member(self, path: str) -> zipfile.ZipInfo:
        """A file of the archive dated at the export's snapshot, not at the clock: the
        same snapshot gives the same bytes."""
        moment = timestamps.parse(self.context.generated_at)
        info = zipfile.ZipInfo(path, date_time=moment.timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        return info

    def render(self, changes: Iterable[Change]) -> Iterator[bytes]:
        drain = _Drain()
        files: dict[str, int] = {}
        skipped: dict[str, int] = {}
        with zipfile.ZipFile(drain, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            member: IO[bytes] | None = None
            current = ""
            pending: list[str] = []
            # Entries come ordered by type, so each list file is written in one go.
            for _, entry in changes:
                found = _LISTS.get(entry.type)
                if found is None:
                    skipped[entry.type] = skipped.get(entry.type, 0) + 1
                    continue
                path, kind = found
                if path != current:
                    if member is not None:
                        member.write("".join(pending).encode())
                        pending.clear()
                        member.close()
                    member = archive.open(self._member(path), "w", force_zip64=True)
                    current = path
                line = (
                    base64.b64encode(entry.value.encode()).decode()
                    if kind == "string"
                    else entry.value
                )
                pending.append(line + "\n")
                files[path] = files.get(path, 0) + 1
                if len(pending) >= _LINES_PER_WRITE and member is not None:
                    member.write("".join(pending).encode())
                    pending.clear()
                    yield drain.take()
            if member is not None:
                member.write("".join(pending).encode())
                member.close()
            rules = _rules(self.context, files, skipped)
            archive.writestr(self._member("steppe-datasets.rules"), rules)
        yield drain.take()
