"""The base of the runner's JSON-RPC errors: ``code``, ``message`` and optional ``data``, as on
the wire, and the round trip between the wire object and the class matching its code.

One subclass per code of protocol v1 is generated into ``error_codes.py`` from the core's table
(``motia_core/protocol/errors.py``, ``make schema``); ``errors.py`` is where step code and the
runner import them from.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = ("RpcError",)


class RpcError(Exception):
    """A JSON-RPC error: ``code``, ``message`` and optional ``data``, as on the wire."""

    CODE: ClassVar[int] = -32000
    MESSAGE: ClassVar[str] = "Server error"
    _by_code: ClassVar[dict[int, type[RpcError]]] = {}

    def __init__(self, message: str | None = None, data: Any = None) -> None:
        self.message = message or self.MESSAGE
        self.data = data
        self.code = self.CODE
        super().__init__(self.message)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        RpcError._by_code[cls.CODE] = cls

    def to_error(self) -> dict[str, Any]:
        """The wire form: ``{"code", "message", "data"?}``."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error

    @classmethod
    def from_error(cls, error: Any) -> RpcError:
        """The received error object as an exception of the class matching its code."""
        if not isinstance(error, dict):
            return RpcError(f"malformed error object from the core: {error!r}")
        code = error.get("code")
        klass = RpcError._by_code.get(code) if isinstance(code, int) else None
        exc = (klass or RpcError)(str(error.get("message") or ""), error.get("data"))
        if klass is None and isinstance(code, int):
            exc.code = code  # keep the peer's code for codes we do not know
        return exc

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.message!r})"

