"""Errors a user can act on: each says where (file, sheet, row, column) and what to do."""
from __future__ import annotations


class MigrationError(Exception):
    """A failure caused by input or configuration, reported without a traceback."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        sheet: str | None = None,
        table: str | None = None,
        row: int | None = None,
        column: str | None = None,
        hint: str | None = None,
        transient: bool = False,
    ) -> None:
        self.message = message
        self.transient = transient  # a passing condition (connection refused, deadlock): a retry may succeed (crm_migrate/transient.py)
        self.file, self.sheet, self.table = file, sheet, table
        self.row, self.column, self.hint = row, column, hint
        super().__init__(self.describe())

    def location(self) -> str:
        parts = []
        if self.file:
            parts.append(str(self.file))
        if self.sheet is not None:
            parts.append(f"sheet '{self.sheet}'")
        if self.table:
            parts.append(f"table {self.table}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column '{self.column}'")
        return ", ".join(parts)

    def __reduce__(self):
        """Pickled with every attribute (a source read on a cluster's worker raises it there): the
        default would rebuild it from its described text alone, losing the hint and the location."""
        return (_rebuilt, (type(self), self.__dict__.copy(), self.args))

    def describe(self) -> str:
        where = self.location()
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


def _rebuilt(cls: type, state: dict, args: tuple) -> MigrationError:
    error = Exception.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class ConfigError(MigrationError):
    """The config or a mapping file is invalid."""


class GateFailed(MigrationError):
    """A validation gate stopped the run before anything was written."""


class AccountingError(MigrationError):
    """The ledger does not account for every extracted record."""


class LockTimeout(MigrationError):
    """Another run holds the target's lock and did not release it in time."""
