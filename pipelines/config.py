"""The run configuration and the mapping files, as pydantic models (docs/configuration.md)."""
from __future__ import annotations

import hashlib
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from crm_migrate.contracts import CANONICAL, ENTITIES, GOLDEN_COLUMNS, mappable_fields
from crm_migrate.errors import ConfigError, MigrationError
from extractors.csv_file import MAX_FIELD_LINES
from extractors.non_records import FOOTER_PATTERNS, TOTALS_WORDS
from pipelines.compute import parse_cluster
from pipelines.yamlfile import YamlDocument
from transforms.mapping import OVERFLOW, ColumnSpec, Lookup, Numbering, lookup_key, typed_default
from transforms.match_features import FEATURES
from transforms.pseudonymize import METHODS as MASK_METHODS, MIN_KEY_LENGTH
from transforms.declared_model import METHODS, Comparison, DeclaredModel, attribute_name
from transforms.resolve import DEFAULT_BLOCKING_RULES, SURVIVORSHIP_RULES, MatchSettings

Entity = Literal["customer", "opportunity"]
# A source query: comments, then SELECT or WITH (a read-only transaction guards the rest).
_READ_QUERY = re.compile(r"^(?:\s*(?:--[^\n]*(?:\n|$)|/\*.*?\*/))*[\s(]*(?:select|with)\b", re.I | re.S)
_SQL_LITERALS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", re.S)
Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=60)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _resolve(path: Path | None, info: ValidationInfo) -> Path | None:
    base = (info.context or {}).get("base_dir")
    if path is None or base is None or path.is_absolute():
        return path
    return (Path(base) / path).resolve()


def _resolve_sqlite(url: str, info: ValidationInfo) -> str:
    """Relative SQLite paths are relative to the config file, not the working folder."""
    base = (info.context or {}).get("base_dir")
    prefix = "sqlite:///"
    if base and url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str((Path(base) / url[len(prefix):]).resolve())
    return url


class NonRecordsConfig(Strict):
    """Rules that recognise rows that are not records (reported with their row and content, not ledgered).
    A row that only looks like one stays a record, flagged `possible_<rule>`."""

    repeated_header: bool = Field(True, description="A row repeating the header's cells (exports pasted together).")
    totals_row: bool = Field(True, description="First filled cell 合计/总计/小计/共计/Total…, every other filled cell a number.")
    export_footer: bool = Field(True, description="One or two filled cells such as 共898条记录 or 导出时间：….")
    formula_row: bool = Field(True, description="Excel: a row whose only content is formulas (a SUM or COUNT under the data).")
    totals_words: list[str] = Field(default_factory=lambda: list(TOTALS_WORDS), description="Words that name a totals row.")
    footer_patterns: list[str] = Field(default_factory=lambda: list(FOOTER_PATTERNS),
                                       description="Regular expressions (on the row's lower-cased text) that name an export footer.")

    @field_validator("footer_patterns")
    @classmethod
    def _v_patterns(cls, v: list[str]) -> list[str]:
        for p in v:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"footer pattern {p!r} is not a valid regular expression: {exc}") from None
        return v


