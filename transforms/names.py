"""Company names: width, brackets, spaces; the organizational form; a region-aware matching key."""
from __future__ import annotations

import re

import polars as pl

from transforms.distinct import map_distinct
from transforms.text import fold
from transforms.regions import REGION_SHORT_NAMES

# Longest first; equivalent legal forms share one key form.
FORMS = ["集团股份有限公司", "集团有限公司", "股份有限公司", "有限责任公司", "有限公司", "公司"]
FORM_KEY = {"有限责任公司": "有限公司"}
BRANCH = re.compile(r"(分公司|办事处|营业部|分店|分部)$")
_SPACE = re.compile(r"\s+")
_BRACKET = re.compile(r"\(([^()]{2,6})\)")
_SUFFIXES = ("省", "市", "自治区", "壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区")


def clean_name(raw: str | None) -> str | None:
    """NFKC (full-width letters and brackets to half-width), no inner spaces; None for blank."""
    if raw is None:
        return None
    return fold(str(raw).replace("【", "(").replace("】", ")"), keep_ascii_spaces=True) or None


def _exact_region(text: str) -> str | None:
    """`深圳` or `深圳市` -> `深圳`; None when the text is not just a region name."""
    for suffix in _SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            text = text[: -len(suffix)]
            break
    return text if text in REGION_SHORT_NAMES else None


def _strip_region_prefix(text: str) -> tuple[str | None, str]:
    for region in REGION_SHORT_NAMES:
        if text.startswith(region):
            rest = text[len(region):]
            for suffix in _SUFFIXES:
                if rest.startswith(suffix):
                    rest = rest[len(suffix):]
                    break
            if len(rest) >= 2:
                return region, rest
    return None, text


def parse_name(raw: str | None) -> tuple[str | None, str | None, bool, bool]:
    """(name_normalized, name_key, has_region, is_branch).

    The key puts a bracketed region in front (腾飞科技(深圳)有限公司 == 深圳市腾飞科技有限公司),
    drops 市/省 after the region and treats 有限责任公司 as 有限公司. Regions in the key keep
    same-brand companies of different cities apart.
    """
    name = clean_name(raw)
    if name is None:
        return None, None, False, False
    lowered = name.lower()
    if lowered.isascii():
        key = re.sub(r"[^a-z0-9]+", " ", lowered)
        key = re.sub(r"\b(co|company|ltd|limited|inc|corp|corporation|llc)\b", " ", key)
        return name, _SPACE.sub(" ", key).strip() or lowered, False, False
    branch = bool(BRANCH.search(name))
    region, rest = _strip_region_prefix(name)
    if region is None:
        m = _BRACKET.search(name)
        if m and _exact_region(m.group(1)):
            region = _exact_region(m.group(1))
            rest = name[: m.start()] + name[m.end():]
    for form in FORMS:
        idx = rest.rfind(form)
        if idx >= 0 and (idx + len(form) == len(rest) or branch):
            rest = rest[:idx] + FORM_KEY.get(form, form) + rest[idx + len(form):]
            break
    key = (region or "") + "|" + rest
    return name, key, region is not None, branch


def standardize_names(frame: pl.DataFrame, column: str = "name") -> pl.DataFrame:
    return map_distinct(
        frame,
        column,
        parse_name,
        {"name_normalized": pl.String(), "name_key": pl.String(), "name_has_region": pl.Boolean(), "is_branch": pl.Boolean()},
    )
