"""Round trip: random values of every type written to a real workbook and a real table, extracted,
compared cell by cell. The extracted text must parse back to exactly the value written."""
from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
import xlsxwriter
from hypothesis import HealthCheck, given, settings, strategies as st

from extractors import extract_source
from pipelines.config import SourceConfig

TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Co", "Cn"), max_codepoint=0xFFFF), min_size=1, max_size=30).filter(lambda s: s.strip() != "")
DATES = st.dates(min_value=date(1901, 1, 1), max_value=date(2099, 12, 31))
DATETIMES = st.datetimes(min_value=datetime(1901, 1, 1), max_value=datetime(2099, 12, 31)).map(lambda d: d.replace(microsecond=0))
EXCEL = {
    "text": TEXT,
    "code": st.from_regex(r"0[0-9]{3,17}", fullmatch=True),  # codes with leading zeros, typed as text
    "integer": st.integers(min_value=-(2**53), max_value=2**53),
    "float": st.floats(allow_nan=False, allow_infinity=False, width=64),
    "boolean": st.booleans(),
    "date": DATES,
    "datetime": DATETIMES,
}
SQL = {
    "text": TEXT,
    "integer": st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1),
    "amount": st.decimals(min_value=Decimal("-99999999999999.999999"), max_value=Decimal("99999999999999.999999"), places=6, allow_nan=False),
    "float": st.floats(allow_nan=False, allow_infinity=False, width=64),
    "boolean": st.booleans(),
    "date": DATES,
    "datetime": DATETIMES,
}


def stored(value: float) -> float:
    """What a workbook holds for a float: xlsxwriter and openpyxl both write 16 significant digits."""
    return float(f"{value:.16g}")


def same(kind: str, text: str | None, value) -> bool:
    if value is None:
        return text is None
    if text is None:
        return False
    if kind in ("text", "code"):
        return text == value
    if kind == "integer":
        return int(text) == value
    if kind == "float":
        return float(text) == value
    if kind == "amount":
        return Decimal(text) == value
    if kind == "boolean":
        return text in ("true", "1") if value else text in ("false", "0")
    if kind == "date":
        return date.fromisoformat(text[:10]) == value and text[10:] in ("", " 00:00:00")
    return datetime.fromisoformat(text) == value


def rows_of(kinds):
    return st.lists(st.fixed_dictionaries({k: st.none() | s for k, s in kinds.items()}), min_size=1, max_size=25)


def mixed():
    """One column holding every type at once, as hand-kept workbooks do."""
    return st.one_of(*[s.map(lambda v, k=k: (k, v)) for k, s in EXCEL.items()])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows_of(EXCEL), mixed_values=st.lists(mixed(), min_size=25, max_size=25))
def test_workbook_round_trip(tmp_path_factory, rows, mixed_values):
    path = tmp_path_factory.mktemp("rt") / "rt.xlsx"
    wb = xlsxwriter.Workbook(path, {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False})
    ws = wb.add_worksheet("S")
    fmt_date, fmt_dt = wb.add_format({"num_format": "yyyy-mm-dd"}), wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    kinds = list(EXCEL) + ["mixed"]
    ws.write_row(0, 0, ["key"] + kinds)

    def put(r, c, kind, v):
        if v is None:
            return
        if kind in ("text", "code"):
            ws.write_string(r, c, v)
        elif kind in ("integer", "float"):
            ws.write_number(r, c, v)  # stored as "%.16g": the file holds stored(v)
        elif kind == "boolean":
            ws.write_boolean(r, c, v)
        elif kind == "date":
            ws.write_datetime(r, c, datetime(v.year, v.month, v.day), fmt_date)
        else:
            ws.write_datetime(r, c, v, fmt_dt)

    for i, row in enumerate(rows, start=1):
        ws.write_number(i, 0, i)
        for c, kind in enumerate(EXCEL, start=1):
            put(i, c, kind, row[kind])
        put(i, len(kinds), *mixed_values[i - 1])
    wb.close()
    src = SourceConfig.model_validate({"name": "rt", "kind": "excel", "entity": "customer", "mapping": "m.yaml", "path": str(path), "header_row": 1, "key": "key"})
    frame = extract_source(src, ["key"]).frame.sort("_row")
    assert frame.height == len(rows)
    diffs = []
    for i, (row, got) in enumerate(zip(rows, frame.iter_rows(named=True)), start=1):
        for kind in EXCEL:
            expected = stored(row[kind]) if kind == "float" and row[kind] is not None else row[kind]
            if not same(kind, got.get(kind), expected):
                diffs.append((i, kind, expected, got.get(kind)))
        kind, value = mixed_values[i - 1]
        value = stored(value) if kind == "float" else value
        if not same(kind, got.get("mixed"), value):
            diffs.append((i, "mixed", value, got.get("mixed")))
    assert diffs == []


@pytest.mark.parametrize("db, reader", [("sqlite", "auto"), ("sqlite", "dbapi"), ("postgresql", "auto"), ("postgresql", "dbapi"), ("mysql", "auto")])
def test_table_round_trip(db, reader, request, tmp_path_factory):
    """`auto` reads SQLite and PostgreSQL through ADBC; `dbapi` through the Python driver."""
    url = f"sqlite:///{tmp_path_factory.mktemp('rt') / 'rt.sqlite'}" if db == "sqlite" else request.getfixturevalue("pg_url" if db == "postgresql" else "mysql_url")

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(rows=rows_of(SQL))
    def check(rows):
        engine = sa.create_engine(url)
        md = sa.MetaData()
        table = sa.Table("rt_values", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("text", sa.String(200)),
                         sa.Column("integer", sa.BigInteger), sa.Column("amount", sa.Numeric(20, 6)),
                         sa.Column("float", sa.Double), sa.Column("boolean", sa.Boolean), sa.Column("date", sa.Date),
                         sa.Column("datetime", sa.DateTime))
        md.drop_all(engine)
        md.create_all(engine)
        with engine.begin() as conn:
            conn.execute(table.insert(), [{"id": i, **r} for i, r in enumerate(rows, start=1)])
        engine.dispose()
        src = SourceConfig.model_validate({"name": "rt", "kind": "sql", "entity": "customer", "mapping": "m.yaml", "url": url,
                                           "table": "rt_values", "key": "id", "chunk_size": 100, "repair_mojibake": False, "reader": reader})
        extracted = extract_source(src, ["text"])
        assert ("read through ADBC (Arrow)" in extracted.notes) == (reader == "auto" and db != "mysql")
        frame = extracted.frame
        got = {int(r["id"]): r for r in frame.iter_rows(named=True)}
        def expected(kind, value):  # SQLite has no exact decimal type: NUMERIC values are stored as doubles
            return Decimal(repr(float(value))) if db == "sqlite" and kind == "amount" and value is not None else value

        diffs = [(i, kind, expected(kind, row[kind]), got[i][kind]) for i, row in enumerate(rows, start=1)
                 for kind in SQL if not same(kind, got[i][kind], expected(kind, row[kind]))]
        assert diffs == []

    check()
