"""Dispositions and the ledger: every source record gets exactly one row, with a reason.

The functions take the whole entity frame (all extracted records, rejected ones included) and give
each record one disposition, so the accounting identity holds by construction; `check_accounting`
proves it at the end of a run anyway.
"""
from __future__ import annotations

import polars as pl

from crm_migrate.contracts import (
    ARCHIVED, DISPOSITIONS, FLAGS, LEDGER_SCHEMA, LOADED, MERGED, REJECT, REJECTED, ROW, SOURCE, SOURCE_KEY,
)
from transforms.archive import ARCHIVE_REASON
from crm_migrate.flags import flags_text
from transforms.opportunities import DUP_REASON, COLLISION, LINK_REASON
from transforms.text import CONTROL_CHARACTERS



# How a record joined its golden record, in words, when the resolution left no evidence text.
MATCH_WORDS = {"identifier": "same credit/organization code", "duplicate": "identical record of the same source",
               "reviewer": "a reviewer decided: same", "probabilistic": "match"}


def customer_dispositions(members: pl.DataFrame, rejected: pl.DataFrame, opportunity_customers: pl.Series) -> pl.DataFrame:
    """members: clustered kept records (target_id, _survivor, _match, _match_evidence, _survivor_ref, __archive_reason).
    rejected: records a critical expectation rejected. A cluster is archived only when every member
    is stale and no opportunity is attached to it."""
    has_opps = pl.col("target_id").is_in(opportunity_customers.drop_nulls().implode())
    all_stale = pl.col(ARCHIVE_REASON).is_not_null().all().over("target_id")
    archived = all_stale & ~has_opps
    plain = pl.col("_match").replace_strict(MATCH_WORDS, default=pl.col("_match"), return_dtype=pl.String)
    how = pl.col("_match_evidence").fill_null(plain) if "_match_evidence" in members.columns else plain
    kept = members.with_columns(
        pl.when(archived).then(pl.lit(ARCHIVED)).when(pl.col("_survivor")).then(pl.lit(LOADED)).otherwise(pl.lit(MERGED)).alias("disposition"),
        pl.when(archived).then(pl.col(ARCHIVE_REASON))
        .when(~pl.col("_survivor")).then(pl.format("merged into {} ({} as {})", pl.col("target_id"), how, pl.col("_survivor_ref")))
        .alias("reason"),
    )
    if "_carried" in kept.columns:  # records of earlier runs helped build golden records; they were ledgered then
        kept = kept.filter(~pl.col("_carried"))
    rej = rejected.with_columns(pl.lit(REJECTED).alias("disposition"), pl.col(REJECT).alias("reason"), pl.lit(None, dtype=pl.String).alias("target_id"))
    cols = [SOURCE, SOURCE_KEY, ROW, "disposition", "target_id", "reason", FLAGS]
    return pl.concat([kept.select(cols), rej.select(cols)])


def opportunity_dispositions(opps: pl.DataFrame) -> pl.DataFrame:
    """opps: every opportunity with reject_reason, __link_reason, and for linked ones target_id,
    _survivor and __duplicate_reason."""
    reason_rejected = pl.coalesce(REJECT, LINK_REASON, COLLISION) if COLLISION in opps.columns else pl.coalesce(REJECT, LINK_REASON)
    out = opps.with_columns(
        pl.when(reason_rejected.is_not_null()).then(pl.lit(REJECTED))
        .when(pl.col("_survivor")).then(pl.lit(LOADED)).otherwise(pl.lit(MERGED)).alias("disposition"),
        pl.when(reason_rejected.is_not_null()).then(reason_rejected)
        .when(~pl.col("_survivor")).then(pl.col(DUP_REASON))
        .alias("reason"),
    )
    out = out.with_columns(
        pl.when(pl.col("disposition") == REJECTED).then(None).otherwise(pl.col("target_id")).alias("target_id"),
        pl.when(pl.col("disposition") == REJECTED).then(None).otherwise(pl.col("customer_target_id")).alias("customer_target_id"),
    )
    return out.select(SOURCE, SOURCE_KEY, ROW, "disposition", "target_id", "reason", FLAGS, "customer_target_id")


