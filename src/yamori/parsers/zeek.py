"""Zeek logs, in JSON (one object a line) and in Zeek's tab-separated format (TSV, with ``#fields`` headers).

Forms read:

* JSON as Zeek writes it (``LogAscii::use_json``; ``ts`` in epoch seconds, epoch milliseconds or ISO 8601),
  as Brim/Zed and Corelight export it (``_path``, ``_write_ts``, ISO times), with dotted names flat
  (``id.orig_h``) or nested (``{"id": {"orig_h": ...}}``);
* TSV with its headers (``#separator \\x09``, ``#set_separator``, ``#empty_field``, ``#unset_field``,
  ``#path``, ``#open``, ``#fields``, ``#types``, ``#close``; several header blocks in one file are fine). Values
  get the JSON writer's types from ``#types`` (``count``/``int``/``port`` as int, ``time``/``interval``/
  ``double`` as float, ``bool`` ``T``/``F`` as bool, ``set[..]``/``vector[..]`` split on the set separator
  into lists); the unset value ``-`` leaves the field out (as the JSON writer does); ``(empty)`` is ``""`` or
  ``[]``. Escaped separators (``\\x09``, the set separator's ``\\x2c``) are unescaped; other ``\\xHH``
  escapes stay as written (the JSON writer writes them the same way, and SigmaHQ rules expect them so).

Log type (``conn``, ``dns``, ...): from ``_path`` (JSON) or ``#path`` (TSV) when present, else from the file
name (``conn.log``, ``dns.json`` - also after ``.gz`` -, ``conn.00:00:00-01:00:00.log``,
``http_20261128_00:00:00-01:00:00+0000.log``), else from the field set (``query`` + ``qtype_name`` is dns,
``conn_state`` is conn, ...). Records of no known type are still Zeek events (``product: zeek`` without service).

Fields: Zeek's own names (``ts``, ``uid``, ``id.orig_h``, ``id.orig_p``, ``id.resp_h``, ``id.resp_p``,
``query``, ``answers``, ``host``, ``uri``, ``user_agent``, ``certificate.serial``, ...), values as the JSON
writer gives them. ECS, common: ``source.ip/port``, ``destination.ip/port`` (from ``id.*``),
``network.transport`` (``proto``), ``network.community_id``, ``zeek.session_id`` (``uid``: the connection id
shared by the logs of one connection, where Elastic's Zeek integration puts it; ``event.id`` would claim it
identifies one log line), ``event.duration`` (ns, from ``duration``), ``event.kind``/``category``/``type``,
``event.dataset`` ``zeek.<log type>``, ``observer.*`` (``type: ids``, ``product: Zeek``). Per log type:

* conn: ``network.protocol`` (``service``), ``network.bytes``/``network.packets`` (``orig_ip_bytes`` +
  ``resp_ip_bytes``, or ``orig_bytes`` + ``resp_bytes`` without them), ``source.bytes/packets``,
  ``destination.bytes/packets``;
* dns: ``dns.question.name/type/class``, ``dns.response_code``, ``dns.id``, ``dns.type``,
  ``dns.answers.data``, ``dns.resolved_ip``, ``dns.header_flags``; and Sigma's dns taxonomy names ``answer``
  (``answers``) and ``record_type`` (``qtype_name``) (``query`` is Zeek's own);
* http: ``url.domain``, ``url.original``, ``url.path``, ``url.query``, ``url.extension``,
  ``http.request.method``, ``http.response.status_code``, ``http.version``, ``http.request.referrer``,
  ``http.request/response.body.bytes``, ``http.request/response.mime_type``, ``user_agent.original``,
  ``user.name``; and the Sigma proxy taxonomy's names (``c-uri``, ``c-uri-stem``, ``c-uri-query``,
  ``c-uri-extension``, ``c-useragent``, ``cs-method``, ``cs-host``, ``cs-referrer``, ``cs-version``,
  ``sc-status``, ``src_ip``, ``dst_ip``, ``dst_port``), which SigmaHQ's Zeek http rules also use;
* ssl: ``tls.version`` (``1.2``) and ``tls.version_protocol`` (``tls``), ``tls.cipher``, ``tls.curve``,
  ``tls.established``, ``tls.resumed``, ``tls.next_protocol``, ``tls.client.server_name``,
  ``tls.server.subject/issuer``, ``tls.client.subject/issuer``, ``tls.client.ja3``, ``tls.server.ja3s``;
* x509 (taken as the server's certificate; the log does not say whose): ``tls.server.x509.*`` (serial number,
  subject and issuer distinguished names, validity, key algorithm and size, alternative names) and
  ``tls.server.hash.sha256``/``sha1`` from ``fingerprint``;
* files: ``file.name``, ``file.mime_type``, ``file.size``, ``file.hash.md5/sha1/sha256``;
* notice and signatures: ``event.kind: alert``, ``rule.name`` (``note`` / ``event_msg``), ``rule.id``
  (``sig_id``), ``message`` (``msg``), ``source.ip``, ``destination.ip/port`` (``src``, ``dst``, ``p``);
* weird: ``event.action`` (``name``);
* authentication (ssh, ntlm, kerberos, rdp, ftp, http ``username``): ``user.name``, ``user.domain``,
  ``event.outcome``, ``event.category: authentication``;
* smtp: ``email.from.address``, ``email.to.address``, ``email.subject``, ``email.message_id``;
* smb_files: ``file.name``, ``file.path``, ``file.size``, ``event.action``; dce_rpc: ``event.action``
  (``operation``); dhcp: ``source.mac``, ``client.ip``, ``client.domain``; rdp: ``user.name`` (``cookie``);
  known_* and software: ``host.ip``; syslog:
  ``log.syslog.facility.name``, ``log.syslog.severity.name``.

Sigma logsources: ``product: zeek, service: <log type>`` (as SigmaHQ's Zeek rules name them: ``dns``,
``http``, ``smb_files``, ``dce_rpc``, ``kerberos``, ``rdp``, ``x509``, ...), plus ``category: dns`` for dns,
``category: proxy`` for http (Zeek's http log holds what a proxy log holds, and the proxy names are added) and
``category: ids`` for notice and signatures (Yamori's IDS alert category, see :mod:`yamori.parsers.suricata`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from yamori.events import BadRecord, LogSource
from yamori.parsers.base import Family, Malformed, ParseContext, Parsed, RecordParser, TextParser, apply_ecs
from yamori.parsers.generic import flatten_json
from yamori.parsers.suricata import IDS_CATEGORY, http_proxy_fields, to_port
from yamori.parsers.timestamps import from_epoch, parse_iso, utc_iso

__all__ = [
    "KNOWN_LOGS",
    "ZeekJsonParser",
    "ZeekTsvParser",
    "log_type_from_fields",
    "log_type_from_name",
    "path_log_type",
    "zeek_event",
    "zeek_time",
]

PRODUCT = "zeek"

KNOWN_LOGS = (
    "analyzer", "bacnet", "broker", "capture_loss", "cluster", "config", "conn", "conn_long", "dce_rpc", "dhcp",
    "dnp3", "dns", "dpd", "enip", "files", "ftp", "http", "intel", "irc", "kerberos", "known_certs",
    "known_devices", "known_hosts", "known_modbus", "known_services", "ldap", "ldap_search", "loaded_scripts",
    "modbus", "mqtt_connect", "mqtt_publish", "mqtt_subscribe", "mysql", "netcontrol", "notice",
    "notice_alarm", "ntlm", "ntp", "ocsp", "openflow", "packet_filter", "pe", "print", "quic", "radius", "rdp",
    "reporter", "rfb", "s7comm", "signatures", "sip", "smb_cmd", "smb_files", "smb_mapping", "smtp", "snmp",
    "socks", "software", "ssh", "ssl", "stats", "syslog", "traceroute", "tunnel", "unknown_protocols",
    "weird", "weird_stats", "websocket", "x509",
)
_KNOWN = frozenset(KNOWN_LOGS)
_EXTRA_CATEGORY = {"dns": "dns", "http": "proxy", "notice": IDS_CATEGORY, "signatures": IDS_CATEGORY}
_LOGSOURCES: dict[str, LogSource] = {
    log: LogSource(product=(PRODUCT,), category=(_EXTRA_CATEGORY[log],) if log in _EXTRA_CATEGORY else (),
                   service=(log,))
    for log in KNOWN_LOGS
}
_UNKNOWN_LOG = LogSource(product=(PRODUCT,))

# -------------------------------------------------------------------------------------------------------------
# log type
# -------------------------------------------------------------------------------------------------------------

_NAME_SUFFIX = re.compile(r"[_.-]\d.*$")


@lru_cache(maxsize=256)
def log_type_from_name(name: str) -> str | None:
    """The log type a Zeek file name says (``conn.log``, ``dns.json``, ``conn.00:00:00-01:00:00.log``,
    ``http_20261128_00:00:00-01:00:00+0000.log``); None when it says none."""
    base = name.rsplit("/", 1)[-1].lower()
    stem = base.split(".", 1)[0]
    if stem in _KNOWN:
        return stem
    stem = _NAME_SUFFIX.sub("", stem)
    return stem if stem in _KNOWN else None


_SIGNATURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("dns", ("query", "qtype_name")), ("dns", ("query", "rcode")), ("dns", ("query", "trans_id")),
    ("conn", ("conn_state",)), ("conn", ("history", "orig_bytes")),
    ("http", ("method", "uri")), ("http", ("status_code", "trans_depth")), ("http", ("host", "uri")),
    ("ssl", ("server_name", "cipher")), ("ssl", ("cipher", "established")), ("ssl", ("validation_status",)),
    ("x509", ("certificate.serial",)), ("x509", ("certificate.subject",)),
    ("notice", ("note", "msg")),
    ("files", ("fuid", "mime_type")), ("files", ("fuid", "seen_bytes")), ("files", ("tx_hosts",)),
    ("weird", ("name", "peer", "notice")), ("weird", ("name", "addl")),
    ("ssh", ("auth_success",)), ("ssh", ("auth_attempts",)), ("ssh", ("host_key_alg",)),
    ("kerberos", ("request_type", "client")),
    ("dce_rpc", ("endpoint", "operation")),
    ("smb_files", ("action", "name", "path")),
    ("smb_mapping", ("share_type",)),
    ("rdp", ("security_protocol",)), ("rdp", ("cookie", "result")),
    ("ntlm", ("server_nb_computer_name",)), ("ntlm", ("domainname", "username")),
    ("dhcp", ("assigned_addr",)), ("dhcp", ("msg_types",)),
    ("ftp", ("command", "reply_code")),
    ("smtp", ("helo",)), ("smtp", ("mailfrom",)), ("smtp", ("rcptto",)),
    ("snmp", ("community", "get_requests")),
    ("software", ("software_type",)),
    ("signatures", ("sig_id", "event_msg")),
    ("dpd", ("analyzer", "failure_reason")),
    ("analyzer", ("analyzer_kind", "analyzer_name")),
    ("capture_loss", ("percent_lost",)),
    ("stats", ("pkts_proc",)),
    ("known_services", ("port_num", "service")),
    ("known_certs", ("port_num", "serial")),
    ("pe", ("machine", "is_exe")),
    ("ocsp", ("certStatus",)),
    ("ntp", ("stratum", "ref_id")),
    ("modbus", ("func", "pdu_type")),
    ("rfb", ("client_major_version",)),
    ("syslog", ("facility", "severity", "message")),
    ("conn", ("duration", "orig_bytes")), ("conn", ("service", "duration")),
)


def log_type_from_fields(fields: Mapping[str, Any]) -> str | None:
    """The log type a record's field names give (``query`` + ``qtype_name`` is dns); None when unclear."""
    for log_type, names in _SIGNATURES:
        for name in names:
            if name not in fields:
                break
        else:
            return log_type
    return None


