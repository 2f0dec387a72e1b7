"""Suricata EVE JSON: every event type of ``eve.json`` (one JSON object per line), alerts normalised for IDS rules.

Records are recognised by ``event_type`` (a string) together with ``timestamp`` and one of ``flow_id``,
``src_ip`` or a known event type. Read: ``alert``, ``dns`` (the v1 shape, one record per query and per answer
with ``dns.rrname``/``dns.rdata``; the v2 shape with ``dns.answers`` and ``dns.grouped``; the v3 shape of
Suricata 8 with ``dns.queries``), ``http``, ``tls``, ``flow``, ``netflow``, ``fileinfo``, ``drop``, and every
other event type (``anomaly``, ``ssh``, ``smb``, ``dhcp``, ``ftp``, ``smtp``, ``krb5``, ``stats``, ...) as a
generic event.

Fields: the record flattened with dots, under Suricata's own names (``event_type``, ``src_ip``, ``dest_port``,
``alert.signature``, ``alert.severity``, ``dns.rrname``, ``dns.answers.rdata``, ``http.hostname``,
``http.url``, ``tls.sni``, ``fileinfo.sha256``, ``flow.bytes_toserver``...). ECS, when the record has the parts:

* ``source.ip/port``, ``destination.ip/port`` (ports as int), ``network.transport`` (``proto`` lower-cased),
  ``network.protocol`` (``app_proto``), ``network.community_id``, ``observer.*`` (``type: ids``, vendor,
  product, ``name`` from ``host``, ``ingress.interface.name`` from ``in_iface``);
* ``event.kind`` (``alert`` for alerts, ``event`` otherwise), ``event.category`` (``network``, plus
  ``intrusion_detection`` for alerts and drops, ``file`` for fileinfo, ``web`` for http), ``event.type``,
  ``event.action`` (the alert's ``allowed``/``blocked``, the anomaly's event);
* alerts: ``event.severity`` (``alert.severity``: 1 is the highest, as Snort's priority), ``rule.id``
  (signature id), ``rule.name``, ``rule.category``, ``rule.version``, ``threat.tactic.id`` and
  ``threat.technique.id`` from the Emerging Threats ``mitre_*`` metadata;
* dns: ``dns.question.name/type``, ``dns.response_code``, ``dns.answers.data/name/type``, ``dns.resolved_ip``,
  ``dns.header_flags``. ``dns.type`` and ``dns.id`` are Suricata's own fields of the same name (v3 writes
  ``request``/``response`` where ECS says ``query``/``answer``: the original value stays);
* http: ``url.domain``, ``url.original``, ``url.path``, ``url.query``, ``http.request.method``,
  ``http.response.status_code``, ``http.response.body.bytes``, ``http.response.mime_type``,
  ``http.request.referrer``, ``http.version``, ``user_agent.original``;
* tls: ``tls.server.subject/issuer/not_before/not_after``, ``tls.server.x509.serial_number``,
  ``tls.server.hash.sha1``, ``tls.client.server_name``, ``tls.client.ja3``, ``tls.server.ja3s``,
  ``tls.resumed`` (``tls.version`` stays Suricata's ``TLS 1.2``);
* fileinfo: ``file.name`` (the last part of ``fileinfo.filename``), ``file.path``, ``file.size``,
  ``file.hash.md5/sha1/sha256``;
* flow and netflow: ``network.bytes`` and ``network.packets`` (both ways), ``source.bytes/packets``,
  ``destination.bytes/packets``, ``event.start``, ``event.end``, ``event.duration`` (ns).

Sigma logsources: ``product: suricata`` with ``service: <event type>`` for every known event type, plus

* ``category: ids`` for alerts. ``ids`` is Yamori's category for IDS/IPS alerts (SigmaHQ has none): Suricata
  alerts and Snort alerts carry it, with ``event.kind: alert`` and ``event.severity`` (1 = highest) in both, so
  one rule covers every IDS (Yamori's ``rules/generic/ids/`` rules use it);
* ``category: dns`` for dns events, with the field names of Sigma's dns taxonomy added: ``query`` (the question
  name), ``answer`` (the answer data) and ``record_type`` (the question type);
* ``category: proxy`` for http events, with the proxy taxonomy's names added: ``c-uri`` (the request target),
  ``c-uri-stem``, ``c-uri-query``, ``c-uri-extension``, ``c-useragent``, ``cs-method``, ``cs-host``,
  ``cs-referrer``, ``cs-version``, ``sc-status``, ``dst_ip``, ``src_ip``, ``dst_port``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from yamori.events import LogSource
from yamori.parsers.base import Family, Malformed, ParseContext, Parsed, RecordParser
from yamori.parsers.generic import flatten_into
from yamori.parsers.timestamps import parse_iso, utc_iso

__all__ = ["IDS_CATEGORY", "SuricataEveParser", "http_proxy_fields", "iso_utc", "to_port"]

IDS_CATEGORY = "ids"
"""Yamori's Sigma category for IDS/IPS alerts (Suricata, Snort, Zeek notices)."""