def build_ledger(run_id: str, entity: str, dispositions: pl.DataFrame) -> pl.DataFrame:
    if "customer_target_id" not in dispositions.columns:
        dispositions = dispositions.with_columns(pl.lit(None, dtype=pl.String).alias("customer_target_id"))
    return dispositions.select(
        pl.lit(run_id).alias("run_id"),
        pl.lit(entity).alias("entity"),
        pl.col(SOURCE).alias("source"),
        visible(pl.col(SOURCE_KEY)).alias("source_key"),
        pl.col(ROW).alias("source_row"),
        "disposition",
        "target_id",
        visible(pl.col("reason").fill_null("")),
        visible(flags_text(pl.when(pl.col(SOURCE_KEY).str.contains(CONTROL_CHARACTERS))
                           .then(pl.concat_list(pl.col(FLAGS), pl.lit(["control_characters:source_key"]))).otherwise(pl.col(FLAGS)))).alias("flags"),
        "customer_target_id",
    ).cast(LEDGER_SCHEMA).sort("entity", "source", "source_row")


def with_record_flags(ledger: pl.DataFrame, flags: pl.DataFrame | None) -> pl.DataFrame:
    """The ledger with more flags on the loaded records behind target rows: `flags` holds (entity,
    target_id, flag) rows, as the target mapping reports what it truncated or defaulted."""
    if flags is None or not flags.height:
        return ledger
    extra = flags.group_by("entity", "target_id").agg(pl.col("flag").alias("__extra"))
    out = ledger.with_row_index("__order").join(extra.with_columns(pl.lit(LOADED).alias("disposition")),
                                               on=["entity", "target_id", "disposition"], how="left")
    merged = pl.concat_list(pl.col("flags").str.split(";").list.eval(pl.element().filter(pl.element() != "")), pl.col("__extra").fill_null([]))
    return out.with_columns(flags_text(merged).alias("flags")).sort("__order").drop("__order", "__extra").select(ledger.columns)


def visible(text: pl.Expr) -> pl.Expr:
    """Ledger text without control characters (a NUL in a source key or a quoted value would stop the
    ledger's write to PostgreSQL): each becomes U+FFFD, so the row still shows where one was; a key
    changed this way is flagged `control_characters:source_key`."""
    return text.str.replace_all(CONTROL_CHARACTERS, "\ufffd")


def accounting(extracted: dict[tuple[str, str], int], ledger: pl.DataFrame, physical: dict[str, dict] | None = None) -> list[dict]:
    """Per (entity, source): extracted = loaded + merged + rejected + archived (+ unsampled in a
    sample rehearsal), and no record twice.
    `physical` (source -> how its input divides, counted from the file or table itself): the parts
    must add up, and the ledger must hold exactly the records the physical count leaves."""
    counts = ledger.group_by("entity", "source", "disposition").len()
    dupes = ledger.group_by("entity", "source", "source_key", "source_row").len().filter(pl.col("len") > 1)
    rows = []
    for (entity, source), n in sorted(extracted.items()):
        sub = counts.filter((pl.col("entity") == entity) & (pl.col("source") == source))
        by = {d: int(sub.filter(pl.col("disposition") == d)["len"].sum()) for d in DISPOSITIONS}
        repeated = dupes.filter((pl.col("entity") == entity) & (pl.col("source") == source)).height
        total = sum(by.values())
        row = {"entity": entity, "source": source, "extracted": n, **by, "ledgered": total,
               "difference": n - total, "repeated_records": repeated, "balanced": n == total and repeated == 0}
        count = (physical or {}).get(source)
        if count is not None:
            row["physical"] = count
            row["balanced"] = row["balanced"] and count["balanced"] and count["records"] == total
        rows.append(row)
    return rows
