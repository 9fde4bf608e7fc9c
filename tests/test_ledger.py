import polars as pl

from crm_migrate.contracts import LEDGER_COLUMNS
from transforms.ledger import accounting, build_ledger


def ledger(rows):
    df = pl.DataFrame(rows, schema={"_source": pl.String, "_source_key": pl.String, "_row": pl.Int64, "disposition": pl.String,
                                    "target_id": pl.String, "reason": pl.String, "_flags": pl.List(pl.String)}, orient="row")
    return build_ledger("run1", "customer", df)


def test_ledger_has_the_contract_columns_and_joined_flags():
    led = ledger([("s", "1", 2, "loaded", "CUS-1", None, ["b", "a", "a"])])
    assert tuple(led.columns) == LEDGER_COLUMNS
    assert led.row(0, named=True)["flags"] == "a;b" and led.row(0, named=True)["reason"] == ""


def test_accounting_balances_and_detects_missing_and_repeated_records():
    led = ledger([("s", "1", 2, "loaded", "C1", None, []), ("s", "2", 3, "merged", "C1", "x", []), ("s", "3", 4, "rejected", None, "y", [])])
    assert accounting({("customer", "s"): 3}, led)[0]["balanced"] is True
    short = accounting({("customer", "s"): 4}, led)[0]
    assert short["balanced"] is False and short["difference"] == 1
    twice = ledger([("s", "1", 2, "loaded", "C1", None, []), ("s", "1", 2, "merged", "C1", "x", [])])
    assert accounting({("customer", "s"): 2}, twice)[0]["repeated_records"] == 1
    assert accounting({("customer", "s"): 2}, twice)[0]["balanced"] is False


from transforms.archive import ARCHIVE_REASON  # noqa: E402
from transforms.ledger import customer_dispositions, opportunity_dispositions, visible  # noqa: E402

MEMBER_SCHEMA = {"_source": pl.String, "_source_key": pl.String, "_row": pl.Int64, "target_id": pl.String, "_survivor": pl.Boolean,
                 "_match": pl.String, "_survivor_ref": pl.String, ARCHIVE_REASON: pl.String, "_flags": pl.List(pl.String),
                 "_carried": pl.Boolean}


def members(rows):
    """rows: (key, target_id, survivor, match, stale, carried)."""
    return pl.DataFrame([("crm", k, i + 2, t, s, m, "crm:" + k if s else "crm:first", "stale: old" if st else None, [], c)
                         for i, (k, t, s, m, st, c) in enumerate(rows)], schema=MEMBER_SCHEMA, orient="row")


def test_customer_dispositions_archive_only_all_stale_clusters_without_opportunities():
    m = members([("1", "CUS-A", True, "identifier", True, False), ("2", "CUS-A", False, "identifier", True, False),  # all stale
                 ("3", "CUS-B", True, "probabilistic", True, False), ("4", "CUS-B", False, "probabilistic", False, False),  # one member fresh
                 ("5", "CUS-C", True, "none", True, False),  # stale but an opportunity points at it
                 ("6", "CUS-D", True, "identifier", False, False), ("7", "CUS-D", False, "duplicate", False, False),
                 ("8", "CUS-D", False, "identifier", False, True)])  # carried from an earlier run: not ledgered again
    rejected = pl.DataFrame({"_source": ["crm"], "_source_key": ["9"], "_row": [20], "reject_reason": ["company name is empty"],
                             "_flags": [["x"]]})
    out = customer_dispositions(m, rejected, pl.Series(["CUS-C", None]))
    got = {r["_source_key"]: (r["disposition"], r["target_id"], r["reason"]) for r in out.to_dicts()}
    assert got == {
        "1": ("archived", "CUS-A", "stale: old"), "2": ("archived", "CUS-A", "stale: old"),
        "3": ("loaded", "CUS-B", None), "4": ("merged", "CUS-B", "merged into CUS-B (match as crm:first)"),
        "5": ("loaded", "CUS-C", None),
        "6": ("loaded", "CUS-D", None), "7": ("merged", "CUS-D", "merged into CUS-D (identical record of the same source as crm:first)"),
        "9": ("rejected", None, "company name is empty"),
    }
    assert out.filter(pl.col("_source_key") == "2")["reason"].to_list() == ["stale: old"]


def test_merged_by_code_says_so():
    out = customer_dispositions(members([("1", "CUS-A", True, "identifier", False, False), ("2", "CUS-A", False, "identifier", False, False)]),
                                pl.DataFrame(schema={"_source": pl.String, "_source_key": pl.String, "_row": pl.Int64,
                                                     "reject_reason": pl.String, "_flags": pl.List(pl.String)}),
                                pl.Series([], dtype=pl.String))
    assert out["reason"].to_list() == [None, "merged into CUS-A (same credit/organization code as crm:first)"]


def test_customer_dispositions_without_carried_records():
    m = members([("1", "CUS-A", True, "identifier", False, False)]).drop("_carried")
    out = customer_dispositions(m, pl.DataFrame(schema={"_source": pl.String, "_source_key": pl.String, "_row": pl.Int64,
                                                        "reject_reason": pl.String, "_flags": pl.List(pl.String)}), pl.Series([], dtype=pl.String))
    assert out["disposition"].to_list() == ["loaded"]


