"""The largest body an api step accepts reaches it whole, in every language; one byte more is 413.

The body crosses to the runner inside one step.invoke frame, twice (parsed as ``body``, as text
as ``rawBody``) and JSON-escaped: the frame limit the runners are given must follow from
``max_body_bytes``, or a body the HTTP layer accepted fails at the frame (a 500). The bodies here
are the worst cases for the frame: every character escaped, as ``\\u00XX`` where possible.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest

from motia_core.testing import MotiaTestApp
from tests.conftest import missing, require_runtime

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "tests" / "fixtures" / "projects" / "bodies"
NODE_RUNNER = REPO / "runners" / "node"
# Over the old fixed 16 MiB frame once escaped twice (2 x 6 x 2 MiB), far under the default limit.
LIMIT = 2 * 1024 * 1024

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


def require(language: str) -> None:
    require_runtime({"python": "python3", "node": "node", "ruby": "ruby"}[language])
    if language == "node" and not (NODE_RUNNER / "node_modules" / "esbuild").is_dir():
        missing(f"the Node runner's dependencies are not installed: run npm ci --prefix "
                f"{NODE_RUNNER}")


def json_body(size: int) -> str:
    """A JSON object of exactly ``size`` bytes whose one string is all escapes: ``\\u0001``."""
    frame = '{"text":""}'
    count, rest = divmod(size - len(frame), len("\\u0001"))
    return '{"text":"' + "\\u0001" * count + '"}' + " " * rest


@pytest.mark.parametrize("language", ["python", "node", "ruby"])
async def test_the_largest_accepted_body_reaches_the_step_and_one_byte_more_is_413(
        language: str) -> None:
    require(language)
    async with MotiaTestApp(PROJECT, max_body_bytes=LIMIT, runners=(language,)) as app:
        path = f"/size/{language}"
        text = "\x01" * LIMIT  # six bytes in each copy for every byte sent
        sent = await app.post(path, data=BytesIO(text.encode()),
                              headers={"content-type": "text/plain"})
        assert (sent.status, sent.json) == (200, {"language": language, "raw": LIMIT,
                                                  "text": LIMIT})

        body = json_body(LIMIT)
        assert len(body.encode()) == LIMIT
        sent = await app.post(path, data=BytesIO(body.encode()),
                              headers={"content-type": "application/json"})
        assert (sent.status, sent.json) == (200, {"language": language, "raw": LIMIT,
                                                  "text": (LIMIT - 11) // 6})

        # With as many headers as the server takes, each as long as it takes, all escaped.
        crowded = {f"x-quoted-{i}": '"' * 8000 for i in range(100)}
        sent = await app.post(path, data=BytesIO(text.encode()),
                              headers={"content-type": "text/plain", **crowded})
        assert (sent.status, sent.json) == (200, {"language": language, "raw": LIMIT,
                                                  "text": LIMIT})

        over = await app.post(path, data=BytesIO(text.encode() + b"\x01"),
                              headers={"content-type": "text/plain"})
        assert over.status == 413
        assert over.json["error"] == "Request body too large"


async def test_a_9_mib_json_body_under_the_default_limit_is_served() -> None:
    """The issue's case: 10 MiB accepted by default, yet a valid 9 MiB JSON POST was a 500."""
    body = '{"text":"' + 'say \\"hi\\" ' * (9 * 1024 * 1024 // 12) + '"}'
    async with MotiaTestApp(PROJECT, runners=("python",)) as app:
        sent = await app.post("/size/python", data=BytesIO(body.encode()),
                              headers={"content-type": "application/json"})
    assert sent.status == 200 and sent.json["raw"] == len(body)
