"""The systemd journal as ``journalctl -o json`` (or ``json-pretty``, ``json-seq``-less export) writes it.

One JSON object per journal entry with the journal's fields: ``__REALTIME_TIMESTAMP`` (microseconds since 1970,
as a decimal string), ``__CURSOR``, ``__MONOTONIC_TIMESTAMP``, ``_BOOT_ID``, ``_HOSTNAME``,
``SYSLOG_IDENTIFIER``, ``SYSLOG_PID``, ``SYSLOG_FACILITY``, ``PRIORITY``, ``_COMM``, ``_EXE``, ``_CMDLINE``,
``_PID``, ``_UID``, ``_GID``, ``_SYSTEMD_UNIT``, ``_TRANSPORT``, ``MESSAGE``, ... A value is a string; a field
that is not valid UTF-8 (often ``MESSAGE``) is an array of byte values; a field written several times is an
array of those; a field too large for journalctl is ``null``.

The entry becomes a syslog envelope (time, host ``_HOSTNAME``, program ``SYSLOG_IDENTIFIER`` else ``_COMM``, pid
``SYSLOG_PID`` else ``_PID``, facility ``SYSLOG_FACILITY``, severity ``PRIORITY``) and its ``MESSAGE`` goes to the
syslog message parsers (:meth:`yamori.parsers.syslog.SyslogParser.parse_message`): an sshd entry gives the same
fields and logsource as the same line in auth.log (``product: linux, service: auth`` + ``sshd``), a kernel
``audit:`` entry the auditd fields, an entry no message parser claims a generic syslog event. Entries of the
audit transport (``_TRANSPORT=audit``, ``MESSAGE=USER_LOGIN pid=...``) are handed over as the audit.log record
they were (``type=USER_LOGIN msg=audit(time:_AUDIT_ID): pid=...``).

Fields: those of the message's parser, plus every journal field under its own name (byte arrays decoded as
UTF-8 with backslash escapes, repeated fields kept as lists). ECS: as the message parser sets them, plus
``@timestamp`` (``__REALTIME_TIMESTAMP``, else ``_SOURCE_REALTIME_TIMESTAMP``), ``host.hostname``,
``process.name``/``process.pid``, ``log.syslog.facility.code``/``severity.code``, ``process.executable``
(``_EXE``), ``process.command_line`` (``_CMDLINE``, unless the message gave one), ``systemd.unit``,
``systemd.transport``, ``host.id`` (``_MACHINE_ID``), ``host.boot.id`` (``_BOOT_ID``). ``event.module`` is
``journald``, ``event.dataset`` the message parser's name.

Malformed: an entry without ``MESSAGE``-bearing or time field of the expected types (a ``__REALTIME_TIMESTAMP``
that is not a number).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from yamori.parsers.base import Envelope, Family, Malformed, ParseContext, Parsed, RecordParser
from yamori.parsers.syslog import SyslogParser
from yamori.parsers.timestamps import from_epoch

__all__ = ["JournaldParser", "journal_value"]

_ECS = {
    "_EXE": "process.executable",
    "_CMDLINE": "process.command_line",
    "_SYSTEMD_UNIT": "systemd.unit",
    "_TRANSPORT": "systemd.transport",
    "_MACHINE_ID": "host.id",
    "_BOOT_ID": "host.boot.id",
}
_MARKERS = ("__REALTIME_TIMESTAMP", "__CURSOR", "_SOURCE_REALTIME_TIMESTAMP")


def journal_value(value: Any) -> Any:
    """A journal field as text: byte arrays decoded, repeated fields as lists of text, ``null`` as None."""
    if isinstance(value, str) or value is None:
        return value
    if isinstance(value, list):
        if value and all(type(item) is int and 0 <= item < 256 for item in value):
            return bytes(value).decode("utf-8", "backslashreplace")
        return [journal_value(item) for item in value]
    return str(value)


def _first(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    text = _first(value)
    return int(text) if text is not None and text.isdigit() else None


def _micros(value: Any) -> str | None:
    text = _first(value)
    if text is None:
        return None
    if not text.isdigit():
        raise Malformed(f"journal time is not a number of microseconds: {text[:40]!r}")
    return from_epoch(int(text) / 1_000_000)


def _audit_record(journal: Mapping[str, Any], message: str) -> str:
    """An entry of the journal's audit transport (``MESSAGE=USER_LOGIN pid=... msg='...'``) as the audit.log
    record it was (``type=USER_LOGIN msg=audit(SECONDS:ID): pid=...``), for the auditd message parser."""
    name = _first(journal.get("_AUDIT_TYPE_NAME"))
    audit_id = _first(journal.get("_AUDIT_ID"))
    micros = _first(journal.get("_SOURCE_REALTIME_TIMESTAMP")) or _first(journal.get("__REALTIME_TIMESTAMP"))
    if not name or not audit_id or not micros or not micros.isdigit() or not message.startswith(name + " "):
        return message
    seconds = int(micros) // 1000
    return f"type={name} msg=audit({seconds // 1000}.{seconds % 1000:03d}:{audit_id}): {message[len(name) + 1:]}"


class JournaldParser(RecordParser):
    """``journalctl -o json`` entries; messages parsed by the syslog message parsers."""

    name = "journald"
    family = Family.IDENTITY
    description = "systemd journal JSON export (journalctl -o json); MESSAGE parsed like the syslog line"
    logsources = ()
    ecs = _ECS
    priority = 40

    def __init__(self) -> None:
        self._syslog = SyslogParser()

    def accepts(self, record: Mapping[str, Any], context: ParseContext) -> bool:
        return "MESSAGE" in record and any(marker in record for marker in _MARKERS)

    def parse(self, record: dict[str, Any], context: ParseContext) -> Iterable[Parsed]:
        journal = {key: journal_value(value) for key, value in record.items() if isinstance(key, str)}
        timestamp = _micros(journal.get("__REALTIME_TIMESTAMP")) or _micros(
            journal.get("_SOURCE_REALTIME_TIMESTAMP"))
        value = journal.get("MESSAGE")
        if isinstance(value, list):
            message = "\n".join(str(part) for part in value)
        else:
            message = "" if value is None else str(value)
        facility = _int(journal.get("SYSLOG_FACILITY"))
        severity = _int(journal.get("PRIORITY"))
        program = _first(journal.get("SYSLOG_IDENTIFIER")) or _first(journal.get("_COMM"))
        if journal.get("_TRANSPORT") == "audit":
            message, program = _audit_record(journal, message), "audit"
        envelope = Envelope(
            timestamp=timestamp, original_time=_first(journal.get("__REALTIME_TIMESTAMP")),
            host=_first(journal.get("_HOSTNAME")), program=program,
            pid=_first(journal.get("SYSLOG_PID")) or _first(journal.get("_PID")),
            facility=facility, severity=severity, line=message)
        parsed = self._syslog.parse_message(message, envelope, context)
        fields = parsed.fields
        if facility is None and severity is not None:
            fields["severity"] = fields["log.syslog.severity.code"] = severity
        for key, value in journal.items():
            if value is not None and key not in fields:
                fields[key] = value
        fields.pop("timestamp", None)  # the envelope's "time as written" is __REALTIME_TIMESTAMP itself
        fields["event.module"] = self.name
        if parsed.timestamp is None:
            parsed.timestamp = timestamp
        parsed.raw = None
        parsed.position = None
        return (parsed,)


PARSERS = (JournaldParser(),)
