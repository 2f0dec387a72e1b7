"""Playbooks: ``when`` matching, configuration checks, real commands (stdin, exit codes, timeouts), and the
runner against real local HTTP and SMTP servers, with every action in the ActionLog table."""

from __future__ import annotations

import os
import stat
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy.orm import Session

from notifykit import http_recorder, sample_alert, smtp_recorder
from yamori.triage.db import open_database
from yamori.triage.playbooks import (
    ActionLog,
    Glob,
    PlaybookConfigError,
    PlaybookRunner,
    load_playbooks,
    recent_actions,
    run_command,
)

PY = sys.executable
INCIDENT: dict[str, Any] = {
    "id": 7, "title": "Credential attack on srv-web-1", "severity": "high", "status": "open",
    "entities": [{"kind": "host", "value": "srv-web-1"}, {"kind": "user", "value": "bob"}],
    "techniques": ["T1110.001"], "tactics": ["Credential Access"], "rule_ids": ["5d1c-brute"]}


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine, factory = open_database("sqlite:///" + str(tmp_path / "triage.sqlite3"))
    with factory() as opened:
        yield opened
    engine.dispose()


def script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(body))
    return path


def noop_runner(when: dict[str, Any], on: str = "alert") -> PlaybookRunner:
    return PlaybookRunner.from_config({"playbooks": [
        {"name": "p", "on": on, "when": when, "actions": [{"type": "command", "argv": [PY, "-c", "pass"]}]}]},
        Path.cwd())


# ---- when


@pytest.mark.parametrize(("when", "alert", "expected"), [
    ({}, {}, True),
    ({"min_severity": "high"}, {}, True),
    ({"min_severity": "HIGH"}, {}, True),
    ({"min_severity": "critical"}, {}, False),
    ({"min_severity": "critical"}, {"severity": "critical"}, True),  # the adjusted severity counts, not the level
    ({"min_severity": "medium"}, {"severity": "low"}, False),
    ({"rules": ["5d1c-brute"]}, {}, True),
    ({"rules": ["5d1c-*"]}, {}, True),
    ({"rules": ["brute force*"]}, {}, True),
    ({"rules": ["other-rule", "*spraying*"]}, {}, False),
    ({"tags": ["attack.t1110*"]}, {}, True),
    ({"tags": ["ATTACK.CREDENTIAL-ACCESS"]}, {}, True),
    ({"tags": ["attack.t1059*"]}, {}, False),
    ({"hosts": ["srv-*"]}, {}, True),
    ({"hosts": ["db-*", "web-?"]}, {}, False),
    ({"hosts": ["srv-*"]}, {"fields": {"TargetUserName": "bob"}}, False),  # no host at all
    ({"users": ["alice", "bob"]}, {}, True),
    ({"users": ["alice"]}, {}, False),
    ({"ips": ["10.0.0.*"]}, {}, True),
    ({"ips": ["192.168.*"]}, {}, False),
    ({"ips": ["10.0.0.[0-4]"]}, {}, False),
    ({"ips": ["10.0.0.[5-9]"]}, {}, True),
    ({"correlation": True}, {}, False),
    ({"correlation": True}, {"correlation": True}, True),
    ({"correlation": False}, {}, True),
    ({"min_severity": "high", "hosts": ["srv-*"], "tags": ["attack.t1110*"], "users": ["bob"]}, {}, True),
    ({"min_severity": "high", "hosts": ["db-*"]}, {}, False),  # every criterion must hold
    ({}, {"suppressed_by": "duplicate:41-0-brute"}, False),
    ({"include_suppressed": True}, {"suppressed_by": "exception:3"}, True),
])
def test_when_on_alerts(when: dict[str, Any], alert: dict[str, Any], expected: bool) -> None:
    assert bool(noop_runner(when).matching_alert(sample_alert(**alert))) is expected


