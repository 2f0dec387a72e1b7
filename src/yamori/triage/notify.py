"""Notification channels: a generic JSON webhook, a Slack-compatible webhook and email over SMTP.

A channel is declared once (``[notify.channels.<name>]``) and delivers a :class:`Notice` (what an alert or an
incident says, :func:`notice_from_alert`, :func:`notice_from_incident`). A delivery never raises: it returns a
:class:`DeliveryResult` saying whether it worked, how, after how many attempts and how long. Transient failures
(connection errors, HTTP 5xx/429/408, SMTP 4xx) are retried with exponential backoff, all within the channel's
``timeout``, which bounds the whole delivery.

Secrets never sit in the configuration: token-bearing webhook URLs (``url_env``), extra header values
(``headers_env``) and the SMTP password (``password_env``) name environment variables read through
:mod:`yamori.secrets`, checked at load and read again at each delivery (so a rotated secret file is picked up).
Failure details are scrubbed of those values before anyone logs them.
"""

from __future__ import annotations

import email.utils
import smtplib
import ssl
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import quote, urlsplit

import httpx
import orjson

from yamori import __version__
from yamori.exceptions import YamoriError
from yamori.secrets import SecretError, read_secret
from yamori.triage.model import TriageAlert

ChannelKind = Literal["webhook", "slack", "email"]
CHANNEL_KINDS: tuple[ChannelKind, ...] = ("webhook", "slack", "email")
DEFAULT_TIMEOUT = 10.0
DEFAULT_TRIES = 3
DEFAULT_BACKOFF = 0.5
MAX_TIMEOUT = 600.0
MAX_TRIES = 10
_RETRY_HTTP = frozenset({408, 429})
_DETAIL_CHARS = 300


class NotifyConfigError(YamoriError):
    """A notification channel (or a playbook using one) is misconfigured; the message names the entry."""


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """The outcome of one delivery: never an exception."""

    ok: bool
    detail: str
    """``HTTP 200``, ``250 accepted for 2 recipient(s)``, or why it failed (secrets scrubbed)."""
    attempts: int
    seconds: float
    status: int | None = None
    """The last HTTP status or SMTP reply code, when there was one."""


@dataclass(frozen=True, slots=True)
class Notice:
    """What a notification says about one alert or one incident, whatever the channel."""

    kind: Literal["alert", "incident"]
    id: str
    title: str
    severity: str
    payload: dict[str, Any]
    """The JSON document a generic webhook posts: the alert's ``to_dict()`` or the incident dict."""
    rule: str | None = None
    time: str | None = None
    users: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    tactics: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    event_count: int = 0
    extra: tuple[tuple[str, str], ...] = ()
    """Further labelled lines (severity reasons, incident status, assignee, ...)."""


def notice_from_alert(alert: TriageAlert) -> Notice:
    extra: list[tuple[str, str]] = []
    if alert.severity != alert.level:
        extra.append(("Rule level", alert.level))
    if alert.severity_reasons:
        extra.append(("Severity reasons", "; ".join(alert.severity_reasons)))
    if alert.correlation:
        extra.append(("Correlation", "yes"))
    if alert.risk:
        extra.append(("Risk", f"{alert.risk:g}"))
    if alert.incident_id is not None:
        extra.append(("Incident", str(alert.incident_id)))
    return Notice(
        kind="alert", id=alert.alert_id, title=alert.title, severity=alert.severity or alert.level,
        payload=alert.to_dict(), rule=alert.rule_id, time=alert.timestamp,
        users=_present(alert.user), hosts=_present(alert.host), ips=_present(alert.ip),
        tactics=alert.tactics, techniques=alert.techniques, event_count=len(alert.event_ids), extra=tuple(extra))


