"""Test helpers for notifications: a real local HTTP server that records requests and answers as scripted, a real
local SMTP server (aiosmtpd) that records messages, and a sample TriageAlert."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from yamori.triage.model import TriageAlert


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sample_alert(**overrides: Any) -> TriageAlert:
    values: dict[str, Any] = {
        "alert_id": "42-0-brute", "rule_id": "5d1c-brute", "title": "Brute force against srv-web-1",
        "level": "high", "timestamp": "2026-03-01T08:00:00Z",
        "tags": ("attack.credential-access", "attack.t1110.001"), "event_ids": ("42-0", "43-0", "44-0"),
        "fields": {"TargetUserName": "bob", "Computer": "srv-web-1", "IpAddress": "10.0.0.5", "count": 3},
    }
    values.update(overrides)
    return TriageAlert(**values)


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpRecorder:
    """What the server received, and how it answers the next requests: each entry of ``plan`` is used once
    (``200``, ``500``, ``"hang"`` (no answer until the test ends), ``"trickle"`` (a body one byte at a time,
    forever), or ``(status, body)``), then ``200``."""

    url: str
    requests: list[Recorded] = field(default_factory=list)
    plan: list[Any] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


@contextmanager
def http_recorder() -> Iterator[HttpRecorder]:
    recorder = HttpRecorder(url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            recorder.requests.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            step = recorder.plan.pop(0) if recorder.plan else 200
            if step == "hang":
                recorder.release.wait(30)
                return
            if step == "trickle":
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                while not recorder.release.wait(0.05):
                    try:
                        self.wfile.write(b"x")
                        self.wfile.flush()
                    except OSError:
                        return
                return
            status, text = (step, b"ok") if isinstance(step, int) else step
            if isinstance(text, str):
                text = text.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        recorder.release.set()
        server.shutdown()
        server.server_close()


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: Message
    login: str | None


@dataclass
class SmtpRecorder:
    port: int
    mails: list[Mail] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)


@contextmanager
def smtp_recorder(*, users: dict[str, str] | None = None, tls: tuple[Path, Path] | None = None,
                  implicit_tls: bool = False, require_tls_for_auth: bool = True) -> Iterator[SmtpRecorder]:
    """A local SMTP server; ``users`` turns AUTH on (required), ``tls`` = (cert, key) offers STARTTLS, or with
    ``implicit_tls`` speaks TLS from the first byte."""
    recorder = SmtpRecorder(port=free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            login = session.auth_data if isinstance(session.auth_data, str) else None
            recorder.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos),
                                       message_from_bytes(envelope.original_content or envelope.content), login))
            return "250 OK"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if not isinstance(data, LoginPassword) or users is None:
            return AuthResult(success=False, handled=False)
        login, password = data.login.decode(), data.password.decode()
        recorder.logins.append((login, password))
        return AuthResult(success=users.get(login) == password, handled=False, auth_data=login)

    context = None
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
    options: dict[str, Any] = {}
    if users is not None:
        options |= {"authenticator": authenticator, "auth_required": True,
                    "auth_require_tls": require_tls_for_auth}
    if context is not None and implicit_tls:
        options["ssl_context"] = context
    elif context is not None:
        options |= {"tls_context": context, "require_starttls": True}
    controller = Controller(Handler(), hostname="127.0.0.1", port=recorder.port, server_hostname="localhost",
                            ready_timeout=10, **options)
    controller.start()
    try:
        yield recorder
    finally:
        controller.stop()


def wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)
