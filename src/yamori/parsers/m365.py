"""Microsoft 365 unified audit log: Office 365 Management Activity API records, Purview audit search exports.

Shapes read:

* **Management Activity API records** (JSON; the content blobs are arrays of records, also one per line):
  the common schema (``CreationTime``, ``Id``, ``Operation``, ``OrganizationId``, ``RecordType``,
  ``ResultStatus``, ``UserId``, ``UserKey``, ``UserType``, ``Workload``, ``ClientIP``, ``ObjectId``) and the
  workload fields (Exchange ``Parameters[]`` name/value lists, Entra ``ExtendedProperties[]`` /
  ``DeviceProperties[]`` / ``ModifiedProperties[]``, SharePoint ``SourceFileName``, ``SiteUrl``...).
* Records whose audit record is **JSON text under ``AuditData``** (``Search-UnifiedAuditLog`` output saved as
  JSON) or an object under ``auditData`` (Microsoft Graph audit log query records).
* **Purview audit search CSV export** (``RecordId,CreationDate,RecordType,Operation,UserId,AuditData,...``, or
  the older ``CreationDate,UserIds,Operations,AuditData``): the ``AuditData`` column of each line is the
  record; the other columns are kept when the record has no field of that name. Position = line number.

Fields: the record's own fields flattened with dots (``Parameters.Name``/``Parameters.Value`` as multi-valued
fields), plus:

* ``Parameters``, ``OperationProperties``, ``ExtendedProperties``, ``ModifiedProperties`` also whole, as
  compact JSON text, because SigmaHQ's ``m365`` rules search them as one value
  (``Parameters|contains: ForwardingSmtpAddress``);
* each ``ExtendedProperties``/``DeviceProperties`` item under its ``Name`` when the record has no field of that
  name (``RequestType``, ``UserAgent``, ``ResultStatusDetail``), as SigmaHQ's rules use them;
* ``Data`` of alert records (JSON text) decoded under ``Data.<key>``;
* ``eventSource`` (``Workload``), ``eventName`` (the alert ``Name`` for Security & Compliance alerts, else
  ``Operation``) and ``status`` (``success``/``failure`` from ``ResultStatus``): the names SigmaHQ's
  ``threat_management``, ``threat_detection`` and ``exchange`` rules are written with.

ECS: ``event.action`` (``Operation``), ``event.provider`` (``Workload``), ``event.code`` (``RecordType``),
``event.id`` (``Id``), ``event.outcome`` (``ResultStatus``: ``Succeeded``/``Success``/``True`` ->
``success``, ``Failed``/``False`` -> ``failure``), ``event.category``/``event.type`` (``authentication`` for
``UserLoggedIn``/``UserLoginFailed``, ``iam`` for directory changes, ``configuration`` for Exchange admin
cmdlets, ``file`` for SharePoint/OneDrive file operations, ``intrusion_detection`` with ``event.kind: alert``
for alerts), ``user.name``/``user.email``/``user.domain`` (``UserId``), ``user.id`` (``UserKey``),
``source.ip``/``source.port`` (``ClientIP``, also ``ClientIPAddress``, ``ActorIpAddress``; ``IP:port`` and
``[IPv6]:port`` forms), ``user_agent.original``, ``organization.id`` and ``cloud.account.id``
(``OrganizationId``, the tenant), ``@timestamp`` from ``CreationTime`` (UTC without a zone).
``event.dataset``: ``o365.audit``.

Logsources: ``product: m365`` with ``service: audit`` for every record; alert records of the Security &
Compliance Center (``RecordType`` 40, ``SecurityComplianceAlerts``; operations ``AlertTriggered``,
``AlertEntityGenerated``...) also carry ``threat_management`` and ``threat_detection``; Exchange records
also ``exchange``. Malformed: no readable ``CreationTime``, no ``Operation``, ``AuditData`` that is not a JSON
object, a CSV line whose columns do not match the header.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson

from yamori.events import BadRecord, LogSource
from yamori.parsers._cloud_common import (
    as_list,
    as_str,
    host_port,
    json_text,
    kind_of,
    outcome_of,
    set_absent,
    timestamp,
)
from yamori.parsers.base import Family, Malformed, ParseContext, Parsed, RecordParser, TextParser, logsource
from yamori.parsers.generic import flatten_into, flatten_json

__all__ = ["M365_ALERT", "M365_AUDIT", "M365_EXCHANGE", "M365AuditCsvParser", "M365AuditParser", "is_m365_record"]

M365_AUDIT = logsource("m365", None, "audit")
M365_ALERT = LogSource(product=("m365",), service=("audit", "threat_management", "threat_detection"))
M365_EXCHANGE = LogSource(product=("m365",), service=("audit", "exchange"))

ALERT_RECORD_TYPE = 40  # SecurityComplianceAlerts
_ALERT_OPERATIONS = frozenset({"AlertTriggered", "AlertEntityGenerated", "AlertUpdated"})
_KEPT_WHOLE = ("Parameters", "OperationProperties", "ExtendedProperties", "ModifiedProperties")
_NAME_VALUE_LISTS = ("ExtendedProperties", "DeviceProperties")
_LOGINS = {"UserLoggedIn": "success", "UserLoginFailed": "failure"}
_FILE_TYPES = {"FileDeleted": "deletion", "FileRecycled": "deletion", "FileUploaded": "creation",
               "FileModified": "change", "FileRenamed": "change", "FileMoved": "change", "FileCopied": "creation",
               "FileAccessed": "access", "FileDownloaded": "access", "FilePreviewed": "access",
               "FileSyncDownloadedFull": "access", "FileSyncUploadedFull": "creation"}
_CSV_COLUMNS = frozenset({"CreationDate", "AuditData"})


def is_m365_record(record: Mapping[str, Any]) -> bool:
    return (type(record.get("Operation")) is str and "CreationTime" in record
            and ("RecordType" in record or "Workload" in record))


def _is_alert(record: Mapping[str, Any]) -> bool:
    return record.get("RecordType") in (ALERT_RECORD_TYPE, "SecurityComplianceAlerts") or (
        record.get("Workload") == "SecurityComplianceCenter" and record.get("Operation") in _ALERT_OPERATIONS)


def _decode_audit_data(value: Any) -> dict[str, Any]:
    if type(value) is dict:
        return value
    if type(value) is not str:
        raise Malformed(f"AuditData is {kind_of(value)}")
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError as error:
        raise Malformed(f"AuditData is not valid JSON: {error}") from None
    if type(decoded) is not dict:
        raise Malformed(f"AuditData holds {kind_of(decoded)}, not an object")
    return decoded


class M365AuditParser(RecordParser):
    """Microsoft 365 unified audit log records (Management Activity API; AuditData wrappers)."""

    name = "m365_audit"
    family = Family.CLOUD
    description = ("Microsoft 365 unified audit log: Office 365 Management Activity API records, "
                   "Search-UnifiedAuditLog AuditData, Graph audit log query records")
    logsources = (M365_AUDIT, M365_ALERT, M365_EXCHANGE)
    priority = 25

    def accepts(self, record: Mapping[str, Any], context: ParseContext) -> bool:
        if is_m365_record(record):
            return True
        if type(record.get("AuditData")) is str:
            return "CreationDate" in record or "RecordType" in record or "Operations" in record
        inner = record.get("auditData")
        return type(inner) is dict and is_m365_record(inner)

    def parse(self, record: dict[str, Any], context: ParseContext) -> Iterator[Parsed]:
        if is_m365_record(record):
            yield audit_event(record)
        elif "AuditData" in record:
            extra = {key: value for key, value in record.items() if key != "AuditData"}
            yield audit_event(_decode_audit_data(record["AuditData"]), extra)
        else:
            yield audit_event(_decode_audit_data(record.get("auditData")))


def audit_event(record: dict[str, Any], extra: Mapping[str, Any] | None = None) -> Parsed:
    """The event of one unified audit log record; ``extra``: fields of a wrapper (CSV columns) kept when absent."""
    operation = record.get("Operation")
    if type(operation) is not str or not operation:
        raise Malformed("Operation is empty" if operation == "" else f"Operation is {kind_of(operation)}")
    moment = timestamp(record.get("CreationTime"))
    if moment is None:
        raise Malformed(f"CreationTime {str(record.get('CreationTime'))[:64]!r} is not a time")
    fields = flatten_json(record)
    for key in _KEPT_WHOLE:
        value = record.get(key)
        if type(value) is list:
            fields[key] = json_text(value)
    for key in _NAME_VALUE_LISTS:
        for item in as_list(record.get(key)):
            if type(item) is dict and type(item.get("Name")) is str and item["Name"]:
                set_absent(fields, item["Name"], item.get("Value"))
    data = record.get("Data")
    if type(data) is str and data[:1] == "{":
        try:
            decoded = orjson.loads(data)
        except orjson.JSONDecodeError:
            decoded = None
        if type(decoded) is dict:
            flatten_into(decoded, "Data", fields)
    if extra:
        for key, value in extra.items():
            if type(key) is str and key:
                set_absent(fields, key, value)

    workload = as_str(record.get("Workload"))
    alert = _is_alert(record)
    result = record.get("ResultStatus")
    outcome = outcome_of(result)
    set_absent(fields, "eventSource", workload)
    set_absent(fields, "eventName", as_str(record.get("Name")) if alert else None)
    set_absent(fields, "eventName", operation)
    if outcome != "unknown":
        set_absent(fields, "status", outcome)

    fields["event.kind"] = "alert" if alert else "event"
    fields["event.dataset"] = "o365.audit"
    fields["event.action"] = operation
    fields["event.outcome"] = outcome
    set_absent(fields, "event.provider", workload)
    record_type = record.get("RecordType")
    if isinstance(record_type, str | int) and type(record_type) is not bool:
        fields["event.code"] = str(record_type)
    set_absent(fields, "event.id", as_str(record.get("Id")))
    organization = as_str(record.get("OrganizationId"))
    set_absent(fields, "organization.id", organization)
    set_absent(fields, "cloud.account.id", organization)
    _categorize(fields, operation, workload, alert)

    user = as_str(record.get("UserId"))
    if user is not None:
        fields["user.name"] = user
        if "@" in user:
            fields["user.email"] = user
            fields["user.domain"] = user.rpartition("@")[2]
    set_absent(fields, "user.id", as_str(record.get("UserKey")))
    for name in ("ClientIP", "ClientIPAddress", "ActorIpAddress"):
        ip, port = host_port(record.get(name))
        if ip is not None:
            fields["source.ip"] = ip
            if port is not None:
                fields["source.port"] = port
            break
    agent = fields.get("UserAgent")
    set_absent(fields, "user_agent.original", agent if type(agent) is str else record.get("ClientInfoString"))

    if alert:
        source = M365_ALERT
    elif workload == "Exchange":
        source = M365_EXCHANGE
    else:
        source = M365_AUDIT
    return Parsed(fields, source, moment)


def _categorize(fields: dict[str, Any], operation: str, workload: str | None, alert: bool) -> None:
    if alert:
        fields["event.category"] = ["intrusion_detection"]
        fields["event.type"] = ["info"]
    elif operation in _LOGINS:
        fields["event.category"] = ["authentication"]
        fields["event.type"] = ["start"]
        if fields["event.outcome"] == "unknown":
            fields["event.outcome"] = _LOGINS[operation]
    elif workload == "AzureActiveDirectory":
        fields["event.category"] = ["iam"]
        lowered = operation.lower()
        if lowered.startswith("add"):
            kind = "creation"
        elif lowered.startswith(("delete", "remove")):
            kind = "deletion"
        else:
            kind = "change"
        fields["event.type"] = [kind, "user"] if " user" in lowered else [kind]
    elif workload in ("SharePoint", "OneDrive") and operation in _FILE_TYPES:
        fields["event.category"] = ["file"]
        fields["event.type"] = [_FILE_TYPES[operation]]
    elif workload == "Exchange" and "-" in operation and operation[:1].isupper():
        fields["event.category"] = ["configuration"]
        verb = operation.partition("-")[0]
        fields["event.type"] = ["creation" if verb in ("New", "Add", "Enable") else
                                "deletion" if verb in ("Remove", "Disable") else "change"]


class M365AuditCsvParser(TextParser):
    """The Purview (Compliance center) audit search CSV export: the record is the AuditData column."""

    name = "m365_audit_csv"
    family = Family.CLOUD
    description = "Microsoft Purview audit log search CSV export (RecordId,CreationDate,...,AuditData)"
    logsources = (M365_AUDIT, M365_ALERT, M365_EXCHANGE)
    priority = 20
    comment_prefix = None

    def sniff(self, lines: list[str], context: ParseContext) -> bool:
        return bool(lines) and _header(lines[0]) is not None

    def parse(self, lines: Iterable[tuple[int, str]], context: ParseContext) -> Iterator[Parsed | BadRecord]:
        columns: list[str] | None = None
        for number, line in lines:
            header = _header(line)
            if header is not None:
                columns = header
                continue
            if columns is None:
                yield context.bad(number, "line before the CSV header", line)
                continue
            try:
                row = next(csv.reader([line]))
            except (csv.Error, StopIteration) as error:
                yield context.bad(number, f"not a CSV line: {error}", line)
                continue
            if len(row) != len(columns):
                yield context.bad(number, f"{len(row)} columns, the header has {len(columns)}", line)
                continue
            values = dict(zip(columns, row, strict=True))
            try:
                parsed = audit_event(_decode_audit_data(values.pop("AuditData")), values)
            except Malformed as error:
                yield context.bad(number, str(error), line)
                continue
            parsed.position = str(number)
            parsed.raw = line
            yield parsed


def _header(line: str) -> list[str] | None:
    text = line.lstrip("\ufeff").strip()
    if "AuditData" not in text or "CreationDate" not in text:
        return None
    try:
        columns = [column.strip() for column in next(csv.reader([text]))]
    except (csv.Error, StopIteration):
        return None
    return columns if _CSV_COLUMNS.issubset(columns) and len(set(columns)) == len(columns) else None


PARSERS = (M365AuditParser(), M365AuditCsvParser())
