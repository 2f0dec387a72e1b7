"""Tests of the reference evaluator (yamori.engine.oracle) on hand-written rules and events.

Each rule is built from YAML with SigmaRule.from_yaml and checked against events that must match and events
that must not. The semantics tested are those of docs/semantics.md.
"""

from __future__ import annotations

import base64
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sigma.exceptions import SigmaError
from sigma.modifiers import modifier_mapping
from sigma.rule import SigmaDetectionItem, SigmaRule
from sigma.types import SigmaCasedString, SigmaString

from yamori.engine.oracle import oracle_match, sigma_string_to_regex, string_form
from yamori.exceptions import RuleError, UnsupportedRuleError

HEADER = """\
title: oracle test
logsource:
    product: windows
detection:
"""


def rule(detection: str) -> SigmaRule:
    """A rule whose detection section is ``detection`` (YAML, indented freely)."""
    body = textwrap.indent(textwrap.dedent(detection).strip("\n"), "    ")
    return SigmaRule.from_yaml(HEADER + body + "\n")


def check(
    sigma_rule: SigmaRule,
    matching: Iterable[Mapping[str, Any]],
    not_matching: Iterable[Mapping[str, Any]],
    placeholders: Mapping[str, Sequence[str]] | None = None,
) -> None:
    for event in matching:
        assert oracle_match(sigma_rule, event, placeholders), f"should match: {event!r}"
    for event in not_matching:
        assert not oracle_match(sigma_rule, event, placeholders), f"should not match: {event!r}"


# ----------------------------------------------------------------------------------------------------
# Plain strings, wildcards, escaping, case
# ----------------------------------------------------------------------------------------------------


def test_plain_string_is_whole_value_ignoring_case() -> None:
    r = rule(r"""
        sel:
            Image: 'C:\Windows\System32\cmd.exe'
        condition: sel
    """)
    check(
        r,
        [{"Image": r"C:\Windows\System32\cmd.exe"}, {"Image": r"c:\windows\system32\CMD.EXE"}],
        [
            {"Image": r"C:\Windows\System32\cmd.exe "},
            {"Image": r"D:\C:\Windows\System32\cmd.exe"},
            {"image": r"C:\Windows\System32\cmd.exe"},
            {},
        ],
    )


def test_case_insensitivity_is_unicode_aware() -> None:
    r = rule("""
        sel:
            User: 'ÉLODIE'
        condition: sel
    """)
    check(r, [{"User": "élodie"}, {"User": "Élodie"}], [{"User": "elodie"}])


def test_multi_wildcard_matches_any_run_including_newlines() -> None:
    r = rule(r"""
        sel:
            CommandLine: '*\powershell.exe*-enc*'
        condition: sel
    """)
    check(
        r,
        [
            {"CommandLine": r"C:\x\powershell.exe -enc AAA"},
            {"CommandLine": "\\powershell.exe\n-ENC"},
            {"CommandLine": r"\POWERSHELL.EXE-enc"},
        ],
        [{"CommandLine": "powershell.exe -enc"}, {"CommandLine": r"\powershell.exe -e"}],
    )


def test_single_wildcard_matches_exactly_one_character() -> None:
    r = rule("""
        sel:
            Name: 'prog?.exe'
        condition: sel
    """)
    check(
        r,
        [{"Name": "progA.exe"}, {"Name": "prog1.EXE"}, {"Name": "prog\n.exe"}],
        [{"Name": "prog.exe"}, {"Name": "progAB.exe"}],
    )


def test_escaped_wildcards_are_literal() -> None:
    r = rule(r"""
        star:
            Value: 'a\*b'
        question:
            Value: 'a\?b'
        condition: star or question
    """)
    check(r, [{"Value": "a*b"}, {"Value": "a?b"}, {"Value": "A*B"}], [{"Value": "axb"}, {"Value": "ab"}])


def test_escaped_backslash_before_wildcard() -> None:
    # '\\*' is a literal backslash followed by a real wildcard
    r = rule(r"""
        sel:
            Path: 'C:\\*'
        condition: sel
    """)
    check(r, [{"Path": "C:\\"}, {"Path": "C:\\Windows"}], [{"Path": "C:"}, {"Path": "C:*"}, {"Path": "C:/x"}])
    # '\\\*' is a literal backslash followed by a literal star
    r = rule(r"""
        sel:
            Path: 'C:\\\*'
        condition: sel
    """)
    check(r, [{"Path": "C:\\*"}], [{"Path": "C:\\"}, {"Path": "C:\\x"}])


def test_single_backslash_not_before_wildcard_is_literal() -> None:
    r = rule(r"""
        sel:
            Path: 'a\b\\c'
        condition: sel
    """)
    check(r, [{"Path": "a\\b\\c"}], [{"Path": "a\\b\\\\c"}, {"Path": "abc"}])


def test_regex_metacharacters_in_plain_strings_are_literal() -> None:
    r = rule(r"""
        sel:
            Value: 'a.b(c)+[d]$'
        condition: sel
    """)
    check(r, [{"Value": "a.b(c)+[d]$"}], [{"Value": "axb(c)+[d]$"}, {"Value": "a.bcc[d]"}])


# ----------------------------------------------------------------------------------------------------
# contains / startswith / endswith / all / cased
# ----------------------------------------------------------------------------------------------------


def test_contains() -> None:
    r = rule("""
        sel:
            CommandLine|contains: 'mimikatz'
        condition: sel
    """)
    check(
        r,
        [{"CommandLine": "run MimiKatz.exe now"}, {"CommandLine": "mimikatz"}],
        [{"CommandLine": "mimi katz"}, {"CommandLine": ""}, {"Other": "mimikatz"}],
    )


