"""Alert context (yamori.triage.context, .inventory, .hours): asset inventory and identities from CSV and YAML,
host and user matching, known vulnerabilities from the real scanner fixture reports, business hours in two time
zones, severity steps and their caps, problems reported for bad rows, and reloading changed files."""

from __future__ import annotations

import os
import shutil
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yamori.alerts.detection import LEVELS
from yamori.triage.context import ContextConfigError, ContextEnricher, criticality_weight, raised_severity
from yamori.triage.hours import BusinessHours
from yamori.triage.inventory import account_name
from yamori.triage.model import TriageAlert

FIXTURES = Path(__file__).parent / "fixtures"
TRIAGE = FIXTURES / "triage"
SCANS = FIXTURES / "vulnerability"
SITES = {
    "paris": {"timezone": "Europe/Paris", "hours": "08:00-18:00", "days": "mon-fri"},
    "newyork": {"timezone": "America/New_York", "hours": "09:00-17:00", "days": "mon-fri"},
}
THURSDAY_UTC = "2026-11-26T15:00:00Z"  # open everywhere: 16:00 Paris, 10:00 New York, 15:00 UTC


def enricher(**config: Any) -> ContextEnricher:
    mapping: dict[str, Any] = {"assets": "context_assets.csv", "identities": "context_identities.yaml",
                               "sites": SITES, "reload_interval": 0}
    mapping.update(config)
    return ContextEnricher.from_config(mapping, TRIAGE)


def alert(level: str = "medium", timestamp: str | None = THURSDAY_UTC, **fields: Any) -> TriageAlert:
    return TriageAlert(alert_id="a1", rule_id="r1", title="test", level=level, timestamp=timestamp, fields=fields)


# --- inventory --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["context_assets.csv", "context_assets.yaml"])
def test_inventory_loads_csv_and_yaml_alike(name: str) -> None:
    context = enricher(assets=name)
    filesrv = context.asset("filesrv01")
    assert filesrv is not None
    assert (filesrv.owner, filesrv.criticality, filesrv.tags, filesrv.site) == (
        "it-ops", "critical", ("windows", "file-server"), "paris")
    assert filesrv.addresses == ("10.20.0.15", "fs.corp.example")
    web = context.asset("web01.corp.example")
    assert web is not None and web.criticality == "high"  # "High" in the file
    assert context.asset("ws-ipv6") is not None and context.asset("ws-ipv6").criticality is None  # type: ignore[union-attr]
    assert context.summary()["assets"] == 7
    assert context.asset("mystery01") is None  # unknown criticality: skipped


def test_csv_and_yaml_inventories_hold_the_same_assets() -> None:
    def strip(context: ContextEnricher) -> list[tuple[Any, ...]]:
        return [(item.host, item.addresses, item.owner, item.criticality, item.tags, item.site)
                for item in context._inventory.assets]
    assert strip(enricher(assets="context_assets.csv")) == strip(enricher(assets="context_assets.yaml"))


@pytest.mark.parametrize(("name", "line_no_host", "line_bad_criticality", "line_bad_site"),
                         [("context_assets.csv", 9, 10, 11), ("context_assets.yaml", 35, 38, 41)])
def test_bad_rows_are_skipped_and_reported_with_file_and_line(name: str, line_no_host: int,
                                                              line_bad_criticality: int, line_bad_site: int) -> None:
    context = enricher(assets=name, identities=None)
    path = TRIAGE / name
    assert f"{path}:{line_no_host}: no host: skipped" in context.problems
    assert any(problem.startswith(f"{path}:{line_bad_criticality}: unknown criticality 'extreme' for mystery01")
               for problem in context.problems)
    assert any(problem.startswith(f"{path}:{line_bad_site}: unknown site 'atlantis'") for problem in context.problems)
    assert len(context.problems) == 3
    # a host on an unknown site is kept and gets the default site's hours
    enriched = context.enrich(alert(Computer="laptop07"))
    assert enriched.context["asset"]["owner"] == "alice" and enriched.context["site"] == "default"


