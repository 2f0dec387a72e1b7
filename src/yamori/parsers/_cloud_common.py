"""Helpers shared by the cloud record parsers (:mod:`~yamori.parsers.azure`, :mod:`~yamori.parsers.gcp`,
:mod:`~yamori.parsers.okta`, :mod:`~yamori.parsers.m365`): addresses, times, JSON text of nested values, and
one event per element of a wrapper list (``{"records": [...]}``, ``{"value": [...]}``) with the unreadable
elements reported together after the readable ones (the record parser contract has no per-element BadRecord).

No ``PARSERS`` here: this module is not a format.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

import orjson

from yamori.parsers._addresses import canonical_ip
from yamori.parsers.base import Malformed, Parsed
from yamori.parsers.timestamps import parse_iso, utc_iso

__all__ = [
    "MAX_REPORTED",
    "SCALARS",
    "as_dict",
    "as_list",
    "as_str",
    "expand",
    "host_port",
    "ip_address",
    "json_text",
    "kind_of",
    "outcome_of",
    "set_absent",
    "timestamp",
]

MAX_REPORTED = 5
"""Unreadable elements of a wrapper named in its BadRecord."""

SCALARS = (str, int, float, bool)

_BRACKETED = re.compile(r"\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?")
_IPV4_PORT = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})")

_SUCCESS = frozenset({"success", "succeeded", "succeed", "true", "allow", "allowed", "ok", "partiallysucceeded"})
_FAILURE = frozenset({"failure", "failed", "fail", "false", "deny", "denied", "error", "blocked"})


def kind_of(value: Any) -> str:
    """What a JSON value is, for messages (``an array``, ``a string``, ...)."""
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null", dict: "an object"}.get(
        type(value), "a number")


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` when it is an object, else an empty one (sections may be null or missing)."""
    return value if type(value) is dict else {}


def as_list(value: Any) -> list[Any]:
    return value if type(value) is list else []


def as_str(value: Any) -> str | None:
    """A non-empty string, or None."""
    return value if type(value) is str and value else None


def set_absent(fields: dict[str, Any], name: str, value: Any) -> None:
    """Set ``fields[name]`` to a scalar ``value`` unless the name is taken or the value is null/empty/nested."""
    if name not in fields and value is not None and value != "" and isinstance(value, SCALARS):
        fields[name] = value


def json_text(value: Any) -> str:
    """Compact JSON text of a nested value (how Log Analytics compares a dynamic column with a string)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits (hand-built records; orjson reads them as floats)
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def ip_address(value: Any) -> str | None:
    """The address in canonical form when ``value`` is an IPv4/IPv6 address string, else None."""
    if type(value) is not str or not value or len(value) > 64:
        return None
    return canonical_ip(value.strip())


@lru_cache(maxsize=8192)
def _host_port(text: str) -> tuple[str | None, int | None]:
    address = canonical_ip(text)
    if address is not None:
        return address, None
    match = _IPV4_PORT.fullmatch(text) or _BRACKETED.fullmatch(text)
    if match is None:
        return None, None
    port = int(match.group(2)) if match.group(2) else None
    return canonical_ip(match.group(1)), port if port is not None and port <= 65535 else None


def host_port(value: Any) -> tuple[str | None, int | None]:
    """An address with an optional port (``192.0.2.1:51234``, ``[2001:db8::1]:443``, a bare address)."""
    if type(value) is not str or not value or len(value) > 64:
        return None, None
    return _host_port(value.strip())


def timestamp(value: Any) -> str | None:
    """ISO 8601 UTC (``...Z``) of an ISO/RFC 3339 time string (any fraction; no zone: UTC), else None."""
    if type(value) is not str or not value or len(value) > 64:
        return None
    moment = parse_iso(value)
    return utc_iso(moment) if moment is not None else None


def outcome_of(value: Any) -> str:
    """ECS ``event.outcome`` of a result word (``Succeeded``, ``Failure``, ``True``, ``ALLOW``...)."""
    if type(value) is bool:
        return "success" if value else "failure"
    if type(value) is str:
        word = value.strip().lower().rstrip(".")
        if word in _SUCCESS:
            return "success"
        if word in _FAILURE:
            return "failure"
    return "unknown"


def expand(items: Any, label: str, build: Callable[[dict[str, Any]], Parsed | list[Parsed]]) -> Iterator[Parsed]:
    """The events of each element of a wrapper list (position = the element's index, ``index/sub`` when
    ``build`` gives a list; raw = the element unless ``build`` set it); elements that cannot be read are
    reported after the others in one :class:`Malformed` (``label[i]: reason``)."""
    if type(items) is not list:
        raise Malformed(f"{label} is {kind_of(items)}, not an array")
    bad: list[str] = []
    for index, item in enumerate(items):
        try:
            if type(item) is not dict:
                raise Malformed(f"not a JSON object but {kind_of(item)}")
            built = build(item)
        except Malformed as error:
            bad.append(f"{label}[{index}]: {error}")
            continue
        for sub, parsed in enumerate(built) if isinstance(built, list) else ((None, built),):
            own = parsed.position
            where = str(index) if sub is None else f"{index}/{sub}"
            parsed.position = where if own is None else f"{where}/{own}"
            if parsed.raw is None:
                parsed.raw = item
            yield parsed
    if bad:
        more = f" (and {len(bad) - MAX_REPORTED} more)" if len(bad) > MAX_REPORTED else ""
        raise Malformed(f"{len(bad)} of {len(items)} {label} unreadable: " + "; ".join(bad[:MAX_REPORTED]) + more)
