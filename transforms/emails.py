"""Emails: trim, lower-case, syntax check, common typo domains."""
from __future__ import annotations

import re
import unicodedata

import polars as pl

from transforms.distinct import map_distinct
from transforms.text import fold

_EDGE = re.compile(r"^[<>;,，；]+|[<>;,，；]+$")
# One address: a local part of dot-separated atoms (no leading, trailing or doubled dot), one @, a
# domain of labels and a top level.
_SYNTAX = re.compile(r"^[a-z0-9_%+\-]+(?:\.[a-z0-9_%+\-]+)*@[a-z0-9\-]+(\.[a-z0-9\-]+)*\.[a-z]{2,}$")
TYPO_DOMAINS = {
    "qq.con": "qq.com", "qq.cm": "qq.com", "163.cm": "163.com", "163.con": "163.com", "126.con": "126.com",
    "gmial.com": "gmail.com", "gmail.con": "gmail.com", "hotmial.com": "hotmail.com", "sina.con": "sina.com",
}
# The big mail providers and the top levels they use: 126.co or qq.cn is a typo, not another provider.
PROVIDERS = {"qq": {"com"}, "163": {"com", "net"}, "126": {"com"}, "sina": {"com", "cn"}, "sohu": {"com"}, "yeah": {"net"},
             "139": {"com"}, "foxmail": {"com"}, "aliyun": {"com"}, "gmail": {"com"}, "hotmail": {"com"}, "outlook": {"com"}}


def parse_email(raw: str | None) -> tuple[str | None, str | None]:
    """(email, flag): flags `invalid_email`, `email_typo_domain`, and `email_repaired` when more than
    case and surrounding spaces changed (a full-width ＠, a trailing ；). A space inside the address
    is not taken out: which part was meant is a guess, so it stays, flagged invalid. The value is
    kept either way."""
    if raw is None:
        return None, None
    typed = str(raw).strip()
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", typed).lower()).strip()  # twice: lower-casing may decompose (T¨)
    if re.search(r"\s", text):
        return text, "invalid_email"
    text = _EDGE.sub("", fold(text))
    if not text:
        return None, None
    flags = ["email_repaired"] if text != typed.lower() else []
    if not _SYNTAX.match(text):
        return text, ";".join(["invalid_email", *flags])
    domain = text.rsplit("@", 1)[1]
    label, _, top = domain.partition(".")
    if domain in TYPO_DOMAINS or domain.endswith(".con") or (label in PROVIDERS and "." not in top and top not in PROVIDERS[label]):
        flags.append("email_typo_domain")
    return text, ";".join(flags) or None


def is_valid_email(value) -> bool:
    """One address of valid syntax, as standardization leaves it (trimmed, lower-cased)."""
    return isinstance(value, str) and bool(_SYNTAX.match(value))


def standardize_emails(frame: pl.DataFrame, column: str = "email") -> pl.DataFrame:
    frame = frame.with_columns(pl.col(column).alias("__email_raw"))
    return map_distinct(frame, "__email_raw", parse_email, {column: pl.String(), "__email_flag": pl.String()}).drop("__email_raw")
