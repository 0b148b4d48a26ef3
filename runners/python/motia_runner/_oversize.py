"""Recovering the id of a message too large to decode, so it can be answered MessageTooLarge.

An oversized line is never held whole: the reader keeps its first and last few KiB. The id is
found either as a top-level key near the start (the usual ``{"jsonrpc":"2.0","id":7,...`` order)
or as the very last key. A nested ``"id"`` (say in an api body) must never be mistaken for it,
so the start is scanned with a small depth-tracking tokenizer instead of a plain regex.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ("HEAD_BYTES", "TAIL_BYTES", "Oversized", "top_level_fields")

HEAD_BYTES = 64 * 1024
TAIL_BYTES = 4 * 1024

_COLON_VALUE = re.compile(rb'\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")')
_LAST_ID = re.compile(rb',\s*"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")\s*}\s*$')
_WANTED = (b"id", b"method")


class Oversized:
    """The first and last bytes of a line over the limit, and its full length."""

    __slots__ = ("head", "size", "tail")

    def __init__(self, first: bytes | bytearray) -> None:
        self.head = bytes(first[:HEAD_BYTES])
        self.tail = bytes(first[-TAIL_BYTES:])
        self.size = len(first)

    def add(self, data: bytes) -> None:
        if len(self.head) < HEAD_BYTES:
            self.head += data[: HEAD_BYTES - len(self.head)]
        self.tail = (self.tail + data[-TAIL_BYTES:])[-TAIL_BYTES:]
        self.size += len(data)

    def fields(self) -> dict[str, Any]:
        """Top-level ``id`` and ``method`` found at the start, or ``id`` found as the last key."""
        found = top_level_fields(self.head)
        if "id" not in found:
            match = _LAST_ID.search(self.tail)
            if match:
                found["id"] = json.loads(match.group(1))
        return found


def _string_end(data: bytes, start: int) -> int:
    """Index just past the string literal opening at ``start``, or -1 if it is cut off."""
    i = start + 1
    while True:
        quote = data.find(b'"', i)
        if quote < 0:
            return -1
        backslashes = 0
        k = quote - 1
        while k > start and data[k] == 0x5C:
            backslashes += 1
            k -= 1
        if backslashes % 2 == 0:
            return quote + 1
        i = quote + 1


def top_level_fields(head: bytes) -> dict[str, Any]:
    """Scalar values of the top-level keys ``id`` and ``method`` within a JSON prefix."""
    found: dict[str, Any] = {}
    depth = 0
    expect_key = False
    i, n = 0, len(head)
    while i < n:
        c = head[i]
        if c == 0x22:  # '"'
            end = _string_end(head, i)
            if end < 0:
                break
            if depth == 1 and expect_key:
                key = head[i + 1 : end - 1]
                match = _COLON_VALUE.match(head, end)
                if key in _WANTED and match:
                    found[key.decode()] = json.loads(match.group(1))
            expect_key = False
            i = end
            continue
        if c in b"{[":
            depth += 1
            expect_key = c == 0x7B and depth == 1
        elif c in b"}]":
            depth -= 1
            if depth <= 0:
                break
        elif c == 0x2C:  # ','
            expect_key = depth == 1
        i += 1
    return found
