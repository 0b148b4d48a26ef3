"""Newline-delimited framing with a hard size cap (PROTOCOL.md section 1).

Pure and synchronous so it can be tested byte by byte: feed whatever the pipe gave, get back the
complete lines. A line longer than the cap is an error even before its newline arrives, so a
runaway writer cannot make the core buffer without bound.
"""

from __future__ import annotations

__all__ = ("FrameTooLarge", "LineBuffer")


class FrameTooLarge(Exception):
    """A line exceeds the maximum message size."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            f"a message of at least {size} bytes exceeds the limit of {limit} bytes"
        )


class LineBuffer:
    """Splits a byte stream into lines of at most ``limit`` bytes (newline excluded)."""

    __slots__ = ("_buf", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._buf = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add a chunk; return the complete lines it finished, in order."""
        buf = self._buf
        if not buf and chunk.endswith(b"\n") and len(chunk) <= self.limit + 1:
            # The common case on a quiet pipe: exactly one or more whole messages, no copy.
            lines = chunk.split(b"\n")
            lines.pop()
            for line in lines:
                if len(line) > self.limit:
                    raise FrameTooLarge(len(line), self.limit)
            return lines
        buf += chunk
        lines = []
        start = 0
        while (end := buf.find(b"\n", start)) >= 0:
            if end - start > self.limit:
                raise FrameTooLarge(end - start, self.limit)
            lines.append(bytes(buf[start:end]))
            start = end + 1
        del buf[:start]
        if len(buf) > self.limit:
            raise FrameTooLarge(len(buf), self.limit)
        return lines

    @property
    def pending(self) -> int:
        """Bytes of an unfinished line."""
        return len(self._buf)
