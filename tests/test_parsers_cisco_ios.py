"""Cisco IOS / IOS XE syslog messages: fields, logsources, and SigmaHQ's cisco rules firing on them."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from enginekit import fired_rule_ids
from yamori.events import BadRecord, Event
from yamori.parsers.base import Envelope, ParseContext
from yamori.parsers.cisco_ios import CiscoIosParser
from yamori.sources.content import read_bytes
from yamori.sources.files import read_file

FIXTURE = Path(__file__).parent / "fixtures" / "firewall" / "cisco_ios.log"


def _items() -> list[Event | BadRecord]:
    return list(read_file(FIXTURE))


def _events() -> dict[str, Event]:
    return {item.fields["event.code"] + ":" + item.position: item for item in _items() if isinstance(item, Event)}


def test_command_accounting_is_aaa_with_user_and_command() -> None:
    events = [e for e in _items() if isinstance(e, Event) and e.fields["mnemonic"] == "CFGLOG_LOGGEDCMD"]
    first = events[0]
    assert first.logsource.product == ("cisco",) and set(first.logsource.service) == {"syslog", "aaa"}
    assert first.fields["host"] == "172.16.5.10" and first.fields["host.ip"] == "172.16.5.10"
    assert first.fields["sequence"] == 6705
    assert first.fields["user.name"] == "admin"
    assert first.fields["process.command_line"] == "interface GigabitEthernet1/0/12"
    assert first.fields["event.category"] == ["configuration"]
    assert first.timestamp is not None and first.timestamp.endswith("-02-17T13:40:03.673000Z")
    assert first.parser == "cisco_ios" and first.fields["event.dataset"] == "cisco.ios"


def test_logins_are_authentication_events() -> None:
    logins = [e.fields for e in _items() if isinstance(e, Event) and e.fields["facility"] == "SEC_LOGIN"]
    failed, succeeded = logins
    assert failed["event.outcome"] == "failure" and failed["user.name"] == "admin"
    assert failed["source.ip"] == "203.0.113.5" and failed["destination.port"] == 22
    assert failed["host.hostname"] == "core-sw1" and failed["log.level"] == "warning"
    assert succeeded["event.outcome"] == "success" and succeeded["user.name"] == "netops"
    assert succeeded["event.category"] == ["authentication"]


def test_bgp_ldp_and_other_messages() -> None:
    items = _items()
    by_code = {e.fields["event.code"]: e for e in items if isinstance(e, Event)}
    assert "bgp" in by_code["IP-TCP-3-BADAUTH"].logsource.service
    assert "bgp" in by_code["TCP-6-BADAUTH"].logsource.service
    assert "bgp" in by_code["BGP-5-ADJCHANGE"].logsource.service
    updown = by_code["LINEPROTO-5-UPDOWN"]
    assert updown.logsource.service == ("syslog",) and updown.fields["sequence"] == 123
    assert by_code["SYS-5-CONFIG_I"].fields["user.name"] == "admin"
    [bad] = [item for item in items if isinstance(item, BadRecord)]
    assert bad.data == "this line is not a Cisco message"


def test_asa_messages_are_left_to_the_asa_parser() -> None:
    parser = CiscoIosParser()
    line = "%ASA-4-106023: Deny tcp src outside:203.0.113.60/44321 dst inside:10.1.1.30/445"
    assert parser.parse(line, Envelope(line=line), ParseContext("x")) is None


def test_sigmahq_cisco_rules_fire(sigmahq_rules: object, shared: Path) -> None:
    regression = (shared / "datasets" / "SigmaHQ_sigma" / "regression_data" / "rules" / "cisco" / "aaa"
                  / "cisco_cli_dot1x_disabled" / "ef0ff092-a24a-4fbc-beea-06c08d53e085.raw")
    items = list(read_file(regression))
    assert all(isinstance(item, Event) for item in items)
    assert "ef0ff092-a24a-4fbc-beea-06c08d53e085" in fired_rule_ids(sigmahq_rules, items)  # type: ignore[arg-type]
    fired = fired_rule_ids(sigmahq_rules, _items())  # type: ignore[arg-type]
    assert "56fa3cd6-f8d6-4520-a8c7-607292971886" in fired  # Cisco BGP Authentication Failures
    assert "9e8f6035-88bf-4a63-96b6-b17c0508257e" in fired  # Cisco Disabling Logging


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_fuzz_cisco_ios_lines(text: str) -> None:
    for line in (text, "%SYS-5-" + text, "1: Nov 28 03:00:00: %SEC_LOGIN-4-LOGIN_FAILED: " + text):
        for item in read_bytes(line.encode("utf-8", "surrogatepass") + b"\n", "router.log"):
            assert isinstance(item, Event | BadRecord)
