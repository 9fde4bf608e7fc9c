"""Scoring candidate pairs: comparison levels, a Fellegi-Sunter model learned without labels, hard rules.

Each comparison puts a pair in a level (exact, same pinyin, similar, different; -1 when a side has no
value: no evidence either way). The model holds, per comparison and level, m = P(level | same
company) and u = P(level | different companies): u is counted on random record pairs, m is
estimated by EM over the candidate pairs with u held fixed. A pair's match weight is the prior log2
odds plus log2(m/u) of each comparison (its contribution in bits, kept per pair so a reviewer sees
why); exact agreement on a brand, phone, mail or address is adjusted for how common the value is (a
brand shared by forty companies is weaker evidence than a rare one). The probability is calibrated
against the prior over all record pairs, not just the candidates.

Hard rules override the weight: two different identifiers of one kind (credit codes, organization
codes, registration numbers), a branch against its head office or another branch, and different
cities without a shared identifier never merge, however similar the rest.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import polars as pl
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Hamming, Prefix

from crm_migrate import progress

from transforms.names import INDUSTRY_GENERIC
from transforms.parallel import fan_out, pieces

# Comparison name -> number of levels (0 = strongest agreement). The order is the column order of
# the level matrix.
COMPARISONS: dict[str, tuple[str, ...]] = {
    "identifier": ("same", "different"),
    "brand": ("exact", "same_pinyin", "similar", "partly_similar", "different"),
    "trade": ("same", "one_contains_other", "different"),
    "form": ("same", "different"),
    "city": ("same", "different"),
    "phone": ("same", "different"),
    "email": ("same", "same_company_domain", "different"),
    "address": ("exact", "same_door_plate", "similar", "partly_similar", "different"),
    "contact": ("same", "different"),
}
NAMES = tuple(COMPARISONS)
# A feature with a second value per record (a second phone in the cell): column -> the alternate
# column, coded in one dictionary so that either value of one record can equal either of another.
ALTERNATES = {"m_phone": "m_phone2"}
# Exact-agreement levels adjusted by the frequency of the value they agree on: comparison -> feature.
TERM_FREQUENCY = {"brand": "m_brand", "phone": "m_phone", "email": "m_email", "address": "m_address"}
HARD_RULES = ("different_identifiers", "branch_differs", "different_cities", "different_trades", "different_names", "name_only")
# Rules that refuse an automatic merge but leave the pair to a reviewer (the others are never a match).
REVIEWABLE_RULES = ("different_cities", "different_names", "name_only")


class Encoded:
    """The feature columns as integer codes (dense rank of the value, -1 for none) with their
    distinct values: comparing millions of pairs compares integers, and a string similarity is
    computed once per distinct pair of values, not once per pair of records."""

    def __init__(self, features: pl.DataFrame) -> None:
        self.height = features.height
        columns = [c for c in features.columns if c.startswith("m_") and c not in ALTERNATES.values()]
        # One select: polars ranks the columns in parallel.
        ranks = features.select([(pl.col(c).cast(pl.String).rank("dense").fill_null(0).cast(pl.Int32) - 1).alias(c) for c in columns])
        self.codes: dict[str, np.ndarray] = {c: ranks.get_column(c).to_numpy() for c in columns}
        # The distinct values in rank order, in one select as well (a column per list, built in parallel).
        values = features.select([pl.col(c).cast(pl.String).drop_nulls().unique().sort().implode() for c in columns])
        self.values: dict[str, pl.Series] = {c: values.get_column(c)[0] for c in columns}
        for main, alternate in ALTERNATES.items():  # coded in the main column's dictionary: equal numbers, equal codes
            if main in self.codes and alternate in features.columns:
                self._code_like(main, alternate, features.get_column(alternate))

    def _code_like(self, main: str, alternate: str, values: pl.Series) -> None:
        """Code `values` in `main`'s dictionary, extended by the values `main` lacks."""
        known = self.values[main]
        distinct = values.cast(pl.String).drop_nulls().unique()
        extra = distinct.filter(~distinct.is_in(known.implode())).sort()
        dictionary = pl.concat([known, extra]) if extra.len() else known
        lookup = pl.DataFrame({"v": dictionary, "c": pl.int_range(dictionary.len(), dtype=pl.Int32, eager=True)})
        codes = pl.DataFrame({"v": values.cast(pl.String)}).join(lookup, on="v", how="left", maintain_order="left").get_column("c")
        self.codes[alternate] = codes.fill_null(-1).to_numpy()
        self.values[main] = self.values[alternate] = dictionary

    def keys(self, columns: list[str]) -> pl.DataFrame:
        """The codes of `columns` as a frame for blocking: null where the value is missing or empty
        (an empty branch means "not a branch": a value to compare, never a key to block on)."""
        out = {}
        for c in [*columns, *(ALTERNATES[c] for c in columns if ALTERNATES.get(c) in self.codes)]:
            codes = self.codes[c]
            empty = len(self.values[c]) > 0 and self.values[c][0] == ""  # sorted: "" comes first
            out[c] = pl.Series(c, codes).set(pl.Series((codes < 0) | ((codes == 0) & empty)), None)
        return pl.DataFrame(out)

    def pair(self, c: str, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        codes = self.codes[c]
        return codes[i], codes[j]

    def counts(self, c: str) -> np.ndarray:
        codes = self.codes[c]
        return np.bincount(codes[codes >= 0], minlength=len(self.values[c]))


def _distinct_pairs(a: np.ndarray, b: np.ndarray, rows: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct a codes, distinct b codes, inverse) over `rows`."""
    key = a[rows].astype(np.int64) * max(width, 1) + b[rows]
    inverse, uniq = pd.factorize(key, sort=False)  # a hash table: linear, where np.unique sorts
    uniq = np.asarray(uniq, dtype=np.int64)
    return uniq // max(width, 1), uniq % max(width, 1), inverse


SCORE_CHUNK = 500_000  # distinct value pairs scored per rapidfuzz call


def similarity(enc: Encoded, c: str, i: np.ndarray, j: np.ndarray, scorer=fuzz.ratio, only: np.ndarray | None = None) -> np.ndarray:
    """`scorer` of each pair of differing values (of the pairs in `only`, when given: the others'
    level is already decided), computed by rapidfuzz cpdist (C, all cores) once per distinct pair of
    values; 100 where the values are equal, 0 where a side is missing or the pair is not in `only`."""
    a, b = enc.pair(c, i, j)
    out = np.where((a == b) & (a >= 0), 100.0, 0.0).astype(np.float32)
    todo = (a >= 0) & (b >= 0) & (a != b)
    todo = np.flatnonzero(todo if only is None else todo & only)
    if todo.size:
        values = enc.values[c]
        ua, ub, inverse = _distinct_pairs(a, b, todo, len(values))
        scores = np.empty(ua.shape[0], dtype=np.float32)
        for start in range(0, ua.shape[0], SCORE_CHUNK):  # a chunk's strings at a time, not millions at once
            end = start + SCORE_CHUNK
            scores[start:end] = process.cpdist(values.gather(ua[start:end]).to_list(), values.gather(ub[start:end]).to_list(),
                                               scorer=scorer, workers=-1, dtype=np.float32)
            progress.report(f"{c}: distinct value pairs compared", min(end, ua.shape[0]), ua.shape[0], "pairs")
        out[todo] = scores[inverse]
    return out


def _ratio(enc: Encoded, c: str, i: np.ndarray, j: np.ndarray, only: np.ndarray | None = None) -> np.ndarray:
    """rapidfuzz ratio (0-100) of each pair, 100 where equal."""
    return similarity(enc, c, i, j, only=only)


def near_miss(enc: Encoded, c: str, i: np.ndarray, j: np.ndarray, only: np.ndarray) -> np.ndarray:
    """Values a ratio calls different that are one slip apart: the same length but for one character
    (a typo in a two-character brand: 逸恒 / 逸桓, ratio 50), or one the start of the other followed by
    at least two more characters (新俊 / 新俊塑胶制品: trade words the parser does not know)."""
    if not only.any():
        return only
    lengths = enc.values[c].str.len_chars().to_numpy()
    a, b = enc.pair(c, i, j)
    la, lb = lengths[np.maximum(a, 0)], lengths[np.maximum(b, 0)]
    substitutions = similarity(enc, c, i, j, scorer=Hamming.distance, only=only & (la == lb))
    common = similarity(enc, c, i, j, scorer=Prefix.similarity, only=only & (np.abs(la - lb) >= 2))
    shorter = np.minimum(la, lb)
    typo = (la == lb) & (substitutions == 1)
    extended = (np.abs(la - lb) >= 2) & (shorter >= 2) & (common == shorter)
    return only & (typo | extended)


def _distinct_test(enc: Encoded, c: str, i: np.ndarray, j: np.ndarray, test: Callable[[str, str], bool], otherwise: bool) -> np.ndarray:
    """`test(a, b)` in Python once per distinct pair of differing values (trades: a few thousand
    pairs); `otherwise` where the values are equal or a side is missing."""
    a, b = enc.pair(c, i, j)
    out = np.full(a.shape[0], otherwise, dtype=bool)
    todo = np.flatnonzero((a >= 0) & (b >= 0) & (a != b))
    if todo.size:
        values = enc.values[c]
        ua, ub, inverse = _distinct_pairs(a, b, todo, len(values))
        hit = np.array([test(x, y) for x, y in zip(values.gather(ua).to_list(), values.gather(ub).to_list())], dtype=bool)
        out[todo] = hit[inverse]
    return out


def _contains(enc: Encoded, c: str, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """One differing value contains the other (电子 in 电子软件)."""
    return _distinct_test(enc, c, i, j, lambda x, y: x in y or y in x, otherwise=False)


def _trades_compatible(enc: Encoded, c: str, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Two `|`-joined trade word sets can describe one company: one holds the other (科技 and
    电子|科技), or they share a word that names a trade (自动化|设备 and 自动化|科技: one automation
    company written two ways). True where equal or a side is missing."""
    def compatible(x: str, y: str) -> bool:
        sx, sy = set(x.split("|")), set(y.split("|"))
        return sx <= sy or sy <= sx or bool((sx & sy) - INDUSTRY_GENERIC - {"集团"})
    return _distinct_test(enc, c, i, j, compatible, otherwise=True)


def shares_value(enc: Encoded, c: str, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """The two records share a value of `c`, counting its alternate (either phone of one equals
    either phone of the other)."""
    a, b = enc.pair(c, i, j)
    same = (a == b) & (a >= 0)
    alternate = ALTERNATES.get(c)
    if alternate in enc.codes:
        a2, b2 = enc.pair(alternate, i, j)
        same |= ((a == b2) & (a >= 0)) | ((a2 == b) & (a2 >= 0)) | ((a2 == b2) & (a2 >= 0))
    return same


def either_known(enc: Encoded, c: str, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Both records hold a value of `c` (its alternate is only ever there beside it)."""
    a, b = enc.pair(c, i, j)
    return (a >= 0) & (b >= 0)


def levels_of(conditions: list[np.ndarray], known: np.ndarray) -> np.ndarray:
    """Level = index of the first true condition (the last level when none), -1 where unknown."""
    out = np.full(known.shape[0], len(conditions), dtype=np.int8)
    for level in range(len(conditions) - 1, -1, -1):
        out[conditions[level]] = level
    out[~known] = -1
    return out


def identifier_level(enc: Encoded, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(level of the identifier comparison, pairs sharing an identifier). The first kind both records
    carry decides: credit code, then organization code, then registration number."""
    a = {c: enc.pair(c, i, j) for c in ("m_code", "m_org", "m_reg")}
    both = {c: (x >= 0) & (y >= 0) for c, (x, y) in a.items()}
    eq = {c: (x == y) & (x >= 0) for c, (x, y) in a.items()}
    same_id = np.where(both["m_code"], eq["m_code"], np.where(both["m_org"], eq["m_org"], eq["m_reg"]))
    has_id = both["m_code"] | both["m_org"] | both["m_reg"]
    return levels_of([same_id], has_id), has_id & same_id


def compare(features: pl.DataFrame | Encoded, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The company model's comparisons: (levels: pairs x comparisons int8, hard rule masks).
    Vectorised: no Python per pair."""
    enc = features if isinstance(features, Encoded) else Encoded(features)
    # Per feature, (both known, equal) as booleans: a byte per pair, where the gathered codes are eight.
    known_equal: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def masks(c):
        if c not in known_equal:
            a, b = enc.pair(c, i, j)
            known_equal[c] = ((a >= 0) & (b >= 0), (a == b) & (a >= 0))
        return known_equal[c]

    def both(c):
        return masks(c)[0]

    def eq(c):
        return masks(c)[1]

    n = i.shape[0]
    levels = np.empty((n, len(NAMES)), dtype=np.int8)
    levels[:, 0], shared_id = identifier_level(enc, i, j)
    brand_known = both("m_brand")
    digits_differ = ~eq("m_brand_digits")
    # The ratio decides only pairs not already exact, same pinyin or same characters, with equal digits.
    ratio = _ratio(enc, "m_brand", i, j, only=~(eq("m_brand") | eq("m_pinyin") | eq("m_chars") | digits_differ))
    near = near_miss(enc, "m_brand", i, j, only=brand_known & (ratio < 60) & ~(eq("m_brand") | eq("m_pinyin") | eq("m_chars") | digits_differ))
    similar = [eq("m_pinyin"), eq("m_chars") | (ratio >= 80), (ratio >= 60) | near]
    levels[:, 1] = levels_of([eq("m_brand"), *[c & ~digits_differ for c in similar]], brand_known)
    contains = _contains(enc, "m_trade", i, j)
    levels[:, 2] = levels_of([eq("m_trade"), contains], both("m_trade"))
    levels[:, 3] = levels_of([eq("m_form")], both("m_form"))
    levels[:, 4] = levels_of([eq("m_city")], both("m_city"))
    levels[:, 5] = levels_of([shares_value(enc, "m_phone", i, j)], either_known(enc, "m_phone", i, j))
    levels[:, 6] = levels_of([eq("m_email"), eq("m_mail_domain") & both("m_mail_domain")], both("m_email"))
    addr_known = both("m_address")
    addr_ratio = _ratio(enc, "m_address", i, j)
    levels[:, 7] = levels_of([eq("m_address"), eq("m_street"), addr_ratio >= 85, addr_ratio >= 60], addr_known)
    levels[:, 8] = levels_of([eq("m_contact")], both("m_contact"))
    differ = lambda c: both(c) & ~eq(c)  # noqa: E731
    hard = {
        "different_identifiers": levels[:, 0] == 1,
        # A branch's own code joins a record named like its head office: the registry says which company it is
        # (that record then has the branch's address). The head office's code typed on a branch's record, with
        # the two in different cities, joins nothing: a branch is never its head office.
        "branch_differs": differ("m_branch") & (~shared_id | differ("m_addr_city")),
        "different_cities": ~shared_id & (differ("m_name_city") | differ("m_addr_city") | differ("m_city")),
        # 腾飞电子科技 and 腾飞物流 (or 腾飞集团) at one address are sister companies: only an identifier joins them.
        # ... and 英晨科技 / 英晨物流: 科技 alone is no trade key, but neither trade holds the other.
        "different_trades": ~shared_id & ~_trades_compatible(enc, "m_trade_words", i, j),
        # Companies sharing a switchboard and a building but not a name (客户001 / 客户002, or a rename
        # nobody recorded the code of): only an identifier or a person joins them.
        "different_names": ~shared_id & (levels[:, 1] == 4),
        # Two records that agree on a name and nothing else, with no city to place them: 腾飞电子科技
        # may be any of the 腾飞电子科技 in the country. A person decides.
        "name_only": ~(shared_id | (levels[:, 4] == 0) | (levels[:, 5] == 0) | np.isin(levels[:, 6], (0, 1))
                       | np.isin(levels[:, 7], (0, 1, 2)) | (levels[:, 8] == 0)),
    }
    return levels, hard


@dataclass(frozen=True)
class ModelSpec:
    """What a model compares and how it learns: the comparisons and their levels (0 = strongest
    agreement), the function that puts pairs in levels (and says which hard rules they break), the
    EM sessions, the term-frequency columns and the u prior. The company model below is one; a model
    declared in config (transforms/declared_model.py) is another."""
    comparisons: dict[str, tuple[str, ...]]
    compare: Callable[[Encoded, np.ndarray, np.ndarray], tuple[np.ndarray, dict[str, np.ndarray]]]
    sessions: tuple[tuple[str, Callable[[np.ndarray], np.ndarray], tuple[str, ...]], ...]
    term_frequency: dict[str, str] = field(default_factory=dict)  # comparison -> feature column
    u_prior: dict[str, tuple[float, ...]] = field(default_factory=dict)
    hard_rules: tuple[str, ...] = ("different_identifiers",)
    reviewable_rules: tuple[str, ...] = ()
    # Pairs that mark themselves as matches without labels, for the starting m: comparison -> rows.
    seeds: Callable[[np.ndarray, str], np.ndarray] | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.comparisons)

    @property
    def width(self) -> int:
        return max(len(v) for v in self.comparisons.values()) + 1


SPREAD_PAIRS = 200_000  # candidate pairs below which comparing them on a cluster costs more than it saves


def _compare_group(pairs: tuple[np.ndarray, np.ndarray], job: tuple) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    spec, enc = job
    return spec.compare(enc, *pairs)


def compare_pairs(spec: ModelSpec, enc: Encoded, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """spec.compare over the pairs; with `run --cluster` in groups on the workers, each holding the
    encoded features (sent once), and put back together in pair order: the same levels either way.
    A comparison depends on its pair alone, so where a pair is compared changes nothing."""
    groups = pieces(i.shape[0], SPREAD_PAIRS)
    if len(groups) < 2:
        return spec.compare(enc, i, j)
    parts = fan_out(_compare_group, [(i[a:b], j[a:b]) for a, b in groups], (spec, enc))
    return np.concatenate([p[0] for p in parts]), {k: np.concatenate([p[1][k] for p in parts]) for k in parts[0][1]}


@dataclass
class MatchModel:
    """The learned parameters; serialised into the run folder so a run explains its merges."""
    m: dict[str, list[float]]
    u: dict[str, list[float]]
    candidate_match_share: float  # λ among candidate pairs
    prior_bits: float  # log2 prior odds of a match for a random record pair
    iterations: int
    records: int
    candidate_pairs: int
    converged: bool = True
    trained_on: str = "candidate pairs (EM, u fixed from random pairs)"
    levels: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(COMPARISONS))

    def bits_table(self) -> np.ndarray:
        """comparisons x (max levels + 1): log2(m/u), the last column 0 for an unknown level (-1)."""
        width = max(len(v) for v in self.levels.values()) + 1
        table = np.zeros((len(self.levels), width))
        for k, name in enumerate(self.levels):
            for level, (m, u) in enumerate(zip(self.m[name], self.u[name])):
                table[k, level] = math.log2(m / u)
        return table

    def as_dict(self) -> dict:
        d = asdict(self)
        d["bits"] = {name: [round(math.log2(m / u), 2) for m, u in zip(self.m[name], self.u[name])] for name in self.levels}
        return d


# What random pairs of Chinese company records look like when the data is too small to say (a few
# hundred records): u = (count + PRIOR_PAIRS * prior) / (sampled + PRIOR_PAIRS). On real volumes the
# sample outweighs it.
U_PRIOR = {
    "identifier": (1e-6, 1 - 1e-6),
    "brand": (5e-4, 1e-4, 5e-3, 0.05, 0.9444),
    "trade": (0.15, 0.05, 0.8),
    "form": (0.6, 0.4),
    "city": (0.1, 0.9),
    "phone": (1e-5, 1 - 1e-5),
    "email": (1e-5, 1e-4, 1 - 1.1e-4),
    "address": (1e-5, 1e-4, 1e-3, 0.05, 0.94889),
    "contact": (0.005, 0.995),
}
PRIOR_PAIRS = 20_000.0
# Without a prior of its own, a comparison's u is smoothed towards disagreement by this many pairs.
SMOOTHING_PAIRS = 10.0


def estimate_u(features: pl.DataFrame | Encoded, sample_pairs: int, seed: int, spec: ModelSpec | None = None) -> dict[str, list[float]]:
    """u per level: the share of random record pairs in that level, blended with the spec's u prior,
    and for the exact levels of term-frequency comparisons at least what the value counts imply
    (Σ p_v², exact even when a sample misses it)."""
    spec = spec or COMPANY
    enc = features if isinstance(features, Encoded) else Encoded(features)
    n = enc.height
    rng = np.random.default_rng(seed)
    size = int(min(sample_pairs, max(n * (n - 1) // 2, 1), max(20_000, 20 * n)))
    i = rng.integers(0, n, size=size, dtype=np.int64)
    j = rng.integers(0, n - 1, size=size, dtype=np.int64)
    j = np.where(j >= i, j + 1, j)
    levels, _ = compare_pairs(spec, enc, i, j)
    u = {}
    for k, name in enumerate(spec.names):
        width = len(spec.comparisons[name])
        known = levels[:, k] >= 0
        counts = np.bincount(levels[known, k], minlength=width)[:width].astype(float)
        if name in spec.u_prior:
            share = (counts + PRIOR_PAIRS * np.array(spec.u_prior[name])) / (counts.sum() + PRIOR_PAIRS)
        else:  # a level no random pair reached is rare, not impossible
            prior = np.full(width, 1.0 / max(size, 1))
            prior[-1] = 1.0 - prior[:-1].sum()
            share = (counts + SMOOTHING_PAIRS * prior) / (counts.sum() + SMOOTHING_PAIRS)
        u[name] = share.tolist()
    frequency = ({"identifier": "m_code"} if "identifier" in spec.comparisons else {}) | spec.term_frequency
    for name, column in frequency.items():
        counts = enc.counts(column)
        if counts.sum() > 1000:  # enough values for their frequencies to mean something
            p = counts[counts > 0] / counts.sum()
            u[name][0] = max(min(u[name][0], 0.5), float((p * p).sum()), 1e-9)
    return {name: (np.array(v) / np.sum(v)).tolist() for name, v in u.items()}


def _shares(levels: np.ndarray, k: int, rows: np.ndarray, width: int) -> np.ndarray | None:
    values = levels[rows, k]
    values = values[values >= 0]
    if values.size < 20:
        return None
    counts = np.bincount(values, minlength=width)[:width] + 0.5
    return counts / counts.sum()


def _company_seeds(levels: np.ndarray, name: str) -> np.ndarray:
    """Pairs sharing a credit code give m of every other comparison; pairs agreeing exactly on brand,
    city and phone give m of the identifier."""
    if name == "identifier":
        return np.flatnonzero((levels[:, 1] == 0) & (levels[:, 4] == 0) & (levels[:, 5] == 0))
    return np.flatnonzero(levels[:, 0] == 0)


def initial_m(levels: np.ndarray, spec: ModelSpec | None = None) -> dict[str, list[float]]:
    """Starting m from pairs the data itself marks as matches, no labels (the spec's seeds). A
    comparison without such pairs starts from a generic guess: mostly the strongest level."""
    spec = spec or COMPANY
    out = {}
    for k, (name, names) in enumerate(spec.comparisons.items()):
        width = len(names)
        m = _shares(levels, k, spec.seeds(levels, name), width) if spec.seeds else None
        if m is None:
            m = np.array([0.9, *[(0.1 * (0.5 ** x)) for x in range(width - 1)]])
        out[name] = (m / m.sum()).tolist()
    return out


def _bits(spec: ModelSpec, m: dict, u: dict, active: list[int] | None = None) -> np.ndarray:
    table = np.zeros((len(spec.names), spec.width))
    for k in range(len(spec.names)) if active is None else active:
        name = spec.names[k]
        table[k, : len(m[name])] = np.log2(np.array(m[name]) / np.array(u[name]))
    return table


def evidence(levels: np.ndarray, table: np.ndarray, columns: list[int] | None = None) -> np.ndarray:
    """Σ over comparisons of table[k, level] (0 for an unknown level, -1, which indexes the table's
    last column), one comparison at a time: no pairs x comparisons matrix of float64 in memory."""
    out = np.zeros(levels.shape[0])
    for k in range(levels.shape[1]) if columns is None else columns:
        out += table[k][levels[:, k]]
    return out


def _em(levels: np.ndarray, active: list[int], m: dict[str, list[float]], u: dict[str, list[float]],
        max_iterations: int, spec: ModelSpec | None = None) -> tuple[dict[str, list[float]], float, int, bool]:
    """EM over `levels` using (and updating m of) only the comparisons in `active`, u fixed."""
    spec = spec or COMPANY
    lam, m = 0.5, {k: list(v) for k, v in m.items()}
    for iteration in range(1, max_iterations + 1):
        weight = math.log2(lam / (1 - lam)) + evidence(levels, _bits(spec, m, u, active), active)
        p = 1.0 / (1.0 + np.exp2(-np.clip(weight, -60, 60)))
        delta = 0.0
        for k in active:
            name = spec.names[k]
            w_levels = len(spec.comparisons[name])
            known = levels[:, k] >= 0
            counts = np.bincount(levels[known, k], weights=p[known], minlength=w_levels)[:w_levels] + 1e-3
            new = (counts / counts.sum()).tolist()
            delta = max(delta, *(abs(x - y) for x, y in zip(new, m[name])))
            m[name] = new
        new_lam = float(np.clip(p.mean(), 1e-6, 1 - 1e-6))
        delta, lam = max(delta, abs(new_lam - lam)), new_lam
        if delta < 1e-5:
            return m, lam, iteration, True
    return m, lam, max_iterations, False


# EM sessions, Splink's way: each session takes the candidate pairs that agree on some comparisons
# (its block) and estimates m of the others only, so a block never teaches that agreeing on what
# formed it is what a match looks like.
SESSIONS = (
    ("same identifier", lambda lv: lv[:, 0] == 0, ("identifier",)),
    ("same brand and city", lambda lv: (lv[:, 1] == 0) & (lv[:, 4] == 0), ("brand", "city", "trade", "form")),
    ("same phone", lambda lv: lv[:, 5] == 0, ("phone", "address", "email")),
)

COMPANY = ModelSpec(COMPARISONS, compare, SESSIONS, TERM_FREQUENCY, U_PRIOR, HARD_RULES, REVIEWABLE_RULES, _company_seeds)


def train(features: pl.DataFrame | Encoded, levels: np.ndarray, n_pairs_total: int, *, max_iterations: int = 50,
          sample_pairs: int = 300_000, seed: int = 20240630, spec: ModelSpec | None = None) -> MatchModel:
    """u from random pairs; m by EM sessions over blocks of the candidates (each comparison's m is the
    mean of the sessions that estimate it); then the share of matches among all candidates by EM on
    λ alone, which gives the prior for a random record pair."""
    spec = spec or COMPANY
    u = estimate_u(features, sample_pairs, seed, spec)
    start = initial_m(levels, spec)
    estimates: dict[str, list[np.ndarray]] = {name: [] for name in spec.names}
    iterations, converged = 0, True
    for _, block, excluded in spec.sessions:
        rows = np.flatnonzero(block(levels))
        if rows.size < 50:
            continue
        active = [k for k, name in enumerate(spec.names) if name not in excluded]
        m, _, its, ok = _em(levels[rows], active, start, u, max_iterations, spec)
        iterations, converged = iterations + its, converged and ok
        for k in active:
            estimates[spec.names[k]].append(np.array(m[spec.names[k]]))
    m = {name: (np.mean(estimates[name], axis=0) if estimates[name] else np.array(start[name])).tolist() for name in spec.names}
    lam = _share_of_matches(levels, m, u, max_iterations, spec)
    candidates = levels.shape[0]
    matches = max(lam * candidates, 1.0)
    prior = matches / max(n_pairs_total - matches, 1.0)
    height = features.height
    return MatchModel(m, u, round(lam, 6), math.log2(prior), iterations, height, candidates, converged, levels=dict(spec.comparisons))


def _share_of_matches(levels: np.ndarray, m: dict, u: dict, max_iterations: int, spec: ModelSpec | None = None) -> float:
    spec = spec or COMPANY
    bits = evidence(levels, _bits(spec, m, u))
    lam = 0.1
    for _ in range(max_iterations):
        new = float(np.clip((1.0 / (1.0 + np.exp2(-np.clip(math.log2(lam / (1 - lam)) + bits, -60, 60)))).mean(), 1e-6, 1 - 1e-6))
        if abs(new - lam) < 1e-5 * max(lam, 1e-3):
            return new
        lam = new
    return lam


def term_frequency_bits(features: Encoded, i: np.ndarray, levels: np.ndarray, model: MatchModel,
                        spec: ModelSpec | None = None) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per term-frequency comparison k: (rows at its exact level, the bits to add there):
    log2(u / tf(value)) (a common value weighs less than the average one, a rare one more)."""
    spec = spec or COMPANY
    extra = {}
    for name, column in spec.term_frequency.items():
        k = spec.names.index(name)
        counts = features.counts(column)
        known = counts.sum()
        if known < 1000:  # too few values for their frequencies to mean anything
            continue
        exact = np.flatnonzero(levels[:, k] == 0)
        tf = counts[features.codes[column][i[exact]]] / known
        extra[k] = (exact, np.log2(model.u[name][0] / np.maximum(tf, 1e-9)))
    return extra


def score(features: pl.DataFrame | Encoded, pairs: pl.DataFrame, model: MatchModel, levels: np.ndarray,
          hard: dict[str, np.ndarray], spec: ModelSpec | None = None, min_probability: float | None = None,
          keep_also: np.ndarray | None = None) -> pl.DataFrame:
    """pairs (those at or above `min_probability` when given, and those in `keep_also`) + one `bits_<comparison>` and
    `level_<comparison>` column each, `match_weight`, `match_probability` and `hard_rule` (the first
    rule that forbids the merge, null when none). The weight is summed one comparison at a time and
    the bits are kept only for the pairs returned: millions of candidates never become a float matrix."""
    spec = spec or COMPANY
    i = pairs.get_column("i").to_numpy()
    table = model.bits_table()
    enc = features if isinstance(features, Encoded) else Encoded(features)
    extra = term_frequency_bits(enc, i, levels, model, spec)
    weight = model.prior_bits + evidence(levels, table)
    for rows, add in extra.values():
        weight[rows] += add
    probability = 1.0 / (1.0 + np.exp2(-np.clip(weight, -60, 60)))
    if min_probability is None:
        keep = np.arange(i.shape[0])
    else:
        keep = np.flatnonzero(probability >= min_probability if keep_also is None else (probability >= min_probability) | keep_also)
    rule = np.full(keep.shape[0], -1, dtype=np.int8)
    for r in range(len(spec.hard_rules) - 1, -1, -1):
        rule[hard[spec.hard_rules[r]][keep]] = r
    kept_levels = levels[keep]
    columns = []
    for k, name in enumerate(spec.names):
        bits = table[k][kept_levels[:, k]]
        if k in extra:
            rows, add = extra[k]
            full = np.zeros(i.shape[0], dtype=np.float32)
            full[rows] = add
            bits = bits + full[keep]
        columns.append(pl.Series(f"bits_{name}", np.round(bits, 2).astype(np.float32)))
    rules = pl.Series(list(spec.hard_rules), dtype=pl.String)
    return pairs[keep].with_columns(
        columns
        + [pl.Series(f"level_{name}", kept_levels[:, k]) for k, name in enumerate(spec.names)]
        + [pl.Series("match_weight", np.round(weight[keep], 3)),
           rules.gather(pl.Series(rule, dtype=pl.Int8).cast(pl.Int32).replace(-1, None)).alias("hard_rule"),
           pl.Series("match_probability", probability[keep])]
    )
