"""The IngestSink: what every input hands its records to, and the one place that decides push-back.

Records go to the write-ahead log on a worker thread (never on the event loop); :meth:`IngestSink.submit`
returns the last record's seq once it is on disk, which is when an input may acknowledge its sender. When the
pipeline falls behind (too many records or bytes in the log not yet stored), the sink is *overloaded*: HTTP
inputs answer 429/503 with Retry-After, stream inputs stop reading (TCP flow control), datagram inputs drop and
count.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from yamori.exceptions import YamoriError
from yamori.ingest.record import IngestRecord, RecordKind
from yamori.ingest.wal import WalWriter
from yamori.ops.metrics import InputMetrics


class Overloaded(YamoriError):
    """The pipeline is behind: the sender must retry later."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"overloaded, retry after {retry_after:g} s")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Limits:
    max_backlog_records: int = 200_000
    max_backlog_bytes: int = 256 << 20
    retry_after: float = 1.0


class IngestSink:
    def __init__(self, wal: WalWriter, metrics: InputMetrics, limits: Limits | None = None,
                 committed_seq: int = -1) -> None:
        self.wal = wal
        self.metrics = metrics
        self.limits = limits or Limits()
        self.committed_seq = committed_seq
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="wal")
        self._lock = threading.Lock()
        self._appended: deque[tuple[int, int]] = deque()  # (last seq, log bytes appended through it)
        self.last_append = time.monotonic()

    def set_committed(self, seq: int) -> None:
        """The pipeline stored everything through ``seq``."""
        self.committed_seq = max(self.committed_seq, seq)
        with self._lock:
            appended = self._appended
            while len(appended) > 1 and appended[1][0] <= self.committed_seq:
                appended.popleft()

    def backlog_records(self) -> int:
        return max(0, self.wal.last_seq - self.committed_seq)

    def backlog_bytes(self) -> int:
        with self._lock:
            if not self._appended:
                return 0
            consumed = self._appended[0][1] if self._appended[0][0] <= self.committed_seq else 0
            return self.wal.appended_bytes - consumed

    def overloaded(self) -> bool:
        limits = self.limits
        return (self.backlog_records() >= limits.max_backlog_records
                or self.backlog_bytes() >= limits.max_backlog_bytes)

    def _append(self, records: Sequence[IngestRecord]) -> int:
        self.last_append = time.monotonic()
        seq = self.wal.append(records)
        with self._lock:
            self._appended.append((seq, self.wal.appended_bytes))
        return seq

    def _count(self, records: Sequence[IngestRecord]) -> None:
        # one labels().inc() per input and batch: per record it cost as much as the rest of a syslog input's work
        counts: dict[str, list[int]] = {}
        for record in records:
            if record.kind is RecordKind.CLOCK:
                continue
            tally = counts.get(record.input)
            if tally is None:
                tally = counts[record.input] = [0, 0]
            tally[0] += 1
            tally[1] += len(record.payload)
        for input_name, (number, size) in counts.items():
            self.metrics.records.labels(input_name).inc(number)
            self.metrics.received_bytes.labels(input_name).inc(size)

    async def submit(self, records: Sequence[IngestRecord], *, check: bool = True) -> int:
        """Append and wait until durable; raises :class:`Overloaded` first when ``check`` and behind."""
        if not records:
            return self.wal.last_seq
        if check and self.overloaded():
            self.metrics.pushback.labels(records[0].input).inc()
            raise Overloaded(self.limits.retry_after)
        seq = await asyncio.get_running_loop().run_in_executor(self._executor, self._append, records)
        self._count(records)
        return seq

    def submit_blocking(self, records: Sequence[IngestRecord]) -> int:
        """Append and wait until durable, from a thread (file tails); callers wait for capacity themselves."""
        seq = self._append(records) if records else self.wal.last_seq
        self._count(records)
        return seq

    async def wait_for_capacity(self, input_name: str, poll: float = 0.05) -> None:
        """Return once the pipeline has room; stream inputs stop reading meanwhile (TCP flow control)."""
        if not self.overloaded():
            return
        self.metrics.pushback.labels(input_name).inc()
        while self.overloaded():
            await asyncio.sleep(poll)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.wal.close()