PRODUCT = "suricata"

KNOWN_EVENT_TYPES = (
    "alert", "anomaly", "arp", "bittorrent-dht", "dcerpc", "dhcp", "dnp3", "dns", "drop", "enip", "engine",
    "fileinfo", "flow", "frame", "ftp", "ftp_data", "http", "http2", "ike", "ikev2", "krb5", "ldap", "modbus",
    "mqtt", "netflow", "nfs", "pgsql", "quic", "rdp", "rfb", "sip", "smb", "smtp", "snmp", "ssh", "stats",
    "tftp", "tls", "websocket",
)
_KNOWN = frozenset(KNOWN_EVENT_TYPES)
_EXTRA_CATEGORY = {"alert": IDS_CATEGORY, "dns": "dns", "http": "proxy"}
_LOGSOURCES: dict[str, LogSource] = {
    event_type: LogSource(product=(PRODUCT,),
                          category=(_EXTRA_CATEGORY[event_type],) if event_type in _EXTRA_CATEGORY else (),
                          service=(event_type,))
    for event_type in KNOWN_EVENT_TYPES
}
_UNKNOWN_TYPE = LogSource(product=(PRODUCT,))

_CATEGORY: dict[str, list[str]] = {
    "alert": ["network", "intrusion_detection"], "drop": ["network", "intrusion_detection"],
    "fileinfo": ["network", "file"], "http": ["network", "web"], "stats": ["host"],
}
_TYPE: dict[str, list[str]] = {
    "flow": ["connection", "end"], "netflow": ["connection", "end"], "drop": ["denied"], "anomaly": ["info"],
    "fileinfo": ["info"], "stats": ["info"], "engine": ["info"],
}
_ALERT_ACTION_TYPE = {"allowed": ["allowed"], "blocked": ["denied"]}

ECS: dict[str, str] = {
    "src_ip": "source.ip",
    "dest_ip": "destination.ip",
    "community_id": "network.community_id",
    "host": "observer.name",
    "in_iface": "observer.ingress.interface.name",
}
"""Applied to every record; the mappings of the parts a record may hold are in :data:`SECTION_ECS`."""

SECTION_ECS: dict[str, tuple[tuple[str, str], ...]] = {
    "alert": (("alert.signature", "rule.name"), ("alert.category", "rule.category")),
    "http": (("http.hostname", "url.domain"), ("http.url", "url.original"),
             ("http.http_method", "http.request.method"), ("http.http_user_agent", "user_agent.original"),
             ("http.http_refer", "http.request.referrer"), ("http.http_content_type", "http.response.mime_type"),
             ("http.length", "http.response.body.bytes")),
    "tls": (("tls.subject", "tls.server.subject"), ("tls.issuerdn", "tls.server.issuer"),
            ("tls.sni", "tls.client.server_name"), ("tls.ja3.hash", "tls.client.ja3"),
            ("tls.ja3s.hash", "tls.server.ja3s"), ("tls.session_resumed", "tls.resumed")),
    "fileinfo": (("fileinfo.filename", "file.path"), ("fileinfo.size", "file.size"),
                 ("fileinfo.md5", "file.hash.md5"), ("fileinfo.sha1", "file.hash.sha1"),
                 ("fileinfo.sha256", "file.hash.sha256")),
    "smtp": (("smtp.helo", "source.domain"),),
    "dhcp": (("dhcp.hostname", "client.domain"), ("dhcp.assigned_ip", "client.ip")),
}
"""Original field -> ECS field for each part of a record (``alert``, ``http``, ...), applied when it is present."""

_ZERO = timedelta(0)
_OBSERVER = {"observer.type": "ids", "observer.vendor": "OISF", "observer.product": "Suricata"}


