"""Small inline SVG charts for report.html: no library, no CDN, readable offline and in any browser."""
from __future__ import annotations

from html import escape

BEFORE, AFTER = "#94a3b8", "#2563eb"


def paired_bars(title: str, rows: list[tuple[str, float | None, float | None]], width: int = 520, scale_to_max: bool = False) -> str:
    """Horizontal bars of a share (0..1) per label, before (grey) and after (blue) standardization.
    `scale_to_max`: the longest bar is the largest share (small rates such as duplicates stay visible)."""
    rows = [r for r in rows if r[1] is not None or r[2] is not None]
    if not rows:
        return ""
    top = max((v for r in rows for v in r[1:] if v is not None), default=0) if scale_to_max else 1.0
    top = top or 1.0
    label_w, bar_w, row_h = 150, width - 150 - 60, 22
    height = 28 + row_h * len(rows) + 18
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
           f'<text x="0" y="14" font-size="13" font-weight="600" fill="#334155">{escape(title)}</text>']
    for i, (label, before, after) in enumerate(rows):
        y = 26 + i * row_h
        out.append(f'<text x="{label_w - 6}" y="{y + 13}" font-size="12" text-anchor="end" fill="#475569">{escape(label)}</text>')
        for j, (value, color) in enumerate(((before, BEFORE), (after, AFTER))):
            if value is None:
                continue
            w = max(0.0, min(1.0, value / top)) * bar_w
            out.append(f'<rect x="{label_w}" y="{y + 2 + j * 9}" width="{w:.1f}" height="8" fill="{color}"><title>{escape(label)} '
                       f'{"before" if j == 0 else "after"}: {value:.1%}</title></rect>')
        shown = after if after is not None else before
        out.append(f'<text x="{label_w + bar_w + 6}" y="{y + 13}" font-size="11" fill="#334155">{shown:.1%}</text>')
    y = height - 4
    out.append(f'<rect x="{label_w}" y="{y - 8}" width="10" height="8" fill="{BEFORE}"/><text x="{label_w + 14}" y="{y}" font-size="11" fill="#64748b">before</text>'
               f'<rect x="{label_w + 70}" y="{y - 8}" width="10" height="8" fill="{AFTER}"/><text x="{label_w + 84}" y="{y}" font-size="11" fill="#64748b">after standardization</text>')
    out.append("</svg>")
    return "".join(out)


def column_bars(title: str, counts: dict[str, int], width: int = 360, height: int = 150) -> str:
    """Vertical bars of counts per label (the age buckets of timeliness)."""
    if not counts or not any(counts.values()):
        return ""
    top = max(counts.values())
    n = len(counts)
    slot = (width - 20) / n
    base = height - 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
           f'<text x="0" y="14" font-size="13" font-weight="600" fill="#334155">{escape(title)}</text>']
    for i, (label, count) in enumerate(counts.items()):
        h = (count / top) * (base - 34) if top else 0
        x = 10 + i * slot
        out.append(f'<rect x="{x + 4:.1f}" y="{base - h:.1f}" width="{slot - 8:.1f}" height="{h:.1f}" fill="{AFTER}"><title>{escape(label)}: {count:,}</title></rect>')
        out.append(f'<text x="{x + slot / 2:.1f}" y="{base - h - 4:.1f}" font-size="11" text-anchor="middle" fill="#334155">{count:,}</text>')
        out.append(f'<text x="{x + slot / 2:.1f}" y="{base + 14}" font-size="11" text-anchor="middle" fill="#475569">{escape(label)}</text>')
    out.append("</svg>")
    return "".join(out)
