"""Yamori's correlation conformance suite (tests/fixtures/correlation/conformance.yml), run two ways.

- hunt: the events are written to two JSON-lines files (alternating), hunted like ``yamori hunt`` does (file by
  file), and correlated in event-time order;
- serve: every case's rules run in one real ``yamori serve``; the events are sent over HEC one request each, in
  arrival order, and the correlation alerts are read back from the store.

Each case runs on its own day, and every group-by gets ``Case``, so that cases never meet.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from yamori.correlation.correlator import CorrelationAlert, correlate
from yamori.correlation.offline import correlation_set
from yamori.engine.ruleset import load_ruleset
from yamori.hunt import HuntOptions, iter_results, make_engine

FIXTURES = Path(__file__).parent / "fixtures" / "correlation"
CASES: list[dict[str, Any]] = yaml.safe_load((FIXTURES / "conformance.yml").read_text())["cases"]
START = datetime(2026, 3, 1, tzinfo=UTC)
BASE = ("a", "b", "c", "d")
LATENESS = 30


def local_name(case_index: int, name: str) -> str:
    return f"k{case_index}_{name}"


def rule_id(case: dict[str, Any], name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"yamori-conformance/{case['name']}/{name}"))


def case_rules(case_index: int, case: dict[str, Any]) -> list[dict[str, Any]]:
    """The case's correlation rules as Sigma documents: own names, ``Case`` added to the group-by."""
    documents = []
    own = {c["name"] for c in case["correlations"]}
    for spec in case["correlations"]:
        spec = dict(spec)
        name = spec.pop("name")
        refs = [local_name(case_index, r) if r in own else r for r in spec.pop("rules")]
        spec["rules"] = refs
        spec["group-by"] = ["Case", *spec.get("group-by", [])]
        documents.append({"title": f"{case['name']} {name}", "id": rule_id(case, name),
                          "name": local_name(case_index, name), "status": "test", "level": "high",
                          "correlation": spec})
    return documents


def all_rule_files(tmp: Path, cases: list[tuple[int, dict[str, Any]]]) -> list[Path]:
    documents = [doc for index, case in cases for doc in case_rules(index, case)]
    path = tmp / "correlations.yml"
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return [FIXTURES / "base_rules.yml", path]


def record(case_index: int, seconds: float, rule: str, fields: dict[str, Any]) -> dict[str, Any]:
    moment = START + timedelta(days=case_index, seconds=seconds)
    return {"EventID": 1001 + BASE.index(rule), "Channel": "Security", "Case": f"case{case_index}",
            "TimeCreated": moment.isoformat().replace("+00:00", "Z"), **fields}


def expected(case: dict[str, Any], mode: str) -> dict[str, list[list[int]]]:
    wanted = case.get("expect_serve", case["expect"]) if mode == "serve" else case["expect"]
    return {name: [list(alert) for alert in alerts] for name, alerts in wanted.items()}


def summarize(case_index: int, case: dict[str, Any], alerts: list[dict[str, Any]],
              index_of: dict[str, int]) -> dict[str, list[list[int]]]:
    """Alerts (correlation summaries) of this case's rules as event indices, inner alerts flattened."""
    by_alert = {alert["alert_id"]: alert for alert in alerts}

    def indices(alert: dict[str, Any]) -> list[int]:
        out: list[int] = []
        for ref in alert["events"]:
            out.extend(indices(by_alert[ref]) if ref in by_alert else [index_of[ref]])
        return out

    result: dict[str, list[list[int]]] = {c["name"]: [] for c in case["correlations"]}
    ids = {rule_id(case, name): name for name in result}
    for alert in sorted(alerts, key=lambda a: (a["last"], a["alert_id"])):
        name = ids.get(alert["rule_id"])
        if name is not None and alert["group"].get("Case") == f"case{case_index}":
            result[name].append(indices(alert))
    return result


def as_summary(alert: CorrelationAlert) -> dict[str, Any]:
    return {**alert.summary(), "rule_id": alert.correlation.id}


