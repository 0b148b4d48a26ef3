"""The three things compared, each as "how to start a server on a port for the same project".

- motia-core: ``motia start --project <copy> -p PORT -H 127.0.0.1`` (its defaults: SQLite state
  and SQLite queue under ``.motia/``, long-lived Python and Node runners);
- the original Motia 0.6.4: ``node .../motia/dist/cjs/cli.js start -p PORT -H 127.0.0.1 -v`` in
  its scratch project (file state in ``.motia/motia.state.json``, in-memory event bus, one
  process per invocation; Workbench and analytics off, its leanest configuration);
- the bare limit: ``bare_server.py PORT`` (no framework; its handlers do the work in-process);
- motia-core on Redis: the same ``motia start`` with ``--queue redis --state redis`` on the local
  Redis under a key prefix of its own (pipeline only: the GET routes touch neither);
- motia-core with all cores: the same two with ``--processes <cores>`` (pipeline only), issue
  20's "every core of one machine";
- the hand-built stack: ``handbuilt/run.sh PORT``, what a team would assemble without motia-core
  (a Fastify endpoint enqueuing to BullMQ, a Node BullMQ worker writing state to Redis, a Python
  worker from PyPI's ``bullmq``), on the local Redis under a key prefix of its own (pipeline
  only: it has no GET routes). See ``handbuilt/README.md``.

Both frameworks run copies of the same ``bench/compare/project/steps``; each launch starts from
an empty ``.motia`` so no run inherits another's state.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

from motia_core.storage.redis import delete_prefix

from .original import Original
from .procs import Server

__all__ = ("ALL_CORES", "BARE", "HANDBUILT", "NAMES", "ORIGINAL", "OURS", "OURS_ALL",
           "OURS_REDIS", "OURS_REDIS_ALL", "REDIS_URL", "Contender", "all_cores", "bare",
           "handbuilt", "original", "ours", "ours_redis")

OURS = "motia-core"
OURS_REDIS = "motia-core, Redis"
ALL_CORES = os.cpu_count() or 1
OURS_ALL = f"motia-core, {ALL_CORES} processes"
OURS_REDIS_ALL = f"motia-core, Redis, {ALL_CORES} processes"
HANDBUILT = "hand-built BullMQ"
ORIGINAL = "original 0.6.4"
BARE = "bare aiohttp"
# the order of the tables' rows
NAMES = (OURS, OURS_ALL, OURS_REDIS, OURS_REDIS_ALL, HANDBUILT, ORIGINAL, BARE)
HERE = Path(__file__).resolve().parent
HANDBUILT_DIR = HERE / "handbuilt"
REDIS_URL = os.environ.get("MOTIA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
HANDBUILT_CONCURRENCY = 10  # jobs a BullMQ worker runs at once: motia-core's default per step


@dataclass(frozen=True)
class Contender:
    """A server command for a project dir; ``unavailable`` says why it cannot run at all."""

    name: str
    argv: tuple[str, ...]  # "{port}" is replaced by the port
    cwd: Path
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    state_dir: Path | None = None  # emptied before every launch
    unavailable: str | None = None
    python_unavailable: str | None = None  # why its Python steps cannot run
    small: bool = False  # a process per invocation: keep its request counts small
    pipeline_only: bool = False  # no GET routes to measure, no cold start worth comparing
    ready_paths: tuple[str, ...] = ()  # GETs that answer 200 once it can take pipeline items
    redis_prefix: str | None = None  # every Redis key it writes starts so; deleted around runs
    processes: int = 1  # core processes on its port: ready once this many answer /__motia/health

    @property
    def slug(self) -> str:
        """The name as a file name (logs, sinks)."""
        return re.sub(r"[^A-Za-z0-9.]+", "-", self.name).strip("-")

    def server(self, port: int, log: Path) -> Server:
        argv = [part.replace("{port}", str(port)) for part in self.argv]
        return Server(self.name, argv, self.cwd, self.env, port, log)

    def reset(self) -> None:
        """Before a launch: no state or queue left from another run."""
        if self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        self.release()

    def release(self) -> None:
        """After its last stop: the Redis keys it wrote are deleted (its files stay to look at)."""
        if self.redis_prefix is not None and self.unavailable is None:
            delete_prefix(REDIS_URL, self.redis_prefix)


def _redis_problem(url: str) -> str | None:
    """Why no Redis answers at ``url``, or None."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        return (f"no Redis answers at {url} ({type(exc).__name__}; `make test` starts one, or "
                "set MOTIA_BENCH_REDIS_URL)")
    finally:
        client.close()
    return None


