"""Bounded memory (issue 15 item 7): the schema cache, and the concurrency setting of api steps.
The other bounds are tested beside their code: test_state (the memory operation log),
test_traces (trace event budgets, log truncation), test_rpc (requests in flight from a runner),
test_http (503 past max_concurrent_invocations); bench/soak_memory.py shows RSS flat."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from motia_core.config import Settings, SettingsError
from motia_core.testing import MotiaTestApp
from motia_core.validation import SchemaCache

APP = Path(__file__).resolve().parents[1] / "fixtures" / "projects" / "app"

pytestmark = pytest.mark.timeout(60)


def schema(n: int) -> dict[str, Any]:
    return {"type": "object", "properties": {f"field{n}": {"type": "integer"}}}


def test_the_schema_cache_keeps_the_most_recently_used() -> None:
    cache = SchemaCache(max_size=2)
    first = cache.get(schema(1))
    cache.get(schema(2))
    assert cache.get(schema(1)) is first  # used again: now the most recent
    cache.get(schema(3))  # pushes out schema 2, the least recently used
    assert len(cache) == 2
    assert cache.get(schema(1)) is first
    assert len(SchemaCache()._validators) == 0 and SchemaCache().max_size == 1024
    with pytest.raises(ValueError, match="max_size"):
        SchemaCache(max_size=0)


@pytest.mark.anyio
async def test_an_input_schema_is_compiled_once_per_subscription_not_per_delivery(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async with MotiaTestApp(APP) as app:
        cache = app.app.handlers.schemas
        asked: list[dict[str, Any]] = []
        original = cache.get

        def counting(value: dict[str, Any]) -> Any:
            asked.append(value)
            return original(value)

        monkeypatch.setattr(cache, "get", counting)
        traces = [await app.emit("counted", {"n": n}) for n in range(5)]
        await app.settle()
        for n, trace_id in enumerate(traces):
            assert await app.state.get("counts", trace_id) == {"n": n}
        assert asked == []  # every delivery used the validator compiled at subscription


def test_max_concurrent_invocations_is_a_setting(tmp_path: Path) -> None:
    (tmp_path / "motia.toml").write_text("[http]\nmax_concurrent_invocations = 64\n")
    assert Settings.load(tmp_path, environ={}).max_concurrent_invocations == 64
    assert Settings(project_root=tmp_path).max_concurrent_invocations == 1024
    (tmp_path / "motia.toml").write_text("[http]\nmax_concurrent_invocations = 0\n")
    with pytest.raises(SettingsError, match="max_concurrent_invocations"):
        Settings.load(tmp_path, environ={})
