"""Amounts: 12.5万, ¥125,000, (3,000.00), 1.2亿 -> exact Decimal yuan."""
from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import polars as pl

from transforms.distinct import map_distinct

_CURRENCY = [("RMB", "CNY"), ("CNY", "CNY"), ("¥", "CNY"), ("元", "CNY"), ("USD", "USD"), ("US$", "USD"), ("$", "USD"), ("HKD", "HKD"), ("EUR", "EUR"), ("€", "EUR")]
# Units as Chinese sales sheets write them after a number; a combination not listed (万万, 亿亿) is a typo,
# not a multiplication.
_UNITS = {"千": 10**3, "K": 10**3, "万": 10**4, "W": 10**4, "十万": 10**5, "百万": 10**6, "千万": 10**7, "M": 10**6,
          "亿": 10**8, "十亿": 10**9, "百亿": 10**10, "千亿": 10**11, "万亿": 10**12}
_UNIT = re.compile("(" + "|".join(sorted(map(re.escape, _UNITS), key=len, reverse=True)) + ")$")
# Digits with thousands separators in groups of three (1,234,567.89), or none at all.
_PLAIN = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$|^[+-]?\.\d+$")
_CENT = Decimal("0.01")
AMOUNT_DTYPE = pl.Decimal(20, 2)


def parse_amount(raw: str | None) -> tuple[Decimal | None, str | None, str | None]:
    """(amount in yuan, currency if stated, flag)."""
    if raw is None:
        return None, None, None
    text = unicodedata.normalize("NFKC", str(raw)).strip().upper().replace("￥", "¥")
    if not text:
        return None, None, None
    currency = None
    for mark, code in _CURRENCY:
        if mark in text:
            currency = code
            text = text.replace(mark, "")
    text = re.sub(r"(?<=\d) (?=\d{3}(?!\d))", ",", text)  # 1 234 567: spaces as thousands separators
    if re.search(r"\d\s+\d", text):  # 1 2 3: digits apart, not a number
        return None, currency, "invalid_amount"
    text = text.replace(" ", "")
    negative = text.startswith("(") and text.endswith(")")
    text = text.strip("()")
    factor = Decimal(1)
    if m := _UNIT.search(text):
        factor, text = Decimal(_UNITS[m.group(1)]), text[: m.start()]
    if not _PLAIN.match(text):  # 1,2,3 or 12.5万万 or 1.234,56: not a number anyone can be sure of
        return None, currency, "invalid_amount"
    try:
        value = Decimal(text.replace(",", "")) * factor
    except InvalidOperation:
        return None, currency, "invalid_amount"
    if not value.is_finite() or abs(value) >= Decimal(10) ** 18:
        return None, currency, "invalid_amount"
    value = -value if negative else value
    flag = "amount_rounded" if value != value.quantize(_CENT) else None
    return value.quantize(_CENT, rounding=ROUND_HALF_UP), currency, flag


def standardize_amounts(frame: pl.DataFrame, column: str = "amount") -> pl.DataFrame:
    raw = f"__{column}_raw"
    frame = frame.with_columns(pl.col(column).cast(pl.String).alias(raw))
    return map_distinct(frame, raw, parse_amount, {column: AMOUNT_DTYPE, "__currency_stated": pl.String(), f"__{column}_flag": pl.String()}).drop(raw)
