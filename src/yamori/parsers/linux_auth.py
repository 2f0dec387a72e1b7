"""Linux authentication logs: ``/var/log/auth.log`` (Debian, Ubuntu), ``/var/log/secure`` (RHEL, Fedora, SUSE).

Message parsers for the syslog framework (:mod:`yamori.parsers.syslog` reads the envelope, RFC 3164, RFC 5424 or
rsyslog's RFC 3339 form; :mod:`yamori.parsers.journald` and :mod:`yamori.parsers.journal_short` hand them the
messages of the journal), one per program family:

* ``linux_sshd`` (programs ``sshd``, ``sshd-session``, ``sshd-auth``): ``Accepted``/``Failed``/``Postponed``/
  ``Partial <method> for [invalid user] U from H port P ssh2[: RSA SHA256:...]``; ``Invalid user U from H
  [port P]``; ``User U from H not allowed because ...``; ``ROOT LOGIN REFUSED FROM H``; ``error: PAM:
  Authentication failure for [illegal user] U from H``; ``maximum authentication attempts exceeded``;
  ``Disconnecting[: | invalid user ...] Too many authentication failures``; ``Connection closed/reset by
  [authenticating|invalid user U] H [port P] [preauth]``; ``Disconnected from [authenticating|invalid] user U H
  port P``; ``Received disconnect from H [port P]:CODE: reason``; ``Connection from H port P on ...``;
  ``Did not receive identification string``; ``Bad protocol version identification``;
  ``kex_exchange_identification``; ``banner exchange``; ``Unable to negotiate``; ``ssh_dispatch_run_fatal``;
  ``Timeout before authentication``; ``refused connect from`` (TCP wrappers); ``Starting session``/``Close
  session``; PAM lines (below); Solaris' ``[ID 800047 auth.info]`` prefix. Every other sshd line is still an
  sshd event (message kept) so keyword rules of ``service: sshd`` see it.
* ``linux_sudo``: ``U : [error ; ]TTY=... ; PWD=... ; USER=... [; GROUP=...] [; ENV=...] ; COMMAND=...``
  (errors: ``3 incorrect password attempts``, ``user NOT in sudoers``, ``command not allowed``, ...), PAM.
* ``linux_su``: ``(to T) U on TTY``, ``FAILED SU (to T) U on TTY``, ``Successful su for T by U``, ``FAILED su
  for T by U``, ``+ TTY U:T`` / ``- TTY U:T``, PAM.
* ``linux_login``: ``LOGIN ON tty BY U [FROM H]``, ``ROOT LOGIN ON tty``, ``FAILED LOGIN (N) on tty [FROM H]
  FOR U, reason``, ``TOO MANY LOGIN TRIES``, PAM.
* ``linux_logind`` (``systemd-logind``): ``New session N of user U.``, ``Removed session N.``, ``Session N
  logged out.``
* ``linux_accounts`` (``useradd``, ``userdel``, ``usermod``, ``groupadd``, ``groupdel``, ``groupmod``,
  ``gpasswd``, ``passwd``, ``chpasswd``, ``chage``, ``chsh``, ``chfn``, ``newusers``): new user/group, delete
  user/group, add to/remove from group, password/shell/home/name changes, account locks.
* ``linux_pkexec``: ``U: Executing command [USER=T] [TTY=...] [CWD=...] [COMMAND=...]`` and its errors.
* ``linux_cron`` (``cron``, ``crond``, ``crontab``, ``anacron``): ``(U) CMD (command)``, crontab's ``(U) REPLACE
  (U)``, ``DELETE``, ``LIST``, ``BEGIN EDIT``..., PAM. Logsource ``product: linux, service: cron`` (SigmaHQ's
  cron rule) and ``syslog`` (where cron writes); its PAM lines ``service: auth`` and ``cron``.
* ``linux_pam`` (any program, by message): ``pam_MODULE(SERVICE:TYPE): ...`` (``authentication failure;
  logname= uid= euid= tty= ruser= rhost= [user=]``, ``session opened for user U[(uid=N)] by [V](uid=N)``,
  ``session closed for user U``, ``check pass; user unknown``, ``password changed for U``, ``auth could not
  identify password for [U]``, pam_faillock, pam_tally/pam_tally2, pam_succeed_if), the older
  ``(pam_unix) authentication failure; ...``, ``pam_unix: ...``, ``pam_unix(auth): ...`` and
  ``PROG(pam_unix)[pid]: ...`` forms, and sshd lines written without a program (``[sshd]: ...``).
* ``linux_authpriv`` (last resort, by message): any other line of the ``auth``/``authpriv`` facility, or of a
  file named ``auth.log*``/``secure*``, as an event of ``service: auth`` without further parsing.

Fields (original names, values as written): the envelope's (``timestamp``, ``host``, ``program``, ``pid``,
``message``, ...; see :func:`yamori.parsers.syslog.syslog_fields`), and per message ``user`` (the account the
line is about), ``invalid_user`` (true when sshd says the account does not exist), ``source_ip`` (the peer when
an IP address) or ``source_host`` (when a name), ``source_port``, ``auth_method`` (``password``,
``publickey``, ``keyboard-interactive/pam``, ``gssapi-with-mic``, ``hostbased``, ``none``, ...),
``ssh_protocol``, ``key_type``, ``key_fingerprint``, ``auth_info`` (the rest after ``ssh2:``), ``preauth``,
``disconnect_code``, ``reason``, ``attempts``, ``session_id``; sudo: ``TTY``, ``PWD``, ``USER``, ``GROUP``,
``ENV``, ``COMMAND`` (sudo's own names, which SigmaHQ's sudo rules use) and ``sudo_error``; su/login:
``target_user``, ``tty``; PAM: ``pam_module``, ``pam_service``, ``pam_type``, ``logname``, ``uid``,
``euid``, ``tty``, ``ruser``, ``rhost``, ``by_user``, ``by_uid``; accounts: ``uid``, ``gid``, ``home``,
``shell``, ``group``, ``from``.

ECS: ``event.kind``, ``event.category`` (``authentication``, ``session``, ``iam``, ``process`` for sudo and
pkexec commands, ``network`` for sshd connection-level lines), ``event.type`` (``start``, ``end``, ``info``,
``denied``, ``connection``; IAM: ``user``/``group`` with ``creation``/``deletion``/``change``), ``event.action``
(``ssh_login``, ``ssh_invalid_user``, ``sudo_command``, ``su``, ``user_created``, ``pam_authentication_failure``,
...), ``event.outcome`` (``success``/``failure``/``unknown``), ``user.name``, ``user.id``,
``user.effective.name`` (the sudo/su/pkexec target), ``group.name``, ``group.id``, ``source.ip``/
``source.port`` (only for an IP address; ``source.domain`` for a host name, ``source.address`` as written),
``process.command_line``/``process.working_directory`` (sudo, pkexec), ``related.user``, ``related.ip``,
``related.hosts``. An authentication failure is ``event.category`` containing ``authentication`` with
``event.outcome: failure``: one rejected attempt (``Failed ...``, ``Invalid user``, a PAM failure) or one refusal
(``not allowed``, ``ROOT LOGIN REFUSED``, too many failures); a client leaving in the middle of authenticating
(``Connection closed by authenticating user``) and sshd's echo ``input_userauth_request: invalid user`` are
``authentication`` with outcome ``unknown``, so that attempts are not counted twice.

Logsources: ``product: linux, service: auth`` for every line, plus ``service: sshd`` for sshd's and ``service:
sudo`` for sudo's (SigmaHQ's ``lnx_sudo_*`` rules read ``USER``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, ClassVar

from yamori.events import LogSource
from yamori.parsers.base import Envelope, Family, MessageParser, ParseContext, Parsed
from yamori.parsers.syslog import syslog_fields

__all__ = [
    "AUTH",
    "AUTH_SSHD",
    "AUTH_SUDO",
    "CRON",
    "AccountsParser",
    "AuthPrivParser",
    "CronParser",
    "LoginParser",
    "LogindParser",
    "PamParser",
    "PkexecParser",
    "SshdParser",
    "SuParser",
    "SudoParser",
    "parse_sshd_message",
]

AUTH = LogSource(product=("linux",), service=("auth",))
AUTH_SSHD = LogSource(product=("linux",), service=("auth", "sshd"))
AUTH_SUDO = LogSource(product=("linux",), service=("auth", "sudo"))

Fields = dict[str, Any]

# --- addresses -----------------------------------------------------------------------------------------------

_IPV4_SHAPE = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_IPV6_SHAPE = re.compile(r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(?:%\w+)?")
_HOST_SHAPE = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?")


@lru_cache(maxsize=4096)
def _address(value: str) -> tuple[str | None, str | None]:
    """(IP address in canonical form, None) or (None, host name) or (None, None) for a peer as written."""
    if _IPV4_SHAPE.fullmatch(value) or _IPV6_SHAPE.fullmatch(value):
        try:
            address = ipaddress.ip_address(value.split("%", 1)[0])
        except ValueError:
            return None, None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            return str(address.ipv4_mapped), None
        return str(address), None
    if _HOST_SHAPE.fullmatch(value) and any(c.isalpha() for c in value):
        return None, value.rstrip(".").lower()
    return None, None


def _add(fields: Fields, key: str, value: Any) -> None:
    """Append to a ``related.*`` list without duplicates."""
    if value is None or value == "":
        return
    values = fields.get(key)
    if values is None:
        fields[key] = [value]
    elif value not in values:
        values.append(value)


def _source(fields: Fields, peer: str | None, port: str | None = None, original: bool = True) -> None:
    """The peer of a line: ``source_ip``/``source_host``/``source_port`` (when ``original``), ``source.*`` and
    ``related.*`` (ECS; ``source.ip``/``source.port`` only for an IP address, ``source.domain`` for a name)."""
    if not peer:
        return
    ip, host = _address(peer)
    if original:
        fields["source_ip" if ip is not None or host is None else "source_host"] = peer
        if port:
            fields["source_port"] = port
    fields.setdefault("source.address", peer)
    if ip is not None:
        fields.setdefault("source.ip", ip)
        _add(fields, "related.ip", ip)
        if port and port.isdigit():
            fields.setdefault("source.port", int(port))
    elif host is not None:
        fields.setdefault("source.domain", host)
        _add(fields, "related.hosts", host)


def _user(fields: Fields, name: str | None, original: str = "user") -> None:
    if name is None:
        return
    fields[original] = name
    if name and original == "user":
        fields.setdefault("user.name", name)
    _add(fields, "related.user", name)


def _ecs(fields: Fields, category: tuple[str, ...], kind: tuple[str, ...], action: str,
         outcome: str | None = None) -> None:
    fields["event.category"] = list(category)
    fields["event.type"] = list(kind)
    fields["event.action"] = action
    if outcome is not None:
        fields["event.outcome"] = outcome


def _base(envelope: Envelope, message: str) -> Fields:
    fields = syslog_fields(envelope, message)
    fields["event.kind"] = "event"
    return fields


_AUTH_FAILURE = (("authentication",), ("info",))
_AUTH_SUCCESS = (("authentication", "session"), ("start",))
_NET_FAILURE = (("network",), ("connection",))
_AUTH_ABANDONED = (("authentication",), ("end",))
"""The client left while authenticating: the failed attempts, if any, have their own lines."""

# --- PAM -----------------------------------------------------------------------------------------------------

_PAM_PREFIX = re.compile(
    r"(?:(?P<module>pam_\w+)(?:\((?P<service>[^:()\s]*)(?::(?P<type>\w+))?\))?|\((?P<module2>pam_\w+)\)):?\s*")
_PAM_KV = re.compile(
    r"logname=(?P<logname>\S*) uid=(?P<uid>\d*) euid=(?P<euid>\d*) tty=(?P<tty>\S*) ruser=(?P<ruser>.*?) "
    r"rhost=(?P<rhost>\S*)(?:\s+user=(?P<user>.*?))?\s*(?P<preauth>\[preauth\])?$")
_PAM_SESSION = re.compile(
    r"session (?P<what>opened|closed) for user (?P<user>[^\s(]+)(?:\(uid=(?P<uid>\d+)\))?"
    r"(?: by (?P<by>[^\s(]*)(?:\(uid=(?P<by_uid>\d+)\))?)?\s*$")
_PAM_PASSWORD_CHANGED = re.compile(r"password changed for (?P<user>\S+)")
_PAM_COULD_NOT_IDENTIFY = re.compile(r"auth could not identify password for \[(?P<user>[^\]]*)\]")
_PAM_FAILLOCK = re.compile(r"Consecutive login failures for user (?P<user>\S+) account temporarily locked")
_PAM_TALLY = re.compile(r"user (?P<user>\S+) \((?P<uid>\d+)\) tally (?P<tally>\d+), deny (?P<deny>\d+)")
_PAM_SUCCEED_IF = re.compile(r'requirement "(?P<requirement>[^"]*)" not met by user "(?P<user>[^"]*)"')
_PAM_MORE_FAILURES = re.compile(r"PAM (?P<count>\d+) more authentication failures?;\s*(?P<kv>.*)$")
_MAX_PAM_KV = 1024
"""PAM's ``logname= ... user=`` text is short; longer text is not read (its regex is quadratic in the worst case)."""
_MAX_MESSAGE = 8192
"""Messages longer than this are kept whole without being parsed in detail (no log line of these programs is)."""
_PAM_TYPES = frozenset({"auth", "account", "session", "password", "chauthtok"})
_PAM_PROGRAM = re.compile(r"(?P<service>[^()]*)\((?P<module>pam_\w+)\)")


