"""Batch output rows stay byte-identical: a fixed sample (300 generated cases, seed 7, plus the
bundled cases) written to CSV, JSON Lines and SQLite is compared with golden files made by the
engine before its batch path was optimised (tests/golden/batch-sample.*).

Paths are relative (the sample is evaluated from its own folder), so the rows do not depend on
where the test runs. Regenerate on purpose, from code whose rows you trust, with
`UPDATE_GOLDEN=1 python -m pytest tests/test_batch_golden.py`.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from conftest import CASES, REPO
from engine.frontends.batch import run_rows
from engine.input.generate import generate
from engine.output.store import ResultStore

GOLDEN = REPO / "tests" / "golden"
SAMPLE_COUNT, SAMPLE_SEED = 300, 7


def _sqlite_dump(path: Path) -> bytes:
    """Every row of both tables, in insertion order, one JSON array a line."""
    db = sqlite3.connect(path)
    try:
        lines = []
        for table in ("cases", "rule_results"):
            lines.append(f"# {table}")
            lines.extend(json.dumps(list(row), ensure_ascii=False)
                         for row in db.execute(f"SELECT * FROM {table} ORDER BY rowid"))
        return ("\n".join(lines) + "\n").encode("utf-8")
    finally:
        db.close()


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("golden-sample")
    generate(SAMPLE_COUNT, root / "sample", seed=SAMPLE_SEED)
    shutil.copytree(CASES, root / "bundled")
    before = Path.cwd()
    os.chdir(root)
    try:
        files = sorted(Path("sample").glob("*.yaml")) + sorted(Path("bundled").glob("*.yaml"))
        rows = list(run_rows(files, jobs=1))
        for name in ("out.csv", "out.jsonl", "out.sqlite"):
            with ResultStore(Path(name)) as store:
                for row in rows:
                    store.add(row)
    finally:
        os.chdir(before)
    return {"csv": (root / "out.csv").read_bytes(), "jsonl": (root / "out.jsonl").read_bytes(),
            "sqlite": _sqlite_dump(root / "out.sqlite")}


@pytest.mark.parametrize("kind", ["csv", "jsonl", "sqlite"])
def test_batch_rows_are_byte_identical_to_the_golden_sample(outputs: dict[str, bytes], kind: str):
    golden = GOLDEN / f"batch-sample.{kind}.gz"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_bytes(gzip.compress(outputs[kind], mtime=0))
    expected = gzip.decompress(golden.read_bytes())
    if outputs[kind] != expected:
        got, want = outputs[kind].decode().splitlines(), expected.decode().splitlines()
        first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        pytest.fail(f"{kind} rows differ from the golden sample at line {first + 1} "
                    f"({len(got)} lines, golden {len(want)}):\n got: {got[first] if first < len(got) else '<end>'}\n"
                    f"want: {want[first] if first < len(want) else '<end>'}")


def test_results_without_explanations_decide_exactly_as_explained_ones(evaluator, tmp_path):
    """A batch row's lean result (no comparisons, figures or break-even prices) has every rule's
    status, missing facts and fired durable rules of the full result; a report refuses it."""
    from engine import load_case
    from engine.decide.pricing import evaluate_priced
    from engine.output.report import format_text

    files = sorted(CASES.glob("*.yaml")) + generate(36, tmp_path, seed=SAMPLE_SEED)
    compared = 0
    for path in files:
        try:
            loaded = load_case(path)
        except Exception:  # noqa: BLE001 - the generator's deliberately bad files
            continue
        full = evaluate_priced(evaluator, loaded, explain=True)
        lean = evaluate_priced(evaluator, loaded, explain=False)
        assert (lean.verdict, lean.standards_holding, lean.parts) == (full.verdict, full.standards_holding, full.parts)
        assert [(r.rule_id, r.status, r.missing, r.durable_rules_fired, r.informational, r.chosen)
                for r in lean.results] == [(r.rule_id, r.status, r.missing, r.durable_rules_fired, r.informational,
                                            r.chosen) for r in full.results]
        assert all(not r.comparisons and not r.figures for r in lean.results) and not lean.break_even
        assert any(r.comparisons for r in full.results)
        compared += 1
        with pytest.raises(ValueError, match="without explanations"):
            format_text(lean)
    assert compared >= 40


def test_paths_given_as_text_give_the_same_rows(tmp_path):
    """The CLI hands the batch its paths as text (held once, compactly): the rows are the same."""
    files = sorted(CASES.glob("*.yaml"))
    assert list(run_rows([str(f) for f in files])) == list(run_rows(files))