def test_startswith_and_endswith() -> None:
    starts = rule("""
        sel:
            Image|startswith: 'C:\\Temp\\'
        condition: sel
    """)
    check(starts, [{"Image": "c:\\temp\\x.exe"}, {"Image": "C:\\Temp\\"}], [{"Image": "D:\\C:\\Temp\\x"}])
    ends = rule("""
        sel:
            Image|endswith: '\\cmd.exe'
        condition: sel
    """)
    check(ends, [{"Image": "C:\\x\\CMD.exe"}, {"Image": "\\cmd.exe"}], [{"Image": "C:\\cmd.exe.bak"}])


def test_contains_keeps_wildcards_inside_the_value() -> None:
    r = rule("""
        sel:
            CommandLine|contains: 'net*user'
        condition: sel
    """)
    check(r, [{"CommandLine": "x net1 user y"}, {"CommandLine": "NETUSER"}], [{"CommandLine": "user net"}])


def test_list_of_values_is_or_linked_and_all_makes_it_and() -> None:
    any_of = rule("""
        sel:
            CommandLine|contains:
                - ' -enc '
                - ' -e '
        condition: sel
    """)
    check(any_of, [{"CommandLine": "ps -enc x"}, {"CommandLine": "ps -e x"}], [{"CommandLine": "ps -x x"}])
    all_of = rule("""
        sel:
            CommandLine|contains|all:
                - 'net'
                - 'user'
                - '/add'
        condition: sel
    """)
    check(
        all_of,
        [{"CommandLine": "net user bob pw /add"}, {"CommandLine": "/ADD USER NET"}],
        [{"CommandLine": "net user bob"}, {"CommandLine": "net /add"}],
    )


def test_cased() -> None:
    r = rule("""
        sel:
            Value|cased: 'Foo*'
        condition: sel
    """)
    check(r, [{"Value": "Foobar"}, {"Value": "Foo"}], [{"Value": "foobar"}, {"Value": "FOO"}])
    r = rule("""
        sel:
            Value|contains|cased: 'EvIl'
        condition: sel
    """)
    check(r, [{"Value": "xxEvIlxx"}], [{"Value": "xxevilxx"}, {"Value": "EVIL"}])


# ----------------------------------------------------------------------------------------------------
# Regular expressions
# ----------------------------------------------------------------------------------------------------


def test_re_is_unanchored_search_and_case_sensitive() -> None:
    r = rule(r"""
        sel:
            CommandLine|re: 'ab+c\d'
        condition: sel
    """)
    check(
        r, [{"CommandLine": "xxabbbc1yy"}, {"CommandLine": "abc9"}], [{"CommandLine": "ABC1"}, {"CommandLine": "ac1"}]
    )
    anchored = rule(r"""
        sel:
            CommandLine|re: '^abc$'
        condition: sel
    """)
    check(anchored, [{"CommandLine": "abc"}], [{"CommandLine": "xabc"}, {"CommandLine": "abcx"}])


def test_re_keeps_star_and_question_mark_as_regex_syntax() -> None:
    r = rule(r"""
        sel:
            Value|re: '^colou?r\*?s*$'
        condition: sel
    """)
    check(r, [{"Value": "color"}, {"Value": "colour*sss"}], [{"Value": "colouur"}, {"Value": "color**"}])


def test_re_flag_i() -> None:
    r = rule("""
        sel:
            Value|re|i: '^hello world$'
        condition: sel
    """)
    check(r, [{"Value": "HELLO World"}], [{"Value": "HELLO  World"}])


def test_re_flag_m() -> None:
    plain = rule("""
        sel:
            Value|re: '^second$'
        condition: sel
    """)
    multi = rule("""
        sel:
            Value|re|m: '^second$'
        condition: sel
    """)
    event = {"Value": "first\nsecond\nthird"}
    check(multi, [event], [{"Value": "first\nsecondx"}])
    check(plain, [{"Value": "second"}], [event])


def test_re_flag_s() -> None:
    plain = rule("""
        sel:
            Value|re: 'a.b'
        condition: sel
    """)
    dotall = rule("""
        sel:
            Value|re|s: 'a.b'
        condition: sel
    """)
    check(dotall, [{"Value": "a\nb"}, {"Value": "axb"}], [{"Value": "ab"}])
    check(plain, [{"Value": "axb"}], [{"Value": "a\nb"}])


def test_re_long_flag_names_and_combined_flags() -> None:
    r = rule("""
        sel:
            Value|re|ignorecase|multiline|dotall: '^A.B$'
        condition: sel
    """)
    check(r, [{"Value": "x\na\nb\ny"}, {"Value": "AxB"}], [{"Value": "xa\nb"}])


def test_re_with_contains_wraps_alternation() -> None:
    # pySigma writes '.*(?:ab|cd).*': the alternation stays grouped
    r = rule("""
        sel:
            Value|re|contains: 'ab|cd'
        condition: sel
    """)
    check(r, [{"Value": "xxcdxx"}, {"Value": "ab"}], [{"Value": "ac"}])


def test_re_invalid_for_python_is_unsupported() -> None:
    # valid for RE2 (pySigma's default validation engine), not for Python's re
    r = rule(r"""
        sel:
            Value|re: 'abc\z'
        condition: sel
    """)
    with pytest.raises(UnsupportedRuleError, match="regular expression"):
        oracle_match(r, {"Value": "abc"})


# ----------------------------------------------------------------------------------------------------
# Encodings: base64, base64offset, wide / utf16*, windash
# ----------------------------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_base64() -> None:
    r = rule("""
        sel:
            Value|base64: 'cmd.exe /c'
        condition: sel
    """)
    check(r, [{"Value": b64(b"cmd.exe /c")}], [{"Value": "cmd.exe /c"}, {"Value": b64(b"cmd.exe /c ")}])
    r = rule("""
        sel:
            Value|base64|contains: 'http://'
        condition: sel
    """)
    check(r, [{"Value": "x" + b64(b"http://") + "y"}], [{"Value": b64(b"x http://")}])


