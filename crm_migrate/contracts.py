"""The contracts between stages: lineage columns, the canonical model and the ledger.

Every stage may import this module; it imports nothing of the project.
"""
from __future__ import annotations

import polars as pl

# Lineage stamped on every extracted row.
SOURCE = "_source"
SOURCE_KEY = "_source_key"
ROW = "_row"
# Row id unique within one entity frame for the whole run; joins stages together.
RID = "_rid"
FLAGS = "_flags"  # list[str] of machine-readable issue codes
# Set by an extractor when a record is structurally broken (a CSV line with extra fields): the record
# is kept and ends in the ledger as rejected with this reason.
QUARANTINE = "_quarantine"
EXTRA = "extra"  # JSON text of source columns the mapping does not use
# Set by validation (or linking) on a record that will be `rejected`: the reason in words, for the ledger.
REJECT = "reject_reason"
LINEAGE = (SOURCE, SOURCE_KEY, ROW)

CUSTOMER = "customer"
OPPORTUNITY = "opportunity"
ENTITIES = (CUSTOMER, OPPORTUNITY)

# Canonical fields per entity, with the polars dtype each has after standardization.
CANONICAL: dict[str, dict[str, pl.DataType]] = {
    CUSTOMER: {
        "name": pl.String(),
        "name_normalized": pl.String(),
        "name_key": pl.String(),
        "credit_code": pl.String(),
        "credit_code_status": pl.String(),
        "phone": pl.String(),
        "phone_other": pl.String(),
        "email": pl.String(),
        "address": pl.String(),
        "province": pl.String(),
        "city": pl.String(),
        "district": pl.String(),
        "industry": pl.String(),
        "contact_name": pl.String(),
        "owner": pl.String(),
        "status": pl.String(),
        "created_at": pl.Datetime("us"),
        "updated_at": pl.Datetime("us"),
    },
    OPPORTUNITY: {
        "customer_source_key": pl.String(),
        "customer_name": pl.String(),
        "name": pl.String(),
        "stage": pl.String(),
        "amount": pl.Decimal(20, 2),
        "quoted_amount": pl.Decimal(20, 2),  # the sum of the deal's quotation lines, where a source has them
        "currency": pl.String(),
        "expected_close_date": pl.Date(),
        "created_at": pl.Datetime("us"),
        "owner": pl.String(),
        "probability": pl.Float64(),
    },
}

# credit_code_status values: set by standardization (transforms/credit_code.py), except `doubtful`,
# which resolution gives a valid code copied onto the next row (transforms/copied_codes.py).
CODE_VALID, CODE_REPAIRED, CODE_INVALID, CODE_MISSING, CODE_DOUBTFUL = "valid", "repaired", "invalid", "missing", "doubtful"

# Columns a mapping carries beyond the canonical model (`attributes:`: a legacy member number, a date
# of birth), for a declared matching model; text, under this prefix.
ATTRIBUTE_PREFIX = "attr_"


def attribute_column(name: str) -> str:
    return ATTRIBUTE_PREFIX + name


# Fields a source mapping may fill; the rest are derived by standardization.
DERIVED = {"name_normalized", "name_key", "credit_code_status", "phone_other", "province", "city", "district"}


def mappable_fields(entity: str) -> list[str]:
    return [f for f in CANONICAL[entity] if f not in DERIVED]


# Ledger: one row per source record per run.
LOADED, MERGED, REJECTED, ARCHIVED = "loaded", "merged", "rejected", "archived"
UNSAMPLED = "unsampled"  # a sample rehearsal (run --sample) left the record's customer out (the ledger column holds 10 characters)
DISPOSITIONS = (LOADED, MERGED, REJECTED, ARCHIVED, UNSAMPLED)


def shown_dispositions(sample: bool) -> tuple[str, ...]:
    """The dispositions a summary lists: unsampled only for a sample rehearsal."""
    return DISPOSITIONS if sample else tuple(d for d in DISPOSITIONS if d != UNSAMPLED)

