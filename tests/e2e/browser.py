"""A headless Chromium driven over the DevTools protocol, just enough to test a real page.

Only what the end-to-end tests need: launch, evaluate JavaScript, take a screenshot, close. No
Selenium or Playwright: the DevTools protocol is JSON over a WebSocket, which aiohttp speaks
already. The browser runs in its own process group so closing it takes its renderer and GPU
helpers with it, even when a test fails halfway.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import anyio

__all__ = ("Browser", "BrowserError")

STARTUP_S = 30.0
COMMAND_S = 15.0
CLOSE_S = 5.0
POLL_S = 0.05
FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--no-first-run", "--no-default-browser-check", "--disable-extensions",
    "--disable-background-networking", "--disable-component-update", "--window-size=800,600",
    # Port 0: Chromium picks a free port and writes it to DevToolsActivePort, so there is no
    # window between choosing a port and binding it in which another process could take it.
    "--remote-debugging-port=0",
)


class BrowserError(AssertionError):
    """The browser did not start, or a page's script failed; the message says which."""


class Browser:
    """One headless Chromium with one page, usable as `async with Browser(path, tmp) as b:`."""

    def __init__(self, executable: str, profile: Path) -> None:
        self.executable = executable
        self.profile = profile
        self._process: subprocess.Popen[bytes] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse[bool] | None = None
        self._next_id = 0

    async def __aenter__(self) -> Browser:
        self.profile.mkdir(parents=True, exist_ok=True)
        log = (self.profile / "chromium.log").open("wb")
        try:
            self._process = subprocess.Popen(
                [self.executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        finally:
            log.close()  # the child holds its own copy
        try:
            port = await self._devtools_port()
            self._session = aiohttp.ClientSession()
            url = await self._page_socket(port)
            self._ws = await self._session.ws_connect(url, max_msg_size=0)
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop the browser and reap it; safe to call twice, after a failed start, or cancelled.

        Browser.close first, so Chromium reaps its own helpers; then the whole process group is
        killed anyway, which is what guarantees nothing outlives the test.
        """
        process, self._process = self._process, None
        with anyio.CancelScope(shield=True):
            try:
                await self._close_gracefully(process)
            finally:
                if process is not None:
                    try:
                        os.killpg(process.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass  # the group is gone already
                    await anyio.to_thread.run_sync(process.wait)

    async def _close_gracefully(self, process: subprocess.Popen[bytes] | None) -> None:
        ws, self._ws = self._ws, None
        session, self._session = self._session, None
        try:
            if ws is not None and process is not None and not ws.closed:
                await ws.send_json({"id": 0, "method": "Browser.close", "params": {}})
            with anyio.move_on_after(CLOSE_S):
                while process is not None and process.poll() is None:
                    await anyio.sleep(POLL_S)
        except (aiohttp.ClientError, ConnectionError):
            pass  # the browser went away first; the process group kill below still runs
        finally:
            if ws is not None:
                await ws.close()
            if session is not None:
                await session.close()

    async def navigate(self, url: str) -> None:
        """Open url and return once the document has loaded (bounded)."""
        await self.send("Page.navigate", url=url)
        await self.wait_for(f"location.href === {json.dumps(url)} "
                            "&& document.readyState === 'complete'", f"{url} to load")

    async def evaluate(self, expression: str) -> Any:
        """The JSON value of expression in the page (promises awaited); script errors raise."""
        reply = await self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                                awaitPromise=True)
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"the page threw while evaluating {expression!r}: {text}")
        return reply["result"].get("value")

    async def wait_for(self, expression: str, what: str, timeout_s: float = 20.0) -> Any:
        """Poll expression until it is truthy (bounded) and return its value."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out after {timeout_s} s waiting for {what}")
            await anyio.sleep(POLL_S)

    async def screenshot(self, path: Path) -> bytes:
        """A PNG of the viewport, written to path and returned."""
        reply = await self.send("Page.captureScreenshot", format="png")
        data = base64.b64decode(reply["data"])
        path.write_bytes(data)
        return data

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """One DevTools command and its result; events arriving meanwhile are not needed here."""
        assert self._ws is not None, "the browser is not running"
        self._next_id += 1
        command_id = self._next_id
        await self._ws.send_json({"id": command_id, "method": method, "params": params})
        with anyio.fail_after(COMMAND_S):
            async for message in self._ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                reply = json.loads(message.data)
                if reply.get("id") != command_id:
                    continue  # an event, or a late reply to nothing we wait for
                if "error" in reply:
                    raise BrowserError(f"{method} failed: {reply['error']}")
                result: dict[str, Any] = reply["result"]
                return result
        raise BrowserError(f"the DevTools socket closed during {method}")

    async def _devtools_port(self) -> int:
        """The port Chromium chose, once its DevToolsActivePort file appears (bounded)."""
        assert self._process is not None
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + STARTUP_S
        while True:
            # "<port>\n<browser target path>": both lines present means the write finished.
            lines = marker.read_text().splitlines() if marker.exists() else []
            if len(lines) >= 2 and lines[0].isdigit():
                return int(lines[0])
            if self._process.poll() is not None or time.monotonic() > deadline:
                log = (self.profile / "chromium.log").read_text(errors="replace")[-2000:]
                raise BrowserError(f"{self.executable} did not open its DevTools port "
                                   f"(exit code {self._process.poll()}); its output:\n{log}")
            await anyio.sleep(POLL_S)

    async def _page_socket(self, port: int) -> str:
        """The DevTools WebSocket URL of the browser's first page (bounded)."""
        assert self._session is not None
        deadline = time.monotonic() + STARTUP_S
        while True:
            async with self._session.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = await response.json()
            pages = [t for t in targets if t.get("type") == "page"]
            if pages:
                url: str = pages[0]["webSocketDebuggerUrl"]
                return url
            if time.monotonic() > deadline:
                raise BrowserError(f"no page target in DevTools on port {port}: {targets}")
            await anyio.sleep(POLL_S)
