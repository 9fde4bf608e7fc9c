"""Database driver errors as messages a user can act on: the driver's first line, password masked,
never SQLAlchemy's echo of the statement and its parameters (they hold customer data)."""
from __future__ import annotations

from crm_migrate.secrets import mask_url

_CREDENTIALS = ("access denied for user", "password authentication failed", "using password", "authentication failed")


def driver_message(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return mask_url(lines[0] if lines else type(orig).__name__)


def hint_for(detail: str, privilege: str, otherwise: str) -> str:
    """Wrong credentials, a missing privilege (`privilege` says what to grant), or `otherwise`."""
    low = detail.lower()
    if any(w in low for w in _CREDENTIALS):
        return "the user name or password is wrong: check the URL's credentials (use ${ENV_VAR} for the password)"
    if "denied" in low or "permission" in low or "privilege" in low:
        return f"the database user lacks a privilege: {privilege}"
    return otherwise