def _pam_kv(fields: Fields, text: str) -> bool:
    if len(text) > _MAX_PAM_KV:
        return False
    match = _PAM_KV.match(text)
    if match is None:
        return False
    for key in ("logname", "uid", "euid", "tty", "ruser", "rhost"):
        fields[key] = match[key]
    if match["user"] is not None:
        _user(fields, match["user"])
    elif match["ruser"]:
        _add(fields, "related.user", match["ruser"])
    if match["logname"]:
        _add(fields, "related.user", match["logname"])
    if match["preauth"]:
        fields["preauth"] = True
    if match["rhost"]:
        _source(fields, match["rhost"], original=False)
    return True


def parse_pam(message: str, fields: Fields, program: str | None) -> bool:
    """Fill ``fields`` from a PAM message (``pam_unix(sshd:auth): ...``); False when it is not one."""
    if len(message) > _MAX_MESSAGE:
        return False
    module = service = kind = None
    rest = message
    match = _PAM_PREFIX.match(message)
    if match is not None:
        module = match["module"] or match["module2"]
        service, kind = match["service"], match["type"]
        if kind is None and service in _PAM_TYPES:  # pam_unix(auth): the type without a service
            service, kind = None, service
        rest = message[match.end():]
    elif program and "(pam_" in program:
        program_match = _PAM_PROGRAM.fullmatch(program)
        if program_match is None:
            return False
        module, service = program_match["module"], program_match["service"] or None
    elif message.startswith("PAM "):
        more = _PAM_MORE_FAILURES.match(message)
        if more is None:
            return False
        fields["pam_failures"] = more["count"]
        _pam_kv(fields, more["kv"])
        _ecs(fields, *_AUTH_FAILURE, "pam_authentication_failure", "failure")
        return True
    else:
        return False
    fields["pam_module"] = module
    if service:
        fields["pam_service"] = service
    if kind:
        fields["pam_type"] = kind
    if rest.startswith("authentication failure"):
        _pam_kv(fields, rest.partition(";")[2].strip())
        _ecs(fields, *_AUTH_FAILURE, "pam_authentication_failure", "failure")
    elif rest.startswith("session "):
        session = _PAM_SESSION.match(rest)
        if session is None:
            _ecs(fields, ("session",), ("info",), "pam_session")
            return True
        _user(fields, session["user"])
        if session["uid"] is not None:
            fields["uid"] = session["uid"]
            fields["user.id"] = session["uid"]
        if session["by"] is not None:
            fields["by_user"] = session["by"]
            _add(fields, "related.user", session["by"])
        if session["by_uid"] is not None:
            fields["by_uid"] = session["by_uid"]
        opened = session["what"] == "opened"
        _ecs(fields, ("session",), ("start",) if opened else ("end",),
             "session_opened" if opened else "session_closed", "success")
    elif rest.startswith("check pass; user unknown"):
        fields["invalid_user"] = True
        _ecs(fields, *_AUTH_FAILURE, "pam_user_unknown", "failure")
    elif rest.startswith("password changed for"):
        changed = _PAM_PASSWORD_CHANGED.match(rest)
        if changed is not None:
            _user(fields, changed["user"])
        _ecs(fields, ("iam",), ("user", "change"), "password_changed", "success")
    elif rest.startswith("auth could not identify password"):
        identify = _PAM_COULD_NOT_IDENTIFY.match(rest)
        if identify is not None:
            _user(fields, identify["user"])
        _ecs(fields, *_AUTH_FAILURE, "pam_authentication_failure", "failure")
    elif rest.startswith(("conversation failed", "authentication error")):
        _ecs(fields, *_AUTH_FAILURE, "pam_authentication_failure", "failure")
    elif rest.startswith("Consecutive login failures"):
        locked = _PAM_FAILLOCK.match(rest)
        if locked is not None:
            _user(fields, locked["user"])
        _ecs(fields, ("authentication",), ("info",), "account_locked", "failure")
    elif module is not None and module.startswith("pam_tally") and (tally := _PAM_TALLY.match(rest)):
        _user(fields, tally["user"])
        fields["uid"], fields["attempts"], fields["deny"] = tally["uid"], tally["tally"], tally["deny"]
        _ecs(fields, *_AUTH_FAILURE, "account_locked", "failure")
    elif (succeed := _PAM_SUCCEED_IF.match(rest)) is not None:
        _user(fields, succeed["user"])
        fields["reason"] = succeed["requirement"]
        _ecs(fields, *_AUTH_FAILURE, "pam_requirement_not_met", "failure")
    return True


