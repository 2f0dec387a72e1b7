"""Playbooks: declarative responses to alerts and incidents, and the action log that records every response.

A playbook (``[[playbooks]]`` in TOML) says on what (``on = "alert"``, ``"incident"``, ``"incident.opened"``,
``"incident.updated"``), when (``when``: every criterion given must hold) and what to do (``actions``: deliver to
a channel of :mod:`yamori.triage.notify`, or run a command with the alert or incident JSON on standard input).
The whole configuration is checked at load; an error names the playbook and the action.

:class:`PlaybookRunner` runs the actions of every matching playbook concurrently, each bounded by its own
timeout (a slow action never holds the others back), and adds one :class:`ActionLog` row per action, success or
failure, to the caller's session (the caller commits).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import translate
from pathlib import Path
from typing import IO, Any, Literal

import orjson
from sqlalchemy import Boolean, Float, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from yamori.alerts.detection import LEVELS, level_rank
from yamori.triage.db import Base
from yamori.triage.model import TriageAlert
from yamori.triage.notify import (
    AnyChannel,
    Notice,
    NotifyConfigError,
    Table,
    channels_from_config,
    flat_incident,
    incident_entities,
    incident_id_of,
    notice_from_alert,
    notice_from_incident,
)
from yamori.triage.records import iso

log = logging.getLogger(__name__)

Trigger = Literal["alert", "incident.opened", "incident.updated"]
TRIGGERS: dict[str, frozenset[Trigger]] = {
    "alert": frozenset({"alert"}),
    "incident": frozenset({"incident.opened", "incident.updated"}),
    "incident.opened": frozenset({"incident.opened"}),
    "incident.updated": frozenset({"incident.updated"}),
}
CHANNEL_ACTIONS: dict[str, tuple[str, ...]] = {
    "webhook": ("webhook", "slack"), "slack": ("slack",), "email": ("email",), "notify": ("webhook", "slack", "email"),
}
"""Channel action type → the channel types it may name."""
ACTION_TYPES = (*CHANNEL_ACTIONS, "command")
COMMAND_TIMEOUT = 30.0
MAX_ACTION_TIMEOUT = 3600.0
OUTPUT_BYTES = 4096
"""How much of a command's standard output and error is kept (the rest is read and dropped)."""
GRACE_SECONDS = 2.0
"""How long past its timeout an action may take before the runner stops waiting for it."""
BASE_ENVIRONMENT = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")
"""What a command inherits from Yamori's environment (plus ``pass_env``): never Yamori's own secrets."""
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class PlaybookConfigError(NotifyConfigError):
    """A playbook is invalid (the message names it and the action or criterion)."""


# ---- the action log


class ActionLog(Base):
    """One playbook action run on one alert or incident, with its outcome."""

    __tablename__ = "action_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    time: Mapped[str] = mapped_column(String(40), index=True)
    """When the action started (``records.iso`` form, UTC)."""
    playbook: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(500))
    """The channel name, or the command's ``argv[0]``."""
    alert_id: Mapped[str | None] = mapped_column(String(200), index=True)
    incident_id: Mapped[int | None] = mapped_column(Integer, index=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[int | None] = mapped_column(Integer)
    """HTTP status, SMTP reply code or exit code, when there was one."""
    detail: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "time": self.time, "playbook": self.playbook, "action": self.action,
                "target": self.target, "alert_id": self.alert_id, "incident_id": self.incident_id, "ok": self.ok,
                "status": self.status, "detail": self.detail, "attempts": self.attempts, "seconds": self.seconds}


def recent_actions(session: Session, limit: int = 50, *, playbook: str | None = None, alert_id: str | None = None,
                   incident_id: int | None = None, failed_only: bool = False) -> list[ActionLog]:
    """The latest logged actions, newest first."""
    statement = select(ActionLog)
    if playbook is not None:
        statement = statement.where(ActionLog.playbook == playbook)
    if alert_id is not None:
        statement = statement.where(ActionLog.alert_id == alert_id)
    if incident_id is not None:
        statement = statement.where(ActionLog.incident_id == incident_id)
    if failed_only:
        statement = statement.where(ActionLog.ok.is_(False))
    return list(session.scalars(statement.order_by(ActionLog.id.desc()).limit(limit)))