@pytest.mark.parametrize(("on", "when", "change", "expected"), [
    ("incident", {}, "opened", True),
    ("incident", {}, "updated", True),
    ("incident.opened", {}, "updated", False),
    ("incident.updated", {}, "updated", True),
    ("alert", {}, "opened", False),
    ("incident", {"min_severity": "critical"}, "opened", False),
    ("incident", {"min_severity": "high", "hosts": ["SRV-*"], "users": ["bob"]}, "opened", True),
    ("incident", {"ips": ["*"]}, "opened", False),
    ("incident", {"tags": ["attack.t1110*"]}, "opened", True),  # tags made from the incident's techniques
    ("incident", {"tags": ["attack.credential-access"]}, "opened", True),
    ("incident", {"rules": ["5d1c-brute"]}, "opened", True),
    ("incident", {"rules": ["credential attack*"]}, "opened", True),
    ("incident", {"rules": ["nope"]}, "opened", False),
    ("incident", {"correlation": True}, "opened", False),
])
def test_when_on_incidents(on: str, when: dict[str, Any], change: str, expected: bool) -> None:
    assert bool(noop_runner(when, on).matching_incident(INCIDENT, change)) is expected


def test_alert_playbooks_do_not_run_on_incidents_and_back() -> None:
    runner = noop_runner({}, "incident")
    assert runner.matching_alert(sample_alert()) == []
    assert runner.matching_incident(INCIDENT, "opened")


def test_globs() -> None:
    assert Glob.compile("srv-*").matches("SRV-web-1")
    assert not Glob.compile("srv-*").matches("db-srv-1")  # the whole text, not a part
    assert Glob.compile("[]]x").matches("]x")
    assert Glob.compile("a[!b]c").matches("axc") and not Glob.compile("a[!b]c").matches("abc")
    for bad in ("", "  ", "srv-[", "a[!]", "x[]"):
        with pytest.raises(ValueError):
            Glob.compile(bad)


# ---- configuration


def not_executable(tmp_path: Path) -> str:
    path = tmp_path / "plain.txt"
    path.write_text("not a program")
    return str(path)


