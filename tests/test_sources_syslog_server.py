"""Syslog inputs over real sockets: RFC 6587 framing, TLS, push-back, UDP drop accounting, and a real rsyslogd
forwarding over UDP, TCP (both framings) and mutual TLS. Records are read back from the write-ahead log."""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asynckit import until
from rsyslog import Certificates, Forward, Rsyslog, make_certificates, rsyslogd_or_skip
from yamori.ingest.record import IngestRecord, RecordKind
from yamori.ingest.sink import IngestSink, Limits
from yamori.ingest.wal import WalWriter, iter_records
from yamori.ops.metrics import InputMetrics
from yamori.sources.syslog_server import (
    FrameSplitter,
    SyslogTcpInput,
    SyslogTcpSettings,
    SyslogUdpInput,
    SyslogUdpSettings,
    TlsSettings,
    build_server_ssl_context,
)

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


def make_sink(wal: Path, limits: Limits | None = None) -> IngestSink:
    return IngestSink(WalWriter(wal), InputMetrics(), limits)


def records(wal: Path, input_name: str | None = None) -> list[IngestRecord]:
    return [record for _, record in iter_records(wal) if input_name is None or record.input == input_name]


def dropped(sink: IngestSink, input_name: str, reason: str) -> float:
    value = sink.metrics.registry.get_sample_value("yamori_input_dropped_total",
                                                   {"input": input_name, "reason": reason})
    return value or 0.0




@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


# ------------------------------------------------------------------------------------------ framing oracle

MAX = 40
lf_message = st.binary(max_size=3 * MAX).filter(lambda data: not re.search(rb"[\n\x00\r]", data)) \
    .map(lambda data: b"<" + data)
octet_message = st.binary(max_size=3 * MAX).map(lambda data: b"<" + data)  # a syslog message starts with <PRI>


def expected_of(message: bytes, truncate: bool) -> bytes | None:
    if len(message) > MAX and not truncate:
        return None
    kept = message[:MAX].rstrip(b"\r\n\x00")
    return kept or None


@settings(max_examples=300, deadline=None)
@given(frames=st.lists(st.one_of(st.tuples(st.just("lf"), lf_message, st.sampled_from([b"\n", b"\x00", b"\r\n"])),
                                 st.tuples(st.just("octet"), octet_message, st.sampled_from([b"", b"\n"]))),
                       max_size=20),
       cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=15),
       truncate=st.booleans())
def test_frame_splitter_matches_the_framing_oracle(frames: list[tuple[str, bytes, bytes]], cuts: list[int],
                                                   truncate: bool) -> None:
    stream = b"".join(message + end if kind == "lf" else b"%d %s%s" % (len(message), message, end)
                      for kind, message, end in frames)
    splitter = FrameSplitter(MAX, truncate=truncate)
    got: list[bytes] = []
    previous = 0
    for cut in [*sorted({min(cut, len(stream)) for cut in cuts}), len(stream)]:
        got += splitter.feed(stream[previous:cut])
        previous = cut
    expected = [kept for _, message, _ in frames if (kept := expected_of(message, truncate)) is not None]
    assert got == expected
    assert splitter.oversized == sum(1 for _, message, _ in frames if len(message) > MAX)
    assert splitter.pending_bytes() == 0


def test_frame_splitter_unbelievable_length_is_read_as_a_line() -> None:
    splitter = FrameSplitter(100)
    assert splitter.feed(b"99999999 <7>huge\n12x <5>not a length\n2024-01-01 no pri\n<8>next\n") == [
        b"99999999 <7>huge", b"12x <5>not a length", b"2024-01-01 no pri", b"<8>next"]
    assert splitter.unbelieved_lengths == 1
    assert splitter.feed(b"1234567890123 ten digits and more\n") == [b"1234567890123 ten digits and more"]


