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

from crm_migrate.contracts import NAME_NOTE_REMOVED
from transforms.distinct import map_distinct
from transforms.regions import is_region, region_prefix
from transforms.text import fold

# Longest first; equivalent legal forms share one key form.
FORMS = ["集团股份有限公司", "集团有限公司", "股份有限公司", "有限责任公司", "有限公司", "合伙企业(有限合伙)", "合伙企业",
         "个人独资企业", "经营部", "工作室", "商行", "集团公司", "集团", "公司", "店"]
# Forms a short name writes instead of the legal one (恒飞集团 for 北京市恒飞集团有限公司): they say it
# is a group, not which legal form it has.
INFORMAL_FORMS = {"集团": None, "集团公司": "集团有限公司"}
FORM_KEY = {"有限责任公司": "有限公司"}
# The words of a trade (行业用语) a name puts between its brand (字号) and its legal form, as morphemes:
# a trade is read from the right as a run of them (电子科技, 企业管理咨询, 进出口贸易), so combinations
# nobody listed are recognised too. Longest first.
INDUSTRY_MORPHEMES = sorted([
    "电子", "科技", "技术", "信息", "网络", "智能", "生物", "环保", "新能源", "能源", "软件", "硬件", "数据", "数字", "云计算",
    "贸易", "商贸", "国际", "进出口", "建筑", "建设", "工程", "装饰", "装修", "安装", "医药", "医疗", "器械", "健康", "物流",
    "供应链", "运输", "货运", "快递", "仓储", "管理", "企业", "咨询", "顾问", "实业", "投资", "控股", "文化", "传媒", "广告",
    "机械", "设备", "电气", "电器", "新材料", "材料", "食品", "餐饮", "房地产", "开发", "置业", "物业", "汽车", "销售", "服务",
    "制造", "化工", "纺织", "服饰", "服装", "教育", "培训", "农业", "家居", "印刷", "包装", "劳务", "人力资源", "金融", "租赁",
    "电力", "通信", "光电", "半导体", "精密", "五金", "塑料", "模具", "环境", "检测", "发展", "产业", "商务", "酒店", "旅游",
], key=len, reverse=True)
# Morphemes written another way for the same trade (技术/科技, 商贸/贸易), and words that add nothing
# to tell trades apart once the others are known (电子科技 = 电子技术 = 电子).
INDUSTRY_SYNONYM = {"技术": "科技", "商贸": "贸易", "建设": "建筑", "顾问": "咨询", "装修": "装饰", "电器": "电气", "运输": "物流",
                    "货运": "物流", "服装": "服饰"}
INDUSTRY_GENERIC = {"科技", "工程", "服务", "管理", "企业", "发展", "产业", "商务", "开发", "销售"}
# Brackets that are part of a company's name; any other bracket that is not a region is a note (备注).
KEPT_BRACKETS = {"中国", "集团", "有限合伙", "普通合伙", "特殊普通合伙", "国际", "亚太", "控股"}
BRANCH = re.compile(r"(分公司|办事处|营业部|分店|分部|分厂)$")
_BRACKET = re.compile(r"\(([^()]{2,12})\)")
_ANY_BRACKET = re.compile(r"\(([^()]{0,20})\)")
# Notes people type around a name: （老客户）, 【重点】, -停用, *, #2, VIP.
_TRAILING_NOTE = re.compile(r"([-_—~*#＊!！?？]+[^()]{0,8}|[*＊#]+)$")
_LEADING_NOTE = re.compile(r"^[*＊#]+")
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
    trade_key: str | None = None  # the trade's morphemes, synonyms folded, generic ones dropped, sorted: 电子
    annotation: str | None = None  # notes removed from the name: (老客户)

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


def strip_notes(name: str) -> tuple[str, str | None]:
    """Remove what people write around a name that is not part of it: a leading or trailing note
    ((重点), -停用, *), a bracket that is neither a region nor part of the name. Returns (name, notes)."""
    notes = []

    def bracket(m: re.Match) -> str:
        inside = m.group(1).strip()
        if inside in KEPT_BRACKETS or is_region(inside) or any(inside.endswith(f) for f in ("公司", "分公司")):
            return m.group(0)
        notes.append(m.group(0))
        return ""

    text = _ANY_BRACKET.sub(bracket, name)
    changed = True
    while changed:  # until nothing more comes off: the result is its own normal form
        changed = False
        for pattern in (_TRAILING_NOTE, _LEADING_NOTE):
            if (m := pattern.search(text)) and len(text) - len(m.group(0)) >= 4:
                notes.append(m.group(0))
                text = (text[: m.start()] + text[m.end():]).strip()
                changed = True
        if changed:
            text = _ANY_BRACKET.sub(bracket, text)
    text = text.strip()
    return (text, "".join(notes)) if notes and text else (name, None)


