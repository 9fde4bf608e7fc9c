from datetime import date, datetime
from decimal import Decimal

import polars as pl
import pytest
import sqlalchemy as sa

from loaders.schema import target_table
from tests.helpers import sqlite_db
from loaders.target import target_session
from loaders.upsert import read_table, upsert
from transforms.mapping import ColumnSpec

COLUMNS = [ColumnSpec("external_id", "target_id", "string", 40, required=True), ColumnSpec("name", "name", "string", 100),
           ColumnSpec("amount", "amount", "decimal", precision=18, scale=2), ColumnSpec("close", "c", "date"),
           ColumnSpec("at", "a", "datetime")]
SCHEMA = {"external_id": pl.String, "name": pl.String, "amount": pl.Decimal(18, 2), "close": pl.Date, "at": pl.Datetime("us")}


def frame(names, amounts):
    n = len(names)
    return pl.DataFrame({"external_id": [f"K{i}" for i in range(n)], "name": names, "amount": [Decimal(a) for a in amounts],
                         "close": [date(2024, 1, i + 1) for i in range(n)], "at": [datetime(2024, 1, 1, 8, i) for i in range(n)]},
                        schema=SCHEMA)


def load(url, df, dry_run=False):
    table = target_table(sa.MetaData(), "crm_thing", "external_id", COLUMNS)
    with target_session(url, [table], dry_run) as conn:
        return upsert(conn, table, df, "external_id", batch_size=2)[0]


def rows(url):
    engine = sa.create_engine(url)
    try:
        if not sa.inspect(engine).has_table("crm_thing"):
            return None
        with engine.connect() as conn:
            return read_table(conn, sa.Table("crm_thing", sa.MetaData(), autoload_with=conn), SCHEMA).sort("external_id")
    finally:
        engine.dispose()


def test_dry_run_on_empty_target_leaves_no_table(any_db_url):
    res = load(any_db_url, frame(["深圳市腾飞", "广州华鑫", "x"], ["1.10", "2", "3"]), dry_run=True)
    assert (res.inserted, res.updated, res.unchanged) == (3, 0, 0)
    assert rows(any_db_url) is None


def test_upsert_is_idempotent_and_updates_only_changes(any_db_url):
    first = frame(["深圳市腾飞", "广州华鑫", "x"], ["1.10", "2", "12345678901.99"])
    assert vars(load(any_db_url, first)) == {"table": "crm_thing", "inserted": 3, "updated": 0, "unchanged": 3 - 3}
    assert rows(any_db_url).equals(first)
    assert vars(load(any_db_url, first))["unchanged"] == 3  # a re-run changes nothing
    second = frame(["深圳市腾飞", "广州华鑫（改名）", "x", "new"], ["1.10", "2", "12345678901.99", "4"])
    res = load(any_db_url, second)
    assert (res.inserted, res.updated, res.unchanged) == (1, 1, 2)
    assert rows(any_db_url).equals(second)


def test_dry_run_on_existing_target_changes_nothing(any_db_url):
    first = frame(["a", "b"], ["1", "2"])
    load(any_db_url, first)
    res = load(any_db_url, frame(["a", "CHANGED", "c"], ["1", "2", "3"]), dry_run=True)
    assert (res.inserted, res.updated) == (1, 1)
    assert rows(any_db_url).equals(first)


def test_abandon_rolls_the_session_back_without_failing(any_db_url):
    from loaders.target import Abandon

    first = frame(["a"], ["1"])
    load(any_db_url, first)
    table = target_table(sa.MetaData(), "crm_thing", "external_id", COLUMNS)
    with target_session(any_db_url, [table], dry_run=False) as conn:
        upsert(conn, table, frame(["CHANGED", "b"], ["9", "2"]), "external_id", batch_size=10)
        raise Abandon
    assert rows(any_db_url).equals(first)