@pytest.mark.parametrize(("query", "expected"), [
    ("filesrv01", "filesrv01"),
    ("FILESRV01", "filesrv01"),
    ("filesrv01.corp.example", "filesrv01"),  # FQDN in the event, short name in the inventory
    ("FileSrv01.Other.Domain.", "filesrv01"),
    ("web01", "web01.corp.example"),  # short name in the event, FQDN in the inventory
    ("WEB01.CORP.EXAMPLE", "web01.corp.example"),
    ("web01.dmz.example", None),  # another domain's web01 is another host
    ("10.20.0.15", "filesrv01"),
    ("fs.corp.example", "filesrv01"),  # an alias
    ("fs", "filesrv01"),
    ("192.0.2.20", "cms"),
    ("2001:db8::1f", "ws-ipv6"),  # IPv6 compared in canonical form
    ("[2001:0db8::001f]", "ws-ipv6"),
    ("registry.example.com/shop/api", "shopapi"),
    ("10.20.0.16", None),
    ("filesrv02", None),
    ("", None),
])
def test_host_matching(query: str, expected: str | None) -> None:
    asset = enricher().asset(query)
    assert (asset.host if asset else None) == expected


def test_ambiguous_short_name_matches_no_asset_and_is_reported(tmp_path: Path) -> None:
    (tmp_path / "assets.csv").write_text("host,criticality\nweb01.corp.example,critical\nweb01.dmz.example,low\n"
                                         "web01.corp.example,low\n")
    context = ContextEnricher.from_config({"assets": "assets.csv"}, tmp_path)
    assert context.asset("web01") is None
    assert context.asset("web01.dmz.example").criticality == "low"  # type: ignore[union-attr]
    assert any("short name 'web01' is ambiguous" in problem for problem in context.problems)
    assert any(problem.startswith(f"{tmp_path / 'assets.csv'}:4: host web01.corp.example already listed at")
               for problem in context.problems)


def test_the_alert_ip_finds_the_asset_when_the_host_does_not() -> None:
    enriched = enricher().enrich(alert(**{"source.ip": "10.20.0.15", "host.name": "unknown-box"}))
    assert enriched.context["asset"]["host"] == "filesrv01"


# --- identities -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("identities", ["context_identities.yaml", "context_identities.csv"])
@pytest.mark.parametrize(("user", "expected"), [
    ("alice", "alice"), ("ALICE", "alice"), ("CORP\\alice", "alice"), ("corp\\Alice", "alice"),
    ("alice@corp.com", "alice"), ("Alice@other.example", "alice"), ("A.Smith", "alice"),
    ("OTHER\\a.smith", "alice"), ("bob.admin", "bob.admin"), ("adm-bob@corp.com", "bob.admin"),
    ("CORP\\ADM-BOB", "bob.admin"), ("arn:aws:iam::123456789012:user/carol", "carol"),
    ("mallory", None), ("dave", None), ("", None),
])
def test_identity_matching_strips_domain_forms(identities: str, user: str, expected: str | None) -> None:
    identity = enricher(identities=identities).identity(user)
    assert (identity.user if identity else None) == expected


@pytest.mark.parametrize("identities", ["context_identities.yaml", "context_identities.csv"])
def test_identities_fields_and_problems(identities: str) -> None:
    context = enricher(assets=None, identities=identities)
    bob = context.identity("CORP\\bob.admin")
    carol = context.identity("carol")
    assert bob is not None and (bob.department, bob.privileged, bob.site) == ("IT", True, "newyork")
    assert carol is not None and carol.privileged  # YAML yes / CSV "yes"
    assert not context.identity("alice").privileged  # type: ignore[union-attr]
    path = TRIAGE / identities
    assert len(context.problems) == 2
    assert any(problem.startswith(f"{path}:") and "no user: skipped" in problem for problem in context.problems)
    assert any("privileged must be true or false, not 'maybe', for dave: skipped" in problem
               for problem in context.problems)
    enriched = context.enrich(alert(TargetUserName="CORP\\bob.admin"))
    assert enriched.context["identity"] == {"user": "bob.admin", "department": "IT", "privileged": True,
                                            "site": "newyork"}


