from datetime import datetime

import polars as pl

from crm_migrate.contracts import CANONICAL, CUSTOMER
from transforms.credit_code import make_code
from transforms.names import parse_name, standardize_names
from transforms.opportunities import dedupe_opportunities, link_opportunities
from transforms.resolve import cluster_customers, golden_records

A = make_code("91", "440300", "70846113")
B = make_code("91", "440106", "12345678")


def customers(rows):
    """rows: (source, key, name, credit_code, priority, updated, phone)."""
    recs = []
    for i, (src, key, name, code, prio, updated, phone) in enumerate(rows):
        normalized, key_, has_region, branch = parse_name(name)
        rec = {f: None for f in CANONICAL[CUSTOMER]}
        rec |= {"_rid": i, "_source": src, "_source_key": key, "_row": i + 1, "_priority": prio, "name": name,
                "name_normalized": normalized, "name_key": key_, "name_has_region": has_region, "is_branch": branch,
                "credit_code": code, "credit_code_status": "valid" if code else "missing", "phone": phone,
                "updated_at": updated, "_flags": []}
        recs.append(rec)
    schema = {**CANONICAL[CUSTOMER], "_rid": pl.Int64, "_source": pl.String, "_source_key": pl.String, "_row": pl.Int64,
              "_priority": pl.Int64, "name_has_region": pl.Boolean, "is_branch": pl.Boolean, "_flags": pl.List(pl.String)}
    parsed = standardize_names(pl.DataFrame(recs, schema=schema)).drop("__name_flag")
    return parsed.select(*schema, *[c for c in parsed.columns if c not in schema])


def groups(frame):
    """The clusters as sets of source keys."""
    return {frozenset(g) for g in frame.group_by("target_id").agg("_source_key")["_source_key"].to_list()}


def test_same_credit_code_merges_across_name_variants():
    df = customers([("crm", "1", "深圳市腾飞电子科技有限公司", A, 10, None, None),
                    ("xl", "2", "腾飞电子科技（深圳）有限责任公司", A, 30, None, None)])
    assert groups(cluster_customers(df)) == {frozenset({"1", "2"})}


def test_two_valid_codes_never_merge_even_with_the_same_name():
    df = customers([("crm", "1", "深圳市腾飞电子科技有限公司", A, 10, None, None),
                    ("xl", "2", "深圳市腾飞电子科技有限公司", B, 30, None, None)])
    assert groups(cluster_customers(df)) == {frozenset({"1"}), frozenset({"2"})}


def test_code_less_record_joins_the_one_code_of_its_name_group():
    df = customers([("crm", "1", "深圳市腾飞电子科技有限公司", A, 10, None, None),
                    ("xl", "2", "深圳腾飞电子科技有限公司", None, 30, None, None)])
    assert groups(cluster_customers(df)) == {frozenset({"1", "2"})}


def test_ambiguous_name_group_leaves_code_less_record_alone_and_flags_it():
    df = customers([("crm", "1", "深圳市腾飞电子科技有限公司", A, 10, None, None),
                    ("crm", "2", "深圳市腾飞电子科技有限公司", B, 10, None, None),
                    ("xl", "3", "深圳市腾飞电子科技有限公司", None, 30, None, None)])
    out = cluster_customers(df)
    assert groups(out) == {frozenset({"1"}), frozenset({"2"}), frozenset({"3"})}
    assert "ambiguous_name_match" in out.filter(pl.col("_source_key") == "3")["_flags"][0].to_list()


def test_hard_negatives_stay_apart():
    df = customers([("crm", "1", "深圳市腾飞电子科技有限公司", None, 10, None, None),
                    ("crm", "2", "广州市腾飞电子科技有限公司", None, 10, None, None),  # same brand, other city
                    ("crm", "3", "深圳市腾飞电子科技有限公司北京分公司", None, 10, None, None),  # branch
                    ("xl", "4", "腾飞电子科技有限公司", None, 30, None, None),  # no region: never on name alone
                    ("xl", "5", "腾飞电子科技有限公司", None, 30, None, None)])
    assert groups(cluster_customers(df)) == {frozenset({k}) for k in "12345"}


