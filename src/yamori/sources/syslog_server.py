"""Syslog network inputs: UDP datagrams, and TCP or TLS streams framed per RFC 6587.

Each message becomes one :class:`~yamori.ingest.record.RecordKind.MESSAGE` record, tagged with the input's name,
``source`` = the sender's IP address. This module owns the framing and the transport; it must not parse messages
(the pipeline does, from the write-ahead log).

Durability and back-pressure:

* **TCP/TLS**: the reader takes one chunk, splits its complete frames and hands them all to the sink in one
  ``submit``; it reads again only once they are on disk, and not at all while the pipeline is behind. So TCP
  flow control slows the sender down instead of memory growing. Plain syslog over TCP has no application
  acknowledgement ("read" is the acknowledgement): a ``kill -9`` loses only what the kernel's socket buffer and
  the stream reader (at most twice ``read_bytes`` per connection) held and the input had not yet read, which
  the sender's TCP stack had already counted as delivered, as with any syslog receiver.
* **UDP**: datagrams are never acknowledged. They are batched (one write-ahead-log sync for many) and dropped,
  counted as ``overload``, when the pipeline is behind or the pending batch is full; a ``kill -9`` loses the
  pending batch (at most a few milliseconds of datagrams). Datagrams the kernel dropped because the socket
  buffer was full are counted too (reason ``kernel``, read from ``/proc/net/udp``), so sent = recorded + dropped.

Framing (TCP and TLS), detected per frame: a frame starting with a digit 1-9, digits, a space and ``<`` is
octet-counted (``<length> <PRI>message``); anything else is a message ended by LF or NUL (non-transparent framing).
A length beyond 16 x ``max_message_bytes`` is not believed: the frame is read as newline-delimited instead, so a
garbage prefix can cost at most one frame, never the connection. A message longer than ``max_message_bytes`` is
truncated (or dropped) and counted; the rest of its frame is skipped without being buffered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
import ssl
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from yamori.exceptions import YamoriError
from yamori.ingest.record import IngestRecord, RecordKind
from yamori.ingest.sink import IngestSink

__all__ = [
    "FrameSplitter",
    "SyslogTcpInput",
    "SyslogTcpSettings",
    "SyslogUdpInput",
    "SyslogUdpSettings",
    "TlsSettings",
    "build_server_ssl_context",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024
_DELIMITER = re.compile(rb"[\n\x00]")
_LENGTH_PREFIX = re.compile(rb"([1-9][0-9]{0,8}) (?=<)")
"""RFC 6587's MSG-LEN SP, followed by the ``<PRI>`` every syslog message starts with: without that ``<``, a line
that merely starts with a number (``130324  0:04:00 [Warning] ...``, epoch seconds) is a newline-ended message."""
_ALL_DIGITS = re.compile(rb"[0-9]*")
_OCTET_COUNT_START = frozenset(bytes([digit]) for digit in b"123456789")
_MAX_PREFIX_DIGITS = 9
_RETRY_SECONDS = (0.05, 0.1, 0.25, 0.5, 1.0)
_MAX_DATAGRAM = 65536
_DATAGRAMS_PER_WAKEUP = 256  # then the event loop serves the other inputs


class InputError(YamoriError):
    """An input cannot start (the address is in use, a TLS certificate cannot be read)."""


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """TLS of a syslog TCP input: PEM files; the key's passphrase, if any, from an environment variable."""

    cert_file: Path
    key_file: Path
    ca_file: Path | None = None
    """CA bundle to verify client certificates against (mutual TLS)."""
    require_client_cert: bool = False
    """With ``ca_file``: refuse clients without a valid certificate (otherwise a certificate is optional)."""
    key_password_env: str | None = None
    """Name of the environment variable holding the key's passphrase (never the passphrase itself)."""


@dataclass(frozen=True, slots=True)
class SyslogUdpSettings:
    host: str = "127.0.0.1"
    """Bind address; loopback by default (``0.0.0.0`` or ``::`` to listen on the network)."""
    port: int = 5514
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    """Longer messages are truncated and counted (reason ``oversize``)."""
    batch_seconds: float = 0.005
    """A batch is submitted this long after its first datagram, or as soon as it holds ``batch_records``."""
    batch_records: int = 500
    max_pending_records: int = 50_000
    """Messages received but not yet on disk, beyond which datagrams are dropped (reason ``overload``)."""
    max_pending_bytes: int = 32 << 20
    receive_buffer_bytes: int | None = 4 << 20
    """``SO_RCVBUF`` to ask for (the kernel caps it at ``net.core.rmem_max``); None leaves the default."""


