"""Commands that act on a running server through its operator endpoints: `motia emit` and
`motia cron run`. A `motia start` server asks these for its admin token (``--token``)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import click

__all__ = ("cron", "emit")


def _server_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed((
        click.option("-p", "--port", type=int, default=3000, envvar="MOTIA_PORT",
                     show_envvar=True, show_default=True, help="Port of the running server."),
        click.option("-H", "--host", default="127.0.0.1", envvar="MOTIA_HOST", show_envvar=True,
                     show_default=True, help="Host of the running server."),
        click.option("--token", envvar="MOTIA_ADMIN_TOKEN", show_envvar=True,
                     help="The admin token a `motia start` server asks operator endpoints for."),
    )):
        command = option(command)
    return command


def _post(host: str, port: int, path: str, body: Any, token: str | None) -> str:
    """POST ``body`` as JSON to the running server; its answer, or a ClickException saying why
    there is none."""
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"http://{host}:{port}{path}", method="POST",
                                     data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read().decode()  # type: ignore[no-any-return]
    except urllib.error.HTTPError as exc:
        raise click.ClickException(f"the server answered {exc.code}: {exc.read().decode()}") \
            from exc
    except OSError as exc:
        raise click.ClickException(
            f"cannot reach a motia server at {host}:{port} ({exc}); is `motia dev` running?"
        ) from exc


@click.command()
@click.option("--topic", required=True, help="The topic to emit.")
@click.option("--message", default="{}", show_default=True, help="The event data, as JSON.")
@_server_options
def emit(topic: str, message: str, port: int, host: str, token: str | None) -> None:
    """Emit an event to a running server (POST /emit)."""
    try:
        data = json.loads(message)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--message") from exc
    click.echo(_post(host, port, "/emit", {"topic": topic, "data": data}, token))


@click.group()
def cron() -> None:
    """Cron steps of a running server."""


@cron.command("run")
@click.argument("name")
@_server_options
def run_cron(name: str, port: int, host: str, token: str | None) -> None:
    """Run the cron step NAME now, as a tick of its schedule would (prints its traceId)."""
    path = f"/__motia/api/cron/{urllib.parse.quote(name, safe='')}/run"
    click.echo(_post(host, port, path, {}, token))
