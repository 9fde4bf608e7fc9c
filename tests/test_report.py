"""report.html: what happened to the target in its header, reject reasons grouped by kind, and
personal data masked unless the config says otherwise."""
import re
from pathlib import Path

import polars as pl

from pipelines.run import run_pipeline
from reports.render import reason_template, reject_reasons
from tests.helpers import csv_file, project
from transforms.ledger import build_ledger

HEADER = ["客户编号", "客户名称", "统一社会信用代码", "联系电话", "地址"]


def test_reasons_of_one_kind_group_together_with_examples():
    reasons = ["customer name '广州普蓝' matches 47 customers", "customer name '深圳品创' matches 3 customers",
               "customer key 9 not found in source crm", "customer key 12 not found in source crm", "merged into CUS-0123456789ABCDEF (x)"]
    assert reason_template(reasons[0]) == reason_template(reasons[1]) == "customer name '…' matches N customers"
    assert reason_template(reasons[4]) == "merged into ID (x)"
    led = build_ledger("r", "opportunity", pl.DataFrame(
        [("s", str(i), i + 2, "rejected", None, r, []) for i, r in enumerate(reasons[:4])],
        schema={"_source": pl.String, "_source_key": pl.String, "_row": pl.Int64, "disposition": pl.String, "target_id": pl.String,
                "reason": pl.String, "_flags": pl.List(pl.String)}, orient="row"))
    grouped = reject_reasons(led)
    assert grouped.select("template", "records").rows() == [("customer key N not found in source crm", 2),
                                                            ("customer name '…' matches N customers", 2)]
    assert grouped["examples"].to_list()[1] == reasons[:2]


def run(tmp_path: Path, **top) -> str:
    rows = [[f"C{i}", f"深圳市测试{i}科技有限公司", None, f"138 0013 {i:04d}", f"南山区{i}号"] for i in range(1, 4)]
    csv_file(tmp_path / "customers.csv", HEADER, [*rows, ["导出人：张三丰 共3条记录", None, None, None, None]])
    cfg = project(tmp_path, [{"name": "crm", "kind": "csv", "entity": "customer", "path": "customers.csv", "key": "客户编号"}], **top)
    manifest = run_pipeline(cfg)
    return (Path(manifest["run_dir"]) / "report.html").read_text(encoding="utf-8")


def test_phones_and_person_names_are_masked_in_the_report(tmp_path):
    html = run(tmp_path)
    assert "138 0013 0001" not in html and "+8613800130001" not in html
    assert re.search(r"<code>138\*\*\*\*000\d</code> → <code>\+86138\*\*\*\*000\d</code>", html)  # the phone rule's example, masked
    assert "导出人：张**" in html and "张三丰" not in html  # the footer row's content
    assert "committed to the target" in html and "Phones, emails and person names are masked" in html


def test_masking_can_be_turned_off(tmp_path):
    html = run(tmp_path, report={"mask_personal_data": False})
    assert re.search(r"<code>138 0013 000\d</code>", html) and "张三丰" in html


def test_a_gate_stop_says_nothing_was_written(tmp_path):
    rows = [[f"C{i}", "", None, None, None] for i in range(1, 4)]  # every name empty
    csv_file(tmp_path / "customers.csv", HEADER, rows + [["C9", "深圳市测试9科技有限公司", None, None, None]])
    cfg = project(tmp_path, [{"name": "crm", "kind": "csv", "entity": "customer", "path": "customers.csv", "key": "客户编号"}],
                  validation={"suites": {"canonical": {"customer": str(Path(__file__).resolve().parent.parent / "expectations" / "suites" / "customer_canonical.json")}}})
    try:
        run_pipeline(cfg)
    except Exception as exc:  # noqa: BLE001
        assert type(exc).__name__ == "GateFailed"
    run_dir = next((tmp_path / "out").iterdir())
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "stopped at the gate: nothing was written to the target" in html and "committed to the target" not in html
    assert "company name is empty" in html and (run_dir / "planned_ledger.csv").exists() and not (run_dir / "ledger.csv").exists()


def test_validation_examples_in_the_report_are_masked_even_when_too_broken_for_the_patterns(tmp_path):
    header = [*HEADER, "邮箱"]
    rows = [["C1", "深圳市测试1科技有限公司", None, "075526", "南山区1号", "zhangsan@@qq.com"],
            ["C2", "深圳市测试2科技有限公司", None, "13800130002", "南山区2号", "lisi@qq.com"]]
    csv_file(tmp_path / "customers.csv", header, rows)
    mapping = {"entity": "customer", "columns": {"name": "客户名称", "credit_code": "统一社会信用代码", "phone": "联系电话",
                                                 "address": "地址", "email": "邮箱"}}
    suites = {"canonical": {"customer": str(Path(__file__).resolve().parent.parent / "expectations" / "suites" / "customer_canonical.json")}}
    cfg = project(tmp_path, [{"name": "crm", "kind": "csv", "entity": "customer", "path": "customers.csv", "key": "客户编号"}],
                  mappings={"customer": mapping}, validation={"suites": suites, "gates": {"max_reject_rate": 1.0}})
    manifest = run_pipeline(cfg)
    html = (Path(manifest["run_dir"]) / "report.html").read_text(encoding="utf-8")
    assert "malformed_email" in html and "phone_too_short" in html  # the rules failed and are shown with their records
    assert "crm:C1:2" in html and "email=z" in html  # where, and the masked value
    assert "zhangsan" not in html and "075526" not in html
    ledger = pl.read_csv(Path(manifest["run_dir"]) / "ledger.csv")
    assert ledger.filter(pl.col("source_key") == "C1")["flags"].str.contains("malformed_email").all()  # the ledger holds the codes
