"""Keyed, format-preserving pseudonyms for masked sandbox loads (脱敏). Pure functions, no I/O.

Masking runs after standardization and before validation and duplicate matching, so a masked value
must behave like the real one there: the same (key, method, value) always gives the same pseudonym
(duplicates stay duplicates), and each character keeps its class (digit, ASCII lower/upper case, CJK
ideograph; anything else is kept), so a valid phone or email stays valid and a malformed one stays
malformed the same way. HMAC-SHA256 under a secret key: not reversible, not recomputable without it.
Not idempotent on purpose: masking a masked value changes it again.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import sys
import unicodedata
from array import array
from functools import lru_cache

import phonenumbers
import polars as pl

from transforms.regions import parse_divisions

MIN_KEY_LENGTH = 16
METHODS = ("phone", "email", "person", "address", "name", "redact")
REDACTED = "***"
_DIGITS, _LOWER, _UPPER = "0123456789", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "司徒", "夏侯")
# Forms of address after a surname (王先生, 李总): they say nothing about the person and stay.
TITLES = ("先生", "女士", "小姐", "经理", "总监", "老师", "主任", "总", "工")
# Street and building words stay, so a masked address still reads (and segments) like an address.
ADDRESS_SUFFIXES = ("单元", "大厦", "广场", "中心", "小区", *"路街道巷弄里村号楼栋幢座室层园镇乡")
# 200 common given-name characters: a masked 张伟 reads as a name (张芳), not as line noise.
GIVEN_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏飞建国文辉力斌宇浩凯健俊帆帅旭宁龙林欣怡佳"
    "嘉琪雪梦婷晨阳雨轩子涵梓萱思睿博宏志海波峰亮成云莉丹彬鑫鸿振东晓春秋冬梅慧颖倩瑶琳璐晶洁婉淑雅馨蕾薇"
    "菲妍悦彤诗琦瑞祥福禄寿安康乐永长德仁义礼智信忠诚和顺昌盛兴旺荣达发富贵金银宝珠翠青松柏竹兵武威雄豪毅"
    "坚锋锐正光耀星月天山川河江湖泽润清泉源溪峻岩石森彪虎鹤凤麟韬谦逊立新民中庆玲燕芬凌莹琴蓉娇媛巧美雯雁"
)
# Common place-name characters, none of them in a suffix above (a masked segment gains no suffix).
PLACE_CHARS = (
    "东南西北新华安平和兴民康宁昌盛福泰丰源金山河湖海江桥城田林石岭湾港口坪塘坑岗沙洲水滨溪苑府庄家营屯堡"
    "寨店集坊门台阁亭塔洪湘粤闽浙苏皖赣鲁豫鄂川黔滇陕甘青藏蒙桂琼京津沪渝辽吉冀晋长春光明红星胜利建设人解"
    "放友谊文化科技创业发展工农商贸学体育花公翠竹松柏梅兰荷桃李杏柳枫榕樟桑茶云霞虹彩凤龙虎鹤鹿马牛羊泉井"
    "池潭涌滩坝堤埔围"
)
COMMON_CHARS = "".join(dict.fromkeys(GIVEN_CHARS + PLACE_CHARS))
_SEGMENT = re.compile(r"[\u3400-\u9fff]*?(?P<suf>%s)|[\u3400-\u9fff]+|[0-9]+|[A-Za-z]+|." % "|".join(ADDRESS_SUFFIXES), re.S)
_PHONE_CHUNK = re.compile(r"\+?[0-9](?:[0-9 ()\-]*[0-9])?")


def key_bytes(key: str) -> bytes:
    """The masking key as bytes. Short keys are refused: a guessable key lets anyone recompute the
    pseudonyms of known values. The message names the minimum, never the key."""
    if not isinstance(key, str) or len(key) < MIN_KEY_LENGTH:
        raise ValueError(f"the pseudonymization key must be a string of at least {MIN_KEY_LENGTH} characters")
    return key.encode("utf-8")


@lru_cache(maxsize=8)
def _keyed(key: bytes):
    """An HMAC-SHA256 state with the key absorbed (copying it is cheaper than re-keying per value)."""
    if not isinstance(key, bytes) or len(key) < MIN_KEY_LENGTH:
        raise ValueError(f"the pseudonymization key must be at least {MIN_KEY_LENGTH} bytes (use key_bytes)")
    return hmac.new(key, digestmod=hashlib.sha256)


def _is_cjk(ch: str) -> bool:
    """An assigned CJK unified ideograph (basic block, extensions A-H; not compatibility ideographs)."""
    o = ord(ch)
    return (0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2EBEF or 0x30000 <= o <= 0x323AF) and unicodedata.category(ch) == "Lo"


_ASCII = {**dict.fromkeys(_DIGITS, _DIGITS), **dict.fromkeys(_LOWER, _LOWER), **dict.fromkeys(_UPPER, _UPPER)}


@lru_cache(maxsize=None)
def _classes(cjk: str) -> dict[str, str]:
    """Each maskable character of the BMP -> the alphabet it is drawn from: one lookup a character."""
    cjk_chars = (chr(o) for o in (*range(0x3400, 0x4DC0), *range(0x4E00, 0xA000)))
    return {**_ASCII, **{ch: cjk for ch in cjk_chars if _is_cjk(ch)}}


def _fill(text: str, key: bytes, tag: bytes, counter: int, cjk: str, start: int, end: int) -> str:
    """text[start:end] with each maskable character replaced within its class, drawn by HMAC of
    (method tag, attempt counter, text); other characters as they are."""
    message, blocks = b"%s\x1f%d\x1f" % (tag, counter) + text.encode("utf-8", "surrogatepass"), []
    for block in range((2 * (end - start) + 31) // 32):  # two bytes a character
        h = _keyed(key).copy()
        h.update(b"%d\x1f" % block + message)
        blocks.append(h.digest())
    draws, get = array("H", b"".join(blocks)), _classes(cjk).get
    if sys.byteorder == "big":  # little-endian draws: the same pseudonyms on every machine
        draws.byteswap()
    return text[:start] + "".join([
        a[d % len(a)] if (a := get(ch) or (cjk if ch > "\uffff" and _is_cjk(ch) else None)) else ch
        for ch, d in zip(text[start:end], draws)
    ]) + text[end:]


def _derive(text: str, key: bytes, tag: bytes, cjk: str, start: int = 0, end: int | None = None, ok=None) -> str | None:
    """The keyed mask of text[start:end]; derived again (next counter) while it equals the input or
    `ok` rejects it, so a value with something to mask never comes back unchanged. None when `ok`
    rejected every attempt."""
    end = len(text) if end is None else end
    if start >= end:
        return text
    for counter in range(32):
        out = _fill(text, key, tag, counter, cjk, start, end)
        if out == text and not any(c in _ASCII or _is_cjk(c) for c in text[start:end]):
            return text  # nothing maskable
        if out != text and (ok is None or ok(out)):
            return out
    return None if ok else out


_CALLING_CODES = frozenset(str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
_NOT_DIGIT = re.compile(r"[^0-9]")


@lru_cache(maxsize=None)
def _validity(country_code: str):
    """One regex for phonenumbers.is_valid_number on the national numbers of a calling code with
    one region (+86): its general pattern and any type's pattern, each with its lengths. The
    library's own test costs ten pattern lookups per call. None: ask the library."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(country_code), ())
    meta = phonenumbers.PhoneMetadata.metadata_for_region(regions[0]) if len(regions) == 1 else None
    if meta is None or not meta.general_desc.national_number_pattern:
        return None
    def alternative(desc) -> str:
        lengths = "|".join(r"[0-9]{%d}\Z" % n for n in desc.possible_length)
        return (f"(?={lengths})" if lengths else "") + f"(?:{desc.national_number_pattern})\\Z"
    kinds = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail", "fixed_line", "mobile")
    descs = [d for d in (getattr(meta, k) for k in kinds) if d is not None and d.national_number_pattern]
    strip = re.compile(meta.national_prefix_for_parsing or "(?!)")  # parse() may take such a prefix off: ask it
    return re.compile(f"(?={alternative(meta.general_desc)})(?:{'|'.join(map(alternative, descs))})"), strip


