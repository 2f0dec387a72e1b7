"""Nginx access logs written as JSON (``log_format name escape=json '{"remote_addr":"$remote_addr",...}'``).

A JSON record is one when its keys are Nginx variable names that only an access log has together: the client
(``remote_addr``), the status (``status``) and the request (``request``, or ``request_method`` with
``request_uri``/``uri``). Values may be strings (as ``escape=json`` writes every variable) or numbers.

Fields read (any subset; every key is kept under its own name, nested objects flattened with dots):
``remote_addr``, ``remote_port``, ``remote_user``, ``time_local``, ``time_iso8601``, ``msec`` (and ``time``,
``timestamp``, ``@timestamp`` when they hold a time), ``request``, ``request_method``, ``request_uri``, ``uri``,
``args``/``query_string``, ``server_protocol``, ``status``, ``body_bytes_sent``, ``bytes_sent``,
``request_length``, ``request_time``, ``http_referer`` (also ``http_referrer``, ``referer``),
``http_user_agent``, ``http_x_forwarded_for``, ``host``/``http_host``/``server_name``, ``server_port``,
``upstream_addr``, ``upstream_response_time``, ``ssl_protocol``.

Sigma names and ECS as the text access logs (:mod:`yamori.parsers.access_log`): ``c-ip``, ``cs-username``,
``cs-method``, ``cs-uri-stem``, ``cs-uri-query`` (path and query), ``cs-uri``, ``cs-version``, ``sc-status``,
``sc-bytes``, ``cs-referer``, ``cs-user-agent``, ``cs-host``; ``source.ip``/``source.port``, ``user.name``,
``url.*``, ``http.*``, ``user_agent.original``, ``network.forwarded_ip``, ``event.duration`` (from
``request_time``), ``event.category: [web]``, ``event.type: [access]``, ``event.outcome``.

Logsource: ``category: webserver``, ``service: nginx``; ``event.dataset: nginx.access``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

from yamori.parsers.access_log import access_fields, clf_time, is_ip
from yamori.parsers.base import Family, Malformed, ParseContext, Parsed, RecordParser, logsource
from yamori.parsers.generic import flatten_json
from yamori.parsers.timestamps import from_epoch, parse_iso, utc_iso

__all__ = ["NginxJsonParser"]

WEBSERVER_NGINX = logsource(None, "webserver", "nginx")

_REQUEST_KEYS = ("request", "request_method", "request_uri")
_TIME_KEYS = ("time_iso8601", "time_local", "msec", "@timestamp", "timestamp", "time")
_REFERER_KEYS = ("http_referer", "http_referrer", "referer", "referrer")
_HOST_KEYS = ("host", "http_host", "server_name")


def _text(value: Any) -> str | None:
    """A scalar as text; None for absent, empty, ``-`` and non-scalars."""
    if type(value) is str:
        return value if value and value != "-" else None
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = str(value)
    return text if text and text != "-" else None


def _first_text(record: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = record.get(key)
        if value is not None:
            text = _text(value)
            if text is not None:
                return text
    return None


def _number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 19:
        return int(value)
    return None


_TIMES: dict[str, str | None] = {}


def _time(value: Any) -> str | None:
    if type(value) is str:
        if value in _TIMES:
            return _TIMES[value]
        if len(_TIMES) > 20000:
            _TIMES.clear()
        result = _TIMES[value] = _parse_time(value)
        return result
    return _parse_time(value)


def _parse_time(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return from_epoch(value)
    if not isinstance(value, str) or not value:
        return None
    if value[:1].isdigit():
        if "/" in value[:6]:
            return clf_time(value)
        if value.replace(".", "", 1).isdigit():
            return from_epoch(value)
        moment = parse_iso(value)
        return utc_iso(moment) if moment is not None else None
    return None


class NginxJsonParser(RecordParser):
    """Nginx access logs in JSON (``escape=json`` log formats with Nginx variable names)."""

    name = "nginx_json"
    family = Family.WEB
    description = "Nginx JSON access logs (log_format escape=json)"
    logsources = (WEBSERVER_NGINX,)
    priority = 45

    def accepts(self, record: Mapping[str, Any], context: ParseContext) -> bool:
        return ("remote_addr" in record and "status" in record
                and any(key in record for key in _REQUEST_KEYS))

    def parse(self, record: dict[str, Any], context: ParseContext) -> Iterable[Parsed]:
        fields = flatten_json(record)
        status_value = record.get("status")
        status = _number(status_value)
        if status is None and _text(status_value) is not None:
            raise Malformed(f"status is not a number: {str(status_value)[:40]!r}")
        request = _text(record.get("request"))
        method = _text(record.get("request_method"))
        protocol = _text(record.get("server_protocol"))
        if request is None and method is not None:
            uri = _text(record.get("request_uri"))
            if uri is None:
                uri = _text(record.get("uri"))
                query = _text(record.get("args")) or _text(record.get("query_string"))
                if uri is not None and query is not None:
                    uri = f"{uri}?{query}"
            if uri is not None:
                request = f"{method} {uri} {protocol}" if protocol else f"{method} {uri}"
        size = _number(record.get("body_bytes_sent"))
        if size is None:
            size = _number(record.get("bytes_sent"))
        referer = _first_text(record, _REFERER_KEYS)
        host = _first_text(record, _HOST_KEYS)
        access_fields(fields, _text(record.get("remote_addr")), _text(record.get("remote_user")), request,
                      status, size, referer, _text(record.get("http_user_agent")), host)
        port = _number(record.get("remote_port"))
        if port is not None:
            fields["source.port"] = port
        forwarded = _text(record.get("http_x_forwarded_for"))
        if forwarded is not None:
            first = forwarded.split(",", 1)[0].strip()
            if is_ip(first):
                fields["network.forwarded_ip"] = first
        duration = _text(record.get("request_time"))
        if duration is not None:
            with contextlib.suppress(ValueError, OverflowError):
                fields["event.duration"] = int(float(duration) * 1_000_000_000)
        fields["event.dataset"] = "nginx.access"
        timestamp = None
        for key in _TIME_KEYS:
            if key in record:
                timestamp = _time(record[key])
                if timestamp is not None:
                    break
        return [Parsed(fields, WEBSERVER_NGINX, timestamp)]


PARSERS = (NginxJsonParser(),)
