"""Dates in every format legacy data uses, to datetimes."""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta, timezone

import polars as pl

from transforms.distinct import map_distinct

_EXCEL_EPOCH = datetime(1899, 12, 30)
_YMD = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]?(\d{1,2})[:时](\d{2})分?(?::(\d{2})(?:\.(\d{1,6}))?)?)?"
                  r"(?P<tz>Z|[+-]\d{2}:?\d{2})?$")
# Datetimes with an offset are stored as China Standard Time wall-clock time.
CHINA = timezone(timedelta(hours=8))
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
# A month without its day (2023年3月, 2023-03): the first of the month, flagged `date_month_only`.
_YM = re.compile(r"^(\d{4})[-/.年](\d{1,2})月?(?:份)?$")
_DMY = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")
_SERIAL = re.compile(r"^\d{5}(\.\d+)?$")
_ZERO = re.compile(r"^0{4}-0{2}-0{2}")
# Dates outside these years are typing errors or placeholders (0001-01-01, 9999-12-31), and a 5-digit
# number read as an Excel serial must land inside them (99999 would be the year 2173).
FIRST_YEAR, LAST_YEAR = 1900, 2100
_LAST_SERIAL = (datetime(LAST_YEAR, 12, 31) - _EXCEL_EPOCH).days


def parse_date(raw: str | None, day_first: bool = False) -> tuple[datetime | None, str | None]:
    """(datetime, flag): `invalid_date` for text that is not a real date (0000-00-00, 2023-02-30),
    `implausible_date` for a date outside 1900-2100 (0001-01-01, 9999-12-31, a year typed 2173),
    `date_month_only` for a month without a day (2023年3月: the 1st, so a renewal a year later stays
    a year away)."""
    return _plausible(_parse_date(raw, day_first))


def _parse_date(raw: str | None, day_first: bool) -> tuple[datetime | None, str | None]:
    if raw is None:
        return None, None
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    if not text:
        return None, None
    if _ZERO.match(text):
        return None, "invalid_date"
    try:
        if m := _YMD.match(text):
            y, mo, d, hh, mm, ss, frac, tz = m.groups()
            value = datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0), int((frac or "0").ljust(6, "0")))
            if tz:
                offset = timezone.utc if tz == "Z" else timezone(timedelta(hours=int(tz[:3]), minutes=int(tz[0] + tz[-2:])))
                value = value.replace(tzinfo=offset).astimezone(CHINA).replace(tzinfo=None)
            return value, None
        if m := _YM.match(text):
            return datetime(int(m[1]), int(m[2]), 1), "date_month_only"
        if m := _COMPACT.match(text):
            return datetime(int(m[1]), int(m[2]), int(m[3])), None
        if m := _DMY.match(text):
            a, b, y = int(m[1]), int(m[2]), int(m[3])
            day, month = (a, b) if day_first else (b, a)
            return datetime(y, month, day), None
        if _SERIAL.match(text) and 1 <= float(text) <= _LAST_SERIAL:
            return _EXCEL_EPOCH + timedelta(days=float(text)), None
    except ValueError:
        return None, "invalid_date"
    return None, "invalid_date"


def _plausible(parsed: tuple[datetime | None, str | None]) -> tuple[datetime | None, str | None]:
    value, flag = parsed
    if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
        return None, "implausible_date"
    return value, flag


def standardize_dates(frame: pl.DataFrame, column: str, day_first: bool, as_date: bool = False) -> pl.DataFrame:
    raw = f"__{column}_raw"
    frame = frame.with_columns(pl.col(column).cast(pl.String).alias(raw))
    frame = map_distinct(frame, raw, lambda v: parse_date(v, day_first), {column: pl.Datetime("us"), f"__{column}_flag": pl.String()})
    if as_date:
        frame = frame.with_columns(pl.col(column).dt.date())
    return frame.drop(raw)