@dataclass(slots=True)
class ActionResult:
    """What one action did; logged as one :class:`ActionLog` row."""

    playbook: str
    action: str
    target: str
    ok: bool
    detail: str
    attempts: int
    seconds: float
    status: int | None = None
    alert_id: str | None = None
    incident_id: int | None = None
    time: str = ""

    def row(self) -> ActionLog:
        return ActionLog(time=self.time, playbook=self.playbook, action=self.action, target=self.target,
                         alert_id=self.alert_id, incident_id=self.incident_id, ok=self.ok, status=self.status,
                         detail=self.detail, attempts=self.attempts, seconds=round(self.seconds, 6))


# ---- criteria


@dataclass(frozen=True, slots=True)
class Glob:
    """A shell-style pattern (``*``, ``?``, ``[...]``), matched case-insensitively against the whole text."""

    pattern: str
    regex: re.Pattern[str]

    @classmethod
    def compile(cls, pattern: str) -> Glob:
        """Raises ValueError for an empty pattern or an unclosed ``[`` (fnmatch would take it literally)."""
        if not pattern.strip():
            raise ValueError("an empty pattern")
        class_start: int | None = None
        for position, character in enumerate(pattern):
            if class_start is None and character == "[":
                class_start = position
            elif class_start is not None and character == "]":
                # as in fnmatch, a "]" right after "[" or "[!" is a member of the class, not its end
                first_member = class_start + 1 + (pattern[class_start + 1:class_start + 2] == "!")
                if position > first_member:
                    class_start = None
        if class_start is not None:
            raise ValueError(f"{pattern!r} has an unclosed [")
        return cls(pattern, re.compile(translate(pattern), re.IGNORECASE | re.DOTALL))

    def matches(self, text: str | None) -> bool:
        return text is not None and self.regex.match(text) is not None


def _any_match(globs: Sequence[Glob], values: Iterable[str | None]) -> bool:
    candidates = [value for value in values if value]
    return any(glob.matches(value) for glob in globs for value in candidates)


@dataclass(frozen=True, slots=True)
class Criteria:
    """``when``: every criterion given must hold; a list criterion holds when any of its patterns matches."""

    min_severity: str | None = None
    rules: tuple[Glob, ...] = ()
    """Rule id or title patterns."""
    tags: tuple[Glob, ...] = ()
    hosts: tuple[Glob, ...] = ()
    users: tuple[Glob, ...] = ()
    ips: tuple[Glob, ...] = ()
    correlation: bool | None = None
    include_suppressed: bool = False
    """Alerts hidden by an exception, a suppression or deduplication are skipped unless this is true."""

    def matches_alert(self, alert: TriageAlert) -> bool:
        if alert.suppressed_by and not self.include_suppressed:
            return False
        return self._matches(alert.severity or alert.level, (alert.rule_id, alert.title), alert.tags,
                             (alert.host,), (alert.user,), (alert.ip,), alert.correlation)

    def matches_incident(self, incident: Mapping[str, Any]) -> bool:
        incident = flat_incident(incident)
        entities = incident_entities(incident)
        rules = [incident.get("title"), *_strings(incident.get("rule_ids")), *_strings(incident.get("rules")),
                 *_strings(incident.get("rule_titles"))]
        return self._matches(str(incident.get("severity") or ""), rules, incident_tags(incident),
                             entities["host"], entities["user"], entities["ip"], bool(incident.get("correlation")))

    def _matches(self, severity: str, rules: Iterable[str | None], tags: Iterable[str], hosts: Iterable[str | None],
                 users: Iterable[str | None], ips: Iterable[str | None], correlation: bool) -> bool:
        if self.min_severity is not None and level_rank(severity.lower()) < level_rank(self.min_severity):
            return False
        if self.correlation is not None and correlation != self.correlation:
            return False
        return all(not globs or _any_match(globs, values) for globs, values in
                   ((self.rules, rules), (self.tags, tags), (self.hosts, hosts), (self.users, users),
                    (self.ips, ips)))


