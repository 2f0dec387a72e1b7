"""Yamori's brute-force and password-spraying correlation rules on ``../shared/datasets``: they fire on fail2ban's
attack logs and not on the benign Apache access log, run the way ``yamori hunt`` runs them (every bundled rule,
files hunted with :func:`yamori.hunt.iter_results`, their observations correlated in event-time order).

Each fail2ban file is hunted on its own, as the log of one host: the files reuse documentation addresses
(192.0.2.1, 1.2.3.4) for unrelated attacks, and their syslog times carry no year (Yamori resolves it against the
file's modification time), so pooling them would join events that never met. Lines starting with ``#`` are
fail2ban's labels; Yamori's parsers skip them.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from rulekit import RULES_DIR
from yamori.cli.main import app
from yamori.correlation.correlator import correlate
from yamori.correlation.offline import correlation_set
from yamori.correlation.ruleset import CorrelationSet
from yamori.engine.matcher import Engine
from yamori.engine.ruleset import load_ruleset
from yamori.hunt import HuntOptions, iter_results, make_engine

FAIL2BAN = Path("fail2ban_fail2ban") / "fail2ban" / "tests" / "files" / "logs"
APACHE = Path("elastic_examples") / "Common Data Formats" / "apache_logs" / "apache_logs"
BRUTE_FORCE = ("corr_brute_force_per_source", "corr_brute_force_per_account")
SPRAYING = ("corr_password_spraying_per_source",)
# what must fire where (at least once): fail2ban's sshd test log holds five "invalid user ROOT" guesses from three
# addresses within a second, and three account names tried from 127.0.0.1 within a second (the log-injection
# tests); apache-auth holds six refused users from 127.0.0.1 within minutes
EXPECTED = {("sshd", "corr_brute_force_per_account"), ("sshd", "corr_password_spraying_per_source"),
            ("apache-auth", "corr_brute_force_per_source")}

Hunt = tuple[Engine, CorrelationSet]


@pytest.fixture(scope="module")
def hunt(rule_cache: Path) -> Hunt:
    ruleset = load_ruleset([RULES_DIR])
    correlations = correlation_set(ruleset)
    assert not correlations.problems, correlations.problems
    return make_engine(ruleset, "informational", correlations), correlations


def correlation_counts(path: Path, hunt: Hunt) -> Counter[str]:
    """The correlation alerts of one file's hunt, by the correlation's name."""
    engine, correlations = hunt
    observations = []
    for result in iter_results([path], engine, HuntOptions(workers=1, correlations=correlations)):
        observations.extend(result.observations)
    return Counter(alert.correlation.rule.info.name or "" for alert in correlate(correlations, observations))


@pytest.fixture(scope="module")
def fail2ban_alerts(shared: Path, hunt: Hunt) -> dict[str, Counter[str]]:
    folder = shared / "datasets" / FAIL2BAN
    files = sorted(path for path in folder.iterdir() if path.is_file())
    assert len(files) >= 30, files
    return {path.name: correlation_counts(path, hunt) for path in files}


def test_brute_force_and_spraying_fire_on_fail2ban_attack_logs(fail2ban_alerts: dict[str, Counter[str]]) -> None:
    fired = {(name, rule) for name, counts in fail2ban_alerts.items() for rule in counts}
    report = {name: dict(counts) for name, counts in fail2ban_alerts.items() if counts}
    assert fired >= EXPECTED, report
    assert any(rule in BRUTE_FORCE for _, rule in fired) and any(rule in SPRAYING for _, rule in fired), report
    # fail2ban's logs are authentication attacks and web probes: nothing there moves laterally or exfiltrates
    # (and an SSH logon from an address new for its account, after the learning week: the logs span years)
    assert {rule for _, rule in fired} <= {*BRUTE_FORCE, *SPRAYING, "corr_linux_logon_after_brute_force_from_source",
                                            "corr_linux_logon_after_brute_force_on_account",
                                            "lnx_sshd_logon_from_new_source"}, report


def test_nothing_fires_on_the_benign_apache_log(shared: Path, hunt: Hunt) -> None:
    path = shared / "datasets" / APACHE
    engine, correlations = hunt
    events = 0
    for result in iter_results([path], engine, HuntOptions(workers=1, correlations=correlations)):
        events += result.events
    assert events == 10_000
    assert correlation_counts(path, hunt) == Counter()


def test_the_cli_prints_the_correlation_alerts_of_the_sshd_log(shared: Path, rule_cache: Path) -> None:
    """The same through ``yamori hunt --format jsonl``: the alerts name their group and every event they count."""
    path = shared / "datasets" / FAIL2BAN / "sshd"
    result = CliRunner().invoke(app, ["hunt", str(path), "--rules", str(RULES_DIR), "--format", "jsonl",
                                      "--workers", "1"])
    assert result.exit_code == 0, result.output
    alerts = [line for line in map(orjson.loads, result.stdout.splitlines()) if line["source"] == "correlation"]
    by_rule = Counter(alert["title"] for alert in alerts)
    assert by_rule["Brute Force Of Logons Against One Account"] >= 1, by_rule
    assert by_rule["Password Spraying From One Source Address"] >= 1, by_rule
    spraying = next(a for a in alerts if a["title"] == "Password Spraying From One Source Address")
    summary = spraying["matched"]["correlation"]
    assert summary["group"] == {"source.ip": "127.0.0.1"} and summary["value"] == 3
    assert all(ref.startswith(f"{path}#") for ref in summary["events"])
