"""Company names: width, brackets, spaces, traditional characters; parsed into region, brand (字号),
industry words, legal form and branch; a region-aware matching key.

腾飞电子科技(深圳)有限公司 and 深圳市腾飞电子科技有限责任公司 share the key `深圳|腾飞电子科技有限公司`;
广州市腾飞电子科技有限公司 (another city) and ...有限公司北京分公司 (a branch) do not.
"""
from __future__ import annotations

import re
import unicodedata
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from functools import lru_cache

import polars as pl

from crm_migrate.contracts import NAME_NOTE_REMOVED
from transforms.distinct import map_distinct
from transforms.parallel import carry
from transforms.regions import city_prefix, district_prefix, is_region, region_prefix
from transforms.text import fold

# Longest first; equivalent legal forms share one key form.
FORMS = ["集团股份有限公司", "集团有限公司", "股份有限公司", "有限责任公司", "有限公司", "合伙企业(有限合伙)", "合伙企业",
         "个人独资企业", "经营部", "门市部", "工作室", "商行", "集团公司", "集团", "公司", "店", "厂"]
# Forms a short name writes instead of the legal one (恒飞集团 for 北京市恒飞集团有限公司): they say it
# is a group, not which legal form it has.
INFORMAL_FORMS = {"集团": None, "集团公司": "集团有限公司"}
FORM_KEY = {"有限责任公司": "有限公司"}
# The words of a trade (行业用语) a name puts between its brand (字号) and its legal form, as morphemes:
# a trade is read from the right as a run of them (电子科技, 企业管理咨询, 进出口贸易), so combinations
# nobody listed are recognised too. Longest first.
INDUSTRY_MORPHEMES = sorted({
    "电子", "科技", "技术", "信息", "网络", "智能", "生物", "环保", "新能源", "能源", "软件", "硬件", "数据", "数字", "云计算",
    "贸易", "商贸", "国际", "进出口", "建筑", "建设", "工程", "装饰", "装修", "安装", "医药", "医疗", "器械", "健康", "物流",
    "供应链", "运输", "货运", "快递", "仓储", "管理", "企业", "咨询", "顾问", "实业", "投资", "控股", "文化", "传媒", "广告",
    "机械", "设备", "电气", "电器", "新材料", "材料", "食品", "餐饮", "房地产", "开发", "置业", "物业", "汽车", "销售", "服务",
    "制造", "化工", "纺织", "服饰", "服装", "教育", "培训", "农业", "家居", "印刷", "包装", "劳务", "人力资源", "金融", "租赁",
    "电力", "通信", "光电", "半导体", "精密", "五金", "塑料", "模具", "环境", "检测", "发展", "产业", "商务", "酒店", "旅游",
    # The trades of the national industry classification (GB/T 4754) as names write them.
    "塑胶", "橡胶", "制品", "用品", "产品", "玻璃", "陶瓷", "家具", "灯饰", "照明", "钢铁", "金属", "矿业", "石油", "燃气",
    "水务", "园林", "绿化", "景观", "设计", "规划", "测绘", "勘察", "监理", "造价", "会计", "税务", "法律", "知识产权",
    "翻译", "会展", "展览", "礼品", "工艺品", "工艺", "日用品", "化妆品", "美容", "保健", "药业", "药房", "农牧",
    "牧业", "渔业", "林业", "种业", "肥料", "饲料", "粮油", "茶业", "茶叶", "酒业", "饮料", "乳业", "水产", "果蔬", "冷链",
    "电子商务", "电商", "互联网", "计算机", "系统", "集成", "自动化", "仪器", "仪表", "光伏", "储能", "电池", "线缆", "电缆",
    "光纤", "通讯", "安防", "消防", "保安", "家政", "保洁", "清洁", "人力", "传播", "影视", "动漫", "体育",
    "健身", "玩具", "文具", "办公", "纸业", "印务", "出版", "鞋业", "箱包", "皮具", "珠宝", "首饰", "眼镜", "家纺", "建材",
    "钢结构", "幕墙", "门窗", "地产", "置地", "混凝土", "水泥", "石材", "管道", "阀门", "泵业", "轴承", "液压", "机电",
    "电机", "数控", "机床", "铸造", "涂料", "油漆", "汽配", "配件", "船舶", "航空", "货代", "航运", "海运", "速递",
    "配送", "超市", "百货", "连锁", "母婴", "宠物", "花卉", "调味品", "烘焙", "工业", "商业",
    "科学", "应用", "研究", "研发", "营销", "策划", "会务", "新技术", "高科技", "节能", "净化", "水处理", "暖通", "空调",
    "制冷", "钢材", "有色", "化学", "化纤", "皮革", "木业", "竹业", "家电", "厨具", "卫浴", "涂装", "电镀", "焊接",
    # Manufacturing (GB/T 4754 section C) as factories name themselves: metals, machinery, parts,
    # equipment, chemicals, electrical, and the two-character short forms sales sheets use.
    "特钢", "不锈钢", "钢管", "钢板", "铝业", "铝材", "铜业", "铜材", "合金", "型材", "板材", "管业", "管件", "铸件", "锻造",
    "锻压", "冲压", "钣金", "焊材", "热处理", "表面处理", "喷涂", "刀具", "工具", "量具", "磨具", "磨料", "紧固件", "紧固",
    "标准件", "弹簧", "齿轮", "传动", "减速机", "链条", "输送", "起重", "重工", "重型", "动力", "发动机", "空压机", "空压",
    "压缩机", "风机", "锅炉", "压力容器", "换热", "热能", "泵阀", "阀业", "水泵", "密封", "过滤", "注塑", "吹塑", "橡塑",
    "塑业", "模塑", "精细化工", "日化", "胶粘", "胶业", "树脂", "油墨", "染料", "颜料", "制药", "耗材", "光学", "激光",
    "机器人", "装备", "智能装备", "成套", "工控", "电控", "变压器", "开关", "电线", "线束", "连接器", "元器件", "电子元件",
    "微电子", "芯片", "传感器", "传感", "电源", "电工", "农机", "机具", "器材", "精工", "机器", "工贸", "纸品", "彩印",
}, key=len, reverse=True)
# Morphemes written another way for the same trade (技术/科技, 商贸/贸易), and words that add nothing
# to tell trades apart once the others are known (电子科技 = 电子技术 = 电子).
INDUSTRY_SYNONYM = {"技术": "科技", "商贸": "贸易", "建设": "建筑", "顾问": "咨询", "装修": "装饰", "电器": "电气", "运输": "物流",
                    "货运": "物流", "服装": "服饰", "新技术": "科技", "高科技": "科技", "电商": "电子商务", "工艺品": "工艺",
                    "药业": "医药", "茶叶": "茶业", "地产": "房地产", "通讯": "通信", "人力": "人力资源", "速递": "快递",
                    "传媒": "传播", "塑胶": "塑料", "紧固": "紧固件", "标准件": "紧固件", "空压": "空压机", "压缩机": "空压机",
                    "塑业": "塑料", "阀业": "阀门", "管业": "管道", "锻压": "锻造", "制药": "医药"}
