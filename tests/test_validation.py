"""Validation: the custom expectations, suite files, quarantine by row id, gates."""
import json
from datetime import date, datetime
from decimal import Decimal

import polars as pl
import pytest

from crm_migrate.contracts import FLAGS, REJECT, RID, SOURCE
from crm_migrate.errors import ConfigError
from expectations.gates import gate_reasons
from expectations.runner import run_suite, suite_rules
from tests.conftest import ROOT
from transforms.quarantine import examples, quarantine, violations

SUITES = ROOT / "expectations" / "suites"


def suite_file(tmp_path, expectations, meta=None):
    path = tmp_path / "suite.json"
    path.write_text(json.dumps({"name": "t", "meta": meta or {}, "expectations": expectations}), encoding="utf-8")
    return path


def failing(frame, tmp_path, type_, kwargs, parameters=None, references=None, id_column=RID):
    """Row ids one expectation fails, run through GX from a suite file."""
    outcome = run_suite(frame, suite_file(tmp_path, [{"type": type_, "kwargs": kwargs}]), id_column, parameters, references)
    (o,) = outcome.outcomes
    return o.unexpected_ids


def frame(**columns):
    n = len(next(iter(columns.values())))
    return pl.DataFrame({RID: list(range(n)), **columns}, strict=False)


# ---- each custom expectation, passing and failing ---------------------------------------------

def test_credit_code_per_gb32100(tmp_path):
    f = frame(code=["91350100M000100Y43", "91350100M000100Y44", None, "11010519491231002X", "12345678-9"])
    assert failing(f, tmp_path, "expect_column_values_to_be_valid_cn_credit_code", {"column": "code"}) == [1, 3, 4]


def test_phone_valid_for_the_regions_given(tmp_path):
    f = frame(phone=["+8613812345678", "+86755123", "+862088889999", "+85221234567", None, "+8612345678901"])
    assert failing(f, tmp_path, "expect_column_values_to_be_valid_phone", {"column": "phone"}) == [1, 3, 5]
    assert failing(f, tmp_path, "expect_column_values_to_be_valid_phone", {"column": "phone", "regions": ["CN", "HK"]}) == [1, 5]


def test_email_syntax(tmp_path):
    f = frame(email=["sales@abc.com", "sales@@abc.com", "sales@abc", "a.b@c.com.cn", "x@y.com，z@y.com", None])
    assert failing(f, tmp_path, "expect_column_values_to_be_valid_email", {"column": "email"}) == [1, 2, 4]


def test_amount_within_a_configured_range(tmp_path):
    f = frame(amount=[Decimal("0.00"), Decimal("-5.00"), Decimal("10000000000.00"), Decimal("10000000000.01"), None])
    f = f.with_columns(pl.col("amount").cast(pl.Decimal(20, 2)))
    kwargs = {"column": "amount", "min_value": 0, "max_value": {"$PARAMETER": "amount_max"}}
    assert failing(f, tmp_path, "expect_column_values_to_be_amount_in_range", kwargs, {"amount_max": 1e10}) == [1, 3]
    assert failing(f, tmp_path, "expect_column_values_to_be_amount_in_range", kwargs, {"amount_max": 1e12}) == [1]


def test_dates_in_order_by_day(tmp_path):
    f = frame(close=[date(2024, 3, 1), date(2024, 3, 1), date(2024, 2, 29), None, date(2024, 1, 1)],
              created=[datetime(2024, 2, 1, 9), datetime(2024, 3, 1, 18), datetime(2024, 3, 1), datetime(2024, 5, 1), None])
    # the same day at 18:00 is in order; a missing date on either side is not judged
    assert failing(f, tmp_path, "expect_column_pair_values_to_be_dates_in_order", {"column_A": "close", "column_B": "created"}) == [2]


def test_dates_not_in_the_future_nor_before_a_year(tmp_path):
    f = frame(d=[datetime(2024, 7, 1), datetime(2031, 1, 1), datetime(1900, 1, 1), datetime(1970, 1, 1, 8), None])
    assert failing(f, tmp_path, "expect_column_values_to_not_be_in_the_future", {"column": "d", "as_of": "2024-07-01"}) == [1]
    assert failing(f, tmp_path, "expect_column_values_to_not_be_in_the_future", {"column": "d", "as_of": "2024-06-30"}) == [0, 1]
    assert failing(f, tmp_path, "expect_column_values_to_not_be_before_year", {"column": "d", "min_year": 1990}) == [2, 3]
    assert failing(f, tmp_path, "expect_column_values_to_not_be_before_year", {"column": "d", "min_year": 1950}) == [2]