def test_golden_ids_are_deterministic_and_order_independent():
    rows = [("crm", "1", "深圳市腾飞电子科技有限公司", A, 10, None, None), ("xl", "2", "深圳腾飞电子科技有限公司", None, 30, None, None)]
    one = cluster_customers(customers(rows)).sort("_source_key")["target_id"].to_list()
    two = cluster_customers(customers(rows[::-1])).sort("_source_key")["target_id"].to_list()
    assert one == two and one[0] == one[1] and one[0].startswith("CUS-")


def test_survivorship_prefers_priority_then_recency_and_fills_gaps():
    df = customers([("xl", "2", "深圳腾飞电子科技有限公司", A, 30, datetime(2024, 1, 1), "+8613800000001"),
                    ("crm", "1", "深圳市腾飞电子科技有限公司", A, 10, datetime(2020, 1, 1), None)])
    golden, members = golden_records(cluster_customers(df))
    row = golden.row(0, named=True)
    assert row["name"] == "深圳市腾飞电子科技有限公司"  # from the trusted source
    assert row["phone"] == "+8613800000001"  # filled from the other record
    assert '"phone":"xl:2"' in row["provenance"] and '"name":"crm:1"' in row["provenance"]
    assert row["member_count"] == 2
    assert dict(members.select("_source_key", "_survivor").rows()) == {"1": True, "2": False}


def test_opportunities_link_by_key_and_by_name_and_dedupe():
    cust = customers([("crm", "1", "深圳市腾飞电子科技有限公司", A, 10, None, None),
                      ("crm", "2", "广州市华鑫贸易有限公司", B, 10, None, None)])
    _, members = golden_records(cluster_customers(cust))
    keys = members.select("_source", "_source_key", "target_id").with_columns(pl.lit(None, dtype=pl.String).alias("reject_reason"))
    opps = pl.DataFrame({
        "_rid": [0, 1, 2, 3, 4], "_source": ["crm_o", "xl_o", "xl_o", "xl_o", "crm_o"], "_source_key": ["a", "b", "c", "d", "e"],
        "_priority": [10, 30, 30, 30, 10],
        "customer_source_key": ["1", None, None, None, "9"],
        "customer_name": [None, "腾飞电子科技（深圳）有限公司", "华鑫贸易有限公司", "不存在有限公司", None],
        "customer_name_key": [None, parse_name("腾飞电子科技（深圳）有限公司")[1], parse_name("华鑫贸易有限公司")[1], parse_name("不存在有限公司")[1], None],
        "name": ["年度采购", "年度采购", "扩容", "x", "y"], "amount": [100, 100, 5, 1, 1], "_flags": [[]] * 5,
    })
    linked = link_opportunities(opps, keys, members, {"crm_o": "crm", "xl_o": None})
    ids = dict(members.select("_source_key", "target_id").rows())
    assert linked["customer_target_id"].to_list() == [ids["1"], ids["1"], ids["2"], None, None]
    reasons = linked["__link_reason"].to_list()
    assert reasons[:3] == [None, None, None]
    assert "not found among migrated customers" in reasons[3] and "customer key 9 not found in source crm" in reasons[4]
    assert linked["_flags"].to_list()[2] == ["customer_matched_without_region"]
    ok = linked.filter(pl.col("__link_reason").is_null())
    deduped = dedupe_opportunities(ok.with_columns(pl.lit(None, dtype=pl.Date).alias("expected_close_date")))
    assert deduped["_survivor"].to_list() == [True, False, True]
    assert deduped["target_id"][0] == deduped["target_id"][1]


def with_flags(df, key, flags):
    return df.with_columns(pl.when(pl.col("_source_key") == key).then(pl.lit(flags, dtype=pl.List(pl.String))).otherwise(pl.col("_flags")).alias("_flags"))