class SourceConfig(Strict):
    """One legacy source: an Excel sheet, a SQL table or query, or a CSV file."""

    name: Name = Field(description="Stable name used in lineage and the ledger; never rename between runs.")
    kind: Literal["excel", "sql", "csv"]
    entity: Entity
    mapping: Path = Field(description="Source-to-canonical mapping file (YAML).")
    key: str | None = Field(None, description="Column holding the source's own record key; the row number when absent.")
    priority: int = Field(100, description="Survivorship rank: a lower number is more trusted.")
    customer_source: str | None = Field(
        None, description="For opportunities: the customer source whose keys `customer_source_key` refers to."
    )
    path: Path | None = Field(None, description="File path (excel, csv).")
    sheet: str | int | None = Field(
        None, description="Sheet name, 0-based index, or a pattern like `2023*` whose sheets are read one after another (excel); the first sheet when absent."
    )
    include_hidden_sheets: bool = Field(False, description="Let a sheet pattern match hidden sheets too (excel).")
    skip_hidden_rows: bool = Field(False, description="Leave out rows hidden in Excel (counted in the report); kept and flagged `hidden_row` otherwise.")
    header_row: int | None = Field(None, ge=1, description="1-based header row (excel, csv); detected when absent.")
    encoding: str = Field("auto", description="CSV encoding: auto, utf-8, utf-8-sig, gbk, gb18030, big5 ...")
    delimiter: str = Field("auto", description="CSV delimiter: one character, or auto to sniff , tab ; |")
    url: str | None = Field(None, description="SQLAlchemy URL (sql); `${ENV}` substitution for secrets.")
    table: str | None = None
    db_schema: str | None = Field(None, alias="schema")
    query: str | None = Field(None, description="A read-only SELECT instead of a table.")
    chunk_size: int = Field(50_000, ge=100, description="Rows per fetch (sql); memory stays flat, whatever the table size.")
    watermark: str | None = Field(None, description="Column for incremental runs (sql): only rows above the value stored by the last successful run.")
    reader: Literal["auto", "dbapi"] = Field(
        "auto", description="sql: `auto` streams SQLite and PostgreSQL through ADBC (Arrow) where that is exact, else the DBAPI driver; `dbapi` always uses the driver."
    )
    repair_mojibake: bool = Field(True, description="Repair GBK/UTF-8 text garbled by a latin1 column (sql), when unambiguous.")
    max_field_lines: int = Field(MAX_FIELD_LINES, ge=1, description=(
        "csv: a quoted field spanning more lines than this is not trusted (an unbalanced quote swallows lines): "
        "its lines are read one by one and quarantined."))
    non_records: NonRecordsConfig | None = Field(None, description="Non-record rules for this source (excel, csv); the top-level `non_records` when absent.")

    _v_paths = field_validator("mapping", "path")(classmethod(lambda cls, v, info: _resolve(v, info)))

    @field_validator("url")
    @classmethod
    def _v_url(cls, v: str | None, info: ValidationInfo) -> str | None:
        return _resolve_sqlite(v, info) if v else v

    @field_validator("query")
    @classmethod
    def _v_query(cls, v: str | None) -> str | None:
        if v is None:
            return v
        body = v.strip().rstrip(";").strip()
        if not _READ_QUERY.match(body):
            raise ValueError("`query` must be one read-only SELECT statement (SELECT … or WITH … SELECT …); "
                             "crm-migrate never writes to a source")
        if ";" in _SQL_LITERALS.sub("", body):
            raise ValueError("`query` holds several statements; give exactly one SELECT")
        return body

    @field_validator("delimiter")
    @classmethod
    def _v_delimiter(cls, v: str) -> str:
        if v != "auto" and len(v) != 1:
            raise ValueError("delimiter must be one character or auto")
        return v

    @model_validator(mode="after")
    def _kind_fields(self) -> "SourceConfig":
        if self.kind in ("excel", "csv") and self.path is None:
            raise ValueError(f"a {self.kind} source needs `path`")
        if self.kind == "sql":
            if not self.url:
                raise ValueError("a sql source needs `url`")
            if bool(self.table) == bool(self.query):
                raise ValueError("a sql source needs exactly one of `table` or `query`")
        if self.customer_source and self.entity != "opportunity":
            raise ValueError("`customer_source` only applies to opportunity sources")
        return self


# Fields a masked load may not mask: matching and the crosswalk need them as they are (the company
# name is compared fuzzily; codes and keys identify records).
UNMASKABLE = {"name", "name_normalized", "name_key", "credit_code", "credit_code_status", "customer_source_key", "customer_name"}


class MaskingConfig(Strict):
    """Masked sandbox loads (脱敏): chosen canonical fields replaced by keyed pseudonyms right after
    standardization, so nothing downstream (the target, the ledger, the reports) sees the real values."""
    key: str = Field(min_length=MIN_KEY_LENGTH, description=(
        "Secret key of the pseudonyms (at least 16 characters; give it as ${CRM_MASK_KEY}): the same key masks the same value "
        "the same way on every run, so re-runs and joins hold; without it the values cannot be recomputed."))
    fields: dict[str, Literal[MASK_METHODS]] = Field(min_length=1, description=(  # type: ignore[valid-type]
        "canonical field: method (phone, email, person, address, name, redact); phone also masks phone_other."))

    @field_validator("fields")
    @classmethod
    def _v_fields(cls, v: dict[str, str]) -> dict[str, str]:
        known = {f for e in ENTITIES for f, t in CANONICAL[e].items() if t == pl.String()}
        for f in v:
            if f in UNMASKABLE:
                raise ValueError(f"'{f}' cannot be masked: matching and the crosswalk need it as it is (credit codes, keys and company names stay)")
            if f not in known:
                raise ValueError(f"'{f}' is not a canonical text field; maskable: {', '.join(sorted(known - UNMASKABLE))}")
        return v

    def methods(self) -> dict[str, str]:
        """Canonical field -> method, phone_other following phone."""
        out = dict(self.fields)
        if out.get("phone") == "phone":
            out.setdefault("phone_other", "phone")
        return out


class TargetConfig(Strict):
    url: str = Field(description="SQLAlchemy URL of the target CRM database.")
    mapping: Path = Field(description="Canonical-to-target mapping file (YAML).")
    ledger_table: str = Field("crm_migrate_ledger", description="Table in the target that receives the ledger.")
    batch_size: int = Field(5_000, ge=1, description="Rows per bulk statement.")
    commit: Literal["run", "batch"] = Field("run", description=(
        "run: the whole load is one transaction (a failure leaves the target as it was). batch: every commit_rows rows are "
        "committed with their before-images and the run's progress, so a killed run resumes with `run --resume RUN_ID`."))
    commit_rows: int = Field(50_000, ge=1, description="Rows per committed batch when commit: batch.")
    masking: MaskingConfig | None = Field(None, description="Mask chosen fields on the way into the target (a sandbox testers can see).")
    lock_wait_seconds: float = Field(60, ge=0, description=(
        "A run holds a lock on the target from start to end; another run waits this long for it, then fails naming the holder."))

    _v_mapping = field_validator("mapping")(classmethod(lambda cls, v, info: _resolve(v, info)))

    @field_validator("url")
    @classmethod
    def _v_url(cls, v: str, info: ValidationInfo) -> str:
        return _resolve_sqlite(v, info)


