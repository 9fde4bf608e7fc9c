"""SQL sources on real SQLite, PostgreSQL and MariaDB: incremental watermarks, garbled text, keys."""
from datetime import datetime

import pymysql
import pytest
import sqlalchemy as sa

from crm_migrate.errors import MigrationError
from extractors import extract_source
from pipelines.config import SourceConfig
from tests.helpers import sqlite_db


def source(url, **kw):
    return SourceConfig.model_validate({"name": "crm", "kind": "sql", "entity": "customer", "mapping": "m.yaml", "url": url,
                                        "table": "t_customer", "key": "id", "chunk_size": 100} | kw)


def make_table(url, rows):
    engine = sa.create_engine(url)
    md = sa.MetaData()
    t = sa.Table("t_customer", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(100)),
                 sa.Column("updated", sa.DateTime))
    md.drop_all(engine)
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(t.insert(), rows)
    engine.dispose()


def test_incremental_extraction_reads_only_rows_after_the_watermark(any_db_url):
    make_table(any_db_url, [{"id": i, "name": f"公司{i}", "updated": datetime(2024, 1, i)} for i in range(1, 6)])
    first = extract_source(source(any_db_url, watermark="updated"), ["name"])
    assert first.frame.height == 5 and datetime.fromisoformat(first.watermark) == datetime(2024, 1, 5)
    later = extract_source(source(any_db_url, watermark="updated"), ["name"], since=first.watermark.replace("05", "03"))
    assert sorted(later.frame["_source_key"].to_list()) == ["4", "5"]
    assert later.notes[0].startswith("incremental: rows with updated > 2024-01-03")


def test_incremental_query_source(any_db_url):
    make_table(any_db_url, [{"id": i, "name": f"公司{i}", "updated": datetime(2024, 1, i, 12)} for i in range(1, 4)])
    src = source(any_db_url, table=None, query="SELECT id, name, updated FROM t_customer", watermark="id")
    x = extract_source(src, ["name"], since="2")
    assert x.frame["name"].to_list() == ["公司3"] and x.watermark == "3"


def test_repeated_keys_are_kept_and_flagged(tmp_path):
    url = sqlite_db(tmp_path / "k.sqlite", "CREATE TABLE t_customer (id TEXT, name TEXT)",
                    "INSERT INTO t_customer VALUES ('A1','腾飞'),('A1','腾飞科技'),('B2','华鑫')")
    x = extract_source(source(url), ["name"])
    assert x.frame.height == 3
    assert x.frame["_flags"].to_list() == [["duplicate_source_key"], ["duplicate_source_key"], []]
    assert "2 records share a key" in x.notes[-1]


def test_gbk_bytes_in_a_mariadb_latin1_column_are_repaired(mysql_url):
    u = sa.make_url(mysql_url)
    raw = pymysql.connect(host=u.host, port=u.port or 3306, user=u.username, password=u.password or "", database=u.database, charset="latin1")
    with raw.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS t_customer")
        cur.execute("CREATE TABLE t_customer (id INT PRIMARY KEY, name VARCHAR(100) CHARACTER SET latin1, city VARCHAR(50) CHARACTER SET latin1)")
        # How a legacy GBK application wrote through a latin1 connection: the bytes land unchanged.
        for i, (name, city) in enumerate([("深圳市腾飞电子科技有限公司", "深圳"), ("广州市华鑫贸易有限公司", "广州"), ("Müller GmbH", "Köln")], 1):
            cur.execute("INSERT INTO t_customer VALUES (%s, %s, %s)",
                        (i, name.encode("gbk").decode("latin1") if i < 3 else name, city.encode("gbk").decode("latin1") if i < 3 else city))
    raw.commit()
    raw.close()
    x = extract_source(source(mysql_url), ["name"])
    f = x.frame.sort("_row")
    assert f["name"].to_list() == ["深圳市腾飞电子科技有限公司", "广州市华鑫贸易有限公司", "Müller GmbH"]
    assert f["city"].to_list() == ["深圳", "广州", "Köln"]
    assert f["_flags"].to_list()[0] == ["mojibake_repaired:name", "mojibake_repaired:city"]
    assert f["_flags"].to_list()[2] == []
    assert any("column 'name': 2 garbled values repaired" in n for n in x.notes)


def test_permission_denied_says_what_to_grant(pg_url):
    admin = sa.create_engine(pg_url)
    with admin.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t_secret (id INT, name TEXT)")
        conn.exec_driver_sql("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'crm_reader') THEN CREATE ROLE crm_reader LOGIN PASSWORD 'Rd3r-pw'; END IF; END $$")
        conn.exec_driver_sql("REVOKE ALL ON t_secret FROM crm_reader")
    admin.dispose()
    reader = sa.make_url(pg_url).set(username="crm_reader", password="Rd3r-pw").render_as_string(hide_password=False)
    with pytest.raises(MigrationError) as info:
        extract_source(source(reader, table="t_secret", key=None), ["name"])
    text = info.value.describe()
    assert "permission denied" in text and "grant SELECT" in text and "Rd3r-pw" not in text


def test_a_source_query_runs_in_a_read_only_transaction(pg_url):
    make_table(pg_url, [{"id": 1, "name": "深圳市腾飞", "updated": datetime(2024, 1, 1)}])
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE SEQUENCE IF NOT EXISTS crm_probe_seq")
    engine.dispose()
    with pytest.raises(MigrationError, match="reading failed: cannot execute nextval\\(\\) in a read-only transaction"):
        extract_source(source(pg_url, table=None, query="SELECT t.*, nextval('crm_probe_seq') AS n FROM t_customer t"), ["name"])
    with pytest.raises(MigrationError, match="data-modifying statement"):  # a DELETE hidden in a CTE never runs either
        extract_source(source(pg_url, table=None, query="WITH gone AS (DELETE FROM t_customer RETURNING *) SELECT * FROM gone"), ["name"])
    x = extract_source(source(pg_url, table=None, query="SELECT * FROM t_customer"), ["name"])
    assert x.frame["name"].to_list() == ["深圳市腾飞"] and x.physical.total == 1 and x.physical.balanced()


def test_a_missing_sqlite_source_is_an_error_and_is_never_created(tmp_path):
    path = tmp_path / "legacy.sqlite"
    with pytest.raises(MigrationError, match="the SQLite database file does not exist"):
        extract_source(source(f"sqlite:///{path}"), ["name"])
    assert not path.exists()