def test_legacy_organization_code_joins_the_credit_code_that_embeds_it():
    org = A[8:17]
    df = customers([("crm", "1", "深圳市腾飞电子科技有限公司", A, 10, None, None),
                    ("erp", "2", "腾飞电子科技有限公司", org, 20, None, None),  # no region: only the org code links it
                    ("erp", "3", "腾飞科技有限公司", "123456789", 20, None, None),
                    ("xl", "4", "腾飞科技", "123456789", 30, None, None)])
    df = df.with_columns(pl.when(pl.col("_source_key").is_in(["2", "3", "4"])).then(pl.lit("invalid")).otherwise(pl.col("credit_code_status")).alias("credit_code_status"))
    for key in ("2", "3", "4"):
        df = with_flags(df, key, ["legacy_organization_code"])
    out = cluster_customers(df)
    assert groups(out) == {frozenset({"1", "2"}), frozenset({"3", "4"})}
    golden, _ = golden_records(out)
    assert sorted(golden["credit_code"].to_list()) == sorted([A, "123456789"])  # the valid code wins in its cluster


def test_carried_records_build_golden_values_but_are_not_this_runs_survivors():
    from transforms.resolve import carry_over

    earlier = customers([("crm", "1", "深圳市腾飞电子科技有限公司", A, 10, datetime(2024, 1, 1), "+8613800000001")])
    now = customers([("crm", "2", "深圳腾飞电子科技有限公司", A, 10, datetime(2023, 1, 1), None),
                     ("xl", "9", "深圳市腾飞电子科技有限公司", A, 30, None, "+8613800000009")])
    both = carry_over(now, earlier, {"crm"})
    assert both.filter(pl.col("_carried"))["_source_key"].to_list() == ["1"]
    golden, members = golden_records(cluster_customers(both))
    row = golden.row(0, named=True)
    assert row["phone"] == "+8613800000001" and row["member_count"] == 3 and row["current_members"] == 2
    assert dict(members.select("_source_key", "_survivor").rows()) == {"1": False, "2": True, "9": False}
    again = carry_over(now, customers([("crm", "2", "旧名字", A, 10, None, None)]), {"crm"})
    assert again.height == 2  # a record re-read in this run replaces its earlier version


def opportunities(rows):
    """rows: (source, key, row, customer_source_key, name, amount)."""
    return pl.DataFrame({
        "_rid": list(range(len(rows))), "_source": [r[0] for r in rows], "_source_key": [r[1] for r in rows],
        "_row": [r[2] for r in rows], "_priority": [10] * len(rows), "customer_source_key": [r[3] for r in rows],
        "customer_name": [None] * len(rows), "customer_name_key": [None] * len(rows), "name": [r[4] for r in rows],
        "amount": [r[5] for r in rows], "stage": ["proposal"] * len(rows), "_flags": [[]] * len(rows),
    }, schema_overrides={"customer_name": pl.String, "customer_name_key": pl.String})


def test_a_repeated_customer_key_never_fans_opportunities_out():
    # Key "7" names two different companies (a reused ERP code): no evidence joins them.
    cust = customers([("erp", "7", "腾飞电子科技有限公司", None, 10, None, "+8613800000001"),
                      ("erp", "7", "华鑫贸易有限公司", None, 10, None, "+8613800000002"),
                      ("erp", "8", "恒远物流有限公司", None, 10, None, None),
                      ("erp", "8", "恒远物流有限公司", None, 10, None, None)])  # the same key twice, one company
    cust = cust.with_columns(pl.Series("_row", [2, 3, 4, 5]))
    clustered = cluster_customers(cust)
    assert groups(clustered) == {frozenset({"7"}), frozenset({"7"}), frozenset({"8"}), frozenset({"8"})} and clustered["target_id"].n_unique() == 4
    _, members = golden_records(clustered)
    keys = members.select("_source", "_source_key", "target_id").with_columns(pl.lit(None, dtype=pl.String).alias("reject_reason"))
    opps = opportunities([("o", f"k{i}", i + 2, "7", f"单{i}", 100 + i) for i in range(20)])
    linked = link_opportunities(opps, keys, members, {"o": "erp"})
    assert linked.height == 20  # each opportunity once
    assert linked["customer_target_id"].null_count() == 20
    assert all(r.startswith("customer key 7 of source erp belongs to 2 different customers (CUS-") for r in linked["__link_reason"])