@pytest.mark.parametrize("case_index", range(len(CASES)), ids=[c["name"] for c in CASES])
def test_hunt(case_index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YAMORI_CACHE_DIR", str(tmp_path / "cache"))
    case = CASES[case_index]
    ruleset = load_ruleset(all_rule_files(tmp_path, [(case_index, case)]), use_cache=False)
    assert not ruleset.problems, ruleset.problems
    correlations = correlation_set(ruleset)
    assert not correlations.problems, correlations.problems
    files = [tmp_path / "events-1.jsonl", tmp_path / "events-2.jsonl"]
    lines: list[list[bytes]] = [[], []]
    index_of: dict[str, int] = {}
    for number, (seconds, rule, fields) in enumerate(case["events"]):
        which = number % 2
        lines[which].append(orjson.dumps(record(case_index, seconds, rule, fields)))
        index_of[f"{files[which]}#{len(lines[which])}"] = number
    for path, content in zip(files, lines, strict=True):
        path.write_bytes(b"\n".join(content) + b"\n")
    engine = make_engine(ruleset, "informational", correlations)
    observations = []
    for result in iter_results(files, engine, HuntOptions(workers=1, correlations=correlations)):
        assert not result.bad_count
        # rules read only by correlations with generate: false make no alerts of their own
        assert not [d for d in result.detections if d.rule.id in correlations.silenced]
        observations.extend(result.observations)
    alerts = [as_summary(a) for a in correlate(correlations, observations)]
    assert summarize(case_index, case, alerts, index_of) == expected(case, "hunt"), case["says"]


def test_eviction_bounds_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond max_groups open groups per rule the oldest group is evicted: its events no longer count."""
    monkeypatch.setenv("YAMORI_CACHE_DIR", str(tmp_path / "cache"))
    case = {"name": "eviction", "correlations": [
        {"name": "main", "type": "event_count", "rules": ["a"], "group-by": ["User"], "timespan": "1h",
         "condition": {"gte": 2}}]}
    ruleset = load_ruleset(all_rule_files(tmp_path, [(0, case)]), use_cache=False)
    correlations = correlation_set(ruleset)
    from yamori.correlation.correlator import Correlator, Observation

    correlator = Correlator(correlations, lateness=0, max_groups=2)
    fired = []
    main = correlations.correlations[0].sources[0]
    for number, user in enumerate(["u1", "u2", "u3", "u3", "u1"]):
        fired += correlator.push(Observation(main, 1000.0 + number, f"e{number}", {"Case": "case0", "User": user}))
    fired += correlator.finish()
    # u3's arrival evicts u1 (oldest): u1's second event starts afresh, so only u3 reaches two events
    assert [(a.group["User"], a.events) for a in fired] == [("u3", ["e2", "e3"])]
    assert correlator.stats.evicted == 1


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.serve_harness import start_server

    base = tmp_path_factory.mktemp("conformance-serve")
    cases = list(enumerate(CASES))
    rules = all_rule_files(base, cases)
    server = start_server(base, rules=rules, pipeline=f"flush_seconds = 0.05\nmaintenance_seconds = 2\n"
                                                      f"correlation_lateness = {LATENESS}")
    try:
        sent = 0
        with httpx.Client(base_url=server.url, headers=server.hec_headers(), timeout=30) as client:
            for case_index, case in cases:
                first_of: dict[bytes, int] = {}
                for number, (seconds, rule, fields) in enumerate(case["events"]):
                    content = record(case_index, seconds, rule, fields)
                    # a resent record is sent exactly as the first time (its index too), as a shipper retries
                    index = first_of.setdefault(orjson.dumps(content), number)
                    body = {"event": content, "fields": {"ConformanceIndex": f"{case_index}/{index}"}}
                    client.post("/services/collector/event", content=orjson.dumps(body)).raise_for_status()
                    sent += 1
            # an event two months later moves the watermark past every case: complete windows are judged
            clock = {"event": record(60, 0, "d", {}), "fields": {"ConformanceIndex": "clock"}}
            client.post("/services/collector/event", content=orjson.dumps(clock)).raise_for_status()
        server.wait_stored(sent + 1, timeout=60)
        rows = server.get("/api/v1/sql", q="SELECT event_id, fields FROM events").json()["rows"]
        positions = {row["event_id"]: orjson.loads(row["fields"])["ConformanceIndex"] for row in rows}
        alert_rows = server.get("/api/v1/sql", q="SELECT rule_id, matched FROM alerts").json()["rows"]
        alerts = [{**orjson.loads(row["matched"])["correlation"], "rule_id": row["rule_id"]}
                  for row in alert_rows if "correlation" in orjson.loads(row["matched"])]
        yield positions, alerts
    finally:
        server.stop()


@pytest.mark.parametrize("case_index", range(len(CASES)), ids=[c["name"] for c in CASES])
def test_serve(case_index: int, served: Any) -> None:
    positions, alerts = served
    case = CASES[case_index]
    index_of = {event_id: int(where.split("/")[1]) for event_id, where in positions.items()
                if where.startswith(f"{case_index}/")}
    mine = [a for a in alerts if a["group"].get("Case") == f"case{case_index}"]
    assert summarize(case_index, case, mine, index_of) == expected(case, "serve"), case["says"]
