"""CSV/TSV exports, decoding legacy Chinese encodings."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from crm_migrate.errors import MigrationError
from extractors.base import Extracted, require_columns, rows_to_frame, unique_headers

# Tried in order by `encoding: auto`; GB18030 is a superset of GBK and GB2312.
AUTO_ENCODINGS = ("utf-8-sig", "gb18030", "big5")


def decode(path: Path, encoding: str) -> tuple[str, str]:
    data = path.read_bytes()
    candidates = AUTO_ENCODINGS if encoding == "auto" else (encoding,)
    for enc in candidates:
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError as exc:
            last = exc
        except LookupError:
            raise MigrationError(f"unknown encoding '{encoding}'", file=str(path), hint="use auto, utf-8, utf-8-sig, gbk, gb18030 or big5") from None
    line = data[: last.start].count(b"\n") + 1
    raise MigrationError(
        f"cannot decode byte {data[last.start]:#04x} as {', '.join(candidates)}",
        file=str(path), row=line, hint="set `encoding` for this source (e.g. gbk, gb18030, big5)",
    )


def extract_csv(source, expected_columns: list[str]) -> Extracted:
    path = Path(source.path)
    if not path.exists():
        raise MigrationError("file not found", file=str(path), hint="check `path` in the config (relative to the config file)")
    text, used = decode(path, source.encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=source.delimiter)
    records = list(reader)
    if not records:
        raise MigrationError("the file is empty", file=str(path))
    header = (source.header_row or 1) - 1
    columns = unique_headers(records[header])
    require_columns(columns, expected_columns + ([source.key] if source.key else []), file=str(path), row=header + 1)
    body, numbers, blank, ragged = [], [], 0, []
    for n, rec in enumerate(records[header + 1 :], start=header + 2):
        if not any(cell.strip() for cell in rec):
            blank += 1
            continue
        if len(rec) > len(columns):
            raise MigrationError(f"record has {len(rec)} fields, the header {len(columns)}", file=str(path), row=n,
                                 hint="check the delimiter and quoting, or fix that record")
        if len(rec) < len(columns):
            ragged.append(n)
            rec = rec + [None] * (len(columns) - len(rec))
        body.append(rec)
        numbers.append(n)
    frame = rows_to_frame(source.name, columns, body, numbers, source.key)
    notes = [f"decoded as {used}"] + ([f"short records (padded) at records {ragged[:10]}"] if ragged else [])
    return Extracted(source.name, frame, path.name, skipped={"blank_rows": blank} if blank else {}, notes=notes)