def test_a_customer_key_links_when_all_its_kept_records_are_one_customer():
    cust = customers([("erp", "7", "深圳市腾飞电子科技有限公司", A, 10, None, None),
                      ("erp", "7", "深圳腾飞电子科技有限公司", A, 10, None, None)])
    _, members = golden_records(cluster_customers(cust))
    keys = pl.concat([members.select("_source", "_source_key", "target_id", pl.lit(None, dtype=pl.String).alias("reject_reason")),
                      pl.DataFrame({"_source": ["erp"], "_source_key": ["7"], "target_id": [None], "reject_reason": ["name empty"]},
                                   schema={"_source": pl.String, "_source_key": pl.String, "target_id": pl.String, "reject_reason": pl.String})])
    linked = link_opportunities(opportunities([("o", "k1", 2, "7", "单", 1)]), keys, members, {"o": "erp"})
    assert linked["customer_target_id"].to_list() == [members["target_id"][0]] and linked["__link_reason"].to_list() == [None]


def test_identical_customer_rows_of_one_source_merge_but_a_name_alone_does_not():
    cust = customers([("xl", "2", "腾飞电子科技有限公司", None, 30, None, "+8613800000001"),
                      ("xl", "9", "腾飞电子科技有限公司", None, 30, None, "+8613800000001"),  # pasted twice
                      ("erp", "5", "腾飞电子科技有限公司", None, 30, None, "+8613800000001")])  # another source: not on this rule
    out = cluster_customers(cust)
    # Same name and phone in another source: the model's match, not the identical-record rule.
    assert groups(out) == {frozenset({"2", "9", "5"})}
    assert dict(out.select("_source_key", "_match").rows()) == {"2": "duplicate", "9": "duplicate", "5": "probabilistic"}


def test_opportunities_pasted_twice_merge_and_conflicting_keys_are_rejected():
    from transforms.opportunities import key_collisions

    opps = opportunities([("o", "A1", 2, "1", "年度采购", 100), ("o", "A1", 9, "1", "年度采购", 100),  # the same row twice
                          ("o", "B2", 3, "1", "扩容", 50), ("o", "B2", 7, "1", "扩容", 80)])  # one key, two different deals
    opps = opps.with_columns(pl.lit("CUS-1").alias("customer_target_id"))
    checked = key_collisions(opps)
    reasons = checked["__collision_reason"].to_list()
    assert reasons[:2] == [None, None]
    assert reasons[2] == reasons[3] == ("key B2 of o is used by 2 records that differ (rows 3, 7): they would share one target id; "
                                        "keep one in the source or give each its own key")
    assert checked["_flags"].to_list()[2] == ["target_key_collision"]
    deduped = dedupe_opportunities(checked.filter(pl.col("__collision_reason").is_null()).with_columns(pl.lit(None, dtype=pl.Date).alias("expected_close_date")))
    assert deduped["_survivor"].to_list() == [True, False] and deduped["target_id"].n_unique() == 1


def test_an_organization_code_embedded_in_two_credit_codes_joins_neither():
    org8 = "70846113"
    one, two = make_code("91", "440300", org8), make_code("91", "110108", org8)  # two registrations, one organization code
    org = one[8:17]
    assert two[8:17] == org and one != two
    df = customers([("crm", "1", "深圳市腾飞电子科技有限公司", one, 10, None, None),
                    ("crm", "2", "北京市腾飞电子科技有限公司", two, 10, None, None),
                    ("erp", "3", "腾飞电子科技有限公司", org, 20, None, None)])
    df = df.with_columns(pl.when(pl.col("_source_key") == "3").then(pl.lit("invalid")).otherwise(pl.col("credit_code_status")).alias("credit_code_status"))
    df = with_flags(df, "3", ["legacy_organization_code"])
    out = cluster_customers(df)
    assert groups(out) == {frozenset({"1"}), frozenset({"2"}), frozenset({"3"})}
    assert out.filter(pl.col("_source_key") == "3")["_match"].to_list() == ["none"]  # the org code says nothing, the name fits both


