"""Authentication events of network services written to syslog: mail (Dovecot), FTP (vsftpd, ProFTPD,
Pure-FTPd, wu-ftpd), SSH (Dropbear), VPN (OpenVPN), web applications (phpMyAdmin, Drupal), databases (MySQL /
MariaDB), PortSentry, and the failed logons of any other program.

Owns these syslog programs (message parsers by program): ``dovecot`` (and ``imap-login``, ``pop3-login``,
``managesieve-login``, ``submission-login``, ``auth``, ``auth-worker``, ``dovecot-auth``, ``lmtp``), ``vsftpd``,
``proftpd``, ``pure-ftpd``, ``wu-ftpd``, ``dropbear``, ``openvpn`` / ``ovpn-server`` / ``ovpn-client``,
``phpmyadmin``, ``mysqld`` / ``mariadbd``, ``portsentry``; Drupal's syslog lines by their pipe-separated form
(the program is the site's name); and, last of all message parsers, the authentication messages of any program
no other parser claimed (:class:`AuthMessageParser`). The message forms and the fields each gives are listed in
:mod:`yamori.parsers.auth_patterns` (the table is shared with the text parsers of
:mod:`yamori.parsers.text_generic`). vsftpd's own log file (``vsftpd.log``: ``Fri Jan 19 12:20:33 2007 [pid 27202]
[anonymous] FAIL LOGIN: Client "64.106.46.98"``) is read here too, as bare lines.

PAM module messages (``pam_unix(vsftpd:auth): authentication failure; ...``, ``(pam_unix) ...``) of any program
are not read here: every parser returns None for them so that the Linux auth parser gets them.

Fields: the syslog envelope's (``timestamp``, ``host``, ``program``, ``pid``, ``message``...), the ECS event
fields (``event.kind``, ``event.category`` - ``authentication`` for logons, ``network`` / ``session`` / ``file``
for the other messages read -, ``event.type``, ``event.action``, ``event.outcome`` ``failure`` or ``success``),
``user.name``, ``source.ip`` (an IP only; a client host name goes to ``source.domain``; IPv4-mapped IPv6 written
as the IPv4), ``source.port``, ``destination.ip``, ``event.reason``, ``service.name`` (``dovecot``, ``vsftpd``,
``proftpd``, ``pure-ftpd``, ``wu-ftpd``, ``dropbear``, ``openvpn``, ``phpmyadmin``, ``drupal``, ``mysql``,
``portsentry``, or the program name for other programs), and service-specific originals
(``dovecot.protocol``, ``user``/``rip``/``lip``/``method``/``session`` of Dovecot, ``drupal.<field>``,
``mongodb.conn``...). ``event.module`` is the parser's name (set by the registry), ``event.dataset`` the
service (``service.name``).

Logsource: ``product: linux`` with ``service: syslog`` (the lines are syslog lines: the taxonomy's syslog keyword
rules keep seeing them, as they would without this parser), plus ``service: auth`` for authentication events (the
taxonomy's home of logon messages from Linux syslog), plus ``service: vsftpd`` for vsftpd (SigmaHQ's vsftpd rules).
vsftpd's own log file is ``product: linux, service: vsftpd`` (not ``auth``/``syslog``: it is not syslog).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, ClassVar

from yamori.events import LogSource
from yamori.parsers.auth_patterns import (
    DOVECOT,
    DROPBEAR,
    DRUPAL,
    GENERIC,
    MYSQL,
    OPENVPN_ALL,
    PAM_BODY,
    PHPMYADMIN,
    PORTSENTRY,
    PROFTPD,
    PUREFTPD,
    SPECIFIC_RULES,
    VSFTPD,
    WUFTPD,
    AuthMatch,
    Rule,
    classify,
    is_pam_message,
    may_be_auth,
    put_address,
)
from yamori.parsers.base import Envelope, Family, MessageParser, ParseContext, Parsed
from yamori.parsers.syslog import syslog_fields
from yamori.parsers.timestamps import parse_month_day, utc_iso

__all__ = [
    "AuthMessageParser",
    "DrupalParser",
    "ServiceParser",
    "VsftpdParser",
    "parse_vsftpd_line",
    "syslog_logsource",
]

_LINUX = "linux"
_SYSLOG = LogSource(product=(_LINUX,), service=("syslog",))
_SYSLOG_AUTH = LogSource(product=(_LINUX,), service=("syslog", "auth"))
_VSFTPD_SYSLOG = LogSource(product=(_LINUX,), service=("syslog", "vsftpd"))
_VSFTPD_SYSLOG_AUTH = LogSource(product=(_LINUX,), service=("syslog", "auth", "vsftpd"))
_VSFTPD_FILE = LogSource(product=(_LINUX,), service=("vsftpd",))


def syslog_logsource(found: AuthMatch | None) -> LogSource:
    """``product: linux, service: syslog``, plus ``auth`` for an authentication event."""
    if found is not None and "authentication" in found.category:
        return _SYSLOG_AUTH
    return _SYSLOG


def _service_of(program: str | None) -> str:
    """``auth-worker(22401)`` -> ``auth-worker``; ``Foo[1]`` -> ``foo``."""
    if not program:
        return ""
    return program.split("(", 1)[0].split("[", 1)[0].lower()


def event_fields(envelope: Envelope, message: str, found: AuthMatch, service: str | None = None) -> dict[str, Any]:
    """The fields of one syslog message read by the table: envelope, ECS event fields and fields found."""
    fields = syslog_fields(envelope, message)
    if not found.service:
        found.service = service or _service_of(envelope.program) or "syslog"
    found.apply(fields)
    fields["event.dataset"] = found.service
    return fields


class ServiceParser(MessageParser):
    """The messages of one service's programs, read with that service's rules and then the generic rule."""

    family = Family.IDENTITY
    logsources: ClassVar[tuple[LogSource, ...]] = (_SYSLOG, _SYSLOG_AUTH)
    priority = 40
    service: ClassVar[str]
    rules: ClassVar[tuple[Rule, ...]]
    with_generic: ClassVar[bool] = True
    prefix_program: ClassVar[bool] = False
    """Also read ``<program>: <message>`` (Dovecot's processes write their name inside the message)."""

    def classify(self, message: str, envelope: Envelope) -> AuthMatch | None:
        found = classify(message, self.rules)
        if found is None and self.prefix_program and envelope.program:
            found = classify(f"{envelope.program}: {message}", self.rules)
        if found is None and self.with_generic:
            found = classify(message, GENERIC)
        return found

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        if envelope.timestamp is None and envelope.program is None:
            return None  # a bare line: not this parser's (see VsftpdParser)
        if is_pam_message(message, envelope.program):
            return None
        found = self.classify(message, envelope)
        if found is None:
            return None
        if not found.service:
            found.service = self.service
        return Parsed(event_fields(envelope, message, found), syslog_logsource(found), envelope.timestamp)


class DovecotParser(ServiceParser):
    name = "dovecot"
    description = "Dovecot IMAP/POP3 logins and passdb failures (syslog or Dovecot's own log)"
    programs = frozenset({"dovecot", "dovecot-auth", "imap-login", "pop3-login", "managesieve-login",
                          "submission-login", "lmtp", "auth", "auth-worker"})
    service = "dovecot"
    rules = DOVECOT
    prefix_program = True


class ProftpdParser(ServiceParser):
    name = "proftpd"
    description = "ProFTPD logins, unknown users, refused root logins, login attempt limits"
    programs = frozenset({"proftpd"})
    service = "proftpd"
    rules = PROFTPD


class PureFtpdParser(ServiceParser):
    name = "pure_ftpd"
    description = "Pure-FTPd authentication failures and logins"
    programs = frozenset({"pure-ftpd", "pure-ftpd-mysql", "pure-ftpd-ldap", "pure-ftpd-postgresql"})
    service = "pure-ftpd"
    rules = PUREFTPD


class WuFtpdParser(ServiceParser):
    name = "wu_ftpd"
    description = "wu-ftpd failed and refused logins, logins"
    programs = frozenset({"wu-ftpd", "wu.ftpd"})
    service = "wu-ftpd"
    rules = WUFTPD


class DropbearParser(ServiceParser):
    name = "dropbear"
    description = "Dropbear SSH: bad passwords, unknown users, auth limit reached, logins, connections"
    programs = frozenset({"dropbear"})
    service = "dropbear"
    rules = DROPBEAR


class OpenVpnParser(ServiceParser):
    name = "openvpn"
    description = "OpenVPN: TLS/user-password/certificate authentication errors, peer connections"
    programs = frozenset({"openvpn", "ovpn-server", "ovpn-client", "openvpn-server", "openvpn-client"})
    service = "openvpn"
    rules = OPENVPN_ALL


class PhpMyAdminParser(ServiceParser):
    name = "phpmyadmin"
    description = "phpMyAdmin syslog: denied and accepted logins"
    programs = frozenset({"phpmyadmin"})
    service = "phpmyadmin"
    rules = PHPMYADMIN


class MysqlSyslogParser(ServiceParser):
    name = "mysql_syslog"
    description = "MySQL / MariaDB error-log lines sent to syslog: access denied"
    programs = frozenset({"mysqld", "mariadbd", "mysqld_safe", "mariadb", "mysql"})
    service = "mysql"
    rules = MYSQL


class PortsentryParser(ServiceParser):
    name = "portsentry"
    description = "PortSentry attack alerts and blocked hosts (network denials)"
    programs = frozenset({"portsentry"})
    service = "portsentry"
    rules = PORTSENTRY
    with_generic = False


# ----------------------------------------------------------------------------------------------------- vsftpd

_CTIME = (r"(?P<ts>(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
          r"(?P<day>[ \d]\d) (?P<clock>\d\d:\d\d:\d\d) (?P<year>\d{4}))")
_VSFTPD_LINE = re.compile(_CTIME + r" \[pid (?P<pid>\d+)\] (?P<message>.*)\Z", re.DOTALL)
_VSFTPD_RULES = VSFTPD + PAM_BODY + GENERIC


def parse_vsftpd_line(line: str, context: ParseContext) -> Parsed | None:
    """A line of vsftpd's own log file (``Fri Jan 19 12:20:33 2007 [pid 27202] [u] FAIL LOGIN: ...``), or None."""
    match = _VSFTPD_LINE.match(line)
    if match is None:
        return None
    moment = parse_month_day(match["mon"], int(match["day"]), match["clock"], context.reference_time,
                             int(match["year"]))
    timestamp = utc_iso(moment) if moment is not None else None
    message = match["message"]
    fields: dict[str, Any] = {"timestamp": match["ts"], "pid": match["pid"], "process.pid": int(match["pid"]),
                              "process.name": "vsftpd", "message": message}
    found = classify(message, _VSFTPD_RULES)
    if found is not None:
        found.service = found.service or "vsftpd"
        found.apply(fields)
    else:
        fields["event.kind"] = "event"
    fields["service.name"] = fields["event.dataset"] = "vsftpd"
    return Parsed(fields, _VSFTPD_FILE, timestamp)


class VsftpdParser(ServiceParser):
    """vsftpd: its syslog messages (every one, so that SigmaHQ's ``service: vsftpd`` keyword rules see them) and
    the lines of its own log file (bare lines)."""

    name = "vsftpd"
    description = "vsftpd logins, transfers and errors (syslog and vsftpd.log)"
    programs = frozenset({"vsftpd"})
    bare = True
    logsources = (_VSFTPD_SYSLOG, _VSFTPD_SYSLOG_AUTH, _VSFTPD_FILE)
    service = "vsftpd"
    rules = VSFTPD + PAM_BODY

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        if envelope.timestamp is None and envelope.program is None:
            return parse_vsftpd_line(message, context) if message[:1].isupper() else None
        if is_pam_message(message, envelope.program):
            return None
        found = self.classify(message, envelope)
        if found is None:
            fields = syslog_fields(envelope, message)
            fields.update({"event.kind": "event", "service.name": "vsftpd", "event.dataset": "vsftpd"})
            return Parsed(fields, _VSFTPD_SYSLOG, envelope.timestamp)
        found.service = found.service or "vsftpd"
        fields = event_fields(envelope, message, found)
        fields["service.name"] = "vsftpd"
        auth = "authentication" in found.category
        return Parsed(fields, _VSFTPD_SYSLOG_AUTH if auth else _VSFTPD_SYSLOG, envelope.timestamp)


# ----------------------------------------------------------------------------------------------------- drupal

class DrupalParser(ServiceParser):
    """Drupal's syslog module: the program is the site's identity (``drupal`` by default, often the site name),
    so the lines are recognised by their form (``http(s)://...|<unix time>|type|ip|...``)."""

    name = "drupal"
    description = "Drupal watchdog lines (syslog module): failed logins, sessions, other messages"
    programs = frozenset()
    priority = 45
    service = "drupal"
    rules = DRUPAL
    with_generic = False

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        if not message.startswith("http") or "|" not in message:
            return None
        return super().parse(message, envelope, context)


# ---------------------------------------------------------------------------------------------------- generic

_MONGO_SOURCES = 4
_PREFIXED_PROGRAM = re.compile(r"auth|-login|\(")
"""Programs whose name is part of the message a service rule reads: Dovecot's ``auth-worker(N)``,
``pop3-login``, and names a syslog header parse cut inside Dovecot 2.4's ``auth(user,ip,sasl:login)``."""
_MONGO_CONNECTIONS = 4096


class AuthMessageParser(MessageParser):
    """The authentication messages of every other program (asked after all other message parsers).

    Reads the message with every service's rules (a Dovecot process logging under another name, MongoDB or
    MSSQL lines that a syslog header parse split oddly) and then the generic wording of failed and successful
    logons. Programs another parser owns by name (sshd, sudo, ...) are left alone: that parser declined the
    message. MongoDB: a failure line without the client address gets it from the ``connection accepted``
    line of the same connection seen before in the same source.
    """

    name = "auth_message"
    family = Family.IDENTITY
    description = "Failed and successful logons in the messages of any program (generic wording)"
    logsources = (_SYSLOG, _SYSLOG_AUTH)
    priority = 95

    def __init__(self) -> None:
        self._others: frozenset[str] | None = None
        self._connections: OrderedDict[str, OrderedDict[str, str]] = OrderedDict()

    def _owned_elsewhere(self) -> frozenset[str]:
        if self._others is None:
            from yamori.parsers.registry import message_parsers  # the registry imports this module
            mine = {type(parser) for parser in PARSERS}
            self._others = frozenset(program for parser in message_parsers() if type(parser) not in mine
                                     for program in parser.programs)
        return self._others

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        program = envelope.program
        if not may_be_auth(message):
            return None
        if program is not None and program.lower() in self._owned_elsewhere():
            return None
        if is_pam_message(message, program):
            return None
        found = classify(message, SPECIFIC_RULES)
        if found is None and program and _PREFIXED_PROGRAM.search(program) is not None:
            found = classify(f"{program}: {message}", SPECIFIC_RULES)
        if found is None:
            found = classify(message, GENERIC)
        if found is None:
            return None
        if found.service == "mongodb":
            self._mongo(found, context.source)
        return Parsed(event_fields(envelope, message, found), syslog_logsource(found), envelope.timestamp)

    def _mongo(self, found: AuthMatch, source: str) -> None:
        conn = found.fields.get("mongodb.conn")
        if conn is None:
            return
        connections = self._connections.get(source)
        if found.action == "mongodb-connection-accepted":
            if connections is None:
                connections = self._connections[source] = OrderedDict()
                while len(self._connections) > _MONGO_SOURCES:
                    self._connections.popitem(last=False)
            connections[conn] = found.fields.get("source.ip") or found.fields.get("source.domain") or ""
            while len(connections) > _MONGO_CONNECTIONS:
                connections.popitem(last=False)
        elif connections is not None and "source.ip" not in found.fields:
            client = connections.get(conn)
            if client:
                put_address(found.fields, "source", client)


def _programs(parsers: Iterable[MessageParser]) -> frozenset[str]:
    return frozenset(program for parser in parsers for program in parser.programs)


PARSERS = (DovecotParser(), VsftpdParser(), ProftpdParser(), PureFtpdParser(), WuFtpdParser(), DropbearParser(),
           OpenVpnParser(), PhpMyAdminParser(), MysqlSyslogParser(), PortsentryParser(), DrupalParser(),
           AuthMessageParser())
OWNED_PROGRAMS = _programs(PARSERS)
"""The syslog programs this module's parsers own."""
