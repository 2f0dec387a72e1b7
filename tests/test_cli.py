"""The `yamori` command end to end: hunt outputs and exit codes, rules check."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from conftest import REPO_ROOT
from yamori.cli.main import app

DEMO = REPO_ROOT / "demo" / "events"
RULES = REPO_ROOT / "rules"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YAMORI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("YAMORI_CACHE_DIR", str(tmp_path / "cache"))


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout


def test_hunt_jsonl_has_one_detection_per_line_with_attack_mapping() -> None:
    code, out = run("hunt", str(DEMO), "--rules", str(RULES), "--format", "jsonl", "--workers", "1")
    assert code == 0
    lines = [orjson.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(lines) >= 8
    titles = {d["title"] for d in lines}
    assert "Security Event Log Cleared" in titles
    first = next(d for d in lines if d["title"] == "Security Event Log Cleared")
    assert first["level"] == "high" and first["techniques"] and first["tactics"]
    assert first["computer"] and first["record_id"] and first["source"].endswith("dc-security.jsonl")
    assert first["event"]["Event"]["System"]["EventID"] == 1102
    assert all(d["timestamp"].endswith("Z") for d in lines)


def test_hunt_csv_timeline_has_timesketch_columns(tmp_path: Path) -> None:
    out_file = tmp_path / "timeline.csv"
    code, _ = run("hunt", str(DEMO), "--rules", str(RULES), "--format", "csv", "--output", str(out_file))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out_file.read_text(encoding="utf-8"))))
    assert rows and {"datetime", "timestamp_desc", "message"} <= rows[0].keys()
    assert all(row["message"] for row in rows)


def test_hunt_table_summarizes_by_rule_level_and_tactic() -> None:
    code, out = run("hunt", str(DEMO), "--rules", str(RULES))
    assert code == 0
    assert "Detections by rule" in out and "By level" in out and "By tactic" in out


def test_min_level_drops_lower_rules() -> None:
    _, everything = run("hunt", str(DEMO), "--rules", str(RULES), "--format", "jsonl")
    _, critical = run("hunt", str(DEMO), "--rules", str(RULES), "--format", "jsonl", "--min-level", "critical")
    levels = {orjson.loads(line)["level"] for line in critical.splitlines() if line.startswith("{")}
    assert levels <= {"critical"}
    assert everything.count("\n") > critical.count("\n")


def test_bad_input_is_reported_kept_aside_and_exit_code_3(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    good = (DEMO / "dc-security.jsonl").read_bytes()
    (folder / "mixed.jsonl").write_bytes(good + b'{"truncated": \n' + b"\xff\xfe not json\n" + good)
    dead = tmp_path / "dead.jsonl"
    code, out = run("hunt", str(folder), "--rules", str(RULES), "--dead-letter", str(dead))
    assert code == 3
    assert "could not be read" in out
    kept = [orjson.loads(line) for line in dead.read_bytes().splitlines()]
    assert len(kept) == 2 and all(k["source"].endswith("mixed.jsonl") and k["position"] for k in kept)
    _, jsonl = run("hunt", str(folder), "--rules", str(RULES), "--format", "jsonl")
    cleared = [line for line in jsonl.splitlines() if "Security Event Log Cleared" in line]
    assert len(cleared) == 2  # the good records on both sides of the bad ones were all hunted


def test_no_rules_exit_code_4(tmp_path: Path) -> None:
    empty = tmp_path / "rules"
    empty.mkdir()
    code, _ = run("hunt", str(DEMO), "--rules", str(empty))
    assert code == 4


def test_fail_on_detection_exit_code_1() -> None:
    code, _ = run("hunt", str(DEMO), "--rules", str(RULES), "--fail-on-detection")
    assert code == 1


def test_rules_check_names_a_reason_for_every_sigmahq_rule_not_evaluable(shared: Path) -> None:
    code, out = run("rules", "check", str(shared / "sigma"))
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("3780 files: 3755 rules evaluable"), summary
    unsupported = [line for line in out.splitlines() if line.startswith("unsupported")]
    assert len(unsupported) == 25 and all("placeholder" in line for line in unsupported)
    assert code == 1  # unsupported rules exist


def test_rules_check_with_placeholders_makes_them_evaluable(shared: Path, tmp_path: Path) -> None:
    folder = shared / "sigma" / "rules-placeholder"
    _, before = run("rules", "check", str(folder))
    names = {name for line in before.splitlines() if line.startswith("unsupported")
             for name in re.findall(r"%([^%\s]+)%", line)}
    assert len(names) >= 10
    values = tmp_path / "placeholders.yml"
    values.write_text("".join(f"{name}: [example-{i}]\n" for i, name in enumerate(sorted(names))))
    code, after = run("rules", "check", str(folder), "--placeholders", str(values))
    assert code == 0, after
    assert "unsupported" not in after


def test_hunt_needs_paths_or_store_and_store_options_need_store(tmp_path: Path) -> None:
    assert run("hunt", "--rules", str(RULES))[0] == 2
    assert run("hunt", str(DEMO), "--rules", str(RULES), "--from", "-1d")[0] == 2
    assert run("hunt", str(DEMO), "--store")[0] == 2
    assert run("hunt", "--store", "--store-dir", str(tmp_path / "none"), "--rules", str(RULES))[0] == 2


def test_hunt_store_reports_like_a_file_hunt(tmp_path: Path) -> None:
    from yamori.events import Event
    from yamori.sources.files import read_paths
    from yamori.store.events import EventStore
    from yamori.store.model import StoredEvent

    events = [item for item in read_paths([DEMO]) if isinstance(item, Event)]
    EventStore(tmp_path / "store").write_batch(
        [StoredEvent(0, index, "files", 0, event) for index, event in enumerate(events)], [], 0, 0)
    code, out = run("hunt", "--store", "--store-dir", str(tmp_path / "store"), "--rules", str(RULES),
                    "--format", "jsonl")
    stored = sorted((d["rule_id"], d["source"], d["record_id"]) for d in map(orjson.loads, out.splitlines()))
    code_files, out = run("hunt", str(DEMO), "--rules", str(RULES), "--format", "jsonl", "--workers", "1")
    from_files = sorted((d["rule_id"], d["source"], d["record_id"]) for d in map(orjson.loads, out.splitlines()))
    assert code == code_files == 0 and stored == from_files and len(stored) >= 8
    code, out = run("hunt", "--store", "--store-dir", str(tmp_path / "store"), "--rules", str(RULES))
    assert code == 0 and "Detections by rule" in out and "By tactic" in out