def test_base64offset_matches_each_offset() -> None:
    r = rule("""
        sel:
            Value|base64offset|contains: 'Invoke-Mimikatz'
        condition: sel
    """)
    needle = b"Invoke-Mimikatz"
    events = [
        {"Value": b64(prefix + needle + suffix)}
        for prefix in (b"", b"a", b"ab", b"abc")
        for suffix in (b"", b"!", b"!!", b"!!!")
    ]
    check(r, events, [{"Value": b64(b"Invoke_Mimikatz")}, {"Value": "Invoke-Mimikatz"}])


def test_wide_is_utf16le() -> None:
    r = rule("""
        sel:
            Value|wide: 'cmd'
        condition: sel
    """)
    check(
        r,
        [{"Value": "c\x00m\x00d\x00"}, {"Value": "C\x00M\x00D\x00"}],
        [{"Value": "cmd"}, {"Value": "\x00c\x00m\x00d"}],
    )


def test_wide_base64offset_finds_utf16le_powershell() -> None:
    r = rule("""
        sel:
            CommandLine|wide|base64offset|contains: 'Invoke-'
        condition: sel
    """)
    for prefix in ("", "a", "ab"):
        encoded = b64((prefix + "powershell Invoke-Thing").encode("utf-16le"))
        check(r, [{"CommandLine": "powershell -enc " + encoded}], [])
    check(r, [], [{"CommandLine": b64(b"Invoke-Thing")}])


def test_utf16le_is_not_a_pysigma_modifier() -> None:
    """The specification lists `utf16le` (with `wide` as its alias); pySigma 2.0 only knows `wide`.

    When pySigma adds `utf16le`, this test fails: then test it like `wide` above.
    """
    assert "utf16le" not in modifier_mapping
    with pytest.raises(SigmaError):
        rule("""
            sel:
                Value|utf16le: 'cmd'
            condition: sel
        """)


def test_utf16be_and_utf16_with_bom() -> None:
    be = rule("""
        sel:
            Value|utf16be|base64: 'cmd'
        condition: sel
    """)
    check(be, [{"Value": b64("cmd".encode("utf-16be"))}], [{"Value": b64("cmd".encode("utf-16le"))}])
    bom = rule("""
        sel:
            Value|utf16|base64: 'cmd'
        condition: sel
    """)
    check(bom, [{"Value": b64(b"\xff\xfe" + "cmd".encode("utf-16le"))}], [{"Value": b64("cmd".encode("utf-16le"))}])
    assert b64(b"\xff\xfe" + "cmd".encode("utf-16le")) == "//5jAG0AZAA="


def test_windash() -> None:
    r = rule("""
        sel:
            CommandLine|windash|contains: ' -exec bypass'
        condition: sel
    """)
    check(
        r,
        [{"CommandLine": f"powershell {dash}exec bypass"} for dash in ("-", "/", "\u2013", "\u2014", "\u2015")],
        [{"CommandLine": "powershell exec bypass"}, {"CommandLine": "powershell _exec bypass"}],
    )


def test_windash_expansions_stay_or_linked_under_all() -> None:
    r = rule("""
        sel:
            CommandLine|windash|contains|all:
                - ' -a'
                - ' -b'
        condition: sel
    """)
    check(
        r, [{"CommandLine": "x /a -b"}, {"CommandLine": "x -a /b"}], [{"CommandLine": "x /a"}, {"CommandLine": "x -b"}]
    )


# ----------------------------------------------------------------------------------------------------
# cidr, comparisons, exists, fieldref, timestamp parts, neq
# ----------------------------------------------------------------------------------------------------


def test_cidr_ipv4() -> None:
    r = rule("""
        sel:
            DestinationIp|cidr: '10.0.0.0/8'
        condition: sel
    """)
    check(
        r,
        [
            {"DestinationIp": "10.1.2.3"},
            {"DestinationIp": "10.255.255.255"},
            {"DestinationIp": ["1.1.1.1", "10.0.0.1"]},
        ],
        [
            {"DestinationIp": "11.0.0.1"},
            {"DestinationIp": "10.0.0"},
            {"DestinationIp": "::ffff:10.0.0.1"},
            {"DestinationIp": 167772161},
            {"DestinationIp": "not an ip"},
            {"DestinationIp": None},
            {},
        ],
    )


def test_cidr_ipv6() -> None:
    r = rule("""
        sel:
            DestinationIp|cidr: 'fe80::/10'
        condition: sel
    """)
    check(
        r,
        [{"DestinationIp": "fe80::1"}, {"DestinationIp": "FE80::ABCD:1"}, {"DestinationIp": "febf:ffff::1"}],
        [{"DestinationIp": "fec0::1"}, {"DestinationIp": "10.0.0.1"}, {"DestinationIp": "2001:db8::1"}],
    )


def test_cidr_list_is_or_linked() -> None:
    r = rule("""
        sel:
            DestinationIp|cidr:
                - '192.168.0.0/16'
                - '127.0.0.0/8'
        condition: sel
    """)
    check(r, [{"DestinationIp": "127.0.0.1"}, {"DestinationIp": "192.168.1.1"}], [{"DestinationIp": "8.8.8.8"}])


@pytest.mark.parametrize(
    ("modifier", "matching", "not_matching"),
    [
        ("gt", [6, 5.5, "6", "1e3", 10**20], [5, 4.9, "5", "abc", True, None, " 6", "0x10"]),
        ("gte", [5, 5.0, "5", "5.0", "+7"], [4, "4.99", False, "five"]),
        ("lt", [4, -1, "4.9", "-3", ".5"], [5, 6, "5", "", "nan"]),
        ("lte", [5, "5", 4.5, "-1e2"], [5.01, "6", "5 ", "1_0"]),
    ],
)
def test_numeric_comparisons(modifier: str, matching: list[Any], not_matching: list[Any]) -> None:
    r = rule(f"""
        sel:
            Count|{modifier}: 5
        condition: sel
    """)
    check(r, [{"Count": value} for value in matching], [{"Count": value} for value in not_matching] + [{}])


