"""Okta System Log events.

Shapes read (JSON; one event per line, the JSON array ``GET /api/v1/logs`` answers with, or pretty-printed):

* **System Log events** (``uuid``, ``published``, ``eventType``, ``legacyEventType``, ``displayMessage``,
  ``severity``, ``actor.*``, ``client.*`` with ``client.ipAddress``, ``client.userAgent.rawUserAgent`` and
  ``client.geographicalContext``, ``outcome.result``/``reason``, ``target[]``, ``transaction``,
  ``debugContext.debugData.*``, ``authenticationContext.*``, ``securityContext.*``, ``request.ipChain[]``);
  sections may be null.
* **Event hook** deliveries (``{"eventType": "com.okta.event_hook", "data": {"events": [...]}}``): one event
  per element (position ``<object>/<index>``; unreadable elements reported together after the others).

Fields: the event's own fields flattened with dots, which are the names SigmaHQ's ``okta`` rules use
(``eventType``, ``displayMessage``, ``actor.alternateId``, ``outcome.result``, ``outcome.reason``,
``debugContext.debugData.requestUri``, ``debugContext.debugData.behaviors``, ``securityContext.isProxy``,
``legacyEventType``); the ``target`` list becomes one multi-valued field per leaf (``target.displayName``,
``target.type``, ``target.alternateId``).

ECS: ``event.action`` (``eventType``), ``event.id`` (``uuid``), ``event.outcome`` (``SUCCESS``/``ALLOW`` ->
``success``, ``FAILURE``/``DENY`` -> ``failure``, else ``unknown``), ``event.reason``, ``event.category`` /
``event.type`` from the event type's family (``user.session``, ``user.authentication``,
``policy.evaluate_sign_on``: ``authentication``;
``user.lifecycle``, ``user.account``, ``group``, ``iam``, ``application.user_membership``: ``iam``;
``policy``, ``zone``, ``system``, ``application``: ``configuration``; ``security.threat``:
``intrusion_detection``), ``user.name``/``user.email``/``user.id``/``user.full_name`` (the actor),
``user.target.name`` (the first User target), ``source.ip`` (``client.ipAddress``), ``source.geo.*``,
``source.as.*``, ``user_agent.original`` (``client.userAgent.rawUserAgent``), ``message`` (``displayMessage``),
``@timestamp`` from ``published``. ``event.dataset``: ``okta.system``.

Logsource ``product: okta, service: okta``. Malformed: no readable ``published``, no ``eventType``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from yamori.parsers._cloud_common import (
    as_dict,
    as_list,
    as_str,
    expand,
    ip_address,
    kind_of,
    outcome_of,
    set_absent,
    timestamp,
)
from yamori.parsers.base import Family, Malformed, ParseContext, Parsed, RecordParser, logsource
from yamori.parsers.generic import flatten_json

__all__ = ["OKTA", "OktaParser", "is_okta_event"]

OKTA = logsource("okta", None, "okta")

_HOOK = "com.okta.event_hook"
# event type prefix -> (event.category, event.type); the longest matching prefix wins
_FAMILIES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("user.session.start", ("authentication", "session"), ("start",)),
    ("user.session.end", ("authentication", "session"), ("end",)),
    ("user.session", ("authentication", "session"), ("info",)),
    ("user.authentication", ("authentication",), ("info",)),
    ("user.mfa", ("authentication", "iam"), ("change",)),
    ("user.lifecycle.create", ("iam",), ("user", "creation")),
    ("user.lifecycle.delete", ("iam",), ("user", "deletion")),
    ("user.lifecycle", ("iam",), ("user", "change")),
    ("user.account", ("iam",), ("user", "change")),
    ("group.user_membership.add", ("iam",), ("group", "change")),
    ("group.user_membership.remove", ("iam",), ("group", "change")),
    ("group.lifecycle.create", ("iam",), ("group", "creation")),
    ("group.lifecycle.delete", ("iam",), ("group", "deletion")),
    ("group", ("iam",), ("group", "change")),
    ("iam", ("iam",), ("admin", "change")),
    ("application.user_membership", ("iam",), ("change",)),
    ("security.threat", ("intrusion_detection",), ("info",)),
    ("policy.evaluate_sign_on", ("authentication",), ("info",)),
    ("policy", ("configuration",), ("change",)),
    ("zone", ("configuration",), ("change",)),
    ("system", ("configuration",), ("change",)),
    ("application", ("configuration",), ("change",)),
)


def _family(event_type: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    for prefix, category, kind in _FAMILIES:
        if event_type == prefix or event_type.startswith(prefix + "."):
            return category, kind
    return None


def is_okta_event(record: Mapping[str, Any]) -> bool:
    return (type(record.get("eventType")) is str and "published" in record and "uuid" in record
            and ("actor" in record or "outcome" in record or "displayMessage" in record))


class OktaParser(RecordParser):
    """Okta System Log events (API answers, exports, event hook deliveries)."""

    name = "okta"
    family = Family.CLOUD
    description = "Okta System Log events (GET /api/v1/logs answers, exports), event hook deliveries"
    logsources = (OKTA,)
    priority = 25

    def accepts(self, record: Mapping[str, Any], context: ParseContext) -> bool:
        if is_okta_event(record):
            return True
        return record.get("eventType") == _HOOK and type(record.get("data")) is dict

    def parse(self, record: dict[str, Any], context: ParseContext) -> Iterator[Parsed]:
        if is_okta_event(record):
            yield _event(record)
        else:
            yield from expand(as_dict(record.get("data")).get("events"), "data.events", _event)


def _event(event: dict[str, Any]) -> Parsed:
    event_type = event.get("eventType")
    if type(event_type) is not str or not event_type:
        raise Malformed(f"eventType is {kind_of(event_type)}")
    moment = timestamp(event.get("published"))
    if moment is None:
        raise Malformed(f"published {str(event.get('published'))[:64]!r} is not a time")
    fields = flatten_json(event)
    fields["event.kind"] = "event"
    fields["event.dataset"] = "okta.system"
    fields["event.action"] = event_type
    set_absent(fields, "event.id", event.get("uuid"))
    set_absent(fields, "message", event.get("displayMessage"))
    outcome = as_dict(event.get("outcome"))
    fields["event.outcome"] = outcome_of(outcome.get("result"))
    set_absent(fields, "event.reason", outcome.get("reason"))
    family = _family(event_type)
    if family is not None:
        fields["event.category"] = list(family[0])
        fields["event.type"] = list(family[1])

    actor = as_dict(event.get("actor"))
    login = as_str(actor.get("alternateId"))
    if login is not None and login != "unknown":
        fields["user.name"] = login
        if "@" in login:
            fields["user.email"] = login
            fields["user.domain"] = login.rpartition("@")[2]
    set_absent(fields, "user.id", actor.get("id"))
    set_absent(fields, "user.full_name", actor.get("displayName"))
    for target in as_list(event.get("target")):
        if type(target) is dict and target.get("type") == "User":
            set_absent(fields, "user.target.name", target.get("alternateId") or target.get("displayName"))
            set_absent(fields, "user.target.id", target.get("id"))
            break

    client = as_dict(event.get("client"))
    ip = ip_address(client.get("ipAddress"))
    if ip is not None:
        fields["source.ip"] = ip
    set_absent(fields, "user_agent.original", as_dict(client.get("userAgent")).get("rawUserAgent"))
    place = as_dict(client.get("geographicalContext"))
    set_absent(fields, "source.geo.city_name", place.get("city"))
    set_absent(fields, "source.geo.region_name", place.get("state"))
    set_absent(fields, "source.geo.country_name", place.get("country"))
    security = as_dict(event.get("securityContext"))
    set_absent(fields, "source.as.number", security.get("asNumber"))
    set_absent(fields, "source.as.organization.name", security.get("asOrg"))
    set_absent(fields, "source.domain", security.get("domain"))
    return Parsed(fields, OKTA, moment)


PARSERS = (OktaParser(),)