def _country_length(digits: str) -> int:
    """Length of the calling code at the start of the digits after a '+' (86, 1, 852); codes are prefix-free."""
    return 2 if digits[:2] in _CALLING_CODES and len(digits) > 2 else next((n for n in (1, 3) if len(digits) > n and digits[:n] in _CALLING_CODES), 0)


def _phone_valid(digits: str, plus: bool) -> bool:
    """Whether phonenumbers takes the digits (after '+', or as a Chinese number) as a valid number."""
    cc = _country_length(digits) if plus else 0
    patterns = _validity(digits[:cc]) if cc else None
    if patterns is None or patterns[1].match(digits, cc):
        try:
            return phonenumbers.is_valid_number(phonenumbers.parse(("+" if plus else "") + digits, "CN"))
        except phonenumbers.NumberParseException:
            return False
    return patterns[0].match(digits, cc) is not None


def _phone_keep(digits: str, plus: bool) -> int:
    """Leading digits that stay: the country code, then a mobile's carrier prefix (138) or a
    landline's trunk 0, area code (10, 2x, 3 digits) and its local number's first digit. Short runs
    (extensions, fragments) keep only a country code."""
    cc = _country_length(digits) if plus else 0
    if len(digits) < 7:
        return cc
    trunk = 1 if not plus and digits[0] == "0" else 0
    national = digits[cc + trunk:]
    mobile = national[:1] == "1" and national[:2] != "10"
    return cc + trunk + (3 if mobile or national.startswith(("10", "2")) else 4)


