"""The people-facing reports: a self-contained HTML page and Excel workbooks for analysts."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl
from jinja2 import Environment, FileSystemLoader, select_autoescape

from crm_migrate.contracts import shown_dispositions
from crm_migrate.secrets import scrub
from reports.masking import mask_field, mask_text

TEMPLATES = Path(__file__).resolve().parent / "templates"
# Source text goes into the analysts' workbooks as text, never as a formula, number or link: a customer
# named `=HYPERLINK(...)` or `=cmd|'/C calc'!A0` must not run when the report is opened.
SAFE_CELLS = {"strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False}


@dataclass
class ReportOptions:
    mask: bool = True  # mask phones, emails and person names in report.html (config: report.mask_personal_data)
    secrets: list[str] = field(default_factory=list)


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|‘[^’]*’|“[^”]*”")
_IDS = re.compile(r"\b(?:CUS|OPP)-[0-9A-F]{16}\b")
_NUMBERS = re.compile(r"(?<![A-Za-z_])\d+(?:[.,]\d+)*")


def reason_template(reason: str) -> str:
    """A reason with its particulars taken out, so reasons of one kind group together:
    `customer name '广州普蓝' matches 47 customers` -> `customer name '…' matches N customers`."""
    return _NUMBERS.sub("N", _IDS.sub("ID", _QUOTED.sub("'…'", reason)))


def reject_reasons(ledger: pl.DataFrame, examples: int = 3) -> pl.DataFrame:
    """Rejections grouped by reason template: records, and a few concrete reasons as examples."""
    rejected = ledger.filter(pl.col("disposition") == "rejected")
    templates = pl.Series([reason_template(r or "") for r in rejected.get_column("reason").to_list()], dtype=pl.String)
    return (
        rejected.with_columns(templates.alias("template"))
        .group_by("entity", "template")
        .agg(pl.len().alias("records"), pl.col("reason").unique(maintain_order=True).head(examples).alias("examples"))
        .sort(["records", "entity", "template"], descending=[True, False, False])
    )


def _verdict(m: dict) -> tuple[str, str]:
    """(what happened to the target, css class) for the report's header."""
    status = m["status"]
    sample = m.get("sample")
    if sample and status in ("succeeded", "planned"):
        what = "rolled back" if m["dry_run"] else "committed"
        if sample.get("phase"):
            return f"PHASE {sample['phase']}: {sample['golden_customers']:,} golden customers and their records ({what})", "ok" if what == "committed" else "warn"
        return f"SAMPLE rehearsal: {sample['golden_customers']:,} golden customers and their records ({what})", "warn"
    if status == "succeeded":
        return ("DRY RUN: everything was written, then rolled back", "warn") if m["dry_run"] else ("committed to the target", "ok")
    if status == "planned":
        return "PLAN only: the target was read, nothing was written", "warn"
    if status == "stopped_at_gate":
        return "stopped at the gate: nothing was written to the target", "bad"
    if status == "unbalanced":
        return "NOT balanced: the target was rolled back, nothing of this run was kept", "bad"
    stage = (m.get("error") or {}).get("stage") or m.get("stage")
    if status == "interrupted":
        return f"interrupted in stage {stage}: the target was rolled back", "bad"
    return f"failed in stage {stage}: the target was rolled back, nothing of this run was kept", "bad"


class _Masker:
    def __init__(self, options: ReportOptions) -> None:
        self.on = options.mask

    def text(self, value):
        return mask_text(value) if self.on and isinstance(value, str) else value

    def field(self, name: str, value):
        return mask_field(name, value) if self.on and isinstance(value, str) else value


def _render(template: str, path: Path, options: ReportOptions, **data) -> None:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    html = env.get_template(template).render(**data)
    path.write_text(scrub(html, options.secrets), encoding="utf-8")


def _inputs_view(inputs: list[dict], mask: _Masker) -> list[dict]:
    out = []
    for i in inputs:
        out.append({**i, "notes": [mask.text(n) for n in i.get("notes", [])],
                    "non_records": [{**n, "content": mask.text(n["content"])} for n in i.get("non_records", [])]})
    return out


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def visible(value):
    """Control characters shown as their Unicode pictures (NUL as ␀), so a page shows what a value
    held instead of carrying the raw byte (a NUL makes tools read the page as binary)."""
    return _CONTROL.sub(lambda m: chr(0x2400 + ord(m.group()) if ord(m.group()) < 0x20 else 0x2421), value) if isinstance(value, str) else value