def incident_tags(incident: Mapping[str, Any]) -> list[str]:
    """The incident's ``tags``, or Sigma-style tags made from its ``techniques`` and ``tactics``."""
    incident = flat_incident(incident)
    tags = _strings(incident.get("tags"))
    if tags:
        return tags
    made = [f"attack.{technique.lower()}" for technique in _strings(incident.get("techniques"))]
    made += [f"attack.{tactic.lower().replace(' ', '-').replace('&', 'and')}"
             for tactic in _strings(incident.get("tactics"))]
    return made


# ---- actions


@dataclass(frozen=True, slots=True)
class ChannelAction:
    """Deliver the notice to a declared channel."""

    type: str
    channel: AnyChannel
    timeout: float

    @property
    def target(self) -> str:
        return self.channel.name


@dataclass(frozen=True, slots=True)
class CommandAction:
    """Run ``argv`` (no shell) with the alert or incident JSON on standard input."""

    argv: tuple[str, ...]
    executable: str
    """``argv[0]`` resolved at load (relative paths from the configuration's folder, bare names on PATH)."""
    timeout: float
    cwd: Path
    pass_env: tuple[str, ...] = ()
    type: str = "command"

    @property
    def target(self) -> str:
        return self.argv[0]


Action = ChannelAction | CommandAction


@dataclass(frozen=True, slots=True)
class Playbook:
    name: str
    on: frozenset[Trigger]
    when: Criteria
    actions: tuple[Action, ...]

    def applies_to_alert(self, alert: TriageAlert) -> bool:
        return "alert" in self.on and self.when.matches_alert(alert)

    def applies_to_incident(self, incident: Mapping[str, Any], change: str) -> bool:
        return f"incident.{change}" in self.on and self.when.matches_incident(incident)


# ---- commands


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    exit_code: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool
    seconds: float
    error: str | None = None
    """Why the command could not be started."""

    def detail(self, timeout: float) -> str:
        if self.error is not None:
            head = f"not started: {self.error}"
        elif self.timed_out:
            head = f"killed after the {timeout:g}s timeout"
        else:
            head = f"exit {self.exit_code}"
        for name, data in (("stdout", self.stdout), ("stderr", self.stderr)):
            if data.strip():
                head += f"\n--- {name} ---\n" + data.decode("utf-8", errors="replace").rstrip()
        return head


def run_command(argv: Sequence[str], stdin: bytes, *, timeout: float, env: Mapping[str, str] | None = None,
                cwd: Path | None = None, keep: int = OUTPUT_BYTES) -> CommandOutcome:
    """Run ``argv`` in its own process group, ``stdin`` written to it; keep the first ``keep`` bytes of its
    output; on timeout kill the whole group (children included). Never raises."""
    started = time.monotonic()
    try:
        process = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=dict(env) if env is not None else None,
                                   cwd=cwd, start_new_session=True, close_fds=True)
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        return CommandOutcome(None, b"", b"", False, time.monotonic() - started, f"{argv[0]}: {reason}")
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    stdout, stderr = bytearray(), bytearray()
    # threads, because a command that reads no input or writes much output would otherwise block on a full pipe
    threads = [threading.Thread(target=_feed, args=(process.stdin, stdin), daemon=True),
               threading.Thread(target=_drain, args=(process.stdout, stdout, keep), daemon=True),
               threading.Thread(target=_drain, args=(process.stderr, stderr, keep), daemon=True)]
    for thread in threads:
        thread.start()
    timed_out = False
    try:
        exit_code: int | None = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(process)
        exit_code = None
    for thread in threads:
        # a grandchild that left the process group may hold a pipe open: do not wait for it
        thread.join(timeout=1.0)
    for stream in (process.stdout, process.stderr):
        stream.close()
    return CommandOutcome(exit_code, bytes(stdout), bytes(stderr), timed_out, time.monotonic() - started)


