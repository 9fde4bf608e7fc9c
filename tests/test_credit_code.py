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
    assert cc.legacy_kind("708461136") == "legacy_organization_code"
    assert cc.legacy_kind("440301103456789") == "legacy_registration_number"
    assert cc.legacy_kind("708461137") is None
    # A tax registration number: a division and an organization code, whose code links it to the credit code.
    assert cc.legacy_kind("440300708461136") == "legacy_tax_number"
    assert cc.legacy_kind("44030070846113X") is None  # its organization code does not check
    # Fifteen digits that pass the registration number's own check stay a registration number.
    assert cc.is_valid_registration_number("440300001000002") and cc.is_tax_number("440300001000002")
    assert cc.legacy_kind("440300001000002") == "legacy_registration_number"
    assert not cc.is_valid_registration_number("440300708461136")


def test_frame_transform_flags_legacy_codes():
    df = pl.DataFrame({"credit_code": ["91440300708461136T", "70846113-6", None, "91440300708461136T"]})
    out = cc.standardize_credit_code(df)
    assert out["credit_code_status"].to_list() == ["valid", "invalid", "missing", "valid"]
    assert out["__credit_code_flag"].to_list() == [None, "legacy_organization_code", None, None]


def look_alike(code: str, positions: list[int]) -> str:
    back = {"0": "O", "1": "I", "5": "S", "2": "Z"}
    return "".join(back[ch] if i in positions and ch in back else ch for i, ch in enumerate(code))


def test_look_alike_letters_are_repaired_when_exactly_one_repair_exists():
    assert cc.normalize("9144O3OO7O846II36T") == ("91440300708461136T", cc.REPAIRED)  # O->0, I->1 in seven places
    typed = look_alike("91110108551385082Q", [1, 3, 4, 6, 8, 9, 14])
    assert typed == "9I1IO1O8SS1385O82Q" and cc.normalize(typed) == ("91110108551385082Q", cc.REPAIRED)


def test_a_repair_never_lands_on_an_impossible_code():
    """9L...: category L does not exist for authority 9 (工商 issues 1, 2, 3), so I is read as 1
    only; with a wrong division digit the code stays invalid rather than becoming another company's."""
    assert cc.normalize("9I11OOO8SS1385O82Q") == ("9I11OOO8SS1385O82Q", cc.INVALID)


def test_no_repair_when_more_than_one_repair_is_possible(monkeypatch):
    """With the real look-alikes the check character leaves one outcome; widen them so that two
    positions can take any character, and the code must stay invalid, flagged, unrepaired."""
    monkeypatch.setattr(cc, "LOOK_ALIKES", {**cc.LOOK_ALIKES, "O": cc.CHARSET})
    doubtful = "9O440300708461136O"  # category and check character both unknown: 31 valid codes
    assert len(cc.repairs(doubtful)) > 1
    assert cc.normalize(doubtful) == (doubtful, cc.INVALID)
    out = cc.standardize_credit_code(pl.DataFrame({"credit_code": [doubtful]}))
    assert out["__credit_code_flag"].to_list() == ["ambiguous_credit_code_repair"]


def test_structure_is_checked_beyond_the_check_characters():
    body = "9144O300708461136"  # a letter inside the 6-digit division code
    assert not cc.is_valid(body.replace("O", "D") + cc.check_char(body.replace("O", "D")))
    bad_authority = "X" + "1440300708461136"
    assert not cc.is_valid(bad_authority + cc.check_char(bad_authority))


def test_agrees_with_python_stdnum_except_letter_authorities():
    """python-stdnum rejects letter registration authorities (Y 其他, N 农业) that GB 32100 allows, and
    accepts categories an authority does not issue; otherwise the two agree, on valid codes and on codes
    with one character changed."""
    import random

    from stdnum.cn import uscc

    rng = random.Random(5)
    seen = {"agree": 0, "letter_authority": 0}
    for _ in range(5000):
        org = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
        if cc.org_check_char(org) is None:
            continue
        code = cc.make_code(rng.choice(["91", "92", "11", "51", "Y1", "N2"]), str(rng.randrange(110000, 659999)), org)
        if rng.random() < 0.5:
            i = rng.randrange(18)
            code = code[:i] + rng.choice(cc.CHARSET) + code[i + 1:]
        ours, theirs = cc.is_valid(code), uscc.is_valid(code)
        if ours == theirs:
            seen["agree"] += 1
        elif ours:
            assert code[0] in "YN", code
            seen["letter_authority"] += 1
        else:
            assert code[1] not in cc.CATEGORIES.get(code[0], ""), code
            seen["category"] = seen.get("category", 0) + 1
    assert seen["agree"] > 3000 and seen["letter_authority"] > 100


