"""Text folding shared by the normalizers."""
from __future__ import annotations

import re
import unicodedata

_SPACE = re.compile(r"\s+")
# Characters that carry no text and break targets or reading (a polars/Rust regex): NUL (PostgreSQL
# refuses it), other C0/C1 controls, zero-width characters and bidi overrides (公司ABC shown as CBA公司).
CONTROL_CHARACTERS = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F\x{200B}-\x{200F}\x{202A}-\x{202E}\x{2060}-\x{2064}\x{2066}-\x{2069}\x{FEFF}]"


def fold(text: str, keep_ascii_spaces: bool = False) -> str:
    """NFKC (full-width to half-width), whitespace removed (or collapsed for ASCII text when asked),
    NFKC again: removing spaces can leave a pair that composes, and the result must be a fixed point."""
    text = unicodedata.normalize("NFKC", text).strip()
    text = _SPACE.sub(" ", text) if keep_ascii_spaces and text.isascii() else _SPACE.sub("", text)
    return unicodedata.normalize("NFKC", text)