def test_comparison_with_float_limit_and_list_values() -> None:
    r = rule("""
        sel:
            Size|gte: 1.5
        condition: sel
    """)
    check(r, [{"Size": 1.5}, {"Size": "2"}, {"Size": [0, "x", 3]}], [{"Size": 1.49}, {"Size": [0, 1]}, {"Size": []}])


def test_exists_true_and_false() -> None:
    present = rule("""
        sel:
            Field|exists: true
        condition: sel
    """)
    absent = rule("""
        sel:
            Field|exists: false
        condition: sel
    """)
    # the Sigma specification: exists checks presence only, "be it empty or null"
    events_with_field: list[dict[str, Any]] = [
        {"Field": "x"},
        {"Field": ""},
        {"Field": None},
        {"Field": []},
        {"Field": 0},
    ]
    events_without: list[dict[str, Any]] = [{}, {"field": "x"}, {"Other": "Field"}]
    check(present, events_with_field, events_without)
    check(absent, events_without, events_with_field)


def test_fieldref_equal_ignoring_case() -> None:
    r = rule("""
        sel:
            SourceUser|fieldref: TargetUser
        condition: sel
    """)
    check(
        r,
        [
            {"SourceUser": "Bob", "TargetUser": "bob"},
            {"SourceUser": 4, "TargetUser": "4"},
            {"SourceUser": ["a", "b"], "TargetUser": ["c", "B"]},
        ],
        [
            {"SourceUser": "bob", "TargetUser": "bobby"},
            {"SourceUser": "bob"},
            {"TargetUser": "bob"},
            {"SourceUser": None, "TargetUser": None},
            {"SourceUser": "x*", "TargetUser": "x"},
        ],
    )


def test_fieldref_with_startswith_endswith_contains() -> None:
    starts = rule("""
        sel:
            Path|fieldref|startswith: Dir
        condition: sel
    """)
    check(starts, [{"Path": "C:\\Dir\\x", "Dir": "c:\\dir"}], [{"Path": "x C:\\Dir", "Dir": "C:\\Dir"}])
    ends = rule("""
        sel:
            Path|fieldref|endswith: Name
        condition: sel
    """)
    check(ends, [{"Path": "C:\\a\\B.exe", "Name": "b.exe"}], [{"Path": "b.exe.bak", "Name": "b.exe"}])
    contains = rule("""
        sel:
            CommandLine|fieldref|contains: User
        condition: sel
    """)
    check(
        contains,
        [{"CommandLine": "net user BOB /add", "User": "bob"}],
        [{"CommandLine": "net user /add", "User": "bob"}, {"CommandLine": "net user bob"}],
    )


def test_fieldref_wildcards_in_referenced_value_are_literal() -> None:
    r = rule("""
        sel:
            A|fieldref|contains: B
        condition: sel
    """)
    check(r, [{"A": "x*y", "B": "*"}], [{"A": "xy", "B": "*"}, {"A": "xy", "B": "?"}])


def test_fieldref_with_neq() -> None:
    r = rule("""
        sel:
            ParentUser|fieldref|neq: User
        condition: sel
    """)
    check(
        r,
        [{"ParentUser": "a", "User": "b"}, {"User": "b"}],
        [{"ParentUser": "A", "User": "a"}],
    )


@pytest.mark.parametrize(
    ("modifier", "number"),
    [("minute", 37), ("hour", 13), ("day", 5), ("week", 9), ("month", 3), ("year", 2021)],
)
def test_timestamp_parts(modifier: str, number: int) -> None:
    r = rule(f"""
        sel:
            UtcTime|{modifier}: {number}
        condition: sel
    """)
    matching = [
        "2021-03-05T13:37:00Z",
        "2021-03-05T13:37:00.1234567Z",
        "2021-03-05 13:37:00.000",  # no offset: UTC
        "2021-03-05T15:37:00+02:00",  # converted to UTC
        1614951420,  # epoch seconds
        1614951420.5,
        "1614951420",
    ]
    not_matching = ["2022-04-06T14:38:00Z", "not a time", "", True, None]
    check(r, [{"UtcTime": value} for value in matching], [{"UtcTime": value} for value in not_matching] + [{}])


def test_week_is_iso_week() -> None:
    r = rule("""
        sel:
            UtcTime|week: 53
        condition: sel
    """)
    check(r, [{"UtcTime": "2021-01-01T00:00:00Z"}], [{"UtcTime": "2021-01-04T00:00:00Z"}])


def test_neq_string() -> None:
    r = rule("""
        sel:
            User|neq: 'SYSTEM'
        condition: sel
    """)
    check(
        r,
        [{"User": "bob"}, {}, {"User": None}, {"User": ["bob", "alice"]}],
        [{"User": "system"}, {"User": ["bob", "SYSTEM"]}],
    )


def test_neq_list_and_number() -> None:
    r = rule("""
        sel:
            EventID|neq:
                - 4624
                - 4625
        condition: sel
    """)
    check(
        r, [{"EventID": 4688}, {"EventID": "4634"}, {}], [{"EventID": 4624}, {"EventID": "4625"}, {"EventID": 4625.0}]
    )


def test_neq_combined_with_other_items() -> None:
    r = rule("""
        sel:
            EventID: 4688
            Image|endswith|neq: '\\svchost.exe'
        condition: sel
    """)
    check(
        r,
        [{"EventID": 4688, "Image": "C:\\evil.exe"}, {"EventID": 4688}],
        [{"EventID": 4688, "Image": "C:\\Windows\\svchost.exe"}, {"EventID": 1, "Image": "x"}],
    )


