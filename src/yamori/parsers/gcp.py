"""Google Cloud: Cloud Audit Logs, and Google Workspace admin/login audit (Cloud Logging and the Reports API).

Shapes read (JSON; one entry per line, in an array as ``gcloud logging read --format=json`` writes, or
pretty-printed):

* **Cloud Audit Logs** ``LogEntry`` objects whose ``protoPayload`` is an ``AuditLog``
  (``@type: type.googleapis.com/google.cloud.audit.AuditLog``): ``methodName``, ``serviceName``,
  ``resourceName``, ``authenticationInfo.principalEmail``, ``requestMetadata.callerIp`` /
  ``callerSuppliedUserAgent``, ``status.code``/``message``, ``authorizationInfo[]``; ``logName`` tells the
  log (``.../logs/cloudaudit.googleapis.com%2Factivity``, ``data_access``, ``system_event``, ``policy``);
  ``resource.type``/``labels``, ``insertId``, ``timestamp``, ``severity``.
* **Google Workspace audit logs in Cloud Logging**: the same ``LogEntry`` with ``serviceName``
  ``admin.googleapis.com`` / ``login.googleapis.com`` (...) and the Workspace activity under
  ``protoPayload.metadata`` (``event[].eventName``, ``eventType``, ``parameter[]``).
* **Admin SDK Reports API** activities (``kind: admin#reports#activity``: ``id.time``, ``id.applicationName``,
  ``id.uniqueQualifier``, ``actor.email``, ``ipAddress``, ``events[].name``/``type``/``parameters[]``), single
  or as a whole ``{"kind": "admin#reports#activities", "items": [...]}`` answer. One event per element of
  ``events`` (position ``<object>[/<item>]/<event index>``; an item with an unreadable event is reported
  whole, with the other unreadable items, after the readable ones).

Fields: the entry's own fields flattened with dots (``protoPayload.methodName``,
``protoPayload.authorizationInfo.permission``: one multi-valued field per leaf of a list of objects), plus the
names SigmaHQ's rules use:

* ``gcp.audit``: Elastic's names ``gcp.audit.method_name``, ``gcp.audit.service_name``,
  ``gcp.audit.resource_name``, ``gcp.audit.type``, ``gcp.audit.status.code``,
  ``gcp.audit.authentication_info.principal_email``, ``gcp.audit.request_metadata.caller_ip``; and under
  ``data.protoPayload.``: ``methodName``, ``serviceName``, ``resourceName``, ``authorizationInfo.permission``,
  ``authorizationInfo.granted``, ``resource.type`` (the entry's ``resource.type``) and ``logName`` (the log id,
  decoded: ``cloudaudit.googleapis.com/activity``);
* Workspace (both shapes): ``eventService`` (``admin.googleapis.com``), ``eventName`` (``CHANGE_APPLICATION_SETTING``;
  a list when one entry holds several), ``eventType``, each parameter under its name in lower case
  (``SETTING_NAME`` -> ``setting_name``, ``NEW_VALUE`` -> ``new_value``; unless a field of that name exists);
  ``protoPayload.Servicename`` (the spelling of one SigmaHQ login rule); for Reports API activities also
  ``protoPayload.serviceName`` and ``protoPayload.metadata.event.eventName`` (the Cloud Logging names, which
  SigmaHQ's login rules use). ``eventService`` of a Reports API activity: ``admin.googleapis.com`` /
  ``login.googleapis.com`` for those two applications, else the application name.

ECS: ``cloud.provider`` (``gcp``), ``cloud.project.id`` (``resource.labels.project_id`` or the ``projects/``
log name), ``cloud.account.id`` (organization of ``organizations/`` log names), ``cloud.region``
(``resource.labels.location``/``region``), ``cloud.availability_zone``, ``event.action`` (``methodName``;
Workspace: the event name), ``event.provider`` (``serviceName``), ``event.id`` (``insertId``),
``event.outcome`` (``failure`` when ``status.code`` is not 0), ``event.category``/``event.type`` (``iam`` for
IAM services and ``SetIamPolicy``, ``authentication`` for Workspace logins, else ``configuration``;
``creation``/``deletion``/``change``, ``access`` for data-access logs), ``user.name``/``user.email``
(``principalEmail``), ``source.ip``, ``user_agent.original``, ``error.code``/``error.message``,
``organization.id`` (Workspace customer), ``@timestamp`` (``timestamp``, else ``receiveTimestamp``; Reports
API: ``id.time``). ``event.dataset``: ``gcp.audit``, ``google_workspace.<application>``.

Logsources: ``product: gcp`` with ``service: gcp.audit`` (every audit entry),
``google_workspace.admin`` / ``google_workspace.login`` (and the other Workspace applications listed in
:data:`WORKSPACE_APPLICATIONS`). Malformed: no readable time, a Reports activity without ``events``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from yamori.events import LogSource
from yamori.parsers._cloud_common import (
    as_dict,
    as_list,
    as_str,
    expand,
    ip_address,
    kind_of,
    set_absent,
    timestamp,
)
from yamori.parsers.base import Family, Malformed, ParseContext, Parsed, RecordParser, logsource
from yamori.parsers.generic import flatten_into, flatten_json

__all__ = ["GCP_AUDIT", "WORKSPACE_APPLICATIONS", "GcpAuditParser", "WorkspaceReportsParser"]

AUDIT_LOG_TYPE = "type.googleapis.com/google.cloud.audit.AuditLog"
GCP_AUDIT = logsource("gcp", None, "gcp.audit")

WORKSPACE_APPLICATIONS = ("admin", "login", "drive", "token", "saml", "groups", "groups_enterprise", "calendar",
                          "chat", "meet", "mobile", "user_accounts", "rules", "context_aware_access", "chrome",
                          "access_transparency", "data_studio", "keep", "gcp")
"""Reports API application names that get the logsource service ``google_workspace.<name>``."""

_WORKSPACE = {name: logsource("gcp", None, f"google_workspace.{name}") for name in WORKSPACE_APPLICATIONS}
_WORKSPACE_IN_LOGGING = {
    name: LogSource(product=("gcp",), service=("gcp.audit", f"google_workspace.{name}"))
    for name in WORKSPACE_APPLICATIONS
}
_WORKSPACE_OTHER = logsource("gcp")
_IAM_SERVICES = frozenset({"iam.googleapis.com", "iamcredentials.googleapis.com", "sts.googleapis.com"})
_CREATION = ("create", "insert", "add", "undelete", "enable")
_DELETION = ("delete", "remove", "disable")
_READS = ("get", "list", "aggregatedlist", "search", "read", "testiampermissions")


def is_audit_entry(record: Mapping[str, Any]) -> bool:
    payload = record.get("protoPayload")
    if type(payload) is not dict:
        return False
    kind = payload.get("@type")
    if type(kind) is str:
        return kind.endswith("google.cloud.audit.AuditLog")
    log_name = record.get("logName")
    return type(log_name) is str and "cloudaudit.googleapis.com" in log_name and "methodName" in payload


@lru_cache(maxsize=1024)
def _log_parts(log_name: str) -> tuple[str | None, str | None, str]:
    """(project id, organization id, decoded log id) of a ``logName``."""
    parent, _, log_id = log_name.partition("/logs/")
    project = organization = None
    kind, _, name = parent.partition("/")
    if kind == "projects" and name:
        project = name
    elif kind == "organizations" and name:
        organization = name
    return project, organization, unquote(log_id)


def _method_type(method: str, log_id: str) -> str:
    if log_id.endswith("data_access"):
        return "access"
    verb = method.rsplit(".", 1)[-1].lower()
    if verb.startswith(_CREATION):
        return "creation"
    if verb.startswith(_DELETION):
        return "deletion"
    if verb.startswith(_READS):
        return "access"
    return "change"


def _parameter_value(parameter: Mapping[str, Any]) -> Any:
    for key in ("value", "boolValue", "intValue", "multiValue", "multiStrValue", "multiIntValue", "label"):
        value = parameter.get(key)
        if value is not None:
            return value
    return None


def _add_parameters(fields: dict[str, Any], parameters: Any) -> None:
    """Each Workspace event parameter under its name in lower case (``NEW_VALUE`` -> ``new_value``)."""
    for parameter in as_list(parameters):
        if type(parameter) is not dict:
            continue
        name = parameter.get("name")
        if type(name) is not str or not name:
            continue
        value = _parameter_value(parameter)
        if type(value) is list:
            value = [item for item in value if isinstance(item, str | int | float | bool)]
            if value and name.lower() not in fields:
                fields[name.lower()] = value
        else:
            set_absent(fields, name.lower(), value)


class GcpAuditParser(RecordParser):
    """Cloud Audit Logs entries (also Google Workspace audit logs routed to Cloud Logging)."""

    name = "gcp_audit"
    family = Family.CLOUD
    description = "Google Cloud Audit Logs LogEntry objects (protoPayload AuditLog), also Workspace audit logs"
    logsources = (GCP_AUDIT, *_WORKSPACE_IN_LOGGING.values())
    priority = 25

    def accepts(self, record: Mapping[str, Any], context: ParseContext) -> bool:
        return is_audit_entry(record)

    def parse(self, record: dict[str, Any], context: ParseContext) -> Iterator[Parsed]:
        yield _audit_entry(record)


def _audit_entry(entry: dict[str, Any]) -> Parsed:
    moment = None
    for name in ("timestamp", "receiveTimestamp"):
        value = entry.get(name)
        if value is not None:
            moment = timestamp(value)
            if moment is None:
                raise Malformed(f"{name} {str(value)[:64]!r} is not a time")
            break
    if moment is None:
        raise Malformed("no timestamp")
    payload = as_dict(entry.get("protoPayload"))
    fields = flatten_json(entry)
    fields["cloud.provider"] = "gcp"
    fields["event.kind"] = "event"
    fields["event.dataset"] = "gcp.audit"

    method = as_str(payload.get("methodName"))
    service = as_str(payload.get("serviceName"))
    resource_name = as_str(payload.get("resourceName"))
    authentication = as_dict(payload.get("authenticationInfo"))
    principal = as_str(authentication.get("principalEmail"))
    request = as_dict(payload.get("requestMetadata"))
    status = as_dict(payload.get("status"))
    code = status.get("code")
    code = code if type(code) is int else (int(code) if type(code) is str and code.isdigit() else 0)
    resource = as_dict(entry.get("resource"))
    labels = as_dict(resource.get("labels"))
    log_name = as_str(entry.get("logName"))
    project, organization, log_id = _log_parts(log_name) if log_name else (None, None, "")

    set_absent(fields, "gcp.audit.method_name", method)
    set_absent(fields, "gcp.audit.service_name", service)
    set_absent(fields, "gcp.audit.resource_name", resource_name)
    set_absent(fields, "gcp.audit.type", payload.get("@type"))
    set_absent(fields, "gcp.audit.status.code", code)
    set_absent(fields, "gcp.audit.authentication_info.principal_email", principal)
    set_absent(fields, "gcp.audit.request_metadata.caller_ip", request.get("callerIp"))
    set_absent(fields, "data.protoPayload.methodName", method)
    set_absent(fields, "data.protoPayload.serviceName", service)
    set_absent(fields, "data.protoPayload.resourceName", resource_name)
    for leaf in ("permission", "granted"):
        value = fields.get(f"protoPayload.authorizationInfo.{leaf}")
        if value is not None:
            fields.setdefault(f"data.protoPayload.authorizationInfo.{leaf}", value)
    set_absent(fields, "data.protoPayload.resource.type", resource.get("type"))
    set_absent(fields, "data.protoPayload.logName", log_id or None)

    if method is not None:
        fields["event.action"] = method
        if service in _IAM_SERVICES or "setiampolicy" in method.lower():
            fields["event.category"] = ["iam"]
        elif service == "login.googleapis.com":
            fields["event.category"] = ["authentication"]
        else:
            fields["event.category"] = ["configuration"]
        fields["event.type"] = [_method_type(method, log_id)]
    set_absent(fields, "event.provider", service)
    set_absent(fields, "event.id", as_str(entry.get("insertId")))
    fields["event.outcome"] = "success" if code == 0 else "failure"
    if code != 0:
        fields["error.code"] = str(code)
        set_absent(fields, "error.message", status.get("message"))
    project = as_str(labels.get("project_id")) or project
    set_absent(fields, "cloud.project.id", project)
    set_absent(fields, "cloud.account.id", organization)
    set_absent(fields, "cloud.region", as_str(labels.get("location")) or as_str(labels.get("region")))
    set_absent(fields, "cloud.availability_zone", labels.get("zone"))
    if principal is not None:
        fields["user.name"] = principal
        if "@" in principal:
            fields["user.email"] = principal
            fields["user.domain"] = principal.rpartition("@")[2]
    ip = ip_address(request.get("callerIp"))
    if ip is not None:
        fields["source.ip"] = ip
    set_absent(fields, "user_agent.original", request.get("callerSuppliedUserAgent"))

    source: LogSource = GCP_AUDIT
    metadata = as_dict(payload.get("metadata"))
    events = metadata.get("event")
    if service is not None and service.endswith(".googleapis.com") and events is not None:
        application = service.partition(".")[0]
        source = _WORKSPACE_IN_LOGGING.get(application, GCP_AUDIT)
        fields["event.dataset"] = f"google_workspace.{application}"
        set_absent(fields, "eventService", service)
        set_absent(fields, "protoPayload.Servicename", service)
        items = [item for item in (events if type(events) is list else [events]) if type(item) is dict]
        names = [item["eventName"] for item in items if type(item.get("eventName")) is str]
        types = [item["eventType"] for item in items if type(item.get("eventType")) is str]
        if names:
            fields.setdefault("eventName", names[0] if len(names) == 1 else names)
            fields["event.action"] = names[0]
        if types:
            fields.setdefault("eventType", types[0] if len(types) == 1 else types)
        for item in items:
            _add_parameters(fields, item.get("parameter"))
    return Parsed(fields, source, moment)


# --------------------------------------------------------------------------------------------- Reports API


def is_reports_activity(record: Mapping[str, Any]) -> bool:
    if record.get("kind") == "admin#reports#activity":
        return True
    identity = record.get("id")
    return type(identity) is dict and "applicationName" in identity and type(record.get("events")) is list


class WorkspaceReportsParser(RecordParser):
    """Google Workspace activities of the Admin SDK Reports API (admin, login and other applications)."""

    name = "google_workspace"
    family = Family.CLOUD
    description = "Google Workspace Admin SDK Reports API activities (admin#reports#activity, also whole answers)"
    logsources = (*_WORKSPACE.values(), _WORKSPACE_OTHER)
    priority = 25

    def accepts(self, record: Mapping[str, Any], context: ParseContext) -> bool:
        if is_reports_activity(record):
            return True
        return record.get("kind") == "admin#reports#activities" and type(record.get("items")) is list

    def parse(self, record: dict[str, Any], context: ParseContext) -> Iterator[Parsed]:
        if is_reports_activity(record):
            yield from _activity_events(record)
        else:
            yield from expand(record.get("items"), "items", _activity_list)


def _activity_list(item: dict[str, Any]) -> list[Parsed]:
    """The events of one activity of a Reports API answer (positions given by :func:`expand`)."""
    if not is_reports_activity(item):
        raise Malformed("not a Reports API activity")
    events = list(_activity_events(item))
    for parsed in events:
        parsed.position = None
    return events


def _activity_events(activity: dict[str, Any]) -> Iterator[Parsed]:
    events = activity.get("events")
    if type(events) is not list or not events:
        raise Malformed("no events" if events is None else "events is empty" if events == [] else
                        f"events is {kind_of(events)}")
    identity = as_dict(activity.get("id"))
    moment = timestamp(identity.get("time"))
    if moment is None:
        raise Malformed("no readable id.time")
    rest = {key: value for key, value in activity.items() if key != "events"}
    base = flatten_json(rest)
    application = as_str(identity.get("applicationName")) or ""
    source = _WORKSPACE.get(application, _WORKSPACE_OTHER)

    def build(event: dict[str, Any]) -> Parsed:
        fields = dict(base)
        flatten_into(event, "events", fields)
        name = as_str(event.get("name"))
        service = f"{application}.googleapis.com" if application in ("admin", "login") else application or None
        fields["cloud.provider"] = "gcp"
        fields["event.kind"] = "event"
        fields["event.dataset"] = f"google_workspace.{application or 'unknown'}"
        set_absent(fields, "eventService", service)
        set_absent(fields, "eventName", name)
        set_absent(fields, "eventType", event.get("type"))
        set_absent(fields, "protoPayload.serviceName", service)
        set_absent(fields, "protoPayload.Servicename", service)
        set_absent(fields, "protoPayload.metadata.event.eventName", name)
        _add_parameters(fields, event.get("parameters"))
        set_absent(fields, "event.action", name)
        set_absent(fields, "event.provider", application or None)
        set_absent(fields, "event.id", as_str(identity.get("uniqueQualifier")))
        set_absent(fields, "organization.id", identity.get("customerId"))
        if application == "login":
            fields["event.category"] = ["authentication"]
            if name in ("login_success", "login_failure"):
                fields["event.type"] = ["start"]
                fields["event.outcome"] = "success" if name == "login_success" else "failure"
            else:
                fields["event.type"] = ["info"]
        elif application == "admin":
            event_type = str(event.get("type") or "")
            fields["event.category"] = ["iam"] if event_type in (
                "USER_SETTINGS", "GROUP_SETTINGS", "DELEGATED_ADMIN_SETTINGS") else ["configuration"]
            fields["event.type"] = ["change"]
        actor = as_dict(activity.get("actor"))
        email = as_str(actor.get("email"))
        if email is not None:
            fields["user.name"] = email
            fields["user.email"] = email
            fields["user.domain"] = email.rpartition("@")[2]
        set_absent(fields, "user.id", actor.get("profileId"))
        ip = ip_address(activity.get("ipAddress"))
        if ip is not None:
            fields["source.ip"] = ip
        return Parsed(fields, source, moment, raw=activity)

    yield from expand(events, "events", build)


PARSERS = (GcpAuditParser(), WorkspaceReportsParser())