def test_account_name() -> None:
    assert account_name("  CORP\\Alice ") == "alice"
    assert account_name("alice@corp.example") == "alice"
    assert account_name("NT AUTHORITY\\SYSTEM") == "system"
    assert account_name("\\") is None


# --- vulnerabilities from the real scanner reports ----------------------------------------------------------------

REPORTS = [str(SCANS / name) for name in ("weekly_internal.nessus", "gvm_get_reports_response.xml",
                                          "openvas9_export.xml", "trivy_image.json", "grype_image.json")]


def ids(enriched: TriageAlert) -> list[tuple[str, str, float | None]]:
    return [(item["id"], item["severity"], item["cvss"]) for item in enriched.context["asset"]["vulnerabilities"]]


def test_vulnerabilities_from_nessus_openvas_trivy_and_grype_attach_to_assets() -> None:
    context = enricher(vulnerability_reports=REPORTS)
    assert not [problem for problem in context.problems if str(SCANS) in problem]
    # Nessus: filesrv01.corp.example (report) -> filesrv01 (inventory), most severe first, info findings left out
    filesrv = context.enrich(alert(Computer="FILESRV01"))
    assert ids(filesrv) == [("CVE-2017-0143", "Critical", 9.8), ("CVE-2017-0144", "Critical", 9.8),
                            ("CVE-2017-0145", "Critical", 9.8), ("900102", "Medium", 4.0)]
    assert filesrv.context["asset"]["vulnerability_count"] == 4
    web = context.enrich(alert(**{"host.name": "web01"}))
    assert [item[0] for item in ids(web)] == ["CVE-2023-43622", "CVE-2023-45802", "51192", "900203"]
    # OpenVAS (GMP response): by name, and by IP only for a result without a host name
    portal = context.enrich(alert(**{"host.name": "portal"}))
    assert ids(portal)[:2] == [("CVE-2021-44228", "Critical", 10.0), ("CVE-2021-45046", "Critical", 10.0)]
    assert ids(context.enrich(alert(Computer="cms.dmz.example"))) == [("CVE-1999-0524", "Low", 2.1)]
    # Trivy: the container image listed as the asset's address
    shop = context.enrich(alert(**{"host.name": "shopapi"}))
    assert ids(shop)[0] == ("CVE-2023-45853", "Critical", 9.8)
    assert ("TEMP-0290435-0B57B5", "Low", None) in ids(shop)
    # hosts the scanners saw but the inventory does not list still get their findings
    scanned = context.enrich(alert(**{"source.ip": "172.16.5.9"}))
    assert scanned.context["asset"]["in_inventory"] is False
    assert scanned.context["asset"]["criticality"] is None
    assert ("CVE-2017-0146", "Critical", 9.3) in ids(scanned)
    by_ip = context.enrich(alert(Computer="unlisted-box", IpAddress="172.16.5.9"))
    assert by_ip.context["asset"]["host"] == "172.16.5.9" and ("CVE-2017-0146", "Critical", 9.3) in ids(by_ip)
    worker = context.enrich(alert(**{"host.name": "registry.example.com/billing/worker"}))
    assert ids(worker)[0] == ("CVE-2021-44228", "Critical", 10.0)
    assert context.enrich(alert(**{"host.name": "nowhere"})).context["asset"] is None


def test_vulnerability_list_in_the_context_is_capped() -> None:
    context = enricher(vulnerability_reports=REPORTS, max_vulnerabilities=1)
    filesrv = context.enrich(alert(Computer="filesrv01"))
    assert len(filesrv.context["asset"]["vulnerabilities"]) == 1
    assert filesrv.context["asset"]["vulnerability_count"] == 4