def test_code_less_records_with_the_same_region_name_merge_under_their_name():
    from transforms.ids import stable_id

    df = customers([("crm", "1", "深圳市腾飞电子科技有限公司", None, 10, None, None),
                    ("xl", "2", "腾飞电子科技（深圳）有限公司", None, 30, None, None),
                    ("erp", "3", "腾飞电子科技有限公司", None, 20, None, None)])  # no region: stands alone
    out = cluster_customers(df)
    assert groups(out) == {frozenset({"1", "2"}), frozenset({"3"})}
    match = dict(out.select("_source_key", "_match").rows())
    assert match == {"1": "probabilistic", "2": "probabilistic", "3": "none"}
    expected = pl.select(stable_id("CUS-", pl.lit("R:crm:1"))).item()
    assert out.filter(pl.col("_source_key") == "1")["target_id"][0] == expected  # the smallest member anchors the golden id


def test_name_joins_are_called_name_joins_and_only_ambiguous_groups_are_flagged():
    C = make_code("91", "440300", "12345670")
    one = cluster_customers(customers([("crm", "1", "深圳市腾飞电子科技有限公司", A, 10, None, None),
                                       ("xl", "2", "深圳腾飞电子科技有限公司", None, 30, None, None)]))
    assert dict(one.select("_source_key", "_match").rows()) == {"1": "probabilistic", "2": "probabilistic"}
    assert one["_flags"].to_list() == [[], []]
    three = cluster_customers(customers([("crm", "1", "深圳市腾飞电子科技有限公司", A, 10, None, None),
                                         ("crm", "2", "深圳市腾飞电子科技有限公司", B, 10, None, None),
                                         ("crm", "4", "深圳市腾飞电子科技有限公司", C, 10, None, None),
                                         ("xl", "3", "深圳市腾飞电子科技有限公司", None, 30, None, None)]))
    assert dict(three.select("_source_key", "_match").rows())["3"] == "none"
    assert dict(zip(three["_source_key"], three["_flags"].to_list()))["3"] == ["possible_duplicate_in_review", "ambiguous_name_match"]
    # Each candidate of 3 has its pair with 3 in the review queue, and is flagged so.
    assert {k: f for k, f in zip(three["_source_key"], three["_flags"].to_list()) if k != "3"} == {k: ["possible_duplicate_in_review"] for k in "124"}


def test_duplicate_rows_are_marked_whatever_order_their_keys_sort_in():
    cust = customers([("xl", "9", "腾飞电子科技有限公司", None, 30, None, "+8613800000001"),  # the first copy has the larger key
                      ("xl", "2", "腾飞电子科技有限公司", None, 30, None, "+8613800000001"),
                      ("xl", "5", "华鑫贸易有限公司", None, 30, None, "+8613800000005")])
    out = cluster_customers(cust)
    assert dict(out.select("_source_key", "_match").rows()) == {"9": "duplicate", "2": "duplicate", "5": "none"}
    assert groups(out) == {frozenset({"9", "2"}), frozenset({"5"})}


def test_survivorship_order_priority_recency_completeness_then_lineage():
    from transforms.resolve import survivorship_order

    rows = [("b", "2", "深圳市腾飞电子科技有限公司", A, 10, datetime(2023, 1, 1), None),   # older
            ("b", "3", "深圳市腾飞电子科技有限公司", A, 10, datetime(2024, 1, 1), None),   # newest of priority 10
            ("b", "4", "深圳市腾飞电子科技有限公司", A, 10, None, None),                   # no date: last of its priority
            ("a", "5", "深圳市腾飞电子科技有限公司", A, 10, datetime(2022, 1, 1), "+8613800000001"),
            ("a", "6", "深圳市腾飞电子科技有限公司", A, 10, datetime(2022, 1, 1), None),   # same date, less complete than 5
            ("b", "7", "深圳市腾飞电子科技有限公司", A, 10, datetime(2022, 1, 1), "+8613800000002"),  # as complete as 5: source b after a
            ("a", "8", "深圳市腾飞电子科技有限公司", A, 10, datetime(2022, 1, 1), "+8613800000003"),  # same as 5 but a later key
            ("a", "1", "深圳市腾飞电子科技有限公司", A, 5, datetime(2000, 1, 1), None)]    # most trusted source wins whatever its age
    order = survivorship_order(customers(rows))["_source_key"].to_list()
    assert order == ["1", "3", "2", "5", "8", "7", "6", "4"]