def test_a_failure_inside_the_session_rolls_back_and_propagates(any_db_url):
    first = frame(["a"], ["1"])
    load(any_db_url, first)
    table = target_table(sa.MetaData(), "crm_thing", "external_id", COLUMNS)
    with pytest.raises(KeyError):
        with target_session(any_db_url, [table], dry_run=False) as conn:
            upsert(conn, table, frame(["CHANGED"], ["9"]), "external_id", batch_size=10)
            raise KeyError("stop")
    assert rows(any_db_url).equals(first)


def test_a_refused_write_is_a_clear_error_without_the_values(any_db_url):
    from crm_migrate.errors import MigrationError

    load(any_db_url, frame(["深圳市腾飞"], ["1"]))
    table = target_table(sa.MetaData(), "crm_thing", "external_id", COLUMNS)
    with pytest.raises(MigrationError) as info:
        with target_session(any_db_url, [table], dry_run=False) as conn:
            conn.execute(table.insert(), [{"external_id": "K0", "name": "深圳市腾飞秘密客户", "amount": Decimal("1")}])  # the key exists
    text = info.value.describe()
    assert text.startswith(f"{mask(any_db_url)}: the target refused a write:") and "rolled back" in text
    assert "深圳市腾飞秘密客户" not in text and "[parameters" not in text and "INSERT" not in text
    assert rows(any_db_url)["name"].to_list() == ["深圳市腾飞"]


def test_a_committed_run_creates_missing_tables_and_a_dry_run_leaves_none(any_db_url):
    table = target_table(sa.MetaData(), "crm_other", "external_id", COLUMNS[:2])
    with target_session(any_db_url, [table], dry_run=True) as conn:
        conn.execute(table.insert(), [{"external_id": "K1", "name": "x"}])
    engine = sa.create_engine(any_db_url)
    assert not sa.inspect(engine).has_table("crm_other")
    with target_session(any_db_url, [table], dry_run=False) as conn:
        conn.execute(table.insert(), [{"external_id": "K1", "name": "x"}])
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT name FROM crm_other")).scalars().all() == ["x"]
    engine.dispose()


def test_a_bad_target_url_and_an_unreachable_server_are_clear_errors():
    from crm_migrate.errors import MigrationError
    from loaders.target import connect_target, make_engine

    with pytest.raises(MigrationError, match="invalid target URL nosuchdb://u:\\*\\*\\*@h/x"):
        make_engine("nosuchdb://u:pw123@h/x")
    url = "postgresql+psycopg://crm:Pw123456@127.0.0.1:1/crm"
    with pytest.raises(MigrationError) as info:
        connect_target(make_engine(url), url)
    assert "cannot connect to the target postgresql+psycopg://crm:***@127.0.0.1:1/crm" in info.value.describe()
    assert "Pw123456" not in info.value.describe() and "check target.url" in info.value.describe()


def mask(url):
    from crm_migrate.secrets import mask_url

    return mask_url(url)


def test_the_target_engine_never_echoes_statement_values(any_db_url):
    from loaders.target import make_engine

    load(any_db_url, frame(["深圳市腾飞"], ["1"]))
    engine = make_engine(any_db_url)
    table = target_table(sa.MetaData(), "crm_thing", "external_id", COLUMNS)
    try:
        with engine.begin() as conn:
            conn.execute(table.insert(), [{"external_id": "K0", "name": "深圳市秘密客户有限公司", "amount": Decimal("1")}])
    except sa.exc.DBAPIError as exc:
        text = str(exc)
    else:
        raise AssertionError("the duplicate key was accepted")
    finally:
        engine.dispose()
    assert "深圳市秘密客户有限公司" not in text and "hidden due to hide_parameters" in text


def test_tables_that_cannot_be_created_are_a_clear_error(tmp_path):
    from crm_migrate.errors import MigrationError

    url = sqlite_db(tmp_path / "t.sqlite", "CREATE VIEW crm_thing AS SELECT 1 AS x")  # a view holds the name: no table
    table = target_table(sa.MetaData(), "crm_thing", "external_id", COLUMNS)
    with pytest.raises(MigrationError, match="cannot create the target tables: .*crm_thing") as info:
        with target_session(url, [table], dry_run=False):
            pass
    assert "grant the user CREATE" in info.value.describe()