def flat_incident(incident: Mapping[str, Any]) -> Mapping[str, Any]:
    """The incident's own fields: an incident dict as it is, or, for a detail view (``{"incident": {...},
    "timeline": [...]}``), the nested incident completed from its timeline (tactics, techniques, rule ids and
    titles, entities)."""
    nested = incident.get("incident")
    if not isinstance(nested, Mapping):
        return incident
    flat = dict(nested)
    timeline = [entry for entry in incident.get("timeline") or () if isinstance(entry, Mapping)]

    def collect(key: str) -> list[str]:
        values: list[str] = []
        for entry in timeline:
            found = entry.get(key)
            for value in found if isinstance(found, (list, tuple)) else [found]:
                if value not in (None, "") and str(value) not in values:
                    values.append(str(value))
        return values

    flat.setdefault("tactics", collect("tactics"))
    flat.setdefault("techniques", collect("techniques"))
    flat.setdefault("tags", collect("tags"))
    flat.setdefault("rule_ids", collect("rule_id"))
    flat.setdefault("rule_titles", collect("title"))
    flat.setdefault("alert_ids", collect("alert_id"))
    flat.setdefault("entities", [(kind, value) for entry in timeline
                                 for kind, value in (entry.get("entities") or {}).items()])
    return flat


def incident_id_of(incident: Mapping[str, Any]) -> Any:
    """The incident's id: ``incident_id`` or ``id`` (of the nested incident of a detail view)."""
    incident = flat_incident(incident)
    return incident.get("incident_id", incident.get("id"))