def test_frame_splitter_memory_is_bounded_by_the_message_size() -> None:
    splitter = FrameSplitter(1000, truncate=False)
    for _ in range(100):  # 10 MB without a delimiter, then 10 MB of one octet-counted frame
        assert splitter.feed(b"<1>" + b"x" * 100_000) == []
        assert splitter.pending_bytes() <= 1001
    assert splitter.feed(b"\n<2>after\n") == [b"<2>after"]
    assert splitter.feed(b"15000 <" + b"y" * 9_999) == []
    assert splitter.pending_bytes() <= 5000
    assert splitter.feed(b"y" * 5000 + b"<3>after\n") == [b"<3>after"]
    assert splitter.oversized == 2


# ------------------------------------------------------------------------------------------ TCP, raw clients


def connect(port: int) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return client


def test_tcp_framing_edge_cases_with_raw_clients(tmp_path: Path) -> None:
    wal = tmp_path / "wal"

    async def main() -> None:
        sink = make_sink(wal)
        tcp = SyslogTcpInput("syslog-tcp", SyslogTcpSettings(port=0, max_message_bytes=100), sink)
        await tcp.start()

        def clients() -> None:
            with connect(tcp.port) as client:  # mixed framings, split across reads, NUL delimiter
                for piece in (b"<1>lf one\n1", b"0 <2>octet", b" 1<3>nul\x00<4>cr", b"lf\r\n", b"\n\n"):
                    client.sendall(piece)
                    time.sleep(0.02)
            with connect(tcp.port) as client:  # oversized octet-counted frame, then a normal one
                client.sendall(b"500 <" + b"o" * 499 + b"<5>after oversized\n")
            with connect(tcp.port) as client:  # oversized delimited frame
                client.sendall(b"<6>" + b"d" * 300 + b"\n<7>after long line\n")
            with connect(tcp.port) as client:  # garbage length prefixes do not hang the connection
                client.sendall(b"12x <8>bad prefix\n99999999 <9>huge\n<10>still working\n")
            with connect(tcp.port) as client:  # dropped mid-frame: only the partial frame is lost
                client.sendall(b"<11>complete\n<12>incompl")
                time.sleep(0.05)

        await asyncio.to_thread(clients)
        await until(lambda: dropped(sink, "syslog-tcp", "partial_frame") == 1, what="the partial frame")
        await until(lambda: tcp.open_connections == 0, what="connections to close")
        await tcp.stop()
        got = [record.payload for record in records(wal)]
        assert got == [b"<1>lf one", b"<2>octet 1", b"<3>nul", b"<4>crlf", b"<" + b"o" * 99, b"<5>after oversized",
                       (b"<6>" + b"d" * 300)[:100], b"<7>after long line", b"12x <8>bad prefix",
                       b"99999999 <9>huge", b"<10>still working", b"<11>complete"]
        assert dropped(sink, "syslog-tcp", "oversize") == 2
        assert {record.source for record in records(wal)} == {"127.0.0.1"}
        assert {record.kind for record in records(wal)} == {RecordKind.MESSAGE}
        assert sink.metrics.registry.get_sample_value("yamori_input_records_total", {"input": "syslog-tcp"}) == 12
        sink.close()

    run(main())


def test_tcp_drop_mode_and_connection_limit(tmp_path: Path) -> None:
    wal = tmp_path / "wal"

    async def main() -> None:
        sink = make_sink(wal)
        tcp = SyslogTcpInput("t", SyslogTcpSettings(port=0, max_message_bytes=10, oversize="drop",
                                                     max_connections=1), sink)
        await tcp.start()

        def clients() -> None:
            with connect(tcp.port) as first:
                first.sendall(b"<1>this is too long\n<2>short\n")
                time.sleep(0.2)
                with connect(tcp.port) as second:  # over the limit: closed at once
                    second.settimeout(2)
                    assert second.recv(10) == b""

        await asyncio.to_thread(clients)
        await until(lambda: tcp.open_connections == 0)
        await tcp.stop()
        assert [record.payload for record in records(wal)] == [b"<2>short"]
        assert dropped(sink, "t", "oversize") == 1
        assert dropped(sink, "t", "connection_limit") == 1
        sink.close()

    run(main())


