"""Linux audit logs: auditd's ``/var/log/audit/audit.log``, also in its enriched form, and audit records in syslog.

**Formats read.** ``audit.log`` lines ``[node=N ]type=T msg=audit(SECONDS.MILLIS:SERIAL): key=value ...``, raw or
enriched (``log_format = ENRICHED``: the interpreted fields after a ``\\x1d`` separator, ``UID="alice"``,
``SYSCALL=execve``, ...); ``ausearch --raw``/plain ``ausearch`` output (``----`` and ``time->`` lines skipped);
``ausearch -i`` interpreted output (``msg=audit(11/28/2026 03:00:00.123:456) : ...``, local time taken as UTC).
Syslog: ``audispd``/``audisp-syslog`` lines holding one record, and the kernel's ``audit: type=1400
audit(...): ...`` lines (numeric types named) - one event per line there, records are not joined.

**Joining.** The records of one event share ``msg=audit(time:serial)``: they are joined into one event, emitted
on ``type=EOE``, when no record of it came for the last 8 records (a single-record kernel event, or an event
whose ``EOE`` is lost), when more than 16 events are open at once (interleaved serials), or at the end of the
file. User-space records (``USER_LOGIN``, ``ADD_USER``, ``SERVICE_STOP``, ... - those with ``msg='...'``) are
events of their own at once. The event's position is the line of its first record; its raw form, the lines
joined by newlines. A line that is not an audit record, or a record cut short (an unterminated quote, an odd
hex value), is a BadRecord; the other records of its event still make the event.

**Values.** Quotes removed. Hex-encoded values decoded (auditd hex-encodes untrusted strings holding spaces,
quotes or control characters: ``proctitle`` - NUL separators become spaces -, EXECVE arguments, ``name``,
``cwd``, ``exe``, ``comm``, ``cmd``, ``acct``, ``key`` - several keys, separated by ``\\x01``, become a list
-, ...). Long EXECVE arguments split in ``aN[i]`` pieces are reassembled. ``key=(null)`` is left out. The
``msg='...'`` of user-space records is parsed into fields. ``SOCKADDR`` ``saddr`` of IPv4/IPv6 is decoded into
``saddr_fam``, ``laddr``, ``lport`` (the names of the enriched format).

**Field layout** (one joined event, made for SigmaHQ's ``product: linux, service: auditd`` rules, which test
single records: ``type: EXECVE`` with ``a0``, ``a1``; ``type: SYSCALL`` with ``exe``, ``comm``, ``SYSCALL``,
``key``, ``euid``; ``type: PATH`` with ``name``, ``nametype``; ``type: SERVICE_STOP`` with ``unit``):

* ``type``: the list of the event's record types, in order (``[SYSCALL, EXECVE, CWD, PATH, PROCTITLE]``), so
  ``type: EXECVE`` holds for the event that has an EXECVE record;
* every record's fields under ``<TYPE>.<field>`` (``SYSCALL.exe``, ``EXECVE.a0``, ``PATH.name``); ``PATH``
  fields are always lists (one value per item, in order), those of other repeated types lists when repeated;
* the same fields unqualified, the first record that has a name winning in this order: EXECVE, SYSCALL, CWD,
  PATH (lists over all items: ``name: [/usr/bin/ls, /lib64/ld-linux-x86-64.so.2]``), PROCTITLE, the rest. So
  ``a0``.. are the EXECVE arguments when there is an EXECVE record, else the syscall's arguments (``SYSCALL:
  personality`` with ``a0: 40000``); ``exe``, ``comm``, ``key``, ``euid`` are the SYSCALL's;
* ``SYSCALL``: the system call's name (the enriched field, else from ``arch`` and ``syscall`` through the
  kernel's tables), ``ARCH``; ``msg`` (``audit(1700000000.123:456)``), ``node``.

An event with EXECVE and SYSCALL records is also Sigma's ``category: process_creation`` (logsource
``product: linux, category: process_creation, service: auditd``), with ``Image`` (SYSCALL ``exe``),
``CommandLine`` (the arguments joined by spaces), ``CurrentDirectory`` (CWD), ``User`` (the enriched ``UID``
name; ``root`` for uid 0; absent otherwise), ``LogonId`` (``ses``, unless unset), ``ProcessId``,
``ParentProcessId``. No parent image: auditd does not say it. A successful system call with a PATH item of
nametype ``CREATE`` is Sigma's ``category: file_event`` (``product: linux, category: file_event, service:
auditd``) with ``TargetFilename`` (that item's name, made absolute with the CWD) and ``Image``. A ``connect`` to
an IPv4/IPv6 address that succeeded or is in progress (``exit=-115``) is Sigma's ``category: network_connection``
with ``Image``, ``DestinationIp``, ``DestinationPort``, ``Initiated: 'true'``, ``ProcessId``, ``User``.

**ECS.** ``event.kind``; ``event.action`` (the syscall name, else the first record type in lower case);
``event.outcome`` (``success=yes/no``, ``res=success/failed/1/0``); ``event.category``/``event.type`` (process
start for execve, network for socket calls, file for calls with a path, authentication/session/iam for the
user-space records, configuration for ``CONFIG_CHANGE``); ``process.pid``, ``process.parent.pid``,
``process.executable``, ``process.name``, ``process.args``, ``process.args_count``, ``process.command_line``,
``process.working_directory``, ``process.title``; ``user.id`` (uid), ``user.name`` (enriched ``UID``, ``root``
for 0, or the ``acct`` of a user-space record), ``user.effective.id``/``.name`` (euid),
``user.audit.id``/``.name`` (auid, as auditbeat writes it), ``group.id``; ``source.ip``/``source.domain``
(``addr``/``hostname`` of user-space records), ``destination.ip``/``.port`` (connect's ``SOCKADDR``),
``file.path``; ``host.name`` (``node``); ``auditd.sequence``, ``auditd.session``, ``auditd.result``,
``auditd.message_type``; ``@timestamp`` from the record time.
"""

