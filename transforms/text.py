"""Text folding shared by the normalizers."""
from __future__ import annotations

import re
import unicodedata

_SPACE = re.compile(r"\s+")
# What people type into a field they have nothing for: not a value. Matched on the whole trimmed
# value, case-insensitively for the Latin ones. (待定 is not here: it is a stage.)
PLACEHOLDERS = frozenset({"无", "暂无", "没有", "未知", "不详", "不知道", "空", "待补充", "待完善", "待填", "N/A", "NA", "#N/A",
                          "NULL", "NONE", "NIL", "-", "--", "---", "—", "——", "/", "\\", "?", "？", "??", "？？"})
# Characters that carry no text and break targets or reading (a polars/Rust regex): NUL (PostgreSQL
# refuses it), other C0/C1 controls, zero-width characters and bidi overrides (公司ABC shown as CBA公司).
CONTROL_CHARACTERS = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F\x{200B}-\x{200F}\x{202A}-\x{202E}\x{2060}-\x{2064}\x{2066}-\x{2069}\x{FEFF}]"


def fold(text: str, keep_ascii_spaces: bool = False) -> str:
    """NFKC (full-width to half-width), whitespace removed (or collapsed for ASCII text when asked),
    NFKC again: removing spaces can leave a pair that composes, and the result must be a fixed point."""
    text = unicodedata.normalize("NFKC", text).strip()
    text = _SPACE.sub(" ", text) if keep_ascii_spaces and text.isascii() else _SPACE.sub("", text)
    return unicodedata.normalize("NFKC", text)
