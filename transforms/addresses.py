"""Addresses: province / city / district from the text, province filled from a known city."""
from __future__ import annotations

import re
import polars as pl

from transforms.distinct import map_distinct
from transforms.text import fold
from transforms.regions import CITIES, MUNICIPALITIES, province_full

_PROVINCE = re.compile(r"^(?P<p>[^省市区县]{2,3}?(?:省|自治区|壮族自治区|回族自治区|维吾尔自治区|特别行政区))")
_CITY = re.compile(r"^(?P<c>[^省市区县]{2,4}?(?:市|自治州|地区|盟))")
_DISTRICT = re.compile(r"^(?P<d>[^省市区县]{1,6}?(?:区|县|旗))")


def parse_address(raw: str | None) -> tuple[str | None, str | None, str | None, str | None]:
    """(address, province, city, district) with full official forms (广东省, 深圳市, 南山区)."""
    if raw is None:
        return None, None, None, None
    text = fold(str(raw))
    if not text:
        return None, None, None, None
    rest, province, city, district = text, None, None, None
    if m := _PROVINCE.match(rest):
        province, rest = m["p"], rest[m.end():]
    if m := _CITY.match(rest):
        city, rest = m["c"], rest[m.end():]
    if m := _DISTRICT.match(rest):
        district = m["d"]
    short_city = city[:-1] if city and city.endswith("市") else city
    if province is None and short_city in CITIES:
        province = province_full(CITIES[short_city])
    if city is None and province and province[:-1] in MUNICIPALITIES:
        city = province
    return text, province, city, district


def standardize_addresses(frame: pl.DataFrame, column: str = "address") -> pl.DataFrame:
    return map_distinct(frame, column, parse_address,
                        {"__address_clean": pl.String(), "province": pl.String(), "city": pl.String(), "district": pl.String()}
                        ).with_columns(pl.col("__address_clean").alias(column)).drop("__address_clean")
