"""What the storage adapters of every family (state, queues, streams, traces) share: the SQLite
opener (WAL, migrations, calls on the loop) and the Redis client (pool, errors naming the URL).
The adapters themselves live with their family (``state/``, ``events/``, ...)."""

__all__ = ()
