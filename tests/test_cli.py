import json
import shutil

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from tests.conftest import DEMO_CONFIG, ROOT

runner = CliRunner()


def test_demo_command_writes_a_run_folder_and_target(tmp_path):
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--no-prefect"])
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output and "report.html" in result.output
    assert (tmp_path / "demo_target.sqlite").exists()
    runs = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(runs) == 1 and (runs[0] / "ledger.csv").exists()


def test_check_connects_without_moving_data(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_DEMO_TARGET_URL", f"sqlite:///{tmp_path / 'never.sqlite'}")
    result = runner.invoke(app, ["check", str(DEMO_CONFIG)])
    assert result.exit_code == 0, result.output
    assert "legacy_crm: sqlite:///" in result.output and "config OK" in result.output
    assert "does not exist yet" in result.output and not (tmp_path / "never.sqlite").exists()


def test_bad_config_exits_2_with_a_message_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources: []\ntarget: {url: 'sqlite://', mapping: m.yaml}\n", encoding="utf-8")
    result = runner.invoke(app, ["run", str(bad)])
    assert result.exit_code == 2
    assert "bad.yaml:1: sources" in result.output and "Traceback" not in result.output


def test_unreachable_target_masks_password(tmp_path):
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    shutil.copytree(ROOT / "expectations", tmp_path / "expectations")
    shutil.copytree(ROOT / "data_samples", tmp_path / "data_samples")
    cfg = tmp_path / "data_samples" / "demo.yaml"
    result = runner.invoke(app, ["run", str(cfg), "--out", str(tmp_path / "o"), "--no-prefect"],
                           env={"CRM_DEMO_TARGET_URL": "postgresql+psycopg://crm:Hunter2Secret@127.0.0.1:1/crm"})
    assert result.exit_code == 1
    assert "Hunter2Secret" not in result.output and "crm:***@127.0.0.1:1" in result.output
    for f in (tmp_path / "o").rglob("*.json"):
        assert "Hunter2Secret" not in f.read_text(encoding="utf-8")


def test_config_schema_is_json():
    result = runner.invoke(app, ["config-schema"])
    assert result.exit_code == 0
    assert json.loads(result.output)["title"] == "Config"


@pytest.mark.parametrize("command", ["run", "demo", "check", "config-schema", "validate", "suites", "plan", "rollback"])
def test_help(command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


@pytest.mark.parametrize("error, code", [
    ("ConfigError", 2), ("GateFailed", 3), ("AccountingError", 4), ("LockTimeout", 5), ("MigrationError", 1), ("RuntimeError", 1),
    ("KeyboardInterrupt", 130)])
def test_every_failure_has_its_documented_exit_code(monkeypatch, tmp_path, error, code):
    import pipelines.run
    from crm_migrate import errors

    def fail(*args, **kwargs):
        exc = getattr(errors, error)("it went wrong at 深圳市某客户有限公司", file="x.csv", row=7) if hasattr(errors, error) \
            else {"RuntimeError": RuntimeError, "KeyboardInterrupt": KeyboardInterrupt}[error]("secret 13800138000 inside")
        exc.run_dir, exc.stage = tmp_path / "run1", "resolve"
        raise exc

    monkeypatch.setattr(pipelines.run, "run_pipeline", fail)
    result = runner.invoke(app, ["run", str(DEMO_CONFIG), "--no-prefect"])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    if error == "RuntimeError":  # an unexpected error: its type and where the details are, never its text
        assert "unexpected error in stage resolve: RuntimeError" in result.output and "13800138000" not in result.output
        assert f"the run folder {tmp_path / 'run1'} holds the message and the traceback" in result.output
    elif error == "KeyboardInterrupt":
        assert "interrupted" in result.output and "13800138000" not in result.output
    else:
        assert "x.csv, row 7: it went wrong" in result.output
        assert (f"run folder: {tmp_path / 'run1'}" in result.output) == (error not in ("GateFailed",))


def test_debug_shows_the_traceback(monkeypatch):
    import pipelines.run

    monkeypatch.setattr(pipelines.run, "run_pipeline", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    result = runner.invoke(app, ["run", str(DEMO_CONFIG), "--no-prefect", "--debug"])
    assert result.exit_code != 0 and isinstance(result.exception, RuntimeError)


def test_check_marks_warnings(monkeypatch):
    import pipelines.checks

    monkeypatch.setattr(pipelines.checks, "check_config", lambda path: iter(["config fine", "warning: a run holds the lock"]))
    result = runner.invoke(app, ["check", str(DEMO_CONFIG)])
    assert result.exit_code == 0 and "✔ config fine" in result.output and "! warning: a run holds the lock" in result.output


def capture_run(monkeypatch, tmp_path):
    """Replace the pipeline by a recorder; return the calls."""
    import pipelines.run

    calls = []

    def fake(config, **kwargs):
        calls.append(kwargs)
        return {"status": "succeeded", "dry_run": kwargs.get("dry_run", False), "run_dir": str(tmp_path / "run"),
                "counts": {"dispositions": {"loaded": 3}, "golden_customers": 2}}

    monkeypatch.setattr(pipelines.run, "run_pipeline", fake)
    return calls


def test_run_commits_unless_asked_otherwise_and_says_what_it_did(monkeypatch, tmp_path):
    calls = capture_run(monkeypatch, tmp_path)
    result = runner.invoke(app, ["run", str(DEMO_CONFIG), "--no-prefect"])
    assert result.exit_code == 0 and calls[-1]["dry_run"] is False and calls[-1]["full_refresh"] is False and calls[-1]["out"] is None
    assert "✔ succeeded" in result.output and "dry run" not in result.output
    assert "records: loaded 3, merged 0, rejected 0, archived 0" in result.output and "golden customers: 2" in result.output
    result = runner.invoke(app, ["run", str(DEMO_CONFIG), "--no-prefect", "--dry-run", "--full-refresh", "--out", str(tmp_path)])
    assert calls[-1]["dry_run"] is True and calls[-1]["full_refresh"] is True and calls[-1]["out"] == tmp_path
    assert "(dry run: target rolled back)" in result.output
    runner.invoke(app, ["demo", "--out", str(tmp_path / "new" / "nested"), "--no-prefect"])
    assert calls[-1]["dry_run"] is False and (tmp_path / "new" / "nested").is_dir()


def test_prefect_is_used_when_asked_or_when_a_server_is_configured(monkeypatch, tmp_path):
    import pipelines.flow

    seen = []
    monkeypatch.setattr(pipelines.flow, "migrate", lambda config, **kw: seen.append(kw) or {
        "status": "succeeded", "dry_run": False, "run_dir": str(tmp_path), "counts": {"dispositions": {}, "golden_customers": 0}})
    plain = capture_run(monkeypatch, tmp_path)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    runner.invoke(app, ["run", str(DEMO_CONFIG)])
    assert len(plain) == 1 and not seen
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    runner.invoke(app, ["run", str(DEMO_CONFIG)])
    assert len(seen) == 1 and seen[0]["out"] is None
    runner.invoke(app, ["run", str(DEMO_CONFIG), "--no-prefect"])
    assert len(plain) == 2
    monkeypatch.delenv("PREFECT_API_URL")
    runner.invoke(app, ["run", str(DEMO_CONFIG), "--prefect", "--out", str(tmp_path)])
    assert len(seen) == 2 and seen[1]["out"] == str(tmp_path)


def test_progress_lines_say_the_stage_and_the_time_since_the_start(capsys):
    from pipelines.cli import _Progress

    progress = _Progress()
    progress("extract", "started")
    progress("extract", "crm: 3 records")
    out = capsys.readouterr().out
    assert "started" not in out and "extract" in out and "crm: 3 records" in out
    assert out.split("s", 1)[0].strip() in ("0.0", "0.1")


def test_errors_go_to_stderr_and_an_interrupt_names_the_run_folder(monkeypatch, tmp_path):
    import pipelines.run
    from crm_migrate.errors import MigrationError

    def fail(*a, **k):
        raise MigrationError("cannot read", file="x.csv")

    monkeypatch.setattr(pipelines.run, "run_pipeline", fail)
    result = runner.invoke(app, ["run", str(DEMO_CONFIG), "--no-prefect"])
    assert "x.csv: cannot read" in result.stderr and "cannot read" not in result.stdout

    def interrupt(*a, **k):
        exc = KeyboardInterrupt()
        exc.run_dir = tmp_path / "run7"
        raise exc

    monkeypatch.setattr(pipelines.run, "run_pipeline", interrupt)
    result = runner.invoke(app, ["run", str(DEMO_CONFIG), "--no-prefect"])
    assert result.exit_code == 130 and f"the run folder {tmp_path / 'run7'} says where the run was" in result.stderr


def test_check_of_a_broken_config_is_a_clean_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources: []\ntarget: {url: 'sqlite://', mapping: m.yaml}\n", encoding="utf-8")
    result = runner.invoke(app, ["check", str(bad)])
    assert result.exit_code == 2 and "bad.yaml:1: sources" in result.stderr and "Traceback" not in result.output


def test_config_schema_file_keeps_chinese_readable(tmp_path):
    out = tmp_path / "schema.json"
    assert runner.invoke(app, ["config-schema", "-o", str(out)]).exit_code == 0
    text = out.read_text(encoding="utf-8")
    assert "合计" in text and text.startswith('{\n  "')  # readable in an editor: not \\u escapes, two-space indent


def test_no_arguments_shows_the_help_and_no_completion_option():
    result = runner.invoke(app, [])
    assert "Usage" in result.output and "run" in result.output and "--install-completion" not in result.output


def test_suites_lists_every_rule_with_its_flag_severity_and_reason():
    result = runner.invoke(app, ["suites", str(DEMO_CONFIG)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for text in ("opportunity_canonical", "close_before_created", "amount_out_of_range", "critical", "warning",
                 "expected close date is before the day the deal was created", "crm_opportunity", "max_reject_rate: 0.05",
                 "parameters: amount_max = 10000000000, min_year = 1990"):
        assert text in result.output, text
    types = runner.invoke(app, ["suites", "--types"], env={"COLUMNS": "200"})
    assert types.exit_code == 0 and "expect_column_values_to_be_valid_cn_credit_code" in types.output


def test_validate_writes_the_quality_report_and_opens_no_target(tmp_path):
    config = tmp_path / "demo.yaml"
    text = DEMO_CONFIG.read_text(encoding="utf-8").replace("../", str(ROOT) + "/").replace("demo/", str(DEMO_CONFIG.parent / "demo") + "/")
    config.write_text(text.replace("${CRM_DEMO_TARGET_URL:-sqlite:///" + str(ROOT) + "/out/demo_target.sqlite}",
                                   "sqlite:///" + str(tmp_path / "never" / "t.sqlite")), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(config), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "nothing loaded" in result.output and "close_before_created" in result.output
    (run,) = (tmp_path / "out").iterdir()
    assert run.name.endswith("-validate")
    for name in ("quality.html", "quality.xlsx", "rejects.csv", "flagged.csv", "quality_profile.json", "data_docs/index.html", "validation/canonical_opportunity.json"):
        assert (run / name).exists(), name
    assert not (tmp_path / "never").exists()  # the target was not even opened
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "validated" and manifest["counts"]["would_reject"]["opportunity"] > 0
    html = (run / "quality.html").read_text(encoding="utf-8")
    assert "close_before_created" in html and "<svg" in html and 'href="data_docs/index.html"' in html
    assert html.count('aria-label="Failing records per rule"') == 2  # a chart per canonical suite
    import openpyxl

    wb = openpyxl.load_workbook(run / "quality.xlsx", read_only=True)
    assert wb.sheetnames == ["Validation", "Quality", "Quality by source", "Would be rejected"]
    assert wb["Validation"].max_row == 1 + 14 + 12  # one row per rule of the two canonical suites
    assert wb["Quality by source"].max_row == 1 + 5  # one row per source
    assert wb["Would be rejected"].max_row == 1 + sum(manifest["counts"]["would_reject"].values())
    import polars as pl

    both = pl.concat([pl.read_csv(run / f, infer_schema_length=0).select("source", "source_key", "flags") for f in ("flagged.csv", "rejects.csv")])
    errors = pl.read_csv(DEMO_CONFIG.parent / "demo" / "injected_errors.csv", infer_schema_length=0)
    repriced = set(errors.filter(pl.col("error") == "amount_differs_from_lines")["source_key"])
    mistyped = set(errors.filter((pl.col("error") == "amount_out_of_range") & (pl.col("source") == "legacy_crm_opps"))["source_key"])
    found = set(both.filter(pl.col("flags").str.contains("amount_differs_from_lines"))["source_key"])
    assert repriced <= found and found - repriced <= mistyped  # every re-priced deal; besides, only amounts typed wrong against their lines


def test_rollback_command_undoes_a_run_and_names_a_wrong_id(tmp_path):
    from pipelines.run import run_pipeline
    from tests.helpers import csv_file, project

    csv_file(tmp_path / "c.csv", ["客户编号", "客户名称", "统一社会信用代码", "联系电话", "地址"],
             [["C1", "深圳市腾飞电子科技有限公司", None, None, None], ["C2", "广州市华鑫贸易有限公司", None, None, None]])
    cfg = project(tmp_path, [{"name": "crm", "kind": "csv", "entity": "customer", "path": "c.csv", "key": "客户编号"}])
    manifest = run_pipeline(cfg)
    wrong = runner.invoke(app, ["rollback", str(cfg), "--run", "20200101T000000000Z-000000"])
    assert wrong.exit_code == 1 and "no committed run has this id" in wrong.output and manifest["run_id"] in wrong.output
    done = runner.invoke(app, ["rollback", str(cfg), "--run", manifest["run_id"]])
    assert done.exit_code == 0, done.output
    assert "rolled back" in done.output and "crm_account: 2 inserted rows deleted, 0 updated rows restored" in done.output
    plan = runner.invoke(app, ["plan", str(cfg)])
    assert plan.exit_code == 0 and "crm_account: 2 to insert, 0 to update" in plan.output and "planned (nothing written)" in plan.output