# ----------------------------------------------------------------------------------------------------
# expand / placeholders
# ----------------------------------------------------------------------------------------------------


def test_expand_with_placeholders() -> None:
    r = rule("""
        sel:
            Computer|expand: '%DomainControllers%.corp.local'
        condition: sel
    """)
    placeholders = {"DomainControllers": ["dc1", "DC-*"]}  # values are literal: the * is no wildcard
    check(
        r,
        [{"Computer": "DC1.corp.local"}, {"Computer": "dc-*.corp.local"}],
        [{"Computer": "dc2.corp.local"}, {"Computer": "dc-9.corp.local"}, {"Computer": "dc1"}],
        placeholders,
    )


def test_expand_several_placeholders_and_wildcards() -> None:
    r = rule("""
        sel:
            Path|expand|startswith: '%Drive%\\%Dir%\\'
        condition: sel
    """)
    placeholders = {"Drive": ["C:", "D:"], "Dir": ["Temp"]}
    check(r, [{"Path": "d:\\temp\\x.exe"}], [{"Path": "E:\\Temp\\x"}, {"Path": "C:\\Tmp\\x"}], placeholders)


def test_expand_with_regex() -> None:
    r = rule("""
        sel:
            User|re|expand: '^%Admins%$'
        condition: sel
    """)
    check(r, [{"User": "root"}, {"User": "a.b"}], [{"User": "axb"}, {"User": "Root"}], {"Admins": ["root", "a.b"]})


def test_missing_placeholder_raises_naming_it() -> None:
    r = rule("""
        sel:
            Computer|expand: '%Workstations%'
        condition: sel
    """)
    with pytest.raises(UnsupportedRuleError, match="Workstations"):
        oracle_match(r, {"Computer": "x"})
    with pytest.raises(UnsupportedRuleError, match="Workstations"):
        oracle_match(r, {"Computer": "x"}, {"Workstations": []})
    with pytest.raises(UnsupportedRuleError, match="Workstations"):
        oracle_match(r, {}, {"Servers": ["s1"]})


def test_missing_placeholder_raises_whatever_the_event() -> None:
    # the placeholder sits in a branch the event does not need: the rule is still not evaluable
    r = rule("""
        sel:
            EventID: 1
        other:
            Computer|expand: '%Servers%'
        condition: sel or other
    """)
    with pytest.raises(UnsupportedRuleError, match="Servers"):
        oracle_match(r, {"EventID": 1})


def test_percent_without_expand_is_literal() -> None:
    r = rule("""
        sel:
            Value: '%Servers%'
        condition: sel
    """)
    check(r, [{"Value": "%servers%"}], [{"Value": "srv1"}], {"Servers": ["srv1"]})


# ----------------------------------------------------------------------------------------------------
# null, empty, numbers, booleans
# ----------------------------------------------------------------------------------------------------


def test_null_matches_absent_or_none() -> None:
    r = rule("""
        sel:
            PasswordLastSet: null
        condition: sel
    """)
    check(
        r,
        [{}, {"PasswordLastSet": None}, {"PasswordLastSet": [None, "x"]}],
        [{"PasswordLastSet": ""}, {"PasswordLastSet": "x"}, {"PasswordLastSet": 0}, {"PasswordLastSet": []}],
    )


def test_empty_value_list_is_null() -> None:
    r = rule("""
        sel:
            Field: []
        condition: sel
    """)
    check(r, [{}, {"Field": None}], [{"Field": ""}])


def test_not_null_through_a_negated_selection() -> None:
    r = rule("""
        sel:
            EventID: 4738
        filter:
            PasswordLastSet: null
        condition: sel and not filter
    """)
    check(
        r,
        [{"EventID": 4738, "PasswordLastSet": "x"}, {"EventID": 4738, "PasswordLastSet": ""}],
        [{"EventID": 4738}, {"EventID": 4738, "PasswordLastSet": None}],
    )


def test_empty_string_matches_present_empty_value() -> None:
    r = rule("""
        sel:
            Description: ''
        condition: sel
    """)
    check(
        r,
        [{"Description": ""}, {"Description": ["x", ""]}],
        [{}, {"Description": None}, {"Description": " "}, {"Description": "x"}, {"Description": []}],
    )


def test_numbers() -> None:
    r = rule("""
        sel:
            EventID: 4688
        condition: sel
    """)
    check(
        r,
        [{"EventID": 4688}, {"EventID": "4688"}, {"EventID": 4688.0}, {"EventID": [1, 4688]}],
        [
            {"EventID": "4688.0"},
            {"EventID": "04688"},
            {"EventID": " 4688"},
            {"EventID": 4689},
            {"EventID": "4688 "},
            {"EventID": None},
            {},
        ],
    )


def test_number_written_as_string_in_rule() -> None:
    r = rule("""
        sel:
            EventID: '4688'
        condition: sel
    """)
    check(r, [{"EventID": 4688}, {"EventID": "4688"}, {"EventID": 4688.0}], [{"EventID": "4688.0"}, {"EventID": 46880}])


def test_float_numbers() -> None:
    r = rule("""
        sel:
            Version: 1.5
        condition: sel
    """)
    check(r, [{"Version": 1.5}, {"Version": "1.5"}], [{"Version": "1.50"}, {"Version": 1.25}, {"Version": "1,5"}])
    integral = rule("""
        sel:
            Version: 4.0
        condition: sel
    """)
    check(integral, [{"Version": 4}, {"Version": "4"}, {"Version": 4.0}], [{"Version": "4.0"}])


def test_number_is_not_a_boolean() -> None:
    r = rule("""
        sel:
            Flag: 1
        condition: sel
    """)
    check(r, [{"Flag": 1}, {"Flag": "1"}], [{"Flag": True}, {"Flag": "true"}])


