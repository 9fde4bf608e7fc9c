"""CSV/TSV exports: encoding detection for legacy Chinese encodings, delimiter sniffing,
quoted multi-line fields, and structurally broken records kept in quarantine, never dropped.

Every physical line of the file ends in exactly one place: the header, a record (a record's quoted
field may span a few lines), a blank line, or a reported non-record. The lines are counted from the
text itself, not from the parser, and the parts must add up (`PhysicalCount`). One unbalanced quote
makes a CSV parser swallow the following lines into one field; so a quoted field that spans many
lines, or holds enough delimiters to have swallowed whole records, is not trusted: its lines are read
again one by one without quote handling and quarantined, each with its line number.
"""
from __future__ import annotations

import csv
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from crm_migrate.contracts import FLAGS, QUARANTINE, ROW
from crm_migrate.errors import MigrationError
from extractors.base import (Extracted, duplicate_headers, require_columns, rows_to_frame, rules_of, split_non_records,
                             unique_headers)
from extractors.header import detect_header
from extractors.excel import OLE_MAGIC, ZIP_MAGIC
from extractors.non_records import TITLE_ROW, NonRecord, PhysicalCount, describe, skipped_counts

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
    if data.startswith((ZIP_MAGIC, OLE_MAGIC)):
        kind = "an Excel workbook (.xlsx)" if data.startswith(ZIP_MAGIC) else "an Excel 97-2003 workbook (.xls) or another Office file"
        raise MigrationError(f"the file is {kind}, not a CSV export", file=str(path), hint="configure this source with `kind: excel`")
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
    mixed = _mixed(data)
    if mixed is not None:
        return mixed
    enc = _legacy_encoding(data)
    if enc is None:
        _undecodable(path, data, first_error, ["utf-8", "gb18030", "big5"])
    return data.decode(enc), enc


def _is_cjk_utf8(line: bytes) -> bool:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _mixed(data: bytes) -> tuple[str, str] | None:
    """A file whose lines come in two encodings (a UTF-8 export appended to a GBK one): each line is
    decoded on its own, UTF-8 where the line is UTF-8 Chinese, else the legacy encoding. None when
    the file is in one encoding."""
    lines = data.split(b"\n")
    utf8 = [_is_cjk_utf8(line) for line in lines]
    legacy = [not u and not line.isascii() for u, line in zip(utf8, lines)]
    if not any(utf8) or not any(legacy):
        return None
    rest = b"\n".join(line for line, is_legacy in zip(lines, legacy) if is_legacy)
    enc = _legacy_encoding(rest)
    if enc is None:
        return None
    text = "\n".join(line.decode("utf-8") if u else line.decode(enc, errors="strict") if not line.isascii() else line.decode("ascii")
                     for line, u in zip(lines, utf8))
    return text.lstrip("\ufeff"), f"mixed: {sum(utf8)} lines utf-8, {sum(legacy)} lines {enc}, decoded line by line"


def _legacy_encoding(data: bytes) -> str | None:
    """GB18030 or Big5, whichever decodes `data` into common characters; None if neither decodes it."""
    candidates = {}
    for enc in ("gb18030", "big5"):
        try:
            candidates[enc] = data.decode(enc)
        except UnicodeDecodeError:
            pass
    if len(candidates) == 2:
        gb = _common_share(candidates["gb18030"], "gb2312", 0xB0, 0xD7) if candidates["gb18030"] else 0
        big5 = _common_share(candidates["big5"], "big5", 0xA4, 0xC6)
        return "big5" if big5 > gb else "gb18030"
    return next(iter(candidates), None)


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


MAX_FIELD_LINES = 5  # a quoted field spanning more lines than this is not trusted (sources[].max_field_lines)
_TERMINATOR = re.compile(r"\r\n|\r|\n")


def physical_lines(text: str) -> int:
    """Lines as a person (and the csv module) counts them: \n, \r\n and a lone \r each end one."""
    if not text:
        return 0
    ends = text.count("\n") + text.count("\r") - text.count("\r\n")
    return ends + (0 if text.endswith(("\n", "\r")) else 1)


