"""The matching engine on data with known answers: blocking, the learned model, hard rules, the
review loop (queue written, decisions read back and applied), deal de-duplication."""
from datetime import date, timedelta

import numpy as np
import openpyxl
import polars as pl
import pytest

from crm_migrate.errors import MigrationError
from extractors.decisions import read_decisions
from reports.render import SAFE_CELLS
from reports.review_queue import DECISION, queue_rows, write_review_queue
from tests.test_resolve import A, B, customers, groups
from transforms.blocking import candidate_pairs
from transforms.credit_code import make_code
from transforms.match_features import match_features
from transforms.match_model import Encoded, NAMES, compare
from transforms.opportunities import DealMatching, dedupe_opportunities
from transforms.resolve import MatchSettings, resolve_customers


def features(rows):
    return match_features(customers(rows))


def test_name_rules_never_pair_two_cities_and_a_shared_switchboard_over_the_cap_is_reported():
    rows = [("crm", str(i), f"{city}腾飞电子科技有限公司", None, 10, None, None) for i, city in enumerate(["深圳市", "广州市", "北京市"])]
    rows += [("crm", "9", "腾飞电子科技有限公司", None, 10, None, None)]  # no region: may pair with each
    rows += [("erp", f"s{i}", f"公司{i:03d}", None, 20, None, "+862088880000") for i in range(12)]  # one switchboard
    f = features(rows)
    pairs, report = candidate_pairs(f, [["m_brand"], ["m_phone"]], max_block_size=10)
    found = {tuple(sorted((f["_source_key"][i], f["_source_key"][j]))) for i, j in pairs.select("i", "j").iter_rows()}
    assert found == {("0", "9"), ("1", "9"), ("2", "9")}  # never 深圳 with 广州, and the 12-record phone block skipped
    assert report.as_dicts()[1] | {} == {"rule": "m_phone", "pairs": 0, "skipped_blocks": 1, "skipped_records": 12, "largest_block": 12}
    assert report.warnings() == ["blocking rule m_phone: 1 blocks over the cap (12 records, largest 12) were not compared on it"]


def test_levels_and_hard_rules_of_crafted_pairs():
    f = features([("a", "1", "深圳市腾飞电子科技有限公司", A, 10, None, "+8613800000001"),
                  ("b", "2", "深圳市腾飞电子科技有限公司", B, 10, None, "+8613800000001"),        # another valid code
                  ("c", "3", "深圳市腾飞电子科技有限公司北京分公司", None, 10, None, None),        # a branch
                  ("d", "4", "深圳市藤非电子技术有限公司", None, 10, None, None),                  # homophone, synonym
                  ("e", "5", "深圳市腾飞物流有限公司", None, 10, None, "+8613800000001"),          # a sister: another trade
                  ("f", "6", "广州市腾飞电子科技有限公司", None, 10, None, None)])                  # another city
    i, j = np.zeros(5, dtype=np.int64), np.arange(1, 6, dtype=np.int64)
    levels, hard = compare(f, i, j)
    col = {n: levels[:, k].tolist() for k, n in enumerate(NAMES)}
    assert col["identifier"] == [1, -1, -1, -1, -1] and col["phone"] == [0, -1, -1, 0, -1]
    assert col["brand"] == [0, 0, 1, 0, 0] and col["trade"] == [0, 0, 0, 2, 0] and col["city"] == [0, 1, 0, 0, 1]  # the branch is in 北京
    first = {name: np.flatnonzero(mask).tolist() for name, mask in hard.items()}
    assert first["different_identifiers"] == [0] and first["branch_differs"] == [1] and first["different_trades"] == [3]
    assert first["different_cities"] == [1, 4] and first["different_names"] == [] and 2 not in sum(first.values(), [])


def test_the_model_learns_from_the_data_what_agreement_is_worth(demo_customers):
    result = resolve_customers(demo_customers)
    bits = result.model.as_dict()["bits"]
    # λ is high (most candidates agree on much; sister companies too, which hard rules keep apart), not at its bound
    assert result.model.converged and 0.05 < result.model.candidate_match_share < 1 - 1e-3
    assert bits["identifier"][0] > 8 and bits["phone"][0] > 8 and bits["brand"][0] > 8  # agreement on rare values is strong
    assert bits["city"][1] < -5 and bits["trade"][2] < -2 and bits["brand"][4] < -3  # disagreement weighs against
    assert bits["brand"][0] > bits["brand"][2] > bits["brand"][3]  # exact > similar > partly similar
    assert result.model.prior_bits < -8  # two random records are rarely one company


