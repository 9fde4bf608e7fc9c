"""`run --cluster`: the data-parallel work on a real Dask LocalCluster gives the local run's result
(the same golden ids, the same ledger, the same target rows), and the work really went to the
workers (pipelines/compute.py, transforms/parallel.py)."""
from __future__ import annotations

import os
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from crm_migrate.errors import ConfigError, MigrationError
from pipelines import compute, stages
from pipelines.config import load_config
from pipelines.context import start_run
from pipelines.run import run_pipeline
from tests.helpers import demo_config
from tests.test_phases import table
from transforms import distinct, match_model
from transforms.clustering import components, spread_components
from transforms.parallel import fan_out, spread_over

pytest.importorskip("distributed", reason="run --cluster needs dask.distributed (pip install 'crm-migrate[scale]')")


@pytest.fixture
def shipped(monkeypatch) -> Counter:
    """What the run sent to the workers: the spread function's name, per fan-out."""
    seen: Counter = Counter()
    real = compute.DaskMapper.map

    def counting(self, fn, chunks, shared):
        seen[shared[0].__name__] += len(chunks)
        return real(self, fn, chunks, shared)

    monkeypatch.setattr(compute.DaskMapper, "map", counting)
    return seen


@pytest.fixture(scope="module")
def mapper():
    with compute.cluster(compute.parse_cluster("local:2")) as m:
        yield m


def frame(run_dir: str, name: str) -> pl.DataFrame:
    return pl.read_parquet(Path(run_dir) / name)


def test_demo_on_a_cluster_equals_the_local_run(tmp_path, monkeypatch, shipped):
    # The demo is small: spread from a few hundred values and pairs, so every spread path runs.
    monkeypatch.setattr(distinct, "SPREAD_FROM", 300)
    monkeypatch.setattr(match_model, "SPREAD_PAIRS", 2_000)
    runs = {}
    for name, cluster, components_mode in (("local", None, "gather"), ("gather", "local:2", "gather"), ("distributed", "local:2", "distributed")):
        config = demo_config(tmp_path / name, operations={"cluster_components": components_mode})
        m = run_pipeline(config, cluster=cluster)
        assert m["status"] == "succeeded"
        runs[name] = (m, load_config(config).config.target.url)
    local, url = runs["local"]
    assert local["cluster"] is None
    assert not (Path(local["run_dir"]) / "as_read").exists()  # the records set aside during the run are gone
    for name in ("gather", "distributed"):
        m, other_url = runs[name]
        assert m["cluster"] == {"address": "local:2", "workers": 2, "components": name}
        assert frame(m["run_dir"], "ledger.parquet").drop("run_id").equals(frame(local["run_dir"], "ledger.parquet").drop("run_id"))
        assert frame(m["run_dir"], "golden_customers.parquet").equals(frame(local["run_dir"], "golden_customers.parquet"))
        for t in ("crm_account", "crm_opportunity"):
            assert table(other_url, t) == table(url, t)
        assert m["counts"] == local["counts"]
    # Each source read on a worker, distinct values normalized there, pairs compared there, and the
    # connected components of the distributed run found there.
    assert shipped["_extract_one"] == 2 * 5
    assert shipped["_apply"] > 0 and shipped["_compare_group"] > 0
    assert shipped["_lowest"] > 0


def test_spread_components_give_the_local_labels(mapper):
    rng = np.random.default_rng(3)
    n = 20_000
    # chains, stars and isolated nodes: long chains need several rounds
    a = np.concatenate([np.arange(0, 5_000), rng.integers(5_000, n, 8_000)])
    b = np.concatenate([np.arange(1, 5_001), rng.integers(5_000, n, 8_000)])
    expected = components(n, a, b)
    assert len(np.unique(expected)) < n - 5_000  # a real partition, not identity
    assert np.array_equal(spread_components(n, a, b, 7), expected)  # here
    with spread_over(mapper):
        assert np.array_equal(spread_components(n, a, b, 7), expected)  # on the workers
        assert np.array_equal(spread_components(n, a[:0], b[:0], 7), np.arange(n))