def test_opportunity_dispositions_give_rejected_records_no_ids():
    opps = pl.DataFrame({
        "_source": ["o"] * 5, "_source_key": ["a", "b", "c", "d", "e"], "_row": [2, 3, 4, 5, 6],
        "reject_reason": [None, None, "amount is negative", None, None],
        "__link_reason": [None, None, None, "customer key 9 not found in source crm", None],
        "__collision_reason": [None, None, None, None, "key e of o is used by 2 records that differ"],
        "target_id": ["OPP-1", "OPP-1", "OPP-3", "OPP-4", "OPP-5"], "_survivor": [True, False, True, True, True],
        "customer_target_id": ["CUS-A", "CUS-A", "CUS-B", None, "CUS-C"], "_flags": [[], [], [], [], []],
        "__duplicate_reason": [None, "duplicate of OPP-1 (same customer and amount, similar name, close date within 45 days)", None, None, None],
    })
    out = opportunity_dispositions(opps)
    assert out.select("disposition", "target_id", "customer_target_id").rows() == [
        ("loaded", "OPP-1", "CUS-A"), ("merged", "OPP-1", "CUS-A"), ("rejected", None, None), ("rejected", None, None), ("rejected", None, None)]
    assert out["reason"].to_list() == [None, "duplicate of OPP-1 (same customer and amount, similar name, close date within 45 days)", "amount is negative",
                                       "customer key 9 not found in source crm", "key e of o is used by 2 records that differ"]


def test_accounting_per_source_and_against_the_physical_count():
    led = pl.concat([ledger([("s", "1", 2, "loaded", "C1", None, []), ("s", "2", 3, "merged", "C1", "x", [])]),
                     build_ledger("run1", "customer", pl.DataFrame(
                         [("t", "1", 2, "rejected", None, "y", []), ("t", "2", 3, "archived", "C2", "z", []), ("t", "3", 4, "loaded", "C3", None, [])],
                         schema={"_source": pl.String, "_source_key": pl.String, "_row": pl.Int64, "disposition": pl.String,
                                 "target_id": pl.String, "reason": pl.String, "_flags": pl.List(pl.String)}, orient="row"))])
    rows = accounting({("customer", "s"): 2, ("customer", "t"): 3}, led)
    assert [(r["source"], r["loaded"], r["merged"], r["rejected"], r["archived"], r["balanced"]) for r in rows] == [
        ("s", 1, 1, 0, 0, True), ("t", 1, 0, 1, 1, True)]
    over = accounting({("customer", "s"): 1, ("customer", "t"): 3}, led)[0]  # more ledger rows than records
    assert over["balanced"] is False and over["difference"] == -1
    short = accounting({("customer", "s"): 7}, led)[0]
    assert short["difference"] == 5 and short["ledgered"] == 2
    ok = {"unit": "lines", "total": 3, "records": 2, "balanced": True}
    assert accounting({("customer", "s"): 2}, led, {"s": ok})[0]["balanced"] is True
    assert accounting({("customer", "s"): 2}, led, {"s": ok | {"balanced": False}})[0]["balanced"] is False
    assert accounting({("customer", "s"): 2}, led, {"s": ok | {"records": 3}})[0]["balanced"] is False
    assert accounting({("customer", "s"): 2}, led, {"s": ok | {"records": 1}})[0]["balanced"] is False
    assert accounting({("customer", "s"): 2}, led, {"other": ok | {"balanced": False}})[0]["balanced"] is True


def test_ledger_text_never_holds_control_characters():
    led = ledger([("s", "K\x001", 2, "rejected", None, "bad\u202evalue", ["unknown_stage:x\x07"])])
    row = led.row(0, named=True)
    assert (row["source_key"], row["reason"], row["flags"]) == ("K\ufffd1", "bad\ufffdvalue", "control_characters:source_key;unknown_stage:x\ufffd")
    assert pl.select(visible(pl.lit("正常"))).item() == "正常"


def test_a_record_twice_in_one_source_does_not_unbalance_another():
    schema = {"_source": pl.String, "_source_key": pl.String, "_row": pl.Int64, "disposition": pl.String, "target_id": pl.String,
              "reason": pl.String, "_flags": pl.List(pl.String)}
    twice_in = lambda src, other: build_ledger("r", "customer", pl.DataFrame(  # noqa: E731
        [(src, "1", 2, "loaded", "C1", None, []), (src, "1", 2, "merged", "C1", "x", []), (other, "1", 2, "loaded", "C2", None, [])],
        schema=schema, orient="row"))
    rows = {r["source"]: r for r in accounting({("customer", "s"): 2, ("customer", "t"): 1}, twice_in("s", "t"))}
    assert (rows["s"]["repeated_records"], rows["s"]["balanced"], rows["t"]["repeated_records"], rows["t"]["balanced"]) == (1, False, 0, True)
    rows = {r["source"]: r for r in accounting({("customer", "t"): 2, ("customer", "s"): 1}, twice_in("t", "s"))}
    assert (rows["t"]["repeated_records"], rows["t"]["balanced"], rows["s"]["repeated_records"], rows["s"]["balanced"]) == (1, False, 0, True)


def test_every_disposition_fits_the_ledger_column():
    """A disposition longer than the target's ledger column is refused by PostgreSQL and MariaDB (not
    by SQLite): every one must fit the column targets already have."""
    import sqlalchemy as sa

    from crm_migrate.contracts import DISPOSITIONS
    from loaders.schema import ledger_table

    width = ledger_table(sa.MetaData(), "crm_migrate_ledger").c.disposition.type.length
    assert width == 10 and max(len(d) for d in DISPOSITIONS) <= width
