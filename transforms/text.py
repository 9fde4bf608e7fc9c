"""Text folding shared by the normalizers."""
from __future__ import annotations

import re
import unicodedata

_SPACE = re.compile(r"\s+")


def fold(text: str, keep_ascii_spaces: bool = False) -> str:
    """NFKC (full-width to half-width), whitespace removed (or collapsed for ASCII text when asked),
    NFKC again: removing spaces can leave a pair that composes, and the result must be a fixed point."""
    text = unicodedata.normalize("NFKC", text).strip()
    text = _SPACE.sub(" ", text) if keep_ascii_spaces and text.isascii() else _SPACE.sub("", text)
    return unicodedata.normalize("NFKC", text)
