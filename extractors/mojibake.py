"""Text that legacy databases garbled: GBK or UTF-8 bytes stored in a latin1 column come back as
`ÉîÛÚÊÐ`. The bytes are recovered and decoded, once per distinct value, only when exactly one
decoding gives Chinese text; otherwise the value is kept and reported."""
from __future__ import annotations

import polars as pl

from crm_migrate.flags import add_flag

# MySQL's latin1 is cp1252, with the five bytes cp1252 leaves undefined passed through.
_CP1252_EXTRA = {ch: bytes([b]) for b in range(0x80, 0xA0) for ch in [bytes([b]).decode("cp1252", errors="ignore")] if ch}


def _to_bytes(text: str) -> bytes | None:
    out = bytearray()
    for ch in text:
        code = ord(ch)
        if ch in _CP1252_EXTRA:
            out += _CP1252_EXTRA[ch]
        elif code < 256:
            out.append(code)
        else:
            return None
    return bytes(out)


def _cjk(text: str) -> list[str]:
    return [ch for ch in text if "\u4e00" <= ch <= "\u9fff"]


def _plausible(text: str) -> bool:
    """Chinese text (two or more CJK characters, all printable) rather than a chance decoding."""
    return len(_cjk(text)) >= 2 and all(ch.isprintable() or ch in "\t\n\r" for ch in text)


def _common(text: str) -> bool:
    """Every CJK character is one of GB2312's 6,763: real names are; chance decodings are not."""
    try:
        "".join(_cjk(text)).encode("gb2312")
        return True
    except UnicodeEncodeError:
        return False


def repair(text: str) -> tuple[str | None, str | None]:
    """(repaired text, None) | (None, 'ambiguous') | (None, None) when it is not mojibake."""
    raw = _to_bytes(text)
    if raw is None or raw.isascii():
        return None, None
    found = set()
    for enc in ("utf-8", "gb18030"):
        try:
            decoded = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        if _plausible(decoded):
            found.add(decoded)
    common = {d for d in found if _common(d)}
    if len(common) == 1:
        return common.pop(), None
    return (None, "ambiguous") if found else (None, None)


def repair_frame(frame: pl.DataFrame, columns: list[str]) -> tuple[pl.DataFrame, list[str]]:
    """Repair garbled values in `columns`; flag `mojibake_repaired:<col>` / `mojibake_ambiguous:<col>`."""
    notes = []
    suspect = pl.col("__v").str.contains(r"[\x80-\xff]") & ~pl.col("__v").str.contains(r"[^\x00-\xff]")
    for col in columns:
        values = frame.select(pl.col(col).alias("__v")).filter(suspect).unique().get_column("__v").to_list()
        if not values:
            continue
        results = {v: repair(v) for v in values}
        fixed = {v: r for v, (r, _) in results.items() if r}
        unclear = [v for v, (_, status) in results.items() if status == "ambiguous"]
        if fixed:
            frame = add_flag(frame, pl.col(col).is_in(list(fixed)), f"mojibake_repaired:{col}").with_columns(pl.col(col).replace(fixed))
            notes.append(f"column '{col}': {len(fixed)} garbled values repaired (e.g. {next(iter(fixed))!r} -> {next(iter(fixed.values()))!r})")
        if unclear:
            frame = add_flag(frame, pl.col(col).is_in(unclear), f"mojibake_ambiguous:{col}")
            notes.append(f"column '{col}': {len(unclear)} values look garbled but decode more than one way; kept as they are")
    return frame, notes
