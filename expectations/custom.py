"""The migration's own Great Expectations: real GX 1.x expectation classes, usable from a suite file
like the built-ins (`"type": "expect_column_values_to_be_valid_cn_credit_code"`). Importing this
module registers them (GX registers a class when it is defined).

Each metric works on a pandas Series GX hands it (missing values already left out, except where an
expectation says otherwise) and decides per distinct value where the check costs more than a lookup,
so a million rows with a few thousand distinct values cost a few thousand checks.

Each expectation carries the flag code a failing row gets in the ledger (`default_flag`, from
crm_migrate/contracts.py) unless the suite's `meta.flag` names another.

Checks that need something the suite file cannot hold (the golden customers' ids, the target's
picklists) name a *reference*; the runner provides the references of the run (`references`)."""
from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import date, datetime
from typing import ClassVar, Literal, Optional, Tuple, Union

import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation, ColumnPairMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    ColumnPairMapMetricProvider,
    column_condition_partial,
    column_pair_condition_partial,
)

from crm_migrate import contracts as c
from transforms import credit_code
from transforms.emails import is_valid_email

# Named value sets of the run, set by the runner around a validation (see `provided`).
_REFERENCES: dict[str, frozenset] = {}


@contextmanager
def provided(references: dict[str, frozenset]):
    """Make the run's references (`golden_customer_ids`, `picklist:<field>`) visible to the metrics."""
    before = dict(_REFERENCES)
    _REFERENCES.update(references)
    try:
        yield
    finally:
        _REFERENCES.clear()
        _REFERENCES.update(before)


def _reference(name: str) -> frozenset:
    if name not in _REFERENCES:
        known = ", ".join(sorted(_REFERENCES)) or "none in this run"
        raise KeyError(f"reference {name!r} is not provided (provided: {known})")
    return _REFERENCES[name]


def _per_distinct(column: pd.Series, check) -> pd.Series:
    """`check` once per distinct value, mapped back onto the rows."""
    verdict = {v: bool(check(v)) for v in column.unique()}
    return column.map(verdict).astype(bool)


def _as_day(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, errors="coerce").dt.normalize()


# ---- unified social credit code (GB 32100-2015) ------------------------------------------------

class ColumnValuesValidCnCreditCode(ColumnMapMetricProvider):
    condition_metric_name = "column_values.valid_cn_credit_code"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs) -> pd.Series:
        return _per_distinct(column, lambda v: isinstance(v, str) and credit_code.is_valid(v))


class ExpectColumnValuesToBeValidCnCreditCode(ColumnMapExpectation):
    """The value is an 18-character unified social credit code whose check character (GB 32100-2015)
    and registration-authority / category prefix hold."""

    map_metric: ClassVar[str] = "column_values.valid_cn_credit_code"
    success_keys: ClassVar[Tuple[str, ...]] = ("mostly",)
    default_flag: ClassVar[str] = c.INVALID_CREDIT_CODE


# ---- phones ------------------------------------------------------------------------------------

class ColumnValuesValidPhone(ColumnMapMetricProvider):
    condition_metric_name = "column_values.valid_phone"
    condition_value_keys = ("regions",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, regions=("CN",), **kwargs) -> pd.Series:
        import phonenumbers

        allowed = set(regions or ("CN",))

        def ok(v) -> bool:
            try:
                n = phonenumbers.parse(str(v).split(";ext=")[0], "CN")
            except phonenumbers.NumberParseException:
                return False
            return phonenumbers.is_valid_number(n) and phonenumbers.region_code_for_number(n) in allowed

        return _per_distinct(column, ok)


class ExpectColumnValuesToBeValidPhone(ColumnMapExpectation):
    """The value is a valid phone number (mobile or landline with its area code) of one of `regions`
    (ISO 3166 codes; default mainland China), per libphonenumber's numbering plans."""

    regions: list[str] = ["CN"]
    map_metric: ClassVar[str] = "column_values.valid_phone"
    success_keys: ClassVar[Tuple[str, ...]] = ("mostly", "regions")
    default_flag: ClassVar[str] = c.INVALID_PHONE


# ---- email syntax ------------------------------------------------------------------------------

class ColumnValuesValidEmail(ColumnMapMetricProvider):
    condition_metric_name = "column_values.valid_email"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs) -> pd.Series:
        return _per_distinct(column, is_valid_email)


