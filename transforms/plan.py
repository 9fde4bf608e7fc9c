"""What a load would change in one target table, like `terraform plan`: rows to insert, rows to
update (with the columns that change), rows unchanged, and rows the target holds that this run does
not produce (crm-migrate never deletes them: they are counted, not touched).

Pure: the wanted rows (the mapped frame) against the current rows (read from the target)."""
from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

EXAMPLES = 5


@dataclass
class TableChanges:
    table: str
    key: str
    new: pl.DataFrame  # rows to insert
    updated: pl.DataFrame  # rows to update, as they will be
    before: pl.DataFrame  # the same rows as the target holds them now
    unchanged: int
    not_in_run: int  # target rows with a key this run does not produce (left as they are)
    changed_columns: dict[str, int] = field(default_factory=dict)  # column -> updated rows where it changes
    outside_keys: pl.Series | None = None  # keys of the target rows this run does not produce (for a later reconcile)

    def summary(self) -> dict:
        """Counts, changed columns and example keys: names and ids only, safe on a console."""
        return {"table": self.table, "insert": self.new.height, "update": self.updated.height, "unchanged": self.unchanged,
                "delete": 0, "not_in_run": self.not_in_run, "changed_columns": self.changed_columns,
                "examples": {"insert": [str(k) for k in self.new.get_column(self.key).head(EXAMPLES).to_list()],
                             "update": [str(k) for k in self.updated.get_column(self.key).head(EXAMPLES).to_list()]}}


def plan_table(table: str, wanted: pl.DataFrame, current: pl.DataFrame, key: str) -> TableChanges:
    new = wanted.join(current.select(key), on=key, how="anti")
    both = wanted.join(current, on=key, how="inner", suffix="__cur")
    value_cols = [c for c in wanted.columns if c != key]
    differs = {c: pl.col(c).ne_missing(pl.col(f"{c}__cur")) for c in value_cols}
    flagged = both.with_columns([e.alias(f"__d_{c}") for c, e in differs.items()])
    any_change = pl.any_horizontal([pl.col(f"__d_{c}") for c in value_cols]) if value_cols else pl.lit(False)
    changed = flagged.filter(any_change)
    counts = changed.select([pl.col(f"__d_{c}").sum().alias(c) for c in value_cols]).row(0, named=True) if changed.height else {}
    updated = changed.select(wanted.columns)
    before = changed.select(key, *[pl.col(f"{c}__cur").alias(c) for c in value_cols])
    outside = current.join(wanted.select(key), on=key, how="anti").get_column(key)
    not_in_run = outside.len()
    return TableChanges(table, key, new, updated, before, both.height - changed.height, not_in_run,
                        {c: int(n) for c, n in counts.items() if n}, outside)
