"""The fast engine: compilation, logsource routing, literal prefilter, robustness."""

from __future__ import annotations

from typing import Any

import pytest

from enginekit import PROCESS_CREATION, engine_from_yaml, event, ruleset_from_yaml, titles
from yamori.engine.matcher import Engine
from yamori.engine.prefilter import AhoCorasickScanner, HyperscanScanner, hyperscan_available
from yamori.events import LogSource

CMD_RULE = """
title: Cmd with whoami
logsource: {product: windows, category: process_creation}
detection:
    selection:
        Image|endswith: '\\\\cmd.exe'
        CommandLine|contains: 'whoami'
    filter:
        ParentImage|endswith: '\\\\explorer.exe'
    condition: selection and not filter
level: high
"""

SECURITY_RULE = """
title: Logon type 10
logsource: {product: windows, service: security}
detection:
    selection:
        EventID: 4624
        LogonType: 10
    condition: selection
level: low
"""


def test_selection_and_absent_filter_field() -> None:
    engine = engine_from_yaml(CMD_RULE)
    assert titles(engine, {"Image": "C:\\Windows\\System32\\CMD.EXE", "CommandLine": "cmd /c WhoAmI"}) == \
        ["Cmd with whoami"]
    assert titles(engine, {"Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd /c whoami",
                           "ParentImage": "C:\\Windows\\explorer.exe"}) == []
    assert titles(engine, {"Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "dir"}) == []


def test_logsource_routing() -> None:
    engine = engine_from_yaml(CMD_RULE, SECURITY_RULE)
    security = LogSource(product=("windows",), service=("security",))
    fields = {"EventID": 4624, "LogonType": "10", "Image": "x\\cmd.exe", "CommandLine": "whoami"}
    assert titles(engine, fields, security) == ["Logon type 10"]
    assert titles(engine, fields, PROCESS_CREATION) == ["Cmd with whoami"]
    assert titles(engine, fields, LogSource(product=("linux",))) == []


def test_prefilter_skips_rules_without_their_literals() -> None:
    engine = engine_from_yaml(CMD_RULE, SECURITY_RULE)
    assert engine.candidates(event({"Image": "notepad.exe", "CommandLine": "notepad"})) == []
    assert engine.candidates(event({"Image": "a\\cmd.exe", "CommandLine": "x"})) == [0]


def test_exact_values_are_anchored_in_the_prefilter() -> None:
    engine = engine_from_yaml(SECURITY_RULE)
    security = LogSource(product=("windows",), service=("security",))
    assert engine.candidates(event({"EventID": 46240, "LogonType": 10}, security)) == []
    assert engine.candidates(event({"EventID": 4624, "LogonType": 3}, security)) == [0]


def test_min_level_filter_disables_rules() -> None:
    ruleset = ruleset_from_yaml(CMD_RULE, SECURITY_RULE)
    engine = Engine(ruleset, enabled=lambda info: info.level == "high")
    security = LogSource(product=("windows",), service=("security",))
    assert engine.match(event({"EventID": 4624, "LogonType": 10}, security)) == []


def test_rule_that_raises_is_counted_not_fatal() -> None:
    engine = engine_from_yaml(CMD_RULE, CMD_RULE.replace("Cmd with whoami", "Second"))

    def boom(fields: dict[str, Any], memo: dict[str, tuple[str, ...]]) -> bool:
        raise RuntimeError("bad value")

    engine.functions[0] = boom
    fields = {"Image": "a\\cmd.exe", "CommandLine": "whoami"}
    assert titles(engine, fields) == ["Second"]
    assert engine.stats.rule_errors == 1


def test_keyword_rules_search_every_value() -> None:
    engine = engine_from_yaml("""
title: Mimikatz keyword
logsource: {product: windows, category: process_creation}
detection:
    keywords:
        - 'sekurlsa::logonpasswords'
    condition: keywords
""")
    assert titles(engine, {"CommandLine": "x SEKURLSA::LogonPasswords y"}) == ["Mimikatz keyword"]
    assert titles(engine, {"CommandLine": "sekurlsa"}) == []


def test_list_values_and_numbers() -> None:
    engine = engine_from_yaml(SECURITY_RULE)
    security = LogSource(product=("windows",), service=("security",))
    assert titles(engine, {"EventID": "4624", "LogonType": [3, 10]}, security) == ["Logon type 10"]
    assert titles(engine, {"EventID": 4624.0, "LogonType": 10}, security) == ["Logon type 10"]


@pytest.mark.skipif(not hyperscan_available(), reason="Hyperscan is not installed on this platform")
def test_both_scanners_find_the_same_literals() -> None:
    literals = ["\x1e4624\x1e", "cmd.exe\x1e", "whoami", "ÄÖ", "\x1ec:\\"]
    hay = "\x1ec:\\windows\\cmd.exe\x1e4624\x1enothing äö\x1e".lower()
    assert sorted(HyperscanScanner(literals).scan(hay)) == sorted(AhoCorasickScanner(literals).scan(hay)) \
        == [0, 1, 4]


TWO_LITERAL_SETS = """
title: Two ways in
logsource: {product: windows, category: process_creation}
detection:
    selection:
        Image|endswith: '\\\\common.exe'
        CommandLine|contains: 'rareflag'
    condition: selection
"""


@pytest.mark.parametrize("backend", ["hyperscan", "aho-corasick"])
def test_calibration_switches_to_the_rarer_literal_set_and_stays_exact(
        backend: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    if backend == "hyperscan" and not hyperscan_available():
        pytest.skip("Hyperscan is not installed on this platform")
    monkeypatch.setenv("YAMORI_PREFILTER", backend)
    engine = Engine(ruleset_from_yaml(TWO_LITERAL_SETS), scanner_cache=tmp_path)
    common = {"Image": "C:\\x\\common.exe", "CommandLine": "common.exe /quiet"}
    hit = {"Image": "C:\\x\\common.exe", "CommandLine": "common.exe rareflag"}
    results = [bool(engine.match(event(hit if n % 100 == 0 else common))) for n in range(3200)]
    assert results == [n % 100 == 0 for n in range(3200)]
    plan = engine.plan(PROCESS_CREATION)
    assert plan.hits is None  # calibrated: no more counting
    assert engine.candidates(event(common)) == []  # the rare literal was chosen
    assert engine.candidates(event(hit)) == [0]


@pytest.mark.parametrize("text", ["10.0.0.5", "010.0.0.5", "10.0.0.256", "1.2.3", "::1", "fe80::1%eth0", " 10.0.0.5",
                                  "::ffff:10.0.0.5", "10.0.0.5\n", "0.0.0.0", "255.255.255.255", "1.2.3.04"])
def test_fast_ip_parsing_agrees_with_ipaddress(text: str) -> None:
    import ipaddress

    from yamori.engine.runtime import _ip_number

    try:
        address = ipaddress.ip_address(text)
        expected: tuple[int, int] | None = (address.version, int(address))
    except ValueError:
        expected = None
    assert _ip_number(text) == expected
