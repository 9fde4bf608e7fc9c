"""Run an expectation suite file (GX's own JSON) on a polars frame and return every failing row.

A suite file is GX's serialised ExpectationSuite: `name`, `meta`, `expectations` (each `type`,
`kwargs`, `meta`). What the migration adds is read from each expectation's `meta`:

- `severity`: critical (the record is rejected), warning (flagged, loaded), info (counted only);
  GX's own top-level `severity` is read when `meta` has none; default critical.
- `flag`: the code a failing row gets in the ledger (default: the custom expectation's own code, or
  one built from the built-in's kind and column: `empty_name`, `duplicate_external_id`, ...).
- `reason`: the sentence a reader of the report sees.

A suite's `meta.gate` holds its gate thresholds (pipelines reads them; see docs/validation.md).

Failing rows come back by the frame's id column, all of them: GX runs with result_format COMPLETE
and the id column as its unexpected index. Great Expectations is imported lazily (it takes seconds)
and one ephemeral context serves the process.
"""
from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import polars as pl

from crm_migrate.contracts import CRITICAL, SEVERITIES
from crm_migrate.errors import ConfigError
from expectations.gates import check_gate

SUITES_DIR = Path(__file__).resolve().parent / "suites"
COLUMN_KEYS = ("column", "column_A", "column_B", "column_list")


def kwargs_columns(kwargs: dict) -> list[str]:
    """The columns an expectation's kwargs name: column, column_A, column_B, column_list."""
    return [*(kwargs[n] for n in ("column", "column_A", "column_B") if isinstance(kwargs.get(n), str)), *(kwargs.get("column_list") or [])]


@dataclass(frozen=True)
class Rule:
    """One expectation of a suite file, as the migration reads it."""
    suite: str
    type: str
    kwargs: dict
    severity: str
    flag: str
    reason: str

    @property
    def columns(self) -> list[str]:
        return kwargs_columns(self.kwargs)

    @property
    def parameters(self) -> set[str]:
        """The names of the suite parameters (`{"$PARAMETER": name}`) its kwargs take."""
        return {v["$PARAMETER"] for v in self.kwargs.values() if isinstance(v, dict) and "$PARAMETER" in v}

    @property
    def label(self) -> str:
        return f"{self.type}({', '.join(self.columns)})" if self.columns else self.type

    @property
    def name(self) -> str:
        """How the ledger and the gate name the rule: `suite.flag`."""
        return f"{self.suite}.{self.flag}"


@dataclass
class ExpectationOutcome:
    rule: Rule
    success: bool
    element_count: int
    unexpected_count: int
    unexpected_ids: list[int] = field(default_factory=list)

    # the fields the report and the gate read
    @property
    def expectation(self) -> str:
        return self.rule.label

    @property
    def severity(self) -> str:
        return self.rule.severity

    @property
    def flag(self) -> str:
        return self.rule.flag

    @property
    def reason(self) -> str:
        return self.rule.reason

    @property
    def column(self) -> str | None:
        return self.rule.columns[0] if self.rule.columns else None


@dataclass
class SuiteOutcome:
    suite: str
    success: bool
    outcomes: list[ExpectationOutcome]
    raw: dict  # the GX validation result, for the run folder (row ids left out: they are in the ledger)
    gate: dict = field(default_factory=dict)  # the suite's meta.gate
    result: object = None  # GX's ExpectationSuiteValidationResult, for Data Docs
    stage: str = ""  # canonical | target
    entity: str = ""
    examples: dict = field(default_factory=dict)  # rule name -> the first failing records (lineage or key, detail)

    def failed(self, severity: str) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and o.severity == severity]


@lru_cache(maxsize=1)
def _context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    import expectations.custom  # noqa: F401 - registers the migration's expectations with GX

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    return ctx


def known_types() -> set[str]:
    _context()
    from great_expectations.expectations.registry import list_registered_expectation_implementations

    return set(list_registered_expectation_implementations())


def expectation_class(type_name: str):
    _context()
    from great_expectations.expectations.registry import get_expectation_impl

    return get_expectation_impl(type_name)


