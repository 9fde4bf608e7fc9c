"""Target mapping depth: owner lookups with a flagged default, target-side numbers kept on re-runs,
computed columns, truncation reported per column, and mapping errors named before data moves."""
import csv
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
import yaml

from crm_migrate.errors import ConfigError
from pipelines.config import load_config
from pipelines.run import run_pipeline
from transforms.mapping import ColumnSpec, Lookup, Numbering, assign_numbers, map_table
from tests.helpers import ROOT, csv_file, project

USERS = Lookup({"张伟": "U1", "e001": "U1", "王芳": "U2", "e002": "U2"}, default="U0")


def test_a_lookup_finds_reps_by_name_or_id_and_flags_the_default():
    frame = pl.DataFrame({"owner": ["张伟", "E001", "张 伟", "ｅ００２", "李雷", None]})
    out = map_table(frame, [ColumnSpec("owner_id", "owner", length=10, lookup="users")], {"users": USERS})
    assert out.rows["owner_id"].to_list() == ["U1", "U1", "U1", "U2", "U0", "U0"]
    assert [(n["column"], n["count"], n["examples"], n["positions"]) for n in out.notes] == [("owner_id", 2, ["李雷"], [4, 5])]
    assert out.flags.rows() == [(4, "lookup_default:owner_id"), (5, "lookup_default:owner_id")]
    assert out.problems == []


def test_a_lookup_without_a_default_stops_on_an_unknown_rep_but_not_on_an_empty_one():
    frame = pl.DataFrame({"owner": ["张伟", "李雷", None]})
    out = map_table(frame, [ColumnSpec("owner_id", "owner", lookup="users")], {"users": Lookup(USERS.table)})
    assert out.rows["owner_id"].to_list() == ["U1", None, None]
    assert [(p["problem"], p["count"], p["positions"]) for p in out.problems] == [("not in lookup users", 1, [1])]
    assert out.notes == [] and out.flags.height == 0


def test_numbers_are_kept_by_key_and_new_ones_continue_each_year():
    numbering = Numbering("KH{year}{seq:06d}", "created_at")
    held = pl.DataFrame({"key": ["c1", "old", "edited"], "number": ["KH2024000007", "KH2024000123", "VIP-1"]})
    keys = pl.Series(["c3", "c1", "c2", "c4", "edited", "c5", "c6"])
    dates = pl.Series([date(2024, 5, 1), date(2024, 1, 1), None, date(2023, 7, 1), date(2024, 2, 2), date(2024, 3, 1), date(2024, 3, 1)])
    got = assign_numbers(keys, dates, held, numbering, 2026).to_list()
    assert got == ["KH2024000126", "KH2024000007", "KH2026000001", "KH2023000001", "VIP-1", "KH2024000124", "KH2024000125"]
    again = assign_numbers(keys.reverse(), dates.reverse(), held, numbering, 2026).to_list()
    assert again == got[::-1]  # the order rows arrive in does not change anyone's number


def test_numbers_without_a_year_and_a_format_that_cannot_work():
    got = assign_numbers(pl.Series(["b", "a"]), None, pl.DataFrame({"k": ["x"], "n": ["C-0041-X"]}), Numbering("C-{seq:04d}-X"), 2026)
    assert got.to_list() == ["C-0043-X", "C-0042-X"]
    for bad in ("KH{seq}{seq}", "KH{year}", "KH{yr}{seq}"):
        with pytest.raises(ValueError, match="one {seq}"):
            Numbering(bad).parts()


def test_computed_columns_and_truncation_per_column():
    frame = pl.DataFrame({"province": ["广东省", "北京市"], "city": ["深圳市", None], "name": ["深圳市腾飞电子科技有限公司", "华鑫"]})
    cols = [ColumnSpec("region", compute="concat_ws(' / ', province, city)", length=20),
            ColumnSpec("short", "name", length=6, overflow="truncate"), ColumnSpec("strict", "name", length=6)]
    out = map_table(frame, cols)
    assert out.rows["region"].to_list() == ["广东省 / 深圳市", "北京市"]
    assert out.rows["short"].to_list() == ["深圳市腾飞电", "华鑫"]
    assert [(n["column"], n["problem"], n["count"]) for n in out.notes] == [("short", "truncated to 6 characters", 1)]
    assert out.flags.rows() == [(0, "truncated:short")]
    assert [(p["column"], p["count"]) for p in out.problems] == [("strict", 1)]  # overflow: stop (the default)


def mapping_with(tmp_path: Path, change) -> Path:
    doc = yaml.safe_load((ROOT / "mappings" / "target_crm.yaml").read_text(encoding="utf-8"))
    doc["lookups"]["crm_users"]["file"] = str(ROOT / "data_samples" / "demo" / "crm_users.csv")
    change(doc)
    path = tmp_path / "target.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def config_with(tmp_path: Path, change) -> Path:
    cfg = project(tmp_path, [{"name": "crm", "kind": "csv", "entity": "customer", "path": "c.csv", "key": "客户编号"}])
    doc = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    doc["target"]["mapping"] = str(mapping_with(tmp_path, change))
    cfg.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return cfg


