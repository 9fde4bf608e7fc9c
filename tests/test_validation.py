import json

import polars as pl

from expectations.runner import run_suite
from pipelines.stages import apply_outcome
from tests.conftest import ROOT


def test_canonical_customer_suite_rejects_critical_and_flags_warnings():
    df = pl.DataFrame({
        "_rid": [0, 1, 2],
        "name": ["深圳市腾飞电子科技有限公司", None, "广州市华鑫贸易有限公司"],
        "credit_code_status": ["valid", "missing", "valid"],
        "phone": ["+8613812345678", None, "075526"],
        "status": ["active", "active", "dormant"],
        "industry": ["C", None, "I"],
        "_flags": [[], [], []],
    })
    outcome = run_suite(df, ROOT / "expectations" / "suites" / "customer_canonical.json", "_rid")
    by = {o.expectation: o for o in outcome.outcomes}
    assert by["expect_column_values_to_not_be_null(name)"].unexpected_ids == [1]
    assert by["expect_column_values_to_match_regex(phone)"].unexpected_ids == [2]
    assert by["expect_column_values_to_match_regex(phone)"].severity == "warning"
    out = apply_outcome(df, outcome)
    assert out["reject_reason"].to_list()[0] is None and out["reject_reason"].to_list()[2] is None
    assert out["reject_reason"][1].startswith("company name is empty [customer_canonical: expect_column_values_to_not_be_null(name)]")
    assert out["_flags"].to_list()[2] == ["phone_not_e164", "status_not_in_picklist"]
    json.dumps(outcome.raw)  # the GX result goes to the run folder as JSON