def _records(text: str, delimiter: str) -> list[tuple[int, int, list[str]]]:
    """(first line, last line, fields) of every record, quote-aware."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # the default 128 KB limit raised on real exports
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    out, start = [], 1
    for rec in reader:
        out.append((start, reader.line_num, rec))
        start = reader.line_num + 1
    return out


class _Lines:
    """The file's physical lines, split only when a suspicious record needs them."""

    def __init__(self, text: str) -> None:
        self.text, self._lines = text, None

    def get(self, first: int, last: int) -> list[str]:
        if self._lines is None:
            self._lines = _TERMINATOR.split(self.text)
        return self._lines[first - 1: last]


def _suspicion(cells: list[str], first: int, last: int, width: int, delimiter: str, max_lines: int, raw: str) -> str | None:
    """Why a record whose quoted field spans lines is not trusted, or None."""
    lines = last - first + 1
    if lines == 1:
        return None
    spanning = [c for c in cells if "\n" in c or "\r" in c]
    most = max((c.count(delimiter) for c in spanning), default=0)
    if raw.count('"') % 2:
        return f"a quote opened in lines {first}-{last} is never closed"
    if lines > max_lines:
        return f"a quoted field spans lines {first}-{last} ({lines} lines, more than max_field_lines {max_lines})"
    if len(cells) > width:
        return f"a quoted field spans lines {first}-{last} and the record has {len(cells)} fields, the header {width}"
    if spanning and most >= max(2, width - 1):
        return f"a quoted field spans lines {first}-{last} and holds {most} delimiters, as if it had swallowed records"
    return None


@dataclass
class _Body:
    """The records under the header, as the reader found them (aligned lists)."""

    rows: list = field(default_factory=list)
    starts: list[int] = field(default_factory=list)  # the line each record starts on
    spans: list[int] = field(default_factory=list)  # how many lines it spans
    flags: list[list[str]] = field(default_factory=list)
    quarantine: list[str | None] = field(default_factory=list)
    untrusted: list[tuple[int, int]] = field(default_factory=list)  # (first, last) line of quoted fields not trusted

    def add(self, row: list, start: int, span: int, flags: list[str], quarantine: str | None) -> None:
        self.rows.append(row)
        self.starts.append(start)
        self.spans.append(span)
        self.flags.append(flags)
        self.quarantine.append(quarantine)


def _read_body(records: list[tuple[int, int, list[str]]], width: int, delimiter: str, max_lines: int, lines: _Lines,
               count: PhysicalCount) -> _Body:
    """Blank lines counted; short records padded and flagged, long ones quarantined; records whose
    quoted field is not trusted split into their lines, each quarantined with its line number."""
    body = _Body()
    for first, last, rec in records:
        if not any(cell.strip() for cell in rec):
            count.blank += last - first + 1
            continue
        why = _suspicion(rec, first, last, width, delimiter, max_lines, "\n".join(lines.get(first, last)) if last > first else "")
        if why:
            body.untrusted.append((first, last))
            for n, line in enumerate(lines.get(first, last), start=first):
                cells = next(csv.reader([line], delimiter=delimiter, quoting=csv.QUOTE_NONE), [])
                if not any(c.strip() for c in cells):
                    count.blank += 1
                    continue
                body.add((cells + [None] * width)[:width], n, 1, ["suspicious_quoting"],
                         f"line {n}: {why}; the lines were read one by one without quote handling and quarantined (fix the quoting in the file)")
            continue
        if len(rec) > width:
            body.add(rec[:width], first, last - first + 1, [],
                     f"line {first} has {len(rec)} fields, the header {width}: extra fields {rec[width:]!r} (check delimiter and quoting)")
        elif len(rec) < width:
            body.add(rec + [None] * (width - len(rec)), first, last - first + 1, ["short_record"], None)
        else:
            body.add(rec, first, last - first + 1, [], None)
    return body


