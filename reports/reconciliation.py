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


def totals(frame: pl.DataFrame, amount: str | None, group: str | list[str] | None) -> dict:
    """Rows and the amount (exact Decimal, as text) overall and per value of each `group` column
    (stage, status, owner): `by_<column>`."""
    out = {"rows": frame.height}
    if amount:
        out["amount"] = _sum(frame, amount)
    for column in [group] if isinstance(group, str) else group or []:
        if column not in frame.columns:
            continue
        g = frame.group_by(column).agg(pl.len().alias("rows"), *([pl.col(amount).cast(pl.Decimal(38, 2)).sum().alias("amount")] if amount else []))
        out[f"by_{column}"] = {
            str(r[column]): {"rows": r["rows"], **({"amount": str(r["amount"])} if amount else {})}
            for r in g.sort(column, nulls_last=True).to_dicts()
        }
    return out


def amounts_per_group(expected: pl.DataFrame, actual: pl.DataFrame, group: str, amount: str, examples: int = 5) -> dict:
    """Per value of `group` (each customer of the opportunities): the amount summed exactly, expected
    against the target; how many groups differ, with examples (a summary, not one entry per customer)."""
    def sums(frame):
        return frame.group_by(group).agg(pl.col(amount).cast(pl.Decimal(38, 2)).sum().alias("amount"), pl.len().alias("rows"))
    both = sums(expected).join(sums(actual), on=group, how="full", suffix="__target", coalesce=True)
    differ = both.filter(pl.col("amount").ne_missing(pl.col("amount__target")) | pl.col("rows").ne_missing(pl.col("rows__target")))
    return {"groups": both.height, "differ": differ.height, "examples": differ.get_column(group).cast(pl.String).sort().head(examples).to_list()}


def reconcile(
    accounting: list[dict],
    ledger: pl.DataFrame,
    expected: dict[str, pl.DataFrame],
    actual: dict[str, pl.DataFrame],
    keys: dict[str, str],
    amount_columns: dict[str, str | None],
    group_columns: dict[str, str | list[str] | None],
    customer_columns: dict[str, str | None] | None = None,
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
        customer, amount = (customer_columns or {}).get(entity), amount_columns.get(entity)
        per_customer = amounts_per_group(exp, act, customer, amount) if customer and amount else None
        table_ok = (diff["missing_keys"] == 0 and diff["rows_with_differences"] == 0 and loaded_ids == exp.height
                    and exp_tot == act_tot and (per_customer is None or per_customer["differ"] == 0))
        ok = ok and table_ok
        tables[entity] = {
            "ledger_loaded": loaded_ids,
            "expected_target_rows": exp.height,
            "diff": diff,
            "totals_expected": exp_tot,
            "totals_in_target": act_tot,
            **({"amount_per_customer": per_customer} if per_customer is not None else {}),
            "matches": table_ok,
        }
    return {"balanced": ok, "accounting": accounting, "tables": tables}


SCHEMA_VERSION = 1  # of reconciliation.json (docs/reconciliation.schema.json)


def verdict(reconciliation: dict, status: str, dry_run: bool, gate_reasons: list[str]) -> dict:
    """The overall verdict a person or a machine signs off on: `pass` only when every record read is
    accounted for exactly once and, where the run loaded, the target read back holds exactly what
    the ledger says (rows, values, totals); else `fail` with the reasons in words (counts, no values).
    `scope` says what was proven: the target (`loaded`), a rolled-back load (`dry_run`), or the
    accounting only (`not_loaded`: the gate stopped the run, or it was a plan)."""
    reasons = []
    for r in reconciliation.get("accounting", []):
        if not r["balanced"]:
            reasons.append(f"{r['entity']} source {r['source']}: {r['extracted']:,} records read, {r['ledgered']:,} in the ledger "
                           f"({r['repeated_records']:,} twice)" + (" and the physical input disagrees" if r.get("physical") and not r["physical"]["balanced"] else ""))
    for entity, t in reconciliation.get("tables", {}).items():
        if t["matches"]:
            continue
        d = t["diff"]
        what = [f"{d['missing_keys']:,} rows missing" if d["missing_keys"] else "",
                f"{d['rows_with_differences']:,} rows differ ({', '.join(sorted(d['columns']))})" if d["rows_with_differences"] else "",
                f"{t['ledger_loaded']:,} loaded in the ledger for {t['expected_target_rows']:,} target rows" if t["ledger_loaded"] != t["expected_target_rows"] else "",
                "totals differ" if t["totals_expected"] != t["totals_in_target"] else "",
                f"amounts of {t['amount_per_customer']['differ']:,} customers differ" if t.get("amount_per_customer", {}).get("differ") else ""]
        reasons.append(f"{entity}: " + "; ".join(w for w in what if w))
    if status == "stopped_at_gate":
        reasons += [f"the gate stopped the run: {g}" for g in gate_reasons]
    scope = "loaded" if reconciliation.get("loaded") and not dry_run else "dry_run" if reconciliation.get("loaded") else "not_loaded"
    return {"result": "fail" if reasons else "pass", "scope": scope, "reasons": reasons}


def describe_verdict(v: dict) -> str:
    """`pass (loaded)`, `fail (not loaded)`: the verdict in a few words, for a console or a state message."""
    return f"{v.get('result', '?')} ({v.get('scope', '?').replace('_', ' ')})"


def check_target_later(loaded: pl.DataFrame, target: pl.DataFrame, key: str, later_keys: set[str], known_elsewhere: set[str],
                       examples: int = 5) -> dict:
    """`crm-migrate reconcile`: the rows a run loaded (`loaded`, kept in its run folder) against the
    target as it is now. Rows a later committed run wrote (`later_keys`) are told apart, not counted
    as differences. A target row that is neither the run's nor in `known_elsewhere` (rows the target
    held beside the run's when it ran, rows later runs inserted) was added outside crm-migrate.
    A merged source record is inside its golden record's row: it is checked with that row."""
    mine = loaded.filter(~pl.col(key).cast(pl.String).is_in(list(later_keys)))
    diff = diff_values(mine, target.select(loaded.columns), key, examples)
    outside = target.join(loaded.select(key), on=key, how="anti").filter(~pl.col(key).cast(pl.String).is_in(list(known_elsewhere)))
    return {
        "rows_loaded": loaded.height,
        "rows_written_since_by_later_runs": loaded.height - mine.height,
        "deleted": {"count": diff["missing_keys"], "examples": diff["missing_examples"]},
        "changed": {"count": diff["rows_with_differences"], "columns": diff["columns"]},
        "added_outside": {"count": outside.height, "examples": outside.get_column(key).cast(pl.String).head(examples).to_list()},
        "clean": diff["missing_keys"] == 0 and diff["rows_with_differences"] == 0 and outside.height == 0,
    }
