"""yamori.parsers.cloudtrail: AWS CloudTrail in every shape (Records files, gzip, single events, arrays,
lookup-events, EventBridge), its ECS fields and logsource, malformed records, SigmaHQ and Yamori rules firing,
and the whole invictus-ir CloudTrail dataset of ../shared."""

from __future__ import annotations

import csv
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enginekit import fired_rule_ids
from yamori.engine.matcher import Engine
from yamori.engine.ruleset import load_ruleset
from yamori.events import BadRecord, Event, LogSource
from yamori.parsers.base import Malformed, ParseContext, Parsed
from yamori.parsers.cloudtrail import CloudTrailParser, is_cloudtrail_event
from yamori.sources.content import read_bytes
from yamori.sources.files import read_file

FIXTURES = Path(__file__).parent / "fixtures" / "cloud" / "aws"
RULES = Path(__file__).resolve().parent.parent / "rules"
CLOUDTRAIL = LogSource(product=("aws",), service=("cloudtrail",))
CONTEXT = ParseContext("fuzz", "fuzz.json", datetime(2026, 11, 28, tzinfo=UTC))

# the rules this change adds (rules/aws/cloudtrail/)
LOGGING_STOPPED = "49224fe1-c0d3-411a-8292-30621a2deb48"
KEY_FOR_OTHER_USER = "62dff4f9-2737-4331-9a29-21e0eebfce21"
CONSOLE_NO_MFA = "5213d010-aa89-47a8-89f4-6b406f9ee6f5"
SECRET_READ = "dab35d69-37d4-4fcf-a929-2423cc487ec8"
ROOT_CALL = "bb9c9bfd-6805-4b91-8d60-6f124e09787e"
S3_SHORT_LIFECYCLE = "017bab98-60ae-47e7-bc9a-fdfbbe35bba5"
EC2_PASSWORD_DATA = "cc33028a-907f-43d3-af93-5d918002706a"


def items(name: str) -> list[Event | BadRecord]:
    return list(read_file(FIXTURES / name))


def events(name: str) -> list[Event]:
    found = items(name)
    assert all(isinstance(item, Event) for item in found), [i for i in found if isinstance(i, BadRecord)]
    return [item for item in found if isinstance(item, Event)]


def by_name(found: list[Event]) -> dict[str, Event]:
    return {str(e.fields["eventName"]) + ("-failed" if e.fields["event.outcome"] == "failure" else ""): e
            for e in found}


@pytest.fixture(scope="module")
def own_rules(rule_cache: Path) -> Any:
    return load_ruleset([RULES])


# ---------------------------------------------------------------------------------------------------------
# Shapes


def test_records_file_one_event_per_record() -> None:
    found = events("trail_records.json")
    assert len(found) == 8
    assert [e.position for e in found] == [f"1/{i}" for i in range(8)]  # the wrapper starts on line 1
    assert all(e.logsource == CLOUDTRAIL for e in found)
    assert all(e.source.endswith("trail_records.json") for e in found)
    assert all(e.fields["event.module"] == "cloudtrail" and e.fields["event.dataset"] == "aws.cloudtrail"
               for e in found)
    # each event keeps its own record as raw, not the whole file
    assert all(isinstance(e.raw, dict) and e.raw["eventID"] == e.fields["eventID"] for e in found)
    assert "Records" not in found[0].fields and not any(k.startswith("Records") for k in found[0].fields)


def test_gzip_records_file_reads_like_the_plain_one() -> None:
    plain = events("trail_records.json")
    packed = events("trail_records.json.gz")
    assert [e.fields for e in packed] == [e.fields for e in plain]
    assert packed[0].source.endswith("trail_records.json.gz")


def test_gzip_in_memory_with_json_gz_name() -> None:
    data = gzip.compress(json.dumps({"Records": [json.loads((FIXTURES / "single_events.jsonl")
                                                             .read_text().splitlines()[0])]}).encode())
    found = read_bytes(data, "123456789012_CloudTrail_us-east-1_20261128T0400Z_abc.json.gz")
    assert len(found) == 1 and isinstance(found[0], Event)
    assert found[0].fields["eventName"] == "CreateUser"