INDUSTRY_GENERIC = {"科技", "工程", "服务", "管理", "企业", "发展", "产业", "商务", "开发", "销售", "制品", "用品", "产品", "应用",
                    "科学", "工业", "商业", "国际"}
# Brackets that are part of a company's name; any other bracket that is not a region is a note (备注).
KEPT_BRACKETS = {"中国", "集团", "有限合伙", "普通合伙", "特殊普通合伙", "国际", "亚太", "控股"}
# What may follow a legal form: the designation of a branch (分支机构). Anything else there is a note.
BRANCH_MARKERS = ("分公司", "办事处", "代表处", "营业部", "分店", "分部", "分厂", "分行", "支行", "分所", "分院", "分中心", "项目部", "门店")
BRANCH_MARKER_AT_END = f"({'|'.join(BRANCH_MARKERS)})$"
BRANCH = re.compile(BRANCH_MARKER_AT_END)
_BRACKETED_BRANCH = re.compile(f"\\(([^()]{{0,12}}(?:{'|'.join(BRANCH_MARKERS)}))\\)$")
# Company forms after which the legal name ends (but for a branch designation).
_NAME_ENDS = ("公司", "合伙企业", "个人独资企业")
# A Chinese name with an English legal form (奥祥实业 CO.,LTD.): the form it means.
_ENGLISH_TAIL = re.compile(r"\s*(co\.?\s*,?\s*ltd\.?|company\s+limited|co\.?\s*limited|limited|ltd\.?|inc\.?|corp\.?|corporation)\s*$", re.I)
# A note typed before the name and set off by a dash or colon: 作废-成都市..., 停用：...
_ENGLISH_WITH_NOTE = re.compile(r"^\s*([A-Za-z][\x00-\x7f]*?[A-Za-z.])\s*(\(?[^\x00-\x7f][^A-Za-z]{0,11})$")
_LEADING_WORD_NOTE = re.compile(r"^([^()\-—_:：]{1,6})[\-—_:：]+")
_BRACKET = re.compile(r"\(([^()]{2,12})\)")
_ANY_BRACKET = re.compile(r"\(([^()]{0,20})\)")
# Notes people type around a name: （老客户）, 【重点】, -停用, *, #2, VIP.
_TRAILING_NOTE = re.compile(r"([-_—~*#＊!！?？]+[^()]{0,8}|[*＊#]+)$")
_LEADING_NOTE = re.compile(r"^[*＊#]+")
# Punctuation that does not tell companies apart (brackets do: they hold regions and forms).
_KEY_PUNCTUATION = re.compile(r"[·•.,，、'\"“”‘’「」『』\-_/&＆+＋]")


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str | None) -> str | None:
    """Traditional characters as simplified ones (環保設備 -> 环保设备), OpenCC's t2s."""
    return _t2s().convert(text) if text else text


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
        text = fold(to_simplified(text))
    return text or None


