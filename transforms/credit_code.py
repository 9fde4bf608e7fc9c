"""Unified social credit code (统一社会信用代码, GB 32100-2015) and organization code (GB 11714).

Pure functions on strings plus a vectorised frame transform that works per distinct value.
"""
from __future__ import annotations

import re
import unicodedata
from itertools import product

import polars as pl

from crm_migrate.contracts import (CODE_DOUBTFUL, CODE_INVALID, CODE_MISSING, CODE_REPAIRED, CODE_VALID, LEGACY_ORG_CODE,
                                   LEGACY_REG_NUMBER, LEGACY_TAX_NUMBER)
from transforms.text import PLACEHOLDERS
from transforms.distinct import map_distinct

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(CHARSET)}
_WEIGHTS = [pow(3, i, 31) for i in range(17)]
_ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]
_PLACEHOLDERS = PLACEHOLDERS | {"", "0"}
_CODE_SHAPE = re.compile(r"^[0-9A-Z]{18}$")
_ORG_SHAPE = re.compile(r"^[0-9A-Z]{8}[0-9X]$")
_REGNO_SHAPE = re.compile(r"^\d{15}$")
_TAX_SHAPE = re.compile(r"^\d{6}[0-9A-Z]{8}[0-9X]$")

VALID, REPAIRED, INVALID, MISSING, DOUBTFUL = CODE_VALID, CODE_REPAIRED, CODE_INVALID, CODE_MISSING, CODE_DOUBTFUL
USABLE = (VALID, REPAIRED)  # statuses whose code identifies a company


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


# Registration authority (position 1) -> the organization categories it issues (position 2), GB 32100:
# 1 机构编制, 2 外交, 3 司法行政, 4 文化, 5 民政, 6 旅游, 7 宗教, 8 工会, 9 工商 (1 企业, 2 个体工商户,
# 3 农民专业合作社), A 中央军委改革和编制办公室, N 农业, Y 其他.
CATEGORIES = {"1": "1239", "2": "19", "3": "123459", "4": "19", "5": "1239", "6": "129", "7": "129", "8": "19",
              "9": "123", "A": "19", "N": "1239", "Y": "1"}


def is_valid(code: str) -> bool:
    """18 characters of the GB 32100 set: a registration authority with one of its categories, a
    6-digit division code, a valid embedded organization code (GB 11714) and a correct check character."""
    return (
        len(code) == 18
        and code[1] in CATEGORIES.get(code[0], "")
        and code[2:8].isdigit()
        and all(c in _VALUE for c in code)
        and check_char(code[:17]) == code[17]
        and is_valid_org_code(code[8:17])
    )


def make_code(prefix2: str, division: str, org8: str) -> str:
    """Build a valid code from authority+category, 6-digit division and an 8-character organization body."""
    org = org8 + org_check_char(org8)
    body = prefix2 + division + org
    return body + check_char(body)


# What spreadsheets and exports wrap around a code: ="…" formulas that keep it text, a label before
# a colon (统一社会信用代码：…), and at either end anything that is not a letter or digit (apostrophe,
# back-tick, quotes, tabs, brackets, asterisks, zero-width spaces).
_FORMULA_TEXT = re.compile(r'^=\s*"(.*)"$')
_LABEL = re.compile(r"^[^0-9A-Z]*[^\x00-\x7f][^:：]*[:：]|^(?:USCC|CODE|NO|TAX ?ID)\s*[:：.]", re.I)
_EDGES = re.compile(r"^[^0-9A-Z]+|[^0-9A-Z]+$")
_INNER = re.compile(r"[\s\-_.·/\\\u200b-\u200d\ufeff]")


def clean(raw: str | None) -> str:
    """Width, case, separators and wrapping junk: changes no information. Idempotent."""
    if raw is None:
        return ""
    text = unicodedata.normalize("NFKC", str(raw)).strip().upper()
    if m := _FORMULA_TEXT.match(text):
        text = m.group(1)
    text = _LABEL.sub("", text)
    text = unicodedata.normalize("NFKC", _INNER.sub("", _EDGES.sub("", text)))  # removals can leave composable pairs
    return _EDGES.sub("", text)


# Letters the code never uses (GB 32100 leaves out I, O, S, V, Z) and what a typist meant by them.
LOOK_ALIKES = {"O": "0DQ", "I": "1L", "S": "5", "Z": "2", "V": "UY"}
MAX_REPAIR_CANDIDATES = 4096


def repairs(text: str) -> list[str]:
    """Every valid code reachable by replacing the characters outside the code's alphabet with their
    look-alikes. Valid characters are never touched."""
    if len(text) != 18:
        return []
    options = [LOOK_ALIKES.get(ch, ch) if ch not in _VALUE else ch for ch in text]
    if any(ch not in _VALUE and ch not in LOOK_ALIKES for ch in text):
        return []
    count = 1
    for o in options:
        count *= len(o)
    if count > MAX_REPAIR_CANDIDATES:
        return []
    return [c for c in ("".join(p) for p in product(*options)) if is_valid(c)]


def normalize(raw: str | None) -> tuple[str | None, str]:
    """Return (code or None, status). Legacy org codes and registration numbers are kept with status
    invalid. A code is repaired only when exactly one repair gives a valid code."""
    text = clean(raw)
    if text in _PLACEHOLDERS:
        return None, MISSING
    if is_valid(text):
        return text, (VALID if text == str(raw).strip() else REPAIRED)
    found = repairs(text)
    if len(found) == 1:
        return found[0], REPAIRED
    return text, INVALID


def is_valid_registration_number(code: str) -> bool:
    """15 digits whose last is the ISO 7064 MOD 11,10 check of the others (工商注册号, GB 12365)."""
    if not _REGNO_SHAPE.match(code):
        return False
    p = 10
    for ch in code[:14]:
        p = ((int(ch) + p) % 10 or 10) * 2 % 11
    return (11 - p) % 10 == int(code[14])


def is_tax_number(code: str) -> bool:
    """15 characters: a 6-digit division and a valid organization code (税务登记号, before 2015)."""
    return bool(_TAX_SHAPE.match(code)) and is_valid_org_code(code[6:])


def legacy_kind(code: str | None) -> str | None:
    """Recognise a pre-2015 identifier typed where the credit code belongs: an organization code, a
    tax registration number (whose organization code links it to the credit code that embeds it), or
    a business registration number. Fifteen digits that pass both checks are taken for a
    registration number."""
    if not code:
        return None
    if _ORG_SHAPE.match(code) and is_valid_org_code(code):
        return LEGACY_ORG_CODE
    if is_tax_number(code) and not is_valid_registration_number(code):
        return LEGACY_TAX_NUMBER
    if _REGNO_SHAPE.match(code):
        return LEGACY_REG_NUMBER
    return None


def _with_legacy(raw: str | None) -> tuple[str | None, str, str | None]:
    code, status = normalize(raw)
    if status != INVALID:
        return code, status, None
    kind = legacy_kind(code)
    if kind:
        return code, status, kind
    return code, status, ("ambiguous_credit_code_repair" if len(repairs(code)) > 1 else None)


def standardize_credit_code(frame: pl.DataFrame, column: str = "credit_code") -> pl.DataFrame:
    """Normalize the column and add `credit_code_status` and `__credit_code_flag`, once per distinct value."""
    frame = frame.with_columns(pl.col(column).alias("__cc_raw"))
    outputs = {column: pl.String(), "credit_code_status": pl.String(), "__credit_code_flag": pl.String()}
    return map_distinct(frame, "__cc_raw", _with_legacy, outputs).drop("__cc_raw")
