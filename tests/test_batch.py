"""Batch evaluation: mixed good and bad cases, resume, atomic output, the three stores agree,
parallel and serial agree, and the generator is reproducible."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import CASES
from engine.frontends.batch import discover, run_batch, run_rows
from engine.frontends.cli import main
from engine.common.errors import EXIT_BATCH_ERRORS
from engine.input.generate import case_text, generate
from engine.output.store import ResultStore, RuleRow, digest_of_files, read_rows, read_rule_rows


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """The bundled cases plus two bad files, in one folder."""
    folder = tmp_path / "cases"
    shutil.copytree(CASES, folder)
    (folder / "zz-bad-unit.yaml").write_text(
        (CASES / "std1-profit-two-years.yaml").read_text(encoding="utf-8").replace("6,000万股", "6,000"),
        encoding="utf-8")
    (folder / "zz-malformed.yaml").write_text("issuer: [\n", encoding="utf-8")
    return folder


def test_discover_files_folders_globs(mixed: Path):
    (mixed / "notes.txt").write_text("not a case", encoding="utf-8")
    (mixed / "x.test.yaml").write_text("tests: []", encoding="utf-8")
    by_folder = discover([str(mixed)])
    assert len(by_folder) == len(list(CASES.glob("*.yaml"))) + 2
    assert discover([str(mixed / "std*.yaml"), str(mixed / "std1-revenue-branch.yaml")]) == sorted(mixed.glob("std*.yaml"))
    with pytest.raises(FileNotFoundError):
        discover([str(mixed / "nope-*.yaml")])


def test_mixed_good_and_bad_cases_give_error_rows_and_exit_4(mixed: Path, tmp_path: Path):
    out = tmp_path / "results.jsonl"
    result = invoke("batch", mixed, "--out", out, "--jobs", "1")
    assert result.exit_code == EXIT_BATCH_ERRORS
    rows = {Path(r["file"]).name: r for r in read_rows(out)}
    assert len(rows) == len(list(CASES.glob("*.yaml"))) + 2
    bad = rows["zz-bad-unit.yaml"]
    assert bad["verdict"] == "error" and bad["error_line"] is not None and "has no unit" in bad["error"]
    assert rows["zz-malformed.yaml"]["error_line"] == 2 and "malformed YAML" in rows["zz-malformed.yaml"]["error"]
    good = rows["qingcloud-filing.yaml"]
    assert good["verdict"] == "eligible" and good["chosen_standard"] == "2.1.2(4)"
    assert good["standards_holding"] == ["2.1.2(2)", "2.1.2(4)"]
    assert rows["float-below-25.yaml"]["failing_rules"] == ["listing.2.1.1.3.float-25"]
    assert rows["missing-facts.yaml"]["verdict"] == "undetermined"
    assert "eligible" in result.output and "Rules that fail most" in result.output


def test_all_good_cases_exit_0(tmp_path: Path):
    result = invoke("batch", CASES / "std*.yaml", "--out", tmp_path / "r.csv", "-j", "1")
    assert result.exit_code == 0


def test_csv_jsonl_and_sqlite_hold_the_same_rows(mixed: Path, tmp_path: Path):
    for suffix in ("csv", "jsonl", "sqlite"):
        invoke("batch", mixed, "--out", tmp_path / f"r.{suffix}", "-j", "1")
    csv_rows, jsonl_rows, sqlite_rows = (list(read_rows(tmp_path / f"r.{s}")) for s in ("csv", "jsonl", "sqlite"))
    assert csv_rows == jsonl_rows == sqlite_rows
    rules = read_rule_rows(tmp_path / "r.sqlite")
    qingcloud = {rule: status for file, rule, status in rules if file.endswith("qingcloud-filing.yaml")}
    assert qingcloud["listing.2.1.2.4"] == "pass" and qingcloud["listing.2.1.2.1"] == "fail"


@pytest.mark.parametrize("detail", [False, True])
def test_two_processes_give_the_same_rows_as_one(mixed: Path, detail: bool):
    """Rows cross from the workers pickled as plain tuples (`CaseRow.__reduce__`): they arrive as the
    rows a single process makes, rule rows (which row equality leaves out) and their type included."""
    files = discover([str(mixed)])
    one, two = list(run_rows(files, jobs=1, detail=detail)), list(run_rows(files, jobs=2, chunksize=2, detail=detail))
    assert one == two and any(row.verdict == "error" for row in two)
    assert [row.rules for row in one] == [row.rules for row in two]
    assert all(type(rule) is RuleRow for row in two for rule in row.rules) and any(row.rules for row in two)
    assert any(rule.citation for row in two for rule in row.rules) == detail


def test_resume_skips_stored_cases_and_redoes_changed_ones(mixed: Path, tmp_path: Path):
    out = tmp_path / "r.sqlite"
    invoke("batch", mixed, "--out", out, "-j", "1")
    before = {r["file"]: r for r in read_rows(out)}
    changed = mixed / "std1-revenue-branch.yaml"
    changed.write_text(changed.read_text(encoding="utf-8").replace("expected_market_cap: 10亿元",
                                                                     "expected_market_cap: 9.99亿元"), encoding="utf-8")
    (mixed / "zz-new.yaml").write_text((CASES / "red-chip.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    result = invoke("batch", mixed, "--out", out, "-j", "1", "--resume")
    assert f"2 evaluated, {len(before) - 1} kept from before" in result.output
    after = {r["file"]: r for r in read_rows(out)}
    assert len(after) == len(before) + 1
    assert after[str(changed)]["verdict"] == "not_eligible" and before[str(changed)]["verdict"] == "eligible"
    assert after[str(mixed / "zz-new.yaml")]["verdict"] == "eligible"
    assert len({f for f, _, _ in read_rule_rows(out)}) == len(after) - 2  # error rows have no rule results


def test_a_resumed_workbook_is_the_fresh_one_byte_for_byte(mixed: Path, tmp_path: Path):
    """A results workbook keeps the stored rule rows of unchanged cases too (its rule_results sheet)."""
    out, fresh = tmp_path / "r.xlsx", tmp_path / "fresh.xlsx"
    invoke("batch", mixed, "--out", out, "-j", "1")
    changed = mixed / "std1-revenue-branch.yaml"
    changed.write_text(changed.read_text(encoding="utf-8").replace("expected_market_cap: 10亿元",
                                                                     "expected_market_cap: 9.99亿元"), encoding="utf-8")
    result = invoke("batch", mixed, "--out", out, "-j", "1", "--resume")
    assert "1 evaluated" in result.output
    invoke("batch", mixed, "--out", fresh, "-j", "1")
    assert out.read_bytes() == fresh.read_bytes()
    sheet_out = tmp_path / "sheet.xlsx"
    invoke("batch", CASES / "issuers.csv", "--out", sheet_out, "-j", "1")
    first = sheet_out.read_bytes()
    assert "0 evaluated" in invoke("batch", CASES / "issuers.csv", "--out", sheet_out, "-j", "1", "--resume").output
    assert sheet_out.read_bytes() == first


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "sqlite", "xlsx"])
def test_resume_works_for_every_format(mixed: Path, tmp_path: Path, suffix: str):
    out = tmp_path / f"r.{suffix}"
    invoke("batch", mixed, "--out", out, "-j", "1")
    result = invoke("batch", mixed, "--out", out, "-j", "1", "--resume")
    assert "0 evaluated" in result.output
    assert len(list(read_rows(out))) == len(discover([str(mixed)]))


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "sqlite"])
def test_an_interrupted_batch_leaves_the_old_output_whole(mixed: Path, tmp_path: Path, suffix: str):
    out = tmp_path / f"r.{suffix}"
    files = discover([str(mixed)])
    with ResultStore(out) as store:
        run_batch(files[:3], store)
    old = out.read_bytes()

    class Interrupted(Exception):
        pass

    seen = []

    def stop_after_two(_n):
        seen.append(1)
        if len(seen) == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        with ResultStore(out) as store:
            run_batch(files, store, progress=stop_after_two)
    assert out.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_an_interrupted_first_batch_leaves_no_file(mixed: Path, tmp_path: Path):
    out = tmp_path / "r.jsonl"
    with pytest.raises(RuntimeError):
        with ResultStore(out) as store:
            run_batch(discover([str(mixed)]), store, progress=lambda n: (_ for _ in ()).throw(RuntimeError()))
    assert list(tmp_path.iterdir()) == [mixed]


@pytest.mark.parametrize("args, message", [
    (["nope/*.yaml"], "no case files match"),
    (["cases", "--out", "r.txt"], "use .csv, .jsonl, .sqlite, .db or .xlsx"),
    (["cases", "--resume"], "--resume needs --out"),
    (["cases", "--out", "r.csv", "--explain"], "--explain needs .sqlite, .jsonl or .xlsx"),
    (["cases", "--out", "r.sqlite", "--resume", "--explain"], "--explain cannot be combined with --resume"),
])
def test_usage_errors_exit_2(args, message, monkeypatch):
    monkeypatch.chdir(CASES.parent)
    result = invoke("batch", *args)
    assert result.exit_code == 2 and message in result.output


def test_generator_is_reproducible_and_covers_every_path(tmp_path: Path):
    assert case_text(7, seed=1) == case_text(7, seed=1)
    assert case_text(7, seed=1) != case_text(7, seed=2)
    paths = generate(120, tmp_path / "gen", seed=5)
    again = generate(120, tmp_path / "again", seed=5)
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in again]
    rows = list(run_rows(paths, jobs=1))
    verdicts = {r.verdict for r in rows}
    assert verdicts == {"eligible", "not_eligible", "undetermined", "error"}
    standards = {r.chosen_standard for r in rows if r.chosen_standard}
    assert {"2.1.2(1)", "2.1.2(2)", "2.1.2(3)", "2.1.2(4)", "2.1.2(5)"} <= standards
    assert any(s.startswith("2.1.3") for s in standards) and any(s.startswith("2.1.4") for s in standards)
    assert {r.stage for r in rows if r.stage} == {"filing", "pricing", "subscription"}


def test_generate_command(tmp_path: Path):
    result = invoke("generate", "5", tmp_path / "g", "--seed", "9")
    assert result.exit_code == 0 and len(list((tmp_path / "g").glob("*.yaml"))) == 5


def test_jsonl_rows_are_plain_json(mixed: Path, tmp_path: Path):
    out = tmp_path / "r.jsonl"
    invoke("batch", mixed, "--out", out, "-j", "1")
    for line in out.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        assert set(record) >= {"file", "sha256", "verdict", "chosen_standard", "standards_holding", "failing_rules",
                               "rulebook_version", "rulebook_sha256"}


def test_resume_digest_matches_stored_digest(mixed: Path, tmp_path: Path):
    out = tmp_path / "r.jsonl"
    invoke("batch", mixed, "--out", out, "-j", "1")
    digests = digest_of_files(discover([str(mixed)]))
    assert {r["file"]: r["sha256"] for r in read_rows(out)} == digests


def test_a_broken_rules_directory_is_reported_once_and_no_worker_reads_rules(tmp_path: Path, mixed: Path):
    from engine.rules.ruleloader import bundled_rules_dir, load_rulebook

    rules = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), rules)
    (rules / "listing-rules" / "2.1.1.yaml").write_text("rules: [", encoding="utf-8")
    result = invoke("batch", mixed, "--rules", rules, "--out", tmp_path / "r.jsonl", "-j", "2")
    assert result.exit_code == 2 and "2.1.1.yaml" in result.output
    assert not (tmp_path / "r.jsonl").exists()
    # Workers get the rules loaded in the parent: breaking the files after the start changes nothing.
    good = tmp_path / "good-rules"
    shutil.copytree(bundled_rules_dir(), good)
    files = discover([str(mixed)])
    rows = run_rows(files, jobs=2, rulebook=load_rulebook(good), chunksize=1)
    first = next(rows)
    (good / "listing-rules" / "2.1.1.yaml").write_text("rules: [", encoding="utf-8")
    everything = [first, *rows]
    assert len(everything) == len(files)
    assert [r.file for r in everything if r.verdict == "error"] == [str(mixed / "zz-bad-unit.yaml"),
                                                                     str(mixed / "zz-malformed.yaml")]


def _stored_explanations(path: Path) -> dict[tuple[str, str], tuple[str, str, str, str]]:
    import sqlite3

    db = sqlite3.connect(path)
    try:
        return {(Path(f).name, r): (status, reason, margin, citation) for f, r, status, reason, margin, citation in
                db.execute("SELECT file, rule_id, status, reason, margin, citation FROM rule_results")}
    finally:
        db.close()


def test_explain_stores_each_rules_reason_margins_and_citation(mixed: Path, tmp_path: Path):
    """`--explain`: SQLite's rule rows carry the reason, margins and citation a single-case report shows;
    JSON Lines rows a `rules` list with the same. Without it the stores are as before (no such columns)."""
    from engine import Evaluator, load_case, load_rulebook

    assert invoke("batch", mixed, "--out", tmp_path / "plain.sqlite").exit_code == EXIT_BATCH_ERRORS
    assert invoke("batch", mixed, "--out", tmp_path / "explained.sqlite", "--explain", "--jobs", "2").exit_code \
        == EXIT_BATCH_ERRORS
    assert invoke("batch", mixed, "--out", tmp_path / "explained.jsonl", "--explain").exit_code == EXIT_BATCH_ERRORS
    import sqlite3

    columns = [row[1] for row in sqlite3.connect(tmp_path / "plain.sqlite").execute("PRAGMA table_info(rule_results)")]
    assert "reason" not in columns
    verdicts = [r["verdict"] for r in read_rows(tmp_path / "plain.sqlite")]
    assert verdicts and verdicts == [r["verdict"] for r in read_rows(tmp_path / "explained.sqlite")]
    stored = _stored_explanations(tmp_path / "explained.sqlite")
    with Evaluator(load_rulebook()) as evaluator:
        result = evaluator.evaluate(load_case(mixed / "qingcloud-filing.yaml"))
    for rule in result.results:
        status, reason, margin, citation = stored[("qingcloud-filing.yaml", rule.rule_id)]
        assert (status, reason) == (rule.status.value, rule.reason)
        assert citation == (rule.citation.reference() if rule.citation else "")
    assert stored[("qingcloud-filing.yaml", "listing.2.1.1.2")][2].startswith("post_issue_share_capital ≥ 3000万元")
    assert any(reason.startswith("does not hold: ") for _, reason, _, _ in stored.values())
    rows = {Path(r["file"]).name: r for r in read_rows(tmp_path / "explained.jsonl")}
    qingcloud = {r["rule_id"]: r for r in rows["qingcloud-filing.yaml"]["rules"]}
    assert qingcloud["listing.2.1.1.2"]["reason"] == stored[("qingcloud-filing.yaml", "listing.2.1.1.2")][1]
    assert rows["zz-malformed.yaml"]["rules"] == []  # an error row has no rule results


def test_explain_puts_each_rules_reason_in_the_results_workbook(mixed: Path, tmp_path: Path):
    """`--explain --out results.xlsx`: the rule_results sheet gains a `reason` column holding what the
    single-case report says; without --explain the sheet is as before (no such column)."""
    import openpyxl

    from engine import Evaluator, load_case, load_rulebook

    assert invoke("batch", mixed, "--out", tmp_path / "plain.xlsx").exit_code == EXIT_BATCH_ERRORS
    assert invoke("batch", mixed, "--out", tmp_path / "explained.xlsx", "--explain").exit_code == EXIT_BATCH_ERRORS

    def rule_rows(path: Path) -> tuple[list[str], list[dict]]:
        book = openpyxl.load_workbook(path, read_only=True)
        try:
            header, *rows = [list(r) for r in book["rule_results"].iter_rows(values_only=True)]
        finally:
            book.close()
        return header, [dict(zip(header, r)) for r in rows]

    plain_header, plain = rule_rows(tmp_path / "plain.xlsx")
    header, rows = rule_rows(tmp_path / "explained.xlsx")
    assert "reason" not in plain_header and header == plain_header + ["reason"]
    assert [{k: v for k, v in r.items() if k != "reason"} for r in rows] == plain
    with Evaluator(load_rulebook()) as evaluator:
        result = evaluator.evaluate(load_case(mixed / "qingcloud-filing.yaml"))
    stored = {r["rule_id"]: r["reason"] for r in rows if Path(r["file"]).name == "qingcloud-filing.yaml"}
    assert stored == {rule.rule_id: rule.reason or None for rule in result.results}


def test_sqlite_stores_counts_for_verdict_as_the_integers_0_and_1(tmp_path):
    """The store hands SQLite each rule row's flag as it is (a bool): it must land as an integer
    column, as `int()` made it before, with both values present in a real batch."""
    import sqlite3

    out = tmp_path / "out.sqlite"
    with ResultStore(out) as store:
        for row in run_rows(sorted(CASES.glob("*.yaml")), jobs=1):
            store.add(row)
    db = sqlite3.connect(out)
    try:
        kinds = set(db.execute("SELECT typeof(counts_for_verdict), counts_for_verdict FROM rule_results"))
    finally:
        db.close()
    assert kinds == {("integer", 0), ("integer", 1)}


class _CountingPaths(list):
    """A path list that counts how many paths the pool has pulled from it."""

    pulled = 0

    def __iter__(self):
        for path in super().__iter__():
            self.pulled += 1
            yield path


def test_cases_handed_out_stay_within_the_window_of_rows_not_taken(tmp_path: Path, monkeypatch):
    """A slow caller holds the workers back: never more than the window of paths is handed out ahead
    of the rows taken, so rows cannot pile up in memory (issue 13)."""
    import engine.frontends.batch as batch

    monkeypatch.setattr(batch, "WINDOW_CHUNKS", 2)
    paths = _CountingPaths(str(p) for p in generate(60, tmp_path / "cases", seed=3))
    window = 2 * 2 * 2  # WINDOW_CHUNKS × chunksize × jobs
    ahead = []
    for taken, _ in enumerate(run_rows(paths, jobs=2, chunksize=2), start=1):
        ahead.append(paths.pulled - taken)
    assert len(ahead) == 60 and max(ahead) <= window
    assert max(ahead) >= 2  # the workers did run ahead: the bound is what held them


def test_a_caller_that_stops_early_does_not_hang_the_pool(tmp_path: Path):
    import subprocess
    import sys

    generate(80, tmp_path / "cases", seed=4)
    probe = ("import faulthandler, sys\nfaulthandler.dump_traceback_later(60, exit=True)  # a hang shows where\n"
             "from pathlib import Path\nfrom engine.frontends.batch import run_rows\n"
             f"paths = sorted(str(p) for p in Path({str(tmp_path / 'cases')!r}).glob('*.yaml'))\n"
             "rows = run_rows(paths, jobs=2, chunksize=1)\n"
             "first = [next(rows) for _ in range(3)]\nrows.close()\nprint('closed', len(first))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.split() == ["closed", "3"], done.stderr


def test_workers_pack_no_period_the_parent_could_pack_once(mixed: Path, tmp_path: Path, monkeypatch):
    """Packing a period's rules into facts costs ~20 ms: a batch packs each period once, in the parent
    (none at all from the rule cache, which stores them), never again in each forked worker."""
    import os

    from engine.decide import factgroups
    from engine.rules.ruleloader import load_rulebook

    log = tmp_path / "packed-by"
    original = factgroups.pack_period

    def logging(*args, **kwargs):
        with log.open("a", encoding="utf-8") as out:
            out.write(f"{os.getpid()}\n")
        return original(*args, **kwargs)

    monkeypatch.setattr(factgroups, "pack_period", logging)
    files = discover([str(mixed)])
    serial = list(run_rows(files, jobs=1))  # the bundled rules come from the cache: packed there already
    assert not log.exists() or set(log.read_text().split()) == {str(os.getpid())}
    log.unlink(missing_ok=True)
    rows = list(run_rows(files, jobs=2, rulebook=load_rulebook(), chunksize=1))  # compiled afresh here
    assert rows == serial
    assert set(log.read_text().split()) == {str(os.getpid())}  # the parent packed; no worker did
