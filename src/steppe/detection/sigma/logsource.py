"""Which events a rule's ``logsource`` selects, and the field names it sees.

Every event gets a *route*: a small hashable key naming its kind, and a flat
*document* (Sigma field name → value) the rules read.

- **Windows** (EVTX or evtx-crate JSON): key ``("windows", Channel, EventID)``; the
  document is the telemetry parser's flat ``raw`` (``Image``, ``CommandLine``,
  ``EventID``, ``Channel``, ``Provider_Name`` …), with no copy (names with spaces, as Defender's
  ``Threat Name``, are also offered without: ``ThreatName``). ``category`` selects
  Sysmon event ids (``process_creation`` → 1, ``registry_set`` → 13 …, and also
  Security 4688 with its fields renamed to Sysmon's: ``Image`` → ``NewProcessName``);
  ``service`` selects a channel (``security`` → ``Security``, ``windefend`` →
  ``Microsoft-Windows-Windows Defender/Operational`` …). docs/sigma.md has the tables.
- **Zeek**: key ``("zeek", path)``; document = the Zeek record (``query``,
  ``id.orig_h`` …) + ECS fields + Sigma's proxy/dns/firewall names.
- **Suricata EVE**: key ``("suricata", event_type)``; document = the EVE record
  flattened with dots (``http.hostname``) + ECS + the same Sigma names.
- **Generic JSON** (ECS): key ``("generic", dataset, category)``; document = the record
  flattened + ECS; a rule applies when its product, service or category names the
  dataset, and endpoint rules (``process_creation``, ``file_event``, ``registry_*``,
  ``network_connection``, ``dns_query``, ``image_load``, ``driver_load``) apply to events
  whose ``event.category`` says so, with Sigma's field names renamed to ECS
  (``Image`` → ``process.executable``, ``CommandLine`` → ``process.command_line`` …).

    >>> key, doc = route({"event.module": "windows", "raw": {"EventID": 1,
    ...     "Channel": "Microsoft-Windows-Sysmon/Operational", "Image": "C:\\\\x.exe"}})
    >>> key, doc["Image"]
    (('windows', 'Microsoft-Windows-Sysmon/Operational', 1), 'C:\\\\x.exe')
    >>> select({"product": "windows", "category": "process_creation"}, key)
    {}
    >>> select({"product": "windows", "category": "process_creation"},
    ...        ("windows", "Security", 4688))["Image"]
    'NewProcessName'
    >>> select({"product": "windows", "service": "security"}, key) is None
    True
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from steppe.ingest.telemetry.model import ECS_COLUMNS, NormalisedEvent

__all__ = [
    "CATEGORIES",
    "ECS_FIELDS",
    "SERVICES",
    "RouteKey",
    "constants",
    "routable",
    "route",
    "select",
]

RouteKey = tuple[Any, ...]
_SYSMON = "microsoft-windows-sysmon/operational"
_PS = ("microsoft-windows-powershell/operational", "powershellcore/operational")
_PS_CLASSIC = ("windows powershell",)

#: Security 4688 ("a new process has been created") seen as Sysmon's process creation.
_PROCESS_4688 = {
    "Image": "NewProcessName",
    "ParentImage": "ParentProcessName",
    "ProcessId": "NewProcessId",
    "ParentProcessId": "ProcessId",
    "LogonId": "SubjectLogonId",
    "User": "SubjectUserName",
}

#: Sigma Windows category → (channels, event ids, field renames) alternatives.
CATEGORIES: dict[str, tuple[tuple[tuple[str, ...], frozenset[int], dict[str, str]], ...]] = {
    "process_creation": (
        ((_SYSMON,), frozenset({1}), {}),
        (("security",), frozenset({4688}), _PROCESS_4688),
    ),
    "file_change": (((_SYSMON,), frozenset({2}), {}),),
    "network_connection": (((_SYSMON,), frozenset({3}), {}),),
    "sysmon_status": (((_SYSMON,), frozenset({4, 16}), {}),),
    "process_termination": (((_SYSMON,), frozenset({5}), {}),),
    "driver_load": (((_SYSMON,), frozenset({6}), {}),),
    "image_load": (((_SYSMON,), frozenset({7}), {}),),
    "create_remote_thread": (((_SYSMON,), frozenset({8}), {}),),
    "raw_access_thread": (((_SYSMON,), frozenset({9}), {}),),
    "process_access": (((_SYSMON,), frozenset({10}), {}),),
    "file_event": (((_SYSMON,), frozenset({11}), {}),),
    "registry_add": (((_SYSMON,), frozenset({12}), {}),),
    "registry_delete": (((_SYSMON,), frozenset({12}), {}),),
    "registry_set": (((_SYSMON,), frozenset({13}), {}),),
    "registry_rename": (((_SYSMON,), frozenset({14}), {}),),
    "registry_event": (((_SYSMON,), frozenset({12, 13, 14}), {}),),
    "create_stream_hash": (((_SYSMON,), frozenset({15}), {}),),
    "pipe_created": (((_SYSMON,), frozenset({17, 18}), {}),),
    "wmi_event": (((_SYSMON,), frozenset({19, 20, 21}), {}),),
    "dns_query": (((_SYSMON,), frozenset({22}), {}),),
    "file_delete": (((_SYSMON,), frozenset({23, 26}), {}),),
    "clipboard_capture": (((_SYSMON,), frozenset({24}), {}),),
    "process_tampering": (((_SYSMON,), frozenset({25}), {}),),
    "file_delete_detected": (((_SYSMON,), frozenset({26}), {}),),
    "file_block_executable": (((_SYSMON,), frozenset({27}), {}),),
    "file_block_shredding": (((_SYSMON,), frozenset({28}), {}),),
    "file_executable_detected": (((_SYSMON,), frozenset({29}), {}),),
    "sysmon_error": (((_SYSMON,), frozenset({255}), {}),),
    "ps_module": ((_PS, frozenset({4103}), {}),),
    "ps_script": ((_PS, frozenset({4104}), {}),),
    "ps_classic_start": ((_PS_CLASSIC, frozenset({400}), {}),),
    "ps_classic_provider_start": ((_PS_CLASSIC, frozenset({600}), {}),),
    "ps_classic_script": ((_PS_CLASSIC, frozenset({800}), {}),),
}

#: Sigma Windows service → event log channels (lower case).
SERVICES: dict[str, tuple[str, ...]] = {
    "security": ("security",),
    "system": ("system",),
    "application": ("application",),
    "sysmon": (_SYSMON,),
    "powershell": _PS,
    "powershell-classic": _PS_CLASSIC,
    "taskscheduler": ("microsoft-windows-taskscheduler/operational",),
    "wmi": ("microsoft-windows-wmi-activity/operational",),
    "dns-server": ("dns server",),
    "dns-server-audit": ("microsoft-windows-dns-server/audit",),
    "dns-server-analytic": ("microsoft-windows-dns-server/analytical",),
    "dns-client": ("microsoft-windows-dns client events/operational",),
    "driver-framework": ("microsoft-windows-driverframeworks-usermode/operational",),
    "dhcp": ("microsoft-windows-dhcp-server/operational",),
    "ntlm": ("microsoft-windows-ntlm/operational",),
    "windefend": ("microsoft-windows-windows defender/operational",),
    "printservice-admin": ("microsoft-windows-printservice/admin",),
    "printservice-operational": ("microsoft-windows-printservice/operational",),
    "smbclient-security": ("microsoft-windows-smbclient/security",),
    "smbclient-connectivity": ("microsoft-windows-smbclient/connectivity",),
    "smbserver-connectivity": ("microsoft-windows-smbserver/connectivity",),
    "applocker": (
        "microsoft-windows-applocker/msi and script",
        "microsoft-windows-applocker/exe and dll",
        "microsoft-windows-applocker/packaged app-deployment",
        "microsoft-windows-applocker/packaged app-execution",
    ),
    "msexchange-management": ("msexchange management",),
    "microsoft-servicebus-client": ("microsoft-servicebus-client",),
    "ldap": ("microsoft-windows-ldap-client/debug",),
    "ldap_debug": ("microsoft-windows-ldap-client/debug",),
    "codeintegrity-operational": ("microsoft-windows-codeintegrity/operational",),
    "firewall-as": ("microsoft-windows-windows firewall with advanced security/firewall",),
    "bits-client": ("microsoft-windows-bits-client/operational",),
    "security-mitigations": (
        "microsoft-windows-security-mitigations/kernel mode",
        "microsoft-windows-security-mitigations/user mode",
    ),
    "diagnosis-scripted": ("microsoft-windows-diagnosis-scripted/operational",),
    "shell-core": ("microsoft-windows-shell-core/operational",),
    "openssh": ("openssh/operational",),
    "appxdeployment-server": ("microsoft-windows-appxdeploymentserver/operational",),
    "appxpackaging-om": ("microsoft-windows-appxpackaging/operational",),
    "appmodel-runtime": ("microsoft-windows-appmodel-runtime/admin",),
    "lsa-server": ("microsoft-windows-lsa/operational",),
    "capi2": ("microsoft-windows-capi2/operational",),
    "certificateservicesclient-lifecycle-system": (
        "microsoft-windows-certificateservicesclient-lifecycle-system/operational",
    ),
    "terminalservices-localsessionmanager": (
        "microsoft-windows-terminalservices-localsessionmanager/operational",
    ),
    "iis-configuration": ("microsoft-iis-configuration/operational",),
    "hyper-v-worker": ("microsoft-windows-hyper-v-worker-admin",),
    "kernel-shimengine": ("microsoft-windows-kernel-shimengine/operational",),
    "vhdmp": ("microsoft-windows-vhdmp-operational",),
}

#: Network categories (no product) → the Zeek paths and EVE event types that carry them.
_NETWORK: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "dns": (("dns",), ("dns",)),
    "proxy": (("http",), ("http",)),
    "webserver": (("http",), ("http",)),
    "firewall": (("conn",), ("flow", "netflow")),
}


_REGISTRY = ("registry_add", "registry_delete", "registry_set", "registry_rename", "registry_event")
_PROCESS_ECS = {
    "Image": "process.executable",
    "CommandLine": "process.command_line",
    "ParentImage": "process.parent.executable",
    "ParentCommandLine": "process.parent.command_line",
    "ProcessId": "process.pid",
    "ParentProcessId": "process.parent.pid",
    "OriginalFileName": "process.pe.original_file_name",
    "CurrentDirectory": "process.working_directory",
    "User": "user.name",
    "Computer": "host.name",
}
_ACTOR_ECS = {"Image": "process.executable", "User": "user.name", "Computer": "host.name"}

#: Sigma endpoint category (as ECS events name it) → Sigma field → ECS field.
ECS_FIELDS: dict[str, dict[str, str]] = {
    "process_creation": _PROCESS_ECS,
    "file_event": {**_ACTOR_ECS, "TargetFilename": "file.path"},
    "registry": {**_ACTOR_ECS, "TargetObject": "registry.path", "Details": "registry.data.strings"},
    "network_connection": {
        **_ACTOR_ECS,
        "DestinationIp": "destination.ip",
        "DestinationPort": "destination.port",
        "DestinationHostname": "destination.domain",
        "SourceIp": "source.ip",
        "SourcePort": "source.port",
        "Protocol": "network.transport",
    },
    "dns_query": {**_ACTOR_ECS, "QueryName": "dns.question.name"},
    "image_load": {**_ACTOR_ECS, "ImageLoaded": "dll.path"},
    "driver_load": {"ImageLoaded": "file.path", "Computer": "host.name"},
}


def _lower(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) else None


def select(logsource: dict[str, Any], key: RouteKey) -> dict[str, str] | None:
    """The field renames under which a rule with ``logsource`` applies to events of
    ``key``, or None when it does not apply."""
    product = _lower(logsource.get("product"))
    category = _lower(logsource.get("category"))
    service = _lower(logsource.get("service"))
    kind = key[0]
    if kind == "windows":
        return _windows(product, category, service, key) if product == "windows" else None
    if kind == "zeek":
        if product == "zeek":
            return {} if service in (None, key[1]) and category is None else None
        if product is None and category in _NETWORK and service is None:
            return {} if key[1] in _NETWORK[category][0] else None
        return None
    if kind == "suricata":
        if product == "suricata":
            return {} if service in (None, key[1]) and category is None else None
        if product is None and category in _NETWORK and service is None:
            return {} if key[1] in _NETWORK[category][1] else None
        return None
    dataset = str(key[1]).lower()
    named = [n for n in (product, service, category) if n is not None]
    if named and all(n in dataset for n in named):
        return {}
    # ECS events that say what they are (event.category) run the endpoint categories'
    # rules, their fields renamed to ECS.
    ecs_category = key[2] if len(key) > 2 else None
    if (
        ecs_category is not None
        and category is not None
        and service is None
        and product in (None, "windows", "linux", "macos")
        and (category == ecs_category or (ecs_category == "registry" and category in _REGISTRY))
    ):
        return ECS_FIELDS[ecs_category]
    return None


def _windows(
    product: str | None, category: str | None, service: str | None, key: RouteKey
) -> dict[str, str] | None:
    _, channel, event_id = key
    channel = channel.lower() if isinstance(channel, str) else ""
    if service is not None:
        channels = SERVICES.get(service)
        if channels is None:  # unknown service: a channel that names it
            wanted = service.replace("-", "").replace("_", "")
            if wanted not in channel.replace("-", "").replace(" ", ""):
                return None
        elif channel not in channels:
            return None
    if category is None:
        return {}
    for channels, ids, renames in CATEGORIES.get(category, ()):
        if channel in channels and event_id in ids:
            return renames
    return None


def routable(logsource: dict[str, Any]) -> bool:
    """Whether any telemetry Steppe reads can feed a rule with this logsource."""
    product = _lower(logsource.get("product"))
    category = _lower(logsource.get("category"))
    if product == "windows":
        return category is None or category in CATEGORIES
    if product in ("zeek", "suricata"):
        return category is None
    if product is None:
        return category in _NETWORK or logsource.get("service") is not None
    return True  # generic JSON whose dataset names the product


def constants(key: RouteKey) -> dict[str, Any]:
    """Fields every event of the route has with the same value (folded at compile)."""
    if key[0] == "windows":
        return {"Channel": key[1], "EventID": key[2]}
    return {}


def route(event: NormalisedEvent) -> tuple[RouteKey, dict[str, Any]]:
    """The route key and the flat Sigma document of one parsed event."""
    raw = event.get("raw")
    module = event.get("event.module")
    if module == "windows" and isinstance(raw, dict):
        event_id = raw.get("EventID")
        if isinstance(event_id, str) and event_id.isdigit():
            event_id = int(event_id)
        elif not isinstance(event_id, int | None):
            event_id = str(event_id)
        channel = raw.get("Channel")
        if " " in "".join(raw):
            # Some providers (Defender) name fields "Threat Name"; Sigma rules, like the
            # other Sigma tools, say ThreatName.
            raw = {**{name.replace(" ", ""): v for name, v in raw.items()}, **raw}
        return ("windows", channel if isinstance(channel, str) else None, event_id), raw
    doc: dict[str, Any] = {}
    if isinstance(raw, dict):
        _flatten(raw, "", doc)
    for name, _kind in ECS_COLUMNS:
        value = event.get(name)
        if value is not None:
            doc.setdefault(name, value)
    dataset = str(event.get("event.dataset") or "generic")
    if module == "zeek":
        key: RouteKey = ("zeek", dataset.removeprefix("zeek."))
    elif module == "suricata":
        key = ("suricata", dataset.removeprefix("suricata.eve."))
    else:
        key = ("generic", dataset, _ecs_category(doc))
    _aliases(doc)
    return key, doc


def _ecs_category(doc: dict[str, Any]) -> str | None:
    """The Sigma endpoint category of an ECS event, from event.category (and type)."""
    found = doc.get("event.category")
    categories = found if isinstance(found, list) else [found]
    kinds = doc.get("event.type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    action = str(doc.get("event.action") or "").lower()
    for category in categories:
        if category == "process" and ("start" in kinds or "start" in action or "creat" in action):
            return "process_creation"
        if category == "network":
            return "dns_query" if "dns.question.name" in doc else "network_connection"
        if category == "file":
            return "file_event"
        if category == "registry":
            return "registry"
        if category in ("library", "driver"):
            return "image_load" if category == "library" else "driver_load"
    return None


def _flatten(node: dict[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for name, value in node.items():
        path = f"{prefix}{name}"
        if isinstance(value, dict):
            _flatten(value, f"{path}.", out)
        else:
            out[path] = value


def _aliases(doc: dict[str, Any]) -> None:
    """Sigma's taxonomy names (proxy, webserver, dns, firewall) from the ECS fields."""
    for sigma, ecs in (
        ("src_ip", "source.ip"),
        ("src_port", "source.port"),
        ("dst_ip", "destination.ip"),
        ("dst_port", "destination.port"),
        ("c-ip", "source.ip"),
        ("cs-host", "url.domain"),
        ("r-dns", "url.domain"),
        ("cs-method", "http.request.method"),
        ("sc-status", "http.response.status_code"),
        ("c-useragent", "user_agent.original"),
        ("record_type", "dns.question.type"),
    ):
        value = doc.get(ecs)
        if value is not None:
            doc.setdefault(sigma, value)
    if "query" not in doc and "dns.question.name" in doc:
        doc["query"] = doc.get("dns.rrname") or doc["dns.question.name"]
    referrer = doc.get("referrer") or doc.get("http.http_refer")
    if referrer is not None:
        doc.setdefault("cs-referrer", referrer)
        doc.setdefault("cs-referer", referrer)
    url = doc.get("url.full")
    if isinstance(url, str):
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        stem = parts.path
        doc.setdefault("c-uri", target)
        doc.setdefault("cs-uri", target)
        doc.setdefault("c-uri-stem", stem)
        doc.setdefault("cs-uri-stem", stem)
        doc.setdefault("c-uri-query", parts.query)
        doc.setdefault("cs-uri-query", parts.query)
        name = stem.rsplit("/", 1)[-1]
        if "." in name:
            doc.setdefault("c-uri-extension", name.rsplit(".", 1)[-1])
