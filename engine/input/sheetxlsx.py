"""An .xlsx workbook's cells, read exactly and fast: python-calamine for the values, a scan of the
sheet's XML for what calamine does not tell.

python-calamine (Rust) reads a sheet's values about 15 times faster than openpyxl, which is the
difference between a 10,000-row workbook evaluating as fast as 10,000 case files or not
(`scripts/benchmark.py --sheets`). It does not tell three things a row needs, which the scan finds:

- a cell's number format: a cell formatted as a percentage holds the ratio (0.25 shown as 25%);
- that a cell holds a formula: one with no cached value is an error, never a blank;
- an error value (`#N/A`, `#DIV/0!`): calamine gives an empty cell, which would read as not stated.

The scan runs regular expressions over the sheet's XML bytes whose matches are only the cells that
have a percent style, an `<f>` or `t="e"` (few, in a sheet of issuers), so it costs little. Where
the XML is not in a shape the scan can place exactly (a prefixed namespace, a cell without its
reference, comments or CDATA among the cells, a default style that is a percentage), or where
calamine would allocate far more than the sheet holds (it keeps a sheet as a dense rectangle: one
cell at XFD1048576 is 17 billion), the sheet is read with openpyxl instead: streaming, slower, and
giving the same cells. Either way, formulas are never evaluated.

A workbook's issuers are on its worksheet named `issuers` (the template's), else on its first.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from .sheetcells import Cell, CellError

ISSUERS_SHEET = "issuers"  # the template's name for the sheet of issuers
MAX_DENSE_CELLS = 8_000_000  # calamine's rectangle (~32 bytes a cell); past it, openpyxl streams the sheet
MAX_SCANNED_BYTES = 256 * 1024 * 1024  # a sheet's XML the scan holds in memory (10,000 rows: ~19 MB)

# A sheet's rows: (row number, its values from column A, None for a blank; column → Cell for the few
# cells with more to tell: a percent format, a formula)
Rows = list[tuple[int, list[Any], dict[int, Cell]]]

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RELATIONSHIPS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_DOCUMENT_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_WORKSHEET_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"

_ATTRIBUTE = rb'\s*=\s*["\']'
_CELL_REF = re.compile(rb'<c\s[^>]*?\br' + _ATTRIBUTE + rb'([A-Z]{1,3})(\d+)["\']')
_COLUMN_LETTERS = re.compile(rb'<c\s[^>]*?\br' + _ATTRIBUTE + rb'([A-Z]{1,3})\d')
_ROW_NUMBER = re.compile(rb'<row\s[^>]*?\br' + _ATTRIBUTE + rb'(\d+)["\']')
_FORMULA = re.compile(rb"<f[\s/>]")
_ERROR = re.compile(rb'\st' + _ATTRIBUTE + rb'e["\']')
_VALUE = re.compile(rb"<v>([^<]*)</v>")
_UNSCANNABLE = re.compile(rb"<!--|<!\[CDATA\[|<\w+:c[\s>/]|<c[>/]")


class _Unscannable(Exception):
    """The sheet's XML is not in a shape the scan places exactly: openpyxl reads it."""


def read_xlsx(path: Path) -> tuple[str, Rows, dict[str, list[Any]]]:
    """The issuers sheet's title and rows (every row there is, from row 1), and the first row of
    every other worksheet (so that a second sheet of issuers is not silently left out).
    CellError (or zipfile.BadZipFile, KeyError) for a file that is no readable workbook."""
    import python_calamine

    try:
        return _read(path)
    except (ElementTree.ParseError, python_calamine.CalamineError) as error:
        raise CellError(f"not a readable .xlsx workbook ({error})") from None