def incident_entities(incident: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """The incident's users, hosts and IPs, from ``entity_kind``/``entity_value`` (the entity it is grouped by),
    ``entities`` (a list of ``{"kind", "value"}`` or ``[kind, value]``, or a mapping kind → values) and
    ``users``/``hosts``/``ips`` lists."""
    incident = flat_incident(incident)
    found: dict[str, list[str]] = {"user": [], "host": [], "ip": []}

    def add(kind: Any, value: Any) -> None:
        kind = str(kind).lower().rstrip("s")
        if kind in found and value not in (None, "") and str(value) not in found[kind]:
            found[kind].append(str(value))

    add(incident.get("entity_kind"), incident.get("entity_value"))
    entities = incident.get("entities")
    if isinstance(entities, Mapping):
        for kind, values in entities.items():
            for value in values if isinstance(values, (list, tuple)) else [values]:
                add(kind, value)
    elif isinstance(entities, (list, tuple)):
        for entity in entities:
            if isinstance(entity, Mapping):
                add(entity.get("kind", entity.get("type")), entity.get("value"))
            elif isinstance(entity, (list, tuple)) and len(entity) == 2:
                add(entity[0], entity[1])
    for kind in ("user", "host", "ip"):
        values = incident.get(kind + "s")
        if isinstance(values, (list, tuple)):
            for value in values:
                add(kind, value)
    return {kind: tuple(values) for kind, values in found.items()}


def notice_from_incident(incident: Mapping[str, Any]) -> Notice:
    """A notice for an incident dict or detail view (:func:`flat_incident`); the payload is the dict as given.
    Read (all optional): ``incident_id``/``id``, ``title``, ``severity``, ``status``, ``assignee``, ``verdict``,
    entities (see :func:`incident_entities`), ``tactics``, ``techniques``, ``alert_ids``/``alert_count``,
    ``event_count``, ``last_alert``/``last_seen``/``updated``/``opened``, ``risk``, ``reason``."""
    payload = dict(incident)
    incident = flat_incident(incident)
    identifier = incident_id_of(incident)
    entities = incident_entities(incident)
    extra = [(label, str(incident[key])) for key, label in
             (("status", "Status"), ("assignee", "Assignee"), ("verdict", "Verdict"), ("reason", "Opened by"),
              ("risk", "Risk"))
             if incident.get(key) not in (None, "")]
    alert_ids = incident.get("alert_ids")
    alert_count = incident.get("alert_count", len(alert_ids) if isinstance(alert_ids, (list, tuple)) else None)
    if alert_count is not None:
        extra.append(("Alerts", str(alert_count)))
    return Notice(
        kind="incident", id=str(identifier), title=str(incident.get("title") or f"Incident {identifier}"),
        severity=str(incident.get("severity") or "medium"), payload=payload,
        time=_first_text(incident, ("last_alert", "last_seen", "updated", "opened", "first_alert")),
        users=entities["user"], hosts=entities["host"], ips=entities["ip"],
        tactics=_texts(incident.get("tactics")), techniques=_texts(incident.get("techniques")),
        event_count=_int(incident.get("event_count")), extra=tuple(extra))


def notice_link(console_url: str | None, notice: Notice) -> str | None:
    """The console page of the notice: ``console_url`` with ``{kind}``/``{id}`` filled in when it has them,
    else ``<console_url>/<kind>s/<id>``."""
    if not console_url:
        return None
    identifier = quote(notice.id, safe="")
    if "{id}" in console_url:
        return console_url.replace("{kind}", notice.kind).replace("{id}", identifier)
    return f"{console_url.rstrip('/')}/{notice.kind}s/{identifier}"


class Channel(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> ChannelKind: ...

    @property
    def timeout(self) -> float: ...

    def send(self, notice: Notice, *, timeout: float | None = None) -> DeliveryResult:
        """Deliver ``notice`` within ``timeout`` seconds (the channel's own when ``None``); never raises."""
        ...


@dataclass(frozen=True, slots=True)
class Retry:
    """How hard a channel tries: ``tries`` attempts at most, ``backoff`` × 2ⁿ seconds apart, all within the
    delivery's timeout."""

    tries: int = DEFAULT_TRIES
    backoff: float = DEFAULT_BACKOFF

    def pause(self, attempt: int) -> float:
        return float(self.backoff * 2 ** (attempt - 1))


@dataclass(frozen=True, slots=True)
class SecretRef:
    """A secret named by an environment variable, read on each use."""

    env: str

    def value(self) -> str:
        secret = read_secret(self.env)
        assert secret is not None  # required=True raises instead of returning None
        return secret.value


@dataclass(frozen=True, slots=True)
class WebhookChannel:
    """POST the notice's JSON document (the alert's ``to_dict()`` or the incident dict) to a URL."""

    name: str
    url: str | None = None
    url_env: SecretRef | None = None
    headers_env: dict[str, SecretRef] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT
    retry: Retry = field(default_factory=Retry)
    ca_file: Path | None = None
    kind: ChannelKind = "webhook"

    def body(self, notice: Notice) -> dict[str, Any]:
        return notice.payload

    def send(self, notice: Notice, *, timeout: float | None = None) -> DeliveryResult:
        started = time.monotonic()
        try:
            url = self.url if self.url_env is None else self.url_env.value()
            headers = {name: ref.value() for name, ref in self.headers_env.items()}
            content = orjson.dumps(self.body(notice), default=str, option=orjson.OPT_NON_STR_KEYS)
        except (SecretError, TypeError, orjson.JSONEncodeError) as error:
            return DeliveryResult(False, f"not sent: {error}", 0, time.monotonic() - started)
        assert url is not None  # the loader requires url or url_env
        headers |= {"Content-Type": "application/json", "User-Agent": f"yamori/{__version__}",
                    "X-Yamori-Kind": notice.kind, "X-Yamori-Id": _header_safe(notice.id),
                    # one value across retries, so that a receiver can drop a retried duplicate
                    "X-Yamori-Delivery": uuid.uuid4().hex}
        secrets = [url, *(headers[name] for name in self.headers_env)]
        if self.url_env is not None:
            # a URL from the environment holds its token in the path or the query, which an error may echo
            parts = urlsplit(url)
            secrets += [parts.path, parts.query]
        result = post_with_retries(url, content, headers, timeout=self.timeout if timeout is None else timeout,
                                   retry=self.retry, verify=_verify(self.ca_file))
        return _scrubbed(result, secrets)


@dataclass(frozen=True, slots=True)
class SlackChannel(WebhookChannel):
    """POST a Slack incoming-webhook message (``text`` and ``blocks``); Mattermost and Rocket.Chat accept it."""

    console_url: str | None = None
    kind: ChannelKind = "slack"

    def body(self, notice: Notice) -> dict[str, Any]:
        return slack_message(notice, notice_link(self.console_url, notice))


@dataclass(frozen=True, slots=True)
class EmailChannel:
    """A plain-text email over SMTP (STARTTLS or implicit TLS, optional AUTH)."""

    name: str
    host: str
    port: int
    sender: str
    to: tuple[str, ...]
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password_env: SecretRef | None = None
    ca_file: Path | None = None
    console_url: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    retry: Retry = field(default_factory=Retry)
    kind: ChannelKind = "email"

    def message(self, notice: Notice) -> EmailMessage:
        return email_message(notice, notice_link(self.console_url, notice), self.sender, self.to)

    def send(self, notice: Notice, *, timeout: float | None = None) -> DeliveryResult:
        started = time.monotonic()
        deadline = started + (self.timeout if timeout is None else timeout)
        try:
            password = self.password_env.value() if self.password_env is not None else None
            message = self.message(notice)
        except (SecretError, ValueError) as error:
            return DeliveryResult(False, f"not sent: {error}", 0, time.monotonic() - started)
        attempts = 0
        detail = "not sent: no time left"
        status: int | None = None
        while attempts < self.retry.tries and (remaining := deadline - time.monotonic()) > 0:
            attempts += 1
            try:
                status, detail = self._deliver(message, password, remaining)
                return _scrubbed(DeliveryResult(True, detail, attempts, time.monotonic() - started, status),
                                 [password] if password else [])
            except smtplib.SMTPRecipientsRefused as error:
                status, detail, retryable = None, _refused(error.recipients), False
            except smtplib.SMTPResponseException as error:
                status = error.smtp_code
                detail = f"SMTP {error.smtp_code} {_smtp_text(error.smtp_error)}"
                retryable = 400 <= error.smtp_code < 500
            except smtplib.SMTPNotSupportedError as error:
                detail, retryable = f"SMTP server does not support it: {error}", False
            except ssl.SSLError as error:
                detail, retryable = f"TLS: {error.reason or error}", False
            except smtplib.SMTPServerDisconnected as error:
                detail, retryable = f"SMTP server disconnected: {error}", True
            except TimeoutError:
                detail, retryable = f"timed out after {time.monotonic() - started:.1f}s", True
            except (OSError, smtplib.SMTPException) as error:
                detail, retryable = f"{type(error).__name__}: {error}", True
            if not retryable or not _pause_before_retry(self.retry, attempts, deadline):
                break
        return _scrubbed(DeliveryResult(False, detail, attempts, time.monotonic() - started, status),
                         [password] if password else [])

    def _deliver(self, message: EmailMessage, password: str | None, timeout: float) -> tuple[int, str]:
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        client: smtplib.SMTP
        if self.ssl:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=timeout)
        with client:
            client.ehlo()
            if self.starttls:
                client.starttls(context=context)
                client.ehlo()
            if self.username is not None:
                _login(client, self.username, password or "")
            refused = client.send_message(message, self.sender, list(self.to))
        if refused:
            # some recipients got it, so a retry would send it twice: a failure, not retried
            raise smtplib.SMTPRecipientsRefused(refused)
        return 250, f"250 accepted for {len(self.to)} recipient(s)"


AnyChannel = WebhookChannel | SlackChannel | EmailChannel


def _login(client: smtplib.SMTP, username: str, password: str) -> None:
    """AUTH with one mechanism: ``SMTP.login`` retries a refused password with every other mechanism, which
    counts as several failures against lockout policies (and hangs some servers)."""
    client.ehlo_or_helo_if_needed()
    offered = client.esmtp_features.get("auth", "").upper().split()
    for mechanism in ("PLAIN", "LOGIN"):
        if mechanism in offered:
            client.user, client.password = username, password
            client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"))
            return
    client.login(username, password)  # CRAM-MD5 only, or no AUTH offered (login raises the error)


# ---- HTTP delivery


def post_with_retries(url: str, content: bytes, headers: Mapping[str, str], *, timeout: float, retry: Retry,
                      verify: ssl.SSLContext | bool = True) -> DeliveryResult:
    """POST ``content``; retry connection errors and HTTP 5xx/408/429, all within ``timeout`` seconds."""
    started = time.monotonic()
    deadline = started + timeout
    attempts = 0
    detail = "not sent: no time left"
    status: int | None = None
    with httpx.Client(verify=verify, follow_redirects=False) as client:
        while attempts < retry.tries and (remaining := deadline - time.monotonic()) > 0:
            attempts += 1
            try:
                response = client.post(url, content=content, headers=dict(headers), timeout=remaining)
            except httpx.TimeoutException:
                detail, status = f"timed out after {time.monotonic() - started:.1f}s", None
                retryable = True
            except httpx.TransportError as error:
                detail, status = f"{type(error).__name__}: {error}", None
                retryable = True
            except (httpx.HTTPError, httpx.InvalidURL, ValueError) as error:
                return DeliveryResult(False, f"{type(error).__name__}: {error}", attempts,
                                      time.monotonic() - started)
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return DeliveryResult(True, f"HTTP {status}", attempts, time.monotonic() - started, status)
                detail = f"HTTP {status}" + (f": {_clip(response.text, 200)}" if response.text.strip() else "")
                retryable = status >= 500 or status in _RETRY_HTTP
            if not retryable or not _pause_before_retry(retry, attempts, deadline):
                break
    return DeliveryResult(False, detail, attempts, time.monotonic() - started, status)


def _pause_before_retry(retry: Retry, attempts: int, deadline: float) -> bool:
    """Sleep the backoff before the next attempt; False when no attempt is left or it would pass the deadline."""
    if attempts >= retry.tries:
        return False
    pause = retry.pause(attempts)
    if time.monotonic() + pause >= deadline:
        return False
    time.sleep(pause)
    return True


# ---- message formats


def slack_message(notice: Notice, link: str | None) -> dict[str, Any]:
    """A Slack incoming-webhook body: ``text`` (the fallback shown in notifications) and Block Kit ``blocks``."""
    severity = notice.severity.upper()
    where = ", ".join(f"{label} {', '.join(values)}" for label, values in
                      (("host", notice.hosts), ("user", notice.users), ("ip", notice.ips)) if values)
    text = _mrkdwn(f"[{severity}] Yamori {notice.kind}: {notice.title}" + (f" ({where})" if where else ""))
    if link:
        text += f" <{link}|open in Yamori>"
    fields = [("Severity", notice.severity)]
    if notice.rule:
        fields.append(("Rule", notice.rule))
    fields += [(label, ", ".join(values)) for label, values in
               (("Host", notice.hosts), ("User", notice.users), ("IP", notice.ips)) if values]
    if notice.event_count:
        fields.append(("Events", str(notice.event_count)))
    if notice.tactics:
        fields.append(("ATT&CK tactics", ", ".join(notice.tactics)))
    if notice.techniques:
        fields.append(("ATT&CK techniques", ", ".join(notice.techniques)))
    fields += list(notice.extra)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(f"{severity}: {notice.title}", 150)}},
        # Slack shows at most 10 fields in a section
        {"type": "section", "fields": [{"type": "mrkdwn", "text": _clip(f"*{_mrkdwn(label)}*\n{_mrkdwn(value)}",
                                                                        1000)} for label, value in fields[:10]]},
    ]
    context = f"Yamori {notice.kind} `{_mrkdwn(notice.id)}`" + (f" · {_mrkdwn(notice.time)}" if notice.time else "")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(context, 1000)}]})
    if link:
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Open in Yamori"}, "url": link}]})
    return {"text": text, "blocks": blocks}


