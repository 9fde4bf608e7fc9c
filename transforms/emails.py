"""Emails: trim, lower-case, syntax check, common typo domains."""
from __future__ import annotations

import re
import polars as pl

from transforms.distinct import map_distinct
from transforms.text import fold

_EDGE = re.compile(r"^[<>;,]+|[<>;,]+$")
_SYNTAX = re.compile(r"^[a-z0-9._%+\-]+@[a-z0-9\-]+(\.[a-z0-9\-]+)*\.[a-z]{2,}$")
TYPO_DOMAINS = {
    "qq.con": "qq.com", "qq.cm": "qq.com", "163.cm": "163.com", "163.con": "163.com", "126.con": "126.com",
    "gmial.com": "gmail.com", "gmail.con": "gmail.com", "hotmial.com": "hotmail.com", "sina.con": "sina.com",
}


def parse_email(raw: str | None) -> tuple[str | None, str | None]:
    """(email, flag): flags `invalid_email` or `email_typo_domain`; the value is kept either way."""
    if raw is None:
        return None, None
    text = _EDGE.sub("", fold(fold(str(raw)).lower()))  # folded again: lower-casing may leave a decomposed letter (T¨ -> t + U+0308)
    if not text:
        return None, None
    if not _SYNTAX.match(text):
        return text, "invalid_email"
    domain = text.rsplit("@", 1)[1]
    if domain in TYPO_DOMAINS or domain.endswith(".con"):
        return text, "email_typo_domain"
    return text, None


def is_valid_email(value) -> bool:
    """One address of valid syntax, as standardization leaves it (trimmed, lower-cased)."""
    return isinstance(value, str) and bool(_SYNTAX.match(value))


def standardize_emails(frame: pl.DataFrame, column: str = "email") -> pl.DataFrame:
    frame = frame.with_columns(pl.col(column).alias("__email_raw"))
    return map_distinct(frame, "__email_raw", parse_email, {column: pl.String(), "__email_flag": pl.String()}).drop("__email_raw")
