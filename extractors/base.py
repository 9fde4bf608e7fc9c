"""What every extractor returns, and the dispatch from a source config to its reader.

Source values are carried as text: an exact rendering of what the source holds (Decimal digits,
ISO dates), so no value is coerced or rounded before standardization decides what it means.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

import polars as pl

from crm_migrate.contracts import ROW, SOURCE, SOURCE_KEY
from crm_migrate.flags import add_flag
from crm_migrate.errors import MigrationError
from extractors.non_records import NonRecord, NonRecordRules, PhysicalCount, classify, describe


@dataclass
class Extracted:
    """One source's rows plus what the reader noticed that is not a record."""

    source: str
    frame: pl.DataFrame
    location: str  # file (and sheet) or masked URL and table, for messages
    skipped: dict[str, int] = field(default_factory=dict)  # rows that are not records, by kind: {"blank_rows": 3}
    notes: list[str] = field(default_factory=list)
    watermark: str | None = None  # the largest watermark value read, for the next incremental run
    key_is_unique: bool = False  # the database guarantees it (the key is the primary key)
    non_records: list[NonRecord] = field(default_factory=list)  # each with its row and content, for the report
    physical: PhysicalCount | None = None  # how the physical input divides; the ledger must hold `records`
    warnings: list[str] = field(default_factory=list)  # worth saying on the console (never customer data)
    set_aside: Path | None = None  # the frame written to Parquet and dropped from memory after the profile (pipelines/stages.set_aside)


