"""motia-core side by side with the original Motia (npm motia@0.6.4-beta.130) and the bare limit.

Entry point: ``bench/compare.py`` (``make bench-compare``). The package holds the scenario
project both frameworks run (``project/steps``), the raw-limit steps (``limits/steps``), the
installer of the original, the servers under test, the load generator and the report.
"""

from __future__ import annotations

__all__ = ()
