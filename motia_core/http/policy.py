"""Who may call what: the CORS grant for an ``Origin``, and the operator endpoints' token.

CORS (``[http] cors_origins``): an entry is an exact origin (``https://app.example.com``), the word
``localhost`` (http or https on localhost, 127.0.0.1 or [::1], any port), or ``*``. A listed or
localhost origin is reflected with ``Access-Control-Allow-Credentials: true``; ``*`` grants any
origin but *without* credentials (``Access-Control-Allow-Origin: *``), so a page on another site
can never make credentialed calls unless its origin is listed by name. No entries: no grant.

Operator endpoints are the ones that change things on the operator's behalf rather than a user's:
``POST /emit`` and every write (not GET/HEAD/OPTIONS) under ``/__motia/``. When they are not open
(``motia start``), a request needs ``Authorization: Bearer <admin token>``; with no token
configured they are refused outright, and the answer says how to enable them.

Whatever the mode, an operator request that a browser sent from a page on another origin (its
``Origin`` header names neither this server nor a granted origin) is refused: CORS only stops a
page from *reading* an answer, and a plain form POST is sent without asking, so without this
check any site a developer visits could purge their dead letters through ``motia dev``.
Clients that are not browsers send no ``Origin`` and are not affected.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

__all__ = (
    "LOCALHOST",
    "CorsPolicy",
    "OperatorPolicy",
    "is_loopback",
    "is_same_origin",
    "is_operator_request",
)

LOCALHOST = "localhost"
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_READS = frozenset({"GET", "HEAD", "OPTIONS"})

Grant = Literal["credentials", "any"]


def _normalize(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


@dataclass(frozen=True)
class CorsPolicy:
    """The origins granted cross-origin access; see the module docstring."""

    origins: Sequence[str] = ()

    def grant(self, origin: str) -> Grant | None:
        """``"credentials"``: reflect the origin with credentials; ``"any"``: answer ``*``
        without credentials; None: no CORS headers at all."""
        wanted = {_normalize(o) for o in self.origins}
        if not wanted or origin == "null":
            return None
        normalized = _normalize(origin)
        if normalized in wanted:
            return "credentials"
        if LOCALHOST in wanted and _is_loopback_origin(normalized):
            return "credentials"
        return "any" if "*" in wanted else None


def _is_loopback_origin(origin: str) -> bool:
    try:
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and parts.hostname in _LOOPBACK_HOSTS
    except ValueError:  # a malformed port or bracket: not an origin we know
        return False


def is_same_origin(origin: str, host: str | None) -> bool:
    """Whether ``origin`` is this server's own, as reached through ``Host: host``."""
    if not host:
        return False
    normalized = _normalize(origin)
    return normalized in (f"http://{host}".lower(), f"https://{host}".lower())


def is_operator_request(method: str, path: str) -> bool:
    """Whether ``method path`` is an operator endpoint (see the module docstring)."""
    if method in _READS:
        return False
    return path == "/emit" or path.startswith("/__motia/")


def is_loopback(address: str | None) -> bool:
    """Whether a peer address is this machine's (127.0.0.0/8, ::1, or a v4-mapped one)."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


@dataclass(frozen=True)
class OperatorPolicy:
    """``open``: operator endpoints need nothing from a loopback peer (``motia dev``); any
    other request needs ``token``."""

    open: bool = True
    token: str | None = None

    def refusal(self, authorization: str | None, peer: str | None = "127.0.0.1") -> str | None:
        """Why a request with this ``Authorization`` header from ``peer`` is refused, or None
        to let it in."""
        if self.open and is_loopback(peer):
            return None
        if not self.token:
            where = "under `motia start`" if not self.open else "from another machine"
            return (f"operator endpoints are off {where}: set [admin] token in motia.toml (or "
                    "MOTIA_ADMIN_TOKEN) and send 'Authorization: Bearer <token>'")
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode("utf-8"), self.token.encode("utf-8")):
            return ("this operator endpoint needs the admin token: send "
                    "'Authorization: Bearer <token>' with the [admin] token of motia.toml "
                    "(or MOTIA_ADMIN_TOKEN)")
        return None