SurvivorshipRule = Literal[SURVIVORSHIP_RULES]  # type: ignore[valid-type]


class DealMatchingConfig(Strict):
    name_similarity: float = Field(85.0, ge=0, le=100, description="Minimum rapidfuzz similarity (0-100) of two deal names.")
    close_date_window_days: int = Field(45, ge=0, description=(
        "Two records of one deal have expected close dates at most this far apart; a renewal a year later is another deal."))


class ComparisonConfig(Strict):
    """One comparison of a declared matching model (docs/resolution.md, "Declared models")."""

    name: Name = Field(description="The comparison's name in the model, the pairs and blocking rules.")
    field: str = Field(description="A canonical customer field, or `attributes.<name>` of the customer mappings.")
    method: Literal[METHODS] = Field("exact", description=(  # type: ignore[valid-type]
        "exact; levenshtein (thresholds: maximum edit distances); jaro_winkler (minimum similarities 0-1); ratio (minimum rapidfuzz ratio 0-100)."))
    thresholds: list[float] = Field(default_factory=list, description="One level per threshold, between `exact` and `different`, strongest first.")
    term_frequency: bool = Field(False, description="Weigh exact agreement by how common the value is (a common surname says less).")

    @model_validator(mode="after")
    def _v_thresholds(self) -> "ComparisonConfig":
        t = self.thresholds
        if self.method == "exact" and t:
            raise ValueError("an exact comparison takes no thresholds")
        if self.method != "exact" and not t:
            raise ValueError(f"a {self.method} comparison needs thresholds, strongest first")
        ordered = sorted(t) if self.method == "levenshtein" else sorted(t, reverse=True)
        if t != ordered or len(set(t)) != len(t):
            raise ValueError(f"thresholds {t} must be distinct and strongest first ({'increasing distances' if self.method == 'levenshtein' else 'decreasing similarities'})")
        top = {"jaro_winkler": 1.0, "ratio": 100.0}.get(self.method)
        if top is not None and not all(0 < x <= top for x in t):
            raise ValueError(f"{self.method} thresholds are between 0 and {top:g}")
        return self

    def comparison(self) -> Comparison:
        return Comparison(self.name, self.field, self.method, tuple(self.thresholds), self.term_frequency)


