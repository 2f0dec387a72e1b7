"""yamori.parsers.windows: field names, values and logsource facets of Windows events in every JSON shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from yamori.events import LogSource
from yamori.parsers import windows
from yamori.parsers.windows import (
    can_produce,
    flatten_evtx_json,
    logsource_for,
    produced_logsources,
    windows_json_to_fields,
)

FIXTURES = Path(__file__).parent / "fixtures" / "windows"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def test_sysmon_process_creation() -> None:
    fields, logsource, timestamp = flatten_evtx_json(load("sysmon_1_process_creation.json"))
    assert logsource == LogSource(("windows",), ("process_creation",), ("sysmon",))
    assert timestamp == "2024-03-05T10:15:30.123456Z"
    assert fields["EventID"] == 1
    assert fields["Channel"] == "Microsoft-Windows-Sysmon/Operational"
    assert fields["Provider_Name"] == "Microsoft-Windows-Sysmon"
    assert fields["Computer"] == "ws01.example.test"
    assert fields["EventRecordID"] == 4242
    assert fields["Level"] == 4 and fields["Task"] == 1 and fields["Opcode"] == 0 and fields["Version"] == 5
    assert fields["Keywords"] == "0x8000000000000000"
    assert fields["ExecutionProcessID"] == 2780 and fields["ExecutionThreadID"] == 3312
    assert fields["Security_UserID"] == "S-1-5-18"
    assert fields["SystemTime"] == "2024-03-05T10:15:30.123456Z"
    # EventData leaves at top level, JSON types kept
    assert fields["Image"] == "C:\\Windows\\System32\\whoami.exe"
    assert fields["CommandLine"] == "whoami /all"
    assert fields["ProcessId"] == 6120 and fields["TerminalSessionId"] == 1
    # GUID-typed values get the braces Windows prints (the evtx package drops them)
    assert fields["Provider_Guid"] == "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}"
    assert fields["ProcessGuid"] == "{11111111-2222-3333-4444-555555555555}"
    assert not any(key.startswith(("Event.", "System", "#")) for key in fields if key != "SystemTime")


def test_security_4688_gets_process_creation_and_sysmon_names() -> None:
    fields, logsource, _ = flatten_evtx_json(load("security_4688_process_creation.json"))
    assert logsource.covers("windows", "process_creation", None)
    assert logsource.covers("windows", None, "security")
    assert logsource.covers("windows", "process_creation", "security")
    assert fields["Image"] == fields["NewProcessName"] == "C:\\Windows\\System32\\net.exe"
    assert fields["ParentImage"] == fields["ParentProcessName"] == "C:\\Windows\\System32\\cmd.exe"
    assert fields["LogonId"] == "0x3a5f1"
    assert "Security_UserID" not in fields  # <Security /> without attributes


def test_alias_never_overwrites_a_field_the_event_has() -> None:
    record = load("security_4688_process_creation.json")
    record["Event"]["EventData"]["Image"] = "already here"
    fields, _, _ = flatten_evtx_json(record)
    assert fields["Image"] == "already here"


@pytest.mark.parametrize(("operation", "categories"), [
    ("%%1905", ("registry_set", "registry_event")),
    ("Existing registry value modified", ("registry_set", "registry_event")),
    ("%%1904", ("registry_add", "registry_event")),
    ("New registry value created", ("registry_add", "registry_event")),
    ("%%1906", ()),
])
def test_security_4657_category_follows_operation_type(operation: str, categories: tuple[str, ...]) -> None:
    record = load("security_4657_registry_value.json")
    record["Event"]["EventData"]["OperationType"] = operation
    fields, logsource, _ = flatten_evtx_json(record)
    assert logsource.category == categories
    assert logsource.service == ("security",)
    if categories:
        assert fields["Image"] == "C:\\Windows\\System32\\reg.exe"
        assert fields["TargetObject"] == fields["ObjectName"]
        assert fields["Details"] == "C:\\Users\\Public\\evil.exe"
    else:
        assert "TargetObject" not in fields and "Image" not in fields


def test_powershell_4104() -> None:
    fields, logsource, _ = flatten_evtx_json(load("powershell_4104_script_block.json"))
    assert logsource == LogSource(("windows",), ("ps_script",), ("powershell",))
    assert "DownloadString" in fields["ScriptBlockText"]
    assert fields["Correlation_ActivityID"] == "{ABCDEF01-2345-6789-ABCD-EF0123456789}"
    assert fields["Path"] == ""


def test_eventid_with_qualifiers_and_unnamed_data_list() -> None:
    fields, logsource, _ = flatten_evtx_json(load("application_qualifiers_unnamed_data.json"))
    assert fields["EventID"] == 1001
    assert fields["Qualifiers"] == 16384
    assert fields["Data"] == ["first unnamed value", "second: ntds.dit", "3"]
    assert fields["Binary"] == "DEADBEEF"
    assert fields["Provider_Name"] == "ExampleService"
    assert fields["Provider_EventSourceName"] == "ExampleService"
    assert logsource == LogSource(("windows",), (), ("application",))


def test_string_typed_system_values_become_ints() -> None:
    fields, logsource, timestamp = flatten_evtx_json(load("classic_powershell_800_string_system.json"))
    assert fields["EventID"] == 800 and fields["Qualifiers"] == 0
    assert fields["Level"] == 4 and fields["Task"] == 8 and fields["EventRecordID"] == 55
    assert logsource == LogSource(("windows",), ("ps_classic_script",), ("powershell-classic",))
    assert timestamp == "2024-03-05T14:00:00Z"
    assert fields["Data"][0] == "Get-Process | Out-Null"
    assert fields["Binary"] is None


def test_userdata_child_leaves_at_top_level_and_system_wins_collisions() -> None:
    fields, logsource, _ = flatten_evtx_json(load("security_1102_userdata.json"))
    assert fields["SubjectUserName"] == "Administrator"
    assert fields["EventID"] == 1102
    assert fields["Channel"] == "Security"
    assert fields["UserData.Channel"] == "Security"  # the UserData field of the same name, kept aside
    assert not any("xmlns" in key for key in fields)
    assert logsource.service == ("security",)


def test_system_field_wins_over_eventdata_field() -> None:
    record = load("sysmon_1_process_creation.json")
    record["Event"]["EventData"]["EventID"] = 4688  # attacker-controlled data must not change routing
    record["Event"]["EventData"]["Level"] = "high"
    fields, logsource, _ = flatten_evtx_json(record)
    assert fields["EventID"] == 1 and fields["EventData.EventID"] == 4688
    assert fields["Level"] == 4 and fields["EventData.Level"] == "high"
    assert logsource.category == ("process_creation",)


def test_nested_userdata_elements_get_dotted_names() -> None:
    fields, _, _ = flatten_evtx_json(load("capi2_nested_userdata.json"))
    assert fields["Certificate.fileRef"] == "ABCDEF.cer"
    assert fields["Certificate.subjectName"] == "ws01.example.test"
    assert fields["EventAuxInfo.ProcessName"] == "tool.exe"
    assert fields["Item.Name"] == ["a", "b"]  # repeated elements: one multi-valued field
    assert fields["Result"] == "ok" and fields["Result.value"] == "0"


def test_eventdata_attributes_and_text() -> None:
    record = load("sysmon_1_process_creation.json")
    record["Event"]["EventData"] = {"#attributes": {"Name": "TaskDisabled"}, "TaskName": "\\Example"}
    fields, _, _ = flatten_evtx_json(record)
    assert fields["EventData.Name"] == "TaskDisabled"
    assert fields["TaskName"] == "\\Example"
    record["Event"]["EventData"] = None
    fields, _, _ = flatten_evtx_json(record)
    assert fields["EventID"] == 1


def test_other_event_children_are_kept_dotted() -> None:
    record = load("security_4688_process_creation.json")
    record["Event"]["RenderingInfo"] = {"#attributes": {"Culture": "en-US"}, "Message": "A new process"}
    fields, _, _ = flatten_evtx_json(record)
    assert fields["RenderingInfo.Message"] == "A new process"
    assert fields["RenderingInfo.Culture"] == "en-US"


def test_unknown_system_children_are_kept() -> None:
    record = load("sysmon_1_process_creation.json")
    record["Event"]["System"]["Extra"] = {"#attributes": {"A": 1}, "#text": "t"}
    fields, _, _ = flatten_evtx_json(record)
    assert fields["Extra"] == "t" and fields["Extra_A"] == 1
    assert fields["EventID"] == 1


def test_guid_braces_only_for_exact_guids() -> None:
    record = load("sysmon_1_process_creation.json")
    data = record["Event"]["EventData"]
    data["A"] = "{11111111-2222-3333-4444-555555555555}"
    data["B"] = "x1111111-2222-3333-4444-555555555555"
    data["C"] = "11111111-2222-3333-4444-55555555555"
    fields, _, _ = flatten_evtx_json(record)
    assert fields["A"] == "{11111111-2222-3333-4444-555555555555}"
    assert fields["B"] == "x1111111-2222-3333-4444-555555555555"
    assert fields["C"] == "11111111-2222-3333-4444-55555555555"


def test_record_without_system_is_rejected() -> None:
    with pytest.raises(ValueError):
        flatten_evtx_json({"Event": {"EventData": {}}})
    with pytest.raises(ValueError):
        flatten_evtx_json({"Event": "text"})


def test_winlogbeat_shape() -> None:
    parsed = windows_json_to_fields(load("winlogbeat_4688.json"))
    assert parsed is not None
    fields, logsource, timestamp = parsed
    evtx_fields, evtx_logsource, _ = flatten_evtx_json(load("security_4688_process_creation.json"))
    assert logsource is evtx_logsource  # the same cached object
    assert timestamp == "2024-03-05T11:00:00.500Z"
    assert fields["EventID"] == 4688 and fields["Channel"] == "Security"
    assert fields["Provider_Name"] == "Microsoft-Windows-Security-Auditing"
    assert fields["Computer"] == "dc01.example.test"
    assert fields["EventRecordID"] == 90001
    assert fields["ExecutionProcessID"] == 4 and fields["ExecutionThreadID"] == 7788
    assert fields["Level"] == 4
    for name in ("NewProcessName", "CommandLine", "ParentProcessName", "Image", "ParentImage"):
        assert fields[name] == evtx_fields[name]
    assert "message" not in fields and "host.name" not in fields  # only the Windows event's own fields


def test_nxlog_shape() -> None:
    parsed = windows_json_to_fields(load("nxlog_sysmon_13.json"))
    assert parsed is not None
    fields, logsource, timestamp = parsed
    assert logsource == LogSource(("windows",), ("registry_set", "registry_event"), ("sysmon",))
    assert timestamp == "2024-03-05T12:30:00Z"  # NXLog's EventTime has no zone: taken as UTC
    assert fields["EventID"] == 13
    assert fields["Provider_Name"] == "Microsoft-Windows-Sysmon"
    assert fields["Provider_Guid"] == "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}"
    assert fields["Computer"] == "ws01.example.test"
    assert fields["EventRecordID"] == 5150
    assert fields["Keywords"] == "0x8000000000000000"
    assert fields["TargetObject"].endswith("\\Run\\Updater")
    assert fields["Security_UserID"] == "S-1-5-18"
    for nxlog_only in ("EventTime", "SourceModuleName", "Message", "SeverityValue", "EventType", "SourceName"):
        assert nxlog_only not in fields


def test_evtx_json_without_event_wrapper_and_unknown_shapes() -> None:
    inner = load("sysmon_1_process_creation.json")["Event"]
    parsed = windows_json_to_fields(inner)
    assert parsed is not None and parsed[0]["EventID"] == 1
    assert windows_json_to_fields({"eventName": "ConsoleLogin", "Records": []}) is None
    flat = windows_json_to_fields({"EventID": "4624", "Channel": "Security", "LogonType": 3})
    assert flat is not None
    assert flat[0]["EventID"] == 4624 and flat[1].service == ("security",)


def test_odd_values_do_not_break_routing() -> None:
    for obj in ({"EventID": [1, 2], "Channel": ["a"]}, {"EventID": {"x": 1}, "Channel": None},
                {"EventID": "abc", "Channel": 5}):
        parsed = windows_json_to_fields(obj)
        assert parsed is not None
        assert parsed[1].product == ("windows",)


def test_logsource_objects_are_shared_per_kind() -> None:
    first = flatten_evtx_json(load("sysmon_1_process_creation.json"))[1]
    second = flatten_evtx_json(load("sysmon_1_process_creation.json"))[1]
    assert first is second
    assert logsource_for("Microsoft-Windows-Sysmon/Operational", 1) is first
    # channel names compare without case, as Windows does
    assert logsource_for("microsoft-windows-sysmon/operational", 1) == first
    assert logsource_for("Some-Unknown/Channel", 7) == LogSource(("windows",))


@pytest.mark.parametrize(("event_id", "categories"), [
    (12, ("registry_add", "registry_delete", "registry_event")),
    (13, ("registry_set", "registry_event")),
    (14, ("registry_rename", "registry_event")),
    (17, ("pipe_created",)),
    (22, ("dns_query",)),
    (26, ("file_delete", "file_delete_detected")),
    (9999, ()),
])
def test_sysmon_categories(event_id: int, categories: tuple[str, ...]) -> None:
    assert logsource_for("Microsoft-Windows-Sysmon/Operational", event_id).category == categories


def test_powershell_categories_need_the_right_channel() -> None:
    assert logsource_for("PowerShellCore/Operational", 4103).category == ("ps_module",)
    assert logsource_for("Windows PowerShell", 400).category == ("ps_classic_start",)
    assert logsource_for("Windows PowerShell", 600).category == ("ps_classic_provider_start",)
    assert logsource_for("Windows PowerShell", 4104).category == ()
    assert logsource_for("Security", 4104).category == ()


def test_can_produce() -> None:
    assert can_produce("windows", None, None)
    assert can_produce(None, "process_creation", None)
    assert can_produce("windows", "process_creation", "security")
    assert can_produce("windows", "ps_script", "powershell")
    assert can_produce("windows", None, "application")
    assert can_produce("windows", "registry_add", "security")
    assert not can_produce("windows", "registry_delete", "security")
    assert not can_produce("windows", "ps_script", "sysmon")
    assert not can_produce("windows", "file_access", None)  # ETW kernel-file: no parser produces it
    assert not can_produce("windows", None, "no-such-service")
    assert not can_produce("linux", "process_creation", None)
    logsources = produced_logsources()
    assert len(logsources) == len(set(logsources))
    assert all(logsource.product == ("windows",) for logsource in logsources)


def test_every_table_service_is_a_pysigma_service() -> None:
    from sigma.pipelines.common import windows_logsource_mapping

    for service, _ in windows.SERVICE_CATEGORIES:
        assert service in windows_logsource_mapping
    assert "sysmon" in windows_logsource_mapping and "security" in windows_logsource_mapping


def test_iso_utc() -> None:
    assert windows.iso_utc("2024-03-05T10:15:30.123Z") == "2024-03-05T10:15:30.123Z"
    assert windows.iso_utc("2024-03-05T12:15:30+02:00") == "2024-03-05T10:15:30Z"
    assert windows.iso_utc("2024-03-05 12:15:30") == "2024-03-05T12:15:30Z"
    assert windows.iso_utc("2024-03-05T14:00:00.123456789Z") == "2024-03-05T14:00:00.123456Z"
    assert windows.iso_utc("not a time") is None
    assert windows.iso_utc(0) == "1970-01-01T00:00:00Z"
    assert windows.iso_utc(None) is None


def test_spaces_in_eventdata_names_are_removed() -> None:
    record = load("sysmon_1_process_creation.json")
    record["Event"]["System"]["Channel"] = "Microsoft-Windows-Windows Defender/Operational"
    record["Event"]["System"]["EventID"] = 1116
    record["Event"]["EventData"] = {"Threat Name": "Virus:DOS/EICAR_Test_File", "Source Name": "Real-Time Protection",
                                    "Path": "file:_C:\\x.exe"}
    fields, logsource, _ = flatten_evtx_json(record)
    assert fields["ThreatName"] == "Virus:DOS/EICAR_Test_File"
    assert fields["SourceName"] == "Real-Time Protection"
    assert "Threat Name" not in fields
    assert logsource.service == ("windefend",)
    parsed = windows_json_to_fields({"winlog": {"channel": "Microsoft-Windows-Windows Defender/Operational",
                                                "event_id": 1116, "event_data": {"Threat Name": "x"}}})
    assert parsed is not None and parsed[0]["ThreatName"] == "x"


def test_channel_table_is_cached_by_pysigma_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sigma.pipelines.common import windows_logsource_mapping

    from yamori.parsers import windows

    monkeypatch.setenv("YAMORI_CACHE_DIR", str(tmp_path))
    expected = {service: channels if isinstance(channels, str) else list(channels)
                for service, channels in windows_logsource_mapping.items()}
    windows._windows_logsource_mapping.cache_clear()
    try:
        assert windows._windows_logsource_mapping() == expected  # computed, then written
        [cached] = tmp_path.glob("windows-channels-pysigma-*.json")
        windows._windows_logsource_mapping.cache_clear()
        assert windows._windows_logsource_mapping() == expected  # read back
        cached.write_text("not json")
        windows._windows_logsource_mapping.cache_clear()
        assert windows._windows_logsource_mapping() == expected  # a damaged cache is recomputed
    finally:
        windows._windows_logsource_mapping.cache_clear()


def _log_cleared(cleared: str) -> dict[str, Any]:
    return {"Event": {
        "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
        "System": {"Provider": {"#attributes": {"Name": "Microsoft-Windows-Eventlog",
                                                "Guid": "fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148"}},
                   "EventID": 104, "Version": 0, "Level": 4, "Task": 104, "Opcode": 0,
                   "Keywords": "0x8000000000000000",
                   "TimeCreated": {"#attributes": {"SystemTime": "2026-11-28T03:00:00.000000Z"}},
                   "EventRecordID": 4242, "Channel": "System", "Computer": "ws01.example.com"},
        "UserData": {"LogFileCleared": {
            "#attributes": {"xmlns": "http://manifests.microsoft.com/win/2004/08/windows/eventlog"},
            "SubjectUserName": "alice", "SubjectDomainName": "EXAMPLE", "Channel": cleared, "BackupPath": ""}}}}


def test_system_104_channel_is_the_cleared_log() -> None:
    fields, logsource, _ = flatten_evtx_json(_log_cleared("Microsoft-Windows-TaskScheduler/Operational"))
    assert fields["Channel"] == "Microsoft-Windows-TaskScheduler/Operational"
    assert fields["winlog.channel"] == "System" and "UserData.Channel" not in fields
    assert logsource.service == ("system",)  # routed by the log the event is written to
    windows.finish_windows(fields, None)
    assert fields["winlog.channel"] == "System"


def test_sigmahq_eventlog_cleared_rules_split_by_cleared_log(sigmahq_rules: object) -> None:
    from enginekit import fired_rule_ids
    from yamori.events import Event

    def fired(cleared: str) -> set[str]:
        fields, logsource, timestamp = flatten_evtx_json(_log_cleared(cleared))
        return fired_rule_ids(sigmahq_rules, [Event(fields, logsource, "test", "1", timestamp)])  # type: ignore[arg-type]

    important, other = "100ef69e-3327-481c-8e5c-6d80d9507556", "a62b37e0-45d3-48d9-a517-90c1a1b0186b"
    assert important in fired("Security") and other not in fired("Security")
    assert other in fired("Microsoft-Windows-TaskScheduler/Operational")
    assert important not in fired("Microsoft-Windows-TaskScheduler/Operational")
