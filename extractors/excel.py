"""Excel workbooks (.xlsx, .xlsm, .xls) through the Rust-backed calamine reader.

Finds the header under title rows (flattening a two-row header under merged cells into
`联系人/电话`), reads one sheet, a sheet by index, or every sheet matching a pattern (`2023*`),
turns Excel error cells into nulls with a flag, and keeps every value as exact text.
"""
from __future__ import annotations

import fnmatch
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from crm_migrate.contracts import FLAGS
from crm_migrate.errors import MigrationError
from extractors.base import (Extracted, as_text, duplicate_headers, require_columns, rules_of, split_non_records, stamp_lineage,
                             unique_headers)
from extractors.columns import gc_paused, rows_to_text_frame
from extractors.header import detect_header
from extractors.non_records import TITLE_ROW, NonRecord, PhysicalCount, describe, skipped_counts
from extractors.xlsx_xml import SheetExtras, scan_sheet

EXCEL_ROW = "__excel_row"


ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")  # an OOXML workbook encrypted with a password


def sniff_format(path: Path) -> str:
    """What the file really is, whatever its name says: xlsx (zip), xls (OLE), encrypted, html,
    spreadsheetml, text, empty. Web systems often export HTML or tab-separated text named .xls."""
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    if not head:
        return "empty"
    if head.startswith(ZIP_MAGIC):
        return "xlsx"
    if head.startswith(OLE_MAGIC):
        with path.open("rb") as fh:
            return "encrypted" if _ENCRYPTED_STREAM in fh.read(1 << 22) else "xls"
    sample = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if sample.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in head:
        return "spreadsheetml"
    if sample.startswith((b"<html", b"<!doctype", b"<table", b"<meta", b"<head")) or b"<table" in sample[:4096]:
        return "html"
    first_line = head.split(b"\n", 1)[0]
    if b"\x00" not in head[:4096] and b"\n" in head and any(d in first_line for d in (b",", b"\t", b";", b"|")):
        return "text"
    return "unknown"


_NOT_A_WORKBOOK = {
    "empty": ("the file is empty (0 bytes)", "export the data again"),
    "encrypted": ("the workbook is encrypted with a password", "open it in Excel and save an unprotected copy"),
    "html": ("the file is an HTML page with an Excel file name (web systems export tables this way)",
             "open it in Excel or LibreOffice and save it as .xlsx"),
    "spreadsheetml": ("the file is an Excel 2003 XML spreadsheet", "open it in Excel or LibreOffice and save it as .xlsx"),
    "text": ("the file is plain text (CSV or tab-separated) with an Excel file name",
             "configure this source with `kind: csv` (the delimiter and encoding are detected)"),
    "unknown": ("the file is not an Excel workbook", "check that `path` points at the workbook"),
}


def open_workbook(path: Path):
    import python_calamine as pc

    if not path.exists():
        raise MigrationError("file not found", file=str(path), hint="check `path` in the config (relative to the config file)")
    try:
        kind = sniff_format(path)
        if kind in _NOT_A_WORKBOOK:
            message, hint = _NOT_A_WORKBOOK[kind]
            raise MigrationError(message, file=str(path), hint=hint)
        named = {"xlsx": (".xlsx", ".xlsm", ".xlsb"), "xls": (".xls",)}[kind]
        if path.suffix.lower() in named:
            return pc.CalamineWorkbook.from_path(str(path))
        with path.open("rb") as fh:  # the content decides the format, not the name (an .xlsx named .xls)
            return pc.CalamineWorkbook.from_filelike(fh)
    except MigrationError:
        raise
    except PermissionError:
        raise MigrationError("permission denied", file=str(path), hint="give the user running crm-migrate read access") from None
    except pc.PasswordError:
        raise MigrationError("the workbook is protected with a password", file=str(path),
                             hint="open it in Excel and save an unprotected copy") from None
    except Exception as exc:  # calamine raises its own error types per format
        raise MigrationError(f"cannot read the workbook ({str(exc).splitlines()[0][:200]})", file=str(path),
                             hint="the file may be damaged: open and re-save it in Excel or LibreOffice") from None


