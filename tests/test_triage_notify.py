"""Notification channels against real local servers: a recording HTTP server (generic JSON and Slack webhooks,
secrets from the environment, retries, timeouts) and an aiosmtpd SMTP server (plain, STARTTLS, implicit TLS,
AUTH)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from notifykit import free_port, http_recorder, sample_alert, smtp_recorder
from rsyslog import Certificates, make_certificates
from yamori.triage.notify import (
    EmailChannel,
    NotifyConfigError,
    SlackChannel,
    WebhookChannel,
    channel_from_config,
    channels_from_config,
    email_subject,
    notice_from_alert,
    notice_from_incident,
    scrub,
)

FAST = {"backoff": 0.01}
INCIDENT = {"id": 7, "title": "Credential attack on srv-web-1", "severity": "critical", "status": "open",
            "entities": [{"kind": "host", "value": "srv-web-1"}, ["user", "bob"], {"kind": "ip", "value": "10.0.0.5"}],
            "tactics": ["Credential Access", "Lateral Movement"], "techniques": ["T1110.001", "T1021"],
            "alert_ids": ["a1", "a2"], "event_count": 12, "last_seen": "2026-03-01T08:05:00Z"}


def webhook(url: str, **options: Any) -> WebhookChannel:
    channel = channel_from_config("soar", {"type": "webhook", "url": url, **FAST, **options})
    assert isinstance(channel, WebhookChannel)
    return channel


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("smtp-tls"))


# ---- generic JSON webhook


def test_webhook_posts_the_alert_document_with_secret_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YAMORI_TEST_HOOK_KEY", "key-5f3a9c")
    alert = sample_alert(fields={"TargetUserName": "bob", "Computer": "srv-web-1", "when": object()})
    with http_recorder() as server:
        channel = webhook(server.url + "/hooks/yamori", headers_env={"X-Api-Key": "YAMORI_TEST_HOOK_KEY"})
        result = channel.send(notice_from_alert(alert))
    assert (result.ok, result.status, result.attempts) == (True, 200, 1), result
    [request] = server.requests
    assert request.path == "/hooks/yamori"
    assert request.headers["x-api-key"] == "key-5f3a9c"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-yamori-kind"] == "alert"
    assert request.headers["x-yamori-id"] == alert.alert_id
    body = orjson.loads(request.body)
    expected = alert.to_dict()
    expected["fields"]["when"] = str(expected["fields"]["when"])  # not JSON: sent as its text
    assert body == orjson.loads(orjson.dumps(expected))
    assert body["tactics"] == ["Credential Access"] and body["user"] == "bob" and body["host"] == "srv-web-1"


def test_header_secret_comes_from_a_file_and_is_read_at_each_send(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "hook-key"
    secret.write_text("first-value\n")
    secret.chmod(0o600)
    monkeypatch.delenv("YAMORI_TEST_HOOK_KEY", raising=False)
    monkeypatch.setenv("YAMORI_TEST_HOOK_KEY_FILE", str(secret))
    with http_recorder() as server:
        channel = webhook(server.url, headers_env={"Authorization": "YAMORI_TEST_HOOK_KEY"})
        assert channel.send(notice_from_alert(sample_alert())).ok
        secret.write_text("rotated-value\n")
        assert channel.send(notice_from_alert(sample_alert())).ok
    assert [r.headers["authorization"] for r in server.requests] == ["first-value", "rotated-value"]
    assert "first-value" not in repr(channel)


def test_webhook_posts_an_incident_dict_as_it_is() -> None:
    with http_recorder() as server:
        result = webhook(server.url).send(notice_from_incident(INCIDENT))
    assert result.ok
    [request] = server.requests
    assert orjson.loads(request.body) == INCIDENT
    assert request.headers["x-yamori-kind"] == "incident" and request.headers["x-yamori-id"] == "7"


@pytest.mark.parametrize("first", [500, 502, 503, 429, 408])
def test_transient_failure_is_retried_then_succeeds(first: int) -> None:
    with http_recorder() as server:
        server.plan = [first, 200]
        result = webhook(server.url).send(notice_from_alert(sample_alert()))
    assert (result.ok, result.attempts, result.status) == (True, 2, 200)
    assert len(server.requests) == 2
    # the same delivery id on the retry, so that the receiver can drop a duplicate
    assert server.requests[0].headers["x-yamori-delivery"] == server.requests[1].headers["x-yamori-delivery"]


def test_retries_are_bounded() -> None:
    with http_recorder() as server:
        server.plan = [500] * 10
        result = webhook(server.url, tries=3).send(notice_from_alert(sample_alert()))
    assert (result.ok, result.attempts, result.status) == (False, 3, 500)
    assert result.detail.startswith("HTTP 500")
    assert len(server.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_client_errors_are_not_retried(status: int) -> None:
    with http_recorder() as server:
        server.plan = [(status, "no such hook")]
        result = webhook(server.url).send(notice_from_alert(sample_alert()))
    assert (result.ok, result.attempts, result.status) == (False, 1, status)
    assert result.detail == f"HTTP {status}: no such hook"


def test_connection_refused_is_retried_and_reported() -> None:
    result = webhook(f"http://127.0.0.1:{free_port()}/").send(notice_from_alert(sample_alert()))
    assert (result.ok, result.attempts, result.status) == (False, 3, None)
    assert "ConnectError" in result.detail


def test_a_hanging_server_fails_within_the_timeout() -> None:
    with http_recorder() as server:
        server.plan = ["hang"]
        started = time.monotonic()
        result = webhook(server.url, timeout=0.5).send(notice_from_alert(sample_alert()))
        elapsed = time.monotonic() - started
    assert not result.ok and result.detail.startswith("timed out")
    assert 0.45 <= elapsed < 1.5 and result.seconds < 1.5


def test_a_token_in_the_url_never_reaches_the_detail(monkeypatch: pytest.MonkeyPatch) -> None:
    with http_recorder() as server:
        monkeypatch.setenv("YAMORI_TEST_HOOK_URL", server.url + "/services/T0/B0/SeCrEtToKeN")
        server.plan = [(403, "invalid token for /services/T0/B0/SeCrEtToKeN")]
        channel = channel_from_config("hook", {"type": "webhook", "url_env": "YAMORI_TEST_HOOK_URL"})
        result = channel.send(notice_from_alert(sample_alert()))
    assert server.requests[0].path == "/services/T0/B0/SeCrEtToKeN"
    assert not result.ok and "SeCrEtToKeN" not in result.detail and "***" in result.detail


def test_scrub_replaces_longest_secrets_first() -> None:
    assert scrub("GET https://h/x/tok-123 failed, tok-123", ["https://h/x/tok-123", "tok-123"]) == \
        "GET *** failed, ***"


# ---- Slack-compatible webhook


def slack(url: str, **options: Any) -> SlackChannel:
    channel = channel_from_config("soc-slack", {"type": "slack", "url": url, **options})
    assert isinstance(channel, SlackChannel)
    return channel


def test_slack_message_shape_with_link() -> None:
    alert = sample_alert(severity="critical", severity_reasons=["critical asset srv-web-1"])
    with http_recorder() as server:
        result = slack(server.url, console_url="https://yamori.example/ui").send(notice_from_alert(alert))
    assert result.ok
    body = orjson.loads(server.requests[0].body)
    assert set(body) == {"text", "blocks"}
    link = "https://yamori.example/ui/alerts/42-0-brute"
    assert body["text"] == (f"[CRITICAL] Yamori alert: Brute force against srv-web-1 (host srv-web-1, user bob, "
                            f"ip 10.0.0.5) <{link}|open in Yamori>")
    header, section, context, actions = body["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text",
                                                 "text": "CRITICAL: Brute force against srv-web-1"}}
    fields = [field["text"] for field in section["fields"]]
    assert all(field["type"] == "mrkdwn" for field in section["fields"])
    for expected in ("*Severity*\ncritical", "*Rule*\n5d1c-brute", "*Host*\nsrv-web-1", "*User*\nbob",
                     "*IP*\n10.0.0.5", "*Events*\n3", "*ATT&amp;CK tactics*\nCredential Access",
                     "*ATT&amp;CK techniques*\nT1110.001", "*Rule level*\nhigh"):
        assert expected in fields
    assert context["type"] == "context" and "42-0-brute" in context["elements"][0]["text"]
    assert actions["elements"][0]["url"] == link


def test_slack_without_console_url_has_no_link_and_escapes_markup() -> None:
    alert = sample_alert(title="Logon <admin> & friends", tags=())
    with http_recorder() as server:
        assert slack(server.url).send(notice_from_alert(alert)).ok
    body = orjson.loads(server.requests[0].body)
    assert [block["type"] for block in body["blocks"]] == ["header", "section", "context"]
    assert "Logon &lt;admin&gt; &amp; friends" in body["text"] and "<admin>" not in body["text"]
    assert body["blocks"][0]["text"]["text"] == "HIGH: Logon <admin> & friends"  # plain_text: no markup
    fields = [field["text"] for field in body["blocks"][1]["fields"]]
    assert not any("ATT&amp;CK" in field for field in fields)


def test_slack_incident_link_uses_a_template() -> None:
    with http_recorder() as server:
        channel = slack(server.url, console_url="https://yamori.example/#/{kind}/{id}")
        assert channel.send(notice_from_incident(INCIDENT)).ok
    body = orjson.loads(server.requests[0].body)
    assert body["blocks"][-1]["elements"][0]["url"] == "https://yamori.example/#/incident/7"
    fields = [field["text"] for field in body["blocks"][1]["fields"]]
    assert "*ATT&amp;CK tactics*\nCredential Access, Lateral Movement" in fields
    assert "*Events*\n12" in fields and "*Status*\nopen" in fields and "*Alerts*\n2" in fields


def test_console_url_is_inherited_from_notify() -> None:
    channels = channels_from_config({"console_url": "https://yamori.example",
                                     "channels": {"s": {"type": "slack", "url": "http://127.0.0.1:9/"}}})
    assert isinstance(channels["s"], SlackChannel) and channels["s"].console_url == "https://yamori.example"


# ---- channel configuration


@pytest.mark.parametrize(("entry", "message"), [
    ({}, "type is required"),
    ({"type": "pager"}, "type must be one of webhook, slack, email"),
    ({"type": "webhook"}, "exactly one of url and url_env"),
    ({"type": "webhook", "url": "http://a/", "url_env": "YAMORI_TEST_SET"}, "exactly one of url and url_env"),
    ({"type": "webhook", "url": "ftp://a/"}, "not an http(s) URL"),
    ({"type": "webhook", "url": "https://user:pw@a/"}, "credentials in a URL are secrets"),
    ({"type": "slack", "url": "https://hooks.slack.com/services/T/B/x"}, "Slack webhook URL is a secret"),
    ({"type": "webhook", "url_env": "YAMORI_TEST_UNSET"}, "$YAMORI_TEST_UNSET (or $YAMORI_TEST_UNSET_FILE) is not set"),
    ({"type": "webhook", "url": "http://a/", "headers_env": {"X-Key": "YAMORI_TEST_UNSET"}}, "is not set"),
    ({"type": "webhook", "url": "http://a/", "headers_env": {"X Key": "YAMORI_TEST_SET"}}, "header name"),
    ({"type": "webhook", "url": "http://a/", "headers_env": {"X-Key": "Bearer abc"}}, "never goes in"),
    ({"type": "webhook", "url": "http://a/", "header": {}}, "unknown key(s): header"),
    ({"type": "webhook", "url": "http://a/", "timeout": 0}, "timeout must be between"),
    ({"type": "webhook", "url": "http://a/", "tries": 2.5}, "tries must be an integer"),
    ({"type": "webhook", "url": "http://a/", "tries": True}, "tries must be an integer"),
    ({"type": "email", "host": "h", "from": "y@x.org"}, "to must list at least one recipient"),
    ({"type": "email", "host": "h", "from": "y@x.org", "to": ["nobody"]}, "not an email address"),
    ({"type": "email", "host": "h", "to": ["a@x.org"]}, "from is required"),
    ({"type": "email", "host": "h", "from": "y@x.org", "to": ["a@x.org"], "password": "hunter2"},
     "unknown key(s): password"),
    ({"type": "email", "host": "h", "from": "y@x.org", "to": ["a@x.org"], "username": "u"}, "needs password_env"),
    ({"type": "email", "host": "h", "from": "y@x.org", "to": ["a@x.org"], "username": "u",
      "password_env": "YAMORI_TEST_SET"}, "refusing to send the SMTP password in clear"),
    ({"type": "email", "host": "h", "from": "y@x.org", "to": ["a@x.org"], "starttls": True, "ssl": True},
     "exclude each other"),
    ({"type": "email", "host": "h", "from": "y@x.org", "to": ["a@x.org"], "starttls": "yes"}, "true or false"),
    ({"type": "email", "host": "h", "from": "y@x.org", "to": ["a@x.org"], "ca_file": "/nonexistent/ca.pem"},
     "not a readable file"),
])
def test_bad_channel_config_is_refused_with_its_name(entry: dict[str, Any], message: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YAMORI_TEST_SET", "http://127.0.0.1:9/x")
    monkeypatch.delenv("YAMORI_TEST_UNSET", raising=False)
    monkeypatch.delenv("YAMORI_TEST_UNSET_FILE", raising=False)
    with pytest.raises(NotifyConfigError) as caught:
        channels_from_config({"channels": {"ops": entry}})
    assert str(caught.value).startswith("notify.channels.ops: ")
    assert message in str(caught.value)


def test_unknown_notify_keys_are_refused() -> None:
    with pytest.raises(NotifyConfigError, match=r"notify: unknown key\(s\): chanels"):
        channels_from_config({"chanels": {}})


# ---- email over SMTP


def mail_channel(port: int, **options: Any) -> EmailChannel:
    channel = channel_from_config("soc-mail", {
        "type": "email", "host": "127.0.0.1", "port": port, "from": "Yamori <yamori@example.org>",
        "to": ["soc@example.org", "oncall@example.org"], **FAST, **options})
    assert isinstance(channel, EmailChannel)
    return channel


def test_email_without_auth() -> None:
    alert = sample_alert(severity="critical")
    with smtp_recorder() as server:
        result = mail_channel(server.port, console_url="https://yamori.example").send(notice_from_alert(alert))
    assert (result.ok, result.status, result.attempts) == (True, 250, 1), result
    [mail] = server.mails
    assert mail.mail_from == "yamori@example.org"
    assert mail.rcpt_tos == ["soc@example.org", "oncall@example.org"]
    assert mail.login is None
    message = mail.message
    assert message["Subject"] == "[Yamori] critical Brute force against srv-web-1"
    assert message["From"] == "Yamori <yamori@example.org>"
    assert message["To"] == "soc@example.org, oncall@example.org"
    assert message.get_content_type() == "text/plain"
    body = message.get_payload(decode=True).decode()
    for line in ("Severity: critical", "Rule: 5d1c-brute", "Host: srv-web-1", "User: bob", "IP: 10.0.0.5",
                 "ATT&CK tactics: Credential Access", "ATT&CK techniques: T1110.001", "Events: 3",
                 "Rule level: high", "Alert id: 42-0-brute", "Link: https://yamori.example/alerts/42-0-brute",
                 "  TargetUserName: bob"):
        assert line in body.splitlines(), line


def test_email_subject_for_an_incident_and_header_injection() -> None:
    assert email_subject(notice_from_incident(INCIDENT)) == "[Yamori] critical Credential attack on srv-web-1"
    notice = notice_from_alert(sample_alert(title="evil\r\nBcc: victim@example.org"))
    with smtp_recorder() as server:
        assert mail_channel(server.port).send(notice).ok
    [mail] = server.mails
    assert mail.rcpt_tos == ["soc@example.org", "oncall@example.org"]
    assert mail.message["Bcc"] is None
    assert mail.message["Subject"] == "[Yamori] high evil Bcc: victim@example.org"


def test_email_starttls_with_auth(certificates: Certificates, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YAMORI_TEST_SMTP_PASSWORD", "correct horse")
    with smtp_recorder(users={"yamori": "correct horse"}, tls=(certificates.server_cert,
                                                               certificates.server_key)) as server:
        channel = mail_channel(server.port, starttls=True, ca_file=str(certificates.ca), username="yamori",
                               password_env="YAMORI_TEST_SMTP_PASSWORD")
        result = channel.send(notice_from_alert(sample_alert()))
    assert result.ok, result
    assert server.logins == [("yamori", "correct horse")]
    assert [mail.login for mail in server.mails] == ["yamori"]
    assert "correct horse" not in repr(channel)


def test_email_wrong_password_fails_once_without_leaking(certificates: Certificates,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YAMORI_TEST_SMTP_PASSWORD", "wrong-pass-123")
    with smtp_recorder(users={"yamori": "correct horse"}, tls=(certificates.server_cert,
                                                               certificates.server_key)) as server:
        result = mail_channel(server.port, starttls=True, ca_file=str(certificates.ca), username="yamori",
                              password_env="YAMORI_TEST_SMTP_PASSWORD").send(notice_from_alert(sample_alert()))
    assert (result.ok, result.status, result.attempts) == (False, 535, 1)
    assert "wrong-pass-123" not in result.detail
    assert server.mails == []


def test_email_starttls_refuses_an_untrusted_certificate(certificates: Certificates) -> None:
    with smtp_recorder(tls=(certificates.server_cert, certificates.server_key)) as server:
        result = mail_channel(server.port, starttls=True).send(notice_from_alert(sample_alert()))
    assert (result.ok, result.attempts) == (False, 1)
    assert result.detail.startswith("TLS: ") and "CERTIFICATE_VERIFY_FAILED" in result.detail
    assert server.mails == []


def test_email_server_demanding_starttls_refuses_a_plain_client(certificates: Certificates) -> None:
    with smtp_recorder(tls=(certificates.server_cert, certificates.server_key)) as server:
        result = mail_channel(server.port).send(notice_from_alert(sample_alert()))
    assert not result.ok and result.status == 530 and result.attempts == 1
    assert server.mails == []


def test_email_implicit_tls(certificates: Certificates) -> None:
    with smtp_recorder(tls=(certificates.server_cert, certificates.server_key), implicit_tls=True) as server:
        result = mail_channel(server.port, ssl=True, ca_file=str(certificates.ca)).send(
            notice_from_alert(sample_alert()))
    assert result.ok, result
    assert len(server.mails) == 1


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_email_auth_on_a_local_relay_without_tls_when_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YAMORI_TEST_SMTP_PASSWORD", "relay-pass")
    with smtp_recorder(users={"relay": "relay-pass"}, require_tls_for_auth=False) as server:
        result = mail_channel(server.port, username="relay", password_env="YAMORI_TEST_SMTP_PASSWORD",
                              allow_insecure_auth=True).send(notice_from_alert(sample_alert()))
    assert result.ok, result
    assert [mail.login for mail in server.mails] == ["relay"]


def test_email_server_down_is_retried_and_reported() -> None:
    result = mail_channel(free_port()).send(notice_from_alert(sample_alert()))
    assert (result.ok, result.attempts) == (False, 3)
    assert "ConnectionRefusedError" in result.detail


def test_email_password_read_again_at_each_send(monkeypatch: pytest.MonkeyPatch,
                                                certificates: Certificates) -> None:
    monkeypatch.setenv("YAMORI_TEST_SMTP_PASSWORD", "old")
    channel_options = {"starttls": True, "ca_file": str(certificates.ca), "username": "yamori",
                       "password_env": "YAMORI_TEST_SMTP_PASSWORD"}
    with smtp_recorder(users={"yamori": "new"}, tls=(certificates.server_cert, certificates.server_key)) as server:
        channel = mail_channel(server.port, **channel_options)
        assert not channel.send(notice_from_alert(sample_alert())).ok
        os.environ["YAMORI_TEST_SMTP_PASSWORD"] = "new"  # restored by monkeypatch
        assert channel.send(notice_from_alert(sample_alert())).ok
    assert server.logins == [("yamori", "old"), ("yamori", "new")]
