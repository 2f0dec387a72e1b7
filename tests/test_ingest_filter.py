"""Ingest filters: first matching rule decides; drop, keep (exception) and exact 1-in-N sampling, with counters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yamori.events import Event, LogSource
from yamori.ingest.filter import FilterError, IngestFilter, parse_filter_rules


def event(code: int, channel: str = "Security", user: str = "alice") -> Event:
    return Event({"EventID": code, "Channel": channel, "TargetUserName": user},
                 LogSource(("windows",), (), ("security",)))


def test_drop_with_a_keep_exception_before_it() -> None:
    rules = parse_filter_rules([
        {"name": "keep-admin", "action": "keep", "where": {"TargetUserName": "adm-*"}},
        {"name": "drop-noisy", "action": "drop", "service": "security", "where": {"EventID": [4658, "5156"]}},
    ])
    ingest = IngestFilter(rules)
    assert not ingest.keep(event(4658), "wef")
    assert not ingest.keep(event(5156, user="ALICE"), "wef")
    assert ingest.keep(event(5156, user="ADM-bob"), "wef")
    assert ingest.keep(event(4624), "wef")
    assert ingest.counters() == ({"drop-noisy": 2}, {})
    assert rules[0].matched == 1


def test_input_globs_and_logsource_facets_limit_a_rule() -> None:
    ingest = IngestFilter(parse_filter_rules([{"action": "drop", "inputs": "syslog-*", "product": "windows"}]))
    assert not ingest.keep(event(1), "syslog-udp")
    assert ingest.keep(event(1), "hec")
    assert ingest.keep(Event({"EventID": 1}, LogSource(("linux",))), "syslog-udp")


@given(st.integers(min_value=1, max_value=50), st.integers(min_value=0, max_value=500))
def test_sampling_keeps_exactly_one_in_rate(rate: int, count: int) -> None:
    ingest = IngestFilter(parse_filter_rules([{"name": "s", "action": "sample", "rate": rate}]))
    kept = sum(ingest.keep(event(4624), "x") for _ in range(count))
    assert kept == (count + rate - 1) // rate
    assert ingest.counters()[1] == {"s": count - kept}


def test_wildcards_are_anchored_and_case_insensitive() -> None:
    ingest = IngestFilter(parse_filter_rules([{"action": "drop", "where": {"Channel": "micro?oft-*/operational"}}]))
    assert not ingest.keep(event(1, channel="Microsoft-Windows-Sysmon/Operational"), "x")
    assert ingest.keep(event(1, channel="Microsoft-Windows-Sysmon/Operational/extra"), "x")
    assert ingest.keep(event(1, channel="Security"), "x")


@pytest.mark.parametrize("entry", [{"action": "delete"}, {"action": "sample", "rate": 0},
                                   {"action": "drop", "colour": "red"}, {"action": "drop", "where": "x"}])
def test_invalid_rules_are_refused_with_a_reason(entry: dict[str, object]) -> None:
    with pytest.raises(FilterError):
        parse_filter_rules([entry])