class ResolutionConfig(Strict):
    auto_merge_probability: float = Field(0.99, gt=0, le=1, description="Pairs at or above this match probability merge.")
    review_probability: float = Field(0.5, gt=0, le=1, description="Pairs from here up to auto_merge_probability go to the review queue.")
    max_block_size: int = Field(300, ge=2, description="A blocking key shared by more records is not used for them (and reported).")
    weak_link_gap_bits: float | None = Field(25.0, gt=0, description=(
        "A merge whose match weight is this many bits below its cluster's median, and that alone joins two groups of "
        "records, is cut (two companies chained by one thin link split there; the pair goes to review). null: never."))
    blocking_rules: list[list[str]] | None = Field(None, min_length=1, description=(
        "Record pairs agreeing on all features of any rule are compared: features of the company model "
        "(docs/resolution.md), or comparison names of a declared model. Absent: the model's defaults."))
    comparisons: list[ComparisonConfig] = Field(default_factory=list, description=(
        "A declared matching model (for records that are not Chinese companies); absent: the built-in company model."))
    decisions: Path | None = Field(None, description=(
        "A filled review queue (review_queue.xlsx of an earlier run, or a CSV with source_a, key_a, source_b, key_b, decision): "
        "pairs decided `same` merge, `different` never merge, on every later run."))
    opportunity_duplicates: DealMatchingConfig = Field(default_factory=DealMatchingConfig)
    survivorship: dict[str, SurvivorshipRule] = Field(default_factory=dict, description=(
        "Per golden customer field, how its value is chosen among the members: source_priority (default), most_recent, "
        "most_complete, valid_over_invalid (default for credit_code), longest."))

    @field_validator("survivorship")
    @classmethod
    def _v_survivorship(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(CANONICAL["customer"]))
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: not a canonical customer field (one of {', '.join(CANONICAL['customer'])})")
        return v

    @field_validator("decisions")
    @classmethod
    def _v_decisions(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        return None if v is None else _resolve(v, info)

    @model_validator(mode="after")
    def _thresholds(self) -> "ResolutionConfig":
        if self.review_probability > self.auto_merge_probability:
            raise ValueError(f"review_probability ({self.review_probability}) must not be above auto_merge_probability ({self.auto_merge_probability})")
        names = [c.name for c in self.comparisons]
        if len(set(names)) != len(names):
            raise ValueError(f"comparison names repeat: {', '.join(sorted({n for n in names if names.count(n) > 1}))}")
        if any(not rule for rule in self.blocking_rules or []):
            raise ValueError("a blocking rule lists at least one feature (or comparison)")
        return self

    def match_settings(self) -> MatchSettings:
        """The plain settings resolution takes (transforms/resolve.py)."""
        declared = DeclaredModel([c.comparison() for c in self.comparisons], self.blocking_rules or []) if self.comparisons else None
        rules = declared.blocking_columns() if declared else [list(r) for r in (self.blocking_rules or DEFAULT_BLOCKING_RULES)]
        return MatchSettings(rules, self.max_block_size, self.auto_merge_probability, self.review_probability, declared=declared,
                             weak_link_gap_bits=self.weak_link_gap_bits)


class NamesConfig(Strict):
    """How company names are read, beyond the built-in vocabulary."""
    trade_words: list[str] = Field(default_factory=list, description=(
        "Trade words (行业用语) to read between a brand and the legal form, added to the built-in ~500 "
        "(GB/T 4754): a trade of your customers the defaults lack, e.g. 冷镦 or 粉末冶金."))
    trade_synonyms: dict[str, str] = Field(default_factory=dict, description=(
        "A trade word -> the word it means (压铸: 铸造), so two names writing one trade two ways are one trade."))


class ArchiveConfig(Strict):
    enabled: bool = False
    inactive_statuses: list[str] = Field(default_factory=lambda: ["inactive"])
    not_updated_for_days: int = Field(3 * 365, ge=0)
    as_of: date | None = Field(None, description="Reference date; the run date when absent (set it for reproducible runs).")


class GateConfig(Strict):
    max_reject_rate: float = Field(0.10, ge=0, le=1, description="Stop before loading when a source rejects more than this share.")
    target_suite_must_pass: bool = Field(True, description="Stop when a critical expectation of a target suite fails.")


class ValidationConfig(Strict):
    suites: dict[Literal["canonical", "target"], dict[Entity, Path]] = Field(default_factory=dict, description=(
        "GX suite files (JSON) per stage and entity: canonical runs after standardization, target on the mapped rows."))
    parameters: dict[str, float | int | str | bool] = Field(default_factory=dict, description=(
        "Values of the suites' {\"$PARAMETER\": name} kwargs (amount_max: 10000000000), so a suite serves any project."))
    gates: GateConfig = Field(default_factory=GateConfig)
    stale_after_years: int = Field(3, ge=0, description=(
        "Quality profile, timeliness: the share of records not updated for this many years (on archive.as_of, else the run day)."))

    @field_validator("suites")
    @classmethod
    def _v_suites(cls, v: dict, info: ValidationInfo) -> dict:
        return {stage: {e: _resolve(p, info) for e, p in m.items()} for stage, m in v.items()}


class ReportConfig(Strict):
    mask_personal_data: bool = Field(True, description=(
        "Mask phones, emails and person names in report.html (keys and company names are kept); false shows them."))



class NotifyConfig(Strict):
    webhook: str | None = Field(None, description=(
        "URL that gets a JSON POST when a run ends with a status in `statuses` (project, run_id, status, verdict, stage, "
        "message, run_dir; a `text` line for chat webhooks). A secret: never logged or reported. `${ENV}` works."))
    # not `on`: YAML 1.1 reads an unquoted `on:` key as the boolean true
    statuses: list[Literal["failed", "interrupted", "stopped_at_gate", "unbalanced", "succeeded"]] = Field(
        default_factory=lambda: ["failed", "interrupted", "stopped_at_gate", "unbalanced"], description="The run statuses to notify.")
    timeout_seconds: float = Field(10.0, gt=0, le=120, description="How long to wait for the webhook; a failed call is logged, never fails the run.")


class OperationsConfig(Strict):
    retries: int = Field(2, ge=0, le=10, description=(
        "Under Prefect: how often a stage that touches a database (preflight, extract, plan, load) is tried again after "
        "a transient error (connection refused or dropped, deadlock, lock wait, locked SQLite file). Data errors are never retried."))
    retry_delay_seconds: float = Field(10.0, ge=0, le=3600, description="The first retry's delay; each next one waits twice as long.")
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    cluster: str | None = Field(None, description=(
        "A Dask cluster for the data-parallel work (extraction per source, normalization of distinct values, comparison of "
        "candidate pairs): `local:N` starts N worker processes for the run, `tcp://HOST:8786` uses a running scheduler. "
        "`run --cluster` overrides it. The results are the same as without one (docs/scale.md)."))
    cluster_components: Literal["gather", "distributed"] = Field("gather", description=(
        "With a cluster: `gather` brings the merge edges (about one per record) here for one connected-components step; "
        "`distributed` runs that pass on the workers over the edges held there. Both give the same clusters."))

    @field_validator("cluster")
    @classmethod
    def _cluster_address(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_cluster(value, given_as="operations.cluster")
            except MigrationError as exc:
                raise ValueError(f"{exc.message}; {exc.hint}") from None
        return value


class PhaseConfig(Strict):
    name: Name = Field(description="The phase's name, as `run --phase NAME` takes it.")
    where: str | None = Field(None, description=(
        "Which golden customers the phase adds (polars SQL on golden customer fields: \"city = '深圳市'\", \"owner = '张伟'\"). "
        "Only the last phase may leave it out: the rest."))


class Config(Strict):
    project: str = "migration"
    output_dir: Path = Path("out")
    sources: list[SourceConfig] = Field(min_length=1)
    target: TargetConfig
    names: NamesConfig = Field(default_factory=NamesConfig, description="Extra trade words and synonyms for reading company names.")
    resolution: ResolutionConfig = Field(default_factory=ResolutionConfig)
    archive: ArchiveConfig = Field(default_factory=ArchiveConfig)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    non_records: NonRecordsConfig = Field(default_factory=NonRecordsConfig, description="Default non-record rules of every excel and csv source.")
    report: ReportConfig = Field(default_factory=ReportConfig)
    operations: OperationsConfig = Field(default_factory=OperationsConfig, description="Retries and failure notifications (docs/operations.md).")
    phases: list[PhaseConfig] = Field(default_factory=list, description=(
        "A phased migration: `run --phase NAME` loads the customers of that phase and every earlier one (docs/operations.md)."))

    def phase_list(self) -> list[tuple[str, str | None]]:
        return [(ph.name, ph.where) for ph in self.phases]

    def phase(self, name: str):
        """The SampleSpec of phase `name` (transforms/sample.phase_spec); refused for a name `phases:` lacks."""
        from transforms.sample import phase_spec

        if name not in [ph.name for ph in self.phases]:
            raise MigrationError(f"no phase '{name}' in the config" + (f" (phases: {', '.join(ph.name for ph in self.phases)})" if self.phases else ""),
                                 hint="phases are declared under `phases:` (docs/operations.md)")
        return phase_spec(self.phase_list(), name)

    @field_validator("output_dir")
    @classmethod
    def _v_out(cls, v: Path, info: ValidationInfo) -> Path:
        return _resolve(v, info)

    @model_validator(mode="after")
    def _defaults(self) -> "Config":
        for s in self.sources:
            if s.non_records is None:
                s.non_records = self.non_records
        return self


def _cross_check(config: Config, doc: YamlDocument) -> None:
    """Checks across sources, reported at the key they are about (a model validator could only point
    at the top of the file)."""
    problems = []
    first: dict[str, int] = {}
    for i, s in enumerate(config.sources):
        if s.name in first:
            problems.append(f"{doc.where(('sources', i, 'name'))}: source name '{s.name}' is already used by sources[{first[s.name]}]; names must be unique")
        first.setdefault(s.name, i)
    customers = sorted({s.name for s in config.sources if s.entity == "customer"})
    for i, s in enumerate(config.sources):
        if s.customer_source and s.customer_source not in customers:
            problems.append(f"{doc.where(('sources', i, 'customer_source'))}: '{s.customer_source}' is not a customer source "
                            f"(customer sources: {', '.join(customers) or 'none'})")
    problems += _phase_problems(config, doc)
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems), hint="see docs/configuration.md")


