"""Source columns -> the canonical model, with every normalizer counting what it changed."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from crm_migrate.contracts import ATTRIBUTE_PREFIX, CANONICAL, CUSTOMER, EXTRA, FLAGS, LINEAGE, QUARANTINE, RID, attribute_column
from transforms import credit_code as cc
from transforms.addresses import standardize_addresses
from transforms.amounts import standardize_amounts
from transforms.dates import standardize_dates
from transforms.emails import standardize_emails
from crm_migrate.flags import add_flag, init_flags
from transforms.distinct import map_distinct
from transforms.names import parse_name, standardize_names
from transforms.phones import standardize_phones
from transforms.text import CONTROL_CHARACTERS, PLACEHOLDERS
from transforms.value_maps import apply_value_map

# Columns standardization adds beyond the canonical model, used by later stages.
HELPERS = {
    CUSTOMER: {"name_has_region": pl.Boolean(), "is_branch": pl.Boolean(), "name_region": pl.String(), "name_brand": pl.String(),
               "name_form": pl.String(), "name_branch": pl.String(), "name_trade": pl.String(), "name_trade_words": pl.String(),
               "phone_kind": pl.String()},
    "opportunity": {"customer_name_key": pl.String()},
}


@dataclass
class RuleStat:
    entity: str
    source: str
    rule: str
    field: str
    values: int = 0
    changed: int = 0
    flagged: int = 0
    examples: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class SourceMappingSpec:
    """The plain-data part of a source mapping that standardization needs."""

    columns: dict[str, str]
    constants: dict[str, Any]
    day_first: bool
    value_maps: dict[str, dict[str, str]]
    attributes: dict[str, str] = field(default_factory=dict)  # attribute name -> source column


def rename_to_canonical(frame: pl.DataFrame, entity: str, spec: SourceMappingSpec) -> pl.DataFrame:
    """Select mapped columns under canonical names; unmapped source columns go to `extra` as JSON."""
    used = set(spec.columns.values()) | set(spec.attributes.values())
    carried = [c for c in (FLAGS, QUARANTINE) if c in frame.columns]  # what the extractor noticed
    unmapped = [c for c in frame.columns if c not in used and c not in LINEAGE and c not in carried]
    exprs = [pl.col(c) for c in (*LINEAGE, *carried)]
    for name in CANONICAL[entity]:
        if name in spec.columns:
            exprs.append(pl.col(spec.columns[name]).alias(name))
        elif name in spec.constants:
            exprs.append(pl.lit(str(spec.constants[name])).alias(name))
        else:
            exprs.append(pl.lit(None, dtype=pl.String).alias(name))
    for name, column in spec.attributes.items():
        text = pl.col(column).cast(pl.String).str.strip_chars()
        exprs.append(pl.when(text != "").then(text).alias(attribute_column(name)))
    extra = pl.struct(unmapped).struct.json_encode() if unmapped else pl.lit(None, dtype=pl.String)
    return frame.select(*exprs, extra.alias(EXTRA))


def same_as_text(column: str, dtype: pl.DataType, text: pl.Expr) -> pl.Expr:
    """Whether the standardized value equals the source text as written (so it was not changed)."""
    col = pl.col(column)
    if isinstance(dtype, pl.Datetime):
        full = col.dt.strftime("%Y-%m-%d %H:%M:%S")
        return (text == full) | ((col.dt.time() == pl.time(0)) & (text == col.dt.strftime("%Y-%m-%d")))
    if isinstance(dtype, pl.Decimal):  # 431000 and 431000.00 are the same amount
        return text.cast(pl.Decimal(38, dtype.scale), strict=False) == col
    return text == col.cast(pl.String)


def shown(column: str, dtype: pl.DataType) -> pl.Expr:
    """A standardized value as the report shows it."""
    col = pl.col(column)
    if isinstance(dtype, pl.Datetime):
        return col.dt.strftime("%Y-%m-%d %H:%M:%S").str.strip_suffix(" 00:00:00")
    return col.cast(pl.String)


# Fields whose values a value map turns into picklist entries: a placeholder there (待定, 无) may be a
# real entry, and the picklist rules judge what is left.
PICKLIST_FIELDS = {"stage", "status", "industry", "currency"}


def canonical_columns(entity: str) -> list[str]:
    """Every column a standardized frame of `entity` has (before attributes), as suites may check them."""
    return [*LINEAGE, *CANONICAL[entity], *HELPERS[entity], FLAGS, QUARANTINE, EXTRA, RID]


def _trim(column: str) -> pl.Expr:
    text = pl.col(column).cast(pl.String).str.replace_all(r"[\t\r\n]+", " ").str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text).alias(column)


def null_placeholders(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """A placeholder (暂无, 不详, N/A, -) is no value: the field becomes empty, flagged `placeholder:<field>`,
    so an empty-name rule sees 暂无 as empty instead of a company called 暂无."""
    hit = pl.col(column).str.to_uppercase().is_in(list(PLACEHOLDERS))
    frame = add_flag(frame, hit, f"placeholder:{column}")
    return frame.with_columns(pl.when(hit).then(None).otherwise(pl.col(column)).alias(column))


def remove_control_characters(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Take control, zero-width and bidi characters out of a text field; flag `control_characters:<field>`."""
    bad = pl.col(column).str.contains(CONTROL_CHARACTERS)
    frame = add_flag(frame, bad, f"control_characters:{column}")
    cleaned = pl.col(column).str.replace_all(CONTROL_CHARACTERS, "").str.strip_chars()
    return frame.with_columns(pl.when(bad).then(pl.when(cleaned != "").then(cleaned)).otherwise(pl.col(column)).alias(column))


