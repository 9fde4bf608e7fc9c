"""Excel workbooks (.xlsx, .xlsm, .xls) through the Rust-backed calamine reader."""
from __future__ import annotations

from pathlib import Path

from crm_migrate.errors import MigrationError
from extractors.base import Extracted, as_text, require_columns, rows_to_frame, unique_headers

HEADER_SCAN_ROWS = 30


def open_workbook(path: Path):
    import python_calamine as pc

    if not path.exists():
        raise MigrationError("file not found", file=str(path), hint="check `path` in the config (relative to the config file)")
    try:
        return pc.CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types per format
        text = str(exc)
        hint = "the file may be password-protected; save an unprotected copy" if "password" in text.lower() or "encrypt" in text.lower() else "open and re-save it in Excel or LibreOffice; check it is really an Excel file"
        raise MigrationError(f"cannot read the workbook ({text})", file=str(path), hint=hint) from None


def detect_header(rows: list[list], expected: list[str]) -> int:
    """Index of the header row: the first early row holding most of the mapped column names,
    else the first row that is mostly filled (title rows above a header are short)."""
    wanted = {e.strip() for e in expected}
    best, best_hits = None, 0
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        hits = len(wanted & {(as_text(c) or "").strip() for c in row})
        if hits > best_hits:
            best, best_hits = i, hits
    if best is not None and best_hits >= max(1, len(wanted) // 2):
        return best
    width = max((len(r) for r in rows[:HEADER_SCAN_ROWS]), default=0)
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        if sum(1 for c in row if as_text(c) is not None) >= max(1, width // 2):
            return i
    return 0


def extract_excel(source, expected_columns: list[str]) -> Extracted:
    path = Path(source.path)
    wb = open_workbook(path)
    names = wb.sheet_names
    sheet = source.sheet if source.sheet is not None else 0
    if isinstance(sheet, int):
        if not 0 <= sheet < len(names):
            raise MigrationError(f"there is no sheet number {sheet}", file=str(path), hint=f"sheets: {', '.join(names)}")
        sheet = names[sheet]
    if sheet not in names:
        raise MigrationError(f"there is no sheet '{sheet}'", file=str(path), hint=f"sheets in this workbook: {', '.join(names)}")
    rows = wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    if not rows or all(as_text(c) is None for r in rows for c in r):
        raise MigrationError("the sheet is empty", file=str(path), sheet=sheet, hint="point `sheet` at the sheet that holds the data")
    header = (source.header_row - 1) if source.header_row else detect_header(rows, expected_columns)
    columns = unique_headers(rows[header])
    where = {"file": str(path), "sheet": sheet}
    require_columns(columns, expected_columns, row=header + 1, **where)
    body, numbers, blank = [], [], 0
    for i, row in enumerate(rows[header + 1 :], start=header + 2):  # Excel shows rows from 1
        if all(as_text(c) is None for c in row):
            blank += 1
            continue
        body.append(row)
        numbers.append(i)
    if source.key:
        require_columns(columns, [source.key], **where)
    frame = rows_to_frame(source.name, columns, body, numbers, source.key)
    return Extracted(source.name, frame, f"{path.name} [{sheet}]", skipped={"blank_rows": blank} if blank else {},
                     notes=[f"header found on row {header + 1}"])
