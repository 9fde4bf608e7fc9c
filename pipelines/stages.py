"""The stages of a migration, each a plain function over plain data (no Prefect here).

pipelines/run.py lists them in order; pipelines/flow.py wraps each in a Prefect task.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

import polars as pl
import sqlalchemy as sa

from crm_migrate.contracts import (REJECTED, CANONICAL, CRITICAL, CUSTOMER, FLAGS, GOLDEN_COLUMNS, LINEAGE, LEGACY_ORG_CODE, LEGACY_REG_NUMBER, LEGACY_TAX_NUMBER, MATCHED_WITHOUT_REGION,
                                   OPPORTUNITY, QUARANTINE, REJECT, RID, ROW, SOURCE, SOURCE_KEY)
from crm_migrate import progress
from crm_migrate.errors import MigrationError
from expectations.gates import Gate
from expectations.runner import SuiteOutcome, validate_frame
from extractors import Extracted, extract_source
from extractors.non_records import NonRecord, PhysicalCount
from loaders.crosswalk import previous_crosswalk
from loaders.batched import begin_run, check_before_run, finish_run, load_in_batches
from loaders.history import before_images, ensure_xref_view, history_tables, record_run
from loaders.lock import TargetLock, acquire
from loaders.preflight import check_target
from loaders.readback import held_values, read_back
from loaders.schema import ledger_table, run_tables, target_table
from loaders.target import Abandon, make_engine, new_sqlite_file, remove_if_empty, target_session
from loaders.upsert import UpsertResult, append, read_table, upsert_all
from pipelines.context import RunContext
from reports.data_docs import build_data_docs
from reports.run_folder import remove_set_aside, rows_set_aside, set_aside as write_aside, write_loaded
from reports.reconciliation import SCHEMA_VERSION as RECONCILIATION_SCHEMA_VERSION, reconcile as reconcile_frames, verdict as reconciliation_verdict
from transforms.archive import ARCHIVE_REASON, mark_stale
from crm_migrate.flags import flags_text
from transforms.ledger import accounting, build_ledger, customer_dispositions, opportunity_dispositions, with_record_flags
from transforms.mapping import ColumnSpec, key_problems, map_table, numbers_for, picklist_references
from transforms.plan import plan_table
from transforms.quality_profile import source_profile
from transforms.pseudonymize import key_bytes, mask_fields, mask_value
from transforms.quarantine import quarantine
from transforms.sample import choose, sample_ledger, where_problem
from extractors.decisions import read_decisions
from transforms.names import trade_vocabulary
from transforms.parallel import fan_out
from transforms.opportunities import COLLISION, LINK_REASON, DealMatching, resolve_opportunities
from transforms.resolve import (CARRIED, DEFAULT_SURVIVORSHIP, PRIORITY, CustomerResolution, MatchSettings, carry_over, golden_records,
                                resolve_customers)
from transforms.standardize import RuleStat, SourceMappingSpec, standardize as standardize_frame


# ---- preflight --------------------------------------------------------------------------------

def preflight(ctx: RunContext) -> TargetLock:
    """Before any data moves: take the target's lock (one run at a time), then check that the target is
    reachable, writable and that its existing tables fit the mapping. Returns the held lock."""
    target = ctx.config.target
    with ctx.stage("preflight"):
        if ctx.sample is not None and ctx.sample.where:  # a typo in --where is named now, not after extraction and resolution
            refuse_bad_where(ctx.sample.where, [*CANONICAL[CUSTOMER], *GOLDEN_COLUMNS])
        engine = make_engine(target.url)
        created = new_sqlite_file(target.url) if ctx.dry_run else None  # a dry run leaves no new file behind
        try:
            lock = acquire(engine, ctx.run_id, target.lock_wait_seconds)
        except BaseException:
            engine.dispose()
            raise

        def release() -> None:
            lock.release()
            engine.dispose()
            if created is not None:
                remove_if_empty(created)

        held = TargetLock(lock.description, release)
        try:
            tables, types = run_tables(ctx.loaded.target_specs(), target.ledger_table)
            for line in check_target(target.url, tables, types):
                ctx.progress("preflight", line)
            with engine.connect() as conn:  # no new run over a killed batch run; a resume only of one that may be finished
                check_before_run(conn, ctx.run_id, ctx.resume, ctx.loaded.digest(), run_options(ctx))
        except BaseException:
            held.release()
            raise
    return held


# ---- extract ----------------------------------------------------------------------------------

def extract(ctx: RunContext) -> dict[str, Extracted]:
    with ctx.stage("extract"):
        # One source per worker with run --cluster: each reads its input whole (one snapshot of a
        # table, one physical count of a file), so a source is not cut into chunks.
        jobs = [(src, ctx.loaded.source_mappings[src.name].source_columns(), ctx.since(src)) for src in ctx.config.sources]
        out = dict(zip([src.name for src in ctx.config.sources], fan_out(_extract_one, jobs)))
        for src in ctx.config.sources:
            x = out[src.name]
            skipped = sum(x.skipped.values())
            ctx.progress("extract", f"{src.name}: {x.frame.height:,} records" + (f", {skipped:,} rows that are not records" if skipped else ""))
            for warning in x.warnings:
                ctx.progress("extract", f"warning: {warning}")
    return out


def _extract_one(job: tuple, _=None) -> Extracted:
    return extract_source(*job)


def source_deletions(ctx: RunContext, extracted: dict[str, Extracted]) -> dict[str, dict]:
    """Records earlier committed runs read that a source read whole no longer holds: reported per
    source (manifest, console, report), never deleted in the target (transforms/deletions.py)."""
    from loaders.crosswalk import earlier_records
    from transforms.deletions import gone_from_sources, summary

    whole = [s.name for s in ctx.config.sources if ctx.since(s) is None]
    with ctx.stage("source_deletions"):
        earlier = earlier_records(ctx.config.target.url, ctx.config.target.ledger_table, whole)
        if not earlier.height:
            return {}
        now = pl.concat([x.frame.select(pl.col(SOURCE).alias("source"), pl.col(SOURCE_KEY).cast(pl.String).alias("source_key"))
                         for x in extracted.values()])
        found = summary(gone_from_sources(earlier, now, whole))
        for source, g in found.items():
            ctx.progress("source_deletions", f"warning: {source}: {g['count']:,} record{'s' if g['count'] != 1 else ''} of earlier runs "
                         f"{'are' if g['count'] != 1 else 'is'} no longer in the source"
                         + (f" ({g['in_target']:,} loaded or merged: kept in the target)" if g["in_target"] else "") + "; see the report")
    return found


# ---- standardize ------------------------------------------------------------------------------

@dataclass
class Canonical:
    frames: dict[str, pl.DataFrame]  # entity -> canonical frame with _rid and _priority
    extracted_counts: dict[tuple[str, str], int]  # (entity, source) -> records
    rule_stats: list[RuleStat]
    skipped: dict[str, dict[str, int]]  # source -> rows that are not records, by kind (blank rows, footers ...)
    notes: dict[str, list[str]]  # source -> what the reader noticed (header row, encoding)
    physical: dict[str, PhysicalCount] = field(default_factory=dict)  # source -> how its physical input divides
    non_records: dict[str, list[NonRecord]] = field(default_factory=dict)  # source -> each row that is not a record


def standardize(ctx: RunContext, extracted: dict[str, Extracted]) -> Canonical:
    frames: dict[str, list[pl.DataFrame]] = {}
    stats: list[RuleStat] = []
    counts = {}
    names = ctx.config.names
    with ctx.stage("standardize"), trade_vocabulary(names.trade_words, names.trade_synonyms):
        for src in ctx.config.sources:
            m = ctx.loaded.source_mappings[src.name]
            spec = SourceMappingSpec(m.columns, m.constants, m.day_first,
                                     {f: vm.lookup() for f, vm in ctx.loaded.value_maps[src.name].items()}, m.attributes)
            frame, rule_stats = standardize_frame(extracted[src.name].frame, src.entity, src.name, spec)
            frames.setdefault(src.entity, []).append(frame.with_columns(pl.lit(src.priority).alias(PRIORITY)))
            stats += rule_stats
            counts[(src.entity, src.name)] = frame.height
            progress.report("records standardized", sum(counts.values()), sum(x.frame.height for x in extracted.values()))
        # diagonal: sources may carry different attributes (missing in the others); one chunk per
        # column, or the first stage adding a column to it copies the whole frame to align them.
        out = {e: pl.concat(fs, how="diagonal", rechunk=True).with_row_index(RID).with_columns(pl.col(RID).cast(pl.Int64)) for e, fs in frames.items()}
        for e in (CUSTOMER, OPPORTUNITY):
            ctx.progress("standardize", f"{e}: {out[e].height:,} records" if e in out else f"{e}: none")
    return Canonical(out, counts, stats, {n: x.skipped for n, x in extracted.items() if x.skipped},
                     {n: x.notes for n, x in extracted.items()}, {n: x.physical for n, x in extracted.items() if x.physical},
                     {n: x.non_records for n, x in extracted.items() if x.non_records})


# ---- mask (a masked sandbox load) ------------------------------------------------------------------

def mask(ctx: RunContext, canonical: Canonical) -> Canonical:
    """Replace the fields `target.masking` names with keyed pseudonyms (transforms/pseudonymize.py),
    before anything downstream sees them: validation, matching, the target, the ledger and the
    reports only ever hold masked values. The examples of the standardization rules (values as typed
    and as standardized) are masked the same way."""
    masking = ctx.config.target.masking
    if masking is None:
        return canonical
    with ctx.stage("mask"):
        methods, key = masking.methods(), key_bytes(masking.key)
        frames = {e: mask_fields(f, methods, key) for e, f in canonical.frames.items()}
        rules = [replace(r, examples=[(mask_value(methods[r.field], b, key), mask_value(methods[r.field], a, key)) for b, a in r.examples])
                 if r.field in methods else r for r in canonical.rule_stats]
        for e, f in frames.items():
            masked = sorted(c for c in methods if c in f.columns)
            ctx.progress("mask", f"{e}: {', '.join(masked) or 'no field'} masked on {f.height:,} records")
    return replace(canonical, frames=frames, rule_stats=rules)


# ---- quality profile ---------------------------------------------------------------------------

def quality_as_of(ctx: RunContext) -> date:
    return ctx.config.archive.as_of or ctx.started.date()


def profile(ctx: RunContext, extracted: dict[str, Extracted], canonical: Canonical) -> list[dict]:
    """Each source's quality before and after standardization (transforms/quality_profile.py)."""
    out = []
    with ctx.stage("profile"):
        for src in ctx.config.sources:
            frame = canonical.frames.get(src.entity)
            if frame is None:
                continue
            raw = extracted[src.name].frame.sort(ROW)
            mine = frame.filter(pl.col(SOURCE) == src.name).sort(ROW)
            out.append(source_profile(src.name, src.entity, raw, mine, ctx.loaded.source_mappings[src.name].columns,
                                      quality_as_of(ctx), ctx.config.validation.stale_after_years))
    return out