def email_subject(notice: Notice) -> str:
    return _one_line(f"[Yamori] {notice.severity} {notice.title}")


def email_body(notice: Notice, link: str | None) -> str:
    lines = [f"Yamori {notice.kind}: {notice.title}", "", f"Severity: {notice.severity}"]
    labelled = [("Rule", notice.rule), ("Time", notice.time), ("Host", ", ".join(notice.hosts)),
                ("User", ", ".join(notice.users)), ("IP", ", ".join(notice.ips)),
                ("ATT&CK tactics", ", ".join(notice.tactics)), ("ATT&CK techniques", ", ".join(notice.techniques)),
                ("Events", str(notice.event_count) if notice.event_count else None), *notice.extra,
                (f"{notice.kind.capitalize()} id", notice.id), ("Link", link)]
    lines += [f"{label}: {_one_line(value)}" for label, value in labelled if value]
    fields = notice.payload.get("fields") if notice.kind == "alert" else None
    if isinstance(fields, Mapping) and fields:
        lines += ["", "Fields:"]
        for position, (name, value) in enumerate(fields.items()):
            if position == 40:
                lines.append(f"  ... {len(fields) - 40} more")
                break
            lines.append(f"  {_one_line(str(name))}: {_clip(_one_line(str(value)), 300)}")
    return "\n".join(lines) + "\n"


