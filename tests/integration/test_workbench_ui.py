"""The Workbench's files at /__motia/, served by the real HTTP app on 127.0.0.1 to a real client.

The app is motia_core.http's own (its error middleware and its catch-all api-step route
included), with the Workbench's routes as its internal routes, as the app wiring mounts them.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from motia_core.http import ApiOutcome, EmitOutcome, IncomingTrace, Route, create_app
from motia_core.workbench.ui import STATIC_DIR, workbench_ui_routes

pytestmark = pytest.mark.anyio

INDEX = '<!doctype html><script type="module" src="./assets/app-1a2b.js"></script>'


class NoSteps:
    """The app wiring's part, which these routes never reach."""

    async def invoke_api(self, route: Route, request: dict[str, Any],
                         trace: IncomingTrace) -> ApiOutcome:
        raise AssertionError(f"no api step should run, got {route.method} {route.path}")

    async def emit(self, topic: str, data: Any, trace: IncomingTrace) -> EmitOutcome:
        raise AssertionError("nothing is emitted here")

    def health(self) -> dict[str, Any]:
        return {"status": "ok"}


@asynccontextmanager
async def serve(static_dir: Path) -> AsyncIterator[aiohttp.ClientSession]:
    app = create_app([], NoSteps(), internal=workbench_ui_routes(static_dir))
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        async with aiohttp.ClientSession(f"http://{host}:{port}") as session:
            yield session
    finally:
        await runner.cleanup()


@pytest.fixture
def built(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "app-1a2b.js").write_text("console.log('workbench')")
    (tmp_path.parent / "secret.txt").write_text("not an asset")
    return tmp_path


async def test_index_and_assets_are_served_under_the_prefix(built: Path) -> None:
    async with serve(built) as client:
        async with client.get("/__motia/") as page:
            assert page.status == 200
            assert page.content_type == "text/html"
            assert await page.text() == INDEX
            assert page.headers["Cache-Control"] == "no-cache"
        async with client.get("/__motia/assets/app-1a2b.js") as script:
            assert script.status == 200
            assert script.content_type in {"text/javascript", "application/javascript"}
            assert await script.text() == "console.log('workbench')"
            assert "immutable" in script.headers["Cache-Control"]
        async with client.head("/__motia/assets/app-1a2b.js") as head:
            assert head.status == 200


async def test_the_bare_prefix_redirects_so_relative_asset_urls_resolve(built: Path) -> None:
    async with serve(built) as client:
        async with client.get("/__motia", allow_redirects=False) as bare:
            assert bare.status == 307
            assert bare.headers["Location"] == "/__motia/"
        async with client.get("/__motia?x=1", allow_redirects=False) as with_query:
            assert with_query.headers["Location"] == "/__motia/?x=1"
        async with client.get("/__motia") as followed:
            assert followed.status == 200 and await followed.text() == INDEX


async def test_only_files_inside_assets_are_served(built: Path) -> None:
    async with serve(built) as client:
        async with client.get("/__motia/assets/missing.js") as missing:
            assert missing.status == 404
            assert "make install" in (await missing.json())["error"]
        for path in ("/__motia/assets/..%2F..%2Fsecret.txt", "/__motia/assets/..%2Findex.html",
                     "/__motia/assets/%2E%2E/%2E%2E/secret.txt"):
            async with client.get(path) as response:
                assert response.status == 404, path
                assert "not an asset" not in await response.text()


async def test_an_unbuilt_workbench_says_how_to_build_it(tmp_path: Path) -> None:
    async with serve(tmp_path / "static") as client, client.get("/__motia/") as page:
        assert page.status == 503
        assert page.content_type == "text/html"
        text = await page.text()
        assert "make install" in text and str(tmp_path / "static") in text


async def test_the_built_workbench_references_only_assets_it_ships() -> None:
    index = STATIC_DIR / "index.html"
    assert index.is_file(), f"{index} is missing: run `make install` to build the Workbench"
    referenced = re.findall(r'(?:src|href)="\./(assets/[^"]+)"', index.read_text())
    assert any(name.endswith(".js") for name in referenced), referenced
    async with serve(STATIC_DIR) as client:
        for name in referenced:
            async with client.get(f"/__motia/{name}") as response:
                assert response.status == 200, name
                assert len(await response.read()) > 100, name