def test_fan_out_keeps_chunk_order_and_carries_the_trade_vocabulary(mapper):
    from transforms.names import parse_name, trade_vocabulary

    names = ["苏州恒通冷镦有限公司", "苏州恒通粉末冶金有限公司"]
    with trade_vocabulary(["冷镦", "粉末冶金"]):
        here = [parse_name(v) for v in names]
        with spread_over(mapper):
            there = fan_out(_parse_all, [names[:1], names[1:]])
    assert [r for part in there for r in part] == here
    assert fan_out(_parse_all, [names]) == [[parse_name(v) for v in names]]  # no cluster: here, default vocabulary


def _parse_all(values, _):
    from transforms.names import parse_name

    return [parse_name(v) for v in values]


def test_a_source_error_on_a_worker_keeps_its_file_and_hint(tmp_path):
    config = demo_config(tmp_path)
    text = config.read_text(encoding="utf-8").replace("erp_export.csv", "missing_export.csv")
    config.write_text(text, encoding="utf-8")
    errors = []
    for cluster in (None, "local:2"):
        with pytest.raises(MigrationError) as exc:
            run_pipeline(config, cluster=cluster)
        errors.append((type(exc.value), str(exc.value), exc.value.file, exc.value.hint, exc.value.stage))
    assert errors[0] == errors[1] and errors[0][2].endswith("missing_export.csv") and errors[0][4] == "extract"


def test_cluster_addresses_are_checked(tmp_path):
    assert compute.parse_cluster("local:4").local_workers == 4
    assert compute.parse_cluster("local").local_workers == 2
    assert compute.parse_cluster("tcp://scheduler:8786").local_workers is None
    assert compute.parse_cluster("tcp://scheduler:1").address == "tcp://scheduler:1"  # the ports' ends
    assert compute.parse_cluster("tls://scheduler:65535").address == "tls://scheduler:65535"
    for bad in ("local:0", "local:x", "scheduler:8786", "tcp://scheduler", "http://scheduler:8786", "tcp://scheduler:99999",
                "tcp://scheduler:65536", "tcp://scheduler:0", ""):
        with pytest.raises(MigrationError, match="not a cluster address") as exc:
            compute.parse_cluster(bad)
        assert "local:N" in exc.value.hint
    with pytest.raises(MigrationError, match="not one of gather, distributed"):
        compute.parse_cluster("local:2", "scatter")
    with pytest.raises(ConfigError, match="operations.cluster 'locl:2' is not a cluster address"):
        load_config(demo_config(tmp_path, operations={"cluster": "locl:2"}))


