"""Authentication failures against fail2ban's labelled test logs: precision and recall of Yamori's normalized
authentication-failure events (``event.category`` holds ``authentication`` and ``event.outcome`` is ``failure``).

Data: ../shared/datasets/fail2ban_fail2ban/fail2ban/tests/files/logs/ - one file per fail2ban filter; each log
line is preceded by ``# failJSON: {"time": ..., "match": true/false, "host": ..., "desc": ...}`` saying whether
that filter matches the line (an attack line) and which host is the attacker. Lines without a label are not
scored (some files have context lines). Each file is read as Yamori reads any file (``read_file``: the format
is recognised by content), and a labelled line counts as predicted when an event of that line is an
authentication failure.

Labels that hold only in a non-default filter mode are set aside (not scored): fail2ban's ``aggressive``,
``ddos``, ``extra`` and ``fallback`` modes also ban for connections without any logon attempt (dropped TLS
handshakes, scanners), which are not authentication failures. A ``# filterOptions:`` line switches the modes of
the labels after it; a label's ``constraint`` may name its mode. Their ``match: false`` labels still count
(what does not match in a wider mode does not match in the default one).

Files are grouped by what the filter detects: ``auth`` (failed logons: the ones precision and recall are
computed over) and ``other`` (bot searches, overflows, exploits, scanners, honeypot connections: an attack line
there is not an authentication failure; the table reports how many of them Yamori marks as one, which should be
few).

Host agreement: for each true positive whose label names the attacker, the event's ``source.ip`` or
``source.domain`` is compared with it (``agree``/``differ``/``absent``).

Usage: python benchmarks/auth_failures.py [--misses] [FILTER ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATASETS, table
from yamori.events import BadRecord
from yamori.parsers.auth_patterns import address
from yamori.sources.files import read_file

LOGS = DATASETS / "fail2ban_fail2ban" / "fail2ban" / "tests" / "files" / "logs"

AUTH_FILTERS = (
    "sshd", "sshd-journal", "dropbear", "pam-generic", "vsftpd", "proftpd", "pure-ftpd", "wuftpd", "dovecot",
    "apache-auth", "nginx-http-auth", "lighttpd-auth", "haproxy-http-auth", "mysqld-auth", "mssql-auth",
    "mongodb-auth", "grafana", "gitlab", "drupal-auth", "phpmyadmin-syslog", "openvpn",
)
"""Filters whose attack lines are failed logons (checked file by file). ``openvpn`` is mostly failed TLS,
certificate and password checks; its ``SIGUSR1[soft,connection-reset]`` lines (a client reset after a malformed
packet) are labelled attacks too and are not logon failures. ``mongodb-auth`` labels the ``end connection``
line that follows a failed authentication (it carries the address), not the failure line itself."""

OTHER_FILTERS = (
    "apache-badbots", "apache-botsearch", "apache-fakegooglebot", "apache-modsecurity", "apache-nohome",
    "apache-noscript", "apache-overflows", "apache-pass", "apache-shellshock", "nginx-bad-request",
    "nginx-botsearch", "nginx-forbidden", "nginx-limit-req", "php-url-fopen", "portsentry", "cowrie",
)
"""Filters whose attack lines are not logon failures: bad bots and searches for admin pages, overflows and
exploits, forbidden requests, rate limits, port scans (portsentry), and ``cowrie``, whose filter bans every
connection to the honeypot (``cowrie.session.connect``) - its ``login.success`` line is labelled no-match."""

DEFAULT_MODES = frozenset({"normal"})


@dataclass(frozen=True, slots=True)
class Label:
    """One ``# failJSON`` label and the line it applies to."""

    line: int
    """Line number (1-based, as Yamori numbers lines) of the labelled log line."""
    text: str
    match: bool
    host: str | None = None
    user: str | None = None
    desc: str = ""
    scored: bool = True
    """False for an attack label that holds only in a non-default filter mode."""