def test_console_login_fields() -> None:
    login = by_name(events("trail_records.json"))["ConsoleLogin"]
    f = login.fields
    # original names, as SigmaHQ's rules use them
    assert f["eventSource"] == "signin.amazonaws.com"
    assert f["responseElements.ConsoleLogin"] == "Success"
    assert f["additionalEventData.MFAUsed"] == "No"
    assert f["userIdentity.type"] == "IAMUser"
    assert f["requestParameters"] is None  # null in the record stays null
    assert f["eventTime"] == "2026-11-28T02:55:10Z"
    # ECS
    assert login.timestamp == f["@timestamp"] == "2026-11-28T02:55:10Z"
    assert f["event.action"] == "ConsoleLogin" and f["event.provider"] == "signin.amazonaws.com"
    assert f["event.category"] == ["authentication"] and f["event.type"] == ["start"]
    assert f["event.outcome"] == "success" and f["event.kind"] == "event"
    assert f["user.name"] == "intern" and f["user.id"] == "AIDAEXAMPLEINTERNXXXX"
    assert f["source.ip"] == "203.0.113.30" and f["src_ip"] == "203.0.113.30"
    assert f["cloud.provider"] == "aws" and f["cloud.region"] == "us-east-1"
    assert f["cloud.account.id"] == "123456789012"
    assert f["user_agent.original"].startswith("Mozilla/5.0")
    assert f["event.id"] == "e0000000-0000-4000-8000-000000000000"


def test_failed_console_login_is_a_failure() -> None:
    failed = by_name(events("trail_records.json"))["ConsoleLogin-failed"]
    assert failed.fields["event.outcome"] == "failure" and failed.fields["status"] == "failure"
    assert failed.fields["errorMessage"] == "Failed authentication"
    assert failed.fields["user.name"] == "intern"  # userName without an ARN
    assert failed.fields["source.ip"] == "203.0.113.99"


def test_iam_change_fields() -> None:
    key = by_name(events("trail_records.json"))["CreateAccessKey"].fields
    assert key["event.category"] == ["iam"] and key["event.type"] == ["user", "creation"]
    assert key["user.name"] == "alice" and key["user.target.name"] == "bob"
    assert key["requestParameters.userName"] == "bob"
    assert key["responseElements.accessKey.userName"] == "bob"
    # requestParameters/responseElements also kept whole, for rules that search them as one value
    assert json.loads(key["requestParameters"]) == {"userName": "bob"}
    assert json.loads(key["responseElements"])["accessKey"]["status"] == "Active"
    deleted = by_name(events("trail_records.json"))["DeleteSAMLProvider"].fields
    assert deleted["event.type"] == ["deletion"] and "user.target.name" not in deleted


def test_assumed_role_ipv6_error_fields() -> None:
    described = by_name(events("trail_records.json"))["DescribeInstances-failed"].fields
    assert described["user.name"] == "carol@example.com"  # the role session, last part of the ARN
    assert described["user.id"] == "AROAEXAMPLEROLE00002:carol@example.com"
    assert described["source.ip"] == "2001:db8::1f"
    assert described["event.outcome"] == "failure"
    assert described["error.code"] == "Client.UnauthorizedOperation"
    assert described["error.message"].startswith("You are not authorized")
    assert "event.category" not in described  # a read-only call outside IAM
    assert described["readOnly"] is True


def test_service_event_source_is_a_domain() -> None:
    rotation = by_name(events("trail_records.json"))["RotationSucceeded"].fields
    assert rotation["source.address"] == rotation["source.domain"] == "secretsmanager.amazonaws.com"
    assert "source.ip" not in rotation and "src_ip" not in rotation
    assert "user.name" not in rotation and rotation["userIdentity.invokedBy"] == "secretsmanager.amazonaws.com"
    assert "event.category" not in rotation  # a service event, not a call
    assert rotation["serviceEventDetails.versionId"] == "11111111-2222-4333-8444-555555555555"


