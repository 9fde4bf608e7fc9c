"""Customer resolution: find the records of one company, cluster them, build golden records.

Frames in, frames out (no I/O): features (transforms/match_features.py) -> candidate pairs from the
blocking rules (transforms/blocking.py) -> levels, a Fellegi-Sunter model learned from this data
without labels, match probabilities and hard rules (transforms/match_model.py) -> reviewer
decisions applied -> constrained clustering at the auto-merge threshold (transforms/clustering.py)
-> stable golden ids -> survivorship. Pairs between the review and auto-merge thresholds are kept
for the review queue. Precision first: two different credit codes, a branch and its head office,
same-brand companies of different cities never merge, whatever the score.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import polars as pl

from crm_migrate.contracts import (AMBIGUOUS_MATCH, BRANCH_NAMED_AS_HEAD_OFFICE, CANONICAL, CUSTOMER, IN_REVIEW, RID, ROW,
                                   SAME_CODE_OTHER_NAME, SOURCE, SOURCE_KEY)
from crm_migrate.flags import add_flag
from transforms.blocking import BlockingReport, candidate_pairs
from transforms.clustering import ambiguous_records, cluster, split_weak_links
from transforms.copied_codes import distrust_copied_codes
from transforms.credit_code import DOUBTFUL, USABLE
from transforms.distinct import joined_on
from transforms.golden_ids import keep_earlier_ids
from transforms.ids import stable_id
from transforms.match_features import match_features
from transforms.shared_codes import unshare_codes
from transforms.declared_model import (COMPANY_CONSTRAINTS, IDENTIFIER_FEATURES, DeclaredModel, declared_features,
                                      without_company_constraints)
from transforms.match_model import ALTERNATES, COMPANY, Encoded, MatchModel, ModelSpec, compare_pairs, score, train

GOLDEN_FIELDS = [f for f in CANONICAL[CUSTOMER]]
DUPLICATE_EVIDENCE = ("credit_code", "phone", "email", "address", "contact_name")
PRIORITY = "_priority"
SAME, DIFFERENT = "same", "different"
NAME_OF_HEAD_OFFICE = BRANCH_NAMED_AS_HEAD_OFFICE
LOOKUP_FEATURES = ("m_brand", "m_pinyin", "m_city", "m_trade", "m_branch")
# The feature strings read after scoring: by clustering's constraints, golden ids and the lookup.
KEPT_FEATURES = (*LOOKUP_FEATURES, *IDENTIFIER_FEATURES, *COMPANY_CONSTRAINTS)
SAME_CREDIT_CODE = "same_credit_code"  # a pairs column: both records hold one valid credit code

DEFAULT_BLOCKING_RULES = [
    ["m_code"], ["m_org"], ["m_reg"], ["m_phone"], ["m_email"], ["m_address"], ["m_street"],
    ["m_brand", "m_city"], ["m_pinyin", "m_city"], ["m_chars", "m_city"], ["m_brand", "m_trade"], ["m_brand"],
]


@dataclass
class MatchSettings:
    """How customers are matched: declared in config (resolution:), written into the run folder."""
    blocking_rules: list[list[str]] = field(default_factory=lambda: [list(r) for r in DEFAULT_BLOCKING_RULES])
    max_block_size: int = 300
    auto_merge_probability: float = 0.99
    review_probability: float = 0.5
    u_sample_pairs: int = 300_000
    weak_link_gap_bits: float | None = 25.0  # a link this far below its cluster's median weight is cut (None: never)
    declared: DeclaredModel | None = None  # a model declared in config instead of the company model; its
    # blocking rules are already feature columns in `blocking_rules`

    def spec(self, identifiers: bool) -> ModelSpec:
        """The model's comparisons: the company model, or the declared one (with the identifier comparison
        when records carry credit codes)."""
        return self.declared.spec(identifiers) if self.declared else COMPANY

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class CustomerResolution:
    clustered: pl.DataFrame  # the records with target_id, _match, _match_evidence and LOOKUP_FEATURES
    pairs: pl.DataFrame  # scored candidate pairs at or above the review threshold, with both records' lineage
    model: MatchModel | None
    blocking: BlockingReport | None
    refused_edges: int = 0
    candidates: pl.DataFrame | None = None  # every candidate pair: i, j (rows of `clustered`), rules (bit mask)
    spec: ModelSpec = COMPANY
    superseded: pl.DataFrame | None = None  # earlier golden ids merged into another: previous_id, target_id, records

    def review_pairs(self, settings: MatchSettings) -> pl.DataFrame:
        """Doubtful pairs left in different clusters: below auto-merge, or refused by a rule at a high score."""
        p = self.pairs
        return p.filter((pl.col("cluster_a") != pl.col("cluster_b")) & (pl.col("match_probability") >= settings.review_probability)
                        & (pl.col("hard_rule").is_null() | pl.col("hard_rule").is_in(list(self.spec.reviewable_rules))))


def exact_duplicates(df: pl.DataFrame) -> pl.Series:
    """For each record, the row id of the first record of its source equal to it in every canonical
    field (itself when none): one customer typed or pasted twice, provided it holds something that
    identifies a company besides its name (two 腾飞科技有限公司 of different cities)."""
    content = pl.struct([pl.col(f) for f in GOLDEN_FIELDS if f in df.columns])
    evidence = pl.any_horizontal([pl.col(f).is_not_null() for f in DUPLICATE_EVIDENCE if f in df.columns])
    # A hash finds the few records that may have a twin; only those are compared field by field
    # (grouping a million records by the struct of every field costs seconds and hundreds of MB).
    # Column by column (a struct of every field would be built whole first, hundreds of MB).
    digest = df.get_column(SOURCE).hash()
    for f in GOLDEN_FIELDS:
        if f in df.columns:
            digest = (digest * 1_000_003) ^ df.get_column(f).hash()
    maybe = df.select(evidence).to_series() & digest.is_duplicated()
    rid = df.get_column(RID)
    if not maybe.any():
        return rid
    sub = df.filter(maybe)
    first = sub.select(pl.col(RID).sort_by(ROW).first().over(SOURCE, content)).to_series()
    return rid.scatter(np.flatnonzero(maybe.to_numpy()), first)


def own_anchor(df: pl.DataFrame) -> pl.Expr:
    """`R:<source>:<key>`, with `#<row>` when the key repeats in the source (a reused key is no evidence)."""
    own = pl.lit("R:") + pl.col(SOURCE) + ":" + pl.col(SOURCE_KEY)
    return pl.when(pl.struct(SOURCE, SOURCE_KEY).is_duplicated()).then(own + "#" + pl.col(ROW).cast(pl.String)).otherwise(own)


def golden_id(df: pl.DataFrame, label: str) -> pl.Series:
    """Each record's golden id: `CUS-` and the SHA-1 of its cluster's anchor, which is the cluster's
    credit code, else organization code, else registration number, else the smallest member anchor.
    Depends on the members only, not on row order. Two clusters with one code (a reviewer said
    `different`) keep apart: all but the one with the smallest member add that member to the anchor."""
    # Once per cluster (a group-by; the prefix added to the cluster's smallest value, not to every
    # record's), hashed once per cluster, then back to the records by the label alone.
    per = df.group_by(label).agg(pl.col("__own").min().alias("__s"), pl.col("m_code").min(), pl.col("m_org").min(), pl.col("m_reg").min())
    per = per.select(label, "__s", pl.coalesce(pl.lit("C:") + pl.col("m_code"), pl.lit("O:") + pl.col("m_org"),
                                               pl.lit("G:") + pl.col("m_reg"), pl.col("__s")).alias("__a"))
    first = pl.col("__s") == pl.col("__s").min().over("__a")
    anchor = pl.when(first).then(pl.col("__a")).otherwise(pl.col("__a") + "|" + pl.col("__s"))
    per = per.select(label, stable_id("CUS-", anchor).alias("target_id"))
    return df.select(label).join(per, on=label, how="left", maintain_order="left").get_column("target_id")


def _decision_pairs(features: pl.DataFrame, decisions: pl.DataFrame | None) -> tuple[pl.DataFrame, set[tuple[int, int]]]:
    """Reviewer decisions (source_a, key_a, source_b, key_b, decision) as positions: same-edges and different-pairs."""
    empty = pl.DataFrame(schema={"i": pl.UInt32, "j": pl.UInt32})
    if decisions is None or decisions.is_empty():
        return empty, set()
    pos = features.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("__p"), SOURCE, SOURCE_KEY).unique([SOURCE, SOURCE_KEY], keep="first")
    d = (decisions.join(pos.rename({SOURCE: "source_a", SOURCE_KEY: "key_a", "__p": "i"}), on=["source_a", "key_a"])
         .join(pos.rename({SOURCE: "source_b", SOURCE_KEY: "key_b", "__p": "j"}), on=["source_b", "key_b"]))
    same = d.filter(pl.col("decision") == SAME).select(pl.min_horizontal("i", "j").alias("i"), pl.max_horizontal("i", "j").alias("j"))
    different = {(min(a, b), max(a, b)) for a, b in d.filter(pl.col("decision") == DIFFERENT).select("i", "j").iter_rows()}
    return same, different


def comparison_names(frame: pl.DataFrame) -> list[str]:
    """The comparisons a scored pairs frame holds (its `bits_<name>` columns), in model order."""
    return [c.removeprefix("bits_") for c in frame.columns if c.startswith("bits_")]


def evidence_text(frame: pl.DataFrame) -> pl.Series:
    """`p=0.998: brand +14.2, phone +9.1, city +3.8`: each pair's probability and its three strongest
    contributions (vectorised: the top three by argsort, then one format)."""
    names = comparison_names(frame)
    bits = frame.select([pl.col(f"bits_{n}").fill_null(0.0) for n in names]).to_numpy()
    names = np.array(names + [""] * (3 - len(names)))  # a model of fewer than three comparisons
    bits = np.pad(bits, ((0, 0), (0, max(0, 3 - bits.shape[1]))))
    top = np.argsort(-bits, axis=1, kind="stable")[:, :3]
    parts = {}
    for r in range(3):
        parts[f"n{r}"] = names[top[:, r]]
        parts[f"b{r}"] = np.round(np.take_along_axis(bits, top[:, r:r + 1], axis=1)[:, 0], 1)
    t = pl.DataFrame(parts).with_columns(pl.Series("p", frame.get_column("match_probability").round(4).to_numpy()))
    sign = lambda c: pl.when(pl.col(c) >= 0).then(pl.lit("+")).otherwise(pl.lit("")) + pl.col(c).cast(pl.String)  # noqa: E731
    return t.select(pl.format("p={}: {} {}, {} {}, {} {}", "p", "n0", sign("b0"), "n1", sign("b1"), "n2", sign("b2"))).to_series()


def resolve_customers(customers: pl.DataFrame, settings: MatchSettings | None = None,
                      decisions: pl.DataFrame | None = None, earlier_ids: pl.DataFrame | None = None) -> CustomerResolution:
    """Cluster kept customer records; add `target_id`, `_match` (how the record joined its cluster:
    identifier | probabilistic | duplicate | reviewer | none) and `_match_evidence` (its strongest
    link: the probability and the three largest contributions, or why). `earlier_ids` (source, key,
    target_id of earlier runs) keeps each customer's id from run to run (transforms/golden_ids.py)."""
    settings = settings or MatchSettings()
    # Columns in one chunk each: adding a feature column to a frame read or concatenated in chunks
    # would copy the whole frame at some later step anyway (to align the chunks), unforeseen.
    customers = customers.rechunk()
    df = distrust_copied_codes(match_features(customers))
    if settings.declared:  # compare the declared fields; keep only the identifier constraints of companies
        df = pl.concat([df, declared_features(customers, settings.declared.comparisons)], how="horizontal")
    identifiers = df.select(pl.any_horizontal([pl.col(c).is_not_null().any() for c in IDENTIFIER_FEATURES])).item()
    spec = settings.spec(bool(identifiers))
    names = spec.names
    df = df.with_columns(own_anchor(df).alias("__own"))
    n = df.height
    twin = exact_duplicates(df)
    twin_pos = df.select(pl.col(RID)).with_row_index("__p").join(pl.DataFrame({RID: twin, "__q": np.arange(n)}), on=RID)
    dup_edges = pl.DataFrame({"i": twin_pos["__p"].cast(pl.UInt32), "j": twin_pos["__q"].cast(pl.UInt32)}).filter(pl.col("i") != pl.col("j"))
    # From here the features are integer codes: blocking joins and comparisons on integers, and the
    # feature strings nothing later reads are dropped.
    encoded = Encoded(df)
    df = df.drop([c for c in df.columns if c.startswith("m_") and c not in KEPT_FEATURES])
    pairs, report = candidate_pairs(encoded.keys(sorted({c for r in settings.blocking_rules for c in r} | {"m_city"})),
                                    settings.blocking_rules, settings.max_block_size, within_city=settings.declared is None,
                                    alternates=ALTERNATES)
    candidates = pairs.select("i", "j", "rules")
    model = None
    if pairs.height:
        i, j = pairs.get_column("i").to_numpy(), pairs.get_column("j").to_numpy()
        levels, hard = compare_pairs(spec, encoded, i, j)
        model = train(encoded, levels, n * (n - 1) // 2, sample_pairs=settings.u_sample_pairs, spec=spec)
        # One valid credit code is one company, whatever the names say (a rename, 更名): such pairs merge
        # at any score (flagged same_code_different_name when the names differ).
        code = encoded.codes["m_code"]
        same_code = (code[i] == code[j]) & (code[i] >= 0)
        pairs = pairs.with_columns(pl.Series(SAME_CREDIT_CODE, same_code))
        # Only these and pairs at or above the review threshold are kept: the rest can neither merge nor be reviewed.
        pairs = score(encoded, pairs, model, levels, hard, spec, min_probability=settings.review_probability, keep_also=same_code)
        del levels, hard
    else:  # nothing to compare: every record stands alone
        pairs = pairs.with_columns([pl.lit(None, dtype=pl.Float64).alias(f"bits_{k}") for k in names]
                                   + [pl.lit(None, dtype=pl.Int8).alias(f"level_{k}") for k in names]
                                   + [pl.lit(None, dtype=pl.Float64).alias("match_weight"), pl.lit(None, dtype=pl.String).alias("hard_rule"),
                                      pl.lit(None, dtype=pl.Float64).alias("match_probability"), pl.lit(False).alias(SAME_CREDIT_CODE)])
    del encoded
    constraints = without_company_constraints(df) if settings.declared else df
    same, different = _decision_pairs(df, decisions)
    merge = pairs.filter(((pl.col("match_probability") >= settings.auto_merge_probability) | pl.col(SAME_CREDIT_CODE)) & pl.col("hard_rule").is_null())
    if different:
        drop = pl.DataFrame(list(different), schema={"i": pl.UInt32, "j": pl.UInt32}, orient="row")
        merge = merge.join(drop, on=["i", "j"], how="anti")
    ambiguous = ambiguous_records(constraints, merge)
    merge = merge.filter(~pl.col("i").is_in(ambiguous.implode()) & ~pl.col("j").is_in(ambiguous.implode()))
    certain = pl.lit(None, dtype=pl.Float64).alias("match_weight")
    edges = pl.concat([
        dup_edges.with_columns(pl.lit(1.0).alias("match_probability"), pl.lit("duplicate").alias("__kind"), certain),
        same.with_columns(pl.lit(1.0).alias("match_probability"), pl.lit("reviewer").alias("__kind"), certain),
        merge.select("i", "j", "match_probability", pl.lit(None, dtype=pl.String).alias("__kind"),
                     pl.when(~pl.col(SAME_CREDIT_CODE)).then(pl.col("match_weight")).alias("match_weight")),
    ]).unique(["i", "j"], keep="first")
    labels, refused = cluster(constraints, edges, different)
    if settings.weak_link_gap_bits is not None:
        labels, cut = split_weak_links(labels, edges.filter(pl.Series(labels[edges["i"].to_numpy()] == labels[edges["j"].to_numpy()])),
                                       settings.weak_link_gap_bits)
        refused += cut
    del constraints
    label = "__label"
    df = df.with_columns(pl.Series(label, labels))
    # Why each record is in its cluster: its strongest accepted edge.
    if "level_identifier" not in pairs.columns:  # a declared model of records without codes
        pairs = pairs.with_columns(pl.lit(None, dtype=pl.Int8).alias("level_identifier"))
    best = (edges.join(pairs.select("i", "j", "match_probability", *[f"bits_{k}" for k in names], "level_identifier"), on=["i", "j"], how="left", suffix="_s")
            .filter(pl.Series(labels[edges["i"].to_numpy()] == labels[edges["j"].to_numpy()]) if edges.height else pl.lit(True)))
    if best.height:
        best = best.with_columns(pl.coalesce("match_probability_s", "match_probability").alias("match_probability"))
        scored = evidence_text(best)
        evidence = best.with_columns(
            pl.when(pl.col("__kind") == "duplicate").then(pl.lit("identical record of the same source"))
            .when(pl.col("__kind") == "reviewer").then(pl.lit("a reviewer decided: same")).otherwise(scored).alias("__ev"),
            pl.when(pl.col("__kind").is_not_null()).then(pl.col("__kind"))
            .when((pl.col("level_identifier") == 0).fill_null(False)).then(pl.lit("identifier")).otherwise(pl.lit("probabilistic")).alias("__how"))
        ends = pl.concat([evidence.select(pl.col("i").alias("__p"), pl.col("j").alias("__q"), "__ev", "__how", "match_probability"),
                          evidence.select(pl.col("j").alias("__p"), pl.col("i").alias("__q"), "__ev", "__how", "match_probability")])
        rank = pl.col("__how").replace_strict({"reviewer": 0, "duplicate": 1, "identifier": 2, "probabilistic": 3}, return_dtype=pl.Int8)
        # Ties (two links at p=1.0) go to the first partner, so the evidence is the same on every run.
        ends = ends.sort([rank, pl.col("match_probability"), "__q"], descending=[False, True, False]).unique("__p", keep="first", maintain_order=True)
    else:
        ends = pl.DataFrame(schema={"__p": pl.UInt32, "__ev": pl.String, "__how": pl.String, "match_probability": pl.Float64})
    df = df.with_row_index("__p")
    df = df.with_columns(joined_on(df, "__p", ends.select("__p", "__ev", "__how"), "__p").get_columns())
    size = pl.len().over(label)
    df = df.with_columns(
        pl.when(size == 1).then(pl.lit("none")).otherwise(pl.col("__how").fill_null("probabilistic")).alias("_match"),
        pl.when(size > 1).then(pl.col("__ev")).alias("_match_evidence"),
        golden_id(df, label),
    )
    golden_ids, superseded = keep_earlier_ids(df, earlier_ids)
    df = df.with_columns(golden_ids.alias("target_id"))
    # Lineage of both sides, for the review queue and the run folder.
    lineage = df.select("__p", SOURCE, SOURCE_KEY, ROW, "target_id")
    if pairs.height:
        pairs = (pairs.join(lineage.rename({"__p": "i", SOURCE: "source_a", SOURCE_KEY: "key_a", ROW: "row_a", "target_id": "cluster_a"}), on="i", how="left")
                 .join(lineage.rename({"__p": "j", SOURCE: "source_b", SOURCE_KEY: "key_b", ROW: "row_b", "target_id": "cluster_b"}), on="j", how="left"))
    else:
        pairs = pairs.with_columns([pl.lit(None, dtype=pl.String).alias(c) for c in ("source_a", "key_a", "cluster_a", "source_b", "key_b", "cluster_b")])
    queued = CustomerResolution(df, pairs, model, report, spec=spec).review_pairs(settings) if pairs.height else pairs
    in_review = queued.select(pl.concat_list("i", "j").explode()).to_series().unique() if queued.height else pl.Series([], dtype=pl.UInt32)
    df = add_flag(df, pl.col("__p").is_in(in_review.cast(pl.UInt32).implode()), IN_REVIEW)
    # The registry's code merged names that are not alike: a rename (更名), or a code typed on the wrong row.
    renamed = pairs.filter((pl.col("level_identifier") == 0) & (pl.col("level_brand") >= 3) & (pl.col("cluster_a") == pl.col("cluster_b"))) \
        if pairs.height and "level_brand" in pairs.columns else pairs.clear()
    renamed_pos = renamed.select(pl.concat_list("i", "j").explode()).to_series().unique() if renamed.height else pl.Series([], dtype=pl.UInt32)
    df = add_flag(df, pl.col("__p").is_in(renamed_pos.cast(pl.UInt32).implode()), SAME_CODE_OTHER_NAME)
    df = add_flag(df, pl.col("__p").is_in(ambiguous.cast(pl.UInt32).implode()), AMBIGUOUS_MATCH)
    # A record named like the head office in a branch's cluster (joined by the branch's code): its name is wrong.
    if spec is COMPANY:
        branch_cluster = (pl.col("m_branch") != "").any().over(label)
        df = add_flag(df, branch_cluster & (pl.col("m_branch") == ""), NAME_OF_HEAD_OFFICE)
    # The features a customer is looked up by (opportunities named by a short name) stay; the others go.
    drop = [c for c in df.columns if c.startswith("m_") and c not in LOOKUP_FEATURES] + ["__own", "__p", "__ev", "__how", label]
    return CustomerResolution(df.drop(drop, strict=False), pairs, model, report, refused, candidates, spec, superseded)


def cluster_customers(customers: pl.DataFrame, settings: MatchSettings | None = None,
                      decisions: pl.DataFrame | None = None) -> pl.DataFrame:
    """The clustered records of resolve_customers."""
    return resolve_customers(customers, settings, decisions).clustered


def survivorship_order(df: pl.DataFrame) -> pl.DataFrame:
    """Most trusted first: records whose name fits their cluster (a branch's record named like its
    head office comes last), source priority, most recently updated, most complete, then lineage
    (for determinism)."""
    filled = pl.sum_horizontal([pl.col(f).is_not_null().cast(pl.Int32) for f in GOLDEN_FIELDS])
    misnamed = pl.col("_flags").list.contains(NAME_OF_HEAD_OFFICE) if "_flags" in df.columns else pl.lit(False)
    return df.with_columns(filled.alias("__filled"), misnamed.alias("__misnamed")).sort(
        ["__misnamed", PRIORITY, "updated_at", "__filled", SOURCE, SOURCE_KEY],
        descending=[False, False, True, True, False, False],
        nulls_last=True,
    ).drop("__filled", "__misnamed")


CARRIED = "_carried"


def carry_over(current: pl.DataFrame, previous: pl.DataFrame, sources: set[str]) -> pl.DataFrame:
    """Add the earlier runs' records of incrementally read sources that this run did not re-read, so
    golden records are built from every member. They are marked `_carried` and get fresh row ids."""
    current = current.with_columns(pl.lit(False).alias(CARRIED))
    if previous.is_empty() or not sources:
        return current
    keep = previous.filter(pl.col(SOURCE).is_in(sorted(sources))).join(current.select(SOURCE, SOURCE_KEY), on=[SOURCE, SOURCE_KEY], how="anti")
    if keep.is_empty():
        return current
    start = (current.get_column(RID).max() or 0) + 1 if current.height else 0
    keep = keep.drop(RID, strict=False).with_columns(pl.int_range(start, start + keep.height, dtype=pl.Int64).alias(RID), pl.lit(True).alias(CARRIED))
    return pl.concat([current, keep.select([c for c in current.columns if c in keep.columns])], how="diagonal_relaxed")


SURVIVORSHIP_RULES = ("source_priority", "most_recent", "most_complete", "valid_over_invalid", "longest")
DEFAULT_SURVIVORSHIP = {"credit_code": "valid_over_invalid", "credit_code_status": "valid_over_invalid"}


def _survivor_value(field: str, rule: str) -> tuple[pl.Expr, pl.Expr]:
    """(value, the source:key it came from) of one field under one rule, over members already in
    survivorship order (so ties fall back to source priority, recency, completeness, lineage)."""
    origin = pl.col(SOURCE) + ":" + pl.col(SOURCE_KEY)
    value, known = pl.col(field), pl.col(field).is_not_null()
    if field.startswith("credit_code"):  # a code copied from the row above is another company's: never the golden one
        known = known & (pl.col("credit_code_status") != DOUBTFUL).fill_null(True)
    if rule == "source_priority":
        return value.filter(known).first(), origin.filter(known).first()
    if rule == "valid_over_invalid":  # a valid code (or phone, email) wins whatever the source rank
        valid = pl.col("credit_code_status").is_in(USABLE) if field.startswith("credit_code") \
            else ~pl.col("_flags").list.contains(f"invalid_{field}")
        good = known & valid
        return pl.coalesce(value.filter(good).first(), value.filter(known).first()), pl.coalesce(origin.filter(good).first(), origin.filter(known).first())
    key = {"most_recent": pl.coalesce("updated_at", "created_at"),
           "most_complete": pl.sum_horizontal([pl.col(f).is_not_null().cast(pl.Int32) for f in GOLDEN_FIELDS]),
           "longest": value.cast(pl.String).str.len_chars()}[rule]
    ranked = lambda e: e.filter(known).sort_by(key.filter(known), descending=True, nulls_last=True, maintain_order=True).first()  # noqa: E731
    return ranked(value), ranked(origin)


def golden_records(clustered: pl.DataFrame, survivorship: dict[str, str] | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(golden, members). Golden: one row per target_id, each field chosen over all members (carried
    ones too) by its survivorship rule (`survivorship`: field -> rule, over DEFAULT_SURVIVORSHIP;
    source_priority for the rest: the first non-null value in survivorship order), with
    `provenance` (JSON: field -> source:key it came from) and `current_members` (records read in
    this run). Members: `_survivor` is true for the best record read in this run (it is `loaded`),
    false for the others (`merged`)."""
    if CARRIED not in clustered.columns:
        clustered = clustered.with_columns(pl.lit(False).alias(CARRIED))
    rules = DEFAULT_SURVIVORSHIP | (survivorship or {})
    ordered = survivorship_order(clustered)
    origin = pl.col(SOURCE) + ":" + pl.col(SOURCE_KEY)
    aggs = []
    for f in GOLDEN_FIELDS:
        value, source = _survivor_value(f, rules.get(f, "source_priority"))
        aggs += [value.alias(f), source.alias(f"__from_{f}")]
    current = ~pl.col(CARRIED)
    aggs += [pl.len().alias("member_count"), current.sum().alias("current_members"), origin.filter(current).first().alias("survivor"),
             pl.col(RID).filter(current).first().alias("__survivor_rid")]
    golden = ordered.group_by("target_id", maintain_order=True).agg(aggs)
    # A code two golden customers ended with stays with one of them at most (transforms/shared_codes.py).
    golden, clustered = unshare_codes(golden, clustered)
    provenance = pl.struct([pl.col(f"__from_{f}").alias(f) for f in GOLDEN_FIELDS]).struct.json_encode()
    golden = golden.with_columns(provenance.alias("provenance")).drop([f"__from_{f}" for f in GOLDEN_FIELDS])
    survivors = golden.filter(pl.col("__survivor_rid").is_not_null()).select(pl.col("__survivor_rid").alias(RID), pl.lit(True).alias("_survivor"))
    members = clustered.join(survivors, on=RID, how="left").with_columns(pl.col("_survivor").fill_null(False))
    members = members.join(golden.select("target_id", pl.col("survivor").alias("_survivor_ref")), on="target_id", how="left")
    return golden.drop("__survivor_rid").sort("target_id"), members
