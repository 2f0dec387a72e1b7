"""A forward-only stream (an archive member, a network body) made rewindable over its first bytes.

Recognising a format reads the start of a stream and goes back; archive members read in streaming mode cannot
seek. :class:`ReplayStream` keeps the first ``limit`` bytes it hands out, so that seeking anywhere within them
works, without holding more than that in memory and without writing anything to disk.
"""

from __future__ import annotations

import io
from typing import IO, Any

__all__ = ["ReplayStream", "rewindable"]

SNIFF_LIMIT = 32 * 1024 * 1024


class ReplayStream(io.RawIOBase):
    """Seekable within the first ``limit`` bytes as long as no read went beyond them."""

    def __init__(self, raw: IO[bytes], limit: int = SNIFF_LIMIT) -> None:
        super().__init__()
        self._raw = raw
        self._kept = bytearray()
        self._limit = limit
        self._position = 0
        self._beyond = False  # something was read past the kept prefix: rewinding is no longer possible

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._position
        elif whence != io.SEEK_SET:
            raise io.UnsupportedOperation("cannot seek from the end of a stream")
        if offset == self._position:
            return offset
        if self._beyond or offset > len(self._kept) or offset < 0:
            raise io.UnsupportedOperation("cannot seek in a stream beyond its first bytes")
        self._position = offset
        return offset

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        served = 0
        if self._position < len(self._kept):
            served = min(len(view), len(self._kept) - self._position)
            view[:served] = self._kept[self._position:self._position + served]
            self._position += served
            if served == len(view):
                return served
        data = self._raw.read(len(view) - served)
        if not data:
            return served
        count = len(data)
        view[served:served + count] = data
        if not self._beyond and len(self._kept) + count <= self._limit:
            self._kept += data
        else:
            self._beyond = True
            self._kept = bytearray()
        self._position += count
        return served + count

    def close(self) -> None:
        self._kept = bytearray()
        super().close()


def rewindable(stream: IO[bytes]) -> IO[bytes]:
    """``stream`` itself when it can seek, else a buffered :class:`ReplayStream` over it."""
    try:
        if stream.seekable():
            return stream
    except (OSError, ValueError, AttributeError):  # tarfile's streamed members raise AttributeError
        pass
    return io.BufferedReader(ReplayStream(stream), buffer_size=1 << 16)