@dataclass(frozen=True, slots=True)
class SyslogTcpSettings:
    host: str = "127.0.0.1"
    """Bind address; loopback by default."""
    port: int = 5514
    """5514 for plain TCP; 6514 (RFC 5425) is the usual port with TLS."""
    tls: TlsSettings | None = None
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    oversize: Literal["truncate", "drop"] = "truncate"
    """What happens to a message longer than ``max_message_bytes`` (counted as ``oversize`` either way)."""
    read_bytes: int = 64 * 1024
    """Bytes read from a connection at a time: one read's complete frames are one write-ahead-log append."""
    max_connections: int = 1024
    """Connections beyond this are closed at once and counted (reason ``connection_limit``)."""
    receive_buffer_bytes: int | None = None
    """``SO_RCVBUF`` of each connection (bounds what the kernel holds per connection); None: kernel autotuning."""
    tls_handshake_seconds: float = 10.0


class FrameSplitter:
    """Splits one TCP stream into syslog messages (RFC 6587 octet counting or LF/NUL delimiters, per frame).

    Memory stays below ``max_message_bytes`` plus one fed chunk, whatever the stream holds.
    """

    def __init__(self, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES, *, truncate: bool = True) -> None:
        self.max_message_bytes = max_message_bytes
        self.truncate = truncate
        self.max_believed_length = 16 * max_message_bytes
        self.oversized = 0
        """Messages longer than the maximum (truncated or dropped)."""
        self.unbelieved_lengths = 0
        """Length prefixes beyond the believed maximum, read as newline-delimited frames instead."""
        self._buffer = bytearray()
        self._skip = 0  # bytes of an oversized octet-counted frame still to discard
        self._discarding = False  # inside an oversized delimited frame: discard through the next delimiter

    def pending_bytes(self) -> int:
        """Bytes of an incomplete frame held (lost if the connection ends now)."""
        return len(self._buffer) + self._skip + (1 if self._discarding else 0)

    def feed(self, data: bytes) -> list[bytes]:
        """The messages completed by ``data``, trailing CR/LF/NUL removed, empty ones left out."""
        out: list[bytes] = []
        buffer = self._buffer
        buffer += data
        end = len(buffer)
        position = 0
        if self._skip:
            position = min(self._skip, end)
            self._skip -= position
        if self._discarding and position < end:
            found = _DELIMITER.search(buffer, position)
            if found is None:
                position = end
            else:
                position = found.end()
                self._discarding = False
        limit = self.max_message_bytes
        if position == 0 and not self._skip and not self._discarding:
            position = self._fast_lines(buffer, out)
        while position < end:
            first = buffer[position]
            if first == 0x0A or first == 0x00:  # an empty frame, or a sender's LF after an octet-counted frame
                position += 1
                continue
            if 0x31 <= first <= 0x39:
                prefix = _LENGTH_PREFIX.match(buffer, position)
                if prefix is None and end - position <= _MAX_PREFIX_DIGITS \
                        and _ALL_DIGITS.fullmatch(buffer, position, end) is not None:
                    break  # the length prefix itself is not complete yet
                if prefix is not None:
                    length = int(prefix.group(1))
                    if length <= self.max_believed_length:
                        start = prefix.end()
                        available = end - start
                        if length <= limit:
                            if available < length:
                                break
                            self._emit(out, buffer[start:start + length])
                            position = start + length
                            continue
                        # oversized: keep its first bytes, skip the rest as it streams by
                        if self.truncate:
                            if available < limit:
                                break
                            self._emit(out, buffer[start:start + limit])
                        self.oversized += 1
                        taken = min(available, length)
                        self._skip = length - taken
                        position = start + taken
                        continue
                    self.unbelieved_lengths += 1
            found = _DELIMITER.search(buffer, position)
            if found is None:
                if end - position > limit:  # an endless delimited frame: keep its head, discard the rest
                    if self.truncate:
                        self._emit(out, buffer[position:position + limit])
                    self.oversized += 1
                    self._discarding = True
                    position = end
                break
            message_end = found.start()
            if message_end - position > limit:
                if self.truncate:
                    self._emit(out, buffer[position:position + limit])
                self.oversized += 1
            else:
                self._emit(out, buffer[position:message_end])
            position = found.end()
        del buffer[:position]
        return out

    def _fast_lines(self, buffer: bytearray, out: list[bytes]) -> int:
        """The common case at C speed: complete LF-delimited frames, none octet-counted, NUL-ended or too long.
        Returns where the general loop goes on (0 when the case does not apply)."""
        last = buffer.rfind(b"\n")
        if last < 0:
            return 0
        head = bytes(buffer[:last])
        if b"\x00" in head:
            return 0
        lines = head.split(b"\n")
        if any(line[:1] in _OCTET_COUNT_START for line in lines) or max(map(len, lines)) > self.max_message_bytes:
            return 0
        out.extend(kept for line in lines if (kept := line.rstrip(b"\r")))
        return last + 1

    @staticmethod
    def _emit(out: list[bytes], message: bytearray) -> None:
        data = bytes(message).rstrip(b"\r\n\x00")
        if data:
            out.append(data)


