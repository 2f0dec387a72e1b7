"""Cisco IOS / IOS XE / NX-OS syslog messages: ``%FACILITY-SEVERITY-MNEMONIC: text``.

Read with or without a syslog header, and in the forms routers and switches write them::

    172.16.5.10 6705: Feb 17 13:40:03.673: %PARSER-5-CFGLOG_LOGGEDCMD: User:admin  logged command:no shutdown
    Nov 28 03:00:00 core-sw1 812: *Nov 28 03:00:00.120 UTC: %SEC_LOGIN-4-LOGIN_FAILED: Login failed [user: admin] ...
    000123: Nov 28 03:00:00: %LINEPROTO-5-UPDOWN: Line protocol on Interface Gi1/0/1, changed state to down

(an optional host or address, an optional sequence number, an optional device time - ``*`` when the clock is
not synchronised, ``.`` when it was - then the message). Cisco ASA/FTD messages (``%ASA-``, ``%FTD-``) belong to
:mod:`yamori.parsers.cisco_asa`.

Fields: ``host``, ``sequence``, ``device_time``, ``facility``, ``severity`` (0-7), ``mnemonic``, ``message``
(the text after the mnemonic), ``code`` (``PARSER-5-CFGLOG_LOGGEDCMD``); command accounting
(``CFGLOG_LOGGEDCMD``, ``HA_EM-6-LOG``-style ``logged command``) gives ``user`` and ``command``; login messages
(``SEC_LOGIN-5-LOGIN_SUCCESS``, ``SEC_LOGIN-4-LOGIN_FAILED``, ``SSH-5-SSH2_USERAUTH``) give ``user``,
``source_ip``, ``local_port``.
ECS: ``event.code``, ``event.action`` (the mnemonic, lower case), ``log.level``, ``observer.vendor``/``product``,
``host.hostname``/``host.ip``, ``user.name``, ``process.command_line`` (the command), ``source.ip``,
``event.category`` (``configuration`` for commands, ``authentication`` with ``event.outcome`` for logins).

Sigma logsources (SigmaHQ's ``product: cisco`` rules are keyword rules): every message is ``service: syslog``;
commands and logins are also ``service: aaa`` (the command accounting SigmaHQ's cisco/aaa rules search); BGP
messages and TCP MD5 failures on port 179 are ``service: bgp``; LDP messages are ``service: ldp``.
"""

from __future__ import annotations

import re
from typing import Any

from yamori.events import LogSource
from yamori.parsers._addresses import canonical_ip
from yamori.parsers.base import Envelope, Family, MessageParser, ParseContext, Parsed
from yamori.parsers.syslog import syslog_fields
from yamori.parsers.timestamps import parse_month_day, utc_iso

__all__ = ["CiscoIosParser"]

_MESSAGE = re.compile(
    r"^(?:(?P<host>[^\s:%]+)\s+)??(?:(?P<seq>\d+):\s*)?"
    r"(?:(?P<sync>[*.])?(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+(?P<day>\d{1,2})\s+"
    r"(?:(?P<year>\d{4})\s+)?(?P<clock>\d{1,2}:\d{2}:\d{2}(?:\.\d+)?)(?:\s+[A-Z]{2,5})?:\s*)?"
    r"%(?P<facility>[A-Z][A-Z0-9_]*(?:-[A-Z0-9_]+)*?)-(?P<severity>[0-7])-(?P<mnemonic>[A-Z0-9_]+)\s*:\s*"
    r"(?P<text>.*)$", re.DOTALL)
_LOGGED_COMMAND = re.compile(r"User:\s*(?P<user>\S+)\s+logged command:\s*(?P<command>.*)$", re.DOTALL)
_LOGIN = re.compile(r"\[user:\s*(?P<user>[^\]]*)\]\s*\[Source:\s*(?P<source>[^\]]*)\]"
                    r"(?:\s*\[localport:\s*(?P<port>\d+)\])?")
_SSH_USERAUTH = re.compile(r"User '(?P<user>[^']*)' authentication for SSH2 Session from (?P<source>\S+)"
                           r".*?\b(?P<result>succeeded|failed)", re.DOTALL)

_CONFIGURED = re.compile(r"Configured from \S+ by (?P<user>[^\s(]+)")
_BGP_PORT = re.compile(r"[:(]179\b")