# -------------------------------------------------------------------------------------------------------------
# times
# -------------------------------------------------------------------------------------------------------------

_ISO_UTC_MICRO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_EPOCH_MILLIS = 100_000_000_000  # a larger epoch number is in milliseconds (1e11 s is the year 5138)


def zeek_time(value: Any) -> str | None:
    """A Zeek time (epoch seconds or milliseconds as a number or string, or ISO 8601) as ISO UTC; None if not."""
    kind = type(value)
    if kind is float or kind is int:
        if value > _EPOCH_MILLIS:
            value = value / 1000
        return from_epoch(value)
    if kind is not str or not value:
        return None
    text: str = value
    if _ISO_UTC_MICRO.fullmatch(text) and not text.endswith(".000000Z"):
        return text  # already what utc_iso writes
    if text[0].isdigit() and len(text) > 4 and text[4] == "-":
        try:
            moment: datetime | None = datetime.fromisoformat(text)
        except ValueError:
            moment = parse_iso(text)
        if moment is None:
            return None
        return utc_iso(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    try:
        number = float(value)
    except ValueError:
        return None
    return zeek_time(number)


# -------------------------------------------------------------------------------------------------------------
# one record to an event
# -------------------------------------------------------------------------------------------------------------

ECS: dict[str, str] = {
    "id.orig_h": "source.ip",
    "id.resp_h": "destination.ip",
    "uid": "zeek.session_id",
    "community_id": "network.community_id",
}

_LOG_ECS: dict[str, dict[str, str]] = {
    "conn": {"service": "network.protocol"},
    "dns": {"query": "dns.question.name", "qtype_name": "dns.question.type", "qclass_name": "dns.question.class",
            "rcode_name": "dns.response_code"},
    "http": {"host": "url.domain", "uri": "url.original", "method": "http.request.method",
             "user_agent": "user_agent.original", "referrer": "http.request.referrer",
             "request_body_len": "http.request.body.bytes", "response_body_len": "http.response.body.bytes",
             "username": "user.name"},
    "ssl": {"server_name": "tls.client.server_name", "cipher": "tls.cipher", "curve": "tls.curve",
            "established": "tls.established", "resumed": "tls.resumed", "next_protocol": "tls.next_protocol",
            "subject": "tls.server.subject", "issuer": "tls.server.issuer", "client_subject": "tls.client.subject",
            "client_issuer": "tls.client.issuer", "ja3": "tls.client.ja3", "ja3s": "tls.server.ja3s"},
    "x509": {"certificate.serial": "tls.server.x509.serial_number",
             "certificate.subject": "tls.server.x509.subject.distinguished_name",
             "certificate.issuer": "tls.server.x509.issuer.distinguished_name",
             "certificate.key_alg": "tls.server.x509.public_key_algorithm",
             "certificate.sig_alg": "tls.server.x509.signature_algorithm",
             "certificate.key_length": "tls.server.x509.public_key_size",
             "certificate.version": "tls.server.x509.version_number",
             "san.dns": "tls.server.x509.alternative_names"},
    "files": {"filename": "file.name", "mime_type": "file.mime_type", "total_bytes": "file.size",
              "md5": "file.hash.md5", "sha1": "file.hash.sha1", "sha256": "file.hash.sha256"},
    "notice": {"note": "rule.name", "msg": "message", "src": "source.ip", "dst": "destination.ip",
               "file_mime_type": "file.mime_type"},
    "signatures": {"sig_id": "rule.id", "event_msg": "rule.name", "src_addr": "source.ip",
                   "dst_addr": "destination.ip"},
    "weird": {"name": "event.action"},
    "ntlm": {"username": "user.name", "domainname": "user.domain",
             "server_dns_computer_name": "destination.domain"},
    "rdp": {"cookie": "user.name"},
    "ftp": {"user": "user.name", "command": "event.action"},
    "smtp": {"mailfrom": "email.from.address", "subject": "email.subject", "msg_id": "email.message_id",
             "user_agent": "user_agent.original", "helo": "source.domain"},
    "smb_files": {"action": "event.action", "size": "file.size"},
    "dce_rpc": {"operation": "event.action"},
    "dhcp": {"assigned_addr": "client.ip", "host_name": "client.domain"},
    "kerberos": {"request_type": "event.action"},
    "known_hosts": {"host": "host.ip"},
    "known_services": {"host": "host.ip"},
    "known_certs": {"host": "host.ip"},
    "software": {"host": "host.ip"},
    "syslog": {"facility": "log.syslog.facility.name", "severity": "log.syslog.severity.name"},
    "dpd": {"failure_reason": "error.message"},
    "analyzer": {"failure_reason": "error.message"},
    "reporter": {"message": "message"},
}

_KIND = {"notice": "alert", "signatures": "alert", "stats": "metric", "capture_loss": "metric",
         "weird_stats": "metric", "known_hosts": "state", "known_services": "state", "known_certs": "state",
         "known_devices": "state", "software": "state", "loaded_scripts": "state", "packet_filter": "state"}
_CATEGORY = {"notice": ["network", "intrusion_detection"], "signatures": ["network", "intrusion_detection"],
             "files": ["network", "file"], "http": ["network", "web"], "ssh": ["network", "authentication"],
             "ntlm": ["network", "authentication"], "kerberos": ["network", "authentication"],
             "stats": ["host"], "capture_loss": ["host"], "loaded_scripts": ["host", "configuration"],
             "packet_filter": ["host", "configuration"], "reporter": ["host"], "x509": ["network"]}
_TYPE = {"conn": ["connection", "end"], "conn_long": ["connection"], "notice": ["info"], "signatures": ["info"],
         "weird": ["info"], "files": ["info"], "x509": ["info"], "stats": ["info"], "capture_loss": ["info"],
         "known_hosts": ["info"], "known_services": ["info"], "known_certs": ["info"], "software": ["info"],
         "loaded_scripts": ["info"], "packet_filter": ["info"], "reporter": ["info"]}
_TLS_VERSIONS = {"TLSv10": ("tls", "1.0"), "TLSv11": ("tls", "1.1"), "TLSv12": ("tls", "1.2"),
                 "TLSv13": ("tls", "1.3"), "SSLv2": ("ssl", "2.0"), "SSLv3": ("ssl", "3.0"),
                 "DTLSv10": ("dtls", "1.0"), "DTLSv12": ("dtls", "1.2"), "DTLSv13": ("dtls", "1.3")}
_OBSERVER = {"observer.type": "ids", "observer.vendor": "Zeek", "observer.product": "Zeek"}
_EPOCH_ZERO = "1970-01-01T00:00:00Z"
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")


def _looks_like_ip(value: Any) -> bool:
    return type(value) is str and (_IPV4.fullmatch(value) is not None
                                   or (":" in value and _IPV6.fullmatch(value) is not None))


def _int(value: Any) -> int | None:
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    if type(value) is str and value.isdigit():
        return int(value)
    return None


def _outcome(value: Any) -> str | None:
    if value is True or value == "T" or value == "true":
        return "success"
    if value is False or value == "F" or value == "false":
        return "failure"
    return None


def _conn(fields: dict[str, Any]) -> None:
    out_bytes = _int(fields.get("orig_ip_bytes"))
    in_bytes = _int(fields.get("resp_ip_bytes"))
    if out_bytes is None and in_bytes is None:
        out_bytes = _int(fields.get("orig_bytes"))
        in_bytes = _int(fields.get("resp_bytes"))
    if out_bytes is not None:
        fields["source.bytes"] = out_bytes
    if in_bytes is not None:
        fields["destination.bytes"] = in_bytes
    if out_bytes is not None or in_bytes is not None:
        fields["network.bytes"] = (out_bytes or 0) + (in_bytes or 0)
    out_packets = _int(fields.get("orig_pkts"))
    in_packets = _int(fields.get("resp_pkts"))
    if out_packets is not None:
        fields["source.packets"] = out_packets
    if in_packets is not None:
        fields["destination.packets"] = in_packets
    if out_packets is not None or in_packets is not None:
        fields["network.packets"] = (out_packets or 0) + (in_packets or 0)


def _dns(fields: dict[str, Any]) -> None:
    qtype = fields.get("qtype_name")
    if qtype is not None:
        fields["record_type"] = qtype
    trans_id = fields.get("trans_id")
    if trans_id is not None:
        fields["dns.id"] = str(trans_id)
    answers = fields.get("answers")
    if answers is not None:
        answers = answers if type(answers) is list else [answers]
        fields["answer"] = fields["dns.answers.data"] = answers
        resolved = [answer for answer in answers if _looks_like_ip(answer)]
        if resolved:
            fields["dns.resolved_ip"] = resolved
    fields["dns.type"] = "answer" if "rcode" in fields or answers else "query"
    flags = [flag for flag in ("AA", "TC", "RD", "RA") if fields.get(flag) is True]
    if flags:
        fields["dns.header_flags"] = flags


def _http(fields: dict[str, Any]) -> None:
    status = _int(fields.get("status_code"))
    if status is not None:
        fields["http.response.status_code"] = status
    version = fields.get("version")
    if version is not None:
        version = fields["http.version"] = str(version)
    for original, ecs_name in (("resp_mime_types", "http.response.mime_type"),
                               ("orig_mime_types", "http.request.mime_type")):
        value = fields.get(original)
        if type(value) is list and value:
            fields[ecs_name] = value[0]
        elif type(value) is str and value:
            fields[ecs_name] = value
    http_proxy_fields(fields, fields.get("uri"), fields.get("user_agent"), fields.get("method"),
                      fields.get("host"), status, fields.get("referrer"), version, fields.get("id.orig_h"),
                      fields.get("id.resp_h"), fields.get("destination.port"))
    if "user.name" in fields:
        fields["event.category"] = ["network", "web", "authentication"]


def _ssl(fields: dict[str, Any]) -> None:
    version = _TLS_VERSIONS.get(str(fields.get("version")))
    if version is not None:
        fields["tls.version_protocol"], fields["tls.version"] = version


def _x509(fields: dict[str, Any]) -> None:
    for original, ecs_name in (("certificate.not_valid_before", "tls.server.x509.not_before"),
                               ("certificate.not_valid_after", "tls.server.x509.not_after")):
        moment = zeek_time(fields.get(original))
        if moment is not None:
            fields[ecs_name] = moment
    fingerprint = fields.get("fingerprint")
    if type(fingerprint) is str:
        algorithm = {64: "sha256", 40: "sha1", 32: "md5"}.get(len(fingerprint))
        if algorithm:
            fields[f"tls.server.hash.{algorithm}"] = fingerprint.upper()


def _files(fields: dict[str, Any]) -> None:
    if "file.size" not in fields:
        size = _int(fields.get("seen_bytes"))
        if size is not None:
            fields["file.size"] = size


def _notice(fields: dict[str, Any]) -> None:
    port = to_port(fields.get("p"))
    if port is not None and "destination.port" not in fields:
        fields["destination.port"] = port
    actions = fields.get("actions")
    if actions:
        fields["event.action"] = actions


def _signatures(fields: dict[str, Any]) -> None:
    for original, ecs_name in (("src_port", "source.port"), ("dst_port", "destination.port")):
        port = to_port(fields.get(original))
        if port is not None and ecs_name not in fields:
            fields[ecs_name] = port
    if "rule.id" in fields:
        fields["rule.id"] = str(fields["rule.id"])


def _authentication(fields: dict[str, Any], success_field: str) -> None:
    outcome = _outcome(fields.get(success_field))
    if outcome is not None:
        fields["event.outcome"] = outcome


def _ssh(fields: dict[str, Any]) -> None:
    _authentication(fields, "auth_success")


def _ntlm(fields: dict[str, Any]) -> None:
    _authentication(fields, "success")


def _kerberos(fields: dict[str, Any]) -> None:
    _authentication(fields, "success")
    client = fields.get("client")
    if type(client) is str and client:
        user, _, realm = client.partition("/")
        if user:
            fields["user.name"] = user
        if realm:
            fields["user.domain"] = realm


def _ftp(fields: dict[str, Any]) -> None:
    code = _int(fields.get("reply_code"))
    if code is not None and fields.get("command") in ("PASS", "USER"):
        fields["event.outcome"] = "success" if 200 <= code < 400 else "failure"
        fields["event.category"] = ["network", "authentication"]


def _smtp(fields: dict[str, Any]) -> None:
    recipients = fields.get("rcptto")
    if recipients:
        fields["email.to.address"] = recipients if type(recipients) is list else [recipients]


def _smb_files(fields: dict[str, Any]) -> None:
    name = fields.get("name")
    if type(name) is str and name:
        fields["file.name"] = name.replace("/", "\\").rpartition("\\")[2] or name
        share = fields.get("path")
        fields["file.path"] = share.rstrip("\\") + "\\" + name.lstrip("\\") if type(share) is str else name


def _dhcp(fields: dict[str, Any]) -> None:
    mac = fields.get("mac")
    if type(mac) is str and mac:
        fields["source.mac"] = mac.upper().replace(":", "-")


_HANDLERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "conn": _conn, "dns": _dns, "http": _http, "ssl": _ssl, "x509": _x509, "files": _files, "notice": _notice,
    "signatures": _signatures, "ssh": _ssh, "ntlm": _ntlm, "kerberos": _kerberos, "ftp": _ftp, "smtp": _smtp,
    "smb_files": _smb_files, "dhcp": _dhcp,
}