@pytest.mark.parametrize(("playbook", "message"), [
    ({"actions": [{"type": "pager"}]}, "playbook 'p1': actions[0]: type must be one of webhook, slack, email, "
                                       "notify, command, not 'pager'"),
    ({"actions": [{"type": "webhook", "channel": "nope"}]}, "playbook 'p1': actions[0]: unknown channel 'nope' "
                                                            "(declared in [notify.channels]: chat, mail)"),
    ({"actions": [{"type": "email", "channel": "chat"}]}, "playbook 'p1': actions[0]: a email action cannot use "
                                                          "channel 'chat', which is of type slack"),
    ({"actions": [{"type": "slack", "channel": "mail"}]}, "cannot use channel 'mail'"),
    ({"actions": [{"type": "webhook"}]}, "playbook 'p1': actions[0]: channel is required"),
    ({"when": {"hosts": ["srv-["]}}, "playbook 'p1': when: hosts: bad pattern: 'srv-[' has an unclosed ["),
    ({"when": {"tags": [""]}}, "playbook 'p1': when: tags must be an array of non-empty strings"),
    ({"when": {"rules": "5d1c-brute"}}, "playbook 'p1': when: rules must be an array of strings"),
    ({"when": {"min_severty": "high"}}, "playbook 'p1': when: unknown key(s): min_severty"),
    ({"when": {"min_severity": "urgent"}}, "playbook 'p1': when: min_severity must be one of"),
    ({"when": {"correlation": "yes"}}, "playbook 'p1': when: correlation must be true or false"),
    ({"when": "always"}, "playbook 'p1': when must be a table"),
    ({"on": "event"}, "playbook 'p1': on must be one of alert, incident, incident.opened, incident.updated"),
    ({"actions": []}, "playbook 'p1': actions is empty"),
    ({"actions": None}, "playbook 'p1': actions is required"),
    ({"actions": [{"type": "command", "argv": []}]}, "playbook 'p1': actions[0]: argv must name the command"),
    ({"actions": [{"type": "command", "argv": "/bin/true"}]}, "argv must be an array of strings"),
    ({"actions": [{"type": "command", "argv": ["no-such-command-7f3a"]}]}, "'no-such-command-7f3a' not found"),
    ({"actions": [{"type": "command", "argv": ["/nonexistent/isolate-host"]}]}, "is not an executable file"),
    ({"actions": [{"type": "command", "argv": [PY], "timeout": -1}]}, "actions[0]: timeout must be between"),
    ({"actions": [{"type": "command", "argv": [PY], "shell": True}]}, "actions[0]: unknown key(s): shell"),
    ({"actions": [{"type": "command", "argv": [PY], "pass_env": ["BAD-NAME"]}]}, "not an environment variable"),
    ({"actions": ["/bin/true"]}, "playbook 'p1': actions[0] must be a table"),
    ({"action": []}, "playbook 'p1': unknown key(s): action"),
])
def test_bad_playbooks_are_refused_naming_the_playbook(playbook: dict[str, Any], message: str,
                                                       tmp_path: Path) -> None:
    entry = {"name": "p1", "actions": [{"type": "command", "argv": [PY]}], **playbook}
    if entry["actions"] is None:
        del entry["actions"]
    config = {"notify": {"channels": {"chat": {"type": "slack", "url": "http://127.0.0.1:9/"},
                                      "mail": {"type": "email", "host": "127.0.0.1", "from": "y@example.org",
                                               "to": ["soc@example.org"]}}},
              "playbooks": [entry]}
    with pytest.raises(PlaybookConfigError) as caught:
        PlaybookRunner.from_config(config, tmp_path)
    assert message in str(caught.value)


def test_other_playbook_config_errors(tmp_path: Path) -> None:
    action = {"type": "command", "argv": [PY]}
    with pytest.raises(PlaybookConfigError, match=r"^playbooks\[0\]: name is required$"):
        PlaybookRunner.from_config({"playbooks": [{"actions": [action]}]}, tmp_path)
    with pytest.raises(PlaybookConfigError, match="playbook 'a' is declared twice"):
        PlaybookRunner.from_config({"playbooks": [{"name": "a", "actions": [action]},
                                                  {"name": "a", "actions": [action]}]}, tmp_path)
    with pytest.raises(PlaybookConfigError, match=r"playbooks must be an array of tables"):
        PlaybookRunner.from_config({"playbooks": {"name": "a"}}, tmp_path)
    with pytest.raises(PlaybookConfigError, match="is not an executable file"):
        PlaybookRunner.from_config({"playbooks": [{"name": "a", "actions": [
            {"type": "command", "argv": [not_executable(tmp_path)]}]}]}, tmp_path)


def test_load_playbooks_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "playbooks.toml"
    path.write_text("[[playbooks]]\nname = 'x'\nactions = [{ type = 'webhook', channel = 'ghost' }]\n")
    with pytest.raises(PlaybookConfigError, match=rf"^{path}: playbook 'x': actions\[0\]: unknown channel 'ghost'"):
        load_playbooks(path)
    path.write_text("[[playbooks]\n")
    with pytest.raises(PlaybookConfigError, match=rf"^{path}: "):
        load_playbooks(path)
    with pytest.raises(PlaybookConfigError, match="cannot read"):
        load_playbooks(tmp_path / "missing.toml")


def test_empty_config_runs_nothing(session: Session) -> None:
    runner = PlaybookRunner.from_config({}, Path.cwd())
    assert runner.run_alert(session, sample_alert()) == []
    assert recent_actions(session) == []


# ---- commands