def _pam_event(message: str, envelope: Envelope, logsource: LogSource) -> Parsed | None:
    fields = _base(envelope, message)
    if not parse_pam(message, fields, envelope.program):
        return None
    return Parsed(fields, logsource, envelope.timestamp)


# --- sshd ----------------------------------------------------------------------------------------------------

_SSH_SOLARIS = re.compile(r"\[ID \d+ [\w.]+\] ")
_SSH_LOGIN = re.compile(
    r"(?P<result>Accepted|Failed|Postponed|Partial) (?P<method>\S+) for (?:(?P<invalid>invalid|illegal) user )?"
    r"(?P<user>.*?) from (?P<peer>\S+?)(?: port (?P<port>\d+))?(?: (?P<proto>ssh\d?))?"
    r"(?:: (?P<info>.*?))?(?: \[preauth\])?\s*$")
_SSH_KEY = re.compile(r"(?P<type>[A-Z][A-Z0-9-]*) (?P<fp>(?:SHA256|MD5):\S+|[0-9a-f]{2}(?::[0-9a-f]{2}){15})")
_SSH_INVALID = re.compile(
    r"(?:Invalid|Illegal) user (?P<user>.*?) from (?P<peer>\S+?)(?: port (?P<port>\d+))?(?: \[preauth\])?\s*$")
_SSH_INVALID_REQUEST = re.compile(r"input_userauth_request: (?:invalid|illegal) user (?P<user>.*?)(?: \[preauth\])?$")
_SSH_NOT_ALLOWED = re.compile(
    r"User (?P<user>\S+)(?: from (?P<peer>\S+))? not allowed because (?P<reason>.*?)\s*$")
_SSH_ROOT_REFUSED = re.compile(r"ROOT LOGIN REFUSED FROM (?P<peer>\S+?)(?: port (?P<port>\d+))?(?: \[preauth\])?$")
_SSH_PAM_FAILURE = re.compile(
    r"PAM: (?:authentication (?:failure|error)|User not known to the underlying authentication module) for "
    r"(?:(?P<invalid>illegal|invalid) user )?(?P<user>.*?) from (?P<peer>\S+?)(?: via (?P<via>\S+))?\s*$",
    re.IGNORECASE)
_SSH_MAX_ATTEMPTS = re.compile(
    r"maximum authentication attempts exceeded for (?:(?P<invalid>invalid|illegal) user )?(?P<user>.*?) "
    r"from (?P<peer>\S+?)(?: port (?P<port>\d+))?(?: (?P<proto>ssh\d?))?(?: \[preauth\])?$")
_SSH_DISCONNECTING = re.compile(
    r"Disconnecting(?: (?P<state>authenticating|invalid) user (?P<user>.*?) (?P<peer>\S+) port (?P<port>\d+))?"
    r"(?: (?P<peer2>\S+) port (?P<port2>\d+))?: (?P<reason>.*?)(?: \[preauth\])?$")
