#!/usr/bin/env python3
"""Mutation testing of the core modules: would the tests notice if the code were wrong?

Coverage says a line ran during the tests; mutation testing says whether a test fails when that line
is wrong. Cosmic Ray (https://cosmic-ray.readthedocs.io) makes one small change at a time to a
module (a *mutant*: `<` for `<=`, `31` for `32`, `and` for `or`, `True` for `False`, ...) and runs
that module's tests. A mutant the tests fail on is *killed*; one they pass on *survived*: a claim of
the code (a check digit weight, a boundary, a branch) that no test guards. Each survivor printed
below is a test waiting to be written (or, now and then, an equivalent mutant that behaves exactly
like the original and can be ignored).

This is a bench, not part of CI: it runs the tests once per mutant (hundreds of runs per module,
minutes per module).

    python bench/mutation.py                                 # every module in MODULES below
    python bench/mutation.py transforms/credit_code.py       # one module, with its tests from MODULES
    python bench/mutation.py transforms/names.py --tests tests/test_normalizers.py
    python bench/mutation.py --jobs 2 --max-mutants 40       # two workers; 40 random mutants per module
    python bench/mutation.py --keep ...                      # keep the scratch folder (sessions, logs)

It never touches the working tree. The files git knows of (tracked, plus untracked ones that are not
ignored, so uncommitted edits are included) are copied into a scratch folder (one copy per worker),
and Cosmic Ray mutates and tests there. The tests run with this repository's .venv interpreter, with
PYTHONPATH set to the copy so that the copy's modules, not the editable install's, are imported (a
smoke test checks that per module: it changes the module in the copy and asserts, under pytest, that
`module.__file__` is in the copy and the change is seen). Tests run as
`pytest -x -q -p no:cacheprovider --rootdir <copy> <tests>` without CRM_TEST_PG_URL and
CRM_TEST_MYSQL_URL, so the PostgreSQL and MariaDB tests skip (`--databases` keeps them: slower, but
dialect-specific code is then tested too). Before mutating, the tests run once
unmutated: a module whose tests fail then is reported "baseline failing" and not mutated. Each mutant
gets max(3 x the baseline time, 10 s) before it counts as a timeout.

What the numbers mean, per module:
  killed       mutants the tests failed on, including `timeouts`: a mutant that makes the tests run
               past the time limit (an infinite loop) is caught, so it counts as killed; how many of
               the killed were timeouts is shown separately.
  survived     mutants all the tests passed on.
  total        killed + survived, the mutants really tested.
  kill_rate    killed / total (0.0 to 1.0; the overall rate sums killed and total over modules).
  incompetent  mutants that could not be tested (Cosmic Ray could not apply the mutation or the test
               command could not start): reported apart, in neither killed nor total.
  left out     not tested on purpose: mutants inside type annotations (the modules use
               `from __future__ import annotations`, so annotations are never evaluated and such a
               mutant changes nothing), and, with --max-mutants, the mutants not in the sample.
A mutant that breaks the module's import fails the tests at collection and counts as killed.

The last line of output is one JSON object:
  {"modules": {"<path>": {"killed", "survived", "total", "kill_rate", "timeouts", "incompetent",
   "left_out", "seconds"}}, "overall_kill_rate": ..., "skipped": {"<path>": "<why>"}}
"""
from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import random
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"

# Module under test -> the tests that are about it. Edit freely; a module whose test files do not
# exist yet is skipped with a note.
SCALE_TESTS = ("test_demo_on_a_cluster_equals_the_local_run", "test_spread_components_give_the_local_labels",
               "test_fan_out_keeps_chunk_order_and_carries_the_trade_vocabulary", "test_a_source_error_on_a_worker_keeps_its_file_and_hint",
               "test_cluster_addresses_are_checked", "test_an_unreachable_scheduler_is_a_clear_transient_error",
               "test_split_cuts_every_item_once_into_pieces_of_at_least_the_minimum", "test_spread_over_sets_the_mapper_for_its_block_only",
               "test_workers_lost_under_a_fan_out_are_replaced_and_the_work_is_done_again",
               "test_work_that_kills_every_worker_it_meets_is_a_clear_transient_error",
               "test_an_error_of_the_work_itself_is_not_taken_for_a_lost_cluster", "test_a_scheduler_without_workers_is_refused",
               "test_the_command_line_refuses_a_bad_cluster_address")
