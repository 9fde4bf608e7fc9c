"""Rows that are not records: export footers, totals rows, header rows repeated inside a sheet,
rows holding only formulas, title rows above the header.

Legacy exports carry them (`共898条记录，导出时间：…`, `合计`, a header pasted again where two exports
were joined). They are not source records: they are not ledgered, they are reported with their row
number and content, and counted like blank rows. Each rule can be switched off in the config.

Precision first: a row is a non-record only when it clearly is one. A row that looks like one but
holds other content (a totals word beside a company name, a footer with many filled cells) stays a
record and is flagged `possible_<rule>`, so a person sees it and nothing disappears.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

TITLE_ROW = "title_row"
REPEATED_HEADER = "repeated_header"
TOTALS_ROW = "totals_row"
EXPORT_FOOTER = "export_footer"
FORMULA_ROW = "formula_row"
RULES = (REPEATED_HEADER, TOTALS_ROW, EXPORT_FOOTER, FORMULA_ROW)

# A totals row names itself in its first filled cell: 合计, 本页小计, 总计(元), Total:
TOTALS_WORDS = ("合计", "总计", "小计", "共计", "总合计", "累计", "合計", "總計", "小計", "共計",
                "total", "totals", "subtotal", "sub-total", "grand total", "sum")
_TOTALS_PREFIXES = "(?:本页|本月|本年|本期|全部|全年|累计|各项)?"
FOOTER_PATTERNS = (
    r"^共\s*[\d,，]+\s*(?:条|行|笔|个|项|家|户)",  # 共898条记录
    r"(?:导出|打印|制表|生成|统计)(?:时间|日期|人)",  # 导出时间：2024-07-01
    r"^(?:数据)?截[止至](?:日期|时间)?[:：]",
    r"^(?:制表|审核|复核|经办)[人]?[:：]",
    r"^(?:exported|printed|generated)\s+(?:at|on|by)\b",
    r"^(?:total\s+)?(?:records?|rows?)\s*[:：]\s*[\d,]+$",
    r"^[\d,]+\s+(?:records?|rows?)(?:\s+(?:exported|in total))?\.?$",
)
# A cell that is only a number as sheets write them: 12,345.00  ¥1.2万  (300)  35%
_NUMBER = r"^[\s(（\-+]*[¥￥$]?\s*[\d,，]*\.?\d+\s*(?:万|亿|元|%|‰)?[\s)）]*$"


@dataclass
class NonRecordRules:
    """Which rules run, and the words and patterns they use (config: `non_records:`)."""

    repeated_header: bool = True
    totals_row: bool = True
    export_footer: bool = True
    formula_row: bool = True
    totals_words: tuple[str, ...] = TOTALS_WORDS
    footer_patterns: tuple[str, ...] = FOOTER_PATTERNS

    def enabled(self) -> list[str]:
        return [r for r in RULES if getattr(self, r)]


@dataclass
class Classified:
    """Per row (aligned with the input frame): the rule that makes it a non-record, or the doubt flag."""

    rule: pl.Series  # String: a rule name, or null for a record
    doubt: pl.Series  # String: `possible_<rule>` for a record that looks like a non-record, else null


def _squeeze(expr: pl.Expr) -> pl.Expr:
    """Text without spaces or a trailing colon, lower case: `合 计：` -> `合计`."""
    return expr.str.replace_all(r"\s+", "").str.strip_chars_end(":：").str.to_lowercase()


def _totals_pattern(words: tuple[str, ...], whole: bool = True) -> str:
    """The first filled cell of a totals row: a totals word, with an optional prefix (本页) and unit (元)."""
    alternatives = "|".join(re.escape(re.sub(r"\s+", "", w.lower())) for w in sorted(words, key=len, reverse=True))
    return f"^{_TOTALS_PREFIXES}(?:{alternatives})" + ("(?:[(（][^()（）]{0,12}[)）])?$" if whole else "")


def classify(frame: pl.DataFrame, columns: list[str], header: list[str], rules: NonRecordRules,
             formula_rows: pl.Series | None = None) -> Classified:
    """Classify each row of `frame` (text cells in `columns`, whose header cells are `header`).
    `formula_rows`: per row, whether every filled cell is a formula (Excel; None elsewhere).

    A cheap pass over every row finds the candidates (a header cell repeated, a totals word first, few
    filled cells, only formulas); the rules, whose regular expressions are costly on long rows, run on
    the candidates only: a sheet of real records has almost none."""
    nothing = pl.Series([None] * frame.height, dtype=pl.String)
    if frame.height == 0 or not columns:
        return Classified(nothing, nothing)
    cells = [pl.col(c) for c in columns]
    same_as_header = pl.sum_horizontal([
        (pl.col(c).str.strip_chars() == h.strip()).fill_null(False) for c, h in zip(columns, header) if h
    ]) if any(h for h in header) else pl.lit(0)
    base = frame.select(
        pl.sum_horizontal([c.is_not_null() for c in cells]).alias("__filled"),
        _squeeze(pl.coalesce(cells)).alias("__first"),
        same_as_header.alias("__same"),
        (pl.lit(formula_rows) if formula_rows is not None else pl.lit(False)).alias("__formula"),
        *cells,
    ).with_row_index("__i")
    candidate = ((pl.col("__same") >= 2) | (pl.col("__filled") <= 4) | pl.col("__formula")
                 | pl.col("__first").str.contains(_totals_pattern(rules.totals_words, whole=False)))
    rows = base.filter(candidate)
    if rows.is_empty():
        return Classified(nothing, nothing)
    rows = rows.with_columns(
        pl.concat_str([c.fill_null("") for c in cells], separator=" ").str.strip_chars().str.to_lowercase().alias("__text"))
    filled, same = pl.col("__filled"), pl.col("__same")
    numeric_or_empty = [c.is_null() | c.str.contains(_NUMBER) for c in cells]
    # The other filled cells of a row whose first filled cell is a totals word are all numbers.
    others_numeric = pl.sum_horizontal([~ok for ok in numeric_or_empty]) <= 1
    totals_word = pl.col("__first").str.contains(_totals_pattern(rules.totals_words))
    starts_with_totals = pl.col("__first").str.contains(_totals_pattern(rules.totals_words, whole=False))
    footer_match = pl.any_horizontal([pl.col("__text").str.contains(p) for p in rules.footer_patterns]) if rules.footer_patterns else pl.lit(False)

    checks: list[tuple[str, pl.Expr, pl.Expr]] = []  # (rule, clearly, doubtful)
    if rules.repeated_header:
        checks.append((REPEATED_HEADER, (same >= 2) & (same >= 0.8 * filled), (same >= 2) & (same >= 0.5 * filled)))
    if rules.totals_row:
        checks.append((TOTALS_ROW, totals_word & others_numeric, starts_with_totals))
    if rules.export_footer:
        checks.append((EXPORT_FOOTER, footer_match & (filled <= 2), footer_match & (filled <= 4)))
    if rules.formula_row:
        checks.append((FORMULA_ROW, pl.col("__formula") & pl.all_horizontal(numeric_or_empty), pl.lit(False)))
    rule = pl.lit(None, dtype=pl.String)
    doubt = pl.lit(None, dtype=pl.String)
    for name, clearly, _ in reversed(checks):  # the first rule that applies names the row
        rule = pl.when(clearly).then(pl.lit(name)).otherwise(rule)
    for name, clearly, doubtful in reversed(checks):
        doubt = pl.when(doubtful & ~clearly).then(pl.lit(f"possible_{name}")).otherwise(doubt)
    found = rows.select("__i", rule.alias("rule"), doubt.alias("doubt"))
    found = found.with_columns(pl.when(pl.col("rule").is_null()).then(pl.col("doubt")).alias("doubt"))
    index = found.get_column("__i")
    return Classified(nothing.clone().scatter(index, found.get_column("rule")), nothing.clone().scatter(index, found.get_column("doubt")))


def describe(cells: list[str | None], limit: int = 120) -> str:
    """A non-record's content as the report shows it: its filled cells, `|`-separated, shortened."""
    text = " | ".join(c for c in cells if c is not None)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class NonRecord:
    row: int  # the row (Excel) or first line (CSV) a person finds it on
    rule: str
    content: str
    sheet: str | None = None
    lines: int = 1  # physical lines it spans (CSV)

    def as_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass
