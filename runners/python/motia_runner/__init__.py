"""motia-python-runner: runs Motia Python steps for motia-core over protocol v1 (stdio JSON-RPC).

Started by the core as ``python -m motia_runner`` inside the project's interpreter, so it uses
the standard library only (msgspec or orjson speed up JSON when present).
"""

from __future__ import annotations

__all__ = ("__version__",)

__version__ = "0.1.0"