def _pct(value) -> str:
    return "" if value is None else f"{value:.1%}"


def validation_view(suites: list, mask: "_Masker") -> list[dict]:
    """Per suite, per rule: what it checks, how many records fail it, and the first failing records
    (lineage or target key, and the values the rule saw, masked as the page is)."""
    out = []
    for suite in suites:
        rules = []
        for o in suite.outcomes:
            shown = []
            for e in suite.examples.get(o.rule.name, []):
                where = ":".join(str(v) for v in e["where"].values() if v is not None)
                shown.append({"where": where, "detail": ", ".join(f"{c}={visible(mask.field(c, v))}" for c, v in e["values"].items())})
            rules.append({"flag": o.flag, "check": o.rule.label, "severity": o.severity, "reason": o.reason, "failing": o.unexpected_count,
                          "checked": o.element_count, "success": o.success, "examples": shown})
        out.append({"suite": suite.suite, "stage": suite.stage, "entity": suite.entity, "gate": suite.gate, "rules": rules,
                    "success": all(r["success"] for r in rules), "failed": sum(not r["success"] for r in rules)})
    return out


def profile_view(profile: list[dict]) -> list[dict]:
    """The quality profile with a small chart per dimension."""
    from reports import charts

    out = []
    for p in profile:
        fields = p["fields"]
        out.append({**p, "charts": {
            "completeness": charts.paired_bars("Completeness", [(f["field"], f["completeness_before"], f["completeness_after"]) for f in fields]),
            "validity": charts.paired_bars("Validity", [(f["field"], f["validity_before"], f["validity_after"]) for f in fields]),
            "uniqueness": charts.paired_bars("Uniqueness: share of records repeated", [
                ("duplicate keys", p["uniqueness"]["duplicate_key_rate"], None),
                ("identical records", p["uniqueness"]["duplicate_record_rate_before"], p["uniqueness"]["duplicate_record_rate_after"])], scale_to_max=True),
            "timeliness": charts.column_bars("Timeliness: age of the last update", p["timeliness"]["buckets"]),
        }})
    return out


def _money(value) -> str:
    """An exact amount (Decimal text) with thousands separators: 403005600.00 -> 403,005,600.00."""
    from decimal import Decimal

    return f"{Decimal(str(value)):,.2f}"


def run_charts(manifest: dict, reconciliation: dict, dispositions: list[str], validation: list[dict]) -> dict[str, str]:
    """The report's inline SVG charts: the counts bridge per source, the resolution summary, amounts by
    stage, and the failing records per rule of each suite."""
    from reports import charts

    out = {"bridge": charts.stacked_bars(
        "Every source record: extracted → " + " / ".join(dispositions),
        [(f"{r['source']} ({r['entity']})", {d: r[d] for d in dispositions}) for r in reconciliation.get("accounting", [])],
        charts.DISPOSITION_COLORS)}
    res = manifest.get("resolution") or {}
    if res:
        out["clusters"] = charts.column_bars("Golden customers by number of source records", res["clusters_by_size"], width=420)
        out["evidence"] = charts.bars("Records merged into another, by evidence", res["merged_by_evidence"], width=560)
        out["strongest"] = charts.bars("Model merges by their strongest comparison", res["model_merges_by_strongest_comparison"], width=460)
        hist = res["probability_histogram"]
        markers = {k.replace("_", "-"): v for k, v in res["thresholds"].items() if v is not None}
        out["probability"] = charts.histogram("Scored candidate pairs by match probability", hist["edges"], hist["counts"], markers)
    for entity, table in (reconciliation.get("tables") or {}).items():
        stages = (table.get("totals_expected") or {}).get("by_stage") or {}
        if stages and any("amount" in v for v in stages.values()):
            out[f"amounts_{entity}"] = charts.bars(f"{entity} amount by stage", {k: float(v.get("amount") or 0) for k, v in stages.items()},
                                                   width=560, shown=_money)
    return out | rule_charts(validation)