def gb11714_check(body8: str) -> str:
    """The organization code check character as GB 11714 states it (docs: domain notes): digits are
    their value, letters A-Z are 10-35; weights 3 7 9 10 5 8 4 2; 11 - (sum mod 11), 10 -> X, 11 -> 0."""
    value = [int(ch) if ch.isdigit() else ord(ch) - ord("A") + 10 for ch in body8]
    c = 11 - sum(v * w for v, w in zip(value, [3, 7, 9, 10, 5, 8, 4, 2])) % 11
    return {10: "X", 11: "0"}.get(c, str(c))


@pytest.mark.parametrize("body", ["12345677", "Z2345670", "12345671", "A2345674", "ABCDEFGH", "ZZZZZZZZ", "A0000000", "0000000Z",
                                  "70846113", "MA56TDJK"])
def test_organization_codes_with_letters_and_the_check_characters_x_and_0(body):
    check = gb11714_check(body)
    assert cc.org_check_char(body) == check
    assert cc.is_valid_org_code(body + check)
    for other in "0123456789X":
        if other != check:
            assert not cc.is_valid_org_code(body + other)
    code = cc.make_code("91", "440300", body) if body.isalnum() and all(ch in cc.CHARSET for ch in body) else None
    if code:
        assert cc.is_valid(code) and code[8:17] == body + check


def test_the_check_characters_x_and_0_are_not_swapped():
    assert cc.org_check_char("12345677") == "X" and cc.org_check_char("12345671") == "0"
    assert cc.legacy_kind("12345677X") == "legacy_organization_code" and cc.legacy_kind("123456770") is None
    assert cc.legacy_kind("123456710") == "legacy_organization_code" and cc.legacy_kind("12345671X") is None


def test_check_char_of_text_outside_the_alphabet_is_none():
    assert cc.check_char("9144030070846113O") is None  # letter O is not in the code's alphabet
    assert cc.org_check_char("1234567*") is None


@pytest.mark.parametrize("mutate", [lambda c: c[:17], lambda c: c + "0", lambda c: c[:2] + "A" + c[3:], lambda c: c[:7] + "B" + c[8:],
                                    lambda c: "Z" + c[1:], lambda c: "94" + c[2:]])
def test_structure_length_division_and_authority_are_checked(mutate):
    """17 or 19 characters, a letter in the 6-digit division, an unknown authority or category: invalid,
    even with a check character recomputed to match."""
    bad = mutate(PUBLISHED[0])
    assert not cc.is_valid(bad)
    if len(bad) == 18:
        assert not cc.is_valid(bad[:17] + (cc.check_char(bad[:17]) or "0"))


def test_repairs_stop_at_the_candidate_limit():
    code = cc.make_code("91", "110111", "11111111")  # fourteen 1s
    ones = [i for i, ch in enumerate(code) if ch == "1"]
    typed = lambda k: "".join("I" if i in ones[:k] else ch for i, ch in enumerate(code))  # noqa: E731
    assert cc.normalize(typed(12)) == (code, cc.REPAIRED)  # 2**12 = 4096 candidates: enumerated
    assert cc.normalize(typed(13)) == (typed(13), cc.INVALID)  # 8192: too many to trust, not repaired
    assert cc.repairs(typed(13)) == []


def test_a_code_with_exactly_two_repairs_is_flagged_and_a_plain_invalid_one_is_not(monkeypatch):
    monkeypatch.setattr(cc, "LOOK_ALIKES", {**cc.LOOK_ALIKES, "O": "12TP"})  # category 1 or 2, check T or P
    two = "9O440300708461136O"
    assert sorted(cc.repairs(two)) == ["91440300708461136T", "92440300708461136P"]
    out = cc.standardize_credit_code(pl.DataFrame({"credit_code": [two, "91440300708461136X", "70846113-6"]}))
    assert out["__credit_code_flag"].to_list() == ["ambiguous_credit_code_repair", None, "legacy_organization_code"]
    assert out["credit_code_status"].to_list() == ["invalid", "invalid", "invalid"]


@pytest.mark.parametrize("raw", ['="91440300708461136T"', "= \"91440300708461136T\""])
def test_excel_text_formulas_around_a_code_are_unwrapped(raw):
    assert cc.clean(raw) == "91440300708461136T"