def as_text(value: Any) -> str | None:
    """Exact text for a source cell; None for empty."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() != "" else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        if value.is_integer() and abs(value) < 2**63:  # as extractors.columns renders whole doubles
            return str(int(value))
        return repr(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat(sep=" ") if (value.time() != time(0) or value.tzinfo) else value.date().isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)


def rows_to_frame(
    source: str,
    columns: list[str],
    rows: Iterable[list[Any]],
    row_numbers: Iterable[int],
    key_column: str | None,
    uniform: bool = False,
) -> pl.DataFrame:
    """Build a text frame with lineage; the key is the row number when there is no key column."""
    from extractors.columns import rows_to_text_frame

    frame = rows_to_text_frame(columns, rows if isinstance(rows, list) else list(rows), uniform)
    return stamp_lineage(frame, source, pl.Series(ROW, list(row_numbers), dtype=pl.Int64), key_column)


def stamp_lineage(frame: pl.DataFrame, source: str, row_numbers: pl.Series, key_column: str | None) -> pl.DataFrame:
    """Put `_source`, `_source_key`, `_row` first. A record without a key value is keyed by its row."""
    frame = frame.with_columns(pl.lit(source).alias(SOURCE), row_numbers.alias(ROW))
    key = pl.coalesce(pl.col(key_column), pl.lit("row ") + pl.col(ROW).cast(pl.String)) if key_column else pl.col(ROW).cast(pl.String)
    return frame.with_columns(key.alias(SOURCE_KEY)).select(SOURCE, SOURCE_KEY, ROW, *[c for c in frame.columns if c not in (SOURCE, ROW, SOURCE_KEY)])


def unique_headers(raw: list[Any]) -> list[str]:
    """Header cells as column names: blanks become column_N, repeats get a suffix."""
    seen: dict[str, int] = {}
    out = []
    for i, h in enumerate(raw, start=1):
        name = (as_text(h) or f"column_{i}").strip().replace("\n", " ")
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        out.append(name)
    return out


def rules_of(source) -> NonRecordRules:
    """The non-record rules of a source config (`non_records:`), defaults when it has none."""
    cfg = getattr(source, "non_records", None)
    if cfg is None:
        return NonRecordRules()
    data = cfg.model_dump() if hasattr(cfg, "model_dump") else dict(cfg)
    return NonRecordRules(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def split_non_records(frame: pl.DataFrame, columns: list[str], header: list[str], rules: NonRecordRules, row_column: str,
                      sheet: str | None = None, formula_rows: pl.Series | None = None, eligible: pl.Series | None = None,
                      lines_column: str | None = None) -> tuple[pl.DataFrame, list[NonRecord]]:
    """Take the rows that are not records out of `frame` (they are reported, not ledgered) and flag the
    doubtful ones `possible_<rule>`. `eligible`: rows that may be classified (quarantined CSV lines may not)."""
    found = classify(frame, columns, header, rules, formula_rows)
    rule, doubt = found.rule, found.doubt
    if eligible is not None:
        nothing = pl.Series([None] * frame.height, dtype=pl.String)
        rule, doubt = rule.zip_with(eligible, nothing), doubt.zip_with(eligible, nothing)
    if rule.null_count() == frame.height and doubt.null_count() == frame.height:
        return frame, []
    frame = frame.with_columns(rule.alias("__non_record"), doubt.alias("__doubt"))
    frame = add_flag(frame, pl.col("__doubt").is_not_null(), pl.col("__doubt"))
    out = frame.filter(pl.col("__non_record").is_not_null())
    lines = out.get_column(lines_column).to_list() if lines_column else [1] * out.height
    found_rows = [NonRecord(row, r, describe(list(cells)), sheet, n) for row, r, n, cells in
                  zip(out.get_column(row_column).to_list(), out.get_column("__non_record").to_list(), lines, out.select(columns).rows())]
    return frame.filter(pl.col("__non_record").is_null()).drop("__non_record", "__doubt"), found_rows


def duplicate_headers(raw: list[Any], columns: list[str], frame: pl.DataFrame, expected: Iterable[str]) -> tuple[pl.DataFrame, list[str]]:
    """A header name that appears in several columns: the first column is the one a mapping reads; the
    others are kept (`name_2`, in `extra`). Say so, and flag records where a mapped column's twin holds
    a different value (`duplicate_column_differs:<name>`), so no value is chosen quietly."""
    names = [(as_text(h) or "").strip().replace("\n", " ") for h in raw]
    wanted = set(expected)
    notes = []
    for name in dict.fromkeys(n for n in names if n and names.count(n) > 1):
        positions = [i for i, n in enumerate(names) if n == name]
        twins = [columns[i] for i in positions[1:] if i < len(columns) and columns[i] in frame.columns]
        letters = ", ".join(column_letter(i) for i in positions)
        if name in wanted and twins and name in frame.columns:
            differs = pl.any_horizontal([pl.col(t).is_not_null() & pl.col(t).ne_missing(pl.col(name)) for t in twins])
            n = int(frame.select(differs.sum()).item())
            frame = add_flag(frame, differs, f"duplicate_column_differs:{name}")
            notes.append(f"header '{name}' appears in columns {letters}: the mapping reads the first; the others are kept as "
                         f"{', '.join(twins)} in extra" + (f"; {n} records hold a different value there (flagged duplicate_column_differs)" if n else ""))
        else:
            notes.append(f"header '{name}' appears in columns {letters}; the later ones are kept as {', '.join(twins) or 'extra columns'}")
    return frame, notes


def column_letter(index: int) -> str:
    """0-based column index -> A, B, ..., AA as Excel names columns."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def require_columns(columns: list[str], needed: Iterable[str], **where: Any) -> None:
    """Fail with the closest existing names when a mapped column is missing."""
    for name in needed:
        if name not in columns:
            close = difflib.get_close_matches(name, columns, n=3, cutoff=0.3)
            hint = f"closest columns: {', '.join(close)}" if close else f"columns present: {', '.join(columns[:20])}"
            raise MigrationError(f"mapped column '{name}' is not in the source", column=name, hint=hint + "; fix the mapping file or the source", **where)


def extract_source(source, expected_columns: list[str], since: str | None = None) -> Extracted:
    """Read one configured source. `expected_columns` are the mapping's source columns (for header
    detection and the missing-column check); `since` is the stored watermark of an incremental source."""
    if source.kind == "excel":
        from extractors.excel import extract_excel

        out = extract_excel(source, expected_columns)
    elif source.kind == "csv":
        from extractors.csv_file import extract_csv

        out = extract_csv(source, expected_columns)
    else:
        from extractors.sql import extract_sql

        out = extract_sql(source, expected_columns, since)
    return flag_repeated_keys(out)


def flag_repeated_keys(extracted: Extracted) -> Extracted:
    """A key that appears more than once in one source: every such record is kept and flagged."""
    if extracted.key_is_unique:
        return extracted
    frame = extracted.frame
    repeated = frame.get_column(SOURCE_KEY).is_duplicated()
    n = int(repeated.sum())
    if n:
        extracted.frame = add_flag(frame, pl.lit(repeated), "duplicate_source_key")
        examples = frame.filter(repeated).get_column(SOURCE_KEY).unique().head(5).to_list()
        extracted.notes.append(f"{n} records share a key with another record of this source (e.g. {examples}); all kept, flagged duplicate_source_key")
    return extracted
