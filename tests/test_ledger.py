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