# English trade words as the morphemes a Chinese name would use (Electronic Technology -> 电子科技).
ENGLISH_TRADES = {
    "technology": "科技", "technologies": "科技", "tech": "科技", "hi-tech": "科技", "electronic": "电子", "electronics": "电子",
    "information": "信息", "info": "信息", "network": "网络", "networks": "网络", "software": "软件", "intelligent": "智能",
    "smart": "智能", "trading": "贸易", "trade": "贸易", "commerce": "商贸", "commercial": "商贸", "import": "进出口",
    "export": "进出口", "logistics": "物流", "supply": "供应链", "chain": "", "food": "食品", "foods": "食品", "chemical": "化工",
    "chemicals": "化工", "machinery": "机械", "equipment": "设备", "construction": "建筑", "engineering": "工程",
    "decoration": "装饰", "medical": "医疗", "pharmaceutical": "医药", "pharmaceuticals": "医药", "biotech": "生物",
    "biological": "生物", "biotechnology": "生物", "environmental": "环保", "energy": "能源", "materials": "材料",
    "material": "材料", "automation": "自动化", "culture": "文化", "cultural": "文化", "media": "传媒", "advertising": "广告",
    "consulting": "咨询", "consultancy": "咨询", "management": "管理", "investment": "投资", "holding": "控股",
    "holdings": "控股", "industrial": "实业", "industry": "实业", "development": "发展", "estate": "房地产", "real": "",
    "property": "物业", "automotive": "汽车", "auto": "汽车", "printing": "印刷", "packaging": "包装", "textile": "纺织",
    "textiles": "纺织", "garment": "服饰", "apparel": "服饰", "education": "教育", "agriculture": "农业",
    "agricultural": "农业", "furniture": "家具", "optoelectronic": "光电", "optoelectronics": "光电",
    "semiconductor": "半导体", "precision": "精密", "hardware": "五金", "plastic": "塑料", "plastics": "塑料",
    "mould": "模具", "mold": "模具", "testing": "检测", "services": "服务", "service": "服务", "leasing": "租赁",
    "financial": "金融", "electric": "电气", "electrical": "电气", "power": "电力", "communication": "通信",
    "communications": "通信", "digital": "数字", "data": "数据", "new": "新", "devices": "设备", "instrument": "仪器",
    "instruments": "仪器", "design": "设计", "catering": "餐饮", "hotel": "酒店", "tourism": "旅游", "travel": "旅游",
}
_ENGLISH_FORM_WORDS = {"co": "有限公司", "ltd": "有限公司", "limited": "有限公司", "company": "有限公司", "inc": "有限公司",
                       "incorporated": "有限公司", "corp": "有限公司", "corporation": "有限公司", "llc": "有限公司", "plc": "有限公司",
                       "gmbh": "有限公司", "group": "集团"}


