"""Prove the migration: accounting per source, target rows per key, totals, value differences."""
from __future__ import annotations

from decimal import Decimal

import polars as pl

from crm_migrate.contracts import LOADED


def diff_values(expected: pl.DataFrame, actual: pl.DataFrame, key: str, examples: int = 5) -> dict:
    """Key-based comparison of what should be in the target with what is."""
    missing = expected.join(actual.select(key), on=key, how="anti")
    both = expected.join(actual, on=key, how="inner", suffix="__target")
    columns = {}
    for c in expected.columns:
        if c == key:
            continue
        bad = both.filter(pl.col(c).ne_missing(pl.col(f"{c}__target")))
        if bad.height:
            columns[c] = {
                "count": bad.height,
                "examples": [
                    {"key": k, "expected": None if e is None else str(e), "target": None if t is None else str(t)}
                    for k, e, t in bad.select(key, c, f"{c}__target").head(examples).rows()
                ],
            }
    return {
        "expected_rows": expected.height,
        "found_rows": both.height,
        "missing_keys": missing.height,
        "missing_examples": missing.get_column(key).head(examples).to_list(),
        "rows_with_differences": both.filter(
            pl.any_horizontal([pl.col(c).ne_missing(pl.col(f"{c}__target")) for c in expected.columns if c != key] or [pl.lit(False)])
        ).height,
        "columns": columns,
    }


def _sum(frame: pl.DataFrame, column: str) -> str:
    if column not in frame.columns or frame.height == 0:
        return "0"
    value = frame.get_column(column).cast(pl.Decimal(38, 2)).sum()
    return str(value if value is not None else Decimal("0.00"))


def totals(frame: pl.DataFrame, amount: str | None, group: str | None) -> dict:
    out = {"rows": frame.height}
    if amount:
        out["amount"] = _sum(frame, amount)
    if group and group in frame.columns:
        g = frame.group_by(group).agg(pl.len().alias("rows"), *([pl.col(amount).cast(pl.Decimal(38, 2)).sum().alias("amount")] if amount else []))
        out[f"by_{group}"] = {
            str(r[group]): {"rows": r["rows"], **({"amount": str(r["amount"])} if amount else {})}
            for r in g.sort(group, nulls_last=True).to_dicts()
        }
    return out


def reconcile(
    accounting: list[dict],
    ledger: pl.DataFrame,
    expected: dict[str, pl.DataFrame],
    actual: dict[str, pl.DataFrame],
    keys: dict[str, str],
    amount_columns: dict[str, str | None],
    group_columns: dict[str, str | None],
) -> dict:
    """Everything needed to trust (or distrust) the run, as plain data for JSON and the reports."""
    tables = {}
    ok = all(r["balanced"] for r in accounting)
    for entity, exp in expected.items():
        act = actual[entity]
        loaded_ids = ledger.filter((pl.col("entity") == entity) & (pl.col("disposition") == LOADED)).get_column("target_id").n_unique()
        diff = diff_values(exp, act, keys[entity])
        exp_tot = totals(exp, amount_columns.get(entity), group_columns.get(entity))
        act_tot = totals(act, amount_columns.get(entity), group_columns.get(entity))
        table_ok = (diff["missing_keys"] == 0 and diff["rows_with_differences"] == 0 and loaded_ids == exp.height
                    and exp_tot == act_tot)
        ok = ok and table_ok
        tables[entity] = {
            "ledger_loaded": loaded_ids,
            "expected_target_rows": exp.height,
            "diff": diff,
            "totals_expected": exp_tot,
            "totals_in_target": act_tot,
            "matches": table_ok,
        }
    return {"balanced": ok, "accounting": accounting, "tables": tables}