# Default flag codes of the built-in expectations, from the kind of check and its column(s).
_BUILT_IN_FLAGS = {
    "expect_column_values_to_not_be_null": "empty_{c}",
    "expect_column_values_to_be_unique": "duplicate_{c}",
    "expect_compound_columns_to_be_unique": "duplicate_{c}",
    "expect_select_column_values_to_be_unique_within_record": "repeated_value_{c}",
    "expect_column_values_to_be_in_set": "{c}_not_in_set",
    "expect_column_values_to_not_be_in_set": "{c}_in_forbidden_set",
    "expect_column_values_to_be_between": "{c}_out_of_range",
    "expect_column_value_lengths_to_be_between": "{c}_length_out_of_range",
    "expect_column_value_lengths_to_equal": "{c}_length_out_of_range",
    "expect_column_values_to_match_regex": "{c}_malformed",
    "expect_column_values_to_not_match_regex": "{c}_malformed",
    "expect_column_pair_values_a_to_be_greater_than_b": "{c}_out_of_order",
    "expect_column_pair_values_to_be_equal": "{c}_differ",
}


def _default_flag(type_name: str, columns: list[str], kwargs: dict) -> str:
    if type_name == "expect_records_to_not_carry_flag":
        return str(kwargs.get("flag") or "flagged")
    custom = getattr(expectation_class(type_name), "default_flag", None)
    if custom:
        return custom
    joined = "_".join(columns) or "table"
    return _BUILT_IN_FLAGS.get(type_name, type_name.removeprefix("expect_") + "_{c}").format(c=joined)


def load_suite(path: Path) -> dict:
    try:
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("expectation suite not found", file=str(path), hint="check validation.suites in the config") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON at line {exc.lineno}: {exc.msg}", file=str(path)) from None
    if not isinstance(spec, dict) or not isinstance(spec.get("expectations"), list):
        raise ConfigError("not an expectation suite (needs `name` and a list of `expectations`)", file=str(path))
    return spec


def suite_parameters(path: Path) -> dict:
    """The suite's own parameter values (`meta.parameters`), which the config's validation.parameters override."""
    return (load_suite(path).get("meta") or {}).get("parameters") or {}


def suite_rules(path: Path) -> tuple[str, list[Rule], dict]:
    """(suite name, its rules, its gate), every expectation type known to GX (GX itself would drop
    an unknown one without a word) and every severity one of critical / warning / info."""
    spec = load_suite(path)
    name = str(spec.get("name") or Path(path).stem)
    known = known_types()
    rules = []
    for i, e in enumerate(spec["expectations"]):
        where = f"expectations[{i}]"
        t = e.get("type") if isinstance(e, dict) else None
        if t not in known:
            close = difflib.get_close_matches(str(t), sorted(known), n=1, cutoff=0.75)
            raise ConfigError(f"{where}: {t!r} is not an expectation Great Expectations knows", file=str(path),
                              hint=f"did you mean {close[0]}?" if close else "see `crm-migrate suites` and docs/validation.md for the available types")
        kwargs, meta = e.get("kwargs") or {}, e.get("meta") or {}
        severity = str(meta.get("severity") or e.get("severity") or CRITICAL).lower()
        if severity not in SEVERITIES:
            raise ConfigError(f"{where}: severity {severity!r} is not one of {', '.join(SEVERITIES)}", file=str(path))
        flag = str(meta.get("flag") or _default_flag(t, kwargs_columns(kwargs), kwargs))
        rules.append(Rule(name, t, kwargs, severity, flag, str(meta.get("reason") or flag.replace("_", " "))))
    gate = (spec.get("meta") or {}).get("gate") or {}
    check_gate(gate, rules, path)
    return name, rules, gate


def check_columns(rules: list[Rule], columns: list[str], path: Path) -> None:
    missing = sorted({c for r in rules for c in r.columns if c not in columns})
    if missing:
        raise ConfigError(f"suite {rules[0].suite} checks columns that do not exist: {', '.join(missing)}", file=str(path),
                          hint=f"columns available: {', '.join(c for c in columns if not c.startswith('_'))}")


def _to_pandas(frame: pl.DataFrame, columns: list[str], id_column: str):
    keep = [c for c in dict.fromkeys([id_column, *columns]) if c in frame.columns]
    sub = frame.select(keep)
    casts = [pl.col(c).cast(pl.Float64) for c, t in sub.schema.items() if isinstance(t, pl.Decimal)]
    return sub.with_columns(casts).to_pandas()


def _gx_expectation(rule: Rule, index: int):
    """The GX expectation of a rule (the severity GX knows is critical/warning/info too). `meta.rule`
    is its place in the file: GX returns results in an order of its own."""
    return expectation_class(rule.type)(**rule.kwargs, meta={"rule": index, "flag": rule.flag, "reason": rule.reason}, severity=rule.severity)


