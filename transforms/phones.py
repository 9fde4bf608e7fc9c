"""Phones: Chinese mobile, landline and service numbers to E.164, per distinct value.

A landline written without its area code (区号: 26781234, as people write their own city's numbers)
is completed from the record's city when the city is known and has one area code; so is a second
number in one cell (0411-87898331 82373115: the second in the first one's area).
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import phonenumbers
import polars as pl
from phonenumbers import geocoder

from transforms.distinct import map_distinct
from transforms.regions import CITY_SUFFIXES, PROVINCE_SUFFIXES, short_name

_SPLIT = re.compile(r"[,，、;；/|]+|\s{2,}")
_LABEL = re.compile(r"^(手机|电话|座机|固话|tel|mobile|phone)[:：]?", re.I)
_EXT = re.compile(r"(转|分机|ext\.?|x)\s*(\d{1,6})$", re.I)


_DASH_EXT = re.compile(r"^(.*\d)\s*-\s*(\d{1,5})$")
_LOCAL = re.compile(r"^[2-9]\d{6,7}$")  # a landline without its area code
_PROVINCE = re.compile(r"^.+?(省|自治区)")


@lru_cache(maxsize=1)
def area_codes() -> dict[str, str]:
    """Short city name (深圳, 北京, 乌鲁木齐) -> its area code without the trunk 0 (755, 10, 991), from
    the numbering plan phonenumbers ships (offline). Cities that share a code are listed under it
    (028: 成都, 资阳, 眉山); a city with two codes is left out (no guess)."""
    found: dict[str, set[str]] = {}
    for code in ["10", *(f"2{d}" for d in range(10)), *(str(n) for n in range(300, 1000))]:
        numbers = [phonenumbers.parse(f"+86{code}{local}") for local in ("62345678", "6234567")]
        number = next((n for n in numbers if phonenumbers.is_valid_number(n)), None)
        if number is None:
            continue
        place = _PROVINCE.sub("", geocoder.description_for_number(number, "zh"))
        for city in filter(None, place.split("、")):
            found.setdefault(short_name(short_name(city, CITY_SUFFIXES), PROVINCE_SUFFIXES), set()).add(code)
    return {city: next(iter(codes)) for city, codes in found.items() if len(codes) == 1}


def _valid(digits: str):
    try:
        num = phonenumbers.parse(digits, "CN")
    except phonenumbers.NumberParseException:
        return None
    return num if phonenumbers.is_valid_number(num) else None


def _one(text: str, area: str | None = None) -> tuple[str | None, str | None]:
    """(E.164 with optional ;ext=, kind) or (None, None). `area`: the area code a local number is in."""
    text = _LABEL.sub("", text.strip()).strip()
    ext = None
    m = _EXT.search(text)
    if m:
        ext, text = m.group(2), text[: m.start()]
    digits = re.sub(r"[^\d+]", "", text)
    if not digits:
        return None, None
    num = _valid(digits)
    if num is None and digits[:3] in ("852", "853", "886"):  # (852) 9019 1643: Hong Kong, Macao, Taiwan without the +
        num = _valid("+" + digits)
    if num is None and ext is None and (m := _DASH_EXT.match(text)):  # 0755-26781234-801: the extension after a dash
        num, ext = _valid(re.sub(r"[^\d+]", "", m.group(1))), m.group(2)
    if num is None and area and _LOCAL.match(digits):  # 26781234 in a Shenzhen record: 0755-26781234
        num = _valid("0" + area + digits)
    if num is None:
        return None, None
    kind = "mobile" if phonenumbers.number_type(num) == phonenumbers.PhoneNumberType.MOBILE else "landline"
    e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    return (f"{e164};ext={ext}" if ext else e164), kind


def _area_of(e164: str) -> str | None:
    """The area code of a landline in E.164 (+8675526781234 -> 755)."""
    number = phonenumbers.parse(e164.split(";")[0])
    if phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE:
        return None
    national = str(number.national_number)
    return national[:2] if national[:1] in "12" else national[:3]


def _numbers(parts: list[str], area: str | None) -> list[tuple[str | None, str | None]]:
    """Each part parsed; a local number after a landline is in that landline's area."""
    out = []
    for part in parts:
        parsed = _one(part, area)
        if parsed[0] and parsed[1] == "landline":
            area = _area_of(parsed[0]) or area
        out.append(parsed)
    return out


def parse_phone(raw: str | None, city: str | None = None) -> tuple[str | None, str | None, str | None, str | None]:
    """(phone, kind, other numbers, flag). Several numbers in one cell: the first valid one is the
    phone, the others go to `phone_other` (`;`-separated), flagged `multiple_phones`. Numbers separated
    by a single space count as several only when each is a number (0755 2678 1234 is one). `city`
    (short name) completes a local number. An invalid number keeps its raw text and is flagged
    `invalid_phone`, never dropped."""
    if raw is None:
        return None, None, None, None
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    if not text:
        return None, None, None, None
    area = area_codes().get(city) if city else None
    parts = [p for p in _SPLIT.split(text) if p.strip()]
    parsed = _numbers(parts, area) if len(parts) > 1 else [_one(text, area)]
    if len(parts) == 1 and parsed[0][0] is None and len(words := text.split()) > 1:
        spaced = _numbers(words, area)
        if all(p[0] for p in spaced):  # 0574-55125790 55512124: two numbers, one space apart
            parts, parsed = words, spaced
    valid = [p for p in parsed if p[0]]
    if not valid:
        return text, None, None, "invalid_phone"
    (phone, kind), others = valid[0], [p[0] for p in valid[1:] if p[0] != valid[0][0]]
    flag = "multiple_phones" if len(parts) > 1 else None
    if len(valid) < len(parts):
        flag = "multiple_phones;invalid_phone"
    return phone, kind, ";".join(others) or None, flag


def standardize_phones(frame: pl.DataFrame, column: str = "phone", city: pl.Expr | None = None) -> pl.DataFrame:
    """Parse `column` once per distinct (value, city); `city` (full or short name) completes local numbers."""
    short = (city if city is not None else pl.lit(None, dtype=pl.String)).cast(pl.String)
    frame = frame.with_columns(pl.struct(pl.col(column).alias("raw"), short.alias("city")).alias("__phone_raw"))
    outputs = {column: pl.String(), "phone_kind": pl.String(), "phone_other": pl.String(), "__phone_flag": pl.String()}
    parse = lambda v: parse_phone(v["raw"], short_name(v["city"], CITY_SUFFIXES) if v["city"] else None)  # noqa: E731
    return map_distinct(frame, "__phone_raw", parse, outputs).drop("__phone_raw")
