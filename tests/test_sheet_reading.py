"""Reading a workbook's cells: python-calamine with a scan of the XML gives exactly the cells openpyxl
gives (percent formats, formulas' cached values, error values, dates, gaps), a sheet the scan cannot
place is read by openpyxl, and a workbook's issuers are on its `issuers` sheet, never silently lost."""

from __future__ import annotations

import zipfile
from fractions import Fraction
from pathlib import Path

import openpyxl
import pytest

from conftest import CASES
from engine.common.errors import CaseError, InputError
from engine.input import sheetxlsx
from engine.input.sheetrows import read_sheet
from engine.rules.sheetrules import vocabulary

SHEET = "xl/worksheets/sheet1.xml"


@pytest.fixture(scope="module")
def book(rulebook):
    return vocabulary(rulebook)


def _patched(source: Path, target: Path, edits: list[tuple[str, str]], part: str = SHEET) -> Path:
    """`source` with text replaced in one part of the archive (for cells openpyxl cannot write:
    cached formula values, error values, cells without a reference)."""
    with zipfile.ZipFile(source) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    text = parts[part].decode("utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    parts[part] = text.encode("utf-8")
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return target


def _small(tmp_path: Path) -> Path:
    """Cells away from A1, a percent cell, a date, a flag, and (patched in) formulas and errors."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "issuers"
    sheet["C3"], sheet["D3"], sheet["E3"], sheet["F3"] = 1, 0.25, True, "x"
    sheet["D3"].number_format = "0.00%"
    sheet["C4"], sheet["D4"] = 1200, 3.5
    sheet["G6"] = "2020-09-04"
    sheet["H6"] = openpyxl.utils.datetime.from_excel(44000)
    sheet["H6"].number_format = "yyyy-mm-dd"
    workbook.create_sheet("second")["A1"] = "note"
    workbook.save(tmp_path / "plain.xlsx")
    return _patched(tmp_path / "plain.xlsx", tmp_path / "small.xlsx", [("<v>3.5</v></c></row>", ("<v>3.5</v></c>"
        '<c r="G4" t="str"><f>"a"&amp;"b"</f><v>ab</v></c><c r="H4"><f>1+1</f><v>2</v></c>'
        '<c r="I4" t="e"><f>1/0</f><v>#DIV/0!</v></c><c r="J4"><f>1+2</f></c><c r="K4" t="e"><v>#N/A</v></c>'
        '<c r="L4" s="1"><f>0.1*2</f><v>0.2</v></c></row>'))])


def _cells(read) -> tuple:
    """What a reading says, trailing blanks aside (openpyxl stops a row at its last cell)."""
    title, rows, others = read

    def strip(values):
        values = list(values)
        while values and values[-1] is None:
            values.pop()
        return values
    stripped = [(number, strip(values), marked) for number, values, marked in rows]
    while stripped and not stripped[-1][1] and not stripped[-1][2]:
        stripped.pop()
    return title, stripped, {name: strip(values) for name, values in others.items()}


def _by_openpyxl(path: Path):
    with zipfile.ZipFile(path) as archive:
        names = list(sheetxlsx._worksheet_parts(archive))
    title = sheetxlsx.ISSUERS_SHEET if sheetxlsx.ISSUERS_SHEET in names else names[0]
    return (title, *sheetxlsx._read_with_openpyxl(path, title, names))


def test_the_fast_reader_gives_the_cells_openpyxl_gives(tmp_path: Path):
    for path in (CASES / "issuers.xlsx", _small(tmp_path)):
        with zipfile.ZipFile(path) as archive:
            assert sheetxlsx._fits(archive.read(SHEET)), "this sheet should take the fast path"
        assert _cells(sheetxlsx.read_xlsx(path)) == _cells(_by_openpyxl(path)), path.name


def test_formulas_count_by_their_cached_values_and_errors_are_values(tmp_path: Path):
    _, rows, others = sheetxlsx.read_xlsx(_small(tmp_path))
    values, marked = {number: v for number, v, _ in rows}, {number: m for number, _, m in rows}
    assert values[4][6:12] == ["ab", 2, "#DIV/0!", None, "#N/A", pytest.approx(0.2)]  # G4…L4: cached, errors
    assert marked[4][10].formula_without_value and not marked[4][10].percent  # J4: never calculated
    assert marked[4][12].percent and not marked[4][12].formula_without_value  # L4: a formula, cached, in %
    assert set(marked[4]) == {10, 12} and set(marked[3]) == {4} and marked[3][4].percent
    assert values[6][7].isoformat() == "2020-06-18T00:00:00"  # a date cell, as openpyxl gives it
    assert others == {"second": ["note"]}


def _bundled_with(tmp_path: Path, name: str, edit) -> Path:
    workbook = openpyxl.load_workbook(CASES / "issuers.xlsx")
    edit(workbook)
    workbook.save(tmp_path / name)
    return tmp_path / name


def test_an_error_value_or_a_cached_formula_in_an_amount_column(tmp_path: Path, book):
    plain = _bundled_with(tmp_path, "plain.xlsx", lambda workbook: None)
    header = [c.value for c in openpyxl.load_workbook(plain)["issuers"][1]]
    cap = openpyxl.utils.get_column_letter(header.index("expected_market_cap [万元]") + 1)
    new = openpyxl.utils.get_column_letter(header.index("new_shares [万股]") + 1)
    text = zipfile.ZipFile(plain).read(SHEET).decode("utf-8")
    start = text.index(f'<c r="{new}2"')
    old_new = text[start:text.index("</c>", start) + 4]
    start = text.index(f'<c r="{cap}2"')
    old_cap = text[start:text.index("</c>", start) + 4]
    patched = _patched(plain, tmp_path / "patched.xlsx", [
        (old_new, f'<c r="{new}2" t="e"><v>#N/A</v></c>'),
        (old_cap, f'<c r="{cap}2"><f>300000+1</f><v>300001</v></c>')])
    row = next(r for r in read_sheet(patched) if r.row == 2)
    with pytest.raises(CaseError, match=rf"issuers!{new}2: new_shares \[万股\]: '#N/A' is not an amount"):
        row.load(book.attestations)
    data, _ = row.build(book.attestations)  # the formula counts by its cached value, never evaluated
    assert data["offering"]["expected_market_cap"] == "300001万元"


def test_a_sheet_the_scan_cannot_place_is_read_by_openpyxl(tmp_path: Path, book):
    plain = _bundled_with(tmp_path, "plain.xlsx", lambda workbook: None)
    text = zipfile.ZipFile(plain).read(SHEET).decode("utf-8")
    first = text[text.index('<c r="A2"'):text.index("</c>", text.index('<c r="A2"')) + 4]
    unreferenced = _patched(plain, tmp_path / "unreferenced.xlsx", [(first, first.replace(' r="A2"', ""))])
    far = _bundled_with(tmp_path, "far.xlsx", lambda workbook: workbook["issuers"].cell(5000, 16000, "far"))
    for path in (unreferenced, far):
        with zipfile.ZipFile(path) as archive:
            assert not sheetxlsx._fits(archive.read(SHEET))
        assert _cells(sheetxlsx.read_xlsx(path)) == _cells(_by_openpyxl(path))
    assert read_sheet(unreferenced)[0].load(book.attestations).case_id == read_sheet(plain)[0].load(
        book.attestations).case_id
    far_row = next(r for r in read_sheet(far) if r.row == 5000)
    assert far_row.cells[15999].value == "far" and len(far_row.header) == 16000


def test_the_sheet_named_issuers_is_read_wherever_it_is(tmp_path: Path, book):
    def notes_first(workbook):
        workbook.create_sheet("notes", 0)["A1"] = "what this workbook is for"
    path = _bundled_with(tmp_path, "notes-first.xlsx", notes_first)
    rows = read_sheet(path)
    assert rows and all(r.sheet == "issuers" and r.problem is None for r in rows)
    assert len(rows) == len(read_sheet(CASES / "issuers.xlsx"))


def test_a_second_sheet_of_issuers_is_an_error_row_not_dropped(tmp_path: Path, book):
    def two_sheets(workbook):
        first = workbook["issuers"]
        first.title = "Sheet1"
        extra = workbook.create_sheet("more")
        for row in first.iter_rows(max_row=2, values_only=True):
            extra.append(row)
    rows = read_sheet(_bundled_with(tmp_path, "two.xlsx", two_sheets))
    errors = [r for r in rows if r.problem]
    assert [(r.sheet, r.row) for r in errors] == [("more", 1)]
    assert "sheet 'more' has issuer columns too, but only sheet 'Sheet1' is read" in errors[0].problem
    assert len(rows) - 1 == len(read_sheet(CASES / "issuers.xlsx"))  # the first sheet's rows all evaluate
    with pytest.raises(InputError, match="only sheet 'Sheet1' is read"):
        errors[0].load(book.attestations)


def test_percent_cells_read_the_same_by_either_reader(tmp_path: Path, book):
    def percent(workbook):
        sheet = workbook["issuers"]
        column = [c.value for c in sheet[1]].index("sponsor_affiliates_holding [%]") + 1
        sheet.cell(2, column, 0.07).number_format = "0.0%"
    path = _bundled_with(tmp_path, "percent.xlsx", percent)
    assert _cells(sheetxlsx.read_xlsx(path)) == _cells(_by_openpyxl(path))
    case = read_sheet(path)[0].load(book.attestations).case
    assert case.sponsor.affiliates_holding.value == Fraction(7, 100)


def test_a_sheet_too_large_to_hold_is_streamed_by_openpyxl(tmp_path: Path, monkeypatch):
    """The scan holds a sheet's XML; past MAX_SCANNED_BYTES (as zipfile reads no more than an entry
    declares, a zip bomb cannot pass it) openpyxl streams the sheet instead: the same cells."""
    path = _small(tmp_path)
    expected = _cells(sheetxlsx.read_xlsx(path))
    used = []
    monkeypatch.setattr(sheetxlsx, "_read_with_openpyxl",
                        lambda *args, real=sheetxlsx._read_with_openpyxl: used.append(args[1]) or real(*args))
    monkeypatch.setattr(sheetxlsx, "MAX_SCANNED_BYTES", 100)
    assert _cells(sheetxlsx.read_xlsx(path)) == expected and used[0] == "issuers"