def test_amount_equals_the_sum_of_its_quotation_lines(tmp_path):
    f = frame(amount=[Decimal("100.00"), Decimal("100.00"), Decimal("100.00"), None],
              quoted=[Decimal("100.00"), Decimal("99.00"), None, Decimal("5.00")])
    f = f.with_columns(pl.col("amount", "quoted").cast(pl.Decimal(20, 2)))
    kwargs = {"column_A": "amount", "column_B": "quoted"}
    assert failing(f, tmp_path, "expect_column_pair_values_to_be_equal_amounts", kwargs) == [1]
    assert failing(f, tmp_path, "expect_column_pair_values_to_be_equal_amounts", {**kwargs, "tolerance": 1}) == []


def test_foreign_key_into_the_golden_customers(tmp_path):
    f = frame(account=["CUS-1", "CUS-2", "CUS-9", None])
    kwargs = {"column": "account", "reference": "golden_customer_ids"}
    assert failing(f, tmp_path, "expect_column_values_to_be_in_reference", kwargs,
                   references={"golden_customer_ids": frozenset({"CUS-1", "CUS-2"})}) == [2]
    with pytest.raises(ConfigError, match="could not be evaluated: reference 'golden_customer_ids' is not provided"):  # never a silent pass
        run_suite(f, suite_file(tmp_path, [{"type": "expect_column_values_to_be_in_reference", "kwargs": kwargs}]), RID)


def test_value_in_the_target_picklist(tmp_path):
    f = frame(stage=["proposal", "closed_won", "赢单", None])
    refs = {"picklist:stage": frozenset({"proposal", "closed_won"})}
    assert failing(f, tmp_path, "expect_column_values_to_be_in_target_picklist", {"column": "stage"}, references=refs) == [2]
    f2 = f.rename({"stage": "stage_text"})
    assert failing(f2, tmp_path, "expect_column_values_to_be_in_target_picklist", {"column": "stage_text", "field": "stage"}, references=refs) == [2]


def test_built_in_column_pair_and_compound_expectations_from_a_file(tmp_path):
    f = frame(a=[1, 2, 3, 3], b=[1, 1, 5, 3], src=["x", "x", "y", "x"], key=["1", "2", "1", "1"])
    assert failing(f, tmp_path, "expect_column_pair_values_a_to_be_greater_than_b", {"column_A": "a", "column_B": "b", "or_equal": True}) == [2]
    assert failing(f, tmp_path, "expect_compound_columns_to_be_unique", {"column_list": ["src", "key"]}) == [0, 3]


def test_every_failing_row_is_found_not_a_sample(tmp_path):
    n = 5000
    f = frame(email=[("bad@@x.com" if i % 3 == 0 else "ok@x.com") for i in range(n)])
    ids = failing(f, tmp_path, "expect_column_values_to_be_valid_email", {"column": "email"})
    assert ids == list(range(0, n, 3))


# ---- suite files --------------------------------------------------------------------------------

def test_results_are_matched_to_their_rule_whatever_order_gx_returns_them(tmp_path):
    f = frame(name=[None, "甲公司"], email=["a@b.com", "a@@b"], amount=[Decimal("-1"), Decimal("5")])
    exps = [{"type": "expect_column_values_to_be_valid_email", "kwargs": {"column": "email"}},
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "name"}},
            {"type": "expect_column_values_to_be_amount_in_range", "kwargs": {"column": "amount", "min_value": 0}}]
    outcome = run_suite(f, suite_file(tmp_path, exps), RID)
    assert [(o.flag, o.unexpected_ids) for o in outcome.outcomes] == [("malformed_email", [1]), ("empty_name", [0]), ("amount_out_of_range", [0])]


def test_an_unknown_expectation_type_is_refused_with_a_suggestion(tmp_path):
    path = suite_file(tmp_path, [{"type": "expect_column_values_to_be_valid_emial", "kwargs": {"column": "email"}}])
    with pytest.raises(ConfigError, match="not an expectation Great Expectations knows") as e:
        suite_rules(path)
    assert "expect_column_values_to_be_valid_email" in e.value.describe()


