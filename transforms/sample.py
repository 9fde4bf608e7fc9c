"""Sample rehearsal (`run --sample N`, `--where`): migrate a subset that keeps referential integrity.

The whole input is resolved first, so a sampled customer comes with every duplicate record of it (its
golden record is built from all of them) and with all its opportunities; only then are golden
customers chosen. The records of the others stay in the ledger as `unsampled`, so the accounting
still covers every record read. The choice is a keyed hash of the golden id: the same seed picks the
same customers on every rehearsal, and a larger N keeps the smaller sample's customers.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import polars as pl

from crm_migrate.contracts import CUSTOMER, LOADED, MERGED, UNSAMPLED, OPPORTUNITY


@dataclass(frozen=True)
class SampleSpec:
    size: int | None = None  # golden customers; None: every customer `where` keeps
    where: str | None = None  # polars SQL condition on golden customer fields: province = '广东省'
    seed: int = 0
    phase: str | None = None  # a phase of a phased migration (config `phases:`): `where` is the phases so far

    def describe(self) -> str:
        if self.phase is not None:
            return f"phase {self.phase}" + (f" (where {self.where})" if self.where else " (every customer)")
        parts = ([f"{self.size:,} golden customers"] if self.size is not None else []) + ([f"where {self.where}"] if self.where else [])
        return " ".join(parts) + f" (seed {self.seed})"

    def as_dict(self) -> dict:
        return {"size": self.size, "where": self.where, "seed": self.seed, "phase": self.phase}


def phase_spec(phases: list[tuple[str, str | None]], name: str) -> SampleSpec:
    """The customers phase `name` loads: those of every phase up to it (phases are cumulative, so a
    customer of an earlier phase stays loaded and takes the records that joined it since). A phase
    without a condition takes every customer (the rest)."""
    names = [n for n, _ in phases]
    if name not in names:
        raise ValueError(f"no phase '{name}' (phases: {', '.join(names)})")
    upto = phases[: names.index(name) + 1]
    if any(w is None for _, w in upto):
        return SampleSpec(where=None, phase=name)
    return SampleSpec(where=" OR ".join(f"({w})" for _, w in upto), phase=name)


def where_problem(where: str, fields: list[str]) -> str | None:
    """Why `--where` cannot be used on golden customers, in words; None if it can."""
    try:
        names = pl.sql_expr(where).meta.root_names()
    except Exception as exc:  # noqa: BLE001 - polars' parser error, in words
        return f"--where is not a condition polars can read: {str(exc).splitlines()[0]}"
    unknown = [n for n in names if n not in fields]
    return f"--where names '{unknown[0]}', which is not a field of the golden customers (fields: {', '.join(fields)})" if unknown else None


def choose(golden: pl.DataFrame, spec: SampleSpec) -> pl.Series:
    """The golden ids of the sample, from the golden customers a run would load."""
    pool = golden.filter(pl.sql_expr(spec.where).fill_null(False)) if spec.where else golden
    salt = f"#{spec.seed}".encode()
    # blake2b, not polars' hash: the same seed must pick the same customers after an upgrade too
    rank = pool.get_column("target_id").map_elements(lambda t: hashlib.blake2b(t.encode() + salt, digest_size=8).hexdigest(), return_dtype=pl.String)
    ranked = pool.select("target_id").with_columns(rank.alias("__rank")).sort("__rank", "target_id")
    return (ranked.head(spec.size) if spec.size is not None else ranked).get_column("target_id")


def sample_ledger(ledger: pl.DataFrame, chosen: pl.Series, spec: SampleSpec) -> pl.DataFrame:
    """Records that would load or merge into a customer outside the sample (customers, and the
    opportunities of such customers) become `unsampled`; rejected and archived records keep their
    disposition (they would not load in a full run either)."""
    ids = chosen.implode()
    moving = pl.col("disposition").is_in([LOADED, MERGED]) & (
        ((pl.col("entity") == CUSTOMER) & ~pl.col("target_id").is_in(ids))
        | ((pl.col("entity") == OPPORTUNITY) & ~pl.col("customer_target_id").is_in(ids)))
    return ledger.with_columns(
        pl.when(moving).then(pl.lit(UNSAMPLED)).otherwise(pl.col("disposition")).alias("disposition"),
        pl.when(moving).then(pl.lit(f"in a later phase than {spec.phase}" if spec.phase is not None else f"outside the sample: {spec.describe()}"))
        .otherwise(pl.col("reason")).alias("reason"),
    )
