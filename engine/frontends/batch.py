"""Batch evaluation: many case files, in parallel worker processes, streamed into a result store.

Each worker process loads and compiles the rules once and keeps one durable_rules ruleset for
all its cases (a case is one short-lived session in it). Cases are handed out in order and
their rows come back in order (`workers.ordered_map`), so output is deterministic whatever the
number of processes, and rows are written as they arrive. At most a window of cases is out with
the workers and not yet taken by the store, so a store slower than the workers holds them back
rather than letting their rows pile up: memory stays flat as the batch grows. A bad case file
becomes an error row with its file, line and message; the others still run. A sheet (.xlsx, .csv)
named among the inputs is one case per row (`input.sheetrows`), each row evaluated like a file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import glob
import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..common.errors import CaseError, InputError, Problem
from ..common.safeio import read_regular_file
from ..decide.compiler import CompiledRulebook, compile_rulebook
from ..decide.evaluation import Evaluator
from ..decide.factgroups import pack_periods
from ..decide.rulecache import compiled_rules
from ..decide.pricing import evaluate_priced
from ..input.caseload import build_case_validator, load_case_text
from ..input.sheetrows import SheetRow, is_sheet, read_sheet
from ..input.yamlsource import MAX_FILE_BYTES
from ..output.store import CaseRow, row_of_error, row_of_result
from ..rules.rulebook import Rulebook
from .workers import ordered_map

CASE_SUFFIXES = (".yaml", ".yml")


def discover(paths: Iterable[str]) -> list[Path]:
    """Case files named by files, folders (searched recursively) and glob patterns; sorted, no
    duplicates. Rule test files (`*.test.yaml`) are not cases. A sheet (.xlsx, .csv) counts when named or
    matched by a glob, never found in a folder. A name that matches nothing is an error."""
    found: dict[str, Path] = {}
    missing = []
    for raw in paths:
        path = Path(raw)
        if any(ch in raw for ch in "*?["):
            matches = [Path(p) for p in sorted(glob.glob(raw, recursive=True))]
            candidates = [p for m in matches for p in (_cases_under(m) if m.is_dir() else [m])]
            if not matches:
                missing.append(raw)
        elif path.is_dir():
            candidates = _cases_under(path)
        elif os.path.lexists(path):  # a FIFO, device or broken link too: it becomes an error row
            candidates = [path]
        else:
            missing.append(raw)
            continue
        for candidate in candidates:
            if (candidate.suffix in CASE_SUFFIXES and not candidate.name.endswith(".test.yaml")) or is_sheet(candidate):
                found.setdefault(str(candidate), candidate)
    if missing:
        raise FileNotFoundError(", ".join(missing))
    return [found[name] for name in sorted(found)]


def _cases_under(folder: Path) -> list[Path]:
    """Everything named like a case file under `folder`, whatever it is: a FIFO, a device link, a
    directory or a symlink loop named `x.yaml` is an error row, not silently skipped."""
    return sorted(p for p in folder.rglob("*") if p.suffix in CASE_SUFFIXES)


def expand_sheets(files: list[str] | list[Path]) -> list[str | Path | SheetRow]:
    """Each sheet among `files` becomes its rows (a sheet that cannot be read: one error row)."""
    return [item for path in files for item in (read_sheet(path) if is_sheet(Path(path)) else [path])]


def digests(items: list[str | Path | SheetRow]) -> dict[str, str]:
    """item → sha256 of its content (a file's bytes, a row's cells): what resume compares."""
    return {str(i): i.sha256 if isinstance(i, SheetRow) else hashlib.sha256(Path(i).read_bytes()).hexdigest()
            for i in items}


# ---------------------------------------------------------------------------------
# One process's evaluator (built once per process)


@dataclass
class _Worker:
    rulebook: Rulebook
    evaluator: Evaluator
    as_of: dt.date | None
    detail: bool = False  # rule rows with citations and margins (the store asks for them)


_WORKER: _Worker | None = None


def _start_worker(rulebook: Rulebook, compiled: CompiledRulebook, as_of: dt.date | None, detail: bool = False) -> None:
    """Give this process its evaluator. The rules were loaded and compiled once, in the parent:
    a worker never reads rule files, so editing them during a batch cannot break it, and setting
    it up has nothing left to fail on."""
    global _WORKER
    if _WORKER is not None:  # a second batch in this process: free the previous ruleset
        _WORKER.evaluator.close()
    _WORKER = _Worker(rulebook, Evaluator(rulebook, compiled), as_of, detail)
    # The rules (and, in a forked worker, everything inherited from the parent, the list of paths
    # included) live as long as the process: the collector need not scan them again after every
    # case, and not touching them keeps the pages a fork shares with its parent shared.
    gc.freeze()


def evaluate_file(path: str | Path | SheetRow) -> CaseRow:
    """One case file (or sheet row) → its stored row (an error row for bad input), in the current worker."""
    assert _WORKER is not None, "worker not started"
    rulebook = _WORKER.rulebook
    if isinstance(path, SheetRow):
        try:
            result = evaluate_priced(_WORKER.evaluator, path.load(rulebook.attestations), as_of=_WORKER.as_of,
                                     explain=_WORKER.detail)
        except InputError as error:
            return row_of_error(path.label, path.sha256, error, rulebook.version, rulebook.sha256)
        return row_of_result(path.label, path.sha256, result, _WORKER.detail)
    try:
        data = read_regular_file(path, MAX_FILE_BYTES)  # a FIFO, device or directory is refused, not read
    except InputError as error:
        return row_of_error(str(path), "", error, rulebook.version, rulebook.sha256)
    try:
        loaded = load_case_text(data.decode("utf-8"), str(path))  # hashes the text: the file's sha256
        # rows show no reasons; only an .xlsx store's rule rows show margins, which need the explanations
        result = evaluate_priced(_WORKER.evaluator, loaded, as_of=_WORKER.as_of, explain=_WORKER.detail)
    except UnicodeDecodeError as error:
        return row_of_error(str(path), hashlib.sha256(data).hexdigest(),
                            CaseError([Problem(f"not UTF-8 text ({error.reason})", file=str(path))]),
                            rulebook.version, rulebook.sha256)
    except InputError as error:
        return row_of_error(str(path), hashlib.sha256(data).hexdigest(), error, rulebook.version, rulebook.sha256)
    return row_of_result(str(path), loaded.text_sha256, result, _WORKER.detail)


# ---------------------------------------------------------------------------------
# The batch


@dataclass
class Summary:
    """Counts kept as rows stream past (no row is kept in memory)."""

    total: int = 0  # rows in the output: evaluated now and kept from before
    skipped: int = 0  # of those, kept from before (resume)
    jobs: int = 1  # worker processes used
    by_verdict: Counter = field(default_factory=Counter)
    by_standard: Counter = field(default_factory=Counter)
    failing_rules: Counter = field(default_factory=Counter)
    errors: int = 0

    def add(self, row: CaseRow) -> None:
        self.count(row.verdict, row.chosen_standard, row.failing_rules)

    def add_kept(self, record: dict) -> None:
        """A stored row carried over by resume: it counts like a fresh one (the summary and the exit
        code describe the whole output, not this run's share of it)."""
        self.skipped += 1
        self.count(record["verdict"], record["chosen_standard"], record["failing_rules"])

    def count(self, verdict: str, chosen_standard: str | None, failing_rules: Iterable[str]) -> None:
        self.total += 1
        self.by_verdict[verdict] += 1
        if verdict == "error":
            self.errors += 1
            return
        self.by_standard[chosen_standard or "(none)"] += 1
        self.failing_rules.update(failing_rules)

    @property
    def evaluated(self) -> int:
        return self.total - self.skipped


MAX_JOBS = 64  # a sane ceiling whatever --jobs says: each worker holds its own ruleset
WINDOW_CHUNKS = 8  # per worker: chunks handed out whose rows the caller has not taken yet


def effective_jobs(jobs: int | None, files: int) -> int:
    """Worker processes for `files` cases: as asked (default: the cores), never more than the files,
    four per core, or MAX_JOBS."""
    cores = os.cpu_count() or 1
    return max(1, min(jobs or cores, files, 4 * cores, MAX_JOBS))


def run_rows(paths: list[str] | list[Path] | list[Path | SheetRow], jobs: int = 1, rulebook: Rulebook | None = None,
             as_of: dt.date | None = None, chunksize: int = 16, detail: bool = False,
             compiled: CompiledRulebook | None = None) -> Iterator[CaseRow]:
    """Rows for `paths`, in order, evaluated in `jobs` processes (1: in this process), under
    `compiled` rules, else `rulebook` compiled here, else the bundled rules (from the rule cache)."""
    if compiled is None:
        compiled = compile_rulebook(rulebook) if rulebook is not None else compiled_rules()
    rulebook = compiled.rulebook
    jobs = effective_jobs(jobs, len(paths))
    build_case_validator()  # once, here: forked workers share it
    if jobs <= 1:
        _start_worker(rulebook, compiled, as_of, detail)
        for path in paths:
            yield evaluate_file(path)
        return
    pack_periods(compiled)  # here, once (a cached rulebook has them all): not again in every worker
    yield from ordered_map(evaluate_file, paths, jobs, chunksize=chunksize, window=WINDOW_CHUNKS * jobs,
                           initializer=_start_worker, initargs=(rulebook, compiled, as_of, detail))


def run_batch(paths: list[str] | list[Path] | list[Path | SheetRow], store, jobs: int = 1, rulebook: Rulebook | None = None, as_of: dt.date | None = None,
              progress: Callable[[int], None] | None = None, compiled: CompiledRulebook | None = None) -> Summary:
    """Evaluate `paths` (minus those the store already holds) into `store`, rows in the order of
    `paths` whether evaluated now or kept (resume); return the summary of the whole output.
    Paths may be text: a batch of 100,000 cases holds each once, as ~100 bytes rather than a
    ~450-byte `Path`, in the parent and so in every forked worker."""
    summary = Summary()
    todo = [p for p in paths if str(p) not in store.done] if store.done else paths
    summary.jobs = effective_jobs(jobs, len(todo))
    with contextlib.closing(run_rows(todo, jobs=jobs, rulebook=rulebook, as_of=as_of,
                                     detail=getattr(store, "detail", False), compiled=compiled)) as rows:
        for path in paths:
            if store.done and str(path) in store.done:
                summary.add_kept(store.keep(str(path)))
                continue
            row = next(rows)
            store.add(row)
            summary.add(row)
            if progress:
                progress(1)
        next(rows, None)  # run the generator to its end: its workers are told to leave, not killed
    return summary