def test_booleans() -> None:
    r = rule("""
        sel:
            Enabled: true
        condition: sel
    """)
    check(
        r,
        [{"Enabled": True}, {"Enabled": "true"}, {"Enabled": "TRUE"}, {"Enabled": "True"}],
        [{"Enabled": False}, {"Enabled": 1}, {"Enabled": "1"}, {"Enabled": "false"}, {"Enabled": "yes"}, {}],
    )
    false = rule("""
        sel:
            Enabled: false
        condition: sel
    """)
    check(false, [{"Enabled": False}, {"Enabled": "False"}], [{"Enabled": True}, {"Enabled": 0}, {"Enabled": None}])


def test_string_true_matches_json_boolean() -> None:
    r = rule("""
        sel:
            Enabled: 'true'
        condition: sel
    """)
    check(r, [{"Enabled": True}, {"Enabled": "TRUE"}], [{"Enabled": False}, {"Enabled": 1}])


# ----------------------------------------------------------------------------------------------------
# Structure: maps, lists of maps, conditions
# ----------------------------------------------------------------------------------------------------


def test_map_is_and_list_of_maps_is_or() -> None:
    r = rule("""
        sel:
            - EventID: 1
              Image|endswith: '\\a.exe'
            - EventID: 2
        condition: sel
    """)
    check(
        r,
        [{"EventID": 1, "Image": "C:\\a.exe"}, {"EventID": 2}, {"EventID": 2, "Image": "x"}],
        [{"EventID": 1}, {"EventID": 1, "Image": "C:\\b.exe"}, {"Image": "C:\\a.exe"}],
    )


def test_field_with_value_list_inside_map() -> None:
    r = rule("""
        sel:
            EventLog: Security
            EventID:
                - 517
                - 1102
        condition: sel
    """)
    check(
        r,
        [{"EventLog": "security", "EventID": 517}, {"EventLog": "Security", "EventID": "1102"}],
        [{"EventLog": "Security", "EventID": 518}, {"EventID": 517}],
    )


@pytest.mark.parametrize(
    ("condition", "truth"),
    [
        ("a and b", lambda a, b, c: a and b),
        ("a or b", lambda a, b, c: a or b),
        ("not a", lambda a, b, c: not a),
        ("a and not b", lambda a, b, c: a and not b),
        ("a or b and c", lambda a, b, c: a or (b and c)),
        ("(a or b) and c", lambda a, b, c: (a or b) and c),
        ("not a or b", lambda a, b, c: (not a) or b),
        ("not (a or b)", lambda a, b, c: not (a or b)),
        ("a and (b or not c)", lambda a, b, c: a and (b or not c)),
    ],
)
def test_conditions(condition: str, truth: Any) -> None:
    r = rule(f"""
        a:
            A: 1
        b:
            B: 1
        c:
            C: 1
        condition: {condition}
    """)
    for bits in range(8):
        a, b, c = bool(bits & 1), bool(bits & 2), bool(bits & 4)
        event = {name: 1 if on else 0 for name, on in (("A", a), ("B", b), ("C", c))}
        assert oracle_match(r, event) == truth(a, b, c), (condition, event)


def test_one_of_and_all_of_patterns() -> None:
    detection = """
        selection_a:
            A: 1
        selection_b:
            B: 1
        filter:
            F: 1
        condition: {}
    """
    one = rule(detection.format("1 of selection_* and not filter"))
    check(one, [{"A": 1}, {"B": 1}, {"A": 1, "B": 1}], [{}, {"A": 1, "F": 1}, {"F": 1}])
    every = rule(detection.format("all of selection_*"))
    check(every, [{"A": 1, "B": 1}, {"A": 1, "B": 1, "F": 1}], [{"A": 1}, {"B": 1}])
    any_ = rule(detection.format("any of selection*"))
    check(any_, [{"B": 1}], [{"F": 1}])


def test_one_of_them_and_all_of_them_skip_underscore_identifiers() -> None:
    detection = """
        sel1:
            A: 1
        sel2:
            B: 1
        _hidden:
            H: 1
        condition: {}
    """
    one = rule(detection.format("1 of them"))
    check(one, [{"A": 1}, {"B": 1}], [{"H": 1}, {}])
    every = rule(detection.format("all of them"))
    check(every, [{"A": 1, "B": 1}], [{"A": 1, "H": 1}, {"B": 1}])


def test_several_conditions_match_when_any_does() -> None:
    r = rule("""
        sel1:
            A: 1
        sel2:
            B: 1
        condition:
            - sel1
            - sel2
    """)
    check(r, [{"A": 1}, {"B": 1}], [{"A": 2, "B": 2}])


def test_absent_field_in_filter_does_not_block_the_rule() -> None:
    r = rule("""
        sel:
            EventID: 4688
        filter:
            ParentImage|endswith: '\\explorer.exe'
        condition: sel and not filter
    """)
    check(
        r,
        [{"EventID": 4688}, {"EventID": 4688, "ParentImage": "C:\\cmd.exe"}],
        [{"EventID": 4688, "ParentImage": "C:\\Windows\\explorer.exe"}, {"ParentImage": "x"}],
    )


def test_absent_field_makes_item_false_even_for_wildcard_star() -> None:
    r = rule("""
        sel:
            Field: '*'
        condition: sel
    """)
    check(r, [{"Field": ""}, {"Field": "x"}, {"Field": 0}], [{}, {"Field": None}])


def test_multi_valued_fields_match_any_element() -> None:
    r = rule("""
        sel:
            Tags|startswith: 'attack.'
        filter:
            Tags: 'benign'
        condition: sel and not filter
    """)
    check(
        r,
        [{"Tags": ["x", "attack.t1059"]}, {"Tags": "attack.x"}],
        [{"Tags": []}, {"Tags": ["x", "y"]}, {"Tags": ["attack.t1059", "BENIGN"]}],
    )


