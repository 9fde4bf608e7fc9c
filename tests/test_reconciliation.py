"""The proof of a run: what should be in the target against what is, by key, column and total."""
import json
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from reports.reconciliation import diff_values, reconcile, totals
from transforms.ledger import build_ledger

SCHEMA = {"external_id": pl.String, "name": pl.String, "stage": pl.String, "amount": pl.Decimal(18, 2)}


def rows(data):
    return pl.DataFrame(data, schema=SCHEMA, orient="row")


EXPECTED = rows([("K1", "甲", "won", Decimal("100.00")), ("K2", "乙", "lost", Decimal("20.50")), ("K3", "丙", "won", None)])


def test_a_target_equal_to_what_was_loaded_has_no_difference():
    diff = diff_values(EXPECTED, EXPECTED, "external_id")
    assert diff == {"expected_rows": 3, "found_rows": 3, "missing_keys": 0, "missing_examples": [], "rows_with_differences": 0, "columns": {}}


def test_missing_keys_and_changed_values_are_counted_per_column_with_examples():
    actual = rows([("K1", "甲（改）", "won", Decimal("100.00")), ("K3", "丙", "won", Decimal("5.00")), ("K9", "外", "won", Decimal("1"))])
    diff = diff_values(EXPECTED, actual, "external_id")
    assert diff["missing_keys"] == 1 and diff["missing_examples"] == ["K2"]
    assert diff["found_rows"] == 2 and diff["rows_with_differences"] == 2
    assert diff["columns"] == {
        "name": {"count": 1, "examples": [{"key": "K1", "expected": "甲", "target": "甲（改）"}]},
        "amount": {"count": 1, "examples": [{"key": "K3", "expected": None, "target": "5.00"}]},
    }
    assert len(diff_values(EXPECTED, rows([(f"K{i}", "x", "won", None) for i in range(1, 4)]), "external_id", examples=2)
               ["columns"]["name"]["examples"]) == 2


def test_totals_are_exact_decimals_overall_and_per_group():
    t = totals(EXPECTED, "amount", "stage")
    assert t == {"rows": 3, "amount": "120.50", "by_stage": {"lost": {"rows": 1, "amount": "20.50"}, "won": {"rows": 2, "amount": "100.00"}}}
    assert totals(EXPECTED.head(0), "amount", "stage") == {"rows": 0, "amount": "0", "by_stage": {}}
    assert totals(EXPECTED, None, "stage") == {"rows": 3, "by_stage": {"lost": {"rows": 1}, "won": {"rows": 2}}}
    assert totals(EXPECTED, "amount", None) == {"rows": 3, "amount": "120.50"}
    assert totals(EXPECTED, "amount", "no_such_column") == {"rows": 3, "amount": "120.50"}
    tiny = rows([("K1", "a", "won", Decimal("0.10")), ("K2", "b", "won", Decimal("0.20"))])
    assert totals(tiny, "amount", None)["amount"] == "0.30"  # no float rounding


def ledger(n_loaded):
    data = [("s", f"{i}", i + 2, "loaded", f"K{i + 1}", None, []) for i in range(n_loaded)]
    return build_ledger("r", "opportunity", pl.DataFrame(data, schema={"_source": pl.String, "_source_key": pl.String, "_row": pl.Int64,
                                                                         "disposition": pl.String, "target_id": pl.String, "reason": pl.String,
                                                                         "_flags": pl.List(pl.String)}, orient="row"))


BALANCED = [{"entity": "opportunity", "source": "s", "balanced": True}]


def run(expected, actual, accounting=BALANCED, led=None):
    return reconcile(accounting, led if led is not None else ledger(3), {"opportunity": expected}, {"opportunity": actual},
                     {"opportunity": "external_id"}, {"opportunity": "amount"}, {"opportunity": "stage"})