from __future__ import annotations

import ipaddress
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from yamori.events import BadRecord, LogSource
from yamori.parsers._auditd_syscalls import ARCHITECTURES, syscall_name
from yamori.parsers.base import Envelope, Family, Malformed, MessageParser, ParseContext, Parsed, TextParser
from yamori.parsers.syslog import syslog_fields
from yamori.parsers.timestamps import from_epoch, utc_iso

__all__ = [
    "AUDITD",
    "AUDITD_FILE_EVENT",
    "AUDITD_NETWORK_CONNECTION",
    "AUDITD_PROCESS_CREATION",
    "AuditSyslogParser",
    "AuditdParser",
    "parse_record",
]

AUDITD = LogSource(product=("linux",), service=("auditd",))
AUDITD_PROCESS_CREATION = LogSource(product=("linux",), category=("process_creation",), service=("auditd",))
AUDITD_FILE_EVENT = LogSource(product=("linux",), category=("file_event",), service=("auditd",))
AUDITD_NETWORK_CONNECTION = LogSource(product=("linux",), category=("network_connection",), service=("auditd",))

_RECORD = re.compile(
    r"(?:node=(?P<node>\S+) )?type=(?P<type>[\w-]+) msg=audit\((?:(?P<time>\d+(?:\.\d+)?)|"
    r"(?P<local>\d\d/\d\d/\d{4} \d\d:\d\d:\d\d(?:\.\d+)?)):(?P<serial>\d+)\)\s?:\s?(?P<body>.*)$", re.DOTALL)
_KERNEL_RECORD = re.compile(
    r"(?:\[\s*\d+\.\d+\] )?audit: type=(?P<number>\d+) audit\((?P<time>\d+(?:\.\d+)?):(?P<serial>\d+)\):\s?"
    r"(?P<body>.*)$", re.DOTALL)
_KV = re.compile(r"([^\s=]+)=(\"[^\"]*\"?|'[^']*'?|\{[^}]*\}?|\S*)")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_EXECVE_ARG = re.compile(r"a(\d+)(?:\[(\d+)\])?")
_ENRICH_SEPARATOR = "\x1d"

_ENCODED = frozenset({
    "name", "cwd", "exe", "comm", "path", "proctitle", "cmd", "acct", "key", "data", "dir", "file", "watch",
    "ocomm", "vm", "vm-path", "grp", "new_group", "old-disk", "new-disk", "old-fs", "new-fs", "old-net",
    "new-net", "old-rng", "new-rng", "old-chardev", "new-chardev", "device", "cgroup", "sw", "root_dir"})