def test_broken_and_hostile_scanner_reports_are_reported_not_fatal() -> None:
    context = enricher(vulnerability_reports=[str(SCANS / "truncated.nessus"), str(SCANS / "billion_laughs.nessus"),
                                              str(SCANS / "grype_directory.json")])
    problems = "\n".join(context.problems)
    assert f"{SCANS / 'truncated.nessus'}:58: broken XML" in problems
    assert f"{SCANS / 'billion_laughs.nessus'}: XML refused" in problems
    assert f"{SCANS / 'grype_directory.json'}: 2 finding(s) name no host" in problems
    # what the truncated report held before the break is still used
    assert ids(context.enrich(alert(Computer="filesrv01")))[0] == ("CVE-2017-0143", "Critical", 9.8)


def test_a_folder_of_reports_is_read_whole() -> None:
    context = enricher(vulnerability_reports=[str(SCANS)])
    assert ids(context.enrich(alert(Computer="web01")))[0][0] == "CVE-2023-43622"


# --- business hours -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("site", "timestamp", "off_hours"), [
    # Paris in November is UTC+1: 08:00-18:00 local is 07:00-17:00 UTC
    ("paris", "2026-11-26T06:59:59Z", True),
    ("paris", "2026-11-26T07:00:00Z", False),  # 08:00:00 local: opening minute
    ("paris", "2026-11-26T16:59:59.999Z", False),
    ("paris", "2026-11-26T17:00:00Z", True),  # 18:00:00 local: closed
    ("paris", "2026-11-27T16:59:00Z", False),  # Friday 17:59
    ("paris", "2026-11-28T10:00:00Z", True),  # Saturday
    ("paris", "2026-11-29T10:00:00Z", True),  # Sunday
    ("paris", "2026-11-29T23:30:00Z", True),  # Monday 00:30 local: before opening
    ("paris", "2026-07-01T06:00:00Z", False),  # summer time, UTC+2: 08:00 local
    ("paris", "2026-07-01T05:59:00Z", True),
    # New York in November is UTC-5: 09:00-17:00 local is 14:00-22:00 UTC
    ("newyork", "2026-11-26T13:59:00Z", True),
    ("newyork", "2026-11-26T14:00:00Z", False),
    ("newyork", "2026-11-26T21:59:00Z", False),
    ("newyork", "2026-11-26T22:00:00Z", True),
    ("newyork", "2026-11-28T03:00:00Z", True),  # Friday 22:00 local: after closing
    ("newyork", "2026-11-28T15:00:00Z", True),  # Saturday 10:00 local
    ("newyork", "2026-11-30T02:00:00+00:00", True),  # Sunday 21:00 local
])
def test_business_hours_in_two_time_zones(site: str, timestamp: str, off_hours: bool) -> None:
    hours = BusinessHours.from_config(site, SITES[site])
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    assert hours.is_open(moment) is not off_hours


def test_overnight_hours_holidays_and_day_lists() -> None:
    night = BusinessHours.from_config("night", {"timezone": "UTC", "hours": "22:00-06:00", "days": "sun-thu",
                                                "holidays": ["2026-11-26"]})
    at = lambda text: datetime.fromisoformat(text).replace(tzinfo=UTC)  # noqa: E731
    assert night.is_open(at("2026-11-29T23:00"))  # Sunday night
    assert night.is_open(at("2026-11-30T05:59"))  # Monday early: the Sunday shift
    assert not night.is_open(at("2026-11-30T06:00"))
    assert not night.is_open(at("2026-11-27T23:00"))  # Friday night: not a working day
    assert night.is_open(at("2026-11-28T01:00")) is False  # the Friday shift does not exist
    assert not night.is_open(at("2026-11-26T23:00"))  # holiday
    listed = BusinessHours.from_config("x", {"days": ["mon", "wed-thu"], "hours": "00:00-24:00"})
    assert listed.days == frozenset({0, 2, 3})
    assert listed.is_open(at("2026-11-26T23:59:59"))