def email_message(notice: Notice, link: str | None, sender: str, to: Sequence[str]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = _clip(email_subject(notice), 250)
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = email.utils.formatdate(usegmt=True)
    domain = sender.rpartition("@")[2].strip(">") or "yamori.invalid"
    message["Message-ID"] = email.utils.make_msgid("yamori", domain=domain)  # no slow getfqdn()
    message["X-Yamori-Kind"] = notice.kind
    message["X-Yamori-Id"] = _header_safe(notice.id)
    message.set_content(email_body(notice, link))
    return message


# ---- configuration


def channels_from_config(notify: Mapping[str, Any], base_dir: Path | None = None) -> dict[str, AnyChannel]:
    """The channels of a ``[notify]`` table (``console_url``, ``[notify.channels.<name>]``)."""
    table = Table(notify, "notify", NotifyConfigError)
    console_url = table.url("console_url")
    declared = table.tables("channels")
    table.finish()
    return {name: channel_from_config(name, entry, console_url=console_url, base_dir=base_dir)
            for name, entry in declared.items()}


def channel_from_config(name: str, entry: Mapping[str, Any], *, console_url: str | None = None,
                        base_dir: Path | None = None) -> AnyChannel:
    where = f"notify.channels.{name}"
    table = Table(entry, where, NotifyConfigError)
    kind = table.choice("type", CHANNEL_KINDS, required=True)
    timeout = table.number("timeout", DEFAULT_TIMEOUT, low=0.05, high=MAX_TIMEOUT)
    retry = Retry(int(table.number("tries", DEFAULT_TRIES, low=1, high=MAX_TRIES, integer=True)),
                  table.number("backoff", DEFAULT_BACKOFF, low=0, high=60))
    ca_file = table.path("ca_file", base_dir)
    channel: AnyChannel
    if kind == "email":
        port_default = 465 if entry.get("ssl") else 587 if entry.get("starttls") else 25
        channel = EmailChannel(
            name=name, host=table.text("host", required=True) or "",
            port=int(table.number("port", port_default, low=1, high=65535, integer=True)),
            sender=table.address("from", required=True), to=tuple(table.addresses("to")),
            starttls=table.flag("starttls"), ssl=table.flag("ssl"), username=table.text("username"),
            password_env=table.secret("password_env"), ca_file=ca_file,
            console_url=table.url("console_url") or console_url, timeout=timeout, retry=retry)
        if channel.starttls and channel.ssl:
            raise NotifyConfigError(f"{where}: starttls and ssl exclude each other (ssl is implicit TLS, port 465)")
        if channel.username is not None and channel.password_env is None:
            raise NotifyConfigError(f"{where}: username needs password_env (the variable holding the password)")
        if channel.username is not None and not (channel.starttls or channel.ssl) \
                and not table.flag("allow_insecure_auth"):
            raise NotifyConfigError(f"{where}: refusing to send the SMTP password in clear: set starttls = true "
                                    "or ssl = true (or allow_insecure_auth = true for a local relay)")
    else:
        url, url_env = table.url("url"), table.secret("url_env")
        if (url is None) == (url_env is None):
            raise NotifyConfigError(f"{where}: give exactly one of url and url_env (the variable holding a URL "
                                    "with a token)")
        if url is not None and urlsplit(url).hostname in ("hooks.slack.com", "hooks.slack-gov.com"):
            raise NotifyConfigError(f"{where}: a Slack webhook URL is a secret: put it in an environment variable "
                                    "and name it with url_env")
        headers = table.secret_map("headers_env")
        if kind == "slack":
            channel = SlackChannel(name=name, url=url, url_env=url_env, headers_env=headers, timeout=timeout,
                                   retry=retry, ca_file=ca_file, console_url=table.url("console_url") or console_url)
        else:
            channel = WebhookChannel(name=name, url=url, url_env=url_env, headers_env=headers, timeout=timeout,
                                     retry=retry, ca_file=ca_file)
        problem = url_problem(url_env.value()) if url_env is not None else None
        if problem is not None:
            raise table.fail(f"url_env: the URL in ${entry['url_env']}: {problem}")
    table.finish()
    return channel


class Table:
    """Reads one configuration table, checking each key's type and refusing keys nobody read (typos)."""

    def __init__(self, table: Any, where: str, error: type[YamoriError]) -> None:
        if not isinstance(table, Mapping):
            raise error(f"{where} must be a table")
        self.table = table
        self.where = where
        self.error = error
        self.read: set[str] = set()

    def fail(self, message: str) -> YamoriError:
        return self.error(f"{self.where}: {message}")

    def get(self, key: str, kinds: type | tuple[type, ...], what: str, required: bool = False) -> Any:
        self.read.add(key)
        value = self.table.get(key)
        if value is None:
            if required:
                raise self.fail(f"{key} is required")
            return None
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in _tuple(kinds)):
            raise self.fail(f"{key} must be {what}, not {value!r}")
        return value

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.get(key, str, "a string", required)
        if value is not None and (not value.strip() or any(ch in value for ch in "\r\n\0")):
            raise self.fail(f"{key} must be a non-empty single-line string")
        return value  # type: ignore[no-any-return]

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.get(key, bool, "true or false")
        return default if value is None else bool(value)

    def number(self, key: str, default: float, *, low: float, high: float, integer: bool = False) -> float:
        value = self.get(key, int if integer else (int, float), "an integer" if integer else "a number")
        if value is None:
            return default
        if not low <= value <= high:
            raise self.fail(f"{key} must be between {low:g} and {high:g}, not {value}")
        return float(value)

    def choice(self, key: str, choices: Sequence[str], *, required: bool = False) -> Any:
        value = self.get(key, str, "a string", required)
        if value is not None and value not in choices:
            raise self.fail(f"{key} must be one of {', '.join(choices)}, not {value!r}")
        return value

    def strings(self, key: str) -> list[str]:
        value = self.get(key, (list, tuple), "an array of strings")
        if value is None:
            return []
        if not all(isinstance(item, str) and item for item in value):
            raise self.fail(f"{key} must be an array of non-empty strings")
        return list(value)

    def tables(self, key: str) -> dict[str, Mapping[str, Any]]:
        value = self.get(key, Mapping, "a table")
        return dict(value or {})

    def url(self, key: str) -> str | None:
        value = self.text(key)
        problem = url_problem(value) if value is not None else None
        if problem is not None:
            raise self.fail(f"{key}: {problem}")
        return value

    def address(self, key: str, *, required: bool = False) -> str:
        value = self.text(key, required=required) or ""
        if value and "@" not in email.utils.parseaddr(value)[1]:
            raise self.fail(f"{key} must be an email address, not {value!r}")
        return value

    def addresses(self, key: str) -> list[str]:
        values = self.strings(key)
        if not values:
            raise self.fail(f"{key} must list at least one recipient")
        for value in values:
            if "@" not in email.utils.parseaddr(value)[1] or any(ch in value for ch in "\r\n"):
                raise self.fail(f"{key} holds {value!r}, which is not an email address")
        return values

    def path(self, key: str, base_dir: Path | None) -> Path | None:
        value = self.text(key)
        if value is None:
            return None
        path = Path(value).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.is_file():
            raise self.fail(f"{key}: {path} is not a readable file")
        return path

    def secret(self, key: str) -> SecretRef | None:
        """A variable name whose secret must be set now (checked at load, read again at each use)."""
        name = self.text(key)
        if name is None:
            return None
        return self._secret_ref(key, name)

    def secret_map(self, key: str) -> dict[str, SecretRef]:
        value = self.get(key, Mapping, "a table of header name = variable name")
        refs: dict[str, SecretRef] = {}
        for header, name in (value or {}).items():
            if not isinstance(name, str) or not _is_header_name(header):
                raise self.fail(f"{key}: {header!r} = {name!r} must be a header name = an environment variable name")
            refs[header] = self._secret_ref(f"{key}.{header}", name)
        return refs

    def _secret_ref(self, key: str, name: str) -> SecretRef:
        if not name.replace("_", "").isalnum():
            raise self.fail(f"{key} names an environment variable ({name!r} is not one): the secret itself never "
                            "goes in the configuration")
        ref = SecretRef(name)
        try:
            ref.value()
        except SecretError as error:
            raise self.fail(f"{key}: {error}") from error
        return ref

    def finish(self) -> None:
        unknown = sorted(set(self.table) - self.read)
        if unknown:
            raise self.fail(f"unknown key(s): {', '.join(unknown)}")


