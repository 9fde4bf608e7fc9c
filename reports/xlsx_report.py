"""report.xlsx: the run's evidence as sheets an analyst filters and sorts.

Summary (verdict, counts), Accounting (per source), Rejects (each rejected record with its values as
the source held them and the reason), Merges (each golden record with its member records grouped
under it, and which member gave each field), Review queue, Field changes (what each standardization
rule changed, with examples), Reconciliation differences (what the read-back found not as expected),
Totals (rows and exact amounts per stage, owner and status, expected and in the target), then Archived, Flags, Validation and the quality sheets. The sheet builders are pure functions over the
run's frames; reports/workbook.py writes them."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import polars as pl

from crm_migrate.contracts import ARCHIVED, CUSTOMER, FLAGS, QUARANTINE, REJECTED, RID, ROW, SOURCE, SOURCE_KEY
from reports.workbook import EXCEL_MAX_ROWS, Formats, key_values, write_frame
from transforms.resolve import GOLDEN_FIELDS as PROVENANCE_FIELDS  # the fields `provenance` names a member for

MERGE_FIELDS = ("name", "credit_code", "phone", "email", "address", "province", "city", "district", "industry", "contact_name", "owner",
                "status", "created_at", "updated_at")


def rejects_with_originals(ledger: pl.DataFrame, originals: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Every rejected record: entity, source, key, row, reason, flags, then its values as the source
    held them (`originals`: source -> the extracted frame; columns of all sources side by side, a
    column empty where a source has no such column)."""
    rejected = ledger.filter(pl.col("disposition") == REJECTED).drop("run_id", "disposition", "target_id", strict=False)
    if not rejected.height:
        return rejected
    parts = []
    internal = {SOURCE, SOURCE_KEY, ROW, FLAGS, QUARANTINE, RID}
    for source, frame in originals.items():
        # a source column named like a ledger column (`reason`, `source`) keeps its values beside it
        raw = frame.select(pl.col(SOURCE).alias("source"), pl.col(SOURCE_KEY).alias("source_key"), pl.col(ROW).alias("source_row"),
                           *[pl.col(c).cast(pl.String).alias(f"{c} (source)" if c in rejected.columns else c)
                             for c in frame.columns if c not in internal])
        parts.append(rejected.filter(pl.col("source") == source).join(raw, on=["source", "source_key", "source_row"], how="left"))
    known = set(originals)
    parts.append(rejected.filter(~pl.col("source").is_in(sorted(known))))
    return pl.concat([p for p in parts if p.height], how="diagonal") if any(p.height for p in parts) else rejected


def merge_groups(golden: pl.DataFrame, members: pl.DataFrame, ledger: pl.DataFrame) -> pl.DataFrame:
    """One row per golden customer with more than one record of this run, followed by one row per member
    record (`_level` 1: grouped under it in Excel): the member's source, key, row, disposition, which
    fields of the golden record it gave (from `provenance`), and its values."""
    if not golden.height or not members.height:
        return pl.DataFrame()
    fields = [f for f in MERGE_FIELDS if f in golden.columns and f in members.columns]
    merged_ids = members.group_by("target_id").len().filter(pl.col("len") > 1).select("target_id")
    heads = golden.join(merged_ids, on="target_id").sort("target_id")
    if not heads.height:
        return pl.DataFrame()
    provenance = pl.Struct({f: pl.String for f in PROVENANCE_FIELDS})
    gave = (heads.select("target_id", pl.col("provenance").str.json_decode(provenance)).unnest("provenance")
            .unpivot(index="target_id", variable_name="field", value_name="ref").drop_nulls("ref").filter(pl.col("field").is_in(fields))
            .group_by("target_id", "ref").agg(pl.col("field").sort().str.join(", ").alias("gave")))
    disposition = ledger.filter(pl.col("entity") == CUSTOMER).select(
        pl.col("source").alias(SOURCE), pl.col("source_key").alias(SOURCE_KEY), pl.col("source_row").alias(ROW), "disposition")
    rows = (members.join(merged_ids, on="target_id")
            .with_columns((pl.col(SOURCE) + ":" + pl.col(SOURCE_KEY)).alias("ref"))
            .join(gave, on=["target_id", "ref"], how="left").join(disposition, on=[SOURCE, SOURCE_KEY, ROW], how="left"))
    member_rows = rows.select(pl.col("target_id").alias("golden_id"), pl.lit(1, pl.Int8).alias("_level"), pl.lit("member").alias("row"),
                              pl.col(SOURCE).alias("source"), pl.col(SOURCE_KEY).alias("source_key"), pl.col(ROW).alias("source_row"),
                              "disposition", pl.col("gave").fill_null(""), *[pl.col(f).cast(golden.schema[f]) for f in fields])
    head_rows = heads.select(pl.col("target_id").alias("golden_id"), pl.lit(0, pl.Int8).alias("_level"),
                             pl.format("golden ({} records)", pl.col("member_count")).alias("row"), pl.lit(None, pl.String).alias("source"),
                             pl.lit(None, pl.String).alias("source_key"), pl.lit(None, pl.Int64).alias("source_row"),
                             pl.when(pl.col("archived")).then(pl.lit(ARCHIVED)).otherwise(pl.lit("golden")).alias("disposition"),
                             pl.lit("").alias("gave"), *fields)
    return (pl.concat([head_rows, member_rows.cast(head_rows.schema)])
            .sort(["golden_id", "_level", "disposition", "source", "source_key", "source_row"], nulls_last=True))


