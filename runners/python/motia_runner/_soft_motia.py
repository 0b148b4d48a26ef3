"""A stand-in ``motia`` module while a step file is imported, when no real one is installed.

Late Motia (Dec 2025) lets Python steps write ``from motia import FlowContext, ApiRouteConfig``
for type hints without a ``motia`` package installed: during the import a proxy answers every
name with an inert placeholder. We do the same so such files load, and say which names were
missing on stderr. With a real ``motia`` installed nothing is replaced.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ("soft_motia",)


class _Missing:
    """An inert stand-in: any attribute, call, subscript or union gives another one."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"<MISSING {self._name}>"

    def __getattr__(self, attr: str) -> _Missing:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Missing(f"{self._name}.{attr}")

    def __call__(self, *args: Any, **kwargs: Any) -> _Missing:
        return _Missing(f"{self._name}()")

    def __getitem__(self, item: Any) -> _Missing:
        return _Missing(f"{self._name}[{item!r}]")

    def __or__(self, other: Any) -> _Missing:
        return self

    __ror__ = __or__

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __bool__(self) -> bool:
        return False


class _Proxy(types.ModuleType):
    def __init__(self, missing: set[str]) -> None:
        super().__init__("motia")
        self.__dict__["_missing"] = missing

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        self._missing.add(name)
        return _Missing(f"motia.{name}")


@contextmanager
def soft_motia(label: str) -> Iterator[None]:
    """Install the proxy for the duration of one import, unless ``motia`` really exists."""
    if "motia" in sys.modules or importlib.util.find_spec("motia") is not None:
        yield
        return
    missing: set[str] = set()
    sys.modules["motia"] = _Proxy(missing)
    try:
        yield
    finally:
        sys.modules.pop("motia", None)
        if missing:
            print(f"motia-runner: {label}: 'motia' is not installed; placeholders used for "
                  f"{sorted(missing)}", file=sys.stderr)
