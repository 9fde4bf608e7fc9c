"""Unified social credit code (统一社会信用代码, GB 32100-2015) and organization code (GB 11714).

Pure functions on strings plus a vectorised frame transform that works per distinct value.
"""
from __future__ import annotations

import re
import unicodedata

import polars as pl

from transforms.distinct import map_distinct

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(CHARSET)}
_WEIGHTS = [pow(3, i, 31) for i in range(17)]
_ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]
_PLACEHOLDERS = {"", "无", "-", "--", "暂无", "待补充", "#N/A", "N/A", "NA", "NULL", "NONE", "/", "0"}
_CODE_SHAPE = re.compile(r"^[0-9A-Z]{18}$")
_ORG_SHAPE = re.compile(r"^[0-9A-Z]{8}[0-9X]$")
_REGNO_SHAPE = re.compile(r"^\d{15}$")

VALID, REPAIRED, INVALID, MISSING = "valid", "repaired", "invalid", "missing"


def check_char(first17: str) -> str | None:
    try:
        total = sum(_VALUE[c] * w for c, w in zip(first17, _WEIGHTS))
    except KeyError:
        return None
    return CHARSET[(31 - total % 31) % 31]


def org_check_char(first8: str) -> str | None:
    total = 0
    for ch, w in zip(first8, _ORG_WEIGHTS):
        if ch.isdigit():
            v = int(ch)
        elif "A" <= ch <= "Z":
            v = ord(ch) - 55
        else:
            return None
        total += v * w
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def is_valid_org_code(code: str) -> bool:
    return bool(_ORG_SHAPE.match(code)) and org_check_char(code[:8]) == code[8]


def is_valid(code: str) -> bool:
    """18 characters of the GB 32100 set, a correct check character and a valid embedded organization code."""
    return (
        len(code) == 18
        and all(c in _VALUE for c in code)
        and check_char(code[:17]) == code[17]
        and is_valid_org_code(code[8:17])
    )


def make_code(prefix2: str, division: str, org8: str) -> str:
    """Build a valid code from authority+category, 6-digit division and an 8-character organization body."""
    org = org8 + org_check_char(org8)
    body = prefix2 + division + org
    return body + check_char(body)


def clean(raw: str | None) -> str:
    """Width, case, separators and the Excel apostrophe: changes no information."""
    if raw is None:
        return ""
    text = unicodedata.normalize("NFKC", str(raw)).strip().lstrip("'\t").upper()
    return re.sub(r"[\s\-_.·]", "", text)


def normalize(raw: str | None) -> tuple[str | None, str]:
    """Return (code or None, status). Legacy org codes and registration numbers are kept with status invalid."""
    text = clean(raw)
    if text in _PLACEHOLDERS:
        return None, MISSING
    if is_valid(text):
        return text, (VALID if text == str(raw).strip() else REPAIRED)
    if len(text) == 18:
        candidates = {text.replace("O", "0").replace("I", "1")}
        candidates = {c for c in candidates if c != text and is_valid(c)}
        if len(candidates) == 1:
            return candidates.pop(), REPAIRED
    return text, INVALID


def legacy_kind(code: str | None) -> str | None:
    """Recognise a pre-2015 identifier typed where the credit code belongs."""
    if not code:
        return None
    if _ORG_SHAPE.match(code) and is_valid_org_code(code):
        return "organization_code"
    if _REGNO_SHAPE.match(code):
        return "registration_number"
    return None


def _with_legacy(raw: str | None) -> tuple[str | None, str, str | None]:
    code, status = normalize(raw)
    kind = legacy_kind(code) if status == INVALID else None
    return code, status, (f"legacy_{kind}" if kind else None)


def standardize_credit_code(frame: pl.DataFrame, column: str = "credit_code") -> pl.DataFrame:
    """Normalize the column and add `credit_code_status` and `__credit_code_flag`, once per distinct value."""
    frame = frame.with_columns(pl.col(column).alias("__cc_raw"))
    outputs = {column: pl.String(), "credit_code_status": pl.String(), "__credit_code_flag": pl.String()}
    return map_distinct(frame, "__cc_raw", _with_legacy, outputs).drop("__cc_raw")