def _say(frame: pl.DataFrame, name: str, used: str, untrusted: list[tuple[int, int]], count: PhysicalCount, notes: list[str]) -> list[str]:
    """Add to `notes` what the reader did (for the report); return the warnings for the console
    (line numbers and counts, never values)."""
    bad = frame.filter(pl.col(QUARANTINE).is_not_null() & ~pl.col(FLAGS).list.contains("suspicious_quoting")).get_column(ROW).to_list()
    short = frame.filter(pl.col(FLAGS).list.contains("short_record")).get_column(ROW).to_list()
    if untrusted:
        spans_text = ", ".join(f"{f}-{l}" for f, l in untrusted[:10])
        notes.append(f"{len(untrusted)} quoted fields spanning lines were not trusted (lines {spans_text}): their "
                     f"{sum(l - f + 1 for f, l in untrusted)} lines were read one by one and quarantined")
    if bad:
        notes.append(f"{len(bad)} records with more fields than the header kept in quarantine (lines {bad[:10]})")
    if short:
        notes.append(f"{len(short)} records with fewer fields than the header padded (lines {short[:10]})")
    if count.continuation:
        notes.append(f"{count.continuation} lines continue records whose quoted fields span several lines")
    warnings = [] if frame.height else [f"{name}: the file has a header but no records"]
    if used.startswith("mixed"):
        warnings.append(f"{name}: the file mixes encodings ({used[7:]}); check the names of those lines, or re-export in one encoding")
    if untrusted:
        warnings.append(f"{name}: an unbalanced quote made {len(untrusted)} quoted fields span lines "
                        f"{', '.join(f'{f}-{l}' for f, l in untrusted[:5])}: those lines were quarantined; fix the quoting")
    if bad:
        warnings.append(f"{name}: {len(bad)} records have more fields than the header (lines {', '.join(map(str, bad[:5]))}): "
                        "quarantined; check the delimiter and quoting")
    return warnings


def extract_csv(source, expected_columns: list[str]) -> Extracted:
    path = Path(source.path)
    if not path.exists():
        raise MigrationError("file not found", file=str(path), hint="check `path` in the config (relative to the config file)")
    text, used = decode(path, source.encoding)
    delimiter = sniff_delimiter(text) if source.delimiter == "auto" else source.delimiter
    records = _records(text, delimiter)
    total = physical_lines(text)
    if not records or not any(any(c.strip() for c in rec) for _, _, rec in records):
        raise MigrationError("the file is empty", file=str(path), hint="point `path` at the export that holds the data")
    if records[-1][1] != total:  # the parser and the text disagree on the lines: never go on silently
        raise MigrationError(f"the CSV parser read {records[-1][1]} lines, the file has {total}", file=str(path),
                             hint="this is a bug in crm-migrate; please report it with the file")
    if source.header_row:
        at = next((i for i, (first, last, _) in enumerate(records) if first <= source.header_row <= last), None)
        if at is None:
            raise MigrationError(f"header_row {source.header_row} is beyond the end of the file ({total} lines)", file=str(path),
                                 hint="set `header_row` to the line that holds the column names, or leave it out to detect it")
        depth, columns = 1, unique_headers(records[at][2])
    else:
        at, depth, columns = detect_header([rec for _, _, rec in records], None, expected_columns)
    head_first, head_last, raw_header = records[at][0], records[at + depth - 1][1], records[at][2]
    require_columns(columns, expected_columns + ([source.key] if source.key else []), file=str(path), row=head_first)
    width = len(columns)
    count = PhysicalCount("lines", total, header=head_last - head_first + 1)
    non_records: list[NonRecord] = []
    for first, last, rec in records[:at]:  # title lines above the header
        if any(c.strip() for c in rec):
            non_records.append(NonRecord(first, TITLE_ROW, describe([c or None for c in rec]), lines=last - first + 1))
            count.non_records += last - first + 1
        else:
            count.blank += last - first + 1
    body = _read_body(records[at + depth:], width, delimiter, getattr(source, "max_field_lines", None) or MAX_FIELD_LINES,
                      _Lines(text), count)
    frame = rows_to_frame(source.name, columns, body.rows, body.starts, source.key).with_columns(
        pl.Series(FLAGS, body.flags, dtype=pl.List(pl.String)), pl.Series(QUARANTINE, body.quarantine, dtype=pl.String),
        pl.Series("__lines", body.spans, dtype=pl.Int64))
    frame, notes = duplicate_headers(raw_header, columns, frame, expected_columns)
    frame, found = split_non_records(frame, columns, [c.strip() for c in raw_header], rules_of(source), ROW,
                                     eligible=frame.get_column(QUARANTINE).is_null(), lines_column="__lines")
    non_records += found
    for nr in found:
        count.non_records += nr.lines
    count.records = frame.height
    count.continuation = int(frame.get_column("__lines").sum() or 0) - frame.height
    frame = frame.drop("__lines")
    notes.insert(0, f"decoded as {used}, delimiter {delimiter!r}, header on line {head_first}")
    warnings = _say(frame, path.name, used, body.untrusted, count, notes)
    return Extracted(source.name, frame, path.name, skipped=skipped_counts(count, non_records), notes=notes, non_records=non_records,
                     physical=count, warnings=warnings)
