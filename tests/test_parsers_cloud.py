"""Cloud parsers other than AWS: Azure Activity log, Entra ID sign-in/audit/risk logs, GCP Cloud Audit Logs and
Google Workspace, Okta System Log, Microsoft 365 unified audit log (fixtures in ``tests/fixtures/cloud/``).

Everything is read through the registry's readers (``read_file``/``read_bytes``), so autodetection is tested
with every format; the fuzz tests call each parser directly, the way the readers do.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enginekit import fired_rule_ids
from yamori.events import BadRecord, Event, LogSource
from yamori.parsers import azure, gcp, m365, okta
from yamori.parsers._cloud_common import host_port, outcome_of, timestamp
from yamori.parsers.base import Malformed, ParseContext, Parsed, RecordParser
from yamori.parsers.registry import logsource_supported
from yamori.sources.content import read_bytes
from yamori.sources.files import read_file

FIXTURES = Path(__file__).parent / "fixtures" / "cloud"
CONTEXT = ParseContext("fuzz", "fuzz.json", datetime(2026, 11, 28, tzinfo=UTC))

ACTIVITY = LogSource(product=("azure",), service=("activitylogs",))
SIGNIN = LogSource(product=("azure",), service=("signinlogs",))
AUDIT = LogSource(product=("azure",), service=("auditlogs",))
RISK = LogSource(product=("azure",), service=("riskdetection",))
GCP_AUDIT = LogSource(product=("gcp",), service=("gcp.audit",))
OKTA = LogSource(product=("okta",), service=("okta",))
M365_AUDIT = LogSource(product=("m365",), service=("audit",))


def _read(*parts: str) -> list[Event | BadRecord]:
    return list(read_file(FIXTURES.joinpath(*parts)))


def _events(items: list[Event | BadRecord]) -> list[Event]:
    return [item for item in items if isinstance(item, Event)]


def _bad(items: list[Event | BadRecord]) -> list[BadRecord]:
    return [item for item in items if isinstance(item, BadRecord)]


def _by_position(items: list[Event | BadRecord]) -> dict[str, Event]:
    return {event.position: event for event in _events(items)}


def _all_fixture_events(product: str) -> list[Event | BadRecord]:
    return [item for path in sorted((FIXTURES / product).iterdir()) for item in read_file(path)]


# ------------------------------------------------------------------------------------------- Azure Activity


def test_azure_activity_diagnostic_records_expand_with_ecs_and_sigma_names() -> None:
    items = _read("azure", "activity_diagnostic.json")
    events = _by_position(items)
    assert sorted(events) == ["1/0", "1/1", "1/2", "1/3"]
    nsg = events["1/0"]
    assert nsg.logsource == ACTIVITY
    assert nsg.timestamp == "2026-11-27T09:12:44.123456Z" and nsg.fields["@timestamp"] == nsg.timestamp
    assert nsg.fields["time"] == "2026-11-27T09:12:44.1234567Z"
    fields = nsg.fields
    assert fields["operationName"] == "MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/SECURITYRULES/WRITE"
    assert fields["OperationNameValue"] == fields["operationName"]
    assert fields["CategoryValue"] == "Administrative" and fields["ResourceProviderValue"] == "MICROSOFT.NETWORK"
    assert fields["ResourceId"] == fields["resourceId"]
    assert fields["properties.message"] == "Microsoft.Network/networkSecurityGroups/securityRules/write"
    assert fields["identity.authorization.evidence.role"] == "Network Contributor"
    assert fields["cloud.provider"] == "azure"
    assert fields["cloud.account.id"] == "6f1e2c3d-4b5a-4978-8a9b-0c1d2e3f4a5b"
    assert fields["cloud.region"] == "westeurope"
    assert fields["event.action"] == fields["operationName"]
    assert fields["event.outcome"] == "success"
    assert fields["event.category"] == ["configuration"] and fields["event.type"] == ["change"]
    assert fields["user.name"] == "mallory@example.com" and fields["user.domain"] == "example.com"
    assert fields["user.id"] == "9e8d7c6b-5a4f-43e2-a1b0-c9d8e7f6a5b4"
    assert fields["source.ip"] == "203.0.113.45"
    assert fields["event.module"] == "azure" and fields["event.dataset"] == "azure.activitylogs"

    elevate = events["1/1"].fields
    assert elevate["event.category"] == ["iam"] and elevate["event.type"] == ["access"]
    assert elevate["source.ip"] == "2001:db8:10::45" and "cloud.region" not in elevate  # location "global"
    started = events["1/2"].fields  # identity and properties null
    assert started["event.outcome"] == "unknown" and "user.name" not in started
    assert started["properties"] is None
    keyvault = events["1/3"]  # another resource log in the same stream: product azure, no service
    assert keyvault.logsource == azure.RESOURCE
    assert keyvault.fields["event.dataset"] == "azure.resourcelogs"
    assert keyvault.fields["event.action"] == "SecretGet"
    [bad] = _bad(items)
    assert bad.source.endswith("activity_diagnostic.json") and bad.position == "1"
    assert "records[4]: no time" in bad.reason and "records[5]: not a JSON object" in bad.reason


def test_azure_activity_rest_and_log_analytics_shapes() -> None:
    items = _read("azure", "activity_rest.json")
    events = _by_position(items)
    adfs = events["0"].fields
    assert adfs["operationName.value"] == "Microsoft.ADHybridHealthService/services/servicemembers/action"
    assert adfs["operationName"] == adfs["operationName.value"] == adfs["OperationNameValue"]
    assert adfs["category"] == "Administrative" and adfs["CategoryValue"] == "Administrative"
    assert adfs["ResourceProviderValue"] == "Microsoft.ADHybridHealthService"
    assert adfs["event.id"] == "6b7c8d9e-0f1a-4b2c-9d3e-4f5a6b7c8d9e"
    assert adfs["source.ip"] == "203.0.113.45" and adfs["user.name"] == "mallory@example.com"
    assert "cloud.account.id" not in adfs  # no subscription: a tenant-level provider
    secret = events["1"].fields
    assert secret["event.outcome"] == "failure" and secret["event.type"] == ["deletion"]
    assert secret["cloud.account.id"] == "6f1e2c3d-4b5a-4978-8a9b-0c1d2e3f4a5b"
    [bad] = _bad(items)
    assert bad.position == "2" and "eventTimestamp '27/11/2026 10:16' is not a time" in bad.reason

    items = _read("azure", "activity_table.jsonl")
    events = _by_position(items)
    shell = events["1"]
    assert shell.logsource == ACTIVITY and shell.timestamp == "2026-11-27T11:00:00.987654Z"
    assert shell.fields["operationName"] == "Microsoft.Portal/consoles/write"
    assert shell.fields["Properties_d.message"] == "Microsoft.Portal/consoles/write"  # dynamic column decoded
    assert shell.fields["properties.message"] == "Microsoft.Portal/consoles/write"
    assert shell.fields["cloud.account.id"] == "6f1e2c3d-4b5a-4978-8a9b-0c1d2e3f4a5b"
    assert shell.fields["user.name"] == "bob@example.com" and shell.fields["source.ip"] == "198.51.100.23"
    dns = events["2"].fields  # a row without Type, recognised by its columns; a dynamic column not JSON
    assert dns["event.outcome"] == "failure" and dns["Properties_d"] == "not json {"
    assert "source.ip" not in dns
    [bad] = _bad(items)
    assert bad.position == "3" and "TimeGenerated 'yesterday'" in bad.reason


# ------------------------------------------------------------------------------------------ Entra sign-ins


def test_entra_signin_diagnostic_records() -> None:
    items = _read("azure", "signin_diagnostic.json")
    events = _by_position(items)
    alice = events["1/0"]
    assert alice.logsource == SIGNIN
    fields = alice.fields
    assert fields["properties.userPrincipalName"] == "alice@example.com"
    assert fields["resultType"] == "0" and fields["ResultType"] == "0" and fields["Status"] == "Success"
    assert fields["AuthenticationRequirement"] == "singleFactorAuthentication"
    assert fields["conditionalAccessStatus"] == fields["ConditionalAccessStatus"] == "notApplied"
    assert fields["DeviceDetail.deviceId"] == "" and fields["DeviceDetail.isCompliant"] is False
    assert fields["DeviceDetail.trusttype"] == ""
    assert fields["NetworkLocationDetails"] == "[]"
    assert fields["userAgent"] == fields["user_agent.original"] and "Edg/131" in fields["userAgent"]
    assert fields["location"] == "FR" and fields["source.geo.city_name"] == "Lyon"
    assert fields["event.category"] == ["authentication"] and fields["event.type"] == ["start"]
    assert fields["event.outcome"] == "success" and fields["event.action"] == "Sign-in activity"
    assert fields["user.name"] == "alice@example.com" and fields["user.full_name"] == "Alice Example"
    assert fields["source.ip"] == "198.51.100.23"
    assert fields["cloud.account.id"] == "11111111-2222-4333-8444-555555555555"
    assert fields["event.dataset"] == "azure.signinlogs"
    assert alice.raw["properties"]["deviceDetail"].get("trusttype") is None  # the raw record is untouched

    failed = events["1/1"].fields  # null deviceDetail and location
    assert failed["event.outcome"] == "failure" and failed["error.code"] == "50126"
    assert failed["ResultDescription"].startswith("Error validating credentials")
    assert failed["Status"] == ["Failure", "Error validating credentials due to invalid username or password."]
    locked = events["1/2"].fields  # properties null: the code comes from resultType
    assert locked["ResultType"] == "50053" and locked["event.outcome"] == "failure"
    principal = events["1/3"].fields
    assert principal["user.name"] == "ci-deployer" and principal["user.id"].startswith("b8c9d0e1")
    [bad] = _bad(items)
    assert bad.position == "1" and "records[4]: time 'not a time' is not a time" in bad.reason


def test_entra_signin_graph_page_and_log_analytics_rows() -> None:
    items = _read("azure", "signin_graph.json")
    events = _by_position(items)
    hound = events["1/0"].fields
    assert hound["status.errorCode"] == 0 and hound["ResultType"] == "0"
    assert hound["Status"] == ["Success", "Other.", "MFA requirement satisfied by claim in the token"]
    assert hound["userAgent"] == "azurehound/v2.1.7"
    assert hound["location.city"] == "Ashburn" and hound["location"] == "US"
    assert hound["properties.appId"] == "1950a258-227b-4e31-a9cf-717495945fc2"
    blocked = events["1/1"].fields
    assert blocked["ResultType"] == "53003" and blocked["error.code"] == "53003"
    denied = events["1/2"].fields
    assert "MFA denied; user declined the authentication" in denied["Status"]
    [bad] = _bad(items)
    assert bad.position == "1" and "value[3]: not a JSON object but a number" in bad.reason

    items = _read("azure", "signin_table.jsonl")
    events = _by_position(items)
    disabled = events["1"]
    assert disabled.logsource == SIGNIN and disabled.timestamp == "2026-11-27T14:00:00.123456Z"
    fields = disabled.fields
    assert fields["Status.errorCode"] == 50057  # the Status column decoded from JSON text
    assert fields["ResultType"] == "50057" and fields["event.outcome"] == "failure"
    assert fields["DeviceDetail.operatingSystem"] == "Windows 10"
    assert fields["LocationDetails.city"] == "Berlin" and fields["source.geo.city_name"] == "Berlin"
    assert fields["Location"] == "DE" and fields["location"] == "DE"
    assert fields["user.name"] == "eve.former@example.com" and fields["source.ip"] == "192.0.2.55"
    assert fields["cloud.account.id"] == "11111111-2222-4333-8444-555555555555"
    registration = events["2"].fields
    assert registration["ResourceDisplayName"] == "Device Registration Service"
    assert registration["conditionalAccessStatus"] == "success" and registration["event.outcome"] == "success"
    [bad] = _bad(items)
    assert bad.position == "3"


# ------------------------------------------------------------------------------------------- Entra audit


def test_entra_audit_diagnostic_records() -> None:
    events = _by_position(_read("azure", "audit_diagnostic.json"))
    role = events["1/0"]
    assert role.logsource == AUDIT
    fields = role.fields
    assert fields["operationName"] == fields["OperationName"] == fields["properties.message"] == "Add member to role"
    assert fields["category"] == "AuditLogs" and fields["Category"] == "RoleManagement"
    assert fields["Status"] == "success" and fields["properties.result"] == "success"
    assert "Global Administrator" in fields["properties.targetResources"]
    assert fields["TargetResources.modifiedProperties.newValue"][1] == '"Global Administrator"'
    assert fields["TargetResources.ModifiedProperties.DisplayName"][1] == "Role.DisplayName"
    assert fields["targetResources.type"] == ["User"]
    assert orjson.loads(fields["InitiatedBy"])["user"]["userPrincipalName"] == "mallory@example.com"
    assert fields["event.category"] == ["iam"] and fields["event.type"] == ["change", "user"]
    assert fields["event.action"] == "Add member to role" and fields["event.outcome"] == "success"
    assert fields["user.name"] == "mallory@example.com" and fields["source.ip"] == "203.0.113.45"
    assert fields["user.target.name"] == "backdoor@example.com"
    assert fields["event.provider"] == "Core Directory" and fields["event.dataset"] == "azure.auditlogs"
    added = events["1/1"].fields  # initiated by an application
    assert added["user.name"] == "Microsoft Azure AD Connect" and added["event.type"] == ["creation", "user"]
    assert added["additionalDetails.UserType"] == "Member"
    bare = events["1/2"].fields  # initiatedBy and targetResources null
    assert bare["TargetResources"] == "[]" and "InitiatedBy" not in bare and "user.name" not in bare


def test_entra_audit_graph_and_log_analytics_shapes() -> None:
    items = _read("azure", "audit_graph.json")
    events = _by_position(items)
    assert not _bad(items)
    consent = events["2"].fields
    assert consent["ConsentContext.IsAdminConsent"] == "False"
    assert consent["TargetResources.type"] == ["ServicePrincipal"]
    laps = events["3"].fields
    assert laps["category"] == "Device" and laps["activityType"] == "Recover device local administrator password"
    assert laps["additionalDetails.additionalInfo"] == "Successfully recovered local credential by device id"
    invite = events["4"].fields
    assert invite["event.outcome"] == "failure" and invite["Status"][0] == "failure"
    assert invite["failure_status_reason"] == "Microsoft.Online.Security.UserConsentBlockedForRiskyAppsException"
    assert events["0"].timestamp == "2026-11-27T16:00:00.500000Z"

    events = _by_position(_read("azure", "audit_table.jsonl"))
    update = events["1"]
    assert update.logsource == AUDIT
    fields = update.fields
    assert fields["TargetResources.modifiedProperties.displayName"][0] == "StrongAuthenticationRequirement"
    assert fields["TargetResources.ModifiedProperties.NewValue"][0].count('"State":0') == 1
    assert fields["InitiatedBy.user.userPrincipalName"] == "mallory@example.com"
    assert fields["user.name"] == "mallory@example.com" and fields["user.target.name"] == "bob@example.com"
    assert fields["event.type"] == ["change", "user"]
    federation = events["2"].fields  # a row without Type, dynamic columns already objects
    assert federation["ActivityDisplayName"] == "Set federation settings on domain"


def test_entra_risk_detections() -> None:
    items = _read("azure", "riskdetections.json")
    events = _by_position(items)
    travel = events["0"]
    assert travel.logsource == RISK and travel.timestamp == "2026-11-27T09:00:00Z"
    assert travel.fields["riskEventType"] == "unlikelyTravel" and travel.fields["event.kind"] == "alert"
    assert travel.fields["event.action"] == "unlikelyTravel" and travel.fields["source.geo.country_iso_code"] == "NL"
    assert travel.fields["event.dataset"] == "azure.identity_protection"
    assert events["1"].fields["riskEventType"] == "leakedCredentials"
    spray = events["2"].fields  # Log Analytics row: RiskEventType column, Location decoded
    assert spray["riskEventType"] == "passwordSpray" and spray["source.geo.city_name"] == "Paris"
    assert spray["source.ip"] == "198.51.100.250" and spray["user.name"] == "frank@example.com"
    [bad] = _bad(items)
    assert bad.position == "3" and bad.reason == "riskEventType is null"


def test_pim_alerts_one_event_per_incident() -> None:
    items = _read("azure", "pim_alerts.json")
    events = _by_position(items)
    assert sorted(events) == ["1/0/0", "1/0/1", "1/1/0", "1/2/0"]
    stale = events["1/0/0"]
    assert stale.logsource == azure.PIM and stale.timestamp == "2026-11-27T04:00:00.500000Z"
    assert stale.fields["riskEventType"] == "staleSignInAlertIncident"
    assert stale.fields["alertIncidents.roleDisplayName"] == "Global Administrator"
    assert stale.fields["alertDefinitionId"].endswith("_StaleSignInAlert")
    assert stale.fields["user.name"] == "breakglass2@example.com" and stale.fields["event.kind"] == "alert"
    assert "alertIncidents.roleDisplayName" not in events["1/2/0"].fields  # incidents not expanded
    assert "riskEventType" not in events["1/2/0"].fields
    [bad] = _bad(items)
    assert "value[3]: alertIncidents[0] is a string" in bad.reason


def test_azure_records_wrapper_of_unknown_records_is_not_claimed() -> None:
    [event] = read_bytes(b'{"records": [{"foo": 1}], "other": true}')
    assert isinstance(event, Event) and event.parser == "json"  # no parser claimed it: generic JSON
    assert azure.classify({"category": "Policy", "activityDisplayName": "x", "activityDateTime": "t"}) == (
        "audit", "api")  # a Graph audit of category Policy is not an Activity-log record
    assert azure.classify({"category": ["SignInLogs"], "time": "x"}) is None


# --------------------------------------------------------------------------------------------------- GCP


def test_gcp_audit_entries() -> None:
    events = _by_position(_read("gcp", "audit_activity.json"))
    bucket = events["0"]
    assert bucket.logsource == GCP_AUDIT
    assert bucket.timestamp == "2026-11-27T18:00:00.101112Z"
    fields = bucket.fields
    assert fields["protoPayload.methodName"] == "storage.buckets.delete"
    assert fields["gcp.audit.method_name"] == "storage.buckets.delete"
    assert fields["data.protoPayload.methodName"] == "storage.buckets.delete"
    assert fields["data.protoPayload.authorizationInfo.permission"] == ["storage.buckets.delete"]
    assert fields["data.protoPayload.authorizationInfo.granted"] == [True]
    assert fields["data.protoPayload.logName"] == "cloudaudit.googleapis.com/activity"
    assert fields["data.protoPayload.resource.type"] == "gcs_bucket"
    assert fields["cloud.provider"] == "gcp" and fields["cloud.project.id"] == "acme-prod-123456"
    assert fields["cloud.region"] == "europe-west1"
    assert fields["event.action"] == "storage.buckets.delete" and fields["event.provider"] == "storage.googleapis.com"
    assert fields["event.category"] == ["configuration"] and fields["event.type"] == ["deletion"]
    assert fields["event.outcome"] == "success" and fields["event.id"] == "1a2b3c4d5e6f"
    assert fields["user.email"] == "mallory@example.com" and fields["source.ip"] == "203.0.113.45"
    assert fields["user_agent.original"].startswith("google-cloud-sdk")
    assert fields["event.module"] == "gcp_audit" and fields["event.dataset"] == "gcp.audit"
    denied = events["2"].fields
    assert denied["event.outcome"] == "failure" and denied["error.code"] == "7"
    assert denied["error.message"] == "PERMISSION_DENIED" and denied["event.category"] == ["iam"]
    org = events["3"].fields
    assert org["cloud.account.id"] == "112233445566" and "cloud.project.id" not in org
    nulls = events["4"].fields  # authenticationInfo, requestMetadata, status and resource null
    assert nulls["event.outcome"] == "success" and "user.name" not in nulls and "source.ip" not in nulls
    assert nulls["event.type"] == ["creation"]


def test_gcp_data_access_lines_and_bad_entries() -> None:
    items = _read("gcp", "audit_data_access.jsonl")
    events = _by_position(items)
    assert events["1"].fields["event.type"] == ["access"]
    assert events["2"].fields["cloud.region"] == "europe-west1-b"
    missing = events["4"]  # only receiveTimestamp; status code as text
    assert missing.timestamp == "2026-11-27T19:10:00Z" and missing.fields["event.outcome"] == "failure"
    assert [(bad.position, bad.reason.split(":")[0]) for bad in _bad(items)] == [
        ("3", "timestamp '27 Nov 2026' is not a time"), ("5", "invalid JSON")]


def test_google_workspace_in_cloud_logging() -> None:
    events = _by_position(_read("gcp", "workspace_logging.json"))
    admin = events["0"]
    assert admin.logsource.covers("gcp", None, "google_workspace.admin")
    assert admin.logsource.covers("gcp", None, "gcp.audit")
    fields = admin.fields
    assert fields["eventService"] == "admin.googleapis.com" and fields["eventName"] == "CHANGE_APPLICATION_SETTING"
    assert fields["setting_name"] == "ContextAwareAccess Access levels" and fields["new_value"] == "any"
    assert fields["event.action"] == "CHANGE_APPLICATION_SETTING"
    assert fields["event.dataset"] == "google_workspace.admin"
    login = events["1"]
    assert login.logsource.covers("gcp", None, "google_workspace.login")
    assert login.fields["protoPayload.metadata.event.eventName"] == ["suspicious_login"]
    assert login.fields["is_suspicious"] is True and login.fields["login_challenge_method"] == ["password"]
    assert login.fields["event.category"] == ["authentication"]


def test_google_workspace_reports_api() -> None:
    items = _read("gcp", "workspace_reports.json")
    events = _by_position(items)
    assert sorted(events) == ["1/0/0", "1/0/1", "1/1/0"]
    grant = events["1/0/0"]
    assert grant.logsource == LogSource(product=("gcp",), service=("google_workspace.admin",))
    assert grant.timestamp == "2026-11-27T21:00:00Z"
    fields = grant.fields
    assert fields["eventService"] == "admin.googleapis.com" and fields["eventName"] == "GRANT_ADMIN_PRIVILEGE"
    assert fields["user_email"] == "backdoor@example.com" and fields["events.name"] == "GRANT_ADMIN_PRIVILEGE"
    assert fields["id.applicationName"] == "admin" and fields["organization.id"] == "C01abcde"
    assert fields["user.email"] == "admin@example.com" and fields["source.ip"] == "203.0.113.5"
    assert fields["event.category"] == ["iam"]
    assert events["1/0/1"].fields["new_value"] == "false"
    assert "user_email" not in events["1/0/1"].fields  # parameters belong to their own event
    login = events["1/1/0"]
    assert login.logsource == LogSource(product=("gcp",), service=("google_workspace.login",))
    assert login.fields["protoPayload.serviceName"] == "login.googleapis.com"
    assert login.fields["event.outcome"] == "failure" and login.fields["is_suspicious"] is False
    assert grant.raw["id"]["uniqueQualifier"] == "5550001"
    [bad] = _bad(items)
    assert bad.position == "1" and "items[2]: events is empty" in bad.reason

    events = _by_position(_read("gcp", "workspace_activity.jsonl"))
    assert events["1/0"].fields["api_scopes"] == ["https://mail.google.com/"]
    assert events["2/0"].logsource == LogSource(product=("gcp",), service=("google_workspace.token",))


# -------------------------------------------------------------------------------------------------- Okta


def test_okta_system_log_events() -> None:
    events = _by_position(_read("okta", "systemlog.json"))
    start = events["0"]
    assert start.logsource == OKTA and start.timestamp == "2026-11-27T06:00:00.123000Z"
    fields = start.fields
    assert fields["eventType"] == "user.session.start" and fields["securityContext.isProxy"] is True
    assert fields["actor.alternateId"] == "alice@example.com" and fields["client.ipAddress"] == "185.220.101.7"
    assert fields["event.action"] == "user.session.start" and fields["event.outcome"] == "success"
    assert fields["event.category"] == ["authentication", "session"] and fields["event.type"] == ["start"]
    assert fields["user.name"] == fields["user.email"] == "alice@example.com"
    assert fields["user.id"] == "00u1a2b3c4d5e6f7g8h9" and fields["user.full_name"] == "Alice Example"
    assert fields["source.ip"] == "185.220.101.7" and fields["source.geo.country_name"] == "Germany"
    assert fields["source.as.number"] == 64496 and fields["user_agent.original"].startswith("Mozilla/5.0 (X11")
    assert fields["event.id"] == "0f1e2d3c-4b5a-11ef-9a8b-7c6d5e4f3a2b" and fields["message"] == "User login to Okta"
    assert fields["event.module"] == "okta" and fields["event.dataset"] == "okta.system"
    reset = events["1"].fields
    assert reset["target.alternateId"] == ["bob@example.com"] and reset["user.target.name"] == "bob@example.com"
    policy = events["2"].fields
    assert policy["target.displayName"] == ["Okta Admin Console", "Catch-all Rule"]
    assert policy["event.outcome"] == "success"  # ALLOW
    locked = events["3"].fields
    assert locked["event.outcome"] == "failure" and locked["event.reason"] == "LOCKED_OUT"


def test_okta_lines_with_null_sections_and_bad_lines() -> None:
    items = _read("okta", "systemlog.jsonl")
    events = _by_position(items)
    zone = events["3"].fields  # actor, client, outcome, target null
    assert zone["event.outcome"] == "unknown" and "user.name" not in zone and "source.ip" not in zone
    assert zone["event.category"] == ["configuration"]
    assert [bad.position for bad in _bad(items)] == ["4", "5"]
    assert _bad(items)[0].reason == "published '' is not a time"


def test_okta_event_hook_delivery() -> None:
    items = _read("okta", "event_hook.json")
    [event] = _events(items)
    assert event.position == "1/0" and event.fields["eventType"] == "application.lifecycle.delete"
    assert event.raw["uuid"] == "9d0e1f2a-4b5a-11ef-9a8b-7c6d5e4f3a2b"
    [bad] = _bad(items)
    assert "data.events[1]: eventType is null" in bad.reason


# ---------------------------------------------------------------------------------------- Microsoft 365


def test_m365_management_api_records() -> None:
    items = _read("m365", "management_api.json")
    events = _by_position(items)
    rule = events["0"]
    assert rule.logsource == m365.M365_EXCHANGE and rule.timestamp == "2026-11-27T09:00:00Z"
    fields = rule.fields
    assert orjson.loads(fields["Parameters"])[3] == {"Name": "SubjectOrBodyContainsWords",
                                                     "Value": "invoice;payment;wire"}
    assert "MoveToFolder" in fields["Parameters.Name"]
    assert fields["source.ip"] == "203.0.113.45" and fields["source.port"] == 51234
    assert fields["eventSource"] == "Exchange" and fields["eventName"] == "New-InboxRule"
    assert fields["status"] == "success" and fields["event.outcome"] == "success"
    assert fields["event.category"] == ["configuration"] and fields["event.type"] == ["creation"]
    assert fields["event.action"] == "New-InboxRule" and fields["event.provider"] == "Exchange"
    assert fields["event.code"] == "1" and fields["organization.id"] == "11111111-2222-4333-8444-555555555555"
    assert fields["user.email"] == "bob@example.com" and fields["user.id"] == "10032001A2B3C4D5"
    assert fields["event.module"] == "m365_audit" and fields["event.dataset"] == "o365.audit"
    assert events["1"].fields["source.ip"] == "2001:db8:30::5" and events["1"].fields["source.port"] == 443
    login = events["2"]
    assert login.logsource == M365_AUDIT
    assert login.fields["RequestType"] == "Cmsi:Cmsi" and login.fields["IsCompliant"] == "False"
    assert login.fields["user_agent.original"].startswith("Mozilla/5.0 (Windows")
    assert login.fields["event.category"] == ["authentication"]
    failed = events["3"].fields
    assert failed["event.outcome"] == "failure" and failed["source.ip"] == "2001:db8:40::9"
    assert events["4"].fields["event.category"] == ["iam"]
    download = events["6"].fields
    assert download["event.category"] == ["file"] and download["event.type"] == ["access"]
    assert download["event.outcome"] == "unknown" and "status" not in download
    alert = events["7"]
    assert alert.logsource == m365.M365_ALERT
    assert alert.logsource.covers("m365", None, "threat_management")
    assert alert.fields["eventSource"] == "SecurityComplianceCenter"
    assert alert.fields["eventName"] == "Suspicious inbox forwarding" and alert.fields["status"] == "success"
    assert alert.fields["Data.op"] == "Set-Mailbox" and alert.fields["event.kind"] == "alert"
    assert [(bad.position, bad.reason) for bad in _bad(items)] == [
        ("8", "CreationTime '27/11/2026 09:50' is not a time"), ("9", "Operation is empty")]


def test_m365_purview_csv_export() -> None:
    items = _read("m365", "audit_search.csv")
    events = _by_position(items)
    assert sorted(events) == ["2", "3"]
    inbox = events["2"]
    assert inbox.fields["event.module"] == "m365_audit_csv" and inbox.logsource == m365.M365_EXCHANGE
    assert inbox.fields["Operation"] == "Set-InboxRule" and inbox.fields["RecordId"].startswith("c0ffee00-0001")
    assert inbox.fields["CreationDate"] == "2026-11-27T10:00:00.0000000Z"
    assert inbox.fields["ObjectId"] == "carol@example.com\\Team updates"
    assert inbox.raw.startswith("c0ffee00-0001")
    assert events["3"].fields["RequestType"] == "OAuth2:Authorize"
    bad = _bad(items)
    assert [item.position for item in bad] == ["4", "5"]
    assert bad[0].reason.startswith("AuditData is not valid JSON") and bad[1].reason == "4 columns, the header has 8"
    assert bad[0].source.endswith("audit_search.csv")


def test_m365_audit_data_wrappers() -> None:
    items = _read("m365", "search_unifiedauditlog.json")
    [event] = _events(items)
    assert event.fields["Operation"] == "New-InboxRule" and event.fields["Operations"] == "New-InboxRule"
    assert event.fields["RunspaceId"].startswith("d1e2f3a4")
    [bad] = _bad(items)
    assert bad.position == "1" and bad.reason == "AuditData holds an array, not an object"
    record = {"id": "x", "createdDateTime": "2026-11-27T12:00:00Z", "operation": "FileAccessed",
              "auditData": {"CreationTime": "2026-11-27T12:00:00", "Operation": "FileAccessed",
                            "RecordType": 6, "Workload": "OneDrive", "UserId": "alice@example.com"}}
    [graph] = read_bytes(orjson.dumps(record))
    assert isinstance(graph, Event) and graph.fields["event.category"] == ["file"]


# ------------------------------------------------------------------------------------------ Logsources


@pytest.mark.parametrize(("product", "service"), [
    ("azure", "activitylogs"), ("azure", "signinlogs"), ("azure", "auditlogs"), ("azure", "riskdetection"),
    ("azure", "pim"),
    ("gcp", "gcp.audit"), ("gcp", "google_workspace.admin"), ("gcp", "google_workspace.login"),
    ("okta", "okta"), ("m365", "audit"), ("m365", "threat_management"), ("m365", "threat_detection"),
    ("m365", "exchange"),
])
def test_logsources_of_sigmahq_cloud_rules_are_produced(product: str, service: str) -> None:
    assert logsource_supported(product, None, service)


# ------------------------------------------------------------------------------------------ SigmaHQ rules


@pytest.mark.parametrize(("product", "expected"), [
    ("azure", {
        "d22b4df4-5a67-4859-a578-8c9a0b5af9df",  # activitylogs: NSG modified (diagnostic record)
        "09438caa-07b1-4870-8405-1dbafe3dad95",  # activitylogs: elevateAccess
        "288a39fc-4914-4831-9ada-270e9dc12cb4",  # activitylogs: CategoryValue/ResourceProviderValue (REST)
        "72af37e2-ec32-47dc-992b-bc288a2708cb",  # activitylogs: Cloud Shell (Log Analytics row)
        "a622fcd2-4b5a-436a-b8a2-a4171161833c",  # activitylogs: keyword rule
        "2b7d6fc0-71ac-4cf7-8ed1-b5788ee5257a",  # signinlogs: lockout (ResultType)
        "28eea407-28d7-4e42-b0be-575d5ba60b2c",  # signinlogs: Status Success + single factor
        "35b781cc-1a08-4a5a-80af-42fd7c315c6b",  # signinlogs: AzureHound user agent (Graph)
        "e40f4962-b02b-4192-9bfe-245f7ece1f99",  # signinlogs: MFA denied (Status contains)
        "908655e0-25cf-4ae1-b775-1c8ce9cf43d8",  # signinlogs: disabled account (ResultDescription)
        "5afa454e-030c-4ab4-9253-a90aa7fcc581",  # signinlogs: device registration without MFA
        "ebbeb024-5b1d-4e16-9c0c-917f86c708a7",  # auditlogs: operationName + properties.targetResources
        "6f583da0-3a90-4566-a4ed-83c09fe18bbf",  # auditlogs: properties.message + Status
        "a0413867-daf3-43dd-9245-734b3a787942",  # auditlogs: Category + OperationName (Graph)
        "9b2cc4c4-2ad4-416d-8e8e-ee6aa6f5035a",  # auditlogs: ConsentContext.IsAdminConsent
        "a4b25073-8947-489c-a8dd-93b41c23f26d",  # auditlogs: LAPS recovery (additionalDetails)
        "b18454c8-0be3-41f7-86bc-9c614611b839",  # auditlogs: TargetResources.ModifiedProperties (row)
        "1a41023f-1e70-4026-921a-4d9341a9038e",  # riskdetection: unlikelyTravel
        "28ecba0a-c743-4690-ad29-9a8f6f25a6f9",  # riskdetection: passwordSpray (Log Analytics row)
        "e402c26a-267a-45bd-9615-bd9ceda6da85",  # pim: stale sign-in incident
        "7bbc309f-e2b1-4eb1-8369-131a367d67d3",  # pim: too many global admins
    }),
    ("gcp", {
        "4d9f2ee2-c903-48ab-b9c1-8c0f474913d0",  # gcp.audit: bucket deleted (gcp.audit.method_name)
        "fe513c69-734c-4d4a-8548-ac5f609be82b",  # gcp.audit: firewall patched
        "32438676-1dba-4ac7-bf69-b86cba995e05",  # gcp.audit: data.protoPayload.* names
        "e2feb918-4e77-4608-9697-990a1aaf74c3",  # gcp.audit: bucket enumeration
        "22f2fb54-5312-435d-852f-7c74f81684ca",  # google_workspace.admin in Cloud Logging (setting_name)
        "38360161-76c4-4283-842e-efcf997dafc8",  # google_workspace.login in Cloud Logging
        "2d1b83e4-17c6-4896-a37b-29140b40a788",  # google_workspace.admin, Reports API
        "780601d1-6376-4f2a-884e-b8d45599f78c",  # google_workspace.admin, Reports API (new_value)
    }),
    ("okta", {
        "bde30855-5c53-4c18-ae90-1ff79ebc9578",  # session via proxy (securityContext.isProxy)
        "50e068d7-1e6b-4054-87e5-0a592c40c7e0",  # MFA reset
        "a0b38b70-3cb5-484b-a4eb-c4d8e7bcc0a9",  # target.displayName + debugData.behaviors
        "14701da0-4b0f-4ee6-9c95-2ffb4e73bb9a",  # displayMessage
        "ee39a9f7-5a79-4b0a-9815-d36b3cf28d3e",  # outcome.reason/result
        "19951c21-229d-4ccb-8774-b993c3ff3c5c",  # API token created
        "7899144b-e416-4c28-b0b5-ab8f9e0a541d",  # event hook delivery
    }),
    ("m365", {
        "d3577be1-42c9-44a7-b56e-2e8de97349d3",  # audit: inbox rule (Parameters|contains)
        "c726e007-2cd0-4a55-abfb-79730fbedee5",  # audit: forwarding (Parameters|contains), also from CSV
        "13f2d3f5-6497-44a7-bf5f-dc13ffafe5dc",  # audit: RequestType from ExtendedProperties
        "60de9b57-dc4d-48b9-a6a0-b39e0469f876",  # audit: Disable Strong Authentication.
        "6c220477-0b5b-4b25-bb90-66183b4089e8",  # threat_management: alert record
        "42127bdd-9133-474f-a6f1-97b6c08a4339",  # exchange: Add-FederatedDomain
    }),
])
def test_sigmahq_rules_fire_on_fixtures(sigmahq_rules: Any, product: str, expected: set[str]) -> None:
    fired = fired_rule_ids(sigmahq_rules, _all_fixture_events(product))
    assert expected <= fired, sorted(expected - fired)


# ------------------------------------------------------------------------------------------------ Helpers


def test_helpers() -> None:
    assert host_port("192.0.2.1:51234") == ("192.0.2.1", 51234)
    assert host_port("[2001:db8::1]:443") == ("2001:db8::1", 443)
    assert host_port("2001:db8::1") == ("2001:db8::1", None)
    assert host_port("192.0.2.1:99999") == ("192.0.2.1", None)
    assert host_port("<null>") == (None, None) and host_port(None) == (None, None)
    assert timestamp("2026-11-27T10:00:00") == "2026-11-27T10:00:00Z"
    assert timestamp("2026-11-27T10:00:00.1234567+01:00") == "2026-11-27T09:00:00.123456Z"
    assert timestamp(12) is None and timestamp("x" * 100) is None
    assert [outcome_of(word) for word in ("Succeeded", "True", "ALLOW", "Failed", "DENY", "Start", None, False)] == [
        "success", "success", "success", "failure", "failure", "unknown", "unknown", "failure"]


# -------------------------------------------------------------------------------------------------- Fuzz

JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=10)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))

_RECORD_PARSERS: dict[str, RecordParser] = {
    "azure": azure.AzureParser(), "gcp_audit": gcp.GcpAuditParser(),
    "google_workspace": gcp.WorkspaceReportsParser(), "okta": okta.OktaParser(), "m365_audit": m365.M365AuditParser(),
}
_SEED_DIRS = {"azure": "azure", "gcp_audit": "gcp", "google_workspace": "gcp", "okta": "okta", "m365_audit": "m365"}


def _seed_records(directory: str) -> list[dict[str, Any]]:
    seeds: list[dict[str, Any]] = []
    for path in sorted((FIXTURES / directory).glob("*.json*")):
        for item in read_file(path):
            if isinstance(item, Event) and isinstance(item.raw, dict):
                seeds.append(item.raw)
    return seeds


_SEEDS = {name: _seed_records(directory) for name, directory in _SEED_DIRS.items()}
# the wrappers themselves too (records, value, items, data.events), as the readers hand them over
for _name, _directory in _SEED_DIRS.items():
    for _path in sorted((FIXTURES / _directory).glob("*.json")):
        _loaded = orjson.loads(_path.read_bytes())
        if isinstance(_loaded, dict) and _RECORD_PARSERS[_name].accepts(_loaded, CONTEXT):
            _SEEDS[_name].append(_loaded)


def _holders(value: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key or index) inside ``value``."""
    if isinstance(value, dict):
        for key, child in value.items():
            out.append((value, key))
            _holders(child, out)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out.append((value, index))
            _holders(child, out)
    return out