def test_off_hours_use_the_host_site_then_the_user_site_then_the_default() -> None:
    context = enricher()
    saturday = "2026-11-28T12:00:00Z"
    late_utc = "2026-11-26T19:00:00Z"  # Thursday: 20:00 Paris (off), 14:00 New York (open), 19:00 UTC (off)
    host_site = context.enrich(alert(timestamp=late_utc, Computer="cms", TargetUserName="alice"))
    assert (host_site.context["site"], host_site.context["off_hours"]) == ("newyork", False)
    user_site = context.enrich(alert(timestamp=late_utc, Computer="shopapi", TargetUserName="alice"))
    assert (user_site.context["site"], user_site.context["off_hours"]) == ("paris", True)
    assert user_site.context["local_time"] == "2026-11-26T20:00:00+01:00"
    default = context.enrich(alert(timestamp=late_utc, Computer="nowhere"))
    assert (default.context["site"], default.context["off_hours"]) == ("default", True)
    weekend = context.enrich(alert(timestamp=saturday, Computer="cms"))
    assert weekend.context["off_hours"] is True
    unknown_time = context.enrich(alert(timestamp="yesterday", Computer="cms"))
    assert unknown_time.context["off_hours"] is None and context.counters["unreadable_time"] == 1


def test_a_configured_default_site() -> None:
    context = enricher(sites={**SITES, "tokyo": {"timezone": "Asia/Tokyo", "hours": "09:00-18:00"}},
                       default_site="tokyo")
    enriched = context.enrich(alert(timestamp="2026-11-26T01:00:00Z", Computer="nowhere"))  # 10:00 Tokyo
    assert (enriched.context["site"], enriched.context["off_hours"]) == ("tokyo", False)


# --- severity ---------------------------------------------------------------------------------------------------

SATURDAY_PARIS = "2026-11-28T10:00:00Z"


def test_severity_steps_and_reasons() -> None:
    context = enricher()
    enriched = context.enrich(alert("low", SATURDAY_PARIS, Computer="filesrv01.corp.example",
                                    TargetUserName="CORP\\bob.admin"))
    assert enriched.severity == "high"  # three reasons, max_raise 2
    assert enriched.severity_reasons == ["critical asset filesrv01", "privileged user bob.admin",
                                         "outside business hours (Europe/Paris, Sat 11:00)",
                                         "severity raise capped at +2 of +3"]
    assert enriched.level == "low"
    one = context.enrich(alert("low", THURSDAY_UTC, Computer="filesrv01"))
    assert (one.severity, one.severity_reasons) == ("medium", ["critical asset filesrv01"])
    ceiling = context.enrich(alert("high", THURSDAY_UTC, Computer="filesrv01", TargetUserName="bob.admin"))
    assert ceiling.severity == "critical"
    assert ceiling.severity_reasons[-1] == "severity raise capped at +1 of +2"
    plain = context.enrich(alert("medium", THURSDAY_UTC, Computer="cms", TargetUserName="alice"))
    assert (plain.severity, plain.severity_reasons) == ("medium", [])
    high_asset = context.enrich(alert("medium", THURSDAY_UTC, Computer="web01"))
    assert high_asset.severity == "medium"  # high-criticality assets raise nothing by default


def test_severity_steps_are_configurable() -> None:
    context = enricher(severity={"high_asset": 1, "critical_asset": 2, "off_hours": 0, "max_raise": 4})
    web = context.enrich(alert("low", SATURDAY_PARIS, Computer="web01"))
    assert (web.severity, web.severity_reasons) == ("medium", ["high-criticality asset web01.corp.example"])
    filesrv = context.enrich(alert("informational", THURSDAY_UTC, Computer="filesrv01",
                                   TargetUserName="bob.admin"))
    assert filesrv.severity == "high"  # +2 +1
    none = enricher(severity={"max_raise": 0}).enrich(alert("low", SATURDAY_PARIS, Computer="filesrv01"))
    assert none.severity == "low" and none.severity_reasons[-1] == "severity raise capped at +0 of +2"