def test_fraction_of_seconds_and_nested_lists() -> None:
    versioning = by_name(events("trail_records.json"))["PutBucketVersioning"].fields
    assert versioning["@timestamp"] == "2026-11-28T03:02:03.250000Z"
    assert versioning["eventTime"] == "2026-11-28T03:02:03.250Z"
    assert versioning["resources.ARN"] == ["arn:aws:s3:::example-audit-archive"]
    assert versioning["requestParameters.VersioningConfiguration.Status"] == "Suspended"
    assert versioning["userIdentity.sessionContext.sessionIssuer.userName"] == "ci-deploy"
    assert versioning["user.name"] == "deploy-42"
    assert versioning["event.category"] == ["configuration"] and versioning["event.type"] == ["change"]


@pytest.mark.parametrize(("address", "expected"), [
    ("192.0.2.1", {"source.ip": "192.0.2.1", "src_ip": "192.0.2.1"}),
    ("2001:DB8::1", {"source.ip": "2001:db8::1", "src_ip": "2001:db8::1"}),
    ("AWS Internal", {"source.address": "AWS Internal"}),
    ("cloudformation.amazonaws.com", {"source.address": "cloudformation.amazonaws.com",
                                      "source.domain": "cloudformation.amazonaws.com"}),
    ("1.2.3.999", {"source.address": "1.2.3.999"}),
])
def test_source_address_kinds(address: str, expected: dict[str, str]) -> None:
    record = dict(_seed_events()[0], sourceIPAddress=address)
    (event,) = read_bytes(json.dumps(record).encode(), "event.json")
    assert isinstance(event, Event)
    assert {k: v for k, v in event.fields.items() if k.startswith("source.") or k == "src_ip"} == expected


def test_root_user_name() -> None:
    root = events("events_array.json")[0].fields
    assert root["userIdentity.type"] == "Root" and root["user.name"] == "root"
    assert root["event.type"] == ["user", "creation"] and root["user.target.name"] == "support-temp"


def test_single_events_per_line_with_broken_lines() -> None:
    found = items("single_events.jsonl")
    good = [e for e in found if isinstance(e, Event)]
    bad = [b for b in found if isinstance(b, BadRecord)]
    assert [e.position for e in good] == ["1", "2", "5"]
    assert [e.fields["eventName"] for e in good] == ["CreateUser", "GetSecretValue", "DescribeInstances"]
    assert [(b.position, b.source.endswith("single_events.jsonl")) for b in bad] == [("3", True), ("4", True)]
    assert "invalid JSON" in bad[0].reason
    assert bad[1].reason == "eventName is a number"


def test_array_of_events() -> None:
    found = events("events_array.json")
    assert [e.position for e in found] == ["0", "1"]
    assert all(e.logsource == CLOUDTRAIL for e in found)


def test_malformed_records_among_good_ones() -> None:
    found = items("trail_records_malformed.json")
    good = [e for e in found if isinstance(e, Event)]
    bad = [b for b in found if isinstance(b, BadRecord)]
    assert [e.position for e in good] == ["1/0", "1/4"]
    assert [e.fields["eventName"] for e in good] == ["ConsoleLogin", "CreateAccessKey"]
    assert [b.position for b in bad] == ["1/1", "1/2", "1/3"]
    assert all(b.source.endswith("trail_records_malformed.json") for b in bad)
    assert [b.reason for b in bad] == ["Records[1]: not a JSON object but a string", "Records[2]: no eventTime",
                                       "Records[3]: eventTime 'yesterday at noon' is not a time"]
    assert all(b.data for b in bad)  # the broken record is kept aside


def test_eventbridge_envelope() -> None:
    (event,) = events("eventbridge_envelope.json")
    assert event.logsource == CLOUDTRAIL
    assert event.fields["eventName"] == "CreateUser" and event.fields["userIdentity.type"] == "Root"
    assert "detail-type" not in event.fields and not any(k.startswith("detail.") for k in event.fields)
    assert event.raw["detail-type"] == "AWS API Call via CloudTrail"
    assert event.timestamp == "2026-11-28T04:00:00Z"