def test_reconcile_holds_only_when_everything_matches():
    ok = run(EXPECTED, EXPECTED)
    assert ok["balanced"] is True and ok["tables"]["opportunity"]["matches"] is True
    assert ok["tables"]["opportunity"]["ledger_loaded"] == 3 and ok["tables"]["opportunity"]["expected_target_rows"] == 3
    assert run(EXPECTED, EXPECTED.head(2))["balanced"] is False  # a row missing
    changed = EXPECTED.with_columns(pl.when(pl.col("external_id") == "K2").then(pl.lit("won")).otherwise(pl.col("stage")).alias("stage"))
    assert run(EXPECTED, changed)["balanced"] is False  # a value changed
    assert run(EXPECTED, EXPECTED, led=ledger(2))["balanced"] is False  # the ledger loaded fewer records than the target should hold
    assert run(EXPECTED, EXPECTED, accounting=[{"balanced": False}])["balanced"] is False
    assert run(EXPECTED, EXPECTED, accounting=[{"balanced": False}])["tables"]["opportunity"]["matches"] is True


def test_totals_that_differ_fail_the_reconciliation_even_when_rows_match():
    expected = EXPECTED.with_columns(pl.col("amount").cast(pl.Decimal(18, 2)))
    result = reconcile(BALANCED, ledger(3), {"opportunity": expected}, {"opportunity": expected.with_columns(pl.lit(None, dtype=pl.Decimal(18, 2)).alias("amount"))},
                       {"opportunity": "external_id"}, {"opportunity": "amount"}, {"opportunity": None})
    table = result["tables"]["opportunity"]
    assert table["totals_expected"]["amount"] == "120.50" and table["totals_in_target"]["amount"] == "0.00"
    assert result["balanced"] is False


def test_examples_are_capped_at_five_by_default():
    many = rows([(f"K{i}", f"n{i}", "won", Decimal("1")) for i in range(8)])
    changed = many.with_columns(pl.lit("x").alias("name"))
    diff = diff_values(many, changed, "external_id")
    assert diff["columns"]["name"]["count"] == 8 and len(diff["columns"]["name"]["examples"]) == 5
    assert len(diff_values(many, many.head(1), "external_id")["missing_examples"]) == 5


def test_a_table_of_keys_only_has_no_differences():
    keys = EXPECTED.select("external_id")
    assert diff_values(keys, keys, "external_id")["rows_with_differences"] == 0


def test_groups_are_listed_in_order_with_the_empty_group_last():
    data = EXPECTED.with_columns(pl.when(pl.col("external_id") == "K3").then(None).otherwise(pl.col("stage")).alias("stage"))
    assert list(totals(data, "amount", "stage")["by_stage"]) == ["lost", "won", "None"]


def mixed_ledger(loaded_opportunities):
    """Loaded opportunities K1..Kn, one merged into K1, one rejected; and customers of their own."""
    schema = {"_source": pl.String, "_source_key": pl.String, "_row": pl.Int64, "disposition": pl.String, "target_id": pl.String,
              "reason": pl.String, "_flags": pl.List(pl.String)}
    opps = [("o", f"{i}", i + 2, "loaded", f"K{i + 1}", None, []) for i in range(loaded_opportunities)]
    opps += [("o", "m", 90, "merged", "K1", "dup", []), ("o", "r", 91, "rejected", None, "bad", [])]
    customers = [("c", "1", 2, "loaded", "C1", None, []), ("c", "2", 3, "loaded", "C2", None, []), ("c", "3", 4, "archived", "C3", "old", [])]
    return pl.concat([build_ledger("r", "opportunity", pl.DataFrame(opps, schema=schema, orient="row")),
                      build_ledger("r", "customer", pl.DataFrame(customers, schema=schema, orient="row"))])


def test_loaded_ids_count_only_this_entitys_loaded_records():
    ok = run(EXPECTED, EXPECTED, led=mixed_ledger(3))
    assert ok["tables"]["opportunity"]["ledger_loaded"] == 3 and ok["balanced"] is True
    assert run(EXPECTED, EXPECTED, led=mixed_ledger(4))["balanced"] is False  # the ledger loaded more than the target holds


