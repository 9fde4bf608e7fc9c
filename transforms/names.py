"""Company names: width, brackets, spaces, traditional characters; parsed into region, brand (字号),
industry words, legal form and branch; a region-aware matching key.

腾飞电子科技(深圳)有限公司 and 深圳市腾飞电子科技有限责任公司 share the key `深圳|腾飞电子科技有限公司`;
广州市腾飞电子科技有限公司 (another city) and ...有限公司北京分公司 (a branch) do not.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import polars as pl

from transforms.distinct import map_distinct
from transforms.regions import is_region, region_prefix
from transforms.text import fold

# Longest first; equivalent legal forms share one key form.
FORMS = ["集团股份有限公司", "集团有限公司", "股份有限公司", "有限责任公司", "有限公司", "合伙企业(有限合伙)", "合伙企业",
         "个人独资企业", "经营部", "工作室", "商行", "公司", "店"]
FORM_KEY = {"有限责任公司": "有限公司"}
INDUSTRY_WORDS = sorted([
    "电子科技", "信息技术", "网络科技", "信息科技", "智能科技", "生物科技", "环保科技", "新能源科技", "科技", "软件", "贸易",
    "商贸", "国际贸易", "进出口", "建筑工程", "建设工程", "工程", "建筑", "医药", "医疗器械", "物流", "供应链管理", "供应链",
    "企业管理咨询", "管理咨询", "咨询", "实业", "投资", "文化传媒", "传媒", "广告", "机械设备", "机械", "电气", "新材料",
    "食品", "餐饮管理", "房地产开发", "置业", "能源", "汽车销售", "汽车服务", "服务", "制造", "电子", "化工", "纺织", "服饰",
], key=len, reverse=True)
BRANCH = re.compile(r"(分公司|办事处|营业部|分店|分部|分厂)$")
_BRACKET = re.compile(r"\(([^()]{2,12})\)")
# Punctuation that does not tell companies apart (brackets do: they hold regions and forms).
_KEY_PUNCTUATION = re.compile(r"[·•.,，、'\"“”‘’「」『』\-_/&＆+＋]")
_ENGLISH_FORMS = re.compile(r"\b(co|company|ltd|limited|inc|incorporated|corp|corporation|llc|plc|gmbh)\b")


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


@dataclass(frozen=True)
class CompanyName:
    normalized: str
    key: str
    region: str | None
    brand: str | None
    industry: str | None
    form: str | None
    branch: str | None  # the branch marker with its location: 北京分公司

    @property
    def has_region(self) -> bool:
        return self.region is not None


def clean_name(raw: str | None) -> str | None:
    """NFKC (full-width letters and brackets to half-width), simplified characters, no inner spaces
    (ASCII names keep single spaces); None for blank."""
    if raw is None:
        return None
    text = fold(str(raw).replace("【", "(").replace("】", ")").replace("〔", "(").replace("〕", ")"), keep_ascii_spaces=True)
    if not text:
        return None
    if not text.isascii():
        text = fold(_t2s().convert(text))
    return text or None


def _english(name: str) -> CompanyName:
    lowered = name.lower()
    key = re.sub(r"[^a-z0-9]+", " ", lowered)
    form_match = _ENGLISH_FORMS.findall(key)
    key = re.sub(r"\s+", " ", _ENGLISH_FORMS.sub(" ", key)).strip() or lowered
    return CompanyName(name, key, None, key, None, form_match[-1] if form_match else None, None)


def parse_company(raw: str | None) -> CompanyName | None:
    name = clean_name(raw)
    if name is None:
        return None
    if name.isascii():
        return _english(name)
    rest, branch = name, None
    if m := BRANCH.search(rest):  # the branch and its location: ...有限公司北京分公司
        head = rest[: m.start()]
        cut = max((head.rfind(f) + len(f) for f in FORMS if head.rfind(f) > 0), default=-1)
        branch = head[cut:] + m.group(1) if cut > 0 else m.group(1)
        rest = head[:cut] if cut > 0 else head
    region, rest = region_prefix(rest)
    if region is None and (m := _BRACKET.search(rest)) and (inside := is_region(m.group(1))):
        region, rest = inside, rest[: m.start()] + rest[m.end():]
    form = next((f for f in FORMS if rest.endswith(f)), None)
    body = rest[: -len(form)] if form else rest
    industry = next((w for w in INDUSTRY_WORDS if body.endswith(w) and len(body) > len(w)), None)
    brand = body[: -len(industry)] if industry else body
    key_form = FORM_KEY.get(form, form) or ""
    key = f"{region or ''}|{_KEY_PUNCTUATION.sub('', body)}{key_form}" + (f"|{branch}" if branch else "")
    return CompanyName(name, key, region, brand or None, industry, form, branch)


def parse_name(raw: str | None) -> tuple[str | None, str | None, bool, bool]:
    """(name_normalized, name_key, has_region, is_branch)."""
    parsed = parse_company(raw)
    if parsed is None:
        return None, None, False, False
    return parsed.normalized, parsed.key, parsed.has_region, parsed.branch is not None


def _row(raw: str | None) -> tuple:
    p = parse_company(raw)
    if p is None:
        return None, None, False, False, None, None, None, None
    return p.normalized, p.key, p.has_region, p.branch is not None, p.region, p.brand, p.form, p.branch


NAME_OUTPUTS = {"name_normalized": pl.String(), "name_key": pl.String(), "name_has_region": pl.Boolean(), "is_branch": pl.Boolean(),
                "name_region": pl.String(), "name_brand": pl.String(), "name_form": pl.String(), "name_branch": pl.String()}


def standardize_names(frame: pl.DataFrame, column: str = "name") -> pl.DataFrame:
    return map_distinct(frame, column, _row, NAME_OUTPUTS)