_PRODUCT = ("cisco",)
_SYSLOG = LogSource(product=_PRODUCT, service=("syslog",))
_AAA = LogSource(product=_PRODUCT, service=("syslog", "aaa"))
_BGP = LogSource(product=_PRODUCT, service=("syslog", "bgp"))
_LDP = LogSource(product=_PRODUCT, service=("syslog", "ldp"))
_LEVELS = ("emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug")


class CiscoIosParser(MessageParser):
    """Cisco IOS, IOS XE and NX-OS ``%FACILITY-SEVERITY-MNEMONIC`` messages, in syslog or bare."""

    name = "cisco_ios"
    family = Family.FIREWALL
    description = "Cisco IOS/IOS XE/NX-OS syslog messages (%FACILITY-SEV-MNEMONIC): commands, logins, BGP, LDP"
    logsources = (_SYSLOG, _AAA, _BGP, _LDP)
    priority = 35
    bare = True

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        if "%" not in message:
            return None
        match = _MESSAGE.match(message)
        if match is None or match["facility"] in ("ASA", "FTD", "PIX", "FWSM"):
            return None
        fields: dict[str, Any] = syslog_fields(envelope, match["text"])
        facility, severity, mnemonic = match["facility"], int(match["severity"]), match["mnemonic"]
        code = f"{facility}-{severity}-{mnemonic}"
        fields.update({"facility": facility, "severity": severity, "mnemonic": mnemonic, "code": code,
                       "event.code": code, "event.action": mnemonic.lower(), "log.level": _LEVELS[severity],
                       "observer.vendor": "Cisco", "observer.product": "IOS", "event.kind": "event"})
        host = match["host"]
        if host:
            fields["host"] = host
            address = canonical_ip(host)
            fields["host.ip" if address else "host.hostname"] = address or host
        if match["seq"]:
            fields["sequence"] = int(match["seq"])
        timestamp = envelope.timestamp
        if match["clock"]:
            fields["device_time"] = " ".join(p for p in (match["mon"], match["day"], match["year"], match["clock"])
                                             if p)
            moment = parse_month_day(match["mon"], int(match["day"]), match["clock"], context.reference_time,
                                     int(match["year"]) if match["year"] else None)
            if moment is not None and timestamp is None:
                timestamp = utc_iso(moment)
        logsource = self._details(fields, facility, mnemonic, match["text"])
        fields["event.dataset"] = "cisco.ios"
        return Parsed(fields, logsource, timestamp)

    @staticmethod
    def _details(fields: dict[str, Any], facility: str, mnemonic: str, text: str) -> LogSource:
        command = _LOGGED_COMMAND.search(text) if "logged command" in text else None
        if command is not None:
            fields["user"] = fields["user.name"] = command["user"]
            fields["command"] = fields["process.command_line"] = command["command"].strip()
            fields["event.category"] = ["configuration"]
            fields["event.type"] = ["change"]
            return _AAA
        if facility == "SEC_LOGIN" or mnemonic.startswith("SSH2_USERAUTH"):
            login = _LOGIN.search(text) or _SSH_USERAUTH.search(text)
            failed = "FAIL" in mnemonic or (login is not None and login.groupdict().get("result") == "failed")
            fields["event.category"] = ["authentication"]
            fields["event.type"] = ["start"] if not failed else ["info"]
            fields["event.outcome"] = "failure" if failed else "success"
            if login is not None:
                fields["user"] = fields["user.name"] = login["user"].strip()
                source = canonical_ip(login["source"].strip())
                if source:
                    fields["source_ip"] = fields["source.ip"] = source
                port = login.groupdict().get("port")
                if port:
                    fields["local_port"] = fields["destination.port"] = int(port)
            return _AAA
        configured = _CONFIGURED.search(text) if mnemonic == "CONFIG_I" else None
        if configured is not None:
            fields["user"] = fields["user.name"] = configured["user"]
            fields["event.category"] = ["configuration"]
            fields["event.type"] = ["change"]
        if facility.startswith("BGP") or ("BADAUTH" in mnemonic and _BGP_PORT.search(text)):
            return _BGP
        if "LDP" in facility or "LDP" in text:
            return _LDP
        return _SYSLOG


PARSERS = (CiscoIosParser(),)