def test_eventbridge_console_sign_in_and_bad_detail() -> None:
    login = json.loads((FIXTURES / "lookup_events_items.jsonl").read_text().splitlines()[0])["CloudTrailEvent"]
    envelope = {"version": "0", "detail-type": "AWS Console Sign In via CloudTrail", "source": "aws.signin",
                "detail": json.loads(login)}
    (event,) = read_bytes(json.dumps(envelope).encode(), "eventbridge.json")
    assert isinstance(event, Event) and event.fields["responseElements.ConsoleLogin"] == "Success"
    broken = dict(envelope, detail={"eventSource": "aws.signin"})
    (bad,) = read_bytes(json.dumps(broken).encode(), "eventbridge.json")
    assert isinstance(bad, BadRecord) and "detail is not a CloudTrail event" in bad.reason


def test_lookup_events_answer() -> None:
    found = items("lookup_events.json")
    good = [e for e in found if isinstance(e, Event)]
    bad = [b for b in found if isinstance(b, BadRecord)]
    assert [(e.position, e.fields["eventName"]) for e in good] == [("1/0", "GetSecretValue"), ("1/2", "CreateUser")]
    assert good[0].fields["requestParameters.secretId"].endswith(":secret:prod/db-AbCdEf")
    assert "CloudTrailEvent" not in good[0].fields and "EventName" not in good[0].fields
    assert len(bad) == 1 and "Events[1]: CloudTrailEvent is not valid JSON" in bad[0].reason


def test_lookup_events_items_per_line() -> None:
    found = events("lookup_events_items.jsonl")
    assert [(e.position, e.fields["eventName"]) for e in found] == [("1", "ConsoleLogin"), ("2", "CreateAccessKey")]
    assert found[0].fields["additionalEventData.MFAUsed"] == "No"
    assert found[0].raw["EventName"] == "ConsoleLogin"  # raw: the item as read


@pytest.mark.parametrize("record", [
    {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                  "eventTime": "2026-11-28T04:00:00.000Z", "s3": {"bucket": {"name": "example"}}}]},
    {"awsAccountId": "123456789012", "digestStartTime": "2026-11-28T03:00:00Z", "digestS3Bucket": "example"},
    {"detail-type": "EC2 Instance State-change Notification", "detail": {"state": "running"}},
    {"Events": [{"EventId": "1"}]},
], ids=["s3-notification", "digest", "other-eventbridge", "events-without-cloudtrailevent"])
def test_other_aws_json_is_not_cloudtrail(record: dict[str, Any]) -> None:
    (item,) = read_bytes(json.dumps(record).encode(), "other.json")
    assert isinstance(item, Event) and item.logsource != CLOUDTRAIL
    assert not CloudTrailParser().accepts(record, CONTEXT)


def test_empty_records_file_gives_nothing() -> None:
    assert read_bytes(b'{"Records": []}', "empty.json") == []


def test_records_not_an_array_is_malformed() -> None:
    with pytest.raises(Malformed, match="Records is a string"):
        list(CloudTrailParser().parse({"Records": "x"}, CONTEXT))


def test_is_cloudtrail_event() -> None:
    assert is_cloudtrail_event({"eventSource": "iam.amazonaws.com", "eventName": "X", "eventTime": "t"})
    assert not is_cloudtrail_event({"eventSource": "aws:s3", "eventName": "X", "eventTime": "t"})
    assert not is_cloudtrail_event({"eventSource": "iam.amazonaws.com", "eventTime": "t"})


# ---------------------------------------------------------------------------------------------------------
# Rules