def test_each_check_fails_the_proof_on_its_own():
    other_key = EXPECTED.with_columns(pl.when(pl.col("external_id") == "K2").then(pl.lit("K9")).otherwise(pl.col("external_id")).alias("external_id"))
    result = run(EXPECTED, other_key)  # same totals, one key missing
    assert result["tables"]["opportunity"]["totals_expected"] == result["tables"]["opportunity"]["totals_in_target"]
    assert result["balanced"] is False
    renamed = EXPECTED.with_columns(pl.lit("改名").alias("name"))  # same totals, values differ
    assert run(EXPECTED, renamed)["tables"]["opportunity"]["totals_expected"] == run(EXPECTED, renamed)["tables"]["opportunity"]["totals_in_target"]
    assert run(EXPECTED, renamed)["balanced"] is False


def test_customers_count_neither_opportunities_nor_archived_records():
    accounts = pl.DataFrame({"external_id": ["C1", "C2"], "status": ["Active", "Active"]})
    result = reconcile([{"balanced": True}], mixed_ledger(3), {"customer": accounts}, {"customer": accounts},
                       {"customer": "external_id"}, {"customer": None}, {"customer": "status"})
    assert result["tables"]["customer"]["ledger_loaded"] == 2 and result["balanced"] is True


RECONCILIATION_SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "docs" / "reconciliation.schema.json").read_text(encoding="utf-8"))


def test_reconciliation_json_follows_its_schema_with_a_verdict_for_every_kind_of_run(tmp_path):
    """A committed run, a dry run, a plan and a run the gate stopped: each reconciliation.json is valid
    against docs/reconciliation.schema.json, with the verdict and its scope."""
    import jsonschema

    from crm_migrate.errors import GateFailed
    from pipelines.run import run_pipeline
    from tests.helpers import csv_file, project, run_dirs

    csv_file(tmp_path / "c.csv", ["客户编号", "客户名称", "统一社会信用代码", "联系电话", "地址"],
             [["C1", "深圳市腾飞电子科技有限公司", None, "13800138001", "南山区1号"], ["C2", "广州市华鑫贸易有限公司", None, None, None]])
    csv_file(tmp_path / "d.csv", ["商机编号", "客户编号", "商机名称", "金额", "阶段"], [["O1", "C1", "年度采购", "12.5万", "报价"], ["O2", "C9", "无主", 5, "报价"]])
    sources = [{"name": "crm", "kind": "csv", "entity": "customer", "path": "c.csv", "key": "客户编号"},
               {"name": "deals", "kind": "csv", "entity": "opportunity", "path": "d.csv", "key": "商机编号", "customer_source": "crm"}]
    cfg = project(tmp_path, sources)
    runs = {"committed": run_pipeline(cfg), "dry": run_pipeline(cfg, dry_run=True), "plan": run_pipeline(cfg, plan_only=True)}
    strict = project(tmp_path / "strict", sources, validation={"gates": {"max_reject_rate": 0.1}})
    for name in ("c.csv", "d.csv"):
        (tmp_path / "strict" / name).write_bytes((tmp_path / name).read_bytes())
    with pytest.raises(GateFailed):
        run_pipeline(strict)
    docs = {k: json.loads((Path(m["run_dir"]) / "reconciliation.json").read_text(encoding="utf-8")) for k, m in runs.items()}
    (stopped,) = run_dirs(tmp_path / "strict")
    docs["gate"] = json.loads((stopped / "reconciliation.json").read_text(encoding="utf-8"))
    for doc in docs.values():
        jsonschema.validate(doc, RECONCILIATION_SCHEMA)
    assert {k: (d["verdict"]["result"], d["verdict"]["scope"], d["status"]) for k, d in docs.items()} == {
        "committed": ("pass", "loaded", "succeeded"), "dry": ("pass", "dry_run", "succeeded"), "plan": ("pass", "not_loaded", "planned"),
        "gate": ("fail", "not_loaded", "stopped_at_gate")}
    assert docs["gate"]["verdict"]["reasons"] == ["the gate stopped the run: deals: 1 of 2 opportunity records rejected (50.0%), above max_reject_rate 10.0%"]
    opportunities = docs["committed"]["tables"]["opportunity"]
    assert opportunities["totals_in_target"]["amount"] == "125000.00" and opportunities["totals_in_target"]["by_owner_id"] == {
        "U9000": {"rows": 1, "amount": "125000.00"}}  # no rep in the source: the lookup's default user
    assert opportunities["amount_per_customer"] == {"groups": 1, "differ": 0, "examples": []}
    assert runs["committed"]["verdict"] == docs["committed"]["verdict"] and docs["committed"]["run_id"] == runs["committed"]["run_id"]


