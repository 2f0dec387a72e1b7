"""Microsoft Azure and Entra ID (Azure AD): the Activity log, Entra sign-in and audit logs, Identity Protection
risk detections, Privileged Identity Management (PIM) alerts.

Shapes read (JSON; one record per line, in an array, or pretty-printed), each as the source writes it:

* **Diagnostic settings** (Event Hub, storage account): ``{"records": [...]}``, one event per record
  (position ``<object>/<index>``; unreadable records reported together in one BadRecord after the others), or
  single records. The ``category`` tells the log: ``Administrative``, ``Security``, ``ServiceHealth``,
  ``Alert``, ``Recommendation``, ``Policy``, ``Autoscale``, ``ResourceHealth`` (Activity log: top-level
  ``operationName``, ``resultType``, ``callerIpAddress``, ``identity.claims``, ``properties``, ``resourceId``);
  ``SignInLogs``, ``NonInteractiveUserSignInLogs``, ``ServicePrincipalSignInLogs``,
  ``ManagedIdentitySignInLogs``, ``ADFSSignInLogs`` (sign-ins, the Graph sign-in under ``properties``);
  ``AuditLogs`` (the Graph directory audit under ``properties``); ``UserRiskEvents``,
  ``ServicePrincipalRiskEvents`` (risk detections). Records of other categories inside a ``records`` file
  (resource logs such as Key Vault ``AuditEvent``) become events of ``product: azure`` without a service.
* **REST / Graph API** answers: Activity log events (``operationName.value``, ``category.value``,
  ``status.value``, ``caller``, ``eventTimestamp``, ``resourceId``; ``az monitor activity-log list`` output),
  Graph ``signIns`` (``userPrincipalName``, ``status.errorCode``, ``ipAddress``, ``appDisplayName``,
  ``conditionalAccessStatus``, ``authenticationRequirement``, ``riskLevelDuringSignIn``), ``directoryAudits``
  (``activityDisplayName``, ``initiatedBy``, ``targetResources``, ``result``), ``riskDetections``
  (``riskEventType``) and PIM ``roleManagementAlerts/alerts`` (``alertDefinitionId``, ``lastScannedDateTime``;
  one event per incident of ``alertIncidents`` when expanded, else one for the alert); single objects, or a
  whole ``{"value": [...]}`` page (one event per element, ``<element>/<incident>`` for PIM incidents).
* **Log Analytics rows** (query results exported as JSON; ``Type`` ``AzureActivity``, ``SigninLogs``,
  ``AADNonInteractiveUserSignInLogs``, ``AADServicePrincipalSignInLogs``, ``AADManagedIdentitySignInLogs``,
  ``ADFSSignInLogs``, ``AuditLogs``, ``AADUserRiskEvents``, ``AADServicePrincipalRiskEvents``; rows without
  ``Type`` are recognised by their columns). Dynamic columns the query API returns as JSON text
  (``DeviceDetail``, ``Status``, ``TargetResources``, ``InitiatedBy``, ``Properties_d``...) are decoded.

Fields: the record's own fields flattened with dots (``properties.userPrincipalName``,
``operationName.value``...), plus the names SigmaHQ's ``azure`` rules use where the record spells them
differently. They are the columns of the Log Analytics tables, which the rules are written against:

* activitylogs: ``operationName`` (the operation as a string, also for the REST shape), ``OperationNameValue``,
  ``CategoryValue``, ``ActivityStatusValue`` (``Start``, ``Success``, ``Failure``...: ``resultType``,
  ``status.value``), ``ResourceProviderValue``, ``ResourceId``, ``category``, ``properties.message``;
* signinlogs: ``ResultType``/``resultType`` (the error code as text, ``0`` for success),
  ``ResultDescription`` (and ``Resultdescription``), ``Status`` (``Success``/``Failure`` plus the failure reason
  and additional details, as the portal's status columns show them), ``AuthenticationRequirement``,
  ``ConditionalAccessStatus``/``conditionalAccessStatus``, ``RiskState``, ``RiskLevelDuringSignIn``,
  ``ResourceDisplayName``, ``AppDisplayName``, ``ClientAppUsed``/``ClientApp``, ``UserPrincipalName``,
  ``UserAgent``/``userAgent``, ``IPAddress``/``callerIpAddress``, ``Location``/``location`` (country),
  ``DeviceDetail.<name>`` (and ``DeviceDetail.trusttype``), ``NetworkLocationDetails`` (JSON text, ``[]`` when
  none), ``homeTenantId``, ``resourceTenantId``, ``properties.appId``, ``properties.authenticationRequirement``,
  ``properties.deviceDetail.deviceId``;
* auditlogs: ``OperationName``/``operationName``/``ActivityDisplayName``/``properties.message``/
  ``activityType`` (the activity, e.g. ``Add member to role``), ``Category`` (the audit category,
  ``RoleManagement``), ``LoggedByService``, ``Result``/``properties.result``, ``Status`` (the result, plus the
  result reason when there is one), ``failure_status_reason``, ``TargetResources.*`` (camelCase leaves, e.g.
  ``TargetResources.modifiedProperties.newValue``, and ``TargetResources.ModifiedProperties.DisplayName`` /
  ``NewValue`` / ``OldValue``), ``targetResources.*``, ``additionalDetails.<key>``, consent properties
  (``ConsentContext.IsAdminConsent``: the new value without its JSON quotes); and as JSON text, the way a
  Log Analytics string comparison sees a dynamic column: ``TargetResources``,
  ``TargetResources.modifiedProperties``, ``InitiatedBy``, ``properties.targetResources``,
  ``properties.initiatedBy``;
* riskdetection: ``riskEventType`` (also from the ``RiskEventType`` column), ``riskLevel``, ``riskState``;
* pim: the alert's fields, the incident's under ``alertIncidents.*``, and ``riskEventType``: the incident's
  type (``@odata.type`` ``#microsoft.graph.staleSignInAlertIncident`` -> ``staleSignInAlertIncident``), the
  name SigmaHQ's ``azure/pim`` rules test.

ECS: ``cloud.provider`` (``azure``), ``cloud.account.id`` (the subscription for the Activity log, the tenant
for Entra logs), ``cloud.region`` (Activity log ``location`` other than ``global``), ``event.action``,
``event.outcome``, ``event.category``/``event.type`` (``configuration`` for resource operations, ``iam`` for
role assignments and directory changes, ``authentication`` for sign-ins, ``intrusion_detection`` with
``event.kind: alert`` for risk detections, ``iam`` alerts for PIM), ``event.id``, ``event.provider``,
``user.name`` (UPN, caller, service principal, PIM incident assignee), ``user.id``, ``user.full_name``,
``user.domain``, ``user.target.name``, ``source.ip``, ``source.geo.*``, ``user_agent.original``,
``error.code``/``error.message`` (failed sign-ins), ``@timestamp`` (``time``, ``eventTimestamp``,
``createdDateTime``, ``activityDateTime``, ``detectedDateTime``, ``lastScannedDateTime`` or
``TimeGenerated``). ``event.dataset``: ``azure.activitylogs``, ``azure.signinlogs``, ``azure.auditlogs``,
``azure.identity_protection``, ``azure.pim``, ``azure.resourcelogs``.

Logsources: ``product: azure`` with ``service: activitylogs``, ``signinlogs``, ``auditlogs``,
``riskdetection``, ``pim``. Malformed: a record without a readable time, a ``records``/``value`` element that
is not an object or not of these logs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from yamori.parsers._cloud_common import (
    SCALARS,
    as_dict,
    as_list,
    as_str,
    expand,
    ip_address,
    json_text,
    kind_of,
    outcome_of,
    set_absent,
    timestamp,
)
from yamori.parsers.base import Family, Malformed, ParseContext, Parsed, RecordParser, logsource
from yamori.parsers.generic import flatten_into, flatten_json

__all__ = ["ACTIVITY", "AUDIT", "PIM", "RESOURCE", "RISK", "SIGNIN", "AzureParser", "classify"]

ACTIVITY = logsource("azure", None, "activitylogs")
SIGNIN = logsource("azure", None, "signinlogs")
AUDIT = logsource("azure", None, "auditlogs")
RISK = logsource("azure", None, "riskdetection")
PIM = logsource("azure", None, "pim")
RESOURCE = logsource("azure")

_ACTIVITY, _SIGNIN, _AUDIT, _RISK, _PIM = "activity", "signin", "audit", "risk", "pim"
_DIAG, _API, _TABLE = "diagnostic", "api", "table"

_DIAGNOSTIC_CATEGORIES = {
    **dict.fromkeys(("administrative", "security", "servicehealth", "alert", "recommendation", "policy",
                     "autoscale", "resourcehealth"), _ACTIVITY),
    **dict.fromkeys(("signinlogs", "noninteractiveusersigninlogs", "serviceprincipalsigninlogs",
                     "managedidentitysigninlogs", "adfssigninlogs"), _SIGNIN),
    "auditlogs": _AUDIT,
    "userriskevents": _RISK,
    "serviceprincipalriskevents": _RISK,
}
_TABLES = {
    "AzureActivity": _ACTIVITY,
    **dict.fromkeys(("SigninLogs", "AADNonInteractiveUserSignInLogs", "AADServicePrincipalSignInLogs",
                     "AADManagedIdentitySignInLogs", "ADFSSignInLogs"), _SIGNIN),
    "AuditLogs": _AUDIT,
    "AADUserRiskEvents": _RISK,
    "AADServicePrincipalRiskEvents": _RISK,
}
_SIGNIN_TABLE_CATEGORIES = frozenset(_key for _key, _kind in _DIAGNOSTIC_CATEGORIES.items() if _kind == _SIGNIN)

# Log Analytics dynamic columns (the query API returns them as JSON text)
_DYNAMIC_COLUMNS = frozenset({
    "DeviceDetail", "Status", "LocationDetails", "MfaDetail", "ConditionalAccessPolicies", "AuthenticationDetails",
    "AuthenticationProcessingDetails", "TargetResources", "InitiatedBy", "AdditionalDetails", "Properties_d",
    "Claims_d", "Authorization_d", "Location",
})
# Log Analytics column -> the Graph property name (others: first letter lower-cased)
_COLUMN_NAMES = {
    "IPAddress": "ipAddress", "IpAddress": "ipAddress", "LocationDetails": "location", "Id": "id",
    "AADTenantId": "tenantId", "TenantId": "workspaceId", "AADOperationType": "operationType",
}

_SIGNIN_ALIASES = (
    ("AuthenticationRequirement", "authenticationRequirement"),
    ("ConditionalAccessStatus", "conditionalAccessStatus"),
    ("conditionalAccessStatus", "conditionalAccessStatus"),
    ("RiskState", "riskState"),
    ("RiskLevelDuringSignIn", "riskLevelDuringSignIn"),
    ("RiskLevelAggregated", "riskLevelAggregated"),
    ("RiskDetail", "riskDetail"),
    ("ResourceDisplayName", "resourceDisplayName"),
    ("AppDisplayName", "appDisplayName"),
    ("AppId", "appId"),
    ("ClientAppUsed", "clientAppUsed"),
    ("ClientApp", "clientAppUsed"),
    ("UserPrincipalName", "userPrincipalName"),
    ("UserDisplayName", "userDisplayName"),
    ("UserId", "userId"),
    ("UserType", "userType"),
    ("UserAgent", "userAgent"),
    ("userAgent", "userAgent"),
    ("IsInteractive", "isInteractive"),
    ("AuthenticationProtocol", "authenticationProtocol"),
    ("ServicePrincipalName", "servicePrincipalName"),
    ("ServicePrincipalId", "servicePrincipalId"),
    ("homeTenantId", "homeTenantId"),
    ("resourceTenantId", "resourceTenantId"),
    ("HomeTenantId", "homeTenantId"),
    ("ResourceTenantId", "resourceTenantId"),
    ("properties.appId", "appId"),
    ("properties.authenticationRequirement", "authenticationRequirement"),
)
_RISK_ALIASES = (
    ("riskEventType", "riskEventType"),
    ("riskLevel", "riskLevel"),
    ("riskState", "riskState"),
    ("riskDetail", "riskDetail"),
    ("detectionTimingType", "detectionTimingType"),
    ("userPrincipalName", "userPrincipalName"),
    ("ipAddress", "ipAddress"),
)
_OPERATION_TYPES = {"add": "creation", "delete": "deletion", "update": "change", "assign": "change",
                    "unassign": "change"}
_TARGET_TYPES = {"user": "user", "group": "group"}

_SUBSCRIPTION = re.compile(r"/subscriptions/([0-9A-Fa-f-]{36})", re.IGNORECASE)
_UPN_CLAIMS = ("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn", "upn", "unique_name",
               "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name", "name")
_OID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def classify(record: Mapping[str, Any]) -> tuple[str, str] | None:
    """(log, shape) of one Azure record, or None: log is activity/signin/audit/risk, shape diagnostic/api/table."""
    table = record.get("Type")
    if type(table) is str and table in _TABLES:
        return _TABLES[table], _TABLE
    if "activityDateTime" in record and "activityDisplayName" in record:
        return _AUDIT, _API
    if "riskEventType" in record and ("detectedDateTime" in record or "activityDateTime" in record):
        return _RISK, _API
    if "alertDefinitionId" in record and ("lastScannedDateTime" in record or "lastModifiedDateTime" in record):
        return _PIM, _API
    category = record.get("category")
    if type(category) is str and ("time" in record or "operationName" in record):
        kind = _DIAGNOSTIC_CATEGORIES.get(category.lower())
        if kind is not None:
            return kind, _DIAG
    if "eventTimestamp" in record and ("operationName" in record or "eventDataId" in record):
        return _ACTIVITY, _API
    if "createdDateTime" in record and ("status" in record or "appId" in record) and (
            "userPrincipalName" in record or "ipAddress" in record or "servicePrincipalId" in record):
        return _SIGNIN, _API
    if "TimeGenerated" in record:
        if "OperationNameValue" in record:
            return _ACTIVITY, _TABLE
        if "ActivityDisplayName" in record and "LoggedByService" in record:
            return _AUDIT, _TABLE
        if "RiskEventType" in record:
            return _RISK, _TABLE
        table_category = record.get("Category")
        if type(table_category) is str and table_category.lower() in _SIGNIN_TABLE_CATEGORIES:
            return _SIGNIN, _TABLE
    return None


def _is_resource_log(record: Mapping[str, Any]) -> bool:
    """Another resource log of a diagnostic-settings stream (Key Vault AuditEvent, NSG events...)."""
    return (type(record.get("category")) is str and "time" in record
            and ("resourceId" in record or "operationName" in record))


def _decode_columns(record: dict[str, Any]) -> dict[str, Any]:
    """A Log Analytics row with its dynamic columns decoded from JSON text."""
    decoded = None
    for key in _DYNAMIC_COLUMNS.intersection(record):
        value = record[key]
        if type(value) is str and value[:1] in ("{", "["):
            try:
                parsed = orjson.loads(value)
            except orjson.JSONDecodeError:
                continue
            if decoded is None:
                decoded = dict(record)
            decoded[key] = parsed
    return record if decoded is None else decoded


def _table_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """A Log Analytics row under the Graph property names (``UserPrincipalName`` -> ``userPrincipalName``)."""
    view: dict[str, Any] = {}
    for key, value in row.items():
        if key == "Location" and type(value) is str:
            view["countryOrRegion"] = value
            continue
        view[_COLUMN_NAMES.get(key) or _lower_first(key)] = value
    return view


def _properties(record: Mapping[str, Any]) -> dict[str, Any]:
    value = record.get("properties")
    if type(value) is str and value[:1] == "{":
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
    return as_dict(value)


def _time(record: Mapping[str, Any], view: Mapping[str, Any], *names: str) -> str:
    for source in (record, view):
        for name in names:
            value = source.get(name)
            if value is not None:
                moment = timestamp(value)
                if moment is None:
                    raise Malformed(f"{name} {str(value)[:64]!r} is not a time")
                return moment
    raise Malformed("no time (" + ", ".join(names) + ")")


def _geo(fields: dict[str, Any], location: Any) -> None:
    place = as_dict(location)
    set_absent(fields, "source.geo.country_iso_code", place.get("countryOrRegion"))
    set_absent(fields, "source.geo.city_name", place.get("city"))
    set_absent(fields, "source.geo.region_name", place.get("state"))


def _user(fields: dict[str, Any], name: Any, user_id: Any = None, full_name: Any = None) -> None:
    name = as_str(name)
    if name is not None:
        fields["user.name"] = name
        if "@" in name:
            fields["user.domain"] = name.rpartition("@")[2]
    set_absent(fields, "user.id", as_str(user_id))
    set_absent(fields, "user.full_name", as_str(full_name))


class AzureParser(RecordParser):
    """Azure Activity log, Entra ID sign-in and audit logs, Identity Protection risk detections, PIM alerts."""

    name = "azure"
    family = Family.CLOUD
    description = ("Azure Activity log and Entra ID sign-in/audit/risk logs: diagnostic settings "
                   "({\"records\": [...]}), REST/Graph API (also {\"value\": [...]} pages), Log Analytics rows")
    logsources = (ACTIVITY, SIGNIN, AUDIT, RISK, PIM, RESOURCE)
    priority = 25

    def accepts(self, record: Mapping[str, Any], context: ParseContext) -> bool:
        if classify(record) is not None:
            return True
        records = record.get("records")
        if type(records) is list:
            return not records or any(type(item) is dict and (classify(item) is not None or _is_resource_log(item))
                                      for item in records)
        values = record.get("value")
        if type(values) is list and values:
            return any(type(item) is dict and classify(item) is not None for item in values)
        return False

    def parse(self, record: dict[str, Any], context: ParseContext) -> Iterator[Parsed]:
        if classify(record) is not None:
            event = self._event(record)
            if not isinstance(event, list):
                yield event
                return
            for index, parsed in enumerate(event):  # the incidents of a PIM alert
                parsed.position = str(index)
                yield parsed
        elif "records" in record and type(record["records"]) is list:
            yield from expand(record["records"], "records", self._any_record)
        elif "value" in record:
            yield from expand(record.get("value"), "value", self._event)
        else:
            raise Malformed("not an Azure record")

    def _any_record(self, record: dict[str, Any]) -> Parsed | list[Parsed]:
        if classify(record) is None:
            if _is_resource_log(record):
                return _resource_log(record)
            raise Malformed("not an Azure diagnostic record (no category and time)")
        return self._event(record)

    def _event(self, record: dict[str, Any]) -> Parsed | list[Parsed]:
        found = classify(record)
        if found is None:
            raise Malformed("not an Azure Activity, sign-in, audit, risk or PIM alert record")
        kind, shape = found
        if kind == _PIM:
            return _pim_list(record)
        if shape == _TABLE:
            record = _decode_columns(record)
            view = _table_view(record)
        elif shape == _DIAG:
            view = _properties(record)
        else:
            view = record
        if kind == _SIGNIN:
            return _signin(record, view, shape)
        if kind == _AUDIT:
            return _audit(record, view, shape)
        if kind == _RISK:
            return _risk(record, view, shape)
        return _activity(record, view, shape)


def _common(record: dict[str, Any], dataset: str) -> dict[str, Any]:
    fields = flatten_json(record)
    fields["cloud.provider"] = "azure"
    fields["event.kind"] = "event"
    fields["event.dataset"] = dataset
    return fields


# ----------------------------------------------------------------------------------------------- Activity log


def _activity(record: dict[str, Any], view: dict[str, Any], shape: str) -> Parsed:
    fields = _common(record, "azure.activitylogs")
    if shape == _DIAG:
        moment = _time(record, view, "time")
        operation = as_str(record.get("operationName"))
        category = as_str(record.get("category"))
        status = as_str(record.get("resultType"))
        resource_id = as_str(record.get("resourceId"))
        identity = as_dict(record.get("identity"))
        claims = as_dict(identity.get("claims"))
        caller = _claim(claims, _UPN_CLAIMS)
        caller_id = _claim(claims, _OID_CLAIMS) or as_str(
            as_dict(as_dict(identity.get("authorization")).get("evidence")).get("principalId"))
        address = record.get("callerIpAddress") or claims.get("ipaddr")
        event_id = None
        subscription = None
        provider = operation.partition("/")[0] if operation and "/" in operation else None
        region = as_str(record.get("location"))
        message = view.get("message")
    elif shape == _API:
        moment = _time(record, view, "eventTimestamp", "submissionTimestamp")
        operation = _value(record.get("operationName"))
        category = _value(record.get("category"))
        status = _value(record.get("status"))
        resource_id = as_str(record.get("resourceId"))
        claims = as_dict(record.get("claims"))
        caller = as_str(record.get("caller")) or _claim(claims, _UPN_CLAIMS)
        caller_id = _claim(claims, _OID_CLAIMS)
        address = as_dict(record.get("httpRequest")).get("clientIpAddress") or claims.get("ipaddr")
        event_id = as_str(record.get("eventDataId"))
        subscription = as_str(record.get("subscriptionId"))
        provider = _value(record.get("resourceProviderName"))
        region = None
        message = as_dict(record.get("properties")).get("message")
    else:
        moment = _time(record, view, "TimeGenerated", "EventSubmissionTimestamp")
        operation = as_str(record.get("OperationNameValue"))
        category = as_str(record.get("CategoryValue"))
        status = as_str(record.get("ActivityStatusValue"))
        resource_id = as_str(record.get("ResourceId")) or as_str(record.get("_ResourceId"))
        claims = as_dict(record.get("Claims_d"))
        caller = as_str(record.get("Caller")) or _claim(claims, _UPN_CLAIMS)
        caller_id = _claim(claims, _OID_CLAIMS)
        address = record.get("CallerIpAddress")
        event_id = as_str(record.get("EventDataId"))
        subscription = as_str(record.get("SubscriptionId"))
        provider = as_str(record.get("ResourceProviderValue"))
        region = None
        message = as_dict(record.get("Properties_d")).get("message")

    set_absent(fields, "operationName", operation)
    set_absent(fields, "OperationNameValue", operation)
    set_absent(fields, "category", category)
    set_absent(fields, "CategoryValue", category)
    set_absent(fields, "ActivityStatusValue", status)
    set_absent(fields, "ResourceProviderValue", provider)
    set_absent(fields, "ResourceId", resource_id)
    set_absent(fields, "resourceId", resource_id)
    set_absent(fields, "properties.message", message)

    if operation is not None:
        fields["event.action"] = operation
        lowered = operation.lower()
        if "/" in lowered:
            fields["event.category"] = (["iam"] if lowered.startswith("microsoft.authorization/")
                                        else ["configuration"])
            fields["event.type"] = [_operation_type(lowered)]
    fields["event.outcome"] = outcome_of(status)
    set_absent(fields, "event.provider", provider)
    set_absent(fields, "event.id", event_id)
    if subscription is None and resource_id is not None:
        match = _SUBSCRIPTION.search(resource_id)
        subscription = match.group(1).lower() if match else None
    set_absent(fields, "cloud.account.id", subscription)
    if region is not None and region.lower() != "global":
        fields["cloud.region"] = region
    _user(fields, caller, caller_id)
    ip = ip_address(address)
    if ip is not None:
        fields["source.ip"] = ip
    return Parsed(fields, ACTIVITY, moment)


def _value(value: Any) -> str | None:
    """The ``value`` of a REST ``{"value": ..., "localizedValue": ...}`` pair (or a plain string)."""
    if type(value) is dict:
        return as_str(value.get("value"))
    return as_str(value)


def _claim(claims: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = as_str(claims.get(name))
        if value is not None:
            return value
    return None


def _operation_type(operation: str) -> str:
    if operation.endswith("/delete"):
        return "deletion"
    if operation.endswith("/action"):
        return "access"
    if operation.endswith("/read"):
        return "info"
    return "change"


# ------------------------------------------------------------------------------------------------- Sign-ins


def _signin(record: dict[str, Any], view: dict[str, Any], shape: str) -> Parsed:
    moment = _time(record, view, "time", "TimeGenerated", "createdDateTime", "CreatedDateTime")
    fields = _common(record, "azure.signinlogs")
    status = as_dict(view.get("status"))
    code = _error_code(status.get("errorCode"))
    if code is None:
        code = _error_code(record.get("resultType") if shape != _TABLE else record.get("ResultType"))
    reason = as_str(status.get("failureReason"))
    description = as_str(record.get("resultDescription")) or as_str(record.get("ResultDescription")) or reason
    details = as_str(status.get("additionalDetails"))

    for alias, key in _SIGNIN_ALIASES:
        set_absent(fields, alias, view.get(key))
    if code is not None:
        set_absent(fields, "ResultType", str(code))
        set_absent(fields, "resultType", str(code))
    set_absent(fields, "ResultDescription", description)
    set_absent(fields, "Resultdescription", description)
    if "Status" not in fields and code is not None:
        words = ["Success" if code == 0 else "Failure"]
        words.extend(word for word in (reason, details) if word is not None and word not in words)
        fields["Status"] = words if len(words) > 1 else words[0]
    address = view.get("ipAddress") or record.get("callerIpAddress")
    set_absent(fields, "IPAddress", address)
    set_absent(fields, "callerIpAddress", address)
    location = as_dict(view.get("location"))
    country = as_str(location.get("countryOrRegion")) or as_str(view.get("countryOrRegion"))
    set_absent(fields, "Location", country)
    set_absent(fields, "location", country)
    device = dict(as_dict(view.get("deviceDetail")))
    device["trusttype"] = device.get("trustType")
    for key, value in device.items():  # empty strings kept: rules test DeviceDetail.deviceId: ''
        name = f"DeviceDetail.{key}"
        if name not in fields and isinstance(value, SCALARS):
            fields[name] = value
    set_absent(fields, "properties.deviceDetail.deviceId", device.get("deviceId"))
    networks = view.get("networkLocationDetails")
    if type(networks) is list and "NetworkLocationDetails" not in fields:
        fields["NetworkLocationDetails"] = json_text(networks)

    fields["event.category"] = ["authentication"]
    fields["event.type"] = ["start"]
    fields["event.action"] = as_str(record.get("operationName")) or as_str(record.get("OperationName")) or (
        "Sign-in activity")
    if code is not None:
        fields["event.outcome"] = "success" if code == 0 else "failure"
        if code != 0:
            fields["error.code"] = str(code)
            set_absent(fields, "error.message", reason or description)
    else:
        fields["event.outcome"] = "unknown"
    set_absent(fields, "event.id", as_str(view.get("id")))
    set_absent(fields, "cloud.account.id", as_str(record.get("tenantId")) or as_str(view.get("tenantId")))
    principal = as_str(view.get("userPrincipalName"))
    if principal is not None:
        _user(fields, principal, view.get("userId"), view.get("userDisplayName"))
    else:
        _user(fields, view.get("servicePrincipalName") or view.get("appDisplayName"), view.get("servicePrincipalId"))
    ip = ip_address(address)
    if ip is not None:
        fields["source.ip"] = ip
    _geo(fields, location)
    if country is not None:
        set_absent(fields, "source.geo.country_iso_code", country)
    set_absent(fields, "user_agent.original", view.get("userAgent"))
    return Parsed(fields, SIGNIN, moment)


def _error_code(value: Any) -> int | None:
    if type(value) is int:
        return value
    if type(value) is str and value.strip().isdigit():
        return int(value)
    return None


# ------------------------------------------------------------------------------------------------ Audit logs


def _audit(record: dict[str, Any], view: dict[str, Any], shape: str) -> Parsed:
    moment = _time(record, view, "time", "TimeGenerated", "activityDateTime", "ActivityDateTime")
    fields = _common(record, "azure.auditlogs")
    activity = as_str(view.get("activityDisplayName")) or as_str(record.get("operationName")) or as_str(
        record.get("OperationName"))
    category = as_str(view.get("category"))
    result = as_str(view.get("result"))
    reason = as_str(view.get("resultReason"))
    targets = [target for target in as_list(view.get("targetResources")) if type(target) is dict]
    initiated = as_dict(view.get("initiatedBy"))

    for alias in ("OperationName", "operationName", "ActivityDisplayName", "properties.message", "activityType",
                  "ActivityType"):
        set_absent(fields, alias, activity)
    set_absent(fields, "Category", category)
    set_absent(fields, "category", category)
    set_absent(fields, "LoggedByService", view.get("loggedByService"))
    set_absent(fields, "Result", result)
    set_absent(fields, "properties.result", result)
    set_absent(fields, "ResultReason", reason)
    if result is not None and "Status" not in fields:
        fields["Status"] = [result, reason] if reason is not None and reason != result else result
    if reason is not None and outcome_of(result) == "failure":
        set_absent(fields, "failure_status_reason", reason)

    targets_text = json_text(targets)
    for alias in ("TargetResources", "properties.targetResources"):
        if alias not in fields:
            fields[alias] = targets_text
    if initiated:
        initiated_text = json_text(initiated)
        for alias in ("InitiatedBy", "properties.initiatedBy"):
            if alias not in fields:
                fields[alias] = initiated_text
    if targets:  # the Log Analytics names (TargetResources.*) and the Graph ones (targetResources.*)
        flat: dict[str, Any] = {}
        flatten_into(targets, "TargetResources", flat)
        for key, value in flat.items():
            fields.setdefault(key, value)
            if shape != _API:
                fields.setdefault("t" + key[1:], value)
    _modified_properties(fields, targets)
    for detail in as_list(view.get("additionalDetails")):
        if type(detail) is dict and type(detail.get("key")) is str and detail["key"]:
            key = detail["key"]
            set_absent(fields, f"additionalDetails.{key}", detail.get("value"))
            set_absent(fields, f"additionalDetails.{_lower_first(key)}", detail.get("value"))

    fields["event.category"] = ["iam", "configuration"] if category == "Policy" else ["iam"]
    types = [_OPERATION_TYPES.get(str(view.get("operationType") or "").lower(), "info")]
    target_type = _TARGET_TYPES.get(str(targets[0].get("type") or "").lower()) if targets else None
    if target_type is not None:
        types.append(target_type)
    fields["event.type"] = types
    set_absent(fields, "event.action", activity)
    fields["event.outcome"] = outcome_of(result)
    set_absent(fields, "event.provider", view.get("loggedByService"))
    set_absent(fields, "event.id", as_str(view.get("id")))
    set_absent(fields, "cloud.account.id", as_str(record.get("tenantId")) or as_str(view.get("tenantId")))
    user = as_dict(initiated.get("user"))
    app = as_dict(initiated.get("app"))
    if user:
        _user(fields, user.get("userPrincipalName") or user.get("displayName"), user.get("id"),
              user.get("displayName"))
        ip = ip_address(user.get("ipAddress"))
        if ip is not None:
            fields["source.ip"] = ip
    elif app:
        _user(fields, app.get("servicePrincipalName") or app.get("displayName"),
              app.get("servicePrincipalId") or app.get("appId"))
    for target in targets:
        kind = str(target.get("type") or "").lower()
        if kind == "user":
            set_absent(fields, "user.target.name", target.get("userPrincipalName") or target.get("displayName"))
            set_absent(fields, "user.target.id", target.get("id"))
        elif kind == "group":
            set_absent(fields, "group.name", target.get("displayName"))
            set_absent(fields, "group.id", target.get("id"))
    return Parsed(fields, AUDIT, moment)


def _modified_properties(fields: dict[str, Any], targets: list[dict[str, Any]]) -> None:
    """``TargetResources.ModifiedProperties.*`` (capitalised leaves), ``TargetResources.modifiedProperties`` as
    JSON text, and consent properties (``ConsentContext.IsAdminConsent``) with their unquoted new value."""
    modified = [item for target in targets for item in as_list(target.get("modifiedProperties"))
                if type(item) is dict]
    if not modified:
        return
    if "TargetResources.modifiedProperties" not in fields:
        fields["TargetResources.modifiedProperties"] = json_text(modified)
    for leaf, key in (("DisplayName", "displayName"), ("NewValue", "newValue"), ("OldValue", "oldValue")):
        values = [item.get(key) for item in modified if isinstance(item.get(key), str | int | float | bool)]
        if values:
            fields.setdefault(f"TargetResources.ModifiedProperties.{leaf}", values)
    for item in modified:
        name = item.get("displayName")
        if type(name) is str and name.startswith("ConsentContext."):
            value = item.get("newValue")
            if type(value) is str:
                set_absent(fields, name, value.strip().strip('"'))


# ------------------------------------------------------------------------------------------- Risk detections


def _risk(record: dict[str, Any], view: dict[str, Any], shape: str) -> Parsed:
    moment = _time(record, view, "time", "TimeGenerated", "detectedDateTime", "activityDateTime",
                   "DetectedDateTime")
    fields = _common(record, "azure.identity_protection")
    for alias, key in _RISK_ALIASES:
        set_absent(fields, alias, view.get(key))
    event_type = as_str(view.get("riskEventType"))
    if event_type is None:
        raise Malformed(f"riskEventType is {kind_of(view.get('riskEventType'))}")
    fields["event.kind"] = "alert"
    fields["event.category"] = ["intrusion_detection"]
    fields["event.type"] = ["info"]
    fields["event.action"] = event_type
    set_absent(fields, "event.id", as_str(view.get("id")))
    set_absent(fields, "event.provider", view.get("source"))
    set_absent(fields, "cloud.account.id", as_str(record.get("tenantId")) or as_str(view.get("tenantId")))
    principal = as_str(view.get("userPrincipalName"))
    if principal is not None:
        _user(fields, principal, view.get("userId"), view.get("userDisplayName"))
    else:
        _user(fields, view.get("servicePrincipalDisplayName"), view.get("servicePrincipalId"))
    ip = ip_address(view.get("ipAddress"))
    if ip is not None:
        fields["source.ip"] = ip
    _geo(fields, view.get("location"))
    return Parsed(fields, RISK, moment)


# ----------------------------------------------------------------------------------------- Other resource logs


def _resource_log(record: dict[str, Any]) -> Parsed:
    moment = _time(record, {}, "time")
    fields = _common(record, "azure.resourcelogs")
    operation = as_str(record.get("operationName"))
    set_absent(fields, "event.action", operation)
    fields["event.outcome"] = outcome_of(record.get("resultType"))
    resource_id = as_str(record.get("resourceId"))
    if resource_id is not None:
        match = _SUBSCRIPTION.search(resource_id)
        if match:
            fields["cloud.account.id"] = match.group(1).lower()
    ip = ip_address(record.get("callerIpAddress"))
    if ip is not None:
        fields["source.ip"] = ip
    return Parsed(fields, RESOURCE, moment)


# ------------------------------------------------------------------------------------------ PIM alerts


def _pim_list(alert: dict[str, Any]) -> list[Parsed]:
    """A Privileged Identity Management alert (Graph ``unifiedRoleManagementAlert``): one event per expanded
    incident, or one for the alert when its incidents are not expanded."""
    moment = _time(alert, {}, "lastScannedDateTime", "lastModifiedDateTime")
    incidents = alert.get("alertIncidents")
    base = flatten_json({key: value for key, value in alert.items() if key != "alertIncidents"})
    base["cloud.provider"] = "azure"
    base["event.kind"] = "alert"
    base["event.dataset"] = "azure.pim"
    base["event.category"] = ["iam"]
    base["event.type"] = ["info"]
    set_absent(base, "event.action", alert.get("alertDefinitionId"))
    if type(incidents) is not list or not incidents:
        return [Parsed(base, PIM, moment)]
    bad = [index for index, incident in enumerate(incidents) if type(incident) is not dict]
    if bad:
        raise Malformed(f"alertIncidents[{bad[0]}] is {kind_of(incidents[bad[0]])}, not an object")
    events = []
    for incident in incidents:
        fields = dict(base)
        flatten_into(incident, "alertIncidents", fields)
        kind = as_str(incident.get("@odata.type"))
        if kind is not None:
            kind = kind.rpartition(".")[2]
            fields["riskEventType"] = kind
            fields["event.action"] = kind
        _user(fields, incident.get("assigneeUserPrincipalName"), incident.get("assigneeId"),
              incident.get("assigneeDisplayName"))
        set_absent(fields, "event.id", as_str(incident.get("id")))
        events.append(Parsed(fields, PIM, moment))
    return events


PARSERS = (AzureParser(),)
