"""review_queue.xlsx: the pairs a person should decide, the two records side by side.

Sheet `Pairs`: one row per doubtful pair (match probability between the review and auto-merge
thresholds, or refused only because the cities differ), both records' fields, each comparison's
contribution in bits, and a `decision` column restricted to same / different. Sorted so that the
decisions settling the most records come first (the two clusters' sizes), then by probability. Fill
it in and name it in `resolution.decisions`: the next run applies it. Sheet `Records`: records with
identifiers that need a look (legacy organization codes, registration numbers, names matched
without region).
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from crm_migrate.contracts import ATTRIBUTE_PREFIX, ROW, SOURCE, SOURCE_KEY
from transforms.resolve import comparison_names

SHOWN = ("name", "credit_code", "phone", "email", "address", "contact_name")
DECISION = "decision (same / different)"


def queue_rows(review_pairs: pl.DataFrame, customers: pl.DataFrame, decided: pl.DataFrame | None = None) -> pl.DataFrame:
    """The queue as a frame: pairs not decided yet, with both records' fields, in settling order."""
    if review_pairs.is_empty():
        return pl.DataFrame()
    names = comparison_names(review_pairs)
    # The canonical fields, then the attributes a declared model compares (a date of birth, a member number).
    shown_fields = [*[c for c in SHOWN if c in customers.columns], *[c for c in customers.columns if c.startswith(ATTRIBUTE_PREFIX)]]
    fields = customers.select(SOURCE, SOURCE_KEY, ROW, "target_id", *shown_fields)
    size = fields.group_by("target_id").len()
    pairs = review_pairs
    if decided is not None and decided.height:
        pairs = pairs.join(decided.select("source_a", "key_a", "source_b", "key_b"), on=["source_a", "key_a", "source_b", "key_b"], how="anti")
        pairs = pairs.join(decided.select(pl.col("source_b").alias("source_a"), pl.col("key_b").alias("key_a"),
                                          pl.col("source_a").alias("source_b"), pl.col("key_a").alias("key_b")),
                           on=["source_a", "key_a", "source_b", "key_b"], how="anti")
    side = lambda s: fields.rename({SOURCE: f"source_{s}", SOURCE_KEY: f"key_{s}", ROW: f"row_{s}", "target_id": f"cluster_{s}"}  # noqa: E731
                                   | {c: f"{c}_{s}" for c in shown_fields})
    out = (pairs.select("source_a", "key_a", "row_a", "source_b", "key_b", "row_b", "match_probability", "hard_rule", *[f"bits_{n}" for n in names])
           .join(side("a"), on=["source_a", "key_a", "row_a"], how="left").join(side("b"), on=["source_b", "key_b", "row_b"], how="left")
           .join(size.rename({"target_id": "cluster_a", "len": "__na"}), on="cluster_a", how="left")
           .join(size.rename({"target_id": "cluster_b", "len": "__nb"}), on="cluster_b", how="left"))
    out = out.with_columns((pl.col("__na").fill_null(1) + pl.col("__nb").fill_null(1)).alias("records_settled"))
    out = out.sort(["records_settled", "match_probability", "source_a", "key_a", "source_b", "key_b"], descending=[True, True, False, False, False, False])
    firsts = ["source_a", "key_a", "source_b", "key_b"]
    shown = [f"{f}_{s}" for s in ("a", "b") for f in shown_fields]
    return out.select(*firsts, pl.lit("").alias(DECISION), pl.col("match_probability").round(4), "records_settled", "hard_rule",
                      *shown, *[f"bits_{n}" for n in names])


def write_review_queue(path: Path, rows: pl.DataFrame, doubtful_records: pl.DataFrame, safe_cells: dict) -> int:
    """Write the workbook; return the number of pairs."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(path, safe_cells)
    head = wb.add_format({"bold": True, "bg_color": "#FEF3C7", "text_wrap": True})
    ws = wb.add_worksheet("Pairs")
    columns = rows.columns if rows.width else ["source_a", "key_a", "source_b", "key_b", DECISION]
    ws.write_row(0, 0, columns, head)
    for r, values in enumerate(rows.iter_rows(), start=1):
        for c, v in enumerate(values):
            if v is not None:
                ws.write(r, c, v) if isinstance(v, (int, float)) else ws.write_string(r, c, str(v))
    ws.freeze_panes(1, 5)
    ws.autofilter(0, 0, max(rows.height, 1), len(columns) - 1)
    d = columns.index(DECISION)
    ws.data_validation(1, d, max(rows.height, 1), d, {"validate": "list", "source": ["same", "different"],
                                                      "error_message": "same or different (or leave empty)"})
    ws.set_column(0, 3, 14)
    ws.set_column(d, d, 16)
    ws.set_column(d + 1, len(columns) - 1, 18)
    rs = wb.add_worksheet("Records")
    rs.write_row(0, 0, doubtful_records.columns, head)
    for r, values in enumerate(doubtful_records.iter_rows(), start=1):
        for c, v in enumerate(values):
            if v is not None:
                rs.write_string(r, c, str(v))
    wb.close()
    return rows.height