def test_bad_severity_missing_column_and_unknown_gate_rule_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="severity 'fatal'"):
        suite_rules(suite_file(tmp_path, [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}, "meta": {"severity": "fatal"}}]))
    with pytest.raises(ConfigError, match="do not exist: nope"):
        run_suite(frame(a=[1]), suite_file(tmp_path, [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "nope"}}]), RID)
    with pytest.raises(ConfigError, match="stop_on names rules the suite does not have: typo"):
        suite_rules(suite_file(tmp_path, [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}}], {"gate": {"stop_on": ["typo"]}}))


def test_the_bundled_suites_load_and_name_their_rules():
    for path in SUITES.glob("*.json"):
        name, rules, gate = suite_rules(path)
        assert name == path.stem and rules
        assert len({r.flag for r in rules}) == len(rules), f"{name}: two rules share a flag code"
    _, rules, _ = suite_rules(SUITES / "opportunity_canonical.json")
    assert {"close_before_created", "amount_out_of_range", "empty_name", "amount_differs_from_lines"} <= {r.flag for r in rules}


# ---- quarantine and gates -----------------------------------------------------------------------

CUSTOMERS = pl.DataFrame({
    RID: [0, 1, 2, 3], SOURCE: ["crm", "crm", "xl", "xl"], "_source_key": ["1", "2", "5", "6"], "_row": [1, 2, 5, 6],
    "name": ["深圳市腾飞电子科技有限公司", None, "广州市华鑫贸易有限公司", "佛山市新城物流有限公司"],
    "email": ["a@b.com", "x@@y.com", "c@@d.com", None],
    FLAGS: [[], [], ["invalid_email"], []], REJECT: [None, None, None, "structurally broken"],
})
RULES = [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "name"}, "meta": {"severity": "critical", "reason": "company name is empty"}},
         {"type": "expect_column_values_to_be_valid_email", "kwargs": {"column": "email"}, "meta": {"severity": "warning"}}]


def test_critical_rejects_with_rule_and_value_warning_flags_by_row_id(tmp_path):
    outcome = run_suite(CUSTOMERS, suite_file(tmp_path, RULES), RID)
    found = violations(CUSTOMERS, outcome.outcomes)
    out = quarantine(CUSTOMERS, found)
    assert out[REJECT].to_list() == [None, "t.empty_name: name=(empty)", None, "structurally broken"]
    assert out[FLAGS].to_list() == [[], ["empty_name", "malformed_email"], ["invalid_email", "malformed_email"], []]
    ex = examples(out, found, [SOURCE, "_source_key", "_row"], outcome.outcomes)
    assert ex == {"t.empty_name": [{"where": {SOURCE: "crm", "_source_key": "2", "_row": 2}, "values": {"name": "(empty)"}}],
                  "t.malformed_email": [{"where": {SOURCE: "crm", "_source_key": "2", "_row": 2}, "values": {"email": "x@@y.com"}},
                                        {"where": {SOURCE: "xl", "_source_key": "5", "_row": 5}, "values": {"email": "c@@d.com"}}]}


def test_quarantine_follows_row_ids_not_positions(tmp_path):
    shuffled = CUSTOMERS.reverse()
    outcome = run_suite(shuffled, suite_file(tmp_path, RULES), RID)
    out = quarantine(shuffled, violations(shuffled, outcome.outcomes)).sort(RID)
    assert out[REJECT].to_list() == [None, "t.empty_name: name=(empty)", None, "structurally broken"]


def test_gate_reject_rate_per_source_stop_on_and_completeness(tmp_path):
    meta = {"gate": {"max_reject_rate": 0.4, "stop_on": ["malformed_email"], "min_completeness": {"email": 0.8}}}
    outcome = run_suite(CUSTOMERS, suite_file(tmp_path, RULES, meta), RID)
    reasons = gate_reasons(outcome, CUSTOMERS, violations(CUSTOMERS, outcome.outcomes))
    assert reasons == [
        "t: 1 of 2 records of crm rejected (50.0%), above the gate's max_reject_rate 40.0%",
        "t.malformed_email: 2 records fail it, and the gate stops on any failure",
        "t: email is filled in 75.0% of records, below the gate's min_completeness 80.0%",
    ]
    meta = {"gate": {"max_reject_rate": 0.5, "min_completeness": {"email": 0.75}}}
    outcome = run_suite(CUSTOMERS, suite_file(tmp_path, RULES, meta), RID)
    assert gate_reasons(outcome, CUSTOMERS, violations(CUSTOMERS, outcome.outcomes)) == []