def _phase_problems(config: Config, doc: YamlDocument) -> list[str]:
    """Phases: unique names, a condition polars reads on golden fields, and only the last without one."""
    from transforms.sample import where_problem

    out, seen = [], set()
    fields = [*CANONICAL["customer"], *GOLDEN_COLUMNS]
    for i, ph in enumerate(config.phases):
        if ph.name in seen:
            out.append(f"{doc.where(('phases', i, 'name'))}: phase name '{ph.name}' is used twice; names must be unique")
        seen.add(ph.name)
        if ph.where is None and i < len(config.phases) - 1:
            out.append(f"{doc.where(('phases', i))}: phase '{ph.name}' has no `where`; only the last phase may take the rest")
        elif ph.where is not None and (problem := where_problem(ph.where, fields)):
            out.append(f"{doc.where(('phases', i, 'where'))}: " + problem.replace("--where", "where"))
    return out


# ---- mapping files -------------------------------------------------------------------------------


class SourceMapping(Strict):
    """How one source's columns become canonical fields."""

    entity: Entity
    columns: dict[str, str] = Field(description="canonical field: source column")
    constants: dict[str, Any] = Field(default_factory=dict, description="canonical field: fixed value")
    attributes: dict[Name, str] = Field(default_factory=dict, description=(
        "attribute name: source column. Columns carried as text beyond the canonical model, for a declared matching "
        "model (resolution.comparisons, field `attributes.<name>`)."))
    day_first: bool = Field(False, description="Read ambiguous dates like 01/05/2023 as day-first.")
    value_maps: dict[str, Path] = Field(default_factory=dict, description="canonical field: value map file")

    def source_columns(self) -> list[str]:
        """The source columns the mapping reads (each once), canonical fields first, then attributes."""
        return list(dict.fromkeys([*self.columns.values(), *self.attributes.values()]))

    _v_maps = field_validator("value_maps")(
        classmethod(lambda cls, v, info: {k: _resolve(p, info) for k, p in v.items()})
    )

    @field_validator("columns", "constants")
    @classmethod
    def _fields_exist(cls, v: dict, info: ValidationInfo) -> dict:
        entity = info.data.get("entity")
        if entity is None:  # the entity itself is wrong: that error is reported
            return v
        allowed = mappable_fields(entity)
        for field in v:
            if field not in allowed:
                raise ValueError(f"'{field}' is not a canonical {entity} field; allowed: {', '.join(allowed)}")
        if info.field_name == "columns" and "name" not in v:
            raise ValueError("`columns` must map `name`")
        return v


