from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pytest
import sqlalchemy as sa
import xlsxwriter

from crm_migrate.errors import MigrationError
from extractors import extract_source
from pipelines.config import SourceConfig
from tests.helpers import sqlite_db


def source(**kw):
    """A real, validated source config."""
    return SourceConfig.model_validate({"name": "src", "kind": "excel", "entity": "customer", "mapping": "m.yaml",
                                        "chunk_size": 1000} | kw)


def test_openpyxl_workbook_with_merged_title_row_and_blank_rows(tmp_path):
    path = tmp_path / "book.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "客户"
    ws["A1"] = "2024年客户清单"
    ws.merge_cells("A1:D1")
    ws.append(["客户名称", "统一社会信用代码", "编号", "录入日期"])
    ws.append(["深圳市腾飞电子科技有限公司", "91440300708461136T", "0012", date(2023, 5, 1)])
    ws.append([None, None, None, None])
    ws.append(["广州市华鑫贸易有限公司", None, 12.5, "2023/5/1"])
    wb.save(path)
    x = extract_source(source(path=path, sheet="客户"), ["客户名称", "统一社会信用代码"])
    f = x.frame
    assert f.columns[:3] == ["_source", "_source_key", "_row"]
    assert f["_row"].to_list() == [3, 5]  # the rows a person sees in Excel
    assert f["_source_key"].to_list() == ["3", "5"]
    assert f["编号"].to_list() == ["0012", "12.5"]  # text keeps its zeros, numbers are exact
    assert f["录入日期"].to_list() == ["2023-05-01", "2023/5/1"]
    assert x.skipped == {"blank_rows": 1, "title_row": 1}  # the title above the header is reported, not dropped
    assert [n.as_dict() for n in x.non_records] == [{"row": 1, "rule": "title_row", "content": "2024年客户清单", "sheet": "客户", "lines": 1}]
    assert x.physical.as_dict() == {"unit": "rows", "total": 5, "records": 2, "continuation": 0, "header": 1, "blank": 1,
                                    "non_records": 1, "hidden": 0, "balanced": True}


def test_xlsxwriter_workbook_keeps_18_digit_text(tmp_path):
    path = tmp_path / "x.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("Sheet1")
    ws.write_row(0, 0, ["name", "code", "amount"])
    ws.write_row(1, 0, ["a", "914403001922038216", 125000])
    wb.close()
    f = extract_source(source(path=path), ["name"]).frame
    assert f.select("name", "code", "amount").row(0) == ("a", "914403001922038216", "125000")


def test_missing_column_names_the_closest(tmp_path):
    path = tmp_path / "b.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["客户名称", "联系电话"])
    wb.active.append(["x", "1"])
    wb.save(path)
    with pytest.raises(MigrationError) as info:
        extract_source(source(path=path), ["客户名称", "联系电话号码"])
    text = info.value.describe()
    assert "b.xlsx" in text and "'联系电话号码'" in text and "closest columns: 联系电话" in text


def test_wrong_sheet_lists_the_sheets(tmp_path):
    path = tmp_path / "c.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "客户"
    wb.create_sheet("商机")
    wb.save(path)
    with pytest.raises(MigrationError, match="sheets in this workbook: 客户, 商机"):
        extract_source(source(path=path, sheet="Customers"), ["x"])


def test_corrupt_and_missing_workbooks(tmp_path):
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"this is not a zip file")
    with pytest.raises(MigrationError, match="not an Excel workbook"):
        extract_source(source(path=bad), ["x"])
    good = tmp_path / "good.xlsx"
    wb = xlsxwriter.Workbook(good)
    wb.add_worksheet("S").write_row(0, 0, ["x", "y"])
    wb.close()
    truncated = tmp_path / "truncated.xlsx"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(MigrationError, match="(?s)cannot read the workbook .*damaged"):
        extract_source(source(path=truncated), ["x"])
    with pytest.raises(MigrationError, match="file not found"):
        extract_source(source(path=tmp_path / "none.xlsx"), ["x"])


def test_gbk_csv_with_multiline_field_and_bom_utf8(tmp_path):
    gbk = tmp_path / "erp.csv"
    gbk.write_bytes("单位编码,单位名称,备注\nKH001,深圳市腾飞电子科技有限公司,\"第一行\n第二行\"\nKH002,广州市华鑫贸易有限公司,\n".encode("gbk"))
    x = extract_source(source(kind="csv", path=gbk, key="单位编码"), ["单位名称"])
    assert x.frame["单位名称"].to_list() == ["深圳市腾飞电子科技有限公司", "广州市华鑫贸易有限公司"]
    assert x.frame["备注"].to_list() == ["第一行\n第二行", None]
    assert x.frame["_source_key"].to_list() == ["KH001", "KH002"]
    assert x.notes[0].startswith("decoded as gb18030")
    bom = tmp_path / "bom.csv"
    bom.write_bytes("名称,电话\n腾飞,1\n".encode("utf-8-sig"))
    assert extract_source(source(kind="csv", path=bom), ["名称"]).frame.columns[3] == "名称"