def _raised(info) -> str | None:
    """GX's exception info of a result: flat, or one entry per metric that raised."""
    if not isinstance(info, dict):
        return None
    entries = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for e in entries:
        if e.get("raised_exception"):
            return str(e.get("exception_message") or "evaluation failed").strip('"')[:300]
    return None


def run_suite(frame: pl.DataFrame, suite_path: Path, id_column: str, parameters: dict | None = None,
              references: dict[str, frozenset] | None = None) -> SuiteOutcome:
    """Validate `frame` against the suite file; failing rows are returned by `id_column`, all of them.
    `parameters` fill the suite's `{"$PARAMETER": name}` values (over the suite's own
    `meta.parameters` defaults); `references` are the named value sets
    of the run (expectations/custom.py)."""
    from great_expectations.core.expectation_suite import ExpectationSuite

    from expectations.custom import provided

    name, rules, gate = suite_rules(suite_path)
    defaults = suite_parameters(suite_path)
    check_columns(rules, frame.columns, suite_path)
    check_columns([Rule(name, "gate", {"column_list": list(gate.get("min_completeness") or {})}, CRITICAL, "", "")], frame.columns, suite_path)
    ctx = _context()
    try:
        suite = ExpectationSuite(name=name, expectations=[_gx_expectation(r, i) for i, r in enumerate(rules)])
    except Exception as exc:  # noqa: BLE001 - a kwarg GX refuses: say which suite, in GX's words
        raise ConfigError(f"suite {name}: {str(exc).splitlines()[0][:300]}", file=str(suite_path),
                          hint="compare the expectation's kwargs with its documentation (docs/validation.md)") from None
    source = ctx.data_sources.add_or_update_pandas(f"frames_{name}")
    asset = source.add_dataframe_asset(name)
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
        batch_parameters={"dataframe": _to_pandas(frame, [c for r in rules for c in r.columns], id_column)})
    with provided(references or {}):
        result = batch.validate(suite, result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [id_column]},
                                expectation_parameters={**defaults, **(parameters or {})})
    outcomes = []
    for r in sorted(result.results, key=lambda r: r.expectation_config.meta["rule"]):
        rule = rules[r.expectation_config.meta["rule"]]
        error = _raised(r.exception_info)
        if error:  # never a silent pass: a rule that could not be evaluated stops the run
            raise ConfigError(f"suite {name}, rule {rule.flag} ({rule.label}) could not be evaluated: {error}", file=str(suite_path),
                              hint="check the rule's kwargs and the column's values (docs/validation.md)")
        ids = [int(row[id_column]) for row in (r.result.get("unexpected_index_list") or [])]
        outcomes.append(ExpectationOutcome(
            rule=rule, success=bool(r.success),
            element_count=int(r.result.get("element_count") or frame.height),
            unexpected_count=int(r.result.get("unexpected_count") or len(ids)),
            unexpected_ids=ids,
        ))
    for r in result.results:  # the rows are in the outcomes (and the ledger): keep the result, its JSON and Data Docs small
        for key in ("unexpected_index_list", "partial_unexpected_index_list", "unexpected_list", "unexpected_index_query"):
            r.result.pop(key, None)
    raw = json.loads(json.dumps(result.to_json_dict(), default=lambda o: float(o) if isinstance(o, Decimal) else str(o)))
    return SuiteOutcome(name, bool(result.success), outcomes, raw, gate, result)


def validate_frame(frame: pl.DataFrame, suite_path: Path, stage: str, entity: str, lineage: list[str],
                   parameters: dict | None = None, references: dict[str, frozenset] | None = None):
    """One suite on one frame (rows by RID), as a run stage needs it: the outcome (with the first
    failing records by `lineage`), every (record, rule) violation, and the reasons the suite's gate
    stops the run."""
    from crm_migrate.contracts import RID
    from expectations.gates import gate_reasons
    from transforms.quarantine import examples, violations

    outcome = run_suite(frame, suite_path, RID, parameters, references)
    found = violations(frame, outcome.outcomes)
    outcome.stage, outcome.entity = stage, entity
    outcome.examples = examples(frame, found, lineage, outcome.outcomes)
    return outcome, found, gate_reasons(outcome, frame, found)
