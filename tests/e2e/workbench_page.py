"""The Workbench in a real Chromium, as its end-to-end tests use it: open a page by its hash route,
find elements by their ``data-testid``, click, type, wait for what the page shows, screenshot.

Built on :class:`tests.e2e.browser.Browser` (the DevTools protocol over aiohttp). Every wait is a
condition polled in the page under a deadline; a failed wait says what it waited for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.browser import Browser

__all__ = ("WorkbenchPage",)

WIDTH, HEIGHT = 1440, 900  # the README's screenshots; the Workbench is laid out for a laptop


def js(value: object) -> str:
    """A Python value as a JavaScript literal (selectors and text go into scripts this way)."""
    return json.dumps(value)


class WorkbenchPage:
    def __init__(self, browser: Browser, base_url: str, screenshots: Path) -> None:
        self.browser = browser
        self.base_url = base_url  # http://127.0.0.1:<port>/__motia/
        self.screenshots = screenshots

    async def start(self) -> None:
        await self.browser.send("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT,
                                deviceScaleFactor=1, mobile=False)

    async def open(self, route: str, testid: str | None = None) -> None:
        """Go to ``/__motia/#/<route>`` and wait for its page (``page-<first part>``) to show."""
        await self.browser.navigate(f"{self.base_url}#/{route}")
        page = testid or f"page-{route.split('/')[0].split('?')[0]}"
        await self.wait(f"document.querySelector('[data-testid={page}]')", f"the {route} page")

    async def evaluate(self, expression: str) -> Any:
        return await self.browser.evaluate(expression)

    async def wait(self, expression: str, what: str, timeout_s: float = 30.0) -> Any:
        """expression's first truthy value; an element counts as true (DevTools returns a node
        by value as ``{}``, which Python reads as false)."""
        return await self.browser.wait_for(
            f"(() => {{ const found = ({expression}); return found instanceof Node || found }})()",
            what, timeout_s)

    async def click(self, selector: str) -> None:
        """A click on the first match (SVG elements included, which have no .click())."""
        await self.wait(f"document.querySelector({js(selector)})", selector)
        await self.evaluate(
            f"document.querySelector({js(selector)}).dispatchEvent("
            "new MouseEvent('click', {bubbles: true, cancelable: true, view: window}))")

    async def fill(self, selector: str, value: str) -> None:
        """Set an input's or textarea's value the way typing does, so the page's state follows."""
        await self.wait(f"document.querySelector({js(selector)})", selector)
        await self.evaluate(f"""(() => {{
            const field = document.querySelector({js(selector)})
            const proto = Object.getPrototypeOf(field)
            Object.getOwnPropertyDescriptor(proto, 'value').set.call(field, {js(value)})
            field.dispatchEvent(new Event('input', {{bubbles: true}}))
            field.dispatchEvent(new Event('change', {{bubbles: true}}))
        }})()""")

    async def text(self, selector: str) -> str:
        await self.wait(f"document.querySelector({js(selector)})", selector)
        value: str = await self.evaluate(f"document.querySelector({js(selector)}).textContent")
        return value

    async def value(self, selector: str) -> str:
        await self.wait(f"document.querySelector({js(selector)})", selector)
        value: str = await self.evaluate(f"document.querySelector({js(selector)}).value")
        return value

    async def count(self, selector: str) -> int:
        value: int = await self.evaluate(f"document.querySelectorAll({js(selector)}).length")
        return value

    async def all(self, selector: str, expression: str) -> list[Any]:
        """``expression`` (of ``el``) for every element matching selector, in document order."""
        value: list[Any] = await self.evaluate(
            f"[...document.querySelectorAll({js(selector)})].map(el => {expression})")
        return value

    async def screenshot(self, name: str) -> None:
        self.screenshots.mkdir(parents=True, exist_ok=True)
        shot = await self.browser.screenshot(self.screenshots / f"{name}.png")
        assert shot.startswith(b"\x89PNG") and len(shot) > 10_000, f"{name}.png looks blank"