def _feed(stream: IO[bytes], data: bytes) -> None:
    try:
        stream.write(data)
        stream.close()
    except (BrokenPipeError, OSError, ValueError):
        pass  # the command does not read its input: allowed


def _drain(stream: IO[bytes], into: bytearray, keep: int) -> None:
    try:
        while chunk := stream.read1(65536):  # type: ignore[attr-defined]
            if len(into) < keep:
                into += chunk[: keep - len(into)]
    except (OSError, ValueError):
        pass


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        process.kill()
    process.wait()


def command_environment(action: CommandAction, extra: Mapping[str, str]) -> dict[str, str]:
    names = (*BASE_ENVIRONMENT, *action.pass_env)
    environment = {name: os.environ[name] for name in names if name in os.environ}
    environment.setdefault("PATH", os.defpath)
    return environment | dict(extra)


# ---- the runner


class PlaybookRunner:
    """Runs the playbooks that match an alert or an incident and logs every action.

    ``run_alert``/``run_incident`` return once every action finished or passed its timeout (plus
    ``grace`` seconds); an action still running then is logged as a failure and left to finish on its own.
    """

    def __init__(self, playbooks: Sequence[Playbook], channels: Mapping[str, AnyChannel] | None = None, *,
                 grace: float = GRACE_SECONDS) -> None:
        self.playbooks = list(playbooks)
        self.channels = dict(channels or {})
        self.grace = grace

    @classmethod
    def from_config(cls, mapping: Mapping[str, Any], base_dir: Path) -> PlaybookRunner:
        """From a mapping with ``notify`` (its ``channels``) and ``playbooks`` (other keys are not read).
        Relative paths (``ca_file``, a command's ``argv[0]`` with a ``/``) are taken from ``base_dir``."""
        channels = channels_from_config(mapping.get("notify") or {}, base_dir)
        entries = mapping.get("playbooks") or []
        if not isinstance(entries, list):
            raise PlaybookConfigError("playbooks must be an array of tables ([[playbooks]])")
        playbooks: list[Playbook] = []
        for position, entry in enumerate(entries):
            playbook = playbook_from_config(entry, position, channels, base_dir)
            if any(existing.name == playbook.name for existing in playbooks):
                raise PlaybookConfigError(f"playbook {playbook.name!r} is declared twice")
            playbooks.append(playbook)
        return cls(playbooks, channels)

    def matching_alert(self, alert: TriageAlert) -> list[Playbook]:
        return [playbook for playbook in self.playbooks if playbook.applies_to_alert(alert)]

    def matching_incident(self, incident: Mapping[str, Any], change: str = "opened") -> list[Playbook]:
        return [playbook for playbook in self.playbooks if playbook.applies_to_incident(incident, change)]

    def run_alert(self, session: Session, alert: TriageAlert) -> list[ActionResult]:
        """Run every matching ``on = "alert"`` playbook on ``alert``; one ActionLog row per action is added to
        ``session`` (not committed)."""
        playbooks = self.matching_alert(alert)
        if not playbooks:
            return []
        notice = notice_from_alert(alert)
        environment = {"YAMORI_KIND": "alert", "YAMORI_ALERT_ID": alert.alert_id}
        return self._run(session, playbooks, notice, environment, alert.alert_id, alert.incident_id)

    def run_incident(self, session: Session, incident: Mapping[str, Any], change: str = "opened") -> list[ActionResult]:
        """Run every playbook on ``incident.<change>`` (``opened`` or ``updated``) matching the incident dict."""
        if change not in ("opened", "updated"):
            raise ValueError(f"change must be 'opened' or 'updated', not {change!r}")
        playbooks = self.matching_incident(incident, change)
        if not playbooks:
            return []
        notice = notice_from_incident(incident)
        identifier = incident_id_of(incident)
        environment = {"YAMORI_KIND": "incident", "YAMORI_INCIDENT_ID": str(identifier),
                       "YAMORI_INCIDENT_CHANGE": change}
        return self._run(session, playbooks, notice, environment, None, _int_or_none(identifier))

    def _run(self, session: Session, playbooks: Sequence[Playbook], notice: Notice, environment: Mapping[str, str],
             alert_id: str | None, incident_id: int | None) -> list[ActionResult]:
        document = orjson.dumps(notice.payload, default=str, option=orjson.OPT_NON_STR_KEYS)
        jobs: list[tuple[Playbook, Action, threading.Thread, list[ActionResult], float, str]] = []
        for playbook in playbooks:
            for action in playbook.actions:
                slot: list[ActionResult] = []
                thread = threading.Thread(
                    target=self._execute, args=(playbook, action, notice, document, environment, slot),
                    name=f"yamori-playbook-{action.type}", daemon=True)
                jobs.append((playbook, action, thread, slot, time.monotonic(), iso(datetime.now(UTC))))
                thread.start()
        results: list[ActionResult] = []
        for playbook, action, thread, slot, started, started_at in jobs:
            thread.join(max(0.0, started + action.timeout + self.grace - time.monotonic()))
            if slot:
                result = slot[0]
            else:
                result = ActionResult(playbook.name, action.type, action.target, False,
                                      f"still running {action.timeout + self.grace:g}s after start: no longer "
                                      "awaited", 1, time.monotonic() - started)
            result.alert_id, result.incident_id, result.time = alert_id, incident_id, started_at
            if not result.ok:
                log.warning("playbook %r: %s %s failed: %s", playbook.name, action.type, action.target,
                            result.detail.splitlines()[0] if result.detail else "")
            session.add(result.row())
            results.append(result)
        return results

    @staticmethod
    def _execute(playbook: Playbook, action: Action, notice: Notice, document: bytes,
                 environment: Mapping[str, str], slot: list[ActionResult]) -> None:
        started = time.monotonic()
        try:
            if isinstance(action, ChannelAction):
                delivery = action.channel.send(notice, timeout=action.timeout)
                slot.append(ActionResult(playbook.name, action.type, action.target, delivery.ok, delivery.detail,
                                         delivery.attempts, delivery.seconds, delivery.status))
            else:
                outcome = run_command(
                    (action.executable, *action.argv[1:]), document, timeout=action.timeout, cwd=action.cwd,
                    env=command_environment(action, {"YAMORI_PLAYBOOK": playbook.name, **environment}))
                slot.append(ActionResult(playbook.name, action.type, action.target, outcome.exit_code == 0,
                                         outcome.detail(action.timeout), 1 if outcome.error is None else 0,
                                         outcome.seconds, outcome.exit_code))
        except Exception as error:  # an action must never take the alert pipeline down with it
            log.exception("playbook %r: %s %s raised", playbook.name, action.type, action.target)
            slot.append(ActionResult(playbook.name, action.type, action.target, False,
                                     f"internal error: {type(error).__name__}: {error}", 1,
                                     time.monotonic() - started))