@pytest.fixture(scope="module")
def demo_customers(tmp_path_factory):
    from pipelines import stages
    from pipelines.context import start_run
    from tests.conftest import DEMO_CONFIG

    out = tmp_path_factory.mktemp("m")
    ctx = start_run(DEMO_CONFIG, dry_run=True, out=out, target_url=f"sqlite:///{out / 't.sqlite'}")
    validated = stages.validate(ctx, stages.standardize(ctx, stages.extract(ctx)))
    return validated.frames["customer"].filter(pl.col("reject_reason").is_null())


def test_golden_ids_do_not_depend_on_row_order(demo_customers):
    one = resolve_customers(demo_customers).clustered.select("_source", "_source_key", "_row", "target_id").sort("_source", "_row")
    shuffled = demo_customers.sample(fraction=1.0, shuffle=True, seed=3)
    two = resolve_customers(shuffled).clustered.select("_source", "_source_key", "_row", "target_id").sort("_source", "_row")
    assert one.equals(two)


RENAMED = [("crm", "1", "深圳市华鑫电子科技有限公司", None, 10, None, "+8613800000001"),
           ("erp", "2", "深圳市瑞安电子科技有限公司", None, 20, None, "+8613800000001"),  # the old name: same phone, no code
           ("crm", "3", "深圳市恒远物流有限公司", A, 10, None, None),
           ("erp", "4", "深圳恒远物流有限公司", A, 20, None, None)]


def test_review_loop_queue_then_decisions_applied_on_the_next_run(tmp_path):
    cust = customers(RENAMED)
    first = resolve_customers(cust)
    assert groups(first.clustered) == {frozenset({"1"}), frozenset({"2"}), frozenset({"3", "4"})}
    review = first.review_pairs(MatchSettings())
    assert review.select("source_a", "key_a", "source_b", "key_b", "hard_rule").rows() == [("crm", "1", "erp", "2", "different_names")]
    rows = queue_rows(review, first.clustered)
    path = tmp_path / "review_queue.xlsx"
    assert write_review_queue(path, rows, pl.DataFrame({"source": []}), SAFE_CELLS) == 1
    wb = openpyxl.load_workbook(path)
    ws = wb["Pairs"]
    header = [c.value for c in ws[1]]
    assert header[:5] == ["source_a", "key_a", "source_b", "key_b", DECISION]
    assert ws.data_validations.dataValidation[0].formula1 == '"same,different"'
    ws.cell(row=2, column=5, value="same")
    # A reviewer also says the two 恒远物流 records (same code) are different companies.
    ws.append(["crm", "3", "erp", "4", "different"])
    wb.save(path)
    decisions = read_decisions(path)
    assert decisions.rows() == [("crm", "1", "erp", "2", "same"), ("crm", "3", "erp", "4", "different")]
    second = resolve_customers(cust, decisions=decisions)
    assert groups(second.clustered) == {frozenset({"1", "2"}), frozenset({"3"}), frozenset({"4"})}
    assert dict(second.clustered.select("_source_key", "_match").rows())["2"] == "reviewer"
    assert queue_rows(second.review_pairs(MatchSettings()), second.clustered, decisions).is_empty()  # decided: not asked again


def test_bad_decisions_name_the_file_sheet_row_and_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("source_a,key_a,source_b,key_b,decision\ncrm,1,erp,2,same\ncrm,3,erp,4,maybe\n", encoding="utf-8")
    with pytest.raises(MigrationError) as err:
        read_decisions(path)
    assert err.value.row == 3 and err.value.column == "decision" and "neither 'same' nor 'different'" in err.value.message
    path.write_text("source_a,key_a,decision\ncrm,1,same\n", encoding="utf-8")
    with pytest.raises(MigrationError, match="lack the column"):
        read_decisions(path)
    with pytest.raises(MigrationError, match="does not exist"):
        read_decisions(tmp_path / "none.xlsx")
    (tmp_path / "blank.csv").write_text("source_a,key_a,source_b,key_b,decision\ncrm,1,erp,2,\n", encoding="utf-8")
    assert read_decisions(tmp_path / "blank.csv").is_empty()  # undecided rows are no decision