def rule_changes(rules: list) -> pl.DataFrame:
    """One row per standardization rule and source: values seen, changed, flagged, and up to five
    examples as `before → after`."""
    rows = [{"entity": r.entity, "source": r.source, "field": r.field, "rule": r.rule, "values": r.values, "changed": r.changed,
             "flagged": r.flagged, "changed_share": (r.changed / r.values) if r.values else None,
             **{f"example {i + 1}": f"{b} → {a}" for i, (b, a) in enumerate(r.examples[:5])}} for r in rules]
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame(schema={"rule": pl.String})


def reconciliation_differences(reconciliation: dict) -> pl.DataFrame:
    """Everything the read-back found not as expected, one row per finding with up to five examples:
    rows missing from the target, column values that differ, totals per group that differ, and
    customers whose opportunity amounts differ. Empty when the target is as the ledger says."""
    rows = []
    for entity, t in (reconciliation.get("tables") or {}).items():
        diff = t.get("diff") or {}
        for key in diff.get("missing_examples", []):
            rows.append({"entity": entity, "finding": "row missing in target", "column or group": "", "count": diff["missing_keys"],
                         "key": str(key), "expected": "", "in target": ""})
        for column, c in (diff.get("columns") or {}).items():
            for e in c["examples"]:
                rows.append({"entity": entity, "finding": "value differs", "column or group": column, "count": c["count"], "key": str(e["key"]),
                             "expected": e["expected"], "in target": e["target"]})
        expected, found = t.get("totals_expected") or {}, t.get("totals_in_target") or {}
        for name, groups in expected.items():
            if not name.startswith("by_"):
                continue
            got = found.get(name, {})
            for g in sorted(set(groups) | set(got), key=str):
                if groups.get(g) != got.get(g):
                    rows.append({"entity": entity, "finding": f"total {name.replace('_', ' ')} differs", "column or group": str(g), "count": 1,
                                 "key": "", "expected": json.dumps(groups.get(g), ensure_ascii=False), "in target": json.dumps(got.get(g), ensure_ascii=False)})
        per_customer = t.get("amount_per_customer") or {}
        for key in per_customer.get("examples", []):
            rows.append({"entity": entity, "finding": "amount per customer differs", "column or group": "amount", "count": per_customer["differ"],
                         "key": str(key), "expected": "", "in target": ""})
    schema = {"entity": pl.String, "finding": pl.String, "column or group": pl.String, "count": pl.Int64, "key": pl.String,
              "expected": pl.String, "in target": pl.String}
    return pl.DataFrame(rows, schema=schema)


