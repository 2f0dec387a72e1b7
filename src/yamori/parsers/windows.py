"""Windows events: flatten one event record into Sigma field names and find its logsource facets.

Input shapes (all JSON, already parsed into dicts; this module does no I/O):

* EVTX records as the ``evtx`` package's ``records_json()`` and ``evtx_dump -o json/jsonl`` write them:
  ``{"Event": {"System": {...}, "EventData": {...} | "UserData": {<child>: {...}}}}``, XML attributes under
  ``#attributes`` and element text under ``#text``;
* Winlogbeat / Elastic documents (``winlog.channel``, ``winlog.event_id``, ``winlog.event_data``...);
* NXLog ``im_msvistalog`` flat JSON (``EventID``, ``Channel``, ``SourceName``, ``Hostname``, ``EventTime`` and
  the EventData fields at top level); already flattened events (``EventID`` + ``Channel``) take the same path.

Field names (the ones SigmaHQ rules use):

* every EventData leaf, and every leaf of UserData's child element, at top level under its own name
  (``CommandLine``, ``SubjectUserName``), spaces removed (Defender writes ``Threat Name``, SigmaHQ rules
  ``ThreatName``); unnamed ``<Data>`` elements become one field ``Data`` (a list when
  there are several); nested elements below a leaf get dotted names (``Certificate.fileRef``); attributes of a
  leaf element become ``<leaf>.<attribute>``; ``xmlns`` attributes are dropped;
* System: ``EventID`` (int, also when written ``<EventID Qualifiers="..">``; the qualifiers go to
  ``Qualifiers``), ``Channel``, ``Provider_Name``, ``Provider_Guid``, ``Provider_EventSourceName``,
  ``Computer``, ``EventRecordID``, ``Level``, ``Task``, ``Opcode``, ``Keywords``, ``Version``,
  ``ExecutionProcessID``, ``ExecutionThreadID``, ``Security_UserID``, ``Correlation_ActivityID``,
  ``Correlation_RelatedActivityID``, ``SystemTime``. Numeric System values are ints even when the record
  stores them as strings;
* a System field always wins over an EventData/UserData field of the same name (rules must be able to trust
  ``EventID`` and ``Channel``); the displaced value is kept as ``EventData.<name>`` / ``UserData.<name>``.
  One exception, after routing: in System event 104 ("log cleared") ``Channel`` is the log that was cleared,
  as SigmaHQ's eventlog-cleared rules read it, and the event's own log is ``winlog.channel``;

Values keep their JSON types, with one normalisation: a string that is exactly a bare GUID
(``0CCE9217-69AE-11D9-BED3-505054503030``) gets the braces Windows prints around GUID-typed values
(``{0CCE9217-...}``). The ``evtx`` package renders GUIDs without braces, Windows and Winlogbeat with them, and
SigmaHQ rules are written against the Windows form (``SubcategoryGuid: '{0CCE9217-...}'``).

Logsource facets (tables below, with their sources):

* product ``windows`` for every event;
* service from the channel: pySigma's ``sigma.pipelines.common.windows_logsource_mapping`` reversed
  (case-insensitive; a channel may give several services, e.g. ``ldap`` and ``ldap_debug``); a channel it does
  not know gives no service;
* Sysmon channel: category from :data:`SYSMON_CATEGORIES` (the Sigma taxonomy's Sysmon event ids). Event 12
  gives ``registry_add``, ``registry_delete`` and ``registry_event`` together, event 13 ``registry_set`` and
  ``registry_event``: the taxonomy maps both registry_add and registry_delete to event 12, every pySigma
  backend does the same, and SigmaHQ's registry_add / registry_delete rules select the operation themselves
  (``EventType: CreateKey`` / ``DeleteKey`` / ``DeleteValue``);
* PowerShell channels: :data:`SERVICE_CATEGORIES` (``ps_module`` 4103, ``ps_script`` 4104 on the ``powershell``
  channels; ``ps_classic_start`` 400, ``ps_classic_provider_start`` 600, ``ps_classic_script`` 800 on
  ``Windows PowerShell``);
* Security log, :data:`AUDIT_EVENTS`: 4688 is ``process_creation``; 4657 is ``registry_add`` +
  ``registry_event`` (OperationType ``%%1904``, "New registry value created") or ``registry_set`` +
  ``registry_event`` (``%%1905``, "Existing registry value modified"). For those events the Sysmon field names
  are added when absent (4688: ``Image`` <- ``NewProcessName``, ``ParentImage`` <- ``ParentProcessName``;
  4657: ``Image`` <- ``ProcessName``, ``TargetObject`` <- ``ObjectName``, ``Details`` <- ``NewValue``; both:
  ``LogonId`` <- ``SubjectLogonId``), as pySigma's windows-audit pipeline maps them.

The LogSource objects are interned and cached per (Channel, EventID[, OperationType]), so all events of one kind
share one object (the engine caches its routing per LogSource).
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yamori.events import LogSource
from yamori.parsers.base import Family, ParseContext, RecordParser, apply_ecs
from yamori.parsers.base import Parsed as ParsedEvent
from yamori.parsers.timestamps import from_epoch, parse_iso, utc_iso

__all__ = [
    "AUDIT_EVENTS",
    "PRODUCT",
    "SERVICE_CATEGORIES",
    "SYSMON_CATEGORIES",
    "AuditEvent",
    "can_produce",
    "flatten_evtx_json",
    "iso_utc",
    "known_channels",
    "logsource_for",
    "produced_logsources",
    "windows_json_to_fields",
]

PRODUCT = "windows"
_PRODUCT_TUPLE = (PRODUCT,)

Fields = dict[str, Any]
Parsed = tuple[Fields, LogSource, str | None]


# --------------------------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------------------------
# Service from channel: pySigma's own table (sigma.pipelines.common, part of pySigma 2), reversed below.
# The category tables are facts written here: the Sysmon event ids from the Sysmon documentation (Sysinternals)
# with the category names of the Sigma taxonomy (sigma-specification, Taxonomy appendix, "Windows folder") and
# SigmaHQ's rule folders; the Security-log ones follow the convention SigmaHQ's converters use for
# Windows auditing (Hayabusa's converter, pySigma's windows-audit pipeline). The pySigma pipeline packages that
# also hold such tables require pySigma < 2 and so are not dependencies of Yamori.

# Sysmon (channel Microsoft-Windows-Sysmon/Operational): event id -> categories.
SYSMON_CATEGORIES: dict[int, tuple[str, ...]] = {
    1: ("process_creation",),            # ProcessCreate
    2: ("file_change",),                 # FileCreateTime (a file creation time changed)
    3: ("network_connection",),          # NetworkConnect
    4: ("sysmon_status",),               # Sysmon service state changed
    5: ("process_termination",),         # ProcessTerminate
    6: ("driver_load",),                 # DriverLoad
    7: ("image_load",),                  # ImageLoad
    8: ("create_remote_thread",),        # CreateRemoteThread
    9: ("raw_access_thread",),           # RawAccessRead
    10: ("process_access",),             # ProcessAccess
    11: ("file_event",),                 # FileCreate
    # RegistryEvent (object create and delete): EventType CreateKey / DeleteKey / DeleteValue. The taxonomy maps
    # registry_add and registry_delete both to event 12 and SigmaHQ's registry_add / registry_delete rules
    # select the operation themselves (EventType: CreateKey, ...), so the event carries all three categories.
    12: ("registry_add", "registry_delete", "registry_event"),
    13: ("registry_set", "registry_event"),     # RegistryEvent (value set)
    14: ("registry_rename", "registry_event"),  # RegistryEvent (key and value rename)
    15: ("create_stream_hash",),         # FileCreateStreamHash
    16: ("sysmon_status",),              # Sysmon configuration change
    17: ("pipe_created",),               # PipeEvent (pipe created)
    18: ("pipe_created",),               # PipeEvent (pipe connected)
    19: ("wmi_event",),                  # WmiEvent (filter)
    20: ("wmi_event",),                  # WmiEvent (consumer)
    21: ("wmi_event",),                  # WmiEvent (binding)
    22: ("dns_query",),                  # DNSEvent
    23: ("file_delete",),                # FileDelete (file archived)
    24: ("clipboard_capture",),          # ClipboardChange
    25: ("process_tampering",),          # ProcessTampering
    26: ("file_delete", "file_delete_detected"),  # FileDeleteDetected (taxonomy: file_delete is 23 and 26)
    27: ("file_block_executable",),      # FileBlockExecutable
    28: ("file_block_shredding",),       # FileBlockShredding
    29: ("file_executable_detected",),   # FileExecutableDetected
    255: ("sysmon_error",),              # Error
}

# (service, event id) -> categories: PowerShell's logs (services as in pySigma's channel table).
SERVICE_CATEGORIES: dict[tuple[str, int], tuple[str, ...]] = {
    ("powershell", 4103): ("ps_module",),                    # module logging
    ("powershell", 4104): ("ps_script",),                    # script block logging
    ("powershell-classic", 400): ("ps_classic_start",),      # engine state changed to Available
    ("powershell-classic", 600): ("ps_classic_provider_start",),  # provider started
    ("powershell-classic", 800): ("ps_classic_script",),     # pipeline execution details
}


@dataclass(frozen=True)
class AuditEvent:
    """A Security-log event that also carries generic (Sysmon-taxonomy) categories.

    ``field`` names the event field whose value decides the categories (None: always the same); ``aliases``
    are (Sysmon name, Security name) pairs: the Sysmon-named field is added when absent, so rules written
    for the generic category find their fields.
    """

    categories: dict[str | None, tuple[str, ...]]
    aliases: tuple[tuple[str, str], ...]
    field: str | None = None


# Event 4657 (a registry value was modified) writes OperationType as a message-table reference (%%1904...);
# rendered logs carry the text. Both spellings are accepted. %%1906 (value deleted) has no generic category.
_REGISTRY_VALUE_ADDED = ("registry_add", "registry_event")
_REGISTRY_VALUE_SET = ("registry_set", "registry_event")
AUDIT_EVENTS: dict[int, AuditEvent] = {
    4688: AuditEvent(  # a new process has been created
        categories={None: ("process_creation",)},
        aliases=(("Image", "NewProcessName"), ("ParentImage", "ParentProcessName"), ("LogonId", "SubjectLogonId")),
    ),
    4657: AuditEvent(  # a registry value was modified
        field="OperationType",
        categories={
            "%%1904": _REGISTRY_VALUE_ADDED, "New registry value created": _REGISTRY_VALUE_ADDED,
            "%%1905": _REGISTRY_VALUE_SET, "Existing registry value modified": _REGISTRY_VALUE_SET,
        },
        aliases=(("Image", "ProcessName"), ("TargetObject", "ObjectName"), ("Details", "NewValue"),
                 ("LogonId", "SubjectLogonId")),
    ),
}


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple | set | frozenset) else [value]


@functools.cache
def _windows_logsource_mapping() -> dict[str, Any]:
    """pySigma's service → channel table. Importing pySigma's pipelines costs about 0.25 s (per hunt worker), so
    the table is kept in the cache folder, keyed by pySigma's version, and imported only when that is absent."""
    cached = _mapping_cache_file()
    if cached is not None:
        try:
            return dict(json.loads(cached.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            pass
    from sigma.pipelines.common import windows_logsource_mapping

    table = {service: channels if isinstance(channels, str) else _as_list(channels)
             for service, channels in windows_logsource_mapping.items()}
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            temporary = cached.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(table), encoding="utf-8")
            os.replace(temporary, cached)
        except OSError:
            pass  # a cache that cannot be written only costs time
    return table


def _mapping_cache_file() -> Path | None:
    from importlib.metadata import PackageNotFoundError, version

    from yamori.paths import cache_dir

    try:
        return cache_dir() / f"windows-channels-pysigma-{version('pysigma')}.json"
    except PackageNotFoundError:
        return None


@functools.cache
def _channel_services() -> dict[str, tuple[str, ...]]:
    reverse: dict[str, list[str]] = {}
    for service, channels in _windows_logsource_mapping().items():
        for channel in _as_list(channels):
            names = reverse.setdefault(str(channel).lower(), [])
            if service not in names:
                names.append(service)
    return {channel: tuple(services) for channel, services in reverse.items()}


_SYSMON_SERVICE = "sysmon"
_AUDIT_SERVICE = "security"
# event id -> names of the fields whose values decide its audit categories (4657 -> ("OperationType",))
_AUDIT_EXTRA_FIELDS: dict[int, tuple[str, ...]] = {
    event_id: (audit.field,) for event_id, audit in AUDIT_EVENTS.items() if audit.field is not None
}


# --------------------------------------------------------------------------------------------------------------
# Logsource facets
# --------------------------------------------------------------------------------------------------------------

_Aliases = tuple[tuple[str, str], ...]  # (new field, existing field) pairs added when the new one is absent
_Route = tuple[LogSource, _Aliases]
_ROUTES: dict[Any, _Route] = {}
_ROUTES_MAX = 65536
_INTERNED: dict[LogSource, LogSource] = {}


def _intern(logsource: LogSource) -> LogSource:
    return _INTERNED.setdefault(logsource, logsource)


def _services_of(channel: str | None) -> tuple[str, ...]:
    return _channel_services().get(channel.lower(), ()) if isinstance(channel, str) else ()


def _compute_route(channel: str | None, event_id: Any, extra: tuple[Any, ...] | None) -> _Route:
    services = _services_of(channel)
    categories: list[str] = []
    aliases: tuple[tuple[str, str], ...] = ()
    if type(event_id) is int:
        if _SYSMON_SERVICE in services:
            categories.extend(SYSMON_CATEGORIES.get(event_id, ()))
        for service in services:
            categories.extend(SERVICE_CATEGORIES.get((service, event_id), ()))
        audit = AUDIT_EVENTS.get(event_id) if _AUDIT_SERVICE in services else None
        if audit is not None:
            value = None
            if audit.field is not None and extra:
                value = extra[0].strip() if isinstance(extra[0], str) else extra[0]
            found = audit.categories.get(value, ())
            if found:
                categories.extend(found)
                aliases = audit.aliases
    logsource = _intern(LogSource(product=_PRODUCT_TUPLE, category=tuple(dict.fromkeys(categories)),
                                  service=services))
    return logsource, aliases


def _route(fields: Fields) -> _Route:
    channel = fields.get("Channel")
    event_id = fields.get("EventID")
    if type(channel) is not str:
        channel = None
    if type(event_id) is not int:
        event_id = None
    key: tuple[Any, ...] = (channel, event_id)
    route = _ROUTES.get(key)
    if route is not None:
        return route
    extra: tuple[Any, ...] | None = None
    extra_names = _AUDIT_EXTRA_FIELDS.get(event_id) if event_id is not None else None
    if extra_names and _AUDIT_SERVICE in _services_of(channel):
        # the categories depend on field values (4657's OperationType): cache per value, not per event id
        extra = tuple(_hashable(fields.get(name)) for name in extra_names)
        key = (channel, event_id, extra)
        route = _ROUTES.get(key)
        if route is not None:
            return route
    route = _compute_route(channel, event_id, extra)
    if len(_ROUTES) >= _ROUTES_MAX:
        _ROUTES.clear()
    _ROUTES[key] = route
    return route


def _hashable(value: Any) -> str | int | None:
    if value is None or type(value) is str or type(value) is int:
        return value
    return str(value)


def logsource_for(channel: str | None, event_id: int | None, fields: Mapping[str, Any] | None = None) -> LogSource:
    """The logsource facets of an event of this channel and event id (``fields`` decides 4657's category)."""
    probe: Fields = dict(fields or {})
    probe["Channel"] = channel
    probe["EventID"] = event_id
    return _route(probe)[0]


def _finish(fields: Fields) -> LogSource:
    logsource, aliases = _route(fields)
    for new, old in aliases:
        if new not in fields and old in fields:
            fields[new] = fields[old]
    return logsource


def produced_logsources() -> list[LogSource]:
    """Every distinct set of facets a Windows event can carry (for reporting rules no event can reach)."""
    found: dict[LogSource, None] = {_intern(LogSource(product=_PRODUCT_TUPLE)): None}
    channels = {str(channel) for channels in _windows_logsource_mapping().values()
                for channel in _as_list(channels)}
    event_ids = set(SYSMON_CATEGORIES) | {event_id for _, event_id in SERVICE_CATEGORIES}
    for channel in sorted(channels):
        found[_compute_route(channel, None, None)[0]] = None
        for event_id in sorted(event_ids):
            found[_compute_route(channel, event_id, None)[0]] = None
        if _AUDIT_SERVICE in _services_of(channel):
            for event_id, audit in AUDIT_EVENTS.items():
                for value in audit.categories:
                    found[_compute_route(channel, event_id, (value,))[0]] = None
    return list(found)


def can_produce(product: str | None, category: str | None, service: str | None) -> bool:
    """Whether some Windows event carries these facets (a rule naming them can ever apply to Windows events)."""
    return any(logsource.covers(product, category, service) for logsource in _produced())


_PRODUCED: list[LogSource] = []


def _produced() -> list[LogSource]:
    if not _PRODUCED:
        _PRODUCED.extend(produced_logsources())
    return _PRODUCED


# --------------------------------------------------------------------------------------------------------------
# Value helpers
# --------------------------------------------------------------------------------------------------------------

_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


_GUID_SEEN: dict[str, str] = {}  # recent results of _guid_braces (GUIDs repeat: providers, logon GUIDs)


def _guid_braces(value: str) -> str:
    """``0CCE9217-...`` -> ``{0CCE9217-...}`` (how Windows prints GUID values); other strings unchanged."""
    seen = _GUID_SEEN.get(value)
    if seen is not None:
        return seen
    result = value
    if len(value) == 36 and value[8] == "-" and value[23] == "-" and _GUID.fullmatch(value):
        result = "{" + value + "}"
    if len(_GUID_SEEN) >= 4096:
        _GUID_SEEN.clear()
    _GUID_SEEN[value] = result
    return result


def _to_int(value: Any) -> Any:
    """An int for an int or a decimal string; anything else unchanged."""
    if type(value) is int:
        return value
    if type(value) is str:
        text = value.strip()
        if text.isdecimal() and text.isascii():
            return int(text)
    return value


_UTC_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z\Z")


def iso_utc(value: Any) -> str | None:
    """ISO 8601 in UTC with ``Z`` (times written without a zone are taken as UTC, fractions cut to microseconds);
    None when ``value`` is no time (the original stays in the fields under its own name)."""
    if type(value) is not str or not value:
        if type(value) is int or type(value) is float:
            return from_epoch(value)
        return None
    if _UTC_ISO.match(value):  # already the form wanted (the evtx package writes it so)
        return value
    moment = parse_iso(value)
    return utc_iso(moment) if moment is not None else None


# --------------------------------------------------------------------------------------------------------------
# EVTX JSON (records_json / evtx_dump)
# --------------------------------------------------------------------------------------------------------------

_NUMERIC_SYSTEM = ("Version", "Level", "Task", "Opcode", "EventRecordID")


def _put(out: Fields, name: str, value: Any) -> None:
    if type(value) is str:
        if len(value) == 36:
            value = _guid_braces(value)
        out[name] = value
    elif type(value) is dict:
        _flatten_element(value, name, out)
    elif type(value) is list:
        _put_list(out, name, value)
    else:
        out[name] = value


def _flatten_element(node: dict[str, Any], name: str, out: Fields) -> None:
    """One XML element rendered as JSON: its text at ``name``, attributes and children at ``name.x``."""
    for key, value in node.items():
        if key == "#text":
            _put(out, name, value)
        elif key == "#attributes":
            if type(value) is dict:
                for attribute, attribute_value in value.items():
                    if not attribute.startswith("xmlns"):
                        _put(out, f"{name}.{attribute}", attribute_value)
        else:
            _put(out, f"{name}.{key}", value)


def _put_list(out: Fields, name: str, items: list[Any]) -> None:
    if all(type(item) is not dict and type(item) is not list for item in items):
        out[name] = [_guid_braces(item) if type(item) is str and len(item) == 36 else item for item in items]
        return
    part: Fields = {}
    for item in items:
        one: Fields = {}
        _put(one, name, item)
        for key, value in one.items():
            values = part.setdefault(key, [])
            if type(value) is list:
                values.extend(value)
            else:
                values.append(value)
    out.update(part)


def _flatten_container(container: Any, name: str, out: Fields) -> None:
    """EventData, or UserData's child: leaves at top level under their own names."""
    if type(container) is not dict:
        if container is not None and container != "":
            _put(out, name, container)  # text directly inside <EventData>
        return
    if "#attributes" in container or "#text" in container or " " in "".join(container):
        _flatten_container_slow(container, name, out)
        return
    for key, value in container.items():  # the hot loop: keep it lean
        cls = value.__class__
        if cls is str:
            out[key] = _guid_braces(value) if len(value) == 36 else value
        elif cls is dict:
            _flatten_element(value, key, out)
        elif cls is list:
            _put_list(out, key, value)
        else:
            out[key] = value


def _flatten_container_slow(container: dict[str, Any], name: str, out: Fields) -> None:
    for key, value in container.items():
        if key == "#attributes":
            if type(value) is dict:
                for attribute, attribute_value in value.items():
                    if not attribute.startswith("xmlns"):
                        _put(out, f"{name}.{attribute}", attribute_value)
        elif key == "#text":
            if value is not None and value != "":
                _put(out, name, value)
        else:
            _put(out, key.replace(" ", ""), value)  # Defender's "Threat Name" is ThreatName in rules


_SYSTEM_HANDLED = frozenset({
    "Provider", "EventID", "Version", "Level", "Task", "Opcode", "Keywords", "TimeCreated", "EventRecordID",
    "Correlation", "Execution", "Channel", "Computer", "Security",
})
_NO_ATTRIBUTES: dict[str, Any] = {}


def _attributes(node: Any) -> dict[str, Any]:
    if node.__class__ is dict:
        attributes = node.get("#attributes")
        if attributes.__class__ is dict:
            return attributes
    return _NO_ATTRIBUTES


def _system_fields(system: dict[str, Any]) -> Fields:
    """The System element's fields, in a fixed order (unknown System children are kept too)."""
    try:
        return _system_fields_fast(system)
    except (KeyError, TypeError, AttributeError):  # not the usual shape: take the careful path
        return _system_fields_any(system)


def _system_fields_fast(system: dict[str, Any]) -> Fields:
    """The usual shape (integer EventID, Provider/TimeCreated/Execution with attributes), with few checks."""
    provider = system["Provider"]["#attributes"]
    event_id = system["EventID"]
    if event_id.__class__ is not int or len(provider) > 2 or not _SYSTEM_HANDLED.issuperset(system):
        raise TypeError
    guid = provider.get("Guid")
    sf: Fields = {"Provider_Name": provider["Name"]}
    if guid is not None:
        sf["Provider_Guid"] = _GUID_SEEN.get(guid) or _guid_braces(guid)
    sf["EventID"] = event_id
    get = system.get
    for key in _NUMERIC_SYSTEM:
        value = get(key)
        if value is not None:
            sf[key] = value if value.__class__ is int else _to_int(value)
    sf["Keywords"] = get("Keywords")
    sf["SystemTime"] = system["TimeCreated"]["#attributes"]["SystemTime"]
    execution = get("Execution")
    if execution is not None:
        attributes = execution["#attributes"]
        pid = attributes.get("ProcessID")
        tid = attributes.get("ThreadID")
        sf["ExecutionProcessID"] = pid if pid.__class__ is int else _to_int(pid)
        sf["ExecutionThreadID"] = tid if tid.__class__ is int else _to_int(tid)
    correlation = get("Correlation")
    if correlation is not None:
        for attribute, value in correlation["#attributes"].items():
            sf["Correlation_" + attribute] = _guid_braces(value) if value.__class__ is str else value
    sf["Channel"] = system["Channel"]
    sf["Computer"] = get("Computer")
    security = get("Security")
    if security is not None:
        for attribute, value in security["#attributes"].items():
            sf["Security_" + attribute] = value
    return sf


def _system_fields_any(system: dict[str, Any]) -> Fields:
    get = system.get
    sf: Fields = {}
    for attribute, value in _attributes(get("Provider")).items():
        if attribute == "Guid" and value.__class__ is str:
            value = _guid_braces(value)
        sf["Provider_" + attribute] = value
    event_id = get("EventID")
    if event_id.__class__ is dict:
        qualifiers = _attributes(event_id).get("Qualifiers")
        if qualifiers is not None:
            sf["Qualifiers"] = _to_int(qualifiers)
        event_id = event_id.get("#text")
    sf["EventID"] = _to_int(event_id)
    for key in _NUMERIC_SYSTEM:
        value = get(key)
        if value is not None:
            sf[key] = _to_int(value)
    if "Keywords" in system:
        sf["Keywords"] = get("Keywords")
    system_time = _attributes(get("TimeCreated")).get("SystemTime")
    if system_time is not None:
        sf["SystemTime"] = system_time
    for attribute, value in _attributes(get("Execution")).items():
        sf["Execution" + attribute] = _to_int(value)
    for attribute, value in _attributes(get("Correlation")).items():
        sf["Correlation_" + attribute] = _guid_braces(value) if value.__class__ is str else value
    for key in ("Channel", "Computer"):
        if key in system:
            sf[key] = get(key)
    for attribute, value in _attributes(get("Security")).items():
        sf["Security_" + attribute] = value
    for key, value in system.items():
        if key in _SYSTEM_HANDLED:
            continue
        if value.__class__ is dict:
            if "#text" in value:
                sf[key] = value["#text"]
            for attribute, attribute_value in _attributes(value).items():
                sf[f"{key}_{attribute}"] = attribute_value
        else:
            sf[key] = value
    return sf


def _merge_system(fields: Fields, system: Fields, displaced_prefix: str) -> None:
    """Add the System fields; an EventData/UserData field of the same name moves to ``<prefix><name>``."""
    if not fields.keys().isdisjoint(system):
        for key in system:
            if key in fields:
                fields[displaced_prefix + key] = fields[key]
    fields.update(system)


def flatten_evtx_json(record: dict[str, Any]) -> Parsed:
    """Flatten one EVTX record (``{"Event": {...}}`` as ``records_json()`` gives it) into Sigma field names.

    Returns ``(fields, logsource, timestamp)``; the timestamp is System/TimeCreated/@SystemTime (ISO 8601 UTC)
    or None. Raises ``ValueError`` when the record has no ``Event.System`` object.
    """
    event = record.get("Event", record)
    if event.__class__ is not dict:
        raise ValueError("record has no Event object")
    system = event.get("System")
    if system.__class__ is not dict:
        raise ValueError("record has no Event.System object")
    fields: Fields = {}
    displaced = "EventData."
    event_data = event.get("EventData")
    if event_data is not None:
        _flatten_container(event_data, "EventData", fields)
    if len(event) > 3 or event_data is None:  # anything besides #attributes, System and EventData
        for key, value in event.items():
            if key == "UserData":
                displaced = "UserData."
                if value.__class__ is dict:
                    for child_name, child in value.items():
                        if child_name == "#attributes":
                            continue
                        if child.__class__ is dict:
                            _flatten_container(child, child_name, fields)
                        else:
                            _put(fields, child_name, child)
                elif value is not None:
                    _put(fields, "UserData", value)
            elif key == "System" or key == "EventData" or key == "#attributes":
                continue
            elif value is not None:  # RenderingInfo, ProcessingErrorData, ...: dotted under their own name
                _put(fields, key, value)
    _merge_system(fields, _system_fields(system), displaced)
    logsource = _finish(fields)
    if "UserData.Channel" in fields:
        _cleared_log_channel(fields)
    return fields, logsource, iso_utc(fields.get("SystemTime"))


def _cleared_log_channel(fields: Fields) -> None:
    """System 104 ("the X log file was cleared"): ``Channel`` is the log that was cleared, as SigmaHQ's
    eventlog-cleared rules read it; the log the event itself is written to (System, which routed it above)
    stays available as ``winlog.channel``."""
    if fields.get("EventID") == 104 and fields.get("Provider_Name") == "Microsoft-Windows-Eventlog":
        fields["winlog.channel"] = fields["Channel"]
        fields["Channel"] = fields.pop("UserData.Channel")


# --------------------------------------------------------------------------------------------------------------
# Winlogbeat / Elastic
# --------------------------------------------------------------------------------------------------------------

# winlog.<key> -> Sigma System field name
_WINLOG_SYSTEM = {
    "channel": "Channel",
    "event_id": "EventID",
    "provider_name": "Provider_Name",
    "provider_guid": "Provider_Guid",
    "computer_name": "Computer",
    "record_id": "EventRecordID",
    "task": "Task",
    "opcode": "Opcode",
    "keywords": "Keywords",
    "version": "Version",
    "activity_id": "Correlation_ActivityID",
    "related_activity_id": "Correlation_RelatedActivityID",
}
# rendered level names (Winlogbeat's log.level) -> System/Level
_LEVELS = {"critical": 1, "error": 2, "warning": 3, "information": 4, "info": 4, "verbose": 5}


def _winlogbeat_to_fields(obj: dict[str, Any]) -> Parsed:
    winlog = obj["winlog"]
    fields: Fields = {}
    for container_key, prefix in (("event_data", "EventData"), ("user_data", "UserData")):
        container = winlog.get(container_key)
        if type(container) is dict:
            for key, value in container.items():
                if key != "xml_name":
                    _put(fields, key.replace(" ", ""), value)
        elif container is not None:
            _put(fields, prefix, container)
    system: Fields = {}
    for key, name in _WINLOG_SYSTEM.items():
        value = winlog.get(key)
        if value is not None:
            system[name] = value
    if "EventID" in system:
        system["EventID"] = _to_int(system["EventID"])
    for name in ("EventRecordID", "Version"):
        if name in system:
            system[name] = _to_int(system[name])
    process = winlog.get("process")
    if type(process) is dict:
        if process.get("pid") is not None:
            system["ExecutionProcessID"] = _to_int(process["pid"])
        thread = process.get("thread")
        if type(thread) is dict and thread.get("id") is not None:
            system["ExecutionThreadID"] = _to_int(thread["id"])
    user = winlog.get("user")
    if type(user) is dict and user.get("identifier") is not None:
        system["Security_UserID"] = user["identifier"]
    log = obj.get("log")
    level = log.get("level") if type(log) is dict else obj.get("log.level")
    if type(level) is str and level.lower() in _LEVELS:
        system["Level"] = _LEVELS[level.lower()]
    timestamp = iso_utc(obj.get("@timestamp"))
    if timestamp is not None:
        system["SystemTime"] = timestamp
    _merge_system(fields, system, "EventData.")
    return fields, _finish(fields), timestamp


# --------------------------------------------------------------------------------------------------------------
# NXLog (im_msvistalog) and other flat Windows JSON
# --------------------------------------------------------------------------------------------------------------

# NXLog field -> Sigma System field name
_NXLOG_SYSTEM = {
    "EventID": "EventID",
    "Channel": "Channel",
    "SourceName": "Provider_Name",
    "ProviderGuid": "Provider_Guid",
    "Hostname": "Computer",
    "RecordNumber": "EventRecordID",
    "Task": "Task",
    "OpcodeValue": "Opcode",
    "Version": "Version",
    "ProcessID": "ExecutionProcessID",
    "ThreadID": "ExecutionThreadID",
    "UserID": "Security_UserID",
    "ActivityID": "Correlation_ActivityID",
    "RelatedActivityID": "Correlation_RelatedActivityID",
}
# NXLog's own fields that are not part of the Windows event (kept in the raw record only)
_NXLOG_META = frozenset({
    "EventTime", "EventReceivedTime", "SourceModuleName", "SourceModuleType", "Severity", "SeverityValue",
    "Opcode", "Category", "Message",
})
_NXLOG_EVENT_TYPES = frozenset({
    "INFO", "AUDIT_SUCCESS", "AUDIT_FAILURE", "WARNING", "ERROR", "CRITICAL", "VERBOSE",
})
_FLAT_TIME_FIELDS = ("SystemTime", "EventTime", "TimeCreated", "@timestamp", "UtcTime")


def _flat_to_fields(obj: dict[str, Any]) -> Parsed:
    fields: Fields = {}
    system: Fields = {}
    nxlog = "SourceName" in obj or "EventTime" in obj or "SourceModuleType" in obj
    for key, value in obj.items():
        if nxlog:
            name = _NXLOG_SYSTEM.get(key)
            if name is not None:
                system[name] = value
                continue
            if key in _NXLOG_META:
                continue
            if key == "EventType" and type(value) is str and value in _NXLOG_EVENT_TYPES:
                continue
        if " " in key:
            key = key.replace(" ", "")
        if type(value) is str:
            fields[key] = _guid_braces(value) if len(value) == 36 else value
        else:
            _put(fields, key, value)
    if nxlog:
        keywords = system.get("Keywords", fields.pop("Keywords", None))
        if type(keywords) is int:  # NXLog writes the 64-bit mask as a signed integer
            keywords = hex(keywords & 0xFFFFFFFFFFFFFFFF)
        if keywords is not None:
            system["Keywords"] = keywords
    for name in ("EventID", "EventRecordID", "Version", "Task", "Opcode", "Level",
                 "ExecutionProcessID", "ExecutionThreadID"):
        if name in system:
            system[name] = _to_int(system[name])
        elif name in fields:
            fields[name] = _to_int(fields[name])
    if "Provider_Guid" in system and type(system["Provider_Guid"]) is str:
        system["Provider_Guid"] = _guid_braces(system["Provider_Guid"])
    timestamp = None
    for name in _FLAT_TIME_FIELDS:
        if obj.get(name) is not None:
            timestamp = iso_utc(obj[name])
            break
    if timestamp is not None and "SystemTime" not in fields:
        system["SystemTime"] = timestamp
    _merge_system(fields, system, "EventData.")
    return fields, _finish(fields), timestamp


# --------------------------------------------------------------------------------------------------------------
# Shape detection
# --------------------------------------------------------------------------------------------------------------

def windows_json_to_fields(obj: dict[str, Any]) -> Parsed | None:
    """Flatten a Windows event in any of the JSON shapes this module knows; None when ``obj`` is none of them.

    Shapes: EVTX JSON (``Event.System``, also without the ``Event`` wrapper), Winlogbeat/Elastic (``winlog``
    object), NXLog or already-flat JSON (``EventID`` plus ``Channel`` or NXLog's ``SourceName``).
    """
    flatten = _flattener(obj)
    return None if flatten is None else flatten(obj)


def _flattener(obj: Mapping[str, Any]) -> Callable[[dict[str, Any]], Parsed] | None:
    event = obj.get("Event")
    if type(event) is dict and type(event.get("System")) is dict:
        return flatten_evtx_json
    system = obj.get("System")
    if type(system) is dict and ("EventData" in obj or "UserData" in obj or "EventID" in system):
        return _unwrapped_evtx_to_fields
    winlog = obj.get("winlog")
    if type(winlog) is dict and ("channel" in winlog or "event_id" in winlog or "event_data" in winlog):
        return _winlogbeat_to_fields
    if "EventID" in obj and ("Channel" in obj or "SourceName" in obj):
        return _flat_to_fields
    return None


def _unwrapped_evtx_to_fields(obj: dict[str, Any]) -> Parsed:
    return flatten_evtx_json({"Event": obj})


def known_channels() -> Iterable[str]:
    """The channel names pySigma maps to a service (lower-cased)."""
    return _channel_services().keys()



# ECS names of the Windows fields search and correlation use most (Sysmon and Security names alike)
WINDOWS_ECS: dict[str, str] = {
    "EventID": "event.code",
    "Channel": "winlog.channel",
    "Provider_Name": "winlog.provider_name",
    "Computer": "host.name",
    "EventRecordID": "winlog.record_id",
    "Image": "process.executable",
    "CommandLine": "process.command_line",
    "ParentImage": "process.parent.executable",
    "ParentCommandLine": "process.parent.command_line",
    "TargetUserName": "user.name",
    "User": "user.name",
    "SubjectUserName": "user.name",
    "TargetDomainName": "user.domain",
    "SubjectDomainName": "user.domain",
    "IpAddress": "source.ip",
    "IpPort": "source.port",
    "SourceIp": "source.ip",
    "SourcePort": "source.port",
    "DestinationIp": "destination.ip",
    "DestinationPort": "destination.port",
    "DestinationHostname": "destination.domain",
    "WorkstationName": "source.domain",
    "LogonType": "winlog.logon.type",
    "QueryName": "dns.question.name",
    "TargetFilename": "file.path",
    "TargetObject": "registry.path",
    "ServiceName": "service.name",
}


class WindowsJsonParser(RecordParser):
    """Windows events as JSON: EVTX JSON (evtx_dump), Winlogbeat/Elastic documents, NXLog, flat exports."""

    name = "windows"
    family = Family.IDENTITY
    description = "Windows event logs as JSON (evtx_dump, Winlogbeat, NXLog); EVTX files are read natively"
    logsources = (LogSource(product=(PRODUCT,)),)
    ecs = WINDOWS_ECS  # applied by finish_windows (with the process ids), the same way as for EVTX records
    priority = 10

    def accepts(self, record: Mapping[str, Any], context: ParseContext) -> bool:
        return _flattener(record) is not None

    def parse(self, record: dict[str, Any], context: ParseContext) -> list[ParsedEvent]:
        flatten = _flattener(record)
        if flatten is None:
            return []
        fields, logsource, timestamp = flatten(record)
        finish_windows(fields, timestamp)
        return [ParsedEvent(fields, logsource, timestamp)]


PARSERS = (WindowsJsonParser(),)


def finish_windows(fields: dict[str, Any], timestamp: str | None) -> None:
    """What :func:`yamori.parsers.base.finish` adds, for EVTX records (read natively, not through the registry),
    plus the process ids, which need converting."""
    apply_ecs(fields, WINDOWS_ECS)
    get = fields.get
    # Security 4688 names the new process NewProcessId and its creator ProcessId (both hex); Sysmon writes
    # ProcessId/ParentProcessId as numbers
    own, parent = ("NewProcessId", "ProcessId") if "NewProcessId" in fields else ("ProcessId", "ParentProcessId")
    for original, ecs_name in ((own, "process.pid"), (parent, "process.parent.pid")):
        pid = _pid(get(original))
        if pid is not None:
            fields[ecs_name] = pid
    if timestamp is not None:
        fields["@timestamp"] = timestamp
    fields["event.module"] = fields["event.dataset"] = "windows"


def _pid(value: Any) -> int | None:
    if type(value) is int:
        return value
    if type(value) is str and value:
        try:
            return int(value, 0)
        except ValueError:
            return None
    return None
