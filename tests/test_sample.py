"""Sample rehearsal's pure parts: the draw (stable, nested, filtered), the condition check, and the
ledger of a sample (whole clusters and their deals in, the rest unsampled, rejects as they were)."""
import polars as pl

from transforms.sample import SampleSpec, choose, sample_ledger, where_problem

GOLDEN = pl.DataFrame({"target_id": [f"CUS-{i:03d}" for i in range(50)], "province": ["广东省" if i % 2 else "浙江省" for i in range(50)]})


def test_the_draw_is_stable_nested_and_seeded():
    ten = choose(GOLDEN, SampleSpec(10)).to_list()
    assert len(ten) == 10 == len(set(ten))
    assert choose(GOLDEN.reverse(), SampleSpec(10)).to_list() == ten  # not the order rows come in
    assert choose(GOLDEN, SampleSpec(20)).to_list()[:10] == ten  # a larger sample keeps the smaller one's customers
    assert choose(GOLDEN, SampleSpec(10, seed=1)).to_list() != ten
    assert ten == ['CUS-010', 'CUS-006', 'CUS-030', 'CUS-000', 'CUS-020', 'CUS-012', 'CUS-017', 'CUS-011', 'CUS-002', 'CUS-019']  # the same draw after upgrades
    assert choose(GOLDEN, SampleSpec(100)).len() == 50


def test_where_filters_before_the_draw_and_names_what_it_cannot_use():
    gd = choose(GOLDEN, SampleSpec(None, "province = '广东省'"))
    assert gd.len() == 25 and set(GOLDEN.filter(pl.col("target_id").is_in(gd.implode()))["province"]) == {"广东省"}
    assert choose(GOLDEN, SampleSpec(5, "province = '广东省'")).len() == 5
    assert where_problem("province = '广东省'", GOLDEN.columns) is None
    assert "names 'town', which is not a field of the golden customers" in where_problem("town = '南山' and street = '1'", GOLDEN.columns)
    assert where_problem("province = ", GOLDEN.columns).startswith("--where is not a condition polars can read")
    assert SampleSpec(40, "province = '广东省'", 3).describe() == "40 golden customers where province = '广东省' (seed 3)"


def test_the_ledger_of_a_sample_keeps_clusters_and_their_deals_whole():
    ledger = pl.DataFrame({
        "entity": ["customer", "customer", "customer", "customer", "opportunity", "opportunity", "opportunity", "customer"],
        "source": ["a"] * 8, "source_key": [str(i) for i in range(8)],
        "disposition": ["loaded", "merged", "loaded", "rejected", "loaded", "merged", "loaded", "archived"],
        "target_id": ["C1", "C1", "C2", None, "O1", "O1", "O2", "C3"],
        "customer_target_id": [None, None, None, None, "C1", "C1", "C2", None],
        "reason": ["", "merged into C1", "", "bad", "", "same deal", "", "stale"]})
    out = sample_ledger(ledger, pl.Series(["C1"]), SampleSpec(1))
    assert out["disposition"].to_list() == ["loaded", "merged", "unsampled", "rejected", "loaded", "merged", "unsampled", "archived"]
    assert out["reason"].to_list()[2] == "outside the sample: 1 golden customers (seed 0)" and out["reason"].to_list()[3] == "bad"


def test_a_condition_with_a_typo_is_named_before_any_data_is_read_and_an_empty_sample_is_refused(tmp_path):
    import pytest

    from crm_migrate.errors import MigrationError
    from pipelines.run import run_pipeline
    from tests.helpers import csv_file, project

    csv_file(tmp_path / "c.csv", ["客户编号", "客户名称", "统一社会信用代码", "联系电话", "地址"],
             [["C1", "深圳市腾飞电子科技有限公司", None, "13800138001", "广东省深圳市南山区科技园1号"]])
    cfg = project(tmp_path, [{"name": "crm", "kind": "csv", "entity": "customer", "path": "c.csv", "key": "客户编号"}])
    with pytest.raises(MigrationError, match="'provnce', which is not a field of the golden customers") as typo:
        run_pipeline(cfg, sample=SampleSpec(5, "provnce = '广东省'"))
    assert typo.value.stage == "preflight"
    with pytest.raises(MigrationError, match="the sample is empty: no golden customer of the 1 is kept by --where province = '火星'"):
        run_pipeline(cfg, sample=SampleSpec(5, "province = '火星'"))
    assert run_pipeline(cfg, sample=SampleSpec(5, "province = '广东省'"))["sample"]["golden_customers"] == 1