class _LogInfo:
    """What every event of one log type gets (looked up once per record)."""

    __slots__ = ("categories", "dataset", "handler", "kind", "logsource", "mapping", "types")

    def __init__(self, log_type: str | None) -> None:
        key = log_type or ""
        self.kind = _KIND.get(key, "event")
        self.categories = _CATEGORY.get(key, ["network"])
        self.types = _TYPE.get(key, ["protocol"])
        self.dataset = f"zeek.{log_type}" if log_type else PRODUCT
        self.logsource = _LOGSOURCES.get(key, _UNKNOWN_LOG)
        self.mapping = _LOG_ECS.get(key)
        self.handler = _HANDLERS.get(key)


_INFO: dict[str | None, _LogInfo] = {log: _LogInfo(log) for log in (*KNOWN_LOGS, None)}
_MAX_UNKNOWN_TYPES = 256


def _info(log_type: str | None) -> _LogInfo:
    info = _INFO.get(log_type)
    if info is None:
        info = _LogInfo(log_type)
        if len(_INFO) < len(KNOWN_LOGS) + _MAX_UNKNOWN_TYPES:
            _INFO[log_type] = info
    return info


def _port(fields: dict[str, Any], original: str, ecs_name: str) -> None:
    value = fields.get(original)
    if value is None:
        return
    if type(value) is not int or not 0 <= value <= 65535:
        value = to_port(value)
        if value is None:
            raise Malformed(f"{original} is not a port: {fields[original]!r}")
    fields[ecs_name] = value


