import polars as pl
import pytest

from transforms import credit_code as cc

PUBLISHED = ["91440300708461136T", "914403001922038216", "91110108551385082Q", "91110000802100433B", "91110000600037341L"]


@pytest.mark.parametrize("code", PUBLISHED)
def test_published_codes_are_valid(code):
    assert cc.is_valid(code)
    assert cc.normalize(code) == (code, cc.VALID)


@pytest.mark.parametrize("code", PUBLISHED)
def test_any_other_check_character_is_invalid(code):
    for ch in cc.CHARSET:
        if ch != code[17]:
            assert not cc.is_valid(code[:17] + ch)


def test_generated_codes_are_valid_including_letter_authorities():
    assert cc.is_valid(cc.make_code("91", "440300", "70846113"))
    letter = cc.make_code("Y1", "110108", "12345678")
    assert letter.startswith("Y1") and cc.is_valid(letter)


def test_embedded_organization_code_is_checked():
    code = "91440300708461136T"
    org = code[8:17]
    assert cc.is_valid_org_code(org)
    # Same first 8 org characters, wrong org check digit, but a recomputed outer check: still invalid.
    body = code[:16] + ("0" if code[16] != "0" else "1")
    assert not cc.is_valid(body + cc.check_char(body))


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("９１４４０３００７０８４６１１３６Ｔ", ("91440300708461136T", cc.REPAIRED)),  # full width
        ("91440300708461136t", ("91440300708461136T", cc.REPAIRED)),
        ("914403 007084 61136T", ("91440300708461136T", cc.REPAIRED)),
        ("'91440300708461136T", ("91440300708461136T", cc.REPAIRED)),  # Excel apostrophe
        ("9144O300708461136T", ("91440300708461136T", cc.REPAIRED)),  # letter O for zero
        ("暂无", (None, cc.MISSING)),
        ("", (None, cc.MISSING)),
        (None, (None, cc.MISSING)),
        ("#N/A", (None, cc.MISSING)),
        ("91440300708461136X", ("91440300708461136X", cc.INVALID)),
    ],
)
def test_normalize(raw, expected):
    assert cc.normalize(raw) == expected


def test_legacy_identifiers_are_kept_and_recognised():
    assert cc.normalize("70846113-6") == ("708461136", cc.INVALID)
    assert cc.legacy_kind("708461136") == "organization_code"
    assert cc.legacy_kind("440301103456789") == "registration_number"
    assert cc.legacy_kind("708461137") is None


def test_frame_transform_flags_legacy_codes():
    df = pl.DataFrame({"credit_code": ["91440300708461136T", "70846113-6", None, "91440300708461136T"]})
    out = cc.standardize_credit_code(df)
    assert out["credit_code_status"].to_list() == ["valid", "invalid", "missing", "valid"]
    assert out["__credit_code_flag"].to_list() == [None, "legacy_organization_code", None, None]