def test_an_unreachable_scheduler_is_a_clear_transient_error(tmp_path):
    with pytest.raises(MigrationError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9") as exc:
        run_pipeline(demo_config(tmp_path), cluster="tcp://127.0.0.1:9")
    assert exc.value.transient and "dask scheduler" in exc.value.hint


def _through_resolve(config: Path, cluster: str | None):
    """extract .. resolve of one run: the stages a cluster speeds up."""
    ctx = start_run(config, dry_run=True)
    spec = compute.parse_cluster(cluster) if cluster else None
    with compute.cluster(spec) as m, spread_over(m):
        canonical = stages.standardize(ctx, stages.extract(ctx))
        resolution = stages.resolve(ctx, stages.validate(ctx, canonical))
    return canonical, resolution


def test_a_generated_set_of_100000_companies_resolves_the_same_on_a_cluster(tmp_path, shipped):
    from data_samples.generate import generate

    generate(100_000, 11, tmp_path / "data")
    config = demo_config(tmp_path / "run", data=tmp_path / "data")
    local_canonical, local = _through_resolve(config, None)
    canonical, spread = _through_resolve(config, "local:2")
    for entity, f in local_canonical.frames.items():
        assert canonical.frames[entity].equals(f), entity
    assert spread.golden.equals(local.golden)
    assert spread.ledger.drop("run_id").equals(local.ledger.drop("run_id"))
    assert spread.matching.clustered.get_column("target_id").equals(local.matching.clustered.get_column("target_id"))
    assert local.golden.height > 90_000  # the real thing: most of 100,000 companies, after duplicates merged
    # At this size the default thresholds spread names, addresses, dates ... and the candidate pairs.
    assert shipped["_apply"] >= 8 and shipped["_compare_group"] >= 2 and shipped["_extract_one"] == 5


def test_the_prefect_flow_spreads_its_stages_work_on_the_cluster(prefect_harness, tmp_path, monkeypatch, shipped):
    from pipelines.flow import migrate

    monkeypatch.setattr(distinct, "SPREAD_FROM", 300)
    config = demo_config(tmp_path)
    state = migrate(str(config), cluster="local:2", return_state=True)
    assert state.is_completed(), state.message
    manifest = state.result()
    assert manifest["cluster"]["workers"] == 2 and manifest["status"] == "succeeded"
    # the stages run as Prefect tasks, and their work still reached the workers
    assert shipped["_extract_one"] == 5 and shipped["_apply"] > 0


def test_the_command_line_refuses_a_bad_cluster_address(tmp_path):
    from typer.testing import CliRunner

    from pipelines.cli import app

    config = demo_config(tmp_path)
    for command in (["run", str(config), "--cluster", "locl:2"], ["deploy", str(config), "--cluster", "locl:2"]):
        result = CliRunner().invoke(app, command, env={"COLUMNS": "200"})
        assert result.exit_code == 2, result.output  # a usage error, before any run folder
        assert "--cluster 'locl:2' is not a cluster address" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
    assert "--cluster" in CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"}).output


@pytest.mark.parametrize("n,parts,minimum", [(10, 4, 1), (10, 4, 3), (7, 3, 10), (1, 8, 1), (0, 4, 1), (1_000_003, 8, 20_000)])
def test_split_cuts_every_item_once_into_pieces_of_at_least_the_minimum(n, parts, minimum):
    from transforms.parallel import split

    pieces = split(n, parts, minimum)
    assert [i for a, b in pieces for i in range(a, b)] == list(range(n))
    assert len(pieces) <= parts and all(b - a >= max(1, min(minimum, n)) for a, b in pieces)  # no empty piece
    if n >= parts * minimum:
        assert len(pieces) == parts  # as many as asked when there is enough


def test_spread_over_sets_the_mapper_for_its_block_only(mapper):
    from distributed import Future

    from transforms.parallel import current, place, workers

    assert current() is None and workers() == 1
    assert place([1, 2]) == [1, 2]  # no cluster: the chunks are their own handles
    with spread_over(mapper):
        assert current() is mapper and workers() == 2
        assert all(isinstance(h, Future) for h in place([1, 2])) and place([1]) == [1]  # one chunk stays here
        # separate processes of one thread each: the spread work is Python, which threads of one process would take in turns
        workers_info = mapper.client.scheduler_info(n_workers=-1)["workers"].values()
        assert [w["nthreads"] for w in workers_info] == [1, 1]
        assert os.getpid() not in mapper.client.run(os.getpid).values()
        with spread_over(None):
            assert workers() == 1
        assert workers() == 2
    assert current() is None


@contextmanager
def dask_processes(log_path: Path, workers: int):
    """A Dask scheduler and (unless 0) a worker process of `workers` single-threaded workers, started
    as an operator would start them (`dask scheduler`, `dask worker`); yields the address."""
    import socket
    import subprocess
    import sys

    from distributed import Client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    dask = str(Path(sys.executable).parent / "dask")
    with open(log_path, "w") as log:
        procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", "127.0.0.1:0"],
                                  stdout=log, stderr=log)]
        if workers:
            procs.append(subprocess.Popen([dask, "worker", address, "--nworkers", str(workers), "--nthreads", "1", "--no-dashboard"],
                                          stdout=log, stderr=log))
        try:
            with Client(address, timeout="60s") as client:
                if workers:
                    client.wait_for_workers(workers, timeout=60)
            yield address
        finally:
            for p in reversed(procs):
                p.terminate()
                p.wait(30)


@pytest.fixture
def scheduler(tmp_path):
    with dask_processes(tmp_path / "dask.log", 2) as address:
        yield address


def test_a_running_scheduler_given_by_address_gives_the_local_result(tmp_path, monkeypatch, scheduler, shipped):
    monkeypatch.setattr(distinct, "SPREAD_FROM", 300)
    monkeypatch.setattr(match_model, "SPREAD_PAIRS", 2_000)
    local = run_pipeline(demo_config(tmp_path / "local"))
    lines = []
    remote = run_pipeline(demo_config(tmp_path / "remote"), cluster=scheduler, progress=lambda stage, line: lines.append((stage, line)))
    assert ("cluster", f"cluster {scheduler}: 2 workers") in lines
    assert remote["cluster"] == {"address": scheduler, "workers": 2, "components": "gather"}
    assert frame(remote["run_dir"], "ledger.parquet").drop("run_id").equals(frame(local["run_dir"], "ledger.parquet").drop("run_id"))
    assert frame(remote["run_dir"], "golden_customers.parquet").equals(frame(local["run_dir"], "golden_customers.parquet"))
    assert shipped["_extract_one"] == 5 and shipped["_apply"] > 0 and shipped["_compare_group"] > 0


