"""The project as a graph: steps, the topics between them, and the api endpoints.

Edges come from what steps declare, never from flow names: one edge per (emitter, topic,
subscriber), ``virtual`` when either end is a ``virtualEmits``/``virtualSubscribes``. A topic
that something emits but nothing subscribes to (or the reverse) is flagged as an orphan: that
is usually a typo in one of the two steps. Flows only group steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import msgspec

from motia_core.project.steps import ApiConfig, CronConfig, Step

__all__ = ("endpoints", "flow_graph", "step_id")

Orphan = Literal["no-subscriber", "no-emitter"]


def step_id(step: Step, root: Path) -> str:
    """The step's file relative to the project (``/`` separated): unique, and stable."""
    try:
        return Path(step.file).resolve().relative_to(root).as_posix()
    except ValueError:
        return Path(step.file).as_posix()


def _step(step: Step, root: Path) -> dict[str, Any]:
    config = step.config
    is_api = isinstance(config, ApiConfig)
    return {
        "id": step_id(step, root), "name": step.name, "type": step.type,
        "language": step.language, "file": step_id(step, root), "flows": list(step.flows),
        "description": config.description, "subscribes": list(step.subscribes),
        "emits": list(step.emits), "virtualEmits": list(step.virtual_emits),
        "virtualSubscribes": list(step.virtual_subscribes),
        "method": config.method if is_api else None,  # type: ignore[union-attr]
        "path": config.path if is_api else None,  # type: ignore[union-attr]
        "cron": config.cron if isinstance(config, CronConfig) else None,
        "config": msgspec.to_builtins(config), "loaded": True, "error": None,
    }


def _broken(file: str, messages: Iterable[str], root: Path) -> dict[str, Any]:
    try:
        rel = Path(file).resolve().relative_to(root).as_posix()
    except ValueError:
        rel = file
    return {"id": rel, "name": Path(file).name, "type": None, "language": None, "file": rel,
            "flows": [], "description": None, "subscribes": [], "emits": [], "virtualEmits": [],
            "virtualSubscribes": [], "method": None, "path": None, "cron": None, "config": None,
            "loaded": False, "error": "; ".join(messages)}


def flow_graph(steps: Sequence[Step], root: Path,
               errors: Mapping[str, Sequence[str]] = {}) -> dict[str, Any]:
    """``{"flows", "steps", "topics", "edges"}`` as the Workbench API serves it; ``errors``
    (file -> messages) adds the files that did not load, as steps with ``loaded: false``."""
    emitters: dict[str, list[tuple[str, bool]]] = {}
    subscribers: dict[str, list[tuple[str, bool]]] = {}
    for step in steps:
        sid = step_id(step, root)
        for topic in step.emits:
            emitters.setdefault(topic, []).append((sid, False))
        for topic in step.virtual_emits:
            emitters.setdefault(topic, []).append((sid, True))
        for topic in step.subscribes:
            subscribers.setdefault(topic, []).append((sid, False))
        for topic in step.virtual_subscribes:
            subscribers.setdefault(topic, []).append((sid, True))
    edges, topics = [], []
    for topic in sorted(emitters.keys() | subscribers.keys()):
        sources, targets = emitters.get(topic, []), subscribers.get(topic, [])
        seen: set[tuple[str, str, bool]] = set()
        for source, virtual_out in sources:
            for target, virtual_in in targets:
                key = (source, target, virtual_out or virtual_in)
                if key not in seen:
                    seen.add(key)
                    edges.append({"from": source, "to": target, "topic": topic,
                                  "virtual": key[2]})
        orphan: Orphan | None = ("no-subscriber" if not targets
                                 else "no-emitter" if not sources else None)
        topics.append({"topic": topic, "emitters": list(dict.fromkeys(s for s, _ in sources)),
                       "subscribers": list(dict.fromkeys(t for t, _ in targets)),
                       "orphan": orphan})
    flows = list(dict.fromkeys(flow for step in steps for flow in step.flows))
    listed = [_step(step, root) for step in steps]
    listed += [_broken(file, messages, root) for file, messages in errors.items()]
    return {"flows": flows, "steps": listed, "topics": topics, "edges": edges}


def endpoints(steps: Sequence[Step], root: Path) -> list[dict[str, Any]]:
    """Every api step as ``{stepId, name, method, path, description, bodySchema,
    responseSchema, queryParams, flows}``."""
    items = []
    for step in steps:
        config = step.config
        if not isinstance(config, ApiConfig):
            continue
        items.append({
            "stepId": step_id(step, root), "name": step.name, "method": config.method,
            "path": config.path, "description": config.description,
            "bodySchema": config.body_schema,
            "responseSchema": {str(k): v for k, v in config.response_schema.items()} or None,
            "queryParams": msgspec.to_builtins(config.query_params) or None,
            "flows": list(step.flows),
        })
    return items