class _Accountant:
    """Runs one rule and records how many values it changed or flagged, with examples."""

    def __init__(self, entity: str, source: str) -> None:
        self.entity, self.source, self.stats = entity, source, []

    def run(self, frame: pl.DataFrame, rule: str, column: str, fn, flag_col: str | None = None,
            output: str | None = None) -> pl.DataFrame:
        """Apply `fn`; compare `column` before with `output` (default: the same column) after. A value
        is flagged when the rule added a flag to its record."""
        started = time.perf_counter()
        frame = frame.with_columns(pl.col(column).cast(pl.String).alias("__before"), pl.col(FLAGS).list.len().alias("__nflags"))
        column = output or column
        frame = fn(frame)
        if flag_col and flag_col in frame.columns:
            frame = add_flag(frame, pl.col(flag_col).is_not_null(), pl.col(flag_col)).drop(flag_col)
        after = pl.col(column).cast(pl.String)
        same = same_as_text(column, frame.schema[column], pl.col("__before")).fill_null(False)
        changed = pl.col("__before").is_not_null() & (after.is_null() | ~same)
        summary = frame.select(
            pl.col("__before").is_not_null().sum().alias("values"),
            changed.sum().alias("changed"),
            (pl.col(FLAGS).list.len() > pl.col("__nflags")).sum().alias("flagged"),
        ).row(0)
        examples = frame.filter(changed).select("__before", shown(column, frame.schema[column]).alias("a")).unique(maintain_order=True).head(3).rows()
        self.stats.append(RuleStat(self.entity, self.source, rule, column, summary[0], summary[1], summary[2], [(b, a) for b, a in examples],
                                   round(time.perf_counter() - started, 3)))
        return frame.drop("__before", "__nflags")


def _credit_codes(frame: pl.DataFrame) -> pl.DataFrame:
    frame = cc.standardize_credit_code(frame)
    frame = add_flag(frame, pl.col("credit_code_status") == cc.INVALID, "invalid_credit_code")
    return add_flag(frame, pl.col("credit_code_status") == cc.REPAIRED, "credit_code_repaired")