def _copy_project(source: Path, target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", ".motia"))


def ours(project: Path, scratch: Path) -> Contender:
    """motia-core through its console script, the way a user starts it."""
    copy = scratch / "ours"
    _copy_project(project, copy)
    script = Path(sys.executable).with_name("motia")
    command = (str(script),) if script.exists() else (sys.executable, "-m", "motia_core.cli")
    return Contender(OURS, (*command, "start", "--project", str(copy), "-p", "{port}",
                            "-H", "127.0.0.1", "--processes", "1"), copy,
                     state_dir=copy / ".motia")


def ours_redis(project: Path, scratch: Path) -> Contender:
    """motia-core with its queue and state on the local Redis, under a prefix of this run's own."""
    base = ours(project, scratch / "redis")
    prefix = f"bench-compare:{uuid.uuid4().hex[:12]}:motia:"
    argv = (*base.argv, "--queue", "redis", "--state", "redis", "--redis-url", REDIS_URL,
            "--redis-prefix", prefix)
    return Contender(OURS_REDIS, argv, base.cwd, state_dir=base.state_dir,
                     unavailable=_redis_problem(REDIS_URL), pipeline_only=True,
                     redis_prefix=prefix)


def all_cores(one: Contender) -> Contender:
    """``one`` (motia-core, on SQLite or Redis) with a core process per core of the machine."""
    argv = [*one.argv]
    argv[argv.index("--processes") + 1] = str(ALL_CORES)
    name = OURS_ALL if one.name == OURS else OURS_REDIS_ALL
    return replace(one, name=name, argv=tuple(argv), pipeline_only=True, processes=ALL_CORES)


def handbuilt() -> Contender:
    """Fastify + BullMQ + a PyPI ``bullmq`` worker, as ``handbuilt/run.sh`` starts them."""
    prefix = f"bench-compare:{uuid.uuid4().hex[:12]}:handbuilt"
    env = {**os.environ, "HANDBUILT_REDIS_URL": REDIS_URL, "HANDBUILT_PREFIX": prefix,
           "HANDBUILT_PYTHON": sys.executable,
           "HANDBUILT_CONCURRENCY": str(HANDBUILT_CONCURRENCY)}
    why = None
    if shutil.which("node") is None:
        why = "node is not on PATH"
    elif not (HANDBUILT_DIR / "node_modules" / ".package-lock.json").is_file():
        why = (f"its npm packages are not installed (npm ci --prefix {HANDBUILT_DIR}; "
               "`make bench-compare` does it)")
    elif importlib.util.find_spec("bullmq") is None:
        why = ("the Python package bullmq is not installed (pip install --require-hashes -r "
               "requirements/bench.lock; `make bench-compare` does it)")
    else:
        why = _redis_problem(REDIS_URL)
    return Contender(HANDBUILT, (str(HANDBUILT_DIR / "run.sh"), "{port}"), HANDBUILT_DIR, env,
                     unavailable=why, pipeline_only=True, ready_paths=("/ready",),
                     redis_prefix=prefix)


def original(setup: Original) -> Contender:
    argv = ("node", str(setup.cli), "start", "-p", "{port}", "-H", "127.0.0.1", "-v")
    return Contender(ORIGINAL, argv, setup.root, setup.env(), state_dir=setup.root / ".motia",
                     unavailable=setup.reason, python_unavailable=setup.python_reason,
                     small=True)


def bare() -> Contender:
    return Contender(BARE, (sys.executable, str(HERE / "bare_server.py"), "{port}"), HERE)
