"""A noop step runs no code: it draws a node in the flow (a person, a manual task, a system
outside this project) and connects it to the steps around it."""

config = {
    "type": "noop",
    "name": "Flow Starter",
    "description": "Starts the default flow",
    # Nothing leads to this node; it points at the api step, which virtually subscribes to it.
    "virtualSubscribes": [],
    "virtualEmits": ["/default"],
    "flows": ["default"],
}
