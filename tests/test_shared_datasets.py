"""Every log file of ``../shared/datasets`` that is not EVTX parses with zero unexplained bad records, and each
family of the datasets comes out with the logsource and event count its README states."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from yamori.events import BadRecord, Event
from yamori.sources.files import read_file

NOT_LOGS = {"README.md", "ATTRIBUTION.md", "ground_truth.csv", "stratus_events.csv", "info.yml", "COPYING"}
# bad records that are in the data on purpose: (file, position) -> why
EXPLAINED = {
    ("fail2ban_fail2ban/fail2ban/tests/files/logs/cowrie", "28"):
        "fail2ban's test file holds the line 'not a json line at all' among Cowrie's JSON lines on purpose",
}


def _log_files(datasets: Path) -> list[Path]:
    return [path for path in sorted(datasets.rglob("*"))
            if path.is_file() and path.suffix.lower() != ".evtx" and path.name not in NOT_LOGS
            and not path.name.startswith("LICENSE")]


def test_every_non_evtx_log_file_parses(shared: Path) -> None:
    datasets = shared / "datasets"
    unexplained: list[str] = []
    parsers: Counter[str] = Counter()
    events = 0
    for path in _log_files(datasets):
        for item in read_file(path):
            if isinstance(item, BadRecord):
                where = (str(path.relative_to(datasets)), item.position)
                if where not in EXPLAINED:
                    unexplained.append(f"{where[0]} @ {item.position}: {item.reason}")
            else:
                events += 1
                parsers[item.parser] += 1
    assert not unexplained, "\n".join(unexplained[:20])
    assert events > 170_000
    assert parsers["zeek"] == 158_439
    assert parsers["cloudtrail"] == 2_900
    assert parsers["access_log"] >= 10_000


def test_dataset_families_get_their_logsources(shared: Path) -> None:
    datasets = shared / "datasets"
    trail = next((datasets / "invictus-ir_aws_dataset" / "CloudTrail").glob("*.json"))
    events = [e for e in read_file(trail) if isinstance(e, Event)]
    assert events and all(e.logsource.product == ("aws",) and e.logsource.service == ("cloudtrail",) for e in events)
    sshd = datasets / "fail2ban_fail2ban" / "fail2ban" / "tests" / "files" / "logs" / "sshd"
    services = Counter(s for e in read_file(sshd) if isinstance(e, Event) for s in e.logsource.service)
    assert services["sshd"] > 100
    apache = datasets / "elastic_examples" / "Common Data Formats" / "apache_logs" / "apache_logs"
    first = next(e for e in read_file(apache) if isinstance(e, Event))
    assert "webserver" in first.logsource.category and first.fields["sc-status"] == 200