"""Fields auditd writes quoted, or hex-encoded when they hold a space, a quote or a control character."""
_NUMBERED_TYPES = {
    1006: "LOGIN", 1100: "USER_AUTH", 1101: "USER_ACCT", 1102: "USER_MGMT", 1103: "CRED_ACQ", 1104: "CRED_DISP",
    1105: "USER_START", 1106: "USER_END", 1107: "USER_AVC", 1108: "USER_CHAUTHTOK", 1109: "USER_ERR",
    1110: "CRED_REFR", 1111: "USYS_CONFIG", 1112: "USER_LOGIN", 1113: "USER_LOGOUT", 1114: "ADD_USER",
    1115: "DEL_USER", 1116: "ADD_GROUP", 1117: "DEL_GROUP", 1123: "USER_CMD", 1124: "USER_TTY",
    1130: "SERVICE_START", 1131: "SERVICE_STOP", 1300: "SYSCALL", 1302: "PATH", 1303: "IPC", 1304: "SOCKETCALL",
    1305: "CONFIG_CHANGE", 1306: "SOCKADDR", 1307: "CWD", 1309: "EXECVE", 1311: "IPC_SET_PERM", 1312: "MQ_OPEN",
    1318: "FD_PAIR", 1320: "EOE", 1321: "BPRM_FCAPS", 1322: "CAPSET", 1323: "MMAP", 1324: "NETFILTER_PKT",
    1325: "NETFILTER_CFG", 1326: "SECCOMP", 1327: "PROCTITLE", 1328: "FEATURE_CHANGE", 1329: "REPLACE",
    1330: "KERN_MODULE", 1331: "FANOTIFY", 1332: "TIME_INJOFFSET", 1333: "TIME_ADJNTPVAL", 1334: "BPF",
    1335: "EVENT_LISTENER", 1336: "URINGOP", 1337: "OPENAT2", 1400: "AVC", 1401: "SELINUX_ERR",
    1403: "MAC_POLICY_LOAD", 1404: "MAC_STATUS", 1405: "MAC_CONFIG_CHANGE", 1700: "ANOM_PROMISCUOUS",
    1701: "ANOM_ABEND", 1702: "ANOM_LINK", 1703: "ANOM_CREAT", 2100: "ANOM_LOGIN_FAILURES",
}
_UNSET = "4294967295"
_SYSCALL_RANK = {"EXECVE": 0, "SYSCALL": 1, "CWD": 2, "PATH": 3, "PROCTITLE": 4}
_EXEC_SYSCALLS = frozenset({"execve", "execveat"})
_NET_CONNECT = frozenset({"connect", "sendto", "sendmsg"})
_NET_SYSCALLS = frozenset({"connect", "bind", "listen", "accept", "accept4", "socket", "sendto", "sendmsg",
                           "recvfrom", "recvmsg"})
_USER_RECORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "USER_AUTH": (("authentication",), ("info",)),
    "USER_ACCT": (("authentication",), ("info",)),
    "USER_LOGIN": (("authentication", "session"), ("start",)),
    "USER_LOGOUT": (("session",), ("end",)),
    "USER_START": (("session",), ("start",)),
    "USER_END": (("session",), ("end",)),
    "CRED_ACQ": (("authentication",), ("info",)),
    "CRED_DISP": (("authentication",), ("info",)),
    "CRED_REFR": (("authentication",), ("info",)),
    "USER_ERR": (("authentication",), ("info",)),
    "ANOM_LOGIN_FAILURES": (("authentication",), ("info",)),
    "USER_CHAUTHTOK": (("iam",), ("user", "change")),
    "USER_MGMT": (("iam",), ("user", "change")),
    "ADD_USER": (("iam",), ("user", "creation")),
    "DEL_USER": (("iam",), ("user", "deletion")),
    "ADD_GROUP": (("iam",), ("group", "creation")),
    "DEL_GROUP": (("iam",), ("group", "deletion")),
    "GRP_MGMT": (("iam",), ("group", "change")),
    "USER_CMD": (("process",), ("start",)),
    "SERVICE_START": (("process",), ("start",)),
    "SERVICE_STOP": (("process",), ("end",)),
    "DAEMON_START": (("process",), ("start",)),
    "DAEMON_END": (("process",), ("end",)),
    "CONFIG_CHANGE": (("configuration",), ("change",)),
    "USYS_CONFIG": (("configuration",), ("change",)),
    "LOGIN": (("session",), ("info",)),
}
_SUCCESS = frozenset({"success", "yes", "1"})
_FAILURE = frozenset({"failed", "fail", "no", "0", "failure"})

