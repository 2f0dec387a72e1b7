"""AWS CloudTrail: API calls, console sign-ins and service events of an AWS account.

Owns every JSON shape CloudTrail events arrive in:

* **Trail files** as CloudTrail writes them to S3: ``{"Records": [event, ...]}`` (one line, or pretty-printed;
  ``.json.gz`` as delivered is read by the gzip container). One event per record; the event's position is the
  record's index (``<position of the file object>/<index>``); the wrapper itself gives no event.
* **Single events**, one object per line or as elements of a JSON array (CloudTrail Lake exports, SIEM
  exports, the console's download), or pretty-printed one after another.
* ``aws cloudtrail lookup-events`` output: items whose event is the JSON *string* under ``CloudTrailEvent``,
  one per line or in an array, or the whole ``{"Events": [...]}`` answer (one event per item, position = its
  index).
* **EventBridge** envelopes (``detail-type: "AWS API Call via CloudTrail"``, ``"AWS Console Sign In via
  CloudTrail"``, ...): the event is ``detail``.

Fields: the event's original fields flattened with dots, exactly the names SigmaHQ's ``aws/cloudtrail`` rules
use (``eventName``, ``eventSource``, ``userIdentity.type``, ``userIdentity.arn``, ``requestParameters.userName``,
``responseElements.ConsoleLogin``, ``additionalEventData.MFAUsed``, ``errorCode``, ...); lists of objects
become one multi-valued field per leaf (``resources.ARN``). ``requestParameters`` and ``responseElements``
are also kept whole, as compact JSON text under their own names, because SigmaHQ rules search them as one
value (``requestParameters|contains: 'Suspended'``); when CloudTrail writes them as ``null`` they stay ``None``.

ECS: ``cloud.provider`` (``aws``), ``cloud.region``, ``cloud.account.id`` (``recipientAccountId``, else the
caller's account), ``event.kind``, ``event.action`` (``eventName``), ``event.provider`` (``eventSource``),
``event.id`` (``eventID``), ``event.outcome`` (``failure`` with an ``errorCode`` or a ``ConsoleLogin`` of
``Failure``), ``event.category``/``event.type`` (``authentication`` for sign-ins and STS credentials, ``iam``
for IAM, ``configuration`` for other changing calls; the type from the verb: ``creation``, ``deletion``, else
``change``), ``user.name`` (``userIdentity.userName``, else the last
part of the caller's ARN: the role session, ``root``), ``user.id`` (``principalId``), ``user.target.name``
(the IAM user a call acts on), ``source.ip`` when ``sourceIPAddress`` is an address, else ``source.address``
(and ``source.domain`` for AWS service names such as ``secretsmanager.amazonaws.com``),
``user_agent.original``, ``error.code``, ``error.message``, ``@timestamp`` from ``eventTime``. Two Sigma
taxonomy names SigmaHQ rules expect beside the native ones: ``src_ip`` (= ``source.ip``) and ``status``
(``success``/``failure``). Logsource ``product: aws, service: cloudtrail``.

Malformed: an event without a readable ``eventTime`` or ``eventName``, a ``CloudTrailEvent`` string that is not
a JSON object, an EventBridge ``detail`` that is not a CloudTrail event. In a ``Records`` (or ``Events``) file
each unreadable record is a BadRecord of its own, at ``<file object's position>/<record index>``, and the
records around it still become events.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

import orjson

from yamori.events import BadRecord
from yamori.parsers.base import Family, Malformed, ParseContext, Parsed, RecordParser, logsource
from yamori.parsers.generic import flatten_json
from yamori.parsers.timestamps import parse_iso, utc_iso

__all__ = ["CLOUDTRAIL", "CloudTrailParser", "is_cloudtrail_event"]

CLOUDTRAIL = logsource("aws", None, "cloudtrail")

_ECS = {
    "eventName": "event.action",
    "eventSource": "event.provider",
    "eventID": "event.id",
    "awsRegion": "cloud.region",
    "recipientAccountId": "cloud.account.id",
    "userIdentity.accountId": "cloud.account.id",
    "userIdentity.principalId": "user.id",
    "userAgent": "user_agent.original",
    "errorCode": "error.code",
    "errorMessage": "error.message",
}

_UTC_SECONDS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")  # what CloudTrail writes: already ISO UTC
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_HOSTNAME = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_VIA_CLOUDTRAIL = "via CloudTrail"
_KEPT_WHOLE = ("requestParameters", "responseElements")

_CREATION = re.compile(r"(?:Create|Add|Attach|Upload|Register|Run|Import|Allocate|Copy)(?![a-z])")
_DELETION = re.compile(r"(?:Delete|Remove|Detach|Deregister|Terminate|Release)(?![a-z])")
_IAM_USER = re.compile(r"User|LoginProfile|AccessKey|MFADevice|SSHPublicKey|ServiceSpecificCredential|"
                       r"SigningCertificate")
_STS_AUTH = re.compile(r"AssumeRole|GetSessionToken|GetFederationToken")
_NOT_CALLS = frozenset({"AwsServiceEvent", "AwsCloudTrailInsight"})  # eventType values that are not a caller's call
_IAM_SOURCES = frozenset({"iam.amazonaws.com", "identitystore.amazonaws.com", "sso-directory.amazonaws.com"})


def is_cloudtrail_event(record: Mapping[str, Any]) -> bool:
    """True for one CloudTrail event object (not a wrapper): an ``eventSource`` that is a service domain and an
    ``eventName`` (S3 event notifications, with ``eventSource: "aws:s3"``, are not CloudTrail)."""
    source = record.get("eventSource")
    return (type(source) is str and "." in source and "eventName" in record
            and ("eventVersion" in record or "eventTime" in record or "userIdentity" in record))


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null", dict: "an object"}.get(
        type(value), "a number")


@lru_cache(maxsize=4096)
def _timestamp(text: str) -> str | None:
    if _UTC_SECONDS.fullmatch(text):
        return text
    moment = parse_iso(text)
    return utc_iso(moment) if moment is not None else None


@lru_cache(maxsize=4096)
def _source_fields(address: str) -> tuple[tuple[str, str], ...]:
    """The ECS fields of a ``sourceIPAddress``: an IP address, or an AWS service name / ``AWS Internal``."""
    dotted_quad = _IPV4.fullmatch(address) is not None
    if dotted_quad or ":" in address:
        try:
            ip = str(ipaddress.ip_address(address))
        except ValueError:
            pass
        else:
            return ("source.ip", ip), ("src_ip", ip)
    if not dotted_quad and _HOSTNAME.fullmatch(address):
        return ("source.address", address), ("source.domain", address)
    return (("source.address", address),)


@lru_cache(maxsize=4096)
def _category(source: str, name: str, read_only: bool,
              event_type: str | None) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """ECS ``event.category`` and ``event.type`` of an event, or None when no category fits (read-only calls
    outside IAM, service events, Insights events)."""
    if event_type in _NOT_CALLS:
        return None
    if source == "signin.amazonaws.com":
        if name == "ConsoleLogin":
            return ("authentication",), ("start",)
        if name in ("ConsoleLogout", "ExitRole"):
            return ("authentication",), ("end",)
        return ("authentication",), ("info",)
    if source == "sts.amazonaws.com":
        return (("authentication",), ("info",)) if _STS_AUTH.match(name) else None
    if read_only:
        return (("iam",), ("info",)) if source in _IAM_SOURCES else None
    if _CREATION.match(name):
        action = "creation"
    elif _DELETION.match(name):
        action = "deletion"
    else:
        action = "change"
    if source in _IAM_SOURCES:
        if _IAM_USER.search(name):
            return ("iam",), ("user", action)
        if "Group" in name:
            return ("iam",), ("group", action)
        return ("iam",), (action,)
    return ("configuration",), (action,)


def _user_name(identity: Mapping[str, Any]) -> str | None:
    name = identity.get("userName")
    if type(name) is str and name:
        return name
    arn = identity.get("arn")
    if type(arn) is str and arn:
        return arn.rsplit("/", 1)[-1] if "/" in arn else arn.rsplit(":", 1)[-1]
    return None


class CloudTrailParser(RecordParser):
    """AWS CloudTrail events: trail files, single events, lookup-events items, EventBridge envelopes."""

    name = "cloudtrail"
    family = Family.CLOUD
    description = ("AWS CloudTrail: {\"Records\": [...]} trail files (also .json.gz), single events, "
                   "lookup-events (CloudTrailEvent), EventBridge envelopes")
    logsources = (CLOUDTRAIL,)
    ecs = _ECS
    priority = 20

    def accepts(self, record: Mapping[str, Any], context: ParseContext) -> bool:
        if "eventSource" in record:
            return is_cloudtrail_event(record)
        records = record.get("Records")
        if records is not None:
            return type(records) is list and (not records or any(
                type(item) is dict and is_cloudtrail_event(item) for item in records))
        trail_event = record.get("CloudTrailEvent")
        if trail_event is not None:
            return type(trail_event) is str or type(trail_event) is dict
        items = record.get("Events")
        if type(items) is list:
            return any(type(item) is dict and "CloudTrailEvent" in item for item in items)
        detail_type = record.get("detail-type")
        return type(detail_type) is str and detail_type.endswith(_VIA_CLOUDTRAIL) and type(record.get("detail")) is dict

    def parse(self, record: dict[str, Any], context: ParseContext) -> Iterator[Parsed | BadRecord]:
        if "eventSource" in record:
            yield self._event(record)
        elif "Records" in record:
            yield from self._expand(record["Records"], "Records", context, unwrap=False)
        elif "CloudTrailEvent" in record:
            yield self._event(_decode(record["CloudTrailEvent"]))
        elif "Events" in record:
            yield from self._expand(record["Events"], "Events", context, unwrap=True)
        else:
            detail = record.get("detail")
            if type(detail) is not dict or not is_cloudtrail_event(detail):
                raise Malformed("EventBridge envelope whose detail is not a CloudTrail event")
            yield self._event(detail)

    def _expand(self, items: Any, label: str, context: ParseContext, *,
                unwrap: bool) -> Iterator[Parsed | BadRecord]:
        """One event per element of a ``Records``/``Events`` list, a BadRecord per unreadable element."""
        if type(items) is not list:
            raise Malformed(f"{label} is {_kind(items)}, not an array")
        for index, item in enumerate(items):
            try:
                if type(item) is not dict:
                    raise Malformed(f"not a JSON object but {_kind(item)}")
                parsed = self._event(_decode(item.get("CloudTrailEvent")) if unwrap else item)
            except Malformed as error:
                yield context.bad(index, f"{label}[{index}]: {error}", repr(item))
                continue
            parsed.position = str(index)
            parsed.raw = item
            yield parsed

    def _event(self, event: dict[str, Any]) -> Parsed:
        if not is_cloudtrail_event(event):
            raise Malformed("not a CloudTrail event (no eventSource service name and eventName)")
        name = event["eventName"]
        if type(name) is not str or not name:
            raise Malformed(f"eventName is {_kind(name)}")
        time = event.get("eventTime")
        if type(time) is not str:
            raise Malformed("no eventTime" if time is None else f"eventTime is {_kind(time)}")
        timestamp = _timestamp(time)
        if timestamp is None:
            raise Malformed(f"eventTime {time[:64]!r} is not a time")
        identity = event.get("userIdentity")
        if identity is None:
            identity = {}
        elif type(identity) is not dict:
            raise Malformed(f"userIdentity is {_kind(identity)}")

        fields = flatten_json(event)
        for key in _KEPT_WHOLE:
            value = event.get(key)
            if type(value) is dict:
                fields[key] = orjson.dumps(value).decode()
        source = event["eventSource"]
        fields["cloud.provider"] = "aws"
        fields["event.kind"] = "event"
        fields["event.dataset"] = "aws.cloudtrail"

        outcome = "success"
        if event.get("errorCode"):
            outcome = "failure"
        elif name == "ConsoleLogin":
            response = event.get("responseElements")
            if type(response) is dict and response.get("ConsoleLogin") == "Failure":
                outcome = "failure"
        fields["event.outcome"] = outcome
        fields["status"] = outcome

        event_type = event.get("eventType")
        category = _category(source, name, event.get("readOnly") is True,
                             event_type if type(event_type) is str else None)
        if category is not None:
            fields["event.category"] = list(category[0])
            fields["event.type"] = list(category[1])

        user = _user_name(identity)
        if user is not None:
            fields["user.name"] = user
        if source in _IAM_SOURCES:
            parameters = event.get("requestParameters")
            if type(parameters) is dict:
                target = parameters.get("userName")
                if type(target) is str and target:
                    fields["user.target.name"] = target

        address = event.get("sourceIPAddress")
        if type(address) is str and address:
            for key, value in _source_fields(address):
                fields[key] = value
        return Parsed(fields, CLOUDTRAIL, timestamp)


def _decode(value: Any) -> dict[str, Any]:
    """The event under ``CloudTrailEvent``: a JSON string (as lookup-events returns it) or already an object."""
    if type(value) is dict:
        return value
    if type(value) is not str:
        raise Malformed("no CloudTrailEvent" if value is None else f"CloudTrailEvent is {_kind(value)}")
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError as error:
        raise Malformed(f"CloudTrailEvent is not valid JSON: {error}") from None
    if type(decoded) is not dict:
        raise Malformed(f"CloudTrailEvent holds {_kind(decoded)}, not an object")
    return decoded


PARSERS = (CloudTrailParser(),)