def column(doc, name):
    return next(c for c in doc["tables"]["customer"]["columns"] if c["name"] == name)


@pytest.mark.parametrize("change, message", [
    (lambda d: column(d, "created_at").update({"from": "name"}), "column 'created_at' is datetime but 'name' is String"),
    (lambda d: column(d, "region").update({"compute": "concat_ws(' ', province, town)"}), "reads 'town', which is not a canonical customer field"),
    (lambda d: column(d, "region").update({"compute": "concat_ws(' ', province"}), "`compute` is not a valid expression"),
    (lambda d: column(d, "owner_id").update({"lookup": "users"}), "uses the lookup 'users', which `lookups:` does not define"),
    (lambda d: d["lookups"]["crm_users"].update({"default": "NOBODY-WITH-A-LONG-ID"}), "lookup default 'NOBODY-WITH-A-LONG-ID', longer than its length 20"),
    (lambda d: column(d, "status").update({"picklist": {"active": "Active customer of the company"}}), "picklist value 'Active customer of the company'"),
    (lambda d: column(d, "created_at").update({"default": "yesterday"}), "has the default 'yesterday', which is not a datetime"),
    (lambda d: column(d, "account_number").update({"from": "name"}), "needs exactly one of `from`, `compute` or `number` (has from, number)"),
    (lambda d: column(d, "account_number")["number"].update({"year_from": "name"}), "takes the year of its number from 'name', which is not a date"),
    (lambda d: column(d, "account_number")["number"].update({"format": "KH{year}"}), "must hold one {seq}"),
    (lambda d: column(d, "account_number").update({"length": 8}), "numbers as KH{year}{seq:06d}, at least 12 characters, longer than its length 8"),
    (lambda d: d["lookups"]["crm_users"].update({"target_column": "uid"}), "has no column uid"),
    (lambda d: d["tables"]["customer"]["columns"].append({"name": "region", "from": "city"}), "columns named twice: region"),
])
def test_mapping_errors_are_found_before_any_data_moves(tmp_path, change, message):
    cfg = config_with(tmp_path, change)
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert message in info.value.describe()


def test_namesakes_in_a_user_list_match_by_employee_number_and_take_the_default_by_name(tmp_path):
    from pipelines.checks import _mapping_lines

    users = tmp_path / "users.csv"
    csv_file(users, ["user_id", "name", "employee_no"], [["U1", "张伟", "E1"], ["U2", "张伟", "E2"], ["U3", "王芳", "E3"]])
    cfg = config_with(tmp_path, lambda d: d["lookups"]["crm_users"].update({"file": str(users)}))
    loaded = load_config(cfg)
    lookup = loaded.lookups["crm_users"]
    assert lookup.ambiguous == frozenset({"张伟"}) and lookup.table == {"e1": "U1", "e2": "U2", "e3": "U3",
                                                                      "王芳": "U3"}
    assert ("warning: lookup crm_users: 1 legacy values name several target values (namesakes); records with them take the default, "
            "flagged: list them by an unambiguous id") in list(_mapping_lines(loaded))
    out = map_table(pl.DataFrame({"owner": ["张 伟", "E2", "王芳", "李雷"]}), [ColumnSpec("owner_id", "owner", lookup="crm_users")], loaded.lookups)
    assert out.rows["owner_id"].to_list() == ["U9000", "U2", "U3", "U9000"]
    assert [(n["problem"], n["positions"]) for n in out.notes] == [("names several values in lookup crm_users: set to its default", [0]),
                                                                    ("not in lookup crm_users: set to its default", [3])]
    strict = map_table(pl.DataFrame({"owner": ["张伟"]}), [ColumnSpec("owner_id", "owner", lookup="u")], {"u": Lookup(lookup.table, lookup.ambiguous)})
    assert [p["problem"] for p in strict.problems] == ["names several values in lookup u"]


HEADER = ["客户编号", "客户名称", "联系电话", "创建时间", "负责人"]


def run(tmp_path, url, rows):
    csv_file(tmp_path / "c.csv", HEADER, rows)
    cfg = project(tmp_path, [{"name": "crm", "kind": "csv", "entity": "customer", "path": "c.csv", "key": "客户编号"}], target_url=url,
                  mappings={"customer": {"entity": "customer", "columns": {"name": "客户名称", "phone": "联系电话", "created_at": "创建时间",
                                                                         "owner": "负责人"}}})
    return run_pipeline(cfg)