def zeek_event(fields: dict[str, Any], log_type: str | None) -> Parsed:
    """The event of one Zeek record (fields flat, Zeek's names and types) of the given log type.

    Raises :class:`Malformed` when ``ts`` or a connection port is not what Zeek writes."""
    info = _info(log_type)
    timestamp = None
    ts = fields.get("ts")
    if ts is not None:
        timestamp = zeek_time(ts)
        if timestamp is None:
            raise Malformed(f"ts is not a time: {ts!r}")
    elif "_write_ts" in fields:
        timestamp = zeek_time(fields["_write_ts"])
        if timestamp == _EPOCH_ZERO:
            timestamp = None
    if "id.orig_p" in fields:
        _port(fields, "id.orig_p", "source.port")
    if "id.resp_p" in fields:
        _port(fields, "id.resp_p", "destination.port")
    proto = fields.get("proto")
    if type(proto) is str and proto:
        fields["network.transport"] = proto.lower()
    duration = fields.get("duration")
    if type(duration) is float or type(duration) is int:
        fields["event.duration"] = round(duration * 1_000_000_000)
    fields.update(_OBSERVER)
    fields["event.kind"] = info.kind
    fields["event.category"] = list(info.categories)
    fields["event.type"] = list(info.types)
    fields["event.module"] = PRODUCT
    fields["event.dataset"] = info.dataset
    if info.mapping is not None:
        apply_ecs(fields, info.mapping)
    if info.handler is not None:
        info.handler(fields)
    return Parsed(fields, info.logsource, timestamp)