def test_field_names_are_case_sensitive_and_dotted_names_are_flat() -> None:
    r = rule("""
        sel:
            requestParameters.userName: 'root'
        condition: sel
    """)
    check(
        r,
        [{"requestParameters.userName": "root"}],
        [{"requestparameters.username": "root"}, {"requestParameters": {"userName": "root"}}],
    )


# ----------------------------------------------------------------------------------------------------
# Keywords
# ----------------------------------------------------------------------------------------------------


def test_single_keyword_is_substring_of_any_field_value() -> None:
    r = rule("""
        keywords: 'event::clear'
        condition: keywords
    """)
    check(
        r,
        [{"CommandLine": "mimikatz EVENT::Clear"}, {"A": 1, "B": "xx event::clear"}, {"B": ["y", "event::clear"]}],
        [{"event::clear": "x"}, {"CommandLine": "event:clear"}, {}],
    )


def test_keyword_list_is_or_linked() -> None:
    r = rule("""
        keywords:
            - 'EVILSERVICE'
            - 'svchost.exe -n evil'
        condition: keywords
    """)
    check(r, [{"M": "an evilservice here"}, {"M": "x SVCHOST.exe -n evil"}], [{"M": "svchost.exe -k evil"}])


def test_keywords_with_all_are_and_linked_across_fields() -> None:
    r = rule("""
        keywords:
            '|all':
                - 'OabVirtualDirectory'
                - ' -ExternalUrl '
        condition: keywords
    """)
    check(
        r,
        [{"M": "Set-OabVirtualDirectory -ExternalUrl x"}, {"A": "oabvirtualdirectory", "B": "a -externalurl b"}],
        [{"M": "Set-OabVirtualDirectory"}, {"M": " -ExternalUrl "}],
    )


def test_keyword_wildcards_and_modifiers() -> None:
    wildcard = rule("""
        keywords:
            - 'net*user'
        condition: keywords
    """)
    check(wildcard, [{"M": "x NET1 USER y"}], [{"M": "user net"}])
    regex = rule("""
        keywords:
            '|re': '^[0-9]{3}-x$'
        condition: keywords
    """)
    check(regex, [{"A": "nope", "B": "123-x"}], [{"A": "1234-x"}, {"A": "123-X"}])
    cased = rule("""
        keywords:
            '|cased': 'Evil'
        condition: keywords
    """)
    check(cased, [{"M": "an Evil thing"}], [{"M": "an evil thing"}])
    starts = rule("""
        keywords:
            '|startswith': 'foo'
        condition: keywords
    """)
    # keywords are substring searches: startswith on a keyword searches like contains
    check(starts, [{"M": "foobar"}, {"M": "xfoo"}], [{"M": "fo"}])


def test_keyword_numbers_and_booleans_are_searched_as_text() -> None:
    r = rule("""
        keywords:
            - 4688
        condition: keywords
    """)
    check(r, [{"EventID": 4688}, {"M": "event 4688 seen"}, {"V": 46880}], [{"EventID": 4689}, {"M": "46 88"}])
    b = rule("""
        keywords:
            - true
        condition: keywords
    """)
    check(b, [{"Flag": True}, {"M": "it is TRUE"}], [{"Flag": False}, {"M": 1}])


def test_keyword_cidr_and_comparison() -> None:
    r = rule("""
        keywords:
            '|cidr': '10.0.0.0/8'
        condition: keywords
    """)
    check(r, [{"Src": "1.1.1.1", "Dst": "10.2.3.4"}], [{"Src": "1.1.1.1", "M": "ip 10.2.3.4"}])
    gt = rule("""
        keywords:
            '|gt': 100
        condition: keywords
    """)
    check(gt, [{"A": "x", "B": 101}], [{"A": "x", "B": 100}, {"A": "101 apples"}])


def test_keyword_combined_with_field_selection() -> None:
    r = rule("""
        sel:
            EventID: 1
        keywords:
            - 'evil'
        condition: sel and keywords
    """)
    check(r, [{"EventID": 1, "M": "so EVIL"}], [{"EventID": 1, "M": "good"}, {"EventID": 2, "M": "evil"}])


def test_keywords_that_need_a_field_are_unsupported() -> None:
    null_keyword = rule("""
        keywords:
            - null
        condition: keywords
    """)
    with pytest.raises(UnsupportedRuleError):
        oracle_match(null_keyword, {"A": None})
    fieldref_keyword = rule("""
        keywords:
            '|fieldref': 'A'
        condition: keywords
    """)
    with pytest.raises(UnsupportedRuleError):
        oracle_match(fieldref_keyword, {"A": "x"})


# ----------------------------------------------------------------------------------------------------
# Errors and hygiene
# ----------------------------------------------------------------------------------------------------


def test_undefined_identifier_is_a_rule_error() -> None:
    r = rule("""
        sel:
            A: 1
        condition: sel and nope
    """)
    with pytest.raises(RuleError):
        oracle_match(r, {"A": 1})


def test_oracle_does_not_change_the_rule() -> None:
    r = rule("""
        sel:
            CommandLine|contains|all:
                - 'a'
                - 'b'
            Image|windash: '-x'
        filter:
            User|expand: '%Admins%'
        condition: sel and not filter
    """)
    before = r.to_dict()
    items = [item for item in r.detection.detections["sel"].detection_items if isinstance(item, SigmaDetectionItem)]
    values_before = [list(item.value) for item in items]
    event = {"CommandLine": "ab", "Image": "/x", "User": "bob"}
    results = {oracle_match(r, event, {"Admins": ["root"]}) for _ in range(3)}
    assert results == {True}
    assert r.to_dict() == before
    values_after = [list(item.value) for item in items]
    assert all(
        a is b for old, new in zip(values_before, values_after, strict=True) for a, b in zip(old, new, strict=True)
    )


