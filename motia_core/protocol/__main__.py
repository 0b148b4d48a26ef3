"""`python -m motia_core.protocol` prints protocol/schema.json (what `make schema` writes)."""

from motia_core.protocol.messages import render_schema

print(render_schema(), end="")
