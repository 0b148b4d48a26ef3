"""What every runner copies from the protocol, generated into the Python, Node and Ruby runners:
the JSON-RPC error classes, one per code, with their names, codes and default messages.

A runner cannot import motia_core (each runs in its own language, the Python one in the user's
interpreter), so the tables are written into the runners' source trees and committed. The core's
own classes (:mod:`motia_core.protocol.errors`) are the one source; ``make schema`` regenerates
the runners' tables with ``protocol/schema.json``, and a test fails when one is stale.
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from motia_core.protocol import errors

__all__ = ("TABLES", "ErrorCode", "error_codes", "render_node", "render_python", "render_ruby")

_SOURCE = "motia_core/protocol/errors.py"
_BANNER = f"Generated from {_SOURCE} by `make schema`: do not edit."


@dataclass(frozen=True)
class ErrorCode:
    name: str
    code: int
    message: str
    doc: str


def _quoted(text: str) -> str:
    """A single-quoted JavaScript or Ruby string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def error_codes() -> list[ErrorCode]:
    """The core's error classes in the order they are defined (JSON-RPC's codes, then ours)."""
    return [ErrorCode(cls.__name__, cls.CODE, cls.MESSAGE, inspect.getdoc(cls) or "")
            for cls in errors.RpcError.__subclasses__() if cls.__module__ == errors.__name__]


def render_python() -> str:
    codes = error_codes()
    names = "".join(f'    "{c.name}",\n' for c in codes)
    classes = "".join(
        f"\n\nclass {c.name}(RpcError):\n"
        f'    """{c.doc}"""\n\n'
        f"    CODE = {c.code}\n"
        f"    MESSAGE = {json.dumps(c.message)}\n"
        for c in codes)
    return (f'"""{_BANNER}\n\n'
            "JSON-RPC errors of protocol v1, one class per code (the base is in rpc_error.py).\n"
            '"""\n\n'
            "from __future__ import annotations\n\n"
            "from motia_runner.rpc_error import RpcError\n\n"
            f'__all__ = (\n    "RpcError",\n{names})\n'
            f"{classes}")


def _node_export(c: ErrorCode) -> str:
    call = f"define({_quoted(c.name)}, {c.code}, {_quoted(c.message)});"
    line = f"export const {c.name} = {call}"
    return line if len(line) <= 100 else f"export const {c.name} =\n  {call}"


def render_node() -> str:
    codes = error_codes()
    exports = "".join(f"\n/** {c.doc} */\n{_node_export(c)}\n" for c in codes)
    names = "".join(f"  {c.name},\n" for c in codes)
    return (f"// {_BANNER}\n"
            "//\n"
            "// JSON-RPC errors of protocol v1, one class per code (the base is in\n"
            "// rpc_error.mjs).\n\n"
            "import { RpcError, define } from './rpc_error.mjs';\n\n"
            "export { RpcError };\n"
            f"{exports}\n"
            "/** Every error class by name (what the code-table test reads). */\n"
            f"export const ERRORS = {{\n{names}}};\n")


def render_ruby() -> str:
    codes = error_codes()
    rows = "".join(
        f"    # {c.doc}\n"
        f"    {_quoted(c.name)} => [{c.code:_}, {_quoted(c.message)}]"
        f"{',' if i < len(codes) - 1 else ''}\n"
        for i, c in enumerate(codes))
    return ("# frozen_string_literal: true\n\n"
            f"# {_BANNER}\n"
            "#\n"
            "# JSON-RPC errors of protocol v1: name => [code, default message]; errors.rb makes a\n"
            "# class of each.\n"
            "module MotiaRunner\n"
            f"  ERROR_CODES = {{\n{rows}  }}.freeze\n"
            "end\n")


# Path in the repository -> what it must contain.
TABLES: dict[str, Callable[[], str]] = {
    "runners/python/motia_runner/error_codes.py": render_python,
    "runners/node/lib/error_codes.mjs": render_node,
    "runners/ruby/lib/motia_runner/error_codes.rb": render_ruby,
}


def main(argv: list[str]) -> int:
    """``python -m motia_core.protocol.runner_tables [REPO_ROOT]``: write every table."""
    root = Path(argv[0]) if argv else Path()
    for path, render in TABLES.items():
        target = root / path
        if not target.parent.is_dir():
            print(f"{target.parent} is not a directory: give the repository root", file=sys.stderr)
            return 2
        target.write_text(render(), encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