def build_server_ssl_context(settings: TlsSettings) -> ssl.SSLContext:
    """A server context from PEM files: TLS 1.2 at least; client certificates verified against ``ca_file``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    password: str | None = None
    if settings.key_password_env:
        password = os.environ.get(settings.key_password_env)
        if password is None:
            raise InputError(f"environment variable {settings.key_password_env} (TLS key passphrase) is not set")
    try:
        context.load_cert_chain(settings.cert_file, settings.key_file, password=password)
        if settings.ca_file is not None:
            context.load_verify_locations(cafile=settings.ca_file)
            context.verify_mode = ssl.CERT_REQUIRED if settings.require_client_cert else ssl.CERT_OPTIONAL
        elif settings.require_client_cert:
            raise InputError("require_client_cert needs ca_file (the CA that signs client certificates)")
    except (OSError, ssl.SSLError) as error:  # never echo the passphrase: only the files and the reason
        raise InputError(f"cannot load TLS certificate {settings.cert_file} / key {settings.key_file}: "
                         f"{type(error).__name__}: {getattr(error, 'strerror', None) or error}") from None
    return context


# --------------------------------------------------------------------------------------------------- UDP


class SyslogUdpInput:
    """Syslog over UDP: one datagram, one message (or several, newline-separated)."""

    def __init__(self, name: str, settings: SyslogUdpSettings, sink: IngestSink) -> None:
        self.name = name
        self.settings = settings
        self.sink = sink
        self.port = settings.port
        """The bound port (the actual one when ``settings.port`` is 0)."""
        metrics = sink.metrics
        self._dropped_overload = metrics.dropped.labels(name, "overload")
        self._dropped_oversize = metrics.dropped.labels(name, "oversize")
        self._dropped_kernel = metrics.dropped.labels(name, "kernel")
        self._dropped_error = metrics.dropped.labels(name, "error")
        self._pending: list[IngestRecord] = []
        self._pending_bytes = 0
        self._inflight = 0
        self._inflight_bytes = 0
        self._arrived = asyncio.Event()
        self._full = asyncio.Event()
        self._stopping = False
        self._socket: socket.socket | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._socket_inode = 0
        self._socket_family = socket.AF_INET
        self._kernel_drops = 0
        self._kernel_checked = 0.0
        self._sink_overloaded = False
        self._sink_checked_ns = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        sock = _bound_socket(self.settings.host, self.settings.port, socket.SOCK_DGRAM)
        if self.settings.receive_buffer_bytes:
            _set_receive_buffer(sock, self.settings.receive_buffer_bytes)
        self.port = sock.getsockname()[1]
        self._socket_inode = os.fstat(sock.fileno()).st_ino
        self._socket_family = sock.family
        self._kernel_drops = _kernel_udp_drops(self._socket_family, self._socket_inode) or 0
        # a reader callback that drains many datagrams per wake-up: a datagram protocol costs one event-loop
        # round and a 256 KiB buffer per datagram
        self._socket = sock
        loop.add_reader(sock.fileno(), self._readable)
        self._flusher = asyncio.create_task(self._flush_loop(), name=f"yamori-udp-{self.name}")
        log.info("input %s: syslog UDP on %s port %d", self.name, self.settings.host, self.port)

    def _readable(self) -> None:
        sock = self._socket
        if sock is None:
            return
        for _ in range(_DATAGRAMS_PER_WAKEUP):
            try:
                data, address = sock.recvfrom(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:  # e.g. ICMP errors reported on the socket: the next datagram is fine
                log.debug("input %s: UDP receive error: %s", self.name, error)
                return
            self._received(data, str(address[0]))

    def _received(self, data: bytes, sender: str) -> None:
        settings = self.settings
        messages = data.split(b"\n")
        received = time.time_ns()
        if received - self._sink_checked_ns > 1_000_000:  # asking the sink costs microseconds: once a millisecond
            self._sink_checked_ns = received
            self._sink_overloaded = self.sink.overloaded()
        overloaded = (self._sink_overloaded
                      or len(self._pending) + self._inflight >= settings.max_pending_records
                      or self._pending_bytes + self._inflight_bytes >= settings.max_pending_bytes)
        pending = self._pending
        was_empty = not pending
        for message in messages:
            message = message.rstrip(b"\r\n\x00")
            if not message:
                continue
            if overloaded:
                self._dropped_overload.inc()
                continue
            if len(message) > settings.max_message_bytes:
                self._dropped_oversize.inc()
                message = message[:settings.max_message_bytes]
            pending.append(IngestRecord(self.name, RecordKind.MESSAGE, message, received, sender))
            self._pending_bytes += len(message)
        if was_empty and pending:
            self._arrived.set()
        if len(pending) >= settings.batch_records:
            self._full.set()

    async def _flush_loop(self) -> None:
        settings = self.settings
        while True:
            self.check_kernel_drops()
            if not self._pending:
                if self._stopping:
                    return
                self._arrived.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), 1.0)
                continue
            if len(self._pending) < settings.batch_records and not self._stopping:
                with contextlib.suppress(TimeoutError):  # let the batch fill for a few milliseconds
                    await asyncio.wait_for(self._full.wait(), settings.batch_seconds)
            self._full.clear()
            batch, self._pending = self._pending, []
            self._inflight, self._inflight_bytes, self._pending_bytes = len(batch), self._pending_bytes, 0
            try:
                await self.sink.submit(batch, check=False)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the disk is full or failing: these datagrams are lost, counted
                self._dropped_error.inc(len(batch))
                log.error("input %s: cannot write %d UDP messages to the write-ahead log: %s", self.name,
                          len(batch), error)
                await asyncio.sleep(0.1)
            finally:
                self._inflight = self._inflight_bytes = 0

    def check_kernel_drops(self, *, force: bool = False) -> None:
        """Count the datagrams the kernel dropped for this socket since the last check (at most once a second)."""
        now = time.monotonic()
        if not force and now - self._kernel_checked < 1.0:
            return
        self._kernel_checked = now
        drops = _kernel_udp_drops(self._socket_family, self._socket_inode)
        if drops is not None and drops > self._kernel_drops:
            self._dropped_kernel.inc(drops - self._kernel_drops)
            self._kernel_drops = drops

    async def stop(self) -> None:
        """Stop receiving, write what is pending, and return."""
        self._stopping = True
        if self._socket is not None:
            asyncio.get_running_loop().remove_reader(self._socket.fileno())
            self._socket.close()
            self._socket = None
        self._arrived.set()
        self._full.set()
        if self._flusher is not None:
            await self._flusher
            self._flusher = None
        self.check_kernel_drops(force=True)


def _set_receive_buffer(sock: socket.socket, size: int) -> None:
    """``SO_RCVBUF``, beyond ``net.core.rmem_max`` where the process may (``SO_RCVBUFFORCE``, CAP_NET_ADMIN)."""
    force = getattr(socket, "SO_RCVBUFFORCE", 33 if sys.platform.startswith("linux") else None)
    if force is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, force, size)
            return
        except OSError:
            pass
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


def _kernel_udp_drops(family: int, inode: int) -> int | None:
    """The ``drops`` column of ``/proc/net/udp[6]`` for the socket with this inode; None where unavailable."""
    table = "/proc/net/udp6" if family == socket.AF_INET6 else "/proc/net/udp"
    wanted = str(inode)
    try:
        with open(table, "rb") as stream:
            next(stream, None)
            for line in stream:
                columns = line.split()
                if len(columns) >= 13 and columns[9].decode() == wanted:
                    return int(columns[-1])
    except (OSError, ValueError):
        return None
    return None


def _bound_socket(host: str, port: int, kind: socket.SocketKind) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=kind, flags=socket.AI_PASSIVE)
    except OSError as error:
        raise InputError(f"cannot resolve bind address {host!r}: {error}") from None
    family, _, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        sock.setblocking(False)
    except OSError as error:
        sock.close()
        raise InputError(f"cannot bind {host} port {port}: {error.strerror or error}") from None
    return sock


# --------------------------------------------------------------------------------------------------- TCP/TLS


@dataclass(slots=True)
class _Connection:
    task: asyncio.Task[None] | None
    peer: str
    busy: bool = False  # between reading a chunk and its records being on disk: not to be cancelled


class SyslogTcpInput:
    """Syslog over TCP, or TLS when ``settings.tls`` is set; many connections at once."""

    def __init__(self, name: str, settings: SyslogTcpSettings, sink: IngestSink) -> None:
        self.name = name
        self.settings = settings
        self.sink = sink
        self.port = settings.port
        """The bound port (the actual one when ``settings.port`` is 0)."""
        self.connections_total = 0
        metrics = sink.metrics
        self._dropped_oversize = metrics.dropped.labels(name, "oversize")
        self._dropped_partial = metrics.dropped.labels(name, "partial_frame")
        self._dropped_limit = metrics.dropped.labels(name, "connection_limit")
        self._server: asyncio.Server | None = None
        self._connections: dict[int, _Connection] = {}
        self._stopping = False

    async def start(self) -> None:
        settings = self.settings
        context = build_server_ssl_context(settings.tls) if settings.tls is not None else None
        sock = _bound_socket(settings.host, settings.port, socket.SOCK_STREAM)
        if settings.receive_buffer_bytes:  # accepted sockets inherit it
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, settings.receive_buffer_bytes)
        try:
            self._server = await asyncio.start_server(
                self._handle, sock=sock, ssl=context, limit=settings.read_bytes, backlog=512,
                ssl_handshake_timeout=settings.tls_handshake_seconds if context is not None else None)
        except OSError as error:
            sock.close()
            raise InputError(f"cannot listen on {settings.host} port {settings.port}: {error}") from None
        self.port = sock.getsockname()[1]
        log.info("input %s: syslog %s on %s port %d", self.name, "TLS" if context else "TCP", settings.host,
                 self.port)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")
        peer = str(peername[0]) if peername else "unknown"
        if self._stopping or len(self._connections) >= self.settings.max_connections:
            self._dropped_limit.inc()
            log.warning("input %s: connection from %s refused: %d connections open", self.name, peer,
                        len(self._connections))
            writer.close()
            return
        sock = writer.get_extra_info("socket")
        if sock is not None:  # reap peers that vanished without closing
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        connection = _Connection(asyncio.current_task(), peer)
        key = id(connection)
        self._connections[key] = connection
        self.connections_total += 1
        settings = self.settings
        splitter = FrameSplitter(settings.max_message_bytes, truncate=settings.oversize == "truncate")
        sink = self.sink
        name = self.name
        oversized = 0
        try:
            while not self._stopping:
                if sink.overloaded():  # stop reading: the socket buffers fill and TCP slows the sender
                    await sink.wait_for_capacity(name)
                try:
                    chunk = await reader.read(settings.read_bytes)
                except (ConnectionError, ssl.SSLError, OSError) as error:
                    log.debug("input %s: connection from %s failed: %s", name, peer, error)
                    break
                if not chunk:
                    break
                connection.busy = True
                messages = splitter.feed(chunk)
                if splitter.oversized != oversized:
                    self._dropped_oversize.inc(splitter.oversized - oversized)
                    if not oversized:
                        log.warning("input %s: message over %d bytes from %s %s", name,
                                    settings.max_message_bytes, peer,
                                    "truncated" if splitter.truncate else "dropped")
                    oversized = splitter.oversized
                if messages:
                    received = time.time_ns()
                    await self._submit([IngestRecord(name, RecordKind.MESSAGE, message, received, peer)
                                        for message in messages])
                connection.busy = False
        except asyncio.CancelledError:
            pass  # stop() cancels only connections waiting to read: nothing read is lost
        finally:
            if splitter.pending_bytes():
                self._dropped_partial.inc()
                log.info("input %s: connection from %s closed inside a frame (%d bytes lost)", name, peer,
                         splitter.pending_bytes())
            self._connections.pop(key, None)
            writer.close()
            # a connection handler ends normally even when cancelled twice (asyncio logs cancelled handlers)
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _submit(self, records: list[IngestRecord]) -> None:
        """Submit until durable; while the log cannot be written, keep the connection paused and retry."""
        attempt = 0
        while True:
            try:
                await self.sink.submit(records, check=False)
                return
            except Exception as error:
                if attempt == 0:
                    log.error("input %s: cannot write to the write-ahead log, reading paused: %s", self.name, error)
                await asyncio.sleep(_RETRY_SECONDS[min(attempt, len(_RETRY_SECONDS) - 1)])
                attempt += 1

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting and reading; records already read are written before this returns."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        connections = list(self._connections.values())
        for connection in connections:
            if not connection.busy and connection.task is not None:
                connection.task.cancel()
        tasks = [connection.task for connection in connections if connection.task is not None]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=timeout)
            for task in late:
                task.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), timeout)
            self._server = None