def test_carried_records_get_row_ids_after_this_runs_and_an_empty_past_carries_nothing():
    from transforms.resolve import carry_over

    now = customers([("crm", "2", "深圳腾飞电子科技有限公司", A, 10, None, None), ("xl", "9", "深圳市华鑫有限公司", None, 30, None, None)])
    now = now.with_columns(pl.Series("_rid", [4, 7]))
    earlier = customers([("crm", "1", "深圳市腾飞电子科技有限公司", A, 10, None, None), ("crm", "3", "深圳市恒远有限公司", None, 10, None, None),
                         ("xl", "8", "深圳市旧有限公司", None, 30, None, None)])
    both = carry_over(now, earlier, {"crm"})
    assert both.filter(pl.col("_carried"))["_rid"].to_list() == [8, 9]  # after the largest of this run
    assert both["_rid"].is_unique().all()
    assert carry_over(now, pl.DataFrame(), {"crm"}).height == 2
    assert carry_over(now, earlier, set()).height == 2
    older_snapshot = earlier.drop("_rid")  # written before row ids were kept
    assert carry_over(now, older_snapshot, {"crm"}).filter(pl.col("_carried"))["_rid"].to_list() == [8, 9]
    first = carry_over(now.head(0), earlier, {"crm"})
    assert first["_rid"].to_list() == [0, 1]


def test_code_less_records_of_an_ambiguous_name_group_stay_apart():
    df = customers([("crm", "1", "深圳市腾飞电子科技有限公司", A, 10, None, None),
                    ("crm", "2", "深圳市腾飞电子科技有限公司", B, 10, None, None),
                    ("xl", "3", "深圳市腾飞电子科技有限公司", None, 30, None, None),
                    ("erp", "4", "深圳腾飞电子科技有限公司", None, 20, None, None)])
    out = cluster_customers(df)
    assert groups(out) == {frozenset({k}) for k in "1234"}  # neither code can be chosen, nor can they join each other
    assert dict(out.select("_source_key", "_match").rows()) == {"1": "none", "2": "none", "3": "none", "4": "none"}


def test_carried_row_ids_follow_a_run_whose_only_row_id_is_zero():
    from transforms.resolve import carry_over

    now = customers([("crm", "9", "深圳市新有限公司", None, 10, None, None)])  # _rid 0
    earlier = customers([("crm", "1", "深圳市甲有限公司", None, 10, None, None), ("crm", "2", "深圳市乙有限公司", None, 10, None, None),
                         ("crm", "3", "深圳市丙有限公司", None, 10, None, None)])
    both = carry_over(now, earlier, {"crm"})
    assert both["_rid"].to_list() == [0, 1, 2, 3]


def test_survivorship_rules_per_field_choose_the_value_and_say_where_it_came_from():
    df = customers([("crm", "1", "深圳市腾飞电子科技有限公司", A, 10, datetime(2020, 1, 1), "+8613800000001"),
                    ("xl", "2", "深圳腾飞电子科技有限公司", A, 30, datetime(2024, 1, 1), "+8613800000002")])
    df = df.with_columns(pl.Series("address", ["南山区1号", "广东省深圳市南山区科技园路1号"]),
                         pl.Series("email", ["bad@", "info@tengfei.com"]),
                         pl.Series("_flags", [["invalid_email"], []]))
    clustered = cluster_customers(df)
    default, _ = golden_records(clustered)
    row = default.row(0, named=True)
    assert (row["phone"], row["address"], row["email"]) == ("+8613800000001", "南山区1号", "bad@")  # the trusted source's
    chosen, _ = golden_records(clustered, {"phone": "most_recent", "address": "longest", "email": "valid_over_invalid"})
    row = chosen.row(0, named=True)
    assert (row["phone"], row["address"], row["email"]) == ("+8613800000002", "广东省深圳市南山区科技园路1号", "info@tengfei.com")
    assert '"phone":"xl:2"' in row["provenance"] and '"address":"xl:2"' in row["provenance"] and '"name":"crm:1"' in row["provenance"]



