"""Entry point: ``python -m motia_runner``.

stdio is claimed before anything else is imported or run, so nothing can write to the protocol
channel by accident. The process ends with ``os._exit``: a sync handler stuck in a worker thread
must not keep the runner alive after the core said ``exit``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import traceback

from motia_runner.channel import claim_stdio


def main() -> None:
    in_fd, out_fd = claim_stdio()
    code = 70  # EX_SOFTWARE, if the runner itself breaks
    try:
        from motia_runner.server import Server

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        root = os.environ.get("MOTIA_PROJECT_ROOT") or os.getcwd()
        server = Server(loop, in_fd, out_fd, root)
        code = loop.run_until_complete(server.run())
        server.endpoint.writer.drain_blocking()
    except SystemExit as exc:  # a configuration problem with its own message
        print(f"motia-runner: {exc}", file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


if __name__ == "__main__":
    main()
