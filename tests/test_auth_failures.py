"""benchmarks/auth_failures.py: fail2ban's ``# failJSON`` label reader on a hand-written file, and the scores of
the formats of :mod:`yamori.parsers.service_auth`, :mod:`yamori.parsers.text_generic` and
:mod:`yamori.parsers.cowrie` on the shared fail2ban test logs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).parent / "fixtures" / "auth" / "labelled.log"

OWN_FILTERS = ("dovecot", "vsftpd", "proftpd", "pure-ftpd", "wuftpd", "dropbear", "mysqld-auth", "mssql-auth",
               "mongodb-auth", "grafana", "gitlab", "drupal-auth", "phpmyadmin-syslog", "cowrie")
EXPLAINED_BAD_RECORDS = {"cowrie": 1}
"""cowrie: its last line is ``not a json line at all``, labelled as a malformed line by fail2ban itself."""


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    path = REPO / "benchmarks" / "auth_failures.py"
    spec = importlib.util.spec_from_file_location("auth_failures_benchmark", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_label_reader(bench: ModuleType) -> None:
    labels = bench.read_labels(FIXTURE)
    assert [(label.line, label.match, label.host, label.scored) for label in labels] == [
        (4, True, "203.0.113.1", True),
        (7, False, None, True),
        (12, True, "203.0.113.3", True),  # the label over two comment lines; line 9 has no label
        (14, True, "203.0.113.99", True),
        (16, True, "203.0.113.5", True),  # "#failJSON:" without a space
        (18, False, None, True),
        (22, True, "203.0.113.7", False),  # only in fail2ban's aggressive mode
        (24, False, None, True),  # no-match labels hold in every mode
        (28, True, "203.0.113.9", False),  # a constraint naming the aggressive mode
    ]
    assert labels[2].desc == "one label over two comment lines"
    assert labels[0].text.startswith("Nov 20 08:00:00 ftp pure-ftpd:")


def test_scoring_of_the_fixture(bench: ModuleType) -> None:
    score = bench.score_file(FIXTURE)
    assert (score.tp, score.fp, score.fn, score.tn) == (3, 1, 1, 2)
    assert (score.host_agree, score.host_differ, score.host_absent) == (2, 1, 0)
    assert (score.mode_only, score.mode_only_marked) == (2, 0)
    assert score.bad_records == 0 and score.unlabelled_failures == 0
    totals = bench.totals([score])
    assert totals.precision == 0.75 and totals.recall == 0.75


def test_options_and_constraints(bench: ModuleType) -> None:
    normal = bench._normal_mode_applies
    assert normal([{}, {"mode": "aggressive"}]) and normal({"logtype": "journal"}) and normal(None)
    assert normal([{"mode": "normal"}, {"mode": "auth"}])
    assert not normal([{"mode": "ddos"}, {"mode": "aggressive"}]) and not normal({"mode": "aggressive"})
    label = bench._label({"match": True, "constraint": "opts.get('mode') != 'aggressive'"}, 3, "x", True)
    assert label.scored


def test_own_formats_on_the_fail2ban_logs(bench: ModuleType, shared: Path) -> None:
    scores = list(bench.score_files(OWN_FILTERS))
    assert sorted(score.name for score in scores) == sorted(OWN_FILTERS)
    for score in scores:
        assert score.bad_records == EXPLAINED_BAD_RECORDS.get(score.name, 0), (score.name, score.bad_reasons)
    totals = bench.totals(score for score in scores if score.group == "auth")
    assert totals.precision >= 0.9, totals
    assert totals.recall >= 0.85, totals
    assert totals.differ == 0, [line for score in scores for line in score.misses if line.startswith("HOST")]
    cowrie = next(score for score in scores if score.name == "cowrie")
    assert cowrie.group == "other" and cowrie.tp == 0 and cowrie.fp == 0  # connections are not logon failures


def test_other_filters_are_rarely_auth_failures(bench: ModuleType, shared: Path) -> None:
    scores = list(bench.score_files(bench.OTHER_FILTERS))
    other = bench.totals(scores)
    assert other.tp + other.fn > 50
    assert other.tp <= (other.tp + other.fn) * 0.05