def split_trade(body: str) -> tuple[str, str | None]:
    """(brand, trade): the longest run of trade morphemes at the end of `body` that leaves a brand of at
    least two characters (信诚电子科技 -> 信诚, 电子科技)."""
    cut = len(body)
    while True:
        word = next((w for w in INDUSTRY_MORPHEMES if body[:cut].endswith(w) and cut - len(w) >= 2), None)
        if word is None:
            break
        cut -= len(word)
    return (body[:cut], body[cut:]) if cut < len(body) else (body, None)


def _folded_morphemes(trade: str) -> set[str]:
    """The trade read left to right as morphemes (an unknown character is its own), synonyms folded."""
    words, rest = set(), trade
    while rest:
        word = next((w for w in INDUSTRY_MORPHEMES if rest.startswith(w)), rest[0])
        words.add(INDUSTRY_SYNONYM.get(word, word))
        rest = rest[len(word):]
    return words


def trade_words(trade: str | None) -> str | None:
    """The trade's morphemes with synonyms folded, generic ones kept, sorted and joined by `|`:
    科技 -> 科技, 电子技术 -> 电子|科技. Two trades where neither word set holds the other (科技 and
    物流) are two companies, even though 科技 alone says too little to be a trade key."""
    return "|".join(sorted(_folded_morphemes(trade))) if trade else None


def trade_key(trade: str | None, form: str | None = None) -> str | None:
    """The trade as a comparable key: morphemes with synonyms folded and generic ones dropped (电子技术
    and 电子科技 -> 电子); a group with no trade word is its own trade (集团)."""
    if not trade:
        return "集团" if form and form.startswith("集团") else None
    kept = sorted(_folded_morphemes(trade) - INDUSTRY_GENERIC)
    return "".join(kept) or None  # 科技 alone says nothing: 腾飞科技 may be 腾飞电子科技


def parse_company(raw: str | None) -> CompanyName | None:
    name = clean_name(raw)
    if name is None:
        return None
    if name.isascii():
        return _english(name)
    name, notes = strip_notes(name)
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
    brand, industry = split_trade(body)
    key_form = FORM_KEY.get(form, form) or ""
    key = f"{region or ''}|{_KEY_PUNCTUATION.sub('', body)}{key_form}" + (f"|{branch}" if branch else "")
    return CompanyName(name, key, region, _KEY_PUNCTUATION.sub("", brand) or None, industry, form, branch, trade_key(industry, form), notes)


def parse_name(raw: str | None) -> tuple[str | None, str | None, bool, bool]:
    """(name_normalized, name_key, has_region, is_branch)."""
    parsed = parse_company(raw)
    if parsed is None:
        return None, None, False, False
    return parsed.normalized, parsed.key, parsed.has_region, parsed.branch is not None


def _row(raw: str | None) -> tuple:
    p = parse_company(raw)
    if p is None:
        return None, None, False, False, None, None, None, None, None, None, None
    return (p.normalized, p.key, p.has_region, p.branch is not None, p.region, p.brand, p.form, p.branch, p.trade_key, trade_words(p.industry),
            NAME_NOTE_REMOVED if p.annotation else None)


NAME_OUTPUTS = {"name_normalized": pl.String(), "name_key": pl.String(), "name_has_region": pl.Boolean(), "is_branch": pl.Boolean(),
                "name_region": pl.String(), "name_brand": pl.String(), "name_form": pl.String(), "name_branch": pl.String(),
                "name_trade": pl.String(), "name_trade_words": pl.String(), "__name_flag": pl.String()}


def standardize_names(frame: pl.DataFrame, column: str = "name") -> pl.DataFrame:
    """Parsed name columns, and `__name_flag` (name_note_removed) for the rule accountant to add."""
    return map_distinct(frame, column, _row, NAME_OUTPUTS)
