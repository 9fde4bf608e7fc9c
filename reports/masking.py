"""Masking personal data in the reports people pass around (report.html): phones, emails and person
names, while keys, codes and company names stay readable so the report is still useful.

`mask_field` masks a value whose field is known (a contact name, a phone); `mask_text` finds phones,
emails and labelled person names inside free text (reasons, notes, footer rows). Both are
deterministic and idempotent: a masked value masks to itself.
"""
from __future__ import annotations

import re

PERSON_FIELDS = {"contact_name", "owner"}
PHONE_FIELDS = {"phone", "phone_other"}
EMAIL_FIELDS = {"email"}

# Phone-shaped digits not inside a longer code or id (CUS-…, a credit code): ASCII letters, digits and
# masks around them stop a match; Chinese text does not (电话13812345678).
_EDGE_BEFORE, _EDGE_AFTER = r"(?<![0-9A-Za-z*.])", r"(?![0-9A-Za-z*])"
_MOBILE = re.compile(_EDGE_BEFORE + r"(\+?86[\s-]?)?(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})" + _EDGE_AFTER)
_E164 = re.compile(_EDGE_BEFORE + r"(\+86)(\d{2,3})(\d{3,6})(\d{4})" + _EDGE_AFTER)
_LANDLINE = re.compile(_EDGE_BEFORE + r"(\(?0\d{2,3}\)?[\s-]?)(\d{3,4})[\s-]?(\d{4})" + _EDGE_AFTER)
_EMAIL = re.compile(r"(?<![\w.%+-])([\w%+-])[\w.%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})")
_LABELLED_PERSON = re.compile(r"((?:导出|制表|审核|复核|经办|联系|负责|录入)人|联系人|负责人|业务员|销售(?:员|代表)?|客户经理)"
                              r"(\s*[:：]\s*)([\u4e00-\u9fff·]{2,4}|[A-Za-z][A-Za-z .'-]{1,30})")


def mask_person(name: str) -> str:
    """张三 -> 张*, 欧阳娜娜 -> 欧***, John Smith -> J*** S****."""
    name = name.strip()
    if not name:
        return name
    if name.isascii():
        return " ".join(w[0] + "*" * (len(w) - 1) if len(w) > 1 else w for w in name.split())
    return name[0] + "*" * (len(name) - 1)


def mask_phone(text: str) -> str:
    """13812345678 -> 138****5678; 0755-26012345 -> 0755-****2345; +8613812345678 -> +86138****5678."""
    text = _MOBILE.sub(lambda m: f"{m[1] or ''}{m[2]}****{m[4]}", text)
    text = _E164.sub(lambda m: f"{m[1]}{m[2]}****{m[4]}", text)
    return _LANDLINE.sub(lambda m: f"{m[1]}****{m[3]}", text)


def mask_email(text: str) -> str:
    """zhang.san@qq.com -> z***@qq.com."""
    return _EMAIL.sub(lambda m: f"{m[1]}***@{m[2]}", text)


def mask_text(text: str | None) -> str | None:
    """Phones, emails and labelled person names (导出人：张三) found in free text."""
    if not text:
        return text
    text = _LABELLED_PERSON.sub(lambda m: f"{m[1]}{m[2]}{mask_person(m[3])}", text)
    return mask_phone(mask_email(text))


def mask_field(field: str, value: str | None) -> str | None:
    """A value of a known canonical field."""
    if value is None:
        return None
    if field in PERSON_FIELDS:
        return mask_person(value)
    masked = mask_text(value)
    if masked == value and (field in PHONE_FIELDS or field in EMAIL_FIELDS) and len(value) > 1 and "*" not in value:
        return value[0] + "*" * (len(value) - 1)  # a value too broken for the patterns (x@@y, 075526) is still personal
    return masked
