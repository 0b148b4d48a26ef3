"""A stand-in for a model call: decide priority and team from the ticket's words."""

from __future__ import annotations

from typing import Literal

Priority = Literal["low", "normal", "urgent"]

URGENT = ("down", "outage", "cannot log in", "data loss", "urgent")
TEAMS = {"billing": ("invoice", "refund", "charge", "payment"),
         "platform": ("down", "outage", "error", "slow", "log in")}


def classify(text: str) -> tuple[Priority, str]:
    lowered = text.lower()
    priority: Priority = "urgent" if any(word in lowered for word in URGENT) else "normal"
    team = next((name for name, words in TEAMS.items() if any(w in lowered for w in words)),
                "support")
    return priority, team
