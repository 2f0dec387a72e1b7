"""Cowrie SSH/Telnet honeypot JSON log (``cowrie.json``, one object per line, ``eventid: cowrie.*``).

Every record is kept whole under its own field names (nested values flattened with dots: ``kexAlgs``,
``hasshAlgorithms``, ...) and gets ECS fields by ``eventid``:

* ``cowrie.session.connect`` / ``cowrie.session.closed``: ``event.category: network``, ``event.type:
  [connection, start|end]``, ``network.protocol`` (``ssh``/``telnet``), ``event.duration`` (ns) from ``duration``
  (seconds);
* ``cowrie.login.failed`` / ``cowrie.login.success``: ``event.category: authentication``, ``event.type:
  info``/``start``, ``event.outcome`` ``failure``/``success``, ``user.name`` from ``username``. The password the
  attacker tried stays in the original field ``password``: on a honeypot it is attacker data, not a secret of
  ours, and the passwords tried are what an analyst of a honeypot wants to see. It is deliberately not copied to
  any ECS field (ECS has no password field, and nothing generic should index it as a credential);
* ``cowrie.command.input`` / ``cowrie.command.failed``: ``event.category: process``, ``event.type: start``,
  ``process.command_line`` from ``input`` (``event.outcome: failure`` for commands the emulated shell did not
  know);
* ``cowrie.client.version``: the client's SSH banner (``version``, kept) - ``event.category: network``,
  ``event.type: protocol``; ``cowrie.client.kex`` (``hassh`` and algorithm lists), ``cowrie.client.size``,
  ``cowrie.client.var``, ``cowrie.session.params``, ``cowrie.log.closed``: ``event.type: info``;
* ``cowrie.direct-tcpip.request`` / ``.data``: the attacker asked the honeypot to forward a TCP connection:
  ``event.category: network``, ``destination.ip``/``destination.port`` = the requested target (``dst_ip``,
  ``dst_port``);
* ``cowrie.session.file_download`` (``.failed``) / ``cowrie.session.file_upload``: ``event.category: file``,
  ``event.type: creation``, ``url.original`` (``url``), ``file.hash.sha256`` (``shasum``), ``file.path``
  (``outfile``), ``file.name`` (``filename``).

Always: ``source.ip``/``source.port`` (``src_ip``/``src_port``: the attacker), ``destination.ip``/
``destination.port`` (``dst_ip``/``dst_port``: the honeypot, except for direct-tcpip), ``observer.name``
(``sensor``), ``event.action`` (the ``eventid``), ``event.id`` (``uuid`` when present), ``@timestamp`` from
``timestamp``. ``event.kind`` is ``event``: every record comes from an attacker by construction, but which ones
deserve an alert is for rules to say (``rules/cowrie/``).

Logsource: ``product: cowrie`` only. Cowrie emulates a Linux host but its events are not the host's telemetry:
``product: linux`` would run the Linux process-creation and auth rules over an attacker's keystrokes and
logons to a fake system (and score them as compromises of a real one). A product of its own, like SigmaHQ's
``product: opencanary`` for that honeypot, keeps them apart and gives rules a facet to target.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from yamori.events import LogSource
from yamori.parsers.auth_patterns import put_address, related
from yamori.parsers.base import Family, Malformed, ParseContext, Parsed, RecordParser
from yamori.parsers.generic import flatten_json
from yamori.parsers.timestamps import from_epoch, parse_iso, utc_iso

__all__ = ["CowrieParser"]

COWRIE = LogSource(product=("cowrie",))

_NETWORK = ["network"]
_EVENTS: dict[str, tuple[list[str], list[str], str | None]] = {
    "session.connect": (_NETWORK, ["connection", "start"], None),
    "session.closed": (_NETWORK, ["connection", "end"], None),
    "login.failed": (["authentication"], ["info"], "failure"),
    "login.success": (["authentication"], ["start"], "success"),
    "command.input": (["process"], ["start"], None),
    "command.failed": (["process"], ["start"], "failure"),
    "command.success": (["process"], ["start"], "success"),
    "client.version": (_NETWORK, ["protocol"], None),
    "client.kex": (_NETWORK, ["protocol"], None),
    "client.size": (_NETWORK, ["info"], None),
    "client.var": (_NETWORK, ["info"], None),
    "client.fingerprint": (["authentication"], ["info"], None),
    "session.params": (_NETWORK, ["info"], None),
    "log.closed": (["session"], ["info"], None),
    "direct-tcpip.request": (_NETWORK, ["connection", "start"], None),
    "direct-tcpip.data": (_NETWORK, ["connection"], None),
    "session.file_download": (["file"], ["creation"], "success"),
    "session.file_download.failed": (["file"], ["creation"], "failure"),
    "session.file_upload": (["file"], ["creation"], "success"),
}
_ECS = {"src_port": "source.port", "dst_port": "destination.port", "sensor": "observer.name",
        "input": "process.command_line", "url": "url.original", "shasum": "file.hash.sha256",
        "outfile": "file.path", "filename": "file.name", "uuid": "event.id", "protocol": "network.protocol",
        "username": "user.name"}


class CowrieParser(RecordParser):
    name = "cowrie"
    family = Family.IDS
    description = "Cowrie SSH/Telnet honeypot JSON: connections, logins tried, commands, downloads"
    logsources = (COWRIE,)
    ecs = _ECS
    priority = 30

    def accepts(self, record: Mapping[str, Any], context: ParseContext) -> bool:
        eventid = record.get("eventid")
        return type(eventid) is str and eventid.startswith("cowrie.")

    def parse(self, record: dict[str, Any], context: ParseContext) -> Iterable[Parsed]:
        fields = flatten_json(record)
        eventid: str = record["eventid"]
        kind = eventid[len("cowrie."):]
        category, types, outcome = _EVENTS.get(kind, (["host"], ["info"], None))
        fields["event.kind"] = "event"
        fields["event.category"] = list(category)
        fields["event.type"] = list(types)
        fields["event.action"] = eventid
        if outcome is not None:
            fields["event.outcome"] = outcome
        fields["event.dataset"] = "cowrie"
        src_ip, dst_ip = record.get("src_ip"), record.get("dst_ip")
        if isinstance(src_ip, str):
            put_address(fields, "source", src_ip)
        if isinstance(dst_ip, str):
            put_address(fields, "destination", dst_ip)
        for name in ("src_port", "dst_port"):
            value = record.get(name)
            if isinstance(value, str) and value.isdigit():
                fields[name] = int(value)
            elif value is not None and type(value) is not int:
                fields.pop(name, None)
        duration = record.get("duration")
        if isinstance(duration, int | float) and not isinstance(duration, bool):
            fields["event.duration"] = int(duration * 1_000_000_000)
        protocol = record.get("protocol")
        if isinstance(protocol, str):
            fields["network.transport"] = "tcp"
        username = record.get("username")
        if isinstance(username, str) and username:
            fields["user.name"] = username
        related(fields)
        return [Parsed(fields, COWRIE, self._timestamp(record))]

    @staticmethod
    def _timestamp(record: Mapping[str, Any]) -> str | None:
        value = record.get("timestamp")
        if isinstance(value, str):
            moment = parse_iso(value)
            if moment is None:
                raise Malformed(f"cowrie record with an unreadable timestamp: {value[:64]!r}")
            return utc_iso(moment)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return from_epoch(value)
        return None


PARSERS = (CowrieParser(),)
