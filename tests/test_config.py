import json
from pathlib import Path

import pytest

from crm_migrate.errors import ConfigError
from pipelines.config import config_json_schema, load_config
from tests.conftest import DEMO_CONFIG, ROOT


def test_demo_config_loads_with_resolved_paths():
    loaded = load_config(DEMO_CONFIG)
    cfg = loaded.config
    assert [s.name for s in cfg.sources] == ["legacy_crm", "erp_export", "sales_workbook", "legacy_crm_opps", "sales_workbook_opps"]
    assert cfg.sources[1].path == (ROOT / "data_samples" / "demo" / "erp_export.csv").resolve()
    assert cfg.sources[0].url == f"sqlite:///{(ROOT / 'data_samples' / 'demo' / 'legacy_crm.sqlite').resolve()}"
    assert loaded.source_mappings["sales_workbook_opps"].columns["amount"] == "金额"
    assert loaded.value_maps["legacy_crm_opps"]["stage"].lookup()["5"] == "closed_won"
    assert len(loaded.digest()) == 64


def test_error_names_file_line_key_and_allowed_values(project):
    text = project.read_text(encoding="utf-8").replace("kind: csv", "kind: xls", 1)
    project.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(project)
    message = info.value.describe()
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "kind: xls" in l)
    assert f"demo.yaml:{line}: sources[1].kind" in message
    assert "'excel', 'sql' or 'csv'" in message and "'xls'" in message