Fields = dict[str, Any]


# --- one record ----------------------------------------------------------------------------------------------

def _unhex(value: str) -> str | None:
    if len(value) % 2 or _HEX.fullmatch(value) is None:
        return None
    return bytes.fromhex(value).decode("utf-8", "backslashreplace")


def _value(record_type: str, key: str, raw: str) -> Any:
    """The value of ``key=raw`` in a record of ``record_type``; raises Malformed for a truncated value."""
    first = raw[:1]
    if first == '"':
        if len(raw) < 2 or raw[-1] != '"':
            raise Malformed(f"{record_type} record cut short in {key}")
        return raw[1:-1]
    if first == "{":
        return raw
    if raw == "(null)":
        return None
    if key == "proctitle" or key in _ENCODED or (record_type == "EXECVE" and key[:1] == "a" and key != "argc"):
        if raw in ("?", "(none)", "") or (record_type == "EXECVE" and key.endswith("_len")):
            return raw
        decoded = _unhex(raw)
        if decoded is None:
            if key == "proctitle" or record_type == "EXECVE":
                raise Malformed(f"{record_type} record cut short in {key}: not hex")
            return raw
        if key == "proctitle":
            return decoded.replace("\x00", " ").strip()
        if key == "key" and "\x01" in decoded:
            return decoded.split("\x01")
        return decoded
    return raw


def _fields_of(record_type: str, body: str, into: Fields, interpreted: bool = False) -> None:
    for key, raw in _KV.findall(body):
        if raw[:1] == "'":
            if len(raw) < 2 or raw[-1] != "'":
                raise Malformed(f"{record_type} record cut short in {key}")
            _fields_of(record_type, raw[1:-1], into, interpreted)  # user-space msg='op=... acct=... res=...'
            continue
        value = _plain(raw) if interpreted else _value(record_type, key, raw)
        if value is not None:
            into[key] = value


def _plain(raw: str) -> str:
    return raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'" else raw


def _enriched(text: str, into: Fields) -> None:
    for key, raw in _KV.findall(text):
        into[key] = _plain(raw)


def parse_record(record_type: str, body: str, interpreted: bool = False) -> Fields:
    """The fields of one record's body (after ``msg=audit(...):``); raises Malformed for a truncated record.

    ``interpreted``: ``ausearch -i`` output, whose values are already decoded (names, not numbers or hex)."""
    raw, separator, enriched = body.partition(_ENRICH_SEPARATOR)
    fields: Fields = {}
    _fields_of(record_type, raw, fields, interpreted)
    if separator:
        _enriched(enriched, fields)
    if record_type == "EXECVE":
        _join_execve(fields)
    elif record_type == "SOCKADDR" and isinstance(fields.get("saddr"), str) and "saddr_fam" not in fields:
        _sockaddr(fields["saddr"], fields)
    return fields


def _join_execve(fields: Fields) -> None:
    """``a1_len=N a1[0]=.. a1[1]=..`` -> ``a1``; arguments in order."""
    pieces: dict[int, list[tuple[int, str]]] = {}
    for key in [k for k in fields if "[" in k]:
        match = _EXECVE_ARG.fullmatch(key)
        if match is not None and match[2] is not None:
            pieces.setdefault(int(match[1]), []).append((int(match[2]), str(fields.pop(key))))
    for index, parts in pieces.items():
        fields[f"a{index}"] = "".join(part for _, part in sorted(parts))
        fields.pop(f"a{index}_len", None)