def test_a_deal_named_by_a_short_name_finds_the_customer_that_fits_best_or_none():
    from transforms.resolve import resolve_customers

    cust = customers([("crm", "1", "杭州和智集团有限公司", None, 10, None, None),
                      ("crm", "2", "杭州合智信息技术有限公司", None, 10, None, None),   # same pinyin, another trade
                      ("crm", "3", "西安科惠科技有限公司", None, 10, None, None),
                      ("crm", "4", "西安科挥物流有限公司", None, 10, None, None),       # same pinyin, same city
                      ("crm", "5", "武汉智瑞五金制品有限公司", None, 10, None, None),
                      ("crm", "6", "智瑞", None, 10, None, None),                        # a short record of no trade ...
                      ("crm", "7", "南京智瑞智能科技有限公司", None, 10, None, None),
                      ("crm", "8", "无锡市凯中科技有限公司", None, 10, None, None),
                      ("crm", "9", "杭州市凯中供应链管理有限公司", None, 10, None, None)])
    members = resolve_customers(cust).clustered
    ids = dict(members.select("_source_key", "target_id").rows())
    names = ["和智集团", "西安科惠", "智瑞智能科技", "凯中", "科挥"]
    opps = pl.DataFrame({"_rid": list(range(5)), "_source": ["xl_o"] * 5, "_source_key": [str(k) for k in range(5)], "_priority": [30] * 5,
                         "customer_source_key": [None] * 5, "customer_name": names,
                         "customer_name_key": [parse_name(n)[1] for n in names], "name": ["单"] * 5, "amount": [1] * 5,
                         "_flags": [[]] * 5}, schema_overrides={"customer_source_key": pl.String})
    linked = link_opportunities(opps, members.select("_source", "_source_key", "target_id").with_columns(pl.lit(None, dtype=pl.String).alias("reject_reason")),
                                members, {"xl_o": None})
    got = linked["customer_target_id"].to_list()
    # the same brand beats the same pinyin; a stated city and trade count; a customer is judged on all its records
    assert got[:3] == [ids["1"], ids["3"], ids["7"]]
    assert got[3] is None and "fits 2 customers" in linked["__link_reason"][3]  # 凯中 in two cities: no guess
    assert got[4] == ids["4"]  # the only exact brand


def test_of_two_customers_that_fit_equally_the_one_on_the_deals_own_workbook_is_meant():
    """凯中 fits 凯中科技 of 无锡 and 凯中供应链 of 杭州 equally. With the deal sheet next to the
    customer sheet of one of them (same_file_sources), that one is meant; without, none is."""
    from transforms.resolve import resolve_customers

    cust = customers([("crm", "8", "无锡市凯中科技有限公司", None, 10, None, None),
                      ("xl", "9", "杭州市凯中供应链管理有限公司", None, 10, None, None),
                      ("crm", "10", "苏州市凯中化工有限公司", None, 10, None, None)])
    members = resolve_customers(cust).clustered
    ids = dict(members.select("_source_key", "target_id").rows())
    opps = pl.DataFrame({"_rid": [0, 1], "_source": ["xl_o", "xl_o"], "_source_key": ["0", "1"], "_priority": [30, 30],
                         "customer_source_key": [None, None], "customer_name": ["凯中", "苏州凯中化工"],
                         "customer_name_key": [parse_name("凯中")[1], parse_name("苏州凯中化工")[1]], "name": ["单", "单"], "amount": [1, 1],
                         "_flags": [[], []]}, schema_overrides={"customer_source_key": pl.String})
    keys = members.select("_source", "_source_key", "target_id").with_columns(pl.lit(None, dtype=pl.String).alias("reject_reason"))
    alone = link_opportunities(opps, keys, members, {"xl_o": None})
    assert alone["customer_target_id"].to_list() == [None, ids["10"]] and "fits 3 customers" in alone["__link_reason"][0]
    beside = link_opportunities(opps, keys, members, {"xl_o": None}, {"xl_o": ["xl"]})
    assert beside["customer_target_id"].to_list() == [ids["9"], ids["10"]]  # the city and trade a name states still decide first
    elsewhere = link_opportunities(opps, keys, members, {"xl_o": None}, {"xl_o": ["crm"]})
    assert elsewhere["customer_target_id"].to_list() == [None, ids["10"]]  # two customers on that sheet: still no guess
