"""Constrained clustering on hand-made features and edges: what merges, what is refused, and why."""
import numpy as np
import polars as pl

from transforms.clustering import ambiguous_records, cluster, components

COLUMNS = ("m_code", "m_org", "m_reg", "m_branch", "m_name_city", "m_addr_city", "m_city", "m_trade")


def features(*rows):
    """rows: dicts of the constrained features (missing ones are null; m_branch defaults to '')."""
    full = [{c: r.get(c, "" if c == "m_branch" else None) for c in COLUMNS} for r in rows]
    return pl.DataFrame(full, schema={c: pl.String for c in COLUMNS})


def edges(*triples):
    return pl.DataFrame({"i": [t[0] for t in triples], "j": [t[1] for t in triples], "match_probability": [t[2] for t in triples]},
                        schema={"i": pl.UInt32, "j": pl.UInt32, "match_probability": pl.Float64})


def clusters(labels):
    out = {}
    for node, label in enumerate(labels.tolist()):
        out.setdefault(label, set()).add(node)
    return sorted(map(sorted, out.values()))


def test_components_follow_long_chains_and_label_by_the_smallest_member():
    n = 50
    a, b = np.arange(n - 1, 0, -1), np.arange(n - 2, -1, -1)  # a chain given backwards: 49-48, 48-47, ...
    labels = components(n + 2, a, b)
    assert (labels[:n] == 0).all() and labels[n] == n and labels[n + 1] == n + 1
    assert components(3, np.array([], dtype=np.int64), np.array([], dtype=np.int64)).tolist() == [0, 1, 2]
    consistent = cluster(features({"m_code": "C1"}, {}, {"m_city": "深圳"}), edges((0, 1, 0.999), (1, 2, 0.999)))
    assert consistent[0].tolist() == [0, 0, 0] and consistent[1] == 0  # nothing refused


def test_a_chain_between_two_codes_keeps_the_stronger_link_and_refuses_the_other():
    f = features({"m_code": "C1"}, {}, {"m_code": "C2"})
    labels, refused = cluster(f, edges((0, 1, 0.999), (1, 2, 0.995)))
    assert clusters(labels) == [[0, 1], [2]] and refused == 1
    labels, refused = cluster(f, edges((0, 1, 0.995), (1, 2, 0.999)))  # the other way round
    assert clusters(labels) == [[0], [1, 2]] and refused == 1


def test_each_identifier_kind_and_the_branch_are_constraints():
    for column in ("m_code", "m_org", "m_reg"):
        f = features({column: "X1"}, {}, {column: "X2"})
        assert clusters(cluster(f, edges((0, 1, 0.999), (1, 2, 0.998)))[0]) == [[0, 1], [2]], column
    f = features({"m_branch": ""}, {"m_branch": ""}, {"m_branch": "北京分公司"})
    assert clusters(cluster(f, edges((0, 1, 0.999), (1, 2, 0.998)))[0]) == [[0, 1], [2]]


def test_a_shared_identifier_joins_a_branch_marker_or_two_cities_and_nothing_else_does():
    # A record named like the head office carries the branch's code: the code decides.
    f = features({"m_code": "B", "m_branch": "北京分公司"}, {"m_code": "B", "m_branch": ""})
    assert clusters(cluster(f, edges((0, 1, 0.999)))[0]) == [[0, 1]]
    f = features({"m_code": "C", "m_city": "深圳"}, {"m_code": "C", "m_city": "广州"}, {"m_city": "北京"})  # a company that moved
    labels, refused = cluster(f, edges((0, 1, 0.999), (1, 2, 0.998)))
    assert clusters(labels) == [[0, 1], [2]] and refused == 1
    for column in ("m_name_city", "m_addr_city", "m_city"):
        f = features({column: "深圳"}, {}, {column: "广州"})
        assert clusters(cluster(f, edges((0, 1, 0.999), (1, 2, 0.998)))[0]) == [[0, 1], [2]], column


def test_trades_merge_when_one_contains_the_other():
    f = features({"m_trade": "电子"}, {"m_trade": "电子软件"}, {})
    assert clusters(cluster(f, edges((0, 1, 0.999), (1, 2, 0.998)))[0]) == [[0, 1, 2]]
    f = features({"m_trade": "电子"}, {}, {"m_trade": "物流"})
    assert clusters(cluster(f, edges((0, 1, 0.999), (1, 2, 0.998)))[0]) == [[0, 1], [2]]


def test_a_reviewers_different_keeps_two_records_apart_even_through_others():
    f = features({}, {}, {}, {})
    e = edges((0, 1, 0.999), (1, 2, 0.998), (2, 3, 0.997))
    labels, refused = cluster(f, e, different={(0, 3)})
    assert clusters(labels) == [[0, 1, 2], [3]] and refused == 1
    labels, refused = cluster(f, e, different={(0, 2)})
    assert clusters(labels) == [[0, 1], [2, 3]] and refused == 1
    assert clusters(cluster(f, e)[0]) == [[0, 1, 2, 3]]