def test_undecodable_csv_names_the_line(tmp_path):
    path = tmp_path / "b.csv"
    path.write_bytes("名称\n腾飞\n".encode("utf-8") + b"\xff\xfe\xfa\n")
    with pytest.raises(MigrationError, match=r"(?s)row 3.*set `encoding`"):
        extract_source(source(kind="csv", path=path, encoding="utf-8"), ["名称"])


def test_sql_extract_streams_chunks_and_keeps_exact_values(any_db_url):
    engine = sa.create_engine(any_db_url)
    md = sa.MetaData()
    t = sa.Table("legacy customer", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("名称", sa.String(100)),
                 sa.Column("amount", sa.Numeric(18, 2)), sa.Column("created", sa.DateTime), sa.Column("day", sa.Date))
    md.create_all(engine)
    rows = [{"id": i, "名称": f"深圳市腾飞{i}有限公司", "amount": Decimal("12345678901.25") + i, "created": datetime(2023, 5, 1, 8, 30),
             "day": date(2023, 5, 1)} for i in range(1, 251)]
    with engine.begin() as conn:
        conn.execute(t.insert(), rows)
    engine.dispose()
    x = extract_source(source(kind="sql", url=any_db_url, table="legacy customer", key="id", chunk_size=100), ["名称", "amount"])
    f = x.frame.sort("_row")
    assert f.height == 250
    assert f["_source_key"].to_list()[:2] == ["1", "2"]
    assert f["名称"][0] == "深圳市腾飞1有限公司"
    assert f["amount"][0] == "12345678902.25"
    # SQLite holds datetimes as the text SQLAlchemy wrote; the servers as typed values: both exact.
    assert datetime.fromisoformat(f["created"][0]) == datetime(2023, 5, 1, 8, 30)
    assert f["day"][0] == "2023-05-01"


def test_unreachable_database_masks_the_password():
    url = "postgresql+psycopg://migrator:TopSecret99@127.0.0.1:1/legacy"
    with pytest.raises(MigrationError) as info:
        extract_source(source(kind="sql", url=url, table="t"), ["x"])
    text = info.value.describe()
    assert "TopSecret99" not in text and "migrator:***@127.0.0.1:1" in text


def test_missing_table_lists_tables(tmp_path):
    url = sqlite_db(tmp_path / "l.sqlite", "CREATE TABLE t_customer (id INTEGER)")
    with pytest.raises(MigrationError, match="(?s)table 't_cust' does not exist.*tables: t_customer"):
        extract_source(source(kind="sql", url=url, table="t_cust"), ["id"])