class ExpectColumnValuesToBeValidEmail(ColumnMapExpectation):
    """The value is one email address of valid syntax (local part, one @, a domain with a top level)."""

    map_metric: ClassVar[str] = "column_values.valid_email"
    success_keys: ClassVar[Tuple[str, ...]] = ("mostly",)
    default_flag: ClassVar[str] = c.MALFORMED_EMAIL


# ---- amounts -----------------------------------------------------------------------------------

Number = Union[int, float, str]


class ColumnValuesAmountInRange(ColumnMapMetricProvider):
    condition_metric_name = "column_values.amount_in_range"
    condition_value_keys = ("min_value", "max_value")

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, min_value=None, max_value=None, **kwargs) -> pd.Series:
        values = pd.to_numeric(column, errors="coerce")
        ok = values.notna()
        if min_value is not None:
            ok &= values >= float(min_value)
        if max_value is not None:
            ok &= values <= float(max_value)
        return ok


class ExpectColumnValuesToBeAmountInRange(ColumnMapExpectation):
    """The amount lies within [min_value, max_value] (yuan; either bound may be left out). Bounds are
    usually suite parameters (`{"$PARAMETER": "amount_max"}`) set in the config's
    `validation.parameters`, so one suite serves customer bases of any size."""

    min_value: Optional[Union[Number, dict]] = None
    max_value: Optional[Union[Number, dict]] = None
    map_metric: ClassVar[str] = "column_values.amount_in_range"
    success_keys: ClassVar[Tuple[str, ...]] = ("mostly", "min_value", "max_value")
    default_flag: ClassVar[str] = c.AMOUNT_OUT_OF_RANGE


# ---- dates -------------------------------------------------------------------------------------

class ColumnValuesNotInFuture(ColumnMapMetricProvider):
    condition_metric_name = "column_values.not_in_future"
    condition_value_keys = ("as_of",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, as_of=None, **kwargs) -> pd.Series:
        limit = pd.Timestamp(as_of) if as_of else pd.Timestamp(datetime.now())
        days = _as_day(column)
        return days.notna() & (days <= limit.normalize())


class ExpectColumnValuesToNotBeInTheFuture(ColumnMapExpectation):
    """The date is not after `as_of` (default: the day the run validates). For dates that record what
    happened (created, updated), not plans (an expected close date)."""

    as_of: Optional[Union[str, date, dict]] = None
    map_metric: ClassVar[str] = "column_values.not_in_future"
    success_keys: ClassVar[Tuple[str, ...]] = ("mostly", "as_of")
    default_flag: ClassVar[str] = c.DATE_IN_FUTURE


class ColumnValuesNotBeforeYear(ColumnMapMetricProvider):
    condition_metric_name = "column_values.not_before_year"
    condition_value_keys = ("min_year",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, min_year=1990, **kwargs) -> pd.Series:
        days = _as_day(column)
        return days.notna() & (days.dt.year >= int(min_year))


class ExpectColumnValuesToNotBeBeforeYear(ColumnMapExpectation):
    """The date is in `min_year` or later: 1900-01-01 and 1970-01-01 are an old system's empty date,
    not a record's history."""

    min_year: Union[int, dict] = 1990
    map_metric: ClassVar[str] = "column_values.not_before_year"
    success_keys: ClassVar[Tuple[str, ...]] = ("mostly", "min_year")
    default_flag: ClassVar[str] = c.DATE_BEFORE_MIN_YEAR


class ColumnPairDatesInOrder(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.dates_in_order"
    condition_domain_keys = ("batch_id", "table", "column_A", "column_B", "row_condition", "condition_parser", "ignore_row_if")

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A: pd.Series, column_B: pd.Series, **kwargs) -> pd.Series:
        return ~(_as_day(column_A) < _as_day(column_B))  # a day unreadable on either side is not out of order


class ExpectColumnPairValuesToBeDatesInOrder(ColumnPairMapExpectation):
    """column_A's day is on or after column_B's (the expected close date on or after the day the deal
    was created); the time of day is ignored. Rows missing either date are not judged."""

    ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] = "either_value_is_missing"
    map_metric: ClassVar[str] = "column_pair_values.dates_in_order"
    success_keys: ClassVar[Tuple[str, ...]] = ("mostly", "ignore_row_if")
    default_flag: ClassVar[str] = c.CLOSE_BEFORE_CREATED