def test_check_refuses_unset_parameters_and_unknown_target_columns(tmp_path):
    from pipelines.checks import _check_suite
    from pipelines.config import load_config
    from tests.conftest import DEMO_CONFIG

    loaded = load_config(DEMO_CONFIG)
    lines = list(_check_suite(loaded, "canonical", "opportunity", SUITES / "opportunity_canonical.json"))
    assert lines == ["suite canonical/opportunity: opportunity_canonical, 12 rules (4 critical), gate max_reject_rate"]
    unset = suite_file(tmp_path, [{"type": "expect_column_values_to_be_amount_in_range",
                                   "kwargs": {"column": "amount", "max_value": {"$PARAMETER": "deal_cap"}}}])
    with pytest.raises(ConfigError, match="uses parameters no one sets: deal_cap"):
        list(_check_suite(loaded, "canonical", "opportunity", unset))
    loaded.config.validation.parameters["deal_cap"] = 5e7
    assert list(_check_suite(loaded, "canonical", "opportunity", unset))[-1].startswith("suite canonical/opportunity: t, 1 rules")
    typo = suite_file(tmp_path, [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "acount_name"}}])
    with pytest.raises(ConfigError, match="columns the target table does not have: acount_name"):
        list(_check_suite(loaded, "target", "customer", typo))
    odd = suite_file(tmp_path, [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "nmae"}}])
    with pytest.raises(ConfigError, match="columns that are not canonical customer fields: nmae"):
        list(_check_suite(loaded, "canonical", "customer", odd))
    helper = suite_file(tmp_path, [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "name_brand"}}])
    assert list(_check_suite(loaded, "canonical", "customer", helper))[0].startswith("suite canonical/customer")  # what standardization adds is there


def test_info_counts_only_examples_stop_at_five_per_rule_and_long_values_are_cut(tmp_path):
    long_name = "深" * 81
    f = frame(key=[str(i) for i in range(8)], name=["甲公司"] * 6 + [long_name, "乙公司"],
              email=["a@@b.com"] * 6 + ["ok@b.com", "ok@b.com"], phone=["+86755"] * 8)
    rules = [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "name"}},  # passes: the next rules still count
             {"type": "expect_column_values_to_be_valid_phone", "kwargs": {"column": "phone"}, "meta": {"severity": "info"}},
             {"type": "expect_column_values_to_be_valid_email", "kwargs": {"column": "email"}, "meta": {"severity": "warning"}},
             {"type": "expect_column_value_lengths_to_be_between", "kwargs": {"column": "name", "max_value": 80},
              "meta": {"severity": "critical", "flag": "a_long_name"}}]
    outcome = run_suite(f, suite_file(tmp_path, rules), RID)
    found = violations(f, outcome.outcomes)
    assert sorted(found["flag"].unique().to_list()) == ["a_long_name", "malformed_email"]  # info: counted, not flagged
    assert outcome.outcomes[1].unexpected_count == 8
    out = quarantine(f, found)
    assert out[REJECT].to_list()[6] == "t.a_long_name: name=" + "深" * 80 + "…"
    assert out[REJECT].null_count() == 7 and out[FLAGS].to_list()[7] == []
    ex = examples(out, found, ["key"], outcome.outcomes)
    assert [e["where"]["key"] for e in ex["t.malformed_email"]] == ["0", "1", "2", "3", "4"]  # the first five by row
    assert [e["where"]["key"] for e in ex["t.a_long_name"]] == ["6"]
    assert set(ex) == {"t.malformed_email", "t.a_long_name"}
    exact = f.with_columns(pl.Series("name", ["深" * 80] * 8))
    rules[3]["kwargs"]["max_value"] = 79
    cut = quarantine(exact, violations(exact, run_suite(exact, suite_file(tmp_path, rules), RID).outcomes))
    assert cut[REJECT].to_list()[0] == "t.a_long_name: name=" + "深" * 80  # 80 characters are shown whole