@lru_cache(maxsize=1)
def _pinyin_regions() -> dict[str, str]:
    """Toneless pinyin of province and city short names -> the short name (wuhan -> 武汉), for English
    names; a pinyin two places share (suzhou: 苏州, 宿州) is left out."""
    from pypinyin import lazy_pinyin

    from transforms.regions import CITY_SUFFIXES, PROVINCE_SUFFIXES, regions, short_name

    r = regions()
    found: dict[str, set[str]] = {}
    names = {short_name(n, PROVINCE_SUFFIXES) for n in r.province_of.values()} | {
        short_name(n, CITY_SUFFIXES) for n in r.city_of.values() if n not in ("市辖区", "县") and not n.endswith("直辖县级行政区划")}
    for name in names:
        if len(name) >= 2:
            found.setdefault("".join(lazy_pinyin(name)), set()).add(name)
    return {py: next(iter(n)) for py, n in found.items() if len(n) == 1}


def _english(name: str) -> CompanyName:
    """An English name of a Chinese company (Wuhan Xianghua Trading Co., Ltd.): the region from a place
    in it, the trade from its trade words, the legal form, and the brand as the pinyin the Chinese
    name's brand has (xianghua for 祥华), so the two names of one company compare. Other English
    names (ACME Corp) keep their words as the brand."""
    words = re.sub(r"[^a-z0-9]+", " ", name.lower().replace("'", "")).split()
    places = _pinyin_regions()
    region = next((places[w] for w in words if w in places), None)
    form = next((_ENGLISH_FORM_WORDS[w] for w in reversed(words) if w in _ENGLISH_FORM_WORDS), None)
    body = [w for w in words if w not in _ENGLISH_FORM_WORDS and not (region and places.get(w) == region)]
    trade = []
    while body and body[-1] in ENGLISH_TRADES:  # trade words close the name, as in Chinese
        trade.insert(0, ENGLISH_TRADES[body.pop()])
    if region is None and not trade:  # no sign of a Chinese company: the words are the brand
        key = re.sub(r"\s+", " ", " ".join(w for w in words if w not in _ENGLISH_FORM_WORDS)).strip() or name.lower()
        return CompanyName(name, key, None, key, None, form, None)
    brand = "".join(body) or None
    industry = "".join(trade) or None
    key = f"{region or ''}|{brand or ''}{industry or ''}{FORM_KEY.get(form, form) or ''}"
    return CompanyName(name, key, region, brand, industry, form, None, trade_key(industry, form))


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
        for pattern in (_TRAILING_NOTE, _LEADING_NOTE, _LEADING_WORD_NOTE):
            if (m := pattern.search(text)) and len(text) - len(m.group(0)) >= 4:
                notes.append(m.group(0))
                text = (text[: m.start()] + text[m.end():]).strip()
                changed = True
        if (after := _after_legal_name(text)) and len(text) - len(after) >= 4:  # 有限公司重复录入, 有限公司作废
            notes.append(after)
            text = text[: -len(after)]
            changed = True
        if changed:
            text = _ANY_BRACKET.sub(bracket, text)
    text = text.strip()
    return (text, "".join(notes)) if notes and text else (name, None)


def _after_legal_name(text: str) -> str | None:
    """What follows the legal name's form (…有限公司) when it is not a branch designation (北京分公司)
    nor a repeated form (有限公司公司, which `_repeated_form` takes off): a note typed after the name."""
    if BRANCH.search(text) or _BRACKETED_BRANCH.search(text):
        return None
    end = max((text.rfind(f) + len(f) for f in _NAME_ENDS if text.rfind(f) > 0), default=-1)
    if end <= 0 or end == len(text):
        return None
    tail = text[end:]
    return None if tail.startswith("(") or tail in FORMS else tail


def _repeated_form(text: str) -> str:
    """有限公司公司 -> 有限公司: a form typed twice."""
    for form in ("公司", "有限公司"):
        if text.endswith("有限公司" + form) and len(text) > len("有限公司" + form):
            return text[: -len(form)]
    return text