def flatten_record(record: dict[str, Any]) -> dict[str, Any]:
    """:func:`~yamori.parsers.generic.flatten_json` with a fast path for records that are flat already (Zeek's
    JSON writer writes ``id.orig_h`` flat, and lists of scalars)."""
    for value in record.values():
        kind = type(value)
        if kind is dict:
            return flatten_json(record)
        if kind is list:
            for item in value:
                if type(item) is dict or type(item) is list:
                    return flatten_json(record)
    return dict(record)


def path_log_type(path: str) -> str:
    """The log type of a ``_path``/``#path`` value: itself, or the known type it is a variant of
    (``conn_red``, ``conn-summary``, ``dns_20261128``)."""
    if path in _KNOWN:
        return path
    stem = _NAME_SUFFIX.sub("", path.split("-", 1)[0])
    if stem in _KNOWN:
        return stem
    base = stem.rsplit("_", 1)[0]
    return base if base in _KNOWN else path


def _log_type(path: Any, fields: Mapping[str, Any], context: ParseContext) -> str | None:
    if type(path) is str and path:
        log_type = path_log_type(path)
        if log_type in _KNOWN:
            return log_type
        return log_type_from_name(context.name) or log_type_from_fields(fields) or log_type
    return log_type_from_name(context.name) or log_type_from_fields(fields)