def set_aside(ctx: RunContext, extracted: dict[str, Extracted]) -> dict[str, Extracted]:
    """After the profile, the sources' records as read are needed only for the rejects of
    report.xlsx: they go to Parquet in the run folder and leave memory, which they would otherwise
    hold through resolution, the run's peak (about 0.8 GB per million records; docs/scale.md). A
    masked load shows masked canonical values instead, so it keeps none of them."""
    masked = bool(ctx.config.target.masking)
    return {name: replace(x, frame=x.frame.clear(), set_aside=None if masked else write_aside(ctx.run_dir, position, x.frame))
            for position, (name, x) in enumerate(extracted.items())}


# ---- validate (canonical) ---------------------------------------------------------------------

@dataclass
class Validated:
    frames: dict[str, pl.DataFrame]  # with reject_reason (null = kept) and flags from warnings
    outcomes: dict[str, SuiteOutcome]
    gate_stops: list[str] = field(default_factory=list)  # canonical suites' gates that stop the run


def validate(ctx: RunContext, canonical: Canonical) -> Validated:
    """Run each entity's canonical suite; quarantine what its critical rules reject, flag what its
    warnings find, and note what its gate says."""
    frames, outcomes, reasons = {}, {}, []
    suites = ctx.config.validation.suites.get("canonical", {})
    references = picklist_references(ctx.loaded.target_specs())
    with ctx.stage("validate"):
        for entity, frame in canonical.frames.items():
            frame = frame.with_columns(pl.col(QUARANTINE).alias(REJECT))  # structurally broken records
            if entity in suites:
                outcome, found, stops = validate_frame(frame, suites[entity], "canonical", entity, list(LINEAGE),
                                                       ctx.config.validation.parameters, references)
                frame = quarantine(frame, found)
                reasons += stops
                outcomes[entity] = outcome
            frames[entity] = frame
            progress.report("records validated", sum(f.height for f in frames.values()), sum(f.height for f in canonical.frames.values()))
            ctx.progress("validate", f"{entity}: {frame.filter(pl.col(REJECT).is_not_null()).height:,} rejected")
    return Validated(frames, outcomes, reasons)


