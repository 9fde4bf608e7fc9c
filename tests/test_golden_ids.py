"""A customer keeps its golden id from run to run, whatever happens to its cluster."""
import polars as pl
import pytest

from transforms.golden_ids import keep_earlier_ids


def members(*rows):
    """rows: (source key, derived id)."""
    return pl.DataFrame({"_source": ["crm"] * len(rows), "_source_key": [k for k, _ in rows], "target_id": [t for _, t in rows]})


def earlier(*rows):
    return pl.DataFrame({"_source": ["crm"] * len(rows), "_source_key": [k for k, _ in rows], "target_id": [t for _, t in rows]})


def ids(frame, before):
    out, superseded = keep_earlier_ids(frame, before)
    return dict(zip(frame["_source_key"], out)), superseded


def test_a_first_run_keeps_the_derived_ids():
    now = members(("1", "CUS-A"), ("2", "CUS-A"), ("3", "CUS-B"))
    got, superseded = ids(now, None)
    assert got == {"1": "CUS-A", "2": "CUS-A", "3": "CUS-B"} and superseded.is_empty()
    assert ids(now, earlier())[0] == got


def test_a_new_member_that_changes_the_derived_id_does_not_change_the_golden_id():
    # Record 0 sorts first, so the derived anchor (and id) of the cluster changed from CUS-A to CUS-N.
    got, superseded = ids(members(("0", "CUS-N"), ("1", "CUS-N"), ("2", "CUS-N"), ("3", "CUS-B")),
                          earlier(("1", "CUS-A"), ("2", "CUS-A"), ("3", "CUS-B")))
    assert got == {"0": "CUS-A", "1": "CUS-A", "2": "CUS-A", "3": "CUS-B"} and superseded.is_empty()


def test_two_earlier_customers_joined_keep_the_larger_ones_id_and_list_the_other():
    got, superseded = ids(members(("1", "CUS-X"), ("2", "CUS-X"), ("3", "CUS-X")),
                          earlier(("1", "CUS-B"), ("2", "CUS-A"), ("3", "CUS-A")))
    assert set(got.values()) == {"CUS-A"}
    assert superseded.rows() == [("CUS-B", "CUS-A", 1)]


def test_a_tie_between_earlier_ids_is_broken_by_the_id_not_by_row_order():
    before = earlier(("1", "CUS-B"), ("2", "CUS-A"))
    one, _ = ids(members(("1", "CUS-X"), ("2", "CUS-X")), before)
    two, _ = ids(members(("2", "CUS-X"), ("1", "CUS-X")), before)
    assert one == two and set(one.values()) == {"CUS-A"}


def test_a_split_cluster_leaves_the_id_with_the_larger_part_and_never_reuses_it():
    # Records 1-3 were one customer; a reviewer split off record 3, whose derived id happens to be the old one.
    got, superseded = ids(members(("1", "CUS-K"), ("2", "CUS-K"), ("3", "CUS-A")),
                          earlier(("1", "CUS-A"), ("2", "CUS-A"), ("3", "CUS-A")))
    assert got["1"] == got["2"] == "CUS-A"
    assert got["3"] not in {"CUS-A", "CUS-K"} and got["3"].startswith("CUS-")
    assert superseded.is_empty()


def test_an_id_an_earlier_run_gave_another_company_is_not_reused():
    # CUS-A's record joins CUS-B's two; a new cluster happens to derive CUS-A again.
    got, superseded = ids(members(("1", "CUS-B"), ("2", "CUS-B"), ("3", "CUS-B"), ("9", "CUS-A")),
                          earlier(("1", "CUS-B"), ("2", "CUS-B"), ("3", "CUS-A")))
    assert got["1"] == got["2"] == got["3"] == "CUS-B" and got["9"] not in {"CUS-A", "CUS-B"}
    assert superseded.rows() == [("CUS-A", "CUS-B", 1)]