def _english_tail(text: str) -> str:
    """奥祥实业 CO.,LTD. -> 奥祥实业有限公司: an English legal form after a Chinese name."""
    if (m := _ENGLISH_TAIL.search(text)) and not text[: m.start()].isascii():
        head = text[: m.start()].strip()
        return head if head.endswith(tuple(FORMS)) else head + "有限公司"
    return text


def _branch_place(head: str) -> tuple[str, str]:
    """(head, place) for a branch name without a legal form before its marker: 通钧科技南京 -> (通钧科技, 南京)."""
    for length in range(min(8, len(head) - 2), 1, -1):
        if is_region(head[-length:]):
            return head[:-length], head[-length:]
    return head, ""


@dataclass(frozen=True)
class TradeVocabulary:
    """The trade words names are read with, and the synonyms folded. Morphemes are looked up by the
    text at a position, longest first: a set lookup per length, not a scan of 500 words per character."""
    morphemes: frozenset
    lengths: tuple
    synonyms: dict

    @classmethod
    def of(cls, words, synonyms: dict) -> TradeVocabulary:
        words = frozenset(words) | frozenset(synonyms) | frozenset(synonyms.values())
        return cls(words, tuple(sorted({len(w) for w in words}, reverse=True)), dict(synonyms))


DEFAULT_VOCABULARY = TradeVocabulary.of(INDUSTRY_MORPHEMES, INDUSTRY_SYNONYM)
# The vocabulary of the run: the defaults, plus the words a config adds (`names.trade_words`).
# Carried to a cluster's workers with each chunk of names (transforms/parallel.py).
_VOCABULARY: ContextVar[TradeVocabulary] = carry(ContextVar("trade_vocabulary", default=DEFAULT_VOCABULARY))


@contextmanager
def trade_vocabulary(words: list[str] | tuple = (), synonyms: dict[str, str] | None = None):
    """Read names with more trade words (a trade the defaults lack: 冷镦, 粉末冶金) and synonyms (a word
    -> the word it means), inside the `with` block; the defaults stay."""
    token = _VOCABULARY.set(TradeVocabulary.of([*INDUSTRY_MORPHEMES, *words], {**INDUSTRY_SYNONYM, **(synonyms or {})}))
    try:
        yield
    finally:
        _VOCABULARY.reset(token)


def split_trade(body: str) -> tuple[str, str | None]:
    """(brand, trade): the longest run of trade morphemes at the end of `body` that leaves a brand of at
    least two characters (信诚电子科技 -> 信诚, 电子科技); at each step the longest morpheme ending there."""
    vocabulary, cut = _VOCABULARY.get(), len(body)
    while True:
        length = next((n for n in vocabulary.lengths if cut - n >= 2 and body[cut - n:cut] in vocabulary.morphemes), None)
        if length is None:
            break
        cut -= length
    return (body[:cut], body[cut:]) if cut < len(body) else (body, None)


def _morphemes(text: str) -> list[str]:
    """`text` read left to right as trade morphemes, longest first; an unknown character is its own."""
    words, rest, vocabulary = [], text, _VOCABULARY.get()
    while rest:
        word = next((rest[:n] for n in vocabulary.lengths if rest[:n] in vocabulary.morphemes), rest[0])
        words.append(word)
        rest = rest[len(word):]
    return words


def _folded_morphemes(trade: str) -> set[str]:
    """The trade's morphemes (an unknown character is its own), synonyms folded."""
    synonyms = _VOCABULARY.get().synonyms
    return {synonyms.get(w, w) for w in _morphemes(trade)}


def trade_words(trade: str | None, form: str | None = None) -> str | None:
    """The trade's morphemes with synonyms folded, generic ones kept, sorted and joined by `|`:
    科技 -> 科技, 电子技术 -> 电子|科技. Two trades where neither word set holds the other (科技 and
    物流) are two companies, even though 科技 alone says too little to be a trade key. A group (集团)
    counts 集团 among its words: 龙顺集团 and 龙顺科技 at one address are a group and its subsidiary,
    while 龙顺 (no trade) may be either."""
    words = _folded_morphemes(trade) if trade else set()
    if form and form.startswith("集团"):
        words.add("集团")
    return "|".join(sorted(words)) or None