def _read(path: Path) -> tuple[str, Rows, dict[str, list[Any]]]:
    with zipfile.ZipFile(path) as archive:
        parts = _worksheet_parts(archive)
        if not parts:
            raise CellError("the workbook has no worksheet")
        title = ISSUERS_SHEET if ISSUERS_SHEET in parts else next(iter(parts))
        others = [name for name in parts if name != title]
        try:
            sheet = _sheet_xml(archive, parts[title])
            if not _fits(sheet):
                raise _Unscannable("not placeable, or too large a rectangle for calamine")
            marks = _marks(sheet, _percent_styles(archive))
        except _Unscannable:
            return title, *_read_with_openpyxl(path, title, others)
        slow = [name for name in others if not _part_fits(archive, parts[name])]
    import python_calamine

    with python_calamine.CalamineWorkbook.from_path(str(path)) as book:
        grid = book.get_sheet_by_name(title).to_python(skip_empty_area=False)
        first_rows = {name: _first_row(book, name) for name in others if name not in slow}
    first_rows |= _read_with_openpyxl(path, None, slow)[1]
    by_row: dict[int, dict[int, _Mark]] = {}
    for (number, column), mark in marks.items():
        by_row.setdefault(number, {})[column] = mark
    rows: Rows = []
    for number, row in enumerate(grid, start=1):
        values = [None if value == "" else _plain(value) if type(value) is dt.date else value for value in row]
        marked = {}
        for column, mark in by_row.get(number, {}).items():
            if mark.error is not None:  # its text, as openpyxl gives it (calamine gives a blank)
                values[column - 1] = mark.error or None
            value = values[column - 1]
            without = mark.formula and mark.error is None and (value is None or not mark.cached)
            if mark.percent or without:
                marked[column] = Cell(value, mark.percent, formula_without_value=without)
        rows.append((number, values, marked))
    return title, rows, {name: first_rows[name] for name in others}


def _sheet_xml(archive: zipfile.ZipFile, part: str) -> bytes:
    """A sheet's XML, when it is small enough to hold (zipfile reads no more than the size an entry
    declares, so a zip bomb cannot make it larger): else openpyxl streams it."""
    if archive.getinfo(part).file_size > MAX_SCANNED_BYTES:
        raise _Unscannable("too large to hold")
    return archive.read(part)