def select_sheets(wb, path: Path, sheet, include_hidden: bool) -> list[str]:
    names = wb.sheet_names
    visible = {m.name for m in wb.sheets_metadata if str(m.visible).endswith("Visible") and "Hidden" not in str(m.visible)}
    if sheet is None:
        sheet = 0
    if isinstance(sheet, int):
        if not 0 <= sheet < len(names):
            raise MigrationError(f"there is no sheet number {sheet}", file=str(path), hint=f"sheets: {', '.join(names)}")
        return [names[sheet]]
    if any(ch in sheet for ch in "*?["):
        chosen = [n for n in names if fnmatch.fnmatchcase(n, sheet) and (include_hidden or n in visible)]
        if not chosen:
            raise MigrationError(f"no sheet matches '{sheet}'", file=str(path), hint=f"sheets in this workbook: {', '.join(names)}")
        return chosen
    if sheet not in names:
        raise MigrationError(f"there is no sheet '{sheet}'", file=str(path), hint=f"sheets in this workbook: {', '.join(names)}")
    return [sheet]


def _read_sheet(wb, path: Path, sheet: str, source, expected: list[str], several: bool) -> Extracted:
    with ThreadPoolExecutor(max_workers=1) as pool:
        extras_future = pool.submit(scan_sheet, path, sheet)
        calamine_sheet = wb.get_sheet_by_name(sheet)
        with gc_paused():
            rows = calamine_sheet.to_python(skip_empty_area=False)
        merges = calamine_sheet.merged_cell_ranges
        extras: SheetExtras = extras_future.result()
    where = {"file": str(path), "sheet": sheet}
    if not rows or all(as_text(c) is None for r in rows for c in r):
        raise MigrationError("the sheet is empty", hint="point `sheet` at the sheet that holds the data", **where)
    if source.header_row:
        if source.header_row > len(rows):
            raise MigrationError(f"header_row {source.header_row} is beyond the last row of the sheet ({len(rows)})",
                                 hint="set `header_row` to the row that holds the column names, or leave it out to detect it", **where)
        start, depth, columns = source.header_row - 1, 1, unique_headers(rows[source.header_row - 1])
    else:
        start, depth, columns = detect_header(rows, merges, expected)
    require_columns(columns, expected + ([source.key] if source.key else []), row=start + 1, **where)
    count = PhysicalCount("rows", len(rows), header=depth)
    non_records = []
    for r in range(start):  # title rows above the header: reported, never silently dropped
        cells = [as_text(c) for c in rows[r]]
        if any(c is not None for c in cells):
            non_records.append(NonRecord(r + 1, TITLE_ROW, describe(cells), sheet))
            count.non_records += 1
        else:
            count.blank += 1
    first_data = start + depth
    # Flags per 0-based sheet row, sparse: most rows have none.
    marks: dict[int, list[str]] = {}
    for (r, c), e in extras.errors.items():
        if r >= first_data and c < len(columns):
            marks.setdefault(r, []).append(f"excel_error:{columns[c]}={e}")
    for r in extras.hidden_rows:
        if r >= first_data and not source.skip_hidden_rows:
            marks.setdefault(r, []).append("hidden_row")
    long_numbers: dict[str, int] = {}
    frame = rows_to_text_frame(columns, rows[first_data:], stats=long_numbers).with_columns(
        pl.int_range(first_data + 1, first_data + 1 + len(rows) - first_data, dtype=pl.Int64).alias(EXCEL_ROW))
    if source.skip_hidden_rows and extras.hidden_rows:
        hidden = pl.col(EXCEL_ROW).is_in([r + 1 for r in extras.hidden_rows])
        count.hidden = frame.filter(hidden).height
        frame = frame.filter(~hidden)
    # Rows that are not records: every cell empty and nothing to say about them.
    blank = pl.all_horizontal(pl.col(columns).is_null()) & ~pl.col(EXCEL_ROW).is_in([r + 1 for r in marks])
    count.blank += frame.filter(blank).height
    frame = frame.filter(~blank)
    if marks:
        flag_rows = pl.DataFrame({EXCEL_ROW: [r + 1 for r in marks], FLAGS: list(marks.values())},
                                 schema={EXCEL_ROW: pl.Int64, FLAGS: pl.List(pl.String)})
        frame = frame.join(flag_rows, on=EXCEL_ROW, how="left", maintain_order="left", validate="m:1").with_columns(pl.col(FLAGS).fill_null([]))
    else:
        frame = frame.with_columns(pl.lit([], dtype=pl.List(pl.String)).alias(FLAGS))
    frame, notes = duplicate_headers(rows[start], columns, frame, expected)
    header_text = [as_text(h) or "" for h in rows[start]] if depth == 1 else columns
    frame, found = split_non_records(frame, columns, header_text, rules_of(source), EXCEL_ROW, sheet,
                                     formula_rows=_formula_only(frame, columns, extras))
    non_records += found
    count.non_records += len(found)
    count.records = frame.height
    blank_cols = [c for c in columns if c.startswith("column_") and frame.get_column(c).null_count() == frame.height]
    frame = frame.drop(blank_cols)
    numbers = frame.get_column(EXCEL_ROW)  # the row number a person sees in Excel
    frame = stamp_lineage(frame.drop(EXCEL_ROW), source.name, numbers, source.key)
    if several:  # rows of several sheets: the sheet is part of the lineage
        frame = frame.with_columns(pl.lit(sheet).alias("_sheet"))
        if not source.key:
            frame = frame.with_columns((pl.lit(f"{sheet}!") + pl.col("_source_key")).alias("_source_key"))
    notes.insert(0, f"sheet '{sheet}': header on row {start + 1}" + (f"-{start + depth}" if depth > 1 else ""))
    if extras.errors:
        notes.append(f"sheet '{sheet}': {len(extras.errors)} Excel error cells read as empty (flagged excel_error)")
    for col, n in long_numbers.items():
        notes.append(f"sheet '{sheet}', column '{col}': {n} numbers of 16+ digits; Excel keeps only 15 significant "
                     "digits, so their last digits may be wrong: store such codes as text")
    warnings = [] if frame.height else [f"{path.name} sheet '{sheet}': the sheet has a header but no records"]
    return Extracted(source.name, frame, f"{path.name} [{sheet}]", skipped_counts(count, non_records), notes,
                     non_records=non_records, physical=count, warnings=warnings)