# ----------------------------------------------------------------------------------------------------
# Helpers: string_form and sigma_string_to_regex
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("x", "x"),
        (True, "true"),
        (False, "false"),
        (4688, "4688"),
        (-3, "-3"),
        (1.5, "1.5"),
        (4.0, "4"),
        (1e20, "100000000000000000000"),
        (1e-05, "1e-05"),
        (None, None),
        ({"a": 1}, None),
    ],
)
def test_string_form(value: Any, text: str | None) -> None:
    assert string_form(value) == text


def test_sigma_string_to_regex() -> None:
    pattern = sigma_string_to_regex(SigmaString(r"a*b?c\*d"), cased=False)
    assert pattern.fullmatch("A-x-B!C*D")
    assert not pattern.fullmatch("ab!c*dx")
    assert not pattern.fullmatch("abc*d")
    cased = sigma_string_to_regex(SigmaCasedString("Ab*"), cased=True)
    assert cased.fullmatch("Abc") and not cased.fullmatch("abc")


def test_sigma_string_to_regex_placeholders() -> None:
    value = SigmaString("%x%-*").insert_placeholders()
    pattern = sigma_string_to_regex(value, cased=False, placeholders={"x": ["a.b", "c"]})
    assert pattern.fullmatch("A.B-1") and pattern.fullmatch("c-") and not pattern.fullmatch("axb-1")
    with pytest.raises(UnsupportedRuleError, match="%x%"):
        sigma_string_to_regex(value, cased=False)


# ----------------------------------------------------------------------------------------------------
# Properties
# ----------------------------------------------------------------------------------------------------


def sigma_escape(text: str) -> str:
    """Escape ``*``, ``?`` and ``\\`` so that Sigma reads ``text`` literally."""
    return re.sub(r"([*?\\])", r"\\\1", text)


def yaml_rule(field_with_modifiers: str, value: Any) -> SigmaRule | None:
    """A rule built from YAML text; None if YAML cannot carry ``value`` unchanged."""
    detection = {"sel": {field_with_modifiers: value}, "condition": "sel"}
    text = yaml.safe_dump(detection, allow_unicode=True)
    if yaml.safe_load(text) != detection:
        return None
    return rule(text)


def simple_case(char: str) -> bool:
    """A character whose upper and lower case are single characters mapping onto each other."""
    upper, lower = char.upper(), char.lower()
    return len(upper) == 1 and len(lower) == 1 and upper.lower() == lower and lower.upper() == upper


texts = st.text(st.characters(codec="utf-8"), max_size=12)
PROPERTY_SETTINGS = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.filter_too_much])


@PROPERTY_SETTINGS
@given(needle=texts.filter(bool), prefix=texts, suffix=texts, flips=st.lists(st.booleans(), min_size=12, max_size=12))
def test_contains_matches_any_embedding_with_case_changes(
    needle: str, prefix: str, suffix: str, flips: list[bool]
) -> None:
    r = yaml_rule("Value|contains", sigma_escape(needle))
    assume(r is not None)
    assert r is not None
    # flips has one entry per character of the needle (both at most 12 long)
    changed = "".join((c.swapcase() if flip and simple_case(c) else c) for c, flip in zip(needle, flips, strict=False))
    assert oracle_match(r, {"Value": prefix + changed + suffix})
    assert oracle_match(r, {"Other": 1, "Value": ["x", prefix + needle + suffix]})
    assert not oracle_match(r, {"Other": prefix + needle + suffix})


@PROPERTY_SETTINGS
@given(text=texts, other=texts)
def test_escaped_string_matches_exactly_itself(text: str, other: str) -> None:
    escaped = sigma_escape(text)
    value = SigmaString(escaped)
    assert value.s == ([text] if text else [])  # pySigma reads it back as one plain part
    assert value.to_plain() == text.replace("*", "\\*").replace("?", "\\?")
    pattern = sigma_string_to_regex(value, cased=True)
    assert pattern.fullmatch(text)
    assert (pattern.fullmatch(other) is not None) == (other == text)


@PROPERTY_SETTINGS
@given(number=st.integers(min_value=-(10**12), max_value=10**12))
def test_integers_match_their_number_and_string_forms(number: int) -> None:
    r = rule(f"""
        sel:
            Value: {number}
        condition: sel
    """)
    check(
        r,
        [{"Value": number}, {"Value": str(number)}, {"Value": float(number)}],
        [{"Value": number + 1}, {"Value": str(number) + "0"}, {"Value": f"{number}.0"}],
    )


@PROPERTY_SETTINGS
@given(
    event_values=st.lists(st.one_of(st.none(), st.integers(-3, 3), st.sampled_from(["a", "B", ""])), max_size=4),
    present=st.booleans(),
)
def test_neq_is_the_negation_of_equality(event_values: list[Any], present: bool) -> None:
    equal = rule("""
        sel:
            F:
                - 1
                - 'b'
        condition: sel
    """)
    different = rule("""
        sel:
            F|neq:
                - 1
                - 'b'
        condition: sel
    """)
    event = {"F": event_values} if present else {}
    assert oracle_match(different, event) == (not oracle_match(equal, event))


@PROPERTY_SETTINGS
@given(
    prefix=st.binary(max_size=5),
    needle=st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=10),
    suffix=st.binary(max_size=5),
)
def test_base64offset_finds_the_value_at_any_offset(prefix: bytes, needle: str, suffix: bytes) -> None:
    r = yaml_rule("Value|base64offset|contains", sigma_escape(needle))
    assert r is not None
    assert oracle_match(r, {"Value": b64(prefix + needle.encode() + suffix)})
