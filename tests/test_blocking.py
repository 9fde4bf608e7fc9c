"""Blocking against a brute-force reference: every pair of records, every rule, by definition.

candidate_pairs builds pairs from block sizes with numpy and merges the rules' pairs rule by rule;
whatever the data (missing keys, empty texts, second phone numbers, records without a city, blocks
over the cap), it must propose exactly the pairs the definition names, with the rules that did."""
from itertools import combinations

import polars as pl
from hypothesis import given, settings, strategies as st

from transforms.blocking import STRONG_KEYS, candidate_pairs

RULES = [["m_brand"], ["m_phone"], ["m_brand", "m_trade"], ["m_code"], ["m_phone", "m_trade"]]  # alternates serve one-column rules only
ALTERNATES = {"m_phone": "m_phone2"}


def reference(rows: list[dict], rules: list[list[str]], cap: int, within_city: bool) -> tuple[dict[tuple[int, int], int], list[tuple]]:
    """({(i, j): rule bits}, per rule (blocks over the cap, their records, largest block)), straight
    from the definition."""
    def values(row, column):  # the keys a record is filed under for a one-column rule
        got = {row[column]} | ({row[ALTERNATES[column]]} if column in ALTERNATES else set())
        return {v for v in got if v not in (None, "")}

    out: dict[tuple[int, int], int] = {}
    stats = []
    for r, columns in enumerate(rules):
        if len(columns) == 1:
            blocks: dict = {}
            for k, row in enumerate(rows):
                for v in values(row, columns[0]):
                    blocks.setdefault((v,), set()).add(k)
        else:
            blocks = {}
            for k, row in enumerate(rows):
                key = tuple(row[c] for c in columns)
                if all(v not in (None, "") for v in key):
                    blocks.setdefault(key, set()).add(k)
        name_rule = within_city and not set(columns) & STRONG_KEYS and "m_city" not in columns
        over = [len(m) for m in blocks.values() if len(m) > cap]
        stats.append((len(over), sum(over), max((len(m) for m in blocks.values()), default=0)))
        for members in blocks.values():
            if len(members) > cap:
                continue
            for i, j in combinations(sorted(members), 2):
                a, b = rows[i]["m_city"], rows[j]["m_city"]
                if name_rule and a is not None and b is not None and a != b:
                    continue
                out[(i, j)] = out.get((i, j), 0) | (1 << r)
    return out, stats


small = st.sampled_from([None, "", "a", "b", "c"])
record = st.fixed_dictionaries({"m_brand": small, "m_trade": st.sampled_from([None, "科技", "贸易"]), "m_code": small,
                                "m_phone": small, "m_phone2": small, "m_city": st.sampled_from([None, "深圳", "广州"])})


@settings(max_examples=150, deadline=None)
@given(st.lists(record, min_size=0, max_size=30), st.integers(2, 12), st.booleans())
def test_candidate_pairs_are_exactly_the_pairs_the_rules_define(rows, cap, within_city):
    frame = pl.DataFrame(rows, schema={c: pl.String for c in ["m_brand", "m_trade", "m_code", "m_phone", "m_phone2", "m_city"]})
    pairs, report = candidate_pairs(frame, RULES, cap, within_city=within_city, alternates=ALTERNATES)
    got = {(i, j): bits for i, j, bits in pairs.select("i", "j", "rules").iter_rows()}
    want, stats = reference(rows, RULES, cap, within_city)
    assert got == want
    assert pairs.select("i", "j").rows() == sorted(want)  # sorted, one row per pair
    assert report.pairs == [sum(1 for bits in want.values() if bits >> r & 1) for r in range(len(RULES))]
    assert list(zip(report.skipped_blocks, report.skipped_records, report.largest_block)) == stats


def test_a_block_over_the_cap_is_skipped_and_counted():
    rows = [{"m_brand": "a", "m_trade": None, "m_code": None, "m_phone": "1", "m_phone2": None, "m_city": None} for _ in range(5)]
    frame = pl.DataFrame(rows, schema={c: pl.String for c in rows[0]})
    pairs, report = candidate_pairs(frame, [["m_brand"], ["m_phone"]], 4, alternates=ALTERNATES)
    assert pairs.is_empty()
    assert report.skipped_blocks == [1, 1] and report.skipped_records == [5, 5] and report.largest_block == [5, 5]
