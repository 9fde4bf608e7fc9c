"""Every physical line or row of an input ends in exactly one place: the header, a record, a blank, or
a reported non-record. Checked on real files, against counts made independently of the readers."""
import csv
import io

import openpyxl
import pytest
import xlsxwriter

from crm_migrate.errors import MigrationError
from extractors import extract_source
from extractors.csv_file import physical_lines
from pipelines.config import NonRecordsConfig, SourceConfig


def source(**kw):
    return SourceConfig.model_validate({"name": "src", "kind": "csv", "entity": "customer", "mapping": "m.yaml"} | kw)


def csv_text(rows, header=("客户名称", "电话", "地址")):
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue()


def customers(n):
    return [[f"深圳市客户{i:03d}科技有限公司", f"1380000{i:04d}", f"南山区科技园路{i}号"] for i in range(1, n + 1)]


def test_physical_lines_counts_every_kind_of_line_end():
    assert physical_lines("") == 0
    assert physical_lines("a\nb\n") == 2
    assert physical_lines("a\r\nb\rc") == 3
    assert physical_lines('a\n"x\ny"\n') == 3


@pytest.mark.parametrize("broken_line", [10, 150])
def test_an_unclosed_quote_never_swallows_records(tmp_path, broken_line):
    """One record opens a quote that is never closed: every later line would be one field. Instead each
    line of the untrusted span is its own quarantined record, with its line number."""
    lines = csv_text(customers(200)).splitlines()
    lines[broken_line - 1] = lines[broken_line - 1].replace("深圳市", '"深圳市', 1)  # line numbers are 1-based
    path = tmp_path / "export.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    x = extract_source(source(path=path), ["客户名称"])
    assert x.frame.height == 200  # every physical record line is one record
    assert x.physical.balanced() and x.physical.records == 200 and x.physical.total == 201
    q = x.frame.filter(x.frame["_quarantine"].is_not_null())
    assert q["_row"].to_list() == list(range(broken_line, 202))  # the broken line and everything it swallowed
    assert q["_quarantine"][0].startswith(f"line {broken_line}: a quote opened in lines {broken_line}-201 is never closed")
    assert all("suspicious_quoting" in f for f in q["_flags"].to_list())
    assert any("not trusted" in n for n in x.notes)
    clean = x.frame.filter(x.frame["_quarantine"].is_null())
    assert clean["客户名称"].to_list() == [r[0] for r in customers(broken_line - 2)]


def test_a_quote_closed_far_away_is_not_trusted_either(tmp_path):
    lines = csv_text(customers(50)).splitlines()
    lines[4] = lines[4].replace("深圳市", '"深圳市', 1)  # line 5 opens a quote ...
    lines[30] = lines[30].replace("南山区", '南"山区', 1)  # ... that a stray quote on line 31 closes
    path = tmp_path / "e.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    x = extract_source(source(path=path), ["客户名称"])
    assert x.frame.height == 50 and x.physical.balanced()
    q = x.frame.filter(x.frame["_quarantine"].is_not_null())
    assert q["_row"].to_list() == list(range(5, 32))


def test_legitimate_multiline_fields_stay_one_record(tmp_path):
    rows = customers(5)
    rows[1][2] = "南山区科技园路2号\n(后门进)"
    path = tmp_path / "m.csv"
    path.write_text(csv_text(rows), encoding="utf-8")
    x = extract_source(source(path=path), ["客户名称"])
    assert x.frame.height == 5 and x.frame["_quarantine"].null_count() == 5
    assert x.frame["_row"].to_list() == [2, 3, 5, 6, 7]
    assert x.physical.continuation == 1 and x.physical.total == 7 and x.physical.balanced()


def test_a_field_spanning_more_lines_than_allowed_is_quarantined(tmp_path):
    rows = customers(3)
    rows[0][2] = "\n".join(f"第{i}行" for i in range(8))
    path = tmp_path / "long.csv"
    path.write_text(csv_text(rows), encoding="utf-8")
    strict = extract_source(source(path=path), ["客户名称"])
    assert strict.frame.height == 8 + 2  # the 8 lines of the record read one by one, plus two clean records
    assert "more than max_field_lines 5" in strict.frame["_quarantine"][0]
    lenient = extract_source(source(path=path, max_field_lines=10), ["客户名称"])
    assert lenient.frame.height == 3 and lenient.physical.continuation == 7 and lenient.physical.balanced()


