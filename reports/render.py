"""The people-facing reports: a self-contained HTML page and Excel workbooks for analysts."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import polars as pl
from jinja2 import Environment, FileSystemLoader, select_autoescape

from crm_migrate.secrets import scrub

TEMPLATES = Path(__file__).resolve().parent / "templates"


def reject_reasons(ledger: pl.DataFrame) -> pl.DataFrame:
    return (
        ledger.filter(pl.col("disposition") == "rejected")
        .with_columns(pl.col("reason").str.replace_all(r"'[^']*'", "'…'").str.replace_all(r"\b\d{3,}\b", "…"))
        .group_by("entity", "reason").len().sort("len", descending=True)
    )


def write_html(path: Path, manifest: dict, reconciliation: dict, ledger: pl.DataFrame, flags: pl.DataFrame,
               rules: list, suites: list, load: list, gate_reasons: list[str], secrets: list[str]) -> None:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    html = env.get_template("report.html").render(
        m=manifest, rec=reconciliation, reject_reasons=reject_reasons(ledger).head(30).to_dicts(),
        flags=flags.head(40).to_dicts(), rules=[asdict(r) for r in rules], suites=suites,
        load=[asdict(r) for r in load], gate_reasons=gate_reasons,
    )
    path.write_text(scrub(html, secrets), encoding="utf-8")


def _sheet(wb, name: str, frame: pl.DataFrame, header_fmt) -> None:
    ws = wb.add_worksheet(name)
    ws.write_row(0, 0, frame.columns, header_fmt)
    for r, row in enumerate(frame.iter_rows(), start=1):
        for c, v in enumerate(row):
            if v is not None:
                ws.write(r, c, v if isinstance(v, (int, float, str)) else str(v))
    for c, col in enumerate(frame.columns):
        width = max([len(col)] + [len(str(v)) for v in frame.get_column(col).head(200).to_list() if v is not None])
        ws.set_column(c, c, min(60, width + 2))
    if frame.height:
        ws.autofilter(0, 0, frame.height, max(0, frame.width - 1))
    ws.freeze_panes(1, 0)


def write_xlsx(path: Path, reconciliation: dict, ledger: pl.DataFrame, flags: pl.DataFrame, rules: list, golden: pl.DataFrame) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(path)
    head = wb.add_format({"bold": True, "bg_color": "#E2E8F0"})
    _sheet(wb, "Summary", pl.DataFrame(reconciliation["accounting"]), head)
    _sheet(wb, "Rejects", ledger.filter(pl.col("disposition") == "rejected").drop("run_id"), head)
    _sheet(wb, "Merges", ledger.filter(pl.col("disposition") == "merged").drop("run_id"), head)
    _sheet(wb, "Archived", ledger.filter(pl.col("disposition") == "archived").drop("run_id"), head)
    _sheet(wb, "Flags", flags.rename({"_flags": "flag", "len": "records"}), head)
    _sheet(wb, "Rules", pl.DataFrame([{**asdict(r), "examples": "; ".join(f"{b} -> {a}" for b, a in r.examples)} for r in rules]), head)
    multi = golden.filter(pl.col("member_count") > 1).select("target_id", "name", "credit_code", "member_count", "survivor", "provenance")
    _sheet(wb, "Golden (merged)", multi, head)
    wb.close()


def write_review_queue(path: Path, ledger: pl.DataFrame) -> int:
    """Records a person should decide: names that match several customers, codes that look legacy."""
    import xlsxwriter

    doubtful = ledger.filter(pl.col("flags").str.contains("ambiguous_name_match|legacy_organization_code|legacy_registration_number|customer_matched_without_region"))
    wb = xlsxwriter.Workbook(path)
    head = wb.add_format({"bold": True, "bg_color": "#FEF3C7"})
    _sheet(wb, "Review", doubtful.drop("run_id").with_columns(pl.lit("").alias("decision (merge / keep apart)")), head)
    wb.close()
    return doubtful.height