def _sockaddr(saddr: str, into: Fields) -> None:
    if len(saddr) < 4 or _HEX.fullmatch(saddr) is None:
        return
    data = bytes.fromhex(saddr)
    family = int.from_bytes(data[:2], "little")
    if family == 2 and len(data) >= 8:
        into["saddr_fam"], into["lport"] = "inet", str(int.from_bytes(data[2:4], "big"))
        into["laddr"] = str(ipaddress.IPv4Address(data[4:8]))
    elif family == 10 and len(data) >= 24:
        into["saddr_fam"], into["lport"] = "inet6", str(int.from_bytes(data[2:4], "big"))
        into["laddr"] = str(ipaddress.IPv6Address(data[8:24]))
    elif family == 1:
        into["saddr_fam"] = "local"
        into["path"] = data[2:].split(b"\x00", 1)[0].decode("utf-8", "backslashreplace")


# --- one event -----------------------------------------------------------------------------------------------

@dataclass(slots=True)
class _Open:
    """The records of one event seen so far."""

    node: str | None
    time: str | None
    local_time: str | None
    serial: str
    line: int
    records: list[tuple[str, Fields]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    last_seen: int = 0


def _timestamp(event: _Open) -> str | None:
    if event.time is not None:
        return from_epoch(event.time)
    if event.local_time is not None:
        try:
            return utc_iso(datetime.strptime(event.local_time[:23], "%m/%d/%Y %H:%M:%S.%f"
                                             if "." in event.local_time else "%m/%d/%Y %H:%M:%S"))
        except ValueError:
            return None
    return None


def _event(event: _Open) -> Parsed:
    """The joined event of ``event``'s records (field layout: module docstring)."""
    fields: Fields = {}
    types: list[str] = []
    counts: dict[str, int] = {}
    for record_type, _ in event.records:
        counts[record_type] = counts.get(record_type, 0) + 1
        if record_type not in types:
            types.append(record_type)
    fields["type"] = types
    fields["msg"] = f"audit({event.time if event.time is not None else event.local_time}:{event.serial})"
    if event.node:
        fields["node"] = event.node
    for record_type, record in event.records:  # qualified names
        as_list = record_type == "PATH" or counts[record_type] > 1
        for key, value in record.items():
            name = f"{record_type}.{key}"
            if as_list:
                fields.setdefault(name, []).append(value)
            else:
                fields[name] = value
    ranked = sorted(event.records, key=lambda item: _SYSCALL_RANK.get(item[0], 9))
    paths: Fields = {}
    for record_type, record in ranked:  # unqualified names: first record wins, PATH items as lists
        if record_type == "PATH":
            for key, value in record.items():
                paths.setdefault(key, []).append(value)
            continue
        if paths:
            _merge(fields, paths)
            paths = {}
        _merge(fields, record)
    if paths:
        _merge(fields, paths)
    syscall = _records_of(event, "SYSCALL")
    if syscall is not None:
        call = syscall.get("SYSCALL")
        if call is None and isinstance(syscall.get("syscall"), str):
            number = syscall["syscall"]
            call = syscall_name(syscall.get("arch"), number) if number.isdigit() else number
        if call is not None:
            fields["SYSCALL"] = call
        arch = syscall.get("arch")
        if "ARCH" not in fields and isinstance(arch, str):
            fields["ARCH"] = ARCHITECTURES.get(arch.lower(), arch)
    process_creation = _ecs(fields, event, types, syscall)
    logsource = AUDITD_PROCESS_CREATION if process_creation else AUDITD
    if not process_creation and syscall is not None:
        if _file_created(fields):
            logsource = AUDITD_FILE_EVENT
        elif _connected(fields):
            logsource = AUDITD_NETWORK_CONNECTION
    return Parsed(fields, logsource, _timestamp(event), position=str(event.line), raw="\n".join(event.lines))


def _connected(fields: Fields) -> bool:
    """Sigma's ``network_connection`` names of an outgoing ``connect`` to an IP address that succeeded or is in
    progress (non-blocking, ``exit=-115``): ``Image``, ``DestinationIp``, ``DestinationPort``, ``Initiated``."""
    if fields.get("SYSCALL") != "connect" or fields.get("saddr_fam") not in ("inet", "inet6"):
        return False
    if fields.get("success") != "yes" and fields.get("exit") != "-115":
        return False
    fields["DestinationIp"], fields["DestinationPort"] = fields.get("laddr"), fields.get("lport")
    fields["Initiated"] = "true"
    image = _text(fields.get("exe"))
    if image is not None:
        fields["Image"] = image
    if _text(fields.get("pid")):
        fields["ProcessId"] = fields["pid"]
    if isinstance(fields.get("user.name"), str):
        fields["User"] = fields["user.name"]
    return True


def _file_created(fields: Fields) -> bool:
    """Sigma's ``file_event`` names of a call that created a file (a PATH item of nametype CREATE):
    ``TargetFilename`` (made absolute with the CWD record) and ``Image``. True when there is one."""
    names, nametypes = fields.get("PATH.name"), fields.get("PATH.nametype")
    if not isinstance(names, list) or not isinstance(nametypes, list) or fields.get("success") == "no":
        return False
    for name, kind in zip(names, nametypes, strict=False):
        if kind == "CREATE" and isinstance(name, str) and name:
            cwd = fields.get("cwd")
            if not name.startswith("/") and isinstance(cwd, str) and cwd.startswith("/"):
                name = cwd.rstrip("/") + "/" + name.removeprefix("./")
            fields["TargetFilename"] = name
            image = _text(fields.get("exe"))
            if image is not None:
                fields["Image"] = image
            return True
    return False


def _merge(fields: Fields, record: Fields) -> None:
    for key, value in record.items():
        if key not in fields:
            fields[key] = value


def _records_of(event: _Open, record_type: str) -> Fields | None:
    for kind, record in event.records:
        if kind == record_type:
            return record
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value not in ("", "?", "(none)", "(null)") else None


def _ecs(fields: Fields, event: _Open, types: list[str], syscall: Fields | None) -> bool:
    """ECS fields; True when the event is a process creation (EXECVE with SYSCALL exe)."""
    fields["event.kind"] = "event"
    first = types[0] if types else "UNKNOWN"
    fields["auditd.message_type"] = first.lower()
    fields["auditd.sequence"] = int(event.serial)
    if event.node:
        fields["host.name"] = event.node
    name = fields.get("SYSCALL") if syscall is not None else None
    fields["event.action"] = name if isinstance(name, str) else first.lower()
    result = fields.get("success") if syscall is not None else fields.get("res")
    if isinstance(result, str):
        lowered = result.lower()
        if lowered in _SUCCESS:
            fields["event.outcome"], fields["auditd.result"] = "success", "success"
        elif lowered in _FAILURE:
            fields["event.outcome"], fields["auditd.result"] = "failure", "fail"
    if name == "connect" and fields.get("exit") == "-115":  # EINPROGRESS: a non-blocking connect under way
        fields["event.outcome"] = "unknown"
    _ecs_user(fields, user_space=syscall is None and "res" in fields)
    _ecs_process(fields)
    execve = _records_of(event, "EXECVE")
    process_creation = False
    if execve is not None:
        args = _args(execve)
        if args:
            fields["process.args"] = args
            fields["process.args_count"] = len(args)
            fields["process.command_line"] = " ".join(args)
        image = _text(syscall.get("exe")) if syscall is not None else None
        if image is not None:
            process_creation = True
            fields["Image"] = image
            fields["CommandLine"] = " ".join(args)
            cwd = _text(fields.get("cwd"))
            if cwd is not None:
                fields["CurrentDirectory"] = cwd
            user = fields.get("user.name")
            if isinstance(user, str):
                fields["User"] = user
            session = _text(fields.get("ses"))
            if session is not None and session != _UNSET:
                fields["LogonId"] = session
            if _text(fields.get("pid")):
                fields["ProcessId"] = fields["pid"]
            if _text(fields.get("ppid")):
                fields["ParentProcessId"] = fields["ppid"]
    if isinstance(name, str) and name in _EXEC_SYSCALLS:
        _categorize(fields, ("process",), ("start",))
    elif isinstance(name, str) and name in _NET_SYSCALLS:
        _categorize(fields, ("network",), ("connection", "start") if name in _NET_CONNECT else ("info",))
        if name in _NET_CONNECT and isinstance(fields.get("laddr"), str):
            fields["destination.ip"] = fields["laddr"]
            if isinstance(fields.get("lport"), str) and fields["lport"].isdigit():
                fields["destination.port"] = int(fields["lport"])
    elif first in _USER_RECORDS:
        _categorize(fields, *_USER_RECORDS[first])
    elif syscall is not None and "PATH" in types:
        nametypes = fields.get("nametype")
        kinds = nametypes if isinstance(nametypes, list) else []
        kind = ("creation",) if "CREATE" in kinds else ("deletion",) if "DELETE" in kinds else ("access",)
        _categorize(fields, ("file",), kind)
    _ecs_file(fields, event)
    return process_creation


def _categorize(fields: Fields, category: tuple[str, ...], kind: tuple[str, ...]) -> None:
    fields["event.category"] = list(category)
    fields["event.type"] = list(kind)


def _args(execve: Fields) -> list[str]:
    numbered = []
    for key, value in execve.items():
        if key[:1] == "a" and key[1:].isdigit():
            numbered.append((int(key[1:]), value if isinstance(value, str) else str(value)))
    return [value for _, value in sorted(numbered)]


def _ecs_user(fields: Fields, user_space: bool) -> None:
    uid = _text(fields.get("uid"))
    if user_space:  # the record is about an account (acct, id); uid is the reporting process's
        if uid is not None:
            fields["process.user.id"] = uid
        account, account_id = _text(fields.get("acct")), _text(fields.get("id"))
        if account is not None:
            fields["user.name"] = account
        if account_id is not None and account_id.isdigit():
            fields["user.id"] = account_id
    else:
        if uid is not None:
            fields["user.id"] = uid
        name = _text(fields.get("UID")) or ("root" if uid == "0" else None)
        if name is not None:
            fields["user.name"] = name
    euid = _text(fields.get("euid"))
    if euid is not None:
        fields["user.effective.id"] = euid
        effective = _text(fields.get("EUID")) or ("root" if euid == "0" else None)
        if effective is not None:
            fields["user.effective.name"] = effective
    auid = _text(fields.get("auid"))
    if auid is not None and auid != _UNSET and auid != "-1":
        fields["user.audit.id"] = auid
        audit_name = _text(fields.get("AUID"))
        if audit_name is not None and audit_name != "unset":
            fields["user.audit.name"] = audit_name
    gid = _text(fields.get("gid"))
    if gid is not None:
        fields["group.id"] = gid
    session = _text(fields.get("ses"))
    if session is not None and session != _UNSET:
        fields["auditd.session"] = session
    related = [value for value in (fields.get("user.name"), fields.get("user.effective.name"),
                                   fields.get("user.audit.name")) if isinstance(value, str)]
    if related:
        fields["related.user"] = list(dict.fromkeys(related))
    address = _text(fields.get("addr"))
    if address is not None:
        try:
            fields["source.ip"] = str(ipaddress.ip_address(address))
            fields["related.ip"] = [fields["source.ip"]]
        except ValueError:
            pass
    hostname = _text(fields.get("hostname"))
    if hostname is not None and hostname != address:
        fields["source.domain"] = hostname


def _ecs_process(fields: Fields) -> None:
    for original, ecs_name in (("pid", "process.pid"), ("ppid", "process.parent.pid")):
        value = fields.get(original)
        if isinstance(value, str) and value.isdigit():
            fields[ecs_name] = int(value)
    for original, ecs_name in (("exe", "process.executable"), ("comm", "process.name"),
                               ("cwd", "process.working_directory"), ("proctitle", "process.title")):
        value = _text(fields.get(original))
        if value is not None:
            fields[ecs_name] = value
    if "process.command_line" not in fields and _text(fields.get("cmd")) is not None:
        fields["process.command_line"] = fields["cmd"]


def _ecs_file(fields: Fields, event: _Open) -> None:
    names = fields.get("PATH.name")
    if not isinstance(names, list) or not names:
        return
    nametypes = fields.get("PATH.nametype")
    chosen = None
    for index, name in enumerate(names):
        kind = nametypes[index] if isinstance(nametypes, list) and index < len(nametypes) else None
        if kind != "PARENT" and isinstance(name, str):
            chosen = name
            if "EXECVE" in fields["type"]:
                break  # the program executed is the first item
    if chosen is not None:
        fields["file.path"] = chosen


# --- readers -------------------------------------------------------------------------------------------------

class AuditdParser(TextParser):
    """auditd's audit.log: records joined into events."""

    name = "auditd"
    family = Family.IDENTITY
    description = "Linux audit logs (audit.log raw or enriched, ausearch output): records joined into events"
    logsources = (AUDITD, AUDITD_PROCESS_CREATION, AUDITD_FILE_EVENT, AUDITD_NETWORK_CONNECTION)
    priority = 40

    MAX_OPEN: ClassVar[int] = 16
    IDLE_RECORDS: ClassVar[int] = 8

    def sniff(self, lines: list[str], context: ParseContext) -> bool:
        if not lines:
            return False
        records = sum(1 for line in lines if _RECORD.match(line) is not None)
        skipped = sum(1 for line in lines if line.startswith(("----", "time->")))
        return records > 0 and records + skipped >= len(lines) * 0.6

    def parse(self, lines: Iterable[tuple[int, str]], context: ParseContext) -> Iterator[Parsed | BadRecord]:
        open_events: OrderedDict[tuple[str | None, str, str], _Open] = OrderedDict()
        count = 0
        for number, line in lines:
            if line.startswith(("----", "time->")):
                continue
            match = _RECORD.match(line)
            if match is None:
                yield context.bad(number, "not an audit record (type=... msg=audit(...): ...)", line)
                continue
            count += 1
            record_type = match["type"]
            key = (match["node"], match["time"] or match["local"], match["serial"])
            if record_type == "EOE":
                done = open_events.pop(key, None)
                if done is not None:
                    yield _event(done)
                continue
            try:
                record = parse_record(record_type, match["body"], match["local"] is not None)
            except Malformed as error:
                yield context.bad(number, str(error), line)
                continue
            standalone = " msg='" in match["body"] or match["body"].startswith("msg='")
            current = open_events.get(key)
            if current is None:
                current = _Open(match["node"], match["time"], match["local"], match["serial"], number)
                if standalone:
                    current.records.append((record_type, record))
                    current.lines.append(line)
                    yield _event(current)
                    continue
                while len(open_events) >= self.MAX_OPEN:
                    yield _event(open_events.popitem(last=False)[1])
                open_events[key] = current
            else:
                open_events.move_to_end(key)
            current.records.append((record_type, record))
            current.lines.append(line)
            current.last_seen = count
            while open_events:
                oldest = next(iter(open_events.values()))
                if count - oldest.last_seen <= self.IDLE_RECORDS:
                    break
                open_events.popitem(last=False)
                yield _event(oldest)
        for pending in open_events.values():
            yield _event(pending)


class AuditSyslogParser(MessageParser):
    """Audit records in syslog: audispd/audisp-syslog lines, and the kernel's ``audit: type=NNNN`` lines."""

    name = "auditd_syslog"
    family = Family.IDENTITY
    description = "Audit records forwarded to syslog (audispd, audisp-syslog, kernel audit: lines), one per line"
    logsources = (AUDITD,)
    programs: ClassVar[frozenset[str]] = frozenset({"audispd", "audisp-syslog", "audit", "auditd", "kernel"})
    priority = 30

    def parse(self, message: str, envelope: Envelope, context: ParseContext) -> Parsed | None:
        match = _RECORD.match(message)
        if match is not None:
            record_type, node, time, local = match["type"], match["node"], match["time"], match["local"]
        else:
            if "audit: type=" not in message[:40]:
                return None
            match = _KERNEL_RECORD.match(message)
            if match is None:
                return None
            number = int(match["number"])
            record_type = _NUMBERED_TYPES.get(number, f"UNKNOWN[{number}]")
            node, time, local = None, match["time"], None
        record = parse_record(record_type, match["body"], local is not None)
        event = _Open(node, time, local, match["serial"], 0, [(record_type, record)], [message])
        parsed = _event(event)
        fields = syslog_fields(envelope, message)
        fields.update(parsed.fields)
        parsed.fields = fields
        parsed.position = None
        parsed.raw = None
        if parsed.timestamp is None:
            parsed.timestamp = envelope.timestamp
        return parsed


PARSERS = (AuditdParser(), AuditSyslogParser())