def _worksheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Worksheet name → its part in the archive, in workbook order (chart sheets are no worksheets)."""
    book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    relations = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in relations.iter(f"{_RELATIONSHIPS}Relationship")
               if r.get("Type") == _WORKSHEET_TYPE}
    parts = {}
    for sheet in book.iter(f"{_MAIN}sheet"):
        target = targets.get(sheet.get(_DOCUMENT_ID))
        if target is not None:
            parts[sheet.get("name", "")] = target.lstrip("/") if target.startswith("/") else \
                posixpath.normpath(posixpath.join("xl", target))
    return parts


def _percent_styles(archive: zipfile.ZipFile) -> set[int]:
    """The cell styles whose number format is a percentage, as openpyxl tells it (`%` in the
    format's code: a custom code for its id, else the built-in one)."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS

    try:
        styles = ElementTree.fromstring(archive.read("xl/styles.xml"))
    except KeyError:
        return set()
    codes = {int(f.get("numFmtId", "0")): f.get("formatCode", "") for f in styles.iter(f"{_MAIN}numFmt")}
    cell_styles = styles.find(f"{_MAIN}cellXfs")
    found = set()
    for index, style in enumerate(cell_styles.iter(f"{_MAIN}xf") if cell_styles is not None else ()):
        number_format = int(style.get("numFmtId", "0"))
        if "%" in codes.get(number_format, BUILTIN_FORMATS.get(number_format, "General")):
            found.add(index)
    if 0 in found:
        raise _Unscannable("the default cell style is a percentage: every cell without a style has it")
    return found


def _cell_data(sheet: bytes) -> bytes | None:
    start, end = sheet.find(b"<sheetData"), sheet.rfind(b"</sheetData>")
    if start < 0:
        return None if re.search(rb"<\w+:sheetData[\s>/]", sheet) else b""  # None: a prefixed namespace
    return sheet[start:end if end > start else len(sheet)]


def _part_fits(archive: zipfile.ZipFile, part: str) -> bool:
    try:
        return _fits(_sheet_xml(archive, part))
    except _Unscannable:
        return False


def _fits(sheet: bytes) -> bool:
    """Whether calamine can read this sheet: every cell placed by its reference, outside comments
    and CDATA, in a rectangle of at most MAX_DENSE_CELLS."""
    data = _cell_data(sheet)
    if data is None or _UNSCANNABLE.search(data):
        return False
    letters = _COLUMN_LETTERS.findall(data)
    if sum(data.count(b"<c" + space) for space in (b" ", b"\t", b"\n", b"\r")) != len(letters):
        return False  # a cell without a reference: calamine places it by counting, the scan cannot
    rows = [int(n) for n in _ROW_NUMBER.findall(data)]
    if data.count(b"<row") != len(rows):
        return False
    width = max((_column_index(letter) for letter in set(letters)), default=0)
    return width * max(rows, default=0) <= MAX_DENSE_CELLS


def _column_index(letters: bytes) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + letter - 64
    return index


class _Mark:
    """What the scan found of one cell: a percent style, a formula (and whether it has a cached
    value), an error value (its text)."""

    __slots__ = ("percent", "formula", "cached", "error")

    def __init__(self) -> None:
        self.percent, self.formula, self.cached, self.error = False, False, False, None


def _marks(sheet: bytes, percent: set[int]) -> dict[tuple[int, int], _Mark]:
    """(row, column) → what calamine does not tell of that cell, for the few cells that have any."""
    data = _cell_data(sheet) or b""  # (a sheet that fits has its cells unprefixed)
    marks: dict[tuple[int, int], _Mark] = {}
    if percent:
        styles = b"|".join(str(s).encode() for s in sorted(percent))
        for match in re.finditer(rb"\ss" + _ATTRIBUTE + rb"(?:" + styles + rb")[\"']", data):
            tag = data.rfind(b"<", 0, match.start())
            if _is_cell_tag(data, tag):  # else a row's style, which only its blank cells would take
                marks.setdefault(_place(data, tag), _Mark()).percent = True
    for match in _ERROR.finditer(data):
        tag = data.rfind(b"<", 0, match.start())
        if _is_cell_tag(data, tag):
            value = _VALUE.search(data, tag, _cell_end(data, tag))
            marks.setdefault(_place(data, tag), _Mark()).error = value.group(1).decode("utf-8") if value else ""
    for match in _FORMULA.finditer(data):
        tag = max(data.rfind(b"<c" + space, 0, match.start()) for space in (b" ", b"\t", b"\n", b"\r"))
        if tag < 0 or _cell_end(data, tag) < match.start():
            raise _Unscannable("a formula outside a cell")
        mark = marks.setdefault(_place(data, tag), _Mark())
        mark.formula, mark.cached = True, _VALUE.search(data, tag, _cell_end(data, tag)) is not None
    return marks


def _is_cell_tag(data: bytes, tag: int) -> bool:
    return data.startswith(b"<c", tag) and data[tag + 2:tag + 3].isspace()


def _place(data: bytes, tag: int) -> tuple[int, int]:
    match = _CELL_REF.match(data, tag)
    if match is None:
        raise _Unscannable("a cell without its reference")
    return int(match.group(2)), _column_index(match.group(1))


def _cell_end(data: bytes, tag: int) -> int:
    start_end = data.find(b">", tag)
    if data[start_end - 1:start_end] == b"/":
        return start_end
    end = data.find(b"</c>", tag)
    return len(data) if end < 0 else end


def _plain(value: Any) -> Any:
    """A calamine value as openpyxl gives it: a blank as None, a date as a datetime."""
    if value == "":
        return None
    if type(value) is dt.date:
        return dt.datetime(value.year, value.month, value.day)
    return value


def _first_row(book: Any, name: str) -> list[Any]:
    rows = book.get_sheet_by_name(name).to_python(skip_empty_area=False, nrows=1)
    return [_plain(value) for value in (rows[0] if rows else [])]


# ---------------------------------------------------------------------------------
# The exact, slower way: openpyxl, streaming


def _read_with_openpyxl(path: Path, title: str | None, others: list[str]) -> tuple[Rows, dict[str, list[Any]]]:
    """The rows of sheet `title` (none when None), and the first row of each of `others`."""
    import openpyxl

    def rows_of(data_only: bool, name: str, max_row: int | None = None) -> list[tuple[int, list[Any]]]:
        book = openpyxl.load_workbook(path, read_only=True, data_only=data_only)
        try:
            sheet = book[name]
            sheet.reset_dimensions()  # a writer's stated dimensions may be wrong: read every cell there is
            return [(number, list(row)) for number, row in enumerate(sheet.iter_rows(max_row=max_row), start=1)]
        finally:
            book.close()

    firsts = {}
    for name in others:
        if name == title:
            continue
        first = rows_of(False, name, max_row=1)
        firsts[name] = [getattr(cell, "value", None) for cell in first[0][1]] if first else []
    if title is None:
        return [], firsts
    raw = rows_of(False, title)
    formulas = {(n, i) for n, row in raw for i, c in enumerate(row) if getattr(c, "data_type", None) == "f"}
    cached = dict(rows_of(True, title)) if formulas else {}
    rows: Rows = []
    for number, row in raw:
        values, marked = [], {}
        for index, cell in enumerate(row):
            value, percent = getattr(cell, "value", None), "%" in str(getattr(cell, "number_format", "") or "")
            formula = (number, index) in formulas
            if formula:
                cached_cell = cached[number][index] if index < len(cached.get(number, ())) else None
                value = getattr(cached_cell, "value", None)
            values.append(None if value == "" else value)
            if percent or (formula and value is None):
                marked[index + 1] = Cell(value, percent, formula_without_value=formula and value is None)
        rows.append((number, values, marked))
    return rows, firsts