def trade_key(trade: str | None, form: str | None = None) -> str | None:
    """The trade as a comparable key: morphemes with synonyms folded and generic ones dropped (电子技术
    and 电子科技 -> 电子); a group with no trade word is its own trade (集团)."""
    if not trade:
        return "集团" if form and form.startswith("集团") else None
    kept = sorted(_folded_morphemes(trade) - INDUSTRY_GENERIC)
    return "".join(kept) or None  # 科技 alone says nothing: 腾飞科技 may be 腾飞电子科技


def _names_a_brand(rest: str) -> bool:
    """Whether `rest` (a name after a city) still holds a brand: two characters or more that are not
    all trade words or a legal form (唐山|宏宝液压 does; 金华|科技有限公司 does not: 金华 was the brand)."""
    form = next((f for f in FORMS if rest.endswith(f)), None)
    brand, _ = split_trade(rest[: -len(form)] if form else rest)
    morphemes = _VOCABULARY.get().morphemes
    return len(brand) >= 2 and any(w not in morphemes for w in _morphemes(brand))  # not trade words only


def parse_company(raw: str | None) -> CompanyName | None:
    m = _ENGLISH_WITH_NOTE.match(unicodedata.normalize("NFKC", str(raw))) if raw is not None else None
    if m and set(re.findall(r"[a-z]+", m.group(1).lower())) & set(_ENGLISH_FORM_WORDS):  # Shanghai Xkai Chemical Co., Ltd. 重复录入
        english = _english(clean_name(m.group(1)))
        return replace(english, annotation=m.group(2).strip())
    name = clean_name(raw)
    if name is None:
        return None
    if name.isascii():
        return _english(name)
    name = _english_tail(name)
    name, notes = strip_notes(name)
    name = _repeated_form(name)
    rest, branch = name, None
    if m := _BRACKETED_BRANCH.search(rest):  # 深圳市宸飞软件有限公司(上海分公司): the branch in brackets
        rest = rest[: m.start()] + m.group(1)
    if m := BRANCH.search(rest):  # the branch and its location: ...有限公司北京分公司
        head = rest[: m.start()]
        cut = max((head.rfind(f) + len(f) for f in FORMS if head.rfind(f) > 0), default=-1)
        if cut > 0:
            branch, rest = head[cut:] + m.group(1), head[:cut]
        else:  # no legal form: the place just before the marker (通钧科技南京办事处)
            rest, place = _branch_place(head)
            branch = place + m.group(1)
    region, rest = region_prefix(rest)
    if region is None:  # 唐山宏宝, 烟台锦天环保: a city beyond the well-known ones, when a brand follows it
        city, after = city_prefix(rest)
        if city is not None and _names_a_brand(after):
            region, rest = city, after
    if region is None and (m := _BRACKET.search(rest)) and (inside := is_region(m.group(1))):
        region, rest = inside, rest[: m.start()] + rest[m.end():]
    form = next((f for f in FORMS if rest.endswith(f)), None)
    body = rest[: -len(form)] if form else rest
    # 深圳市南山区腾飞电子科技: the district is where it is registered, not its brand (the key keeps it).
    district, after = district_prefix(body) if region is not None else (None, body)
    brand, industry = split_trade(after if district is not None and _names_a_brand(after) else body)
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
    return (p.normalized, p.key, p.has_region, p.branch is not None, p.region, p.brand, p.form, p.branch, p.trade_key, trade_words(p.industry, p.form),
            NAME_NOTE_REMOVED if p.annotation else None)


NAME_OUTPUTS = {"name_normalized": pl.String(), "name_key": pl.String(), "name_has_region": pl.Boolean(), "is_branch": pl.Boolean(),
                "name_region": pl.String(), "name_brand": pl.String(), "name_form": pl.String(), "name_branch": pl.String(),
                "name_trade": pl.String(), "name_trade_words": pl.String(), "__name_flag": pl.String()}


def standardize_names(frame: pl.DataFrame, column: str = "name") -> pl.DataFrame:
    """Parsed name columns, and `__name_flag` (name_note_removed) for the rule accountant to add."""
    return map_distinct(frame, column, _row, NAME_OUTPUTS)
