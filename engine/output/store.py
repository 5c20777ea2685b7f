"""Stored batch results: one row per issuer in CSV, JSON Lines or SQLite, written atomically.

The sink is chosen by the output's extension (.csv, .jsonl, .sqlite/.db). Rows are written as
they arrive (memory stays flat however large the batch); everything goes to a temporary file
beside the output, renamed over it only when the batch completes, so an interrupted batch leaves
the previous file (or none) and never a half-written one; the temporary file of a run that was
killed outright is removed by the next run on the same output. With `resume`, the rows already
stored for unchanged case files are carried into the new file, each in its place in the batch's
order (a resumed output is the same as a fresh one), and their cases are skipped by the caller.

SQLite also keeps one row per rule result (table `rule_results`), so results can be queried:

    SELECT rule_id, COUNT(*) FROM rule_results WHERE status = 'fail' GROUP BY rule_id;
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generator, Iterator, NamedTuple

from ..common.errors import InputError, Problem
from ..common.safeio import partial_path, read_regular_file, remove_stale_partials
from ..common.sanitize import MAX_CELL_CHARS, clip, escape
from ..decide.results import CaseResult, RuleResult, Status
from ..input.yamlsource import MAX_FILE_BYTES
from .report import exit_code, format_margin
from .xlsxstore import XlsxResults, read_case_records, read_rule_records

COLUMNS = ("file", "case_id", "sha256", "verdict", "exit_code", "stage", "chosen_standard", "standards_holding",
           "failing_rules", "undetermined_rules", "error_line", "error", "rulebook_version", "rulebook_sha256")
LIST_COLUMNS = ("standards_holding", "failing_rules", "undetermined_rules")
SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".sqlite": "sqlite", ".db": "sqlite", ".xlsx": "xlsx"}
SQLITE_BATCH = 256  # cases whose rows go to SQLite in one executemany


class RuleRow(NamedTuple):
    """One rule result of a stored case (a tuple: ~49 per case cross from a worker to the store)."""

    rule_id: str
    part: str
    status: str
    counts_for_verdict: bool
    citation: str = ""  # the article it cites, the margins and the reason: only when the store asks
    margin: str = ""    # (results.xlsx, or --explain)
    reason: str = ""


@dataclass(frozen=True)
class CaseRow:
    """One issuer's stored result, or the error that kept it from being evaluated."""

    file: str
    sha256: str
    case_id: str = ""
    verdict: str = "error"
    exit_code: int = 2
    stage: str = ""
    chosen_standard: str = ""
    standards_holding: tuple[str, ...] = ()
    failing_rules: tuple[str, ...] = ()
    undetermined_rules: tuple[str, ...] = ()
    error_line: int | None = None
    error: str = ""
    rulebook_version: str = ""
    rulebook_sha256: str = ""
    rules: tuple[RuleRow, ...] = field(default=(), compare=False)

    def record(self) -> dict[str, Any]:
        """The row's columns (lists kept as lists), read off the fields: no deep copy of the rule rows."""
        return {name: list(getattr(self, name)) if name in LIST_COLUMNS else getattr(self, name) for name in COLUMNS}

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as plain tuples: every row crosses from a worker to the store, and a dataclass and
        its ~49 named tuples pickle through Python calls each (~150 µs a row, ~90 to read back;
        as tuples ~20 and ~30)."""
        return _case_row, (tuple(getattr(self, name) for name in _CASE_FIELDS), tuple(map(tuple, self.rules)))


_CASE_FIELDS = tuple(f for f in CaseRow.__dataclass_fields__ if f != "rules")
_rule_row = functools.partial(tuple.__new__, RuleRow)  # RuleRow._make without a Python call per row


def _case_row(values: tuple[Any, ...], rules: tuple[tuple[Any, ...], ...]) -> CaseRow:
    return CaseRow(*values, rules=tuple(map(_rule_row, rules)))


def row_of_result(file: str, sha256: str, result: CaseResult, detail: bool = False) -> CaseRow:
    """`detail`: each rule row also gets its citation and margins (text; costs ~5% of an evaluation)."""
    flags = result.counted()
    counted = [r for r, counts in zip(result.results, flags) if counts]
    return CaseRow(
        file=file, sha256=sha256, case_id=result.case_id, verdict=result.verdict.value,
        exit_code=exit_code(result), stage=result.stage, chosen_standard=result.chosen_standard or "",
        standards_holding=result.standards_holding,
        failing_rules=tuple(r.rule_id for r in counted if r.status.value == "fail"),
        undetermined_rules=tuple(r.rule_id for r in counted if r.status.value == "undetermined"),
        rulebook_version=result.rulebook_version, rulebook_sha256=result.rulebook_sha256,
        rules=tuple(_rule_row((r.rule_id, r.part, _STATUS_TEXT[r.status], counts, *_detail(r, detail)))
                    for r, counts in zip(result.results, flags)))


_NO_DETAIL = ("", "", "")
# json.dumps(…, ensure_ascii=False) makes an encoder per call: the parent writes three lists a case
_list_json = json.JSONEncoder(ensure_ascii=False).encode
_STATUS_TEXT = {status: status.value for status in Status}  # ~60 rule rows a case: no enum property each


def _detail(rule: RuleResult, detail: bool) -> tuple[str, str, str]:
    if not detail:
        return _NO_DETAIL
    margins = "; ".join(f"{c.text}: {format_margin(c)}" for c in rule.comparisons if c.margin is not None
                        and not c.selector)
    return (rule.citation.reference() if rule.citation else ""), margins, rule.reason


def row_of_error(file: str, sha256: str, error: InputError, rulebook_version: str, rulebook_sha256: str) -> CaseRow:
    """The first problem of a bad case file (all of them in the message), with its line."""
    first: Problem = error.problems[0]
    message = clip("; ".join(p.render() for p in error.problems), MAX_CELL_CHARS)
    return CaseRow(file=file, sha256=sha256, error_line=first.line, error=message,
                   rulebook_version=rulebook_version, rulebook_sha256=rulebook_sha256)


def digest_of_files(files: list[str] | list[Path]) -> dict[str, str]:
    """file → sha256 of its bytes: what resume compares stored rows against."""
    digests = {}
    for f in files:
        try:
            digests[str(f)] = hashlib.sha256(read_regular_file(f, MAX_FILE_BYTES)).hexdigest()
        except InputError:
            digests[str(f)] = ""  # not a readable case file: never matches a stored row, evaluated again
    return digests


def sink_kind(path: Path) -> str:
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"cannot tell the format of {path}: use .csv, .jsonl, .sqlite, .db or .xlsx")
    return kind


def explain_refusal(kind: str, resuming: bool) -> str | None:
    """Why a store of `kind` cannot hold explanations (None: it can)."""
    if kind == "csv":
        return "--explain needs .sqlite, .jsonl or .xlsx output: a CSV row is one issuer, with no room for its rules"
    if resuming:
        return "--explain cannot be combined with --resume: a kept row has no explanations"
    return None


class ResultStore:
    """Writes rows to a temporary file beside `path`; `commit()` renames it over `path`."""

    def __init__(self, path: Path, current: dict[str, str] | None = None, explain: bool = False):
        """`current` (file → sha256 of the cases in this batch) turns on resume: stored rows of
        files whose content is unchanged are kept and listed in `done`; others are dropped. Kept
        rows are written by `keep`, in the caller's order, so a resumed output is the fresh one.

        `explain` stores each rule's reason, margins and citation: as columns of SQLite's
        `rule_results`, as a `rules` list in each JSON Lines row (a workbook always has them)."""
        self.path = path
        self.kind = sink_kind(path)
        self.explain = explain
        refusal = explain_refusal(self.kind, current is not None) if explain else None
        if refusal:
            raise ValueError(refusal)
        self.count = 0
        self.done: set[str] = set()  # files whose stored row is kept (resume)
        self._resumed = current is not None and path.exists()
        self._stored: Iterator[dict[str, Any]] = iter(())
        self._ahead: dict[str, dict[str, Any]] = {}  # stored rows read past while looking for a kept one
        self._kept_rules: dict[str, tuple[RuleRow, ...]] = {}  # a workbook's stored rule rows, by file
        path.parent.mkdir(parents=True, exist_ok=True)
        self.stale = remove_stale_partials(path)  # left by an earlier run that was killed
        self.temporary = partial_path(path)
        self.detail = self.kind == "xlsx" or explain  # rule rows with citations, margins and reasons
        if self._resumed:
            assert current is not None
            self.done = {r["file"] for r in self._kept_rows(current, with_rules=False)}
            self._stored = self._kept_rows(current)
        if self.kind == "xlsx":
            self.xlsx = XlsxResults(COLUMNS, LIST_COLUMNS, explain)
        elif self.kind == "sqlite":
            if self._resumed:
                shutil.copyfile(path, self.temporary)
                self.db = sqlite3.connect(self.temporary)
                stored = list(self.db.execute("SELECT file, sha256 FROM cases"))
                stale = [(f, d) for f, d in stored if current.get(f) != d]
                self.db.executemany("DELETE FROM cases WHERE file = ? AND sha256 = ?", stale)
                self.db.executemany("DELETE FROM rule_results WHERE file = ? AND sha256 = ?", stale)
            else:
                self.temporary.unlink()
                self.db = sqlite3.connect(self.temporary)
                columns = ", ".join(f"{c} {'INTEGER' if c in ('exit_code', 'error_line') else 'TEXT'}" for c in COLUMNS)
                self.db.execute(f"CREATE TABLE cases ({columns}, PRIMARY KEY (file, sha256))")
                self.db.execute("CREATE TABLE rule_results (file TEXT, sha256 TEXT, case_id TEXT, rule_id TEXT, "
                                "part TEXT, status TEXT, counts_for_verdict INTEGER"
                                + (", reason TEXT, margin TEXT, citation TEXT)" if explain else ")"))
            self.pending_cases: list[list[Any]] = []  # written by executemany, SQLITE_BATCH cases at a time
            self.pending_rules: list[tuple[Any, ...]] = []
        else:
            self.stream = self.temporary.open("w", encoding="utf-8", newline="")
            if self.kind == "csv":
                self.csv = csv.writer(self.stream)
                self.csv.writerow(COLUMNS)

    def _kept_rows(self, current: dict[str, str], with_rules: bool = True) -> Iterator[dict[str, Any]]:
        """The stored rows of unchanged case files, first of each file only, in stored order (of a
        workbook, `with_rules`: their rule rows kept too, for `keep` to write again)."""
        # CSV cells hold file names escaped: match them against the escaped names of this batch
        names = {escape(f): f for f in current} if self.kind == "csv" else {f: f for f in current}
        seen: set[str] = set()
        rules = _rules_by_case(self.path) if self.kind == "xlsx" and with_rules else None
        if rules is not None:
            next(rules)  # started: it is sent each stored row's file in turn
        for record in read_rows(self.path):
            kept_rules = rules.send(record["file"]) if rules is not None else ()
            name = names.get(record["file"])
            if name is not None and current[name] == record["sha256"] and name not in seen:
                seen.add(name)
                record["file"] = name
                self._kept_rules[name] = kept_rules  # a workbook rewrites them (its rule_results sheet)
                yield record

    def keep(self, file: str) -> dict[str, Any]:
        """Write the stored row of `file` (one of `done`) now, in its place in the batch's order; return it."""
        while file not in self._ahead:
            record = next(self._stored)
            self._ahead[record["file"]] = record
        record = self._ahead.pop(file)
        if self.kind != "sqlite":  # SQLite rows stay in the copied database; `commit` orders them
            self._write(record, self._kept_rules.pop(file, ()))
        else:
            self.count += 1
        return record

    # -- writing --------------------------------------------------------------
    def add(self, row: CaseRow) -> None:
        record = row.record()
        self._write(record, row.rules)

    def _write(self, record: dict[str, Any], rules: tuple[RuleRow, ...] = ()) -> None:
        self.count += 1
        if self.kind == "jsonl":
            if self.explain:
                record = {**record, "rules": [{"rule_id": r.rule_id, "part": r.part, "status": r.status,
                                               "counts_for_verdict": r.counts_for_verdict, "reason": r.reason,
                                               "margin": r.margin, "citation": r.citation} for r in rules]}
            self.stream.write(json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n")
        elif self.kind == "xlsx":
            self.xlsx.add(record, rules)
        elif self.kind == "csv":  # a spreadsheet shows cells as they are: echoed text is escaped
            self.csv.writerow(";".join(record[c]) if c in LIST_COLUMNS else
                              "" if record[c] is None else escape(record[c]) if isinstance(record[c], str) else
                              record[c] for c in COLUMNS)
        else:
            self.pending_cases.append(
                [_list_json(record[c]) if c in LIST_COLUMNS else record[c] for c in COLUMNS])
            key = (record["file"], record["sha256"], record["case_id"])
            if self.explain:
                self.pending_rules.extend((*key, r.rule_id, r.part, r.status, int(r.counts_for_verdict), r.reason,
                                           r.margin, r.citation) for r in rules)
            else:
                # the parent writes ~49 of these per case while two workers share its cores: one
                # tuple concatenation each (SQLite stores the bool as the integer 0 or 1, as int() did)
                self.pending_rules.extend(key + r[:4] for r in rules)
            if len(self.pending_cases) >= SQLITE_BATCH:
                self._flush()

    def _flush(self) -> None:
        """Write the pending SQLite rows: one executemany per table for many cases."""
        self.db.executemany(f"INSERT OR REPLACE INTO cases VALUES ({', '.join('?' * len(COLUMNS))})",
                            self.pending_cases)
        self.db.executemany(f"INSERT INTO rule_results VALUES ({', '.join('?' * (10 if self.explain else 7))})",
                            self.pending_rules)
        self.pending_cases.clear()
        self.pending_rules.clear()

    def commit(self) -> None:
        """Make the output whole: flush, close and rename the temporary file over the output."""
        if self.kind == "sqlite":
            self._flush()
            if self._resumed:
                self._order_as_fresh()
            # the index is built once over all rows, not kept up to date row by row
            self.db.execute("CREATE INDEX IF NOT EXISTS rule_status ON rule_results (rule_id, status)")
            self.db.commit()
            self.db.close()
        elif self.kind == "xlsx":
            self.temporary.write_bytes(self.xlsx.bytes())
        else:
            self.stream.close()
        os.replace(self.temporary, self.path)

    def _order_as_fresh(self) -> None:
        """Rows of a resumed database in the order a fresh run writes them (by file, as the batch is)."""
        for table, order in (("cases", "file"), ("rule_results", "file, rowid")):
            self.db.execute(f"CREATE TABLE ordered AS SELECT * FROM {table} WHERE 0")
            self.db.execute(f"INSERT INTO ordered SELECT * FROM {table} ORDER BY {order}")
            self.db.execute(f"DELETE FROM {table}")
            self.db.execute(f"INSERT INTO {table} SELECT * FROM ordered ORDER BY rowid")
            self.db.execute("DROP TABLE ordered")

    def abort(self) -> None:
        """Drop the temporary file; the previous output (if any) stays as it was."""
        try:
            if self.kind == "sqlite":
                self.db.close()
            elif self.kind != "xlsx":
                self.stream.close()
        finally:
            self.temporary.unlink(missing_ok=True)

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, kind: Any, *exc: Any) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


