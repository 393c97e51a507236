"""Which database errors are worth another try.

Only failures of the connection (or of getting one) are transient: the server
restarted, a connection was terminated, the pool had none free for a moment, a
serialization conflict, SQLite's single writer busy. Everything else (a constraint, a
type, a missing column, a syntax error) fails the same way every time, so retrying it
only hides a bug and, for a job, re-queues it forever.
"""

from __future__ import annotations

import socket

from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

# SQLSTATE classes: 08 connection exception, 53 insufficient resources (too many
# connections), 57P0x the server shutting down or terminating the backend.
_TRANSIENT_CLASSES = ("08", "53")
_TRANSIENT_STATES = frozenset({"57P01", "57P02", "57P03", "40001", "40P01"})


def is_transient_db_error(exc: BaseException) -> bool:
    if isinstance(exc, PoolTimeoutError | DisconnectionError):
        return True
    # asyncpg raises OS errors of the connect call as they are (not wrapped).
    if isinstance(exc, ConnectionError | socket.gaierror):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:  # SQLAlchemy's dialect saw a disconnect
        return True
    state = _sqlstate(exc)
    if state is not None:
        return state[:2] in _TRANSIENT_CLASSES or state in _TRANSIENT_STATES
    # SQLite: another connection holds the write lock past busy_timeout.
    text = str(exc.orig).lower()
    return "database is locked" in text or "database is busy" in text


def _sqlstate(exc: DBAPIError) -> str | None:
    for candidate in (exc.orig, getattr(exc.orig, "__cause__", None)):
        state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(state, str):
            return state
    return None