def _mask_phone_chunk(chunk: str, key: bytes) -> str:
    """One number: masked past its kept prefix, as valid (per phonenumbers) as it was."""
    plus = chunk.startswith("+")
    digits = _NOT_DIGIT.sub("", chunk)
    valid = _phone_valid(digits, plus)
    ok = lambda out: _phone_valid(_NOT_DIGIT.sub("", out), plus) == valid  # noqa: E731
    positions = [i for i, c in enumerate(chunk) if "0" <= c <= "9"]
    keep = _phone_keep(digits, plus)
    for extra in (0, 1, 2, 3):  # a prefix whose numbers are rarely valid: keep more of it
        start = positions[keep + extra] if keep + extra < len(positions) else len(chunk)
        out = _derive(chunk, key, b"phone", COMMON_CHARS, start, len(chunk), ok)
        if out is not None:
            return out
    return _derive(chunk, key, b"phone", COMMON_CHARS, start, len(chunk))  # validity not reachable: masked anyway


def mask_phone(value: str | None, key: bytes) -> str | None:
    """Each number in the value masked on its own (the same number in `phone` and `phone_other`
    masks alike); separators, '+' and `;ext=` stay."""
    return value and _PHONE_CHUNK.sub(lambda m: _mask_phone_chunk(m.group(), key), value)


def mask_email(value: str | None, key: bytes) -> str | None:
    """The local part masked by class, '@' and the domain kept exactly (typo-domain detection and the
    syntax check see the same domain). Keyed by the local part: zhang@qq.com and zhang@qq.con stay a
    pair. Without an '@' the whole value is masked."""
    at = value.rfind("@") if value else -1
    return value and (_derive(value, key, b"email", COMMON_CHARS) if at < 0 else _derive(value[:at], key, b"email", COMMON_CHARS) + value[at:])


