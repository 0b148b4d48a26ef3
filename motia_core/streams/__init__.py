"""Named streams: their storage now; the WebSocket hub for clients joins it later (issue 7)."""

from motia_core.streams.store import StreamListener, StreamStore

__all__ = ("StreamListener", "StreamStore")
