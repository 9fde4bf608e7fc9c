"""Phones: Chinese mobile, landline and service numbers to E.164, per distinct value."""
from __future__ import annotations

import re
import unicodedata

import phonenumbers
import polars as pl

from transforms.distinct import map_distinct

_SPLIT = re.compile(r"[,，、;；/|]+|\s{2,}")
_LABEL = re.compile(r"^(手机|电话|座机|固话|tel|mobile|phone)[:：]?", re.I)
_EXT = re.compile(r"(转|分机|ext\.?|x)\s*(\d{1,6})$", re.I)


_DASH_EXT = re.compile(r"^(.*\d)\s*-\s*(\d{1,5})$")


def _valid(digits: str):
    try:
        num = phonenumbers.parse(digits, "CN")
    except phonenumbers.NumberParseException:
        return None
    return num if phonenumbers.is_valid_number(num) else None


def _one(text: str) -> tuple[str | None, str | None]:
    """(E.164 with optional ;ext=, kind) or (None, None)."""
    text = _LABEL.sub("", text.strip()).strip()
    ext = None
    m = _EXT.search(text)
    if m:
        ext, text = m.group(2), text[: m.start()]
    digits = re.sub(r"[^\d+]", "", text)
    if not digits:
        return None, None
    num = _valid(digits)
    if num is None and ext is None and (m := _DASH_EXT.match(text)):  # 0755-26781234-801: the extension after a dash
        num, ext = _valid(re.sub(r"[^\d+]", "", m.group(1))), m.group(2)
    if num is None:
        return None, None
    kind = "mobile" if phonenumbers.number_type(num) == phonenumbers.PhoneNumberType.MOBILE else "landline"
    e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    return (f"{e164};ext={ext}" if ext else e164), kind


def parse_phone(raw: str | None) -> tuple[str | None, str | None, str | None, str | None]:
    """(phone, kind, other numbers, flag). Several numbers in one cell: the first valid one is the
    phone, the others go to `phone_other` (`;`-separated), flagged `multiple_phones`. An invalid number
    keeps its raw text and is flagged `invalid_phone`, never dropped."""
    if raw is None:
        return None, None, None, None
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    if not text:
        return None, None, None, None
    parts = [p for p in _SPLIT.split(text) if p.strip()]
    parsed = [_one(p) for p in parts] if len(parts) > 1 else [_one(text)]
    valid = [p for p in parsed if p[0]]
    if not valid:
        return text, None, None, "invalid_phone"
    (phone, kind), others = valid[0], [p[0] for p in valid[1:] if p[0] != valid[0][0]]
    flag = "multiple_phones" if len(parts) > 1 else None
    if len(valid) < len(parts):
        flag = "multiple_phones;invalid_phone"
    return phone, kind, ";".join(others) or None, flag


def standardize_phones(frame: pl.DataFrame, column: str = "phone") -> pl.DataFrame:
    frame = frame.with_columns(pl.col(column).alias("__phone_raw"))
    outputs = {column: pl.String(), "phone_kind": pl.String(), "phone_other": pl.String(), "__phone_flag": pl.String()}
    return map_distinct(frame, "__phone_raw", parse_phone, outputs).drop("__phone_raw")