def test_enriching_twice_gives_the_same_result_and_keeps_other_reasons() -> None:
    context = enricher()
    enriched = alert("low", SATURDAY_PARIS, Computer="filesrv01")
    enriched.severity_reasons.append("from another stage")
    context.enrich(enriched)
    first = (enriched.severity, list(enriched.severity_reasons))
    context.enrich(enriched)
    assert (enriched.severity, enriched.severity_reasons) == first
    assert first == ("high", ["from another stage", "critical asset filesrv01",
                              "outside business hours (Europe/Paris, Sat 11:00)"])


def test_unknown_rule_level_is_left_alone() -> None:
    context = enricher()
    enriched = context.enrich(alert("severe", SATURDAY_PARIS, Computer="filesrv01"))
    assert enriched.severity == "severe" and enriched.severity_reasons == []
    assert context.counters["unknown_level"] == 1


def test_criticality_weight() -> None:
    context = enricher()
    weights = {name: context.criticality_weight(alert(Computer=name))
               for name in ("cms", "portal", "web01", "filesrv01", "ws-ipv6", "nowhere")}
    assert weights == {"cms": 0.5, "portal": 1.0, "web01": 1.5, "filesrv01": 2.0, "ws-ipv6": 1.0, "nowhere": 1.0}
    enriched = context.enrich(alert(Computer="filesrv01"))
    assert criticality_weight(enriched) == 2.0  # from the context alone, for the risk stage
    assert criticality_weight(alert(Computer="filesrv01")) == 1.0  # not enriched: unknown
    custom = enricher(weights={"critical": 5, "unknown": 0.25})
    assert custom.criticality_weight(alert(Computer="filesrv01")) == 5.0
    assert custom.criticality_weight(alert(Computer="nowhere")) == 0.25


@given(level=st.sampled_from(LEVELS), steps=st.lists(st.integers(min_value=0, max_value=3), max_size=5),
       extra=st.integers(min_value=0, max_value=3), max_raise=st.integers(min_value=0, max_value=5))
def test_raised_severity_oracle(level: str, steps: list[int], extra: int, max_raise: int) -> None:
    rank = LEVELS.index(level)
    raised = LEVELS.index(raised_severity(level, steps, max_raise))
    assert rank <= raised <= len(LEVELS) - 1
    assert raised - rank <= max_raise
    assert raised == min(rank + min(sum(steps), max_raise), len(LEVELS) - 1)
    # one more reason never lowers the result
    assert LEVELS.index(raised_severity(level, [*steps, extra], max_raise)) >= raised


HYPOTHESIS_CONTEXT: dict[str, ContextEnricher] = {}


def shared_enricher(tmp_path_factory: pytest.TempPathFactory) -> ContextEnricher:
    if "enricher" not in HYPOTHESIS_CONTEXT:
        folder = tmp_path_factory.mktemp("oracle")
        (folder / "assets.csv").write_text("host,criticality\n" + "".join(
            f"h-{name},{name}\n" for name in ("low", "medium", "high", "critical")) + "h-unrated,\n")
        (folder / "users.csv").write_text("user,privileged\nroot,true\nguest,false\n")
        HYPOTHESIS_CONTEXT["enricher"] = ContextEnricher.from_config(
            {"assets": "assets.csv", "identities": "users.csv", "reload_interval": 0}, folder)
    return HYPOTHESIS_CONTEXT["enricher"]


@settings(max_examples=150, deadline=None)
@given(level=st.sampled_from(LEVELS),
       host=st.sampled_from(["h-low", "h-medium", "h-high", "h-critical", "h-unrated", "elsewhere"]),
       user=st.sampled_from(["root", "CORP\\root", "guest", "nobody"]),
       moment=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)))