MODULES: dict[str, list[str]] = {
    "transforms/credit_code.py": ["tests/test_credit_code.py", "tests/test_normalizers.py"],
    "transforms/resolve.py": ["tests/test_resolve.py", "tests/test_matching.py"],
    "transforms/clustering.py": ["tests/test_clustering.py", "tests/test_matching.py"],
    "transforms/blocking.py": ["tests/test_blocking.py", "tests/test_matching.py", "tests/test_resolve.py"],
    "transforms/shared_codes.py": ["tests/test_shared_codes.py"],
    "transforms/copied_codes.py": ["tests/test_copied_codes.py"],
    "transforms/golden_ids.py": ["tests/test_golden_ids.py"],
    "transforms/match_model.py": ["tests/test_matching.py", "tests/test_resolve.py", "tests/test_declared_model.py"],
    "transforms/declared_model.py": ["tests/test_declared_model.py"],
    "transforms/opportunities.py": ["tests/test_matching.py", "tests/test_resolve.py", "tests/test_end_to_end.py"],
    "transforms/ledger.py": ["tests/test_ledger.py", "tests/test_resolve.py"],
    "transforms/archive.py": ["tests/test_archive.py"],
    "reports/reconciliation.py": ["tests/test_reconciliation.py"],
    "loaders/target.py": ["tests/test_loaders.py"],
    "pipelines/cli.py": ["tests/test_cli.py"],
    "transforms/quarantine.py": ["tests/test_validation.py"],
    "expectations/gates.py": ["tests/test_validation.py"],
    "expectations/custom.py": ["tests/test_validation.py"],
    "expectations/runner.py": ["tests/test_validation.py"],
    "transforms/quality_profile.py": ["tests/test_quality_profile.py"],
    "transforms/plan.py": ["tests/test_rollback.py"],
    "loaders/rollback.py": ["tests/test_rollback.py"],
    "loaders/history.py": ["tests/test_rollback.py"],
    "loaders/bulk.py": ["tests/test_loaders.py", "tests/test_rollback.py"],
    "transforms/mapping.py": ["tests/test_mapping.py"],
    "transforms/sample.py": ["tests/test_sample.py"],
    "transforms/pseudonymize.py": ["tests/test_pseudonymize.py"],
    "loaders/batched.py": ["tests/test_resume.py"],
    "reports/resolution_summary.py": ["tests/test_run_reports.py"],
    "reports/xlsx_report.py": ["tests/test_run_reports.py"],
    "reports/workbook.py": ["tests/test_run_reports.py"],
    "reports/charts.py": ["tests/test_run_reports.py"],
    "transforms/signoff.py": ["tests/test_signoff.py"],
    "reports/signoff.py": ["tests/test_signoff.py"],
    "crm_migrate/transient.py": ["tests/test_transient.py"],
    "transforms/deletions.py": ["tests/test_source_deletions.py"],
    # the quick tests of run --cluster (the 100,000-company and Prefect ones take minutes)
    "transforms/parallel.py": [f"tests/test_scale.py::{t}" for t in SCALE_TESTS],
    "pipelines/compute.py": [f"tests/test_scale.py::{t}" for t in SCALE_TESTS],
}

DATABASE_ENV_VARS = ("CRM_TEST_PG_URL", "CRM_TEST_MYSQL_URL")  # removed (those tests skip) unless --databases
KEEP_DATABASES = False
PYTEST_ARGS = ["-x", "-q", "-p", "no:cacheprovider"]
TIMEOUT_FACTOR, MIN_TIMEOUT = 3.0, 10.0  # per mutant: max(3 x baseline, 10 s)
BASELINE_TIMEOUT = 900.0
PROGRESS_EVERY = 30.0  # seconds between progress lines