# ---- resolve ----------------------------------------------------------------------------------

@dataclass
class Resolution:
    golden: pl.DataFrame  # one row per golden customer (archived ones included), with provenance
    customers: pl.DataFrame  # dispositions per customer record
    opportunities: pl.DataFrame  # canonical opportunities with target ids, linked customer and disposition
    ledger: pl.DataFrame
    customer_snapshot: pl.DataFrame  # every kept customer record (carried ones too), for the next delta run
    matching: CustomerResolution | None = None  # scored pairs, the learned model, the blocking report
    settings: MatchSettings | None = None
    decisions: pl.DataFrame | None = None  # reviewer decisions applied in this run
    survivorship: dict[str, str] = field(default_factory=dict)  # field -> rule, from config
    sample: pl.Series | None = None  # golden ids of a sample rehearsal (run --sample / --where): only these load

    def golden_members(self) -> pl.DataFrame:
        """Every clustered customer record with its golden id."""
        return self.matching.clustered if self.matching is not None else pl.DataFrame()

    def golden_loadable(self) -> pl.DataFrame:
        """Golden customers a full run writes: not archived, with a record read in this run (the
        others stay as earlier runs wrote them)."""
        return self.golden.filter(~pl.col("archived") & (pl.col("current_members") > 0))

    def golden_to_load(self) -> pl.DataFrame:
        """Golden customers this run writes: the loadable ones, in a sample rehearsal those drawn."""
        golden = self.golden_loadable()
        return golden if self.sample is None else golden.filter(pl.col("target_id").is_in(self.sample.implode()))

    def opportunities_to_load(self) -> pl.DataFrame:
        """Opportunities this run writes: the surviving record of each deal, linked to a customer, not
        rejected (in a sample rehearsal: of the sampled customers only)."""
        opps = self.opportunities
        if not opps.height:
            return opps
        keep = (pl.col("_survivor").fill_null(False) & pl.col(REJECT).is_null() & pl.col(LINK_REASON).is_null()
                & pl.col(COLLISION).is_null())
        if self.sample is not None:
            keep = keep & pl.col("customer_target_id").is_in(self.sample.implode())
        return opps.filter(keep)


def same_file_sources(cfg) -> dict[str, list[str]]:
    """Opportunity source -> customer sources read from the same file (a workbook's customer sheet next to its deals sheet)."""
    customers = [s for s in cfg.sources if s.entity == CUSTOMER and s.path is not None]
    return {o.name: [c.name for c in customers if c.path == o.path] for o in cfg.sources if o.entity == OPPORTUNITY and o.path is not None}


def resolve(ctx: RunContext, validated: Validated) -> Resolution:
    cfg = ctx.config
    with ctx.stage("resolve"), trade_vocabulary(cfg.names.trade_words, cfg.names.trade_synonyms):
        cust = validated.frames.get(CUSTOMER)
        if cust is None:
            raise MigrationError("no customer source is configured", hint="add a source with entity: customer")
        kept = cust.filter(pl.col(REJECT).is_null())
        rejected = cust.filter(pl.col(REJECT).is_not_null())
        # Delta runs: earlier records of incrementally read sources take part in survivorship.
        incremental = {s.name for s in cfg.sources if s.entity == CUSTOMER and ctx.since(s) is not None}
        kept = carry_over(kept, ctx.state.customer_snapshot() if incremental else pl.DataFrame(), incremental)
        carried = kept.filter(pl.col(CARRIED)).height
        if carried:
            ctx.progress("resolve", f"{carried:,} customer records of earlier runs carried into survivorship")
        snapshot = kept.drop(CARRIED)
        as_of = cfg.archive.as_of or date.today()
        kept = mark_stale(kept, cfg.archive.inactive_statuses, cfg.archive.not_updated_for_days, as_of) if cfg.archive.enabled \
            else kept.with_columns(pl.lit(None, dtype=pl.String).alias(ARCHIVE_REASON))
        r = cfg.resolution
        settings = r.match_settings()
        decisions = read_decisions(r.decisions)
        # Golden ids of earlier committed runs (the target's ledger): customers keep them.
        earlier = previous_crosswalk(cfg.target.url, cfg.target.ledger_table, sorted({s.name for s in cfg.sources if s.entity == CUSTOMER}))
        matching = resolve_customers(kept, settings, decisions, earlier)
        if matching.superseded is not None and matching.superseded.height:
            ctx.progress("resolve", f"{matching.superseded.height:,} golden customers of earlier runs merged into others (see the report)")
        for warning in matching.blocking.warnings() if matching.blocking else []:
            ctx.progress("resolve", f"warning: {warning}")
        golden, members = golden_records(matching.clustered, r.survivorship)
        opps = validated.frames.get(OPPORTUNITY)
        if opps is not None:
            # Customer keys -> golden ids: this run's records (rejected ones with their reason), records
            # carried from earlier runs, and in delta runs the target's ledger for any key still missing.
            keys = pl.concat([
                members.select(SOURCE, "_source_key", "target_id", pl.lit(None, dtype=pl.String).alias(REJECT)),
                rejected.select(SOURCE, "_source_key", pl.lit(None, dtype=pl.String).alias("target_id"), pl.col(REJECT)),
            ])
            customer_source_of = {s.name: s.customer_source for s in cfg.sources if s.entity == OPPORTUNITY}
            if incremental:  # keys of customers not read again: their golden id as earlier runs gave it
                unread = earlier.filter(pl.col(SOURCE).is_in(sorted({c for c in customer_source_of.values() if c}))).drop(ROW)
                unread = unread.unique([SOURCE, "_source_key"], keep="last", maintain_order=True)
                unread = unread.join(keys, on=[SOURCE, "_source_key"], how="anti")
                keys = pl.concat([keys, unread.with_columns(pl.lit(None, dtype=pl.String).alias(REJECT))], how="diagonal")
            deals = DealMatching(r.opportunity_duplicates.name_similarity, r.opportunity_duplicates.close_date_window_days)
            linked = resolve_opportunities(opps, keys, members, customer_source_of, deals, same_file_sources(cfg))
            opp_disp = opportunity_dispositions(linked)
            with_opps = linked.filter(pl.col("target_id").is_not_null()).get_column("customer_target_id")
        else:
            linked, opp_disp, with_opps = None, None, pl.Series([], dtype=pl.String)
        cust_disp = customer_dispositions(members, rejected, with_opps)
        ledger = build_ledger(ctx.run_id, CUSTOMER, cust_disp)
        if opp_disp is not None:
            ledger = pl.concat([ledger, build_ledger(ctx.run_id, OPPORTUNITY, opp_disp)])
        archived_ids = cust_disp.filter(pl.col("disposition") == "archived").get_column("target_id").unique()
        golden = golden.with_columns(pl.col("target_id").is_in(archived_ids.implode()).alias("archived"))
        review = matching.review_pairs(settings).height
        ctx.progress("resolve", f"{golden.height:,} golden customers from {kept.height:,} records; {review:,} pairs to review"
                     + (f"; {decisions.height:,} review decisions applied" if decisions.height else ""))
    return Resolution(golden, cust_disp, linked if linked is not None else pl.DataFrame(), ledger, snapshot, matching, settings, decisions,
                      dict(r.survivorship))


