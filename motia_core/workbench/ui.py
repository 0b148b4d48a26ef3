"""The Workbench's static files at ``/__motia/``: its index.html and its hashed assets.

The web UI is built from ``workbench/`` (Vite) into ``motia_core/workbench/static/`` by
``make install`` and shipped inside the wheel; nothing is fetched at run time. Its asset URLs are
relative and it routes by the URL's hash (``/__motia/#/traces/<id>``), so serving it takes two
routes: ``/__motia/`` (index.html) and ``/__motia/assets/...``. ``/__motia`` redirects to
``/__motia/`` so the relative URLs resolve under it. Its data comes from ``/__motia/api/``,
served by the rest of this room (``api``, ``live``); this module only serves files.

When the assets were not built (a source checkout before ``make install``), the page says so and
how to fix it, instead of a bare 404.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from motia_core.http.response import temporary_redirect

__all__ = ("STATIC_DIR", "WORKBENCH_PATH", "redirect_to_workbench", "workbench_ui_routes")

STATIC_DIR = Path(__file__).resolve().parent / "static"
WORKBENCH_PATH = "/__motia/"
# Asset names carry a content hash: a year of caching is safe. index.html names the current
# ones, so it is revalidated every time (a rebuilt Workbench shows after a reload).
_IMMUTABLE = "public, max-age=31536000, immutable"
_REVALIDATE = "no-cache"

_NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Motia Workbench: not built</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;margin:4em auto;max-width:40em;color:#1b1f27}}
code{{background:#f2f4f7;padding:.1em .3em;border-radius:4px}}</style></head>
<body><h1>The Workbench is not built</h1>
<p>Its files are missing from <code>{directory}</code>.</p>
<p>Build them from a source checkout with <code>make install</code> (or
<code>npm ci --prefix workbench &amp;&amp; npm run build --prefix workbench</code>), then reload
this page. A wheel of motia-core ships them already built.</p>
<p>The JSON API the Workbench uses is served anyway, under <code>/__motia/api/</code>.</p>
</body></html>
"""


def redirect_to_workbench(query_string: str = "") -> web.Response:
    """A 307 to ``/__motia/`` (keeping the query), for ``/__motia``."""
    return temporary_redirect(WORKBENCH_PATH, query_string)


def workbench_ui_routes(static_dir: Path = STATIC_DIR) -> list[web.RouteDef]:
    """GET (and HEAD) ``/__motia``, ``/__motia/`` and ``/__motia/assets/{name}``.

    ``static_dir`` is read on each request, so a Workbench rebuilt while the server runs is
    served without a restart.
    """
    assets = static_dir / "assets"

    async def redirect(request: web.Request) -> web.StreamResponse:
        return redirect_to_workbench(request.query_string)

    async def index(request: web.Request) -> web.StreamResponse:
        page = static_dir / "index.html"
        if not page.is_file():
            return web.Response(status=503, content_type="text/html",
                                text=_NOT_BUILT.format(directory=static_dir))
        return web.FileResponse(page, headers={"Cache-Control": _REVALIDATE})

    async def asset(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = (assets / name).resolve()
        # The name comes from the URL: only files inside assets/ are served, never "../x".
        if not path.is_relative_to(assets.resolve()) or not path.is_file():
            return web.json_response(
                {"error": f"no Workbench asset {name!r}: rebuild it with `make install`"},
                status=404)
        return web.FileResponse(path, headers={"Cache-Control": _IMMUTABLE})

    return [
        web.get("/__motia", redirect),
        web.get(WORKBENCH_PATH, index),
        web.get(WORKBENCH_PATH + "assets/{name:.+}", asset),
    ]
