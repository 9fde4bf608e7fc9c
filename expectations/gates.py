"""A suite's gate: thresholds that stop the run before anything is written.

In the suite file's `meta.gate`:
- `max_reject_rate`: the largest share of one source's records the suite's critical rules may reject;
- `stop_on`: rules (by flag, or `suite.flag`) any failure of which stops the run;
- `min_completeness`: field -> the smallest share of records with a value (over all sources).

Reasons carry counts, rule and field names only, never values: they are printed on the console.
`Gate` collects the reasons of a run (these, the config's thresholds, mapping problems, target
suites) and decides, with or without --force, whether the load may go on."""
from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from crm_migrate.contracts import CRITICAL, RID, SOURCE
from crm_migrate.errors import ConfigError

GATE_KEYS = ("max_reject_rate", "stop_on", "min_completeness")


def check_gate(gate: dict, rules, path) -> None:
    """Refuse a gate the run could not apply: unknown keys, rates outside 0..1, rules the suite lacks."""
    if not isinstance(gate, dict):
        raise ConfigError("meta.gate must be a mapping", file=str(path), hint=f"keys: {', '.join(GATE_KEYS)}")
    unknown = sorted(set(gate) - set(GATE_KEYS))
    if unknown:
        raise ConfigError(f"meta.gate: unknown key {', '.join(unknown)}", file=str(path), hint=f"keys: {', '.join(GATE_KEYS)}")
    rates = [("max_reject_rate", gate.get("max_reject_rate"))] + [(f"min_completeness.{f}", v) for f, v in (gate.get("min_completeness") or {}).items()]
    for key, v in rates:
        if v is not None and not (isinstance(v, (int, float)) and 0 <= v <= 1):
            raise ConfigError(f"meta.gate.{key}: {v!r} is not a share between 0 and 1", file=str(path))
    names = {r.flag for r in rules} | {r.name for r in rules}
    missing = [n for n in gate.get("stop_on") or [] if n not in names]
    if missing:
        raise ConfigError(f"meta.gate.stop_on names rules the suite does not have: {', '.join(missing)}", file=str(path),
                          hint=f"its rules: {', '.join(sorted({r.flag for r in rules}))}")


def gate_reasons(outcome, frame: pl.DataFrame, found: pl.DataFrame) -> list[str]:
    """Why the suite's gate stops the run (empty: it passes). `found` is the suite's violations
    (transforms/quarantine.violations) on `frame`."""
    gate, suite, reasons = outcome.gate, outcome.suite, []
    limit = gate.get("max_reject_rate")
    if limit is not None and frame.height:
        rejected = found.filter(pl.col("severity") == CRITICAL).select(RID).unique()
        per_source = (frame.select(RID, SOURCE).join(rejected.with_columns(pl.lit(1).alias("__r")), on=RID, how="left")
                      .group_by(SOURCE).agg(pl.len().alias("n"), pl.col("__r").sum().alias("r")).sort(SOURCE))
        for source, n, r in per_source.iter_rows():
            if n and r / n > limit:
                reasons.append(f"{suite}: {r} of {n} records of {source} rejected ({r / n:.1%}), above the gate's max_reject_rate {limit:.1%}")
    for name in gate.get("stop_on") or []:
        for o in outcome.outcomes:
            if (name in (o.flag, o.rule.name)) and not o.success:
                reasons.append(f"{o.rule.name}: {o.unexpected_count} records fail it, and the gate stops on any failure")
    for fld, minimum in (gate.get("min_completeness") or {}).items():
        if fld in frame.columns and frame.height:
            share = 1 - frame[fld].null_count() / frame.height
            if share < minimum:
                reasons.append(f"{suite}: {fld} is filled in {share:.1%} of records, below the gate's min_completeness {minimum:.1%}")
    return reasons


@dataclass
class Gate:
    passed: bool
    reasons: list[str] = field(default_factory=list)  # counts and names only: safe to print on a console
    examples: list[list] = field(default_factory=list)  # per reason, example values (for the report, masked there)
    outcomes: dict = field(default_factory=dict)  # entity -> the target suite's SuiteOutcome
    forced: bool = False  # --force loaded although the validation thresholds failed
    binding: list[bool] = field(default_factory=list)  # per reason: True when --force cannot override it

    def stop(self, reason: str, examples: list | None = None, binding: bool = False) -> None:
        self.reasons.append(reason)
        self.examples.append(list(examples or []))
        self.binding.append(binding)

    def decide(self, force: bool) -> None:
        """Pass when nothing stopped the run, or when --force overrides every reason: thresholds can be
        overridden; values the target cannot hold (too long, required and missing) cannot."""
        self.passed, self.forced = not self.reasons, False
        if self.reasons and force and not any(self.binding):
            self.passed = self.forced = True

    def as_dict(self) -> dict:
        return {"passed": self.passed, "forced": self.forced, "reasons": self.reasons}