def test_unknown_key_is_rejected(project):
    project.write_text(project.read_text(encoding="utf-8").replace("project: demo", "project: demo\nproject_nmae: x"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"demo.yaml:\d+: project_nmae: Extra inputs are not permitted"):
        load_config(project)


def test_mapping_error_points_at_mapping_file(project):
    m = project.parent.parent / "mappings" / "erp_export_customer.yaml"
    m.write_text(m.read_text(encoding="utf-8").replace("address: 地址", "adress: 地址"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"erp_export_customer.yaml.*'adress' is not a canonical customer field"):
        load_config(project)


def test_env_substitution_and_missing_variable(project, monkeypatch):
    monkeypatch.setenv("CRM_DEMO_TARGET_URL", "sqlite:////tmp/x.sqlite")
    assert load_config(project).config.target.url == "sqlite:////tmp/x.sqlite"
    project.write_text(project.read_text(encoding="utf-8").replace("${CRM_DEMO_TARGET_URL:-sqlite:///../out/demo_target.sqlite}", "postgresql://u:${CRM_TEST_NOT_SET_PW}@h/db"), encoding="utf-8")
    with pytest.raises(ConfigError, match="environment variable CRM_TEST_NOT_SET_PW is not set"):
        load_config(project)


def test_secret_values_are_remembered_for_scrubbing(project, monkeypatch):
    monkeypatch.setenv("CRM_TEST_PW", "s3cret-pw")
    project.write_text(project.read_text(encoding="utf-8").replace("${CRM_DEMO_TARGET_URL:-sqlite:///../out/demo_target.sqlite}", "postgresql://u:${CRM_TEST_PW}@h/db"), encoding="utf-8")
    assert "s3cret-pw" in load_config(project).secrets


def test_sql_source_needs_table_or_query(project):
    project.write_text(project.read_text(encoding="utf-8").replace("    table: t_customer\n", "", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match="exactly one of `table` or `query`"):
        load_config(project)


def test_json_schema_documents_every_top_level_key():
    schema = config_json_schema()
    assert set(schema["properties"]) == {"project", "output_dir", "sources", "target", "names", "resolution", "archive", "validation",
                                         "non_records", "report", "operations", "phases"}
    docs = (Path(__file__).resolve().parent.parent / "docs" / "configuration.md").read_text(encoding="utf-8")
    for model in ("Config", "SourceConfig", "TargetConfig", "NonRecordsConfig", "ReportConfig", "NamesConfig", "OperationsConfig", "NotifyConfig"):
        props = schema["properties"] if model == "Config" else schema["$defs"][model]["properties"]
        undocumented = [k for k in props if f"`{k}`" not in docs and f"`{model_prefix(model)}{k}`" not in docs]
        assert not undocumented, f"{model} keys missing from docs/configuration.md: {undocumented}"
    source = schema["$defs"]["SourceConfig"]["properties"]
    assert source["kind"]["enum"] == ["excel", "sql", "csv"]
    assert "schema" in source  # the alias, as written in YAML
    json.dumps(schema)


def model_prefix(model: str) -> str:
    return {"NonRecordsConfig": "non_records.", "ReportConfig": "report.", "TargetConfig": "target.", "NamesConfig": "names.",
            "OperationsConfig": "operations.", "NotifyConfig": "operations.notify."}.get(model, "")


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    return [i for i, line in enumerate(text.splitlines(), 1) if needle in line][occurrence - 1]


def test_cross_source_errors_point_at_their_key(project):
    text = project.read_text(encoding="utf-8").replace("name: erp_export", "name: legacy_crm").replace("customer_source: legacy_crm", "customer_source: nobody")
    project.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(project)
    message = info.value.describe()
    assert f"demo.yaml:{line_of(text, 'name: legacy_crm', 2)}: sources[1].name: source name 'legacy_crm' is already used by sources[0]" in message
    assert f"demo.yaml:{line_of(text, 'customer_source: nobody')}: sources[3].customer_source: 'nobody' is not a customer source" in message


def test_a_value_map_with_one_spelling_under_two_values_is_refused(project):
    status = project.parent.parent / "mappings" / "values" / "status.yaml"
    text = status.read_text(encoding="utf-8")
    canonical = [line.split(":")[0].strip() for line in text.splitlines() if line.startswith("  ") and ":" in line]
    spelling = canonical[0]
    status.write_text(text + f"  extra_value: [{spelling}]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"status.yaml:\d+: values: .*the spelling '{spelling}' is listed under both '{spelling}' and 'extra_value'"):
        load_config(project)


def test_mapping_field_errors_point_at_the_columns(project):
    m = project.parent.parent / "mappings" / "erp_export_customer.yaml"
    text = m.read_text(encoding="utf-8").replace("address: 地址", "adress: 地址")
    m.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"erp_export_customer.yaml:{line_of(text, 'columns:') + 1}: columns: .*'adress'"):  # the first line under it
        load_config(project)


def test_resolution_settings_are_checked_where_they_are_written(project):
    text = project.read_text(encoding="utf-8")
    project.write_text(text.replace("archive:", "resolution:\n  blocking_rules: [[m_brand, m_nope]]\narchive:", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"demo.yaml:\d+: resolution.blocking_rules\[0\]\[1\]: 'm_nope' is not a company model feature"):
        load_config(project)
    project.write_text(text.replace("archive:", "resolution:\n  review_probability: 0.995\n  auto_merge_probability: 0.99\narchive:", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"review_probability \(0.995\) must not be above auto_merge_probability \(0.99\)"):
        load_config(project)
    project.write_text(text.replace("archive:", "resolution:\n  decisions: ../review/queue.xlsx\narchive:", 1), encoding="utf-8")
    assert load_config(project).config.resolution.decisions == (project.parent.parent / "review" / "queue.xlsx").resolve()


def test_trade_words_of_the_config_are_read_in_names(tmp_path):
    """names.trade_words reaches the stages: a factory trade the built-in vocabulary lacks (冷镦)
    separates the brand from the trade, so 华冠冷镦 and 华冠粉末冶金 are one brand with two trades."""
    from pipelines import stages
    from pipelines.context import start_run
    from tests.helpers import csv_file, project

    csv_file(tmp_path / "customers.csv", ["客户编号", "客户名称", "统一社会信用代码", "联系电话", "地址"],
             [["K1", "宁波市华冠冷镦有限公司", "", "", ""], ["K2", "宁波市华冠粉末冶金有限公司", "", "", ""]])
    source = [{"name": "crm", "kind": "csv", "entity": "customer", "path": "customers.csv", "key": "客户编号"}]

    def brands(**top):
        ctx = start_run(project(tmp_path, source, **top), dry_run=True)
        frame = stages.standardize(ctx, stages.extract(ctx)).frames["customer"].sort("_source_key")
        return frame.select("name_brand", "name_trade").rows()

    assert brands() == [("华冠冷镦", None), ("华冠粉末冶金", None)]
    assert brands(names={"trade_words": ["冷镦", "粉末冶金"]}) == [("华冠", "冷镦"), ("华冠", "粉末冶金")]
    assert brands() == [("华冠冷镦", None), ("华冠粉末冶金", None)]  # the words belong to that run only