def test_enrichment_oracle(tmp_path_factory: pytest.TempPathFactory, level: str, host: str, user: str,
                           moment: datetime) -> None:
    context = shared_enricher(tmp_path_factory)
    timestamp = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    enriched = context.enrich(alert(level, timestamp, Computer=host, TargetUserName=user))
    off_hours = not (moment.weekday() < 5 and 8 <= moment.hour < 18)  # the built-in default site: UTC
    reasons = (host == "h-critical") + (user in ("root", "CORP\\root")) + off_hours
    rank, severity = LEVELS.index(level), LEVELS.index(enriched.severity)
    assert enriched.context["off_hours"] is off_hours
    assert severity == min(rank + min(reasons, 2), len(LEVELS) - 1)
    assert rank <= severity <= LEVELS.index("critical")
    assert len([reason for reason in enriched.severity_reasons if "capped" not in reason]) == reasons


# --- configuration ----------------------------------------------------------------------------------------------

EXAMPLE_TOML = """
[context]
assets = "context_assets.csv"
identities = "context_identities.yaml"
vulnerability_reports = ["../vulnerability/weekly_internal.nessus", "../vulnerability/openvas9_export.xml"]
default_site = "paris"
reload_interval = 30

[context.sites.paris]
timezone = "Europe/Paris"
hours = "08:00-18:00"
days = "mon-fri"
holidays = [2026-12-25, "2027-01-01"]

[context.sites.newyork]
timezone = "America/New_York"
hours = "09:00-17:00"
days = "mon-fri"

[context.severity]
critical_asset = 1
high_asset = 0
privileged_user = 1
off_hours = 1
max_raise = 2

[context.weights]
low = 0.5
medium = 1.0
high = 1.5
critical = 2.0
unknown = 1.0
"""


def test_the_documented_toml_example_loads() -> None:
    context = ContextEnricher.from_config(tomllib.loads(EXAMPLE_TOML)["context"], TRIAGE)
    enriched = context.enrich(alert("low", "2026-12-25T10:00:00Z", Computer="filesrv01"))  # Christmas in Paris
    assert enriched.severity == "high"
    assert ids(enriched)[0] == ("CVE-2017-0143", "Critical", 9.8)
    assert context.summary()["sites"] == ["newyork", "paris"]


@pytest.mark.parametrize(("config", "message"), [
    ({"asets": "x.csv"}, "unknown key(s): context.asets"),
    ({"assets": "missing.csv"}, "missing.csv: cannot read"),
    ({"assets": "context_assets.csv", "identities": "context_identities.txt"}, "context_identities.txt"),
    ({"vulnerability_reports": ["nope.nessus"]}, "nope.nessus: cannot read"),
    ({"sites": {"x": {"timezone": "Mars/Olympus"}}}, "context.sites.x.timezone: unknown time zone"),
    ({"sites": {"x": {"hours": "8-18"}}}, "context.sites.x.hours must look like"),
    ({"sites": {"x": {"hours": "18:00-18:00"}}}, "is not a span of the day"),
    ({"sites": {"x": {"days": "mon-fry"}}}, "context.sites.x.days"),
    ({"sites": {"x": {"tz": "UTC"}}}, "context.sites.x.tz"),
    ({"sites": {"x": {"holidays": ["christmas"]}}}, "context.sites.x.holidays"),
    ({"default_site": "mars"}, "context.default_site"),
    ({"severity": {"critical_asset": -1}}, "context.severity.critical_asset must be a whole number >= 0"),
    ({"severity": {"vip": 1}}, "context.severity.vip"),
    ({"weights": {"critical": "lots"}}, "context.weights.critical"),
    ({"reload_interval": -1}, "context.reload_interval"),
])
def test_bad_configuration_is_refused_with_the_entry_named(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ContextConfigError) as caught:
        ContextEnricher.from_config(config, TRIAGE)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_unparseable_yaml_is_refused_at_start(tmp_path: Path) -> None:
    (tmp_path / "assets.yaml").write_text("assets: [host: a, {\n")
    with pytest.raises(ContextConfigError, match=r"assets\.yaml: not valid YAML"):
        ContextEnricher.from_config({"assets": "assets.yaml"}, tmp_path)
    (tmp_path / "list.yaml").write_text("just text\n")
    with pytest.raises(ContextConfigError, match="expected a list of entries"):
        ContextEnricher.from_config({"assets": "list.yaml"}, tmp_path)