def refuse_bad_where(where: str, fields: list[str]) -> None:
    """Stop on a --where that cannot be read or names a field golden customers do not have."""
    problem = where_problem(where, fields)
    if problem:
        raise MigrationError(problem, hint="name canonical customer fields, e.g. --where \"province = '广东省'\"")


# ---- sample -----------------------------------------------------------------------------------

def sample(ctx: RunContext, resolution: Resolution) -> Resolution:
    """A sample rehearsal (run --sample N / --where): the chosen golden customers with all their
    records and opportunities; the others' records stay in the ledger as unsampled."""
    spec = ctx.sample
    if spec is None:
        return resolution
    with ctx.stage("sample"):
        pool = resolution.golden_loadable()
        if spec.where:
            refuse_bad_where(spec.where, pool.columns)
        chosen = choose(pool, spec)
        if not chosen.len():
            raise MigrationError(f"the sample is empty: no golden customer of the {pool.height:,} is kept by --where {spec.where}",
                                 hint="check the condition's values against the canonical fields (e.g. province = '广东省', with 省)")
        ctx.progress("sample", f"SAMPLE: {chosen.len():,} of {pool.height:,} golden customers ({spec.describe()})")
        return replace(resolution, sample=chosen, ledger=sample_ledger(resolution.ledger, chosen, spec))


# ---- map --------------------------------------------------------------------------------------

@dataclass
class Mapped:
    frames: dict[str, pl.DataFrame]  # entity -> target rows
    specs: dict[str, tuple[str, str, list[ColumnSpec]]]  # entity -> (table, key, columns)
    problems: dict[str, list[dict]]  # values the target cannot take: the gate stops the run
    notes: dict[str, list[dict]] = field(default_factory=dict)  # values the mapping truncated or defaulted
    ledger: pl.DataFrame | None = None  # the resolution's ledger with the mapping's flags on the records behind them


def map_to_target(ctx: RunContext, resolution: Resolution) -> Mapped:
    specs = ctx.loaded.target_specs()
    frames, problems, notes, flagged = {}, {}, {}, []
    with ctx.stage("map"):
        rows: dict[str, tuple[pl.DataFrame, pl.Series]] = {}  # entity -> (rows to map, the source record of each)
        if CUSTOMER in specs:
            golden = resolution.golden_to_load()
            rows[CUSTOMER] = golden, golden.get_column("survivor")
        if OPPORTUNITY in specs and resolution.opportunities.height:
            loaded = resolution.opportunities_to_load()
            rows[OPPORTUNITY] = loaded, loaded.select(pl.col(SOURCE) + ":" + pl.col(SOURCE_KEY)).to_series()
        for entity, (frame, origin) in rows.items():
            table, key, cols = specs[entity]
            held = held_values(ctx.config.target.url, table, key, [c.name for c in cols if c.number])
            numbers = numbers_for(frame, cols, key, held, ctx.started.year)
            result = map_table(frame, cols, ctx.loaded.lookups, numbers)
            for p in result.problems + result.notes:  # the records behind a problem, by key: what a user needs to find them
                p["records"] = [origin[i] for i in p.pop("positions")]
            problems[entity] = result.problems + key_problems(result.rows, key, origin)
            numbered = [c.name for c in cols if c.number]
            # in number order: a batch-committed load killed half way has written the lowest numbers, so
            # a resumed run numbers the rest as one clean run would
            frames[entity] = result.rows.sort(numbered, nulls_last=True, maintain_order=True) if numbered else result.rows
            notes[entity] = result.notes
            keys = result.rows.get_column(key).cast(pl.String)
            flagged.append(result.flags.select(pl.lit(entity).alias("entity"), "flag", keys.gather(result.flags["position"]).alias("target_id")))
            for n in result.notes:
                ctx.progress("map", f"{table}.{n['column']}: {n['count']:,} values {n['problem']}")
        for e, f in frames.items():
            ctx.progress("map", f"{specs[e][0]}: {f.height:,} rows")
    return Mapped(frames, specs, problems, notes, with_record_flags(resolution.ledger, pl.concat(flagged) if flagged else None))


# ---- validate (target) and the gate ------------------------------------------------------------

def validate_target(ctx: RunContext, canonical: Canonical, resolution: Resolution, mapped: Mapped,
                    validated: Validated | None = None) -> Gate:
    gates = ctx.config.validation.gates
    suites = ctx.config.validation.suites.get("target", {})
    gate = Gate(True)
    references = {"golden_customer_ids": frozenset(resolution.golden.filter(~pl.col("archived"))["target_id"].to_list())}
    with ctx.stage("validate_target"):
        for reason in (validated.gate_stops if validated else []):
            gate.stop(reason)
        rejected = resolution.ledger.filter(pl.col("disposition") == "rejected").group_by("entity", "source").len()
        for (entity, source), n in canonical.extracted_counts.items():
            r = rejected.filter((pl.col("entity") == entity) & (pl.col("source") == source))["len"].sum()
            if n and r / n > gates.max_reject_rate:
                gate.stop(f"{source}: {r} of {n} {entity} records rejected ({r / n:.1%}), above max_reject_rate {gates.max_reject_rate:.1%}")
        for entity, problems in mapped.problems.items():
            for p in problems:
                records = f" (records {', '.join(p['records'])}{', …' if p['count'] > len(p['records']) else ''})" if p.get("records") else ""
                gate.stop(f"{mapped.specs[entity][0]}.{p['column']}: {p['count']} values {p['problem']}{records}", p["examples"], binding=True)
        for entity, frame in mapped.frames.items():
            if entity in suites:
                table, key = mapped.specs[entity][0], mapped.specs[entity][1]
                rows = frame.with_row_index(RID).with_columns(pl.col(RID).cast(pl.Int64))
                outcome, _, stops = validate_frame(rows, suites[entity], "target", entity, [key], ctx.config.validation.parameters, references)
                gate.outcomes[entity] = outcome
                for reason in stops:
                    gate.stop(reason)
                if gates.target_suite_must_pass:
                    for o in outcome.failed(CRITICAL):
                        gate.stop(f"{table}: {o.rule.name} fails for {o.unexpected_count} rows ({o.reason}; by {key})",
                                  [e.get(key) for e in outcome.examples.get(o.rule.name, [])])
        gate.decide(ctx.force)
        ctx.progress("validate_target", "gate passed" if gate.passed and not gate.forced else
                     f"gate failed: {len(gate.reasons)} reasons, overridden by --force" if gate.forced else f"gate failed: {len(gate.reasons)} reasons")
    return gate


