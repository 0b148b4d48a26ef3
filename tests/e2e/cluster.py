"""Several `motia start` processes of one project sharing one Redis, for the cluster tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.cli import REPO, Server, free_port, start, stop

PROJECT = REPO / "tests" / "fixtures" / "projects" / "cluster"
ADMIN_TOKEN = "cluster-test-token"


def copy_project(tmp_path: Path) -> Path:
    project = tmp_path / "cluster"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns(".motia*", "__pycache__",
                                                                     "types.d.ts"))
    return project


def redis_env(redis_url: str, prefix: str) -> dict[str, str]:
    return {"MOTIA_STATE": "redis", "MOTIA_QUEUE": "redis", "MOTIA_REDIS_URL": redis_url,
            "MOTIA_REDIS_PREFIX": prefix, "MOTIA_ADMIN_TOKEN": ADMIN_TOKEN,
            "MOTIA_JSON_LOGS": "1"}


@contextmanager
def instances(project: Path, count: int, env: dict[str, str], *extra: str,
              ) -> Iterator[list[tuple[Server, int]]]:
    """``count`` `motia start` processes of ``project`` with ``env`` set, each on its own port;
    every one is killed on the way out."""
    saved = {name: os.environ.get(name) for name in [*env, "MOTIA_MOTIA_DIR"]}
    os.environ.update(env)
    started: list[tuple[Server, int]] = []
    try:
        for index in range(count):
            # Each its own .motia directory, as on its own machine: what they share is Redis.
            os.environ["MOTIA_MOTIA_DIR"] = f".motia-{index}"
            port = free_port()
            started.append((start("start", project, port, *extra), port))
        yield started
    finally:
        for process, _port in started:
            stop(process)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