def _use_venv_interpreter() -> None:
    """Run under .venv's Python (it has the project, pytest and cosmic-ray), whatever started us."""
    if importlib.util.find_spec("cosmic_ray") is not None:
        return
    venv_python = VENV / "bin" / "python"
    if venv_python.exists() and Path(sys.prefix).resolve() != VENV.resolve():
        os.execv(venv_python, [str(venv_python), __file__, *sys.argv[1:]])
    sys.exit("cosmic-ray is not installed in this interpreter: "
             f"{VENV / 'bin' / 'pip'} install 'cosmic-ray>=8.7,<9'")


# --------------------------------------------------------------------------------------------------
# The scratch copy and running its tests


def snapshot(dest: Path) -> int:
    """Copy the files git knows of (tracked, and untracked but not ignored) from the working tree."""
    listing = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             capture_output=True, check=True).stdout.decode()
    copied = 0
    for rel in filter(None, listing.split("\0")):
        src = ROOT / rel
        if not (src.is_file() or src.is_symlink()):  # deleted in the working tree, or a submodule
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel, follow_symlinks=False)
        copied += 1
    return copied


def child_env(copy: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if KEEP_DATABASES or k not in DATABASE_ENV_VARS}
    env["PYTHONPATH"] = str(copy)  # the copy's modules come before the editable install's finder
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def pytest_command(copy: Path, tests: list[str]) -> list[str]:
    return [sys.executable, "-m", "pytest", *PYTEST_ARGS, "--rootdir", str(copy), *tests]


def run_tests(copy: Path, tests: list[str]) -> tuple[bool, float, str]:
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(pytest_command(copy, tests), cwd=copy, env=child_env(copy), capture_output=True,
                              text=True, timeout=BASELINE_TIMEOUT)
    except subprocess.TimeoutExpired:
        return False, time.perf_counter() - t0, f"timed out after {BASELINE_TIMEOUT:.0f} s"
    return proc.returncode == 0, time.perf_counter() - t0, proc.stdout + proc.stderr


PROBE_TEST = '''
import importlib
from pathlib import Path


def test_the_module_under_test_is_the_copy():
    module = importlib.import_module({name!r})
    assert Path(module.__file__).resolve() == Path({path!r}).resolve(), module.__file__
    assert getattr(module, "_MUTATION_BENCH_PROBE", None) == {token!r}, "a stale or foreign module was imported"
'''


def module_name(rel: str) -> str:
    parts = list(Path(rel).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def smoke_test(copy: Path, rel: str) -> str | None:
    """Change the module in the copy and check, under pytest as the mutants run, that the change and
    the copy's file are what gets imported. Returns an error message, or None."""
    target = copy / rel
    original = target.read_bytes()
    token = f"probe-{os.getpid()}-{time.time_ns()}"
    probe = copy / "mutation_bench_probe.py"
    probe.write_text(PROBE_TEST.format(name=module_name(rel), path=str(target), token=token))
    try:
        target.write_bytes(original + f"\n_MUTATION_BENCH_PROBE = {token!r}\n".encode())
        ok, _, output = run_tests(copy, [probe.name])
    finally:
        target.write_bytes(original)
        probe.unlink()
    return None if ok else "the tests do not import the copy's module:\n" + tail(output)


def tail(text: str, lines: int = 25) -> str:
    return "\n".join("    " + line for line in text.rstrip().splitlines()[-lines:])


# --------------------------------------------------------------------------------------------------
# Cosmic Ray sessions


def cosmic_ray(*args: str) -> list[str]:
    return [sys.executable, "-m", "cosmic_ray.cli", *args]


def write_config(path: Path, rel: str, copy: Path, tests: list[str], timeout: float) -> Path:
    import toml

    path.write_text(toml.dumps({"cosmic-ray": {
        "module-path": rel,  # relative: each worker mutates the module in its own copy (its cwd)
        "timeout": timeout,
        "excluded-modules": [],
        "test-command": shlex.join(pytest_command(copy, tests)),
        "distributor": {"name": "local"},
    }}))
    return path


def annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) of every type annotation as (line, character column), as Cosmic Ray counts them."""
    lines = source.split("\n")

    def pos(line: int, byte_col: int) -> tuple[int, int]:  # ast columns are UTF-8 byte offsets
        return line, len(lines[line - 1].encode()[:byte_col].decode(errors="ignore"))

    spans = []
    for node in ast.walk(ast.parse(source)):
        annotations = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            arguments = (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg)
            annotations = [node.returns] + [arg.annotation for arg in arguments if arg]
        elif isinstance(node, ast.AnnAssign):
            annotations = [node.annotation]
        spans += [(pos(n.lineno, n.col_offset), pos(n.end_lineno, n.end_col_offset)) for n in annotations if n is not None]
    return spans


def prepare_session(session: Path, source: str, max_mutants: int | None, seed: int) -> tuple[list, int, int]:
    """Leave out annotation mutants and, when sampling, those not drawn.
    Returns (work items to test, how many were in annotations, how many were not sampled)."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    spans = annotation_spans(source)
    with use_db(str(session), WorkDB.Mode.open) as db:
        items = sorted(db.work_items, key=lambda w: (w.mutations[0].start_pos, w.mutations[0].operator_name,
                                                     w.mutations[0].occurrence))
        in_annotation = {w.job_id for w in items if any(a <= w.mutations[0].start_pos < b for a, b in spans)}
        db.set_multiple_results(sorted(in_annotation),
                                WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output="in a type annotation"))
        todo = [w for w in items if w.job_id not in in_annotation]
        not_sampled = 0
        if max_mutants is not None and len(todo) > max_mutants:
            drawn = set(random.Random(seed).sample(range(len(todo)), max_mutants))
            db.set_multiple_results([w.job_id for i, w in enumerate(todo) if i not in drawn],
                                    WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output="not sampled"))
            not_sampled = len(todo) - max_mutants
            todo = [w for i, w in enumerate(todo) if i in drawn]
    return todo, len(in_annotation), not_sampled