# ---- load (and the proof, inside the same transaction) -------------------------------------------

@dataclass
class Loaded:
    results: list[UpsertResult]
    ledger_rows: int
    reconciliation: dict  # accounting, target read-back and value diff; `balanced` is the proof
    skipped: bool = False  # the gate stopped the run, or the ledger did not account for every record
    committed: bool = False
    plan: list[dict] = field(default_factory=list)  # per table: inserts, updates, unchanged, changed columns, examples
    planned_only: bool = False  # plan / run --plan-only: the target was read, not written


def load(ctx: RunContext, canonical: Canonical, resolution: Resolution, mapped: Mapped, gate: Gate) -> Loaded:
    """Write inside one transaction, read the target back, prove the run (reports/reconciliation.py),
    and commit only a proven, non-dry run: an unbalanced run leaves the target as it was."""
    acct = accounting(canonical.extracted_counts, resolution.ledger, {n: p.as_dict() for n, p in canonical.physical.items()})
    skipped = {"balanced": all(r["balanced"] for r in acct), "accounting": acct, "tables": {}, "loaded": False}
    if not gate.passed or not skipped["balanced"]:
        if not skipped["balanced"]:
            ctx.progress("load", "skipped: the ledger does not account for every record")
        return Loaded([], 0, skipped, skipped=True)
    target = ctx.config.target
    with ctx.stage("load"):
        md = sa.MetaData()
        tables = {e: target_table(md, name, key, cols) for e, (name, key, cols) in mapped.specs.items() if e in mapped.frames}
        ledger_t = ledger_table(md, target.ledger_table)
        run_t, image_t = history_tables(md)
        results, actual, plans, images = [], {}, [], []
        xref = {e: mapped.specs[e][0] for e in tables}
        batched = target.commit == "batch" and not ctx.dry_run  # a dry run is always one transaction, rolled back
        with target_session(target.url, [*tables.values(), ledger_t, run_t, image_t], ctx.dry_run,
                            setup=lambda engine: ensure_xref_view(engine, ledger_t, xref)) as conn:
            order = [e for e in (CUSTOMER, OPPORTUNITY) if e in tables]  # accounts before the opportunities that point at them
            items = [(tables[e], mapped.frames[e], mapped.specs[e][1]) for e in order]
            if batched:
                done = begin_run(conn, run_t, ctx.run_id, ctx.started, ctx.loaded.digest(), ctx.resume, run_options(ctx), target.ledger_table)
                if ctx.resume:
                    ctx.progress("load", "resuming: " + (", ".join(f"{t} {c['inserted']:,} inserted, {c['updated']:,} updated" for t, c in done.items())
                                                         or "no batch was committed"))
                written = load_in_batches(conn, run_t, image_t, ctx.run_id, items, target.batch_size, target.commit_rows, done)
            else:
                written = upsert_all(conn, items, target.batch_size)
            for entity, (res, changes) in zip(order, written):
                results.append(res)
                plans.append(changes.summary())
                write_loaded(ctx.run_dir, res.table, mapped.frames[entity], changes.outside_keys)  # for `crm-migrate reconcile` later
                if not batched:  # (a batched load wrote each batch's images with it)
                    images.append(before_images(ctx.run_id, res.table, mapped.specs[entity][1], changes.new, changes.before))
                ctx.progress("plan", plan_line(plans[-1]))
                ctx.progress("load", f"{res.table}: {res.inserted:,} inserted, {res.updated:,} updated, {res.unchanged:,} unchanged")
            if batched:  # written once, at the end; a resumed run replaces nothing else
                conn.execute(ledger_t.delete().where(ledger_t.c.run_id == ctx.run_id))
            ledger_rows = append(conn, ledger_t, resolution.ledger, target.batch_size)
            if images:  # what a rollback of this run restores
                append(conn, image_t, pl.concat(images), target.batch_size)
            run_manifest = {"run_id": ctx.run_id, "project": ctx.config.project, "ledger_table": target.ledger_table, "gate": gate.as_dict(), "plan": plans,
                            "sample": sample_summary(ctx, resolution), "masking": masking_summary(ctx), "options": run_options(ctx), "inputs": _inputs(ctx, canonical)}
            if batched:
                finish_run(conn, run_t, ctx.run_id, {r.table: vars(r) for r in results}, run_manifest)
            else:
                record_run(conn, run_t, ctx.run_id, ctx.started, ctx.loaded.digest(), {r.table: vars(r) for r in results}, run_manifest)
            for entity, table in tables.items():
                actual[entity] = read_back(conn, table, mapped.frames[entity], mapped.specs[entity][1])
            with ctx.stage("reconcile"):
                amount_col = {e: next((c.name for c in cols if c.source == "amount"), None) for e, (_, _, cols) in mapped.specs.items()}
                # totals per stage (or status) and per owner; amounts per customer
                group_col = {e: [c.name for c in cols if c.source in ("stage", "status")] + [c.name for c in cols if c.source == "owner"]
                             for e, (_, _, cols) in mapped.specs.items()}
                customer_col = {e: next((c.name for c in cols if c.source == "customer_target_id"), None) for e, (_, _, cols) in mapped.specs.items()}
                rec = reconcile_frames(acct, resolution.ledger, mapped.frames, actual, {e: sp[1] for e, sp in mapped.specs.items()},
                                       amount_col, group_col, customer_col)
                rec["loaded"] = True
                ctx.progress("reconcile", "balanced" if rec["balanced"] else "NOT balanced: rolling the target back" if not batched
                             else f"NOT balanced: the committed batches stay; undo them with crm-migrate rollback CONFIG --run {ctx.run_id}")
            if not rec["balanced"]:
                raise Abandon  # rolled back: nothing of an unproven run stays in the target
            if ctx.dry_run:
                ctx.progress("load", "dry run: rolling back")
    return Loaded(results, ledger_rows, rec, committed=rec["balanced"] and not ctx.dry_run, plan=plans)


