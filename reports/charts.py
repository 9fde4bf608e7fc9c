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


DISPOSITION_COLORS = {"loaded": "#16a34a", "merged": "#2563eb", "rejected": "#dc2626", "archived": "#9ca3af", "unsampled": "#e5e7eb"}


def label_width(labels, font_px: int = 12, least: int = 60, most: int = 320) -> int:
    """Pixels a column of labels needs at `font_px`: a CJK character is about one em, a Latin one about
    0.6 em, so long Chinese source or rule names are not cut at the chart's left edge."""
    import unicodedata

    def width(text: str) -> float:
        return sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.6 for ch in text) * font_px

    return int(min(most, max([least] + [width(str(label)) + 12 for label in labels])))


def _svg(title: str, width: int, height: int) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
            f'<text x="0" y="14" font-size="13" font-weight="600" fill="#334155">{escape(title)}</text>']


def stacked_bars(title: str, rows: list[tuple[str, dict[str, int]]], colors: dict[str, str], width: int = 760) -> str:
    """One horizontal bar per label, split into parts (the counts bridge: a source's extracted records
    into loaded, merged, rejected, archived). Each bar is as long as its total, relative to the largest,
    so sources of different sizes compare; every part has a tooltip and the total is written beside."""
    rows = [(label, parts) for label, parts in rows if sum(parts.values())]
    if not rows:
        return ""
    top = max(sum(p.values()) for _, p in rows)
    label_w, row_h = label_width(label for label, _ in rows), 24
    bar_w = width - label_w - 90
    height = 30 + row_h * len(rows) + 24
    out = _svg(title, width, height)
    for i, (label, parts) in enumerate(rows):
        y = 26 + i * row_h
        total = sum(parts.values())
        out.append(f'<text x="{label_w - 6}" y="{y + 14}" font-size="12" text-anchor="end" fill="#475569">{escape(label)}</text>')
        x = float(label_w)
        for part, count in parts.items():
            if not count:
                continue
            w = count / top * bar_w
            out.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="15" fill="{colors.get(part, "#64748b")}">'
                       f'<title>{escape(label)}: {escape(part)} {count:,} of {total:,} ({count / total:.1%})</title></rect>')
            x += w
        out.append(f'<text x="{x + 6:.1f}" y="{y + 14}" font-size="11" fill="#334155">{total:,}</text>')
    x = label_w
    for part in dict.fromkeys(p for _, parts in rows for p in parts):
        out.append(f'<rect x="{x}" y="{height - 14}" width="10" height="10" fill="{colors.get(part, "#64748b")}"/>'
                   f'<text x="{x + 14}" y="{height - 5}" font-size="11" fill="#64748b">{escape(part)}</text>')
        x += 24 + 7 * len(part)
    out.append("</svg>")
    return "".join(out)


def bars(title: str, values: dict[str, float], width: int = 520, shown=lambda v: f"{v:,}", notes: dict[str, str] | None = None) -> str:
    """Horizontal bars of one value per label (merges by evidence, amounts by stage, failing records per
    rule); `shown` writes the value beside its bar, unless `notes` has a text for the label."""
    values = {k: v for k, v in values.items() if v}
    if not values:
        return ""
    top = max(values.values())
    label_w, row_h = label_width(values), 20
    bar_w = width - label_w - 110
    height = 26 + row_h * len(values) + 6
    out = _svg(title, width, height)
    for i, (label, value) in enumerate(values.items()):
        y = 24 + i * row_h
        w = max(0.0, float(value) / float(top)) * bar_w
        text = (notes or {}).get(label) or shown(value)
        out.append(f'<text x="{label_w - 6}" y="{y + 13}" font-size="12" text-anchor="end" fill="#475569">{escape(label)}</text>'
                   f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="13" fill="{AFTER}"><title>{escape(label)}: {escape(text)}</title></rect>'
                   f'<text x="{label_w + w + 6:.1f}" y="{y + 13}" font-size="11" fill="#334155">{escape(text)}</text>')
    out.append("</svg>")
    return "".join(out)


def histogram(title: str, edges: list[float], counts: list[int], markers: dict[str, float] | None = None,
              width: int = 520, height: int = 190) -> str:
    """Counts per bin between `edges`, on a logarithmic count axis (scored pairs crowd at 0 and 1, and
    the few in between are the ones that matter), with the thresholds drawn as dashed lines."""
    import math

    if not counts or not any(counts):
        return ""
    lo, hi = edges[0], edges[-1]
    left, base, plot_w = 36, height - 34, width - 46
    top = math.log10(max(counts) + 1)
    out = _svg(title, width, height)
    slot = plot_w / len(counts)
    for i, count in enumerate(counts):
        h = (math.log10(count + 1) / top) * (base - 58) if top else 0
        x = left + i * slot
        out.append(f'<rect x="{x + 1:.1f}" y="{base - h:.1f}" width="{slot - 2:.1f}" height="{h:.1f}" fill="{AFTER}">'
                   f'<title>{edges[i]:.2f}–{edges[i + 1]:.2f}: {count:,} pairs</title></rect>')
        if count:
            out.append(f'<text x="{x + slot / 2:.1f}" y="{base - h - 3:.1f}" font-size="9" text-anchor="middle" fill="#334155">{count:,}</text>')
    out.append(f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="#94a3b8"/>')
    for tick in (lo, (lo + hi) / 2, hi):
        x = left + (tick - lo) / (hi - lo) * plot_w
        out.append(f'<text x="{x:.1f}" y="{base + 14}" font-size="11" text-anchor="middle" fill="#475569">{tick:g}</text>')
    for i, (name, at) in enumerate((markers or {}).items()):
        x = left + (at - lo) / (hi - lo) * plot_w
        out.append(f'<line x1="{x:.1f}" y1="24" x2="{x:.1f}" y2="{base}" stroke="#b45309" stroke-dasharray="4 3"/>'
                   f'<text x="{x - 4:.1f}" y="{34 + 12 * i}" font-size="10" text-anchor="end" fill="#b45309">{escape(name)} {at:g}</text>')
    out.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" font-size="11" text-anchor="middle" fill="#64748b">match probability (pairs per bin, log scale)</text>')
    out.append("</svg>")
    return "".join(out)
