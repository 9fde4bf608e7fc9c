"""Addresses: province / city / district from the text (official full names), the province filled
from the city, the city from an unambiguous district; ambiguous districts flagged."""
from __future__ import annotations

import polars as pl

from transforms.distinct import map_distinct
from transforms.regions import parse_divisions
from transforms.text import fold


def parse_address(raw: str | None) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    """(address, province, city, district, flag)."""
    if raw is None:
        return None, None, None, None, None
    text = fold(str(raw))
    if not text:
        return None, None, None, None, None
    province, city, district, _, flag = parse_divisions(text)
    return text, province, city, district, flag


def standardize_addresses(frame: pl.DataFrame, column: str = "address") -> pl.DataFrame:
    frame = frame.with_columns(pl.col(column).alias("__address_raw"))
    outputs = {column: pl.String(), "province": pl.String(), "city": pl.String(), "district": pl.String(), "__address_flag": pl.String()}
    return map_distinct(frame, "__address_raw", parse_address, outputs).drop("__address_raw")