def deals(rows):
    """rows: (source, key, customer, name, amount, close date)."""
    return pl.DataFrame({
        "_rid": list(range(len(rows))), "_source": [r[0] for r in rows], "_source_key": [r[1] for r in rows],
        "_priority": [10 if r[0] == "crm" else 30 for r in rows], "customer_target_id": [r[2] for r in rows],
        "name": [r[3] for r in rows], "amount": [r[4] for r in rows], "expected_close_date": [r[5] for r in rows],
    })


def test_deals_recorded_twice_merge_and_renewals_and_other_phases_stay_apart():
    d = date(2024, 3, 1)
    out = dedupe_opportunities(deals([
        ("crm", "1", "C1", "腾飞年度采购3期", 100000, d),
        ("xl", "7", "C1", "腾飞年度采购3期项目", 100000, d + timedelta(days=12)),   # the sheet's copy of deal 1
        ("crm", "2", "C1", "腾飞年度采购3期", 100000, d + timedelta(days=365)),     # renewed a year later
        ("crm", "3", "C1", "腾飞年度采购4期", 100000, d),                           # the next phase
        ("crm", "4", "C2", "腾飞年度采购3期", 100000, d),                           # another customer
        ("crm", "5", "C1", "腾飞年度采购3期", 90000, d),                            # another amount
    ]), DealMatching())
    ids = dict(out.select("_source_key", "target_id").rows())
    assert ids["7"] == ids["1"] and len({ids[k] for k in "12345"}) == 5
    assert dict(out.select("_source_key", "_survivor").rows()) == {"1": True, "7": False, "2": True, "3": True, "4": True, "5": True}
    assert out.filter(pl.col("_source_key") == "7")["__duplicate_reason"][0].startswith(f"duplicate of {ids['1']}")
    narrow = dedupe_opportunities(deals([("crm", "1", "C1", "腾飞年度采购3期", 1, d), ("xl", "7", "C1", "腾飞年度采购3期", 1, d + timedelta(days=12))]),
                                  DealMatching(close_date_window_days=10))
    assert narrow["target_id"].n_unique() == 2


def test_the_organization_code_of_a_legacy_record_joins_its_credit_code_across_names():
    org = A[8:17]
    df = customers([("crm", "1", "深圳市腾飞电子科技有限公司", A, 10, None, None), ("erp", "2", "腾飞科技", org, 20, None, None)])
    df = df.with_columns(pl.when(pl.col("_source_key") == "2").then(pl.lit("invalid")).otherwise(pl.col("credit_code_status")).alias("credit_code_status"),
                         pl.when(pl.col("_source_key") == "2").then(pl.lit(["legacy_organization_code"])).otherwise(pl.col("_flags")).alias("_flags"))
    out = resolve_customers(df).clustered
    assert groups(out) == {frozenset({"1", "2"})} and set(out["_match"]) == {"identifier"}
    C = make_code("91", "440300", "11111111")
    assert C != A


def test_a_code_merges_a_renamed_company_and_flags_it():
    out = resolve_customers(customers([("crm", "1", "深圳市华鑫电子科技有限公司", A, 10, None, None),
                                       ("erp", "2", "深圳市瑞安电子科技有限公司", A, 20, None, None)])).clustered  # the former name, one code
    assert groups(out) == {frozenset({"1", "2"})}
    assert all("same_code_different_name" in f for f in out["_flags"].to_list())
    same_name = resolve_customers(customers([("crm", "1", "深圳市华鑫电子科技有限公司", A, 10, None, None),
                                             ("erp", "2", "华鑫电子科技（深圳）有限公司", A, 20, None, None)])).clustered
    assert not any("same_code_different_name" in f for f in same_name["_flags"].to_list())