_SSH_TOO_MANY = re.compile(r"Too many authentication failures(?: for (?:(?:invalid|illegal) user )?(?P<user>.+))?$")
_SSH_CLOSED = re.compile(
    r"Connection (?P<what>closed|reset) by (?:(?P<state>authenticating|invalid) user (?P<user>.*?) )?"
    r"(?P<peer>\S+?)(?: port (?P<port>\d+))?(?P<preauth> \[preauth\])?$")
_SSH_DISCONNECTED = re.compile(
    r"Disconnected from (?:(?:(?P<state>authenticating|invalid) )?user (?P<user>.*?) )?"
    r"(?P<peer>\S+?)(?: port (?P<port>\d+))?(?P<preauth> \[preauth\])?$")
_SSH_RECEIVED_DISCONNECT = re.compile(
    r"Received disconnect from (?P<peer>\S+?)(?: port (?P<port>\d+))?: ?(?P<code>\d+): (?P<reason>.*?)"
    r"(?P<preauth> \[preauth\])?$")
_SSH_CONNECTION_FROM = re.compile(
    r"Connection from (?P<peer>\S+?)(?: port (?P<port>\d+))?(?: on (?P<local>\S+) port (?P<local_port>\d+))?"
    r"(?: rdomain \"(?P<rdomain>[^\"]*)\")?$")
_SSH_NO_IDENT = re.compile(r"Did not receive identification string from (?P<peer>\S+?)(?: port (?P<port>\d+))?$")
_SSH_BAD_VERSION = re.compile(
    r"Bad protocol version identification '(?P<reason>.*)' from (?P<peer>\S+?)(?: port (?P<port>\d+))?$")
_SSH_BANNER = re.compile(
    r"banner exchange: Connection from (?P<peer>\S+?) port (?P<port>\d+): (?P<reason>.*?)(?: \[preauth\])?$")
_SSH_NEGOTIATE = re.compile(
    r"Unable to negotiate with (?P<peer>\S+?) port (?P<port>\d+): (?P<reason>.*?)(?: \[preauth\])?$")
_SSH_NEGOTIATE_OTHER = re.compile(r"(?:Unable to negotiate|no matching) (?P<reason>.*?)(?: \[preauth\])?$")
_SSH_DISPATCH = re.compile(
    r"ssh_dispatch_run_fatal: Connection from (?:(?P<state>authenticating|invalid) user (?P<user>.*?) )?"
    r"(?P<peer>\S+?) port (?P<port>\d+): (?P<reason>.*?)(?: \[preauth\])?$")
_SSH_TIMEOUT = re.compile(
    r"Timeout before authentication for (?:connection from )?(?P<peer>\S+?)(?: port (?P<port>\d+))?"
    r"(?: to \S+, pid = \d+)?$")
_SSH_REFUSED = re.compile(r"refused connect from (?P<who>.*?) \((?P<peer>[^()\s]+)\)$")
_SSH_STARTING_SESSION = re.compile(
    r"Starting session: (?P<what>.*?) (?:on (?P<tty>\S+) )?for (?P<user>\S+) from (?P<peer>\S+) "
    r"port (?P<port>\d+) id (?P<id>\d+)$")
_SSH_CLOSE_SESSION = re.compile(
    r"Close session: user (?P<user>\S+) from (?P<peer>\S+) port (?P<port>\d+) id (?P<id>\d+)$")
_SSH_REVERSE = re.compile(r"(?:Address (?P<peer>\S+) maps to (?P<name>\S+), but this does not map back|"
                          r"reverse mapping checking getaddrinfo for (?P<name2>\S+) \[(?P<peer2>[^\]]+)\] failed)")


def _login(m: re.Match[str], fields: Fields) -> None:
    result = m["result"]
    fields["auth_method"] = m["method"]
    _ssh_user(fields, m["user"], m["invalid"])
    _source(fields, m["peer"], m["port"])
    if m["proto"]:
        fields["ssh_protocol"] = m["proto"]
    info = m["info"]
    if info:
        fields["auth_info"] = info
        key = _SSH_KEY.match(info)
        if key is not None:
            fields["key_type"], fields["key_fingerprint"] = key["type"], key["fp"]
    if result == "Accepted":
        _ecs(fields, *_AUTH_SUCCESS, "ssh_login", "success")
    elif result == "Failed":
        _ecs(fields, *_AUTH_FAILURE, "ssh_login", "failure")
    else:  # Postponed, Partial: one step of a multi-step authentication
        _ecs(fields, ("authentication",), ("info",), "ssh_login_" + result.lower(), "unknown")


def _ssh_user(fields: Fields, user: str | None, invalid: str | None = None) -> None:
    if user is None:
        return
    if user == "<invalid username>":
        fields["user"] = user
        fields["invalid_user"] = True
        return
    _user(fields, user)
    if invalid:
        fields["invalid_user"] = True


def _invalid(m: re.Match[str], fields: Fields) -> None:
    _ssh_user(fields, m["user"], "invalid")
    _source(fields, m.groupdict().get("peer"), m.groupdict().get("port"))
    _ecs(fields, *_AUTH_FAILURE, "ssh_invalid_user", "failure")


def _not_allowed(m: re.Match[str], fields: Fields) -> None:
    _ssh_user(fields, m["user"])
    _source(fields, m["peer"])
    fields["reason"] = m["reason"]
    _ecs(fields, *_AUTH_FAILURE, "ssh_user_not_allowed", "failure")


def _root_refused(m: re.Match[str], fields: Fields) -> None:
    _ssh_user(fields, "root")
    _source(fields, m["peer"], m["port"])
    _ecs(fields, *_AUTH_FAILURE, "ssh_root_login_refused", "failure")


def _pam_failure(m: re.Match[str], fields: Fields) -> None:
    _ssh_user(fields, m["user"], m["invalid"])
    _source(fields, m["peer"])
    if m["via"]:
        fields["via"] = m["via"]
    _ecs(fields, *_AUTH_FAILURE, "ssh_login", "failure")


def _max_attempts(m: re.Match[str], fields: Fields) -> None:
    _ssh_user(fields, m["user"], m["invalid"])
    _source(fields, m["peer"], m["port"])
    if m["proto"]:
        fields["ssh_protocol"] = m["proto"]
    _ecs(fields, *_AUTH_FAILURE, "ssh_max_auth_attempts_exceeded", "failure")


def _disconnecting(m: re.Match[str], fields: Fields) -> None:
    reason = m["reason"]
    fields["reason"] = reason
    _ssh_user(fields, m["user"], "invalid" if m["state"] == "invalid" else None)
    _source(fields, m["peer"] or m["peer2"], m["port"] or m["port2"])
    too_many = _SSH_TOO_MANY.match(reason)
    if too_many is not None:
        if too_many["user"] and "user" not in fields:
            _ssh_user(fields, too_many["user"])
        _ecs(fields, *_AUTH_FAILURE, "ssh_too_many_auth_failures", "failure")
    elif m["state"] or "authentication" in reason.lower():
        _ecs(fields, *_AUTH_FAILURE, "ssh_disconnect", "failure")
    else:
        _ecs(fields, ("network",), ("connection", "end"), "ssh_disconnect")