def plan(ctx: RunContext, canonical: Canonical, resolution: Resolution, mapped: Mapped) -> Loaded:
    """`crm-migrate plan` / `run --plan-only`: what a load would change in each target table, from the
    target read as it is now (transforms/plan.py); nothing is written."""
    acct = accounting(canonical.extracted_counts, resolution.ledger, {n: p.as_dict() for n, p in canonical.physical.items()})
    plans = []
    with ctx.stage("plan"):
        engine = make_engine(ctx.config.target.url)
        try:
            with engine.connect() as conn:
                existing = set(sa.inspect(conn).get_table_names())
                md = sa.MetaData()
                for entity in (CUSTOMER, OPPORTUNITY):
                    if entity not in mapped.frames:
                        continue
                    name, key, cols = mapped.specs[entity]
                    frame = mapped.frames[entity]
                    current = read_table(conn, target_table(md, name, key, cols), frame.schema) if name in existing else frame.clear()
                    summary = plan_table(name, frame, current, key).summary()
                    plans.append(summary)
                    ctx.progress("plan", plan_line(summary))
        finally:
            engine.dispose()
    rec = {"balanced": all(r["balanced"] for r in acct), "accounting": acct, "tables": {}, "loaded": False}
    return Loaded([], 0, rec, skipped=True, plan=plans, planned_only=True)


def plan_line(summary: dict) -> str:
    """One console line of a table's plan: counts and the columns that change (names only)."""
    cols = ", ".join(f"{c} {n:,}" for c, n in sorted(summary["changed_columns"].items(), key=lambda x: -x[1])[:6])
    return (f"{summary['table']}: {summary['insert']:,} to insert, {summary['update']:,} to update"
            + (f" ({cols})" if cols else "") + f", {summary['unchanged']:,} unchanged, 0 to delete"
            + (f" ({summary['not_in_run']:,} rows of the target are not in this run: left as they are)" if summary["not_in_run"] else ""))


def unbalanced_lines(rows: list[dict]) -> list[str]:
    """What the console says about each source whose records are not all accounted for (counts only)."""
    out = []
    for r in rows:
        line = (f"{r['entity']} source {r['source']}: extracted {r['extracted']}, ledgered {r['ledgered']} "
                f"(off by {r['difference']}, {r['repeated_records']} records twice)")
        p = r.get("physical")
        if p and not p["balanced"]:
            line += f"; the input holds {p['total']} {p['unit']}, of which {p['total'] - (p['header'] + p['blank'] + p['non_records'] + p['hidden'] + p['continuation'])} records by the physical count"
        out.append(line)
    return out


def flag_counts(ledger: pl.DataFrame) -> pl.DataFrame:
    return (
        ledger.select("entity", pl.col("flags").str.split(";").alias(FLAGS)).explode(FLAGS)
        .filter(pl.col(FLAGS) != "").with_columns(pl.col(FLAGS).str.split(":").list.first())
        .group_by("entity", FLAGS).len().sort("len", descending=True)
    )


# ---- state ------------------------------------------------------------------------------------

def save_state(ctx: RunContext, extracted: dict[str, Extracted], resolution: Resolution) -> dict[str, str]:
    """Advance the watermark of each incremental source and keep the customer records for the next
    delta run; only after a successful committed run."""
    if any(s.watermark for s in ctx.config.sources):
        ctx.state.save_customer_snapshot(resolution.customer_snapshot)
    advanced = {}
    for src in ctx.config.sources:
        if src.watermark and extracted[src.name].watermark is not None:
            ctx.state.advance(src.name, src.watermark, extracted[src.name].watermark, ctx.run_id)
            advanced[src.name] = extracted[src.name].watermark
    if advanced:
        ctx.state.save()
    return advanced


# ---- report -----------------------------------------------------------------------------------

def _inputs(ctx: RunContext, canonical: Canonical | None) -> list[dict]:
    from reports.run_folder import file_sha256
    out = []
    for src in ctx.config.sources:
        entry = {"source": src.name, "kind": src.kind, "entity": src.entity}
        if canonical is not None:
            physical = canonical.physical.get(src.name)
            entry |= {"records": canonical.extracted_counts.get((src.entity, src.name), 0),
                      "skipped": canonical.skipped.get(src.name, {}), "notes": canonical.notes.get(src.name, []),
                      "physical": physical.as_dict() if physical else None,
                      "non_records": [n.as_dict() for n in canonical.non_records.get(src.name, [])[:200]]}
        if src.path is not None:
            entry |= {"path": str(src.path), "sha256": file_sha256(src.path) if src.path.exists() else None}
        else:
            entry |= {"url": src.url, "table": src.table, "query": src.query}
        out.append(entry)
    return out


def _status(gate: Gate, loaded: Loaded) -> str:
    if not all(r["balanced"] for r in loaded.reconciliation["accounting"]):
        return "unbalanced"
    if not gate.passed:
        return "stopped_at_gate"
    if loaded.planned_only:
        return "planned"
    return "succeeded" if loaded.reconciliation["balanced"] else "unbalanced"