def rule_charts(validation: list[dict]) -> dict[str, str]:
    """Per suite, the failing records of each rule as bars (`rules_<suite>`), for report.html and quality.html."""
    from reports import charts

    return {f"rules_{suite['suite']}": charts.bars(
        "Failing records per rule", {r["flag"]: r["failing"] for r in suite["rules"]}, width=620,
        notes={r["flag"]: f"{r['failing']:,} of {r['checked']:,} ({r['failing'] / r['checked']:.1%})" for r in suite["rules"] if r["checked"]})
        for suite in validation}


def write_html(path: Path, manifest: dict, reconciliation: dict, ledger: pl.DataFrame, flags: pl.DataFrame,
               rules: list, suites: list, load: list, gate, options: ReportOptions, profile: list | None = None,
               data_docs: str | None = None, quality_as_of: str = "") -> None:
    mask = _Masker(options)
    reasons = [{**r, "template": mask.text(r["template"]), "examples": [mask.text(e) for e in r["examples"]]}
               for r in reject_reasons(ledger).head(40).to_dicts()]
    rule_rows = []
    for r in rules:
        row = asdict(r)
        row["examples"] = [(visible(mask.field(r.field, b)), visible(mask.field(r.field, a))) for b, a in r.examples]
        rule_rows.append(row)
    gate_rows = [{"reason": reason, "examples": [mask.text(str(e)) for e in examples]}
                 for reason, examples in zip(gate.reasons, gate.examples)]
    verdict, verdict_class = _verdict(manifest)
    dispositions = shown_dispositions(bool(manifest.get("sample")))
    validation = validation_view(suites, mask)
    _render("report.html", path, options, m=manifest, verdict=verdict, verdict_class=verdict_class, rec=reconciliation,
            charts=run_charts(manifest, reconciliation, dispositions, validation), money=_money,
            reject_reasons=reasons, flags=[{**f, "_flags": mask.text(f["_flags"])} for f in flags.head(40).to_dicts()],
            rules=rule_rows, validation=validation, load=[asdict(r) for r in load], gate=gate_rows,
            forced=getattr(gate, "forced", False), profile=profile_view(profile or []), pct=_pct, data_docs=data_docs,
            quality_as_of=quality_as_of, inputs=_inputs_view(manifest.get("inputs", []), mask), masked=options.mask,
            dispositions=dispositions,
            mapping_notes=[{**n, "examples": [visible(mask.field(n["field"], str(e))) for e in n["examples"]]}
                           for n in manifest.get("mapping_notes", [])])


def write_failure_html(path: Path, manifest: dict, options: ReportOptions) -> None:
    """The report of a run that failed or was interrupted: the error, the stage, what was read so far."""
    mask = _Masker(options)
    verdict, verdict_class = _verdict(manifest)
    error = dict(manifest.get("error") or {})
    error["message"] = mask.text(error.get("message"))
    _render("report.html", path, options, m={**manifest, "counts": manifest.get("counts", {"dispositions": {}})}, dispositions=shown_dispositions(False),
            verdict=verdict, verdict_class=verdict_class, rec=None, reject_reasons=[], flags=[], rules=[], validation=[], load=[],
            gate=[], profile=[], pct=_pct, inputs=_inputs_view(manifest.get("inputs", []), mask), masked=options.mask, error=error)


def write_quality_html(path: Path, manifest: dict, suites: list, profile: list[dict], options: ReportOptions,
                       data_docs: str | None, quality_as_of: str) -> None:
    """quality.html of `crm-migrate validate`: the suites' results and the quality profile."""
    mask = _Masker(options)
    validation = validation_view(suites, mask)
    _render("quality.html", path, options, m=manifest, validation=validation, charts=rule_charts(validation), profile=profile_view(profile),
            pct=_pct, data_docs=data_docs, quality_as_of=quality_as_of, masked=options.mask)


def write_quality_xlsx(path: Path, suites: list, profile: list[dict], rejects: pl.DataFrame) -> None:
    import xlsxwriter

    from reports.workbook import Formats, write_frame

    wb = xlsxwriter.Workbook(path, SAFE_CELLS)
    fmt = Formats(wb)
    write_frame(wb, fmt, "Validation", validation_rows(suites))
    quality_sheets(wb, fmt, profile)
    write_frame(wb, fmt, "Would be rejected", rejects)
    wb.close()