def _closed(m: re.Match[str], fields: Fields) -> None:
    _source(fields, m["peer"], m["port"])
    if m["preauth"]:
        fields["preauth"] = True
    action = "ssh_connection_" + m["what"]
    if m["state"]:
        _ssh_user(fields, m["user"], "invalid" if m["state"] == "invalid" else None)
        fields["auth_state"] = m["state"]
        _ecs(fields, *_AUTH_ABANDONED, action, "unknown")
    else:
        _ecs(fields, ("network",), ("connection", "end"), action)


def _disconnected(m: re.Match[str], fields: Fields) -> None:
    _source(fields, m["peer"], m["port"])
    if m["preauth"]:
        fields["preauth"] = True
    if m["state"]:
        _ssh_user(fields, m["user"], "invalid" if m["state"] == "invalid" else None)
        fields["auth_state"] = m["state"]
        _ecs(fields, *_AUTH_ABANDONED, "ssh_disconnected", "unknown")
    elif m["user"] is not None:
        _ssh_user(fields, m["user"])
        _ecs(fields, ("session",), ("end",), "ssh_disconnected", "success")
    else:
        _ecs(fields, ("network",), ("connection", "end"), "ssh_disconnected")


_AUTH_REASONS = re.compile(r"auth(?:entication)? ?fail|no (?:supported )?authentication methods", re.IGNORECASE)


def _received_disconnect(m: re.Match[str], fields: Fields) -> None:
    _source(fields, m["peer"], m["port"])
    fields["disconnect_code"], fields["reason"] = m["code"], m["reason"]
    if m["preauth"]:
        fields["preauth"] = True
    if m["code"] == "14" or _AUTH_REASONS.search(m["reason"]):
        _ecs(fields, *_AUTH_FAILURE, "ssh_received_disconnect", "failure")
    elif m["preauth"]:
        _ecs(fields, ("network",), ("connection", "end"), "ssh_received_disconnect")
    else:
        _ecs(fields, ("session",), ("end",), "ssh_received_disconnect")


def _connection_from(m: re.Match[str], fields: Fields) -> None:
    _source(fields, m["peer"], m["port"])
    if m["local"]:
        fields["destination_ip"], fields["destination_port"] = m["local"], m["local_port"]
        ip, _ = _address(m["local"])
        if ip is not None:
            fields["destination.ip"] = ip
            fields["destination.port"] = int(m["local_port"])
    _ecs(fields, ("network",), ("connection", "start"), "ssh_connection")


def _network_failure(action: str) -> Callable[[re.Match[str], Fields], None]:
    def handle(m: re.Match[str], fields: Fields) -> None:
        groups = m.groupdict()
        _source(fields, groups.get("peer"), groups.get("port"))
        if groups.get("reason") is not None:
            fields["reason"] = groups["reason"]
        if groups.get("user") is not None:
            _ssh_user(fields, groups["user"], "invalid" if groups.get("state") == "invalid" else None)
        _ecs(fields, *_NET_FAILURE, action, "failure")
    return handle


def _refused(m: re.Match[str], fields: Fields) -> None:
    _source(fields, m["peer"])
    fields["refused_from"] = m["who"]
    _ecs(fields, ("network",), ("connection", "denied"), "ssh_connection_refused", "failure")


def _starting_session(m: re.Match[str], fields: Fields) -> None:
    _ssh_user(fields, m["user"])
    _source(fields, m["peer"], m["port"])
    fields["session_type"], fields["session_id"] = m["what"], m["id"]
    if m["tty"]:
        fields["tty"] = m["tty"]
    _ecs(fields, ("session",), ("start",), "ssh_session_start", "success")


def _close_session(m: re.Match[str], fields: Fields) -> None:
    _ssh_user(fields, m["user"])
    _source(fields, m["peer"], m["port"])
    fields["session_id"] = m["id"]
    _ecs(fields, ("session",), ("end",), "ssh_session_end", "success")


def _reverse(m: re.Match[str], fields: Fields) -> None:
    _source(fields, m["peer"] or m["peer2"])
    fields["reverse_name"] = m["name"] or m["name2"]
    _ecs(fields, ("network",), ("info",), "ssh_reverse_mapping_mismatch")


def _invalid_request(m: re.Match[str], fields: Fields) -> None:
    # the echo of an "Invalid user U from H" line of the same connection: not counted twice
    _ssh_user(fields, m["user"], "invalid")
    _ecs(fields, ("authentication",), ("info",), "ssh_invalid_user_request", "unknown")


_Handler = Callable[[re.Match[str], Fields], None]
_SSH_BY_WORD: dict[str, tuple[tuple[re.Pattern[str], _Handler], ...]] = {
    "Accepted": ((_SSH_LOGIN, _login),),
    "Failed": ((_SSH_LOGIN, _login),),
    "Postponed": ((_SSH_LOGIN, _login),),
    "Partial": ((_SSH_LOGIN, _login),),
    "Invalid": ((_SSH_INVALID, _invalid),),
    "Illegal": ((_SSH_INVALID, _invalid),),
    "input_userauth_request:": ((_SSH_INVALID_REQUEST, _invalid_request),),
    "User": ((_SSH_NOT_ALLOWED, _not_allowed),),
    "ROOT": ((_SSH_ROOT_REFUSED, _root_refused),),
    "PAM:": ((_SSH_PAM_FAILURE, _pam_failure),),
    "maximum": ((_SSH_MAX_ATTEMPTS, _max_attempts),),
    "Disconnecting": ((_SSH_DISCONNECTING, _disconnecting),),
    "Disconnecting:": ((_SSH_DISCONNECTING, _disconnecting),),
    "Connection": ((_SSH_CLOSED, _closed), (_SSH_CONNECTION_FROM, _connection_from)),
    "Disconnected": ((_SSH_DISCONNECTED, _disconnected),),
    "Received": ((_SSH_RECEIVED_DISCONNECT, _received_disconnect),),
    "Did": ((_SSH_NO_IDENT, _network_failure("ssh_no_identification")),),
    "Bad": ((_SSH_BAD_VERSION, _network_failure("ssh_bad_protocol_version")),),
    "banner": ((_SSH_BANNER, _network_failure("ssh_banner_exchange_failed")),),
    "Unable": ((_SSH_NEGOTIATE, _network_failure("ssh_negotiation_failed")),
               (_SSH_NEGOTIATE_OTHER, _network_failure("ssh_negotiation_failed"))),
    "no": ((_SSH_NEGOTIATE_OTHER, _network_failure("ssh_negotiation_failed")),),
    "ssh_dispatch_run_fatal:": ((_SSH_DISPATCH, _network_failure("ssh_protocol_error")),),
    "Timeout": ((_SSH_TIMEOUT, _network_failure("ssh_timeout_before_auth")),),
    "refused": ((_SSH_REFUSED, _refused),),
    "Starting": ((_SSH_STARTING_SESSION, _starting_session),),
    "Close": ((_SSH_CLOSE_SESSION, _close_session),),
    "Address": ((_SSH_REVERSE, _reverse),),
    "reverse": ((_SSH_REVERSE, _reverse),),
}
_SSH_LEVELS = ("error: ", "fatal: ")
_KEX_PREFIX = "kex_exchange_identification: "