def report(ctx: RunContext, extracted: dict[str, Extracted], canonical: Canonical, validated: Validated, resolution: Resolution,
           gate: Gate, loaded: Loaded, quality: list[dict] | None = None, mapped: Mapped | None = None,
           deletions: dict[str, dict] | None = None) -> dict:
    """Write the run folder; return the manifest."""
    from reports import render, run_folder
    from reports.xlsx_report import write_report_xlsx

    reconciliation = loaded.reconciliation
    with ctx.stage("report"):
        d = ctx.run_dir
        secrets = ctx.loaded.secrets
        ledger = resolution.ledger
        status = _status(gate, loaded)
        run_folder.write_ledger(d, ledger, "ledger" if status == "succeeded" else "planned_ledger")
        ledger.filter(pl.col("disposition") == "rejected").write_csv(d / "rejects.csv")
        run_folder.write_non_records(d, canonical.non_records)
        resolution.golden.write_parquet(d / "golden_customers.parquet")
        (d / "validation").mkdir(exist_ok=True)
        for stage, outcomes in (("canonical", validated.outcomes), ("target", gate.outcomes)):
            for entity, o in outcomes.items():
                run_folder.write_json(d / "validation" / f"{stage}_{entity}.json", o.raw, secrets)
        reconciliation = {"schema_version": RECONCILIATION_SCHEMA_VERSION, "run_id": ctx.run_id, "status": status,
                          "verdict": reconciliation_verdict(reconciliation, status, ctx.dry_run, gate.reasons), **reconciliation}
        run_folder.write_json(d / "reconciliation.json", reconciliation, secrets)
        counts = {
            "dispositions": dict(ledger.group_by("disposition").len().rows()),
            "by_entity": {e: dict(ledger.filter(pl.col("entity") == e).group_by("disposition").len().rows()) for e in ledger["entity"].unique().sort()},
            "golden_customers": resolution.golden_to_load().height,
        }
        extra = {"committed": loaded.committed, "gate": gate.as_dict(), "plan": loaded.plan,
                 "load": [vars(r) for r in loaded.results], "ledger_rows_written_to_target": loaded.ledger_rows,
                 "mapping_notes": mapping_notes(mapped, ctx.config.report.mask_personal_data), "sample": sample_summary(ctx, resolution),
                 "masking": masking_summary(ctx), "resolution": resolution_overview(resolution),
                 "source_deletions": deletions or {}, "cluster": ctx.cluster}
        manifest = run_folder.manifest(ctx, status, counts, _inputs(ctx, canonical), {**extra, "verdict": reconciliation["verdict"]})
        flags = flag_counts(ledger)
        suites = list(validated.outcomes.values()) + list(gate.outcomes.values())
        docs = build_data_docs(d, ctx.run_id, suites)
        if quality is not None:
            run_folder.write_json(d / "quality_profile.json", quality, secrets)
        options = render.ReportOptions(mask=ctx.config.report.mask_personal_data, secrets=secrets)
        render.write_html(d / "report.html", manifest, reconciliation, ledger, flags, canonical.rule_stats, suites,
                          loaded.results, gate, options, quality, docs.relative_to(d).as_posix() if docs else None, str(quality_as_of(ctx)))
        review = write_resolution_files(d, resolution, ledger, secrets)
        write_report_xlsx(d / "report.xlsx", manifest, reconciliation, ledger, originals_for_report(ctx, extracted, canonical, ledger), resolution.golden,
                          resolution.golden_members(), review, flags, canonical.rule_stats, suites, quality or [], render.SAFE_CELLS)
        remove_set_aside(d)
    manifest["timings_seconds"] = ctx.timings
    run_folder.write_json(d / "manifest.json", manifest, secrets)
    return manifest


def resolution_overview(resolution: Resolution) -> dict | None:
    """The resolution summary for the manifest and report.html (reports/resolution_summary.py)."""
    from reports.resolution_summary import summarize

    m, settings = resolution.matching, resolution.settings
    if m is None or settings is None:
        return None
    return summarize(resolution.golden, resolution.golden_members(), resolution.ledger, m.pairs, m.review_pairs(settings).height,
                     settings.auto_merge_probability, settings.review_probability)


def masking_summary(ctx: RunContext) -> dict | None:
    """The fields a masked load masked and how (never the key), for the manifest, report and run table."""
    masking = ctx.config.target.masking
    return {"fields": masking.methods()} if masking else None


def run_options(ctx: RunContext) -> dict:
    """What besides the config decides a run's result (a resumed run must be given the same)."""
    return {"sample": ctx.sample.as_dict() if ctx.sample else None, "force": ctx.force}


def sample_summary(ctx: RunContext, resolution: Resolution) -> dict | None:
    """A sample rehearsal's spec and size, for the manifest, the report and the run table."""
    if ctx.sample is None or resolution.sample is None:
        return None
    return {**ctx.sample.as_dict(), "golden_customers": resolution.sample.len(), "golden_customers_in_full_run": resolution.golden_loadable().height}


def mapping_notes(mapped: Mapped | None, mask: bool) -> list[dict]:
    """What the target mapping truncated or defaulted, per table and column, for the manifest and the
    report: counts, the records behind, and examples masked by their field where personal data is."""
    from reports.masking import mask_field

    if mapped is None:
        return []
    return [{"table": mapped.specs[e][0], **n, "examples": [mask_field(n["field"], str(x)) if mask else x for x in n["examples"]]}
            for e, notes in mapped.notes.items() for n in notes]


def validation_report(ctx: RunContext, canonical: Canonical, validated: Validated, quality: list[dict]) -> dict:
    """The run folder of `crm-migrate validate`: what a run would reject and flag, and the quality
    profile, with nothing loaded."""
    from reports import render, run_folder

    with ctx.stage("report"):
        d, secrets = ctx.run_dir, ctx.loaded.secrets
        (d / "validation").mkdir(exist_ok=True)
        suites = list(validated.outcomes.values())
        for entity, o in validated.outcomes.items():
            run_folder.write_json(d / "validation" / f"canonical_{entity}.json", o.raw, secrets)
        run_folder.write_json(d / "quality_profile.json", quality, secrets)
        records = pl.concat([f.select(
            pl.lit(e).alias("entity"), pl.col(SOURCE).alias("source"), pl.col(SOURCE_KEY).alias("source_key"), pl.col(ROW).alias("source_row"),
            pl.col(REJECT).alias("reason"), flags_text().alias("flags")) for e, f in validated.frames.items()])
        rejects = records.filter(pl.col("reason").is_not_null())
        rejects.write_csv(d / "rejects.csv")
        records.filter(pl.col("reason").is_null() & (pl.col("flags") != "")).drop("reason").write_csv(d / "flagged.csv")
        docs = build_data_docs(d, ctx.run_id, suites)
        counts = {"records": {e: f.height for e, f in validated.frames.items()},
                  "would_reject": {e: f.filter(pl.col(REJECT).is_not_null()).height for e, f in validated.frames.items()},
                  "would_flag": {e: f.filter(pl.col(FLAGS).list.len() > 0).height for e, f in validated.frames.items()}}
        status = "stopped_at_gate" if validated.gate_stops else "validated"
        manifest = run_folder.manifest(ctx, status, counts, _inputs(ctx, canonical),
                                       {"gate": {"passed": not validated.gate_stops, "forced": False, "reasons": validated.gate_stops},
                                        "suites": {o.suite: [vars_of(x) for x in o.outcomes] for o in suites}})
        options = render.ReportOptions(mask=ctx.config.report.mask_personal_data, secrets=secrets)
        render.write_quality_html(d / "quality.html", manifest, suites, quality, options, docs.relative_to(d).as_posix() if docs else None,
                                  str(quality_as_of(ctx)))
        render.write_quality_xlsx(d / "quality.xlsx", suites, quality, rejects)
    manifest["timings_seconds"] = ctx.timings
    run_folder.write_json(d / "manifest.json", manifest, secrets)
    return manifest