def read_labels(path: Path) -> list[Label]:
    """The labels of one fail2ban test log: each ``# failJSON:`` applies to the next line that is neither a
    comment nor blank. A label written over several comment lines is joined until it is valid JSON."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    labels: list[Label] = []
    pending: dict[str, Any] | None = None
    normal_mode = True
    index = 0
    while index < len(lines):
        raw = lines[index]
        stripped = raw.strip()
        index += 1
        if not stripped:
            continue
        if stripped.startswith("#"):
            body = stripped.lstrip("#").strip()
            if body.startswith("failJSON:"):
                text = body[len("failJSON:"):].strip()
                parsed, index = _json_over_lines(text, lines, index)
                if isinstance(parsed, dict):
                    pending = parsed
            elif body.startswith("filterOptions:"):
                options, index = _json_over_lines(body[len("filterOptions:"):].strip(), lines, index)
                normal_mode = _normal_mode_applies(options)
            continue
        if pending is not None:
            labels.append(_label(pending, index, raw, normal_mode))
            pending = None
    return labels


def _json_over_lines(text: str, lines: list[str], index: int) -> tuple[Any, int]:
    """Decode ``text``; while it is incomplete, append the following comment lines (at most ten)."""
    for _ in range(10):
        try:
            return json.loads(text), index
        except json.JSONDecodeError:
            if index < len(lines) and lines[index].lstrip().startswith("#"):
                text += " " + lines[index].strip().lstrip("#").strip()
                index += 1
            else:
                break
    return None, index


def _normal_mode_applies(options: Any) -> bool:
    if isinstance(options, dict):
        options = [options]
    if not isinstance(options, list) or not options:
        return True
    return any(not isinstance(option, dict) or option.get("mode", "normal") in DEFAULT_MODES for option in options)


def _label(data: dict[str, Any], line: int, text: str, normal_mode: bool) -> Label:
    match = bool(data.get("match"))
    constraint = str(data.get("constraint", ""))
    mode_only = "mode') ==" in constraint.replace('"', "'") and "'normal'" not in constraint
    host = data.get("host")
    user = data.get("user")
    return Label(line=line, text=text, match=match, host=str(host) if host is not None else None,
                 user=str(user) if user is not None else None, desc=str(data.get("desc", "")),
                 scored=not match or (normal_mode and not mode_only))


# ---------------------------------------------------------------------------------------------------- scoring

@dataclass
class FileScore:
    """The comparison of one file's labels with Yamori's events."""

    name: str
    group: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    mode_only: int = 0
    mode_only_marked: int = 0
    host_agree: int = 0
    host_differ: int = 0
    host_absent: int = 0
    bad_records: int = 0
    events: int = 0
    unlabelled_failures: int = 0
    shifted: int = 0
    """False negatives whose attempt Yamori marks on one of the three lines before, for the same host (fail2ban
    labels MongoDB's ``end connection`` line, which carries the address, Yamori the failure line itself)."""
    misses: list[str] = field(default_factory=list)
    bad_reasons: list[str] = field(default_factory=list)

    @property
    def attack(self) -> int:
        return self.tp + self.fn

    @property
    def labels(self) -> int:
        return self.tp + self.fp + self.fn + self.tn


def is_auth_failure(fields: dict[str, Any]) -> bool:
    category = fields.get("event.category")
    categories = category if isinstance(category, list) else [category]
    return "authentication" in categories and fields.get("event.outcome") == "failure"


def _line_of(position: str) -> int | None:
    head = position.split("/", 1)[0]
    return int(head) if head.isdigit() else None


def _same_host(label_host: str, fields: dict[str, Any]) -> bool | None:
    """True/False: the event's source agrees with the label's host; None: the event names no source."""
    found = [fields.get("source.ip"), fields.get("source.domain")]
    found = [value for value in found if isinstance(value, str) and value]
    if not found:
        return None
    ip, domain = address(label_host)
    wanted = {label_host.lower(), *(value for value in (ip, domain) if value)}
    for value in found:
        value_ip, value_domain = address(value)
        if {value.lower(), *(v for v in (value_ip, value_domain) if v)} & wanted:
            return True
    return False


def score_file(path: Path, group: str = "auth") -> FileScore:
    """Read one labelled file with Yamori and compare its authentication failures with the labels."""
    score = FileScore(path.name, group)
    failures: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for item in read_file(path):
        if isinstance(item, BadRecord):
            score.bad_records += 1
            score.bad_reasons.append(f"{item.position}: {item.reason}")
            continue
        score.events += 1
        line = _line_of(item.position)
        if line is not None and is_auth_failure(item.fields):
            failures[line].append(item.fields)
    labelled: set[int] = set()
    false_positives: set[int] = set()
    missed: list[Label] = []
    for label in read_labels(path):
        labelled.add(label.line)
        marked = label.line in failures
        if not label.scored:
            score.mode_only += 1
            score.mode_only_marked += marked
            continue
        if label.match and marked:
            score.tp += 1
            if label.host:
                agreement = [_same_host(label.host, fields) for fields in failures[label.line]]
                if True in agreement:
                    score.host_agree += 1
                elif False in agreement:
                    score.host_differ += 1
                    score.misses.append(f"HOST {path.name}:{label.line} label {label.host}: {label.text[:100]}")
                else:
                    score.host_absent += 1
        elif label.match:
            score.fn += 1
            missed.append(label)
            if group == "auth":
                score.misses.append(f"FN   {path.name}:{label.line}: {label.text[:110]}")
        elif marked:
            score.fp += 1
            false_positives.add(label.line)
            score.misses.append(f"FP   {path.name}:{label.line}: {label.text[:110]}")
        else:
            score.tn += 1
    if group == "other" and score.tp:
        score.misses.extend(f"MARK {path.name}:{label.line}" for label in read_labels(path)
                            if label.match and label.line in failures)
    for label in missed:
        if label.host and any(_same_host(label.host, fields) for line in range(label.line - 3, label.line)
                              if line in false_positives for fields in failures[line]):
            score.shifted += 1
    score.unlabelled_failures = sum(1 for line in failures if line not in labelled)
    return score


def score_files(names: Iterable[str] | None = None) -> Iterator[FileScore]:
    wanted = set(names) if names else None
    for name in (*AUTH_FILTERS, *OTHER_FILTERS):
        if wanted is not None and name not in wanted:
            continue
        path = LOGS / name
        if path.is_file():
            yield score_file(path, "auth" if name in AUTH_FILTERS else "other")


def ratio(part: int, whole: int) -> str:
    return f"{part / whole:.3f}" if whole else "-"


@dataclass
class Totals:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    agree: int = 0
    differ: int = 0
    absent: int = 0
    bad: int = 0
    mode_only: int = 0
    mode_only_marked: int = 0
    shifted: int = 0

    def add(self, score: FileScore) -> None:
        self.tp += score.tp
        self.fp += score.fp
        self.fn += score.fn
        self.tn += score.tn
        self.agree += score.host_agree
        self.differ += score.host_differ
        self.absent += score.host_absent
        self.bad += score.bad_records
        self.mode_only += score.mode_only
        self.mode_only_marked += score.mode_only_marked
        self.shifted += score.shifted

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def totals(scores: Iterable[FileScore]) -> Totals:
    result = Totals()
    for score in scores:
        result.add(score)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("filters", nargs="*", help="fail2ban filter names (file names); default: all")
    parser.add_argument("--misses", action="store_true", help="list false negatives, false positives, "
                        "host disagreements and bad records")
    args = parser.parse_args()
    if not LOGS.is_dir():
        sys.exit(f"the fail2ban logs are not at {LOGS}")
    scores = list(score_files(args.filters))
    rows = []
    for score in scores:
        rows.append([score.name, score.group, score.labels, score.attack, score.tp, score.fp, score.fn, score.tn,
                     ratio(score.tp, score.tp + score.fp), ratio(score.tp, score.attack),
                     f"{score.host_agree}/{score.host_differ}/{score.host_absent}", score.bad_records,
                     f"{score.mode_only_marked}/{score.mode_only}" if score.mode_only else "",
                     score.unlabelled_failures or "", score.shifted or ""])
    print(table(["filter", "group", "labels", "attack", "TP", "FP", "FN", "TN", "precision", "recall",
                 "host =/≠/none", "bad", "mode-only marked", "unlabelled marked", "shifted"], rows))
    auth = totals(score for score in scores if score.group == "auth")
    other = totals(score for score in scores if score.group == "other")
    print()
    print(table(["group", "files", "attack lines", "marked auth failure", "benign lines", "benign marked",
                 "precision", "recall", "host =/≠/none", "bad records"], [
        ["auth", sum(s.group == "auth" for s in scores), auth.tp + auth.fn, auth.tp, auth.fp + auth.tn, auth.fp,
         f"{auth.precision:.3f}", f"{auth.recall:.3f}", f"{auth.agree}/{auth.differ}/{auth.absent}", auth.bad],
        ["other", sum(s.group == "other" for s in scores), other.tp + other.fn, other.tp, other.fp + other.tn,
         other.fp, "-", "-", f"{other.agree}/{other.differ}/{other.absent}", other.bad],
    ]))
    print(f"\nauth filters: precision {auth.precision:.3f}, recall {auth.recall:.3f} "
          f"(TP {auth.tp}, FP {auth.fp}, FN {auth.fn}, TN {auth.tn}); other filters: {other.tp} of "
          f"{other.tp + other.fn} attack lines marked as authentication failures. Attack labels of non-default "
          f"fail2ban modes set aside: {auth.mode_only + other.mode_only} "
          f"({auth.mode_only_marked + other.mode_only_marked} marked). False negatives marked one to three lines "
          f"earlier for the same host (counted as FN and FP above): {auth.shifted}.")
    if args.misses:
        print()
        for score in scores:
            for line in score.misses:
                print(line)
            for reason in score.bad_reasons:
                print(f"BAD  {score.name}:{reason}")


if __name__ == "__main__":
    main()
