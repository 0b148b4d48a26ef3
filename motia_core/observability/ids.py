"""Trace and span ids, and the W3C ``traceparent`` header that carries them between services.

Trace ids keep Motia's own format (MOTIA_CONTRACT.md 8.3: ``K7M2Q-5123456``), because user code
and the Workbench show them and users type them into searches. Span ids are W3C span ids
(16 lowercase hex) from the start, so they need no mapping.

A W3C trace id must be 32 hex digits, which a Motia id is not. The mapping, both ways:

* An incoming valid ``traceparent`` continues the outside trace: its 32-hex trace id *becomes*
  the trace id, and its parent id becomes the parent of our first span.
* An outgoing ``traceparent`` is always produced. A 32-hex trace id (one that came from outside)
  goes out unchanged. A Motia id goes out as the hex of the 16 ASCII bytes ``"mot" + id``
  (``K7M2Q-5123456`` -> ``6d6f744b374d32512d35313233343536``): deterministic and reversible,
  so when one motia service calls another, :func:`parse_traceparent` on the far side turns it
  back into ``K7M2Q-5123456`` and both services file the work under the same id. Any other
  trace id (one a user chose) is hashed to 32 hex: deterministic, not reversible.
"""

from __future__ import annotations

import functools
import hashlib
import random
import re
import time
from typing import NamedTuple

__all__ = (
    "TRACE_ID_ALPHABET",
    "TRACE_ID_PATTERN",
    "TraceParent",
    "format_traceparent",
    "is_motia_trace_id",
    "new_span_id",
    "new_trace_id",
    "now_ms",
    "parse_traceparent",
    "w3c_trace_id",
)

# 32 characters, so a random byte masked to 5 bits picks one without bias. No I, L, O or 0, so an
# id read aloud is not misheard; the same alphabet as the original (src/generate-trace-id.ts).
TRACE_ID_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ123456789"
TRACE_ID_PATTERN = re.compile(r"[ABCDEFGHJKMNPQRSTUVWXYZ1-9]{5}-[0-9]{7}")

# The bytes put in front of a Motia id to fill a 16-byte W3C trace id, and to recognise one.
_MOTIA_W3C_PREFIX = b"mot"
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX16 = re.compile(r"[0-9a-f]{16}")
# version-traceid-parentid-flags; later versions may append "-..." (W3C trace-context 4.3).
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
# Random bits for ids come from `random` (seeded from the OS at import, and again in a forked
# child), not `os.urandom`: ids are not secrets, and os.urandom lets go of the GIL on every call,
# which, with the stores' threads running, made each id wait for it back (~45 us of wall time
# per call in a profile of the GET path under load).
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
# We record every trace, so what we send is always "sampled".
_FLAGS_SAMPLED = "01"
# Two characters of a trace id for 10 random bits (the low 5 pick the first): a new id takes
# three look-ups where it took five and a join.
_LETTER_PAIRS = tuple(a + b for b in TRACE_ID_ALPHABET for a in TRACE_ID_ALPHABET)


class TraceParent(NamedTuple):
    """What an incoming ``traceparent`` header contributes: the trace to continue, and the span
    in the calling service that our first span hangs under."""

    trace_id: str
    parent_span_id: str


def now_ms() -> int:
    """Wall clock in milliseconds since the epoch: the unit of every timestamp in a trace."""
    return time.time_ns() // 1_000_000


def new_trace_id(at_ms: int | None = None) -> str:
    """A new trace id in Motia's format: 5 random characters, ``-``, the last 7 digits of the
    millisecond clock (zero padded, as slicing ``Date.now()`` gives)."""
    clock = now_ms() if at_ms is None else at_ms
    bits = random.getrandbits(25)  # 5 bits a character, the first character's lowest
    return (f"{_LETTER_PAIRS[bits & 1023]}{_LETTER_PAIRS[(bits >> 10) & 1023]}"
            f"{TRACE_ID_ALPHABET[bits >> 20]}-{clock % 10_000_000:07d}")


def new_span_id() -> str:
    """A W3C span id: 16 lowercase hex digits, never all zeros (which W3C reserves as invalid)."""
    while True:
        span_id = f"{random.getrandbits(64):016x}"
        if span_id != _ZERO_SPAN:
            return span_id


def is_motia_trace_id(trace_id: str) -> bool:
    """Whether ``trace_id`` has the format :func:`new_trace_id` produces."""
    return TRACE_ID_PATTERN.fullmatch(trace_id) is not None


@functools.lru_cache(maxsize=4096)  # each step of a trace sends it: one mapping per trace
def w3c_trace_id(trace_id: str) -> str:
    """The 32-hex W3C form of any trace id (see the module docstring for the mapping)."""
    if _HEX32.fullmatch(trace_id) and trace_id != _ZERO_TRACE:
        return trace_id
    if is_motia_trace_id(trace_id):
        return (_MOTIA_W3C_PREFIX + trace_id.encode("ascii")).hex()
    digest = hashlib.blake2b(trace_id.encode("utf-8"), digest_size=16).hexdigest()
    # All zeros is invalid in W3C; a hash landing there is absurdly unlikely but costs one line.
    return digest if digest != _ZERO_TRACE else "0" * 31 + "1"


def _from_w3c_trace_id(hex_id: str) -> str:
    """Undo the reversible Motia mapping; any other hex id is the trace id itself."""
    raw = bytes.fromhex(hex_id)
    if raw.startswith(_MOTIA_W3C_PREFIX):
        candidate = raw[len(_MOTIA_W3C_PREFIX):].decode("ascii", errors="replace")
        if is_motia_trace_id(candidate):
            return candidate
    return hex_id


def parse_traceparent(header: str | None) -> TraceParent | None:
    """The trace an incoming ``traceparent`` header continues, or ``None`` when the header is
    absent or invalid (then the caller starts a new trace, as W3C asks).

    Accepted: version ``00`` with exactly four fields, or a later version (not ``ff``) with
    possibly more fields after a ``-``; lowercase hex only; neither the trace id nor the parent id
    all zeros. Surrounding whitespace is tolerated (HTTP allows it around header values).
    """
    if header is None:
        return None
    match = _TRACEPARENT.fullmatch(header.strip())
    if match is None:
        return None
    version, trace_hex, parent_id, _flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest is not None):
        return None
    if trace_hex == _ZERO_TRACE or parent_id == _ZERO_SPAN:
        return None
    return TraceParent(_from_w3c_trace_id(trace_hex), parent_id)


def format_traceparent(trace_id: str, span_id: str) -> str:
    """The ``traceparent`` to send on a call made while ``span_id`` runs in ``trace_id``.

    Raises ``ValueError`` when ``span_id`` is not a W3C span id: every span id we make is one, so
    anything else is a bug in the caller, not something to paper over.
    """
    if not _HEX16.fullmatch(span_id) or span_id == _ZERO_SPAN:
        raise ValueError(
            f"span id {span_id!r} is not a W3C span id (16 lowercase hex digits, not all zeros); "
            "make span ids with new_span_id()"
        )
    return f"00-{w3c_trace_id(trace_id)}-{span_id}-{_FLAGS_SAMPLED}"
