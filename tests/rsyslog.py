"""Test helpers: a real ``rsyslogd`` (Debian packages ``rsyslog`` and ``rsyslog-gnutls``) run in the foreground
with its own configuration, work folder and pid file, and a throw-away CA with server and client certificates
made with the ``openssl`` command.

rsyslog reads a file the test writes (``imfile``) and forwards each line with ``omfwd`` to Yamori's inputs over
UDP, TCP (traditional or octet-counted framing) and TLS (GnuTLS, certificate checked against the test CA, client
certificate sent for mutual TLS).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

RSYSLOGD = "/usr/sbin/rsyslogd"
PACKAGES = "rsyslog rsyslog-gnutls"


def rsyslogd_or_skip() -> str:
    """The rsyslogd binary; skips the test when it is missing (fails under ``CI``, which must have it)."""
    found = RSYSLOGD if os.access(RSYSLOGD, os.X_OK) else shutil.which("rsyslogd")
    gtls = any(Path(folder, "lmnsd_gtls.so").exists() for folder in
               ("/usr/lib/x86_64-linux-gnu/rsyslog", "/usr/lib/aarch64-linux-gnu/rsyslog", "/usr/lib/rsyslog"))
    if found and gtls:
        return found
    message = f"rsyslogd with GnuTLS support not installed (apt-get install {PACKAGES})"
    if os.environ.get("CI"):
        pytest.fail(message + "; CI must have it", pytrace=False)
    pytest.skip(message)


@dataclass(frozen=True, slots=True)
class Certificates:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_certificates(folder: Path) -> Certificates:
    """A CA and, signed by it, a server certificate for ``localhost``/127.0.0.1 and a client certificate."""
    openssl = shutil.which("openssl")
    if openssl is None:
        message = "the openssl command is not installed (apt-get install openssl)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    folder.mkdir(parents=True, exist_ok=True)

    def run(*arguments: str) -> None:
        subprocess.run([openssl, *arguments], check=True, capture_output=True, cwd=folder)

    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    run("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Yamori test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name, common_name, usage in (("server", "localhost", "serverAuth"), ("client", "rsyslog-client",
                                                                              "clientAuth")):
        (folder / f"{name}.ext").write_text("basicConstraints=CA:FALSE\n"
                                            "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                            f"extendedKeyUsage={usage}\n")
        run("req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={common_name}")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")
    return Certificates(folder / "ca.pem", folder / "server.pem", folder / "server.key", folder / "client.pem",
                        folder / "client.key")


@dataclass(frozen=True, slots=True)
class Forward:
    """One ``omfwd`` action: where rsyslog sends every line it reads."""

    protocol: Literal["udp", "tcp", "tls"]
    port: int
    framing: Literal["traditional", "octet-counted"] = "traditional"

    def action(self) -> str:
        # each action its own queue, large: rsyslog's default of 1,000 messages overflows (and drops, silently)
        # while a forwarding connection is still being set up on a busy machine
        common = (f'target="127.0.0.1" port="{self.port}" template="RSYSLOG_ForwardFormat" '
                  'queue.type="LinkedList" queue.size="100000" action.resumeRetryCount="-1" action.resumeInterval="1"')
        if self.protocol == "udp":
            return f'action(type="omfwd" protocol="udp" {common})'
        tls = ""
        if self.protocol == "tls":
            tls = ('StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name" '
                   'StreamDriverPermittedPeers="localhost"')
        return f'action(type="omfwd" protocol="tcp" TCP_Framing="{self.framing}" {tls} {common})'


class Rsyslog:
    """``rsyslogd -n -f <conf> -i <pid>`` reading ``source`` and forwarding it; a context manager."""

    def __init__(self, folder: Path, source: Path, forwards: list[Forward],
                 certificates: Certificates | None = None, tag: str = "yamoritest:") -> None:
        self.binary = rsyslogd_or_skip()
        self.tag = tag
        self.folder = folder
        self.source = source
        self.forwards = forwards
        self.certificates = certificates
        self.process: subprocess.Popen[bytes] | None = None
        self.config = folder / "rsyslog.conf"
        self.pid_file = folder / "rsyslogd.pid"
        self.log_file = folder / "rsyslogd.log"
        self.internal_log = folder / "rsyslogd-internal.log"

    def write_config(self) -> None:
        work = self.folder / "work"
        work.mkdir(parents=True, exist_ok=True)
        tls = ""
        if self.certificates is not None:
            tls = (f'defaultNetstreamDriverCAFile="{self.certificates.ca}" '
                   f'defaultNetstreamDriverCertFile="{self.certificates.client_cert}" '
                   f'defaultNetstreamDriverKeyFile="{self.certificates.client_key}"')
        actions = "\n  ".join(forward.action() for forward in self.forwards)
        self.config.write_text(f"""
global(workDirectory="{work}" maxMessageSize="64k" {tls})
module(load="imfile")
input(type="imfile" File="{self.source}" Tag="{self.tag}" Severity="info" Facility="local0" ruleset="forward")
ruleset(name="forward") {{
  {actions}
}}
syslog.* action(type="omfile" file="{self.internal_log}")
""")

    def start(self) -> Rsyslog:
        self.write_config()
        self.source.touch()
        with self.log_file.open("wb") as log:
            self.process = subprocess.Popen([self.binary, "-n", "-f", str(self.config), "-i", str(self.pid_file)],
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self.pid_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"rsyslogd did not start: {self.output()}")
            time.sleep(0.02)
        return self

    def output(self) -> str:
        """What rsyslogd printed and its own messages (errors, connection losses)."""
        return "".join(path.read_text(errors="replace") for path in (self.log_file, self.internal_log)
                       if path.exists())

    def stop(self) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self.process = None

    def __enter__(self) -> Rsyslog:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
