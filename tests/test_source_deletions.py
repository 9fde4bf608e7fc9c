"""A record deleted in a legacy source between two runs is reported (console, manifest, report) and
never deleted in the target; a delta read claims nothing."""
from __future__ import annotations

from pathlib import Path

import polars as pl
import sqlalchemy as sa

from pipelines.run import run_pipeline
from tests.helpers import csv_file, project
from transforms.deletions import gone_from_sources, summary

HEADER = ["客户编号", "客户名称", "统一社会信用代码", "联系电话", "地址"]
ROWS = [[f"C{i}", f"深圳市第{i}测试科技有限公司", None, f"1380013{i:04d}", f"南山区{i}号"] for i in range(1, 6)]


def test_a_record_gone_from_the_source_is_reported_and_kept_in_the_target(tmp_path):
    source = [{"name": "crm", "kind": "csv", "entity": "customer", "path": "customers.csv", "key": "客户编号"}]
    csv_file(tmp_path / "customers.csv", HEADER, ROWS)
    first = run_pipeline(project(tmp_path, source))
    assert first["source_deletions"] == {}
    csv_file(tmp_path / "customers.csv", HEADER, [r for r in ROWS if r[0] != "C3"])
    lines: list[str] = []
    second = run_pipeline(project(tmp_path, source), progress=lambda stage, msg: lines.append(f"{stage}: {msg}"))
    gone = second["source_deletions"]["crm"]
    assert (gone["count"], gone["in_target"], gone["examples"]) == (1, 1, ["C3"])
    c3 = pl.read_parquet(Path(first["run_dir"]) / "ledger.parquet").filter(pl.col("source_key") == "C3")["target_id"].to_list()
    assert gone["golden_ids"] == c3
    assert any("crm: 1 record of earlier runs is no longer in the source (1 loaded or merged: kept in the target)" in line for line in lines)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'target.sqlite'}")
    with engine.connect() as conn:
        names = {r[0] for r in conn.execute(sa.text("SELECT account_name FROM crm_account"))}
    engine.dispose()
    assert "深圳市第3测试科技有限公司" in names and len(names) == 5  # never deleted in the target
    page = (Path(second["run_dir"]) / "report.html").read_text(encoding="utf-8")
    assert "Records earlier runs read that the sources no longer hold" in page and c3[0] in page


def test_only_sources_read_whole_are_compared():
    earlier = pl.DataFrame({"source": ["a", "a", "b", "b"], "source_key": ["1", "2", "1", "2"], "entity": ["customer"] * 4,
                            "disposition": ["loaded", "rejected", "merged", "loaded"], "target_id": ["G1", None, "G2", "G3"]})
    now = pl.DataFrame({"source": ["a"], "source_key": ["9"]})
    gone = gone_from_sources(earlier, now, read_whole=["a"])  # b was read as a delta: its missing rows say nothing
    assert gone.select("source", "source_key").rows() == [("a", "1"), ("a", "2")]
    assert summary(gone) == {"a": {"count": 2, "in_target": 1, "examples": ["1", "2"], "golden_ids": ["G1"]}}


def test_the_summary_keeps_sources_in_order_and_the_first_five_keys_and_golden_ids():
    keys = [f"K{i:02d}" for i in range(40)]
    earlier = pl.DataFrame({"source": ["b"] * 40 + ["a"], "source_key": [*keys, "Z"], "entity": ["customer"] * 41,
                            "disposition": ["loaded"] * 41, "target_id": [f"G{39 - i:02d}" for i in range(40)] + ["GA"]})
    now = pl.DataFrame(schema={"source": pl.String, "source_key": pl.String})
    found = summary(gone_from_sources(earlier, now, read_whole=["a", "b"]))
    assert list(found) == ["a", "b"]
    assert found["b"]["examples"] == keys[:5] and found["b"]["golden_ids"] == ["G39", "G38", "G37", "G36", "G35"]
    assert (found["b"]["count"], found["b"]["in_target"]) == (40, 40)