def parse_sshd_message(message: str, fields: Fields) -> None:
    """Fill ``fields`` from one sshd message (the envelope's fields are already there)."""
    if len(message) > _MAX_MESSAGE:
        return
    text = message
    if text.startswith("[ID "):
        solaris = _SSH_SOLARIS.match(text)
        if solaris is not None:
            text = text[solaris.end():]
    for level in _SSH_LEVELS:
        if text.startswith(level):
            fields["log_level"] = level[:-2]
            text = text[len(level):]
            break
    if text.endswith(" [preauth]"):
        fields["preauth"] = True
    word = text.split(" ", 1)[0]
    for pattern, handler in _SSH_BY_WORD.get(word, ()):
        match = pattern.match(text)
        if match is not None:
            handler(match, fields)
            return
    if text.startswith(_KEX_PREFIX):
        fields["reason"] = text[len(_KEX_PREFIX):]
        _ecs(fields, *_NET_FAILURE, "ssh_kex_identification_failed", "failure")
    elif text.startswith(("pam_", "PAM ", "(pam_")):
        parse_pam(text, fields, None)
    elif text.startswith("Read from socket failed: "):
        fields["reason"] = text[len("Read from socket failed: "):].removesuffix(" [preauth]")
        _ecs(fields, *_NET_FAILURE, "ssh_read_failed", "failure")


class SshdParser(MessageParser):
    """OpenSSH's sshd."""

    name = "linux_sshd"
    family = Family.IDENTITY
    description = "OpenSSH sshd lines of auth.log/secure/the journal: logins, failures, disconnects, PAM"
    logsources = (AUTH_SSHD,)
    programs: ClassVar[frozenset[str]] = frozenset({"sshd", "sshd-session", "sshd-auth"})
    priority = 30

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        fields = _base(envelope, message)
        parse_sshd_message(message, fields)
        return Parsed(fields, AUTH_SSHD, envelope.timestamp)


# --- sudo ----------------------------------------------------------------------------------------------------

_SUDO = re.compile(r"\s*(?P<user>[^\s:]+) : (?P<rest>.+)$")
_SUDO_KEYS = frozenset({"TTY", "PWD", "USER", "GROUP", "HOST", "ENV", "TSID", "CHROOT", "CWD"})
_SUDO_AUTH_ERRORS = ("incorrect password", "password is required", "authentication failure",
                     "a password is required", "PAM authentication error", "no password")


def parse_sudo_message(message: str, fields: Fields) -> bool:
    if len(message) > _MAX_MESSAGE:
        return False
    match = _SUDO.match(message)
    if match is None:
        return False
    rest = match["rest"]
    command = None
    if rest.startswith("COMMAND="):
        command, rest = rest[8:], ""
    else:
        rest, found, tail = rest.partition(" ; COMMAND=")
        if found:
            command = tail
    errors: list[str] = []
    known = False
    for part in rest.split(" ; ") if rest else ():
        key, equals, value = part.partition("=")
        if equals and key in _SUDO_KEYS:
            fields[key] = value
            known = True
        else:
            errors.append(part.strip())
    if command is None and not known:
        return False
    _user(fields, match["user"])
    if command is not None:
        fields["COMMAND"] = command
        fields["process.command_line"] = command
    if fields.get("PWD"):
        fields["process.working_directory"] = fields["PWD"]
    target = fields.get("USER")
    if target:
        fields["user.effective.name"] = target
        _add(fields, "related.user", target)
    if fields.get("GROUP"):
        fields["group.name"] = fields["GROUP"]
    if errors:
        error = " ; ".join(errors)
        fields["sudo_error"] = error
        if any(text in error for text in _SUDO_AUTH_ERRORS):
            _ecs(fields, ("authentication", "process"), ("info",), "sudo_command", "failure")
        else:
            _ecs(fields, ("process",), ("denied",), "sudo_command", "failure")
    else:
        _ecs(fields, ("process",), ("start",), "sudo_command", "success")
    return True


class SudoParser(MessageParser):
    """sudo: the commands run, refusals and password failures."""

    name = "linux_sudo"
    family = Family.IDENTITY
    description = "sudo lines of auth.log/secure: commands (USER, COMMAND, PWD, TTY), refusals, PAM"
    logsources = (AUTH_SUDO,)
    programs: ClassVar[frozenset[str]] = frozenset({"sudo"})
    priority = 30

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        fields = _base(envelope, message)
        if not parse_sudo_message(message, fields):
            parse_pam(message, fields, envelope.program)
        return Parsed(fields, AUTH_SUDO, envelope.timestamp)


# --- su, login, systemd-logind, pkexec -----------------------------------------------------------------------

_SU_TO = re.compile(r"(?P<failed>FAILED SU )?\(to (?P<target>[^)]*)\) (?P<user>\S+) on (?P<tty>\S+)$")
_SU_FOR = re.compile(r"(?P<result>Successful|FAILED) su for (?P<target>\S+) by (?P<user>\S+)$")
_SU_SIGN = re.compile(r"(?P<sign>[+-]) (?P<tty>\S+) (?P<user>[^:\s]+):(?P<target>\S+)$")


class SuParser(MessageParser):
    """su: switching user."""

    name = "linux_su"
    family = Family.IDENTITY
    description = "su lines of auth.log/secure: successful and failed switches of user, PAM"
    logsources = (AUTH,)
    programs: ClassVar[frozenset[str]] = frozenset({"su", "su-l"})
    priority = 30

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        fields = _base(envelope, message)
        success: bool | None = None
        match = _SU_TO.match(message)
        if match is not None:
            success = match["failed"] is None
            fields["tty"] = match["tty"]
        elif (match := _SU_FOR.match(message)) is not None:
            success = match["result"] == "Successful"
        elif (match := _SU_SIGN.match(message)) is not None:
            success = match["sign"] == "+"
            fields["tty"] = match["tty"]
        if match is not None and success is not None:
            _user(fields, match["user"])
            fields["target_user"] = match["target"]
            fields["user.effective.name"] = match["target"]
            _add(fields, "related.user", match["target"])
            _ecs(fields, ("authentication", "session") if success else ("authentication",),
                 ("start",) if success else ("info",), "su", "success" if success else "failure")
        else:
            parse_pam(message, fields, envelope.program)
        return Parsed(fields, AUTH, envelope.timestamp)


_LOGIN_OK = re.compile(
    r"(?:(?P<root>ROOT) LOGIN +(?:ON|on) '?(?P<tty>[^'\s]+)'?|LOGIN ON (?P<tty2>\S+) BY (?P<user>\S+))"
    r"(?: FROM (?P<peer>\S+))?$")