@pytest.mark.parametrize("seed", range(5))
def test_ids_are_unique_per_cluster_and_independent_of_row_order(seed):
    import random

    rng = random.Random(seed)
    rows = [(str(k), f"CUS-{rng.randrange(12):02d}") for k in range(60)]
    before = earlier(*[(str(k), f"CUS-{rng.randrange(15):02d}") for k in range(0, 60, 2)])
    got, _ = ids(members(*rows), before)
    shuffled = rows[:]
    rng.shuffle(shuffled)
    again, _ = ids(members(*shuffled), before)
    assert got == again
    derived = dict(rows)
    clusters = {}
    for key, final in got.items():
        clusters.setdefault(derived[key], set()).add(final)
    assert all(len(v) == 1 for v in clusters.values())  # one id per cluster
    finals = [next(iter(v)) for v in clusters.values()]
    assert len(finals) == len(set(finals))  # no two clusters share one


def test_golden_ids_survive_a_new_member_and_a_join_across_runs(any_db_url, tmp_path):
    """Three committed runs on one target: a record with a smaller key joins a customer (its derived
    id would change), then a reviewer joins two customers (one id is superseded, and listed)."""
    import sqlalchemy as sa

    from pipelines.run import run_pipeline
    from tests.helpers import csv_file, project

    header = ["客户编号", "客户名称", "统一社会信用代码", "联系电话", "地址"]
    tengfei = ["K2", "深圳市腾飞电子科技有限公司", "", "0755-86001234", "深圳市南山区科技园路88号"]
    xinghe = ["K5", "深圳市星河电子有限公司", "", "0755-83335555", "深圳市福田区深南大道1号"]
    newcomer = ["K1", "腾飞电子科技（深圳）有限公司", "", "0755-86001234", "深圳市南山区科技园路88号"]
    source = [{"name": "crm", "kind": "csv", "entity": "customer", "path": "customers.csv", "key": "客户编号"}]

    def run(rows, **top):
        csv_file(tmp_path / "customers.csv", header, rows)
        manifest = run_pipeline(project(tmp_path, source, target_url=any_db_url, **top))
        ledger = pl.read_csv(tmp_path / "out" / manifest["run_id"] / "ledger.csv", schema_overrides={"source_key": pl.String})
        return manifest, dict(zip(ledger["source_key"], ledger["target_id"]))

    def accounts():
        engine = sa.create_engine(any_db_url)
        with engine.connect() as conn:
            ids = sorted(r[0] for r in conn.execute(sa.text("SELECT external_id FROM crm_account")))
        engine.dispose()
        return ids

    _, first = run([tengfei, xinghe])
    assert accounts() == sorted(first.values()) and len(set(first.values())) == 2
    _, second = run([tengfei, xinghe, newcomer])
    assert second["K1"] == second["K2"] == first["K2"] and second["K5"] == first["K5"]
    assert accounts() == sorted(first.values())  # no second row for the same customer
    csv_file(tmp_path / "decisions.csv", ["source_a", "key_a", "source_b", "key_b", "decision"], [["crm", "K2", "crm", "K5", "same"]])
    manifest, third = run([tengfei, xinghe, newcomer], resolution={"decisions": "decisions.csv"})
    assert set(third.values()) == {first["K2"]}  # two of its three records were first["K2"]
    superseded = pl.read_csv(tmp_path / "out" / manifest["run_id"] / "superseded_ids.csv")
    assert superseded.rows() == [(first["K5"], first["K2"], 1)]


def test_a_key_the_source_reused_for_two_companies_keeps_each_its_id_by_row():
    """An ERP reused retired key K7 for another company: both records carry K7. Whichever id a
    by-key lookup found, one company would take the other's id and the other a fresh one, swapping
    on every run; by row, each keeps its own (and neither when its row moved)."""
    now = pl.DataFrame({"_source": ["erp"] * 3, "_source_key": ["K7", "K7", "K8"], "_row": [7, 9, 10],
                        "target_id": ["CUS-B", "CUS-A", "CUS-C"]})  # derived ids as this run's clusters give them
    before = pl.DataFrame({"_source": ["erp"] * 3, "_source_key": ["K7", "K7", "K8"], "_row": [7, 9, 10],
                           "target_id": ["CUS-A", "CUS-B", "CUS-C"]})
    out, superseded = keep_earlier_ids(now, before)
    assert out.to_list() == ["CUS-A", "CUS-B", "CUS-C"] and superseded.is_empty()
    moved = now.with_columns(pl.Series("_row", [8, 9, 10]))  # a row inserted above: K7's first record moved
    assert keep_earlier_ids(moved, before)[0].to_list()[1:] == ["CUS-B", "CUS-C"]