def test_tcp_many_connections_at_once(tmp_path: Path) -> None:
    wal = tmp_path / "wal"
    connections, per_connection = 50, 200

    async def main() -> None:
        sink = make_sink(wal)
        tcp = SyslogTcpInput("many", SyslogTcpSettings(port=0), sink)
        await tcp.start()

        async def client(number: int) -> None:
            _, writer = await asyncio.open_connection("127.0.0.1", tcp.port)
            for seq in range(per_connection):  # octet-counted and LF framing alternate
                message = b"<13>client=%d seq=%d" % (number, seq)
                writer.write(b"%d %s" % (len(message), message) if seq % 2 else message + b"\n")
                if seq % 50 == 0:
                    await writer.drain()
            await writer.drain()
            writer.close()
            await writer.wait_closed()

        await asyncio.gather(*(client(number) for number in range(connections)))
        await until(lambda: len(records(wal)) >= connections * per_connection, what="every message")
        await tcp.stop()
        got = sorted(record.payload for record in records(wal))
        assert got == sorted(b"<13>client=%d seq=%d" % (number, seq) for number in range(connections)
                             for seq in range(per_connection))
        assert tcp.connections_total == connections
        sink.close()

    run(main())


def test_tcp_pushes_back_when_the_pipeline_is_behind_and_loses_nothing(tmp_path: Path) -> None:
    wal = tmp_path / "wal"
    total = 40_000
    payload = b"".join(b"<13>push-back test message seq=%08d padding padding padding\n" % seq
                       for seq in range(total))
    sent = [0]
    done = threading.Event()

    def client(port: int) -> None:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32 * 1024)
            view = memoryview(payload)
            while sent[0] < len(payload):
                sent[0] += sock.send(view[sent[0]:sent[0] + 16 * 1024])
        done.set()

    async def main() -> None:
        sink = make_sink(wal, Limits(max_backlog_records=200))
        tcp = SyslogTcpInput("push", SyslogTcpSettings(port=0, read_bytes=16 * 1024, receive_buffer_bytes=32 * 1024),
                             sink)
        await tcp.start()
        thread = threading.Thread(target=client, args=(tcp.port,), daemon=True)
        thread.start()
        await until(sink.overloaded, what="overload")
        await asyncio.sleep(0.5)
        stalled = sent[0]
        stalled_records = sink.wal.last_seq + 1
        await asyncio.sleep(0.5)
        # the input stopped reading: the sender is blocked on full socket buffers, nothing piles up in memory
        assert sent[0] == stalled < len(payload) // 4
        assert sink.wal.last_seq + 1 == stalled_records <= 200 + 16 * 1024 // 60
        assert (sink.metrics.registry.get_sample_value("yamori_input_pushback_total", {"input": "push"}) or 0) >= 1

        async def pipeline() -> None:  # commits whatever is in the log, as the real pipeline would
            while True:
                sink.set_committed(sink.wal.last_seq)
                await asyncio.sleep(0.01)

        committer = asyncio.create_task(pipeline())
        await until(lambda: sent[0] > stalled, what="the sender to resume")
        sink.limits = Limits(max_backlog_records=5000)  # the rest at full speed (the sink polls every 50 ms)
        await asyncio.to_thread(done.wait, 20)
        await until(lambda: sink.wal.last_seq + 1 >= total, timeout=20, what="every message")
        committer.cancel()
        await tcp.stop()
        seqs = [int(record.payload.split(b"seq=")[1].split()[0]) for record in records(wal)]
        assert seqs == list(range(total))
        sink.close()

    run(main(), timeout=40)


# ------------------------------------------------------------------------------------------ TLS