def test_the_run_folder_explains_the_merges(tmp_path):
    import json
    from pathlib import Path

    from pipelines.run import run_pipeline
    from tests.conftest import DEMO_CONFIG

    manifest = run_pipeline(DEMO_CONFIG, out=tmp_path, target_url=f"sqlite:///{tmp_path / 't.sqlite'}", dry_run=True)
    run_dir = Path(manifest["run_dir"])
    model = json.loads((run_dir / "resolution_model.json").read_text(encoding="utf-8"))
    assert model["settings"]["auto_merge_probability"] == 0.99 and model["settings"]["blocking_rules"][0] == ["m_code"]
    assert model["survivorship"]["credit_code"] == "valid_over_invalid" and "different_identifiers" in model["hard_rules"]
    assert set(model["model"]["bits"]) == set(NAMES) and [b["rule"] for b in model["blocking"]][:2] == ["m_code", "m_org"]
    pairs = pl.read_parquet(run_dir / "match_pairs.parquet")
    assert pairs.height and pairs["match_probability"].min() >= 0.5 and {f"bits_{n}" for n in NAMES} <= set(pairs.columns)


def test_each_pair_says_which_rules_proposed_it_and_empty_keys_pair_nothing():
    rows = [("crm", "0", "腾飞电子科技有限公司", None, 10, None, "+8613800000001"),   # no region, listed first
            ("crm", "1", "深圳市腾飞电子科技有限公司", None, 10, None, "+8613800000001"),
            ("crm", "2", "广州市华鑫贸易有限公司", None, 10, None, None),
            ("crm", "3", "北京市华鑫贸易有限公司", None, 10, None, None)]
    f = features(rows).with_columns(pl.lit("").alias("m_contact"))  # an empty key is no key
    pairs, report = candidate_pairs(f, [["m_brand"], ["m_phone"], ["m_contact"]], max_block_size=10)
    assert pairs.rows() == [(0, 1, 0b011)]  # brand and phone proposed it; 华鑫 of two cities never paired
    assert [d["pairs"] for d in report.as_dicts()] == [1, 1, 0]


def test_one_valid_code_is_one_company_whatever_the_names_say(demo_customers):
    """A rename (更名): the old name and the new share the registry's code and nothing else; the pair
    scores low, yet merges, flagged for a reader to check."""
    from crm_migrate.contracts import SAME_CODE_OTHER_NAME
    from transforms.names import standardize_names

    one = demo_customers.filter(pl.col("credit_code_status") == "valid").head(1)
    renamed = standardize_names(one.with_columns(pl.lit("重庆市千禾物流有限公司").alias("name"), pl.lit("renamed").alias("_source_key"),
                                                 pl.lit(None, dtype=pl.String).alias("phone"), pl.lit(None, dtype=pl.String).alias("address"),
                                                 pl.lit(None, dtype=pl.String).alias("email"), pl.lit(None, dtype=pl.String).alias("contact_name"),
                                                 pl.lit(None, dtype=pl.String).alias("city"), pl.lit(10**9, dtype=pl.Int64).alias("_rid"),
                                                 pl.lit(10**6, dtype=pl.Int64).alias("_row")))  # not next to the original: no copied code
    renamed = renamed.drop("__name_flag").select(demo_customers.columns)
    out = resolve_customers(pl.concat([demo_customers, renamed]))
    ids = out.clustered.filter(pl.col("credit_code") == one["credit_code"][0])
    assert ids["target_id"].n_unique() == 1 and "renamed" in ids["_source_key"].to_list()
    pair = out.pairs.filter(pl.col("same_credit_code") & ((pl.col("key_a") == "renamed") | (pl.col("key_b") == "renamed")))
    assert pair.height >= 1 and (pair["match_probability"] < 0.99).all()  # merged by the code, not by the score
    assert ids.filter(pl.col("_source_key") == "renamed")["_flags"][0].to_list().count(SAME_CODE_OTHER_NAME) == 1


