"""A credit code dragged onto the next row: another company's code, not this record's.

In a hand-kept workbook, Excel's fill handle (or a paste one row too long) copies a code onto the
row below. The code is valid, so nothing in the code itself tells; but a valid code is the
registry's identity and merges whatever the names say (a rename), so a copied code would merge two
companies. The accident has a signature a rename lacks: the two records are neighbours in one
source, hold the same code, and their names say two companies: names not alike (not the same brand,
pinyin or characters, brand ratio below DIFFERENT_BRAND) with no phone, mail, door plate or contact
in common, or one brand with two trades (sister companies, who share a switchboard and an address
anyway). The lower record's code is then doubtful: it identifies nothing (the record is matched on its other fields),
it never becomes a golden record's code, and the record is flagged.
"""
from __future__ import annotations

import polars as pl
from rapidfuzz import fuzz, process

from crm_migrate.contracts import CODE_COPIED_FROM_ROW_ABOVE, ROW, SOURCE
from crm_migrate.flags import add_flag
from transforms.credit_code import DOUBTFUL

DIFFERENT_BRAND = 60  # rapidfuzz ratio below which two brands are not alike (the brand comparison's last level)
# Fields that, equal on both rows, say the two records may be one company after all.
SHARED_EVIDENCE = ("m_phone", "m_email", "m_street", "m_contact")
NAME_FORMS = ("m_brand", "m_pinyin", "m_chars")


def copied_down(features: pl.DataFrame) -> pl.Series:
    """True for a record whose credit code equals that of the record above it in its source (by
    row) while the two names say two companies. `features`: match features (transforms/match_features)."""
    columns = ("m_code", *NAME_FORMS, "m_trade", "m_trade_words", "m_city", *SHARED_EVIDENCE)
    ordered = features.select(SOURCE, ROW, *columns).with_row_index("__pos").sort(SOURCE, ROW)
    above = ordered.select([pl.col(c).shift(1).over(SOURCE) for c in columns])
    same = lambda c: (ordered[c] == above[c]).fill_null(False)  # noqa: E731
    pairs = ordered.filter(same("m_code"))
    out = pl.Series("copied", [False] * features.height, dtype=pl.Boolean)
    if pairs.is_empty():
        return out
    above = above.filter(same("m_code"))
    eq = lambda c: (pairs[c] == above[c]).fill_null(False)  # noqa: E731
    ratio = process.cpdist(pairs["m_brand"].fill_null("").to_list(), above["m_brand"].fill_null("").to_list(), scorer=fuzz.ratio, workers=-1)
    alike = eq("m_brand") | eq("m_pinyin") | eq("m_chars") | pl.Series(ratio >= DIFFERENT_BRAND)
    shared = pl.Series([False] * pairs.height, dtype=pl.Boolean)
    for c in SHARED_EVIDENCE:
        shared = shared | eq(c)
    # 华创新医药 above 华创新物流集团: sister companies (one brand, trades neither of which holds the other),
    # which share a switchboard and an address, so sharing them says nothing here.
    a, b = pairs["m_trade"], above["m_trade"]
    other_trade = (a.is_not_null() & b.is_not_null() & ~eq("m_trade") & ~a.str.contains(b, literal=True) & ~b.str.contains(a, literal=True)).fill_null(False)
    words_a, words_b = pairs["m_trade_words"].str.split("|"), above["m_trade_words"].str.split("|")
    nested = (words_a.list.set_difference(words_b).list.len() == 0) | (words_b.list.set_difference(words_a).list.len() == 0)
    sister = alike & (other_trade | ~nested.fill_null(True))
    # 武汉弘汇信息技术 above 深圳弘汇信息技术, sharing no phone, mail, street or person: one 字号 in two
    # cities is two companies (the code says where it was issued, and it is not both).
    elsewhere = alike & ~shared & (pairs["m_city"].is_not_null() & above["m_city"].is_not_null() & ~eq("m_city")).fill_null(False)
    return out.scatter(pairs.filter((~alike & ~shared) | sister | elsewhere).get_column("__pos"), True)


def distrust_copied_codes(features: pl.DataFrame) -> pl.DataFrame:
    """Match features with copied codes taken out: no `m_code` or `m_org` from them, status
    `doubtful`, flagged."""
    copied = copied_down(features)
    if not copied.any():
        return features
    return add_flag(features.with_columns(
        pl.when(copied).then(None).otherwise(pl.col("m_code")).alias("m_code"),
        pl.when(copied).then(None).otherwise(pl.col("m_org")).alias("m_org"),
        pl.when(copied).then(pl.lit(DOUBTFUL)).otherwise(pl.col("credit_code_status")).alias("credit_code_status"),
    ), copied, CODE_COPIED_FROM_ROW_ABOVE)
