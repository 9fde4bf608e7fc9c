"""Which failures are worth trying again: a database that refused the connection for a moment, a
deadlock, a lock wait that timed out. Never a data error: a bad value, a missing column, a constraint
a row breaks or a wrong password fail the same way every time, and retrying them only delays the
message. The flow's retries (pipelines/flow.py) ask `is_transient`."""
from __future__ import annotations

import re

# SQLSTATEs (PostgreSQL) and error numbers (MySQL/MariaDB) of transient conditions.
TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "08000", "08001", "08003", "08004", "08006"}
TRANSIENT_MYSQL_CODES = {1205, 1213, 2002, 2003, 2006, 2013, 1040, 1053}
# Words drivers use for them (SQLite's "database is locked" has no code).
TRANSIENT_WORDS = re.compile(
    r"connection refused|could not connect|can't connect|server closed the connection|connection reset|connection timed out|"
    r"timeout expired|terminating connection|the database system is (starting|shutting) up|too many connections|"
    r"deadlock|lock wait timeout|database is locked|server has gone away|lost connection", re.I)
# ... and words that say the cause is not going away by itself.
PERMANENT_WORDS = re.compile(r"password authentication failed|access denied|does not exist|unknown database|no such table|"
                             r"permission denied|syntax error|invalid input", re.I)


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def is_transient(exc: BaseException) -> bool:
    """True when `exc` (or an exception it came from) is a passing database condition: a refused or
    dropped connection, a deadlock, a lock wait, a locked SQLite file. A MigrationError says so itself
    (`transient`), since it is raised `from None` and keeps no driver exception."""
    for e in _chain(exc):
        flagged = getattr(e, "transient", None)
        if flagged is not None:
            return bool(flagged)
        orig = getattr(e, "orig", None) or e  # sqlalchemy's DBAPIError wraps the driver's
        state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        if state in TRANSIENT_SQLSTATES:
            return True
        args = getattr(orig, "args", ())
        if args and isinstance(args[0], int) and args[0] in TRANSIENT_MYSQL_CODES:
            return True
        text = str(orig)
        if TRANSIENT_WORDS.search(text) and not PERMANENT_WORDS.search(text):
            return True
    return False


def transient_message(message: str) -> bool:
    """Whether a driver's message (as loaders report it) describes a passing condition."""
    return bool(TRANSIENT_WORDS.search(message)) and not PERMANENT_WORDS.search(message)
