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
from extractors.base import Extracted, as_text, require_columns, stamp_lineage, unique_headers
from extractors.columns import gc_paused, rows_to_text_frame
from extractors.xlsx_xml import SheetExtras, scan_sheet

HEADER_SCAN_ROWS = 30


def open_workbook(path: Path):
    import python_calamine as pc

    if not path.exists():
        raise MigrationError("file not found", file=str(path), hint="check `path` in the config (relative to the config file)")
    try:
        return pc.CalamineWorkbook.from_path(str(path))
    except PermissionError:
        raise MigrationError("permission denied", file=str(path), hint="give the user running crm-migrate read access") from None
    except Exception as exc:  # calamine raises its own error types per format
        text = str(exc)
        locked = any(w in text.lower() for w in ("password", "encrypt", "cfb", "ole"))
        hint = ("the workbook seems password-protected or encrypted; save an unprotected copy" if locked
                else "open and re-save it in Excel or LibreOffice; check it is really an Excel file")
        raise MigrationError(f"cannot read the workbook ({text})", file=str(path), hint=hint) from None


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


def _flatten(top: list, bottom: list, spans: list[tuple[int, int]]) -> list[str]:
    """Two header rows -> one: a merged cell's text over each column it spans, then `top/bottom`."""
    top = list(top)
    for first, last in spans:
        for c in range(first + 1, last + 1):
            if c < len(top):
                top[c] = top[first]
    names = []
    for c in range(max(len(top), len(bottom))):
        t = as_text(top[c] if c < len(top) else None)
        b = as_text(bottom[c] if c < len(bottom) else None)
        names.append(f"{t.strip()}/{b.strip()}" if t and b and t.strip() != b.strip() else (t or b))
    return unique_headers(names)


def detect_header(rows: list[list], merges, expected: list[str]) -> tuple[int, int, list[str]]:
    """(index of the first header row, number of header rows, column names).

    The header is the early row (or pair of rows under merged cells) naming most of the mapped
    columns; failing that, the first row that is mostly filled (title rows above a header are short)."""
    wanted = {e.strip() for e in expected}
    spans_by_row: dict[int, list[tuple[int, int]]] = {}
    for (r0, c0), (_r1, c1) in merges or []:
        if c1 > c0:
            spans_by_row.setdefault(r0, []).append((c0, c1))
    best, best_hits = None, 0
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        options = [(i, 1, unique_headers(row))]
        if i in spans_by_row and i + 1 < len(rows):
            options.append((i, 2, _flatten(row, rows[i + 1], spans_by_row[i])))
        for option in options:
            hits = len(wanted & {n.strip() for n in option[2]})
            if hits > best_hits:
                best, best_hits = option, hits
    if best is not None and best_hits >= max(1, len(wanted) // 2):
        return best
    width = max((len(r) for r in rows[:HEADER_SCAN_ROWS]), default=0)
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        if sum(1 for c in row if as_text(c) is not None) >= max(1, width // 2):
            return i, 1, unique_headers(row)
    return 0, 1, unique_headers(rows[0])


def _read_sheet(wb, path: Path, sheet: str, source, expected: list[str], several: bool) -> tuple[pl.DataFrame, dict, list[str]]:
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
        start, depth, columns = source.header_row - 1, 1, unique_headers(rows[source.header_row - 1])
    else:
        start, depth, columns = detect_header(rows, merges, expected)
    require_columns(columns, expected + ([source.key] if source.key else []), row=start + 1, **where)
    skipped = {"blank_rows": 0, "hidden_rows": 0}
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
        pl.int_range(first_data + 1, first_data + 1 + len(rows) - first_data, dtype=pl.Int64).alias("__excel_row"))
    if source.skip_hidden_rows and extras.hidden_rows:
        hidden = pl.col("__excel_row").is_in([r + 1 for r in extras.hidden_rows])
        skipped["hidden_rows"] = frame.filter(hidden).height
        frame = frame.filter(~hidden)
    # Rows that are not records: every cell empty and nothing to say about them.
    blank = pl.all_horizontal(pl.col(columns).is_null()) & ~pl.col("__excel_row").is_in([r + 1 for r in marks])
    skipped["blank_rows"] = frame.filter(blank).height
    frame = frame.filter(~blank)
    if marks:
        flag_rows = pl.DataFrame({"__excel_row": [r + 1 for r in marks], FLAGS: list(marks.values())},
                                 schema={"__excel_row": pl.Int64, FLAGS: pl.List(pl.String)})
        frame = frame.join(flag_rows, on="__excel_row", how="left", maintain_order="left").with_columns(pl.col(FLAGS).fill_null([]))
    else:
        frame = frame.with_columns(pl.lit([], dtype=pl.List(pl.String)).alias(FLAGS))
    blank_cols = [c for c in columns if c.startswith("column_") and frame.get_column(c).null_count() == frame.height]
    frame = frame.drop(blank_cols)
    numbers = frame.get_column("__excel_row")  # the row number a person sees in Excel
    frame = stamp_lineage(frame.drop("__excel_row"), source.name, numbers, source.key)
    if several:  # rows of several sheets: the sheet is part of the lineage
        frame = frame.with_columns(pl.lit(sheet).alias("_sheet"))
        if not source.key:
            frame = frame.with_columns((pl.lit(f"{sheet}!") + pl.col("_source_key")).alias("_source_key"))
    notes = [f"sheet '{sheet}': header on row {start + 1}" + (f"-{start + depth}" if depth > 1 else "")]
    if extras.errors:
        notes.append(f"sheet '{sheet}': {len(extras.errors)} Excel error cells read as empty (flagged excel_error)")
    for col, n in long_numbers.items():
        notes.append(f"sheet '{sheet}', column '{col}': {n} numbers of 16+ digits; Excel keeps only 15 significant "
                     "digits, so their last digits may be wrong: store such codes as text")
    return frame, {k: v for k, v in skipped.items() if v}, notes


def extract_excel(source, expected_columns: list[str]) -> Extracted:
    path = Path(source.path)
    wb = open_workbook(path)
    sheets = select_sheets(wb, path, source.sheet, source.include_hidden_sheets)
    frames, skipped, notes = [], {}, []
    for sheet in sheets:
        frame, sk, nt = _read_sheet(wb, path, sheet, source, expected_columns, several=len(sheets) > 1)
        frames.append(frame)
        notes += nt
        for k, v in sk.items():
            skipped[k] = skipped.get(k, 0) + v
    frame = pl.concat(frames, how="diagonal") if len(frames) > 1 else frames[0]
    if len(frames) > 1 and len({tuple(sorted(f.columns)) for f in frames}) > 1:
        notes.append("the matched sheets do not all have the same columns; missing ones are empty")
    label = f"{path.name} [{', '.join(sheets)}]"
    return Extracted(source.name, frame, label, skipped=skipped, notes=notes)
