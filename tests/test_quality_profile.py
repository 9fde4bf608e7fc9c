"""The quality profile on frames with known answers."""
from datetime import date, datetime
from decimal import Decimal

import polars as pl
import pytest

from crm_migrate.contracts import SOURCE_KEY
from reports.charts import column_bars, paired_bars
from transforms.quality_profile import field_profile, source_profile, timeliness, uniqueness

RAW = pl.DataFrame({
    SOURCE_KEY: ["1", "2", "2", "4"],
    "税号": ["91350100M000100Y43", "９１３５０１００Ｍ０００１００Ｙ４３", "无", None],
    "电话": ["13812345678", "0755-2612 3456", "  ", "12345"],
    "邮箱": ["a@b.com", "a@@b.com", "A@B.COM", "a@b.com"],
    "建档": ["2024-01-05", "2024.1.5", "2024年1月5日", "N/A"],
})
CANONICAL = pl.DataFrame({
    SOURCE_KEY: ["1", "2", "2", "4"],
    "credit_code": ["91350100M000100Y43", "91350100M000100Y43", None, None],
    "phone": ["+8613812345678", "+867552612345", None, "12345"],
    "email": ["a@b.com", "a@@b.com", "a@b.com", "a@b.com"],
    "created_at": [datetime(2024, 1, 5), datetime(2024, 1, 5), datetime(2024, 1, 5), None],
})
COLUMNS = {"credit_code": "税号", "phone": "电话", "email": "邮箱", "created_at": "建档"}


def by_field(rows):
    return {r["field"]: r for r in rows}


def test_completeness_and_validity_before_and_after():
    f = by_field(field_profile(RAW, CANONICAL, COLUMNS))
    code = f["credit_code"]
    assert (code["completeness_before"], code["completeness_after"]) == (0.75, 0.5)  # 无 is no code
    assert code["validity_before"] == pytest.approx(1 / 3) and code["validity_after"] == pytest.approx(2 / 3)  # full-width repaired
    phone = f["phone"]
    assert phone["completeness_before"] == 0.75  # blank is missing
    assert phone["validity_before"] == pytest.approx(1 / 3) and phone["validity_after"] == pytest.approx(2 / 3)
    email = f["email"]
    assert email["validity_before"] == 0.75 and email["validity_after"] == 0.75
    created = f["created_at"]
    assert created["validity_before"] == 0.25 and created["validity_after"] == 0.75  # N/A could not be read


def test_uniqueness_counts_repeated_keys_and_identical_records():
    u = uniqueness(RAW, CANONICAL, COLUMNS)
    assert u["duplicate_key_rate"] == 0.5
    assert u["duplicate_record_rate_before"] == 0.0
    same = CANONICAL.with_columns(pl.lit("x@y.com").alias("email"), pl.lit(None, dtype=pl.String).alias("phone"), pl.lit(None, dtype=pl.String).alias("credit_code"))
    assert uniqueness(RAW, same, COLUMNS)["duplicate_record_rate_after"] == 0.75


def test_timeliness_buckets_on_the_reference_day():
    frame = pl.DataFrame({"created_at": [datetime(2024, 6, 1), datetime(2020, 1, 1), datetime(2018, 1, 1), None, datetime(2024, 1, 1)],
                          "updated_at": [None, datetime(2023, 12, 1), None, None, datetime(2025, 1, 1)]})
    t = timeliness(frame, date(2024, 7, 1), 3)
    assert t["dated"] == 4 and t["records"] == 5
    assert t["buckets"] == {"< 1 year": 3, "1-2 years": 0, "2-3 years": 0, "3-5 years": 0, "5+ years": 1}  # 2025: after the day, recent
    assert t["stale_share"] == 0.25


def test_a_source_profile_is_counts_only_and_charts_render():
    p = source_profile("crm", "customer", RAW, CANONICAL, COLUMNS, date(2024, 7, 1), 3)
    text = str(p)
    assert "13812345678" not in text and "a@b.com" not in text  # no values: safe in any report
    svg = paired_bars("Validity", [(r["field"], r["validity_before"], r["validity_after"]) for r in p["fields"]])
    assert svg.startswith("<svg") and svg.count("<rect") >= 8 and "credit_code" in svg
    assert column_bars("Age", p["timeliness"]["buckets"]).startswith("<svg")
    assert paired_bars("empty", []) == "" and column_bars("none", {"a": 0}) == ""