def _mutate(draw: Callable[..., Any], record: dict[str, Any]) -> dict[str, Any]:
    """Values replaced by random JSON values (also of the wrong type), keys dropped."""
    record = copy.deepcopy(record)
    for _ in range(draw(st.integers(1, 4))):
        holders = _holders(record, [])
        if not holders:
            break
        holder, key = draw(st.sampled_from(holders))
        if isinstance(holder, dict) and draw(st.booleans()):
            holder.pop(key, None)
        else:
            holder[key] = draw(JSON_VALUES)
    return record


def _check(parser: RecordParser, record: dict[str, Any]) -> None:
    try:
        if not parser.accepts(record, CONTEXT):
            return
        for parsed in parser.parse(record, CONTEXT):
            assert isinstance(parsed, Parsed)
            assert parsed.timestamp is None or parsed.timestamp.endswith("Z")
            for key, value in parsed.fields.items():
                assert isinstance(key, str)
                assert not isinstance(value, dict), (key, value)
    except Malformed:
        pass


@pytest.mark.parametrize("name", sorted(_RECORD_PARSERS))
@FUZZ
@given(data=st.data())
def test_fuzz_record_parsers(name: str, data: st.DataObject) -> None:
    parser = _RECORD_PARSERS[name]
    seeds = _SEEDS[name]
    assert seeds
    record = data.draw(st.sampled_from(seeds) | st.dictionaries(
        st.text(max_size=12), JSON_VALUES))
    if data.draw(st.booleans()):
        record = _mutate(data.draw, record)
    _check(parser, record)


@FUZZ
@given(data=st.data())
def test_fuzz_m365_csv_lines(data: st.DataObject) -> None:
    lines = (FIXTURES / "m365" / "audit_search.csv").read_text(encoding="utf-8").splitlines()
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(lines) - 1))
        line = lines[at]
        cut = data.draw(st.integers(0, len(line)))
        piece = data.draw(st.text(max_size=10) | st.sampled_from(['"', '""', ",", "{", "}", "\\"]))
        lines[at] = line[:cut] + piece + line[cut + data.draw(st.integers(0, 5)):]
    items = list(read_bytes("\n".join(lines).encode("utf-8", "surrogatepass"), "audit.csv"))
    assert all(isinstance(item, Event | BadRecord) for item in items)


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_random_bytes_never_raise(blob: bytes) -> None:
    for item in read_bytes(b'{"records": [' + blob):
        assert isinstance(item, Event | BadRecord)
