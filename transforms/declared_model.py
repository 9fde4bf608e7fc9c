"""A matching model declared in config: comparisons of any fields, for data the company model does not fit.

The built-in model (transforms/match_model.py) knows Chinese companies: 字号, trade words, branches,
cities. A migration of people, shops or contracts compares other things: a surname, a date of
birth, a postcode, a legacy member number. Declared the way Splink's settings declare a model, each
comparison names a field (a canonical one or an `attributes:` column of the mappings), a method and
its thresholds:

    comparisons:
      - {name: surname, field: surname, method: jaro_winkler, thresholds: [0.92, 0.8], term_frequency: true}
      - {name: birth, field: date_of_birth, method: levenshtein, thresholds: [1, 2]}

Levels are `exact`, one per threshold (`jaro_winkler ≥ 0.92`, `levenshtein ≤ 1`), then `different`;
a missing value is no evidence. The same machinery learns it: u from random pairs, m by EM
sessions (one per blocking rule, each learning the comparisons its rule does not fix), term
frequencies, calibrated probabilities and bits per comparison. Credit codes keep their hard rule:
when records carry codes, two different ones never merge, whatever the other fields say.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import polars as pl
from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler, Levenshtein

from crm_migrate.contracts import attribute_column
from transforms.match_model import Encoded, ModelSpec, identifier_level, levels_of, similarity

METHODS = ("exact", "levenshtein", "jaro_winkler", "ratio")
PREFIX = "m_cmp_"  # feature columns of declared comparisons (apart from the company features)
IDENTIFIER = "identifier"
# The company features a declared model keeps: identifiers, for the hard rule. The others (branch,
# cities, trade) constrain clustering of companies and mean nothing for other records.
IDENTIFIER_FEATURES = ("m_code", "m_org", "m_reg")
COMPANY_CONSTRAINTS = ("m_branch", "m_name_city", "m_addr_city", "m_city", "m_trade")


@dataclass(frozen=True)
class Comparison:
    name: str
    field: str  # a canonical customer field, or `attributes.<name>` of the mappings
    method: str = "exact"
    thresholds: tuple[float, ...] = ()
    term_frequency: bool = False

    @property
    def column(self) -> str:
        return PREFIX + self.name

    @property
    def levels(self) -> tuple[str, ...]:
        op = {"levenshtein": "<=", "jaro_winkler": ">=", "ratio": ">="}.get(self.method)
        return ("exact", *(f"{self.method} {op} {t:g}" for t in self.thresholds), "different")

    def as_dict(self) -> dict:
        return asdict(self)


def attribute_name(field: str) -> str | None:
    """`x` for a comparison field `attributes.x` (a mapped attribute), None for a canonical field."""
    return field.split(".", 1)[1] if field.startswith("attributes.") else None


def source_column(field: str) -> str:
    """The frame column a comparison's field reads: `attributes.x` is the mapped attribute x."""
    name = attribute_name(field)
    return attribute_column(name) if name is not None else field


def declared_features(customers: pl.DataFrame, comparisons: list[Comparison]) -> pl.DataFrame:
    """One `m_cmp_<name>` column per comparison: the field as text, trimmed and lower-cased, empty as
    missing (a date is compared as written in ISO form)."""
    exprs = []
    for c in comparisons:
        text = pl.col(source_column(c.field)).cast(pl.String).str.strip_chars().str.to_lowercase()
        exprs.append(pl.when(text != "").then(text).alias(c.column))
    return customers.select(exprs)


def without_company_constraints(features: pl.DataFrame) -> pl.DataFrame:
    """The features with the company-only constraint columns emptied, for clustering records that are
    not companies (two suburbs are a typo, not two branches)."""
    present = [c for c in COMPANY_CONSTRAINTS if c in features.columns]
    return features.with_columns([pl.lit(None, dtype=features.schema[c]).alias(c) for c in present])


def _level(enc: Encoded, c: Comparison, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Equal values are `exact` before any threshold is looked at, so only differing values are scored."""
    a, b = enc.pair(c.column, i, j)
    known = (a >= 0) & (b >= 0)
    exact = (a == b) & known
    if not c.thresholds:
        return levels_of([exact], known)
    if c.method == "levenshtein":
        distance = similarity(enc, c.column, i, j, scorer=Levenshtein.distance)
        return levels_of([exact, *(distance <= t for t in c.thresholds)], known)
    scorer = JaroWinkler.normalized_similarity if c.method == "jaro_winkler" else fuzz.ratio
    score = similarity(enc, c.column, i, j, scorer=scorer)
    return levels_of([exact, *(score >= t for t in c.thresholds)], known)


def declared_spec(comparisons: list[Comparison], blocking_rules: list[list[str]], identifiers: bool) -> ModelSpec:
    """The ModelSpec of declared comparisons. blocking_rules: lists of comparison names; each gives
    one EM session (its pairs agree exactly on the rule's comparisons, which it does not learn).
    identifiers: the records carry credit codes (an `identifier` comparison and its hard rule). EM
    starts from a generic m (mostly the strongest level): starting from pairs exact on every other
    field gave the same model on Febrl3/4 and on the tests' people."""
    names = ([IDENTIFIER] if identifiers else []) + [c.name for c in comparisons]
    levels = {c.name: c.levels for c in comparisons}
    if identifiers:
        levels = {IDENTIFIER: ("same", "different")} | levels

    def compare(enc: Encoded, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        out = np.empty((i.shape[0], len(names)), dtype=np.int8)
        k = 0
        hard = {"different_identifiers": np.zeros(i.shape[0], dtype=bool)}
        if identifiers:
            out[:, 0], _ = identifier_level(enc, i, j)
            hard["different_identifiers"] = out[:, 0] == 1
            k = 1
        for c in comparisons:
            out[:, k] = _level(enc, c, i, j)
            k += 1
        return out, hard

    def session(rule: list[str]):
        cols = [names.index(r) for r in rule]
        return (" & ".join(rule), lambda lv: np.logical_and.reduce([lv[:, c] == 0 for c in cols]), tuple(rule))

    return ModelSpec(levels, compare, tuple(session(r) for r in blocking_rules if r),
                     {c.name: c.column for c in comparisons if c.term_frequency}, {}, ("different_identifiers",), ())


def default_blocking(comparisons: list[Comparison]) -> list[list[str]]:
    """Without declared rules: each comparison alone (a block over the size cap is skipped and reported)."""
    return [[c.name] for c in comparisons]


@dataclass
class DeclaredModel:
    """What resolution needs of a declared model, as settings carry it."""
    comparisons: list[Comparison] = field(default_factory=list)
    blocking_rules: list[list[str]] = field(default_factory=list)  # comparison names

    @property
    def rules(self) -> list[list[str]]:
        """The declared blocking rules, or the default: each comparison alone."""
        return self.blocking_rules or default_blocking(self.comparisons)

    def blocking_columns(self) -> list[list[str]]:
        return [[PREFIX + name for name in rule] for rule in self.rules]

    def spec(self, identifiers: bool) -> ModelSpec:
        return declared_spec(self.comparisons, self.rules, identifiers)