def accounts(url):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {r[0]: r[1:] for r in conn.execute(sa.text("SELECT account_name, account_number, owner_id FROM crm_account")).all()}
    finally:
        engine.dispose()


def test_numbers_owners_and_flags_through_a_run_and_kept_on_reruns(any_db_url, tmp_path):
    users = {r["name"]: r["user_id"] for r in csv.DictReader((ROOT / "data_samples" / "demo" / "crm_users.csv").open(encoding="utf-8"))}
    rep, emp = next(iter(users)), None
    emp = next(r["employee_no"] for r in csv.DictReader((ROOT / "data_samples" / "demo" / "crm_users.csv").open(encoding="utf-8")) if r["name"] == rep)
    rows = [["C1", "深圳市腾飞电子科技有限公司", "13800138001", "2023-05-01", rep],
            ["C2", "广州市华鑫贸易有限公司", "13800138002", "2024-02-01", emp.lower()],
            ["C3", "佛山市新城物流有限公司", "13800138003", "2024-01-09", "离职的人"]]
    first = run(tmp_path, any_db_url, rows)
    got = accounts(any_db_url)
    assert got == {"深圳市腾飞电子科技有限公司": ("KH2023000001", users[rep]), "广州市华鑫贸易有限公司": ("KH2024000002", users[rep]),
                   "佛山市新城物流有限公司": ("KH2024000001", "U9000")}  # by creation date within each year
    ledger = pl.read_csv(Path(first["run_dir"]) / "ledger.csv")
    flagged = ledger.filter(pl.col("flags").str.contains("lookup_default:owner_id"))["source_key"].to_list()
    assert flagged == ["C3"]
    second = run(tmp_path, any_db_url, [*rows, ["C4", "东莞市长安五金制品厂", "13800138004", "2024-03-01", rep]])
    assert [(r["inserted"], r["updated"]) for r in second["load"]] == [(1, 0)]  # numbers of the first run unchanged
    assert accounts(any_db_url)["东莞市长安五金制品厂"] == ("KH2024000003", users[rep])
    assert {k: v for k, v in accounts(any_db_url).items() if k != "东莞市长安五金制品厂"} == got
    notes = second["mapping_notes"]
    assert [(x["table"], x["column"], x["problem"], x["count"], x["records"]) for x in notes] == [
        ("crm_account", "owner_id", "not in lookup crm_users: set to its default", 1, ["crm:C3"])]
    assert notes[0]["examples"] == ["离***"]  # a rep's name is personal data: masked in the manifest and the report


def test_check_says_what_the_mapping_does(tmp_path):
    from pipelines.checks import _mapping_lines

    def change(doc):
        column(doc, "industry")["overflow"] = "truncate"
        doc["lookups"]["crm_users"]["default"] = None

    lines = list(_mapping_lines(load_config(config_with(tmp_path, change))))
    assert lines[0] == ("target mapping customer: crm_account, 17 columns keyed by external_id (1 looked up, 1 computed, 1 numbered); "
                        "cut to length: industry")
    assert lines[2] == "lookup crm_users: 21 target values for 42 legacy names and ids, no default (an unknown value stops the load)"


def test_defaults_take_the_type_of_their_column():
    from datetime import datetime
    from decimal import Decimal

    from transforms.mapping import typed_default

    assert typed_default(ColumnSpec("c", type="date", default="2024-12-31")) == date(2024, 12, 31)
    assert typed_default(ColumnSpec("c", type="date", default=date(2024, 1, 2))) == date(2024, 1, 2)
    assert typed_default(ColumnSpec("c", type="datetime", default="2024-12-31T08:30:00")) == datetime(2024, 12, 31, 8, 30)
    assert typed_default(ColumnSpec("c", type="decimal", default="0.10")) == Decimal("0.10")
    assert typed_default(ColumnSpec("c", type="boolean", default="TRUE")) is True
    assert typed_default(ColumnSpec("c", type="boolean", default="false")) is False
    assert typed_default(ColumnSpec("c", type="integer", default="7")) == 7 and typed_default(ColumnSpec("c", default=7)) == "7"
    for bad in (ColumnSpec("c", type="boolean", default="yes"), ColumnSpec("c", type="date", default="soon")):
        with pytest.raises(ValueError):
            typed_default(bad)
    frame = pl.DataFrame({"d": [None, date(2024, 5, 6)], "x": [None, "很长很长的名字"]}, schema={"d": pl.Date, "x": pl.String})
    out = map_table(frame, [ColumnSpec("close", "d", type="date", default="2024-12-31"), ColumnSpec("x", "x", length=3, overflow="truncate")])
    assert out.rows["close"].to_list() == [date(2024, 12, 31), date(2024, 5, 6)]
    assert out.rows["x"].to_list() == [None, "很长很"] and out.flags.rows() == [(1, "truncated:x")]  # an empty value is not cut