def load_playbooks(path: Path) -> PlaybookRunner:
    """A runner from a TOML file holding ``[notify.channels.*]`` and ``[[playbooks]]``."""
    try:
        mapping = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise PlaybookConfigError(f"cannot read {path}: {error.strerror}") from error
    except tomllib.TOMLDecodeError as error:
        raise PlaybookConfigError(f"{path}: {error}") from error
    try:
        return PlaybookRunner.from_config(mapping, path.parent)
    except NotifyConfigError as error:
        raise type(error)(f"{path}: {error}") from error


# ---- configuration


def playbook_from_config(entry: Any, position: int, channels: Mapping[str, AnyChannel],
                         base_dir: Path) -> Playbook:
    name = entry.get("name") if isinstance(entry, Mapping) else None
    where = f"playbook {name!r}" if isinstance(name, str) and name.strip() else f"playbooks[{position}]"
    table = Table(entry, where, PlaybookConfigError)
    table.text("name", required=True)
    on = table.choice("on", tuple(TRIGGERS)) or "alert"
    when = _criteria(table.get("when", Mapping, "a table") or {}, f"{where}: when")
    raw_actions = table.get("actions", list, "an array of tables", required=True)
    if not raw_actions:
        raise table.fail("actions is empty")
    actions = tuple(_action(action, f"{where}: actions[{index}]", channels, base_dir)
                    for index, action in enumerate(raw_actions))
    table.finish()
    return Playbook(str(name), TRIGGERS[on], when, actions)


