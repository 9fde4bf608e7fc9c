"""Random CSV and Excel files (random quoting, encodings, line ends, blank and footer rows, duplicate
headers, stray and unbalanced quotes): on every one, every physical line or row is accounted for, the
count made from the bytes agrees with the reader's, and a file without corruption keeps every record."""
import csv
import io
import re
import tempfile
from pathlib import Path

import xlsxwriter
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from extractors import extract_source
from pipelines.config import SourceConfig

HEADER = ["客户名称", "联系电话", "地址", "备注"]
CELL = st.one_of(
    st.none(),
    st.sampled_from(["深圳市腾飞科技有限公司", "广州华鑫", "13800138000", "0755-26012345", "南山区,科技园", '说"明"', "a\nb",
                     "合计", "共12条记录", "=SUM(A1)", "  ", "12.5万", "客户名称"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
)
ROW = st.lists(CELL, min_size=0, max_size=4)  # short rows are padded; long ones are in the unit tests
FOOTERS = [["合计", "", "", ""], ["共3条记录，导出时间：2024-07-01", "", "", ""], [], ["", "", "", ""]]


def lines_in(data: bytes, encoding: str) -> int:
    """Lines as a person counts them in the file's bytes: \\n, \\r\\n and a lone \\r each end one."""
    text = data.decode(encoding)
    if not text:
        return 0
    ends = len(re.findall(r"\r\n|\r|\n", text))
    return ends + (0 if text.endswith(("\n", "\r")) else 1)


def source(path: Path, kind: str, **kw) -> SourceConfig:
    return SourceConfig.model_validate({"name": "s", "kind": kind, "entity": "customer", "mapping": "m.yaml", "path": str(path)} | kw)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(ROW, max_size=30), quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
       terminator=st.sampled_from(["\n", "\r\n", "\r"]), encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
       delimiter=st.sampled_from([",", "\t", ";"]), footer=st.sampled_from(FOOTERS + [None]),
       duplicate_header=st.booleans(), corrupt=st.one_of(st.none(), st.tuples(st.integers(0, 10_000), st.sampled_from(['"', '""', '"x']))))
def test_every_csv_line_is_accounted_for(rows, quoting, terminator, encoding, delimiter, footer, duplicate_header, corrupt):
    header = HEADER + (["客户名称"] if duplicate_header else [])
    # The csv writer quotes a field only for the characters of its own line terminator: with a lone \r
    # or \n as terminator, a cell holding the other one is written unquoted and really is two lines.
    assume(terminator == "\r\n" or not any(c and ("\r" in c or "\n" in c) for r in rows for c in r))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, quoting=quoting, lineterminator=terminator)
    writer.writerow(header)
    written = [[c if c is not None else "" for c in r] for r in rows]
    writer.writerows(written)
    if footer is not None:
        writer.writerow(footer)
    text = out.getvalue()
    if corrupt is not None:  # a stray or unbalanced quote somewhere after the header
        at = len(text.split(terminator, 1)[0]) + len(terminator)
        at += corrupt[0] % max(1, len(text) - at)
        text = text[:at] + corrupt[1] + text[at:]
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        assume(False)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.csv"
        path.write_bytes(data)
        x = extract_source(source(path, "csv", delimiter=delimiter, encoding=encoding), ["客户名称"])
    p = x.physical
    assert p.total == lines_in(data, encoding)  # counted from the bytes, not by the parser
    assert p.balanced(), p
    assert p.records == x.frame.height
    assert sum(n.lines for n in x.non_records) == p.non_records
    if corrupt is None:  # a clean file: every written row is a record, a blank or a reported non-record
        data_rows = len(written) + (footer is not None)
        blank_rows = sum(1 for r in written + ([footer] if footer is not None else []) if not any(c.strip() for c in r))
        assert x.frame.height + len(x.non_records) + blank_rows == data_rows
        assert x.frame["_quarantine"].null_count() == x.frame.height - sum(len(r) > len(header) for r in written if any(c.strip() for c in r))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(st.one_of(CELL, st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False, width=32)),
                              max_size=5), max_size=25),
       title=st.booleans(), footer=st.sampled_from(FOOTERS + [None]), formula_row=st.booleans(), duplicate_header=st.booleans())
def test_every_sheet_row_is_accounted_for(rows, title, footer, formula_row, duplicate_header):
    header = HEADER + (["客户名称"] if duplicate_header else [])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.xlsx"
        wb = xlsxwriter.Workbook(path, {"strings_to_formulas": False, "strings_to_numbers": False})
        ws = wb.add_worksheet("S")
        r = 0
        if title:
            ws.write_string(r, 0, "2024年客户导出")
            r += 1
        ws.write_row(r, 0, header)
        header_row = r + 1
        r += 1
        for row in rows:
            for c, v in enumerate(row):
                if v is not None:
                    ws.write_string(r, c, v) if isinstance(v, str) else ws.write_number(r, c, v)
            r += 1
        if formula_row:
            ws.write_formula(r, 1, "=COUNTA(A1:A3)", None, 3)
            r += 1
        if footer:
            ws.write_row(r, 0, footer)
            r += 1
        wb.close()
        x = extract_source(source(path, "excel", header_row=header_row), ["客户名称"])
    p = x.physical
    assert p.balanced(), p
    assert p.records == x.frame.height and p.non_records == len(x.non_records)
    assert p.total <= r  # trailing empty rows are not in the sheet's used range
