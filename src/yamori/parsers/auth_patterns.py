"""Authentication messages of network services: one table of message patterns, shared by the syslog message
parsers of :mod:`yamori.parsers.service_auth` and the text parsers of :mod:`yamori.parsers.text_generic`.

This module only classifies text; it declares no parser (no ``PARSERS``). :func:`classify` takes the text of
one message (a syslog message, or a log line without its timestamp) and returns an :class:`AuthMatch`: the
service, ``event.action``, ``event.outcome``, ``event.category``/``event.type`` and the fields found
(``user.name``, ``source.ip`` or ``source.domain``, ``source.port``, ``event.reason`` and a few originals).

Services and message forms (``service.name``; ``event.action`` values in brackets):

ECS conventions (the same as :mod:`yamori.parsers.linux_auth`): a failed logon is ``event.category:
[authentication]``, ``event.type: [info]``, ``event.outcome: failure``; a successful one ``event.type: [start]``,
``event.outcome: success``; ``related.ip``/``related.user``/``related.hosts`` are filled; ``source.address`` is
the client address as written.

* ``dovecot``: ``imap-login: Aborted login (auth failed, 1 attempts): user=<u>, method=..., rip=IP, lip=...``
  and its variants (``Disconnected``, ``Login aborted``, ``tried to use disabled plaintext auth``, ``proxy dest
  auth failed``) [dovecot-auth-failed, dovecot-plaintext-auth-refused, dovecot-proxy-auth-failed]; the
  passdb lines ``auth-worker(N): pam(u,IP): pam_authenticate() failed``, ``auth: passwd-file(u,IP): unknown
  user``, ``sql(u,IP,<session>): Password mismatch``, ``ldap(u,IP): invalid credentials`` and Dovecot 2.4's
  ``auth(u,IP,sasl:login)<id>: Info: sql: Password mismatch`` [dovecot-passdb-failed]; ``Login: user=<u>``
  [dovecot-login]; disconnections without a login (``no auth attempts``, TLS handshake not finished): network
  events, not authentication failures [dovecot-disconnected-before-auth]. ``user=``, ``method=``, ``rip=``,
  ``lip=``, ``session=`` are also kept under their own names.
* ``vsftpd``: ``[pid N] [u] FAIL LOGIN: Client "IP"`` / ``OK LOGIN`` [vsftpd-login]; ``OK/FAIL UPLOAD``,
  ``DOWNLOAD``, ``MKDIR``, ``DELETE``... (file events) [vsftpd-upload, ...]; ``CONNECT: Client "IP"``.
* ``proftpd``: ``server (name[IP]): USER u (Login failed): reason``, ``USER u: no such user found from ...``,
  ``SECURITY VIOLATION: root login attempted``, ``Maximum login attempts (3) exceeded``, ``USER u: Login
  successful``, ``FTP session opened/closed``.
* ``pure-ftpd``: ``(?@IP) [WARNING] Authentication failed for user [u]``, ``(u@IP) [INFO] u is now logged in``.
* ``wu-ftpd``: ``failed login from host [IP]``, ``FTP LOGIN FROM host [IP], u``, ``FTP LOGIN REFUSED``.
* ``dropbear``: ``bad password attempt for 'u' from IP:port``, ``login attempt for nonexistent user from
  IP:port``, ``Exit before auth ... Max auth tries reached``, ``Password/Pubkey auth succeeded for 'u' from
  IP:port``, ``Child connection from IP:port``; journald's ``[pid] Mon DD hh:mm:ss`` prefix is skipped.
* ``openvpn``: ``TLS Auth Error: ...`` (user/password check failed), ``VERIFY ERROR: ...`` (client certificate
  refused), ``TLS Error: TLS handshake failed``, ``TLS Error: cannot locate HMAC in incoming packet`` (tls-auth
  key mismatch), ``AUTH_FAILED``; ``[cn] Peer Connection Initiated with IP:port`` (success); connection set-up
  and resets (network events). The ``[common name/]IP:port`` prefix gives ``source.ip``/``source.port``.
* ``phpmyadmin``: ``user denied: root (mysql-denied) from IP``, ``user authenticated: u from IP``.
* ``drupal``: the syslog module's pipe-separated watchdog line ``base_url|timestamp|type|ip|request_uri|
  referer|uid|link|message`` (fields kept as ``drupal.<name>``; ``source.ip``, ``url.original``,
  ``http.request.referrer``, ``user.id``): ``Login attempt failed for U`` / ``from IP`` (failure),
  ``Session opened for U`` (success), ``Session closed for U``. The message is the last field, so pipes
  injected into the request URI cannot forge it.
* ``mysql``: ``Access denied for user 'u'@'host' (using password: YES)`` with any of the error-log prefixes
  (MySQL 5.x ``YYMMDD hh:mm:ss``, 5.6+ ``YYYY-MM-DD hh:mm:ss thread``, 8.0 ``[Note] [MY-010926] [Server]``).
* ``mssql``: ``Logon  Login failed for user 'u'. Reason: ... [CLIENT: IP]`` and ``Login succeeded``.
* ``mongodb``: ``[connN] Failed to authenticate u@db with mechanism M: reason`` (the client address is in
  another line of the same connection: ``connection accepted from IP:port #N`` before, ``end connection
  IP:port`` after; the callers join them by ``mongodb.conn``), ``... authentication failed for u on db from
  client IP:port``, ``Successfully authenticated as principal u on db``.
* ``grafana``: logfmt lines with ``msg="Invalid username or password"`` (``uname``, ``remote_addr``) or
  ``msg="Successful Login"``.
* ``gitlab``: ``Failed Login: username=u ip=IP`` and ``Successful Login: username=u ip=IP ...``.
* ``portsentry``: ``Host: name/IP Port: N TCP Blocked`` (its history file) and ``attackalert: ... from host:
  name/IP to TCP port: N``: a scan detector blocking a host is a network denial (``event.category: network``,
  ``event.type: denied``), not an authentication failure.
* any other program: messages in the usual wording of a failed logon (``authentication failure``,
  ``Login failed``, ``invalid password``, ``Password mismatch``, ``unknown user``, ...) [authentication-failed]
  and of a successful one (``Login successful``, ``authentication succeeded``) [authentication-succeeded], with
  the user and client address when written in a usual form (``user=``, ``for user X``, ``from IP``, ``rhost=``).
  A message in the wording of one of the services above whose structure does not match (``Wrong data: Logon
  Login failed for user ...``: foreign text echoed into a log) is not classified.

PAM module messages (``pam_unix(sshd:auth): ...``, ``(pam_unix) ...``, ``pam_unix: ...``) are the Linux auth
parser's: syslog message parsers use :func:`is_pam_message` to leave them to it. The PAM message body written
without its module prefix (``authentication failure; logname= uid=0 ... rhost=IP user=u``, as vsftpd writes it;
in text of unknown origin also with a ``pam_unix: `` prefix) is read here: ``user.name`` from ``user=``, the
client from ``rhost=`` (the first ``key=`` of each name counts, so a value holding ``rhost=`` cannot forge it),
and ``logname``, ``uid``, ``euid``, ``tty``, ``ruser``, ``rhost``, ``user`` kept under their own names.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

__all__ = [
    "ALL_RULES",
    "SERVICE_RULES",
    "AuthMatch",
    "Rule",
    "address",
    "classify",
    "is_pam_message",
    "kv_pairs",
    "may_be_auth",
    "put_address",
    "related",
    "split_host_port",
]

AUTHENTICATION = ("authentication",)
START = ("start",)
END = ("end",)
INFO = ("info",)
NETWORK = ("network",)

_IPV4 = re.compile(r"(?:\d{1,3}\.){3}\d{1,3}\Z")
_HOSTNAME = re.compile(r"(?=.{1,253}\Z)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?\Z")
_AF_PREFIX = re.compile(r"\[AF_INET6?\]")


@lru_cache(maxsize=8192)
def address(text: str) -> tuple[str | None, str | None]:
    """``(ip, domain)`` of an address as a log writes it: an IP (brackets, ``[AF_INET]``, IPv4-mapped IPv6
    ``::ffff:a.b.c.d`` written as the IPv4 it is) or a host name; ``(None, None)`` for anything else."""
    text = _AF_PREFIX.sub("", text.strip()).strip("[]<>\"'")
    if not text:
        return None, None
    if _IPV4.match(text) or ":" in text:
        try:
            ip = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            return None, None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped), None
        return str(ip), None
    if _HOSTNAME.match(text) and not text.isdigit():
        return None, text.rstrip(".").lower()
    return None, None


def put_address(fields: dict[str, Any], prefix: str, text: str | None, port: str | int | None = None) -> None:
    """Set ``<prefix>.ip`` or ``<prefix>.domain`` (and ``<prefix>.port``, and ``<prefix>.address`` as written)
    from an address as written."""
    if text:
        ip, domain = address(text)
        if ip is not None:
            fields[f"{prefix}.ip"] = ip
        elif domain is not None:
            fields[f"{prefix}.domain"] = domain
        if ip is not None or domain is not None:
            fields[f"{prefix}.address"] = _AF_PREFIX.sub("", text.strip()).strip("[]<>\"'")
    if port is not None and str(port).isdigit() and 0 <= int(port) <= 65535:
        fields[f"{prefix}.port"] = int(port)


def split_host_port(text: str, port_expected: bool = True) -> tuple[str, str | None]:
    """``1.2.3.4:22`` -> (``1.2.3.4``, ``22``); ``[2001:db8::1]:22`` and ``::ffff:1.2.3.4:22`` too; a text
    without a port is returned whole. ``port_expected=False``: a text that is a whole IPv6 address is not
    split (``2001:db8::1:22`` is then the address)."""
    text = _AF_PREFIX.sub("", text.strip().strip("<>"))
    if not port_expected and text.count(":") > 1:
        try:
            ipaddress.IPv6Address(text)
        except ValueError:
            pass
        else:
            return text, None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") and rest[1:].isdigit() else None
    host, colon, port = text.rpartition(":")
    if colon and port.isdigit() and host and (host.count(":") != 1):
        return host, port
    return text, None


def kv_pairs(text: str) -> dict[str, str]:
    """``key=value`` tokens separated by white space (or ``, ``); the first value of each key wins, so a value
    that itself holds ``key=`` (``ruser=rhost=1.2.3.4``) cannot override the real key."""
    pairs: dict[str, str] = {}
    for token in text.replace(", ", " ").split():
        key, sep, value = token.partition("=")
        if sep and key.isidentifier() and key not in pairs:
            pairs[key] = value
    return pairs


_PAM_MODULE = re.compile(r"\bpam_[a-z0-9_]+\([^()]*\):|\(pam_[a-z0-9_]+\)|^pam_[a-z0-9_]+: ")


def is_pam_message(message: str, program: str | None = None) -> bool:
    """True for a PAM module message (``pam_unix(sshd:auth): ...``, ``pam_unix(auth): ...``, ``(pam_unix) ...``,
    ``pam_unix: ...``, program ``vsftpd(pam_unix)``): those belong to the Linux auth parser."""
    return (program is not None and "(pam_" in program) or (
        "pam_" in message and _PAM_MODULE.search(message) is not None)


@dataclass(slots=True)
class AuthMatch:
    """What a rule found in one message."""

    service: str
    action: str
    outcome: str | None
    category: tuple[str, ...]
    types: tuple[str, ...]
    fields: dict[str, Any] = field(default_factory=dict)
    kind: str = "event"

    def apply(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Write the ECS event fields and the fields found into ``fields`` (found fields do not override
        fields already set, such as the syslog envelope's)."""
        for name, value in self.fields.items():
            fields.setdefault(name, value)
        fields["event.kind"] = self.kind
        fields["event.category"] = list(self.category)
        failed_logon = self.outcome == "failure" and "authentication" in self.category and self.types == START
        fields["event.type"] = list(INFO if failed_logon else self.types)
        fields["event.action"] = self.action
        if self.outcome is not None:
            fields["event.outcome"] = self.outcome
        fields.setdefault("service.name", self.service)
        related(fields)
        return fields

    @property
    def is_auth_failure(self) -> bool:
        return self.outcome == "failure" and "authentication" in self.category