def _criteria(mapping: Mapping[str, Any], where: str) -> Criteria:
    table = Table(mapping, where, PlaybookConfigError)

    def globs(key: str) -> tuple[Glob, ...]:
        patterns = table.strings(key)
        compiled = []
        for pattern in patterns:
            try:
                compiled.append(Glob.compile(pattern))
            except ValueError as error:
                raise table.fail(f"{key}: bad pattern: {error}") from error
        return tuple(compiled)

    min_severity = table.get("min_severity", str, "a string")
    if min_severity is not None:
        min_severity = min_severity.lower()
        if min_severity not in LEVELS:
            raise table.fail(f"min_severity must be one of {', '.join(LEVELS)}, not {min_severity!r}")
    criteria = Criteria(min_severity=min_severity, rules=globs("rules"), tags=globs("tags"), hosts=globs("hosts"),
                        users=globs("users"), ips=globs("ips"), correlation=table.get("correlation", bool, "true or "
                                                                                        "false"),
                        include_suppressed=table.flag("include_suppressed"))
    table.finish()
    return criteria


def _action(entry: Any, where: str, channels: Mapping[str, AnyChannel], base_dir: Path) -> Action:
    table = Table(entry, where, PlaybookConfigError)
    kind = table.choice("type", ACTION_TYPES, required=True)
    action: Action
    if kind == "command":
        argv = table.strings("argv")
        if not argv:
            raise table.fail("argv must name the command to run (an array: no shell)")
        pass_env = table.strings("pass_env")
        for name in pass_env:
            if not _ENV_NAME.match(name):
                raise table.fail(f"pass_env: {name!r} is not an environment variable name")
        timeout = table.number("timeout", COMMAND_TIMEOUT, low=0.05, high=MAX_ACTION_TIMEOUT)
        action = CommandAction(tuple(argv), _executable(argv[0], base_dir, table), timeout, base_dir,
                               tuple(pass_env))
    else:
        name = table.text("channel", required=True) or ""
        channel = channels.get(name)
        if channel is None:
            declared = ", ".join(sorted(channels)) or "none"
            raise table.fail(f"unknown channel {name!r} (declared in [notify.channels]: {declared})")
        if channel.kind not in CHANNEL_ACTIONS[kind]:
            raise table.fail(f"a {kind} action cannot use channel {name!r}, which is of type {channel.kind}")
        timeout = table.number("timeout", channel.timeout, low=0.05, high=MAX_ACTION_TIMEOUT)
        action = ChannelAction(kind, channel, timeout)
    table.finish()
    return action


def _executable(program: str, base_dir: Path, table: Table) -> str:
    if "/" in program:
        path = Path(program).expanduser()
        path = path if path.is_absolute() else base_dir / path
        if not path.is_file() or not os.access(path, os.X_OK):
            raise table.fail(f"command {str(path)!r} is not an executable file")
        return str(path)
    found = shutil.which(program, path=os.environ.get("PATH", os.defpath))
    if found is None:
        raise table.fail(f"command {program!r} not found on PATH")
    return found


def _strings(value: Any) -> list[str]:
    return [str(item) for item in value if item not in (None, "")] if isinstance(value, (list, tuple)) else []


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
