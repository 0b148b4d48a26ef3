"""Issue 14, items 3 and 4: `validate_bodies = false` reaches every runner (zod bodies in the
Node runner included), and a body is validated after the step's middleware, just before the
handler, in every language."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from motia_core.testing import MotiaTestApp, require_runtime

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "projects" / "compat-validation"
ZOD = REPO / "runners" / "node" / "node_modules" / "zod"
TOKEN = {"authorization": "Bearer t"}
# path -> (runner language, the runtime it needs)
ROUTES = {"/zod/items": "node", "/ts/items": "node", "/py/items": "python", "/rb/items": "ruby"}
RUNTIME = {"node": "node", "ruby": "ruby", "python": None}

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The fixture with a node_modules/zod, as `npm install zod` would give it."""
    root = tmp_path / "project"
    shutil.copytree(FIXTURE, root)
    (root / "node_modules").mkdir()
    (root / "node_modules" / "zod").symlink_to(ZOD, target_is_directory=True)
    return root


def needs(language: str) -> None:
    runtime = RUNTIME[language]
    if runtime is not None:
        require_runtime(runtime)


@pytest.mark.parametrize("path", list(ROUTES))
async def test_middleware_answers_before_the_body_is_validated(path: str, project: Path) -> None:
    needs(ROUTES[path])
    async with MotiaTestApp(project, strict=True, runners=[ROUTES[path]]) as app:
        # No token and an invalid body: the auth middleware answers; the schema stays private.
        anonymous = await app.post(path, json={"price": "free"})
        assert (anonymous.status, anonymous.json) == (401, {"error": "Unauthorized"})
        # The middleware completed the body (price); the check sees the body it left.
        completed = await app.post(path, json={"name": "pen"}, headers=TOKEN)
        assert (completed.status, completed.json) == (201, {"name": "pen", "price": 0})
        # Past the middleware, an invalid body is still refused before the handler runs.
        invalid = await app.post(path, json={"price": 1}, headers=TOKEN)
        assert invalid.status == 400, invalid.text
        assert invalid.json["error"] == "Request body validation failed"
        assert [e["path"] for e in invalid.json["errors"]] == ["/name"]


async def test_without_middleware_the_body_is_validated_before_the_call(project: Path) -> None:
    async with MotiaTestApp(project, strict=True, runners=["python"]) as app:
        invalid = await app.post("/py/plain", json={})
        assert invalid.status == 400
        assert [e["path"] for e in invalid.json["errors"]] == ["/name"]
        assert (await app.post("/py/plain", json={"name": "x"})).status == 201


@pytest.mark.parametrize("path", ["/zod/items", "/py/items"])
async def test_validate_bodies_false_lets_the_handler_answer(path: str, project: Path) -> None:
    needs(ROUTES[path])
    async with MotiaTestApp(project, strict=True, runners=[ROUTES[path]],
                            validate_bodies=False) as app:
        response = await app.post(path, json={"price": 1}, headers=TOKEN)
    assert (response.status, response.json) == (
        422, {"error": "the handler says: name is required"})


async def test_motia_validate_bodies_env_reaches_the_node_runners_zod_check(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_runtime("node")
    monkeypatch.setenv("MOTIA_VALIDATE_BODIES", "false")
    async with MotiaTestApp(project, strict=True, runners=["node"]) as app:
        response = await app.post("/zod/items", json={"price": "not a number"}, headers=TOKEN)
    assert response.status == 422, response.text
