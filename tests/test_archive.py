"""The stale-record rule: inactive and untouched for N days before the reference date."""
from datetime import date, datetime

import polars as pl

from transforms.archive import ARCHIVE_REASON, mark_stale


def frame(rows):
    return pl.DataFrame(rows, schema={"status": pl.String, "updated_at": pl.Datetime("us"), "created_at": pl.Datetime("us")}, orient="row")


def test_inactive_and_untouched_since_the_cutoff_is_stale():
    as_of = date(2024, 7, 1)  # cutoff 1095 days before: 2021-07-02
    df = frame([("inactive", datetime(2021, 7, 1), None),  # a day before the cutoff: stale
                ("inactive", datetime(2021, 7, 2), None),  # exactly the cutoff: not stale
                ("inactive", datetime(2021, 7, 3), None),
                ("active", datetime(2015, 1, 1), None),  # old but active
                ("inactive", None, datetime(2018, 1, 1)),  # never updated: its creation counts
                ("inactive", None, None),  # no dates: not stale (no evidence)
                (None, datetime(2015, 1, 1), None),
                ("closed", datetime(2015, 1, 1), None)])  # another inactive status
    out = mark_stale(df, ["inactive", "closed"], 1095, as_of)
    assert out[ARCHIVE_REASON].is_not_null().to_list() == [True, False, False, False, True, False, False, True]
    assert out[ARCHIVE_REASON][0] == "stale: status inactive and not updated since 2021-07-01 (rule: inactive and no update for 1095 days)"
    assert out[ARCHIVE_REASON][4] == "stale: status inactive and not updated since 2018-01-01 (rule: inactive and no update for 1095 days)"


def test_the_window_and_the_statuses_are_the_configured_ones():
    df = frame([("inactive", datetime(2024, 6, 1), None), ("dormant", datetime(2024, 6, 1), None)])
    assert mark_stale(df, ["inactive"], 10, date(2024, 7, 1))[ARCHIVE_REASON].is_not_null().to_list() == [True, False]
    assert mark_stale(df, ["inactive"], 40, date(2024, 7, 1))[ARCHIVE_REASON].is_not_null().to_list() == [False, False]
    assert mark_stale(df, ["dormant"], 0, date(2024, 7, 1))[ARCHIVE_REASON].is_not_null().to_list() == [False, True]