def mask_person(value: str | None, key: bytes) -> str | None:
    """A Chinese name keeps its surname (欧阳 as one) and a trailing form of address (先生, 总), the
    given name drawn from common given-name characters; other names are masked by class."""
    if not value:
        return value
    cjk = sum(map(_is_cjk, value))
    if cjk >= 2 and all(_is_cjk(c) or c in "·•・" for c in value):
        head = 2 if value[:2] in COMPOUND_SURNAMES and cjk >= 3 else 1
        tail = next((len(t) for t in TITLES if value.endswith(t) and len(value) - len(t) >= head), 0)
        return _derive(value, key, b"person", GIVEN_CHARS, head, len(value) - tail)
    return _derive(value, key, b"person", GIVEN_CHARS)


@lru_cache(maxsize=1 << 16)
def _mask_segment(segment: str, keep: int, key: bytes) -> str:
    """One address segment, its last `keep` characters (the suffix) kept; streets repeat: cached."""
    return _derive(segment, key, b"address", PLACE_CHARS, 0, len(segment) - keep)


_ALNUM = re.compile(r"[0-9A-Za-z]")


@lru_cache(maxsize=1 << 16)
def _divisions_end(head: str) -> int:
    """Where the divisions end, read from the address up to a few characters past its first digit
    or letter: division names have neither, and the road test after a name (南京东2路) reads at
    most four characters on. Many addresses share that head, so it is parsed once."""
    return parse_divisions(head)[3]


def mask_address(value: str | None, key: bytes) -> str | None:
    """Province/city/district kept; the rest masked segment by segment (科苑路, 15, 号, 创维大厦, A, 座,
    1203, 室), each keyed by its own text and keeping its street/building suffix: addresses sharing a
    street share its masked form, so address similarity between records survives."""
    if not value:
        return value
    head = _ALNUM.search(value)
    pos = _divisions_end(value[: head.start() + 4] if head else value)
    segments = (_mask_segment(m.group(), len(m.group("suf") or ""), key) for m in _SEGMENT.finditer(value, pos))
    return value[:pos] + "".join(segments)


def mask_name(value: str | None, key: bytes) -> str | None:
    """Generic free text (a title, a note): every character masked by class."""
    return value and _derive(value, key, b"name", COMMON_CHARS)


def redact(value: str | None, key: bytes | None = None) -> str | None:
    """A fixed placeholder, for fields that need not survive (null and "" stay as they are)."""
    return value and REDACTED


def _method(method: str):
    """The masking function of a method name, refusing unknown names."""
    functions = {"phone": mask_phone, "email": mask_email, "person": mask_person, "address": mask_address, "name": mask_name, "redact": redact}
    if method not in functions:
        raise ValueError(f"unknown masking method {method!r}; expected one of {', '.join(METHODS)}")
    return functions[method]


def mask_value(method: str, value, key: bytes) -> str | None:
    """Mask one value with `method` (one of METHODS). Null stays null, "" stays ""."""
    fn = _method(method)
    _keyed(key)  # refuse a short key even for values with nothing to mask
    return None if value is None else fn(value if isinstance(value, str) else str(value), key)


def mask_column(series: pl.Series, method: str, key: bytes) -> pl.Series:
    """Mask a column: each distinct value once in Python, mapped back to the rows by polars."""
    fn = _method(method)
    _keyed(key)
    text = series.cast(pl.String)
    distinct = text.drop_nulls().unique()
    masked = pl.Series([fn(v, key) for v in distinct.to_list()], dtype=pl.String)
    return text.replace_strict(distinct, masked, default=None, return_dtype=pl.String).alias(series.name)


def mask_fields(frame: pl.DataFrame, methods: dict[str, str], key: bytes) -> pl.DataFrame:
    """The frame with each column `methods` names (field -> method) masked; other columns as they are."""
    present = [c for c in methods if c in frame.columns]
    return frame.with_columns([mask_column(frame.get_column(c), methods[c], key) for c in present]) if present else frame
