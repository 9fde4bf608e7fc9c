"""Finding the header of a sheet or CSV file: the early row (or pair of rows under merged cells)
naming most of the mapped columns, under any title rows."""
from __future__ import annotations

from extractors.base import as_text, unique_headers

HEADER_SCAN_ROWS = 30


def _flatten(top: list, bottom: list, spans: list[tuple[int, int]]) -> list[str]:
    """Two header rows -> one: a merged cell's text over each column it spans, then `top/bottom`."""
    top = list(top)
    for first, last in spans:
        for c in range(first + 1, last + 1):
            if c < len(top):
                top[c] = top[first]
    names = []
    for c in range(max(len(top), len(bottom))):
        t = as_text(top[c] if c < len(top) else None)
        b = as_text(bottom[c] if c < len(bottom) else None)
        names.append(f"{t.strip()}/{b.strip()}" if t and b and t.strip() != b.strip() else (t or b))
    return unique_headers(names)


def detect_header(rows: list[list], merges, expected: list[str]) -> tuple[int, int, list[str]]:
    """(index of the first header row, number of header rows, column names).

    The header is the early row (or pair of rows under merged cells) naming most of the mapped
    columns; failing that, the first row that is mostly filled (title rows above a header are short)."""
    wanted = {e.strip() for e in expected}
    spans_by_row: dict[int, list[tuple[int, int]]] = {}
    for (r0, c0), (_r1, c1) in merges or []:
        if c1 > c0:
            spans_by_row.setdefault(r0, []).append((c0, c1))
    best, best_hits = None, 0
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        options = [(i, 1, unique_headers(row))]
        if i in spans_by_row and i + 1 < len(rows):
            options.append((i, 2, _flatten(row, rows[i + 1], spans_by_row[i])))
        for option in options:
            hits = len(wanted & {n.strip() for n in option[2]})
            if hits > best_hits:
                best, best_hits = option, hits
    if best is not None and best_hits >= max(1, len(wanted) // 2):
        return best
    width = max((len(r) for r in rows[:HEADER_SCAN_ROWS]), default=0)
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        if sum(1 for c in row if as_text(c) is not None) >= max(1, width // 2):
            return i, 1, unique_headers(row)
    return 0, 1, unique_headers(rows[0])