class ColumnPairAmountsEqual(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.amounts_equal"
    condition_domain_keys = ("batch_id", "table", "column_A", "column_B", "row_condition", "condition_parser", "ignore_row_if")
    condition_value_keys = ("tolerance",)

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A: pd.Series, column_B: pd.Series, tolerance=0.005, **kwargs) -> pd.Series:
        a, b = pd.to_numeric(column_A, errors="coerce"), pd.to_numeric(column_B, errors="coerce")
        return (a - b).abs() <= float(tolerance)


class ExpectColumnPairValuesToBeEqualAmounts(ColumnPairMapExpectation):
    """column_A equals column_B within `tolerance` yuan: the deal's amount against the sum of its
    quotation lines (`quoted_amount`), where the source has lines; rows without them are not judged."""

    tolerance: Union[float, dict] = 0.005
    ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] = "either_value_is_missing"
    map_metric: ClassVar[str] = "column_pair_values.amounts_equal"
    success_keys: ClassVar[Tuple[str, ...]] = ("mostly", "tolerance", "ignore_row_if")
    default_flag: ClassVar[str] = c.AMOUNT_DIFFERS_FROM_LINES


# ---- references: golden customers, target picklists ------------------------------------------

class ColumnValuesInReference(ColumnMapMetricProvider):
    condition_metric_name = "column_values.in_reference"
    condition_value_keys = ("reference",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, reference=None, **kwargs) -> pd.Series:
        return column.astype(str).isin(_reference(reference))


class ExpectColumnValuesToBeInReference(ColumnMapExpectation):
    """The value is one of a set the run provides: `golden_customer_ids` (the golden customers' target
    ids: an opportunity's customer exists) or `picklist:<canonical field>` (the target mapping's
    picklist keys)."""

    reference: str
    map_metric: ClassVar[str] = "column_values.in_reference"
    success_keys: ClassVar[Tuple[str, ...]] = ("mostly", "reference")
    default_flag: ClassVar[str] = c.NOT_IN_REFERENCE


class ColumnValuesInTargetPicklist(ColumnMapMetricProvider):
    condition_metric_name = "column_values.in_target_picklist"
    condition_value_keys = ("field",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, field=None, **kwargs) -> pd.Series:
        return column.astype(str).isin(_reference(f"picklist:{field or column.name}"))


class ExpectColumnValuesToBeInTargetPicklist(ColumnMapExpectation):
    """The canonical value has an entry in the target mapping's picklist of `field` (default: the
    column's own name), so the load will not meet a value the new CRM does not know."""

    field: Optional[str] = None
    map_metric: ClassVar[str] = "column_values.in_target_picklist"
    success_keys: ClassVar[Tuple[str, ...]] = ("mostly", "field")
    default_flag: ClassVar[str] = c.NOT_IN_PICKLIST


# ---- standardization's findings as rules -------------------------------------------------------

class ColumnValuesWithoutFlag(ColumnMapMetricProvider):
    condition_metric_name = "column_values.without_flag"
    condition_value_keys = ("flag",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, flag=None, **kwargs) -> pd.Series:
        def clean(codes) -> bool:
            return not any(c == flag or str(c).startswith(f"{flag}:") for c in (codes if codes is not None else ()))

        return column.map(clean).astype(bool)


class ExpectRecordsToNotCarryFlag(ColumnMapExpectation):
    """The record does not carry `flag` in `_flags` (a code standardization or an extractor gave it:
    email_typo_domain, invalid_amount, unknown_stage matches unknown_stage:待定), so a suite decides
    the severity of a finding that is not a rule of its own."""

    flag: str
    map_metric: ClassVar[str] = "column_values.without_flag"
    success_keys: ClassVar[Tuple[str, ...]] = ("mostly", "flag")
    default_flag: ClassVar[str] = ""  # the flag it looks for (the runner fills it in)


CUSTOM_EXPECTATIONS = (
    ExpectColumnValuesToBeValidCnCreditCode, ExpectColumnValuesToBeValidPhone, ExpectColumnValuesToBeValidEmail,
    ExpectColumnValuesToBeAmountInRange, ExpectColumnValuesToNotBeInTheFuture, ExpectColumnValuesToNotBeBeforeYear,
    ExpectColumnPairValuesToBeDatesInOrder, ExpectColumnPairValuesToBeEqualAmounts, ExpectColumnValuesToBeInReference,
    ExpectColumnValuesToBeInTargetPicklist, ExpectRecordsToNotCarryFlag,
)

_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")


def type_name(cls) -> str:
    """The suite file's `type` of a custom expectation class (GX's own camel -> snake rule)."""
    return _SNAKE.sub("_", cls.__name__).lower()
