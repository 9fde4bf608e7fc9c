"""Amounts: 12.5万, ¥125,000, (3,000.00), 1.2亿 -> exact Decimal yuan."""
from __future__ import annotations

import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import polars as pl

from transforms.distinct import map_distinct

_CURRENCY = [("RMB", "CNY"), ("CNY", "CNY"), ("¥", "CNY"), ("元", "CNY"), ("USD", "USD"), ("US$", "USD"), ("$", "USD"), ("HKD", "HKD"), ("EUR", "EUR"), ("€", "EUR")]
_MULTIPLIER = {"万": Decimal(10_000), "亿": Decimal(100_000_000), "千": Decimal(1_000)}
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
    text = text.replace(",", "").replace(" ", "")
    negative = text.startswith("(") and text.endswith(")")
    text = text.strip("()")
    factor = Decimal(1)
    while text and text[-1] in _MULTIPLIER:
        factor *= _MULTIPLIER[text[-1]]
        text = text[:-1]
    try:
        value = Decimal(text) * factor
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
