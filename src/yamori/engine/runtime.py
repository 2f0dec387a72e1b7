"""Helpers that compiled rule code calls: string forms of values (memoized per event) and predicates.

``e`` is an event's fields, ``m`` its Memo: ``lw(e, m, field)`` gives the lower-cased string forms of a field as a
tuple (empty when absent or null; one item per element of a list) and keeps them in ``m[field]``;
``cs(e, m, field)`` the same without lower-casing.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

SEPARATOR = "\x1e"  # between values in the prefilter haystack; rare in logs, never NUL (Hyperscan)
_ALL = "\x00all"
_ALL_CASED = "\x00allc"
CASED = "\x01"  # memo key prefix of a field's forms without lower-casing


def form(value: Any) -> str:
    """The string form of a scalar value (docs/semantics.md)."""
    cls = value.__class__
    if cls is str:
        return value  # type: ignore[no-any-return]
    if cls is bool:
        return "true" if value else "false"
    if cls is int:
        return str(value)
    if cls is float:
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def forms(value: Any) -> tuple[str, ...]:
    """String forms of a field value: none for absent/null, one per non-null element for a list."""
    if value is None:
        return ()
    if value.__class__ is list:
        return tuple(form(v) for v in value if v is not None and v.__class__ is not list)
    return (form(value),)


Memo = dict[str, tuple[str, ...]]
"""Per-event memo of string forms. A plain dict on purpose: indexing a dict subclass goes through a Python-level
``__getitem__`` lookup (``dict.__getitem__`` is not a slot), several times slower than the specialized dict
index the generated code gets with ``m[f] if f in m else lw(e, m, f)``."""


def lw(e: dict[str, Any], m: Memo, f: str) -> tuple[str, ...]:
    """The lower-cased string forms of field ``f`` (memoized in ``m``)."""
    v: Any = e.get(f)
    cls = v.__class__
    if cls is str:
        r: tuple[str, ...] = (v.lower(),)
    elif cls is int:
        r = (f"{v}",)  # digits have no case
    elif v is None:
        r = ()
    else:
        r = tuple([s.lower() for s in forms(v)])
    m[f] = r
    return r


def cs(e: dict[str, Any], m: Memo, f: str) -> tuple[str, ...]:
    key = CASED + f
    r = m.get(key)
    if r is None:
        v: Any = e.get(f)
        r = (v,) if v.__class__ is str else forms(v)
        m[key] = r
    return r


def al(e: dict[str, Any], m: Memo) -> tuple[str, ...]:
    """Lower-cased string forms of every field value (for keywords)."""
    r = m.get(_ALL)
    if r is None:
        r = tuple(s.lower() for s in alc(e, m))
        m[_ALL] = r
    return r


def alc(e: dict[str, Any], m: Memo) -> tuple[str, ...]:
    r = m.get(_ALL_CASED)
    if r is None:
        r = tuple(s for v in e.values() for s in forms(v))
        m[_ALL_CASED] = r
    return r


def allraw(e: dict[str, Any]) -> list[Any]:
    """Every field value, list elements taken one by one (for keyword comparisons)."""
    return [x for v in e.values() for x in (v if v.__class__ is list else (v,))]


def sw(values: tuple[str, ...], prefixes: tuple[str, ...]) -> bool:
    for s in values:
        if s.startswith(prefixes):
            return True
    return False


def ew(values: tuple[str, ...], suffixes: tuple[str, ...]) -> bool:
    for s in values:
        if s.endswith(suffixes):
            return True
    return False


def ct(values: tuple[str, ...], needles: tuple[str, ...]) -> bool:
    for s in values:
        for n in needles:
            if n in s:
                return True
    return False


class LazyAutomaton:
    """An Aho-Corasick automaton over many needles, built on first use (``contains`` with a long value list)."""

    __slots__ = ("_find", "needles")

    def __init__(self, needles: tuple[str, ...]) -> None:
        self.needles = needles
        self._find: Any = None

    def __reduce__(self) -> tuple[type[LazyAutomaton], tuple[tuple[str, ...]]]:
        return (LazyAutomaton, (self.needles,))

    def find(self, text: str) -> Any:
        if self._find is None:
            import ahocorasick_rs

            self._find = ahocorasick_rs.AhoCorasick(list(self.needles)).find_matches_as_indexes
        return self._find(text)


def cta(values: tuple[str, ...], automaton: LazyAutomaton) -> bool:
    """``ct`` for many needles: one automaton pass per value instead of a loop over needles."""
    for s in values:
        if automaton.find(s):
            return True
    return False


class LazyPattern:
    """A regular expression compiled on first use, so that loading thousands of rules stays fast."""

    __slots__ = ("_compiled", "flags", "source")

    def __init__(self, source: str, flags: int) -> None:
        self.source = source
        self.flags = flags
        self._compiled: re.Pattern[str] | None = None

    def __reduce__(self) -> tuple[type[LazyPattern], tuple[str, int]]:
        return (LazyPattern, (self.source, self.flags))

    @property
    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self.source, self.flags)
        return self._compiled


def gl(values: tuple[str, ...], pattern: LazyPattern) -> bool:
    full = pattern.compiled.fullmatch
    for s in values:
        if full(s) is not None:
            return True
    return False


def seq(values: tuple[str, ...], segments: tuple[str, ...], dotall: bool) -> bool:
    """A regex made only of literal segments joined by ``.*``: the segments occur in order (within one line
    unless DOTALL). Same answer as ``re.search``, in linear time instead of backtracking."""
    for s in values:
        for line in ((s,) if dotall else s.split("\n")):
            position = 0
            for segment in segments:
                position = line.find(segment, position)
                if position < 0:
                    break
                position += len(segment)
            else:
                return True
    return False


def rxl(values: tuple[str, ...], pattern: LazyPattern, literal: str) -> bool:
    """``rx`` with a cheap test first: the regex cannot match a value lacking its required literal."""
    search = pattern.compiled.search
    for s in values:
        if literal in s and search(s) is not None:
            return True
    return False


def rx(values: tuple[str, ...], pattern: LazyPattern) -> bool:
    search = pattern.compiled.search
    for s in values:
        if search(s) is not None:
            return True
    return False


def _ip_number(text: str) -> tuple[int, int] | None:
    """(IP version, address as integer) as ``ipaddress.ip_address`` reads it, or None; canonical IPv4 (all
    that Windows logs hold, almost) through ``inet_pton``, 8x faster, everything else through ipaddress."""
    try:
        packed = socket.inet_pton(socket.AF_INET, text)
    except OSError:
        pass
    else:
        if socket.inet_ntop(socket.AF_INET, packed) == text:  # ipaddress refuses leading zeros
            return 4, int.from_bytes(packed, "big")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return address.version, int(address)


def cidr(values: tuple[str, ...], ranges: Sequence[tuple[int, int, int]]) -> bool:
    """Some value is an IP address inside one of ``ranges``: (IP version, first, last address as integers)."""
    for s in values:
        parsed = _ip_number(s)
        if parsed is None:
            continue
        version, number = parsed
        for net_version, first, last in ranges:
            if version == net_version and first <= number <= last:
                return True
    return False


def cidr_ranges(networks: Sequence[str]) -> tuple[tuple[int, int, int], ...]:
    nets = [ipaddress.ip_network(n, strict=False) for n in networks]
    return tuple((n.version, int(n.network_address), int(n.broadcast_address)) for n in nets)


_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _number(value: Any) -> int | float | None:
    """The number a value stands for in a comparison: a number, or a string in plain decimal syntax."""
    cls = value.__class__
    if cls is int or cls is float:
        return value  # type: ignore[no-any-return]
    if cls is str:
        if _INTEGER.fullmatch(value):
            return int(value)
        if _DECIMAL.fullmatch(value):
            return float(value)
    return None


def isnull(value: Any) -> bool:
    """Absent or null; for a list, some element is null."""
    return value is None or (value.__class__ is list and None in value)


def cmp(value: Any, op: str, number: int | float) -> bool:
    for item in value if value.__class__ is list else (value,):
        n = _number(item)
        if n is None:
            continue
        if (op == "gt" and n > number) or (op == "gte" and n >= number) or \
                (op == "lt" and n < number) or (op == "lte" and n <= number):
            return True
    return False


def fr(left: tuple[str, ...], right: tuple[str, ...], mode: str) -> bool:
    for a in left:
        for b in right:
            if (mode == "eq" and a == b) or (mode == "prefix" and a.startswith(b)) or \
                    (mode == "suffix" and a.endswith(b)) or (mode == "contains" and b in a):
                return True
    return False


def _timestamp(value: Any) -> datetime | None:
    """A time from an ISO 8601 string (UTC when no offset), or from epoch seconds."""
    if value.__class__ is str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=UTC)
            try:
                return parsed.astimezone(UTC)
            except OverflowError:
                return None
    number = _number(value)
    if number is None:
        return None
    try:
        return datetime.fromtimestamp(number, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def tp(value: Any, part: str, number: int) -> bool:
    for item in value if value.__class__ is list else (value,):
        moment = _timestamp(item)
        if moment is None:
            continue
        actual = (moment.minute if part == "minute" else moment.hour if part == "hour" else
                  moment.day if part == "day" else moment.isocalendar().week if part == "week" else
                  moment.month if part == "month" else moment.year)
        if actual == number:
            return True
    return False