def _is_header_name(name: object) -> bool:
    return isinstance(name, str) and bool(name) and all(ch.isalnum() or ch in "-_" for ch in name)


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a channel's or the console's URL, or None."""
    try:
        parts = urlsplit(url.replace("{id}", "x").replace("{kind}", "alert"))
        hostname = parts.hostname
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in ("http", "https") or not hostname:
        return "not an http(s) URL"
    if parts.username or parts.password:
        return "credentials in a URL are secrets: name an environment variable (url_env) instead"
    return None


# ---- small helpers


def _tuple(kinds: type | tuple[type, ...]) -> tuple[type, ...]:
    return kinds if isinstance(kinds, tuple) else (kinds,)


def _present(value: str | None) -> tuple[str, ...]:
    return (value,) if value else ()


def _texts(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in value) if isinstance(value, (list, tuple)) else ()


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _first_text(mapping: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    return next((str(mapping[key]) for key in keys if mapping.get(key)), None)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _header_safe(text: str) -> str:
    return _clip("".join(ch for ch in text if 32 < ord(ch) < 127), 200)


def _mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _smtp_text(reply: bytes | str) -> str:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    return _clip(_one_line(text), 200)


def _refused(recipients: Mapping[str, tuple[int, bytes]]) -> str:
    return "recipients refused: " + "; ".join(f"{address} ({code} {_smtp_text(reply)})"
                                              for address, (code, reply) in recipients.items())


def _verify(ca_file: Path | None) -> ssl.SSLContext | bool:
    return ssl.create_default_context(cafile=str(ca_file)) if ca_file is not None else True


def _scrubbed(result: DeliveryResult, secrets: Sequence[str]) -> DeliveryResult:
    detail = scrub(result.detail, secrets)
    if detail == result.detail:
        return result
    return DeliveryResult(result.ok, detail, result.attempts, result.seconds, result.status)


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret value replaced by ``***`` (longest first, so a URL goes before its parts)."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "***")
    return _clip(text, _DETAIL_CHARS * 4)