def test_a_new_sqlite_file_is_told_apart_and_an_empty_one_removed(tmp_path):
    from loaders.target import new_sqlite_file, remove_if_empty

    missing = tmp_path / "new.sqlite"
    assert new_sqlite_file(f"sqlite:///{missing}") == missing
    assert new_sqlite_file("sqlite://") is None and new_sqlite_file("sqlite:///:memory:") is None
    assert new_sqlite_file(f"sqlite:///file:{missing}?mode=ro&uri=true") is None
    assert new_sqlite_file("postgresql+psycopg://u@h/db") is None
    existing = tmp_path / "old.sqlite"
    existing.write_bytes(b"")
    assert new_sqlite_file(f"sqlite:///{existing}") is None

    engine = sa.create_engine(f"sqlite:///{missing}")
    with engine.connect():
        pass
    engine.dispose()
    (tmp_path / "new.sqlite.crm-migrate.lock").write_text("")
    remove_if_empty(missing)
    assert not missing.exists() and not (tmp_path / "new.sqlite.crm-migrate.lock").exists()
    kept = tmp_path / "kept.sqlite"
    sqlite_db(kept, "CREATE TABLE t (x INTEGER)")
    remove_if_empty(kept)
    assert kept.exists()
    remove_if_empty(tmp_path / "never.sqlite")  # nothing there: nothing to do


def test_bulk_paths_write_and_read_back_every_type_exactly(any_db_url):
    """Rows written by the engine's bulk path read back equal through the load's own connection and
    through the Arrow one, whatever the type: text with quotes, commas, newlines, an empty string and
    a literal \\N, decimals, dates, datetimes with microseconds, booleans, missing values."""
    from datetime import date, datetime
    from decimal import Decimal

    from loaders.bulk import insert_rows, read_rows, update_rows
    from loaders.schema import target_table
    from loaders.target import make_engine
    from transforms.mapping import ColumnSpec

    cols = [ColumnSpec("k", "k", "string", 20, None, None, True, None, None), ColumnSpec("s", "s", "string", 60, None, None, False, None, None),
            ColumnSpec("d", "d", "decimal", None, 18, 2, False, None, None), ColumnSpec("day", "day", "date", None, None, None, False, None, None),
            ColumnSpec("at", "at", "datetime", None, None, None, False, None, None), ColumnSpec("b", "b", "boolean", None, None, None, False, None, None)]
    md = sa.MetaData()
    table = target_table(md, "bulk_types", "k", cols)
    frame = pl.DataFrame({
        "k": ["a", "b", "c", "d"],
        "s": ['他说"好",再见', "line1\nline2\x1f", "", "\\N"],  # \x1f: the MySQL joined read falls back
        "d": [Decimal("12345678.90"), Decimal("-0.01"), None, Decimal("0.00")],
        "day": [date(2024, 2, 29), None, date(1999, 12, 31), date(2025, 1, 1)],
        "at": [datetime(2024, 2, 29, 9, 30, 1, 123456), datetime(2020, 1, 1), None, datetime(2025, 6, 30, 23, 59, 59)],
        "b": [True, False, None, True],
    }, schema_overrides={"d": pl.Decimal(18, 2), "at": pl.Datetime("us")})
    engine = make_engine(any_db_url)
    md.create_all(engine)
    with engine.begin() as conn:
        insert_rows(conn, table, frame, 2)
    with engine.begin() as conn:
        for before_writes in (True, False):
            assert read_rows(conn, table, frame.schema, before_writes).sort("k").equals(frame), before_writes
        changed = frame.filter(pl.col("k") == "b").with_columns(pl.lit("换了").alias("s"), pl.lit(None, dtype=pl.Decimal(18, 2)).alias("d"))
        update_rows(conn, table, changed, "k", 2)
        got = read_rows(conn, table, frame.schema).sort("k")
    assert got.filter(pl.col("k") == "b").row(0) == changed.row(0) and got.filter(pl.col("k") != "b").equals(frame.filter(pl.col("k") != "b"))
    engine.dispose()