# -------------------------------------------------------------------------------------------------------------
# JSON
# -------------------------------------------------------------------------------------------------------------


class ZeekJsonParser(RecordParser):
    """Zeek logs written as JSON (Zeek's JSON writer, Brim/Zed and Corelight exports)."""

    name = "zeek"
    family = Family.IDS
    description = "Zeek JSON logs (conn, dns, http, ssl, files, notice, weird, x509, smb, kerberos, ...)"
    logsources = (*_LOGSOURCES.values(), _UNKNOWN_LOG)
    ecs = ECS
    priority = 25

    def accepts(self, record: Mapping[str, Any], context: ParseContext) -> bool:
        if "_path" in record:
            return type(record["_path"]) is str and ("ts" in record or "_write_ts" in record)
        if "ts" not in record:
            return False
        return ("uid" in record or "id.orig_h" in record or type(record.get("id")) is dict or "fuid" in record
                or log_type_from_name(context.name) is not None)

    def parse(self, record: dict[str, Any], context: ParseContext) -> list[Parsed]:
        fields = flatten_record(record)
        return [zeek_event(fields, _log_type(record.get("_path"), fields, context))]


# -------------------------------------------------------------------------------------------------------------
# TSV
# -------------------------------------------------------------------------------------------------------------

_INT_TYPES = frozenset(("count", "int", "port"))
_FLOAT_TYPES = frozenset(("time", "interval", "double"))
_BOOLS = {"T": True, "F": False}