def test_tls_requires_a_client_certificate_when_configured(tmp_path: Path, certificates: Certificates) -> None:
    wal = tmp_path / "wal"
    tls = TlsSettings(certificates.server_cert, certificates.server_key, certificates.ca, require_client_cert=True)
    assert build_server_ssl_context(tls).minimum_version == ssl.TLSVersion.TLSv1_2

    def client_context(with_certificate: bool) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(certificates.ca))
        if with_certificate:
            context.load_cert_chain(certificates.client_cert, certificates.client_key)
        return context

    async def main() -> None:
        sink = make_sink(wal)
        server = SyslogTcpInput("tls", SyslogTcpSettings(port=0, tls=tls), sink)
        await server.start()

        def clients() -> None:
            raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            with client_context(True).wrap_socket(raw, server_hostname="localhost") as secure:
                secure.sendall(b"<14>over tls\n24 <14>octet-counted on tls")
            raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            try:  # refused: TLS 1.3 reports it on the first read, as an alert or the connection closed
                with client_context(False).wrap_socket(raw, server_hostname="localhost") as secure:
                    secure.sendall(b"<14>no certificate\n")
                    assert secure.recv(10) == b""
            except (ssl.SSLError, ConnectionError):
                pass

        await asyncio.to_thread(clients)
        await until(lambda: len(records(wal)) == 2)
        await asyncio.sleep(0.1)
        await server.stop()
        assert [record.payload for record in records(wal)] == [b"<14>over tls", b"<14>octet-counted on tls"]
        sink.close()

    run(main())


def test_tls_key_errors_are_reported_without_secrets(tmp_path: Path, certificates: Certificates) -> None:
    from yamori.sources.syslog_server import InputError

    with pytest.raises(InputError, match="cannot load TLS certificate"):
        build_server_ssl_context(TlsSettings(certificates.server_cert, tmp_path / "missing.key"))
    with pytest.raises(InputError, match="YAMORI_TEST_UNSET_PASSPHRASE"):
        build_server_ssl_context(TlsSettings(certificates.server_cert, certificates.server_key,
                                             key_password_env="YAMORI_TEST_UNSET_PASSPHRASE"))


# ------------------------------------------------------------------------------------------ UDP


def test_udp_datagrams_become_messages(tmp_path: Path) -> None:
    wal = tmp_path / "wal"

    async def main() -> None:
        sink = make_sink(wal)
        udp = SyslogUdpInput("syslog-udp", SyslogUdpSettings(port=0, max_message_bytes=50), sink)
        await udp.start()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            for datagram in (b"<1>one\n", b"<2>two\x00", b"<3>three\n<4>four\n", b"", b"<5>" + b"x" * 100):
                client.sendto(datagram, ("127.0.0.1", udp.port))
        await until(lambda: len(records(wal)) == 5, what="five messages")
        await udp.stop()
        got = records(wal)
        assert [record.payload for record in got] == [b"<1>one", b"<2>two", b"<3>three", b"<4>four",
                                                      (b"<5>" + b"x" * 100)[:50]]
        assert {record.source for record in got} == {"127.0.0.1"}
        assert dropped(sink, "syslog-udp", "oversize") == 1
        sink.close()

    run(main())


def test_udp_overload_drops_are_counted_exactly(tmp_path: Path) -> None:
    wal = tmp_path / "wal"
    total = 3000

    async def main() -> None:
        sink = make_sink(wal, Limits(max_backlog_records=500))  # nothing is ever committed
        udp = SyslogUdpInput("udp", SyslogUdpSettings(port=0, max_pending_records=300), sink)
        await udp.start()

        def send() -> None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
                for seq in range(total):
                    client.sendto(b"<13>udp seq=%d" % seq, ("127.0.0.1", udp.port))
                    if seq % 100 == 99:
                        time.sleep(0.002)

        await asyncio.to_thread(send)

        def accounted() -> float:
            udp.check_kernel_drops(force=True)
            return (len(records(wal)) + dropped(sink, "udp", "overload") + dropped(sink, "udp", "kernel"))

        await until(lambda: accounted() == total, what="every datagram accounted for")
        await udp.stop()
        got = [int(record.payload.split(b"seq=")[1]) for record in records(wal)]
        assert len(got) == len(set(got)) >= 500
        assert dropped(sink, "udp", "overload") >= total - len(got) - dropped(sink, "udp", "kernel") > 0
        sink.close()

    run(main())


