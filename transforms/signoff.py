"""The sign-off sample (抽样核对): which migrated golden customers a person checks by hand before
go-live, and what their answers say about the whole run.

Pure logic, no files: the strata, the stratified draw and the acceptance statistics.

Why stratified: a plain random draw of 20 customers from a run where 3% of the customers were
merged from two sources will, more often than not, contain no such merge at all, and merges are
where a migration goes wrong. So the population is cut into strata by what could go wrong (which
sources a customer came from, merged or single, flagged or not), each stratum gets its share of the
sample (proportional) but at least one customer when the sample is large enough, and every kind of
customer the run produced is looked at.

Why a keyed hash and not a random generator: the same seed draws the same customers on every
machine and after an upgrade (as `run --sample` does, transforms/sample.py), so a workbook can be
drawn again and compared; a different seed draws another sample.
"""
from __future__ import annotations

import hashlib
import math

import polars as pl

from crm_migrate.contracts import CUSTOMER, ROW, SOURCE, SOURCE_KEY

TARGET_ID = "target_id"
STRATUM = "stratum"
SOURCES, MERGED, FLAGGED = "sources", "merged", "flagged"
POPULATION, SAMPLED = "customers", "sampled"
YES, NO = "yes", "no"
# What a reviewer may type: the list's own values, their first letters, Chinese 是/否, 对/错, 正确/错误, ticks and crosses.
_ANSWERS = {"yes": YES, "y": YES, "是": YES, "对": YES, "正确": YES, "true": YES, "✓": YES, "✔": YES,
            "no": NO, "n": NO, "否": NO, "错": NO, "错误": NO, "不对": NO, "false": NO, "✗": NO, "✘": NO}
Z95 = 1.959963984540054  # the standard normal quantile of 0.975: a two-sided 95% interval


def strata(population: pl.Series, members: pl.DataFrame, ledger: pl.DataFrame) -> pl.DataFrame:
    """One row per golden id of `population`: its sources (the sorted set of its member records'
    sources, joined by +), merged (more than one member record), flagged (any member record has a
    flag in the ledger) and the stratum label (`erp_export+legacy_crm · merged · flagged`).

    `members`: golden_members (lineage and target_id per clustered customer record); `ledger`: the
    run's ledger (its customer rows' `flags`, joined to the members by source, key and row: a key
    may repeat in a source, a record's row does not)."""
    flags = (ledger.filter(pl.col("entity") == CUSTOMER)
             .select(pl.col("source").alias(SOURCE), pl.col("source_key").alias(SOURCE_KEY), pl.col("source_row").alias(ROW),
                     (pl.col("flags").fill_null("").str.strip_chars() != "").alias("__flagged")))
    per_customer = (members.select(SOURCE, SOURCE_KEY, ROW, TARGET_ID)
                    .join(flags, on=[SOURCE, SOURCE_KEY, ROW], how="left", nulls_equal=True)
                    .group_by(TARGET_ID)
                    .agg(pl.col(SOURCE).unique().sort().str.join("+").alias(SOURCES), (pl.len() > 1).alias(MERGED),
                         pl.col("__flagged").fill_null(False).any().alias(FLAGGED)))
    out = (pl.DataFrame({TARGET_ID: population.cast(pl.String)}).unique(maintain_order=True)
           .join(per_customer, on=TARGET_ID, how="left")
           .with_columns(pl.col(SOURCES).fill_null("(no member records)"), pl.col(MERGED).fill_null(False), pl.col(FLAGGED).fill_null(False)))
    label = (pl.col(SOURCES) + pl.lit(" · ") + pl.when(pl.col(MERGED)).then(pl.lit("merged")).otherwise(pl.lit("single"))
             + pl.lit(" · ") + pl.when(pl.col(FLAGGED)).then(pl.lit("flagged")).otherwise(pl.lit("no flags")))
    return out.with_columns(label.alias(STRATUM))


def allocate(sizes: pl.DataFrame, n: int) -> pl.DataFrame:
    """How many customers each stratum gives: `sizes` (stratum, customers) -> with `sampled`.

    Proportional to the stratum's size (largest remainders), but at least one from every stratum
    when n is at least the number of strata: a rare kind of customer is looked at too (the price:
    small strata are over-represented, which the per-stratum counts show). Fewer than n strata:
    one customer from each of the n largest. n at least the population: everyone.
    A loop over strata, never over customers (there are a few dozen strata at most)."""
    sizes = sizes.select(STRATUM, POPULATION).sort([POPULATION, STRATUM], descending=[True, False])
    names, pops = sizes.get_column(STRATUM).to_list(), sizes.get_column(POPULATION).to_list()
    total = sum(pops)
    if n >= total:
        alloc = list(pops)
    elif n < len(pops):
        alloc = [1 if i < n else 0 for i in range(len(pops))]
    else:
        quota = [n * p / total for p in pops]
        alloc = [max(1, min(p, math.floor(q))) for p, q in zip(pops, quota)]
        while sum(alloc) < n:  # the largest remainder that still has customers left gets one more
            i = max((i for i in range(len(pops)) if alloc[i] < pops[i]), key=lambda i: (quota[i] - alloc[i], pops[i]))
            alloc[i] += 1
        while sum(alloc) > n:  # the minimum of one pushed the total over: take from the most over-served
            i = max((i for i in range(len(pops)) if alloc[i] > 1), key=lambda i: (alloc[i] - quota[i], pops[i]))
            alloc[i] -= 1
    return pl.DataFrame({STRATUM: names, POPULATION: pops, SAMPLED: alloc},
                        schema={STRATUM: pl.String, POPULATION: pl.Int64, SAMPLED: pl.Int64})