def _flatten(record: dict[str, Any]) -> dict[str, Any]:
    """:func:`~yamori.parsers.generic.flatten_json`, faster for the nested objects of EVE records (lists are
    flattened by the generic code, so the result is the same)."""
    out: dict[str, Any] = {}
    _flatten_object(record, "", out)
    return out


def _flatten_object(obj: dict[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for key, value in obj.items():
        kind = type(value)
        if kind is dict:
            if value:
                _flatten_object(value, f"{prefix}{key}.", out)
        elif kind is list:
            flatten_into(value, prefix + key, out)
        else:
            out[prefix + key] = value


def iso_utc(value: Any) -> str | None:
    """An ISO 8601 / RFC 3339 time string as ISO UTC (``...Z``); None when it is not one."""
    if type(value) is not str:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        parsed = parse_iso(value)
        if parsed is None:
            return None
        moment = parsed
    if (len(value) == 31 and value[10] == "T" and value[19] == "." and value.endswith("+0000")
            and moment.utcoffset() == _ZERO):
        # Suricata's own form, already UTC: what utc_iso would write, without formatting the time again
        return value[:26] + "Z" if moment.microsecond else value[:19] + "Z"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return utc_iso(moment)


def to_port(value: Any) -> int | None:
    """A port number as int (from an int or a decimal string); None when it is not one."""
    if type(value) is int:
        return value if 0 <= value <= 65535 else None
    if type(value) is str and value.isdigit() and len(value) <= 5:
        number = int(value)
        return number if number <= 65535 else None
    return None


def _int(value: Any) -> int | None:
    if type(value) is int:
        return value
    if type(value) is str and value.isdigit():
        return int(value)
    return None


def http_proxy_fields(fields: dict[str, Any], uri: Any, user_agent: Any, method: Any, host: Any, status: Any,
                      referrer: Any, version: Any, src_ip: Any, dst_ip: Any, dst_port: Any) -> None:
    """The Sigma proxy taxonomy's names (``c-uri``, ``cs-host``, ...) and ``url.path``/``url.query``/
    ``url.extension`` for one HTTP request; absent values are left out."""
    if type(uri) is str and uri:
        path, _, query = uri.partition("?")
        fields["c-uri"] = uri
        fields["c-uri-stem"] = path
        fields.setdefault("url.path", path)
        if query:
            fields["c-uri-query"] = query
            fields.setdefault("url.query", query)
        last = path.rpartition("/")[2]
        if "." in last:
            extension = last.rpartition(".")[2]
            if extension:
                fields["c-uri-extension"] = extension
                fields.setdefault("url.extension", extension)
    for name, value in (("c-useragent", user_agent), ("cs-method", method), ("cs-host", host),
                        ("sc-status", status), ("cs-referrer", referrer), ("cs-version", version),
                        ("src_ip", src_ip), ("dst_ip", dst_ip), ("dst_port", dst_port)):
        if value is not None and value != "" and name not in fields:
            fields[name] = value


def _strip_colons(value: Any) -> str | None:
    if type(value) is not str or not value:
        return None
    return value.replace(":", "").upper()


def _first(value: Any) -> Any:
    if type(value) is list:
        return value[0] if value else None
    return value


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if type(value) is list else [value]


class SuricataEveParser(RecordParser):
    """Suricata's EVE JSON records."""

    name = "suricata"
    family = Family.IDS
    description = "Suricata EVE JSON (alert, dns v1/v2/v3, http, tls, flow, fileinfo, anomaly, ssh, smb, dhcp, ...)"
    logsources = (*_LOGSOURCES.values(), _UNKNOWN_TYPE)
    ecs = ECS
    priority = 20

    def accepts(self, record: Mapping[str, Any], context: ParseContext) -> bool:
        event_type = record.get("event_type")
        return (type(event_type) is str and "timestamp" in record
                and (event_type in _KNOWN or "flow_id" in record or "src_ip" in record))

    def parse(self, record: dict[str, Any], context: ParseContext) -> list[Parsed]:
        event_type = record.get("event_type")
        if type(event_type) is not str:
            raise Malformed("event_type is not a string")
        timestamp = iso_utc(record.get("timestamp"))
        if timestamp is None:
            raise Malformed(f"timestamp is not an ISO 8601 time: {record.get('timestamp')!r}")
        fields = _flatten(record)
        fields.update(_OBSERVER)
        fields["event.dataset"] = f"suricata.{event_type}"
        self._network(fields)
        for section, mapping in SECTION_ECS.items():
            if section in record:
                for original, ecs_name in mapping:
                    value = fields.get(original)
                    if value is not None and value != "" and ecs_name not in fields:
                        fields[ecs_name] = value
        kind = "event"
        categories = _CATEGORY.get(event_type, ["network"])
        types = _TYPE.get(event_type, ["protocol"])
        if event_type == "alert":
            kind = "alert"
            types = self._alert(fields)
        elif event_type == "anomaly":
            action = fields.get("anomaly.event") or fields.get("anomaly.type")
            if action:
                fields["event.action"] = action
        if "dns" in record:
            self._dns(fields)
        if "http.url" in fields or "http.hostname" in fields:
            self._http(fields)
        if "tls.sni" in fields or "tls.subject" in fields or "tls.version" in fields:
            self._tls(fields)
        if "fileinfo.filename" in fields:
            name = fields["fileinfo.filename"]
            if type(name) is str and name:
                fields["file.name"] = name.replace("\\", "/").rpartition("/")[2] or name
        if "flow.bytes_toserver" in fields or "flow.start" in fields:
            self._flow(fields, "flow.")
        elif "netflow.bytes" in fields:
            self._netflow(fields)
        fields["event.kind"] = kind
        fields["event.category"] = list(categories)
        fields["event.type"] = list(types)
        return [Parsed(fields, _LOGSOURCES.get(event_type, _UNKNOWN_TYPE), timestamp)]

    @staticmethod
    def _network(fields: dict[str, Any]) -> None:
        for original, ecs_name in (("src_port", "source.port"), ("dest_port", "destination.port")):
            value = fields.get(original)
            if value is not None:
                port = to_port(value)
                if port is None:
                    raise Malformed(f"{original} is not a port: {value!r}")
                fields[ecs_name] = port
        proto = fields.get("proto")
        if type(proto) is str and proto:
            fields["network.transport"] = proto.lower()
        app_proto = fields.get("app_proto")
        if type(app_proto) is str and app_proto and app_proto != "failed":
            fields["network.protocol"] = app_proto.lower()

    @staticmethod
    def _alert(fields: dict[str, Any]) -> list[str]:
        severity = _int(fields.get("alert.severity"))
        if severity is not None:
            fields["event.severity"] = severity
        sid = fields.get("alert.signature_id")
        if sid is not None:
            fields["rule.id"] = str(sid)
        rev = fields.get("alert.rev")
        if rev is not None:
            fields["rule.version"] = str(rev)
        action = fields.get("alert.action")
        if type(action) is str and action:
            fields["event.action"] = action
        for original, ecs_name in (("alert.metadata.mitre_tactic_id", "threat.tactic.id"),
                                   ("alert.metadata.mitre_technique_id", "threat.technique.id")):
            value = fields.get(original)
            if value:
                fields[ecs_name] = _as_list(value)
        if fields.get("threat.technique.id"):
            fields["threat.framework"] = "MITRE ATT&CK"
        return _ALERT_ACTION_TYPE.get(action, ["info"]) if type(action) is str else ["info"]

    @staticmethod
    def _dns(fields: dict[str, Any]) -> None:
        name = fields.get("dns.rrname")
        rrtype = fields.get("dns.rrtype")
        if name is None:  # v3: the questions in dns.queries; alerts: dns.query
            name = _first(fields.get("dns.queries.rrname") or fields.get("dns.query.rrname"))
            rrtype = _first(fields.get("dns.queries.rrtype") or fields.get("dns.query.rrtype"))
        if type(name) is str:
            fields["dns.question.name"] = fields["query"] = name
        if type(rrtype) is str:
            fields["dns.question.type"] = fields["record_type"] = rrtype
        rcode = fields.get("dns.rcode")
        if type(rcode) is str and fields.get("dns.type") not in ("query", "request"):
            fields["dns.response_code"] = rcode
        answers = fields.get("dns.answers.rdata")
        types = fields.get("dns.answers.rrtype")
        names = fields.get("dns.answers.rrname")
        if answers is None and "dns.rdata" in fields:  # v1: one answer per record
            answers, types, names = [fields["dns.rdata"]], [rrtype], [name]
        if answers is None:
            grouped = {key[len("dns.grouped."):]: value for key, value in fields.items()
                       if key.startswith("dns.grouped.")}
            if grouped:
                answers, types = [], []
                for group_type, values in grouped.items():
                    for value in _as_list(values):
                        answers.append(value)
                        types.append(group_type)
        if answers:
            answers = _as_list(answers)
            fields["dns.answers.data"] = fields["answer"] = answers
            if names:
                fields["dns.answers.name"] = _as_list(names)
            if types:
                types = _as_list(types)
                fields["dns.answers.type"] = types
                resolved = [data for data, kind in zip(answers, types, strict=False)
                            if kind in ("A", "AAAA") and type(data) is str]
                if resolved:
                    fields["dns.resolved_ip"] = resolved
        flags = [flag.upper() for flag in ("qr", "aa", "tc", "rd", "ra", "z", "ad", "cd")
                 if fields.get(f"dns.{flag}") is True]
        if flags:
            fields["dns.header_flags"] = flags

    @staticmethod
    def _http(fields: dict[str, Any]) -> None:
        status = _int(fields.get("http.status"))
        if status is not None:
            fields["http.response.status_code"] = status
        protocol = fields.get("http.protocol")
        version = None
        if type(protocol) is str and protocol.upper().startswith("HTTP/"):
            version = fields["http.version"] = protocol[5:]
        port = to_port(fields.get("http.http_port"))
        if port is not None:
            fields["url.port"] = port
        http_proxy_fields(fields, fields.get("http.url"), fields.get("http.http_user_agent"),
                          fields.get("http.http_method"), fields.get("http.hostname"), status,
                          fields.get("http.http_refer"), version, fields.get("src_ip"), fields.get("dest_ip"),
                          fields.get("destination.port"))

    @staticmethod
    def _tls(fields: dict[str, Any]) -> None:
        serial = _strip_colons(fields.get("tls.serial"))
        if serial:
            fields["tls.server.x509.serial_number"] = serial
        fingerprint = _strip_colons(fields.get("tls.fingerprint"))
        if fingerprint:
            fields["tls.server.hash.sha1"] = fingerprint
        for original, ecs_name in (("tls.notbefore", "tls.server.not_before"),
                                   ("tls.notafter", "tls.server.not_after")):
            moment = iso_utc(fields.get(original))
            if moment is not None:
                fields[ecs_name] = moment
        version = fields.get("tls.version")
        if type(version) is str and " " in version:
            protocol, _, number = version.partition(" ")
            if protocol in ("TLS", "SSL") and number:
                fields["tls.version_protocol"] = protocol.lower()

    @staticmethod
    def _flow(fields: dict[str, Any], prefix: str) -> None:
        to_server = _int(fields.get(prefix + "bytes_toserver"))
        to_client = _int(fields.get(prefix + "bytes_toclient"))
        if to_server is not None:
            fields["source.bytes"] = to_server
        if to_client is not None:
            fields["destination.bytes"] = to_client
        if to_server is not None or to_client is not None:
            fields["network.bytes"] = (to_server or 0) + (to_client or 0)
        packets_out = _int(fields.get(prefix + "pkts_toserver"))
        packets_in = _int(fields.get(prefix + "pkts_toclient"))
        if packets_out is not None:
            fields["source.packets"] = packets_out
        if packets_in is not None:
            fields["destination.packets"] = packets_in
        if packets_out is not None or packets_in is not None:
            fields["network.packets"] = (packets_out or 0) + (packets_in or 0)
        _span(fields, prefix)

    @staticmethod
    def _netflow(fields: dict[str, Any]) -> None:
        size = _int(fields.get("netflow.bytes"))
        if size is not None:
            fields["network.bytes"] = fields["source.bytes"] = size
        packets = _int(fields.get("netflow.pkts"))
        if packets is not None:
            fields["network.packets"] = fields["source.packets"] = packets
        _span(fields, "netflow.")


def _span(fields: dict[str, Any], prefix: str) -> None:
    start = fields.get(prefix + "start")
    end = fields.get(prefix + "end")
    start_iso = iso_utc(start)
    end_iso = iso_utc(end)
    if start_iso is not None:
        fields["event.start"] = start_iso
    if end_iso is not None:
        fields["event.end"] = end_iso
    if start_iso is not None and end_iso is not None:
        delta = datetime.fromisoformat(end_iso) - datetime.fromisoformat(start_iso)
        fields["event.duration"] = (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    elif type(fields.get(prefix + "age")) is int:
        fields["event.duration"] = fields[prefix + "age"] * 1_000_000_000


PARSERS = (SuricataEveParser(),)