def test_csv_short_records_are_padded_and_long_ones_quarantined_with_their_line(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text('名称,电话,地址\n腾飞,1\n"华\n鑫",2,广州\n恒远,3,深圳,多余\n', encoding="utf-8")
    x = extract_source(source(kind="csv", path=path), ["名称"])
    f = x.frame
    assert f["_row"].to_list() == [2, 3, 5]  # physical lines: the quoted record spans lines 3-4
    assert f["_flags"].to_list() == [["short_record"], [], []]
    assert f["_quarantine"].to_list()[:2] == [None, None]
    assert f["_quarantine"][2].startswith("line 5 has 4 fields, the header 3: extra fields ['多余']")
    assert f["地址"].to_list() == [None, "广州", "深圳"]


def test_csv_big5_and_gbk_are_told_apart_and_delimiters_sniffed(tmp_path):
    text = "客戶名稱\t聯絡電話\n台北市騰飛電子科技有限公司\t02-23456789\n高雄市華鑫貿易股份有限公司\t07-3456789\n"
    big5 = tmp_path / "big5.tsv"
    big5.write_bytes(text.encode("big5"))
    x = extract_source(source(kind="csv", path=big5), ["客戶名稱"])
    assert x.frame["客戶名稱"].to_list() == ["台北市騰飛電子科技有限公司", "高雄市華鑫貿易股份有限公司"]
    assert "decoded as big5, delimiter '\\t'" in x.notes[0]
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("客户名称;联系电话\n深圳市腾飞电子科技有限公司;0755-26012345\n广州市华鑫贸易有限公司;020-38765432\n".encode("gbk"))
    x = extract_source(source(kind="csv", path=gbk), ["客户名称"])
    assert x.frame["联系电话"].to_list() == ["0755-26012345", "020-38765432"]
    assert "decoded as gb18030, delimiter ';'" in x.notes[0]


def test_excel_error_cells_become_null_and_are_flagged(tmp_path):
    path = tmp_path / "e.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("S")
    ws.write_row(0, 0, ["客户名称", "金额", "比例"])
    ws.write_row(1, 0, ["腾飞", 100])
    ws.write_formula(1, 2, "=B2/0", None, "#DIV/0!")
    ws.write(2, 0, "华鑫")
    ws.write_formula(2, 1, "=NA()", None, "#N/A")
    ws.write_formula(2, 2, "=B2*2", None, 200)  # a formula: its cached value is read
    wb.close()
    x = extract_source(source(path=path), ["客户名称", "金额"])
    assert x.frame.select("金额", "比例").rows() == [("100", None), (None, "200")]
    assert x.frame["_flags"].to_list() == [["excel_error:比例=#DIV/0!"], ["excel_error:金额=#N/A"]]
    assert any("2 Excel error cells" in n for n in x.notes)


def test_two_row_header_under_merged_cells_is_flattened(tmp_path):
    path = tmp_path / "h.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("客户")
    ws.merge_range(0, 1, 0, 4, "华南区客户清单")
    ws.merge_range(1, 1, 2, 1, "客户名称")  # spans both header rows
    ws.merge_range(1, 2, 1, 3, "联系人")
    ws.write_row(2, 2, ["姓名", "电话"])
    ws.write(1, 4, "地址")
    ws.write_row(3, 1, ["深圳市腾飞电子科技有限公司", "王伟", "13812345678", "深圳市南山区"])
    wb.close()
    x = extract_source(source(path=path), ["客户名称", "联系人/电话"])
    f = x.frame
    assert [c for c in f.columns if not c.startswith("_")] == ["客户名称", "联系人/姓名", "联系人/电话", "地址"]  # blank column A dropped
    assert f.row(0, named=True)["联系人/电话"] == "13812345678" and f["_row"].to_list() == [4]
    assert "header on row 2-3" in x.notes[0]


def test_sheet_pattern_concatenates_sheets_with_the_sheet_in_lineage(tmp_path):
    path = tmp_path / "q.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "说明"
    for name, rows in (("2023Q1", [["腾飞"], ["华鑫"]]), ("2023Q2", [["恒远"]]), ("2022Q4", [["旧"]])):
        ws = wb.create_sheet(name)
        ws.append(["客户名称"])
        for r in rows:
            ws.append(r)
    hidden = wb.create_sheet("2023备份")
    hidden.append(["客户名称"])
    hidden.append(["不要"])
    hidden.sheet_state = "hidden"
    wb.save(path)
    f = extract_source(source(path=path, sheet="2023*"), ["客户名称"]).frame
    assert f.select("_source_key", "客户名称", "_sheet").rows() == [("2023Q1!2", "腾飞", "2023Q1"), ("2023Q1!3", "华鑫", "2023Q1"), ("2023Q2!2", "恒远", "2023Q2")]
    assert extract_source(source(path=path, sheet="2023*", include_hidden_sheets=True), ["客户名称"]).frame.height == 4


def test_hidden_rows_are_flagged_or_left_out_and_counted(tmp_path):
    path = tmp_path / "hid.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in (["客户名称"], ["腾飞"], ["隐藏"], ["华鑫"]):
        ws.append(r)
    ws.row_dimensions[3].hidden = True
    wb.save(path)
    kept = extract_source(source(path=path), ["客户名称"])
    assert kept.frame["_flags"].to_list() == [[], ["hidden_row"], []]
    skipped = extract_source(source(path=path, skip_hidden_rows=True), ["客户名称"])
    assert skipped.frame["客户名称"].to_list() == ["腾飞", "华鑫"] and skipped.skipped == {"hidden_rows": 1}


def test_legacy_xls_and_long_numbers(tmp_path):
    import xlwt

    path = tmp_path / "old.xls"
    wb = xlwt.Workbook()
    ws = wb.add_sheet("客户")
    for c, v in enumerate(["客户名称", "金额", "代码"]):
        ws.write(0, c, v)
    for c, v in enumerate(["深圳市腾飞电子科技有限公司", 12.5, 914403001922038216]):
        ws.write(1, c, v)
    wb.save(str(path))
    x = extract_source(source(path=path), ["客户名称", "金额"])
    assert x.frame.select("客户名称", "金额").row(0) == ("深圳市腾飞电子科技有限公司", "12.5")
    assert any("'代码': 1 numbers of 16+ digits" in n for n in x.notes)


def test_a_stray_value_never_becomes_a_date():
    """A column of datetimes with one number or word in it is rendered value by value: pyarrow would
    turn 1.5 into 1970-01-01 00:00:00.000001 without a word."""
    from extractors.columns import column_to_text

    values = [datetime(2023, 1, 1, 5)] * 1000 + [1.5, "oops", date(2023, 5, 1), None]
    assert column_to_text("c", values).to_list()[-4:] == ["1.5", "oops", "2023-05-01", None]


def test_empty_sheet_says_so(tmp_path):
    path = tmp_path / "empty.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "客户"
    wb.save(path)
    with pytest.raises(MigrationError, match="(?s)sheet '客户'.*the sheet is empty"):
        extract_source(source(path=path, sheet="客户"), ["客户名称"])


def test_sql_missing_column_names_the_closest(tmp_path):
    url = sqlite_db(tmp_path / "c.sqlite", "CREATE TABLE t_customer (cust_id INTEGER, cust_name TEXT, tel TEXT)")
    with pytest.raises(MigrationError) as info:
        extract_source(source(kind="sql", url=url, table="t_customer"), ["customer_name"])
    assert "table t_customer" in info.value.describe() and "closest columns: cust_name" in info.value.describe()
