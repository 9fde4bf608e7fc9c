"""report.html and report.xlsx of the demo run: the charts show the run's own numbers, the page renders in
a real headless Chromium without a console error, and every workbook sheet has the rows the ledger says."""
from __future__ import annotations

import html as htmllib
import json
import os
import re
import shutil
import sqlite3
from pathlib import Path

import openpyxl
import polars as pl
import pytest
import xlsxwriter

from crm_migrate.contracts import shown_dispositions
from pipelines.run import run_pipeline
from reports.resolution_summary import clusters_by_size, merged_by_evidence, probability_histogram
from reports.workbook import Formats, part_names, write_frame
from tests.conftest import DEMO_CONFIG, DEMO_DATA, ROOT

ARTIFACTS = Path(os.environ.get("CRM_TEST_ARTIFACTS", ROOT / "out" / "test-artifacts"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    manifest = run_pipeline(DEMO_CONFIG, out=out, target_url=f"sqlite:///{out / 'target.sqlite'}")
    run_dir = Path(manifest["run_dir"])
    return manifest, run_dir, pl.read_parquet(run_dir / "ledger.parquet")


# ---- report.html ------------------------------------------------------------------------------------

def chart_titles(page: str) -> list[str]:
    """The tooltips of the page's SVG shapes (each bar says its label and value)."""
    return [htmllib.unescape(t) for t in re.findall(r"<rect [^>]*><title>([^<]*)</title></rect>", page)]


def test_the_counts_bridge_shows_every_source_and_disposition_of_the_ledger(demo):
    manifest, run_dir, ledger = demo
    titles = chart_titles((run_dir / "report.html").read_text(encoding="utf-8"))
    counts = ledger.group_by("entity", "source", "disposition").len()
    shown = 0
    for entity, source, disposition, n in counts.rows():
        total = ledger.filter((pl.col("entity") == entity) & (pl.col("source") == source)).height
        assert f"{source} ({entity}): {disposition} {n:,} of {total:,} ({n / total:.1%})" in titles
        shown += 1
    assert shown >= 10  # five sources, several dispositions each


def test_the_resolution_summary_agrees_with_the_ledger_and_the_pairs(demo):
    manifest, run_dir, ledger = demo
    res = manifest["resolution"]
    merged = ledger.filter((pl.col("entity") == "customer") & (pl.col("disposition") == "merged")).height
    assert res["records_merged"] == merged == sum(res["merged_by_evidence"].values())
    golden = pl.read_parquet(run_dir / "golden_customers.parquet")
    assert sum(res["clusters_by_size"].values()) == golden.height == res["golden_customers"]
    pairs = pl.read_parquet(run_dir / "match_pairs.parquet")
    assert sum(res["probability_histogram"]["counts"]) == pairs.height == res["pairs_scored"]
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "Scored candidate pairs by match probability" in page and "Golden customers by number of source records" in page
    for size, n in res["clusters_by_size"].items():
        assert f"<title>{size}: {n:,}</title>" in page
    assert "opportunity amount by stage" in page


def test_links_to_the_other_reports_are_relative_and_exist(demo):
    _, run_dir, _ = demo
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    links = set(re.findall(r'href="([^"#]+)"', page))
    assert {"report.xlsx", "ledger.csv", "reconciliation.json", "review_queue.xlsx"} <= links
    assert any("data_docs" in link for link in links)
    for link in links:
        assert not link.startswith(("http:", "https:", "//")), link  # nothing from the network
        assert (run_dir / link).exists(), link
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', page)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run installs it where it can)")
    pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency: pip install -e '.[dev]'")
    return found


def render(path: Path, screenshot: Path | None = None) -> list[str]:
    """Open a page in headless Chromium; return its console errors, uncaught exceptions and failed loads."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"failed to load {r.url}"))
        page.goto(path.as_uri(), wait_until="load")
        boxes = page.eval_on_selector_all("svg", "els => els.map(e => e.getBoundingClientRect().width * e.getBoundingClientRect().height)")
        problems += [f"svg {i} has no size" for i, area in enumerate(boxes) if not area]
        if screenshot:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    return problems


def test_report_renders_in_headless_chromium_without_errors(demo):
    _, run_dir, _ = demo
    chromium()
    shot = ARTIFACTS / "report.png"
    assert render(run_dir / "report.html", shot) == []
    assert shot.stat().st_size > 50_000  # a whole page of tables and charts, not a blank one


def test_the_browser_check_catches_a_broken_page(demo, tmp_path):
    _, run_dir, _ = demo
    chromium()
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    broken = tmp_path / "broken.html"
    broken.write_text(page.replace("</body>", "<script>console.error('boom'); undefinedCall();</script><img src='missing.png'></body>"),
                      encoding="utf-8")
    problems = render(broken)
    assert any("boom" in p for p in problems) and any("undefinedCall" in p for p in problems)
    assert any("missing.png" in p for p in problems)


# ---- report.xlsx ------------------------------------------------------------------------------------

def data_rows(ws) -> list[tuple]:
    return list(ws.iter_rows(min_row=2, values_only=True))


def test_every_report_sheet_has_the_rows_the_run_says(demo):
    manifest, run_dir, ledger = demo
    wb = openpyxl.load_workbook(run_dir / "report.xlsx")
    assert wb.sheetnames[:7] == ["Summary", "Accounting", "Rejects", "Merges", "Review queue", "Field changes", "Reconciliation differences"]
    rejected = ledger.filter(pl.col("disposition") == "rejected")
    assert len(data_rows(wb["Rejects"])) == rejected.height == manifest["counts"]["dispositions"]["rejected"]
    assert len(data_rows(wb["Archived"])) == manifest["counts"]["dispositions"]["archived"]
    assert len(data_rows(wb["Review queue"])) == manifest["resolution"]["review_pairs"]
    assert len(data_rows(wb["Accounting"])) == len(manifest["inputs"])
    assert data_rows(wb["Reconciliation differences"]) == []  # the demo target is as the ledger says
    members = pl.read_parquet(run_dir / "golden_members.parquet")
    multi = members.group_by("target_id").len().filter(pl.col("len") > 1)
    merges = data_rows(wb["Merges"])
    assert sum(1 for r in merges if r[1].startswith("golden")) == multi.height
    assert sum(1 for r in merges if r[1] == "member") == multi["len"].sum()
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2", ws.title
        if ws.max_row > 1 and ws.title != "Summary":
            assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:"), ws.title
    summary = dict(data_rows(wb["Summary"]))
    assert summary["verdict"] == "pass" and summary["records merged"] == manifest["counts"]["dispositions"]["merged"]


def test_merged_members_are_grouped_under_their_golden_record_with_what_each_gave(demo):
    _, run_dir, _ = demo
    ws = openpyxl.load_workbook(run_dir / "report.xlsx")["Merges"]
    head = [c.value for c in ws[1]]
    col = {name: i for i, name in enumerate(head)}
    golden = pl.read_parquet(run_dir / "golden_customers.parquet")
    provenance = {t: json.loads(p) for t, p in golden.select("target_id", "provenance").rows()}
    checked = 0
    for r, row in enumerate(ws.iter_rows(min_row=2, values_only=True), start=2):
        if row[col["row"]] == "member":
            assert ws.row_dimensions[r].outline_level == 1
            ref = f"{row[col['source']]}:{row[col['source_key']]}"
            gave = {f for f in (row[col["gave"]] or "").split(", ") if f}
            expected = {f for f, who in provenance[row[col["golden_id"]]].items() if who == ref and f in col}
            assert gave == expected
            checked += 1
        else:
            assert ws.row_dimensions[r].outline_level == 0
            assert isinstance(row[col["created_at"]], (type(None),)) or hasattr(row[col["created_at"]], "year")  # a date, not text
    assert checked > 1000


def test_rejects_carry_the_values_as_the_legacy_database_holds_them(demo):
    _, run_dir, _ = demo
    ws = openpyxl.load_workbook(run_dir / "report.xlsx")["Rejects"]
    head = [c.value for c in ws[1]]
    rows = [dict(zip(head, r)) for r in ws.iter_rows(min_row=2, values_only=True)]
    opps = [r for r in rows if r["source"] == "legacy_crm_opps"]
    assert len(opps) >= 20 and all(r["reason"] for r in rows)
    db = sqlite3.connect(DEMO_DATA / "legacy_crm.sqlite")
    for r in opps:
        held = db.execute("SELECT opp_name, amount, expected_close FROM t_opportunity WHERE opp_id = ?", (r["opp_id"],)).fetchone()
        assert held is not None
        assert (r["opp_name"], r["amount"], r["expected_close"]) == tuple(None if v is None else str(v) for v in held)


def test_a_sheet_past_the_row_limit_is_split_and_every_row_kept(tmp_path):
    frame = pl.DataFrame({"key": [f"K{i}" for i in range(25)], "amount": [float(i) for i in range(25)],
                          "_level": [0 if i % 5 == 0 else 1 for i in range(25)]})
    wb = xlsxwriter.Workbook(tmp_path / "x.xlsx")
    names = write_frame(wb, Formats(wb), "Merges of a very long sheet name", frame, level="_level", max_rows=10)
    wb.close()
    assert names == part_names("Merges of a very long sheet name", 3) == ["Merges of a very long sheet nam", "Merges of a very long sheet (2)",
                                                                             "Merges of a very long sheet (3)"]
    book = openpyxl.load_workbook(tmp_path / "x.xlsx")
    keys = [r[0] for n in names for r in book[n].iter_rows(min_row=2, values_only=True)]
    assert keys == frame["key"].to_list()
    assert [book[n].max_row - 1 for n in names] == [9, 9, 7]
    first = book[names[0]]
    assert [first.row_dimensions[r].outline_level for r in range(2, 8)] == [0, 1, 1, 1, 1, 0]
    assert first["B3"].number_format == "#,##0.00"


# ---- the resolution summary, on frames with known answers ---------------------------------------------

def test_cluster_sizes_histogram_and_evidence_on_known_frames():
    golden = pl.DataFrame({"member_count": [1, 1, 2, 3, 7, 12]})
    assert clusters_by_size(golden) == {"1": 2, "2": 1, "3": 1, "5-9": 1, "10+": 1}
    pairs = pl.DataFrame({"match_probability": [0.0, 0.049, 0.05, 0.5, 0.99, 1.0, 1.0]})
    hist = probability_histogram(pairs, bins=20)
    assert hist["counts"][0] == 2 and hist["counts"][1] == 1 and hist["counts"][10] == 1 and hist["counts"][19] == 3
    assert sum(hist["counts"]) == 7 and len(hist["edges"]) == 21
    members = pl.DataFrame({"_source": ["a", "a", "b", "b", "c"], "_source_key": ["1", "1", "2", "3", "4"], "_row": [1, 2, 1, 2, 1],
                            "_match": ["identifier", "none", "probabilistic", "probabilistic", "identifier"],
                            "_match_evidence": ["p=1.0: identifier +10", None, "p=0.99: phone +9.1, brand +3", "p=1.0: brand +10", None]})
    ledger = pl.DataFrame({"entity": ["customer"] * 5 + ["opportunity"], "source": ["a", "a", "b", "b", "c", "b"],
                           "source_key": ["1", "1", "2", "3", "4", "2"], "source_row": [1, 2, 1, 2, 1, 1],
                           "disposition": ["merged", "loaded", "merged", "merged", "loaded", "merged"]})
    kinds, strongest = merged_by_evidence(ledger, members)
    assert kinds == {"match model (name, phone, address)": 2, "same credit code / registration no.": 1}  # a repeated key told apart by its row
    assert strongest == {"brand": 1, "phone": 1}


def test_dispositions_shown_are_the_ledgers(demo):
    manifest, _, ledger = demo
    assert set(ledger["disposition"].unique()) <= set(shown_dispositions(False))


def test_hostile_source_values_stay_text_in_the_page_and_the_workbook(tmp_path):
    """Values a legacy source really can hold (pasted from web pages, typed by a prankster) are shown,
    never run: no script, no handler, no image request in Chromium, no formula in Excel."""
    from tests.helpers import csv_file, project

    chromium()
    header = ["客户编号", "客户名称", "统一社会信用代码", "联系电话", "地址"]
    rows = [["C1", "<script>console.error('xss-name')</script>深圳市测试科技有限公司", None, "<img src=x onerror=alert(1)>", "南山区1号"],
            ["C2", "深圳市\"><svg onload=console.error('xss-svg')>有限公司", "=HYPERLINK(\"http://x\")", "13800138000", "</title><script>console.error('t')</script>"],
            ["C3", "", None, None, "<b onmouseover=alert(1)>x</b>"],
            ["=1+2", "广州市测试贸易有限公司", None, "020-12345678", "天河区1号"],
            *[[f"K{i}", f"佛山市第{i}测试贸易有限公司", None, f"0757-8{i:07d}", f"禅城区{i}号"] for i in range(60)]]  # under the suite's 5% gate
    csv_file(tmp_path / "customers.csv", header, [*rows, ["<script>console.error('xss-footer')</script> 共4条", None, None, None, None]])
    cfg = project(tmp_path, [{"name": "crm", "kind": "csv", "entity": "customer", "path": "customers.csv", "key": "客户编号"}],
                  report={"mask_personal_data": False},
                  validation={"suites": {"canonical": {"customer": str(ROOT / "expectations" / "suites" / "customer_canonical.json")}},
                              "gates": {"max_reject_rate": 1.0}})
    manifest = run_pipeline(cfg)
    run_dir = Path(manifest["run_dir"])
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;console.error(&#39;xss-name&#39;)" in page or "&lt;script&gt;console.error(&#x27;xss-name&#x27;)" in page
    assert render(run_dir / "report.html") == []
    wb = openpyxl.load_workbook(run_dir / "report.xlsx")
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str) and c.value.startswith("=")]
    assert cells and all(c.data_type == "s" for c in cells)  # text that starts with '=', not formulas


def test_totals_sheet_holds_the_exact_amounts_per_stage_expected_and_in_the_target(demo):
    _, run_dir, _ = demo
    rec = json.loads((run_dir / "reconciliation.json").read_text(encoding="utf-8"))
    ws = openpyxl.load_workbook(run_dir / "report.xlsx")["Totals"]
    head = [c.value for c in ws[1]]
    rows = [dict(zip(head, r)) for r in ws.iter_rows(min_row=2, values_only=True)]
    stages = {r["group"]: r for r in rows if r["entity"] == "opportunity" and r["by"] == "stage"}
    expected = rec["tables"]["opportunity"]["totals_expected"]["by_stage"]
    assert set(stages) == set(expected)
    for stage, want in expected.items():
        assert stages[stage]["rows"] == stages[stage]["rows in target"] == want["rows"]
        assert f"{stages[stage]['amount']:.2f}" == want["amount"] and stages[stage]["matches"] is True
    first_amount = next(i for i, r in enumerate(rows, start=2) if r["amount"] is not None)
    assert ws.cell(first_amount, head.index("amount") + 1).number_format == "#,##0.00"


def test_text_longer_than_an_excel_cell_is_cut_with_a_marker_and_an_empty_sheet_says_so(tmp_path):
    long = "地址" * 20_003  # 40,006 characters
    wb = xlsxwriter.Workbook(tmp_path / "x.xlsx")
    fmt = Formats(wb)
    write_frame(wb, fmt, "Rejects", pl.DataFrame({"address": [long, "short"]}))
    write_frame(wb, fmt, "Review queue", pl.DataFrame())
    wb.close()
    book = openpyxl.load_workbook(tmp_path / "x.xlsx")
    cut, short = (r[0] for r in book["Rejects"].iter_rows(min_row=2, values_only=True))
    assert len(cut) <= 32_767 and cut.endswith("… [cut: 40,006 characters]".replace(",", "")) and long.startswith(cut[:32_000])
    assert short == "short"
    assert [r for r in book["Review queue"].iter_rows(values_only=True)] == [("note",), ("nothing to show for this run",)]


def test_the_histogram_has_twenty_bins_of_equal_width_and_takes_odd_input():
    hist = probability_histogram(pl.DataFrame({"match_probability": [0.0, 0.5, 1.0]}))
    assert hist["edges"] == [i / 20 for i in range(21)] and hist["counts"][0] == hist["counts"][10] == hist["counts"][19] == 1
    assert probability_histogram(pl.DataFrame({"i": [1, 2]})) == {"edges": [i / 20 for i in range(21)], "counts": [0] * 20}  # no scores
    empty = probability_histogram(pl.DataFrame(schema={"match_probability": pl.Float64}), bins=4)
    assert empty == {"edges": [0.0, 0.25, 0.5, 0.75, 1.0], "counts": [0, 0, 0, 0]}


def test_reconciliation_differences_list_every_kind_of_finding_with_its_examples():
    from reports.xlsx_report import accounting_rows, reconciliation_differences, rule_changes, summary_rows
    from transforms.standardize import RuleStat

    rec = {"accounting": [{"entity": "customer", "source": "crm", "extracted": 3, "loaded": 3, "physical": {"unit": "lines"}}],
           "verdict": {"result": "fail", "scope": "loaded", "reasons": ["opportunity: amounts differ"]}, "balanced": False,
           "tables": {"opportunity": {
               "diff": {"missing_keys": 2, "missing_examples": ["O7", "O9"],
                        "columns": {"amount": {"count": 1, "examples": [{"key": "O1", "expected": "100.00", "target": "100.01"}]}}},
               "totals_expected": {"rows": 3, "amount": "300.00", "by_stage": {"Won": {"rows": 2, "amount": "200.00"}, "Lost": {"rows": 1, "amount": "100.00"}}},
               "totals_in_target": {"rows": 3, "amount": "300.01", "by_stage": {"Won": {"rows": 2, "amount": "200.01"}, "Lost": {"rows": 1, "amount": "100.00"}}},
               "amount_per_customer": {"groups": 2, "differ": 1, "examples": ["CUS-1"]}}}}
    rows = reconciliation_differences(rec).rows()
    assert rows == [
        ("opportunity", "row missing in target", "", 2, "O7", "", ""),
        ("opportunity", "row missing in target", "", 2, "O9", "", ""),
        ("opportunity", "value differs", "amount", 1, "O1", "100.00", "100.01"),
        ("opportunity", "total by stage differs", "Won", 1, "", '{"rows": 2, "amount": "200.00"}', '{"rows": 2, "amount": "200.01"}'),
        ("opportunity", "amount per customer differs", "amount", 1, "CUS-1", "", ""),
    ]
    assert accounting_rows(rec).columns == ["entity", "source", "extracted", "loaded"]  # the physical breakdown stays in the JSON
    summary = dict(summary_rows({"project": "p", "run_id": "r", "status": "succeeded", "counts": {"dispositions": {"loaded": 3}},
                                 "resolution": {"review_pairs": 4, "records_merged": 2}}, rec))
    assert summary["verdict"] == "fail" and summary["verdict reason"] == "opportunity: amounts differ"
    assert (summary["pairs in the review queue"], summary["records merged into another"], summary["records loaded"]) == (4, 2, 3)
    stat = RuleStat("customer", "crm", "phone", "phone_cn", values=10, changed=4, flagged=1,
                    examples=[(f"b{i}", f"a{i}") for i in range(7)])
    (changes,) = rule_changes([stat]).to_dicts()
    assert changes["example 1"] == "b0 → a0" and changes["example 5"] == "b4 → a4" and "example 6" not in changes
    assert changes["changed_share"] == 0.4