def test_database_sources_read_on_workers_equal_the_local_read(any_db_url, mapper):
    """A table and a query of each engine, each read by a worker (its own connection, ADBC or the
    DBAPI driver as without a cluster): the same frame, watermark and physical count."""
    from datetime import datetime

    from tests.test_sql_sources import make_table, source

    make_table(any_db_url, [{"id": i, "name": f"公司{i}", "updated": datetime(2024, 1, 1 + i % 28, i % 24)} for i in range(1, 400)])
    jobs = [(source(any_db_url, watermark="updated"), ["name"], None),
            (source(any_db_url, name="q", table=None, query="SELECT id, name, updated FROM t_customer WHERE id > 100", watermark="id"), ["name"], "150")]
    here = fan_out(stages._extract_one, jobs)
    with spread_over(mapper):
        there = fan_out(stages._extract_one, jobs)
    for a, b in zip(here, there):
        assert b.frame.equals(a.frame) and (b.watermark, b.physical, b.notes) == (a.watermark, a.physical, a.notes)
    assert [x.frame.height for x in there] == [399, 249]


def test_a_script_without_a_main_guard_gets_a_clear_error(tmp_path):
    """Local workers are new processes that import the script that started them: unguarded, it
    cannot start them, and says how to fix it."""
    import subprocess
    import sys

    script = tmp_path / "migrate.py"
    script.write_text("from crm_migrate.errors import MigrationError\n"
                      "from pipelines.compute import cluster, parse_cluster\n"
                      "try:\n"
                      "    with cluster(parse_cluster('local:1')):\n"
                      "        print('started')\n"
                      "except MigrationError as exc:\n"
                      "    print('refused:', exc.message, '|', exc.hint)\n", encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert "refused: the local Dask workers of local:1 did not start" in done.stdout, done.stdout + done.stderr[-2000:]
    assert 'if __name__ == "__main__":' in done.stdout


def test_a_scheduler_without_workers_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(compute, "WAIT_FOR_WORKERS_SECONDS", 3)
    with dask_processes(tmp_path / "dask.log", 0) as address:
        with pytest.raises(MigrationError, match=f"the Dask scheduler at {address} has no workers") as exc:
            with compute.cluster(compute.parse_cluster(address)):
                pass
    assert exc.value.transient and "dask worker" in exc.value.hint


def _dies_twice(chunk, folder):
    """Kills its worker process the first two times it runs (each run anywhere counts once)."""
    for n in range(2):
        try:
            (Path(folder) / f"died-{n}").touch(exist_ok=False)
        except FileExistsError:
            continue
        os._exit(1)
    return [v * 2 for v in chunk]


def test_workers_lost_under_a_fan_out_are_replaced_and_the_work_is_done_again(tmp_path):
    """Both workers of local:2 killed by the work (their nannies start new ones): the shared argument
    and the chunks are rebuilt on the new workers, and the result is whole and in order."""
    with compute.cluster(compute.parse_cluster("local:2")) as m, spread_over(m):
        chunks = [list(range(k, k + 5)) for k in range(0, 40, 5)]
        assert fan_out(_dies_twice, chunks, str(tmp_path)) == [[v * 2 for v in c] for c in chunks]
    assert (tmp_path / "died-1").exists()


def _always_dies(chunk, _):
    os._exit(1)


def test_work_that_kills_every_worker_it_meets_is_a_clear_transient_error():
    with compute.cluster(compute.parse_cluster("local:2")) as m, spread_over(m):
        with pytest.raises(MigrationError, match=r"the Dask cluster failed under the run \(KilledWorker\)") as exc:
            fan_out(_always_dies, [[1], [2]])
    assert exc.value.transient and "memory" in exc.value.hint


def _unreadable(chunk, _):
    raise FileNotFoundError(2, "No such file or directory", "/nowhere/export.csv")


def test_an_error_of_the_work_itself_is_not_taken_for_a_lost_cluster(mapper):
    with spread_over(mapper), pytest.raises(FileNotFoundError):
        fan_out(_unreadable, [[1], [2]])
