"""The broken-input corpus: inputs real migrations meet, each with what `crm-migrate` must do with it.

Every case builds its files (workbooks, CSV exports, databases, configs) in an empty folder, the way
a user would have them, and says:
- `exit`: the exit code (0 success, 1 failure, 2 config, 3 gate, 5 target locked);
- `says`: patterns the console output must hold, naming the file and the row/line/column where
  there is one, and what to do;
- `private`: customer data (names, phones) that must never appear on the console;
- `records`: per source, how many physical records the input holds: the ledger (or planned ledger)
  must have exactly that many rows, whatever else happens. None when the run stops before it reads.
tests/test_bad_inputs.py runs each through `crm-migrate` as a subprocess.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tests.helpers import ROOT, csv_file, make_read_only, sqlite_db, undo_read_only, xlsx_file
from tests.helpers import project as _project

HEADER = ["客户编号", "客户名称", "统一社会信用代码", "联系电话", "地址"]
OPP_HEADER = ["商机编号", "客户编号", "商机名称", "金额", "阶段"]
CODES = ["91440300708461136T", "914403001922038216", "91110108551385082Q", "91110000802100433B", "91110000600037341L"]


def project(root: Path, sources: list[dict], **kw) -> Path:
    """A project as a user writes it from docs/configuration.md: the documented default gate."""
    return _project(root, sources, **({"validation": {}} | kw))


def rows(n: int, start: int = 1) -> list[list]:
    return [[f"C{i:04d}", f"深圳市测试{i:04d}科技有限公司", CODES[i % 5] if i <= 5 else None, f"1380013{i:04d}", f"南山区科技园路{i}号"]
            for i in range(start, start + n)]


def csv_source(**kw) -> dict:
    return {"name": "erp", "kind": "csv", "entity": "customer", "path": "customers.csv", "key": "客户编号"} | kw


def excel_source(**kw) -> dict:
    return {"name": "book", "kind": "excel", "entity": "customer", "path": "book.xlsx", "sheet": "客户", "key": "客户编号"} | kw


@dataclass
class Case:
    name: str
    build: Callable[[Path, dict], Path]  # (empty folder, database urls) -> config file
    exit: int
    says: list[str] = field(default_factory=list)
    private: list[str] = field(default_factory=lambda: ["深圳市测试0001科技有限公司", "13800130001"])
    records: dict[str, int] | None = None
    non_records: dict[str, int] = field(default_factory=dict)
    needs: tuple[str, ...] = ()  # "postgresql", "mysql": a scratch database of that server
    command: str = "run"
    undo: Callable[[Path], None] | None = None  # e.g. take chattr +i off again
    hold_lock: bool = False  # another run holds the target's lock while this one runs


CASES: list[Case] = []


def case(name: str, exit: int, says: list[str], records=None, **kw):
    def register(build):
        CASES.append(Case(name, build, exit, says, records=records, **kw))
        return build
    return register


# ---- CSV exports ----------------------------------------------------------------------------------

@case("csv_unclosed_quote", 3, [r"customers\.csv: an unbalanced quote made 1 quoted fields span lines 11-201",
                                r"erp: 191 of 200 customer records rejected"], records={"erp": 200})
def _(root, db):
    lines = [",".join(HEADER)] + [",".join(x or "" for x in r) for r in rows(200)]
    lines[10] = lines[10].replace("深圳市", '"深圳市', 1)
    (root / "customers.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return project(root, [csv_source()])


@case("csv_quote_closed_further_down", 0, [r"customers\.csv: an unbalanced quote made 1 quoted fields span lines 6-9"], records={"erp": 200})
def _(root, db):
    lines = [",".join(HEADER)] + [",".join(x or "" for x in r) for r in rows(200)]
    lines[5] = lines[5].replace("深圳市", '"深圳市', 1)
    lines[8] = lines[8].replace("南山区", '南"山区', 1)
    (root / "customers.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return project(root, [csv_source()])


@case("csv_ragged_rows", 3, [r"customers\.csv: 2 records have more fields than the header \(lines 4, 7\)"], records={"erp": 10})
def _(root, db):
    data = rows(10)
    data[2] = data[2] + ["多余"]
    data[5] = data[5] + ["多余", "又多余"]
    data[7] = data[7][:3]
    csv_file(root / "customers.csv", HEADER, data)
    return project(root, [csv_source()])


@case("csv_wrong_encoding_declared", 1, [r"customers\.csv, row 3: cannot decode byte 0x\w+ as utf-8", r"set `encoding`"])
def _(root, db):
    csv_file(root / "customers.csv", HEADER, rows(5), encoding="gbk")
    (root / "customers.csv").write_bytes(",".join(["id", "name", "code", "phone", "addr"]).encode() + b"\n" + b"C0000,ok,,,\n"
                                         + (root / "customers.csv").read_bytes().split(b"\n", 1)[1])
    return project(root, [csv_source(encoding="utf-8")], mappings={"customer": {"entity": "customer", "columns": {"name": "name"}}})


@case("csv_mixed_encodings", 0, [r"customers\.csv: the file mixes encodings"], records={"erp": 6})
def _(root, db):
    gbk = csv_file(root / "a.csv", HEADER, rows(3), encoding="gbk").read_bytes()
    utf8 = csv_file(root / "b.csv", HEADER, rows(3, start=4), encoding="utf-8").read_bytes().split(b"\n", 1)[1]
    (root / "customers.csv").write_bytes(gbk + utf8)
    return project(root, [csv_source()])


@case("csv_empty_file", 1, [r"customers\.csv: the file is empty"])
def _(root, db):
    (root / "customers.csv").write_bytes(b"")
    return project(root, [csv_source()])


@case("csv_header_only", 0, [r"customers\.csv: the file has a header but no records"], records={"erp": 0})
def _(root, db):
    csv_file(root / "customers.csv", HEADER, [])
    return project(root, [csv_source()])


@case("csv_missing_mapped_column", 1, [r"customers\.csv, row 1, column '联系电话': mapped column '联系电话' is not in the source",
                                       r"closest columns: 电话"])
def _(root, db):
    csv_file(root / "customers.csv", ["客户编号", "客户名称", "统一社会信用代码", "电话", "地址"], rows(3))
    return project(root, [csv_source()])


@case("csv_duplicate_header", 0, [r"erp: 4 records"], records={"erp": 4})
def _(root, db):
    csv_file(root / "customers.csv", [*HEADER, "客户名称"], [[*r, r[1] if i else "别的名字"] for i, r in enumerate(rows(4))])
    return project(root, [csv_source()])


@case("csv_field_of_300_kb", 3, [r"crm_account\.address: 1 values longer than 300 characters"], records={"erp": 3})
def _(root, db):
    data = rows(3)
    data[1][4] = "长" * 300_000
    csv_file(root / "customers.csv", HEADER, data)
    return project(root, [csv_source()])


@case("csv_name_of_10000_characters", 3, [r"crm_account\.account_name: 1 values longer than 200 characters"], records={"erp": 3})
def _(root, db):
    data = rows(3)
    data[2][1] = "深" * 10_000
    csv_file(root / "customers.csv", HEADER, data)
    return project(root, [csv_source()])


@case("csv_nul_bytes_and_control_characters", 0, [r"erp: 3 records"], records={"erp": 3})
def _(root, db):
    data = rows(3)
    data[0][1] = "深圳市测试0001\x00科技有限公司"
    data[1][3] = "1380013\x070002"
    csv_file(root / "customers.csv", HEADER, data)
    return project(root, [csv_source()])


@case("csv_emoji_and_right_to_left_text", 0, [r"erp: 4 records"], records={"erp": 4})
def _(root, db):
    data = rows(4)
    data[0][1] = "深圳市测试0001科技有限公司🚀"
    data[1][1] = "\u202e深圳市反向文本有限公司"
    data[2][1] = "شركة الاختبار المحدودة"
    data[3][1] = "👍👍👍"
    csv_file(root / "customers.csv", HEADER, data)
    return project(root, [csv_source()])


@case("csv_injection_text_in_names", 0, [r"erp: 4 records"], records={"erp": 4})
def _(root, db):
    data = rows(4)
    data[0][1] = "=cmd|' /C calc'!A0"
    data[1][1] = "'; DROP TABLE crm_account; --"
    data[2][1] = "<script>alert(1)</script>有限公司"
    data[3][1] = "=HYPERLINK(\"http://evil\",\"点我\")"
    csv_file(root / "customers.csv", HEADER, data)
    return project(root, [csv_source()])


@case("csv_footer_totals_and_repeated_header", 0, [r"erp: 6 records, 4 rows that are not records"], records={"erp": 6},
      non_records={"erp": 3})
def _(root, db):
    data = [*rows(3), HEADER, *rows(3, start=4), [None, "合计", None, None, None], [], ["共6条记录，导出时间：2024-07-01 09:00"]]
    csv_file(root / "customers.csv", HEADER, data)
    return project(root, [csv_source()])


@case("csv_semicolon_and_crlf", 0, [r"erp: 5 records"], records={"erp": 5})
def _(root, db):
    text = "\r\n".join(";".join(x or "" for x in r) for r in [HEADER, *rows(5)]) + "\r\n"
    (root / "customers.csv").write_bytes(text.encode("utf-8-sig"))
    return project(root, [csv_source()])


@case("csv_big5_traditional", 0, [r"erp: 2 records"], records={"erp": 2},
      private=["騰飛電子科技有限公司", "0223456789"])
def _(root, db):
    header = ["客戶編號", "客戶名稱", "統一編號", "聯絡電話", "地址"]
    csv_file(root / "customers.csv", header, [["T1", "台北市騰飛電子科技有限公司", None, "0223456789", "信義區"],
                                              ["T2", "高雄市華鑫貿易股份有限公司", None, "073456789", "前鎮區"]], encoding="big5")
    mapping = {"entity": "customer", "columns": {"name": "客戶名稱", "phone": "聯絡電話", "address": "地址"}}
    return project(root, [csv_source(key="客戶編號")], mappings={"customer": mapping})


@case("csv_file_missing", 1, [r"nothere\.csv: file not found", r"check `path`"])
def _(root, db):
    return project(root, [csv_source(path="nothere.csv")])


@case("csv_blank_lines_and_whitespace_rows", 0, [r"erp: 3 records"], records={"erp": 3})
def _(root, db):
    data = [rows(1)[0], [], ["  ", "", "", "", ""], *rows(2, start=2), [None] * 5]
    csv_file(root / "customers.csv", HEADER, data)
    return project(root, [csv_source()])


# ---- Excel workbooks --------------------------------------------------------------------------------

def workbook(root: Path, customers: list[list], name: str = "book.xlsx", sheet: str = "客户") -> Path:
    return xlsx_file(root / name, {sheet: [HEADER, *customers]})


@case("xlsx_named_xls", 0, [r"book: 3 records"], records={"book": 3})
def _(root, db):
    workbook(root, rows(3)).rename(root / "book.xls")
    return project(root, [excel_source(path="book.xls")])


@case("xls_that_is_an_html_page", 1, [r"book\.xls: the file is an HTML page", r"save it as \.xlsx"])
def _(root, db):
    (root / "book.xls").write_text("<html><body><table><tr><td>客户名称</td></tr><tr><td>深圳市测试0001科技有限公司</td></tr></table></body></html>",
                                   encoding="utf-8")
    return project(root, [excel_source(path="book.xls")])


@case("xls_that_is_tab_separated_text", 1, [r"book\.xls: the file is plain text", r"kind: csv"])
def _(root, db):
    (root / "book.xls").write_text("\t".join(HEADER) + "\n" + "\t".join(x or "" for x in rows(1)[0]) + "\n", encoding="utf-8")
    return project(root, [excel_source(path="book.xls")])


@case("xlsx_truncated", 1, [r"book\.xlsx: cannot read the workbook", r"damaged"])
def _(root, db):
    path = workbook(root, rows(50))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return project(root, [excel_source()])


@case("xlsx_encrypted", 1, [r"book\.xlsx: the workbook is encrypted with a password", r"unprotected copy"])
def _(root, db):
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = workbook(root, rows(3), name="plain.xlsx")
    with plain.open("rb") as fh, (root / "book.xlsx").open("wb") as out:
        OOXMLFile(fh).encrypt("secret", out)
    plain.unlink()
    return project(root, [excel_source()])


@case("xlsx_zero_bytes", 1, [r"book\.xlsx: the file is empty \(0 bytes\)"])
def _(root, db):
    (root / "book.xlsx").write_bytes(b"")
    return project(root, [excel_source()])


@case("xlsx_missing_sheet", 1, [r"book\.xlsx: there is no sheet '客户'", r"sheets in this workbook: Sheet1"])
def _(root, db):
    xlsx_file(root / "book.xlsx", {"Sheet1": [HEADER, *rows(2)]})
    return project(root, [excel_source()])


@case("xlsx_empty_sheet", 1, [r"book\.xlsx, sheet '客户': the sheet is empty"])
def _(root, db):
    xlsx_file(root / "book.xlsx", {"客户": []})
    return project(root, [excel_source()])


@case("xlsx_header_only", 0, [r"book\.xlsx sheet '客户': the sheet has a header but no records"], records={"book": 0})
def _(root, db):
    workbook(root, [])
    return project(root, [excel_source()])


@case("xlsx_header_row_beyond_the_sheet", 1, [r"book\.xlsx, sheet '客户': header_row 40 is beyond the last row of the sheet \(4\)"])
def _(root, db):
    workbook(root, rows(3))
    return project(root, [excel_source(header_row=40)])


@case("xlsx_missing_mapped_column", 1, [r"book\.xlsx, sheet '客户', row 1, column '统一社会信用代码': mapped column"])
def _(root, db):
    xlsx_file(root / "book.xlsx", {"客户": [["客户编号", "客户名称", "税号", "联系电话", "地址"], *rows(2)]})
    return project(root, [excel_source()])


@case("xlsx_error_cells_and_formulas", 0, [r"book: 3 records, 2 rows that are not records"], records={"book": 3}, non_records={"book": 1})
def _(root, db):
    import xlsxwriter

    wb = xlsxwriter.Workbook(root / "book.xlsx")
    ws = wb.add_worksheet("客户")
    ws.write_row(0, 0, HEADER)
    for r, row in enumerate(rows(3), start=1):
        ws.write_row(r, 0, [v for v in row])
    ws.write_formula(1, 3, "=NA()", None, "#N/A")
    ws.write_formula(2, 2, "=1/0", None, "#DIV/0!")
    ws.write_formula(5, 3, "=COUNTA(B2:B4)", None, 3)
    wb.close()
    return project(root, [excel_source()])


@case("xlsx_title_totals_footer_and_repeated_header", 0, [r"book: 5 records, 4 rows that are not records"], records={"book": 5},
      non_records={"book": 4})
def _(root, db):
    xlsx_file(root / "book.xlsx", {"客户": [["2024年客户导出"], HEADER, *rows(2), HEADER, *rows(3, start=3), ["小计", None, None, 5],
                                            ["导出人：张三 导出时间：2024-07-01"]]})
    return project(root, [excel_source()])


@case("xlsx_codes_typed_as_numbers", 0, [r"book: 2 records"], records={"book": 2})
def _(root, db):
    xlsx_file(root / "book.xlsx", {"客户": [HEADER, ["C1", "深圳市测试0001科技有限公司", 914403001922038216, 13800130001, None],
                                            ["C2", "广州市测试0002科技有限公司", "`91440300708461136T", "13800130002", None]]})
    return project(root, [excel_source()])


@case("xlsx_hidden_sheet_pattern", 1, [r"book\.xlsx: no sheet matches '2023\*'"])
def _(root, db):
    import xlsxwriter

    wb = xlsxwriter.Workbook(root / "book.xlsx")
    wb.add_worksheet("客户").write_row(0, 0, HEADER)
    hidden = wb.add_worksheet("2023Q1")
    hidden.write_row(0, 0, HEADER)
    hidden.hide()
    wb.close()
    return project(root, [excel_source(sheet="2023*")])


# ---- SQL sources ----------------------------------------------------------------------------------

def legacy_db(path: Path, n: int = 3) -> Path:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t_customer (id INTEGER PRIMARY KEY, 客户名称 TEXT, 统一社会信用代码 TEXT, 联系电话 TEXT, 地址 TEXT)")
    con.executemany("INSERT INTO t_customer VALUES (?,?,?,?,?)", [(i, r[1], r[2], r[3], r[4]) for i, r in enumerate(rows(n), start=1)])
    con.commit()
    con.close()
    return path


def sql_source(**kw) -> dict:
    return {"name": "legacy", "kind": "sql", "entity": "customer", "url": "sqlite:///legacy.sqlite", "table": "t_customer", "key": "id"} | kw


@case("sqlite_source_file_missing", 1, [r"legacy\.sqlite: the SQLite database file does not exist"])
def _(root, db):
    return project(root, [sql_source()])


@case("sqlite_source_table_missing", 1, [r"table 't_customers' does not exist", r"tables: t_customer"])
def _(root, db):
    legacy_db(root / "legacy.sqlite")
    return project(root, [sql_source(table="t_customers")])


@case("sql_query_that_writes", 2, [r"config\.yaml:\d+: sources\[0\]\.query: .*must be one read-only SELECT"])
def _(root, db):
    legacy_db(root / "legacy.sqlite")
    return project(root, [sql_source(table=None, query="DELETE FROM t_customer")])


@case("sql_query_with_two_statements", 2, [r"sources\[0\]\.query: .*holds several statements"])
def _(root, db):
    legacy_db(root / "legacy.sqlite")
    return project(root, [sql_source(table=None, query="SELECT * FROM t_customer; DROP TABLE t_customer")])


@case("sqlite_source_read_through_a_query", 0, [r"legacy: 3 records"], records={"legacy": 3})
def _(root, db):
    legacy_db(root / "legacy.sqlite")
    return project(root, [sql_source(table=None, query="-- every customer\nSELECT * FROM t_customer")])


@case("mariadb_wrong_password", 1, [r"cannot connect to mysql\+pymysql://root:\*\*\*@127\.0\.0\.1", r"user name or password is wrong"],
      private=["Wr0ngPassw0rd"], needs=("mysql",))
def _(root, db):
    import sqlalchemy as sa

    url = sa.make_url(db["mysql"]).set(password="Wr0ngPassw0rd").render_as_string(hide_password=False)
    return project(root, [sql_source(url=url)])


@case("source_database_unreachable", 1, [r"cannot connect to postgresql\+psycopg://crm:\*\*\*@127\.0\.0\.1:1/crm"], private=["S3cretPw"])
def _(root, db):
    return project(root, [sql_source(url="postgresql+psycopg://crm:S3cretPw@127.0.0.1:1/crm")])


@case("postgresql_source_with_unknown_column_type", 0, [r"legacy: 2 records"], records={"legacy": 2}, needs=("postgresql",))
def _(root, db):
    import sqlalchemy as sa

    engine = sa.create_engine(db["postgresql"])
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t_customer (id serial PRIMARY KEY, 客户名称 text, 统一社会信用代码 text, 联系电话 text, "
                             "地址 text, 位置 point, 标签 text[], 扩展 jsonb)")
        conn.exec_driver_sql("INSERT INTO t_customer (客户名称, 联系电话, 位置, 标签, 扩展) VALUES "
                             "('深圳市测试0001科技有限公司', '13800130001', point(1,2), ARRAY['a','b'], '{\"x\": 1}'), "
                             "('广州市测试0002科技有限公司', NULL, NULL, NULL, NULL)")
    engine.dispose()
    return project(root, [sql_source(url=db["postgresql"])])


# ---- opportunities ------------------------------------------------------------------------------

@case("every_customer_key_the_same", 3, [r"opps: 20 of 20 opportunity records rejected"], records={"erp": 30, "opps": 20})
def _(root, db):
    csv_file(root / "customers.csv", HEADER, [["K1", f"客户{i}有限公司", None, f"1390000{i:04d}", None] for i in range(30)])
    xlsx_file(root / "opps.xlsx", {"商机": [OPP_HEADER, *[[f"O{i}", "K1", f"单{i}", 100, "报价"] for i in range(20)]]})
    return project(root, [csv_source(), {"name": "opps", "kind": "excel", "entity": "opportunity", "path": "opps.xlsx",
                                         "key": "商机编号", "customer_source": "erp"}])


@case("opportunity_pasted_twice_and_key_reused", 0, [r"crm_opportunity: 2 inserted"], records={"erp": 3, "opps": 5})
def _(root, db):
    csv_file(root / "customers.csv", HEADER, rows(3))
    opps = [["O1", "C0001", "年度采购", 1000, "报价"], ["O1", "C0001", "年度采购", 1000, "报价"], ["O2", "C0002", "扩容", 500, "谈判"],
            ["O2", "C0002", "扩容", 800, "谈判"], ["O3", "C0003", "试点", 100, "赢单"]]
    xlsx_file(root / "opps.xlsx", {"商机": [OPP_HEADER, *opps]})
    return project(root, [csv_source(), {"name": "opps", "kind": "excel", "entity": "opportunity", "path": "opps.xlsx",
                                         "key": "商机编号", "customer_source": "erp"}],
                   validation={"gates": {"max_reject_rate": 0.5}})


@case("amounts_and_dates_nobody_can_read", 0, [r"opps: 4 records"], records={"erp": 1, "opps": 4})
def _(root, db):
    csv_file(root / "customers.csv", HEADER, rows(1))
    xlsx_file(root / "opps.xlsx", {"商机": [[*OPP_HEADER, "预计成交日期"], ["O1", "C0001", "甲", "1,2,3", "报价", "99999"],
                                            ["O2", "C0001", "乙", "12.5万万", "报价", "0000-00-00"], ["O3", "C0001", "丙", "12.5w", "报价", "2173-10-13"],
                                            ["O4", "C0001", "丁", "¥125,000", "报价", 45000]]})
    mapping = {"entity": "opportunity", "columns": {"customer_source_key": "客户编号", "name": "商机名称", "amount": "金额", "stage": "阶段",
                                                    "expected_close_date": "预计成交日期"},
               "value_maps": {"stage": str(ROOT / "mappings" / "values" / "stage.yaml")}}
    return project(root, [csv_source(), {"name": "opps", "kind": "excel", "entity": "opportunity", "path": "opps.xlsx",
                                         "key": "商机编号", "customer_source": "erp"}], mappings={"opportunity": mapping})


# ---- the target ---------------------------------------------------------------------------------

@case("target_folder_missing", 1, [r"the folder of the SQLite target does not exist: .*no/such"])
def _(root, db):
    csv_file(root / "customers.csv", HEADER, rows(2))
    return project(root, [csv_source()], target_url=f"sqlite:///{root / 'no' / 'such' / 'crm.sqlite'}")


def _mutable(root: Path) -> None:
    undo_read_only(root / "crm.sqlite")


@case("target_read_only", 1, [r"the SQLite target .*crm\.sqlite is read-only for this user"], undo=_mutable)
def _(root, db):
    csv_file(root / "customers.csv", HEADER, rows(2))
    sqlite_db(root / "crm.sqlite", "CREATE TABLE unrelated (x INTEGER)")
    assert make_read_only(root / "crm.sqlite"), "cannot make a file read-only here"
    return project(root, [csv_source()], target_url=f"sqlite:///{root / 'crm.sqlite'}")


@case("target_postgresql_table_with_other_columns", 1, [r"column crm_account\.status is INTEGER in the target",
                                                        r"column crm_account\.legacy_flag is NOT NULL without a default"], needs=("postgresql",))
def _(root, db):
    import sqlalchemy as sa

    engine = sa.create_engine(db["postgresql"])
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE crm_account (external_id varchar(40) PRIMARY KEY, account_name varchar(200), uscc varchar(18), "
                             "phone varchar(40), other_phones varchar(200), email varchar(120), address varchar(300), province varchar(30), "
                             "city varchar(30), district varchar(30), industry varchar(10), owner varchar(60), status integer, "
                             "created_at timestamp, updated_at timestamp, legacy_flag integer NOT NULL)")
    engine.dispose()
    csv_file(root / "customers.csv", HEADER, rows(2))
    return project(root, [csv_source()], target_url=db["postgresql"])


@case("target_locked_by_another_run", 5, [r"the target is locked by run 20261201T080000000Z-other \(pid \d+ on ", r"waited 1 s"],
      hold_lock=True)
def _(root, db):
    csv_file(root / "customers.csv", HEADER, rows(2))
    return project(root, [csv_source()], target={"url": f"sqlite:///{root / 'crm.sqlite'}", "lock_wait_seconds": 1,
                                                  "mapping": str(ROOT / "mappings" / "target_crm.yaml")})


@case("target_unreachable", 1, [r"cannot connect to the target postgresql\+psycopg://crm:\*\*\*@127\.0\.0\.1:1/crm"], private=["Hunter2Secret"])
def _(root, db):
    csv_file(root / "customers.csv", HEADER, rows(2))
    return project(root, [csv_source()], target_url="postgresql+psycopg://crm:Hunter2Secret@127.0.0.1:1/crm")


@case("target_check_finds_a_mariadb_table_too_narrow", 1, [r"column crm_account\.phone is VARCHAR\(11\) in the target, shorter"],
      needs=("mysql",), command="check")
def _(root, db):
    import sqlalchemy as sa

    engine = sa.create_engine(db["mysql"])
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE crm_account (external_id varchar(40) PRIMARY KEY, account_name varchar(200), uscc varchar(18), "
                             "phone varchar(11), other_phones varchar(200), email varchar(120), address varchar(300), province varchar(30), "
                             "city varchar(30), district varchar(30), industry varchar(10), owner varchar(60), status varchar(20), "
                             "created_at datetime, updated_at datetime)")
    engine.dispose()
    csv_file(root / "customers.csv", HEADER, rows(2))
    return project(root, [csv_source()], target_url=db["mysql"])


# ---- the config ----------------------------------------------------------------------------------

@case("config_yaml_broken", 2, [r"config\.yaml: invalid YAML at line \d+, column \d+"])
def _(root, db):
    (root / "config.yaml").write_text("sources:\n  - name: [unclosed\n", encoding="utf-8")
    return root / "config.yaml"


@case("config_unknown_key", 2, [r"config\.yaml:\d+: sources\[0\]\.sheeet: Extra inputs are not permitted"])
def _(root, db):
    csv_file(root / "customers.csv", HEADER, rows(1))
    return project(root, [csv_source(sheeet="客户")])


@case("config_environment_variable_missing", 2, [r"environment variable CRM_TRIAL_PASSWORD_UNSET is not set"])
def _(root, db):
    csv_file(root / "customers.csv", HEADER, rows(1))
    return project(root, [csv_source()], target_url="postgresql+psycopg://crm:${CRM_TRIAL_PASSWORD_UNSET}@127.0.0.1/crm")


@case("mapping_names_a_field_that_does_not_exist", 2, [r"customer\.yaml:\d+: .*'telephone' is not a canonical customer field"])
def _(root, db):
    csv_file(root / "customers.csv", HEADER, rows(1))
    return project(root, [csv_source()], mappings={"customer": {"entity": "customer", "columns": {"name": "客户名称", "telephone": "联系电话"}}})