COPY = """\
    import json, os, sys
    data = sys.stdin.buffer.read()
    with open(sys.argv[1], "wb") as out:
        out.write(data)
    with open(sys.argv[1] + ".env", "w") as out:
        json.dump(dict(os.environ), out)
    print(f"wrote {len(data)} bytes")
"""


def test_run_command_keeps_the_first_4_kib_of_output(tmp_path: Path) -> None:
    noisy = script(tmp_path, "noisy.py", "import sys\nsys.stdout.write('o' * 200000)\nsys.stderr.write('e' * 9000)\n")
    outcome = run_command([PY, str(noisy)], b"", timeout=10)
    assert outcome.exit_code == 0 and not outcome.timed_out
    assert outcome.stdout == b"o" * 4096 and outcome.stderr == b"e" * 4096


def test_run_command_does_not_block_on_a_command_that_reads_no_input(tmp_path: Path) -> None:
    outcome = run_command([PY, "-c", "import sys; sys.exit(0)"], b"x" * 5_000_000, timeout=10)
    assert outcome.exit_code == 0 and outcome.seconds < 5


def test_run_command_kills_the_whole_group_on_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    slow = script(tmp_path, "slow.py", f"""\
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(pid_file)!r}, "w").write(str(child.pid))
        print("started", flush=True)
        time.sleep(60)
    """)
    started = time.monotonic()
    outcome = run_command([PY, str(slow)], b"{}", timeout=1.0)
    assert outcome.timed_out and outcome.exit_code is None
    assert time.monotonic() - started < 4
    assert outcome.stdout == b"started\n"  # what it wrote before the kill is kept
    assert outcome.detail(1.0).startswith("killed after the 1s timeout\n--- stdout ---\nstarted")
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 3
    while _running(grandchild) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _running(grandchild)


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status  # a zombie waiting for its reaper is dead


def test_run_command_that_cannot_start() -> None:
    outcome = run_command(["/nonexistent/x"], b"", timeout=1)
    assert outcome.error is not None and outcome.exit_code is None
    assert outcome.detail(1).startswith("not started: /nonexistent/x: No such file or directory")


