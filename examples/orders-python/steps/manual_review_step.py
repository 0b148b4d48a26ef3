# A noop step: drawn in the flow (a person reviews large orders) but never invoked.
config = {
    "type": "noop",
    "name": "ManualReview",
    "description": "A person checks unusually large orders",
    "virtualSubscribes": ["order.created"],
    "virtualEmits": ["order.reserved"],
    "flows": ["orders"],
}
