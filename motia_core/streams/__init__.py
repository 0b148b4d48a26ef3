"""Named streams: storage through the core, and the WebSocket hub that pushes changes to clients."""

from motia_core.streams.auth import StreamAccess
from motia_core.streams.hub import StreamHub, Subscription
from motia_core.streams.store import StreamListener, StreamStore
from motia_core.streams.ws import StreamSocketServer

__all__ = (
    "StreamAccess",
    "StreamHub",
    "StreamListener",
    "StreamSocketServer",
    "StreamStore",
    "Subscription",
)