# ---------------------------------------------------------------------------------
# Reading stored results back (resume, tests, analysis)


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The stored case rows of `path`, as column dicts with lists as lists (any of the three formats)."""
    kind = sink_kind(path)
    if kind == "jsonl":
        with path.open(encoding="utf-8") as stream:
            for line in stream:
                if line.strip():
                    yield json.loads(line)
    elif kind == "xlsx":
        for record in read_case_records(path, LIST_COLUMNS):
            yield _typed({c: record[c] for c in COLUMNS}, from_csv=False)
    elif kind == "csv":
        with path.open(encoding="utf-8", newline="") as stream:
            for raw in csv.DictReader(stream):
                yield _typed({c: raw[c] for c in COLUMNS}, from_csv=True)
    else:
        db = sqlite3.connect(path)
        try:
            for values in db.execute(f"SELECT {', '.join(COLUMNS)} FROM cases ORDER BY rowid"):
                record = dict(zip(COLUMNS, values))
                for c in LIST_COLUMNS:
                    record[c] = json.loads(record[c])
                yield record
        finally:
            db.close()


def _rules_by_case(path: Path) -> Generator[tuple[RuleRow, ...], str, None]:
    """Sent each case row's file in the stored order, the rule rows stored for it: a results
    workbook's rule_results rows follow its cases rows (a case with none, an error row, gets ())."""
    rows = read_rule_records(path)
    ahead = next(rows, None)
    file = yield ()
    while True:
        group = []
        while ahead is not None and ahead["file"] == file:
            group.append(RuleRow(ahead["rule_id"], ahead["part"], ahead["status"], ahead["counts_for_verdict"] == "yes",
                                 ahead["citation"], ahead["margin"]))
            ahead = next(rows, None)
        file = yield tuple(group)


def _typed(record: dict[str, Any], from_csv: bool) -> dict[str, Any]:
    for c in LIST_COLUMNS:
        record[c] = [x for x in record[c].split(";") if x] if from_csv else record[c]
    record["exit_code"] = int(record["exit_code"])
    record["error_line"] = int(record["error_line"]) if record["error_line"] not in ("", None) else None
    return record


def read_rule_rows(path: Path) -> list[tuple[str, str, str]]:
    """(file, rule_id, status) of every stored rule result (SQLite only)."""
    db = sqlite3.connect(path)
    try:
        return list(db.execute("SELECT file, rule_id, status FROM rule_results ORDER BY rowid"))
    finally:
        db.close()