class ValueMap(Strict):
    field: str
    values: dict[str, list[str]] = Field(description="canonical value: [source spellings]")

    @field_validator("values")
    @classmethod
    def _v_unambiguous(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        """A spelling listed under two values would silently take the last one: refuse it."""
        seen: dict[str, str] = {}
        for canonical, spellings in v.items():
            for spelling in [canonical, *spellings]:
                key = str(spelling).strip().lower()
                if key in seen and seen[key] != canonical:
                    raise ValueError(f"the spelling {spelling!r} is listed under both {seen[key]!r} and {canonical!r}; keep it under one")
                seen[key] = canonical
        return v

    def lookup(self) -> dict[str, str]:
        table: dict[str, str] = {}
        for canonical, spellings in self.values.items():
            for s in [canonical, *spellings]:
                table[str(s).strip().lower()] = canonical
        return table


TargetType = Literal["string", "integer", "decimal", "float", "date", "datetime", "boolean"]


class NumberingConfig(Strict):
    format: str = Field(description="Literal text with {seq} or {seq:06d} and at most one {year}: KH{year}{seq:06d}.")
    year_from: str | None = Field(None, description="Canonical date field whose year the number carries (the run's year where empty).")

    @field_validator("format")
    @classmethod
    def _v_format(cls, v: str) -> str:
        Numbering(v).parts()
        return v


class TargetColumn(Strict):
    name: str
    source: str | None = Field(None, alias="from", description="Canonical field (or target_id / customer_target_id).")
    compute: str | None = Field(None, description="Instead of `from`: a polars SQL expression over canonical fields, "
                                "e.g. concat_ws(' ', province, city, address).")
    number: NumberingConfig | None = Field(None, description="Instead of `from`: a number the migration assigns once per row and keeps.")
    lookup: str | None = Field(None, description="Name of an entry of `lookups:` that translates the value (owners).")
    type: TargetType = "string"
    length: int | None = Field(None, ge=1)
    overflow: Literal[OVERFLOW] = Field("stop", description=(  # type: ignore[valid-type]
        "A value longer than `length`: stop the load (stop) or cut it, counted per column and flagged (truncate)."))
    precision: int = 18
    scale: int = 2
    required: bool = False
    default: Any = None
    picklist: dict[str, str] | None = Field(None, description="canonical value: target value")

    @model_validator(mode="after")
    def _one_origin(self) -> "TargetColumn":
        given = [k for k in ("from", "compute", "number") if getattr(self, {"from": "source"}.get(k, k)) is not None]
        if len(given) != 1:
            raise ValueError(f"column '{self.name}' needs exactly one of `from`, `compute` or `number`" + (f" (has {', '.join(given)})" if given else ""))
        if self.compute is not None:
            try:
                pl.sql_expr(self.compute)
            except Exception as exc:  # noqa: BLE001 - polars' parser error, in words
                raise ValueError(f"column '{self.name}': `compute` is not a valid expression: {str(exc).splitlines()[0]}") from None
        if self.number is not None and self.type != "string":
            raise ValueError(f"column '{self.name}': a `number` column is a string column")
        return self


class LookupConfig(Strict):
    """Legacy values (a sales rep's name or employee id) -> target values (user ids)."""
    values: dict[str, list[str]] = Field(default_factory=dict, description="target value: [legacy names or ids]")
    file: Path | None = Field(None, description="A CSV (a user list exported from the target CRM) or a YAML file with `values:`; "
                              "relative to the mapping file.")
    legacy_columns: list[str] = Field(["legacy"], min_length=1, description="CSV columns a legacy value may match (name, employee number).")
    target_column: str = Field("target", description="CSV column holding the target value (the user id).")
    default: str | None = Field(None, description="Target value for anything the lookup does not know (flagged lookup_default:<column>); "
                                "without it an unknown value stops the load.")

    def table(self, base: Path) -> tuple[dict[str, str], frozenset[str]]:
        """(folded legacy value -> target value, folded legacy values listed under several target
        values). transforms.mapping.lookup_key folds the data the same way. A value under several
        target values (two users named 王芳) is left out of the table: a record with it takes the
        default, flagged, while the same people still match by their employee numbers."""
        pairs = [(t, t) for t in self.values] + [(t, legacy) for t, spellings in self.values.items() for legacy in spellings]
        if self.file is not None:
            path = self.file if self.file.is_absolute() else base / self.file
            pairs += read_lookup_file(path, self.legacy_columns, self.target_column)
        keys = pl.DataFrame({"legacy": [str(b) for _, b in pairs], "target": [str(a) for a, _ in pairs]}, schema={"legacy": pl.String, "target": pl.String})
        keys = keys.with_columns(lookup_key(pl.col("legacy")).alias("legacy")).unique()
        ambiguous = keys.filter(pl.col("legacy").is_duplicated())
        return dict(keys.filter(~pl.col("legacy").is_duplicated()).iter_rows()), frozenset(ambiguous["legacy"])


def read_lookup_file(path: Path, legacy_columns: list[str], target_column: str) -> list[tuple[str, str]]:
    """(target, legacy) pairs of a lookup file: a CSV's target column with each of its legacy columns,
    or YAML `values: {target: [legacy ...]}`."""
    if not path.exists():
        raise ConfigError(f"lookup file not found: {path}", hint="give `file:` relative to the target mapping file")
    if path.suffix.lower() in (".yaml", ".yml"):
        values = YamlDocument(path).validate(LookupConfig).values
        return [(t, legacy) for t, spellings in values.items() for legacy in spellings]
    try:
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    except Exception as exc:  # noqa: BLE001 - a broken file, in words
        raise ConfigError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    missing = [c for c in [*legacy_columns, target_column] if c not in frame.columns]
    if missing:
        raise ConfigError(f"{path}: the lookup file has no column {', '.join(missing)} (it has {', '.join(frame.columns)})",
                          hint="set `legacy_columns:` and `target_column:` of the lookup to its column names")
    return [(t, legacy) for column in legacy_columns
            for t, legacy in frame.select(target_column, column).drop_nulls().iter_rows()]


class TargetTable(Strict):
    table: str
    key: str = Field(description="Target column holding the stable external id used for upserts.")
    columns: list[TargetColumn]

    @model_validator(mode="after")
    def _key_present(self) -> "TargetTable":
        if self.key not in {c.name for c in self.columns}:
            raise ValueError(f"key column '{self.key}' is not among the columns")
        if next(c for c in self.columns if c.name == self.key).number is not None:
            raise ValueError(f"key column '{self.key}' cannot be a `number` column: numbers are kept by key")
        twice = sorted({c.name for c in self.columns if [d.name for d in self.columns].count(c.name) > 1})
        if twice:
            raise ValueError(f"columns named twice: {', '.join(twice)}")
        return self


class TargetMapping(Strict):
    lookups: dict[str, LookupConfig] = Field(default_factory=dict, description="Named lookups columns refer to with `lookup:`.")
    tables: dict[Entity, TargetTable]


# Canonical type -> the target types it may be written as (anything else is a mapping error).
_FITS = {pl.String: {"string"}, pl.Decimal: {"decimal", "float", "string"}, pl.Float64: {"float", "decimal", "integer", "string"},
         pl.Datetime: {"datetime", "date", "string"}, pl.Date: {"date", "datetime", "string"}, pl.Int64: {"integer", "decimal", "float", "string"}}


def column_problem(entity: str, col: TargetColumn, lookups: dict[str, Lookup]) -> tuple[str, str] | None:
    """What is wrong with a target column of this entity, in words, with what to do; None if it fits:
    the canonical fields it reads exist, their type can become the column's type, its lookup exists,
    its default and picklist values fit the column."""
    fields = CANONICAL[entity] | {"target_id": pl.String(), "customer_target_id": pl.String()}
    try:
        reads = ColumnSpec(col.name, col.source, compute=col.compute, number=Numbering(col.number.format, col.number.year_from) if col.number else None).reads()
    except Exception as exc:  # noqa: BLE001 - polars' parser error, in words
        return f"has an expression polars cannot read: {str(exc).splitlines()[0]}", "see docs/configuration.md, computed columns"
    unknown = [f for f in reads if f not in fields]
    if unknown:
        return (f"reads '{unknown[0]}', which is not a canonical {entity} field", "allowed: " + ", ".join(sorted(fields)))
    if col.source is not None and not col.lookup and col.type not in _FITS[type(fields[col.source])]:
        return (f"is {col.type} but '{col.source}' is {fields[col.source]}", f"use type {' or '.join(sorted(_FITS[type(fields[col.source])]))}")
    if col.number is not None and col.number.year_from is not None and type(fields[col.number.year_from]) not in (pl.Date, pl.Datetime):
        return f"takes the year of its number from '{col.number.year_from}', which is not a date", "name a date field such as created_at"
    if col.number is not None and col.length and Numbering(col.number.format).shortest() > col.length:
        return (f"numbers as {col.number.format}, at least {Numbering(col.number.format).shortest()} characters, longer than its length {col.length}",
                "raise `length` or shorten the format")
    if col.lookup is not None and col.lookup not in lookups:
        return f"uses the lookup '{col.lookup}', which `lookups:` does not define", "lookups: " + (", ".join(sorted(lookups)) or "none")
    if col.type == "string" and col.length:
        values = [("default", col.default)] + [("picklist value", v) for v in (col.picklist or {}).values()]
        if col.lookup:
            values.append(("lookup default", lookups[col.lookup].default))
            values += [("lookup value", v) for v in set(lookups[col.lookup].table.values())]
        for what, v in values:
            if v is not None and len(str(v)) > col.length:
                return f"has the {what} {str(v)!r}, longer than its length {col.length}", "shorten it or raise `length`"
    if col.default is not None:
        try:
            typed_default(ColumnSpec(col.name, type=col.type, default=col.default))
        except (ValueError, ArithmeticError):
            return f"has the default {col.default!r}, which is not a {col.type}", "give a default of the column's type (dates as 2024-01-31)"
    return None


# ---- loading -------------------------------------------------------------------------------------


class LoadedConfig:
    """The validated config with its mapping files, secrets and a stable hash."""

    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        doc = YamlDocument(self.path, substitute_env=True)
        self.secrets = doc.secrets
        self.config: Config = doc.validate(Config, base_dir=self.path.parent)
        if self.config.target.masking is not None:  # never printed, logged or written, wherever it came from
            self.secrets.append(self.config.target.masking.key)
        if self.config.operations.notify.webhook:  # a webhook URL carries its token
            self.secrets.append(self.config.operations.notify.webhook)
        _cross_check(self.config, doc)
        self.source_mappings: dict[str, SourceMapping] = {}
        self.value_maps: dict[str, dict[str, ValueMap]] = {}
        for src in self.config.sources:
            mdoc = YamlDocument(src.mapping)
            mapping = mdoc.validate(SourceMapping, base_dir=src.mapping.parent)
            if mapping.entity != src.entity:
                raise ConfigError(
                    f"source '{src.name}' is a {src.entity} source but its mapping is for {mapping.entity}",
                    file=str(src.mapping),
                )
            self.source_mappings[src.name] = mapping
            self.value_maps[src.name] = {
                f: YamlDocument(p).validate(ValueMap) for f, p in mapping.value_maps.items()
            }
        self._check_resolution(doc)
        self.target_mapping: TargetMapping = YamlDocument(self.config.target.mapping).validate(TargetMapping)
        self.lookups = {name: Lookup(*lk.table(self.config.target.mapping.parent), default=lk.default)
                        for name, lk in self.target_mapping.lookups.items()}
        for entity, table in self.target_mapping.tables.items():
            for col in table.columns:
                problem = column_problem(entity, col, self.lookups)
                if problem:
                    raise ConfigError(f"tables.{entity}: column '{col.name}' {problem[0]}", file=str(self.config.target.mapping), hint=problem[1])
        missing = [e for e in ENTITIES if any(s.entity == e for s in self.config.sources) and e not in self.target_mapping.tables]
        if missing:
            raise ConfigError(f"no target table for {', '.join(missing)}", file=str(self.config.target.mapping))

    def _check_resolution(self, doc: YamlDocument) -> None:
        """Blocking rules name features of the model in use; a declared comparison reads a canonical
        customer field or an attribute some customer mapping carries."""
        r = self.config.resolution
        names = [c.name for c in r.comparisons]
        allowed, what = (names, "comparison of resolution.comparisons") if names else (list(FEATURES), "company model feature")
        for i, rule in enumerate(r.blocking_rules or []):
            for k, item in enumerate(rule):
                if item not in allowed:
                    raise ConfigError(f"{doc.where(('resolution', 'blocking_rules', i, k))}: '{item}' is not a {what}",
                                      hint="one of " + ", ".join(allowed))
        attributes = {a for s in self.config.sources if s.entity == "customer" for a in self.source_mappings[s.name].attributes}
        for k, c in enumerate(self.config.resolution.comparisons):
            name = attribute_name(c.field)
            if (name is None and c.field in CANONICAL["customer"]) or (name is not None and name in attributes):
                continue
            raise ConfigError(
                f"{doc.where(('resolution', 'comparisons', k, 'field'))}: '{c.field}' is neither a canonical customer field "
                "nor an attribute of a customer mapping",
                hint="attributes: " + (", ".join(f"attributes.{a}" for a in sorted(attributes)) or "none mapped (add `attributes:` to a customer mapping)"))

    def target_specs(self) -> dict[str, tuple[str, str, list[ColumnSpec]]]:
        """entity -> (target table, key column, column specs), as the pure mapping code takes them."""
        return {
            e: (t.table, t.key, [ColumnSpec(c.name, c.source, c.type, c.length, c.precision, c.scale, c.required, c.default, c.picklist,
                                            c.compute, Numbering(c.number.format, c.number.year_from) if c.number else None, c.lookup, c.overflow)
                                 for c in t.columns])
            for e, t in self.target_mapping.tables.items()
        }

    def files(self) -> list[Path]:
        paths = {self.path, self.config.target.mapping}
        paths.update(self.config.target.mapping.parent / lk.file for lk in self.target_mapping.lookups.values() if lk.file is not None)
        for src in self.config.sources:
            paths.add(src.mapping)
            paths.update(src.mapping.parent / p for p in self.source_mappings[src.name].value_maps.values())
        for stage in self.config.validation.suites.values():
            paths.update(stage.values())
        return sorted(paths)

    def digest(self) -> str:
        """Hash of the config and every file it points at (inputs excluded)."""
        h = hashlib.sha256()
        for p in self.files():
            h.update(str(p.name).encode())
            h.update(p.read_bytes() if p.exists() else b"")
        return h.hexdigest()


def load_config(path: str | Path) -> LoadedConfig:
    return LoadedConfig(Path(path))


def config_json_schema() -> dict:
    return Config.model_json_schema(by_alias=True)