def validation_rows(suites: list) -> pl.DataFrame:
    """One row per rule of every suite that ran: the Validation sheet."""
    rows = [{"suite": s.suite, "stage": s.stage, "entity": s.entity, "rule": o.flag, "check": o.rule.label, "severity": o.severity,
             "reason": o.reason, "failing": o.unexpected_count, "checked": o.element_count, "result": "pass" if o.success else "fail"}
            for s in suites for o in s.outcomes]
    return pl.DataFrame(rows) if rows else pl.DataFrame(schema={"suite": pl.String, "rule": pl.String})


def profile_rows(profile: list[dict]) -> pl.DataFrame:
    """One row per source and field, completeness and validity before and after: the Quality sheet."""
    rows = [{"source": p["source"], "entity": p["entity"], **f, "source / field": f"{p['source']} / {f['field']}"}
            for p in profile for f in p["fields"]]
    return pl.DataFrame(rows) if rows else pl.DataFrame(schema={"source": pl.String, "field": pl.String})


def source_quality_rows(profile: list[dict]) -> pl.DataFrame:
    """One row per source: uniqueness and timeliness (the Quality by source sheet)."""
    rows = [{"source": p["source"], "entity": p["entity"], "records": p["uniqueness"]["records"],
             "duplicate_key_rate": p["uniqueness"]["duplicate_key_rate"],
             "duplicate_record_rate_before": p["uniqueness"]["duplicate_record_rate_before"],
             "duplicate_record_rate_after": p["uniqueness"]["duplicate_record_rate_after"],
             "dated": p["timeliness"]["dated"], "stale_share": p["timeliness"]["stale_share"],
             **{f"age {k}": v for k, v in p["timeliness"]["buckets"].items()}} for p in profile]
    return pl.DataFrame(rows) if rows else pl.DataFrame(schema={"source": pl.String})


def _chart(wb, kind: str, title: str, sheet: str, frame: pl.DataFrame, category: str, values: list[str], percent: bool):
    chart = wb.add_chart({"type": kind})
    n, cat = frame.height, frame.columns.index(category)
    for col in values:
        c = frame.columns.index(col)
        chart.add_series({"name": [sheet, 0, c], "categories": [sheet, 1, cat, n, cat], "values": [sheet, 1, c, n, c]})
    chart.set_title({"name": title})
    if percent:
        (chart.set_x_axis if kind == "bar" else chart.set_y_axis)({"num_format": "0%"})
    chart.set_size({"width": 520, "height": max(260, 18 * n * max(1, len(values)))})
    return chart


def quality_sheets(wb, fmt, profile: list[dict]) -> None:
    """Sheets Quality (per source and field: completeness and validity, with a chart each) and Quality
    by source (uniqueness and timeliness, with a chart each)."""
    from reports.workbook import write_frame

    frame = profile_rows(profile)
    write_frame(wb, fmt, "Quality", frame)
    if not frame.height:
        return
    ws = wb.get_worksheet_by_name("Quality")
    for c, col in enumerate(frame.columns):
        if col.startswith(("completeness", "validity")):
            ws.set_column(c, c, 14, fmt.percent)
    for i, (title, col) in enumerate((("Completeness after standardization", "completeness_after"),
                                      ("Validity after standardization", "validity_after"))):
        ws.insert_chart(1 + i * max(15, frame.height + 3), frame.width + 1,
                        _chart(wb, "bar", title, "Quality", frame, "source / field", [col], True))
    per_source = source_quality_rows(profile)
    write_frame(wb, fmt, "Quality by source", per_source)
    ws2 = wb.get_worksheet_by_name("Quality by source")
    for c, col in enumerate(per_source.columns):
        if "rate" in col or col == "stale_share":
            ws2.set_column(c, c, 14, fmt.percent)
    ages = [c for c in per_source.columns if c.startswith("age ")]
    ws2.insert_chart(per_source.height + 3, 0, _chart(wb, "bar", "Uniqueness: share of records repeated", "Quality by source", per_source,
                                                      "source", ["duplicate_key_rate", "duplicate_record_rate_before", "duplicate_record_rate_after"], True))
    if ages:
        ws2.insert_chart(per_source.height + 3, 8, _chart(wb, "column", "Timeliness: age of the last update", "Quality by source", per_source,
                                                          "source", ages, False))
