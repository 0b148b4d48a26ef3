"""JSON-RPC errors of protocol v1, one class per code: what the runner raises and what step code
sees. A ``ctx.state``/``ctx.emit``/``ctx.streams`` call the core refuses raises the matching
subclass of :class:`RpcError` at the ``await``.

The runner cannot import ``motia_core`` (it runs in the user's interpreter, which may not have
it), so the classes are generated into ``error_codes.py`` from the core's table
(``motia_core/protocol/errors.py``) by ``make schema``, and committed; a test fails when they
are stale.
"""

from __future__ import annotations

from motia_runner import error_codes
from motia_runner.error_codes import *  # noqa: F403  (every generated class, and RpcError)

__all__ = error_codes.__all__
