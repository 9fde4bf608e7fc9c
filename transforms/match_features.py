"""What resolution compares, one column per comparison, derived once per customer record.

Every value is cleaned for comparing, not for showing: the brand (字号) without region, trade words,
legal form and notes, its pinyin for homophones (同音字), the trade as folded morphemes (电子科技 =
电子技术), cities from the name and from the address, registry identifiers by kind, a private mail
domain (qq.com says nothing about a company), the address without its province and city.
"""
from __future__ import annotations

from functools import lru_cache

import polars as pl

from crm_migrate.contracts import LEGACY_ORG_CODE, LEGACY_REG_NUMBER, LEGACY_TAX_NUMBER
from transforms.credit_code import USABLE
from transforms.distinct import joined_on, map_distinct
from transforms.names import BRANCH_MARKER_AT_END, INFORMAL_FORMS
from transforms.regions import CITY_SUFFIXES, PROVINCE_SUFFIXES, regions, short_name

# Mail domains anyone can register an address with: a shared one is no evidence of one company.
PUBLIC_MAIL_DOMAINS = frozenset({
    "qq.com", "163.com", "126.com", "yeah.net", "sina.com", "sina.cn", "sohu.com", "139.com", "189.cn", "wo.cn", "aliyun.com",
    "foxmail.com", "gmail.com", "hotmail.com", "outlook.com", "live.com", "yahoo.com", "yahoo.com.cn", "msn.com", "icloud.com",
    "263.net", "tom.com", "21cn.com", "vip.qq.com", "vip.163.com", "vip.sina.com",
})

# Feature columns (prefix `m_`), in the order the model lists its comparisons.
FEATURES = ("m_code", "m_org", "m_reg", "m_brand", "m_pinyin", "m_chars", "m_brand_digits", "m_trade", "m_trade_words", "m_form", "m_branch", "m_name_city",
            "m_addr_city", "m_city", "m_phone", "m_phone2", "m_email", "m_mail_domain", "m_address", "m_street", "m_contact")


@lru_cache(maxsize=4096)
def region_levels(short: str | None) -> tuple[str | None, str | None]:
    """(city, province) of a short region name from a company name: 深圳 -> (深圳, 广东); 广东 -> (None,
    广东); 北京 -> (北京, 北京)."""
    if not short:
        return None, None
    r = regions()
    codes = r.cities.get(short) or r.cities.get(short + "市")
    if codes and len(codes) == 1:
        return short, short_name(r.province_name(codes[0]), PROVINCE_SUFFIXES)
    if short in r.provinces:
        province = short_name(r.province_of[r.provinces[short]], PROVINCE_SUFFIXES)
        municipality = r.province_of[r.provinces[short]].endswith("市")
        return (province if municipality else None), province
    return None, None


def _char_pinyin(char: str | None) -> tuple:
    if not char:
        return (None,)
    from pypinyin import lazy_pinyin

    return ("".join(lazy_pinyin(char)),)


def pinyin_of(frame: pl.DataFrame, column: str, output: str) -> pl.DataFrame:
    """Toneless pinyin of each value, syllables joined: 腾飞 -> `tengfei` (as an English name writes the
    brand: Tengfei Electronics). Looked up once per distinct character (brands share a few thousand
    characters), not once per distinct brand."""
    chars = (frame.select(pl.col(column).unique().drop_nulls()).with_columns(pl.col(column).str.split("").alias("__c"))
             .explode("__c"))
    chars = map_distinct(chars, "__c", _char_pinyin, {"__py": pl.String()})
    table = chars.group_by(column, maintain_order=True).agg(pl.col("__py").str.join("").alias(output))
    return frame.drop(output, strict=False).with_columns(joined_on(frame, column, table, column).get_columns())


