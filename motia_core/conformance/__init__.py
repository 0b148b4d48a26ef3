"""The conformance kit: drive any runner through the protocol's scenarios and score it.

``motia runners check <language or command>`` is the CLI; ``check_runner`` the library call.
The scenarios and fixture steps are data in protocol/conformance/ (see protocol/README.md).
"""

from motia_core.conformance.exclusions import ExclusionError, load_exclusions
from motia_core.conformance.fixtures import FixtureError, conformance_dir
from motia_core.conformance.kit import check_runner, select_tiers
from motia_core.conformance.scenarios import ScenarioError, load_tiers
from motia_core.conformance.scorecard import Outcome, ScenarioResult, Scorecard

__all__ = (
    "ExclusionError",
    "FixtureError",
    "Outcome",
    "ScenarioError",
    "ScenarioResult",
    "Scorecard",
    "check_runner",
    "conformance_dir",
    "load_exclusions",
    "load_tiers",
    "select_tiers",
)