def test_consistent_components_pass_untouched_and_only_broken_ones_are_rebuilt():
    f = features({"m_code": "C1"}, {}, {"m_code": "C2"}, {}, {})
    labels, refused = cluster(f, edges((0, 1, 0.999), (1, 2, 0.995), (3, 4, 0.991)))
    assert clusters(labels) == [[0, 1], [2], [3, 4]] and refused == 1
    assert labels.tolist() == [0, 0, 2, 3, 3]  # every cluster labelled by its smallest member


def test_a_record_that_fits_two_companies_that_cannot_be_one_is_ambiguous():
    f = features({"m_city": "深圳"}, {"m_city": "广州"}, {}, {"m_code": "C1"}, {"m_code": "C2"}, {}, {"m_code": "C3"})
    e = edges((0, 2, 0.999), (1, 2, 0.999), (3, 5, 0.999), (4, 5, 0.999), (5, 6, 0.2))
    assert sorted(ambiguous_records(f, e).to_list()) == [2, 5]
    assert ambiguous_records(f, edges((0, 2, 0.999))).to_list() == []
    # A code neither partner carries does not say which of the two it is (上海汇睿 with its own code
    # next to its sisters 汇睿电子科技 and 汇睿贸易); a partner carrying the same code does.
    f2 = features({"m_city": "深圳"}, {"m_city": "广州"}, {"m_code": "C9"}, {"m_city": "广州", "m_code": "C8"})
    assert ambiguous_records(f2, edges((0, 2, 0.999), (1, 2, 0.999))).to_list() == [2]
    # ... even when that pair is not a merge edge (a rename scores low): the code ties them, and an
    # ambiguous record cut loose would leave two golden customers with one code.
    assert ambiguous_records(f2, edges((0, 2, 0.999), (1, 2, 0.999))).to_list() == [2] != ambiguous_records(
        features({"m_city": "深圳"}, {"m_city": "广州"}, {"m_code": "C9"}, {"m_code": "C9"}), edges((0, 2, 0.999), (1, 2, 0.999))).to_list()
    f3 = features({"m_trade": "电子"}, {"m_trade": "贸易"}, {"m_code": "C9"})
    assert ambiguous_records(f3, edges((0, 2, 0.999), (1, 2, 0.999))).to_list() == [2]
    # A record that states its city is not made ambiguous by partners of two cities (one is wrong, not it).
    f4 = features({"m_city": "深圳"}, {"m_city": "广州"}, {"m_city": "深圳", "m_code": "C9"})
    assert ambiguous_records(f4, edges((0, 2, 0.999), (1, 2, 0.999))).to_list() == []


def test_a_cluster_held_by_one_weak_link_splits_there_and_a_backed_up_one_does_not():
    from transforms.clustering import split_weak_links

    def weighted(*rows):
        return pl.DataFrame({"i": [r[0] for r in rows], "j": [r[1] for r in rows], "match_weight": [r[2] for r in rows]},
                            schema={"i": pl.UInt32, "j": pl.UInt32, "match_weight": pl.Float64})

    labels = np.zeros(6, dtype=np.int64)
    chain = weighted((0, 1, 40.0), (1, 2, 42.0), (2, 3, 9.0), (3, 4, 38.0), (4, 5, 44.0))  # {0,1,2} and {3,4,5} held by 9 bits
    out, cut = split_weak_links(labels, chain, 25.0)
    assert clusters(out) == [[0, 1, 2], [3, 4, 5]] and cut == 1
    assert clusters(split_weak_links(labels, chain, 35.0)[0]) == [[0, 1, 2, 3, 4, 5]]  # not that far below
    backed = weighted((0, 1, 40.0), (1, 2, 42.0), (2, 3, 9.0), (3, 4, 38.0), (4, 5, 44.0), (1, 4, 41.0))
    assert clusters(split_weak_links(labels, backed, 25.0)[0]) == [[0, 1, 2, 3, 4, 5]]
    hanging = weighted((0, 1, 40.0), (1, 2, 42.0), (2, 3, 38.0), (3, 4, 44.0), (4, 5, 9.0))  # one record by a weak link: a sparse copy
    assert split_weak_links(labels, hanging, 25.0)[1] == 0
    certain = weighted((0, 1, 40.0), (1, 2, 42.0), (2, 3, None), (3, 4, 38.0), (4, 5, 44.0))  # a shared code: never cut
    assert split_weak_links(labels, certain, 25.0)[1] == 0
