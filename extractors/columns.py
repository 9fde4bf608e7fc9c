"""Rows of Python values -> a frame of exact text columns, converted column by column.

A column whose values share one type is converted by polars in one go; only a column that really
mixes types (common in Excel, and in SQLite's dynamic typing) falls back to per-value rendering.
The text is exact: integers without `.0`, floats in shortest round-trip form, Decimal digits,
ISO dates (a datetime at midnight as its date), `true`/`false`, bytes as hex.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterator, Sequence

import polars as pl
import pyarrow as pa

from extractors.base import as_text

# Whole doubles below this are written as integer digits (the exact stored value); Excel stores every
# number as a double, so 16+ digit codes typed as numbers already lost digits: _count_long_numbers() notes them.
INTEGER_RENDER_LIMIT = 2**63


def _blank_to_null(s: pl.Series) -> pl.Series:
    blank = ~s.str.contains(r"\S")  # stops at the first visible character: cheap on real text
    return s.set(blank, None) if blank.any() else s


def render_float(s: pl.Series) -> pl.Series:
    s = s.fill_nan(None)
    whole = (s == s.floor()) & (s.abs() < INTEGER_RENDER_LIMIT)
    if not whole.any():
        return s.cast(pl.String)
    return s.cast(pl.Int64, strict=False).cast(pl.String).zip_with(whole.fill_null(False), s.cast(pl.String))


def _render_datetime(s: pl.Series) -> pl.Series:
    return s.dt.strftime("%Y-%m-%d %H:%M:%S%.f").str.strip_suffix(" 00:00:00")


def render_text(s: pl.Series) -> pl.Series | None:
    """A typed column as exact text, the same rendering whatever the reader; None for a type with
    no exact rendering here (the caller then reads another way)."""
    dtype = s.dtype
    if dtype == pl.String:
        return _blank_to_null(s)
    if dtype == pl.Null:
        return s.cast(pl.String)
    if dtype.is_integer() or isinstance(dtype, pl.Decimal) or dtype in (pl.Date, pl.Boolean, pl.Time):
        return s.cast(pl.String)
    if dtype.is_float():
        return render_float(s.cast(pl.Float64))
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            return s.dt.strftime("%Y-%m-%d %H:%M:%S%.f%:z")
        return _render_datetime(s)
    if dtype == pl.Binary:
        return s.bin.encode("hex")
    return None


def _naive(values: Sequence[Any]) -> bool:
    """Datetimes without a time zone. A driver gives one kind per column, so the first value tells;
    an aware value later is still caught (pyarrow refuses to mix them)."""
    first = next((v for v in values if v is not None), None)
    return getattr(first, "tzinfo", None) is None


def _count_long_numbers(name: str, numbers: pl.Series, stats: dict | None) -> None:
    """Whole numbers of 16+ digits that arrived as numbers: Excel keeps only 15 significant digits."""
    if stats is not None:
        n = int(((numbers.abs() >= 1e15) & (numbers == numbers.floor())).sum())
        if n:
            stats[name] = n


def column_to_text(name: str, values: Sequence[Any], blank_check: bool = True, stats: dict | None = None) -> pl.Series:
    kinds = set(map(type, values)) - {type(None)}
    try:
        if not kinds:
            out = pl.Series(values, dtype=pl.String)
        elif kinds == {str}:
            out = pl.Series(values, dtype=pl.String)
            out = _blank_to_null(out) if blank_check else out
        elif kinds == {int}:
            try:
                out = pl.Series(values, dtype=pl.Int64).cast(pl.String)
            except OverflowError:
                out = pl.Series(values, dtype=pl.Int128).cast(pl.String)
        elif kinds <= {int, float}:  # SQLite NUMERIC affinity mixes them; exact in a double below 2**53
            s = pl.Series(values, dtype=pl.Float64, strict=False)
            out = None if (s.abs() >= 2**53).any() and int in kinds else render_float(s)
            if float in kinds:
                _count_long_numbers(name, s, stats)
        elif kinds == {Decimal}:  # one scale per column: 1.5 and 2.25 read as 1.50 and 2.25, the same values
            s = pl.Series(values, strict=False)
            out = s.cast(pl.String) if isinstance(s.dtype, pl.Decimal) else None
        elif kinds in ({datetime}, {datetime, date}) and _naive(values):
            if date in kinds:  # Excel gives a datetime cell at midnight as a date; both render as the date
                values = [datetime(v.year, v.month, v.day) if type(v) is date else v for v in values]
            out = _render_datetime(pl.from_arrow(pa.array(values, type=pa.timestamp("us"))))
        elif kinds == {date}:
            out = pl.from_arrow(pa.array(values, type=pa.date32())).cast(pl.String)
        elif kinds == {bool}:
            out = pl.Series(values, dtype=pl.Boolean).cast(pl.String)
        elif kinds <= {str, int, float}:  # numbers and text in one column, as hand-kept sheets have
            is_float = pl.Series([type(v) is float for v in values], dtype=pl.Boolean)
            numbers = pl.Series(values, dtype=pl.Float64, strict=False)
            _count_long_numbers(name, numbers.zip_with(is_float, pl.Series([None] * len(values), dtype=pl.Float64)), stats)
            floats = render_float(numbers)
            out = _blank_to_null(floats.zip_with(is_float, pl.Series(values, dtype=pl.String, strict=False)))
        else:
            out = None
    except (OverflowError, TypeError, ValueError, pl.exceptions.PolarsError):
        out = None
    if out is None:  # mixed types: exact per-value rendering
        out = pl.Series([as_text(v) for v in values], dtype=pl.String)
    return out.alias(name)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Building millions of short-lived cell objects makes the cyclic GC run over and over for
    nothing (cells hold no cycles); pausing it saves about a fifth of extraction time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def rows_to_text_frame(columns: list[str], rows: Sequence[Sequence[Any]], uniform: bool = False,
                       stats: dict | None = None) -> pl.DataFrame:
    """`uniform`: every row has exactly len(columns) values (database rows), so no padding check.
    `stats` receives, per column, how many 16+ digit whole numbers arrived as numbers."""
    width = len(columns)
    if not rows:
        return pl.DataFrame({c: pl.Series(c, [], dtype=pl.String) for c in columns})
    with gc_paused():
        padded = rows if uniform or all(len(r) == width for r in rows) else [(list(r) + [None] * width)[:width] for r in rows]
        frame = pl.DataFrame([column_to_text(c, vals, blank_check=False, stats=stats) for c, vals in zip(columns, zip(*padded))])
    # Whitespace-only text is empty: one pass over all text columns, in parallel.
    return frame.with_columns(pl.when(pl.col(pl.String).str.contains(r"\S")).then(pl.col(pl.String)))