_LOGIN_FAILED = re.compile(
    r"(?:FAILED LOGIN(?: \(?(?P<count>\d+)\)?| SESSION)?|TOO MANY LOGIN TRIES \((?P<tries>\d+)\))"
    r"(?: (?:on|ON) '?(?P<tty>[^'\s]+)'?)?(?: FROM '?(?P<peer>[^'\s]+)'?)? FOR '?(?P<user>[^',]*)'?"
    r"(?:, (?P<reason>.*))?$")


class LoginParser(MessageParser):
    """login (console and telnet logins)."""

    name = "linux_login"
    family = Family.IDENTITY
    description = "login lines of auth.log/secure: console logins and failures, PAM"
    logsources = (AUTH,)
    programs: ClassVar[frozenset[str]] = frozenset({"login"})
    priority = 30

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        fields = _base(envelope, message)
        match = _LOGIN_OK.match(message)
        if match is not None:
            _user(fields, "root" if match["root"] else match["user"])
            fields["tty"] = match["tty"] or match["tty2"]
            _source(fields, match["peer"])
            _ecs(fields, *_AUTH_SUCCESS, "login", "success")
        elif (match := _LOGIN_FAILED.match(message)) is not None:
            user = match["user"]
            if user == "UNKNOWN":
                fields["user"] = user
            else:
                _user(fields, user)
            if match["tty"]:
                fields["tty"] = match["tty"]
            _source(fields, match["peer"])
            if match["count"] or match["tries"]:
                fields["attempts"] = match["count"] or match["tries"]
            if match["reason"]:
                fields["reason"] = match["reason"]
            _ecs(fields, *_AUTH_FAILURE, "login", "failure")
        else:
            parse_pam(message, fields, envelope.program)
        return Parsed(fields, AUTH, envelope.timestamp)


_LOGIND_NEW = re.compile(r"New session (?P<id>\S+) of user (?P<user>.+?)\.?$")
_LOGIND_REMOVED = re.compile(r"Removed session (?P<id>\S+?)\.?$")
_LOGIND_LOGGED_OUT = re.compile(r"Session (?P<id>\S+) logged out\.")


class LogindParser(MessageParser):
    """systemd-logind: sessions."""

    name = "linux_logind"
    family = Family.IDENTITY
    description = "systemd-logind lines: sessions opened and removed"
    logsources = (AUTH,)
    programs: ClassVar[frozenset[str]] = frozenset({"systemd-logind"})
    priority = 30

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        fields = _base(envelope, message)
        match = _LOGIND_NEW.match(message)
        if match is not None:
            fields["session_id"] = match["id"]
            _user(fields, match["user"])
            _ecs(fields, ("session",), ("start",), "session_created", "success")
        elif (match := _LOGIND_REMOVED.match(message)) is not None:
            fields["session_id"] = match["id"]
            _ecs(fields, ("session",), ("end",), "session_removed", "success")
        elif (match := _LOGIND_LOGGED_OUT.match(message)) is not None:
            fields["session_id"] = match["id"]
            _ecs(fields, ("session",), ("end",), "session_logged_out", "success")
        return Parsed(fields, AUTH, envelope.timestamp)


_PKEXEC = re.compile(r"(?P<user>[^\s:]+): (?P<what>.*?)((?: \[[A-Z]+=[^\]]*\])+)$")
_PKEXEC_ITEM = re.compile(r" \[(?P<key>[A-Z]+)=(?P<value>[^\]]*)\]")


class PkexecParser(MessageParser):
    """pkexec (polkit): commands run as another user, and its refusals."""

    name = "linux_pkexec"
    family = Family.IDENTITY
    description = "pkexec lines: commands run as another user (USER, TTY, CWD, COMMAND) and errors"
    logsources = (AUTH,)
    programs: ClassVar[frozenset[str]] = frozenset({"pkexec"})
    priority = 30

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        fields = _base(envelope, message)
        match = _PKEXEC.match(message)
        if match is not None:
            _user(fields, match["user"])
            for item in _PKEXEC_ITEM.finditer(match[3]):
                fields[item["key"]] = item["value"]
            fields["reason"] = match["what"]
            if fields.get("USER"):
                fields["user.effective.name"] = fields["USER"]
                _add(fields, "related.user", fields["USER"])
            if fields.get("COMMAND"):
                fields["process.command_line"] = fields["COMMAND"]
            if fields.get("CWD"):
                fields["process.working_directory"] = fields["CWD"]
            if match["what"].startswith("Executing command"):
                _ecs(fields, ("process",), ("start",), "pkexec_command", "success")
            else:
                _ecs(fields, ("process",), ("denied",), "pkexec_command", "failure")
        else:
            parse_pam(message, fields, envelope.program)
        return Parsed(fields, AUTH, envelope.timestamp)


# --- user and group management -------------------------------------------------------------------------------

_KV_COMMA = re.compile(r"(\w+)=([^,]*)(?:, |,|$)")
_QUOTED = r"'(?P<{}>[^']*)'"


def _q(name: str) -> str:
    return _QUOTED.format(name)


_ACCOUNT_PATTERNS: tuple[tuple[re.Pattern[str], str, tuple[str, ...], str], ...] = (
    # (pattern, action, event.type, which name the groups give)
    (re.compile(r"new user: (?P<kv>.*)$"), "user_created", ("user", "creation"), "kv"),
    (re.compile(r"new group: (?P<kv>.*)$"), "group_created", ("group", "creation"), "kvgroup"),
    (re.compile(r"group added to (?P<file>\S+): (?P<kv>.*)$"), "group_created", ("group", "creation"), "kvgroup"),
    (re.compile(r"add " + _q("user") + r" to (?:shadow )?group " + _q("group") + "$"), "user_added_to_group",
     ("user", "group", "change"), "user"),
    (re.compile(r"user (?P<user>\S+) added by (?P<by>\S+) to group (?P<group>\S+)$"), "user_added_to_group",
     ("user", "group", "change"), "user"),
    (re.compile(r"(?:delete|remove) " + _q("user") + r" from (?:shadow )?group " + _q("group") + "$"),
     "user_removed_from_group", ("user", "group", "change"), "user"),
    (re.compile(r"user (?P<user>\S+) removed by (?P<by>\S+) from group (?P<group>\S+)$"),
     "user_removed_from_group", ("user", "group", "change"), "user"),
    (re.compile(r"delete user " + _q("user") + "$"), "user_deleted", ("user", "deletion"), "user"),
    (re.compile(r"removed (?:shadow )?group " + _q("group") + r"(?: owned by " + _q("user") + ")?$"),
     "group_deleted", ("group", "deletion"), "group"),
    (re.compile(r"group " + _q("group") + r" removed(?: from (?P<file>\S+))?$"), "group_deleted",
     ("group", "deletion"), "group"),
    (re.compile(r"change user " + _q("user") + r" password$"), "password_changed", ("user", "change"), "user"),
    (re.compile(r"password for " + _q("user") + r" changed by " + _q("by") + "$"), "password_changed",
     ("user", "change"), "user"),
    (re.compile(r"changed password expiry for (?P<user>\S+)$"), "password_expiry_changed", ("user", "change"),
     "user"),
    (re.compile(r"change user name " + _q("old") + r" to " + _q("user") + "$"), "user_renamed",
     ("user", "change"), "user"),
    (re.compile(r"change user " + _q("user") + r" (?P<attribute>\w+) from " + _q("old") + r" to " + _q("new")
                + "$"), "user_changed", ("user", "change"), "user"),
    (re.compile(r"changed user " + _q("user") + r" (?P<attribute>shell|information)(?: to " + _q("new") + ")?$"),
     "user_changed", ("user", "change"), "user"),
    (re.compile(r"(?P<verb>lock|unlock) user " + _q("user") + r" password$"), "user_locked", ("user", "change"),
     "user"),
    (re.compile(r"change user " + _q("user") + r" (?P<attribute>[\w ]+?)(?: to " + _q("new") + ")?$"),
     "user_changed", ("user", "change"), "user"),
    (re.compile(r"failed adding user " + _q("user") + r"(?:, (?P<reason>.*))?$"), "user_created",
     ("user", "creation"), "user"),
)


