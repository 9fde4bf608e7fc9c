"""A credit code dragged onto the next row (Excel's fill handle) must not merge two companies."""
import polars as pl

from crm_migrate.contracts import CODE_COPIED_FROM_ROW_ABOVE
from transforms.copied_codes import copied_down
from transforms.match_features import match_features
from transforms.resolve import golden_records, resolve_customers
from tests.test_resolve import A, B, customers, groups


def rows_with(*names_codes_phones, source="xl"):
    return customers([(source, str(k + 2), name, code, 10, None, phone) for k, (name, code, phone) in enumerate(names_codes_phones)])


def copied(frame):
    flags = resolve_customers(frame).clustered.sort("_row")
    return [CODE_COPIED_FROM_ROW_ABOVE in f for f in flags["_flags"].to_list()]


def test_code_of_the_row_above_on_another_company_is_doubtful():
    df = rows_with(("深圳市腾飞电子科技有限公司", A, "+8675512345678"), ("广州市华信贸易有限公司", A, "+862087654321"))
    assert copied(df) == [False, True]


def test_same_company_twice_in_a_row_keeps_its_code():
    df = rows_with(("深圳市腾飞电子科技有限公司", A, None), ("腾飞电子", A, None), ("深圳市騰飛電子科技有限公司", A, None))
    assert copied(df) == [False, False, False]


def test_a_rename_sharing_a_phone_keeps_its_code():
    df = rows_with(("深圳市腾飞电子科技有限公司", A, "+8675512345678"), ("深圳市华信贸易有限公司", A, "+8675512345678"))
    assert copied(df) == [False, False]


def test_a_sister_company_below_is_doubtful_even_at_the_same_switchboard():
    df = rows_with(("深圳市华创新医药有限公司", A, "+8675554507819"), ("（老客户）深圳市华创新物流集团有限公司", A, "+8675554507819"))
    assert copied(df) == [False, True]


def test_one_brand_in_another_city_sharing_nothing_is_another_company():
    df = rows_with(("武汉弘汇信息技术集团有限公司", A, "+8617713520115"), ("深圳弘汇信息技术集团有限公司", A, "+8675535843739"),
                   ("深圳弘汇信息技术集团有限公司", B, "+8675535843739"), ("弘汇信息技术集团有限公司", B, "+8613912345678"))
    # the third keeps its own code; the fourth states no city: it may be the same company
    assert copied(df) == [False, True, False, False]
    moved = rows_with(("武汉弘汇信息技术集团有限公司", A, "+8617713520115"), ("深圳弘汇信息技术集团有限公司", A, "+8617713520115"))
    assert copied(moved) == [False, False]  # one mobile: one company that moved


def test_only_neighbours_in_one_source_count():
    apart = rows_with(("深圳市腾飞电子科技有限公司", A, None), ("深圳市星河物流有限公司", B, None), ("广州市华信贸易有限公司", A, None))
    assert copied(apart) == [False, False, False]  # not neighbours: a rename (更名) the registry vouches for
    two_sources = customers([("crm", "1", "深圳市腾飞电子科技有限公司", A, 10, None, None), ("xl", "1", "广州市华信贸易有限公司", A, 10, None, None)])
    assert copied(two_sources) == [False, False]


def test_row_order_not_frame_order_decides_the_neighbour():
    df = rows_with(("深圳市腾飞电子科技有限公司", A, None), ("广州市华信贸易有限公司", A, None), ("广州市华信贸易有限公司", A, None))
    shuffled = df[[2, 0, 1]]
    assert copied_down(match_features(shuffled)).to_list() == [False, False, True]  # rows 4, 2, 3: only row 3 is below another company


def test_doubtful_code_neither_merges_nor_becomes_the_golden_code():
    df = pl.concat([
        customers([("crm", "9", "广州市华信贸易有限公司", B, 10, None, "+862087654321")]),
        rows_with(("深圳市腾飞电子科技有限公司", A, "+8675512345678"), ("广州市华信贸易有限公司", A, "+862087654321")),
    ])
    res = resolve_customers(df)
    # The copied row joins its own company (name and phone; its doubtful code no longer conflicts), not the row above.
    assert groups(res.clustered) == {frozenset({"2"}), frozenset({"9", "3"})}
    golden, _ = golden_records(res.clustered)
    assert sorted(golden["credit_code"].to_list()) == sorted([A, B])
    alone = rows_with(("深圳市腾飞电子科技有限公司", A, None), ("广州市华信贸易有限公司", A, None))
    golden, _ = golden_records(resolve_customers(alone).clustered)
    assert golden["credit_code"].to_list().count(A) == 1  # two golden customers never share one code
