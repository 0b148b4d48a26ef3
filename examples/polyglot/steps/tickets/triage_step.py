"""Triage in Python, where a team would put its AI work: here a small keyword classifier.

Typed with motia_types.py (written by `motia generate-types` and `motia dev`): mypy checks that
what it emits is what the steps subscribed to ticket.triaged take, whatever their language.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from src.triage.classify import classify

if TYPE_CHECKING:
    from motia_types import TriageTicketContext, TriageTicketInput

config = {
    "type": "event",
    "name": "TriageTicket",
    "subscribes": ["ticket.created"],
    "emits": ["ticket.triaged"],
    "input": {
        "type": "object",
        "properties": {"id": {"type": "string"}},
        "required": ["id"],
    },
    "flows": ["support"],
}


async def handler(input: TriageTicketInput, context: TriageTicketContext) -> None:
    wrapped = await context.state.get("tickets", input["id"])
    ticket = wrapped.get("data", wrapped)  # Motia's Python state.get wraps dicts as {"data": ...}
    priority, team = classify(f"{ticket['title']} {ticket['body']}")
    await context.state.set("tickets", ticket["id"],
                            {**ticket, "status": "triaged", "priority": priority, "team": team})
    context.logger.info("ticket triaged", {"id": ticket["id"], "priority": priority})
    await context.emit({"topic": "ticket.triaged",
                        "data": {"id": ticket["id"], "priority": priority, "team": team}})