def test_a_standardization_finding_becomes_a_rule_with_the_suites_severity(tmp_path):
    f = pl.DataFrame({RID: [0, 1, 2, 3], FLAGS: [["email_typo_domain"], [], ["unknown_stage:待定", "x"], ["email_typo_domain_x"]]})
    rules = [{"type": "expect_records_to_not_carry_flag", "kwargs": {"column": FLAGS, "flag": "email_typo_domain"}, "meta": {"severity": "critical"}},
             {"type": "expect_records_to_not_carry_flag", "kwargs": {"column": FLAGS, "flag": "unknown_stage"}, "meta": {"flag": "stage_unmapped", "severity": "warning"}}]
    outcome = run_suite(f, suite_file(tmp_path, rules), RID)
    assert [(o.flag, o.unexpected_ids) for o in outcome.outcomes] == [("email_typo_domain", [0]), ("stage_unmapped", [2])]
    out = quarantine(f, violations(f, outcome.outcomes))
    assert out[REJECT].to_list()[0].startswith("t.email_typo_domain: _flags=") and out[REJECT].null_count() == 3


def test_force_overrides_thresholds_never_values_the_target_cannot_hold():
    from expectations.gates import Gate

    clean = Gate(True)
    clean.decide(force=True)
    assert clean.passed and not clean.forced  # nothing to override
    gate = Gate(True)
    gate.stop("crm_account.account_name: 3 values longer than 200 characters", ["甲" * 201], binding=True)
    gate.stop("t.close_before_created: 4 records fail it")
    gate.decide(force=True)
    assert not gate.passed and not gate.forced and gate.examples == [["甲" * 201], []]
    thresholds = Gate(True)
    thresholds.stop("t.close_before_created: 4 records fail it")
    assert thresholds.binding == [False] and not thresholds.forced
    thresholds.decide(force=False)
    assert not thresholds.passed and not thresholds.forced
    thresholds.decide(force=True)
    assert thresholds.passed and thresholds.forced
    assert thresholds.as_dict() == {"passed": True, "forced": True, "reasons": ["t.close_before_created: 4 records fail it"]}
    thresholds.decide(force=False)
    assert not thresholds.passed and not thresholds.forced


@pytest.mark.parametrize("gate, ok", [({"max_reject_rate": 0}, True), ({"max_reject_rate": 1}, True), ({"max_reject_rate": 1.5}, False),
                                      ({"max_reject_rate": -0.1}, False), ({"max_reject_rate": "5%"}, False),
                                      ({"min_completeness": {"name": 1.2}}, False), ({"min_completeness": {"name": 0.9}}, True),
                                      ({"stop_on": ["t.empty_name", "malformed_email"]}, True), ({"stop_on": ["t.malformed"]}, False),
                                      ({"max_rejects": 3}, False)])
def test_gate_settings_are_checked(tmp_path, gate, ok):
    path = suite_file(tmp_path, RULES, {"gate": gate})
    if ok:
        assert suite_rules(path)[2] == gate
    else:
        with pytest.raises(ConfigError, match="meta.gate"):
            suite_rules(path)


def test_gate_counts_critical_rejects_only_and_a_share_at_the_minimum_passes(tmp_path):
    warn_only = [{**RULES[1], "meta": {"severity": "warning"}}]
    outcome = run_suite(CUSTOMERS, suite_file(tmp_path, warn_only, {"gate": {"max_reject_rate": 0.0}}), RID)
    assert gate_reasons(outcome, CUSTOMERS, violations(CUSTOMERS, outcome.outcomes)) == []  # warnings reject nothing
    outcome = run_suite(CUSTOMERS, suite_file(tmp_path, RULES, {"gate": {"stop_on": ["t.malformed_email"], "min_completeness": {"email": 0.75}}}), RID)
    assert gate_reasons(outcome, CUSTOMERS, violations(CUSTOMERS, outcome.outcomes)) == ["t.malformed_email: 2 records fail it, and the gate stops on any failure"]
    empty = CUSTOMERS.clear()
    outcome = run_suite(empty, suite_file(tmp_path, RULES, {"gate": {"max_reject_rate": 0.0, "min_completeness": {"email": 0.9}}}), RID)
    assert gate_reasons(outcome, empty, violations(empty, outcome.outcomes)) == []  # no records: no rate to judge
