"""Clustering scored pairs into companies, under hard constraints.

Pairs at or above the auto-merge probability (and pairs a reviewer called `same`) are edges. Most
connected components are consistent: at most one identifier of each kind, one branch, one city. They
are clusters as they are, found by vectorised label propagation. A component that is not (a chain
A-B-C where A and C hold different credit codes) is rebuilt edge by edge, strongest first, refusing
any edge that would put two identifiers of one kind, or two branches, cities or trades without a
shared identifier, or a pair a reviewer called `different` into one cluster.
"""
from __future__ import annotations

import numpy as np
import polars as pl

from transforms.parallel import CHUNKS_PER_WORKER, current, fan_out, place, split

IDENTIFIERS = ("m_code", "m_org", "m_reg")
CITIES = ("m_name_city", "m_addr_city", "m_city")
TRADE = "m_trade"


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected component label (the smallest member index) of each of n nodes."""
    return _propagate(n, a.size, lambda labels: [_lowest((a, b), labels)])


def spread_components(n: int, a: np.ndarray, b: np.ndarray, groups: int) -> np.ndarray:
    """`components`, with the edges held in `groups` groups on a cluster's workers: each round the
    labels go out, every group proposes the lower label of its edges' ends, and the proposals are
    folded in here, then pointer jumping. Round for round the same steps as `components`, so the
    same labels (the smallest member index of each component)."""
    held = place([(a[x:y], b[x:y]) for x, y in split(a.size, groups, 1)])
    return _propagate(n, a.size, lambda labels: fan_out(_lowest, held, labels))


def _lowest(edges: tuple[np.ndarray, np.ndarray], labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, b = edges
    return a, b, np.minimum(labels[a], labels[b])


def _propagate(n: int, edges: int, proposals) -> np.ndarray:
    """Label propagation: each round every edge proposes the lower label of its ends (from the labels
    at the round's start) to both, then every node jumps to its root; until nothing changes."""
    labels = np.arange(n, dtype=np.int64)
    if edges == 0:
        return labels
    while True:
        before = labels.copy()
        for ends_a, ends_b, low in proposals(before):
            np.minimum.at(labels, ends_a, low)
            np.minimum.at(labels, ends_b, low)
        while True:  # pointer jumping: every node to its root
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped
        if np.array_equal(before, labels):
            return labels


def _inconsistent(features: pl.DataFrame, labels: np.ndarray, different: set[tuple[int, int]]) -> set[int]:
    """Component labels that break a constraint."""
    df = features.select(*IDENTIFIERS, "m_branch", *CITIES, TRADE).with_columns(pl.Series("__c", labels))
    checks = [pl.col(c).drop_nulls().n_unique() > 1 for c in (*IDENTIFIERS, "m_branch", *CITIES, TRADE)]
    bad = set(df.group_by("__c").agg(pl.any_horizontal(checks).alias("__bad")).filter(pl.col("__bad"))["__c"].to_list())
    bad |= {int(labels[x]) for x, y in different if labels[x] == labels[y]}
    return bad


class _Cluster:
    __slots__ = ("members", "values")

    def __init__(self, member: int, values: dict[str, str | None]) -> None:
        self.members = [member]
        self.values = {k: ({v} if v is not None else set()) for k, v in values.items()}


def _compatible(x: _Cluster, y: _Cluster, different: dict[int, set[int]]) -> bool:
    for k in IDENTIFIERS:
        if len(x.values[k] | y.values[k]) > 1:
            return False
    shared_id = any(x.values[k] & y.values[k] for k in IDENTIFIERS)
    if not shared_id and x.values["m_branch"] != y.values["m_branch"]:
        return False
    if not shared_id and any(len(x.values[k] | y.values[k]) > 1 for k in CITIES):
        return False
    trades = x.values[TRADE] | y.values[TRADE]
    if not shared_id and any(a not in b and b not in a for a in trades for b in trades):
        return False
    small, large = (x, y) if len(x.members) <= len(y.members) else (y, x)
    other = set(large.members)
    return not any(different.get(m, set()) & other for m in small.members)


def ambiguous_records(features: pl.DataFrame, edges: pl.DataFrame) -> pl.Series:
    """Positions of records whose merge partners are of two companies that cannot be one: partners
    with different identifiers (for a record without one), or (when the record states none)
    different cities or trades among the partners that do not share its identifier. 腾飞电子科技
    without a region, next to 深圳市腾飞… and 广州市腾飞…: either could be meant, so neither is, and the
    pairs go to review. So is 上海汇睿 next to its sisters 汇睿电子科技 and 汇睿贸易 at one address, even
    with a code neither of them carries."""
    if edges.is_empty():
        return pl.Series("i", [], dtype=pl.UInt32)
    both = pl.concat([edges.select(pl.col("i").alias("r"), pl.col("j").alias("o")), edges.select(pl.col("j").alias("r"), pl.col("i").alias("o"))])
    f = features.select(*IDENTIFIERS, "m_city", TRADE).with_row_index("__pos")
    mine = f.select(pl.col("__pos").alias("r"), pl.any_horizontal([pl.col(k).is_not_null() for k in IDENTIFIERS]).alias("r_has_id"),
                    # its code is carried by another record: that record is its company (a rename), whatever the partners
                    pl.any_horizontal([pl.col(k).is_not_null() & pl.col(k).is_duplicated() for k in IDENTIFIERS]).alias("r_code_shared"),
                    *[pl.col(k).alias(f"r_{k}") for k in IDENTIFIERS], pl.col("m_city").alias("r_city"), pl.col(TRADE).alias("r_trade"))
    theirs = f.select(pl.col("__pos").alias("o"), *[pl.col(k).alias(f"o_{k}") for k in IDENTIFIERS], pl.col("m_city").alias("o_city"),
                      pl.col(TRADE).alias("o_trade"))
    joined = both.join(mine, on="r").join(theirs, on="o")
    # A partner sharing the record's identifier is its company for certain.
    other = ~pl.any_horizontal([(pl.col(f"r_{k}") == pl.col(f"o_{k}")).fill_null(False) for k in IDENTIFIERS])
    per = joined.group_by("r").agg(
        pl.max_horizontal([pl.col(f"o_{k}").filter(~pl.col("r_has_id")).drop_nulls().n_unique() for k in IDENTIFIERS]).alias("ids"),
        pl.col("o_city").filter(pl.col("r_city").is_null() & other).drop_nulls().n_unique().alias("cities"),
        pl.col("o_trade").filter(pl.col("r_trade").is_null() & other).drop_nulls().n_unique().alias("trades"),
        ((~other).any() | pl.col("r_code_shared").first()).alias("tied"),
    )
    places = ((pl.col("cities") > 1) | (pl.col("trades") > 1)) & ~pl.col("tied")  # a partner with its code settles it
    return per.filter((pl.col("ids") > 1) | places).get_column("r").cast(pl.UInt32)


def cluster(features: pl.DataFrame, edges: pl.DataFrame, different: set[tuple[int, int]] | None = None) -> tuple[np.ndarray, int]:
    """(label per record, edges refused). edges: i, j, match_probability (already filtered to the
    merge threshold and free of hard-rule pairs); different: (i, j) pairs that must stay apart."""
    different = different or set()
    n = features.height
    a, b = edges.get_column("i").to_numpy().astype(np.int64), edges.get_column("j").to_numpy().astype(np.int64)
    mapper = current()
    # Components from the edges gathered here (as without a cluster), or by a pass on the workers: the same labels.
    labels = spread_components(n, a, b, CHUNKS_PER_WORKER * mapper.workers) if mapper is not None and mapper.spread_components else components(n, a, b)
    bad = _inconsistent(features, labels, different)
    if not bad:
        return labels, 0
    partners: dict[int, set[int]] = {}
    for x, y in different:
        partners.setdefault(x, set()).add(y)
        partners.setdefault(y, set()).add(x)
    in_bad = np.isin(labels, np.fromiter(bad, dtype=np.int64))
    nodes = np.flatnonzero(in_bad)
    columns = (*IDENTIFIERS, "m_branch", *CITIES, TRADE)
    rows = features.select(columns)[nodes].rows()
    clusters = {int(node): _Cluster(int(node), dict(zip(columns, row))) for node, row in zip(nodes, rows)}
    owner = {int(node): int(node) for node in nodes}

    def find(x: int) -> int:
        while owner[x] != x:
            owner[x] = owner[owner[x]]
            x = owner[x]
        return x

    sub = edges.filter(pl.Series(in_bad[a])).sort(["match_probability", "i", "j"], descending=[True, False, False])
    refused = 0
    for x, y in sub.select("i", "j").iter_rows():
        rx, ry = find(x), find(y)
        if rx == ry:
            continue
        cx, cy = clusters[rx], clusters[ry]
        if not _compatible(cx, cy, partners):
            refused += 1
            continue
        if len(cx.members) < len(cy.members):
            rx, ry, cx, cy = ry, rx, cy, cx
        owner[ry] = rx
        cx.members += cy.members
        for k in cx.values:
            cx.values[k] |= cy.values[k]
        del clusters[ry]
    labels = labels.copy()
    for root, c in clusters.items():
        labels[c.members] = min(c.members)
    return labels, refused


def split_weak_links(labels: np.ndarray, edges: pl.DataFrame, gap_bits: float) -> tuple[np.ndarray, int]:
    """(labels, links cut). A probabilistic edge whose match weight is more than `gap_bits` below the
    median of its cluster's edges, and that alone joins two groups of records, is removed: two
    companies chained through one thin link split there. A weak edge that other edges back up, or
    that holds a single record, changes nothing.
    edges: i, j, match_weight (null for certain edges: a shared code, a twin, a reviewer), in
    `labels`' clusters."""
    if edges.is_empty():
        return labels, 0
    e = edges.with_columns(pl.Series("__c", labels[edges.get_column("i").to_numpy()]))
    e = e.with_columns(pl.col("match_weight").median().over("__c").alias("__median"))
    weak = (pl.col("match_weight") < pl.col("__median") - gap_bits).fill_null(False)
    cut = e.filter(weak)
    if cut.is_empty():
        return labels, 0
    touched = np.isin(labels, cut.get_column("__c").unique().to_numpy())
    kept = e.filter(~weak & pl.Series(touched[e.get_column("i").to_numpy()]))
    ends = lambda f: (f.get_column("i").to_numpy().astype(np.int64), f.get_column("j").to_numpy().astype(np.int64))  # noqa: E731
    sub = components(labels.shape[0], *ends(kept))
    # A single record hanging on by a weak link is a sparse duplicate (a short name, a typo'd copy),
    # not two companies: only a link between two groups of records is cut.
    size = np.bincount(sub, minlength=labels.shape[0])
    ci, cj = ends(cut)
    lone = (size[sub[ci]] < 2) | (size[sub[cj]] < 2)
    if lone.any():
        kept = pl.concat([kept, cut.filter(pl.Series(lone)).select(kept.columns)])
        sub = components(labels.shape[0], *ends(kept))
    out = labels.copy()
    out[touched] = sub[touched]
    return out, int((out[cut.get_column("i").to_numpy()] != out[cut.get_column("j").to_numpy()]).sum())
