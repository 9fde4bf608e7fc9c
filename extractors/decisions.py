"""Reading reviewers' decisions back: a filled review_queue.xlsx (sheet `Pairs`) or a CSV.

A decision names both records by source and key (rows move between exports, keys do not) and says
`same` or `different`; blank rows are undecided. Anything else is an error naming the file, sheet,
row and column, never a silent skip: a reviewer's `different` that is lost becomes a false merge.
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from crm_migrate.errors import MigrationError

COLUMNS = ("source_a", "key_a", "source_b", "key_b", "decision")
VALUES = {"same": "same", "different": "different", "相同": "same", "同一": "same", "不同": "different", "是": "same", "否": "different"}
SHEET = "Pairs"


def read_decisions(path: Path | None) -> pl.DataFrame:
    """(source_a, key_a, source_b, key_b, decision) with decision `same` or `different`."""
    empty = pl.DataFrame(schema={c: pl.String for c in COLUMNS})
    if path is None:
        return empty
    if not path.exists():
        raise MigrationError("the review decisions file does not exist", file=str(path),
                             hint="set resolution.decisions to a filled review_queue.xlsx of an earlier run, or remove it")
    sheet = None
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            sheet = SHEET
            frame = pl.read_excel(path, sheet_name=SHEET, engine="openpyxl", infer_schema_length=0)
            first_row = 2
        else:
            frame = pl.read_csv(path, infer_schema_length=0)
            first_row = 2
    except Exception as exc:  # noqa: BLE001 - any reader failure is the user's file
        raise MigrationError(f"cannot read the review decisions ({type(exc).__name__})", file=str(path), sheet=sheet,
                             hint="give the review_queue.xlsx a run wrote (sheet 'Pairs'), or a CSV with columns " + ", ".join(COLUMNS)) from None
    frame = frame.rename({c: c.split(" ")[0] for c in frame.columns})
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise MigrationError(f"the review decisions lack the column(s) {', '.join(missing)}", file=str(path), sheet=sheet,
                             hint="keep the columns of the review queue as the run wrote them")
    frame = frame.select(COLUMNS).with_columns(pl.col("decision").str.strip_chars().str.to_lowercase())
    decided = frame.with_row_index("__row", offset=first_row).filter(pl.col("decision").is_not_null() & (pl.col("decision") != ""))
    bad = decided.filter(~pl.col("decision").is_in(list(VALUES)))
    if bad.height:
        row = int(bad["__row"][0])
        raise MigrationError(f"{bad.height} decision(s) are neither 'same' nor 'different'", file=str(path), sheet=sheet, row=row,
                             column="decision", hint="write same or different (or leave the cell empty to decide later)")
    incomplete = decided.filter(pl.any_horizontal([pl.col(c).is_null() for c in COLUMNS[:4]]))
    if incomplete.height:
        raise MigrationError("a decision does not name both records", file=str(path), sheet=sheet, row=int(incomplete["__row"][0]),
                             column=next(c for c in COLUMNS[:4] if incomplete[c][0] is None), hint="keep source and key of both records")
    return decided.drop("__row").with_columns(pl.col("decision").replace_strict(VALUES, return_dtype=pl.String))
