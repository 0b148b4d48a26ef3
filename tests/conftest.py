from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.support import FakeCore

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake_core() -> FakeCore:
    return FakeCore()


def missing(message: str) -> NoReturn:
    """Something a test needs is not on this machine: a skip locally, a failure in CI (CI=true),
    where every runtime's tests must run."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}, and CI must run every runtime's tests")
    pytest.skip(message)


def require_runtime(command: str) -> str:
    """The path of a runtime (see ``missing`` for when it is absent)."""
    path = shutil.which(command)
    if path is None:
        missing(f"{command!r} is not installed")
    return path


def pytest_configure(config: Any) -> None:
    os.environ.setdefault("MOTIA_TEST", "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """End-to-end tests (real CLI, real servers) run last, after the faster layers."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)
