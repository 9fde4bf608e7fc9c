"""Blocking: which record pairs are worth comparing.

Comparing every pair of a million records is 5·10^11 comparisons; comparing the pairs that share a
key (a credit code, a phone, a brand within a city, the pinyin of a brand) is a few million, and
loses only the pairs that share none. Each rule is a list of feature columns; a pair is a candidate
when it agrees on all the columns of any rule. A block (records sharing a key) larger than
`max_block_size` is skipped and reported: a switchboard phone shared by 5,000 records would make
12.5 million pairs that say nothing. Blocks are independent, so they can be spread over workers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

INDEX = "__i"  # the record's position in the feature frame


@dataclass
class BlockingReport:
    rules: list[list[str]]
    pairs: list[int] = field(default_factory=list)  # candidate pairs each rule found (before the union)
    skipped_blocks: list[int] = field(default_factory=list)  # blocks over the cap, per rule
    skipped_records: list[int] = field(default_factory=list)
    largest_block: list[int] = field(default_factory=list)

    def as_dicts(self) -> list[dict]:
        return [{"rule": " & ".join(r), "pairs": p, "skipped_blocks": s, "skipped_records": sr, "largest_block": lb}
                for r, p, s, sr, lb in zip(self.rules, self.pairs, self.skipped_blocks, self.skipped_records, self.largest_block)]

    def warnings(self) -> list[str]:
        return [f"blocking rule {' & '.join(r)}: {s:,} blocks over the cap ({sr:,} records, largest {lb:,}) were not compared on it"
                for r, s, sr, lb in zip(self.rules, self.skipped_blocks, self.skipped_records, self.largest_block) if s]


# Keys that tie two records to one company by themselves; a pair sharing none of them, in two
# different cities, can never merge (see match_model.HARD_RULES) and is not worth scoring.
STRONG_KEYS = {"m_code", "m_org", "m_reg", "m_phone", "m_email", "m_address", "m_street"}
CITY = "m_city"


def candidate_pairs(features: pl.DataFrame, rules: list[list[str]], max_block_size: int,
                    within_city: bool = True, alternates: dict[str, str] | None = None) -> tuple[pl.DataFrame, BlockingReport]:
    """(pairs, report). pairs: `i` < `j` (positions in `features`) and `rules`, a bit mask of the
    rules that proposed the pair (bit r for rules[r]). With `within_city` (the company model), a name
    rule (no identifier, phone, mail or address in it) never pairs records of two different cities:
    they could not merge (see match_model.HARD_RULES), and a brand shared across the country makes
    millions of such pairs. `alternates`: a one-column rule on a column listed here also keys each
    record by its alternate value (a second phone), coded alike."""
    report = BlockingReport(rules)
    found = []
    alternates = {c: a for c, a in (alternates or {}).items() if a in features.columns}
    used = {c for r in rules for c in r} | ({CITY} if within_city and CITY in features.columns else set())
    used |= {alternates[c] for c in used if c in alternates}
    indexed = features.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias(INDEX), *sorted(used))
    n = features.height
    for r, columns in enumerate(rules):
        keyed = indexed.select(INDEX, *columns).drop_nulls(columns)
        if len(columns) == 1 and columns[0] in alternates:  # each record under each of its values
            second = indexed.select(INDEX, pl.col(alternates[columns[0]]).alias(columns[0])).drop_nulls(columns)
            keyed = pl.concat([keyed, second]).unique()
        text = [c for c in columns if keyed.schema[c] == pl.String]
        if text:  # an empty text is no key (integer codes come with it already null)
            keyed = keyed.filter(pl.all_horizontal([pl.col(c) != "" for c in text]))
        sizes = keyed.group_by(columns).len()
        big = sizes.filter(pl.col("len") > max_block_size)
        report.skipped_blocks.append(big.height)
        report.skipped_records.append(int(big["len"].sum()))
        report.largest_block.append(int(sizes["len"].max() or 0))
        usable = keyed.join(sizes.filter((pl.col("len") > 1) & (pl.col("len") <= max_block_size)).select(columns), on=columns, how="semi")
        if not within_city or set(columns) & STRONG_KEYS or CITY in columns or CITY not in features.columns:
            pairs = _self_pairs(usable, columns, n)
            if len(columns) == 1 and columns[0] in alternates:  # two records sharing both their numbers
                pairs = pairs.unique()
        else:  # a name rule: pairs in one city, or with a record that states none (never two cities)
            usable = usable.join(indexed.select(INDEX, CITY), on=INDEX, how="left")
            same_city = _self_pairs(usable.filter(pl.col(CITY).is_not_null()), [*columns, CITY], n)
            open_ = usable.filter(pl.col(CITY).is_null()).select(INDEX, *columns)
            either = (open_.join(usable.select(INDEX, *columns), on=columns, how="inner", suffix="_b")
                      .filter(pl.col(INDEX) != pl.col(f"{INDEX}_b"))
                      .select(_pair_key(pl.min_horizontal(INDEX, f"{INDEX}_b"), pl.max_horizontal(INDEX, f"{INDEX}_b"), n)))
            pairs = pl.concat([same_city, either]).unique()
        report.pairs.append(pairs.height)
        found.append(pairs.with_columns(pl.lit(1 << r, dtype=pl.UInt32).alias("rules")))
    if not found:
        return pl.DataFrame(schema={"i": pl.UInt32, "j": pl.UInt32, "rules": pl.UInt32}), report
    # One row per pair, the rules that proposed it or-ed together; a pair is one integer until here.
    pairs = pl.concat(found).group_by("key").agg(pl.col("rules").bitwise_or()).sort("key")
    pairs = pairs.select((pl.col("key") // n).cast(pl.UInt32).alias("i"), (pl.col("key") % n).cast(pl.UInt32).alias("j"), "rules")
    return pairs, report


def _pair_key(i: pl.Expr, j: pl.Expr, n: int) -> pl.Expr:
    return (i.cast(pl.UInt64) * n + j.cast(pl.UInt64)).alias("key")


def _self_pairs(frame: pl.DataFrame, on: list[str], n: int) -> pl.DataFrame:
    return (frame.select(INDEX, *on).join(frame.select(INDEX, *on), on=on, how="inner", suffix="_b")
            .filter(pl.col(INDEX) < pl.col(f"{INDEX}_b"))
            .select(_pair_key(pl.col(INDEX), pl.col(f"{INDEX}_b"), n)))