def related(fields: dict[str, Any]) -> None:
    """``related.ip``, ``related.user``, ``related.hosts`` from the source, destination and user fields."""
    ips = [fields[name] for name in ("source.ip", "destination.ip") if name in fields]
    if ips:
        fields["related.ip"] = list(dict.fromkeys(ips))
    if "user.name" in fields:
        fields["related.user"] = [fields["user.name"]]
    hosts = [fields[name] for name in ("source.domain", "destination.domain") if name in fields]
    if hosts:
        fields["related.hosts"] = list(dict.fromkeys(hosts))


_SKIP_USER = frozenset({"", "-", "?", "<>", "(null)", "unknown"})

Extra = Callable[[re.Match[str], dict[str, Any]], AuthMatch | bool | None]


class Rule:
    """One message form: a literal ``needle`` that must occur (cheap test first), a regex and what a match means.

    Named groups: ``user`` -> ``user.name``; ``src`` (IP or host) -> ``source.ip``/``source.domain``;
    ``srcport`` -> ``source.port``; ``addr`` (``IP:port``) -> both; ``dst``/``dstport`` likewise for
    ``destination``; ``reason`` -> ``event.reason``; any other group -> ``<service>.<group>``.
    ``extra(match, fields)`` may adjust the fields, return another AuthMatch, or return False to reject.
    """

    __slots__ = ("action", "category", "extra", "kind", "needle", "outcome", "regex", "search", "service",
                 "types")

    def __init__(self, service: str, action: str, pattern: str, *, outcome: str | None = "failure",
                 needle: str | None = None, category: tuple[str, ...] = AUTHENTICATION,
                 types: tuple[str, ...] = START, search: bool = False, flags: int = 0,
                 extra: Extra | None = None, kind: str = "event") -> None:
        self.service = service
        self.action = action
        self.regex = re.compile(pattern, flags)
        self.outcome = outcome
        self.needle = needle
        self.category = category
        self.types = types
        self.search = search
        self.extra = extra
        self.kind = kind

    def apply(self, text: str) -> AuthMatch | None:
        if self.needle is not None and self.needle not in text:
            return None
        match = self.regex.search(text) if self.search else self.regex.match(text)
        if match is None:
            return None
        fields = _group_fields(match, self.service)
        result = AuthMatch(self.service, self.action, self.outcome, self.category, self.types, fields, self.kind)
        if self.extra is not None:
            adjusted = self.extra(match, fields)
            if adjusted is False:
                return None
            if isinstance(adjusted, AuthMatch):
                return adjusted
        return result