def _formula_only(frame: pl.DataFrame, columns: list[str], extras: SheetExtras) -> pl.Series | None:
    """Per row of `frame`: every filled cell is a formula (a SUM or COUNT row under the data)."""
    if not extras.formulas or frame.height == 0:
        return None
    per_row: dict[int, int] = {}
    for r, c in extras.formulas:
        if c < len(columns):
            per_row[r + 1] = per_row.get(r + 1, 0) + 1
    counts = pl.DataFrame({EXCEL_ROW: list(per_row), "__formulas": list(per_row.values())}, schema={EXCEL_ROW: pl.Int64, "__formulas": pl.Int64})
    filled = pl.sum_horizontal([pl.col(c).is_not_null() for c in columns])
    joined = frame.select(EXCEL_ROW, filled.alias("__filled")).join(counts, on=EXCEL_ROW, how="left", maintain_order="left", validate="m:1")
    return joined.select((pl.col("__formulas").fill_null(0) >= pl.col("__filled")) & (pl.col("__filled") > 0)).to_series()


def extract_excel(source, expected_columns: list[str]) -> Extracted:
    path = Path(source.path)
    wb = open_workbook(path)
    sheets = select_sheets(wb, path, source.sheet, source.include_hidden_sheets)
    parts = [_read_sheet(wb, path, sheet, source, expected_columns, several=len(sheets) > 1) for sheet in sheets]
    frames = [p.frame for p in parts]
    frame = pl.concat(frames, how="diagonal") if len(frames) > 1 else frames[0]
    notes = [n for p in parts for n in p.notes]
    if len(frames) > 1 and len({tuple(sorted(f.columns)) for f in frames}) > 1:
        notes.append("the matched sheets do not all have the same columns; missing ones are empty")
    physical = parts[0].physical
    for p in parts[1:]:
        physical = physical.add(p.physical)
    non_records = [n for p in parts for n in p.non_records]
    label = f"{path.name} [{', '.join(sheets)}]"
    return Extracted(source.name, frame, label, skipped=skipped_counts(physical, non_records), notes=notes, non_records=non_records,
                     physical=physical, warnings=[w for p in parts for w in p.warnings])
