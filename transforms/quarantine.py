"""Validation outcomes -> the records' fate: a critical failure rejects the record with a reason that
names the rule and shows the bad value (`opportunity_canonical.close_before_created:
expected_close_date=2023-01-05, created_at=2023-03-01 09:00:00`), a warning adds the rule's flag and
lets the record through, info only counts. Every failing row, by its row id (which the ledger turns
into lineage), never by position in a sample."""
from __future__ import annotations

import polars as pl

from crm_migrate.contracts import CRITICAL, FLAGS, REJECT, RID, WARNING
from crm_migrate.flags import init_flags

VIOLATION_SCHEMA = {RID: pl.Int64(), "severity": pl.String(), "flag": pl.String(), "rule": pl.String(), "detail": pl.String()}
MAX_VALUE_CHARS = 80


def _text(column: str, dtype: pl.DataType) -> pl.Expr:
    """A value as the reason shows it: datetimes to the second, long text cut, missing as (empty)."""
    col = pl.col(column)
    if isinstance(dtype, pl.Datetime):
        text = col.dt.strftime("%Y-%m-%d %H:%M:%S")
    elif isinstance(dtype, pl.List):  # the record's flags
        text = col.cast(pl.List(pl.String)).list.join(";")
    else:
        text = col.cast(pl.String)
    text = pl.when(text.str.len_chars() > MAX_VALUE_CHARS).then(text.str.slice(0, MAX_VALUE_CHARS) + "…").otherwise(text)
    return text.fill_null("(empty)")


def _shown(column: str, dtype: pl.DataType) -> pl.Expr:
    return pl.concat_str([pl.lit(f"{column}="), _text(column, dtype)])


def violations(frame: pl.DataFrame, outcomes, id_column: str = RID) -> pl.DataFrame:
    """One row per (record, failed rule) of critical and warning rules: the row id, severity, flag,
    rule name (`suite.flag`) and the detail with the values the rule saw."""
    parts = []
    for o in outcomes:
        if o.success or not o.unexpected_ids or o.severity not in (CRITICAL, WARNING):
            continue
        ids = pl.DataFrame({id_column: o.unexpected_ids}, schema={id_column: pl.Int64})
        cols = [c for c in o.rule.columns if c in frame.columns]
        hit = ids.join(frame.select(id_column, *cols), on=id_column, how="left")
        shown = pl.concat_str([_shown(c, frame.schema[c]) for c in cols], separator=", ") if cols else pl.lit("")
        parts.append(hit.select(
            pl.col(id_column).alias(RID), pl.lit(o.severity).alias("severity"), pl.lit(o.flag).alias("flag"),
            pl.lit(o.rule.name).alias("rule"), pl.concat_str([pl.lit(f"{o.rule.name}: "), shown]).alias("detail"),
        ))
    return pl.concat(parts) if parts else pl.DataFrame(schema=VIOLATION_SCHEMA)


def quarantine(frame: pl.DataFrame, found: pl.DataFrame) -> pl.DataFrame:
    """Reject the records with a critical violation (reasons joined after any reason they had) and
    flag every violated rule's code on its record, rejected or not."""
    frame = init_flags(frame)
    if REJECT not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(REJECT))
    if found.is_empty():
        return frame
    per_record = found.group_by(RID).agg(
        pl.col("detail").filter(pl.col("severity") == CRITICAL).alias("__reasons"),
        pl.col("flag").unique(maintain_order=True).alias("__flags"),
    )
    reasons = pl.col("__reasons").list.join("; ")
    has = pl.col("__reasons").list.len() > 0
    return (
        frame.join(per_record, on=RID, how="left")
        .with_columns(
            pl.when(has & pl.col(REJECT).is_null()).then(reasons)
            .when(has).then(pl.concat_str([pl.col(REJECT), pl.lit("; "), reasons]))
            .otherwise(pl.col(REJECT)).alias(REJECT),
            pl.when(pl.col("__flags").is_not_null()).then(pl.concat_list(FLAGS, "__flags")).otherwise(pl.col(FLAGS)).alias(FLAGS),
        )
        .drop("__reasons", "__flags")
    )


def examples(frame: pl.DataFrame, found: pl.DataFrame, lineage: list[str], outcomes, per_rule: int = 5) -> dict[str, list[dict]]:
    """rule name -> its first failing records: `where` (the lineage or key values) and `values` (each
    column the rule saw, as text), for the report, which masks personal fields by their name."""
    if found.is_empty():
        return {}
    firsts = found.sort(RID).group_by("rule", maintain_order=True).head(per_rule)
    out: dict[str, list[dict]] = {}
    for o in outcomes:
        ids = firsts.filter(pl.col("rule") == o.rule.name).get_column(RID)
        if ids.is_empty():
            continue
        cols = [c for c in o.rule.columns if c in frame.columns]
        rows = frame.filter(pl.col(RID).is_in(ids.implode())).sort(RID).select(
            *lineage, *(_text(c, frame.schema[c]).alias(f"__v_{c}") for c in cols))
        out[o.rule.name] = [{"where": {k: r[k] for k in lineage}, "values": {c: r[f"__v_{c}"] for c in cols}}
                            for r in rows.iter_rows(named=True)]
    return out
