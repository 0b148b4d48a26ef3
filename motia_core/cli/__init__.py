"""The `motia` command: one module per command group (``main``: dev, start, emit, state, dlq,
doctor; ``project``: create, generate-types; ``runners``), plus project scaffolding (``create``)
and the environment check (``doctor``). Thin: parse, then call the rooms below.
"""

from motia_core.cli.main import main

__all__ = ("main",)
