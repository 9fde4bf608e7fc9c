"""Run an expectation suite file on a polars frame and return row-level outcomes.

Great Expectations is imported lazily (it takes seconds) and one ephemeral context serves the process.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import polars as pl

from crm_migrate.errors import ConfigError

SUITES_DIR = Path(__file__).resolve().parent / "suites"


@dataclass
class ExpectationOutcome:
    expectation: str  # e.g. expect_column_values_to_not_be_null(name)
    column: str | None
    severity: str  # critical | warning | info
    success: bool
    element_count: int
    unexpected_count: int
    reason: str
    flag: str | None
    unexpected_ids: list[int] = field(default_factory=list)


@dataclass
class SuiteOutcome:
    suite: str
    success: bool
    outcomes: list[ExpectationOutcome]
    raw: dict  # the GX validation result, for the run folder

    def failed(self, severity: str) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and o.severity == severity]


@lru_cache(maxsize=1)
def _context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    return ctx


def load_suite(path: Path) -> dict:
    try:
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("expectation suite not found", file=str(path), hint="check validation.suites in the config") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON at line {exc.lineno}: {exc.msg}", file=str(path)) from None
    if not isinstance(spec, dict) or "expectations" not in spec:
        raise ConfigError("not an expectation suite (needs `name` and `expectations`)", file=str(path))
    return spec


def _to_pandas(frame: pl.DataFrame, columns: list[str], id_column: str):
    keep = [c for c in dict.fromkeys([id_column, *columns]) if c in frame.columns]
    sub = frame.select(keep)
    casts = [pl.col(c).cast(pl.Float64) for c, t in sub.schema.items() if isinstance(t, pl.Decimal)]
    return sub.with_columns(casts).to_pandas()


def run_suite(frame: pl.DataFrame, suite_path: Path, id_column: str) -> SuiteOutcome:
    """Validate `frame` against the suite file; unexpected rows are reported by `id_column`."""
    from great_expectations.core.expectation_suite import ExpectationSuite

    spec = load_suite(suite_path)
    name = spec.get("name", Path(suite_path).stem)
    columns = [e.get("kwargs", {}).get("column") for e in spec["expectations"]]
    missing = sorted({c for c in columns if c and c not in frame.columns})
    if missing:
        raise ConfigError(f"suite {name} checks columns that do not exist: {', '.join(missing)}", file=str(suite_path),
                          hint=f"columns available: {', '.join(c for c in frame.columns if not c.startswith('_'))}")
    ctx = _context()
    suite = ExpectationSuite(name=name, expectations=spec["expectations"], meta=spec.get("meta", {}))
    source = ctx.data_sources.add_or_update_pandas(f"frames_{name}")
    asset = source.add_dataframe_asset(name)
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
        batch_parameters={"dataframe": _to_pandas(frame, [c for c in columns if c], id_column)}
    )
    result = batch.validate(suite, result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [id_column]})
    outcomes = []
    for r, spec_e in zip(result.results, spec["expectations"]):
        cfg = r.expectation_config
        column = cfg.kwargs.get("column")
        ids = [int(row[id_column]) for row in (r.result.get("unexpected_index_list") or [])]
        meta = spec_e.get("meta", {})
        label = f"{cfg.type}({column})" if column else cfg.type
        outcomes.append(
            ExpectationOutcome(
                expectation=label,
                column=column,
                severity=str(getattr(cfg.severity, "value", cfg.severity) or "critical"),
                success=bool(r.success),
                element_count=int(r.result.get("element_count") or frame.height),
                unexpected_count=int(r.result.get("unexpected_count") or len(ids)),
                reason=meta.get("reason") or label,
                flag=meta.get("flag"),
                unexpected_ids=ids,
            )
        )
    raw = json.loads(json.dumps(result.to_json_dict(), default=lambda o: float(o) if isinstance(o, Decimal) else str(o)))
    for res in raw.get("results", []):  # keep the run folder small: ids are in the ledger already
        res.get("result", {}).pop("unexpected_index_list", None)
        res.get("result", {}).pop("partial_unexpected_index_list", None)
        res.get("result", {}).pop("unexpected_list", None)
    return SuiteOutcome(name, bool(result.success), outcomes, raw)
