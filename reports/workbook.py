"""Excel sheets an analyst can work in: a frozen, filtered header row, columns wide enough for Chinese
text, numbers, amounts and dates as Excel numbers and dates (so they sort and sum), member rows
grouped under their golden record, and sheets split where Excel stops (1,048,576 rows)."""
from __future__ import annotations

import unicodedata
from datetime import datetime

import polars as pl

EXCEL_MAX_ROWS = 1_048_576  # rows per sheet, the header included
EXCEL_MAX_TEXT = 32_767  # characters per cell
MAX_WIDTH = 60


def text_width(value) -> int:
    """Columns a value needs in Excel: a CJK character takes two."""
    text = str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text[:200])


def part_names(name: str, parts: int) -> list[str]:
    """Sheet names of a sheet split into `parts`: `Rejects`, `Rejects (2)` ... (Excel allows 31 characters)."""
    return [name[:31] if i == 0 else f"{name[:31 - len(f' ({i + 1})')]} ({i + 1})" for i in range(parts)]


class Formats:
    """The workbook's cell formats, made once per workbook."""

    def __init__(self, wb) -> None:
        self.head = wb.add_format({"bold": True, "bg_color": "#E2E8F0", "border": 1, "text_wrap": True, "valign": "top"})
        self.integer = wb.add_format({"num_format": "#,##0"})
        self.decimal = wb.add_format({"num_format": "#,##0.00"})
        self.date = wb.add_format({"num_format": "yyyy-mm-dd"})
        self.datetime = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.percent = wb.add_format({"num_format": "0.0%"})
        self.group = wb.add_format({"bold": True, "bg_color": "#F1F5F9"})
        self.group_integer = wb.add_format({"bold": True, "bg_color": "#F1F5F9", "num_format": "#,##0"})


def _column_format(dtype: pl.DataType, name: str, formats: Formats):
    if dtype == pl.Date:
        return formats.date
    if isinstance(dtype, pl.Datetime):
        return formats.datetime
    if isinstance(dtype, pl.Decimal) or dtype in (pl.Float32, pl.Float64):
        return formats.percent if name.endswith(("_rate", "_share", "rate")) else formats.decimal
    if dtype.is_integer():
        return formats.integer
    return None


EXCEL_EPOCH = datetime(1899, 12, 30)


def excel_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with every column in a type a cell writes directly: dates and datetimes as Excel
    serial days (shown through a date format, as Excel stores them), decimals as floats, lists and
    other types as text. Vectorised, so writing is one plain call per cell."""
    out = []
    for col, dtype in frame.schema.items():
        c = pl.col(col)
        if dtype == pl.Date:
            out.append(((c.cast(pl.Datetime("us")) - pl.lit(EXCEL_EPOCH)).dt.total_microseconds() / 86_400_000_000).alias(col))
        elif isinstance(dtype, pl.Datetime):
            naive = c.dt.replace_time_zone(None) if dtype.time_zone else c
            out.append(((naive.cast(pl.Datetime("us")) - pl.lit(EXCEL_EPOCH)).dt.total_microseconds() / 86_400_000_000).alias(col))
        elif isinstance(dtype, pl.Decimal):
            out.append(c.cast(pl.Float64))
        elif isinstance(dtype, pl.List):
            out.append(c.cast(pl.List(pl.String)).list.join("; "))
        elif dtype == pl.String:  # Excel cuts a longer text silently: cut it here and say by how much
            cut = pl.format("… [cut: {} characters]", c.str.len_chars())
            out.append(pl.when(c.str.len_chars() > EXCEL_MAX_TEXT).then(c.str.slice(0, EXCEL_MAX_TEXT - 40) + cut).otherwise(c).alias(col))
        elif dtype.is_numeric() or dtype == pl.Boolean:
            out.append(c)
        else:
            out.append(c.cast(pl.String))
    return frame.select(out)


def write_frame(wb, formats: Formats, name: str, frame: pl.DataFrame, *, level: str | None = None,
                max_rows: int = EXCEL_MAX_ROWS, note: str | None = None) -> list[str]:
    """Write `frame` to sheet `name`, split into `name (2)`... past `max_rows`; return the sheet names.
    `level`: a column of 0/1 (not written) that puts rows with 1 into a collapsible outline group under
    the row above (members under their golden record) and shows rows with 0 in bold."""
    if not frame.width:  # nothing this run (no review pairs): say so rather than leave a blank sheet
        frame = pl.DataFrame({"note": ["nothing to show for this run"]})
    shown = frame.drop(level) if level else frame
    levels = frame.get_column(level).to_list() if level else None
    per_sheet = max_rows - 1 - (1 if note else 0)
    parts = max(1, -(-frame.height // per_sheet))
    names = part_names(name, parts)
    fmts = [_column_format(dtype, col, formats) for col, dtype in shown.schema.items()]
    widths = [max([text_width(col)] + [text_width(v) for v in shown.get_column(col).head(500).to_list() if v is not None]) for col in shown.columns]
    ready = excel_ready(shown)
    kinds = ["s" if dtype == pl.String else "b" if dtype == pl.Boolean else "n" for dtype in ready.schema.values()]
    bold = {id(formats.integer): formats.group_integer}
    for part, sheet in enumerate(names):
        ws = wb.add_worksheet(sheet)
        top = 0
        if note:
            ws.write(0, 0, note)
            top = 1
        ws.write_row(top, 0, shown.columns, formats.head)
        chunk = ready.slice(part * per_sheet, per_sheet)
        columns = [(c, kinds[c], fmts[c], chunk.get_column(col).to_list()) for c, col in enumerate(chunk.columns)]
        first = part * per_sheet
        for i in range(chunk.height):
            r = top + 1 + i
            group = levels[first + i] if levels else None
            if group:  # before the row's cells: a constant-memory workbook writes a row out when the next begins
                ws.set_row(r, None, None, {"level": 1, "hidden": False})
            for c, kind, fmt, values in columns:
                v = values[i]
                if v is None:
                    continue
                if group == 0:  # a golden record's row, in bold
                    fmt = bold.get(id(fmt), fmt) if fmt is not None else formats.group
                if kind == "s":
                    ws.write_string(r, c, v, fmt)
                elif kind == "n":
                    ws.write_number(r, c, v, fmt)
                else:
                    ws.write_boolean(r, c, v, fmt)
        for c, w in enumerate(widths):
            ws.set_column(c, c, min(MAX_WIDTH, w + 2), fmts[c])
        ws.freeze_panes(top + 1, 0)
        if chunk.height:
            ws.autofilter(top, 0, top + chunk.height, max(0, shown.width - 1))
        if levels:
            ws.outline_settings(True, False, False, False)  # the summary (golden) row sits above its members
    return names


def key_values(wb, formats: Formats, name: str, rows: list[tuple[str, object]]) -> None:
    """A two-column sheet of labelled values (the Summary)."""
    ws = wb.add_worksheet(name)
    ws.write_row(0, 0, ["what", "value"], formats.head)
    for r, (label, value) in enumerate(rows, start=1):
        ws.write_string(r, 0, label)
        if isinstance(value, bool) or value is None:
            ws.write_string(r, 1, "" if value is None else ("yes" if value else "no"))
        elif isinstance(value, (int, float)):
            ws.write_number(r, 1, value, formats.integer if isinstance(value, int) else formats.decimal)
        else:
            ws.write_string(r, 1, str(value))
    ws.set_column(0, 0, max([text_width(label) for label, _ in rows] + [10]) + 2)
    ws.set_column(1, 1, min(100, max([text_width(v) for _, v in rows] + [10]) + 2))
    ws.freeze_panes(1, 0)