def match_features(customers: pl.DataFrame) -> pl.DataFrame:
    """Add the `m_*` columns to canonical customer records (standardized names, codes, phones,
    addresses). Python runs once per distinct value (brands, regions), never per record."""
    status = pl.col("credit_code_status")
    flags = pl.col("_flags")
    code = pl.col("credit_code")
    valid = status.is_in(USABLE)
    df = customers.with_columns(
        pl.when(valid).then(code).alias("m_code"),
        # The organization code (GB 11714) a credit code embeds, or a legacy one typed instead (alone,
        # or in a tax registration number after its division).
        pl.when(valid).then(code.str.slice(8, 9))
        .when(flags.list.contains(LEGACY_ORG_CODE)).then(code.str.replace_all("-", ""))
        .when(flags.list.contains(LEGACY_TAX_NUMBER)).then(code.str.slice(6, 9)).alias("m_org"),
        pl.when(flags.list.contains(LEGACY_REG_NUMBER)).then(code).alias("m_reg"),
        pl.col("name_brand").alias("m_brand"),
        pl.col("name_brand").str.split("").list.unique().list.sort().list.join("").alias("m_chars"),
        # 华联1店 and 华联2店, 客户001 and 客户002: numbers in a brand tell companies apart.
        pl.col("name_brand").str.extract_all(r"\d+").list.join(",").alias("m_brand_digits"),
        pl.col("name_trade").alias("m_trade"),
        pl.col("name_trade_words").alias("m_trade_words"),
        pl.col("name_form").replace({"有限责任公司": "有限公司", **INFORMAL_FORMS}).alias("m_form"),
        pl.col("name_branch").fill_null("").alias("m_branch"),
        # The number without its extension (the switchboard is the company's); a second number in
        # the cell (a mobile beside the switchboard) matches either number of another record.
        pl.col("phone").str.replace(r";ext=.*$", "").alias("m_phone"),
        pl.col("phone_other").str.split(";").list.first().str.replace(r";ext=.*$", "").alias("m_phone2"),
        pl.col("email").str.to_lowercase().alias("m_email"),
        # A person's record names the person twice (杨丽, contact 杨丽): the contact adds nothing then.
        pl.when(pl.col("contact_name") != pl.col("name_brand")).then(pl.col("contact_name")).alias("m_contact"),
    )
    # A legacy organization code embedded in two different credit codes identifies neither.
    shared = df.filter(pl.col("m_code").is_not_null()).group_by("m_org").agg(pl.col("m_code").n_unique().alias("__n")).filter(pl.col("__n") > 1)
    df = df.with_columns(pl.when(pl.col("m_code").is_null() & pl.col("m_org").is_in(shared["m_org"].implode())).then(None)
                         .otherwise(pl.col("m_org")).alias("m_org"))
    df = df.with_columns(
        pl.col("m_email").str.split("@").list.last().alias("__domain"),
    ).with_columns(pl.when(pl.col("m_email").str.contains("@") & ~pl.col("__domain").is_in(sorted(PUBLIC_MAIL_DOMAINS)))
                   .then(pl.col("__domain")).alias("m_mail_domain")).drop("__domain")
    df = pinyin_of(df, "m_brand", "m_pinyin")
    # The city a name states: a branch's own place (…有限公司宁波分公司 is in 宁波, whatever its head
    # office's region), else the region.
    place = pl.when(pl.col("m_branch") != "").then(pl.col("m_branch").str.replace(BRANCH_MARKER_AT_END, "")).otherwise(pl.col("name_region"))
    df = map_distinct(df.with_columns(place.alias("__place")), "__place", lambda r: (region_levels(r)[0],), {"m_name_city": pl.String()}).drop("__place")
    df = map_distinct(df, "city", lambda c: (short_name(c, CITY_SUFFIXES) if c else None,), {"m_addr_city": pl.String()})
    df = df.with_columns(pl.coalesce("m_name_city", "m_addr_city").alias("m_city"))
    # The address without the province and city it starts with: 广东省深圳市南山区... = 深圳市南山区...
    addr = pl.col("address").str.replace_all(r"\s+", "")
    for part in ("province", "city"):
        addr = pl.when(pl.col(part).is_not_null() & addr.str.starts_with(pl.col(part))).then(addr.str.slice(pl.col(part).str.len_chars())).otherwise(addr)
    df = df.with_columns(addr.alias("m_address"))
    # The door plate (门牌: district, road and number, up to 号 or 弄): 南山区科技园路88号 with or
    # without 腾讯大厦1203室 is one building; the room is often left out.
    return df.with_columns(pl.col("m_address").str.extract(r"^(.*?\d+[号弄])", 1).alias("m_street"))
