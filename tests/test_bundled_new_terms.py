"""Yamori's bundled "never seen before" rules (new_terms): with all bundled rules loaded, a logon pair seen during
learning is not new later, a new one is, and one last seen beyond the history is new again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rulekit import RULES_DIR
from yamori.correlation.offline import correlate_events
from yamori.engine.ruleset import CompiledRuleSet, load_ruleset
from yamori.events import Event, LogSource
from yamori.sources.content import read_bytes

START = datetime(2026, 1, 5, 9, tzinfo=UTC)
SECURITY = LogSource(product=("windows",), service=("security",))
RDP = "08dcda4b-8171-437b-a309-74cc1c2bac95"
SSH = "df1c41aa-42ee-4e5c-8c25-2d27a2d6afd3"
ADMIN = "ce6bb107-05c3-4ed0-9940-7d63c59b1b39"


@pytest.fixture(scope="module")
def ruleset(rule_cache: Any) -> CompiledRuleSet:
    return load_ruleset([RULES_DIR])


def at(days: float) -> str:
    return (START + timedelta(days=days)).isoformat().replace("+00:00", "Z")


def windows(days: float, **fields: Any) -> Event:
    record = {"Channel": "Security", "TimeCreated": at(days), **fields}
    return Event(dict(record), SECURITY, "test", str(days), at(days), record)


def ssh(days: float, user: str, address: str) -> Event:
    line = f"{at(days)} web01 sshd[4101]: Accepted publickey for {user} from {address} port 51022 ssh2\n"
    events = [e for e in read_bytes(line.encode(), "auth.log") if isinstance(e, Event)]
    assert len(events) == 1
    return events[0]


def fired(ruleset: CompiledRuleSet, rule_id: str, events: list[Event]) -> list[dict[str, Any]]:
    return [a.group for a in correlate_events(ruleset, events) if a.correlation.id == rule_id]


def test_rdp_from_new_source(ruleset: CompiledRuleSet) -> None:
    def rdp(days: float, user: str, address: str) -> Event:
        return windows(days, EventID=4624, Computer="JUMP01", LogonType=10, TargetUserName=user, IpAddress=address)

    events = [rdp(0, "alice", "10.1.1.5"), rdp(3, "bob", "10.1.1.6"),       # learning (7 days)
              rdp(8, "alice", "10.1.1.5"),                                   # seen
              rdp(9, "alice", "203.0.113.9"),                                # new
              rdp(45, "bob", "10.1.1.6")]                                    # 42 days since: new again
    assert fired(ruleset, RDP, events) == [{"TargetUserName": "alice", "IpAddress": "203.0.113.9"},
                                           {"TargetUserName": "bob", "IpAddress": "10.1.1.6"}]


def test_ssh_from_new_source(ruleset: CompiledRuleSet) -> None:
    events = [ssh(0, "deploy", "10.0.0.8"), ssh(10, "deploy", "10.0.0.8"), ssh(10.5, "deploy", "198.51.100.4")]
    assert fired(ruleset, SSH, events) == [{"user.name": "deploy", "source.ip": "198.51.100.4"}]


def test_admin_on_new_host(ruleset: CompiledRuleSet) -> None:
    def admin(days: float, user: str, host: str) -> Event:
        return windows(days, EventID=4672, Computer=host, SubjectUserName=user)

    events = [admin(0, "adm-bob", "DC01"), admin(1, "adm-bob", "SQL01"), admin(2, "SQL01$", "SQL01"),
              admin(20, "adm-bob", "DC01"), admin(20.1, "adm-bob", "HR-FILES"), admin(21, "SYSTEM", "HR-FILES")]
    assert fired(ruleset, ADMIN, events) == [{"SubjectUserName": "adm-bob", "Computer": "HR-FILES"}]
