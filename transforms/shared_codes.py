"""One code, one customer: a credit code (or a legacy code in its place) held by two golden customers.

Resolution never merges two companies on a code alone when everything else says they are two (a
code dragged onto the next row, a code typed on the wrong customer, an invalid code that both
records carry, two legacy organization codes that happen to be equal). Then two golden customers
hold one code, and a CRM that keys accounts on it refuses the load. The code belongs to at most one
of them: the one where it is valid, else the one in the place the code was issued (a credit code's
characters 3-8 are the issuing division: 350102 is 福州 鼓楼), else the one more of whose records
hold it. When that does not single one out, none keeps it. The others load without it, and their
records that held it are flagged, so the ledger says why the code is missing.
"""
from __future__ import annotations

import polars as pl

from crm_migrate.contracts import CODE_DOUBTFUL, CODE_OF_ANOTHER_CUSTOMER
from crm_migrate.flags import add_flag
from transforms.credit_code import USABLE
from transforms.distinct import map_distinct
from transforms.regions import regions

CODE, STATUS, CITY, TARGET = "credit_code", "credit_code_status", "city", "target_id"


def _issuing_city(code: str | None) -> tuple[str | None]:
    """The city a credit code was issued in (its division, characters 3-8), when it names one."""
    if not code or len(code) != 18:
        return (None,)
    r = regions()
    return (r.city_name(code[2:6]) if code[2:6] in r.city_of else None,)  # the city: the division's first 4 digits


def code_owners(golden: pl.DataFrame, members: pl.DataFrame) -> pl.DataFrame:
    """(target_id, credit_code, keeps) for every golden customer whose code another one holds too;
    `keeps` is true for the one the code stays with (none when no rule singles one out)."""
    shared = golden.filter(pl.col(CODE).is_not_null() & pl.col(CODE).is_duplicated()).select(TARGET, CODE, STATUS, CITY)
    holders = (members.join(shared.select(TARGET, CODE), on=[TARGET, CODE], how="semi").group_by(TARGET).len("__holders"))
    shared = map_distinct(shared, CODE, _issuing_city, {"__issued_in": pl.String()})
    ranked = shared.join(holders, on=TARGET, how="left").select(
        TARGET, CODE,
        pl.col(STATUS).is_in(USABLE).fill_null(False).cast(pl.Int8).alias("__valid"),
        (pl.col("__issued_in") == pl.col(CITY)).fill_null(False).cast(pl.Int8).alias("__fits"),
        pl.col("__holders").fill_null(0).alias("__holders"))
    # In that order: validity, then place, then holders (one number, compared at once).
    score = pl.col("__valid").cast(pl.Int64) * 2**41 + pl.col("__fits").cast(pl.Int64) * 2**40 + pl.col("__holders").cast(pl.Int64)
    ranked = ranked.with_columns(score.alias("__score"))
    at_top = ranked.filter(pl.col("__score") == pl.col("__score").max().over(CODE))
    winners = at_top.filter(pl.len().over(CODE) == 1).select(TARGET, pl.lit(True).alias("keeps"))
    return ranked.select(TARGET, CODE).join(winners, on=TARGET, how="left").with_columns(pl.col("keeps").fill_null(False))


def unshare_codes(golden: pl.DataFrame, members: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(golden, members): golden customers that lose a shared code load without it (status
    doubtful, provenance of the code emptied); their records holding it are flagged."""
    owners = code_owners(golden, members)
    losers = owners.filter(~pl.col("keeps")).select(TARGET, CODE)
    if losers.is_empty():
        return golden, members
    lost = pl.col(TARGET).is_in(losers[TARGET].implode())
    from_code = [c for c in (f"__from_{CODE}", f"__from_{STATUS}") if c in golden.columns]
    golden = golden.with_columns(pl.when(lost).then(None).otherwise(pl.col(CODE)).alias(CODE),
                                 pl.when(lost).then(pl.lit(CODE_DOUBTFUL)).otherwise(pl.col(STATUS)).alias(STATUS),
                                 *[pl.when(lost).then(None).otherwise(pl.col(c)).alias(c) for c in from_code])
    flagged = members.select(pl.struct(TARGET, CODE).is_in(losers.select(pl.struct(TARGET, CODE)).to_series().implode()))
    members = add_flag(members, flagged.to_series(), CODE_OF_ANOTHER_CUSTOMER)
    return golden, members