def test_blocking_on_codes_skips_empty_values_and_mail_domains_are_compared():
    """Resolution blocks on integer codes: an empty branch ("not a branch") is compared, never a key;
    a private mail domain shared by two addresses is its own level, a public one is not."""
    from transforms.match_model import Encoded

    rows = [("crm", "0", "深圳市腾飞电子科技有限公司", None, 10, None, None), ("crm", "1", "深圳市华鑫贸易有限公司", None, 10, None, None),
            ("crm", "2", "深圳市腾飞电子科技有限公司北京分公司", None, 10, None, None),
            ("crm", "3", "深圳市腾飞电子科技有限公司北京分公司", None, 10, None, None)]
    f = features(rows).with_columns(pl.Series("m_email", ["a@tengfei.cn", "b@tengfei.cn", "x@qq.com", "y@qq.com"]),
                                    pl.Series("m_mail_domain", ["tengfei.cn", "tengfei.cn", None, None]))
    enc = Encoded(f)
    keys = enc.keys(["m_branch"])
    assert keys["m_branch"].null_count() == 2 and keys["m_branch"][2] == keys["m_branch"][3]
    pairs, _ = candidate_pairs(keys, [["m_branch"]], max_block_size=10)
    assert pairs.select("i", "j").rows() == [(2, 3)]  # the two branch records, not the two head-office ones
    levels, _ = compare(enc, np.array([0, 2, 0]), np.array([1, 3, 0]))
    assert levels[:, NAMES.index("email")].tolist() == [1, 2, 0]


def test_the_share_of_matches_among_candidates_is_estimated_from_the_evidence():
    """λ by EM over fixed m and u: 30% of candidates with strong agreement, 70% with disagreement."""
    from transforms.match_model import COMPANY, _share_of_matches

    rng = np.random.default_rng(1)
    n = 10_000
    match = rng.random(n) < 0.3
    levels = np.full((n, len(NAMES)), -1, dtype=np.int8)
    levels[:, NAMES.index("phone")] = np.where(match, 0, 1)
    levels[:, NAMES.index("city")] = np.where(match, 0, 1)
    m = {name: [0.98] + [0.02 / (len(lv) - 1)] * (len(lv) - 1) for name, lv in COMPANY.comparisons.items()}
    u = {name: [0.001] + [0.999 / (len(lv) - 1)] * (len(lv) - 1) for name, lv in COMPANY.comparisons.items()}
    assert abs(_share_of_matches(levels, m, u, 100) - match.mean()) < 0.01


def test_scoring_keeps_the_pairs_asked_for():
    from transforms.match_model import score, train

    f = features([("a", "1", "深圳市腾飞电子科技有限公司", A, 10, None, "+8613800000001"),
                  ("b", "2", "深圳市腾飞电子科技有限公司", A, 10, None, "+8613800000001"),
                  ("c", "3", "广州市华鑫贸易有限公司", None, 10, None, None)])
    pairs = pl.DataFrame({"i": [0, 0, 1], "j": [1, 2, 2]}, schema={"i": pl.UInt32, "j": pl.UInt32})
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    levels, hard = compare(f, i, j)
    model = train(f, levels, 3)
    everything = score(f, pairs, model, levels, hard)
    p = everything["match_probability"].to_list()
    assert p[0] > 0.99 > max(p[1:])
    kept = score(f, pairs, model, levels, hard, min_probability=p[0])
    assert kept.select("i", "j").rows() == [(0, 1)]  # at the threshold itself: kept
    also = score(f, pairs, model, levels, hard, min_probability=0.99, keep_also=np.array([False, False, True]))
    assert also.select("i", "j").rows() == [(0, 1), (1, 2)] and also["bits_phone"][0] == everything["bits_phone"][0]


def test_a_generic_trade_still_tells_sister_companies_apart():
    """科技 alone is no trade key (腾飞科技 may be 腾飞电子科技), but 英晨科技 and 英晨物流 at one
    switchboard are two companies: neither trade's words hold the other's."""
    f = features([("a", "1", "苏州市英晨科技有限公司", None, 10, None, "+8651266660000"),
                  ("b", "2", "英晨物流（苏州）有限公司", None, 10, None, "+8651266660000"),
                  ("c", "3", "苏州市英晨电子科技有限公司", None, 10, None, "+8651266660000"),
                  ("d", "4", "苏州市英晨企业管理咨询有限公司", None, 10, None, "+8651266660000")])
    i, j = np.array([0, 0, 0, 2]), np.array([1, 2, 3, 3])
    levels, hard = compare(f, i, j)
    assert levels[:, NAMES.index("trade")].tolist() == [-1, -1, -1, 2]  # 科技 has no key; 电子 vs 咨询 differ
    assert hard["different_trades"].tolist() == [True, False, True, True]