def vars_of(outcome) -> dict:
    """An expectation outcome for manifest.json: the rule and its counts, no row ids."""
    return {"rule": outcome.flag, "check": outcome.rule.label, "severity": outcome.severity, "failing": outcome.unexpected_count,
            "checked": outcome.element_count, "success": outcome.success}


def originals_for_report(ctx: RunContext, extracted: dict[str, Extracted], canonical: Canonical, ledger: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Each source's rejected records as read, for the rejects of report.xlsx (read back from where
    set_aside put them). A masked load shows the masked canonical values instead: the run folder of a
    sandbox load holds no real value of a masked field."""
    if ctx.config.target.masking:
        keep = lambda frame: [c for c in frame.columns if c in LINEAGE or not c.startswith("_")]  # noqa: E731
        return {src: frame.filter(pl.col(SOURCE) == src).select(keep(frame))
                for frame in canonical.frames.values() for src in frame.get_column(SOURCE).unique()}
    rejected = ledger.filter(pl.col("disposition") == REJECTED)
    return {name: rows_set_aside(x.set_aside, rejected.filter(pl.col("source") == name).get_column("source_row")) if x.set_aside else x.frame
            for name, x in extracted.items()}


def write_resolution_files(d, resolution: Resolution, ledger: pl.DataFrame, secrets: list[str]) -> pl.DataFrame:
    """The model and rules that decided the merges (resolution_model.json), the scored pairs
    (match_pairs.parquet) and the review queue, so a run explains its merges. Returns the review queue."""
    from reports import render, review_queue, run_folder

    matching, settings = resolution.matching, resolution.settings
    doubtful = ledger.filter(pl.col("entity") == CUSTOMER).filter(
        pl.col("flags").str.contains("|".join((LEGACY_ORG_CODE, LEGACY_REG_NUMBER, LEGACY_TAX_NUMBER, MATCHED_WITHOUT_REGION))))
    if matching is None or settings is None:
        review_queue.write_review_queue(d / "review_queue.xlsx", pl.DataFrame(), doubtful.drop("run_id"), render.SAFE_CELLS)
        return pl.DataFrame()
    run_folder.write_json(d / "resolution_model.json", {
        "settings": settings.as_dict(), "survivorship": DEFAULT_SURVIVORSHIP | resolution.survivorship,
        "hard_rules": list(matching.spec.hard_rules), "reviewable_rules": list(matching.spec.reviewable_rules),
        "model": matching.model.as_dict() if matching.model else None,
        "blocking": matching.blocking.as_dicts() if matching.blocking else [], "refused_edges": matching.refused_edges,
        "decisions_applied": resolution.decisions.height if resolution.decisions is not None else 0,
        "superseded_ids": matching.superseded.height if matching.superseded is not None else 0,
    }, secrets)
    matching.pairs.write_parquet(d / "match_pairs.parquet")
    # Each clustered customer record's canonical values and golden id: what the merges, the sign-off
    # sample (`crm-migrate sample-check`) and report.xlsx show beside the golden record.
    resolution.golden_members().write_parquet(d / "golden_members.parquet")
    if matching.superseded is not None and matching.superseded.height:  # earlier golden ids now merged into another
        matching.superseded.write_csv(d / "superseded_ids.csv")
    rows = review_queue.queue_rows(matching.review_pairs(settings), resolution.golden_members(), resolution.decisions)
    review_queue.write_review_queue(d / "review_queue.xlsx", rows, doubtful.drop("run_id"), render.SAFE_CELLS)
    return rows


def notify_end(ctx: RunContext) -> None:
    """operations.notify: POST the run's end to the webhook when its status is one to notify. Never
    raises: a webhook that fails is said on the console (and the Prefect log), the run stands."""
    import json

    from reports import notify

    cfg = ctx.config.operations.notify
    if not cfg.webhook:
        return
    try:
        manifest = json.loads((ctx.run_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if manifest.get("status") not in cfg.statuses:
        return
    problem = notify.send(cfg.webhook, notify.payload({**manifest, "run_dir": str(ctx.run_dir)}), ctx.loaded.secrets, cfg.timeout_seconds)
    ctx.progress("notify", f"warning: {problem}" if problem else f"{manifest['status']}: the webhook was notified")


def report_failure(ctx: RunContext, exc: BaseException, done: dict) -> None:
    """A run that fails after it started still explains itself: manifest.json (status failed, the stage,
    the error), the planned ledger so far, and report.html. Never hides the original error."""
    from reports import render, run_folder

    remove_set_aside(ctx.run_dir)  # no report.xlsx will want them
    try:
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        known = isinstance(exc, MigrationError)
        error = {"stage": ctx.current_stage, "type": type(exc).__name__,
                 "message": exc.describe() if known else (str(exc).splitlines() or [""])[0][:2000]}
        extra: dict = {"committed": False, "inputs": _inputs(ctx, done.get("canonical"))}
        resolution = done.get("resolution")
        if resolution is not None:
            run_folder.write_ledger(ctx.run_dir, resolution.ledger, "planned_ledger")
            extra["counts"] = {"dispositions": dict(resolution.ledger.group_by("disposition").len().rows())}
        if "canonical" in done:
            run_folder.write_non_records(ctx.run_dir, done["canonical"].non_records)
        if not known and not isinstance(exc, KeyboardInterrupt):
            run_folder.write_traceback(ctx.run_dir, exc, ctx.loaded.secrets)
        manifest = run_folder.failure_manifest(ctx, status, error, extra)
        render.write_failure_html(ctx.run_dir / "report.html", manifest,
                                  render.ReportOptions(mask=ctx.config.report.mask_personal_data, secrets=ctx.loaded.secrets))
        run_folder.write_json(ctx.run_dir / "manifest.json", manifest, ctx.loaded.secrets)
    except Exception:  # noqa: BLE001 - the failure itself is what the user must see
        pass