def test_the_verdict_names_what_fails_without_values():
    from reports.reconciliation import verdict

    table = {"ledger_loaded": 3, "expected_target_rows": 3, "matches": False, "totals_expected": {"rows": 3}, "totals_in_target": {"rows": 2},
             "diff": {"missing_keys": 1, "rows_with_differences": 1, "columns": {"phone": {"count": 1, "examples": []}}}}
    accounting = [{"entity": "customer", "source": "crm", "extracted": 10, "ledgered": 9, "repeated_records": 0, "balanced": False,
                   "physical": {"balanced": False}},
                  {"entity": "opportunity", "source": "deals", "extracted": 4, "ledgered": 4, "repeated_records": 0, "balanced": True}]
    got = verdict({"accounting": accounting, "tables": {"customer": table}, "loaded": True}, "unbalanced", False, [])
    assert got == {"result": "fail", "scope": "loaded", "reasons": [
        "customer source crm: 10 records read, 9 in the ledger (0 twice) and the physical input disagrees",
        "customer: 1 rows missing; 1 rows differ (phone); totals differ"]}
    assert verdict({"accounting": accounting[1:], "tables": {}, "loaded": False}, "planned", False, []) == {
        "result": "pass", "scope": "not_loaded", "reasons": []}


def test_amounts_per_customer_and_per_owner_are_exact_and_a_moved_amount_is_found():
    from reports.reconciliation import amounts_per_group

    deals = pl.DataFrame({"external_id": ["O1", "O2", "O3"], "account": ["C1", "C1", "C2"], "owner": ["U1", "U2", "U1"],
                          "amount": [Decimal("0.10"), Decimal("0.20"), Decimal("5.00")]}, schema_overrides={"amount": pl.Decimal(18, 2)})
    assert totals(deals, "amount", ["account", "owner"]) == {"rows": 3, "amount": "5.30",
                                                             "by_account": {"C1": {"rows": 2, "amount": "0.30"}, "C2": {"rows": 1, "amount": "5.00"}},
                                                             "by_owner": {"U1": {"rows": 2, "amount": "5.10"}, "U2": {"rows": 1, "amount": "0.20"}}}
    assert amounts_per_group(deals, deals, "account", "amount") == {"groups": 2, "differ": 0, "examples": []}
    moved = deals.with_columns(pl.when(pl.col("external_id") == "O2").then(pl.lit("C2")).otherwise(pl.col("account")).alias("account"))
    assert amounts_per_group(deals, moved, "account", "amount") == {"groups": 2, "differ": 2, "examples": ["C1", "C2"]}  # same total overall
    result = reconcile(BALANCED, ledger(3), {"opportunity": deals}, {"opportunity": moved}, {"opportunity": "external_id"},
                       {"opportunity": "amount"}, {"opportunity": ["owner"]}, {"opportunity": "account"})
    table = result["tables"]["opportunity"]
    assert table["amount_per_customer"]["differ"] == 2 and table["totals_expected"] == table["totals_in_target"] and not table["matches"]