def test_huge_fields_are_read(tmp_path):
    rows = customers(3)
    rows[1][2] = "长" * 300_000  # beyond the csv module's default 128 KB field limit
    rows[2][0] = "名" * 10_000
    path = tmp_path / "huge.csv"
    path.write_text(csv_text(rows), encoding="utf-8")
    x = extract_source(source(path=path), ["客户名称"])
    assert x.frame.height == 3 and len(x.frame["地址"][1]) == 300_000 and len(x.frame["客户名称"][2]) == 10_000


def test_header_row_beyond_the_end_is_a_clear_error(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text(csv_text(customers(2)), encoding="utf-8")
    with pytest.raises(MigrationError, match=r"header_row 9 is beyond the end of the file \(3 lines\)") as info:
        extract_source(source(path=path, header_row=9), ["客户名称"])
    assert "short.csv" in info.value.describe()
    book = tmp_path / "short.xlsx"
    wb = xlsxwriter.Workbook(book)
    wb.add_worksheet("S").write_row(0, 0, ["客户名称"])
    wb.close()
    with pytest.raises(MigrationError, match=r"sheet 'S'.*header_row 4 is beyond the last row of the sheet \(1\)"):
        extract_source(source(kind="excel", path=book, header_row=4), ["客户名称"])


def test_export_footers_totals_and_repeated_headers_are_reported_not_ledgered(tmp_path):
    text = ("客户导出（销售部）\n"  # a title line above the header
            + csv_text([*customers(3), ["客户名称", "电话", "地址"], *customers(2), ["合计", "5", ""], ["", "", ""],
                        ["共5条记录，导出时间：2024-07-01 09:00", "", ""], ["合计 深圳市另一家公司", "13900001111", ""]]))
    path = tmp_path / "footer.csv"
    path.write_text(text, encoding="utf-8")
    x = extract_source(source(path=path), ["客户名称", "电话"])
    got = [(n.row, n.rule) for n in x.non_records]
    assert got == [(1, "title_row"), (6, "repeated_header"), (9, "totals_row"), (11, "export_footer")]
    assert x.non_records[3].content == "共5条记录，导出时间：2024-07-01 09:00"
    assert x.frame.height == 6  # 5 customers and the doubtful row, which stays a record, flagged
    assert x.frame["_flags"].to_list()[-1] == ["possible_totals_row"]
    assert x.skipped == {"blank_rows": 1, "title_row": 1, "repeated_header": 1, "totals_row": 1, "export_footer": 1}
    assert x.physical.balanced() and x.physical.total == 12
    # Each rule can be switched off: the row is then a record like any other.
    cfg = NonRecordsConfig(totals_row=False, repeated_header=False)
    y = extract_source(source(path=path, non_records=cfg), ["客户名称", "电话"])
    assert [n.rule for n in y.non_records] == ["title_row", "export_footer"] and y.frame.height == 8


def test_excel_formula_rows_and_totals_are_non_records(tmp_path):
    path = tmp_path / "sum.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("商机")
    ws.write_row(0, 0, ["客户名称", "金额"])
    ws.write_row(1, 0, ["深圳市腾飞科技有限公司", 100])
    ws.write(2, 0, "广州市华鑫贸易有限公司")
    ws.write_formula(2, 1, "=B2*2", None, 200)  # a formula inside a record: still a record
    ws.write_formula(4, 1, "=SUM(B2:B3)", None, 300)  # the sum under the data
    ws.write_row(5, 0, ["总计：", 300])
    ws.write_row(6, 0, ["导出人：张三", None])
    wb.close()
    x = extract_source(source(kind="excel", path=path), ["客户名称", "金额"])
    assert [(n.row, n.rule) for n in x.non_records] == [(5, "formula_row"), (6, "totals_row"), (7, "export_footer")]
    assert x.frame["客户名称"].to_list() == ["深圳市腾飞科技有限公司", "广州市华鑫贸易有限公司"]
    assert x.physical.as_dict() | {} == {"unit": "rows", "total": 7, "records": 2, "continuation": 0, "header": 1, "blank": 1,
                                         "non_records": 3, "hidden": 0, "balanced": True}


def test_repeated_header_inside_a_sheet(tmp_path):
    path = tmp_path / "two_exports.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in (["客户名称", "电话"], ["甲公司", "1"], ["客户名称", "电话"], ["乙公司", "2"]):
        ws.append(row)
    wb.save(path)
    x = extract_source(source(kind="excel", path=path), ["客户名称"])
    assert x.frame["客户名称"].to_list() == ["甲公司", "乙公司"] and [(n.row, n.rule) for n in x.non_records] == [(3, "repeated_header")]


def test_duplicate_header_names_are_said_and_differences_flagged(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("客户名称,电话,客户名称\n甲公司,1,甲公司\n乙公司,2,乙分公司\n丙公司,3,\n", encoding="utf-8")
    x = extract_source(source(path=path), ["客户名称"])
    assert x.frame["客户名称"].to_list() == ["甲公司", "乙公司", "丙公司"]
    assert x.frame["客户名称_2"].to_list() == ["甲公司", "乙分公司", None]
    assert x.frame["_flags"].to_list() == [[], ["duplicate_column_differs:客户名称"], []]
    assert any("header '客户名称' appears in columns A, C" in n and "1 records hold a different value" in n for n in x.notes)


def test_a_header_only_input_warns(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("客户名称,电话\n\n", encoding="utf-8")
    x = extract_source(source(path=path), ["客户名称"])
    assert x.frame.height == 0 and x.warnings == ["empty.csv: the file has a header but no records"]


def test_workbook_format_is_told_by_content_not_name(tmp_path):
    real = tmp_path / "real.xlsx"
    wb = xlsxwriter.Workbook(real)
    wb.add_worksheet("S").write_row(0, 0, ["客户名称"])
    wb.worksheets()[0].write_row(1, 0, ["甲公司"])
    wb.close()
    misnamed = tmp_path / "export.xls"
    misnamed.write_bytes(real.read_bytes())
    assert extract_source(source(kind="excel", path=misnamed), ["客户名称"]).frame["客户名称"].to_list() == ["甲公司"]
    html = tmp_path / "web.xls"
    html.write_text("<html><body><table><tr><td>客户名称</td></tr></table></body></html>", encoding="utf-8")
    with pytest.raises(MigrationError, match="HTML page"):
        extract_source(source(kind="excel", path=html), ["客户名称"])
    tsv = tmp_path / "text.xls"
    tsv.write_text("客户名称\t电话\n甲公司\t1\n", encoding="utf-8")
    with pytest.raises(MigrationError, match="(?s)plain text.*kind: csv"):
        extract_source(source(kind="excel", path=tsv), ["客户名称"])
    empty = tmp_path / "zero.xlsx"
    empty.write_bytes(b"")
    with pytest.raises(MigrationError, match="empty"):
        extract_source(source(kind="excel", path=empty), ["客户名称"])


def test_a_workbook_named_csv_says_what_it_is(tmp_path):
    book = tmp_path / "book.xlsx"
    wb = xlsxwriter.Workbook(book)
    wb.add_worksheet("S").write_row(0, 0, ["客户名称"])
    wb.close()
    misnamed = tmp_path / "export.csv"
    misnamed.write_bytes(book.read_bytes())
    with pytest.raises(MigrationError, match="(?s)export.csv: the file is an Excel workbook .*kind: excel"):
        extract_source(source(path=misnamed), ["客户名称"])


def test_notes_count_only_what_stays_a_record(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("客户名称,电话,地址\n甲,1\n乙,2,x\n合计,3,\n共3条记录\n", encoding="utf-8")
    x = extract_source(source(path=path), ["客户名称"])
    assert [n.rule for n in x.non_records] == ["totals_row", "export_footer"]
    assert any("1 records with fewer fields than the header padded (lines [2])" in n for n in x.notes)