LEDGER_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    "entity": pl.String(),
    "source": pl.String(),
    "source_key": pl.String(),
    "source_row": pl.Int64(),
    "disposition": pl.String(),
    "target_id": pl.String(),
    "reason": pl.String(),
    "flags": pl.String(),
    "customer_target_id": pl.String(),
}
LEDGER_COLUMNS = tuple(LEDGER_SCHEMA)

# Flag codes resolution puts on records (the ledger's `flags`).
AMBIGUOUS_MATCH = "ambiguous_name_match"  # fits two companies that cannot be one: joined neither
IN_REVIEW = "possible_duplicate_in_review"  # one side of a pair in review_queue.xlsx
BRANCH_NAMED_AS_HEAD_OFFICE = "branch_named_as_head_office"  # joined a branch by its code, named like the head office
MATCHED_WITHOUT_REGION = "customer_matched_without_region"  # opportunity linked by a region-less name
MATCHED_BY_BRAND = "customer_matched_by_brand"  # opportunity linked by the customer's brand (short name)
OTHER_CUSTOMERS_FIT = "customer_name_fits_others"  # linked by a region-less name one customer's record has, though other customers' brands fit it too
NAME_NOTE_REMOVED = "name_note_removed"  # (老客户), 【重点】, -停用 removed from a company name
SAME_CODE_OTHER_NAME = "same_code_different_name"  # merged by its credit code although the names differ (a rename?)
# Pre-2015 identifiers typed where the credit code belongs (standardization flags them).
LEGACY_ORG_CODE = "legacy_organization_code"  # 9-character organization code (GB 11714), XXXXXXXX-X
LEGACY_REG_NUMBER = "legacy_registration_number"  # 15-digit business registration number (注册号)
LEGACY_TAX_NUMBER = "legacy_tax_number"  # 15-character tax registration number (税务登记号): division + organization code
CODE_COPIED_FROM_ROW_ABOVE = "credit_code_copied_from_row_above"  # the row above's code, sharing nothing else: not used
CODE_OF_ANOTHER_CUSTOMER = "credit_code_of_another_customer"  # the code (or legacy code) another golden customer holds: not loaded

# Flag codes of the validation rules (expectations/custom.py gives each custom expectation one; a
# suite's `meta.flag` may name another): a ledger reader knows which rule a row broke from the code.
INVALID_CREDIT_CODE = "invalid_credit_code"
INVALID_PHONE = "invalid_phone"
PHONE_TOO_SHORT = "phone_too_short"
MALFORMED_EMAIL = "malformed_email"
AMOUNT_OUT_OF_RANGE = "amount_out_of_range"
AMOUNT_DIFFERS_FROM_LINES = "amount_differs_from_lines"
CLOSE_BEFORE_CREATED = "close_before_created"
DATE_IN_FUTURE = "date_in_future"
DATE_BEFORE_MIN_YEAR = "date_before_min_year"
NOT_IN_REFERENCE = "not_in_reference"
NOT_IN_PICKLIST = "not_in_picklist"
EMPTY_NAME = "empty_name"
DUPLICATE_PRIMARY_KEY = "duplicate_primary_key"

# Flag codes the target mapping puts on the record a target row came from (`<code>:<target column>`).
LOOKUP_DEFAULT = "lookup_default"  # a lookup (owners) did not know the value: the lookup's default was used
TRUNCATED = "truncated"  # longer than the target column, cut (the column's `overflow: truncate`)

# Validation severities (an expectation's `meta.severity`, or GX's own `severity`): critical rejects
# the record, warning flags it and lets it through, info only counts.
CRITICAL, WARNING, INFO = "critical", "warning", "info"
SEVERITIES = (CRITICAL, WARNING, INFO)

# Golden customers' columns besides the canonical fields (transforms/resolve.golden_records): what
# --where and `phases:` conditions may name, with the canonical customer fields.
GOLDEN_COLUMNS = ("target_id", "member_count", "current_members", "archived")
