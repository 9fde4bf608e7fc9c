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

import numpy as np
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
    keys, rules_of = np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.uint32)  # pair key i * n + j, sorted
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
        keyed = keyed.with_columns(pl.len().over(columns).alias("__n"))
        sizes = keyed.group_by(columns).agg(pl.first("__n"))
        big = sizes.filter(pl.col("__n") > max_block_size)
        report.skipped_blocks.append(big.height)
        report.skipped_records.append(int(big["__n"].sum()))
        report.largest_block.append(int(sizes["__n"].max() or 0))
        usable = keyed.filter((pl.col("__n") > 1) & (pl.col("__n") <= max_block_size))
        if within_city and not (set(columns) & STRONG_KEYS) and CITY not in columns and CITY in features.columns:
            # A name rule: pairs in one city, or with a record that states none (never two cities).
            usable = usable.join(indexed.select(INDEX, CITY), on=INDEX, how="left")
            stated = usable.filter(pl.col(CITY).is_not_null())
            i, j = _block_pairs(stated, [*columns, CITY])
            oi, oj = _block_pairs(usable.with_columns(pl.col(CITY).is_null().alias("__open")), columns, lead="__open")
            i, j = np.concatenate([i, oi]), np.concatenate([j, oj])
        else:
            i, j = _block_pairs(usable, columns)
        key = pl.Series("key", i.astype(np.uint64) * n + j)
        if len(columns) == 1 and columns[0] in alternates:  # two records sharing both their numbers share two blocks
            key = key.unique()
        report.pairs.append(key.len())
        keys, rules_of = _union(keys, rules_of, key.sort().to_numpy(), 1 << r)
    pairs = pl.DataFrame({"i": pl.Series(keys // n, dtype=pl.UInt32), "j": pl.Series(keys % n, dtype=pl.UInt32),
                          "rules": pl.Series(rules_of, dtype=pl.UInt32)})
    return pairs, report


def _union(keys: np.ndarray, bits: np.ndarray, new: np.ndarray, bit: int) -> tuple[np.ndarray, np.ndarray]:
    """The sorted pair keys `keys` (with their rule bits) and the sorted keys `new` of rule `bit`,
    as one sorted set: a pair proposed by several rules is one pair with their bits or-ed. Merged
    rule by rule, memory holds the pairs once (not every rule's pairs at once for one big sort)."""
    at = np.searchsorted(keys, new)
    known = at < keys.size
    known[known] = keys[at[known]] == new[known]
    bits[at[known]] |= bit
    fresh = new[~known]
    if not fresh.size:
        return keys, bits
    merged = np.concatenate([keys, fresh])
    order = pl.Series(merged).arg_sort().to_numpy()
    return merged[order], np.concatenate([bits, np.full(fresh.size, bit, dtype=np.uint32)])[order]


def _block_pairs(keyed: pl.DataFrame, columns: list[str], lead: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (i < j) of records sharing the key `columns`, as two position arrays; with `lead`
    (a boolean column), only the pairs holding at least one record where it is true. Built from the
    block sizes with numpy (each record pairs with the records after it in its block, the lead
    records sorted first), so memory holds the pairs, not a join's both directions and hash tables."""
    if keyed.is_empty():
        return np.empty(0, dtype=np.uint32), np.empty(0, dtype=np.uint32)
    ordered = keyed.sort([*columns, *([pl.col(lead).not_()] if lead else []), INDEX])
    index = ordered.get_column(INDEX).to_numpy()
    block = ordered.select(pl.struct(columns).rle_id()).to_series().to_numpy()
    starts = np.flatnonzero(np.r_[True, block[1:] != block[:-1]])
    size = np.diff(np.r_[starts, block.size])
    offset = np.arange(block.size) - np.repeat(starts, size)  # position inside the block
    after = np.repeat(size, size) - offset - 1  # records after this one in its block
    if lead:
        after[~ordered.get_column(lead).to_numpy()] = 0
    total = int(after.sum())
    left = np.repeat(np.arange(block.size), after)
    # The k-th partner of a record is the k-th record after it: position = left + 1 + k.
    right = left + 1 + (np.arange(total) - np.repeat(np.cumsum(after) - after, after))
    i, j = index[left], index[right]
    return (np.minimum(i, j), np.maximum(i, j)) if lead else (i, j)