def _bool(text: str) -> bool:
    try:
        return _BOOLS[text]
    except KeyError:
        raise ValueError(text) from None


_HEX_ESCAPE = re.compile(r"\\x([0-9A-Fa-f]{2})")


def _unescape(value: str) -> str:
    """Zeek's ``\\xHH`` escapes of header values (``#separator \\x09``) decoded."""
    return _HEX_ESCAPE.sub(lambda match: chr(int(match[1], 16)), value)


class _Header:
    """The state of one TSV header block."""

    __slots__ = ("converters", "empty", "names", "path", "separator", "set_separator", "types", "unset")

    def __init__(self) -> None:
        self.separator = "\t"
        self.set_separator = ","
        self.empty = "(empty)"
        self.unset = "-"
        self.path: str | None = None
        self.names: list[str] | None = None
        self.types: list[str] | None = None
        self.converters: list[Callable[[str], Any]] = []

    def build(self) -> None:
        names = self.names or []
        types = self.types if self.types is not None and len(self.types) == len(names) else ["string"] * len(names)
        self.converters = [self._converter(kind) for kind in types]

    def _scalar(self, kind: str) -> Callable[[str], Any]:
        if kind in _INT_TYPES:
            return int
        if kind in _FLOAT_TYPES:
            return float
        if kind == "bool":
            return _bool
        separator_escape = f"\\x{ord(self.separator):02x}" if len(self.separator) == 1 else None
        set_escape = f"\\x{ord(self.set_separator):02x}" if len(self.set_separator) == 1 else None
        separator, set_separator = self.separator, self.set_separator

        def string(text: str) -> str:
            if "\\x" in text:
                if separator_escape:
                    text = text.replace(separator_escape, separator)
                if set_escape:
                    text = text.replace(set_escape, set_separator)
            return text

        return string

    def _converter(self, kind: str) -> Callable[[str], Any]:
        empty, unset = self.empty, self.unset
        bracket = kind.find("[")
        if bracket > 0 and kind.endswith("]"):
            inner = self._scalar(kind[bracket + 1:-1])
            set_separator = self.set_separator

            def container(text: str) -> list[Any]:
                if text == empty:
                    return []
                return [None if part == unset else inner(part) for part in text.split(set_separator)]

            return container
        scalar = self._scalar(kind)
        if scalar is int or scalar is float or scalar is _bool:
            return scalar

        def text_value(text: str) -> Any:
            return "" if text == empty else scalar(text)

        return text_value