class PhysicalCount:
    """How the physical input divides: every row (Excel), line (CSV) or table row (SQL) is exactly one
    of these. `total` is counted from the input itself, independently of the parser that found the
    parts; `balanced()` says whether the parts add up, and `records` is what the ledger must hold."""

    unit: str  # rows | lines | table rows
    total: int
    records: int = 0
    continuation: int = 0  # extra lines of records whose quoted fields span several lines (CSV)
    header: int = 0  # header rows or lines (with any above them that were empty)
    blank: int = 0
    non_records: int = 0  # rows or lines of reported non-records (title rows, footers, totals ...)
    hidden: int = 0  # hidden rows left out on request (Excel)

    def accounted(self) -> int:
        return self.records + self.continuation + self.header + self.blank + self.non_records + self.hidden

    def balanced(self) -> bool:
        return self.accounted() == self.total

    def add(self, other: "PhysicalCount") -> "PhysicalCount":
        """Several sheets of one source: their counts add up."""
        return PhysicalCount(self.unit, *(getattr(self, f) + getattr(other, f) for f in
                                          ("total", "records", "continuation", "header", "blank", "non_records", "hidden")))

    def as_dict(self) -> dict:
        return {"unit": self.unit, "total": self.total, "records": self.records, "continuation": self.continuation,
                "header": self.header, "blank": self.blank, "non_records": self.non_records, "hidden": self.hidden,
                "balanced": self.balanced()}


def skipped_counts(count: PhysicalCount, non_records: list[NonRecord]) -> dict[str, int]:
    """The rows that are not records, by kind, as the manifest and the report list them."""
    out = {"blank_rows": count.blank, "hidden_rows": count.hidden}
    for nr in non_records:
        out[nr.rule] = out.get(nr.rule, 0) + 1
    return {k: v for k, v in out.items() if v}
