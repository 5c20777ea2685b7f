"""Batch results as an Excel workbook: `cases`, `rule_results` and `summary` sheets.

`cases` has one row per issuer (the columns of the CSV), its verdict cell coloured; `rule_results`
one row per rule result with the article it cites and the margin of each comparison; `summary` the
counts by verdict and by chosen standard and the rules that fail most. Every sheet has a frozen
header, filters and set column widths. Rows are streamed (XlsxWriter's constant-memory mode keeps
each sheet in a temporary file, strings inline), and a sheet that reaches Excel's row limit
continues on `…_2`. XlsxWriter, not openpyxl, writes it: a batch's rule_results sheet has some
sixty rows an issuer, and XlsxWriter writes a cell in a third of openpyxl's time. The bytes are
the same on every run for the same rows (a fixed creation time; `input.sheetwrite.canonical_zip`
fixes the zip entries' dates); the store writes them to its temporary file, renamed over the
output when the batch completes.
"""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..input.sheetwrite import FIXED_TIME, canonical_zip

MAX_ROWS = 1_048_576  # Excel's rows per sheet, header included
VERDICT_FILL = {"eligible": "C6EFCE", "not_eligible": "FFC7CE", "undetermined": "FFEB9C", "error": "D9D9D9",
                "pass": "C6EFCE", "fail": "FFC7CE", "not_applicable": "EDEDED"}
RULE_COLUMNS = ("file", "case_id", "rule_id", "part", "status", "counts_for_verdict", "citation", "margin")
EXPLAINED_RULE_COLUMNS = RULE_COLUMNS + ("reason",)  # with --explain: the reason a report gives
WIDTHS = {"file": 40, "case_id": 28, "sha256": 18, "verdict": 14, "error": 60, "failing_rules": 36,
          "undetermined_rules": 36, "standards_holding": 24, "rule_id": 32, "citation": 60, "margin": 60,
          "rulebook_sha256": 18, "part": 14, "reason": 80}
LIST_SEPARATOR = ", "