def totals_rows(reconciliation: dict) -> pl.DataFrame:
    """Rows and exact amounts per group (stage, owner, status) of each table, as the ledger expects them
    and as the target holds them, side by side: the Totals sheet."""
    rows = []
    for entity, t in (reconciliation.get("tables") or {}).items():
        expected, found = t.get("totals_expected") or {}, t.get("totals_in_target") or {}
        groups = [("all", {"(all)": {k: v for k, v in expected.items() if not k.startswith("by_")}},
                   {"(all)": {k: v for k, v in found.items() if not k.startswith("by_")}})]
        groups += [(name[3:], v, found.get(name, {})) for name, v in expected.items() if name.startswith("by_")]
        for by, exp, got in groups:
            for g in sorted(set(exp) | set(got), key=str):
                e, f = exp.get(g) or {}, got.get(g) or {}
                rows.append({"entity": entity, "by": by, "group": str(g), "rows": e.get("rows"), "rows in target": f.get("rows"),
                             "amount": None if e.get("amount") is None else Decimal(e["amount"]),
                             "amount in target": None if f.get("amount") is None else Decimal(f["amount"]), "matches": e == f})
    schema = {"entity": pl.String, "by": pl.String, "group": pl.String, "rows": pl.Int64, "rows in target": pl.Int64,
              "amount": pl.Decimal(38, 2), "amount in target": pl.Decimal(38, 2), "matches": pl.Boolean}
    return pl.DataFrame(rows, schema=schema)


def summary_rows(manifest: dict, reconciliation: dict) -> list[tuple[str, object]]:
    """The Summary sheet: the run, the verdict with its reasons, the records per disposition."""
    verdict = reconciliation.get("verdict") or {}
    rows: list[tuple[str, object]] = [("project", manifest.get("project")), ("run", manifest.get("run_id")), ("started (UTC)", manifest.get("started_at")),
                                      ("status", manifest.get("status")), ("dry run", bool(manifest.get("dry_run"))),
                                      ("verdict", verdict.get("result")), ("verdict scope", verdict.get("scope"))]
    rows += [("verdict reason", r) for r in verdict.get("reasons", [])]
    rows += [(f"records {d}", n) for d, n in sorted(manifest.get("counts", {}).get("dispositions", {}).items())]
    rows.append(("golden customers loaded", manifest.get("counts", {}).get("golden_customers")))
    res = manifest.get("resolution") or {}
    if res:
        rows += [("pairs in the review queue", res.get("review_pairs")), ("records merged into another", res.get("records_merged"))]
    rows.append(("accounting balanced", bool(reconciliation.get("balanced"))))
    return rows


def accounting_rows(reconciliation: dict) -> pl.DataFrame:
    rows = [{k: v for k, v in r.items() if k != "physical"} for r in reconciliation.get("accounting", [])]
    return pl.DataFrame(rows) if rows else pl.DataFrame(schema={"source": pl.String})


def write_report_xlsx(path: Path, manifest: dict, reconciliation: dict, ledger: pl.DataFrame, originals: dict[str, pl.DataFrame],
                      golden: pl.DataFrame, members: pl.DataFrame, review: pl.DataFrame, flags: pl.DataFrame, rules: list,
                      suites: list, profile: list, safe_cells: dict, max_rows: int = EXCEL_MAX_ROWS) -> dict[str, list[str]]:
    """Write report.xlsx; return each logical sheet's sheet names (more than one where it was split)."""
    import xlsxwriter

    from reports.render import quality_sheets, validation_rows

    # constant_memory: rows go to disk as they are written, so a run of millions of records does not
    # hold every cell of the workbook in memory (each sheet is written once, row after row).
    wb = xlsxwriter.Workbook(path, {**safe_cells, "constant_memory": True})
    fmt = Formats(wb)
    key_values(wb, fmt, "Summary", summary_rows(manifest, reconciliation))
    written = {"Summary": ["Summary"]}
    lineage = [c for c in ("entity", "source", "source_key", "source_row") if c in ledger.columns]
    sheets = [
        ("Accounting", accounting_rows(reconciliation), None),
        ("Rejects", rejects_with_originals(ledger, originals), None),
        ("Merges", merge_groups(golden, members, ledger), "_level"),
        ("Review queue", review, None),
        ("Field changes", rule_changes(rules), None),
        ("Reconciliation differences", reconciliation_differences(reconciliation), None),
        ("Totals", totals_rows(reconciliation), None),
        ("Archived", ledger.filter(pl.col("disposition") == ARCHIVED).select(*lineage, "target_id", "reason", "flags"), None),
        ("Flags", flags.rename({"_flags": "flag", "len": "records"}), None),
        ("Validation", validation_rows(suites), None),
    ]
    for name, frame, level in sheets:
        written[name] = write_frame(wb, fmt, name, frame, level=level if frame.height else None, max_rows=max_rows)
    quality_sheets(wb, fmt, profile)
    wb.close()
    return written