def _group_fields(match: re.Match[str], service: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    groups = match.groupdict()
    for name, value in groups.items():
        if value is None:
            continue
        if name == "user":
            if value.strip() not in _SKIP_USER:
                fields["user.name"] = value.strip()
        elif name == "src":
            put_address(fields, "source", value)
        elif name == "srcport":
            put_address(fields, "source", None, value)
        elif name == "addr":
            host, port = split_host_port(value)
            put_address(fields, "source", host, port)
        elif name == "dst":
            put_address(fields, "destination", value)
        elif name == "dstport":
            put_address(fields, "destination", None, value)
        elif name == "reason":
            if value.strip():
                fields["event.reason"] = value.strip()
        elif not name.startswith("_"):
            fields[f"{service}.{name}"] = value
    return fields


def _event(service: str, action: str, outcome: str | None, category: tuple[str, ...], types: tuple[str, ...],
           fields: dict[str, Any], kind: str = "event") -> AuthMatch:
    return AuthMatch(service, action, outcome, category, types, fields, kind)


# ---------------------------------------------------------------------------------------------------- dovecot

_DOVECOT_LOGIN = re.compile(r"(?:dovecot: )?(?P<proto>[a-z0-9]+)-login: (?:Info: )?(?P<text>.*)\Z", re.DOTALL)
_DOVECOT_STATUS = re.compile(
    r"\((?P<status>auth failed, (?P<attempts>\d+) attempts?[^()]*|tried to use (?:disabled|disallowed) "
    r"(?P<mech>[\w-]+) auth|proxy dest auth failed|no auth attempts[^()]*|disconnected before auth was ready"
    r"[^()]*|client didn't finish SASL auth[^()]*|disconnected during TLS handshake)\)"
    r"(?: \([a-z_]+\))?: (?P<kv>.*)\Z", re.DOTALL)
_DOVECOT_KV = re.compile(r"\b(user|method|rip|lip|session|mpid)=(?:<([^<>]*)>|([^,\s]*))")


def _dovecot_kv(text: str, fields: dict[str, Any]) -> None:
    for key, bracketed, plain in _DOVECOT_KV.findall(text):
        value = bracketed if bracketed or not plain else plain
        if key in fields:
            continue
        fields[key] = value
        if key == "user" and value not in _SKIP_USER:
            fields["user.name"] = value
        elif key == "rip":
            put_address(fields, "source", value)
        elif key == "lip":
            put_address(fields, "destination", value)


def _dovecot_login(text: str) -> AuthMatch | None:
    if "-login: " not in text:
        return None
    match = _DOVECOT_LOGIN.match(text)
    if match is None:
        return None
    fields: dict[str, Any] = {"dovecot.protocol": match["proto"]}
    body = match["text"]
    if body.startswith("Login: "):
        _dovecot_kv(body[7:], fields)
        return _event("dovecot", "dovecot-login", "success", AUTHENTICATION, START, fields)
    status = _DOVECOT_STATUS.search(body)
    if status is None:
        return None
    _dovecot_kv(status["kv"], fields)
    reason = status["status"]
    fields["event.reason"] = body[:status.start()].strip().rstrip(":") or reason
    if reason.startswith("auth failed"):
        fields["dovecot.attempts"] = int(status["attempts"])
        return _event("dovecot", "dovecot-auth-failed", "failure", AUTHENTICATION, START, fields)
    if reason.startswith("tried to use"):
        fields["event.reason"] = reason
        return _event("dovecot", "dovecot-plaintext-auth-refused", "failure", AUTHENTICATION, START, fields)
    if reason == "proxy dest auth failed":
        return _event("dovecot", "dovecot-proxy-auth-failed", "failure", AUTHENTICATION, START, fields)
    fields["event.reason"] = reason
    return _event("dovecot", "dovecot-disconnected-before-auth", None, NETWORK, ("connection", "end"), fields)


_DOVECOT_PASSDB_FAILURE = (r"(?P<reason>(?:unknown user|Password mismatch|invalid credentials|"
                           r"pam_authenticate\(\) failed|User not known|Authentication failure).*)\Z")
_DOVECOT_PASSDB = Rule(
    "dovecot", "dovecot-passdb-failed",
    r"(?:dovecot: )?auth(?:-worker)?(?:\([^()]*\))?: (?:Info: )?"
    r"(?:conn unix:auth-worker \([^()]*\): auth-worker<\d+>: )?"
    r"(?P<passdb>[a-z][a-z0-9-]*)\((?P<user>[^,()]*),(?P<src>[^,()]*)(?:,[^()]*)?\): " + _DOVECOT_PASSDB_FAILURE,
    needle="auth", flags=re.DOTALL)
_DOVECOT_PASSDB_24 = Rule(
    "dovecot", "dovecot-passdb-failed",
    r"(?:dovecot: )?auth(?:-worker)?\((?P<user>[^,()]*),(?P<src>[^,()]*)(?:,[^()]*)?\)(?:<[^<>]*>)?: (?:Info: )?"
    r"(?P<passdb>[a-z][a-z0-9-]*): " + _DOVECOT_PASSDB_FAILURE,
    needle="auth", flags=re.DOTALL)


class _FunctionRule(Rule):
    """A rule whose matching is a function (formats a single regex reads badly)."""

    __slots__ = ("function",)

    def __init__(self, service: str, needle: str | None, function: Callable[[str], AuthMatch | None]) -> None:
        super().__init__(service, "", r"", needle=needle)
        self.function = function

    def apply(self, text: str) -> AuthMatch | None:
        if self.needle is not None and self.needle not in text:
            return None
        return self.function(text)


DOVECOT = (_FunctionRule("dovecot", "-login: ", _dovecot_login), _DOVECOT_PASSDB, _DOVECOT_PASSDB_24)

# ----------------------------------------------------------------------------------------------------- vsftpd

_VSFTPD_FILE_TYPES = {"UPLOAD": ("creation",), "DOWNLOAD": ("access",), "MKDIR": ("creation",),
                      "DELETE": ("deletion",), "RMDIR": ("deletion",), "RENAME": ("change",),
                      "CHMOD": ("change",)}


def _vsftpd_status(match: re.Match[str], fields: dict[str, Any]) -> AuthMatch | None:
    verb = match["verb"]
    outcome = "success" if match["status"] == "OK" else "failure"
    fields.pop("vsftpd.status", None)
    fields.pop("vsftpd.verb", None)
    detail = (match["detail"] or "").strip()
    if detail:
        fields["vsftpd.detail"] = detail
    if verb == "LOGIN":
        if detail and outcome == "failure":
            fields["event.reason"] = detail.strip('"')
        return _event("vsftpd", "vsftpd-login", outcome, AUTHENTICATION, START, fields)
    if detail.startswith('"'):
        fields["file.path"] = detail[1:].partition('"')[0]
    return _event("vsftpd", f"vsftpd-{verb.lower()}", outcome, ("file",), _VSFTPD_FILE_TYPES.get(verb, INFO),
                  fields)


VSFTPD = (
    Rule("vsftpd", "vsftpd-login",
         r'(?:\[pid \d+\] )?(?:\[(?P<user>[^\]]*)\] )?(?P<status>OK|FAIL) (?P<verb>[A-Z]+): Client "(?P<src>[^"]*)"'
         r"(?:, (?P<detail>.*))?\Z", needle=' Client "', extra=_vsftpd_status, flags=re.DOTALL),
    Rule("vsftpd", "vsftpd-connect", r'(?:\[pid \d+\] )?CONNECT: Client "(?P<src>[^"]*)"(?:, "(?P<reason>.*)")?\Z',
         needle="CONNECT: ", outcome=None, category=NETWORK, types=("connection", "start"), flags=re.DOTALL),
)

# ---------------------------------------------------------------------------------------------------- proftpd

_PROFTPD_PREFIX = re.compile(r"(?P<server>\S+) \((?P<rhost>[^\[\]()\s]*)\[(?P<src>[^\]\s]+)\]\)(?::| -) (?P<rest>.*)\Z",
                             re.DOTALL)
_PROFTPD_REST = (
    Rule("proftpd", "proftpd-login-failed", r"USER (?P<user>.+?) \(Login failed\):? ?(?P<reason>.*)\Z",
         flags=re.DOTALL),
    Rule("proftpd", "proftpd-no-such-user", r"USER (?P<user>.+?): no such user found from .*\Z", flags=re.DOTALL),
    Rule("proftpd", "proftpd-denied-login", r"SECURITY VIOLATION: (?P<user>\S+) login attempted\.?\s*\Z"),
    Rule("proftpd", "proftpd-max-login-attempts", r"Maximum login attempts \((?P<attempts>\d+)\) exceeded.*\Z",
         flags=re.DOTALL),
    Rule("proftpd", "proftpd-login", r"(?:USER|ANON) (?P<user>.+?): Login successful\.?\s*\Z", outcome="success"),
    Rule("proftpd", "proftpd-session-opened", r"FTP session opened\.?\s*\Z", outcome=None, category=("session",)),
    Rule("proftpd", "proftpd-session-closed", r"FTP session closed\.?\s*\Z", outcome=None, category=("session",),
         types=END),
)


def _proftpd(text: str) -> AuthMatch | None:
    match = _PROFTPD_PREFIX.match(text)
    if match is None:
        return None
    for rule in _PROFTPD_REST:
        found = rule.apply(match["rest"])
        if found is not None:
            put_address(found.fields, "source", match["src"])
            if "source.ip" not in found.fields and match["rhost"]:
                put_address(found.fields, "source", match["rhost"])
            found.fields["proftpd.server"] = match["server"]
            if match["rhost"]:
                found.fields["proftpd.client_name"] = match["rhost"]
            return found
    return None


PROFTPD = (_FunctionRule("proftpd", "]", _proftpd),)

# -------------------------------------------------------------------------------------------------- pure-ftpd

_PUREFTPD = re.compile(r"\((?P<who>[^@()]*)@(?P<src>[^)\s]+)\) \[(?P<level>[A-Z]+)\] (?P<rest>.*)\Z", re.DOTALL)
_PUREFTPD_REST = (
    Rule("pure-ftpd", "pure-ftpd-auth-failed", r"Authentication failed for user \[(?P<user>.*)\]\s*\Z"),
    Rule("pure-ftpd", "pure-ftpd-login", r"(?P<user>\S+) is now logged in\s*\Z", outcome="success"),
    Rule("pure-ftpd", "pure-ftpd-connect", r"New connection from (?P<_from>\S+)\s*\Z", outcome=None,
         category=NETWORK, types=("connection", "start")),
    Rule("pure-ftpd", "pure-ftpd-logout", r"Logout\.?\s*\Z", outcome=None, category=("session",), types=END),
)


def _pureftpd(text: str) -> AuthMatch | None:
    match = _PUREFTPD.match(text)
    if match is None:
        return None
    for rule in _PUREFTPD_REST:
        found = rule.apply(match["rest"])
        if found is not None:
            put_address(found.fields, "source", match["src"])
            if "user.name" not in found.fields and match["who"] not in _SKIP_USER:
                found.fields["user.name"] = match["who"]
            found.fields["log.level"] = match["level"].lower()
            return found
    return None


PUREFTPD = (_FunctionRule("pure-ftpd", ") [", _pureftpd),)

# ---------------------------------------------------------------------------------------------------- wu-ftpd

WUFTPD = (
    Rule("wu-ftpd", "wu-ftpd-login-failed",
         r"(?:failed login|repeated login failures) from (?P<client_name>\S+) \[(?P<src>[^\]\s]+)\]"
         r"(?:, (?P<user>\S+))?",
         needle=" from "),
    Rule("wu-ftpd", "wu-ftpd-login-refused",
         r"FTP LOGIN REFUSED \((?P<reason>[^()]*)\) FROM (?P<client_name>\S+) \[(?P<src>[^\]\s]+)\], (?P<user>\S+)",
         needle="FTP LOGIN REFUSED"),
    Rule("wu-ftpd", "wu-ftpd-login", r"(?:ANONYMOUS )?FTP LOGIN FROM (?P<client_name>\S+) \[(?P<src>[^\]\s]+)\], "
         r"(?P<user>\S+)", needle="FTP LOGIN FROM", outcome="success"),
)

# --------------------------------------------------------------------------------------------------- dropbear

_DROPBEAR_JOURNAL_PREFIX = re.compile(r"\[\d+\] [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ")


def _dropbear_max(match: re.Match[str], fields: dict[str, Any]) -> bool:
    second = fields.pop("dropbear.user2", None)
    if "user.name" not in fields and second and second != "is invalid":
        fields["user.name"] = second
    return True


_DROPBEAR_RULES = (
    Rule("dropbear", "dropbear-bad-password", r"[Bb]ad password attempt for '(?P<user>.*)' from (?P<addr>\S+)\s*\Z"),
    Rule("dropbear", "dropbear-nonexistent-user",
         r"[Ll]ogin attempt for nonexistent user(?: '(?P<user>.*)')? from (?P<addr>\S+)\s*\Z"),
    Rule("dropbear", "dropbear-max-auth-tries",
         r"Exit before auth from <(?P<addr>[^<>]+)>: (?:\(user '(?P<user>.*)', (?P<attempts>\d+) fails\): )?"
         r"Max auth tries reached - user '(?P<user2>.*)'\s*\Z", extra=_dropbear_max),
    Rule("dropbear", "dropbear-max-auth-tries",
         r"Exit before auth \(user '(?P<user>.*)', (?P<attempts>\d+) fails\): Max auth tries reached - "
         r"user '(?P<user2>.*)' from (?P<addr>\S+)\s*\Z", extra=_dropbear_max),
    Rule("dropbear", "dropbear-login", r"(?P<method>Password|Pubkey) auth succeeded for '(?P<user>.*)'.*? from "
         r"(?P<addr>\S+)\s*\Z", outcome="success"),
    Rule("dropbear", "dropbear-connect", r"Child connection from (?P<addr>\S+)\s*\Z", outcome=None,
         category=NETWORK, types=("connection", "start")),
    Rule("dropbear", "dropbear-exit-before-auth", r"Exit before auth(?: from <(?P<addr>[^<>]+)>)?: (?P<reason>.*)\Z",
         outcome=None, category=NETWORK, types=("connection", "end"), flags=re.DOTALL),
    Rule("dropbear", "dropbear-exit", r"Exit \((?P<user>[^()]*)\)(?: from <(?P<addr>[^<>]+)>)?: (?P<reason>.*)\Z",
         outcome=None, category=("session",), types=END, flags=re.DOTALL),
)


def _dropbear(text: str) -> AuthMatch | None:
    if text.startswith("["):
        prefix = _DROPBEAR_JOURNAL_PREFIX.match(text)
        if prefix is not None:
            text = text[prefix.end():]
    for rule in _DROPBEAR_RULES:
        found = rule.apply(text)
        if found is not None:
            return found
    return None


DROPBEAR = (_FunctionRule("dropbear", None, _dropbear),)

# ---------------------------------------------------------------------------------------------------- openvpn

_OPENVPN_PEER = re.compile(r"(?:(?P<cn>[^\s/]+)/)?(?P<addr>(?:\[AF_INET6?\])?[0-9A-Fa-f.:]+:\d+) (?P<rest>.*)\Z",
                           re.DOTALL)
_OPENVPN_USER = re.compile(r"\buser(?:name)? ['\[](?P<user>[^'\]]+)['\]]")
_OPENVPN_RULES = (
    Rule("openvpn", "openvpn-tls-auth-error", r"TLS Auth Error: (?P<reason>.*)\Z", flags=re.DOTALL),
    Rule("openvpn", "openvpn-certificate-verify-failed", r"VERIFY ERROR: (?P<reason>.*)\Z", flags=re.DOTALL),
    Rule("openvpn", "openvpn-tls-handshake-failed", r"TLS Error: (?P<reason>TLS handshake failed)\s*\Z"),
    Rule("openvpn", "openvpn-hmac-failed", r"TLS Error: (?P<reason>cannot locate HMAC in incoming packet|incoming "
         r"packet authentication failed) from (?P<addr>\S+)\s*\Z"),
    Rule("openvpn", "openvpn-auth-failed", r".*\bAUTH_FAILED\b", needle="AUTH_FAILED", flags=re.DOTALL),
    Rule("openvpn", "openvpn-peer-connection-initiated",
         r"(?:\[(?P<user>[^\]]*)\] )?Peer Connection Initiated with (?P<addr>\S+)", outcome="success"),
    Rule("openvpn", "openvpn-connection-established", r"TCP connection established with (?P<addr>\S+)\s*\Z",
         outcome=None, category=NETWORK, types=("connection", "start")),
    Rule("openvpn", "openvpn-client-restarting", r"SIGUSR1\[soft,(?P<reason>[^\]]*)\] received, client-instance "
         r"restarting", outcome=None, category=NETWORK, types=("connection", "end")),
    Rule("openvpn", "openvpn-client-exiting", r"SIGTERM\[soft,(?P<reason>[^\]]*)\] received, client-instance "
         r"exiting", outcome=None, category=NETWORK, types=("connection", "end")),
    Rule("openvpn", "openvpn-bad-packet", r"WARNING: (?P<reason>Bad encapsulated packet length from peer.*)\Z",
         outcome=None, category=NETWORK, types=INFO, flags=re.DOTALL),
)


def _openvpn(text: str, peer_only: bool) -> AuthMatch | None:
    peer = _OPENVPN_PEER.match(text) if text[:1].isalnum() or text[:1] == "[" else None
    rest = peer["rest"] if peer is not None else text
    for rule in _OPENVPN_RULES:
        found = rule.apply(rest)
        if found is not None:
            break
    else:
        if peer is None or peer_only:
            return None
        found = _event("openvpn", "openvpn-peer-message", None, NETWORK, INFO, {})
    if peer is not None:
        host, port = split_host_port(peer["addr"])
        fields = found.fields
        fields.pop("source.ip", None)
        fields.pop("source.domain", None)
        fields.pop("source.port", None)
        put_address(fields, "source", host, port)
        if peer["cn"]:
            fields["openvpn.common_name"] = peer["cn"]
            fields.setdefault("user.name", peer["cn"])
    if "user.name" not in found.fields and found.outcome == "failure":
        user = _OPENVPN_USER.search(rest)
        if user is not None:
            found.fields["user.name"] = user["user"]
    return found


_OPENVPN_WORDS = re.compile(r"TLS|VERIFY ERROR|AUTH_FAILED|Peer Connection|SIGUSR1|SIGTERM|connection established|"
                            r"Bad encapsulated")


def _openvpn_anywhere(text: str) -> AuthMatch | None:
    return _openvpn(text, True) if _OPENVPN_WORDS.search(text) is not None else None


OPENVPN_ALL = (_FunctionRule("openvpn", None, lambda text: _openvpn(text, False)),)
OPENVPN = (_FunctionRule("openvpn", None, _openvpn_anywhere),)

# ------------------------------------------------------------------------------------------------- phpMyAdmin

PHPMYADMIN = (
    Rule("phpmyadmin", "phpmyadmin-login-failed", r"user denied: (?P<user>.*) \((?P<reason>[^()]*)\) from "
         r"(?P<src>\S+)\s*\Z", needle="user denied: "),
    Rule("phpmyadmin", "phpmyadmin-login", r"user (?:authenticated|accepted): (?P<user>.*) from (?P<src>\S+)\s*\Z",
         needle="user ", outcome="success"),
)

# ----------------------------------------------------------------------------------------------------- drupal

_DRUPAL = re.compile(r"(?P<base_url>https?://[^|\s]*)\|(?P<timestamp>\d+)\|(?P<type>[^|]*)\|(?P<ip>[^|]*)\|"
                     r"(?P<middle>.*)\|(?P<uid>\d+)\|(?P<link>[^|]*)\|(?P<message>[^|]*)\Z", re.DOTALL)
_DRUPAL_FAILED = re.compile(r"Login attempt failed (?:for|from) (?P<who>.+?)\.?\s*\Z", re.DOTALL)
_DRUPAL_SESSION = re.compile(r"Session (?P<what>opened|closed) for (?P<user>.+?)\.?\s*\Z", re.DOTALL)


def _drupal(text: str) -> AuthMatch | None:
    match = _DRUPAL.match(text)
    if match is None:
        return None
    fields: dict[str, Any] = {f"drupal.{name}": match[name] for name in
                              ("base_url", "timestamp", "type", "ip", "uid", "link", "message")}
    middle = match["middle"]
    uri, referer = middle, ""
    if middle.count("|") == 1:
        uri, _, referer = middle.partition("|")
    else:
        cut = middle.find("|http")
        if cut >= 0:
            uri, referer = middle[:cut], middle[cut + 1:]
    fields["drupal.request_uri"] = uri
    fields["drupal.referer"] = referer
    put_address(fields, "source", match["ip"])
    if uri:
        fields["url.original"] = uri
    if referer:
        fields["http.request.referrer"] = referer
    if match["uid"] != "0":
        fields["user.id"] = match["uid"]
    message = match["message"]
    failed = _DRUPAL_FAILED.match(message)
    if failed is not None:
        who = failed["who"]
        ip, _ = address(who) if who[:1].isdigit() or ":" in who else (None, None)
        if ip is None:
            fields["user.name"] = who
        return _event("drupal", "drupal-login-failed", "failure", AUTHENTICATION, START, fields)
    session = _DRUPAL_SESSION.match(message)
    if session is not None:
        fields["user.name"] = session["user"]
        if session["what"] == "opened":
            return _event("drupal", "drupal-login", "success", AUTHENTICATION, START, fields)
        return _event("drupal", "drupal-logout", None, ("session",), END, fields)
    return _event("drupal", f"drupal-{match['type'] or 'message'}", None, ("web",), INFO, fields)


DRUPAL = (_FunctionRule("drupal", "|", _drupal),)

# ------------------------------------------------------------------------------------------------------ mysql

_MYSQL_PREFIX = (r"(?:(?:\d{6}|\d{4}-\d\d-\d\d)[ T]+\d{1,2}:\d\d:\d\d(?:\.\d+)?Z? +)?(?:\d+ +)?"
                 r"\[(?:Warning|Note|Error|ERROR|Info|System)\](?: \[MY-\d+\])?(?: \[\w+\])? ")
MYSQL = (
    Rule("mysql", "mysql-access-denied",
         _MYSQL_PREFIX + r"Access denied for user '(?P<user>.*)'@'(?P<src>[^']*)'"
         r"(?: \(using password: (?P<using_password>YES|NO)\))?\s*\Z", needle="Access denied for user '"),
)

# ------------------------------------------------------------------------------------------------------ mssql

_MSSQL_PREFIX = r"(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ +)?Logon\s+"
MSSQL = (
    Rule("mssql", "mssql-login-failed",
         _MSSQL_PREFIX + r"Login failed for user '(?P<user>.*)'\.\s*(?:Reason: (?P<reason>.*?))?\s*"
         r"\[CLIENT: (?P<src>[^\]]*)\]\s*\Z", needle="Login failed for user '", flags=re.DOTALL),
    Rule("mssql", "mssql-login",
         _MSSQL_PREFIX + r"Login succeeded for user '(?P<user>.*)'\.\s*(?:Connection made using (?P<method>.*?) "
         r"authentication\.)?\s*\[CLIENT: (?P<src>[^\]]*)\]\s*\Z", needle="Login succeeded for user '",
         outcome="success", flags=re.DOTALL),
)

# ---------------------------------------------------------------------------------------------------- mongodb

_MONGO_PREFIX = r"(?:\d{4}-\d\d-\d\dT\S+ +)?(?:[FEWIDS]\d? +[A-Z_-]+ +)?"
MONGODB = (
    Rule("mongodb", "mongodb-auth-failed",
         _MONGO_PREFIX + r"\[conn(?P<conn>\d+)\] +Failed to authenticate (?P<user>[^@\s]*)@(?P<database>\S+) "
         r"(?:from client (?P<addr>\S+) )?with mechanism (?P<mechanism>\S+): (?P<reason>.*)\Z",
         needle="Failed to authenticate", flags=re.DOTALL),
    Rule("mongodb", "mongodb-auth-failed",
         _MONGO_PREFIX + r"\[conn(?P<conn>\d+)\] +(?P<mechanism>\S+) authentication failed for (?P<user>\S+) on "
         r"(?P<database>\S+) from client (?P<addr>\S+) ; (?P<reason>.*)\Z", needle="authentication failed for",
         flags=re.DOTALL),
    Rule("mongodb", "mongodb-login",
         _MONGO_PREFIX + r"\[conn(?P<conn>\d+)\] +Successfully authenticated as principal (?P<user>\S+) on "
         r"(?P<database>\S+)(?: from client (?P<addr>\S+))?", needle="Successfully authenticated",
         outcome="success"),
    Rule("mongodb", "mongodb-connection-end",
         _MONGO_PREFIX + r"\[conn(?P<conn>\d+)\] +end connection (?P<addr>\S+)", needle="end connection",
         outcome=None, category=NETWORK, types=("connection", "end")),
    Rule("mongodb", "mongodb-connection-accepted",
         _MONGO_PREFIX + r"\[(?:initandlisten|listener)\] +connection accepted from (?P<addr>\S+) #(?P<conn>\d+)",
         needle="connection accepted", outcome=None, category=NETWORK, types=("connection", "start")),
)

# ---------------------------------------------------------------------------------------------------- grafana

_LOGFMT = re.compile(r'([A-Za-z_][\w.@-]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)')


def logfmt(text: str) -> dict[str, str]:
    """``key=value key2="quoted value"`` pairs (first value of a key wins; quotes and escapes removed)."""
    pairs: dict[str, str] = {}
    for key, value in _LOGFMT.findall(text):
        if key in pairs:
            continue
        if value.startswith('"') and len(value) >= 2:
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        pairs[key] = value
    return pairs


def _grafana(text: str) -> AuthMatch | None:
    pairs = logfmt(text)
    message = pairs.get("msg", "")
    if message.lower() == "invalid username or password":
        outcome, action = "failure", "grafana-login-failed"
    elif message.lower() in ("successful login", "login successful"):
        outcome, action = "success", "grafana-login"
    else:
        return None
    fields: dict[str, Any] = {}
    user = pairs.get("uname") or pairs.get("User") or pairs.get("user")
    if user and user not in _SKIP_USER:
        fields["user.name"] = user
    put_address(fields, "source", pairs.get("remote_addr"))
    if pairs.get("error"):
        fields["event.reason"] = pairs["error"]
    return _event("grafana", action, outcome, AUTHENTICATION, START, fields)


GRAFANA = (_FunctionRule("grafana", "msg=", _grafana),)

# ----------------------------------------------------------------------------------------------------- gitlab

GITLAB = (
    Rule("gitlab", "gitlab-login-failed", r"Failed Login: username=(?P<user>.*) ip=(?P<src>\S+)\s*\Z",
         needle="Failed Login: "),
    Rule("gitlab", "gitlab-login", r"Successful Login: username=(?P<user>.*?) ip=(?P<src>\S+)(?: .*)?\Z",
         needle="Successful Login: ", outcome="success", flags=re.DOTALL),
)

# ------------------------------------------------------------------------------------------------- portsentry

def _portsentry(match: re.Match[str], fields: dict[str, Any]) -> bool:
    transport = fields.pop("portsentry.transport", None)
    if transport:
        fields["network.transport"] = transport.lower()
    return True


PORTSENTRY = (
    Rule("portsentry", "portsentry-blocked",
         r"Host: (?P<client_name>[^/\s]*)/(?P<src>\S+) Port: (?P<dstport>\d+) (?P<transport>TCP|UDP) Blocked\s*\Z",
         needle="Blocked", outcome=None, category=NETWORK, types=("denied",), kind="alert", extra=_portsentry),
    Rule("portsentry", "portsentry-attack-alert",
         r"attackalert: (?P<reason>.*?) from host: (?P<client_name>[^/\s]*)/(?P<src>\S+) to "
         r"(?P<transport>TCP|UDP) port: (?P<dstport>\d+)", needle="attackalert", outcome=None,
         category=("intrusion_detection", "network"), types=INFO, kind="alert", extra=_portsentry),
    Rule("portsentry", "portsentry-blocked",
         r"attackalert: Host:? (?P<src>\S+) (?:has been blocked|is already blocked)", needle="attackalert",
         outcome=None, category=NETWORK, types=("denied",), kind="alert"),
)


# ---------------------------------------------------------------------------------------- PAM body, generic

def _pam_body(match: re.Match[str], fields: dict[str, Any]) -> bool:
    pairs = kv_pairs(match["kv"])
    for key in ("logname", "uid", "euid", "tty", "ruser", "rhost", "user"):
        if key in pairs:
            fields[key] = pairs[key]
    if pairs.get("user", "") not in _SKIP_USER:
        fields["user.name"] = pairs["user"]
    put_address(fields, "source", pairs.get("rhost"))
    return True


PAM_BODY = (
    Rule("", "authentication-failed", r"(?:pam_[a-z0-9_]+: )?authentication failure; (?P<kv>logname=.*)\Z",
         needle="authentication failure; ", extra=_pam_body, flags=re.DOTALL),
)

_GENERIC_FAILURE = re.compile(  # over lower-cased text
    r"\b(?:authentication (?:failure|failed|error)|auth(?:entication)? failed|"
    r"log(?:in|on) (?:failed|failure|incorrect|denied)|failed (?:log(?:in|on)|password|authentication)|"
    r"(?:invalid|bad|wrong|incorrect) (?:password|credentials|passphrase)|"
    r"password (?:mismatch|incorrect|check failed|verification failed)|"
    r"(?:unknown|invalid|illegal|nonexistent) user\b|no such user|user not found|"
    r"too many (?:authentication|login) (?:failures|attempts))")
_GENERIC_SUCCESS = re.compile(  # over lower-cased text
    r"\b(?:login successful|successful(?:ly)? logged in|successful log(?:in|on)|"
    r"authentication (?:succeeded|successful))\b")
_GENERIC_USER = (
    re.compile(r"\buser(?:name)?\s?[=:]\s*['\"<\[]?(?P<user>[^'\">\]\s,;()]+)", re.IGNORECASE),
    re.compile(r"\bfor (?:invalid |illegal |unknown )?user ['\"<\[]?(?P<user>[^'\">\]\s,;()]+)", re.IGNORECASE),
    re.compile(r"\bfor ['\"](?P<user>[^'\"]+)['\"]"),
)
_GENERIC_ADDRESS = re.compile(
    r"(?:\bfrom|\brhost=|\brip=|\bclient[:=]?|\bip[:=]|\bremote_addr=|\baddr(?:ess)?[:=]|\bsrc=|\bhost[:=])"
    r"\s*\[?(?:\[AF_INET6?\])?(?P<addr>[0-9A-Fa-f:.]*[0-9A-Fa-f])", re.IGNORECASE)
_ANY_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")


_EXCLUSIVE = re.compile("|".join(re.escape(needle) for needle in (
    "Access denied for user '", "Login failed for user '", "Login succeeded for user '", "Failed Login: ",
    "Successful Login: ", "user denied: ", ": no such user found from")))
"""Wording of a service precise enough that a text holding it but not matching the service's rule (foreign
input echoed into a log line) is left unclassified rather than read by the generic rule."""


def _generic(text: str) -> AuthMatch | None:
    if _EXCLUSIVE.search(text) is not None:
        return None
    lowered = text.lower()
    failure = _GENERIC_FAILURE.search(lowered)
    if failure is not None:
        outcome, action = "failure", "authentication-failed"
    else:
        success = _GENERIC_SUCCESS.search(lowered)
        if success is None:
            return None
        outcome, action = "success", "authentication-succeeded"
    fields: dict[str, Any] = {}
    for pattern in _GENERIC_USER:
        user = pattern.search(text)
        if user is not None and user["user"] not in _SKIP_USER:
            fields["user.name"] = user["user"]
            break
    for candidate in _GENERIC_ADDRESS.finditer(text):
        host, port = split_host_port(candidate["addr"], port_expected=False)
        ip, _ = address(host)
        if ip is not None:
            put_address(fields, "source", ip, port)
            break
    else:
        found = set(_ANY_IPV4.findall(text))
        if len(found) == 1:
            put_address(fields, "source", found.pop())
    return _event("", action, outcome, AUTHENTICATION, START, fields)


GENERIC = (_FunctionRule("", None, _generic),)

# ---------------------------------------------------------------------------------------------------- tables

SERVICE_RULES: dict[str, tuple[Rule, ...]] = {
    "dovecot": DOVECOT, "vsftpd": VSFTPD, "proftpd": PROFTPD, "pure-ftpd": PUREFTPD, "wu-ftpd": WUFTPD,
    "dropbear": DROPBEAR, "openvpn": OPENVPN_ALL, "phpmyadmin": PHPMYADMIN, "drupal": DRUPAL, "mysql": MYSQL,
    "mssql": MSSQL, "mongodb": MONGODB, "grafana": GRAFANA, "gitlab": GITLAB, "portsentry": PORTSENTRY,
    "pam": PAM_BODY,
}
"""The rules of each service (a message parser that knows the program asks only those, then :data:`GENERIC`)."""

SPECIFIC_RULES: tuple[Rule, ...] = (
    *DOVECOT, *VSFTPD, *PROFTPD, *PUREFTPD, *WUFTPD, *OPENVPN, *PHPMYADMIN, *DRUPAL, *MYSQL, *MSSQL, *MONGODB,
    *GRAFANA, *GITLAB, *PORTSENTRY, *PAM_BODY)
"""Every service's rules for text of unknown origin. Dropbear's forms need the program (their wording is too
general; the generic rule reads its failures), and an OpenVPN peer-prefixed message (``IP:port text``) is
claimed only in one of the forms listed above."""

ALL_RULES: tuple[Rule, ...] = (*SPECIFIC_RULES, *GENERIC)

_TRIGGER = re.compile(
    r"fail|denied|invalid|incorrect|wrong|mismatch|unknown user|no such user|not found|nonexistent|"
    r"authenticat|log(?:in|on)|logged in|refused|verif|blocked|attackalert|hmac|peer connection|"
    r"session opened|succe|connection accepted|end connection")


def may_be_auth(text: str) -> bool:
    """False for a text without any word every authentication message of :data:`ALL_RULES` holds (nor the
    MongoDB connection lines): such text is not read further (the cheap test that keeps the generic message
    parser fast; a lower-cased text and a case-sensitive regex are ten times faster than ``re.IGNORECASE``)."""
    return _TRIGGER.search(text.lower()) is not None


def classify(text: str, rules: Iterable[Rule] = ALL_RULES) -> AuthMatch | None:
    """The first rule that matches ``text``."""
    for rule in rules:
        found = rule.apply(text)
        if found is not None:
            return found
    return None
