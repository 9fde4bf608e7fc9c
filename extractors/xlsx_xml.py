"""What calamine does not tell: Excel error cells, hidden rows and formula cells, read from the sheet's XML.

Only .xlsx/.xlsm (zip) files have it; the scan decompresses the sheet once (zlib releases the GIL,
so it runs in a thread beside calamine's read).
"""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
       "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
       "rel": "http://schemas.openxmlformats.org/package/2006/relationships"}
_ERROR_CELL = re.compile(rb'<c\b([^>]*\bt="e"[^>]*)>(.*?)</c>', re.S)
_REF = re.compile(rb'\br="([A-Z]+)(\d+)"')
_VALUE = re.compile(rb"<v>([^<]*)</v>")
_HIDDEN_ROW = re.compile(rb'<row\b[^>]*\bhidden="(?:1|true)"[^>]*>')
# Writers put a cell's formula first inside it: <c r="D9" s="2"><f>SUM(D2:D8)</f><v>..</v></c>
_FORMULA_CELL = re.compile(rb'<c\b[^>]*?\br="([A-Z]+)(\d+)"[^>]*><f[\s>/]')


@dataclass
class SheetExtras:
    errors: dict[tuple[int, int], str] = field(default_factory=dict)  # (0-based row, 0-based col) -> "#N/A"
    hidden_rows: set[int] = field(default_factory=set)  # 0-based
    formulas: set[tuple[int, int]] = field(default_factory=set)  # (0-based row, 0-based col) of formula cells


def column_index(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n - 1


def _sheet_paths(z: zipfile.ZipFile) -> dict[str, str]:
    wb = ElementTree.fromstring(z.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target") for r in rels.findall("rel:Relationship", _NS)}
    out = {}
    for sheet in wb.findall("m:sheets/m:sheet", _NS):
        target = targets.get(sheet.get(f"{{{_NS['r']}}}id"), "")
        target = target.lstrip("/")
        out[sheet.get("name")] = target if target.startswith("xl/") else f"xl/{target}"
    return out


def scan_sheet(path: Path, sheet: str) -> SheetExtras:
    extras = SheetExtras()
    if not zipfile.is_zipfile(path):  # .xls: calamine tells errors itself, formulas arrive as values
        return extras
    try:
        with zipfile.ZipFile(path) as z:
            member = _sheet_paths(z).get(sheet)
            if member is None:
                return extras
            data = z.read(member)
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, OSError):
        return extras  # calamine reports unreadable files itself
    if b't="e"' in data:
        for m in _ERROR_CELL.finditer(data):
            ref, value = _REF.search(m.group(1)), _VALUE.search(m.group(2))
            if ref:
                extras.errors[(int(ref.group(2)) - 1, column_index(ref.group(1)))] = value.group(1).decode() if value else "#ERROR"
    if b"hidden=" in data:
        for m in _HIDDEN_ROW.finditer(data):
            ref = re.search(rb'\br="(\d+)"', m.group(0))
            if ref:
                extras.hidden_rows.add(int(ref.group(1)) - 1)
    if b"<f" in data:
        for m in _FORMULA_CELL.finditer(data):
            extras.formulas.add((int(m.group(2)) - 1, column_index(m.group(1))))
    return extras