def test_command_action_gets_the_alert_on_stdin_and_a_clean_environment(
        tmp_path: Path, session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YAMORI_ADMIN_TOKEN", "do-not-leak")
    monkeypatch.setenv("ISOLATE_API_KEY", "passed-on-purpose")
    copy = script(tmp_path, "copy.py", COPY)
    out = tmp_path / "alert.json"
    runner = PlaybookRunner.from_config({"playbooks": [{"name": "isolate", "actions": [
        {"type": "command", "argv": [PY, str(copy), str(out)], "pass_env": ["ISOLATE_API_KEY"]}]}]}, tmp_path)
    alert = sample_alert(incident_id=3)
    [result] = runner.run_alert(session, alert)
    session.commit()
    assert orjson.loads(out.read_bytes()) == orjson.loads(orjson.dumps(alert.to_dict()))
    size = out.stat().st_size
    assert (result.ok, result.status, result.attempts) == (True, 0, 1)
    assert result.detail == f"exit 0\n--- stdout ---\nwrote {size} bytes"
    environment = orjson.loads((tmp_path / "alert.json.env").read_bytes())
    assert environment["YAMORI_PLAYBOOK"] == "isolate"
    assert environment["YAMORI_KIND"] == "alert" and environment["YAMORI_ALERT_ID"] == alert.alert_id
    assert environment["ISOLATE_API_KEY"] == "passed-on-purpose"
    assert "YAMORI_ADMIN_TOKEN" not in environment
    [row] = recent_actions(session)
    assert (row.playbook, row.action, row.target, row.alert_id, row.incident_id, row.ok, row.status) == \
        ("isolate", "command", PY, alert.alert_id, 3, True, 0)


def test_relative_command_is_taken_from_the_config_folder(tmp_path: Path, session: Session) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    isolate = script(hooks, "isolate.sh", "#!/bin/sh\ncat > \"$1\"\necho \"isolating $YAMORI_ALERT_ID\"\n")
    isolate.chmod(isolate.stat().st_mode | stat.S_IXUSR)
    path = tmp_path / "playbooks.toml"
    path.write_text(f"""
[[playbooks]]
name = "isolate"
actions = [{{ type = "command", argv = ["hooks/isolate.sh", "{tmp_path / 'got.json'}"], timeout = 5 }}]
""")
    runner = load_playbooks(path)
    [result] = runner.run_alert(session, sample_alert())
    assert result.ok and result.target == "hooks/isolate.sh"
    assert result.detail == "exit 0\n--- stdout ---\nisolating 42-0-brute"
    assert orjson.loads((tmp_path / "got.json").read_bytes())["alert_id"] == "42-0-brute"


def test_failing_and_timed_out_commands_are_logged(tmp_path: Path, session: Session) -> None:
    fail = script(tmp_path, "fail.py", "import sys\nprint('trying')\nsys.stderr.write('boom: host not found')\n"
                                       "sys.exit(3)\n")
    runner = PlaybookRunner.from_config({"playbooks": [{"name": "respond", "actions": [
        {"type": "command", "argv": [PY, str(fail)]},
        {"type": "command", "argv": [PY, "-c", "import time; time.sleep(30)"], "timeout": 0.5},
        {"type": "command", "argv": [PY, "-c", "print('fine')"]},
    ]}]}, tmp_path)
    started = time.monotonic()
    failed, killed, fine = runner.run_alert(session, sample_alert())
    assert time.monotonic() - started < 3
    session.commit()
    assert (failed.ok, failed.status) == (False, 3)
    assert failed.detail == "exit 3\n--- stdout ---\ntrying\n--- stderr ---\nboom: host not found"
    assert (killed.ok, killed.status, killed.detail) == (False, None, "killed after the 0.5s timeout")
    assert fine.ok and fine.seconds < 2.5
    rows = recent_actions(session)
    assert [row.ok for row in rows] == [True, False, False]  # newest first
    assert [row.id for row in recent_actions(session, failed_only=True)] == [rows[1].id, rows[2].id]


# ---- the runner with channels, and the action log


def full_config(http_url: str, smtp_port: int, tmp_path: Path) -> str:
    copy = script(tmp_path, "copy.py", COPY)
    return f"""
[notify]
console_url = "https://yamori.example"

[notify.channels.soc-slack]
type = "slack"
url = "{http_url}/slack"
backoff = 0.01

[notify.channels.soar]
type = "webhook"
url = "{http_url}/soar"
headers_env = {{ Authorization = "YAMORI_TEST_SOAR_AUTH" }}
backoff = 0.01

[notify.channels.soc-mail]
type = "email"
host = "127.0.0.1"
port = {smtp_port}
from = "yamori@example.org"
to = ["soc@example.org"]

[[playbooks]]
name = "page on high"
on = "alert"
when = {{ min_severity = "high", tags = ["attack.t1110*"], hosts = ["srv-*"] }}
actions = [
  {{ type = "webhook", channel = "soc-slack" }},
  {{ type = "webhook", channel = "soar" }},
  {{ type = "email", channel = "soc-mail" }},
  {{ type = "command", argv = ["{PY}", "{copy}", "{tmp_path / 'alert.json'}"], timeout = 10 }},
]

[[playbooks]]
name = "only critical"
when = {{ min_severity = "critical" }}
actions = [{{ type = "notify", channel = "soar" }}]

[[playbooks]]
name = "new incident"
on = "incident.opened"
actions = [{{ type = "webhook", channel = "soar" }}]
"""


def test_runner_delivers_everywhere_and_logs_each_action(tmp_path: Path, session: Session,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YAMORI_TEST_SOAR_AUTH", "Bearer soar-token-1")
    alert = sample_alert()
    with http_recorder() as http, smtp_recorder() as smtp:
        path = tmp_path / "playbooks.toml"
        path.write_text(full_config(http.url, smtp.port, tmp_path))
        runner = load_playbooks(path)
        http.plan = [200, 500, 200]  # requests run concurrently: one of the two gets the 500 and retries
        results = runner.run_alert(session, alert)
        session.commit()
    assert [(r.playbook, r.action, r.target, r.ok) for r in results] == [
        ("page on high", "webhook", "soc-slack", True), ("page on high", "webhook", "soar", True),
        ("page on high", "email", "soc-mail", True), ("page on high", "command", PY, True)]
    assert sorted(r.attempts for r in results[:2]) == [1, 2]
    assert sorted(r.path for r in http.requests) == ["/slack", "/soar", "/soar"] or \
        sorted(r.path for r in http.requests) == ["/slack", "/slack", "/soar"]
    slack_body = orjson.loads(next(r.body for r in http.requests if r.path == "/slack"))
    assert slack_body["blocks"][-1]["elements"][0]["url"] == "https://yamori.example/alerts/42-0-brute"
    soar = next(r for r in http.requests if r.path == "/soar")
    assert soar.headers["authorization"] == "Bearer soar-token-1"
    assert orjson.loads(soar.body)["alert_id"] == alert.alert_id
    assert smtp.mails[0].message["Subject"] == "[Yamori] high Brute force against srv-web-1"
    assert orjson.loads((tmp_path / "alert.json").read_bytes())["alert_id"] == alert.alert_id

    rows = list(reversed(recent_actions(session)))
    assert [(row.playbook, row.action, row.target, row.alert_id, row.ok) for row in rows] == [
        (r.playbook, r.action, r.target, alert.alert_id, True) for r in results]
    assert [row.attempts for row in rows] == [r.attempts for r in results]
    assert [row.status for row in rows] == [200, 200, 250, 0]
    assert all(row.time.startswith("20") and row.time.endswith("Z") and row.seconds > 0 for row in rows)
    assert all("soar-token-1" not in row.detail for row in rows)
    assert rows[0].to_dict()["playbook"] == "page on high"

    # a critical alert runs both alert playbooks; an incident only the incident one
    critical = sample_alert(alert_id="99-0-brute", severity="critical")
    with http_recorder() as http2, smtp_recorder() as smtp2:
        runner = load_playbooks(_rewrite(path, http.url, http2.url, smtp.port, smtp2.port))
        assert [r.playbook for r in runner.run_alert(session, critical)] == ["page on high"] * 4 + ["only critical"]
        assert runner.run_incident(session, INCIDENT, "updated") == []
        [opened] = runner.run_incident(session, INCIDENT, "opened")
        session.commit()
    assert opened.ok and opened.incident_id == 7 and opened.alert_id is None
    incident_request = [r for r in http2.requests if r.headers["x-yamori-kind"] == "incident"]
    assert [orjson.loads(r.body) for r in incident_request] == [INCIDENT]
    assert [row.playbook for row in recent_actions(session, incident_id=7)] == ["new incident"]
    assert len(recent_actions(session, alert_id="99-0-brute")) == 5
    assert len(recent_actions(session, playbook="only critical")) == 1
    assert len(recent_actions(session, limit=3)) == 3
    assert session.query(ActionLog).count() == 10


def _rewrite(path: Path, old_url: str, new_url: str, old_port: int, new_port: int) -> Path:
    text = path.read_text().replace(old_url, new_url).replace(f"port = {old_port}", f"port = {new_port}")
    path.write_text(text)
    return path


def test_a_hanging_webhook_does_not_hold_back_the_other_actions(tmp_path: Path, session: Session) -> None:
    with http_recorder() as http:
        http.plan = ["hang"]
        runner = PlaybookRunner.from_config({
            "notify": {"channels": {"slow": {"type": "webhook", "url": http.url, "timeout": 1}}},
            "playbooks": [{"name": "p", "actions": [
                {"type": "webhook", "channel": "slow"},
                {"type": "command", "argv": [PY, "-c", "print('done')"]}]}]}, tmp_path)
        started = time.monotonic()
        hung, command = runner.run_alert(session, sample_alert())
        elapsed = time.monotonic() - started
        session.commit()
    assert 0.9 < elapsed < 2.5
    assert not hung.ok and hung.detail.startswith("timed out") and hung.target == "slow"
    assert command.ok and command.seconds < 0.9  # ran beside the webhook, not after it
    assert [row.ok for row in recent_actions(session)] == [True, False]


def test_an_action_overrunning_its_timeout_is_no_longer_awaited(tmp_path: Path, session: Session) -> None:
    # a server that trickles its answer one byte at a time defeats per-read timeouts: the runner still returns
    with http_recorder() as http:
        http.plan = ["trickle"]
        runner = PlaybookRunner.from_config({
            "notify": {"channels": {"drip": {"type": "webhook", "url": http.url, "timeout": 0.5}}},
            "playbooks": [{"name": "p", "actions": [{"type": "webhook", "channel": "drip"}]}]}, tmp_path)
        runner.grace = 0.3
        started = time.monotonic()
        [result] = runner.run_alert(session, sample_alert())
        elapsed = time.monotonic() - started
    assert elapsed < 1.5
    assert not result.ok and result.detail == "still running 0.8s after start: no longer awaited"
    session.commit()
    assert recent_actions(session)[0].detail == result.detail


def test_action_timeout_overrides_the_channel_timeout(tmp_path: Path, session: Session) -> None:
    with http_recorder() as http:
        http.plan = ["hang"]
        runner = PlaybookRunner.from_config({
            "notify": {"channels": {"slow": {"type": "webhook", "url": http.url, "timeout": 30}}},
            "playbooks": [{"name": "p", "actions": [{"type": "webhook", "channel": "slow", "timeout": 0.5}]}]},
            tmp_path)
        started = time.monotonic()
        [result] = runner.run_alert(session, sample_alert())
    assert not result.ok and time.monotonic() - started < 1.5


def test_retry_is_logged_with_its_attempts(tmp_path: Path, session: Session) -> None:
    with http_recorder() as http:
        http.plan = [503, 200]
        runner = PlaybookRunner.from_config({
            "notify": {"channels": {"hook": {"type": "webhook", "url": http.url, "backoff": 0.01}}},
            "playbooks": [{"name": "p", "actions": [{"type": "webhook", "channel": "hook"}]}]}, tmp_path)
        runner.run_alert(session, sample_alert())
        session.commit()
    [row] = recent_actions(session)
    assert (row.ok, row.attempts, row.status, row.detail) == (True, 2, 200, "HTTP 200")


def test_run_incident_rejects_an_unknown_change(session: Session) -> None:
    with pytest.raises(ValueError, match="opened"):
        noop_runner({}, "incident").run_incident(session, INCIDENT, "closed")


def test_incident_command_gets_the_incident_json(tmp_path: Path, session: Session) -> None:
    copy = script(tmp_path, "copy.py", COPY)
    out = tmp_path / "incident.json"
    runner = PlaybookRunner.from_config({"playbooks": [{"name": "ticket", "on": "incident", "actions": [
        {"type": "command", "argv": [PY, str(copy), str(out)]}]}]}, tmp_path)
    [result] = runner.run_incident(session, INCIDENT, "updated")
    assert result.ok and result.incident_id == 7
    assert orjson.loads(out.read_bytes()) == INCIDENT
    environment = orjson.loads(Path(str(out) + ".env").read_bytes())
    assert (environment["YAMORI_KIND"], environment["YAMORI_INCIDENT_ID"], environment["YAMORI_INCIDENT_CHANGE"]) \
        == ("incident", "7", "updated")
    assert os.environ.get("YAMORI_KIND") is None


# the shape of IncidentDetail.to_dict() (yamori.triage.incidents): the incident and its timeline
DETAIL: dict[str, Any] = {
    "incident": {"id": 12, "title": "Alerts on bob", "status": "open", "assignee": None, "verdict": "none",
                 "severity": "high", "reason": "alert", "entity_kind": "user", "entity_value": "bob",
                 "opened": "2026-03-01T08:00:01.000000Z", "updated": "2026-03-01T08:05:01.000000Z", "closed": None,
                 "first_alert": "2026-03-01T08:00:00.000000Z", "last_alert": "2026-03-01T08:05:00.000000Z",
                 "alert_count": 2},
    "timeline": [
        {"time": "2026-03-01T08:00:00.000000Z", "alert_id": "a1", "rule_id": "5d1c-brute",
         "title": "Brute force against srv-web-1", "severity": "high", "tactic": "Credential Access",
         "tactics": ["Credential Access"], "techniques": ["T1110.001"],
         "entities": {"user": "bob", "host": "srv-web-1", "ip": "10.0.0.5"}},
        {"time": "2026-03-01T08:05:00.000000Z", "alert_id": "a2", "rule_id": "77aa-psexec",
         "title": "PsExec service installed", "severity": "medium", "tactic": "Lateral Movement",
         "tactics": ["Execution", "Lateral Movement"], "techniques": ["T1569.002", "T1021.002"],
         "entities": {"user": "bob", "host": "srv-db-2"}}],
    "notes": [], "history": []}


@pytest.mark.parametrize(("when", "expected"), [
    ({"users": ["bob"]}, True),
    ({"hosts": ["srv-db-*"]}, True),
    ({"ips": ["10.0.0.5"]}, True),
    ({"hosts": ["mail-*"]}, False),
    ({"tags": ["attack.t1021*"]}, True),
    ({"tags": ["attack.lateral-movement"]}, True),
    ({"tags": ["attack.exfiltration"]}, False),
    ({"rules": ["77aa-psexec"]}, True),
    ({"rules": ["psexec*"]}, True),
    ({"rules": ["*spraying*"]}, False),
    ({"min_severity": "high"}, True),
    ({"min_severity": "critical"}, False),
])
def test_when_on_an_incident_detail_view(when: dict[str, Any], expected: bool) -> None:
    assert bool(noop_runner(when, "incident").matching_incident(DETAIL, "opened")) is expected


def test_incident_detail_view_is_sent_whole_and_logged_by_id(tmp_path: Path, session: Session) -> None:
    with http_recorder() as http:
        runner = PlaybookRunner.from_config({
            "notify": {"channels": {"chat": {"type": "slack", "url": http.url}, "hook": {"type": "webhook",
                                                                                      "url": http.url}}},
            "playbooks": [{"name": "tell", "on": "incident", "actions": [
                {"type": "webhook", "channel": "hook"}, {"type": "slack", "channel": "chat"}]}]}, tmp_path)
        results = runner.run_incident(session, DETAIL, "opened")
        session.commit()
    assert [(r.ok, r.incident_id) for r in results] == [(True, 12), (True, 12)]
    documents = [orjson.loads(r.body) for r in http.requests]
    [generic] = [document for document in documents if "blocks" not in document]
    [slack] = [document for document in documents if "blocks" in document]
    assert generic == DETAIL
    fields = [field["text"] for field in slack["blocks"][1]["fields"]]
    assert "*User*\nbob" in fields and "*Host*\nsrv-web-1, srv-db-2" in fields
    assert "*ATT&amp;CK tactics*\nCredential Access, Execution, Lateral Movement" in fields
    assert "*Alerts*\n2" in fields and "*Opened by*\nalert" in fields
    assert slack["blocks"][0]["text"]["text"] == "HIGH: Alerts on bob"
    assert [row.incident_id for row in recent_actions(session)] == [12, 12]
