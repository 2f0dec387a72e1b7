"""Differential tests: the fast engine and the reference oracle agree on every (event, rule) pair.

On real data (every EVTX event of ../shared/datasets against every SigmaHQ Windows rule) and on
hypothesis-generated rules and events.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from enginekit import PROCESS_CREATION, engine_from_yaml, event
from yamori.engine.matcher import Engine
from yamori.engine.oracle import oracle_match
from yamori.engine.ruleset import load_ruleset
from yamori.events import BadRecord, Event
from yamori.sources.files import read_file


def _evtx_events(root: Path) -> list[Event]:
    events: list[Event] = []
    for path in sorted(root.rglob("*.evtx")):
        events.extend(item for item in read_file(path) if not isinstance(item, BadRecord))
    return events


def test_engine_equals_oracle_on_all_shared_evtx(shared: Path, rule_cache: Path) -> None:
    rules_dir = shared / "sigma" / "rules" / "windows"
    ruleset = load_ruleset([rules_dir])
    engine = Engine(ruleset)
    sigma_rules: dict[str, SigmaRule] = {}
    for path in sorted(rules_dir.rglob("*.yml")):
        for rule in SigmaCollection.from_yaml(path.read_text(encoding="utf-8"), collect_errors=True).rules:
            if isinstance(rule, SigmaRule) and not rule.errors:
                sigma_rules[str(rule.id)] = rule
    index_of = {info.id: i for i, info in enumerate(engine.infos)}
    oracle_rules = [(index_of[rule_id], rule) for rule_id, rule in sigma_rules.items() if rule_id in index_of]
    assert len(oracle_rules) == len(engine.infos) > 2000
    events = _evtx_events(shared / "datasets")
    assert len(events) > 2000
    mismatches: list[str] = []
    compared = 0
    for ev in events:
        fast = set(engine.match(ev))
        slow = set()
        for index, rule in oracle_rules:
            ls = rule.logsource
            if ev.logsource.covers(ls.product, ls.category, ls.service):
                compared += 1
                if oracle_match(rule, ev.fields):
                    slow.add(index)
        if fast != slow:
            for index in fast ^ slow:
                side = "engine only" if index in fast else "oracle only"
                mismatches.append(f"{side}: {engine.infos[index].title} on {ev.source}#{ev.position}")
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches[:30])
    assert compared > 100_000


# --- generated rules and events -------------------------------------------------------------------------

FIELDS = ("Image", "CommandLine", "EventID", "User", "Flag", "Ip")
ATOMS = ("cmd", "CMD", "a", "b", "ab", "\\x", "4688", "-e", "/e", "10.0.0.5", "*", "?", "true")
EVENT_ATOMS = ("cmd", "Cmd", "a", "b", "ab", "\n", "\\x", "4688", "-e", "/e", "–e", "10.0.0.5", "10.1.2.3", " ", "true")
MODIFIERS = ("", "|contains", "|startswith", "|endswith", "|contains|all", "|windash|contains", "|cased",
             "|contains|cased", "|re", "|re|i", "|cidr", "|gt", "|lte", "|exists", "|base64offset|contains",
             "|neq", "|fieldref", "|contains|fieldref")


def _value(modifier: str) -> st.SearchStrategy[Any]:
    if modifier in ("|gt", "|lte"):
        return st.integers(-5, 5000)
    if modifier == "|exists":
        return st.booleans()
    if modifier == "|cidr":
        return st.sampled_from(["10.0.0.0/8", "10.0.0.5/32", "10.1.0.0/16", "::1/128"])
    if modifier.endswith("|fieldref"):
        return st.sampled_from(FIELDS)
    if modifier.startswith("|re"):
        return st.sampled_from(["^c.d", "a+b", "cmd$", "\\\\x", "[0-9]{4}", "(?:ab|cd)e?", "a.*b", "c.*m.*d",
                                "a.*a.*a", "b.*?a", "(?s)a.*b", "(?i)C.*D", "(?i)cmd", "Cmd\\b", "-e\\s*4"])
    text = st.lists(st.sampled_from(ATOMS), min_size=1, max_size=3).map("".join)
    return st.one_of(text, st.integers(0, 5000), st.booleans(), st.none()) if modifier == "" else text


@st.composite
def detection_items(draw: st.DrawFn) -> dict[str, Any]:
    items: dict[str, Any] = {}
    for _ in range(draw(st.integers(1, 3))):
        field = draw(st.sampled_from(FIELDS))
        modifier = draw(st.sampled_from(MODIFIERS))
        values = draw(st.lists(_value(modifier), min_size=1, max_size=3))
        if modifier in ("|exists", "|fieldref", "|contains|fieldref", "|cidr", "|gt", "|lte"):
            values = values[:1]
        items[field + modifier] = values if len(values) > 1 else values[0]
    return items


@st.composite
def rules(draw: st.DrawFn) -> str:
    detection: dict[str, Any] = {}
    count = draw(st.integers(1, 3))
    for i in range(count):
        if draw(st.integers(0, 5)) == 0:
            detection[f"sel{i}"] = draw(st.lists(st.sampled_from(ATOMS[:-3]), min_size=1, max_size=2))
        else:
            maps = draw(st.lists(detection_items(), min_size=1, max_size=2))
            detection[f"sel{i}"] = maps[0] if len(maps) == 1 else maps
    names = list(detection)
    condition = draw(st.sampled_from([
        " and ".join(names), " or ".join(names), "1 of sel*", "all of them",
        names[0] + (" and not " + names[-1] if len(names) > 1 else ""),
        "not " + names[0], "(" + " or ".join(names) + ") and not " + names[0],
    ]))
    detection["condition"] = condition
    return yaml.safe_dump({"title": "generated", "logsource": {"product": "windows", "category": "process_creation"},
                           "detection": detection})


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for field in FIELDS:
        kind = draw(st.integers(0, 6))
        if kind == 0:
            continue
        text = st.lists(st.sampled_from(EVENT_ATOMS), min_size=0, max_size=4).map("".join)
        if kind == 1:
            fields[field] = draw(st.integers(-5, 5000))
        elif kind == 2:
            fields[field] = draw(st.booleans())
        elif kind == 3:
            fields[field] = None
        elif kind == 4:
            fields[field] = draw(st.lists(st.one_of(text, st.integers(0, 5000)), max_size=3))
        else:
            fields[field] = draw(text)
    return fields


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_text=rules(), samples=st.lists(events(), min_size=1, max_size=8))
def test_engine_equals_oracle_on_generated_rules(rule_text: str, samples: list[dict[str, Any]]) -> None:
    engine = engine_from_yaml(rule_text)
    sigma_rule = SigmaCollection.from_yaml(rule_text, collect_errors=True).rules
    if not engine.infos:  # pySigma refused the generated rule (e.g. an invalid regex): nothing to compare
        return
    rule = sigma_rule[0]
    assert isinstance(rule, SigmaRule)
    for fields in samples:
        expected = oracle_match(rule, fields)
        got = bool(engine.match(event(fields, PROCESS_CREATION)))
        assert got == expected, f"rule:\n{rule_text}\nevent: {fields!r}"


@pytest.mark.parametrize("fields", [{"CommandLine": "x"}, {}])
def test_generated_rule_helpers_produce_valid_rules(fields: dict[str, Any]) -> None:
    rule = yaml.safe_dump({"title": "t", "logsource": {"product": "windows", "category": "process_creation"},
                           "detection": {"sel": {"CommandLine|contains": "x"}, "condition": "sel"}})
    assert bool(engine_from_yaml(rule).match(event(fields))) == bool(fields)
