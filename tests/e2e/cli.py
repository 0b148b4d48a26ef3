"""Helpers for driving the real `motia` command: a free port, one-shot commands, a dev server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parents[2]
MOTIA = [sys.executable, "-m", "motia_core.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def motia(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MOTIA, *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                          check=False)


def request(url: str, body: object | None = None) -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


class Server(subprocess.Popen[str]):
    """A `motia dev|start` process whose output is read as it comes: a pipe nobody reads fills
    up (64 KiB), and then the server's next log line blocks it, and with it everything else.
    ``communicate()`` waits for the exit and returns everything it wrote."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        super().__init__(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self._output: tuple[list[str], list[str]] = ([], [])
        self._readers = [threading.Thread(target=self._drain, args=(stream, into), daemon=True)
                         for stream, into in zip((self.stdout, self.stderr), self._output,
                                                 strict=True)]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _drain(stream: IO[str] | None, into: list[str]) -> None:
        assert stream is not None
        for line in stream:
            into.append(line)

    def communicate(self, input: str | None = None,
                    timeout: float | None = None) -> tuple[str, str]:
        self.wait(timeout)
        for reader in self._readers:
            reader.join()
        for stream in (self.stdout, self.stderr):
            if stream is not None:
                stream.close()
        return "".join(self._output[0]), "".join(self._output[1])


def start(command: str, project: Path, port: int, *extra: str,
          env: dict[str, str] | None = None) -> Server:
    """`motia dev|start` on 127.0.0.1:port, returned once it accepts connections; ``env``
    replaces the environment when given."""
    process = Server([*MOTIA, command, "--project", str(project), "-p", str(port), *extra],
                     env=env)
    deadline = time.monotonic() + 30
    while True:  # bounded: a connect succeeds once the server listens
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"motia {command} did not start: "
                                     f"{process.communicate()[1]}") from None
            time.sleep(0.05)


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    process.communicate()