class XlsxResults:
    """A results workbook being written; `bytes()` finishes it."""

    def __init__(self, columns: Sequence[str], list_columns: Sequence[str], explain: bool = False):
        """`explain`: the rule_results sheet also has each rule's reason (`batch --explain`)."""
        import xlsxwriter

        self.buffer = io.BytesIO()
        # constant memory: each sheet's rows go to a temporary file as they come, and strings are
        # written inline (no shared-string table held for the whole batch)
        self.book = xlsxwriter.Workbook(self.buffer, {"constant_memory": True})
        self.book.set_properties({"created": FIXED_TIME, "author": "check-listing"})
        self.bold = self.book.add_format({"bold": True})
        self.fills = {name: self.book.add_format({"pattern": 1, "fg_color": f"#{rgb}"})
                      for name, rgb in VERDICT_FILL.items()}
        self.columns, self.list_columns = tuple(columns), set(list_columns)
        self.sheets: dict[str, list[Any]] = {}  # base name → [current sheet, rows in it, part number, header]
        self.parts: list[list[Any]] = []  # every sheet's state, in order (each part gets its filter)
        self.by_verdict: Counter = Counter()
        self.by_standard: Counter = Counter()
        self.failing: Counter = Counter()
        self._sheet("cases", self.columns)
        self.explain = explain
        self._sheet("rule_results", EXPLAINED_RULE_COLUMNS if explain else RULE_COLUMNS)

    def _sheet(self, base: str, header: Sequence[str]) -> Any:
        state = self.sheets.get(base)
        if state is not None and state[1] < MAX_ROWS:
            return state[0]
        part = state[2] + 1 if state else 1
        sheet = self.book.add_worksheet(base if part == 1 else f"{base}_{part}")
        for index, name in enumerate(header):
            sheet.set_column(index, index, WIDTHS.get(name, 12))
        sheet.freeze_panes(1, 0)
        self.sheets[base] = [sheet, 0, part, tuple(header)]
        self.parts.append(self.sheets[base])
        self._append(base, list(header), bold=True)
        return sheet

    def _append(self, base: str, values: list[Any], bold: bool = False, fill_at: int | None = None) -> None:
        sheet = self._sheet(base, self.sheets[base][3]) if not bold else self.sheets[base][0]
        row = self.sheets[base][1]
        for index, value in enumerate(values):
            style = self.bold if bold else self.fills.get(value) if index == fill_at else None
            if value is None or value == "":
                if style is not None:
                    sheet.write_blank(row, index, None, style)
            elif isinstance(value, str):  # text is always text: a leading '=' never becomes a formula
                sheet.write_string(row, index, value, style)
            else:
                sheet.write_number(row, index, value, style)
        self.sheets[base][1] += 1

    def add(self, record: dict[str, Any], rules: Sequence[Any]) -> None:
        """One issuer's row and its rule results (objects with rule_id, part, status,
        counts_for_verdict, citation, margin and, explained, reason)."""
        values = [LIST_SEPARATOR.join(record[c]) if c in self.list_columns else record[c] for c in self.columns]
        self._append("cases", values, fill_at=self.columns.index("verdict"))
        self.by_verdict[record["verdict"]] += 1
        if record["verdict"] != "error":
            self.by_standard[record["chosen_standard"] or "(none)"] += 1
            self.failing.update(record["failing_rules"])
        for rule in rules:
            values = [record["file"], record["case_id"], rule.rule_id, rule.part, rule.status,
                      "yes" if rule.counts_for_verdict else "no", rule.citation, rule.margin]
            self._append("rule_results", values + [rule.reason] if self.explain else values, fill_at=4)

    def bytes(self) -> bytes:
        """Add the summary sheet and every sheet's filter; the workbook's bytes."""
        summary = self.book.add_worksheet("summary")
        for index, width in enumerate((36, 12, 12)):
            summary.set_column(index, index, width)
        self.sheets["summary"] = [summary, 0, 1, ()]
        self.parts.append(self.sheets["summary"])
        total = sum(self.by_verdict.values())
        blocks = [("verdict", sorted(self.by_verdict.items())),
                  ("chosen standard", sorted(self.by_standard.items())),
                  ("rules that fail most", sorted(self.failing.items(), key=lambda item: (-item[1], item[0])))]
        for title, counts in blocks:
            self._append("summary", [title, "cases", "share"], bold=True)
            for name, count in counts:
                self._append("summary", [name, count, f"{count / total:.1%}" if total else ""],
                             fill_at=0 if title == "verdict" else None)
            self._append("summary", [])
        for sheet, rows, _, header in self.parts:
            if header and rows:
                sheet.autofilter(0, 0, rows - 1, len(header) - 1)
        self.book.close()
        return canonical_zip(self.buffer.getvalue())


def read_case_records(path: Path, list_columns: Sequence[str]) -> Iterator[dict[str, Any]]:
    """The `cases` sheet's rows of a results workbook, as column dicts (lists as lists)."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        names = [n for n in book.sheetnames if n == "cases" or n.startswith("cases_")]
        header: list[str] = []
        for name in names:
            for number, values in enumerate(book[name].iter_rows(values_only=True)):
                if number == 0:
                    header = [str(v) for v in values]
                    continue
                record = dict(zip(header, values))
                yield {c: ([x for x in (record[c] or "").split(LIST_SEPARATOR) if x] if c in list_columns else
                           "" if record[c] is None and c != "error_line" else record[c]) for c in header}
    finally:
        book.close()


def read_rule_records(path: Path) -> Iterator[dict[str, Any]]:
    """The `rule_results` sheet's rows of a results workbook, as column dicts (RULE_COLUMNS)."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        for name in [n for n in book.sheetnames if n == "rule_results" or n.startswith("rule_results_")]:
            for values in book[name].iter_rows(min_row=2, values_only=True):
                yield {c: "" if v is None else v for c, v in zip(RULE_COLUMNS, values)}
    finally:
        book.close()