def seed_rank(ids: pl.Series, seed: int) -> pl.Series:
    """A keyed hash of each golden id (blake2b of the id and `#seed`, as transforms/sample.py):
    stable across machines and versions, unlike polars' own hash. Hashing is per id in Python (no
    stable vectorised hash exists in polars); everything around it is vectorised."""
    salt = f"#{seed}".encode()
    return ids.map_elements(lambda t: hashlib.blake2b(t.encode() + salt, digest_size=8).hexdigest(), return_dtype=pl.String)


def draw(stratified: pl.DataFrame, n: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(the drawn customers: target_id, stratum, sources, merged, flagged; ordered by stratum and
    hash), (the strata table: stratum, customers, sampled). `stratified`: strata()'s frame."""
    sizes = stratified.group_by(STRATUM).agg(pl.len().cast(pl.Int64).alias(POPULATION))
    table = allocate(sizes, max(0, n))
    ranked = (stratified.with_columns(seed_rank(stratified.get_column(TARGET_ID), seed).alias("__hash"))
              .sort(STRATUM, "__hash", TARGET_ID)
              .with_columns(pl.int_range(1, pl.len() + 1).over(STRATUM).alias("__pos"))
              .join(table.select(STRATUM, SAMPLED), on=STRATUM, how="left"))
    drawn = ranked.filter(pl.col("__pos") <= pl.col(SAMPLED)).drop("__hash", "__pos", SAMPLED)
    return drawn, table


def normalize_answer(value) -> str | None:
    """yes, no, or None (not answered) from what a reviewer typed; ValueError for anything else.
    Accepts yes/no, y/n, 是/否, 对/错, 正确/错误, ✓/✗ and Excel's TRUE/FALSE, in any case and with spaces around."""
    if value is None:
        return None
    if isinstance(value, bool):  # TRUE / FALSE typed into Excel arrive as booleans
        return YES if value else NO
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an answer")
    text = value.strip().lower()
    if not text:
        return None
    if text not in _ANSWERS:
        raise ValueError(f"'{value}' is not an answer")
    return _ANSWERS[text]


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion: unlike the textbook p ± z·sqrt(p(1-p)/n) it stays inside
    [0, 1] and is not of width zero when every answer is yes (20 of 20 is not proof of 100%). With no
    answers nothing is known: (0, 1)."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def weighted_rate(per_stratum: dict[str, dict], sizes: dict[str, int]) -> float | None:
    """The run's acceptance rate estimated from a stratified sample: each answered stratum's rate
    weighted by its share of the run's customers (among the strata that have answers). The sample's
    own rate over-weights small strata (every stratum gives at least one customer); this does not."""
    answered = {s: v for s, v in per_stratum.items() if v["answered"] and sizes.get(s)}
    total = sum(sizes[s] for s in answered)
    if not total:
        return None
    return sum(sizes[s] / total * v["acceptance_rate"] for s, v in answered.items())


def acceptance(answers: pl.DataFrame, sizes: dict[str, int] | None = None) -> dict:
    """The sign-off statistics of `answers` (target_id, stratum, answer: yes/no/None): sampled,
    answered, yes, no, unanswered, the acceptance rate (yes / answered; None if none answered) and
    its 95% Wilson interval, overall and per stratum. The rate is of the sample as drawn; given the
    run's customers per stratum (`sizes`), also the rate weighted by them (weighted_rate)."""
    def stats(yes: int, no: int, sampled: int) -> dict:
        answered = yes + no
        low, high = wilson(yes, answered)
        return {"sampled": sampled, "answered": answered, "yes": yes, "no": no, "unanswered": sampled - answered,
                "acceptance_rate": yes / answered if answered else None, "wilson_95": [low, high]}

    per = (answers.group_by(STRATUM)
           .agg((pl.col("answer") == YES).sum().alias(YES), (pl.col("answer") == NO).sum().alias(NO), pl.len().alias("n"))
           .sort(STRATUM))
    out = stats(int((answers.get_column("answer") == YES).sum()), int((answers.get_column("answer") == NO).sum()), answers.height)
    out["strata"] = {s: stats(int(y), int(no), int(k)) for s, y, no, k in per.select(STRATUM, YES, NO, "n").iter_rows()}
    if sizes is not None:
        for s, v in out["strata"].items():
            v[POPULATION] = sizes.get(s, 0)
        out["weighted_acceptance_rate"] = weighted_rate(out["strata"], sizes)
    return out