# --- reloading --------------------------------------------------------------------------------------------------


def rewrite(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 2_000_000_000, before + 2_000_000_000))  # a visible change on coarse clocks


def test_reload_rereads_changed_files_only(tmp_path: Path) -> None:
    shutil.copy(TRIAGE / "context_assets.csv", tmp_path / "assets.csv")
    shutil.copy(TRIAGE / "context_identities.yaml", tmp_path / "identities.yaml")
    context = ContextEnricher.from_config({"assets": "assets.csv", "identities": "identities.yaml",
                                           "reload_interval": 0}, tmp_path)
    assert context.reload() is False
    assert context.enrich(alert("low", Computer="cms")).severity == "low"
    rewrite(tmp_path / "assets.csv", "host,criticality\ncms,critical\nnewbox,high\n")
    assert context.reload() is True
    assert context.asset("filesrv01") is None and context.asset("newbox") is not None
    assert context.enrich(alert("low", Computer="cms")).severity == "medium"
    assert context.identity("alice") is not None  # the identities were kept
    assert context.problems == [problem for problem in context.problems if "identities.yaml" in problem]
    assert context.reload() is False


def test_reload_keeps_the_previous_version_of_a_broken_or_missing_file(tmp_path: Path) -> None:
    (tmp_path / "assets.yaml").write_text("- host: db01\n  criticality: critical\n")
    context = ContextEnricher.from_config({"assets": "assets.yaml", "reload_interval": 0}, tmp_path)
    rewrite(tmp_path / "assets.yaml", "- host: db01\n  criticality: [\n")
    context.reload()
    assert context.asset("db01") is not None
    assert any("not valid YAML" in problem and "previous version is kept" in problem for problem in context.problems)
    (tmp_path / "assets.yaml").unlink()
    context.reload()
    assert context.asset("db01") is not None
    assert any("cannot read" in problem for problem in context.problems)
    (tmp_path / "assets.yaml").write_text("- host: db02\n  criticality: bogus\n- host: db03\n")
    assert context.reload() is True
    assert context.asset("db01") is None and context.asset("db03") is not None
    assert context.problems == [f"{tmp_path / 'assets.yaml'}:1: unknown criticality 'bogus' for db02 "
                                "(one of low, medium, high, critical): skipped"]


def test_enrich_reloads_by_itself_after_the_interval(tmp_path: Path) -> None:
    (tmp_path / "assets.csv").write_text("host,criticality\ndb01,low\n")
    context = ContextEnricher.from_config({"assets": "assets.csv", "reload_interval": 0.05}, tmp_path)
    assert context.enrich(alert("low", Computer="db01")).context["asset"]["criticality"] == "low"
    rewrite(tmp_path / "assets.csv", "host,criticality\ndb01,critical\n")
    time.sleep(0.06)
    assert context.enrich(alert("low", Computer="db01")).context["asset"]["criticality"] == "critical"
    assert context.counters["reloads"] == 2


def test_reload_sees_a_new_report_in_a_folder(tmp_path: Path) -> None:
    (tmp_path / "scans").mkdir()
    (tmp_path / "assets.csv").write_text("host,criticality\nfilesrv01,high\n")
    context = ContextEnricher.from_config({"assets": "assets.csv", "vulnerability_reports": ["scans"],
                                           "reload_interval": 0}, tmp_path)
    assert context.enrich(alert(Computer="filesrv01")).context["asset"]["vulnerabilities"] == []
    shutil.copy(SCANS / "weekly_internal.nessus", tmp_path / "scans" / "weekly.nessus")
    assert context.reload() is True
    assert ids(context.enrich(alert(Computer="filesrv01")))[0][0] == "CVE-2017-0143"