def parse_account_message(message: str, fields: Fields) -> bool:
    if len(message) > _MAX_MESSAGE:
        return False
    for pattern, action, kinds, name_from in _ACCOUNT_PATTERNS:
        match = pattern.match(message)
        if match is None:
            continue
        groups = {k: v for k, v in match.groupdict().items() if v is not None}
        if name_from in ("kv", "kvgroup"):
            values = {key.lower(): value for key, value in _KV_COMMA.findall(groups.pop("kv"))}
            name = values.pop("name", None)
            for key, value in values.items():
                fields[key] = value
            if name_from == "kv":
                if name is not None:
                    _user(fields, name)
                if "uid" in values:
                    fields["user.id"] = values["uid"]
                if "gid" in values:
                    fields["group.id"] = values["gid"]
            else:
                if name is not None:
                    fields["group"] = fields["group.name"] = name
                if "gid" in values:
                    fields["group.id"] = values["gid"]
        for key, value in groups.items():
            if key == "user":
                _user(fields, value)
            elif key == "group":
                fields["group"] = fields["group.name"] = value
            elif key == "by":
                fields["by_user"] = value
                _add(fields, "related.user", value)
            elif key == "verb":
                action = "user_" + value + "ed"
            else:
                fields[key] = value
        failed = action == "user_created" and message.startswith("failed")
        _ecs(fields, ("iam",), kinds, action, "failure" if failed else "success")
        return True
    return False


class AccountsParser(MessageParser):
    """shadow-utils: users and groups created, deleted and changed."""

    name = "linux_accounts"
    family = Family.IDENTITY
    description = "useradd/userdel/usermod/groupadd/groupdel/gpasswd/passwd/chpasswd/chage lines: account changes"
    logsources = (AUTH,)
    programs: ClassVar[frozenset[str]] = frozenset({
        "useradd", "userdel", "usermod", "groupadd", "groupdel", "groupmod", "gpasswd", "passwd", "chpasswd",
        "chage", "chsh", "chfn", "newusers", "adduser", "deluser", "addgroup", "delgroup"})
    priority = 30

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        fields = _base(envelope, message)
        if not parse_account_message(message, fields):
            parse_pam(message, fields, envelope.program)
        return Parsed(fields, AUTH, envelope.timestamp)


# --- cron ----------------------------------------------------------------------------------------------------

CRON = LogSource(product=("linux",), service=("cron", "syslog"))
CRON_AUTH = LogSource(product=("linux",), service=("auth", "cron"))
_CRON_TYPES = {"REPLACE": ("change",), "DELETE": ("deletion",), "LIST": ("access",)}
_CRON = re.compile(r"\((?P<user>[^)\s]*)\) (?P<verb>[A-Z][A-Z ]*?) \((?P<detail>.*)\)\s*$")


class CronParser(MessageParser):
    """cron and crontab: jobs run and crontabs changed."""

    name = "linux_cron"
    family = Family.IDENTITY
    description = "cron/crond/crontab lines: commands run ((user) CMD (...)), crontab edits (REPLACE, DELETE), PAM"
    logsources = (CRON, CRON_AUTH)
    programs: ClassVar[frozenset[str]] = frozenset({"cron", "crond", "crontab", "anacron"})
    priority = 30

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        fields = _base(envelope, message)
        if parse_pam(message, fields, envelope.program):
            return Parsed(fields, CRON_AUTH, envelope.timestamp)
        match = _CRON.match(message)
        if match is not None:
            _user(fields, match["user"])
            verb = match["verb"]
            fields["cron_action"] = verb
            if verb == "CMD":
                fields["cron_command"] = fields["process.command_line"] = match["detail"]
                _ecs(fields, ("process",), ("start",), "cron_command")
            else:
                fields["cron_detail"] = match["detail"]
                action = "crontab_" + verb.lower().replace(" ", "_")
                _ecs(fields, ("configuration",), _CRON_TYPES.get(verb, ("info",)), action)
        return Parsed(fields, CRON, envelope.timestamp)


# --- PAM of any program, and the auth facility ---------------------------------------------------------------

_PAM_STARTS = ("pam_", "(pam_", "PAM ")
_UNTAGGED_SSHD = re.compile(r"\[(?P<program>sshd(?:-session)?)\]:? ")


class PamParser(MessageParser):
    """PAM lines of any program (by message), and sshd lines written without a program tag."""

    name = "linux_pam"
    family = Family.IDENTITY
    description = "PAM module lines of any program (pam_unix, pam_sss, pam_faillock, ...), old and new forms"
    logsources = (AUTH, AUTH_SSHD)
    priority = 40

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        program = envelope.program
        if message.startswith(_PAM_STARTS) or (program is not None and "(pam_" in program):
            return _pam_event(message, envelope, AUTH)
        if program is None and message.startswith("[sshd"):
            untagged = _UNTAGGED_SSHD.match(message)
            if untagged is None:
                return None
            text = message[untagged.end():]
            fields = _base(envelope, text)
            fields["program"] = fields["process.name"] = untagged["program"]
            parse_sshd_message(text, fields)
            return Parsed(fields, AUTH_SSHD, envelope.timestamp)
        return None


_AUTH_FACILITIES = frozenset({4, 10})


class AuthPrivParser(MessageParser):
    """Any other line of the auth/authpriv facility or of an auth.log/secure file: ``service: auth``."""

    name = "linux_authpriv"
    family = Family.IDENTITY
    description = "Other lines of the auth/authpriv facility or of auth.log/secure files (service: auth)"
    logsources = (AUTH,)
    priority = 97  # after every other message parser (auth_message: 95)

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        if envelope.facility in _AUTH_FACILITIES or context.name.startswith(("auth.log", "secure")):
            return Parsed(_base(envelope, message), AUTH, envelope.timestamp)
        return None


PARSERS = (SshdParser(), SudoParser(), SuParser(), LoginParser(), LogindParser(), PkexecParser(),
           AccountsParser(), CronParser(), PamParser(), AuthPrivParser())
