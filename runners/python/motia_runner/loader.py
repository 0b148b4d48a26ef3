"""Importing step and stream files under names that make their imports work.

Motia's Python steps import their neighbours three ways, and all three must work here:
``from src.services.x import y`` (the project root is on ``sys.path``), relative imports
(``from .helpers import z``, which need a real ``__package__``) and, in seed-era projects, plain
sibling imports (``import helpers``). So a file whose directories below the project root are all
identifiers is imported under its dotted name (``steps.petstore.api_step``); a seed-style stem
such as ``create_pet.step`` is sanitised (``create_pet_step``) but keeps its package. Any other
file (``steps/my-flow/x_step.py``) gets a synthetic package named after its directory, whose
``__path__`` is that directory, and the directory goes on ``sys.path``.

Step sources are compiled from the file on every load rather than through the bytecode cache:
a hot reload must see an edit made within the same second (the cache compares whole seconds).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import inspect
import keyword
import linecache
import os
import re
import sys
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from motia_runner import _json
from motia_runner._soft_motia import soft_motia
from motia_runner.errors import InvalidConfig

__all__ = ("Loader", "Step", "module_name_for")

_NON_IDENT = re.compile(r"\W")
_HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True)
class Step:
    """One imported file: what invocations need, resolved once at load time."""

    file: str
    module: types.ModuleType
    config: dict[str, Any]
    wire_config: dict[str, Any]
    handler: Callable[..., Any] | None
    is_async: bool
    middleware: tuple[Callable[..., Any], ...]


def _is_ident(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def _sanitize(stem: str) -> str:
    name = _NON_IDENT.sub("_", stem)
    if not name or name[0].isdigit() or keyword.iskeyword(name):
        name = "_" + name
    return name


def module_name_for(file: str, root: str) -> tuple[str, str | None]:
    """The module name for ``file``, and the directory to make a synthetic package of (or None).

    ``steps/petstore/api_step.py`` -> ``steps.petstore.api_step``;
    ``steps/create_pet.step.py`` -> ``steps.create_pet_step``;
    ``steps/my-flow/x_step.py`` -> ``_motia_dir_<hash>.x_step`` plus the directory.
    """
    directory, base = os.path.split(file)
    stem = base[:-3] if base.endswith(".py") else base
    try:
        rel_dir = os.path.relpath(directory, root)
    except ValueError:  # another drive on Windows
        rel_dir = os.pardir
    segments = [] if rel_dir == os.curdir else rel_dir.split(os.sep)
    if segments[:1] != [os.pardir] and all(_is_ident(s) for s in segments):
        leaf = stem if _is_ident(stem) else _sanitize(stem)
        if leaf != stem and os.path.exists(os.path.join(directory, leaf + ".py")):
            leaf += "__motia"  # `a.step.py` next to a real `a_step.py`
        return ".".join([*segments, leaf]), None
    digest = hashlib.sha1(directory.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"_motia_dir_{digest}.{_sanitize(stem)}", directory


def _same_dir(a: str, b: str) -> bool:
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def _trimmed_stack(exc: BaseException) -> str:
    """The traceback without the runner's and importlib's frames."""
    te = traceback.TracebackException.from_exception(exc)
    te.stack = traceback.StackSummary.from_list(
        [f for f in te.stack if not f.filename.startswith((_HERE, "<frozen importlib"))]
    )
    return "".join(te.format())


class Loader:
    """Imports files given by ``steps.load``; keeps no table itself (the server swaps steps)."""

    def __init__(self, root: str) -> None:
        self.root = ""
        self.set_root(root)

    def set_root(self, root: str) -> None:
        """Use ``root`` as the project root and make it importable (``from src.x import y``)."""
        self.root = os.path.abspath(root)
        if not any(_same_dir(p or os.curdir, self.root) for p in sys.path):
            sys.path.insert(0, self.root)

    def _rel(self, file: str) -> str:
        rel = os.path.relpath(file, self.root) if file.startswith(self.root) else file
        return rel.replace(os.sep, "/")

    def load(self, file: str, reload: bool) -> Step:
        """Import ``file`` (afresh when ``reload``) and extract its config; InvalidConfig if not."""
        rel = self._rel(file)
        if not os.path.isfile(file):
            raise InvalidConfig(f"{rel}: no such file; steps.load needs absolute paths of "
                                "existing files")
        try:
            module = self._import(file, reload)
        except (Exception, SystemExit) as exc:
            raise InvalidConfig(_import_message(rel, exc), {"stack": _trimmed_stack(exc)}) from exc
        return _step_from(file, rel, module)

    def _import(self, file: str, reload: bool) -> types.ModuleType:
        name, synthetic_dir = module_name_for(file, self.root)
        package = name.rpartition(".")[0]
        if synthetic_dir is not None:
            _ensure_synthetic_package(package, synthetic_dir)
        elif package:
            directory = os.path.dirname(file)
            parent = importlib.import_module(package)
            if not any(_same_dir(p, directory) for p in getattr(parent, "__path__", [])):
                # `steps`/`src` shadowed by some installed package: use a synthetic package.
                package = "_motia_dir_" + hashlib.sha1(directory.encode()).hexdigest()[:12]
                name = f"{package}.{name.rpartition('.')[2]}"
                _ensure_synthetic_package(package, directory)
        existing = sys.modules.get(name)
        if not reload and existing is not None and _same_file(existing, file):
            return existing  # another module imported this step file first: share it
        return _exec_module(name, file, existing)


def _same_file(module: types.ModuleType, file: str) -> bool:
    other = getattr(module, "__file__", None)
    return isinstance(other, str) and os.path.normcase(os.path.realpath(other)) == os.path.normcase(
        os.path.realpath(file))


def _ensure_synthetic_package(name: str, directory: str) -> None:
    if name in sys.modules:
        return
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = [directory]
    package = importlib.util.module_from_spec(spec)
    package.__path__ = [directory]
    sys.modules[name] = package
    if directory not in sys.path:
        sys.path.insert(1, directory)  # plain sibling imports, as seed-era runners allowed


def _exec_module(name: str, file: str, previous: types.ModuleType | None) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None:
        raise ImportError(f"cannot build an import spec for {file}")
    module = importlib.util.module_from_spec(spec)
    with open(file, "rb") as fh:
        source = fh.read()
    linecache.cache.pop(file, None)  # tracebacks must show the source just loaded
    code = compile(source, file, "exec", dont_inherit=True)
    # Registered before running: dataclasses, pydantic and circular imports look it up.
    sys.modules[name] = module
    try:
        with soft_motia(os.path.basename(file)):
            exec(code, module.__dict__)
    except BaseException:
        if previous is not None:
            sys.modules[name] = previous
        else:
            sys.modules.pop(name, None)
        raise
    package, _, leaf = name.rpartition(".")
    parent = sys.modules.get(package) if package else None
    if parent is not None:
        setattr(parent, leaf, module)
    return module


def _import_message(rel: str, exc: BaseException) -> str:
    what = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        top = exc.name.partition(".")[0]
        fix = (f"install it into the interpreter that runs the Python steps ({sys.executable} -m "
               f"pip install {top}), or fix the import if '{top}' is a module of the project")
    elif isinstance(exc, SyntaxError):
        fix = "fix the syntax error; the other steps were loaded"
    else:
        fix = "fix the error raised while importing it (traceback in data.stack)"
    return f"{rel} could not be imported: {what}. To fix: {fix}"


def _step_from(file: str, rel: str, module: types.ModuleType) -> Step:
    config = getattr(module, "config", None)
    if config is None:
        raise InvalidConfig(f"{rel} defines no module-level `config`; add a dict such as "
                            "config = {'type': 'event', 'name': 'MyStep', 'subscribes': [...]}")
    if not isinstance(config, dict):
        raise InvalidConfig(f"{rel}: `config` must be a dict, got {type(config).__name__}")
    middleware = config.get("middleware") or ()
    if not isinstance(middleware, (list, tuple)) or not all(callable(m) for m in middleware):
        raise InvalidConfig(f"{rel}: config['middleware'] must be a list of async functions "
                            "`async def mw(req, ctx, next_fn)`")
    wire = dict(config)
    wire.pop("middleware", None)
    if callable(wire.get("canAccess")):
        del wire["canAccess"]
        wire["__motia_hasCanAccess"] = True
    try:
        wire = _json.loads(_json.dumps_strict(wire))
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise InvalidConfig(
            f"{rel}: config is not JSON-serialisable ({exc}); use dicts, lists, strings, "
            "numbers, booleans and None (for a pydantic model use Model.model_json_schema())"
        ) from exc
    handler = getattr(module, "handler", None)
    if not callable(handler):
        handler = None
    is_async = handler is not None and (
        inspect.iscoroutinefunction(handler)
        or inspect.iscoroutinefunction(getattr(handler, "__call__", None))  # noqa: B004
    )
    return Step(file=file, module=module, config=config, wire_config=wire, handler=handler,
                is_async=is_async, middleware=tuple(middleware))