class ZeekTsvParser(TextParser):
    """Zeek logs in Zeek's own tab-separated format."""

    name = "zeek_tsv"
    family = Family.IDS
    description = "Zeek TSV logs (#separator/#fields/#types headers)"
    logsources = (*_LOGSOURCES.values(), _UNKNOWN_LOG)
    ecs = ECS
    priority = 15  # its sniff is specific (a first line "#separator "): asked before looser text formats
    comment_prefix = None

    def sniff(self, lines: list[str], context: ParseContext) -> bool:
        return bool(lines) and (lines[0].startswith("#separator ") or lines[0].startswith("#fields\t"))

    def parse(self, lines: Iterable[tuple[int, str]], context: ParseContext) -> Iterator[Parsed | BadRecord]:
        header = _Header()
        log_type: str | None = None
        typed = False
        for number, line in lines:
            if line[:1] == "#":
                bad = self._directive(line, header)
                if bad is not None:
                    yield context.bad(number, bad, line)
                if line.startswith(("#fields", "#types", "#path", "#separator", "#set_separator",
                                    "#empty_field", "#unset_field")):
                    header.build()
                    log_type = path_log_type(header.path) if header.path else log_type_from_name(context.name)
                    typed = log_type is not None and log_type in _KNOWN
                continue
            names = header.names
            if names is None:
                yield context.bad(number, "Zeek TSV data line before the #fields header", line)
                continue
            values = line.split(header.separator)
            if len(values) != len(names):
                yield context.bad(number, f"{len(values)} values for {len(names)} #fields", line)
                continue
            unset = header.unset
            fields: dict[str, Any] = {}
            try:
                for name, convert, value in zip(names, header.converters, values, strict=True):
                    if value != unset:
                        fields[name] = convert(value)
            except (ValueError, KeyError):
                yield context.bad(number, self._conversion_error(header, values), line)
                continue
            if not typed:
                log_type = log_type_from_fields(fields) or log_type
                typed = log_type in _KNOWN
            try:
                parsed = zeek_event(fields, log_type)
            except Malformed as error:
                yield context.bad(number, str(error), line)
                continue
            parsed.position = str(number)
            parsed.raw = line
            yield parsed

    @staticmethod
    def _directive(line: str, header: _Header) -> str | None:
        """Apply one header line; a reason when it is broken."""
        if line.startswith("#separator"):
            value = line[len("#separator"):].strip(" ")
            separator = _unescape(value) if value.startswith("\\") else value
            if not separator:
                return "empty #separator"
            header.separator = separator
            return None
        key, _, value = line.partition(header.separator)
        if key == "#set_separator":
            header.set_separator = _unescape(value) or ","
        elif key == "#empty_field":
            header.empty = value
        elif key == "#unset_field":
            header.unset = value
        elif key == "#path":
            header.path = value or None
        elif key == "#fields":
            header.names = value.split(header.separator)
            header.types = None
        elif key == "#types":
            header.types = value.split(header.separator)
            if header.names is not None and len(header.types) != len(header.names):
                header.types = None
                return "#types and #fields differ in length; values kept as strings"
        return None

    @staticmethod
    def _conversion_error(header: _Header, values: list[str]) -> str:
        kinds = header.types or []
        for index, (name, convert, value) in enumerate(zip(header.names or [], header.converters, values,
                                                           strict=False)):
            if value == header.unset:
                continue
            try:
                convert(value)
            except (ValueError, KeyError):
                kind = kinds[index] if index < len(kinds) else "string"
                return f"field {name}: {value[:80]!r} is not a {kind}"
        return "value of the wrong type"


PARSERS = (ZeekJsonParser(), ZeekTsvParser())