def test_sigmahq_rules_fire_on_fixtures(sigmahq_rules: Any) -> None:
    fired = fired_rule_ids(sigmahq_rules, items("trail_records.json"))
    assert "77caf516-34e5-4df9-b4db-20744fea0a60" in fired  # AWS Successful Console Login Without MFA
    assert "4db60cc0-36fb-42b7-9b58-a5b53019fb74" in fired  # AWS CloudTrail Important Change (StopLogging)
    assert "0a5177f4-6ca9-44c2-aacf-d3f3d8b6e4d2" in fired  # AWS IAM Backdoor Users Keys
    assert "6393e346-1977-46ef-8987-ad414a145fad" in fired  # AWS ConsoleLogin Failed Authentication
    # requestParameters|contains: 'Suspended' - needs requestParameters kept whole as JSON text
    assert "a136ac98-b2bc-4189-a14d-f0d0388e57a7" in fired  # AWS S3 Bucket Versioning Disable
    assert "ccd6a6c8-bb4e-4a91-9d2a-07e632819374" in fired  # AWS SAML Provider Deletion Activity (status: success)
    assert "8ad1600d-e9dc-4251-b0ee-a65268f29add" in fired_rule_ids(sigmahq_rules, items("events_array.json"))


def test_own_rules_fire_on_fixtures(own_rules: Any) -> None:
    fired = fired_rule_ids(own_rules, items("trail_records.json"))
    assert {CONSOLE_NO_MFA, KEY_FOR_OTHER_USER, LOGGING_STOPPED} <= fired
    assert ROOT_CALL not in fired and SECRET_READ not in fired
    assert {ROOT_CALL, SECRET_READ} <= fired_rule_ids(own_rules, items("single_events.jsonl"))
    assert {ROOT_CALL} <= fired_rule_ids(own_rules, items("eventbridge_envelope.json"))
    assert {CONSOLE_NO_MFA, KEY_FOR_OTHER_USER} <= fired_rule_ids(own_rules, items("lookup_events_items.jsonl"))


@pytest.mark.parametrize("tests_file", sorted((RULES / "aws" / "cloudtrail").glob("*.tests.yml")),
                         ids=lambda path: path.name.removesuffix(".tests.yml"))
def test_own_rule_examples_with_the_fast_engine(tests_file: Path, own_rules: Any) -> None:
    """tests/test_bundled_rules.py checks the examples with the oracle; here the compiled engine (fieldref,
    exists, lt, lists from flattened arrays) must agree, through the parser."""
    rule = yaml.safe_load(tests_file.with_name(tests_file.name.replace(".tests.yml", ".yml")).read_text())
    examples = yaml.safe_load(tests_file.read_text())
    engine = Engine(own_rules)
    for kind in ("positive", "negative"):
        for example in examples[kind]:
            (event,) = read_bytes(json.dumps(example["_raw"]).encode(), "example.json")
            assert isinstance(event, Event) and event.logsource == CLOUDTRAIL
            fired = {engine.infos[i].id for i in engine.match(event)}
            assert (rule["id"] in fired) is (kind == "positive"), f"{kind}: {example.get('_note')}"


# ---------------------------------------------------------------------------------------------------------
# Robustness


def _seed_events() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIXTURES / "single_events.jsonl").read_text().splitlines()
            if line.startswith("{") and line.endswith("}")]


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=10)
KEYS = st.sampled_from(["eventTime", "eventName", "eventSource", "userIdentity", "requestParameters",
                        "responseElements", "sourceIPAddress", "errorCode", "readOnly", "eventType",
                        "additionalEventData", "recipientAccountId", "userAgent"])


@st.composite
def mutated_records(draw: st.DrawFn) -> dict[str, Any]:
    event = dict(draw(st.sampled_from(_seed_events())))
    for _ in range(draw(st.integers(1, 4))):
        key = draw(KEYS)
        if draw(st.booleans()):
            event.pop(key, None)
        else:
            event[key] = draw(JSON_VALUES | st.sampled_from(
                ["2026-11-28T04:00:00+01:00", "2026-13-40T99:00:00Z", "::1", "AWS Internal", "1.2.3.999"]))
    shape = draw(st.sampled_from(["event", "records", "lookup", "eventbridge", "events"]))
    if shape == "records":
        return {"Records": [event, draw(JSON_VALUES)]}
    if shape == "lookup":
        return {"CloudTrailEvent": draw(st.sampled_from([json.dumps(event), json.dumps(event)[:40], "[]"]))}
    if shape == "eventbridge":
        return {"detail-type": "AWS API Call via CloudTrail", "detail": event}
    if shape == "events":
        return {"Events": [{"CloudTrailEvent": json.dumps(event)}, {"CloudTrailEvent": draw(JSON_VALUES)}]}
    return event


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=mutated_records() | st.dictionaries(st.sampled_from(["Records", "CloudTrailEvent", "Events",
                                                                    "detail-type", "detail", "eventSource"]),
                                                   JSON_VALUES, max_size=3))