# ------------------------------------------------------------------------------------------ a real rsyslogd


def test_rsyslog_forwards_over_udp_tcp_and_tls_exactly_once(tmp_path: Path, certificates: Certificates) -> None:
    rsyslogd_or_skip()
    wal = tmp_path / "wal"
    total = 2000
    names = ("rs-udp", "rs-tcp", "rs-octet", "rs-tls")

    async def main() -> None:
        sink = make_sink(wal)
        tls = TlsSettings(certificates.server_cert, certificates.server_key, certificates.ca,
                          require_client_cert=True)
        inputs: list[SyslogUdpInput | SyslogTcpInput] = [
            SyslogUdpInput("rs-udp", SyslogUdpSettings(port=0), sink),
            SyslogTcpInput("rs-tcp", SyslogTcpSettings(port=0), sink),
            SyslogTcpInput("rs-octet", SyslogTcpSettings(port=0), sink),
            SyslogTcpInput("rs-tls", SyslogTcpSettings(port=0, tls=tls), sink),
        ]
        for item in inputs:
            await item.start()
        ports = [item.port for item in inputs]
        source = tmp_path / "source.log"
        forwards = [Forward("udp", ports[0]), Forward("tcp", ports[1], "traditional"),
                    Forward("tcp", ports[2], "octet-counted"), Forward("tls", ports[3])]
        with Rsyslog(tmp_path / "rsyslog", source, forwards, certificates) as rsyslog:
            with source.open("a") as stream:
                for seq in range(total):
                    stream.write(f"yamori rsyslog test seq={seq:06d} user=alice action=login\n")
                    if seq % 250 == 249:  # paced, so that UDP datagrams are not lost in the kernel
                        stream.flush()
                        await asyncio.sleep(0.01)

            counts = {name: 0 for name in names}

            def complete() -> bool:
                counts.update({name: 0 for name in names})
                for record in records(wal):
                    counts[record.input] += 1
                return all(count >= total for count in counts.values())

            try:
                await until(complete, timeout=20, what="rsyslog's messages on every input")
            except AssertionError:
                raise AssertionError(f"rsyslog did not deliver everything: {counts}, missing "
                                     f"{missing_seqs(wal, names, total)}; rsyslogd said: "
                                     f"{rsyslog.output()[-2000:]}") from None
        for item in inputs:
            await item.stop()
        got = records(wal)
        for name in names:
            mine = [record for record in got if record.input == name]
            assert sorted(seq_of(record) for record in mine) == list(range(total)), name
            assert all(b"yamoritest: yamori rsyslog test" in record.payload for record in mine)
            assert all(record.payload.startswith(b"<134>") for record in mine)
            assert {record.source for record in mine} == {"127.0.0.1"}
        assert dropped(sink, "rs-udp", "kernel") == 0
        sink.close()

    run(main(), timeout=40)


def seq_of(record: IngestRecord) -> int:
    found = re.search(rb"seq=(\d+)", record.payload)
    assert found is not None, record.payload
    return int(found.group(1))


def missing_seqs(wal: Path, names: tuple[str, ...], total: int) -> dict[str, list[int]]:
    """The first sequence numbers missing per input (to tell a sender's loss from a receiver's)."""
    return {name: sorted(set(range(total)) - {seq_of(record) for record in records(wal, name)})[:10]
            for name in names}


def test_a_line_starting_with_a_number_is_not_taken_for_an_octet_count() -> None:
    splitter = FrameSplitter(1000)
    lines = b"130324  0:04:00 [Warning] mysqld: access denied\n1403884279 - 06/27/2014 portsentry\n<1>next\n"
    assert splitter.feed(lines) == [b"130324  0:04:00 [Warning] mysqld: access denied",
                                    b"1403884279 - 06/27/2014 portsentry", b"<1>next"]
