import hashlib
import sqlite3

import polars as pl

from data_samples.generate import generate


def digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.suffix != ".sqlite"}


def test_generator_is_deterministic_and_realistic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    stats = generate(300, 11, a)
    generate(300, 11, b)
    assert digest(a) == digest(b)
    rows_a = sqlite3.connect(a / "legacy_crm.sqlite").execute("SELECT * FROM t_customer ORDER BY cust_id").fetchall()
    rows_b = sqlite3.connect(b / "legacy_crm.sqlite").execute("SELECT * FROM t_customer ORDER BY cust_id").fetchall()
    assert rows_a == rows_b
    truth = pl.read_csv(a / "truth_customers.csv", schema_overrides={"source_key": pl.String})
    per_entity = truth.group_by("entity_id").len()
    share_multi = per_entity.filter(pl.col("len") > 1).height / per_entity.height
    assert 0.2 < share_multi < 0.4  # about 30% of companies in two or more sources
    assert truth.filter(pl.col("head_office_entity_id").is_not_null()).height > 0  # branch offices exist
    assert stats["companies"] == 300
    assert (a / "erp_export.csv").read_bytes().decode("gbk").startswith("单位编码")