def test_fuzz_parser_raises_only_malformed(record: dict[str, Any]) -> None:
    parser = CloudTrailParser()
    try:
        if parser.accepts(record, CONTEXT):
            for parsed in parser.parse(record, CONTEXT):
                assert isinstance(parsed, Parsed | BadRecord)
                assert isinstance(parsed, BadRecord) or parsed.timestamp is None or parsed.timestamp.endswith("Z")
    except Malformed:
        pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=mutated_records(), cut=st.integers(0, 400))
def test_fuzz_reader_gives_events_or_bad_records(record: dict[str, Any], cut: int) -> None:
    data = json.dumps(record).encode()
    for sample in (data, data[:cut]):
        for item in read_bytes(sample, "fuzz.json"):
            assert isinstance(item, Event | BadRecord)


# ---------------------------------------------------------------------------------------------------------
# The invictus-ir CloudTrail dataset (../shared)

# what each rule of ours must detect among the Stratus detonations of the dataset (csv eventName), and the
# detonations it leaves alone on purpose
EXPECTED = {
    LOGGING_STOPPED: {"StopLogging", "DeleteTrail", "PutEventSelectors"},
    KEY_FOR_OTHER_USER: {"CreateAccessKey"},
    CONSOLE_NO_MFA: {"ConsoleLogin"},
    SECRET_READ: {"GetSecretValue", "GetParameters"},
    S3_SHORT_LIFECYCLE: {"PutBucketLifecycle"},
    EC2_PASSWORD_DATA: {"GetPasswordData"},
}
# the second PutEventSelectors of the dataset is Stratus's revert: it turns management events back on
REVERTS = {"3d6df238-f83c-4a34-bea8-45cf80a2050b"}


def _dataset(shared: Path) -> tuple[Path, list[dict[str, str]]]:
    folder = shared / "datasets" / "invictus-ir_aws_dataset"
    rows = list(csv.DictReader((folder / "stratus_events.csv").open(encoding="utf-8")))
    return folder, rows


def test_shared_cloudtrail_dataset_parses_completely(shared: Path, own_rules: Any) -> None:
    folder, rows = _dataset(shared)
    files = sorted((folder / "CloudTrail").iterdir())
    assert len(files) == 55
    by_id: dict[str, Event] = {}
    record_count = 0
    for path in files:
        record_count += len(json.loads(path.read_bytes())["Records"])
        for item in read_file(path):
            assert isinstance(item, Event), f"{item.source} {item.position}: {item.reason}"
            assert item.logsource == CLOUDTRAIL
            assert item.timestamp is not None and item.timestamp.startswith("2023-07-10T")
            by_id[item.fields["eventID"]] = item
    assert record_count == len(by_id) == 2900
    for row in rows:  # every csv row is found where the csv says
        event = by_id[row["eventID"]]
        assert Path(event.source).name == Path(row["file"]).name
        assert event.position == f"1/{row['record_index']}"
        assert event.fields["eventName"] == row["eventName"]

    engine = Engine(own_rules)
    fired = {event_id: {engine.infos[i].id for i in engine.match(event)} for event_id, event in by_id.items()}
    attack = [row for row in rows if row["technique_id_inferred"]]
    for rule_id, names in EXPECTED.items():
        targets = [r["eventID"] for r in attack if r["eventName"] in names and r["eventID"] not in REVERTS]
        assert targets, rule_id
        missed = [event_id for event_id in targets if rule_id not in fired[event_id]]
        assert not missed, f"{rule_id} misses {missed}"
    assert not any(ROOT_CALL in ids for ids in fired.values())  # the dataset has no root activity
    assert not any(LOGGING_STOPPED in fired[event_id] for event_id in REVERTS)
