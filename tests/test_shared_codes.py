"""A code held by two golden customers stays with one at most: valid first, then the customer in
the place the code was issued, then the one more of whose records hold it; else with none."""
import polars as pl

from crm_migrate.contracts import CODE_DOUBTFUL, CODE_OF_ANOTHER_CUSTOMER, FLAGS
from transforms.credit_code import make_code
from transforms.shared_codes import unshare_codes

FUZHOU_CODE = make_code("91", "350102", "67926119")  # issued in 福州 鼓楼
BROKEN = FUZHOU_CODE[:-1] + ("0" if FUZHOU_CODE[-1] != "0" else "1")  # its check character wrong: invalid


def golden(rows):
    df = pl.DataFrame(rows, schema={"target_id": pl.String, "credit_code": pl.String, "credit_code_status": pl.String, "city": pl.String}, orient="row")
    return df.with_columns(pl.lit("erp:1").alias("__from_credit_code"))


def members(rows):
    return pl.DataFrame(rows, schema={"target_id": pl.String, "credit_code": pl.String}, orient="row").with_columns(
        pl.lit([], dtype=pl.List(pl.String)).alias(FLAGS))


def kept(g):
    return dict(g.select("target_id", "credit_code").iter_rows())


def test_the_customer_in_the_place_the_code_was_issued_keeps_it():
    g, m = unshare_codes(golden([("A", BROKEN, "invalid", "西安市"), ("B", BROKEN, "invalid", "福州市"), ("C", "X1", "invalid", "杭州市")]),
                         members([("A", BROKEN), ("B", BROKEN), ("C", "X1")]))
    assert kept(g) == {"A": None, "B": BROKEN, "C": "X1"}
    assert g.filter(pl.col("target_id") == "A").row(0, named=True) | {} == {
        "target_id": "A", "credit_code": None, "credit_code_status": CODE_DOUBTFUL, "city": "西安市", "__from_credit_code": None}
    assert m.filter(pl.col(FLAGS).list.contains(CODE_OF_ANOTHER_CUSTOMER))["target_id"].to_list() == ["A"]


def test_valid_beats_the_place_and_more_records_beat_fewer():
    g, _ = unshare_codes(golden([("A", FUZHOU_CODE, "valid", "杭州市"), ("B", FUZHOU_CODE, "invalid", "福州市")]),
                         members([("A", FUZHOU_CODE), ("B", FUZHOU_CODE), ("B", FUZHOU_CODE)]))
    assert kept(g) == {"A": FUZHOU_CODE, "B": None}
    g, m = unshare_codes(golden([("A", "777652294", "invalid", "长春市"), ("B", "777652294", "invalid", "西安市")]),
                         members([("A", "777652294"), ("A", "777652294"), ("A", None), ("B", "777652294")]))
    assert kept(g) == {"A": "777652294", "B": None}
    assert m[FLAGS].list.len().to_list() == [0, 0, 0, 1]


def test_when_nothing_singles_one_out_none_keeps_it():
    g, m = unshare_codes(golden([("A", "777652294", "invalid", "长春市"), ("B", "777652294", "invalid", "西安市"), ("C", "9", "invalid", None)]),
                         members([("A", "777652294"), ("B", "777652294"), ("C", "9")]))
    assert kept(g) == {"A": None, "B": None, "C": "9"}
    assert m[FLAGS].list.len().to_list() == [1, 1, 0]


def test_codes_held_once_are_left_alone():
    g0 = golden([("A", "1", "valid", "杭州市"), ("B", None, None, None), ("C", None, None, None)])
    m0 = members([("A", "1"), ("B", None), ("C", None)])
    g, m = unshare_codes(g0, m0)
    assert g.equals(g0) and m.equals(m0)


def test_the_place_outweighs_any_number_of_records_and_a_missing_city_or_status_proves_nothing():
    g, _ = unshare_codes(golden([("A", BROKEN, "invalid", "福州市"), ("B", BROKEN, "invalid", "杭州市")]),
                         members([("A", BROKEN)] + [("B", BROKEN)] * 200))
    assert kept(g) == {"A": BROKEN, "B": None}
    g, _ = unshare_codes(golden([("A", BROKEN, "invalid", None), ("B", BROKEN, "invalid", "杭州市")]),
                         members([("A", BROKEN), ("B", BROKEN)]))
    assert kept(g) == {"A": None, "B": None}
    g, _ = unshare_codes(golden([("A", "X9", None, "杭州市"), ("B", "X9", "invalid", "杭州市")]),
                         members([("A", "X9"), ("B", "X9"), ("B", "X9")]))
    assert kept(g) == {"A": None, "B": "X9"}


def test_a_short_code_names_no_place_even_when_its_digits_look_like_one():
    org = "AB350102X"  # 3501 at characters 3-6, as in a credit code of 福州: but it is no credit code
    g, _ = unshare_codes(golden([("A", org, "invalid", "福州市"), ("B", org, "invalid", "杭州市")]),
                         members([("A", org), ("B", org)]))
    assert kept(g) == {"A": None, "B": None}
