from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace

import openpyxl
import polars as pl
import pytest
import sqlalchemy as sa
import xlsxwriter

from crm_migrate.errors import MigrationError
from extractors import extract_source


def source(**kw):
    base = dict(name="src", kind="excel", key=None, path=None, sheet=None, header_row=None, encoding="auto",
                delimiter=",", url=None, table=None, db_schema=None, query=None, chunk_size=1000)
    return SimpleNamespace(**(base | kw))


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
    assert x.skipped == {"blank_rows": 1}


def test_xlsxwriter_workbook_keeps_18_digit_text(tmp_path):
    path = tmp_path / "x.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("Sheet1")
    ws.write_row(0, 0, ["name", "code", "amount"])
    ws.write_row(1, 0, ["a", "914403001922038216", 125000])
    wb.close()
    f = extract_source(source(path=path), ["name"]).frame
    assert f.row(0)[3:] == ("a", "914403001922038216", "125000")


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
    with pytest.raises(MigrationError, match="cannot read the workbook"):
        extract_source(source(path=bad), ["x"])
    with pytest.raises(MigrationError, match="file not found"):
        extract_source(source(path=tmp_path / "none.xlsx"), ["x"])


def test_gbk_csv_with_multiline_field_and_bom_utf8(tmp_path):
    gbk = tmp_path / "erp.csv"
    gbk.write_bytes("单位编码,单位名称,备注\nKH001,深圳市腾飞电子科技有限公司,\"第一行\n第二行\"\nKH002,广州市华鑫贸易有限公司,\n".encode("gbk"))
    x = extract_source(source(kind="csv", path=gbk, key="单位编码"), ["单位名称"])
    assert x.frame["单位名称"].to_list() == ["深圳市腾飞电子科技有限公司", "广州市华鑫贸易有限公司"]
    assert x.frame["备注"].to_list() == ["第一行\n第二行", None]
    assert x.frame["_source_key"].to_list() == ["KH001", "KH002"]
    assert "decoded as gb18030" in x.notes
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
    assert f["created"][0] == "2023-05-01 08:30:00"
    assert f["day"][0] == "2023-05-01"


def test_unreachable_database_masks_the_password():
    url = "postgresql+psycopg://migrator:TopSecret99@127.0.0.1:1/legacy"
    with pytest.raises(MigrationError) as info:
        extract_source(source(kind="sql", url=url, table="t"), ["x"])
    text = info.value.describe()
    assert "TopSecret99" not in text and "migrator:***@127.0.0.1:1" in text


def test_missing_table_lists_tables(tmp_path):
    url = f"sqlite:///{tmp_path / 'l.sqlite'}"
    e = sa.create_engine(url)
    with e.begin() as c:
        c.exec_driver_sql("CREATE TABLE t_customer (id INTEGER)")
    e.dispose()
    with pytest.raises(MigrationError, match="(?s)table 't_cust' does not exist.*tables: t_customer"):
        extract_source(source(kind="sql", url=url, table="t_cust"), ["id"])


def test_csv_short_records_are_padded_and_noted_long_ones_fail_with_the_row(tmp_path):
    short = tmp_path / "s.csv"
    short.write_text("名称,电话,地址\n腾飞,1\n华鑫,2,广州\n", encoding="utf-8")
    x = extract_source(source(kind="csv", path=short), ["名称"])
    assert x.frame["地址"].to_list() == [None, "广州"]
    assert any("short records (padded) at records [2]" in n for n in x.notes)
    long = tmp_path / "l.csv"
    long.write_text("名称,电话\n腾飞,1\n华鑫,2,广州\n", encoding="utf-8")
    with pytest.raises(MigrationError, match=r"(?s)l.csv, row 3: record has 3 fields, the header 2.*delimiter"):
        extract_source(source(kind="csv", path=long), ["名称"])
