"""CSV/TSV exports: encoding detection for legacy Chinese encodings, delimiter sniffing,
quoted multi-line fields, and structurally broken records kept in quarantine, never dropped."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl

from crm_migrate.contracts import FLAGS, QUARANTINE
from crm_migrate.errors import MigrationError
from extractors.base import Extracted, require_columns, rows_to_frame, unique_headers

SNIFF_DELIMITERS = ",\t;|"


def _common_share(text: str, encoding: str, lead_low: int, lead_high: int) -> float:
    """Share of the CJK characters of `text` that sit in the frequent-character block of `encoding`
    (GB2312 level 1, or Big5's frequent block): right decodings score high, wrong ones low."""
    cjk = [ch for ch in text[:20000] if "\u4e00" <= ch <= "\u9fff"]
    if not cjk:
        return 0.0
    common = 0
    for ch in cjk:
        try:
            b = ch.encode(encoding)
        except UnicodeEncodeError:
            continue
        common += lead_low <= b[0] <= lead_high
    return common / len(cjk)


def decode(path: Path, encoding: str) -> tuple[str, str]:
    """The file's text and the encoding used. `auto`: UTF-8 (with or without BOM), else whichever of
    GB18030 and Big5 decodes into common characters."""
    try:
        data = path.read_bytes()
    except PermissionError:
        raise MigrationError("permission denied", file=str(path), hint="give the user running crm-migrate read access") from None
    if encoding != "auto":
        try:
            return data.decode(encoding), encoding
        except LookupError:
            raise MigrationError(f"unknown encoding '{encoding}'", file=str(path), hint="use auto, utf-8, utf-8-sig, gbk, gb18030 or big5") from None
        except UnicodeDecodeError as exc:
            _undecodable(path, data, exc, [encoding])
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        first_error = exc
    candidates = {}
    for enc in ("gb18030", "big5"):
        try:
            candidates[enc] = data.decode(enc)
        except UnicodeDecodeError:
            pass
    if not candidates:
        _undecodable(path, data, first_error, ["utf-8", "gb18030", "big5"])
    if len(candidates) == 2:
        gb = _common_share(candidates["gb18030"], "gb2312", 0xB0, 0xD7) if candidates["gb18030"] else 0
        big5 = _common_share(candidates["big5"], "big5", 0xA4, 0xC6)
        enc = "big5" if big5 > gb else "gb18030"
    else:
        enc = next(iter(candidates))
    return candidates[enc], enc


def _undecodable(path: Path, data: bytes, exc: UnicodeDecodeError, tried: list[str]) -> None:
    line = data[: exc.start].count(b"\n") + 1
    raise MigrationError(f"cannot decode byte {data[exc.start]:#04x} as {', '.join(tried)}", file=str(path), row=line,
                         hint="set `encoding` for this source (e.g. gbk, gb18030, big5)")


def sniff_delimiter(text: str) -> str:
    sample = text[:65536]
    try:
        return csv.Sniffer().sniff(sample, delimiters=SNIFF_DELIMITERS).delimiter
    except csv.Error:
        first = sample.splitlines()[0] if sample else ""
        return max(SNIFF_DELIMITERS, key=first.count) if first else ","


def extract_csv(source, expected_columns: list[str]) -> Extracted:
    path = Path(source.path)
    if not path.exists():
        raise MigrationError("file not found", file=str(path), hint="check `path` in the config (relative to the config file)")
    text, used = decode(path, source.encoding)
    delimiter = sniff_delimiter(text) if source.delimiter == "auto" else source.delimiter
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header_line = source.header_row or 1
    records: list[tuple[int, list[str]]] = []
    start = 1
    for rec in reader:
        records.append((start, rec))  # the line the record starts on
        start = reader.line_num + 1
    if not records:
        raise MigrationError("the file is empty", file=str(path))
    header_at = next((i for i, (line, _) in enumerate(records) if line >= header_line), 0)
    columns = unique_headers(records[header_at][1])
    require_columns(columns, expected_columns + ([source.key] if source.key else []), file=str(path), row=records[header_at][0])
    width = len(columns)
    body, numbers, flags, quarantine, blank = [], [], [], [], 0
    for line, rec in records[header_at + 1:]:
        if not any(cell.strip() for cell in rec):
            blank += 1
            continue
        problem, flag = None, []
        if len(rec) > width:
            problem = f"line {line} has {len(rec)} fields, the header {width}: extra fields {rec[width:]!r} (check delimiter and quoting)"
            rec = rec[:width]
        elif len(rec) < width:
            flag = ["short_record"]
            rec = rec + [None] * (width - len(rec))
        body.append(rec)
        numbers.append(line)
        flags.append(flag)
        quarantine.append(problem)
    frame = rows_to_frame(source.name, columns, body, numbers, source.key).with_columns(
        pl.Series(FLAGS, flags, dtype=pl.List(pl.String)), pl.Series(QUARANTINE, quarantine, dtype=pl.String))
    notes = [f"decoded as {used}, delimiter {delimiter!r}"]
    bad = [n for n, q in zip(numbers, quarantine) if q]
    short = [n for n, f in zip(numbers, flags) if f]
    if bad:
        notes.append(f"{len(bad)} records with more fields than the header kept in quarantine (lines {bad[:10]})")
    if short:
        notes.append(f"{len(short)} records with fewer fields than the header padded (lines {short[:10]})")
    return Extracted(source.name, frame, path.name, skipped={"blank_rows": blank} if blank else {}, notes=notes)
