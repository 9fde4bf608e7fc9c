"""The quality profile of a source, before and after standardization, in four dimensions:

- completeness: the share of records with a value, per mapped field;
- validity: of the records with a value, the share whose value is valid for its field: before, as
  typed (a credit code in full-width letters or with spaces is not valid as typed); after, as
  standardization left it (dates and amounts that did not parse count as invalid);
- uniqueness: the share of records whose key another record of the source repeats, and the share
  of records identical to another one over the mapped fields (after standardization, values that
  were written two ways count as one);
- timeliness: the age of each record's last update (updated_at, else created_at) on the reference
  day, in buckets, and the share older than `stale_after_years`.

Pure functions over polars frames; counts only, no values, so the profile is safe in any report."""
from __future__ import annotations

from datetime import date, datetime

import polars as pl

from crm_migrate.contracts import SOURCE_KEY
from transforms import credit_code

# What "valid as typed" means per field; the canonical value is judged by the same rule.
_E164_CN = r"^\+86(?:1[3-9]\d{9}|(?:10|2\d|[3-9]\d{2})\d{7,8})(?:;ext=\d+)?$|^\+(?:852|853|886)\d{7,9}(?:;ext=\d+)?$"
_RAW_PHONE = r"^(?:\+?86)?1[3-9]\d{9}$|^0\d{2,3}-?\d{7,8}$|^\+(?:852|853|886)\d{7,9}$"
_EMAIL = r"(?i)^[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}$"
_ISO_DAY = r"^(?:19|20)\d{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
_PLAIN_AMOUNT = r"^-?\d+(?:\.\d{1,2})?$"

AGE_BUCKETS = ((1, "< 1 year"), (2, "1-2 years"), (3, "2-3 years"), (5, "3-5 years"), (None, "5+ years"))


def _valid_code(values: pl.Series) -> pl.Series:
    distinct = values.unique().drop_nulls()
    verdict = dict(zip(distinct.to_list(), (credit_code.is_valid(v) for v in distinct.to_list())))
    return values.replace_strict(verdict, default=False, return_dtype=pl.Boolean)


def _regex(pattern: str):
    return lambda s: s.str.contains(pattern)


# field -> (valid as typed: raw text -> bool, valid after standardization: canonical -> bool)
VALIDITY = {
    "credit_code": (_valid_code, _valid_code),
    "phone": (_regex(_RAW_PHONE), _regex(_E164_CN)),
    "email": (_regex(_EMAIL), _regex(_EMAIL)),
    "created_at": (_regex(_ISO_DAY), lambda s: s.is_not_null()),
    "updated_at": (_regex(_ISO_DAY), lambda s: s.is_not_null()),
    "expected_close_date": (_regex(_ISO_DAY), lambda s: s.is_not_null()),
    "amount": (_regex(_PLAIN_AMOUNT), lambda s: s.is_not_null()),
    "quoted_amount": (_regex(_PLAIN_AMOUNT), lambda s: s.is_not_null()),
}


def _raw_text(raw: pl.DataFrame, column: str) -> pl.Series:
    s = raw.get_column(column).cast(pl.String)
    return s.str.strip_chars().replace("", None)


def field_profile(raw: pl.DataFrame, canonical: pl.DataFrame, columns: dict[str, str]) -> list[dict]:
    """Per mapped field (canonical field -> source column): completeness and validity, before and
    after. `raw` and `canonical` hold the same records in the same order (one source)."""
    rows = []
    n = raw.height
    for fld, column in columns.items():
        if column not in raw.columns or fld not in canonical.columns:
            continue
        before = _raw_text(raw, column)
        after = canonical.get_column(fld)
        present = before.is_not_null()
        row = {"field": fld, "column": column, "records": n,
               "completeness_before": (present.sum() / n) if n else None,
               "completeness_after": (after.is_not_null().sum() / n) if n else None,
               "validity_before": None, "validity_after": None}
        if fld in VALIDITY and present.any():
            typed, standardized = VALIDITY[fld]
            had = int(present.sum())
            ok_before = typed(before.filter(present)).fill_null(False)
            ok_after = standardized(after.filter(present)).fill_null(False)  # a value standardization had to drop is not valid
            row["validity_before"] = ok_before.sum() / had
            row["validity_after"] = ok_after.sum() / had
        rows.append(row)
    return rows


def uniqueness(raw: pl.DataFrame, canonical: pl.DataFrame, columns: dict[str, str]) -> dict:
    """Duplicate-key and duplicate-record rates of one source."""
    n = raw.height
    if not n:
        return {"records": 0, "duplicate_key_rate": None, "duplicate_record_rate_before": None, "duplicate_record_rate_after": None}
    key = raw.get_column(SOURCE_KEY) if SOURCE_KEY in raw.columns else None
    src_cols = [c for c in dict.fromkeys(columns.values()) if c in raw.columns]
    fields = [f for f in columns if f in canonical.columns]
    return {
        "records": n,
        "duplicate_key_rate": (key.is_duplicated().sum() / n) if key is not None and key.null_count() < n else None,
        "duplicate_record_rate_before": raw.select(src_cols).is_duplicated().sum() / n if src_cols else None,
        "duplicate_record_rate_after": canonical.select(fields).is_duplicated().sum() / n if fields else None,
    }


def timeliness(canonical: pl.DataFrame, as_of: date | datetime, stale_after_years: int) -> dict:
    """Age of each record's last update on `as_of`: counts per bucket, the share older than
    `stale_after_years`, and how many records carry no date at all."""
    last = None
    for c in ("updated_at", "created_at"):
        if c in canonical.columns:
            last = canonical.get_column(c).cast(pl.Datetime("us")) if last is None else last.fill_null(canonical.get_column(c).cast(pl.Datetime("us")))
    n = canonical.height
    if last is None or not n:
        return {"records": n, "dated": 0, "buckets": {}, "stale_share": None, "stale_after_years": stale_after_years}
    ref = datetime(as_of.year, as_of.month, as_of.day)
    ages = pl.DataFrame({"t": last}).select(((pl.lit(ref) - pl.col("t")).dt.total_days() / 365.25).alias("y")).get_column("y").drop_nulls()
    buckets, lower = {}, 0
    for upper, label in AGE_BUCKETS:
        inside = (ages >= lower) if upper is None else ((ages >= lower) & (ages < upper))
        if lower == 0:
            inside = inside | (ages < 0)  # a date after the reference day is recent, not an age
        buckets[label] = int(inside.sum())
        lower = upper if upper is not None else lower
    dated = len(ages)
    return {"records": n, "dated": dated, "buckets": buckets,
            "stale_share": (int((ages > stale_after_years).sum()) / dated) if dated else None, "stale_after_years": stale_after_years}


def source_profile(source: str, entity: str, raw: pl.DataFrame, canonical: pl.DataFrame, columns: dict[str, str],
                   as_of: date | datetime, stale_after_years: int) -> dict:
    """The whole profile of one source."""
    return {"source": source, "entity": entity, "fields": field_profile(raw, canonical, columns),
            "uniqueness": uniqueness(raw, canonical, columns), "timeliness": timeliness(canonical, as_of, stale_after_years)}