def standardize(frame: pl.DataFrame, entity: str, source: str, spec: SourceMappingSpec) -> tuple[pl.DataFrame, list[RuleStat]]:
    """One source's raw frame -> canonical frame plus the rule statistics."""
    acc = _Accountant(entity, source)
    df = init_flags(rename_to_canonical(frame, entity, spec))
    text_fields = [f for f, t in CANONICAL[entity].items() if t == pl.String()]
    df = df.with_columns([_trim(f) for f in text_fields])
    dirty = df.select([pl.col(f).str.contains(CONTROL_CHARACTERS).any().alias(f) for f in text_fields]).row(0, named=True)
    for f in (f for f, found in dirty.items() if found):  # only where a source has them: most have none
        df = acc.run(df, "control_characters", f, lambda d, f=f: remove_control_characters(d, f))
    placeheld = [f for f in text_fields if f not in PICKLIST_FIELDS and f != "credit_code"]  # codes: their own rule
    found = df.select([pl.col(f).str.to_uppercase().is_in(list(PLACEHOLDERS)).any().alias(f) for f in placeheld]).row(0, named=True)
    for f in (f for f, hit in found.items() if hit):
        df = acc.run(df, "placeholder", f, lambda d, f=f: null_placeholders(d, f))
    if entity == CUSTOMER:
        df = acc.run(df, "company_name", "name", standardize_names, "__name_flag", output="name_normalized")
        df = acc.run(df, "credit_code", "credit_code", _credit_codes, "__credit_code_flag")
        df = acc.run(df, "address", "address", standardize_addresses, "__address_flag")
        # A local number (no area code) is in the record's city: the address's, else the name's.
        city = pl.coalesce(pl.col("city"), pl.col("name_region"))
        df = acc.run(df, "phone", "phone", lambda f: standardize_phones(f, "phone", city), "__phone_flag")
        df = acc.run(df, "email", "email", standardize_emails, "__email_flag")
        dates = ["created_at", "updated_at"]
    else:
        df = df.with_columns(pl.col("customer_name").alias("__cn_raw"))
        df = map_distinct(df, "__cn_raw", lambda v: parse_name(v)[:2], {"customer_name": pl.String(), "customer_name_key": pl.String()}).drop("__cn_raw")
        df = acc.run(df, "amount", "amount", standardize_amounts, "__amount_flag")
        stated = pl.col("__currency_stated")
        df = df.with_columns(pl.coalesce(stated, pl.col("currency").str.to_uppercase(), pl.lit("CNY")).alias("currency")).drop("__currency_stated")
        if df["quoted_amount"].null_count() < df.height:  # mapped: the sum of the deal's quotation lines
            df = acc.run(df, "quoted_amount", "quoted_amount", lambda f: standardize_amounts(f, "quoted_amount").drop("__currency_stated"),
                         "__quoted_amount_flag")
        df = df.with_columns(pl.col("probability").cast(pl.String).str.strip_chars_end("%").cast(pl.Float64, strict=False))
        df = acc.run(df, "expected_close_date", "expected_close_date", lambda f: standardize_dates(f, "expected_close_date", spec.day_first, as_date=True), "__expected_close_date_flag")
        dates = ["created_at"]
    for d in dates:
        df = acc.run(df, d, d, lambda f, d=d: standardize_dates(f, d, spec.day_first), f"__{d}_flag")
    for fld, lookup in spec.value_maps.items():
        df = acc.run(df, f"value_map:{fld}", fld, lambda f, fld=fld, lookup=lookup: apply_value_map(f, fld, lookup))
    helpers = HELPERS[entity]
    if QUARANTINE not in df.columns:
        df = df.with_columns(pl.lit(None, dtype=pl.String).alias(QUARANTINE))
    attributes = [c for c in df.columns if c.startswith(ATTRIBUTE_PREFIX)]
    ordered = [*LINEAGE, *CANONICAL[entity], *helpers, *attributes, FLAGS, QUARANTINE, EXTRA]
    df = df.with_columns([pl.col(c).cast(t) for c, t in {**CANONICAL[entity], **helpers}.items() if c in df.columns])
    df = df.with_columns([pl.lit(None, dtype=t).alias(c) for c, t in {**CANONICAL[entity], **helpers}.items() if c not in df.columns])
    return df.select(ordered), acc.stats