def shard_sessions(session: Path, todo: list, shards: int) -> list[Path]:
    """One session file per worker: worker i runs every shards-th mutant, the rest is marked done."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    if shards == 1:
        return [session]
    paths = []
    for i in range(shards):
        path = session.with_name(f"{session.stem}-{i}.sqlite")
        shutil.copy(session, path)
        with use_db(str(path), WorkDB.Mode.open) as db:
            db.set_multiple_results([w.job_id for j, w in enumerate(todo) if j % shards != i],
                                    WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output="other worker"))
        paths.append(path)
    return paths


def results_count(session: Path) -> int:
    try:
        with sqlite3.connect(f"file:{session}?mode=ro", uri=True, timeout=5) as con:
            return con.execute("SELECT COUNT(*) FROM work_results").fetchone()[0]
    except sqlite3.Error:
        return 0


def execute(sessions: list[Path], configs: list[Path], copies: list[Path], logs: list[Path], todo: int,
            started: float) -> None:
    """`cosmic-ray exec` per worker, each in its own copy; progress lines while they run."""
    before = [results_count(s) for s in sessions]
    procs = []
    try:
        for session, config, copy, log in zip(sessions, configs, copies, logs):
            with open(log, "w") as out:
                procs.append(subprocess.Popen(cosmic_ray("exec", str(config), str(session)), cwd=copy, env=child_env(copy),
                                              stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        last = time.monotonic()
        while any(p.poll() is None for p in procs):
            time.sleep(1)
            if time.monotonic() - last >= PROGRESS_EVERY:
                last = time.monotonic()
                done = sum(results_count(s) - b for s, b in zip(sessions, before))
                print(f"    ... {done}/{todo} mutants tested ({time.perf_counter() - started:.0f} s)", flush=True)
        for proc, log in zip(procs, logs):
            if proc.returncode != 0:
                raise RuntimeError(f"cosmic-ray exec exited {proc.returncode}:\n{tail(log.read_text())}")
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait()


# --------------------------------------------------------------------------------------------------
# Results


@dataclass
class Mutant:
    path: str
    line: int
    operator: str
    definition: str | None
    outcome: str  # killed, timeout, survived, incompetent
    changes: list[str] = field(default_factory=list)  # "- original" / "+ mutated" source lines
    why: str = ""

    def show(self) -> str:
        where = f" (in {self.definition})" if self.definition else ""
        head = f"  {self.path}:{self.line}  {self.operator.removeprefix('core/')}{where}"
        return "\n".join([head, *("      " + c for c in self.changes), *(["      " + self.why] if self.why else [])])


def diff_changes(diff: str | None) -> list[str]:
    changes, in_hunk = [], False
    for line in (diff or "").splitlines():
        if line.startswith("@@"):
            in_hunk = True
        elif in_hunk and line.startswith(("-", "+")):
            changes.append(f"{line[0]} {line[1:].strip()}")
    return changes


def collect(sessions: list[Path]) -> list[Mutant]:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    mutants = []
    for session in sessions:
        with use_db(str(session), WorkDB.Mode.open) as db:
            for item, result in db.completed_work_items:
                if result.worker_outcome == WorkerOutcome.SKIPPED:
                    continue
                m = item.mutations[0]
                why = ""
                if result.worker_outcome != WorkerOutcome.NORMAL:  # exception, abnormal, no-test
                    last = (result.output or "").strip().splitlines()[-1:]
                    outcome, why = "incompetent", f"{result.worker_outcome.value}: {' '.join(last)}"
                elif result.test_outcome == TestOutcome.SURVIVED:
                    outcome = "survived"
                elif result.test_outcome == TestOutcome.KILLED:
                    outcome = "timeout" if result.output == "timeout" else "killed"
                else:
                    outcome, why = "incompetent", (result.output or "").strip()[-300:]
                mutants.append(Mutant(str(m.module_path), m.start_pos[0], m.operator_name, m.definition_name, outcome,
                                      diff_changes(result.diff), why))
    return sorted(mutants, key=lambda m: (m.line, m.operator))


def summarize(mutants: list[Mutant], left_out: int, seconds: float) -> dict:
    count = {k: sum(m.outcome == k for m in mutants) for k in ("killed", "timeout", "survived", "incompetent")}
    killed = count["killed"] + count["timeout"]
    total = killed + count["survived"]
    return {"killed": killed, "survived": count["survived"], "total": total,
            "kill_rate": round(killed / total, 4) if total else None,
            "timeouts": count["timeout"], "incompetent": count["incompetent"], "left_out": left_out,
            "seconds": round(seconds, 1)}


# --------------------------------------------------------------------------------------------------


def mutate_module(rel: str, tests: list[str], copies: list[Path], work: Path, args) -> dict | str:
    """Returns the module's summary, or why it was skipped."""
    started = time.perf_counter()
    base = copies[0]
    missing = [p for p in [rel, *tests] if not (base / p.split("::")[0]).is_file()]  # a test may be a node id (file::test)
    if missing:
        return "missing: " + ", ".join(missing)
    problem = smoke_test(base, rel)
    if problem:
        return "smoke test failed: " + problem
    ok, baseline, output = run_tests(base, tests)
    if not ok:
        print(f"  baseline failing ({baseline:.1f} s):\n{tail(output)}")
        return "baseline failing"
    timeout = max(TIMEOUT_FACTOR * baseline, MIN_TIMEOUT)
    print(f"  baseline passes in {baseline:.1f} s; {module_name(rel)} is imported from the copy; "
          f"timeout per mutant {timeout:.0f} s", flush=True)

    slug = rel.replace("/", "_").removesuffix(".py")
    session = work / f"{slug}.sqlite"
    init_config = write_config(work / f"{slug}.toml", rel, base, tests, timeout)
    subprocess.run(cosmic_ray("init", str(init_config), str(session)), cwd=base, env=child_env(base), check=True)
    todo, in_annotations, not_sampled = prepare_session(session, (base / rel).read_text(encoding="utf-8"),
                                                        args.max_mutants, args.seed)
    left_out = in_annotations + not_sampled
    workers = copies[:max(1, min(len(copies), len(todo)))]
    print(f"  {len(todo)} mutants to test, {len(workers)} worker(s); left out: {in_annotations} in type annotations"
          + (f", {not_sampled} not in the sample" if not_sampled else ""), flush=True)

    if todo:
        sessions = shard_sessions(session, todo, len(workers))
        configs = [write_config(work / f"{slug}-{i}.toml", rel, c, tests, timeout) for i, c in enumerate(workers)]
        logs = [work / f"{slug}-{i}.log" for i in range(len(workers))]
        execute(sessions, configs, workers, logs, len(todo), started)
        mutants = collect(sessions)
    else:
        mutants = []

    summary = summarize(mutants, left_out, time.perf_counter() - started)
    rate = f"{summary['kill_rate']:.1%}" if summary["kill_rate"] is not None else "n/a"
    print(f"  kill rate {rate}: {summary['killed']} killed ({summary['timeouts']} by timeout), "
          f"{summary['survived']} survived, {summary['incompetent']} incompetent, in {summary['seconds']:.0f} s")
    for title, kind in (("survived", "survived"), ("killed by timeout", "timeout"), ("incompetent", "incompetent")):
        listed = [m for m in mutants if m.outcome == kind]
        if listed:
            print(f"  {title} ({len(listed)}):")
            print("\n".join(m.show() for m in listed))
    return summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("modules", nargs="*", help="module paths relative to the repository (default: all in MODULES)")
    ap.add_argument("--tests", nargs="+", metavar="TEST_FILE", help="test files to use instead of the table's")
    ap.add_argument("--jobs", type=int, default=2, help="parallel workers, each in its own copy (default 2)")
    ap.add_argument("--max-mutants", type=int, metavar="N", help="test a random sample of N mutants per module")
    ap.add_argument("--seed", type=int, default=0, help="seed of that sample (default 0)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder (copies, sessions, logs)")
    ap.add_argument("--databases", action="store_true", help=(
        "keep CRM_TEST_PG_URL and CRM_TEST_MYSQL_URL for the tests, so dialect-specific code (MySQL's TEMPORARY "
        "tables, PostgreSQL's errors) is tested too; each test makes its own scratch database"))
    args = ap.parse_args()
    global KEEP_DATABASES
    KEEP_DATABASES = args.databases
    if args.jobs < 1:
        ap.error("--jobs must be at least 1")

    plan: dict[str, list[str]] = {}
    for given in args.modules or list(MODULES):
        path = Path(given)
        rel = (path.resolve().relative_to(ROOT) if path.is_absolute() else path).as_posix()
        if args.tests is None and rel not in MODULES:
            ap.error(f"{rel} is not in MODULES: give its tests with --tests")
        plan[rel] = args.tests or MODULES[rel]

    work = Path(tempfile.mkdtemp(prefix="crm-mutation-")).resolve()
    if work.is_relative_to(ROOT):
        sys.exit(f"refusing to mutate inside the working tree ({work}); set TMPDIR elsewhere")
    copies = [work / f"copy-{i}" for i in range(args.jobs)]
    modules, skipped = {}, {}
    try:
        files = snapshot(copies[0])
        for copy in copies[1:]:
            shutil.copytree(copies[0], copy, symlinks=True)
        print(f"copied {files} files of {ROOT} into {len(copies)} cop{'y' if len(copies) == 1 else 'ies'} under {work}")
        for rel, tests in plan.items():
            print(f"\n== {rel}  (tests: {' '.join(tests)})", flush=True)
            try:
                outcome = mutate_module(rel, tests, copies, work, args)
            except (RuntimeError, subprocess.CalledProcessError) as exc:  # cosmic-ray itself failed
                outcome = f"cosmic-ray failed: {exc}"
            if isinstance(outcome, str):
                print(f"  skipped: {outcome}")
                skipped[rel] = outcome.splitlines()[0]
            else:
                modules[rel] = outcome
    finally:
        if args.keep:
            print(f"\nscratch folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print("\n== summary")
    for rel, s in modules.items():
        rate = f"{s['kill_rate']:.1%}" if s["kill_rate"] is not None else "n/a"
        print(f"  {rel:32} {rate:>7}  killed {s['killed']:>4} / {s['total']:<4} survived {s['survived']:>4}"
              f"  timeouts {s['timeouts']}  incompetent {s['incompetent']}  {s['seconds']:>6.0f} s")
    for rel, why in skipped.items():
        print(f"  {rel:32} skipped: {why}")
    killed, total = sum(s["killed"] for s in modules.values()), sum(s["total"] for s in modules.values())
    print(json.dumps({"modules": modules, "overall_kill_rate": round(killed / total, 4) if total else None,
                      "skipped": skipped}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    _use_venv_interpreter()
    sys.exit(main())