def test_brands_one_slip_apart_are_partly_similar_not_different_names():
    f = features([("a", "1", "南京市逸恒新材料有限公司", None, 10, None, None),
                  ("b", "2", "南京市逸桓新材料有限公司", None, 10, None, None),      # one character typed wrong
                  ("c", "3", "佛山市新俊有限公司", None, 10, None, None),
                  ("d", "4", "佛山市新俊塑胶制品行", None, 10, None, None),          # trade words and a form the parser does not know
                  ("e", "5", "南京市逸恒达新材料有限公司", None, 10, None, None),    # one character more: a ratio decides (80)
                  ("f", "6", "南京市华兴新材料有限公司", None, 10, None, None)])     # another brand
    i, j = np.array([0, 2, 0, 0]), np.array([1, 3, 4, 5])
    levels, hard = compare(f, i, j)
    brand = levels[:, NAMES.index("brand")].tolist()
    assert brand == [3, 3, 2, 4]
    assert hard["different_names"].tolist() == [False, False, False, True]


def test_either_phone_of_a_cell_matches_and_blocks():
    from transforms.phones import standardize_phones

    f = match_features(standardize_phones(customers([
        ("a", "1", "深圳市腾飞电子科技有限公司", None, 10, None, "0755-26781234 13800000001"),
        ("b", "2", "腾飞电子", None, 10, None, "13800000001"),
        ("c", "3", "深圳市腾飞物流有限公司", None, 10, None, "0755-26781234转808")])).drop("__phone_flag"))  # the switchboard, another extension
    pairs, _ = candidate_pairs(Encoded(f).keys(["m_phone"]), [["m_phone"]], max_block_size=10, alternates={"m_phone": "m_phone2"})
    assert sorted(pairs.select("i", "j").iter_rows()) == [(0, 1), (0, 2)]
    levels, _ = compare(f, np.array([0, 0, 1]), np.array([1, 2, 2]))
    assert levels[:, NAMES.index("phone")].tolist() == [0, 0, 1]


def test_features_read_tax_numbers_branch_places_and_persons():
    from transforms.credit_code import standardize_credit_code

    rows = customers([("a", "1", "深圳市腾飞电子科技有限公司", None, 10, None, None),
                      ("b", "2", "上海信盛智能科技有限公司宁波分公司", None, 10, None, None),
                      ("c", "3", "杨丽", None, 10, None, None)])
    rows = rows.with_columns(pl.Series("credit_code", ["440300708461136", None, None]), pl.Series("contact_name", ["张三", None, "杨丽"]))
    rows = standardize_credit_code(rows).drop("__credit_code_flag").with_columns(pl.Series("_flags", [["legacy_tax_number"], [], []]))
    f = match_features(rows)
    assert f["m_org"].to_list() == ["708461136", None, None]  # a tax number's organization code links it to the credit code
    assert f["m_name_city"].to_list() == ["深圳", "宁波", None]  # a branch is where the branch is
    assert f["m_contact"].to_list() == ["张三", None, None]  # a person named twice is one fact


def test_deal_names_compare_folded_widths_and_chinese_numerals():
    d = date(2024, 3, 1)
    out = dedupe_opportunities(deals([
        ("crm", "1", "C1", "仓储管理系统（二期）", 5000, d),
        ("xl", "2", "C1", "仓储管理系统(二期)", 5000, d + timedelta(days=3)),      # the same, half-width brackets
        ("crm", "3", "C1", "条码打印机采购", 8000, d),
        ("xl", "4", "C1", "条码打印机采购（第二批）", 8000, d + timedelta(days=16)),  # the second batch: another deal
        ("crm", "5", "C1", "仓储管理系统(三期)", 5000, d),
        ("crm", "6", "C1", "环保除尘设备项目", 7000, d),
        ("xl", "7", "C1", "環保除塵設備項目", 7000, d + timedelta(days=5)),  # the same, in traditional characters
    ]), DealMatching())
    ids = dict(out.select("_source_key", "target_id").rows())
    assert ids["1"] == ids["2"] and len({ids["1"], ids["3"], ids["4"], ids["5"], ids["6"]}) == 5
    assert ids["6"] == ids["7"]
